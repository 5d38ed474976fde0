//! Automated flows: drafts and versions, entry from the event log and from scheduled scans,
//! and the scheduler that runs due steps. A step's effect (a message in the outbox, a
//! promo code, a tag) and the run's advance commit in one transaction, so a crash neither
//! repeats nor loses a step; on PostgreSQL due runs are claimed with `SKIP LOCKED`, so two
//! instances never run the same step. Every function of the scheduler takes `now`: tests
//! move the clock, and waits of days pass in milliseconds.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use rand::Rng;
use serde_json::{json, Value};

use super::campaigns::{encode, link_signature, new_tracking_token, new_unique_code, own_opt_in, unsubscribe_token};
use super::now;
use crate::config::Config;
use crate::db::{Database, DbConn};
use crate::domain::campaign::rewrite_links;
use crate::domain::events::EventType;
use crate::domain::flows::{
    after_quiet_hours, birthdays_on, lift, utc_to_local, wait_until, BranchCondition, FlowDefinition, Reentry, Step,
    Trigger, WhenCapped, DEFAULT_TOLERANCE_HOURS, MAX_STEPS_PER_ROUND,
};
use crate::domain::segment::{self, Rule};
use crate::domain::{templates, ConsentState, FlowOutcome, FlowStatus, RunState, Tag};
use crate::error::AppError;
use crate::keys::DataKeys;
use crate::models::customers::CustomerRecord;
use crate::models::events::EventRow;
use crate::models::flows::{
    FlowContactRow, FlowReport, FlowRow, FlowView, GateRow, GroupFigures, NewFlow, NewFlowContact, NewFlowVersion,
    NewRun, Preview, RunProgress, RunRow, StepFigures,
};
use crate::models::forms::UnsubscribeTokenRow;
use crate::models::promo_codes::{NewPromoCode, PromoCodeColumns};
use crate::repositories::{
    customers as customer_repo, events as event_repo, flows as repo, forms as forms_repo, promo_codes as promo_repo,
    segments as segment_repo,
};

/// Events read per transaction by the trigger reader.
const EVENT_BATCH: i64 = 500;
/// Runs advanced per transaction by the scheduler.
const RUN_BATCH: i64 = 200;
/// Candidates entered per transaction by a scan.
const ENTRY_BATCH: usize = 500;
/// How often each scanned flow looks for new entrants.
const SCAN_EVERY: Duration = Duration::hours(1);
/// How long a run whose step failed waits before it is tried again.
const RETRY_FAILED_STEP: Duration = Duration::hours(1);
/// An order placed longer than this before it was recorded is history, not a trigger.
const HISTORY_AFTER: Duration = Duration::days(1);

/// The event types the trigger reader follows.
const EVENT_TYPES: [EventType; 4] =
    [EventType::CustomerCreated, EventType::ConsentChanged, EventType::OrderCreated, EventType::EnquiryFollowUpDue];
const EVENT_TRIGGERS: [&str; 6] = [
    "customer_created",
    "consent_subscribed",
    "order_created",
    "nth_order",
    "referral_converted",
    "enquiry_follow_up_due",
];
const SCANNED_TRIGGERS: [&str; 5] =
    ["birthday", "first_order_anniversary", "lapsed", "segment_entered", "enquiry_unresolved"];

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("flow {id} does not exist"))
}

fn stored(definition: &FlowDefinition) -> String {
    serde_json::to_string(definition).unwrap_or_else(|_| "{}".into())
}

fn parse_stored(text: &str) -> Result<FlowDefinition, AppError> {
    serde_json::from_str(text).map_err(|e| AppError::internal(format!("a stored flow definition is unreadable: {e}")))
}

/// Checks a definition: its own rules, its templates, its segment rules, and that a
/// `segment_entered` trigger names a saved segment.
fn check(conn: &mut DbConn, definition: &FlowDefinition) -> Result<(), AppError> {
    let errors =
        definition.validate(templates::check, |rules, path| segment::parse(rules, path).err().unwrap_or_default());
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if let Trigger::SegmentEntered { segment_id } = definition.trigger {
        if segment_repo::find(conn, segment_id)?.is_none() {
            return Err(AppError::invalid("trigger.segment_id", format!("segment {segment_id} does not exist")));
        }
    }
    Ok(())
}

/// A new flow: `draft`, version 1.
pub fn create(
    conn: &mut DbConn,
    name: String,
    definition: FlowDefinition,
    template_key: Option<String>,
    actor: &str,
) -> Result<FlowView, AppError> {
    conn.write_transaction(|conn| {
        check(conn, &definition)?;
        let now = now();
        let row = repo::insert(
            conn,
            NewFlow {
                name: name.clone(),
                status: FlowStatus::Draft.as_str().into(),
                trigger_type: definition.trigger.kind().into(),
                version: 1,
                template_key: template_key.clone(),
                created_by: actor.to_string(),
                created_at: now,
                updated_at: now,
            },
        )?;
        repo::insert_version(
            conn,
            NewFlowVersion { flow_id: row.id, version: 1, definition: stored(&definition), created_at: now },
        )?;
        Ok(FlowView { row, definition: definition.clone() })
    })
}

fn view(conn: &mut DbConn, row: FlowRow) -> Result<FlowView, AppError> {
    let mut definitions = repo::definitions(conn, &[(row.id, row.version)])?;
    let text =
        definitions.remove(&(row.id, row.version)).ok_or_else(|| AppError::internal("a flow lost its definition"))?;
    Ok(FlowView { definition: parse_stored(&text)?, row })
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<FlowView, AppError> {
    let row = repo::find(conn, id)?.ok_or_else(|| not_found(id))?;
    view(conn, row)
}

/// A page of flows, newest first, with their definitions in one more query.
pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> Result<Vec<FlowView>, AppError> {
    let rows = repo::list(conn, before_id, limit)?;
    let pairs: Vec<(i64, i32)> = rows.iter().map(|r| (r.id, r.version)).collect();
    let mut definitions = repo::definitions(conn, &pairs)?;
    rows.into_iter()
        .map(|row| {
            let text = definitions.remove(&(row.id, row.version)).unwrap_or_default();
            Ok(FlowView { definition: parse_stored(&text)?, row })
        })
        .collect()
}

/// Changes a draft or a paused flow: a new version. Runs already in the flow finish on the
/// version they entered with; new entries take the new one.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    patch: impl Fn(&FlowView) -> Result<(String, FlowDefinition), AppError>,
) -> Result<FlowView, AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.status == FlowStatus::Active.as_str() {
            return Err(AppError::conflict(format!("flow {id} is active; pause it before changing it")));
        }
        let current = view(conn, row)?;
        let (name, definition) = patch(&current)?;
        check(conn, &definition)?;
        let now = now();
        let version = current.row.version + 1;
        repo::insert_version(
            conn,
            NewFlowVersion { flow_id: id, version, definition: stored(&definition), created_at: now },
        )?;
        let row = repo::set_name_and_version(conn, id, &name, definition.trigger.kind(), version, now)?;
        Ok(FlowView { row, definition })
    })
}

