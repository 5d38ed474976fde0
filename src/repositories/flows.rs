//! Flows, their versions, runs and contacts; the scheduled scans' candidate queries.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use super::sql::{insert_in_chunks, live_order, lock_row, Sql, SqlValue};
use crate::db::schema::{
    customer_predictions, enquiries, flow_contacts, flow_cursor, flow_runs, flow_segment_members, flow_versions, flows,
    referrals,
};
use crate::db::DbConn;
use crate::domain::{FlowOutcome, FlowStatus, RunState};
use crate::models::flows::{
    EntryHistory, FlowContactRow, FlowRow, GateRow, NewFlow, NewFlowContact, NewFlowVersion, NewRun, RevenueRow,
    RunCount, RunProgress, RunRow, StepConversion, StepCount, StepRevenue,
};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

pub fn insert(conn: &mut DbConn, flow: NewFlow) -> QueryResult<FlowRow> {
    diesel::insert_into(flows::table).values(flow).returning(flows::all_columns).get_result(conn)
}

pub fn insert_version(conn: &mut DbConn, version: NewFlowVersion) -> QueryResult<()> {
    diesel::insert_into(flow_versions::table).values(version).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<FlowRow>> {
    flows::table.find(id).select(FlowRow::as_select()).get_result(conn).optional()
}

pub fn find_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<FlowRow>> {
    lock_row(conn, "flows", id)?;
    find(conn, id)
}

/// The definitions of the given (flow, version) pairs.
pub fn definitions(conn: &mut DbConn, pairs: &[(i64, i32)]) -> QueryResult<HashMap<(i64, i32), String>> {
    let flow_ids: Vec<i64> = pairs.iter().map(|(id, _)| *id).collect();
    let wanted: HashSet<(i64, i32)> = pairs.iter().copied().collect();
    let rows: Vec<(i64, i32, String)> = flow_versions::table
        .filter(flow_versions::flow_id.eq_any(flow_ids))
        .select((flow_versions::flow_id, flow_versions::version, flow_versions::definition))
        .load(conn)?;
    Ok(rows.into_iter().filter(|(id, v, _)| wanted.contains(&(*id, *v))).map(|(id, v, d)| ((id, v), d)).collect())
}

pub fn set_name_and_version(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    trigger_type: &str,
    version: i32,
    now: NaiveDateTime,
) -> QueryResult<FlowRow> {
    diesel::update(flows::table.find(id))
        .set((
            flows::name.eq(name),
            flows::trigger_type.eq(trigger_type),
            flows::version.eq(version),
            flows::segment_baseline.eq(false),
            flows::updated_at.eq(now),
        ))
        .returning(flows::all_columns)
        .get_result(conn)
}

pub fn set_status(conn: &mut DbConn, id: i64, status: FlowStatus, now: NaiveDateTime) -> QueryResult<FlowRow> {
    let activated = (status == FlowStatus::Active).then_some(now);
    diesel::update(flows::table.find(id))
        .set((flows::status.eq(status.as_str()), flows::updated_at.eq(now)))
        .execute(conn)?;
    if let Some(at) = activated {
        // The first activation is when entries start; a resumed flow keeps it.
        diesel::update(flows::table.find(id).filter(flows::activated_at.is_null()))
            .set(flows::activated_at.eq(at))
            .execute(conn)?;
    }
    flows::table.find(id).select(FlowRow::as_select()).get_result(conn)
}

pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(flows::table.find(id)).execute(conn).map(drop)
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<FlowRow>> {
    let mut query = flows::table.select(FlowRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(flows::id.lt(before_id));
    }
    query.order(flows::id.desc()).limit(limit).load(conn)
}

/// Active flows with one of these trigger types.
pub fn active_with_triggers(conn: &mut DbConn, trigger_types: &[&str]) -> QueryResult<Vec<FlowRow>> {
    flows::table
        .filter(flows::status.eq(FlowStatus::Active.as_str()))
        .filter(flows::trigger_type.eq_any(trigger_types.iter().map(|t| t.to_string()).collect::<Vec<_>>()))
        .order(flows::id)
        .select(FlowRow::as_select())
        .load(conn)
}

pub fn mark_scanned(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(flows::table.find(id))
        .set((flows::last_scan_at.eq(now), flows::segment_baseline.eq(true)))
        .execute(conn)
        .map(drop)
}

/// The trigger reader's position in the event log, locked until the transaction ends.
pub fn lock_cursor(conn: &mut DbConn) -> QueryResult<i64> {
    lock_row(conn, "flow_cursor", 1)?;
    flow_cursor::table.find(1).select(flow_cursor::last_position).get_result(conn)
}

pub fn set_cursor(conn: &mut DbConn, position: i64) -> QueryResult<()> {
    diesel::update(flow_cursor::table.find(1)).set(flow_cursor::last_position.eq(position)).execute(conn).map(drop)
}

/// For each customer: active runs in the flow and their last entry (customers who never
/// entered are absent).
pub fn entry_history(conn: &mut DbConn, flow_id: i64, customer_ids: &[i64]) -> QueryResult<Vec<EntryHistory>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT customer_id, SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active_runs, ");
    sql.push("MAX(entered_at) AS last_entered_at FROM flow_runs WHERE flow_id = ").bind(SqlValue::Int(flow_id));
    sql.push(" AND customer_id IN ").bind_list(customer_ids.iter().map(|id| SqlValue::Int(*id)));
    sql.push(" GROUP BY customer_id");
    sql.query().load(conn)
}

