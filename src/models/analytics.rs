//! Rows read for analytics: order facts for the sales rollups and the rollups themselves.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Nullable, Text, Timestamp};

use crate::domain::sales::{Figures, LineFacts, OrderFacts};
use std::collections::HashMap;

use crate::domain::analytics::CodeFigures;
use crate::models::campaigns::{CampaignRow, Report};
use crate::models::customers::CustomerRecord;

#[derive(Debug, QueryableByName)]
pub struct OrderFactsRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Text)]
    pub channel: String,
    /// The customer's source.
    #[diesel(sql_type = Text)]
    pub source: String,
    #[diesel(sql_type = Timestamp)]
    pub placed_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub promo_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub promo_code_status: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub subtotal: i64,
    #[diesel(sql_type = BigInt)]
    pub discount_total: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded_total: i64,
    /// The customer's first order in this currency (earliest placed, then lowest id).
    #[diesel(sql_type = Bool)]
    pub is_first: bool,
}

#[derive(Debug, QueryableByName)]
pub struct LineFactsRow {
    #[diesel(sql_type = BigInt)]
    pub order_id: i64,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub product_type: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub refunded_quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub unit_price: i64,
}

impl OrderFactsRow {
    pub fn into_facts(self, lines: Vec<LineFactsRow>) -> (OrderFacts, bool) {
        let promo_code = self.promo_code.filter(|_| self.promo_code_status.as_deref() == Some("applied"));
        let facts = OrderFacts {
            id: self.id,
            customer_id: self.customer_id,
            currency: self.currency,
            channel: self.channel,
            source: self.source,
            placed_at: self.placed_at,
            cancelled: self.status == crate::domain::OrderStatus::Cancelled.as_str(),
            promo_code,
            subtotal: self.subtotal,
            discount_total: self.discount_total,
            total: self.total,
            refunded_total: self.refunded_total,
            lines: lines
                .into_iter()
                .map(|l| LineFacts {
                    sku: l.sku,
                    product_type: l.product_type,
                    quantity: l.quantity,
                    refunded_quantity: l.refunded_quantity,
                    unit_price: l.unit_price,
                })
                .collect(),
        };
        (facts, self.is_first)
    }
}

/// Rollup figures keyed by a day or by a dimension value.
#[derive(Debug, QueryableByName)]
pub struct FiguresRow {
    #[diesel(sql_type = Text)]
    pub value: String,
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub units: i64,
    #[diesel(sql_type = BigInt)]
    pub gross: i64,
    #[diesel(sql_type = BigInt)]
    pub discounts: i64,
    #[diesel(sql_type = BigInt)]
    pub refunds: i64,
    #[diesel(sql_type = BigInt)]
    pub new_customers: i64,
}

impl FiguresRow {
    pub fn figures(&self) -> Figures {
        Figures {
            orders: self.orders,
            units: self.units,
            gross: self.gross,
            discounts: self.discounts,
            refunds: self.refunds,
            new_customers: self.new_customers,
        }
    }
}

#[derive(Debug, QueryableByName)]
pub struct PeriodCountRow {
    #[diesel(sql_type = Date)]
    pub period_start: NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub customers: i64,
}

#[derive(Debug, QueryableByName)]
pub struct KeyCountRow {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// A stored purchase day (`domain::purchase_days`), as read.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::purchase_days)]
pub struct PurchaseDayRow {
    pub customer_id: i64,
    pub dimension: String,
    pub value: String,
    pub currency: String,
    pub day: NaiveDate,
    pub previous_day: Option<NaiveDate>,
    pub next_day: Option<NaiveDate>,
}

pub struct Promotions {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    /// Ranked by revenue.
    pub codes: Vec<CodeFigures>,
    pub with_code: Figures,
    pub without_code: Figures,
    /// Campaigns launched in the range with their reports.
    pub campaigns: Vec<(CampaignRow, Report)>,
    /// Contacts per campaign who clicked or replied.
    pub responders: HashMap<i64, i64>,
    /// The costs of the codes in `codes` that have one.
    pub code_costs: HashMap<String, crate::domain::costs::RedemptionCost>,
    /// Flows (not drafts) with a cost in the chosen currency, with their reports (since
    /// activation).
    pub flows: Vec<(crate::models::flows::FlowView, crate::models::flows::FlowReport)>,
}

pub struct TopCustomer {
    pub customer: Option<CustomerRecord>,
    pub customer_id: i64,
    pub orders: i64,
    pub spent: i64,
}

pub struct CustomerValue {
    pub currency: Option<String>,
    pub customers: i64,
    pub average: f64,
    /// p50 (the median), p90, p99: nearest rank.
    pub percentiles: [i64; 3],
    pub repeat_customers: i64,
    /// Over customers with at least two orders: (last − first) / (orders − 1).
    pub average_days_between_orders: Option<f64>,
    pub top: Vec<TopCustomer>,
}

pub struct RfmFigures {
    pub currency: Option<String>,
    pub segments: Vec<RfmSegmentRow>,
}

pub struct ChannelFigures {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    pub channels: Vec<(String, Figures)>,
    pub sources: Vec<SourceRow>,
}

#[derive(Debug, QueryableByName)]
pub struct SourceRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub source: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub net_revenue: i64,
}

#[derive(Debug, QueryableByName)]
pub struct RfmSegmentRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub segment: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub revenue: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    pub recency_days: f64,
}
