use super::now;
use crate::db::DbConn;
use crate::domain::forms::EnquiryChange;
use crate::domain::forms::EnquiryFilter;
use crate::error::AppError;
use crate::models::forms::EnquiryRow;
use crate::repositories::forms::{self as repo, EnquiryTriage};

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("enquiry {id} does not exist"))
}

pub fn list(
    conn: &mut DbConn,
    filter: &EnquiryFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<EnquiryRow>, AppError> {
    Ok(repo::list_enquiries(conn, filter, before_id, limit)?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<EnquiryRow, AppError> {
    repo::find_enquiry(conn, id)?.ok_or_else(|| not_found(id))
}

pub fn update(conn: &mut DbConn, id: i64, change: EnquiryChange) -> Result<EnquiryRow, AppError> {
    conn.write_transaction(|conn| {
        let change = change.clone();
        let current = repo::find_enquiry(conn, id)?.ok_or_else(|| not_found(id))?;
        let mut assignee = current.assignee.clone();
        let mut note = current.note.clone();
        change.assignee.apply_to(&mut assignee);
        change.note.apply_to(&mut note);
        let triage = EnquiryTriage {
            status: change.status.unwrap_or(current.status.clone()),
            assignee,
            note,
            updated_at: now(),
        };
        let updated = repo::update_enquiry(conn, id, triage)?;
        super::emit::enquiry_updated(conn, &current, &updated)?;
        Ok(updated)
    })
}
