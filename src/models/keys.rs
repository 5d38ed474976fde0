use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::server_keys;

/// A data key as stored: its purpose and the key as hex.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = server_keys)]
pub struct ServerKeyRow {
    pub purpose: String,
    pub key_hex: String,
    pub created_at: NaiveDateTime,
}
