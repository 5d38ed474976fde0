//! CSV import and export of customers.
//!
//! An import runs in the background in batches of `BATCH_ROWS`; each batch is one
//! transaction that also moves the job's `next_row`, so a crash loses nothing committed
//! and the job resumes where it stopped. Rows are validated exactly as the API does; a row
//! with any error writes nothing and is reported with its line number.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Value};

use super::leases::{self, Lease};
use super::now;
use crate::db::{Database, DbConn};
use crate::domain::consent::{check_occurred_at, ConsentChange};
use crate::domain::customer::{AddressFields, CustomerDraft, CustomerFields, CustomerProfile};
use crate::domain::events::EventType;
pub use crate::domain::imports::ImportMode;
use crate::domain::{ConsentChannel, ConsentSource, ConsentState, Country};
use crate::error::AppError;
use crate::error::FieldError;
use crate::keys::DataKeys;
use crate::models::customers::CustomerRecord;
use crate::models::imports::{BatchOutcome, ImportJobRow, NewImportJob};
use crate::repositories::{customers as customer_repo, imports as repo, privacy as privacy_repo};

pub const BATCH_ROWS: usize = 500;
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The profile columns, in export order; `attributes.<key>` and consent columns follow.
pub const PROFILE_COLUMNS: [&str; 28] = [
    "kind",
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "birthday",
    "gender",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "preferred_language",
    "source",
    "tags",
    "notes",
    "founded_on",
    "industry",
    "employees",
    "website",
    "registration_number",
    "vat_number",
    "rating",
    "particularities",
    "company_id",
    "role",
];

fn consent_column(channel: ConsentChannel) -> String {
    format!("consent_{}", channel.as_str())
}

fn consent_at_column(channel: ConsentChannel) -> String {
    format!("consent_{}_at", channel.as_str())
}

/// Every column name a file may use, given its attribute keys.
fn is_known_column(name: &str) -> bool {
    PROFILE_COLUMNS.contains(&name)
        || name.strip_prefix("attributes.").is_some_and(|key| !key.is_empty())
        || ConsentChannel::ALL.iter().any(|&c| name == consent_column(c) || name == consent_at_column(c))
}

/// Checks the header row; returns the number of data rows.
pub fn check_file(csv: &str) -> Result<i64, AppError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(csv.as_bytes());
    let headers =
        reader.headers().map_err(|e| AppError::BadRequest(format!("cannot read the CSV header row: {e}")))?.clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(AppError::invalid("csv", "the file needs a header row naming its columns"));
    }
    let unknown: Vec<FieldError> = headers
        .iter()
        .filter(|name| !is_known_column(name.trim()))
        .map(|name| FieldError::new(format!("columns.{}", name.trim()), "unknown column"))
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::Validation(unknown));
    }
    let mut rows = 0;
    for record in reader.records() {
        record.map_err(|e| AppError::BadRequest(format!("malformed CSV: {e}")))?;
        rows += 1;
    }
    Ok(rows)
}

pub fn create_job(
    conn: &mut DbConn,
    mode: ImportMode,
    csv: String,
    rows_total: i64,
    actor: &str,
) -> Result<i64, AppError> {
    let job = NewImportJob {
        mode: mode.as_str().to_string(),
        status: "queued".to_string(),
        csv: String::new(),
        rows_total,
        created_by: actor.to_string(),
        created_at: now(),
    };
    Ok(conn.write_transaction(|conn| repo::insert(conn, job.clone(), &csv))?)
}

/// Accepts an uploaded file: checks its header and rows, records the job, starts it in
/// the background and returns it (`queued`, or already running). Blocking: call it off
/// the async workers.
pub fn submit(context: ImportContext, mode: ImportMode, csv: String, actor: &str) -> Result<ImportJobRow, AppError> {
    let rows = check_file(&csv)?;
    let database = context.database.clone();
    let id = database.with_conn(|conn| create_job(conn, mode, csv, rows, actor))?;
    spawn_job(context, id);
    database.with_conn(|conn| get_job(conn, id))
}

pub fn get_job(conn: &mut DbConn, id: i64) -> Result<ImportJobRow, AppError> {
    repo::find(conn, id)?.ok_or_else(|| AppError::not_found(format!("import {id} does not exist")))
}

/// One data row, parsed and normalized.
struct ParsedRow {
    draft: CustomerDraft,
    consents: Vec<ConsentChange>,
}

