use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{confirmation_tokens, enquiries, unsubscribe_tokens};
use crate::db::Json;

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
    /// How the person reached the shop (`EnquiryChannel`).
    pub channel: String,
    /// When the person reached the shop (may be before `created_at`).
    pub occurred_at: NaiveDateTime,
    /// A reminder: when the shop means to follow the enquiry up.
    pub follow_up_at: Option<NaiveDateTime>,
    /// When `enquiry.follow_up_due` was recorded for the current `follow_up_at`.
    pub follow_up_due_at: Option<NaiveDateTime>,
    /// Lower-cased tags (a JSON array in the column).
    #[serde(serialize_with = "Json::serialize_as_text")]
    pub tags: Json<Vec<String>>,
    /// When the status last became `resolved`; null while it is not.
    pub resolved_at: Option<NaiveDateTime>,
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
    pub assignee: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub channel: String,
    pub occurred_at: NaiveDateTime,
    pub follow_up_at: Option<NaiveDateTime>,
    pub tags: Json<Vec<String>>,
    pub resolved_at: Option<NaiveDateTime>,
}

/// What the enquiry analytics read of one enquiry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = enquiries)]
pub struct EnquiryFact {
    pub customer_id: Option<i64>,
    pub channel: String,
    pub status: String,
    pub occurred_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
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
