use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::customers::Customer;
use crate::models::customers::{Birthday, Lapsed};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BirthdayQuery {
    /// Days ahead, today included: 0 to 366 (default 14).
    #[param(minimum = 0, maximum = 366)]
    pub within_days: Option<i64>,
    /// IANA time zone that decides "today" (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BirthdayItem {
    /// The coming birthday (a 29 February birthday falls on 28 February in other years).
    pub date: NaiveDate,
    pub days_until: i64,
    pub turns: Option<i32>,
    /// With its `consents`: whom the shop may contact, and how.
    pub customer: Customer,
}

impl From<(i64, Birthday)> for BirthdayItem {
    fn from((days_until, birthday): (i64, Birthday)) -> Self {
        BirthdayItem { date: birthday.date, days_until, turns: birthday.turns, customer: birthday.customer.into() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BirthdayPage {
    pub items: Vec<BirthdayItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LapsedQuery {
    /// Silent for more than this many days (and more than twice their usual gap): 1 to 3650, default 90.
    #[param(minimum = 1, maximum = 3650)]
    pub days: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LapsedItem {
    pub orders_count: i64,
    /// Net, summed over currencies (minor units).
    pub total_spent: i64,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
    pub days_since_last_order: i64,
    /// Average days between their orders.
    pub usual_gap_days: f64,
    pub customer: Customer,
}

impl From<Lapsed> for LapsedItem {
    fn from(lapsed: Lapsed) -> Self {
        let row = lapsed.row;
        let span_days = (row.last_order_at - row.first_order_at).num_seconds() as f64 / 86_400.0;
        LapsedItem {
            orders_count: row.orders_count,
            total_spent: row.total_spent,
            first_order_at: row.first_order_at.and_utc(),
            last_order_at: row.last_order_at.and_utc(),
            days_since_last_order: row.days_since.floor() as i64,
            usual_gap_days: (span_days / (row.orders_count - 1).max(1) as f64 * 10.0).round() / 10.0,
            customer: lapsed.customer.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LapsedPage {
    pub items: Vec<LapsedItem>,
    pub next_cursor: Option<String>,
}
