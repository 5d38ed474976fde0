//! The timeline, export and erasure: queries that cut across a customer's tables.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sql::{Sql, SqlValue};
use crate::db::schema::{
    confirmation_tokens, consent_events, customer_consents, customer_merges, customers, enquiries, erasures, messages,
    suppressions, unsubscribe_tokens,
};
use crate::db::DbConn;
use crate::db_run;
use crate::models::consents::ConsentEventRow;
use crate::models::forms::EnquiryRow;
use crate::models::messages::MessageRow;
use crate::models::privacy::{MergeRow, NewErasure, NewSuppression, TimelineRow};

/// Newest first by time, then kind, then id; `before` is the last key of the previous page.
pub fn timeline(
    conn: &mut DbConn,
    customer_id: i64,
    before: Option<(NaiveDateTime, i32, i64)>,
    limit: i64,
) -> QueryResult<Vec<TimelineRow>> {
    let (has_cursor, at, kind, id) = match before {
        Some((at, kind, id)) => (1, at, kind, id),
        None => (0, NaiveDateTime::default(), 0, 0),
    };
    let customer = || SqlValue::Int(customer_id);
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT kind, id, at FROM ( SELECT 1 AS kind, id, occurred_at AS at FROM consent_events WHERE customer_id = ",
    );
    sql.bind(customer());
    sql.push(" UNION ALL SELECT 2, id, occurred_at FROM enquiries WHERE customer_id = ").bind(customer());
    sql.push(" UNION ALL SELECT 3, id, merged_at FROM customer_merges WHERE survivor_id = ").bind(customer());
    sql.push(" UNION ALL SELECT 4, id, placed_at FROM orders WHERE customer_id = ").bind(customer());
    sql.push(" UNION ALL SELECT 5, id, created_at FROM campaign_contacts WHERE customer_id = ").bind(customer());
    sql.push(" AND holdout = FALSE UNION ALL SELECT 6, id, occurred_at FROM campaign_responses WHERE customer_id = ");
    sql.bind(customer());
    sql.push(" UNION ALL SELECT 7, referred_id, created_at FROM referrals WHERE referred_id = ").bind(customer());
    sql.push(" OR referrer_id = ").bind(customer());
    sql.push(" UNION ALL SELECT 8, id, created_at FROM flow_contacts WHERE customer_id = ").bind(customer());
    sql.push(" AND outcome IN ('messaged', 'listed')");
    sql.push(" UNION ALL SELECT 9, id, follow_up_at FROM enquiries WHERE customer_id = ").bind(customer());
    sql.push(" AND follow_up_due_at IS NOT NULL");
    sql.push(" ) entries WHERE ").bind(SqlValue::Int(has_cursor)).push(" = 0 OR at < ").bind(SqlValue::Time(at));
    sql.push(" OR (at = ").bind(SqlValue::Time(at)).push(" AND (kind < ").bind(SqlValue::Int(kind.into()));
    sql.push(" OR (kind = ").bind(SqlValue::Int(kind.into())).push(" AND id < ").bind(SqlValue::Int(id));
    sql.push("))) ORDER BY at DESC, kind DESC, id DESC LIMIT ").bind(SqlValue::Int(limit));
    sql.query().load(conn)
}

pub fn consent_events_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ConsentEventRow>> {
    consent_events::table.filter(consent_events::id.eq_any(ids)).select(ConsentEventRow::as_select()).load(conn)
}

pub fn merges_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<MergeRow>> {
    customer_merges::table.filter(customer_merges::id.eq_any(ids)).select(MergeRow::as_select()).load(conn)
}

pub fn consent_events_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<ConsentEventRow>> {
    consent_events::table
        .filter(consent_events::customer_id.eq(customer_id))
        .order((consent_events::occurred_at, consent_events::id))
        .select(ConsentEventRow::as_select())
        .load(conn)
}

pub fn enquiries_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<EnquiryRow>> {
    enquiries::table
        .filter(enquiries::customer_id.eq(customer_id))
        .order(enquiries::id)
        .select(EnquiryRow::as_select())
        .load(conn)
}

pub fn messages_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::customer_id.eq(customer_id))
        .order(messages::id)
        .select(MessageRow::as_select())
        .load(conn)
}

pub fn merges_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<MergeRow>> {
    customer_merges::table
        .filter(customer_merges::survivor_id.eq(customer_id))
        .order(customer_merges::id)
        .select(MergeRow::as_select())
        .load(conn)
}