/// Which of these customers exist and are not erased.
pub fn live_customers(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<HashSet<i64>> {
    use crate::db::schema::customers;
    let ids: Vec<i64> = customers::table
        .filter(customers::id.eq_any(customer_ids))
        .filter(customers::erased_at.is_null())
        .select(customers::id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

pub fn insert_runs(conn: &mut DbConn, runs: &[NewRun]) -> QueryResult<()> {
    insert_in_chunks!(conn, flow_runs::table, runs)
}

/// Claims up to `limit` runs of active flows that are due, in due order. On PostgreSQL the
/// rows stay locked until the transaction ends and other instances skip them; on SQLite
/// the write transaction already excludes other writers.
pub fn claim_due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<RunRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT r.id AS id FROM flow_runs r JOIN flows f ON f.id = r.flow_id AND f.status = 'active' ");
    sql.push("WHERE r.state = 'active' AND r.next_at <= ").bind(SqlValue::Time(now));
    sql.push(" ORDER BY r.next_at, r.id LIMIT ").bind(SqlValue::Int(limit));
    if sql.is_postgres() {
        sql.push(" FOR UPDATE OF r SKIP LOCKED");
    }
    let ids: Vec<Id> = sql.query().load(conn)?;
    let ids: Vec<i64> = ids.into_iter().map(|row| row.id).collect();
    flow_runs::table
        .filter(flow_runs::id.eq_any(ids))
        .order((flow_runs::next_at, flow_runs::id))
        .select(RunRow::as_select())
        .load(conn)
}

pub fn save_progress(conn: &mut DbConn, run_id: i64, progress: &RunProgress) -> QueryResult<()> {
    diesel::update(flow_runs::table.find(run_id)).set(progress.clone()).execute(conn).map(drop)
}

pub fn postpone(conn: &mut DbConn, run_id: i64, until: NaiveDateTime) -> QueryResult<()> {
    diesel::update(flow_runs::table.find(run_id)).set(flow_runs::next_at.eq(until)).execute(conn).map(drop)
}

pub fn insert_contact(conn: &mut DbConn, contact: NewFlowContact) -> QueryResult<i64> {
    diesel::insert_into(flow_contacts::table).values(contact).returning(flow_contacts::id).get_result(conn)
}

/// The customer as the send gate sees them on `channel`. Written with the query builder
/// (not raw SQL) so that PostgreSQL keeps it prepared: the scheduler asks it per run.
pub fn gate(conn: &mut DbConn, customer_id: i64, channel: &str) -> QueryResult<Option<GateRow>> {
    use crate::db::schema::{customer_consents, customers};
    type Found = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
    );
    let found: Option<Found> = customers::table
        .left_join(customer_consents::table.on(
            customer_consents::customer_id.eq(customers::id).and(customer_consents::channel.eq(channel.to_string())),
        ))
        .filter(customers::id.eq(customer_id))
        .select((
            customers::email,
            customers::phone,
            customer_consents::state.nullable(),
            customer_consents::source.nullable(),
            customers::address_line1,
            customers::city,
            customers::erased_at,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(email, phone, consent_state, consent_source, line1, city, erased_at)| {
        let reachable = match channel {
            "email" => email.is_some(),
            "sms" | "phone" => phone.is_some(),
            _ => line1.is_some() && city.is_some(),
        };
        GateRow { email, phone, consent_state, consent_source, reachable, erased: erased_at.is_some() }
    }))
}

/// When the customer was contacted since `since`, by campaigns and flows alike (the
/// frequency cap they share), oldest first. Two prepared queries rather than one raw one.
pub fn contacts_since(conn: &mut DbConn, customer_id: i64, since: NaiveDateTime) -> QueryResult<Vec<NaiveDateTime>> {
    use crate::db::schema::campaign_contacts;
    let mut times: Vec<NaiveDateTime> = campaign_contacts::table
        .filter(campaign_contacts::customer_id.eq(customer_id))
        .filter(campaign_contacts::holdout.eq(false))
        .filter(campaign_contacts::created_at.ge(since))
        .select(campaign_contacts::created_at)
        .load(conn)?;
    let messaged = flow_contacts::outcome
        .eq(FlowOutcome::Messaged.as_str())
        .or(flow_contacts::outcome.eq(FlowOutcome::Listed.as_str()));
    times.extend(
        flow_contacts::table
            .filter(flow_contacts::customer_id.eq(customer_id))
            .filter(messaged)
            .filter(flow_contacts::created_at.ge(since))
            .select(flow_contacts::created_at)
            .load::<NaiveDateTime>(conn)?,
    );
    times.sort_unstable();
    Ok(times)
}

/// Whether the customer placed a (not cancelled) order at or after `since` (by its
/// `placed_at`: an imported old order is no conversion).
pub fn ordered_since(conn: &mut DbConn, customer_id: i64, since: NaiveDateTime) -> QueryResult<bool> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT o.id AS id FROM orders o WHERE o.customer_id = ").bind(SqlValue::Int(customer_id));
    sql.push(" AND o.placed_at >= ").bind(SqlValue::Time(since));
    sql.push(" AND ").push(&live_order("o")).push(" LIMIT 1");
    Ok(!sql.query().load::<Id>(conn)?.is_empty())
}

