use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{referral_codes, referrals};
use crate::models::orders::CustomerStatsRow;

/// A customer's own code, which they share.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = referral_codes)]
pub struct ReferralCodeRow {
    pub customer_id: i64,
    pub code: String,
    pub created_at: NaiveDateTime,
}

/// Who referred a customer: the owner of the code their first order carried.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = referrals)]
pub struct ReferralRow {
    pub referred_id: i64,
    pub referrer_id: i64,
    pub order_id: i64,
    pub code: String,
    pub created_at: NaiveDateTime,
}

/// A referred customer's name and email, for the referrer's list.
#[derive(Debug, Clone, Queryable)]
pub struct ReferredContact {
    pub id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// Net revenue in one currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct RevenueRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub amount: i64,
}

/// A referrer's code, who referred them, and one page of the customers they brought.
#[derive(Debug, Clone)]
pub struct ReferralOverview {
    pub customer_id: i64,
    pub code: String,
    pub referred_by: Option<i64>,
    pub referred_count: i64,
    /// Net revenue of every referred customer, per currency.
    pub revenue: Vec<RevenueRow>,
    pub referred: Vec<ReferredCustomer>,
}

#[derive(Debug, Clone)]
pub struct ReferredCustomer {
    pub referral: ReferralRow,
    pub contact: Option<ReferredContact>,
    /// Net purchase statistics per currency.
    pub stats: Vec<CustomerStatsRow>,
}