fn cell(record: &csv::StringRecord, columns: &HashMap<String, usize>, name: &str) -> Option<String> {
    let value = record.get(*columns.get(name)?)?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn vocabulary<T: serde::de::DeserializeOwned>(
    field: &str,
    raw: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = raw?;
    match serde_json::from_value(Value::String(raw.clone())) {
        Ok(value) => Some(value),
        Err(_) => {
            errors.push(FieldError::new(field, format!("`{raw}` is not an accepted value")));
            None
        }
    }
}

fn whole_number(field: &str, raw: Option<String>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let raw = raw?;
    match raw.parse() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(field, format!("`{raw}` is not a whole number")));
            None
        }
    }
}

fn parse_instant(raw: &str) -> Result<NaiveDateTime, String> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|date| date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .map_err(|_| format!("`{raw}` is not an RFC 3339 time or a YYYY-MM-DD date"))
}

fn parse_row(
    record: &csv::StringRecord,
    columns: &HashMap<String, usize>,
    default_country: Option<Country>,
    now: NaiveDateTime,
) -> Result<ParsedRow, Vec<FieldError>> {
    let get = |name: &str| cell(record, columns, name);
    let mut errors = Vec::new();
    let attributes: serde_json::Map<String, Value> = columns
        .keys()
        .filter_map(|name| name.strip_prefix("attributes.").map(|key| (key, name)))
        .filter_map(|(key, name)| get(name).map(|value| (key.to_string(), Value::String(value))))
        .collect();
    let input = CustomerFields {
        kind: vocabulary("kind", get("kind"), &mut errors),
        first_name: get("first_name"),
        last_name: get("last_name"),
        company_name: get("company_name"),
        email: get("email"),
        phone: get("phone"),
        birthday: get("birthday"),
        gender: vocabulary("gender", get("gender"), &mut errors),
        address: AddressFields {
            line1: get("address_line1"),
            line2: get("address_line2"),
            city: get("city"),
            region: get("region"),
            postal_code: get("postal_code"),
            country: get("country"),
        },
        preferred_language: get("preferred_language"),
        source: vocabulary("source", get("source"), &mut errors),
        tags: get("tags").map(|tags| tags.split(';').map(str::to_owned).filter(|t| !t.trim().is_empty()).collect()),
        attributes: (!attributes.is_empty()).then_some(attributes),
        notes: get("notes"),
        founded_on: get("founded_on"),
        industry: get("industry"),
        employees: whole_number("employees", get("employees"), &mut errors),
        website: get("website"),
        registration_number: get("registration_number"),
        vat_number: get("vat_number"),
        rating: whole_number("rating", get("rating"), &mut errors),
        particularities: get("particularities"),
        company_id: whole_number("company_id", get("company_id"), &mut errors),
        role: get("role"),
    };
    let mut draft = match input.into_draft(default_country) {
        Ok(draft) => Some(draft),
        Err(AppError::Validation(found)) => {
            errors.extend(found);
            None
        }
        Err(other) => {
            errors.push(FieldError::new("row", other.to_string()));
            None
        }
    };
    if let Some(draft) = &mut draft {
        if draft.source.is_none() {
            draft.source = Some(crate::domain::CustomerSource::Import);
        }
        if let Err(error) = CustomerProfile::from_draft(draft.clone()) {
            errors.push(error);
        }
    }
    let mut consents = Vec::new();
    for channel in ConsentChannel::ALL.iter().copied() {
        let (state_column, at_column) = (consent_column(channel), consent_at_column(channel));
        let Some(state) = vocabulary::<ConsentState>(&state_column, get(&state_column), &mut errors) else { continue };
        if state == ConsentState::NotSet {
            continue;
        }
        let occurred_at = match get(&at_column).map(|raw| parse_instant(&raw).and_then(|t| check_occurred_at(t, now))) {
            Some(Ok(at)) => at,
            Some(Err(message)) => {
                errors.push(FieldError::new(at_column, message));
                continue;
            }
            None => {
                errors.push(FieldError::new(at_column, "a consent column needs the time it was given"));
                continue;
            }
        };
        consents.push(ConsentChange {
            channel,
            state,
            source: ConsentSource::Import,
            method_detail: None,
            consent_text: None,
            consent_text_version: None,
            ip: None,
            user_agent: None,
            occurred_at,
        });
    }
    match draft {
        Some(draft) if errors.is_empty() => Ok(ParsedRow { draft, consents }),
        _ => Err(errors),
    }
}

