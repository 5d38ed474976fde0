//! Read-only queries for dashboards.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{consent_events, customer_consents, customers};
use crate::db::DbConn;

/// (channel, state, customers) now.
pub fn consent_states(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    customer_consents::table
        .group_by((customer_consents::channel, customer_consents::state))
        .select((customer_consents::channel, customer_consents::state, diesel::dsl::count_star()))
        .load(conn)
}

/// (occurred_at, channel, state) of the opt-ins and opt-outs in `[from, to)`.
pub fn consent_changes(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, String)>> {
    consent_events::table
        .filter(consent_events::occurred_at.ge(from))
        .filter(consent_events::occurred_at.lt(to))
        .filter(consent_events::state.eq_any(["subscribed", "unsubscribed"]))
        .select((consent_events::occurred_at, consent_events::channel, consent_events::state))
        .load(conn)
}

/// (customer source, customers, of whom email-subscribed), erased customers left out.
pub fn email_opt_in_by_source(conn: &mut DbConn) -> QueryResult<Vec<(String, i64, i64)>> {
    let totals: Vec<(String, i64)> = customers::table
        .filter(customers::erased_at.is_null())
        .group_by(customers::source)
        .select((customers::source, diesel::dsl::count_star()))
        .load(conn)?;
    let subscribed: Vec<(String, i64)> = customers::table
        .inner_join(customer_consents::table)
        .filter(customers::erased_at.is_null())
        .filter(customer_consents::channel.eq("email"))
        .filter(customer_consents::state.eq("subscribed"))
        .group_by(customers::source)
        .select((customers::source, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(totals
        .into_iter()
        .map(|(source, n)| {
            let yes = subscribed.iter().find(|(s, _)| *s == source).map_or(0, |(_, k)| *k);
            (source, n, yes)
        })
        .collect())
}