/// How many (not cancelled) orders the customer had up to and including `order_id`.
pub fn orders_up_to(conn: &mut DbConn, customer_id: i64, order_id: i64) -> QueryResult<i64> {
    use crate::db::schema::orders;
    orders::table
        .filter(orders::customer_id.eq(customer_id))
        .filter(orders::id.le(order_id))
        .filter(super::sql::live_orders())
        .count()
        .get_result(conn)
}

/// The referrer whose code brought this order, if it was a referred customer's first.
pub fn referrer_of_order(conn: &mut DbConn, order_id: i64) -> QueryResult<Option<i64>> {
    referrals::table.filter(referrals::order_id.eq(order_id)).select(referrals::referrer_id).first(conn).optional()
}

pub fn find_contact(conn: &mut DbConn, id: i64) -> QueryResult<Option<FlowContactRow>> {
    flow_contacts::table.find(id).select(FlowContactRow::as_select()).get_result(conn).optional()
}

pub fn contact_by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<FlowContactRow>> {
    flow_contacts::table
        .filter(flow_contacts::token.eq(token))
        .select(FlowContactRow::as_select())
        .first(conn)
        .optional()
}

/// Records the first open or click of a flow message (a click also proves an open).
pub fn mark_response(conn: &mut DbConn, id: i64, clicked: bool, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(flow_contacts::table.find(id).filter(flow_contacts::opened_at.is_null()))
        .set(flow_contacts::opened_at.eq(now))
        .execute(conn)?;
    if clicked {
        diesel::update(flow_contacts::table.find(id).filter(flow_contacts::clicked_at.is_null()))
            .set(flow_contacts::clicked_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}

fn month_day(sql: &Sql, column: &str) -> String {
    if sql.is_postgres() {
        format!("to_char({column}, 'MM-DD')")
    } else {
        format!("strftime('%m-%d', {column})")
    }
}

/// Customers whose birthday is one of these (month, day).
pub fn birthdays(conn: &mut DbConn, dates: &[(u32, u32)]) -> QueryResult<Vec<i64>> {
    let mut sql = Sql::new(conn.backend());
    let day = month_day(&sql, "c.birthday");
    sql.push("SELECT c.id AS id FROM customers c WHERE c.erased_at IS NULL AND c.birthday IS NOT NULL AND ");
    sql.push(&day).push(" IN ");
    sql.bind_list(dates.iter().map(|(m, d)| SqlValue::Text(format!("{m:02}-{d:02}"))));
    sql.push(" ORDER BY c.id");
    Ok(sql.query().load::<Id>(conn)?.into_iter().map(|row| row.id).collect())
}

/// Customers whose first order was on this (month, day) of an earlier year (UTC dates).
pub fn first_order_anniversaries(
    conn: &mut DbConn,
    month: u32,
    day: u32,
    before: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    let mut sql = Sql::new(conn.backend());
    let first_day = month_day(&sql, "t.first_order_at");
    sql.push("SELECT t.customer_id AS id FROM customer_order_totals t WHERE ");
    sql.push(&first_day).push(" = ").bind(SqlValue::Text(format!("{month:02}-{day:02}")));
    sql.push(" AND t.first_order_at < ").bind(SqlValue::Time(before));
    sql.push(" ORDER BY t.customer_id");
    Ok(sql.query().load::<Id>(conn)?.into_iter().map(|row| row.id).collect())
}

/// A buyer's order rhythm: orders, first and last (across currencies).
#[derive(Debug, QueryableByName)]
pub struct Rhythm {
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = Timestamp)]
    pub first_order_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    pub last_order_at: NaiveDateTime,
}