fn set_status(conn: &mut DbConn, id: i64, to: FlowStatus) -> Result<FlowView, AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.status == to.as_str() {
            return Err(AppError::conflict(format!("flow {id} is already {}", to.as_str())));
        }
        if to == FlowStatus::Paused && row.status == FlowStatus::Draft.as_str() {
            return Err(AppError::conflict(format!("flow {id} is a draft; activate it first")));
        }
        let row = repo::set_status(conn, id, to, now())?;
        view(conn, row)
    })
}

/// Starts enrolling: events from now on and the next scans start runs.
pub fn activate(conn: &mut DbConn, id: i64) -> Result<FlowView, AppError> {
    set_status(conn, id, FlowStatus::Active)
}

/// Stops enrolling and running steps; runs wait where they are until the flow is resumed.
pub fn pause(conn: &mut DbConn, id: i64) -> Result<FlowView, AppError> {
    set_status(conn, id, FlowStatus::Paused)
}

/// Deletes a draft (a flow that ran keeps its record: pause it instead).
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), AppError> {
    conn.write_transaction(|conn| {
        let row = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
        if row.status != FlowStatus::Draft.as_str() {
            return Err(AppError::conflict(format!("flow {id} has run; pause it instead of deleting it")));
        }
        Ok(repo::delete(conn, id)?)
    })
}

// ---------------------------------------------------------------------------------------
// The scheduler

/// What one scheduler round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub entered: usize,
    pub advanced: usize,
}

/// One round at `now`: sequence the event log, start runs from new events and due scans,
/// then advance every due run.
pub fn tick(conn: &mut DbConn, config: &Config, keys: &DataKeys, now: NaiveDateTime) -> Result<Round, AppError> {
    super::events::sequence_on(conn, now)?;
    let mut entered = read_events(conn, now)?;
    entered += scan(conn, config, now)?;
    let advanced = run_due(conn, config, keys, now)?;
    Ok(Round { entered, advanced })
}

/// Runs rounds once a second, for as long as the process lives.
pub fn spawn_worker(database: Database, config: Config, keys: std::sync::Arc<DataKeys>) {
    std::thread::Builder::new()
        .name("flows".into())
        .spawn(move || loop {
            match database.with_conn(|conn| tick(conn, &config, &keys, now())) {
                Ok(Round { entered: 0, advanced: 0 }) => {}
                Ok(round) => tracing::info!(entered = round.entered, advanced = round.advanced, "flows round"),
                Err(error) => tracing::warn!(%error, "flows round failed"),
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        })
        .expect("start the flows thread");
}

type ActiveFlow = (FlowRow, FlowDefinition);

fn with_definitions(conn: &mut DbConn, rows: Vec<FlowRow>) -> Result<Vec<ActiveFlow>, AppError> {
    let pairs: Vec<(i64, i32)> = rows.iter().map(|r| (r.id, r.version)).collect();
    let mut definitions = repo::definitions(conn, &pairs)?;
    rows.into_iter()
        .map(|row| {
            let text = definitions.remove(&(row.id, row.version)).unwrap_or_default();
            Ok((row, parse_stored(&text)?))
        })
        .collect()
}

/// Reads the event log past the trigger reader's cursor and starts runs; the cursor moves
/// in the same transaction as the runs it started. Returns how many runs started.
pub fn read_events(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    let types: Vec<String> = EVENT_TYPES.iter().map(|t| t.as_str().to_string()).collect();
    let mut total = 0;
    loop {
        let (entered, read) = conn.write_transaction(|conn| -> Result<(usize, usize), AppError> {
            let after = repo::lock_cursor(conn)?;
            let events = event_repo::feed(conn, &types, Some(after), EVENT_BATCH)?;
            let Some(last) = events.last().and_then(|e| e.position) else { return Ok((0, 0)) };
            let data: Vec<Value> =
                events.iter().map(|e| serde_json::from_str(&e.data).unwrap_or(Value::Null)).collect();
            let active = repo::active_with_triggers(conn, &EVENT_TRIGGERS)?;
            let flows = with_definitions(conn, active)?;
            let mut entered = 0;
            for (flow, definition) in &flows {
                let mut candidates = Vec::new();
                for (event, data) in events.iter().zip(&data) {
                    // Only what happened since the flow was activated.
                    if flow.activated_at.is_some_and(|at| event.created_at >= at) {
                        if let Some(entrant) = candidate(conn, definition, event, data)? {
                            candidates.push(entrant);
                        }
                    }
                }
                entered += enter(conn, flow, definition, candidates, now)?;
            }
            repo::set_cursor(conn, last)?;
            Ok((entered, events.len()))
        })?;
        total += entered;
        if read < EVENT_BATCH as usize {
            return Ok(total);
        }
    }
}

/// Who an event starts a run for, under this flow's trigger.
fn candidate(
    conn: &mut DbConn,
    definition: &FlowDefinition,
    event: &EventRow,
    data: &Value,
) -> Result<Option<Candidate>, AppError> {
    let order_id = data.get("id").and_then(Value::as_i64);
    if event.event_type == EventType::OrderCreated.as_str() && is_history(data, event.created_at) {
        return Ok(None);
    }
    if let (Trigger::EnquiryFollowUpDue {}, "enquiry.follow_up_due") = (&definition.trigger, event.event_type.as_str())
    {
        // A reminder per enquiry, about its customer if it has one.
        let enquiry_id = data.get("id").and_then(Value::as_i64);
        return Ok(enquiry_id.map(|enquiry| Candidate { customer_id: event.customer_id, enquiry_id: Some(enquiry) }));
    }
    let customer = match (&definition.trigger, event.event_type.as_str()) {
        (Trigger::CustomerCreated {}, "customer.created") => event.customer_id,
        (Trigger::ConsentSubscribed {}, "consent.changed") => {
            let channel = data.get("channel").and_then(Value::as_str);
            let to = data.get("to").and_then(Value::as_str);
            let from = data.get("from").and_then(Value::as_str);
            let subscribed = ConsentState::Subscribed.as_str();
            (channel == Some(definition.channel.as_str()) && to == Some(subscribed) && from != Some(subscribed))
                .then_some(event.customer_id)
                .flatten()
        }
        (Trigger::OrderCreated {}, "order.created") => event.customer_id,
        (Trigger::NthOrder { n }, "order.created") => match (event.customer_id, order_id) {
            (Some(customer), Some(order)) if repo::orders_up_to(conn, customer, order)? == *n => Some(customer),
            _ => None,
        },
        (Trigger::ReferralConverted {}, "order.created") => match order_id {
            Some(order) => repo::referrer_of_order(conn, order)?,
            None => None,
        },
        _ => None,
    };
    Ok(customer.map(|customer| Candidate { customer_id: Some(customer), enquiry_id: None }))
}

/// An order recorded long after it was placed (an import of past orders): no reason to
/// thank, reward or count anyone now.
fn is_history(order: &Value, recorded_at: NaiveDateTime) -> bool {
    let placed_at =
        order.get("placed_at").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    placed_at.is_some_and(|placed| recorded_at - placed.naive_utc() > HISTORY_AFTER)
}

/// Who a run is about: a customer, an enquiry (the shop's alert), or both.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    customer_id: Option<i64>,
    enquiry_id: Option<i64>,
}

