//! Enquiries: recorded from any channel (phone, email, in person, social, letter, or the
//! web form in services::forms), triaged, and followed up. A follow-up (`follow_up_at`)
//! puts the enquiry on the shop's to-do list while it is open, and the due scan records
//! `enquiry.follow_up_due` once when its time comes.

use crate::services::provenance::{Provenance, ValueSource};
use chrono::{Duration, NaiveDateTime};

use super::idempotency::{self, Answer, KeyedRequest, StoredResponse};
use super::{customers, now, TxError};
use crate::db::{Database, DbConn, Json};
use crate::domain::forms::{resolved_at, EnquiryChange, EnquiryDraft, EnquiryFilter, EnquiryParty};
use crate::error::AppError;
use crate::models::forms::{EnquiryRow, NewEnquiry};
use crate::repositories::customers as customer_repo;
use crate::repositories::forms::{self as repo, EnquiryTriage};

/// Follow-ups announced per transaction by the due scan.
const DUE_BATCH: i64 = 200;
/// How often the due scan runs.
const SCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("enquiry {id} does not exist"))
}

fn tag_texts(tags: &[crate::domain::Tag]) -> Vec<String> {
    let mut texts: Vec<String> = tags.iter().map(|t| t.as_str().to_string()).collect();
    texts.sort();
    texts.dedup();
    texts
}

/// `POST /v1/enquiries`: the customer (given by id, or found by email and only its blanks
/// filled, or created), the enquiry and its `enquiry.created` event, in one transaction,
/// once per Idempotency-Key (`keyed`).
pub fn create(
    conn: &mut DbConn,
    draft: EnquiryDraft,
    actor: &str,
    keyed: Option<&KeyedRequest>,
    render: impl Fn(EnquiryRow) -> Result<StoredResponse, AppError>,
) -> Result<Answer, AppError> {
    Ok(idempotency::run_once(conn, keyed, |conn| create_in_transaction(conn, &draft, actor), render)?)
}

fn create_in_transaction(conn: &mut DbConn, draft: &EnquiryDraft, actor: &str) -> Result<EnquiryRow, TxError> {
    let customer = match &draft.party {
        EnquiryParty::Customer(id) => match customer_repo::find_for_update(conn, *id)? {
            Some(record) if record.row.erased_at.is_none() => record,
            _ => return Err(AppError::invalid("customer_id", format!("customer {id} does not exist")).into()),
        },
        EnquiryParty::Contact { email, draft: details } => {
            let mut details = (**details).clone();
            details.source = Some(draft.channel.customer_source());
            let from = Provenance {
                source: ValueSource::Api,
                source_ref: Some(format!("enquiry:{}", draft.channel.as_str())),
                actor: Some(actor.to_string()),
                observed_at: now(),
            };
            customers::fill_blanks_by_email(conn, email, details, &from)?
        }
    };
    let now = now();
    let status = draft.status.as_str().to_string();
    let created = repo::insert_enquiry(
        conn,
        NewEnquiry {
            customer_id: Some(customer.row.id),
            kind: "contact".into(),
            resolved_at: resolved_at(&status, None, draft.occurred_at),
            status,
            email: customer.row.email.clone(),
            subject: draft.subject.clone(),
            message: Some(draft.message.clone()),
            assignee: draft.assignee.clone(),
            ip: None,
            user_agent: None,
            created_at: now,
            updated_at: now,
            channel: draft.channel.as_str().to_string(),
            occurred_at: draft.occurred_at,
            follow_up_at: draft.follow_up_at,
            tags: Json(tag_texts(&draft.tags)),
        },
    )?;
    super::emit::enquiry_created(conn, &created)?;
    Ok(created)
}

