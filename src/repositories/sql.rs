//! Raw SQL built at run time with typed binds, for queries whose shape depends on the
//! request (segment rules). Placeholders are numbered (`$n` on PostgreSQL, `?n` on
//! SQLite) by `Sql::bind`, never by hand, so a fragment may be written in any order.
//!
//! Everything spelled differently per backend is written here once: days between two
//! moments, a JSON attribute as text, the live-order condition, the row lock, and the
//! chunked multi-row inserts.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Date, Double, Text, Timestamp};
use diesel::{Connection, ExpressionMethods, QueryResult, RunQueryDsl};

use crate::db::{Backend, DbConn};

pub type MultiBackend = <DbConn as Connection>::Backend;

#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Float(f64),
    Time(NaiveDateTime),
    Date(NaiveDate),
    Bool(bool),
}

/// A statement being written: its text and its binds, in placeholder order.
#[derive(Debug, Clone)]
pub struct Sql {
    pub backend: Backend,
    pub text: String,
    pub binds: Vec<SqlValue>,
}

impl Sql {
    pub fn new(backend: Backend) -> Sql {
        Sql { backend, text: String::new(), binds: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: SqlValue) -> &mut Sql {
        self.binds.push(value);
        let placeholder = match self.backend {
            Backend::Postgres => format!("${}", self.binds.len()),
            Backend::Sqlite => format!("?{}", self.binds.len()),
        };
        self.text.push_str(&placeholder);
        self
    }

    /// `(?, ?, ?)`
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = SqlValue>) -> &mut Sql {
        self.push("(");
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.bind(value);
        }
        self.push(")")
    }

    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Appends a column (or any SQL the caller wrote) or a bound value.
    pub fn term(&mut self, term: Term) -> &mut Sql {
        match term {
            Term::Sql(text) => self.push(text),
            Term::Value(value) => self.bind(value),
        }
    }

    /// The statement, ready to load.
    pub fn query(self) -> BoxedSqlQuery<'static, MultiBackend, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<MultiBackend>();
        for value in self.binds {
            query = match value {
                SqlValue::Text(v) => query.bind::<Text, _>(v),
                SqlValue::Int(v) => query.bind::<BigInt, _>(v),
                SqlValue::Float(v) => query.bind::<Double, _>(v),
                SqlValue::Time(v) => query.bind::<Timestamp, _>(v),
                SqlValue::Date(v) => query.bind::<Date, _>(v),
                SqlValue::Bool(v) => query.bind::<diesel::sql_types::Bool, _>(v),
            };
        }
        query
    }
}

/// One side of a fragment: SQL written by the caller (a column) or a value to bind.
#[derive(Debug, Clone)]
pub enum Term<'a> {
    Sql(&'a str),
    Value(SqlValue),
}

/// Days from `earlier` to `later` (dates or timestamps), with the fraction of a day: a
/// number on both backends (numeric on PostgreSQL, real on SQLite).
pub fn days_between(sql: &mut Sql, later: Term, earlier: Term) {
    if sql.is_postgres() {
        sql.push("(EXTRACT(EPOCH FROM (CAST(").term(later).push(" AS TIMESTAMP) - CAST(");
        sql.term(earlier).push(" AS TIMESTAMP))) / 86400.0)");
    } else {
        sql.push("(julianday(").term(later).push(") - julianday(").term(earlier).push("))");
    }
}

/// The value of `key` in the JSON object held by the TEXT column `document`, as text:
/// strings as they are, numbers as JSON writes them, booleans as `true` / `false` on both
/// backends (SQLite's `json_extract` alone gives 1 / 0); NULL when the key is missing or null.
pub fn json_text(sql: &mut Sql, document: &str, key: &str) {
    if sql.is_postgres() {
        sql.push("(").push(document).push("::jsonb ->> ").bind(SqlValue::Text(key.to_string())).push(")");
    } else {
        let path = SqlValue::Text(format!("$.\"{key}\""));
        sql.push("(CASE json_type(").push(document).push(", ").bind(path.clone()).push(") ");
        sql.push("WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(");
        sql.push(document).push(", ").bind(path).push(") AS TEXT) END)");
    }
}