/// The context a job runs with.
#[derive(Clone)]
pub struct ImportContext {
    pub database: Database,
    pub keys: Arc<DataKeys>,
    pub default_country: Option<Country>,
}

/// How long an instance holds a job between two batches before another may take it over.
const JOB_LEASE: chrono::Duration = chrono::Duration::seconds(60);
/// How often every instance looks for jobs that nobody runs (queued, or left by a crash).
const RESUME_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs a job in a background thread, unless another thread or instance holds its lease.
pub fn spawn_job(context: ImportContext, id: i64) {
    std::thread::Builder::new()
        .name(format!("import-{id}"))
        .spawn(move || {
            if let Err(error) = run_job(&context, id) {
                tracing::error!(import_id = id, %error, "import failed");
            }
        })
        .expect("start an import thread");
}

/// Claims job `id` and runs it on the calling thread; false when another thread or
/// instance holds it. A job that fails is marked `failed` (if this thread still holds it).
pub fn run_job(context: &ImportContext, id: i64) -> Result<bool, AppError> {
    let claimed = context.database.with_conn(|conn| {
        let Some(lease) = leases::claim(conn, &job_lease(id), JOB_LEASE)? else { return Ok(None) };
        if repo::find(conn, id)?.is_some_and(|job| FINISHED.contains(&job.status.as_str())) {
            // Another holder finished it and let the lease go just before this claim.
            lease.release(conn)?;
            return Ok(None);
        }
        Ok(Some(lease))
    })?;
    let Some(lease) = claimed else { return Ok(false) };
    match run_batches(context, id, &lease) {
        Ok(()) => Ok(true),
        Err(error) => {
            let _ = context.database.with_conn(|conn| {
                conn.write_transaction(|conn| {
                    lease.renew(conn, JOB_LEASE)?;
                    let job = repo::finish(conn, id, Some(&error.to_string()), now())?;
                    super::emit::import_completed(conn, &job)?;
                    lease.release(conn)
                })
            });
            Err(error)
        }
    }
}

const FINISHED: [&str; 2] = ["completed", "failed"];

fn job_lease(id: i64) -> String {
    format!("import:{id}")
}

/// Starts the jobs that are queued or were interrupted (by a stop or a crash of any
/// instance): those whose lease is free. Jobs another instance runs are left to it.
pub fn resume_unfinished(context: &ImportContext) -> Result<usize, AppError> {
    let ids = context.database.with_conn(|conn| Ok(repo::unfinished(conn)?))?;
    for &id in &ids {
        spawn_job(context.clone(), id);
    }
    Ok(ids.len())
}

/// Looks for unfinished jobs nobody runs, now and then every few seconds, for as long as
/// the process lives: a job whose instance crashed is taken over once its lease expires.
pub fn spawn_resumer(context: ImportContext) {
    std::thread::Builder::new()
        .name("import-resumer".into())
        .spawn(move || loop {
            if let Err(error) = resume_unfinished(&context) {
                tracing::warn!(%error, "looking for unfinished imports failed");
            }
            std::thread::sleep(RESUME_EVERY);
        })
        .expect("start the import resumer thread");
}

/// Runs a job whose lease this thread holds, batch by batch; each batch renews the lease
/// in its own transaction, so a holder that lost it records nothing more.
fn run_batches(context: &ImportContext, id: i64, lease: &Lease) -> Result<(), AppError> {
    let (job, csv) = context.database.with_conn(|conn| {
        repo::mark_running(conn, id)?;
        Ok((get_job(conn, id)?, repo::csv_of(conn, id)?))
    })?;
    tracing::info!(import_id = id, from_row = job.next_row, "import running");
    let mode = ImportMode::parse(&job.mode).ok_or_else(|| AppError::internal("unknown import mode"))?;
    let mut errors: Vec<Value> = job.errors.0.iter().map(|e| serde_json::json!(e)).collect();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let columns: HashMap<String, usize> = reader
        .headers()
        .map_err(|e| AppError::internal(e.to_string()))?
        .iter()
        .enumerate()
        .map(|(index, name)| (name.trim().to_string(), index))
        .collect();
    let mut records = reader.records().enumerate().skip(job.next_row as usize);
    loop {
        let batch: Vec<(usize, csv::StringRecord)> = records
            .by_ref()
            .take(BATCH_ROWS)
            .map(|(index, record)| record.map(|r| (index, r)).map_err(|e| AppError::internal(e.to_string())))
            .collect::<Result<_, _>>()?;
        let Some(&(last_index, _)) = batch.last() else { break };
        let next_row = last_index as i64 + 1;
        errors = context.database.with_conn(|conn| {
            conn.write_transaction(|conn| {
                // Errors found by this batch count only if it commits (it may run again).
                let mut errors = errors.clone();
                let outcome = import_batch(conn, context, id, mode, &columns, &batch, &mut errors)?;
                let reported = &errors[..errors.len().min(MAX_REPORTED_ERRORS)];
                repo::record_batch(conn, id, next_row, &outcome, &Value::Array(reported.to_vec()).to_string())?;
                lease.renew(conn, JOB_LEASE)?;
                Ok(errors)
            })
        })?;
    }
    context.database.with_conn(|conn| {
        conn.write_transaction(|conn| {
            lease.renew(conn, JOB_LEASE)?;
            let job = repo::finish(conn, id, None, now())?;
            super::emit::import_completed(conn, &job)?;
            lease.release(conn)
        })
    })
}

