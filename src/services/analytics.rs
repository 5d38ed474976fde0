//! Analytics for dashboards.

use chrono::NaiveDate;

use crate::db::DbConn;
use crate::domain::period::{bucket_index, Bucket};
use crate::error::AppError;
use crate::repositories::analytics as repo;

/// Consent changes of one period: (channel, true for an opt-in / false for an opt-out).
pub struct ConsentPeriod {
    pub period_start: NaiveDate,
    pub changes: Vec<(String, bool)>,
}

/// Consent figures: (channel, state, customers) now; each period's opt-ins (`true`) and
/// opt-outs (`false`) per channel; (customer source, customers, email-subscribed).
pub struct ConsentFigures {
    pub states: Vec<(String, String, i64)>,
    pub periods: Vec<ConsentPeriod>,
    pub by_source: Vec<(String, i64, i64)>,
}

/// Consent now per channel, opt-ins and opt-outs per period, email opt-in by source.
pub fn consent(conn: &mut DbConn, buckets: &[Bucket]) -> Result<ConsentFigures, AppError> {
    let mut periods: Vec<ConsentPeriod> =
        buckets.iter().map(|b| ConsentPeriod { period_start: b.period_start, changes: Vec::new() }).collect();
    if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
        for (at, channel, state) in repo::consent_changes(conn, first.utc_start, last.utc_end)? {
            if let Some(index) = bucket_index(buckets, at) {
                periods[index].changes.push((channel, state == "subscribed"));
            }
        }
    }
    Ok(ConsentFigures { states: repo::consent_states(conn)?, periods, by_source: repo::email_opt_in_by_source(conn)? })
}
