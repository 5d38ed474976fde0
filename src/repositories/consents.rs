use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{consent_events, customer_consents};
use crate::db::DbConn;
use crate::db_run;
use crate::models::consents::{ConsentEventRow, CurrentConsentRow, NewConsentEvent};

pub fn insert_event(conn: &mut DbConn, event: NewConsentEvent) -> QueryResult<ConsentEventRow> {
    diesel::insert_into(consent_events::table).values(event).returning(consent_events::all_columns).get_result(conn)
}

/// Appends many events in one statement (new customers of an import batch) and returns
/// them as stored.
pub fn insert_events_bulk(conn: &mut DbConn, events: &[NewConsentEvent]) -> QueryResult<Vec<ConsentEventRow>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    db_run!(conn => {
        diesel::insert_into(consent_events::table)
            .values(events)
            .returning(consent_events::all_columns)
            .get_results(conn)
    })
}

/// Every consent event of these customers (their whole ledgers).
pub fn events_of_many(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<ConsentEventRow>> {
    consent_events::table
        .filter(consent_events::customer_id.eq_any(customer_ids))
        .select(ConsentEventRow::as_select())
        .load(conn)
}

/// Replaces these customers' current consent rows with `rows`.
pub fn replace_current(conn: &mut DbConn, customer_ids: &[i64], rows: &[CurrentConsentRow]) -> QueryResult<()> {
    diesel::delete(customer_consents::table.filter(customer_consents::customer_id.eq_any(customer_ids)))
        .execute(conn)?;
    if !rows.is_empty() {
        db_run!(conn => {
            diesel::insert_into(customer_consents::table).values(rows).execute(conn)?;
        });
    }
    Ok(())
}

/// Current consents of many customers, in one query.
pub fn current_for(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<CurrentConsentRow>>> {
    let rows: Vec<CurrentConsentRow> = customer_consents::table
        .filter(customer_consents::customer_id.eq_any(customer_ids))
        .select(CurrentConsentRow::as_select())
        .load(conn)?;
    let mut by_customer: HashMap<i64, Vec<CurrentConsentRow>> = HashMap::new();
    for row in rows {
        by_customer.entry(row.customer_id).or_default().push(row);
    }
    Ok(by_customer)
}

/// The ledger of one customer, newest first (by occurrence, then record), after a cursor.
pub fn history(
    conn: &mut DbConn,
    customer_id: i64,
    before: Option<(NaiveDateTime, i64)>,
    limit: i64,
) -> QueryResult<Vec<ConsentEventRow>> {
    let mut query = consent_events::table
        .filter(consent_events::customer_id.eq(customer_id))
        .select(ConsentEventRow::as_select())
        .into_boxed();
    if let Some((occurred_at, id)) = before {
        query = query.filter(
            consent_events::occurred_at
                .lt(occurred_at)
                .or(consent_events::occurred_at.eq(occurred_at).and(consent_events::id.lt(id))),
        );
    }
    query.order((consent_events::occurred_at.desc(), consent_events::id.desc())).limit(limit).load(conn)
}

/// Moves a merged duplicate's ledger to the survivor (the caller refreshes the state).
pub fn move_events(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(consent_events::table.filter(consent_events::customer_id.eq(from)))
        .set(consent_events::customer_id.eq(to))
        .execute(conn)?;
    diesel::delete(customer_consents::table.filter(customer_consents::customer_id.eq(from))).execute(conn)?;
    Ok(())
}

/// Whether the ledger already holds this imported change (same channel, state and time).
/// What identifies a ledger event for an import: customer, channel, state, source and
/// occurred_at (what `has_import_event` compares).
pub type EventKey = (i64, String, String, String, NaiveDateTime);

/// The keys of the ledger events of some customers, read once for a batch.
pub fn event_keys_of(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<EventKey>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    consent_events::table
        .filter(consent_events::customer_id.eq_any(customer_ids))
        .select((
            consent_events::customer_id,
            consent_events::channel,
            consent_events::state,
            consent_events::source,
            consent_events::occurred_at,
        ))
        .load(conn)
}

pub fn has_import_event(
    conn: &mut DbConn,
    customer_id: i64,
    change: &crate::domain::consent::ConsentChange,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        consent_events::table
            .filter(consent_events::customer_id.eq(customer_id))
            .filter(consent_events::channel.eq(change.channel.as_str()))
            .filter(consent_events::state.eq(change.state.as_str()))
            .filter(consent_events::source.eq(change.source.as_str()))
            .filter(consent_events::occurred_at.eq(change.occurred_at)),
    ))
    .get_result(conn)
}
