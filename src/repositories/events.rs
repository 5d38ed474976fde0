//! The event log and the webhook tables: endpoints and their deliveries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::sql::{insert_in_chunks, Sql, SqlValue};
use crate::db::schema::{event_sequence, events, webhook_deliveries, webhook_endpoints};
use crate::db::DbConn;
use crate::domain::{DeliveryStatus, EndpointStatus};
use crate::models::events::{
    AttemptOutcome, DeliveryRow, EndpointChanges, EndpointRow, EventRow, NewDelivery, NewEndpoint, NewEvent,
};

pub fn insert(conn: &mut DbConn, event: &NewEvent) -> QueryResult<()> {
    diesel::insert_into(events::table).values(event).execute(conn).map(drop)
}

pub fn insert_many(conn: &mut DbConn, rows: &[NewEvent]) -> QueryResult<()> {
    insert_in_chunks!(conn, events::table, rows)
}

pub fn insert_returning_id(conn: &mut DbConn, event: &NewEvent) -> QueryResult<i64> {
    diesel::insert_into(events::table).values(event).returning(events::id).get_result(conn)
}

pub fn events_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<EventRow>> {
    events::table.filter(events::id.eq_any(ids)).select(EventRow::as_select()).load(conn)
}

/// Whether some committed event still waits for its position.
pub fn any_unsequenced(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(events::table.filter(events::position.is_null()))).get_result(conn)
}

/// Gives the next positions, in insert order, to up to `limit` committed events that have
/// none, and returns them. Run inside a write transaction: sequencers take turns on the
/// `event_sequence` row (locked first), so positions are committed in increasing order and
/// a reader paging by position never skips one.
pub fn sequence(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<EventRow>> {
    let mut lock = Sql::new(conn.backend());
    lock.push("SELECT last_position FROM event_sequence WHERE id = 1");
    if lock.is_postgres() {
        lock.push(" FOR UPDATE");
    }
    let base = lock.query().get_result::<LastPosition>(conn)?.last_position;
    let mut sql = Sql::new(conn.backend());
    sql.push("UPDATE events SET position = numbered.rn + ").bind(SqlValue::Int(base));
    sql.push(
        " FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM events WHERE position IS NULL \
         ORDER BY id LIMIT ",
    )
    .bind(SqlValue::Int(limit))
    .push(") AS numbered WHERE events.id = numbered.id");
    let numbered = sql.query().execute(conn)?;
    if numbered == 0 {
        return Ok(Vec::new());
    }
    diesel::update(event_sequence::table)
        .set(event_sequence::last_position.eq(base + numbered as i64))
        .execute(conn)?;
    events::table.filter(events::position.gt(base)).order(events::position).select(EventRow::as_select()).load(conn)
}

#[derive(QueryableByName)]
struct LastPosition {
    #[diesel(sql_type = BigInt)]
    last_position: i64,
}

/// The feed: sequenced events after `after` (a position), in position order, not those
/// addressed to one endpoint.
pub fn feed(conn: &mut DbConn, types: &[String], after: Option<i64>, limit: i64) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::position.is_not_null())
        .filter(events::endpoint_id.is_null())
        .select(EventRow::as_select())
        .into_boxed();
    if !types.is_empty() {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    if let Some(after) = after {
        query = query.filter(events::position.gt(after));
    }
    query.order(events::position).limit(limit).load(conn)
}

/// Events recorded before `before`, up to `limit` of them, with their deliveries; returns
/// how many went. An event still pending for an enabled endpoint stays until it is
/// delivered or its retries run out.
pub fn delete_older_than(conn: &mut DbConn, before: NaiveDateTime, limit: i64) -> QueryResult<usize> {
    let still_owed = webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()))
        .select(webhook_deliveries::event_id);
    let doomed = events::table
        .filter(events::created_at.lt(before))
        .filter(events::id.ne_all(still_owed))
        .select(events::id)
        .order(events::id)
        .limit(limit);
    let ids: Vec<i64> = doomed.load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::event_id.eq_any(&ids))).execute(conn)?;
    diesel::delete(events::table.filter(events::id.eq_any(&ids))).execute(conn)
}

/// Replaces the data of every event about `customer_id`, and forgets what receivers
/// answered to their deliveries (an answer may echo the data back): erasure.
pub fn replace_data_of_customer(conn: &mut DbConn, customer_id: i64, data: &str) -> QueryResult<usize> {
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::customer_id.eq(customer_id)))
        .set(webhook_deliveries::last_error.eq(None::<String>))
        .execute(conn)?;
    diesel::update(events::table.filter(events::customer_id.eq(customer_id))).set(events::data.eq(data)).execute(conn)
}