/// Customers with at least two orders whose last order is older than `quiet_since`
/// (a first filter; the caller applies each customer's own rhythm).
pub fn rhythms(conn: &mut DbConn, quiet_since: NaiveDateTime) -> QueryResult<Vec<Rhythm>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT t.customer_id AS customer_id, t.orders_count AS orders, ");
    sql.push("t.first_order_at AS first_order_at, t.last_order_at AS last_order_at ");
    sql.push("FROM customer_order_totals t WHERE t.orders_count >= 2 AND t.last_order_at < ")
        .bind(SqlValue::Time(quiet_since));
    sql.push(" ORDER BY t.customer_id");
    sql.query().load(conn)
}

pub fn unlikely_alive(conn: &mut DbConn, below: f64) -> QueryResult<Vec<i64>> {
    customer_predictions::table
        .filter(customer_predictions::probability_alive.lt(below))
        .order(customer_predictions::customer_id)
        .select(customer_predictions::customer_id)
        .load(conn)
}

/// Enquiries untouched since `before`, still open, without a run in this flow.
pub fn unresolved_enquiries(
    conn: &mut DbConn,
    flow_id: i64,
    before: NaiveDateTime,
) -> QueryResult<Vec<(i64, Option<i64>)>> {
    let with_run = flow_runs::table
        .filter(flow_runs::flow_id.eq(flow_id))
        .filter(flow_runs::enquiry_id.is_not_null())
        .select(flow_runs::enquiry_id.assume_not_null());
    enquiries::table
        .filter(enquiries::status.eq_any(["new", "in_progress"]))
        .filter(enquiries::updated_at.le(before))
        .filter(enquiries::id.ne_all(with_run))
        .order(enquiries::id)
        .select((enquiries::id, enquiries::customer_id))
        .load(conn)
}