/// Starts runs for the candidates who may enter: not erased, no active run in the flow,
/// the re-entry policy, the entry rules. Holdout is drawn per entrant.
fn enter(
    conn: &mut DbConn,
    flow: &FlowRow,
    definition: &FlowDefinition,
    candidates: Vec<Candidate>,
    now: NaiveDateTime,
) -> Result<usize, AppError> {
    let mut ids: Vec<i64> = candidates.iter().filter_map(|c| c.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let live = repo::live_customers(conn, &ids)?;
    let history: HashMap<i64, _> =
        repo::entry_history(conn, flow.id, &ids)?.into_iter().map(|h| (h.customer_id, h)).collect();
    let members: Option<HashSet<i64>> = match &definition.entry_rules {
        Some(rules) => Some(segment_repo::members_among(conn, &parse_rules(rules)?, &ids, now)?.into_iter().collect()),
        None => None,
    };
    let mut rng = rand::rng();
    let mut seen = HashSet::new();
    let mut runs = Vec::new();
    for candidate in candidates {
        match candidate.customer_id {
            Some(customer) => {
                if !live.contains(&customer) || members.as_ref().is_some_and(|m| !m.contains(&customer)) {
                    continue;
                }
                // An enquiry alert is per enquiry; any other run is per customer.
                if candidate.enquiry_id.is_none() {
                    if !seen.insert(customer) {
                        continue;
                    }
                    if let Some(past) = history.get(&customer) {
                        let again = match definition.reentry {
                            Reentry::Once => false,
                            Reentry::Every { days } => past.last_entered_at <= now - Duration::days(days),
                        };
                        if past.active_runs > 0 || !again {
                            continue;
                        }
                    }
                }
            }
            None if candidate.enquiry_id.is_none() => continue,
            None => {}
        }
        runs.push(NewRun {
            flow_id: flow.id,
            version: flow.version,
            customer_id: candidate.customer_id,
            enquiry_id: candidate.enquiry_id,
            holdout: rng.random_range(0..100) < definition.holdout_percent,
            state: RunState::Active.as_str().into(),
            step: 0,
            next_at: now,
            entered_at: now,
            conversion_until: now + Duration::days(definition.conversion_window_days),
        });
    }
    repo::insert_runs(conn, &runs)?;
    Ok(runs.len())
}

fn parse_rules(rules: &Value) -> Result<Rule, AppError> {
    segment::parse(rules, "rules").map_err(AppError::Validation)
}

/// Runs the scans of the scanned flows that are due (each at most once an hour), under a
/// lease so that one instance scans at a time. Returns how many runs they started.
pub fn scan(conn: &mut DbConn, config: &Config, now: NaiveDateTime) -> Result<usize, AppError> {
    let due: Vec<FlowRow> = repo::active_with_triggers(conn, &SCANNED_TRIGGERS)?
        .into_iter()
        .filter(|flow| flow.last_scan_at.is_none_or(|at| at <= now - SCAN_EVERY))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let Some(lease) = super::leases::claim(conn, "flow-scans", Duration::minutes(10))? else { return Ok(0) };
    let mut entered = 0;
    for (flow, definition) in with_definitions(conn, due)? {
        let candidates = scan_candidates(conn, config, &flow, &definition, now)?;
        // Marked before entering: a scan that fails is tried again at the next period, not
        // every second (entry history keeps a repeated scan from entering anyone twice).
        conn.write_transaction(|conn| repo::mark_scanned(conn, flow.id, now))?;
        for chunk in candidates.chunks(ENTRY_BATCH) {
            entered += conn.write_transaction(|conn| enter(conn, &flow, &definition, chunk.to_vec(), now))?;
        }
    }
    lease.release(conn)?;
    Ok(entered)
}

fn customers(ids: Vec<i64>) -> Vec<Candidate> {
    ids.into_iter().map(|id| Candidate { customer_id: Some(id), enquiry_id: None }).collect()
}

/// Who a scanned trigger selects now.
fn scan_candidates(
    conn: &mut DbConn,
    config: &Config,
    flow: &FlowRow,
    definition: &FlowDefinition,
    now: NaiveDateTime,
) -> Result<Vec<Candidate>, AppError> {
    let today = utc_to_local(config.timezone, now).date();
    Ok(match &definition.trigger {
        Trigger::Birthday { days_before } => customers(repo::birthdays(conn, &birthdays_on(today, *days_before))?),
        Trigger::FirstOrderAnniversary {} => {
            use chrono::Datelike;
            customers(repo::first_order_anniversaries(conn, today.month(), today.day(), now - Duration::days(300))?)
        }
        Trigger::Lapsed { interval_multiple: Some(multiple), .. } => {
            let lapsed = repo::rhythms(conn, now - Duration::days(1))?
                .into_iter()
                .filter(|r| {
                    let interval = (r.last_order_at - r.first_order_at) / (r.orders as i32 - 1).max(1);
                    let late = Duration::seconds((interval.num_seconds() as f64 * multiple) as i64);
                    r.last_order_at + late <= now
                })
                .map(|r| r.customer_id)
                .collect();
            customers(lapsed)
        }
        Trigger::Lapsed { probability_alive_below: Some(below), .. } => customers(repo::unlikely_alive(conn, *below)?),
        Trigger::SegmentEntered { segment_id } => segment_entrants(conn, flow, *segment_id, now)?,
        Trigger::EnquiryUnresolved { hours } => {
            repo::unresolved_enquiries(conn, flow.id, now - Duration::hours(*hours))?
                .into_iter()
                .map(|(enquiry, customer)| Candidate { customer_id: customer, enquiry_id: Some(enquiry) })
                .collect()
        }
        _ => Vec::new(),
    })
}

/// Members of the segment now who were not at the last scan. The first scan after a
/// (re)definition records the members without entering them: entering means joining.
fn segment_entrants(
    conn: &mut DbConn,
    flow: &FlowRow,
    segment_id: i64,
    now: NaiveDateTime,
) -> Result<Vec<Candidate>, AppError> {
    let Some(saved) = segment_repo::find(conn, segment_id)? else { return Ok(Vec::new()) };
    let rule = parse_rules(&saved.rules.0)?;
    let mut current = HashSet::new();
    let mut before_id = None;
    loop {
        let page = segment_repo::member_ids(conn, &rule, now, before_id, 10_000)?;
        before_id = page.last().copied();
        let full = page.len() == 10_000;
        current.extend(page);
        if !full {
            break;
        }
    }
    let previous = repo::segment_members(conn, flow.id)?;
    let mut joined: Vec<i64> = current.difference(&previous).copied().collect();
    let mut left: Vec<i64> = previous.difference(&current).copied().collect();
    joined.sort_unstable();
    left.sort_unstable();
    conn.write_transaction(|conn| -> Result<(), AppError> {
        repo::add_segment_members(conn, flow.id, &joined)?;
        repo::remove_segment_members(conn, flow.id, &left)?;
        Ok(())
    })?;
    Ok(if flow.segment_baseline { customers(joined) } else { Vec::new() })
}

/// Advances every due run, a batch per transaction.
pub fn run_due(conn: &mut DbConn, config: &Config, keys: &DataKeys, now: NaiveDateTime) -> Result<usize, AppError> {
    let mut definitions: HashMap<(i64, i32), FlowDefinition> = HashMap::new();
    let mut flows: HashMap<i64, FlowRow> = HashMap::new();
    let mut total = 0;
    loop {
        let advanced = conn.write_transaction(|conn| -> Result<usize, AppError> {
            let runs = repo::claim_due(conn, now, RUN_BATCH)?;
            let missing: Vec<(i64, i32)> =
                runs.iter().map(|r| (r.flow_id, r.version)).filter(|key| !definitions.contains_key(key)).collect();
            for (key, text) in repo::definitions(conn, &missing)? {
                definitions.insert(key, parse_stored(&text)?);
            }
            let contexts = batch_contexts(conn, config, &runs, &definitions)?;
            for run in &runs {
                if let std::collections::hash_map::Entry::Vacant(slot) = flows.entry(run.flow_id) {
                    slot.insert(repo::find(conn, run.flow_id)?.ok_or_else(|| not_found(run.flow_id))?);
                }
                let definition = definitions
                    .get(&(run.flow_id, run.version))
                    .ok_or_else(|| AppError::internal("a run's flow version is missing"))?;
                let scheduler = Scheduler {
                    config,
                    keys,
                    flow: &flows[&run.flow_id],
                    definition,
                    now,
                    contexts: &contexts,
                    gate: Default::default(),
                };
                // In a savepoint: a run that fails (a template that fails for this customer)
                // is put off for an hour and logged, and does not hold the others up.
                if let Err(error) = conn.write_transaction(|conn| scheduler.advance(conn, run)) {
                    tracing::warn!(run_id = run.id, flow_id = run.flow_id, %error, "a flow step failed; retried in an hour");
                    repo::postpone(conn, run.id, now + RETRY_FAILED_STEP)?;
                }
            }
            Ok(runs.len())
        })?;
        total += advanced;
        if advanced < RUN_BATCH as usize {
            return Ok(total);
        }
    }
}

/// The template variables of the customers of a claimed batch whose runs have a message
/// ahead of them: built in a fixed number of queries for the whole batch, not per run.
fn batch_contexts(
    conn: &mut DbConn,
    config: &Config,
    runs: &[RunRow],
    definitions: &HashMap<(i64, i32), FlowDefinition>,
) -> Result<HashMap<i64, Value>, AppError> {
    let messages_ahead = |run: &RunRow| {
        definitions.get(&(run.flow_id, run.version)).is_some_and(|definition| {
            definition
                .steps
                .iter()
                .skip(run.step.max(0) as usize)
                .any(|s| matches!(s, Step::Send { .. } | Step::NotifyShop { .. }))
        })
    };
    let mut ids: Vec<i64> = runs.iter().filter(|r| messages_ahead(r)).filter_map(|r| r.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    super::template_data::for_customers(conn, config, &ids)
}

/// What a send step decided.
enum Sent {
    /// Go on to the next step.
    Done,
    /// Stay on this step until then (quiet hours, the frequency cap).
    HoldUntil(NaiveDateTime),
}

struct Scheduler<'a> {
    config: &'a Config,
    keys: &'a DataKeys,
    flow: &'a FlowRow,
    definition: &'a FlowDefinition,
    now: NaiveDateTime,
    /// The template variables of the batch's customers, built once for the batch.
    contexts: &'a HashMap<i64, Value>,
    /// The run's customer as the gate sees them, read once per round (the exit rules and
    /// the send gate ask the same).
    gate: std::cell::RefCell<Option<Option<GateRow>>>,
}

impl Scheduler<'_> {
    /// Takes the run through its due steps until a wait, a hold or its end, recording
    /// each step's outcome; all in the caller's transaction.
    fn advance(&self, conn: &mut DbConn, run: &RunRow) -> Result<(), AppError> {
        let steps = &self.definition.steps;
        let mut progress = RunProgress {
            state: run.state.clone(),
            exit_reason: None,
            step: run.step,
            next_at: run.next_at,
            promo_code: run.promo_code.clone(),
            promo_expires_at: run.promo_expires_at,
            last_contact_id: run.last_contact_id,
            finished_at: None,
        };
        // The moment the current step was due: waits count from it, lateness is measured
        // against it.
        let mut due = run.next_at;
        let finish = |progress: &mut RunProgress, state: RunState, reason: Option<&str>| {
            progress.state = state.as_str().into();
            progress.exit_reason = reason.map(str::to_string);
            progress.finished_at = Some(self.now);
        };
        for _ in 0..MAX_STEPS_PER_ROUND {
            let index = progress.step as usize;
            if index >= steps.len() {
                finish(&mut progress, RunState::Completed, None);
                break;
            }
            if let Some(reason) = self.exit_reason(conn, run)? {
                finish(&mut progress, RunState::Exited, Some(reason));
                break;
            }
            let next = index as i32 + 1;
            match &steps[index] {
                step @ Step::Wait { .. } => {
                    progress.step = next;
                    progress.next_at = wait_until(step, due, self.config.timezone);
                    if progress.next_at > self.now {
                        break;
                    }
                    due = progress.next_at;
                }
                Step::Send { subject, text, html, tolerance_hours, when_capped } => {
                    let message = Message { subject: subject.as_deref(), text, html: html.as_deref() };
                    let tolerance = Duration::hours(tolerance_hours.unwrap_or(DEFAULT_TOLERANCE_HOURS));
                    let capped = when_capped.unwrap_or_default();
                    match self.send(conn, run, &mut progress, index, due, tolerance, capped, message)? {
                        Sent::Done => progress.step = next,
                        Sent::HoldUntil(at) => {
                            progress.next_at = at;
                            break;
                        }
                    }
                }
                Step::Offer { prefix, discount_type, discount_value, currency, valid_days } => {
                    // The holdout gets no code: it is never messaged.
                    if let (false, Some(customer)) = (run.holdout, run.customer_id) {
                        let expires = self.now + Duration::days(*valid_days);
                        let code = new_unique_code(prefix);
                        let row =
                            self.promo_row(code.clone(), discount_type, *discount_value, currency.clone(), expires);
                        promo_repo::insert_many(conn, &[row])?;
                        progress.promo_code = Some(code);
                        progress.promo_expires_at = Some(expires);
                        self.record(conn, run, Some(customer), index, FlowOutcome::Offered, None, None)?;
                    }
                    progress.step = next;
                }
                Step::Branch { condition, then_step, else_step } => {
                    let holds = self.holds(conn, run, &progress, condition)?;
                    let target = if holds { then_step } else { else_step };
                    progress.step = target.map(|t| t as i32).unwrap_or(next);
                }
                Step::Tag { tag } | Step::Untag { tag } => {
                    if let Some(customer) = run.customer_id {
                        let adding = matches!(steps[index], Step::Tag { .. });
                        if self.retag(conn, customer, tag, adding)? {
                            let outcome = if adding { FlowOutcome::Tagged } else { FlowOutcome::Untagged };
                            self.record(conn, run, Some(customer), index, outcome, None, None)?;
                        }
                    }
                    progress.step = next;
                }
                Step::NotifyShop { subject, text } => {
                    self.notify_shop(conn, run, &progress, subject, text)?;
                    self.record(conn, run, run.customer_id, index, FlowOutcome::Notified, None, None)?;
                    progress.step = next;
                }
                Step::Exit {} => {
                    finish(&mut progress, RunState::Exited, Some("exit_step"));
                    break;
                }
            }
        }
        if progress.state == RunState::Active.as_str() && progress.next_at <= self.now && progress.step == run.step {
            // Nothing moved (a guard: validation refuses loops without a wait).
            progress.next_at = self.now + Duration::minutes(1);
        }
        Ok(repo::save_progress(conn, run.id, &progress)?)
    }

    fn gate(&self, conn: &mut DbConn, customer: i64) -> Result<Option<GateRow>, AppError> {
        if let Some(known) = self.gate.borrow().as_ref() {
            return Ok(known.clone());
        }
        let read = repo::gate(conn, customer, self.definition.channel.as_str())?;
        *self.gate.borrow_mut() = Some(read.clone());
        Ok(read)
    }

    /// Why the run ends before its next step, under the flow's exit rules.
    fn exit_reason(&self, conn: &mut DbConn, run: &RunRow) -> Result<Option<&'static str>, AppError> {
        let Some(customer) = run.customer_id else { return Ok(None) };
        let rules = &self.definition.exit_rules;
        if rules.ordered_since_entry && repo::ordered_since(conn, customer, run.entered_at)? {
            return Ok(Some("ordered"));
        }
        if rules.unsubscribed {
            let gate = self.gate(conn, customer)?;
            if gate.and_then(|g| g.consent_state).as_deref() == Some(ConsentState::Unsubscribed.as_str()) {
                return Ok(Some("unsubscribed"));
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        conn: &mut DbConn,
        run: &RunRow,
        customer: Option<i64>,
        step: usize,
        outcome: FlowOutcome,
        message_id: Option<i64>,
        token: Option<String>,
    ) -> Result<i64, AppError> {
        let channel = matches!(outcome, FlowOutcome::Messaged | FlowOutcome::Listed)
            .then(|| self.definition.channel.as_str().to_string());
        Ok(repo::insert_contact(
            conn,
            NewFlowContact {
                run_id: run.id,
                flow_id: run.flow_id,
                customer_id: customer,
                step: step as i32,
                outcome: outcome.as_str().into(),
                channel,
                message_id,
                token,
                created_at: self.now,
            },
        )?)
    }

    /// The send gate, checked now: lateness, quiet hours, holdout, consent, suppression,
    /// reachability, the frequency cap shared with campaigns. Then the message.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        conn: &mut DbConn,
        run: &RunRow,
        progress: &mut RunProgress,
        step: usize,
        due: NaiveDateTime,
        tolerance: Duration,
        when_capped: WhenCapped,
        message: Message,
    ) -> Result<Sent, AppError> {
        let customer = run.customer_id;
        if self.now - due > tolerance {
            self.record(conn, run, customer, step, FlowOutcome::SkippedLate, None, None)?;
            return Ok(Sent::Done);
        }
        let Some(customer_id) = customer else {
            self.record(conn, run, None, step, FlowOutcome::Unreachable, None, None)?;
            return Ok(Sent::Done);
        };
        let release = after_quiet_hours(self.definition.quiet_hours.as_ref(), self.now, self.config.timezone);
        if release > self.now {
            return Ok(Sent::HoldUntil(release));
        }
        if run.holdout {
            self.record(conn, run, customer, step, FlowOutcome::Holdout, None, None)?;
            return Ok(Sent::Done);
        }
        let channel = self.definition.channel.as_str();
        let Some(gate) = self.gate(conn, customer_id)?.filter(|g| !g.erased) else {
            self.record(conn, run, customer, step, FlowOutcome::Unreachable, None, None)?;
            return Ok(Sent::Done);
        };
        let blocked = if gate.consent_state.as_deref() != Some(ConsentState::Subscribed.as_str()) {
            Some(FlowOutcome::HeldConsent)
        } else if !gate.consent_source.as_deref().is_some_and(own_opt_in)
            && super::privacy::is_address_suppressed(conn, self.keys, gate.email.as_deref(), gate.phone.as_deref())?
        {
            Some(FlowOutcome::Suppressed)
        } else if !gate.reachable {
            Some(FlowOutcome::Unreachable)
        } else {
            None
        };
        if let Some(outcome) = blocked {
            self.record(conn, run, customer, step, outcome, None, None)?;
            return Ok(Sent::Done);
        }
        let (most, per_days) = self.config.campaigns.frequency_cap;
        let window = Duration::days(per_days);
        let recent = repo::contacts_since(conn, customer_id, self.now - window)?;
        if recent.len() as i64 >= most.max(0) {
            self.record(conn, run, customer, step, FlowOutcome::HeldCap, None, None)?;
            return Ok(match when_capped {
                WhenCapped::Skip => Sent::Done,
                // The next free slot: when enough of the window's contacts have aged out.
                WhenCapped::Wait => {
                    let oldest_that_must_age = recent[recent.len() - most.max(1) as usize];
                    Sent::HoldUntil(
                        (oldest_that_must_age + window + Duration::seconds(1)).max(self.now + Duration::minutes(1)),
                    )
                }
            });
        }
        let contact_id = if channel == "email" {
            let token = new_tracking_token();
            let message_id = self.queue_email(conn, run, progress, customer_id, &gate, &token, &message)?;
            self.record(conn, run, customer, step, FlowOutcome::Messaged, Some(message_id), Some(token))?
        } else {
            self.record(conn, run, customer, step, FlowOutcome::Listed, None, None)?
        };
        progress.last_contact_id = Some(contact_id);
        Ok(Sent::Done)
    }

    #[allow(clippy::too_many_arguments)]
    fn queue_email(
        &self,
        conn: &mut DbConn,
        run: &RunRow,
        progress: &RunProgress,
        customer_id: i64,
        gate: &crate::models::flows::GateRow,
        token: &str,
        message: &Message,
    ) -> Result<i64, AppError> {
        let unsubscribe = unsubscribe_token(self.keys, token);
        forms_repo::insert_unsubscribe_tokens(
            conn,
            &[UnsubscribeTokenRow {
                token_hash: crate::domain::token::hash_token(&unsubscribe),
                customer_id,
                channel: self.definition.channel.as_str().into(),
                created_at: self.now,
            }],
        )?;
        let unsubscribe_url = super::forms::unsubscribe_url(self.config, &unsubscribe);
        let known = run.customer_id.and_then(|id| self.contexts.get(&id));
        let mut context = template_context(conn, self.config, run, progress, Some(&unsubscribe_url), known)?;
        let forms = super::form_definitions::existing_forms(conn, &message_forms(message))?;
        if !forms.is_empty() {
            context["form_links"] =
                super::form_definitions::links_for_message(conn, self.config, self.keys, token, customer_id, &forms)?;
        }
        let rendered = render(self.config, self.keys, Some(token), message, &context)?;
        let now = self.now;
        let row = crate::repositories::messages::insert(
            conn,
            crate::models::messages::NewMessage {
                customer_id: Some(customer_id),
                kind: "flow".into(),
                recipient: gate.email.clone().unwrap_or_default(),
                subject: rendered.subject.unwrap_or_default(),
                body: rendered.text,
                status: crate::domain::MessageStatus::Pending.as_str().into(),
                next_attempt_at: now,
                created_at: now,
                campaign_id: None,
                list_unsubscribe: Some(unsubscribe_url),
                html_body: rendered.html,
            },
        )?;
        Ok(row.id)
    }

    fn promo_row(
        &self,
        code: String,
        discount_type: &str,
        discount_value: i64,
        currency: Option<String>,
        expires: NaiveDateTime,
    ) -> NewPromoCode {
        NewPromoCode {
            code,
            columns: PromoCodeColumns {
                description: Some(format!("flow {}: {}", self.flow.id, self.flow.name)),
                discount_type: discount_type.to_string(),
                discount_value,
                currency,
                valid_from: None,
                valid_until: Some(expires),
                max_redemptions: Some(1),
                max_redemptions_per_customer: Some(1),
                min_subtotal: None,
                campaign_id: None,
                active: true,
                updated_at: self.now,
                // The flow's cost covers its codes.
                cost_currency: None,
                cost_fixed_minor: None,
                cost_per_redemption_minor: None,
            },
            created_at: self.now,
        }
    }

    fn holds(
        &self,
        conn: &mut DbConn,
        run: &RunRow,
        progress: &RunProgress,
        condition: &BranchCondition,
    ) -> Result<bool, AppError> {
        let Some(customer) = run.customer_id else { return Ok(false) };
        let last_contact = |conn: &mut DbConn| -> Result<Option<FlowContactRow>, AppError> {
            Ok(match progress.last_contact_id {
                Some(id) => repo::find_contact(conn, id)?,
                None => None,
            })
        };
        if let Some(wanted) = condition.ordered_since_entry {
            return Ok(repo::ordered_since(conn, customer, run.entered_at)? == wanted);
        }
        if let Some(wanted) = condition.opened_last_message {
            return Ok(last_contact(conn)?.is_some_and(|c| c.opened_at.is_some()) == wanted);
        }
        if let Some(wanted) = condition.clicked_last_message {
            return Ok(last_contact(conn)?.is_some_and(|c| c.clicked_at.is_some()) == wanted);
        }
        if let Some(rules) = &condition.rules {
            return Ok(!segment_repo::members_among(conn, &parse_rules(rules)?, &[customer], self.now)?.is_empty());
        }
        Ok(false)
    }

    /// Adds or removes a tag; true when the tags changed (and `customer.updated` was recorded).
    fn retag(&self, conn: &mut DbConn, customer: i64, tag: &str, adding: bool) -> Result<bool, AppError> {
        let tag = Tag::parse(tag).map_err(|e| AppError::internal(format!("a stored tag is invalid: {e}")))?;
        let Some(before) = customer_repo::tags_for_update(conn, customer)? else { return Ok(false) };
        let has = before.iter().any(|t| t == tag.as_str());
        if has == adding {
            return Ok(false);
        }
        let after: Vec<String> = if adding {
            customer_repo::add_tags(conn, customer, &[tag.clone()].into_iter().collect(), self.now)?;
            let mut after = before.clone();
            after.push(tag.as_str().to_string());
            after.sort();
            after
        } else {
            customer_repo::remove_tag(conn, customer, &tag, self.now)?;
            before.iter().filter(|t| t.as_str() != tag.as_str()).cloned().collect()
        };
        super::customers::tags_updated(conn, customer, before, after)?;
        Ok(true)
    }

    fn notify_shop(
        &self,
        conn: &mut DbConn,
        run: &RunRow,
        progress: &RunProgress,
        subject: &str,
        text: &str,
    ) -> Result<(), AppError> {
        let known = run.customer_id.and_then(|id| self.contexts.get(&id));
        let context = template_context(conn, self.config, run, progress, None, known)?;
        let message = Message { subject: Some(subject), text, html: None };
        let rendered = render(self.config, self.keys, None, &message, &context)?;
        // The message is about the run's customer: erasing them anonymises it too.
        super::messages::enqueue(
            conn,
            run.customer_id,
            "flow_notification",
            &self.config.mail.shop_email.to_string(),
            rendered.subject.as_deref().unwrap_or_default(),
            &rendered.text,
        )?;
        Ok(())
    }
}

