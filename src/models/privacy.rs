use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{customer_merges, erasures, suppressions};
use crate::db::Json;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = customer_merges)]
pub struct MergeRow {
    pub id: i64,
    pub survivor_id: i64,
    pub duplicate_id: i64,
    pub merged_by: String,
    pub merged_at: NaiveDateTime,
    /// The duplicate as it was (JSON); serialized as that text.
    #[serde(serialize_with = "Json::serialize_as_text")]
    pub duplicate_snapshot: Json<serde_json::Value>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = suppressions)]
pub struct NewSuppression {
    pub hash: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erasures)]
pub struct NewErasure {
    pub customer_id: i64,
    pub erased_by: String,
    pub erased_at: NaiveDateTime,
}

/// One entry of a customer's timeline: which table, which row, when.
#[derive(Debug, Clone, QueryableByName)]
pub struct TimelineRow {
    /// 1 consent event, 2 enquiry, 3 merge.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub kind: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    pub at: NaiveDateTime,
}
