//! The event log (transactional outbox): what changed, appended in the transaction of the
//! change, then put in commit order by the sequencer, which also fans each event out to the
//! webhook endpoints subscribed to it. The feed (`GET /v1/events`) and the webhook
//! deliveries read from this log, never from the request path.

use chrono::{Duration, NaiveDateTime};
use serde_json::Value;

use crate::db::{Database, DbConn};
use crate::domain::events::{EventType, Subscription, API_VERSION};
use crate::domain::DeliveryStatus;
use crate::error::AppError;
use crate::models::events::{EndpointRow, EventRow, NewDelivery, NewEvent};
use crate::repositories::events as repo;

/// Events sequenced per transaction.
const SEQUENCE_BATCH: i64 = 1_000;
/// Events removed per transaction by the retention job.
const RETENTION_BATCH: i64 = 5_000;

/// Appends an event in the caller's transaction: one insert, no reads. `customer_id` is
/// the customer it is about, if any (erasure scrubs it; webhooks keep their order).
pub fn record(conn: &mut DbConn, event_type: EventType, customer_id: Option<i64>, data: Value) -> Result<(), AppError> {
    record_at(conn, event_type, customer_id, None, data, super::now())
}

/// Appends many events in the caller's transaction, in a few multi-row inserts (a batch of
/// an import): each is `(type, customer it is about, data)`.
pub fn record_many(conn: &mut DbConn, changes: Vec<(EventType, Option<i64>, Value)>) -> Result<(), AppError> {
    let now = super::now();
    let rows: Vec<NewEvent> = changes
        .into_iter()
        .map(|(event_type, customer_id, data)| new_event(event_type, customer_id, None, data, now))
        .collect();
    Ok(repo::insert_many(conn, &rows)?)
}

/// Appends an event addressed to one endpoint only (not in the feed); returns its id.
pub fn record_for_endpoint(
    conn: &mut DbConn,
    event_type: EventType,
    endpoint_id: i64,
    data: Value,
    now: NaiveDateTime,
) -> Result<i64, AppError> {
    let event = new_event(event_type, None, Some(endpoint_id), data, now);
    Ok(repo::insert_returning_id(conn, &event)?)
}

fn record_at(
    conn: &mut DbConn,
    event_type: EventType,
    customer_id: Option<i64>,
    endpoint_id: Option<i64>,
    data: Value,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    Ok(repo::insert(conn, &new_event(event_type, customer_id, endpoint_id, data, now))?)
}

fn new_event(
    event_type: EventType,
    customer_id: Option<i64>,
    endpoint_id: Option<i64>,
    data: Value,
    now: NaiveDateTime,
) -> NewEvent {
    NewEvent {
        event_type: event_type.as_str().to_string(),
        customer_id,
        endpoint_id,
        api_version: API_VERSION.to_string(),
        data: data.to_string(),
        created_at: now,
    }
}

/// In the caller's write transaction: one batch of committed events gets its positions
/// and deliveries (what the delivery worker does before it claims). Returns how many.
pub fn sequence_in_transaction(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    let events = repo::sequence(conn, SEQUENCE_BATCH)?;
    if !events.is_empty() {
        fan_out(conn, &events, now)?;
    }
    Ok(events.len())
}

/// Whether some committed event waits for its position (a read: no write lock).
pub fn any_unsequenced(conn: &mut DbConn) -> Result<bool, AppError> {
    Ok(repo::any_unsequenced(conn)?)
}

/// Sequences every committed event, one transaction per batch. Returns how many.
pub fn sequence(database: &Database, now: NaiveDateTime) -> Result<usize, AppError> {
    database.with_conn(|conn| sequence_on(conn, now))
}

pub fn sequence_on(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    sequence_batches(conn, now, usize::MAX)
}

/// At most one batch: what a request does, so that a backlog (after a large import) is the
/// worker's to sequence, not a request's.
pub fn sequence_one_batch(conn: &mut DbConn, now: NaiveDateTime) -> Result<usize, AppError> {
    sequence_batches(conn, now, 1)
}