/// The forms a message's templates link to (`form_links`).
fn message_forms(message: &Message) -> std::collections::BTreeSet<String> {
    let sources: Vec<&str> = [message.subject, Some(message.text), message.html].into_iter().flatten().collect();
    super::form_definitions::referenced_forms(&sources)
}

/// A message's templates.
struct Message<'a> {
    subject: Option<&'a str>,
    text: &'a str,
    html: Option<&'a str>,
}

/// Renders a message; with a tracking token, the links in it become tracked links.
fn render(
    config: &Config,
    keys: &DataKeys,
    token: Option<&str>,
    message: &Message,
    context: &Value,
) -> Result<Preview, AppError> {
    let base = &config.mail.public_url;
    let tracked = |template: &str| match token {
        Some(token) => rewrite_links(template, |url| {
            format!("{base}/v1/t/c/{token}?url={}&sig={}", encode(url), link_signature(keys, token, url))
        }),
        None => template.to_string(),
    };
    let fail = |e: String| AppError::internal(format!("the template fails for this customer: {e}"));
    let subject =
        message.subject.map(|s| templates::render(s, context, false).map(|s| s.trim().to_string())).transpose();
    Ok(Preview {
        recipient: None,
        subject: subject.map_err(fail)?,
        text: templates::render(&tracked(message.text), context, false).map_err(fail)?,
        html: message.html.map(|h| templates::render(&tracked(h), context, true)).transpose().map_err(fail)?,
    })
}

