use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::segments;
use crate::db::Json;

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = segments, treat_none_as_default_value = false)]
pub struct SegmentRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// The rule tree as JSON.
    pub rules: Json<serde_json::Value>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = segments)]
pub struct NewSegment {
    pub name: String,
    pub description: Option<String>,
    pub rules: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = segments)]
pub struct SegmentChanges {
    pub name: String,
    pub description: Option<Option<String>>,
    pub rules: String,
    pub updated_at: NaiveDateTime,
}
