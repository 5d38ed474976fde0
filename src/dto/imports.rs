use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::models::imports::ImportJobRow;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `create_only` (a known email is a row error) or `upsert` (fill or replace, like
    /// `PUT /v1/customers/by-email/{email}`). Default `create_only`.
    #[param(pattern = "^(create_only|upsert)$")]
    pub mode: Option<String>,
}

/// One rejected row.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportRowError {
    /// Line in the file (the header is line 1).
    pub line: i64,
    pub field: String,
    pub message: String,
}

/// An import and its progress.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "mode": "upsert", "status": "completed", "rows": 3, "processed": 3, "created": 1,
    "updated": 1, "unchanged": 0, "rejected": 1,
    "errors": [{"line": 4, "field": "email", "message": "`bob@` is not a valid email address"}],
    "failure": null, "created_at": "2026-11-22T10:00:00Z", "finished_at": "2026-11-22T10:00:02Z"}))]
pub struct ImportJob {
    pub id: i64,
    pub mode: String,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// Data rows in the file.
    pub rows: i64,
    /// Data rows handled so far.
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    /// The first 1,000 row errors.
    pub errors: Vec<ImportRowError>,
    /// Why the whole job failed, if it did.
    pub failure: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<ImportJobRow> for ImportJob {
    fn from(row: ImportJobRow) -> Self {
        ImportJob {
            id: row.id,
            mode: row.mode,
            status: row.status,
            rows: row.rows_total,
            processed: row.next_row,
            created: row.created,
            updated: row.updated,
            unchanged: row.unchanged,
            rejected: row.rejected,
            errors: row
                .errors
                .0
                .into_iter()
                .map(|e| ImportRowError { line: e.line, field: e.field, message: e.message })
                .collect(),
            failure: row.failure,
            created_at: row.created_at.and_utc(),
            finished_at: row.finished_at.map(|t| t.and_utc()),
        }
    }
}