fn import_batch(
    conn: &mut DbConn,
    context: &ImportContext,
    job_id: i64,
    mode: ImportMode,
    columns: &HashMap<String, usize>,
    batch: &[(usize, csv::StringRecord)],
    errors: &mut Vec<Value>,
) -> Result<BatchOutcome, AppError> {
    let now = now();
    let actor = format!("import:{job_id}");
    let mut outcome = BatchOutcome { rows: batch.len() as i64, ..Default::default() };
    // Line numbers as a spreadsheet shows them: the header is line 1.
    let parsed: Vec<(usize, Result<ParsedRow, Vec<FieldError>>)> = batch
        .iter()
        .map(|(index, record)| (index + 2, parse_row(record, columns, context.default_country, now)))
        .collect();

    // One lookup per batch for known emails and for erased people.
    let emails: Vec<String> = parsed
        .iter()
        .filter_map(|(_, row)| row.as_ref().ok()?.draft.details.email.as_ref().map(|e| e.as_str().to_string()))
        .collect();
    let known = customer_repo::ids_by_emails(conn, &emails)?;
    let hashes_of = |row: &ParsedRow| -> Vec<String> {
        let d = &row.draft.details;
        super::privacy::suppression_hashes(
            &context.keys,
            d.email.as_ref().map(|e| e.as_str()),
            d.phone.as_ref().map(|p| p.as_str()),
        )
        .into_iter()
        .map(|(hash, _)| hash)
        .collect()
    };
    let all_hashes: Vec<String> = parsed.iter().filter_map(|(_, row)| row.as_ref().ok()).flat_map(hashes_of).collect();
    let suppressed = privacy_repo::suppressed_among(conn, &all_hashes)?;

    let known_ids: Vec<i64> = known.values().copied().collect();
    let mut known_customers = KnownCustomers::load(conn, &known_ids)?;
    let mut fresh = FreshCustomers::default();
    let mut created_here = std::collections::HashSet::new();
    for (line, row) in parsed {
        let mut reject = |found: Vec<FieldError>, outcome: &mut BatchOutcome| {
            outcome.rejected += 1;
            for error in found {
                if errors.len() < MAX_REPORTED_ERRORS {
                    errors.push(json!({"line": line, "field": error.field, "message": error.message}));
                }
            }
        };
        let row = match row {
            Ok(row) => row,
            Err(found) => {
                reject(found, &mut outcome);
                continue;
            }
        };
        if hashes_of(&row).iter().any(|hash| suppressed.contains(hash)) {
            reject(
                vec![FieldError::new("email", "this person had their data erased; imports never bring them back")],
                &mut outcome,
            );
            continue;
        }
        let email = row.draft.details.email.as_ref().map(|e| e.as_str().to_string());
        if email.as_ref().is_some_and(|e| known.contains_key(e) || created_here.contains(e)) {
            // An existing customer, after the batch's new rows are complete: from what the
            // batch read up front if it existed before the batch, else the per-row path.
            fresh.flush(conn, &actor, now)?;
            let known_id = email.as_ref().and_then(|e| known.get(e)).copied();
            let done = match known_id {
                Some(id) if known_customers.records.contains_key(&id) => {
                    update_known(conn, &mut known_customers, id, mode, job_id, row)?
                }
                _ => import_row(conn, context, job_id, mode, row)?,
            };
            match done {
                Ok(RowResult::Created) => outcome.created += 1,
                Ok(RowResult::Updated) => outcome.updated += 1,
                Ok(RowResult::Unchanged) => outcome.unchanged += 1,
                Err(found) => reject(found, &mut outcome),
            }
            continue;
        }
        let profile = CustomerProfile::from_draft(row.draft).map_err(|e| AppError::Validation(vec![e]))?;
        if let Some(problems) = company_problems(conn, None, None, &profile)? {
            reject(problems, &mut outcome);
            continue;
        }
        fresh.add(profile, row.consents);
        if let Some(email) = email {
            created_here.insert(email);
        }
        outcome.created += 1;
    }
    fresh.flush(conn, &actor, now)?;
    Ok(outcome)
}

