use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::import_jobs;
use crate::db::Json;

/// One rejected row as `import_jobs.errors` holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredRowError {
    pub line: i64,
    pub field: String,
    pub message: String,
}

/// An import job without its (large) CSV body.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs)]
pub struct ImportJobRow {
    pub id: i64,
    pub mode: String,
    pub status: String,
    pub next_row: i64,
    pub rows_total: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    /// The first rejected rows, as stored (JSON).
    pub errors: Json<Vec<StoredRowError>>,
    pub failure: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = import_jobs)]
pub struct NewImportJob {
    pub mode: String,
    pub status: String,
    pub csv: String,
    pub rows_total: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// What one committed batch adds to a job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub rows: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}
