//! The rows the seed writes: every column given, ids included, so that a seed gives the
//! same ids on both backends. `treat_none_as_default_value = false` keeps each batch one
//! multi-row statement on SQLite and makes the rows usable by PostgreSQL's COPY.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{
    campaign_contacts, campaign_responses, campaigns, consent_events, customer_consents, customer_search_terms,
    customer_tags, customers, order_lines, orders, products, promo_codes, promo_redemptions, refunds, segments,
};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
pub struct CustomerInsert {
    pub id: i64,
    pub kind: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub preferred_language: Option<String>,
    pub source: String,
    pub attributes: String,
    pub notes: Option<String>,
    pub name_key: Option<String>,
    pub company_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_tags, treat_none_as_default_value = false)]
pub struct TagInsert {
    pub customer_id: i64,
    pub tag: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_search_terms, treat_none_as_default_value = false)]
pub struct TermInsert {
    pub term: String,
    pub customer_id: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = consent_events, treat_none_as_default_value = false)]
pub struct ConsentEventInsert {
    pub id: i64,
    pub customer_id: i64,
    pub channel: String,
    pub state: String,
    pub opt_in_level: String,
    pub source: String,
    pub method_detail: Option<String>,
    pub consent_text: Option<String>,
    pub consent_text_version: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
}

/// The current state of one channel (a copy of its latest event).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_consents, treat_none_as_default_value = false)]
pub struct CurrentConsentInsert {
    pub customer_id: i64,
    pub channel: String,
    pub state: String,
    pub opt_in_level: String,
    pub source: String,
    pub event_id: i64,
    pub occurred_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
pub struct ProductInsert {
    pub id: i64,
    pub sku: &'static str,
    pub name: &'static str,
    pub product_type: &'static str,
    pub category: Option<&'static str>,
    pub attributes: String,
    pub price: i64,
    pub currency: &'static str,
    pub track_inventory: bool,
    pub stock_quantity: i64,
    pub low_stock_threshold: Option<i64>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = promo_codes, treat_none_as_default_value = false)]
pub struct PromoCodeInsert {
    pub id: i64,
    pub code: &'static str,
    pub description: Option<&'static str>,
    pub discount_type: &'static str,
    pub discount_value: i64,
    pub currency: Option<&'static str>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub campaign_id: Option<i64>,
    pub active: bool,
    pub redemptions: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = segments, treat_none_as_default_value = false)]
pub struct SegmentInsert {
    pub id: i64,
    pub name: &'static str,
    pub description: Option<&'static str>,
    pub rules: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaigns, treat_none_as_default_value = false)]
pub struct CampaignInsert {
    pub id: i64,
    pub name: &'static str,
    pub channel: &'static str,
    pub segment_id: Option<i64>,
    pub rules: Option<String>,
    pub offer: Option<&'static str>,
    pub subject: Option<&'static str>,
    pub content: Option<&'static str>,
    pub promo_kind: &'static str,
    pub promo_code_id: Option<i64>,
    pub unique_prefix: Option<String>,
    pub unique_discount_type: Option<String>,
    pub unique_discount_value: Option<i64>,
    pub unique_currency: Option<String>,
    pub cap_max_contacts: i64,
    pub cap_per_days: i64,
    pub exclude_campaign_ids: &'static str,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    pub status: &'static str,
    pub audience: Option<String>,
    pub launched_at: Option<NaiveDateTime>,
    pub send_requested_at: Option<NaiveDateTime>,
    pub created_by: &'static str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct OrderInsert {
    pub id: i64,
    pub external_id: Option<String>,
    pub customer_id: i64,
    pub status: &'static str,
    pub channel: &'static str,
    pub source_detail: Option<&'static str>,
    pub placed_at: NaiveDateTime,
    pub currency: &'static str,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub refunded_total: i64,
    pub promo_code: Option<&'static str>,
    pub promo_code_id: Option<i64>,
    pub promo_code_status: Option<&'static str>,
    pub referral_code: Option<String>,
    pub created_by: &'static str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
pub struct LineInsert {
    pub id: i64,
    pub order_id: i64,
    pub product_id: Option<i64>,
    pub sku: &'static str,
    pub name: &'static str,
    pub product_type: Option<&'static str>,
    pub attributes: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub refunded_quantity: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = promo_redemptions, treat_none_as_default_value = false)]
pub struct RedemptionInsert {
    pub id: i64,
    pub promo_code_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub discount_amount: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = refunds, treat_none_as_default_value = false)]
pub struct RefundInsert {
    pub id: i64,
    pub order_id: i64,
    pub amount: i64,
    pub reason: &'static str,
    pub lines: String,
    pub created_by: &'static str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaign_contacts, treat_none_as_default_value = false)]
pub struct ContactInsert {
    pub id: i64,
    pub campaign_id: i64,
    pub customer_id: i64,
    pub holdout: bool,
    pub token: Option<String>,
    pub promo_code: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaign_responses, treat_none_as_default_value = false)]
pub struct ResponseInsert {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub customer_id: i64,
    pub kind: &'static str,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: &'static str,
}