/// New customers of a batch, written together: their rows, tags, search terms and
/// consent events in a few multi-row statements instead of several per row.
#[derive(Default)]
struct FreshCustomers {
    pending: Vec<(CustomerProfile, Vec<ConsentChange>)>,
}

impl FreshCustomers {
    fn add(&mut self, profile: CustomerProfile, consents: Vec<ConsentChange>) {
        self.pending.push((profile, consents));
    }

    fn flush(&mut self, conn: &mut DbConn, actor: &str, now: NaiveDateTime) -> Result<(), AppError> {
        let pending = std::mem::take(&mut self.pending);
        let profiles: Vec<&CustomerProfile> = pending.iter().map(|(profile, _)| profile).collect();
        let ids = customer_repo::insert_rows(conn, &profiles, now)?;
        let refs: Vec<(i64, &CustomerProfile)> = ids.iter().copied().zip(profiles.iter().copied()).collect();
        customer_repo::insert_tags_and_terms_bulk(conn, &refs)?;
        let mut changes: Vec<(EventType, Option<i64>, Value)> = refs
            .iter()
            .map(|&(id, profile)| {
                (EventType::CustomerCreated, Some(id), super::emit::customer_created_data(id, profile, now))
            })
            .collect();
        let mut events = Vec::new();
        let mut with_events = Vec::new();
        for (&id, (_, consents)) in ids.iter().zip(&pending) {
            if !consents.is_empty() {
                with_events.push(id);
            }
            events.extend(consents.iter().cloned().map(|change| super::consents::new_event(id, change, actor, now)));
        }
        // New customers have no consent yet: each event is a change (from none).
        for event in crate::repositories::consents::insert_events_bulk(conn, &events)? {
            let data = super::emit::consent_changed_data(&event, None);
            changes.push((EventType::ConsentChanged, Some(event.customer_id), data));
        }
        // The batch's events in a few multi-row statements, like its rows.
        super::events::record_many(conn, changes)?;
        crate::services::consents::refresh_current(conn, &with_events)?;
        Ok(())
    }
}

enum RowResult {
    Created,
    Updated,
    Unchanged,
}

/// Customers a batch finds already there: locked in id order and read once with their
/// ledgers' event keys, so that re-importing a file costs no query per unchanged row.
struct KnownCustomers {
    records: HashMap<i64, CustomerRecord>,
    /// (customer, channel, state, source, occurred_at) of every ledger event they have.
    events: std::collections::HashSet<crate::repositories::consents::EventKey>,
}

impl KnownCustomers {
    fn load(conn: &mut DbConn, ids: &[i64]) -> Result<KnownCustomers, AppError> {
        crate::repositories::sql::lock_rows(conn, "customers", ids)?;
        let records = customer_repo::find_many(conn, ids)?;
        let events = crate::repositories::consents::event_keys_of(conn, ids)?.into_iter().collect();
        Ok(KnownCustomers { records, events })
    }
}

