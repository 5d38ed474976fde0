//! Reminders: birthdays coming up and customers slipping away.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::sql::{days_between, Sql, SqlValue, Term};
use crate::db::DbConn;
use crate::models::customers::LapsedRow;

#[derive(Debug, QueryableByName)]
pub struct BirthdayRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Days from today to the next birthday.
    #[diesel(sql_type = BigInt)]
    pub days_until: i64,
}

/// Customers whose birthday (`MM-DD`) is one of `days` (in order: index = days from today),
/// by (days until, id) after `after`.
pub fn birthdays(
    conn: &mut DbConn,
    days: &[Vec<String>],
    after: Option<(i64, i64)>,
    limit: i64,
) -> QueryResult<Vec<BirthdayRow>> {
    let mut sql = Sql::new(conn.backend());
    let month_day = if sql.is_postgres() { "to_char(c.birthday, 'MM-DD')" } else { "strftime('%m-%d', c.birthday)" };
    sql.push("SELECT id, days_until FROM (SELECT c.id AS id, CAST(CASE ").push(month_day);
    for (offset, month_days) in days.iter().enumerate() {
        for month_day in month_days {
            sql.push(" WHEN ")
                .bind(SqlValue::Text(month_day.clone()))
                .push(" THEN ")
                .bind(SqlValue::Int(offset as i64));
        }
    }
    sql.push(
        " END AS BIGINT) AS days_until FROM customers c WHERE c.erased_at IS NULL AND c.birthday IS NOT NULL) upcoming",
    );
    sql.push(" WHERE days_until IS NOT NULL");
    if let Some((days_until, id)) = after {
        sql.push(" AND (days_until > ").bind(SqlValue::Int(days_until)).push(" OR (days_until = ");
        sql.bind(SqlValue::Int(days_until)).push(" AND id > ").bind(SqlValue::Int(id)).push("))");
    }
    sql.push(" ORDER BY days_until, id LIMIT ").bind(SqlValue::Int(limit));
    sql.query().load(conn)
}

/// Customers with two orders or more whose last order is older than `cutoff` and than
/// twice their own average gap between orders; most valuable first (keyset on
/// (total spent, id) descending).
pub fn lapsed(
    conn: &mut DbConn,
    now: NaiveDateTime,
    cutoff: NaiveDateTime,
    before: Option<(i64, i64)>,
    limit: i64,
) -> QueryResult<Vec<LapsedRow>> {
    let mut sql = Sql::new(conn.backend());
    let now = || Term::Value(SqlValue::Time(now));
    sql.push("SELECT customer_id, orders_count, total_spent, first_order_at, last_order_at, CAST(");
    days_between(&mut sql, now(), Term::Sql("last_order_at"));
    sql.push(" AS DOUBLE PRECISION) AS days_since FROM (");
    sql.push(
        "SELECT s.customer_id, CAST(SUM(s.orders_count) AS BIGINT) AS orders_count, \
         CAST(SUM(s.total_spent) AS BIGINT) AS total_spent, MIN(s.first_order_at) AS first_order_at, \
         MAX(s.last_order_at) AS last_order_at \
         FROM customer_order_stats s JOIN customers c ON c.id = s.customer_id WHERE c.erased_at IS NULL \
         GROUP BY s.customer_id HAVING SUM(s.orders_count) >= 2 AND MAX(s.last_order_at) < ",
    );
    sql.bind(SqlValue::Time(cutoff)).push(") per_customer WHERE ");
    // Silent for longer than twice the usual gap: (now - last) * (n - 1) > 2 * (last - first).
    days_between(&mut sql, now(), Term::Sql("last_order_at"));
    sql.push(" * (orders_count - 1) > 2 * ");
    days_between(&mut sql, Term::Sql("last_order_at"), Term::Sql("first_order_at"));
    if let Some((spent, id)) = before {
        sql.push(" AND (total_spent < ").bind(SqlValue::Int(spent)).push(" OR (total_spent = ");
        sql.bind(SqlValue::Int(spent)).push(" AND customer_id < ").bind(SqlValue::Int(id)).push("))");
    }
    sql.push(" ORDER BY total_spent DESC, customer_id DESC LIMIT ").bind(SqlValue::Int(limit));
    sql.query().load(conn)
}
