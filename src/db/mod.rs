//! The database layer: one connection type over SQLite and PostgreSQL, the pool, and
//! the embedded migrations.

mod conn;
pub mod json;
pub mod schema;
#[cfg(test)]
pub mod testing;

pub use conn::{
    open, run_migrations, Backend, ConnectionManager, Contention, Database, DatabaseTarget, DbConn, StartupError,
};
pub use json::Json;

/// Runs the same block on whichever inner connection `$conn` holds. Only for the few
/// diesel features the MultiConnection does not cover (batch inserts, upserts).
#[macro_export]
macro_rules! db_run {
    ($conn:ident => $body:block) => {
        match $conn {
            $crate::db::DbConn::Pg($conn) => $body,
            $crate::db::DbConn::Sqlite($conn) => $body,
        }
    };
}