/// The events (and pending deliveries) of `from` become `into`'s (a merge).
pub fn move_customer(conn: &mut DbConn, from: i64, into: i64) -> QueryResult<()> {
    diesel::update(events::table.filter(events::customer_id.eq(from)))
        .set(events::customer_id.eq(into))
        .execute(conn)?;
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::customer_id.eq(from)))
        .set(webhook_deliveries::customer_id.eq(into))
        .execute(conn)
        .map(drop)
}

pub fn insert_endpoint(conn: &mut DbConn, endpoint: &NewEndpoint) -> QueryResult<EndpointRow> {
    diesel::insert_into(webhook_endpoints::table)
        .values(endpoint)
        .returning(webhook_endpoints::all_columns)
        .get_result(conn)
}

pub fn find_endpoint(conn: &mut DbConn, id: i64) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table.find(id).select(EndpointRow::as_select()).first(conn).optional()
}

/// Newest first, keyset on id.
pub fn list_endpoints(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<EndpointRow>> {
    let mut query = webhook_endpoints::table.select(EndpointRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(webhook_endpoints::id.lt(before_id));
    }
    query.order(webhook_endpoints::id.desc()).limit(limit).load(conn)
}

pub fn enabled_endpoints(conn: &mut DbConn) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str()))
        .order(webhook_endpoints::id)
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn endpoints_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table.filter(webhook_endpoints::id.eq_any(ids)).select(EndpointRow::as_select()).load(conn)
}

pub fn update_endpoint(conn: &mut DbConn, id: i64, changes: &EndpointChanges) -> QueryResult<Option<EndpointRow>> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(changes)
        .returning(webhook_endpoints::all_columns)
        .get_result(conn)
        .optional()
}

pub fn set_secrets(
    conn: &mut DbConn,
    id: i64,
    secret: &str,
    previous: Option<(&str, NaiveDateTime)>,
    now: NaiveDateTime,
) -> QueryResult<Option<EndpointRow>> {
    diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::previous_secret.eq(previous.map(|p| p.0)),
            webhook_endpoints::previous_secret_until.eq(previous.map(|p| p.1)),
            webhook_endpoints::updated_at.eq(now),
        ))
        .returning(webhook_endpoints::all_columns)
        .get_result(conn)
        .optional()
}

pub fn delete_endpoint(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))).execute(conn)?;
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
}

pub fn insert_deliveries(conn: &mut DbConn, rows: &[NewDelivery]) -> QueryResult<()> {
    insert_in_chunks!(conn, webhook_deliveries::table, rows)
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Whether some delivery is due at `now` (a read: an idle worker takes no write lock).
pub fn any_due(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .filter(webhook_deliveries::next_attempt_at.le(now))
            .filter(webhook_deliveries::lease_until.is_null().or(webhook_deliveries::lease_until.le(now))),
    ))
    .get_result(conn)
}

