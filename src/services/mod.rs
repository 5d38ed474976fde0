//! Business rules and transactions. Services take domain types and `&mut DbConn`.

pub mod consents;
pub mod customers;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// Now, in UTC, truncated to microseconds (what both backends store exactly).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
