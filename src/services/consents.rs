use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::now;
use crate::db::DbConn;
use crate::domain::consent::{current_events, ConsentChange};
use crate::error::AppError;
use crate::keys::DataKeys;
use crate::models::consents::{ConsentEventRow, CurrentConsentRow, NewConsentEvent};
use crate::repositories::{consents as repo, customers as customer_repo};

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("customer {id} does not exist"))
}

/// The event row for a change made by `actor`, recorded now.
pub fn new_event(customer_id: i64, change: ConsentChange, actor: &str, recorded_at: NaiveDateTime) -> NewConsentEvent {
    NewConsentEvent {
        customer_id,
        channel: change.channel.as_str().to_string(),
        state: change.state.as_str().to_string(),
        opt_in_level: change.opt_in_level().as_str().to_string(),
        source: change.source.as_str().to_string(),
        method_detail: change.method_detail,
        consent_text: change.consent_text,
        consent_text_version: change.consent_text_version,
        ip: change.ip.map(|ip| ip.to_string()),
        user_agent: change.user_agent,
        occurred_at: change.occurred_at,
        recorded_at,
        actor: actor.to_string(),
    }
}

/// Appends a change to the ledger inside the caller's transaction and brings the
/// current state up to date. The caller holds the customer row lock. Every consent change
/// passes here (or, for new customers of an import, through `imports`' bulk path): when
/// the change moves the channel's current state, `consent.changed` is recorded.
pub fn append(conn: &mut DbConn, customer_id: i64, change: ConsentChange, actor: &str) -> Result<(), AppError> {
    let event = repo::insert_event(conn, new_event(customer_id, change, actor, now()))?;
    let events = repo::events_of_many(conn, &[customer_id])?;
    // The channel's current event before this one and with it, from the same ledger read.
    let current_of = |with_new: bool| {
        let channel: Vec<&ConsentEventRow> =
            events.iter().filter(|e| e.channel == event.channel && (with_new || e.id != event.id)).collect();
        current_events(channel, |_| (), |e| (e.occurred_at, e.id)).pop().map(|e| (e.id, e.state.clone()))
    };
    let before = current_of(false).map(|(_, state)| state);
    let became_current = current_of(true).is_some_and(|(id, _)| id == event.id);
    replace_current(conn, &[customer_id], events)?;
    if became_current && before.as_deref() != Some(event.state.as_str()) {
        super::emit::consent_changed(conn, &event, before.as_deref())?;
    }
    Ok(())
}

/// `PUT /v1/customers/{id}/consents/{channel}`: records the change and returns the
/// customer's current consents (the change may be older than the current state).
pub fn record(
    conn: &mut DbConn,
    keys: &DataKeys,
    customer_id: i64,
    change: ConsentChange,
    actor: &str,
) -> Result<Vec<CurrentConsentRow>, AppError> {
    conn.write_transaction(|conn| {
        let change = change.clone();
        let customer = customer_repo::find_for_update(conn, customer_id)?.ok_or_else(|| not_found(customer_id))?;
        super::privacy::check_consent_allowed(conn, keys, &customer, change.source, change.state)?;
        append(conn, customer_id, change, actor)?;
        current(conn, customer_id)
    })
}

pub fn current(conn: &mut DbConn, customer_id: i64) -> Result<Vec<CurrentConsentRow>, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(not_found(customer_id));
    }
    Ok(repo::current_for(conn, &[customer_id])?.remove(&customer_id).unwrap_or_default())
}

pub fn history(
    conn: &mut DbConn,
    customer_id: i64,
    before: Option<(NaiveDateTime, i64)>,
    limit: i64,
) -> Result<Vec<ConsentEventRow>, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(not_found(customer_id));
    }
    Ok(repo::history(conn, customer_id, before, limit)?)
}

/// Rebuilds these customers' current state per channel from their ledgers: for each
/// channel the event that `domain::consent::is_newer` makes current. One read, one
/// delete, one insert.
pub fn refresh_current(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<()> {
    if customer_ids.is_empty() {
        return Ok(());
    }
    let events = repo::events_of_many(conn, customer_ids)?;
    replace_current(conn, customer_ids, events)
}

/// Replaces these customers' current state with the one `events` (their whole ledgers)
/// make current.
fn replace_current(conn: &mut DbConn, customer_ids: &[i64], events: Vec<ConsentEventRow>) -> QueryResult<()> {
    let current: Vec<CurrentConsentRow> =
        current_events(events, |e| (e.customer_id, e.channel.clone()), |e| (e.occurred_at, e.id))
            .into_iter()
            .map(CurrentConsentRow::from)
            .collect();
    repo::replace_current(conn, customer_ids, &current)
}
