//! Enquiries and the tokens of emailed links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{confirmation_tokens, enquiries, unsubscribe_tokens};
use crate::db::DbConn;
use crate::domain::forms::EnquiryFilter;
use crate::domain::EnquiryStatus;
use crate::models::forms::{ConfirmationTokenRow, EnquiryFact, EnquiryRow, NewEnquiry, UnsubscribeTokenRow};
use crate::repositories::sql::insert_in_chunks;

pub fn insert_enquiry(conn: &mut DbConn, enquiry: NewEnquiry) -> QueryResult<EnquiryRow> {
    diesel::insert_into(enquiries::table).values(enquiry).returning(enquiries::all_columns).get_result(conn)
}

pub fn insert_confirmation_token(conn: &mut DbConn, token: ConfirmationTokenRow) -> QueryResult<()> {
    diesel::insert_into(confirmation_tokens::table).values(token).execute(conn).map(drop)
}

pub fn find_confirmation_token(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<ConfirmationTokenRow>> {
    confirmation_tokens::table.find(token_hash).select(ConfirmationTokenRow::as_select()).first(conn).optional()
}

/// Marks a token used if it is unused and unexpired; false otherwise. The single UPDATE
/// makes two concurrent confirmations of one link confirm once.
pub fn use_confirmation_token(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let used = diesel::update(
        confirmation_tokens::table
            .filter(confirmation_tokens::token_hash.eq(token_hash))
            .filter(confirmation_tokens::used_at.is_null())
            .filter(confirmation_tokens::expires_at.gt(now)),
    )
    .set(confirmation_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(used == 1)
}

pub fn insert_unsubscribe_token(conn: &mut DbConn, token: UnsubscribeTokenRow) -> QueryResult<()> {
    diesel::insert_into(unsubscribe_tokens::table).values(token).execute(conn).map(drop)
}

pub fn find_unsubscribe_token(conn: &mut DbConn, token_hash: &str) -> QueryResult<Option<UnsubscribeTokenRow>> {
    unsubscribe_tokens::table.find(token_hash).select(UnsubscribeTokenRow::as_select()).first(conn).optional()
}

/// Newest first, keyset on id.
pub fn list_enquiries(
    conn: &mut DbConn,
    filter: &EnquiryFilter,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EnquiryRow>> {
    let mut query = enquiries::table.select(EnquiryRow::as_select()).into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(enquiries::status.eq(status.clone()));
    }
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(enquiries::customer_id.eq(customer_id));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(enquiries::channel.eq(channel.as_str()));
    }
    if let Some(before) = filter.follow_up_before {
        query = query.filter(enquiries::follow_up_at.lt(before)).filter(enquiries::status.eq_any(open_statuses()));
    }
    if let Some(after) = filter.created_after {
        query = query.filter(enquiries::created_at.ge(after));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(enquiries::created_at.lt(before));
    }
    if let Some(before_id) = before_id {
        query = query.filter(enquiries::id.lt(before_id));
    }
    query.order(enquiries::id.desc()).limit(limit).load(conn)
}

pub fn find_enquiry(conn: &mut DbConn, id: i64) -> QueryResult<Option<EnquiryRow>> {
    enquiries::table.find(id).select(EnquiryRow::as_select()).first(conn).optional()
}

/// Locks an enquiry row until the transaction ends (see `sql::lock_row`).
pub fn lock_enquiry(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    super::sql::lock_row(conn, "enquiries", id)
}

pub fn find_enquiries(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<EnquiryRow>> {
    enquiries::table.filter(enquiries::id.eq_any(ids)).select(EnquiryRow::as_select()).load(conn)
}

fn open_statuses() -> Vec<&'static str> {
    EnquiryStatus::OPEN.iter().map(|s| s.as_str()).collect()
}

/// The triage fields of an enquiry.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = enquiries, treat_none_as_null = true)]
pub struct EnquiryTriage {
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub follow_up_at: Option<NaiveDateTime>,
    pub follow_up_due_at: Option<NaiveDateTime>,
    /// The tags' JSON text (`Json::to_text`).
    pub tags: String,
    pub resolved_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// Open enquiries whose follow-up is due at `now` and not yet announced, oldest due first.
pub fn due_follow_ups(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<EnquiryRow>> {
    enquiries::table
        .filter(enquiries::follow_up_at.le(now))
        .filter(enquiries::follow_up_due_at.is_null())
        .filter(enquiries::status.eq_any(open_statuses()))
        .order((enquiries::follow_up_at, enquiries::id))
        .limit(limit)
        .select(EnquiryRow::as_select())
        .load(conn)
}

/// Marks the follow-up `follow_up_at` of enquiry `id` announced at `now`, if it still is
/// that follow-up and was not announced yet: true when this call marked it. The single
/// conditional UPDATE makes two instances announcing one follow-up announce it once.
pub fn mark_follow_up_due(
    conn: &mut DbConn,
    id: i64,
    follow_up_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let marked = diesel::update(
        enquiries::table
            .filter(enquiries::id.eq(id))
            .filter(enquiries::follow_up_at.eq(follow_up_at))
            .filter(enquiries::follow_up_due_at.is_null())
            .filter(enquiries::status.eq_any(open_statuses())),
    )
    .set(enquiries::follow_up_due_at.eq(Some(now)))
    .execute(conn)?;
    Ok(marked == 1)
}

/// What the enquiry analytics need of the enquiries that occurred in `[from, to)`.
pub fn enquiry_facts(conn: &mut DbConn, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<Vec<EnquiryFact>> {
    enquiries::table
        .filter(enquiries::occurred_at.ge(from))
        .filter(enquiries::occurred_at.lt(to))
        .select(EnquiryFact::as_select())
        .load(conn)
}

pub fn update_enquiry(conn: &mut DbConn, id: i64, triage: EnquiryTriage) -> QueryResult<EnquiryRow> {
    diesel::update(enquiries::table.find(id)).set(triage).returning(enquiries::all_columns).get_result(conn)
}

/// Many unsubscribe tokens in a few statements (a campaign's contacts).
pub fn insert_unsubscribe_tokens(conn: &mut DbConn, tokens: &[UnsubscribeTokenRow]) -> QueryResult<()> {
    insert_in_chunks!(conn, unsubscribe_tokens::table, tokens)
}