/// Takes up to `limit` due deliveries until `lease_until`, so that no other worker (in this
/// or another instance) attempts them meanwhile. A delivery waits while an earlier event
/// of the same customer is still pending for the same endpoint (per-customer order), and
/// while its endpoint is disabled.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("UPDATE webhook_deliveries SET lease_until = ").bind(SqlValue::Time(lease_until));
    sql.push(
        " WHERE id IN (SELECT d.id FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled' \
         WHERE d.status = 'pending' AND d.next_attempt_at <= ",
    )
    .bind(SqlValue::Time(now));
    sql.push(" AND (d.lease_until IS NULL OR d.lease_until <= ").bind(SqlValue::Time(now));
    sql.push(
        ") AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id \
         AND p.customer_id = d.customer_id AND p.status = 'pending' AND p.event_position < d.event_position) \
         ORDER BY d.next_attempt_at, d.id LIMIT ",
    )
    .bind(SqlValue::Int(limit));
    if sql.is_postgres() {
        sql.push(" FOR UPDATE OF d SKIP LOCKED");
    }
    // Checked again on the row itself: on PostgreSQL a worker that waited for another's
    // update re-reads the row, and must not take it when it was just taken.
    sql.push(") AND (lease_until IS NULL OR lease_until <= ").bind(SqlValue::Time(now));
    sql.push(") RETURNING id");
    let claimed: Vec<Claimed> = sql.query().load(conn)?;
    let ids: Vec<i64> = claimed.into_iter().map(|c| c.id).collect();
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .order((webhook_deliveries::next_attempt_at, webhook_deliveries::id))
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// Records an attempt: `succeeded`, or pending again at `retry_at`, or `failed` for good;
/// only while the lease taken until `lease_until` holds (false otherwise: another worker
/// took the delivery over, or it was rescheduled by hand).
pub fn record_attempt(
    conn: &mut DbConn,
    id: i64,
    outcome: &AttemptOutcome,
    retry_at: Option<NaiveDateTime>,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    let status = match (&outcome.error, retry_at) {
        (None, _) => DeliveryStatus::Succeeded.as_str(),
        (Some(_), Some(_)) => DeliveryStatus::Pending.as_str(),
        (Some(_), None) => DeliveryStatus::Failed.as_str(),
    };
    let recorded = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::lease_until.eq(Some(lease_until))),
    )
    .set((
        webhook_deliveries::status.eq(status),
        webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
        webhook_deliveries::next_attempt_at.eq(retry_at.unwrap_or(outcome.at)),
        webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        webhook_deliveries::last_attempt_at.eq(Some(outcome.at)),
        webhook_deliveries::last_response_status.eq(outcome.response_status),
        webhook_deliveries::last_latency_ms.eq(Some(outcome.latency_ms)),
        webhook_deliveries::last_error.eq(outcome.error.as_deref()),
        webhook_deliveries::delivered_at.eq(outcome.error.is_none().then_some(outcome.at)),
    ))
    .execute(conn)?;
    Ok(recorded == 1)
}

/// Newest first, keyset on id.
pub fn list_deliveries(
    conn: &mut DbConn,
    endpoint_id: i64,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, String)>> {
    let mut query = webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select((DeliveryRow::as_select(), events::event_type))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.to_string()));
    }
    if let Some(before_id) = before_id {
        query = query.filter(webhook_deliveries::id.lt(before_id));
    }
    query.order(webhook_deliveries::id.desc()).limit(limit).load(conn)
}

pub fn find_delivery(conn: &mut DbConn, endpoint_id: i64, id: i64) -> QueryResult<Option<(DeliveryRow, String)>> {
    webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::id.eq(id))
        .select((DeliveryRow::as_select(), events::event_type))
        .first(conn)
        .optional()
}

pub fn delivery_of_event(
    conn: &mut DbConn,
    endpoint_id: i64,
    event_id: i64,
) -> QueryResult<Option<(DeliveryRow, String)>> {
    webhook_deliveries::table
        .inner_join(events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::event_id.eq(event_id))
        .select((DeliveryRow::as_select(), events::event_type))
        .first(conn)
        .optional()
}

/// Makes a delivery due now again (a manual retry), whatever its status.
pub fn reschedule(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// Marks the endpoint failing since `at` when it was not already; returns since when it
/// has been failing.
pub fn note_failure(conn: &mut DbConn, endpoint_id: i64, at: NaiveDateTime) -> QueryResult<Option<NaiveDateTime>> {
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(endpoint_id))
            .filter(webhook_endpoints::failing_since.is_null()),
    )
    .set(webhook_endpoints::failing_since.eq(Some(at)))
    .execute(conn)?;
    webhook_endpoints::table
        .find(endpoint_id)
        .select(webhook_endpoints::failing_since)
        .first::<Option<NaiveDateTime>>(conn)
        .optional()
        .map(Option::flatten)
}

/// These endpoints answered: they are not failing any more.
pub fn note_success(conn: &mut DbConn, endpoint_ids: &[i64]) -> QueryResult<()> {
    if endpoint_ids.is_empty() {
        return Ok(());
    }
    diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq_any(endpoint_ids))
            .filter(webhook_endpoints::failing_since.is_not_null()),
    )
    .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
    .execute(conn)
    .map(drop)
}

/// Disables an enabled endpoint; false when it was not enabled any more.
pub fn disable(conn: &mut DbConn, endpoint_id: i64, reason: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        webhook_endpoints::table
            .filter(webhook_endpoints::id.eq(endpoint_id))
            .filter(webhook_endpoints::status.eq(EndpointStatus::Enabled.as_str())),
    )
    .set((
        webhook_endpoints::status.eq(EndpointStatus::Disabled.as_str()),
        webhook_endpoints::disabled_reason.eq(Some(reason)),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