fn triage_of(
    current: &EnquiryRow,
    status: String,
    assignee: Option<String>,
    note: Option<String>,
    now: NaiveDateTime,
) -> EnquiryTriage {
    EnquiryTriage {
        resolved_at: resolved_at(&status, current.resolved_at, now),
        status,
        assignee,
        note,
        follow_up_at: current.follow_up_at,
        follow_up_due_at: current.follow_up_due_at,
        tags: current.tags.to_text(),
        updated_at: now,
    }
}

pub fn list(
    conn: &mut DbConn,
    filter: &EnquiryFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<EnquiryRow>, AppError> {
    Ok(repo::list_enquiries(conn, filter, before_id, limit)?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<EnquiryRow, AppError> {
    repo::find_enquiry(conn, id)?.ok_or_else(|| not_found(id))
}

pub fn update(conn: &mut DbConn, id: i64, change: EnquiryChange) -> Result<EnquiryRow, AppError> {
    conn.write_transaction(|conn| {
        let change = change.clone();
        repo::lock_enquiry(conn, id)?;
        let current = repo::find_enquiry(conn, id)?.ok_or_else(|| not_found(id))?;
        let mut assignee = current.assignee.clone();
        let mut note = current.note.clone();
        change.assignee.apply_to(&mut assignee);
        change.note.apply_to(&mut note);
        let now = now();
        let mut triage = triage_of(&current, change.status.unwrap_or(current.status.clone()), assignee, note, now);
        let mut follow_up_at = current.follow_up_at;
        change.follow_up_at.apply_to(&mut follow_up_at);
        if follow_up_at != current.follow_up_at {
            // A new follow-up is a new reminder: announced again when it falls due.
            triage.follow_up_at = follow_up_at;
            triage.follow_up_due_at = None;
        }
        if let Some(tags) = &change.tags {
            triage.tags = Json(tag_texts(tags)).to_text();
        }
        let updated = repo::update_enquiry(conn, id, triage)?;
        super::emit::enquiry_updated(conn, &current, &updated)?;
        Ok(updated)
    })
}

/// Records `enquiry.follow_up_due` for every open enquiry whose follow-up is due at `now`
/// and was not announced yet, each once: the mark and the event are one transaction, and
/// the mark is a conditional UPDATE, so two instances never announce one follow-up twice.
/// Returns how many were announced.
pub fn announce_due_follow_ups(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let (announced, seen) = conn.write_transaction(|conn| -> Result<(usize, usize), AppError> {
            let due = repo::due_follow_ups(conn, now, DUE_BATCH)?;
            let mut announced = 0;
            for enquiry in &due {
                let Some(follow_up_at) = enquiry.follow_up_at else { continue };
                if repo::mark_follow_up_due(conn, enquiry.id, follow_up_at, now)? {
                    super::emit::enquiry_follow_up_due(conn, enquiry)?;
                    announced += 1;
                }
            }
            Ok((announced, due.len()))
        })?;
        total += announced;
        if seen < DUE_BATCH as usize || announced == 0 {
            return Ok(total);
        }
    }
}

/// One round of the due scan, under the lease `enquiry-follow-ups` so that one instance
/// scans at a time (the conditional mark keeps it exactly once even without the lease).
pub fn follow_up_round(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    let Some(lease) = super::leases::claim(conn, "enquiry-follow-ups", Duration::minutes(5))? else {
        return Ok(0);
    };
    let outcome = announce_due_follow_ups(conn, now);
    lease.release(conn)?;
    outcome
}

/// The background thread of the due scan (every 30 s).
pub fn spawn_follow_up_worker(database: Database) {
    std::thread::Builder::new()
        .name("enquiry-follow-ups".into())
        .spawn(move || loop {
            match database.with_conn(|conn| follow_up_round(conn, now())) {
                Ok(0) => {}
                Ok(announced) => tracing::info!(announced, "enquiry follow-ups due"),
                Err(error) => tracing::warn!(%error, "enquiry follow-up scan failed"),
            }
            std::thread::sleep(SCAN_EVERY);
        })
        .expect("start the enquiry follow-ups thread");
}
