use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::sql::{live_order, lock_row, Sql, SqlValue};
use crate::db::schema::{customer_order_stats, customer_order_totals, idempotency_keys, order_lines, orders, refunds};
use crate::db::{Backend, DbConn};
use crate::domain::orders::OrderFilter;
use crate::models::orders::{
    CustomerStatsRow, IdempotencyRow, NewOrder, NewOrderLine, NewRefund, OrderLineRow, OrderRecord, OrderRow,
};

pub fn insert(conn: &mut DbConn, order: NewOrder) -> QueryResult<OrderRow> {
    diesel::insert_into(orders::table).values(order).returning(orders::all_columns).get_result(conn)
}

/// Inserts an order's lines and returns them as stored, in id order.
pub fn insert_lines(conn: &mut DbConn, lines: &[NewOrderLine]) -> QueryResult<Vec<OrderLineRow>> {
    match conn {
        DbConn::Pg(conn) => diesel::insert_into(order_lines::table)
            .values(lines)
            .returning(OrderLineRow::as_returning())
            .get_results(conn),
        // SQLite inserts a batch one row at a time anyway.
        DbConn::Sqlite(conn) => lines
            .iter()
            .map(|line| {
                diesel::insert_into(order_lines::table)
                    .values(line)
                    .returning(OrderLineRow::as_returning())
                    .get_result(conn)
            })
            .collect(),
    }
}

pub fn find_id_by_external_id(conn: &mut DbConn, external_id: &str) -> QueryResult<Option<i64>> {
    orders::table.filter(orders::external_id.eq(external_id)).select(orders::id).get_result(conn).optional()
}

