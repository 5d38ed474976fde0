//! An order as a checkout sends it, validated.

use chrono::NaiveDateTime;

use crate::domain::customer::CustomerDraft;
use crate::domain::promo::PromoCode;
use crate::domain::{ConsentChannel, Currency, Email, OrderStatus, SalesChannel};

/// Who bought.
#[derive(Debug, Clone)]
pub enum Buyer {
    Id(i64),
    ByEmail(Email, Box<CustomerDraft>),
}

#[derive(Debug, Clone)]
pub struct LineDraft {
    pub sku: String,
    pub name: String,
    pub product_type: Option<String>,
    pub attributes: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// A validated order: the totals add up, the lines are sane.
#[derive(Debug, Clone)]
pub struct OrderDraft {
    pub external_id: Option<String>,
    pub channel: SalesChannel,
    pub source_detail: Option<String>,
    pub placed_at: NaiveDateTime,
    pub currency: Currency,
    pub buyer: Buyer,
    pub lines: Vec<LineDraft>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub promo_code: Option<PromoCode>,
    pub referral_code: Option<String>,
    pub consent: Option<(Vec<ConsentChannel>, String)>,
}

/// A parsed refund: amount, reason, and (line id, quantity) pairs.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub amount: i64,
    pub reason: String,
    pub lines: Vec<(i64, i64)>,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_id: Option<i64>,
    pub status: Option<OrderStatus>,
    pub channel: Option<SalesChannel>,
    pub promo_code: Option<PromoCode>,
    pub placed_after: Option<NaiveDateTime>,
    pub placed_before: Option<NaiveDateTime>,
    pub sku: Option<String>,
}