pub fn segment_members(conn: &mut DbConn, flow_id: i64) -> QueryResult<HashSet<i64>> {
    let ids: Vec<i64> = flow_segment_members::table
        .filter(flow_segment_members::flow_id.eq(flow_id))
        .select(flow_segment_members::customer_id)
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

pub fn add_segment_members(conn: &mut DbConn, flow_id: i64, ids: &[i64]) -> QueryResult<()> {
    let rows: Vec<_> = ids
        .iter()
        .map(|id| (flow_segment_members::flow_id.eq(flow_id), flow_segment_members::customer_id.eq(*id)))
        .collect();
    insert_in_chunks!(conn, flow_segment_members::table, rows)
}

pub fn remove_segment_members(conn: &mut DbConn, flow_id: i64, ids: &[i64]) -> QueryResult<()> {
    for chunk in ids.chunks(1000) {
        diesel::delete(
            flow_segment_members::table
                .filter(flow_segment_members::flow_id.eq(flow_id))
                .filter(flow_segment_members::customer_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Runs by group, state and exit reason, with how many converted (a live order between
/// entry and the end of the conversion window).
pub fn run_counts(conn: &mut DbConn, flow_id: i64) -> QueryResult<Vec<RunCount>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT r.holdout AS holdout, r.state AS state, r.exit_reason AS exit_reason, COUNT(*) AS runs, ");
    sql.push("CAST(SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = r.customer_id ");
    sql.push("AND o.placed_at >= r.entered_at AND o.placed_at <= r.conversion_until AND ").push(&live_order("o"));
    sql.push(") THEN 1 ELSE 0 END) AS BIGINT) AS converted FROM flow_runs r WHERE r.flow_id = ")
        .bind(SqlValue::Int(flow_id));
    sql.push(" GROUP BY r.holdout, r.state, r.exit_reason");
    sql.query().load(conn)
}

pub fn step_counts(conn: &mut DbConn, flow_id: i64) -> QueryResult<Vec<StepCount>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT step, outcome, COUNT(*) AS contacts, COUNT(opened_at) AS opened, COUNT(clicked_at) AS clicked ");
    sql.push("FROM flow_contacts WHERE flow_id = ").bind(SqlValue::Int(flow_id));
    sql.push(" GROUP BY step, outcome ORDER BY step, outcome");
    sql.query().load(conn)
}

/// Per step, the runs messaged there (or, for the holdout, that reached it) and how many
/// placed an order after that moment and within their conversion window.
pub fn step_conversions(conn: &mut DbConn, flow_id: i64) -> QueryResult<Vec<StepConversion>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT c.step AS step, CASE WHEN c.outcome = 'holdout' THEN TRUE ELSE FALSE END AS holdout, ");
    sql.push("COUNT(DISTINCT c.run_id) AS runs, COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM orders o ");
    sql.push("WHERE o.customer_id = c.customer_id AND o.placed_at >= c.created_at AND o.placed_at <= r.conversion_until AND ");
    sql.push(&live_order("o")).push(") THEN c.run_id END) AS converted ");
    sql.push("FROM flow_contacts c JOIN flow_runs r ON r.id = c.run_id WHERE c.flow_id = ")
        .bind(SqlValue::Int(flow_id));
    sql.push(" AND c.outcome IN ('messaged', 'listed', 'holdout') GROUP BY c.step, CASE WHEN c.outcome = 'holdout' THEN TRUE ELSE FALSE END");
    sql.query().load(conn)
}

/// Per step and currency, the revenue (net of refunds) of the orders placed after the
/// step's messages, within the runs' conversion windows (each order once per step).
pub fn step_revenue(conn: &mut DbConn, flow_id: i64) -> QueryResult<Vec<StepRevenue>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT g.step AS step, o.currency AS currency, CAST(COALESCE(SUM(o.total - o.refunded_total), 0) AS BIGINT) AS revenue ");
    sql.push("FROM orders o JOIN (SELECT DISTINCT c.step AS step, o2.id AS order_id FROM flow_contacts c ");
    sql.push("JOIN flow_runs r ON r.id = c.run_id JOIN orders o2 ON o2.customer_id = c.customer_id ");
    sql.push("AND o2.placed_at >= c.created_at AND o2.placed_at <= r.conversion_until WHERE c.flow_id = ")
        .bind(SqlValue::Int(flow_id));
    sql.push(" AND c.outcome IN ('messaged', 'listed')) g ON g.order_id = o.id WHERE ").push(&live_order("o"));
    sql.push(" GROUP BY g.step, o.currency");
    sql.query().load(conn)
}

/// Orders and revenue (net of refunds) of converted runs, by group and currency; an order
/// counts once per group even when two runs of one customer overlap.
pub fn revenue(conn: &mut DbConn, flow_id: i64) -> QueryResult<Vec<RevenueRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT g.holdout AS holdout, o.currency AS currency, COUNT(*) AS orders, ");
    sql.push("CAST(COALESCE(SUM(o.total - o.refunded_total), 0) AS BIGINT) AS revenue FROM orders o JOIN (");
    sql.push("SELECT DISTINCT r.holdout AS holdout, o2.id AS order_id FROM flow_runs r JOIN orders o2 ON o2.customer_id = r.customer_id ");
    sql.push("AND o2.placed_at >= r.entered_at AND o2.placed_at <= r.conversion_until WHERE r.flow_id = ")
        .bind(SqlValue::Int(flow_id));
    sql.push(") g ON g.order_id = o.id WHERE ").push(&live_order("o"));
    sql.push(" GROUP BY g.holdout, o.currency ORDER BY o.currency");
    sql.query().load(conn)
}

/// A page of one flow's contacts (the delivery list of sms, post and phone steps), newest
/// first, with keyset on id.
pub fn contacts_page(
    conn: &mut DbConn,
    flow_id: i64,
    step: Option<i32>,
    outcome: Option<FlowOutcome>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<FlowContactRow>> {
    let mut query = flow_contacts::table.filter(flow_contacts::flow_id.eq(flow_id)).into_boxed();
    if let Some(step) = step {
        query = query.filter(flow_contacts::step.eq(step));
    }
    if let Some(outcome) = outcome {
        query = query.filter(flow_contacts::outcome.eq(outcome.as_str()));
    }
    if let Some(before_id) = before_id {
        query = query.filter(flow_contacts::id.lt(before_id));
    }
    query.order(flow_contacts::id.desc()).limit(limit).select(FlowContactRow::as_select()).load(conn)
}

pub fn runs_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<RunRow>> {
    flow_runs::table
        .filter(flow_runs::customer_id.eq(customer_id))
        .order(flow_runs::id)
        .select(RunRow::as_select())
        .load(conn)
}

pub fn contacts_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<FlowContactRow>> {
    flow_contacts::table
        .filter(flow_contacts::customer_id.eq(customer_id))
        .order(flow_contacts::id)
        .select(FlowContactRow::as_select())
        .load(conn)
}

/// Erasure: the person's runs (and their contacts) and segment memberships go.
pub fn delete_customer(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    diesel::delete(flow_contacts::table.filter(flow_contacts::customer_id.eq(customer_id))).execute(conn)?;
    diesel::delete(flow_runs::table.filter(flow_runs::customer_id.eq(customer_id))).execute(conn)?;
    diesel::delete(flow_segment_members::table.filter(flow_segment_members::customer_id.eq(customer_id)))
        .execute(conn)?;
    Ok(())
}

/// A merge: the duplicate's runs become the survivor's. Where both have an active run in
/// one flow, the duplicate's ends (`merged`), so nobody runs through a flow twice.
pub fn move_customer(conn: &mut DbConn, from: i64, into: i64, now: NaiveDateTime) -> QueryResult<()> {
    let survivor_flows: Vec<i64> = flow_runs::table
        .filter(flow_runs::customer_id.eq(into))
        .filter(flow_runs::state.eq(RunState::Active.as_str()))
        .select(flow_runs::flow_id)
        .load(conn)?;
    diesel::update(
        flow_runs::table
            .filter(flow_runs::customer_id.eq(from))
            .filter(flow_runs::state.eq(RunState::Active.as_str()))
            .filter(flow_runs::flow_id.eq_any(survivor_flows)),
    )
    .set((
        flow_runs::state.eq(RunState::Exited.as_str()),
        flow_runs::exit_reason.eq("merged"),
        flow_runs::finished_at.eq(now),
    ))
    .execute(conn)?;
    diesel::update(flow_runs::table.filter(flow_runs::customer_id.eq(from)))
        .set(flow_runs::customer_id.eq(into))
        .execute(conn)?;
    diesel::update(flow_contacts::table.filter(flow_contacts::customer_id.eq(from)))
        .set(flow_contacts::customer_id.eq(into))
        .execute(conn)?;
    diesel::delete(flow_segment_members::table.filter(flow_segment_members::customer_id.eq(from))).execute(conn)?;
    Ok(())
}

/// Each customer's latest (not cancelled) order, by when it was placed.
pub fn last_order_ids(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<i64>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT o.id AS id FROM orders o WHERE o.customer_id IN ");
    sql.bind_list(customer_ids.iter().map(|id| SqlValue::Int(*id)));
    sql.push(" AND ").push(&live_order("o"));
    sql.push(" AND NOT EXISTS (SELECT 1 FROM orders n WHERE n.customer_id = o.customer_id AND ").push(&live_order("n"));
    sql.push(" AND (n.placed_at > o.placed_at OR (n.placed_at = o.placed_at AND n.id > o.id)))");
    Ok(sql.query().load::<Id>(conn)?.into_iter().map(|row| row.id).collect())
}

/// The customers' predictions, as templates show them: currency, probability alive, churn
/// risk, expected days to the next order, predicted 12-month value.
#[allow(clippy::type_complexity)]
pub fn predictions_of(
    conn: &mut DbConn,
    customer_ids: &[i64],
) -> QueryResult<HashMap<i64, (String, f64, String, Option<f64>, i64)>> {
    let rows: Vec<(i64, String, f64, String, Option<f64>, i64)> = customer_predictions::table
        .filter(customer_predictions::customer_id.eq_any(customer_ids))
        .select((
            customer_predictions::customer_id,
            customer_predictions::currency,
            customer_predictions::probability_alive,
            customer_predictions::churn_risk,
            customer_predictions::expected_days_to_next_order,
            customer_predictions::predicted_clv_12m,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, a, b, c, d, e)| (id, (a, b, c, d, e))).collect())
}

pub fn contacts_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<FlowContactRow>> {
    flow_contacts::table.filter(flow_contacts::id.eq_any(ids)).select(FlowContactRow::as_select()).load(conn)
}
