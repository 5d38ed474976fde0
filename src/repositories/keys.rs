//! The data keys (`server_keys`).

use diesel::prelude::*;

use crate::db::schema::server_keys;
use crate::db::DbConn;
use crate::db_run;
use crate::models::keys::ServerKeyRow;

pub fn all(conn: &mut DbConn) -> QueryResult<Vec<ServerKeyRow>> {
    server_keys::table.order(server_keys::purpose).select(ServerKeyRow::as_select()).load(conn)
}

/// Stores the key unless its purpose already has one: of two instances starting together,
/// the first insert wins and both read the same key back.
pub fn insert_if_absent(conn: &mut DbConn, row: &ServerKeyRow) -> QueryResult<()> {
    db_run!(conn => {
        diesel::insert_into(server_keys::table).values(row).on_conflict_do_nothing().execute(conn)?;
    });
    Ok(())
}