/// What a template sees for this run: the customer (their record, last order,
/// recommendations, predictions), the run's promo code, the unsubscribe link, the shop, the
/// enquiry.
/// `customer_context` is the customer's part when the caller built it already (for a batch).
fn template_context(
    conn: &mut DbConn,
    config: &Config,
    run: &RunRow,
    progress: &RunProgress,
    unsubscribe_url: Option<&str>,
    customer_context: Option<&Value>,
) -> Result<Value, AppError> {
    let mut context = match (run.customer_id, customer_context) {
        (Some(_), Some(known)) => Some(known.clone()),
        (Some(id), None) => super::template_data::for_customers(conn, config, &[id])?.remove(&id),
        (None, _) => None,
    }
    .unwrap_or_else(|| super::template_data::shop(config));
    context["promo_code"] = json!(progress.promo_code);
    context["promo_expires_at"] =
        json!(progress.promo_expires_at.map(|at| super::template_data::local_date(config, at)));
    context["unsubscribe_url"] = json!(unsubscribe_url);
    if let Some(enquiry_id) = run.enquiry_id {
        if let Some(enquiry) = forms_repo::find_enquiries(conn, &[enquiry_id])?.pop() {
            let date = |at| super::template_data::local_date(config, at);
            context["enquiry"] = json!({
                "id": enquiry.id, "kind": enquiry.kind, "status": enquiry.status, "email": enquiry.email,
                "subject": enquiry.subject, "created_at": date(enquiry.created_at), "updated_at": date(enquiry.updated_at),
            });
        }
    }
    Ok(context)
}