pub fn customer_of(conn: &mut DbConn, id: i64) -> QueryResult<Option<i64>> {
    orders::table.find(id).select(orders::customer_id).get_result(conn).optional()
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<OrderRecord>> {
    let Some(order) = orders::table.find(id).select(OrderRow::as_select()).get_result(conn).optional()? else {
        return Ok(None);
    };
    Ok(with_lines(conn, vec![order])?.pop())
}

/// Many orders by id, with their lines, in two queries.
pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<OrderRecord>> {
    let rows = orders::table.filter(orders::id.eq_any(ids)).select(OrderRow::as_select()).load(conn)?;
    with_lines(conn, rows)
}

/// Locks the order row (PostgreSQL) for a status change or refund.
pub fn find_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<OrderRecord>> {
    lock_row(conn, "orders", id)?;
    find(conn, id)
}

fn with_lines(conn: &mut DbConn, orders: Vec<OrderRow>) -> QueryResult<Vec<OrderRecord>> {
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let mut lines_by_order: HashMap<i64, Vec<OrderLineRow>> = HashMap::new();
    if !ids.is_empty() {
        let lines: Vec<OrderLineRow> = order_lines::table
            .filter(order_lines::order_id.eq_any(&ids))
            .order((order_lines::order_id, order_lines::id))
            .select(OrderLineRow::as_select())
            .load(conn)?;
        for line in lines {
            lines_by_order.entry(line.order_id).or_default().push(line);
        }
    }
    Ok(orders
        .into_iter()
        .map(|order| OrderRecord { lines: lines_by_order.remove(&order.id).unwrap_or_default(), order })
        .collect())
}

/// Newest first by id.
pub fn list(
    conn: &mut DbConn,
    filter: &OrderFilter,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<OrderRecord>> {
    let mut query = orders::table.select(OrderRow::as_select()).into_boxed();
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(orders::customer_id.eq(customer_id));
    }
    if let Some(status) = &filter.status {
        query = query.filter(orders::status.eq(status.as_str()));
    }
    if let Some(channel) = &filter.channel {
        query = query.filter(orders::channel.eq(channel.as_str()));
    }
    if let Some(code) = &filter.promo_code {
        query = query.filter(orders::promo_code.eq(code.as_str().to_string()));
    }
    if let Some(after) = filter.placed_after {
        query = query.filter(orders::placed_at.ge(after));
    }
    if let Some(before) = filter.placed_before {
        query = query.filter(orders::placed_at.lt(before));
    }
    if let Some(sku) = &filter.sku {
        query = query.filter(
            orders::id
                .eq_any(order_lines::table.select(order_lines::order_id).filter(order_lines::sku.eq(sku.clone()))),
        );
    }
    if let Some(before_id) = before_id {
        query = query.filter(orders::id.lt(before_id));
    }
    let rows = query.order(orders::id.desc()).limit(limit).load(conn)?;
    with_lines(conn, rows)
}

pub fn set_status(conn: &mut DbConn, id: i64, status: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set((orders::status.eq(status), orders::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn record_refund(conn: &mut DbConn, refund: NewRefund, line_quantities: &[(i64, i64)]) -> QueryResult<()> {
    let (order_id, amount, now) = (refund.order_id, refund.amount, refund.created_at);
    diesel::insert_into(refunds::table).values(refund).execute(conn)?;
    diesel::update(orders::table.find(order_id))
        .set((orders::refunded_total.eq(orders::refunded_total + amount), orders::updated_at.eq(now)))
        .execute(conn)?;
    for &(line_id, quantity) in line_quantities {
        diesel::update(order_lines::table.find(line_id))
            .set(order_lines::refunded_quantity.eq(order_lines::refunded_quantity + quantity))
            .execute(conn)?;
    }
    Ok(())
}

/// Recomputes a customer's net statistics in one currency from their orders (cancelled
/// orders excluded, refunds subtracted).
pub fn refresh_stats(conn: &mut DbConn, customer_id: i64, currency: &str) -> QueryResult<()> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "INSERT INTO customer_order_stats (customer_id, currency, orders_count, total_spent, first_order_at, last_order_at) \
         SELECT customer_id, currency, COUNT(*), CAST(SUM(total - refunded_total) AS BIGINT), MIN(placed_at), MAX(placed_at) \
         FROM orders WHERE customer_id = ",
    )
    .bind(SqlValue::Int(customer_id))
    .push(" AND currency = ")
    .bind(SqlValue::Text(currency.to_string()))
    .push(" AND ")
    .push(&live_order("orders"))
    .push(
        " GROUP BY customer_id, currency ON CONFLICT (customer_id, currency) DO UPDATE SET \
         orders_count = excluded.orders_count, total_spent = excluded.total_spent, \
         first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at",
    );
    let written = sql.query().execute(conn)?;
    if written == 0 {
        // No live order left in that currency: no statistics either.
        diesel::delete(
            customer_order_stats::table
                .filter(customer_order_stats::customer_id.eq(customer_id))
                .filter(customer_order_stats::currency.eq(currency)),
        )
        .execute(conn)?;
    }
    refresh_totals(conn, customer_id)
}

/// The statistics summed over currencies, from `customer_order_stats`.
const TOTALS_FROM_STATS: &str =
    "INSERT INTO customer_order_totals (customer_id, orders_count, total_spent, first_order_at, last_order_at) \
     SELECT customer_id, CAST(SUM(orders_count) AS BIGINT), CAST(SUM(total_spent) AS BIGINT), \
     MIN(first_order_at), MAX(last_order_at) FROM customer_order_stats";

/// Fills `customer_order_totals` for every customer (the seed and the benchmarks' datasets
/// write `customer_order_stats` at once, then this).
pub fn all_totals_sql() -> String {
    format!("{TOTALS_FROM_STATS} GROUP BY customer_id")
}

/// Recomputes a customer's statistics summed over currencies from their statistics per
/// currency (`refresh_stats` has just written them).
fn refresh_totals(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    let mut sql = Sql::new(conn.backend());
    sql.push(TOTALS_FROM_STATS).push(" WHERE customer_id = ").bind(SqlValue::Int(customer_id)).push(
        " GROUP BY customer_id ON CONFLICT (customer_id) DO UPDATE SET \
         orders_count = excluded.orders_count, total_spent = excluded.total_spent, \
         first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at",
    );
    if sql.query().execute(conn)? == 0 {
        // No statistics in any currency left: no totals either.
        diesel::delete(customer_order_totals::table.find(customer_id)).execute(conn)?;
    }
    Ok(())
}

/// Every currency a customer has orders in.
pub fn currencies_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<String>> {
    orders::table.filter(orders::customer_id.eq(customer_id)).select(orders::currency).distinct().load(conn)
}

pub fn stats_for(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<CustomerStatsRow>>> {
    let rows: Vec<CustomerStatsRow> = customer_order_stats::table
        .filter(customer_order_stats::customer_id.eq_any(customer_ids))
        .order((customer_order_stats::customer_id, customer_order_stats::currency))
        .select(CustomerStatsRow::as_select())
        .load(conn)?;
    let mut by_customer: HashMap<i64, Vec<CustomerStatsRow>> = HashMap::new();
    for row in rows {
        by_customer.entry(row.customer_id).or_default().push(row);
    }
    Ok(by_customer)
}

/// Moves a merged duplicate's orders to the survivor (the caller refreshes statistics).
pub fn move_orders(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(orders::table.filter(orders::customer_id.eq(from))).set(orders::customer_id.eq(to)).execute(conn)?;
    diesel::delete(customer_order_stats::table.filter(customer_order_stats::customer_id.eq(from))).execute(conn)?;
    diesel::delete(customer_order_totals::table.find(from)).execute(conn)?;
    Ok(())
}

pub fn insert_idempotency_key(conn: &mut DbConn, row: IdempotencyRow) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table).values(row).execute(conn).map(drop)
}

pub fn find_idempotency_key(conn: &mut DbConn, actor: &str, key: &str) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .filter(idempotency_keys::actor.eq(actor))
        .filter(idempotency_keys::idempotency_key.eq(key))
        .select(IdempotencyRow::as_select())
        .get_result(conn)
        .optional()
}

/// Takes the key's transaction-scoped lock; false when a running transaction holds it.
/// PostgreSQL only: on SQLite the write transaction already holds the database's one
/// write lock, so this is always true there.
pub fn try_lock_idempotency_key(conn: &mut DbConn, actor: &str, key: &str) -> QueryResult<bool> {
    if conn.backend() == Backend::Sqlite {
        return Ok(true);
    }
    diesel::select(
        diesel::dsl::sql::<diesel::sql_types::Bool>("pg_try_advisory_xact_lock(hashtext('idempotency ' || ")
            .bind::<Text, _>(actor)
            .sql("), hashtext(")
            .bind::<Text, _>(key)
            .sql("))"),
    )
    .get_result(conn)
}

/// Keys are kept at least 24 hours; older ones may go.
pub fn delete_idempotency_keys_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before))).execute(conn)
}
