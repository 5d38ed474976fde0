//! Enquiries and the tokens of emailed links.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{confirmation_tokens, enquiries, unsubscribe_tokens};
use crate::db::DbConn;
use crate::models::forms::{ConfirmationTokenRow, EnquiryRow, NewEnquiry, UnsubscribeTokenRow};

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
