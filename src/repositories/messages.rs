use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::messages;
use crate::db::DbConn;
use crate::domain::MessageStatus;
use crate::models::messages::{MessageRow, NewMessage};
use crate::repositories::sql::insert_in_chunks;

pub fn insert(conn: &mut DbConn, message: NewMessage) -> QueryResult<MessageRow> {
    diesel::insert_into(messages::table).values(message).returning(messages::all_columns).get_result(conn)
}

/// Pending messages whose time has come, oldest first.
pub fn due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::status.eq(MessageStatus::Pending.as_str()))
        .filter(messages::next_attempt_at.le(now))
        .order((messages::next_attempt_at, messages::id))
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)
}

/// Takes a due message for `lease_until` (so that no other worker sends it meanwhile);
/// false when another worker took it first.
pub fn lease(conn: &mut DbConn, message: &MessageRow, lease_until: NaiveDateTime) -> QueryResult<bool> {
    let taken = diesel::update(
        messages::table
            .filter(messages::id.eq(message.id))
            .filter(messages::status.eq(MessageStatus::Pending.as_str()))
            .filter(messages::next_attempt_at.eq(message.next_attempt_at)),
    )
    .set(messages::next_attempt_at.eq(lease_until))
    .execute(conn)?;
    Ok(taken == 1)
}

pub fn mark_sent(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(messages::table.find(id))
        .set((
            messages::status.eq(MessageStatus::Sent.as_str()),
            messages::sent_at.eq(Some(now)),
            messages::attempts.eq(messages::attempts + 1),
            messages::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt made at `now`: retry at `retry_at`, or `failed` for good.
pub fn mark_attempt_failed(
    conn: &mut DbConn,
    id: i64,
    error: &str,
    now: NaiveDateTime,
    retry_at: Option<NaiveDateTime>,
) -> QueryResult<()> {
    let (status, next_attempt_at) = match retry_at {
        Some(at) => (MessageStatus::Pending.as_str(), at),
        None => (MessageStatus::Failed.as_str(), now),
    };
    diesel::update(messages::table.find(id))
        .set((
            messages::status.eq(status),
            messages::attempts.eq(messages::attempts + 1),
            messages::last_error.eq(error),
            messages::next_attempt_at.eq(next_attempt_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn count_pending(conn: &mut DbConn) -> QueryResult<i64> {
    messages::table.filter(messages::status.eq(MessageStatus::Pending.as_str())).count().get_result(conn)
}

/// Newest first, keyset on id.
pub fn list(
    conn: &mut DbConn,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    let mut query = messages::table.select(MessageRow::as_select()).into_boxed();
    if let Some(status) = status {
        query = query.filter(messages::status.eq(status.to_string()));
    }
    if let Some(before_id) = before_id {
        query = query.filter(messages::id.lt(before_id));
    }
    query.order(messages::id.desc()).limit(limit).load(conn)
}

/// Many messages in a few statements (a campaign's mail).
pub fn insert_many(conn: &mut DbConn, rows: &[NewMessage]) -> QueryResult<()> {
    insert_in_chunks!(conn, messages::table, rows)
}
