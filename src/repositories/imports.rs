use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{import_files, import_jobs};
use crate::db::DbConn;
use crate::models::imports::{BatchOutcome, ImportJobRow, NewImportJob};

/// Inserts the job and, apart from it, its file.
pub fn insert(conn: &mut DbConn, job: NewImportJob, csv: &str) -> QueryResult<i64> {
    let id = diesel::insert_into(import_jobs::table).values(job).returning(import_jobs::id).get_result(conn)?;
    diesel::insert_into(import_files::table)
        .values((import_files::job_id.eq(id), import_files::csv.eq(csv)))
        .execute(conn)?;
    Ok(id)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<ImportJobRow>> {
    import_jobs::table.find(id).select(ImportJobRow::as_select()).first(conn).optional()
}

pub fn csv_of(conn: &mut DbConn, id: i64) -> QueryResult<String> {
    import_files::table.find(id).select(import_files::csv).get_result(conn)
}

/// Jobs that have not finished (queued, or interrupted while running).
pub fn unfinished(conn: &mut DbConn) -> QueryResult<Vec<i64>> {
    import_jobs::table
        .filter(import_jobs::status.eq_any(["queued", "running"]))
        .order(import_jobs::id)
        .select(import_jobs::id)
        .load(conn)
}

pub fn mark_running(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(import_jobs::table.find(id)).set(import_jobs::status.eq("running")).execute(conn).map(drop)
}

/// Adds a batch's counts and errors and moves `next_row`, in the batch's transaction.
pub fn record_batch(
    conn: &mut DbConn,
    id: i64,
    next_row: i64,
    outcome: &BatchOutcome,
    errors_json: &str,
) -> QueryResult<()> {
    diesel::update(import_jobs::table.find(id))
        .set((
            import_jobs::next_row.eq(next_row),
            import_jobs::created.eq(import_jobs::created + outcome.created),
            import_jobs::updated.eq(import_jobs::updated + outcome.updated),
            import_jobs::unchanged.eq(import_jobs::unchanged + outcome.unchanged),
            import_jobs::rejected.eq(import_jobs::rejected + outcome.rejected),
            import_jobs::errors.eq(errors_json),
        ))
        .execute(conn)
        .map(drop)
}

/// Ends a job: `completed`, or `failed` with the reason. The CSV is dropped either way.
/// Returns the job as it ended.
pub fn finish(conn: &mut DbConn, id: i64, failure: Option<&str>, now: NaiveDateTime) -> QueryResult<ImportJobRow> {
    let status = if failure.is_some() { "failed" } else { "completed" };
    let job = diesel::update(import_jobs::table.find(id))
        .set((
            import_jobs::status.eq(status),
            import_jobs::failure.eq(failure),
            import_jobs::csv.eq(""),
            import_jobs::finished_at.eq(Some(now)),
        ))
        .returning((
            import_jobs::id,
            import_jobs::mode,
            import_jobs::status,
            import_jobs::next_row,
            import_jobs::rows_total,
            import_jobs::created,
            import_jobs::updated,
            import_jobs::unchanged,
            import_jobs::rejected,
            import_jobs::errors,
            import_jobs::failure,
            import_jobs::created_by,
            import_jobs::created_at,
            import_jobs::finished_at,
        ))
        .get_result(conn)?;
    diesel::delete(import_files::table.find(id)).execute(conn)?;
    Ok(job)
}