pub fn add_suppressions(conn: &mut DbConn, rows: &[NewSuppression]) -> QueryResult<()> {
    for row in rows {
        db_run!(conn => {
            diesel::insert_into(suppressions::table).values(row).on_conflict_do_nothing().execute(conn)?;
        });
    }
    Ok(())
}

/// Which of `hashes` are in the suppression list, in one query.
pub fn suppressed_among(conn: &mut DbConn, hashes: &[String]) -> QueryResult<std::collections::HashSet<String>> {
    Ok(suppressions::table
        .filter(suppressions::hash.eq_any(hashes))
        .select(suppressions::hash)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Whether anyone was ever erased (the suppression list holds a hash).
pub fn has_suppressions(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(suppressions::table.select(suppressions::hash))).get_result(conn)
}

pub fn any_suppressed(conn: &mut DbConn, hashes: &[String]) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(suppressions::table.filter(suppressions::hash.eq_any(hashes)))).get_result(conn)
}

/// Removes personal data from everything that refers to the customer (or carries their
/// email), keeping the rows statistics need, and marks the customer erased.
pub fn strip_personal_data(
    conn: &mut DbConn,
    customer_id: i64,
    email: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(consent_events::table.filter(consent_events::customer_id.eq(customer_id)))
        .set((
            consent_events::ip.eq(None::<String>),
            consent_events::user_agent.eq(None::<String>),
            consent_events::method_detail.eq(None::<String>),
            consent_events::consent_text.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::delete(customer_consents::table.filter(customer_consents::customer_id.eq(customer_id))).execute(conn)?;
    let anonymous_enquiry = || {
        (
            enquiries::email.eq(None::<String>),
            enquiries::subject.eq(None::<String>),
            enquiries::message.eq(None::<String>),
            enquiries::assignee.eq(None::<String>),
            enquiries::note.eq(None::<String>),
            enquiries::ip.eq(None::<String>),
            enquiries::user_agent.eq(None::<String>),
            // Tags are the shop's words, but may name the person.
            enquiries::tags.eq("[]"),
            // No reminder about an erased person: it would announce them again.
            enquiries::follow_up_at.eq(None::<NaiveDateTime>),
            enquiries::updated_at.eq(now),
        )
    };
    let anonymous_message = || {
        (
            messages::recipient.eq(""),
            messages::subject.eq(""),
            messages::body.eq(""),
            messages::html_body.eq(None::<String>),
        )
    };
    // Nothing queued for the person goes out any more.
    diesel::update(
        messages::table.filter(messages::customer_id.eq(customer_id)).filter(messages::status.eq("pending")),
    )
    .set((messages::status.eq("failed"), messages::last_error.eq("recipient erased")))
    .execute(conn)?;
    diesel::update(enquiries::table.filter(enquiries::customer_id.eq(customer_id)))
        .set(anonymous_enquiry())
        .execute(conn)?;
    diesel::update(messages::table.filter(messages::customer_id.eq(customer_id)))
        .set(anonymous_message())
        .execute(conn)?;
    if let Some(email) = email {
        // Spam and messages not linked to the record may still carry the address.
        diesel::update(enquiries::table.filter(enquiries::email.eq(email))).set(anonymous_enquiry()).execute(conn)?;
        diesel::update(messages::table.filter(messages::recipient.eq(email))).set(anonymous_message()).execute(conn)?;
    }
    diesel::update(customer_merges::table.filter(customer_merges::survivor_id.eq(customer_id)))
        .set(customer_merges::duplicate_snapshot.eq("{}"))
        .execute(conn)?;
    diesel::delete(confirmation_tokens::table.filter(confirmation_tokens::customer_id.eq(customer_id)))
        .execute(conn)?;
    diesel::delete(unsubscribe_tokens::table.filter(unsubscribe_tokens::customer_id.eq(customer_id))).execute(conn)?;
    super::campaigns::strip_customer(conn, customer_id)?;
    // Flow runs and their contacts go (erasure removes the person from every flow).
    super::flows::delete_customer(conn, customer_id)?;
    super::referrals::delete_code_of(conn, customer_id)?;
    diesel::update(customers::table.find(customer_id)).set(customers::erased_at.eq(Some(now))).execute(conn)?;
    Ok(())
}

pub fn record_erasure(conn: &mut DbConn, erasure: NewErasure) -> QueryResult<()> {
    diesel::insert_into(erasures::table).values(erasure).execute(conn).map(drop)
}