// ---------------------------------------------------------------------------------------
// Reading

/// A message of the flow rendered for one customer, nothing sent: step `step` must be a
/// `send` or `notify_shop` step. A run of the customer in the flow lends its promo code.
pub fn preview(
    conn: &mut DbConn,
    config: &Config,
    keys: &DataKeys,
    id: i64,
    customer_id: i64,
    step: usize,
) -> Result<Preview, AppError> {
    let flow = get(conn, id)?;
    let customer = customer_repo::find(conn, customer_id)?
        .ok_or_else(|| AppError::invalid("customer_id", format!("customer {customer_id} does not exist")))?;
    let message = match flow.definition.steps.get(step) {
        Some(Step::Send { subject, text, html, .. }) => {
            Message { subject: subject.as_deref(), text, html: html.as_deref() }
        }
        Some(Step::NotifyShop { subject, text }) => Message { subject: Some(subject), text, html: None },
        Some(_) => return Err(AppError::invalid("step", format!("step {step} sends no message"))),
        None => return Err(AppError::invalid("step", format!("the flow has {} steps", flow.definition.steps.len()))),
    };
    let existing = repo::runs_of(conn, customer_id)?.into_iter().rev().find(|r| r.flow_id == id);
    let now = now();
    let run = existing.unwrap_or(RunRow {
        id: 0,
        flow_id: id,
        version: flow.row.version,
        customer_id: Some(customer_id),
        enquiry_id: None,
        holdout: false,
        state: RunState::Active.as_str().into(),
        exit_reason: None,
        step: step as i32,
        next_at: now,
        promo_code: Some("PREVIEW-CODE".into()),
        promo_expires_at: Some(now + Duration::days(14)),
        last_contact_id: None,
        entered_at: now,
        conversion_until: now,
        finished_at: None,
    });
    let progress = RunProgress {
        state: run.state.clone(),
        exit_reason: None,
        step: run.step,
        next_at: run.next_at,
        promo_code: run.promo_code.clone().or(Some("PREVIEW-CODE".into())),
        promo_expires_at: run.promo_expires_at.or(Some(now + Duration::days(14))),
        last_contact_id: None,
        finished_at: None,
    };
    let unsubscribe_url = format!("{}/v1/public/unsubscribe?token=preview", config.mail.public_url);
    let mut context = template_context(conn, config, &run, &progress, Some(&unsubscribe_url), None)?;
    context["form_links"] = super::form_definitions::preview_links(config, &message_forms(&message));
    let mut preview =
        render(config, keys, None, &message, &context).map_err(|e| AppError::invalid("step", e.to_string()))?;
    preview.recipient = match &flow.definition.steps[step] {
        Step::NotifyShop { .. } => Some(config.mail.shop_email.to_string()),
        _ => match flow.definition.channel.as_str() {
            "email" => customer.row.email.clone(),
            "sms" | "phone" => customer.row.phone.clone(),
            _ => None,
        },
    };
    Ok(preview)
}