/// The status of an order that was cancelled; every other order stands ("live").
const CANCELLED: &str = crate::domain::OrderStatus::Cancelled.as_str();

/// `<orders>.status <> 'cancelled'`: the order (table or alias `orders`) stands.
pub fn live_order(orders: &str) -> String {
    format!("{orders}.status <> '{CANCELLED}'")
}

/// The same condition for diesel's query builder, on the `orders` table.
pub fn live_orders() -> diesel::dsl::NotEq<crate::db::schema::orders::status, &'static str> {
    crate::db::schema::orders::status.ne(CANCELLED)
}

/// Locks the row `id` of `table` until the transaction ends (`FOR UPDATE`) on
/// PostgreSQL; on SQLite a write transaction already holds the database's one write lock.
/// The table name is the caller's constant, never input.
pub fn lock_row(conn: &mut DbConn, table: &str, id: i64) -> QueryResult<()> {
    if conn.backend() == Backend::Postgres {
        let mut sql = Sql::new(conn.backend());
        sql.push(&format!("SELECT id FROM {table} WHERE id = ")).bind(SqlValue::Int(id)).push(" FOR UPDATE");
        sql.query().execute(conn)?;
    }
    Ok(())
}

/// Locks rows until the transaction ends, in id order (PostgreSQL; SQLite's write
/// transaction holds the whole database already). Ids are numbers, written inline.
pub fn lock_rows(conn: &mut DbConn, table: &str, ids: &[i64]) -> QueryResult<()> {
    if conn.backend() != Backend::Postgres || ids.is_empty() {
        return Ok(());
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for chunk in sorted.chunks(1000) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut sql = Sql::new(conn.backend());
        sql.push(&format!("SELECT id FROM {table} WHERE id IN ({list}) ORDER BY id FOR UPDATE"));
        sql.query().execute(conn)?;
    }
    Ok(())
}

/// Rows per multi-row INSERT of diesel `Insertable`s: well under both backends' bind limits.
pub const INSERT_CHUNK: usize = 500;

/// Inserts a slice of `Insertable` rows into a table with one multi-row INSERT per
/// `INSERT_CHUNK` rows (batch inserts need the inner connection: see `db_run!`).
/// `$conn` is a `&mut DbConn` variable; evaluates to `QueryResult<()>`.
macro_rules! insert_in_chunks {
    ($conn:ident, $table:expr, $rows:expr) => {{
        let mut outcome: diesel::QueryResult<()> = Ok(());
        for chunk in $rows.chunks($crate::repositories::sql::INSERT_CHUNK) {
            let done = $crate::db_run!($conn => {
                diesel::RunQueryDsl::execute(diesel::insert_into($table).values(chunk), $conn)
            });
            if let Err(error) = done {
                outcome = Err(error);
                break;
            }
        }
        outcome
    }};
}
pub(crate) use insert_in_chunks;

/// Adds rows of counters to a table: `INSERT ... ON CONFLICT (keys) DO UPDATE SET c = c +
/// excluded.c`, in chunks, in the rows' order (callers pass them in key order, so concurrent
/// writers lock rows in the same order). Each row holds the key values, then the counters.
/// Table and column names are the caller's constants, never input.
pub fn add_counters(
    conn: &mut DbConn,
    table: &str,
    keys: &[&str],
    counters: &[&str],
    rows: Vec<Vec<SqlValue>>,
) -> QueryResult<()> {
    let columns: Vec<&str> = keys.iter().chain(counters).copied().collect();
    let updates: Vec<String> = counters.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    let per_chunk = (30_000 / columns.len()).max(1);
    for chunk in rows.chunks(per_chunk) {
        let mut sql = Sql::new(conn.backend());
        sql.push(&format!("INSERT INTO {table} ({}) VALUES ", columns.join(", ")));
        for (index, row) in chunk.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.bind_list(row.iter().cloned());
        }
        sql.push(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", keys.join(", "), updates.join(", ")));
        sql.query().execute(conn)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
