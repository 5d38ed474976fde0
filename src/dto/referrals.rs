use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::models::orders::CustomerStatsRow;
use crate::models::referrals::RevenueRow;
use crate::models::referrals::{ReferralOverview, ReferredCustomer};

/// Net revenue in one currency, in minor units (refunds and cancellations subtracted).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"currency": "EUR", "amount": 12490}))]
pub struct ReferralRevenue {
    pub currency: String,
    pub amount: i64,
}

impl From<RevenueRow> for ReferralRevenue {
    fn from(row: RevenueRow) -> Self {
        ReferralRevenue { currency: row.currency, amount: row.amount }
    }
}

impl From<&CustomerStatsRow> for ReferralRevenue {
    fn from(row: &CustomerStatsRow) -> Self {
        ReferralRevenue { currency: row.currency.clone(), amount: row.total_spent }
    }
}

/// A customer someone referred, and what they bought since.
#[derive(Debug, Serialize, ToSchema)]
pub struct Referred {
    pub customer_id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// When their first order linked them.
    pub referred_at: DateTime<Utc>,
    /// The order that carried the code.
    pub order_id: i64,
    /// Orders not cancelled, every currency together.
    pub orders_count: i64,
    pub revenue: Vec<ReferralRevenue>,
}

impl From<ReferredCustomer> for Referred {
    fn from(referred: ReferredCustomer) -> Self {
        let contact = referred.contact;
        Referred {
            customer_id: referred.referral.referred_id,
            first_name: contact.as_ref().and_then(|c| c.first_name.clone()),
            last_name: contact.as_ref().and_then(|c| c.last_name.clone()),
            email: contact.and_then(|c| c.email),
            referred_at: referred.referral.created_at.and_utc(),
            order_id: referred.referral.order_id,
            orders_count: referred.stats.iter().map(|s| s.orders_count).sum(),
            revenue: referred.stats.iter().map(ReferralRevenue::from).collect(),
        }
    }
}

/// A customer's referral code and the customers it brought (one page of them).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"customer_id": 42, "code": "K7MZ3QXA", "referred_by": null, "referred_count": 1,
    "revenue": [{"currency": "EUR", "amount": 4990}],
    "referred": [{"customer_id": 57, "first_name": "Ben", "last_name": "Meyer", "email": "ben@example.com",
        "referred_at": "2026-11-20T14:03:00Z", "order_id": 311, "orders_count": 1, "revenue": [{"currency": "EUR", "amount": 4990}]}],
    "next_cursor": null}))]
pub struct Referral {
    pub customer_id: i64,
    /// The customer's code to share: 8 characters, matched case-insensitively.
    pub code: String,
    /// The customer who referred this one, if any.
    pub referred_by: Option<i64>,
    /// Every customer this one referred (not only this page).
    pub referred_count: i64,
    /// Net revenue of every referred customer, per currency.
    pub revenue: Vec<ReferralRevenue>,
    /// Referred customers, newest customer first (paged with `limit` and `cursor`).
    pub referred: Vec<Referred>,
    /// Null on the last page of `referred`.
    pub next_cursor: Option<String>,
}

impl Referral {
    /// `referred` is the page already cut to `limit`; `next_cursor` comes with it.
    pub fn new(overview: ReferralOverview, referred: Vec<ReferredCustomer>, next_cursor: Option<String>) -> Self {
        Referral {
            customer_id: overview.customer_id,
            code: overview.code,
            referred_by: overview.referred_by,
            referred_count: overview.referred_count,
            revenue: overview.revenue.into_iter().map(Into::into).collect(),
            referred: referred.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}