/// The flow's report: runs by state and exit reason, each step's outcomes with opens and
/// clicks, conversions and revenue of the messaged group against the holdout, and the lift
/// with its 95 % confidence interval.
pub fn report(conn: &mut DbConn, id: i64) -> Result<FlowReport, AppError> {
    let flow = get(conn, id)?;
    let mut report = FlowReport {
        entered: 0,
        active: 0,
        completed: 0,
        exited: BTreeMap::new(),
        treated: GroupFigures::default(),
        holdout: GroupFigures::default(),
        lift: None,
        revenue: repo::revenue(conn, id)?,
        steps: Vec::new(),
    };
    for count in repo::run_counts(conn, id)? {
        report.entered += count.runs;
        match RunState::parse(&count.state) {
            Some(RunState::Active) => report.active += count.runs,
            Some(RunState::Completed) => report.completed += count.runs,
            _ => *report.exited.entry(count.exit_reason.unwrap_or_default()).or_default() += count.runs,
        }
        let group = if count.holdout { &mut report.holdout } else { &mut report.treated };
        group.runs += count.runs;
        group.converted += count.converted;
    }
    report.lift = lift(report.treated.runs, report.treated.converted, report.holdout.runs, report.holdout.converted);
    let mut steps: BTreeMap<usize, StepFigures> = BTreeMap::new();
    for count in repo::step_counts(conn, id)? {
        let index = count.step.max(0) as usize;
        let figures = steps.entry(index).or_insert_with(|| StepFigures::empty(index));
        figures.outcomes.insert(count.outcome, count.contacts);
        figures.opened += count.opened;
        figures.clicked += count.clicked;
    }
    for conversion in repo::step_conversions(conn, id)? {
        let figures = steps
            .entry(conversion.step.max(0) as usize)
            .or_insert_with(|| StepFigures::empty(conversion.step.max(0) as usize));
        let group = if conversion.holdout { &mut figures.holdout } else { &mut figures.messaged };
        *group = GroupFigures { runs: conversion.runs, converted: conversion.converted };
    }
    for revenue in repo::step_revenue(conn, id)? {
        let figures = steps
            .entry(revenue.step.max(0) as usize)
            .or_insert_with(|| StepFigures::empty(revenue.step.max(0) as usize));
        figures.revenue.insert(revenue.currency, revenue.revenue);
    }
    for figures in steps.values_mut() {
        figures.lift =
            lift(figures.messaged.runs, figures.messaged.converted, figures.holdout.runs, figures.holdout.converted);
    }
    // Every step of the current version, with the figures recorded under its index.
    report.steps = flow
        .definition
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let mut figures = steps.remove(&index).unwrap_or_else(|| StepFigures::empty(index));
            figures.step_type = step_type(step).into();
            figures
        })
        .collect();
    Ok(report)
}

