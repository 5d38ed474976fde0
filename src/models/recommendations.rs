//! Rows of the recommendation tables (see migrations/*/2026-12-07-000021_recommendations).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};

use crate::db::schema::{customer_affinities, customer_price_bands, product_associations, product_popularity};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_price_bands)]
pub struct PriceBandRow {
    pub customer_id: i64,
    pub currency: String,
    pub low: i64,
    pub high: i64,
    pub units: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_affinities)]
pub struct AffinityRow {
    pub customer_id: i64,
    pub dimension: String,
    pub value: String,
    pub unit_share: f64,
    pub spend_share: f64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_associations)]
pub struct AssociationRow {
    pub product_id: i64,
    pub related_id: i64,
    pub customers: i64,
    pub lift: f64,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_popularity)]
pub struct PopularityRow {
    pub product_id: i64,
    pub product_type: String,
    pub customers: i64,
    pub units: i64,
}

/// An order line of a live order, with its units net of refunds.
#[derive(Debug, Clone, QueryableByName)]
pub struct LineRow {
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub product_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub product_type: Option<String>,
    /// The catalogue's type of the product (None for lines of no catalogue product).
    #[diesel(sql_type = Nullable<Text>)]
    pub catalogue_type: Option<String>,
    #[diesel(sql_type = Text)]
    pub attributes: String,
    #[diesel(sql_type = BigInt)]
    pub units: i64,
    #[diesel(sql_type = BigInt)]
    pub unit_price: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
}

/// A catalogue product a customer bought, and when last.
#[derive(Debug, Clone, QueryableByName)]
pub struct BoughtRow {
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub product_type: String,
    #[diesel(sql_type = Timestamp)]
    pub last_at: NaiveDateTime,
}

/// A product with what ranking needs, and how many customers bought it.
#[derive(Debug, Clone, QueryableByName)]
pub struct CandidateRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub product_type: String,
    #[diesel(sql_type = BigInt)]
    pub price: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub active: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub track_inventory: bool,
    #[diesel(sql_type = BigInt)]
    pub stock_quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub buyers: i64,
}

/// A related product of the "also bought" list.
#[derive(Debug, Clone, QueryableByName)]
pub struct RelatedRow {
    #[diesel(sql_type = BigInt)]
    pub product_id: i64,
    #[diesel(sql_type = BigInt)]
    pub customers: i64,
    #[diesel(sql_type = Double)]
    pub lift: f64,
    #[diesel(sql_type = BigInt)]
    pub position: i64,
}
