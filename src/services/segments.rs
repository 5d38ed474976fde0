//! Segments: saved rule trees; counting, previewing and listing their members.

use super::now;
use crate::db::DbConn;
use crate::domain::segment::Rule;
use crate::domain::segment::{SegmentDraft, SegmentPatch};
use crate::error::AppError;
use crate::models::customers::CustomerRecord;
use crate::models::segments::{NewSegment, SegmentChanges, SegmentRow};
use crate::repositories::{customers as customer_repo, segments as repo};

/// Customers a preview shows.
pub const SAMPLE_SIZE: i64 = 20;

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("segment {id} does not exist"))
}

pub fn create(conn: &mut DbConn, draft: SegmentDraft) -> Result<SegmentRow, AppError> {
    let now = now();
    Ok(repo::insert(
        conn,
        NewSegment {
            name: draft.name,
            description: draft.description,
            rules: draft.rules_json,
            created_at: now,
            updated_at: now,
        },
    )?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<SegmentRow, AppError> {
    repo::find(conn, id)?.ok_or_else(|| not_found(id))
}

pub fn patch(conn: &mut DbConn, id: i64, patch: SegmentPatch) -> Result<SegmentRow, AppError> {
    conn.write_transaction(|conn| {
        let patch = patch.clone();
        let current = get(conn, id)?;
        let mut description = current.description;
        patch.description.apply_to(&mut description);
        let changes = SegmentChanges {
            name: patch.name.unwrap_or(current.name),
            description: Some(description),
            rules: patch.rules_json.unwrap_or_else(|| current.rules.to_text()),
            updated_at: now(),
        };
        Ok(repo::update(conn, id, changes)?)
    })
}

/// A segment used by a draft campaign stays until the campaign is changed or launched.
pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), AppError> {
    conn.write_transaction(|conn| {
        get(conn, id)?;
        let drafts = repo::draft_campaigns_using(conn, id)?;
        if let Some(first) = drafts.first() {
            return Err(AppError::Conflict {
                detail: format!("draft campaign {first} uses this segment; change or launch it first"),
                existing_id: Some(*first),
            });
        }
        Ok(repo::delete(conn, id)?)
    })
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> Result<Vec<SegmentRow>, AppError> {
    Ok(repo::list(conn, before_id, limit)?)
}

/// The rule tree of a stored segment.
pub fn rule_of(row: &SegmentRow) -> Result<Rule, AppError> {
    crate::domain::segment::parse_rules(&row.rules.0)
}

/// The count and the newest members.
pub fn preview(conn: &mut DbConn, rule: &Rule) -> Result<(i64, Vec<CustomerRecord>), AppError> {
    let now = now();
    let (count, ids) = repo::count_and_newest(conn, rule, now, SAMPLE_SIZE)?;
    Ok((count, in_order(conn, &ids)?))
}

/// A page of members, newest first.
pub fn members(
    conn: &mut DbConn,
    id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<CustomerRecord>, AppError> {
    let rule = rule_of(&get(conn, id)?)?;
    let ids = repo::member_ids(conn, &rule, now(), before_id, limit)?;
    in_order(conn, &ids)
}

fn in_order(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<CustomerRecord>, AppError> {
    let mut by_id = customer_repo::find_many(conn, ids)?;
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Brings RFM scores up to date every `interval` (they are recomputed only when order
/// statistics changed), so customer records show current scores without a request paying
/// for the recomputation. With several instances on one database, one of them does it
/// per interval (a lease).
pub fn spawn_rfm_refresh(database: crate::db::Database, interval: std::time::Duration) {
    if interval.is_zero() {
        return;
    }
    std::thread::Builder::new()
        .name("rfm-refresh".into())
        .spawn(move || loop {
            let rescore = |conn: &mut DbConn| Ok(repo::ensure_rfm_current(conn)?);
            if let Err(error) = super::leases::once_per_period(&database, "rfm-refresh", interval, rescore) {
                tracing::warn!(%error, "RFM rescoring failed");
            }
            std::thread::sleep(interval);
        })
        .expect("start the RFM refresh thread");
}