pub fn step_type(step: &Step) -> &'static str {
    match step {
        Step::Wait { .. } => "wait",
        Step::Send { .. } => "send",
        Step::Offer { .. } => "offer",
        Step::Branch { .. } => "branch",
        Step::Tag { .. } => "tag",
        Step::Untag { .. } => "untag",
        Step::NotifyShop { .. } => "notify_shop",
        Step::Exit {} => "exit",
    }
}

/// A page of the flow's contacts (its delivery lists for sms, post and phone steps).
pub fn contacts(
    conn: &mut DbConn,
    id: i64,
    step: Option<i32>,
    outcome: Option<FlowOutcome>,
    before_id: Option<i64>,
    limit: i64,
) -> Result<(Vec<FlowContactRow>, HashMap<i64, CustomerRecord>), AppError> {
    get(conn, id)?;
    let rows = repo::contacts_page(conn, id, step, outcome, before_id, limit)?;
    let ids: Vec<i64> = rows.iter().filter_map(|r| r.customer_id).collect();
    Ok((rows, customer_repo::find_many(conn, &ids)?))
}

/// An open or click of a flow message, by its tracking token, in the caller's
/// transaction (tracking links are shared with campaigns); false when unknown.
pub fn track_in_transaction(conn: &mut DbConn, token: &str, clicked: bool) -> Result<bool, AppError> {
    let Some(contact) = repo::contact_by_token(conn, token)? else { return Ok(false) };
    repo::mark_response(conn, contact.id, clicked, now())?;
    Ok(true)
}

/// Erasure, in its transaction: the person's runs and contacts go.
pub fn forget_customer(conn: &mut DbConn, customer_id: i64) -> Result<(), AppError> {
    Ok(repo::delete_customer(conn, customer_id)?)
}

/// A merge, in its transaction: runs move to the survivor, never duplicated.
pub fn move_customer(conn: &mut DbConn, from: i64, into: i64) -> Result<(), AppError> {
    Ok(repo::move_customer(conn, from, into, now())?)
}

/// The person's runs and flow contacts (GDPR export).
pub fn personal_data(conn: &mut DbConn, customer_id: i64) -> Result<(Vec<RunRow>, Vec<FlowContactRow>), AppError> {
    Ok((repo::runs_of(conn, customer_id)?, repo::contacts_of(conn, customer_id)?))
}
