//! Changes to a catalogue product.

use crate::domain::Patch;

/// A parsed merge patch of a product (attributes merge key by key).
#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub product_type: Option<String>,
    pub category: Patch<String>,
    pub attributes: Patch<serde_json::Map<String, serde_json::Value>>,
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub track_inventory: Option<bool>,
    pub low_stock_threshold: Patch<i64>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub product_type: Option<String>,
    pub category: Option<String>,
    pub active: Option<bool>,
    pub low_stock: bool,
    pub oversold: bool,
}
