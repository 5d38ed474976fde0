use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{customer_order_stats, idempotency_keys, order_lines, orders, refunds};
use crate::db::Json;

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct OrderRow {
    pub id: i64,
    pub external_id: Option<String>,
    pub customer_id: i64,
    pub status: String,
    pub channel: String,
    pub source_detail: Option<String>,
    pub placed_at: NaiveDateTime,
    pub currency: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub refunded_total: i64,
    pub promo_code: Option<String>,
    pub promo_code_id: Option<i64>,
    pub promo_code_status: Option<String>,
    pub referral_code: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrder {
    pub external_id: Option<String>,
    pub customer_id: i64,
    pub status: String,
    pub channel: String,
    pub source_detail: Option<String>,
    pub placed_at: NaiveDateTime,
    pub currency: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub promo_code: Option<String>,
    pub promo_code_id: Option<i64>,
    pub promo_code_status: Option<String>,
    pub referral_code: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
pub struct OrderLineRow {
    pub id: i64,
    pub order_id: i64,
    pub product_id: Option<i64>,
    pub sku: String,
    pub name: String,
    pub product_type: Option<String>,
    pub attributes: Json<serde_json::Map<String, serde_json::Value>>,
    pub quantity: i64,
    pub unit_price: i64,
    pub refunded_quantity: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines)]
pub struct NewOrderLine {
    pub order_id: i64,
    pub product_id: Option<i64>,
    pub sku: String,
    pub name: String,
    pub product_type: Option<String>,
    pub attributes: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// An order with its lines.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub order: OrderRow,
    pub lines: Vec<OrderLineRow>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refunds)]
pub struct NewRefund {
    pub order_id: i64,
    pub amount: i64,
    pub reason: String,
    pub lines: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// A refund written with its id, as the seed numbers its rows (`NewRefund` leaves the id
/// to the database).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refunds, treat_none_as_default_value = false)]
pub struct RefundWithId {
    pub id: i64,
    pub order_id: i64,
    pub amount: i64,
    pub reason: String,
    pub lines: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// Net purchase statistics of a customer in one currency.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = customer_order_stats)]
pub struct CustomerStatsRow {
    pub customer_id: i64,
    pub currency: String,
    pub orders_count: i64,
    pub total_spent: i64,
    pub first_order_at: NaiveDateTime,
    pub last_order_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub actor: String,
    pub idempotency_key: String,
    pub request_hash: String,
    pub status: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub response_location: Option<String>,
    pub created_at: NaiveDateTime,
}