/// `import_row` for a customer the batch read up front (see `KnownCustomers`): the same
/// rules, with the reads already done; what it writes is kept in `known` for a later row
/// of the same customer.
fn update_known(
    conn: &mut DbConn,
    known: &mut KnownCustomers,
    id: i64,
    mode: ImportMode,
    job_id: i64,
    row: ParsedRow,
) -> Result<Result<RowResult, Vec<FieldError>>, AppError> {
    let Some(existing) = known.records.get(&id) else {
        return Err(AppError::internal(format!("customer {id} was not read with its batch")));
    };
    if mode == ImportMode::CreateOnly {
        let message = format!("a customer with this email already exists (id {id})");
        return Ok(Err(vec![FieldError::new("email", message)]));
    }
    let before = existing.profile();
    let mut profile = before.clone();
    profile.fill_from(row.draft);
    if let Some(problems) = company_problems(conn, Some(id), Some(&before), &profile)? {
        return Ok(Err(problems));
    }
    let result = if profile == before {
        RowResult::Unchanged
    } else {
        let record = customer_repo::update(conn, id, &profile, now())?;
        super::emit::customer_updated(conn, id, &before, &profile)?;
        let from = super::provenance::Provenance {
            source: super::provenance::ValueSource::Import,
            source_ref: Some(format!("import:{job_id}")),
            actor: None,
            observed_at: now(),
        };
        super::provenance::record_changes(conn, id, &before, &profile, &from)?;
        known.records.insert(id, record);
        RowResult::Updated
    };
    let actor = format!("import:{job_id}");
    for change in row.consents {
        // Each consent once, as in `import_row`: the ledger decides what is current.
        let key = (
            id,
            change.channel.as_str().to_string(),
            change.state.as_str().to_string(),
            change.source.as_str().to_string(),
            change.occurred_at,
        );
        if known.events.insert(key) {
            super::consents::append(conn, id, change, &actor)?;
        }
    }
    Ok(Ok(result))
}

/// What is wrong with a row's company data, as row errors: company fields on a person, or
/// a `company_id` that names no live company (the API's rules).
fn company_problems(
    conn: &mut DbConn,
    id: Option<i64>,
    before: Option<&CustomerProfile>,
    profile: &CustomerProfile,
) -> Result<Option<Vec<FieldError>>, AppError> {
    if let Err(problem) = profile.check_company_fields() {
        return Ok(Some(vec![problem]));
    }
    match super::customers::check_company_link(conn, id, before, profile) {
        Ok(()) => Ok(None),
        Err(AppError::Validation(problems)) => Ok(Some(problems)),
        Err(other) => Err(other),
    }
}

fn import_row(
    conn: &mut DbConn,
    context: &ImportContext,
    job_id: i64,
    mode: ImportMode,
    row: ParsedRow,
) -> Result<Result<RowResult, Vec<FieldError>>, AppError> {
    let email = row.draft.details.email.clone();
    let phone = row.draft.details.phone.clone();
    let hashes: Vec<String> = super::privacy::suppression_hashes(
        &context.keys,
        email.as_ref().map(|e| e.as_str()),
        phone.as_ref().map(|p| p.as_str()),
    )
    .into_iter()
    .map(|(hash, _)| hash)
    .collect();
    if !hashes.is_empty() && privacy_repo::any_suppressed(conn, &hashes)? {
        return Ok(Err(vec![FieldError::new(
            "email",
            "this person had their data erased; imports never bring them back",
        )]));
    }
    let existing = match &email {
        Some(email) => customer_repo::find_by_email_for_update(conn, email)?,
        None => None,
    };
    let (record, result): (CustomerRecord, RowResult) = match (existing, mode) {
        (Some(existing), ImportMode::CreateOnly) => {
            let message = format!("a customer with this email already exists (id {})", existing.row.id);
            return Ok(Err(vec![FieldError::new("email", message)]));
        }
        (Some(existing), ImportMode::Upsert) => {
            let mut profile = existing.profile();
            let before = profile.clone();
            profile.fill_from(row.draft);
            if let Some(problems) = company_problems(conn, Some(existing.row.id), Some(&before), &profile)? {
                return Ok(Err(problems));
            }
            if profile == before {
                (existing, RowResult::Unchanged)
            } else {
                let record = customer_repo::update(conn, existing.row.id, &profile, now())?;
                super::emit::customer_updated(conn, existing.row.id, &before, &profile)?;
                let from = super::provenance::Provenance {
                    source: super::provenance::ValueSource::Import,
                    source_ref: Some(format!("import:{job_id}")),
                    actor: None,
                    observed_at: now(),
                };
                super::provenance::record_changes(conn, existing.row.id, &before, &profile, &from)?;
                (record, RowResult::Updated)
            }
        }
        (None, _) => {
            let profile = CustomerProfile::from_draft(row.draft).map_err(|e| AppError::Validation(vec![e]))?;
            if let Some(problems) = company_problems(conn, None, None, &profile)? {
                return Ok(Err(problems));
            }
            let record = customer_repo::insert(conn, &profile, now())?;
            super::emit::customer_created(conn, record.row.id, &profile, record.row.created_at)?;
            (record, RowResult::Created)
        }
    };
    let actor = format!("import:{job_id}");
    for change in row.consents {
        // Re-running a file records each consent once: the ledger decides what is current,
        // so an older imported event never overrides a newer one.
        if !crate::repositories::consents::has_import_event(conn, record.row.id, &change)? {
            super::consents::append(conn, record.row.id, change, &actor)?;
        }
    }
    Ok(Ok(result))
}

