//! Raw SQL built at run time with typed binds, for queries whose shape depends on the
//! request (segment rules). Placeholders are numbered (`$n` on PostgreSQL, `?n` on
//! SQLite), so a fragment may be written in any order.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Date, Double, Text, Timestamp};
use diesel::{Connection, QueryResult, RunQueryDsl};

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
