//! Stored predictions: the model state (one row) and each buyer's figures.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::sql::{insert_in_chunks, live_order, Sql, SqlValue};
use crate::db::schema::{customer_predictions, prediction_state};
use crate::db::{DbConn, Json};
use crate::domain::predictions::{Model, OrderPoint};
use crate::models::predictions::{CustomerPredictionRow, PredictionStateRow};

pub fn state(conn: &mut DbConn) -> QueryResult<PredictionStateRow> {
    prediction_state::table.find(1).select(PredictionStateRow::as_select()).get_result(conn)
}

/// How many customers were erased: their orders leave the models at the next refit.
pub fn erased_count(conn: &mut DbConn) -> QueryResult<i64> {
    crate::db::schema::erasures::table.count().get_result(conn)
}

#[derive(QueryableByName)]
struct CurrencyRow {
    #[diesel(sql_type = Text)]
    currency: String,
}

/// The currency most buyers paid in (ties: the first by code), or None without orders.
pub fn main_currency(conn: &mut DbConn) -> QueryResult<Option<String>> {
    let rows: Vec<CurrencyRow> = diesel::sql_query(
        "SELECT currency FROM customer_order_stats GROUP BY currency ORDER BY COUNT(*) DESC, currency LIMIT 1",
    )
    .load(conn)?;
    Ok(rows.into_iter().next().map(|row| row.currency))
}

#[derive(QueryableByName)]
struct PointRow {
    #[diesel(sql_type = BigInt)]
    customer_id: i64,
    #[diesel(sql_type = Timestamp)]
    placed_at: NaiveDateTime,
    #[diesel(sql_type = BigInt)]
    net: i64,
}

/// Every live order in `currency` of customers not erased, by customer then time.
pub fn order_points(conn: &mut DbConn, currency: &str) -> QueryResult<Vec<OrderPoint>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT o.customer_id, o.placed_at, o.total - o.refunded_total AS net FROM orders o ")
        .push("JOIN customers c ON c.id = o.customer_id AND c.erased_at IS NULL WHERE ")
        .push(&live_order("o"))
        .push(" AND o.currency = ")
        .bind(SqlValue::Text(currency.to_string()))
        .push(" ORDER BY o.customer_id, o.placed_at");
    let rows: Vec<PointRow> = sql.query().load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| OrderPoint { customer_id: row.customer_id, placed_at: row.placed_at, net: row.net })
        .collect())
}

/// Writes these buyers' figures over their previous ones.
pub fn write_figures(conn: &mut DbConn, rows: &[CustomerPredictionRow]) -> QueryResult<()> {
    let ids: Vec<i64> = rows.iter().map(|row| row.customer_id).collect();
    diesel::delete(customer_predictions::table.filter(customer_predictions::customer_id.eq_any(&ids))).execute(conn)?;
    insert_in_chunks!(conn, customer_predictions::table, rows)
}

/// On SQLite, copies the write-ahead log into the database file now (without waiting for
/// readers or blocking writers), so that a bulk write leaves no large log for the next
/// order's commit to copy. Nothing to do on PostgreSQL.
pub fn checkpoint(conn: &mut DbConn) -> QueryResult<()> {
    if conn.backend() == crate::db::Backend::Sqlite {
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(conn)?;
    }
    Ok(())
}

/// Removes every buyer's figures (no model).
pub fn remove_all_figures(conn: &mut DbConn) -> QueryResult<()> {
    diesel::delete(customer_predictions::table).execute(conn)?;
    Ok(())
}

/// Removes the figures an earlier refresh wrote:
/// customers who are no longer buyers of the model's currency.
pub fn remove_figures_scored_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(customer_predictions::table.filter(customer_predictions::scored_at.lt(before))).execute(conn)?;
    Ok(())
}

/// Records a new model (or none), fitted from inputs with this fingerprint.
pub fn save_model(
    conn: &mut DbConn,
    fingerprint: &str,
    model: Option<&Model>,
    currency: &str,
    problem: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(prediction_state::table.find(1))
        .set((
            prediction_state::fingerprint.eq(fingerprint),
            prediction_state::model.eq(model.map(|m| Json(*m).to_text())),
            prediction_state::currency.eq(model.map(|_| currency)),
            prediction_state::fitted_at.eq(model.map(|_| now)),
            prediction_state::problem.eq(problem),
            prediction_state::attempted_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt; the last good model and its figures stay.
pub fn record_problem(conn: &mut DbConn, fingerprint: &str, problem: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(prediction_state::table.find(1))
        .set((
            prediction_state::fingerprint.eq(fingerprint),
            prediction_state::problem.eq(problem),
            prediction_state::attempted_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn for_customers(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, CustomerPredictionRow>> {
    let rows: Vec<CustomerPredictionRow> = customer_predictions::table
        .filter(customer_predictions::customer_id.eq_any(ids))
        .select(CustomerPredictionRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|row| (row.customer_id, row)).collect())
}

/// Merges and erasure: the customer's figures go (a survivor's are recomputed by the next
/// refresh, as its order statistics changed).
pub fn delete_for(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    diesel::delete(customer_predictions::table.filter(customer_predictions::customer_id.eq(customer_id)))
        .execute(conn)?;
    Ok(())
}

/// Every buyer's predicted 12-month value, smallest first.
pub fn all_values(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    customer_predictions::table
        .select(customer_predictions::predicted_clv_12m)
        .order(customer_predictions::predicted_clv_12m)
        .load(conn)
}

/// The `limit` buyers of highest predicted value (ties: lowest id first).
pub fn top_by_value(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<CustomerPredictionRow>> {
    customer_predictions::table
        .order((customer_predictions::predicted_clv_12m.desc(), customer_predictions::customer_id))
        .limit(limit)
        .select(CustomerPredictionRow::as_select())
        .load(conn)
}
