use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{products, stock_movements};
use crate::db::Json;

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
pub struct ProductRow {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub product_type: String,
    pub category: Option<String>,
    pub attributes: Json<serde_json::Map<String, serde_json::Value>>,
    pub price: i64,
    pub currency: String,
    pub track_inventory: bool,
    pub stock_quantity: i64,
    pub low_stock_threshold: Option<i64>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The editable columns of a product.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = products, treat_none_as_null = true)]
pub struct ProductColumns {
    pub name: String,
    pub product_type: String,
    pub category: Option<String>,
    pub attributes: String,
    pub price: i64,
    pub currency: String,
    pub track_inventory: bool,
    pub low_stock_threshold: Option<i64>,
    pub active: bool,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products)]
pub struct NewProduct {
    pub sku: String,
    #[diesel(embed)]
    pub columns: ProductColumns,
    pub stock_quantity: i64,
    pub created_at: NaiveDateTime,
}

impl ProductRow {
    pub fn columns(&self) -> ProductColumns {
        ProductColumns {
            name: self.name.clone(),
            product_type: self.product_type.clone(),
            category: self.category.clone(),
            attributes: self.attributes.to_text(),
            price: self.price,
            currency: self.currency.clone(),
            track_inventory: self.track_inventory,
            low_stock_threshold: self.low_stock_threshold,
            active: self.active,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stock_movements)]
pub struct StockMovementRow {
    pub id: i64,
    pub product_id: i64,
    pub delta: i64,
    pub reason: String,
    pub note: Option<String>,
    pub order_id: Option<i64>,
    pub quantity_after: i64,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = stock_movements)]
pub struct NewStockMovement {
    pub product_id: i64,
    pub delta: i64,
    pub reason: String,
    pub note: Option<String>,
    pub order_id: Option<i64>,
    pub quantity_after: i64,
    pub actor: String,
    pub created_at: NaiveDateTime,
}

/// A new product, validated.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    pub sku: String,
    pub columns: ProductColumns,
    pub stock_quantity: i64,
}
