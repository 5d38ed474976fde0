use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sql::{Sql, SqlValue};
use crate::db::schema::background_leases;
use crate::db::DbConn;

/// Takes the lease `name` for `owner` until `until` when nobody holds it or its holder's
/// lease ran out before `now`; false when another holder's lease is still running. One
/// statement, so two instances claiming at once cannot both win.
pub fn claim(
    conn: &mut DbConn,
    name: &str,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let mut sql = Sql::new(conn.backend());
    sql.push("INSERT INTO background_leases (name, owner, lease_until) VALUES ").bind_list([
        SqlValue::Text(name.to_string()),
        SqlValue::Text(owner.to_string()),
        SqlValue::Time(until),
    ]);
    sql.push(
        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
         WHERE background_leases.lease_until < ",
    )
    .bind(SqlValue::Time(now));
    let claimed = sql.query().execute(conn)?;
    Ok(claimed == 1)
}

/// Extends `owner`'s lease; false when it has lost it (expired and taken by another).
pub fn renew(conn: &mut DbConn, name: &str, owner: &str, until: NaiveDateTime) -> QueryResult<bool> {
    let renewed = diesel::update(
        background_leases::table.filter(background_leases::name.eq(name)).filter(background_leases::owner.eq(owner)),
    )
    .set(background_leases::lease_until.eq(until))
    .execute(conn)?;
    Ok(renewed == 1)
}

/// Gives the lease up, if `owner` still holds it.
pub fn release(conn: &mut DbConn, name: &str, owner: &str) -> QueryResult<()> {
    diesel::delete(
        background_leases::table.filter(background_leases::name.eq(name)).filter(background_leases::owner.eq(owner)),
    )
    .execute(conn)
    .map(drop)
}