/// Rows per database round trip while exporting.
pub const EXPORT_PAGE: i64 = 1000;

/// Every attribute key in use, sorted (one pass over the attributes column, by pages).
pub fn attribute_keys(conn: &mut DbConn) -> Result<Vec<String>, AppError> {
    let mut keys = std::collections::BTreeSet::new();
    let mut after = 0;
    loop {
        let page = customer_repo::attributes_after(conn, after, EXPORT_PAGE * 10)?;
        let Some(&(last, _)) = page.last() else { break };
        for (_, attributes) in page {
            keys.extend(attributes.0.into_iter().map(|(key, _)| key));
        }
        after = last;
    }
    Ok(keys.into_iter().collect())
}

/// The header row of an export with these attribute keys.
pub fn export_header(attribute_keys: &[String]) -> Vec<String> {
    let mut header: Vec<String> = PROFILE_COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend(attribute_keys.iter().map(|key| format!("attributes.{key}")));
    for channel in ConsentChannel::ALL.iter().copied() {
        header.push(consent_column(channel));
        header.push(consent_at_column(channel));
    }
    header
}

fn attribute_cell(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One customer as a CSV row in the export's column order.
pub fn export_row(record: &CustomerRecord, attribute_keys: &[String]) -> Vec<String> {
    let r = &record.row;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut row = vec![
        r.kind.clone(),
        text(&r.first_name),
        text(&r.last_name),
        text(&r.company_name),
        text(&r.email),
        text(&r.phone),
        r.birthday.map(|d| d.to_string()).unwrap_or_default(),
        text(&r.gender),
        text(&r.address_line1),
        text(&r.address_line2),
        text(&r.city),
        text(&r.region),
        text(&r.postal_code),
        text(&r.country),
        text(&r.preferred_language),
        r.source.clone(),
        record.tags.join(";"),
        text(&r.notes),
    ];
    let company = record.company.as_ref().map(|c| c.facts()).unwrap_or_default();
    let number = |value: Option<i64>| value.map(|n| n.to_string()).unwrap_or_default();
    row.extend([
        company.founded_on.map(|d| d.to_string()).unwrap_or_default(),
        text(&company.industry),
        number(company.employees),
        text(&company.website),
        text(&company.registration_number),
        text(&company.vat_number),
        number(company.rating),
        text(&company.particularities),
        number(r.company_id),
        text(&r.company_role),
    ]);
    let attributes = record.attributes();
    row.extend(attribute_keys.iter().map(|key| attributes.get(key).map(attribute_cell).unwrap_or_default()));
    for channel in ConsentChannel::ALL.iter().copied() {
        match record.consents.iter().find(|c| c.channel == channel.as_str()) {
            Some(current) => {
                row.push(current.state.clone());
                row.push(current.occurred_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            }
            None => row.extend([String::new(), String::new()]),
        }
    }
    row
}

/// One page of the export as CSV text, and the last id on it (None when done).
pub fn export_page(
    conn: &mut DbConn,
    after_id: i64,
    attribute_keys: &[String],
) -> Result<(String, Option<i64>), AppError> {
    let records = customer_repo::page_after(conn, after_id, EXPORT_PAGE)?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in &records {
        writer.write_record(export_row(record, attribute_keys)).map_err(|e| AppError::internal(e.to_string()))?;
    }
    let bytes = writer.into_inner().map_err(|e| AppError::internal(e.to_string()))?;
    Ok((String::from_utf8(bytes).unwrap_or_default(), records.last().map(|r| r.row.id)))
}

/// The header row as CSV text.
pub fn header_line(attribute_keys: &[String]) -> Result<String, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(export_header(attribute_keys)).map_err(|e| AppError::internal(e.to_string()))?;
    let bytes = writer.into_inner().map_err(|e| AppError::internal(e.to_string()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}
