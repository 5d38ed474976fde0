use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{confirmation_tokens, enquiries, unsubscribe_tokens};

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = enquiries)]
pub struct EnquiryRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = enquiries)]
pub struct NewEnquiry {
    pub customer_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = confirmation_tokens)]
pub struct ConfirmationTokenRow {
    pub token_hash: String,
    pub customer_id: i64,
    /// Comma-separated channels the confirmation subscribes.
    pub channels: String,
    pub consent_text: Option<String>,
    pub source: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = unsubscribe_tokens)]
pub struct UnsubscribeTokenRow {
    pub token_hash: String,
    pub customer_id: i64,
    pub channel: String,
    pub created_at: NaiveDateTime,
}
