use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::messages;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub campaign_id: Option<i64>,
    /// The unsubscribe URL sent as `List-Unsubscribe` (RFC 8058), for campaign mail.
    pub list_unsubscribe: Option<String>,
    /// An optional HTML part, sent with `body` as multipart/alternative.
    pub html_body: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage {
    pub customer_id: Option<i64>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub campaign_id: Option<i64>,
    pub list_unsubscribe: Option<String>,
    /// An optional HTML part, sent with `body` as multipart/alternative.
    pub html_body: Option<String>,
}