fn sequence_batches(conn: &mut DbConn, now: NaiveDateTime, most: usize) -> Result<usize, AppError> {
    let mut total = 0;
    // A cheap read first: most rounds find nothing and then take no write lock.
    for _ in 0..most {
        if !repo::any_unsequenced(conn)? {
            break;
        }
        let sequenced = conn.write_transaction(|conn| sequence_in_transaction(conn, now))?;
        if sequenced == 0 {
            break;
        }
        total += sequenced;
    }
    Ok(total)
}

/// One delivery per event and enabled endpoint subscribed to its type.
fn fan_out(conn: &mut DbConn, events: &[EventRow], now: NaiveDateTime) -> Result<(), AppError> {
    let endpoints: Vec<(EndpointRow, Subscription)> = repo::enabled_endpoints(conn)?
        .into_iter()
        .map(|endpoint| {
            let subscription = subscription_of(&endpoint);
            (endpoint, subscription)
        })
        .collect();
    let mut deliveries = Vec::new();
    for event in events {
        let position = event.position.expect("sequenced events have a position");
        for (endpoint, subscription) in &endpoints {
            let addressed = match event.endpoint_id {
                Some(only) => only == endpoint.id,
                None => subscription.matches(&event.event_type),
            };
            if addressed {
                deliveries.push(NewDelivery {
                    endpoint_id: endpoint.id,
                    event_id: event.id,
                    event_position: position,
                    customer_id: event.customer_id,
                    status: DeliveryStatus::Pending.as_str().into(),
                    next_attempt_at: now,
                    created_at: now,
                });
            }
        }
    }
    Ok(repo::insert_deliveries(conn, &deliveries)?)
}

/// The endpoint's stored subscription (written by this code, so always readable).
pub fn subscription_of(endpoint: &EndpointRow) -> Subscription {
    let names: Vec<String> = serde_json::from_str(&endpoint.event_types).unwrap_or_default();
    Subscription::parse(&names).unwrap_or(Subscription::Only(Vec::new()))
}

/// A page of the feed, after sequencing what has been committed so far (so that a caller
/// sees its own changes at once).
pub fn feed(conn: &mut DbConn, types: &[EventType], after: Option<i64>, limit: i64) -> Result<Vec<EventRow>, AppError> {
    sequence_one_batch(conn, super::now())?;
    let names: Vec<String> = types.iter().map(|t| t.as_str().to_string()).collect();
    Ok(repo::feed(conn, &names, after, limit)?)
}

/// Removes the events (and their deliveries) older than `keep`; returns how many went.
pub fn remove_expired(conn: &mut DbConn, keep: Duration, now: NaiveDateTime) -> Result<usize, AppError> {
    let mut removed = 0;
    loop {
        let batch = conn.write_transaction(|conn| repo::delete_older_than(conn, now - keep, RETENTION_BATCH))?;
        removed += batch;
        if batch < RETENTION_BATCH as usize {
            return Ok(removed);
        }
    }
}

/// Erasure, in its transaction: every event about the customer keeps its type and time,
/// and its data becomes only the customer's id (pending deliveries send that too).
pub fn scrub_customer(conn: &mut DbConn, customer_id: i64) -> Result<(), AppError> {
    let data = serde_json::json!({ "customer_id": customer_id, "erased": true }).to_string();
    repo::replace_data_of_customer(conn, customer_id, &data)?;
    Ok(())
}

/// A merge, in its transaction: the merged customer's events become the survivor's, so
/// that erasing the survivor scrubs them and their deliveries keep one order.
pub fn move_customer(conn: &mut DbConn, from: i64, into: i64) -> Result<(), AppError> {
    Ok(repo::move_customer(conn, from, into)?)
}

/// The retention job: once an hour across every instance, events older than `keep` go.
pub fn spawn_retention(database: Database, keep: Duration) {
    std::thread::Builder::new()
        .name("event-retention".into())
        .spawn(move || loop {
            let every = std::time::Duration::from_secs(3_600);
            let outcome = super::leases::once_per_period(&database, "event-retention", every, |conn| {
                let removed = remove_expired(conn, keep, super::now())?;
                if removed > 0 {
                    tracing::info!(removed, "expired events removed");
                }
                Ok(())
            });
            if let Err(error) = outcome {
                tracing::warn!(%error, "event retention round failed");
            }
            std::thread::sleep(std::time::Duration::from_secs(60));
        })
        .expect("start the event retention thread");
}
