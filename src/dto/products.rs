use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::consent::single_line;
use crate::domain::products::{ProductFilter, ProductPatch};
use crate::domain::{parse_sku, Currency, Patch};
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::products::ProductDraft;
use crate::models::products::{ProductColumns, ProductRow, StockMovementRow};

/// A product of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring",
    "category": "jewellery", "attributes": {"material": "silver"}, "price": 2500, "currency": "EUR",
    "track_inventory": true, "stock_quantity": 12, "low_stock_threshold": 3, "low_stock": false, "active": true,
    "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-20T14:03:00Z"}))]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub product_type: String,
    pub category: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub track_inventory: bool,
    /// May be negative: sold beyond stock.
    pub stock_quantity: i64,
    pub low_stock_threshold: Option<i64>,
    /// Tracked and at or below its threshold.
    pub low_stock: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ProductRow> for Product {
    fn from(row: ProductRow) -> Self {
        let low_stock = row.track_inventory && row.low_stock_threshold.is_some_and(|t| row.stock_quantity <= t);
        Product {
            id: row.id,
            sku: row.sku,
            name: row.name,
            product_type: row.product_type,
            category: row.category,
            attributes: row.attributes.0,
            price: row.price,
            currency: row.currency,
            track_inventory: row.track_inventory,
            stock_quantity: row.stock_quantity,
            low_stock_threshold: row.low_stock_threshold,
            low_stock,
            active: row.active,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Body of `POST /v1/products`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "category": "jewellery",
    "attributes": {"material": "silver", "technique": "hammered"}, "price": 2500, "currency": "EUR",
    "track_inventory": true, "stock_quantity": 12, "low_stock_threshold": 3, "active": true}))]
pub struct ProductInput {
    /// Unique, 1 to 64 characters without spaces.
    pub sku: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// Lower-cased, e.g. `ring`.
    pub product_type: String,
    pub category: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    /// Minor units, >= 0.
    #[validate(range(min = 0, message = "must be 0 or more"))]
    #[schema(minimum = 0)]
    pub price: i64,
    /// ISO 4217.
    pub currency: String,
    /// Default false.
    pub track_inventory: Option<bool>,
    /// Initial stock (tracked products only), recorded as a movement.
    pub stock_quantity: Option<i64>,
    #[validate(range(min = 0, message = "must be 0 or more"))]
    #[schema(minimum = 0)]
    pub low_stock_threshold: Option<i64>,
    /// Default true.
    pub active: Option<bool>,
}

/// A required single line of text: trimmed, non-empty, at most `max` characters.
fn required_line(errors: &mut FieldErrors, field: &str, raw: &str, max: usize) -> Option<String> {
    match errors.parse(field, Some(raw), |t| single_line(t, max)) {
        Some(Some(text)) => Some(text),
        Some(None) => {
            errors.0.push(crate::error::FieldError::new(field, "must not be empty"));
            None
        }
        None => None,
    }
}

fn label(errors: &mut FieldErrors, field: &str, raw: &str) -> String {
    required_line(errors, field, raw, 100).map(|text| text.to_lowercase()).unwrap_or_default()
}

impl ProductInput {
    pub fn into_draft(self) -> Result<ProductDraft, AppError> {
        let mut errors = FieldErrors::default();
        let sku = errors.parse("sku", Some(self.sku.as_str()), parse_sku).unwrap_or_default();
        let name = required_line(&mut errors, "name", &self.name, 200).unwrap_or_default();
        let product_type = label(&mut errors, "product_type", &self.product_type);
        let category = self.category.as_deref().map(|c| label(&mut errors, "category", c)).filter(|c| !c.is_empty());
        let currency =
            errors.parse("currency", Some(self.currency.as_str()), Currency::parse).map(|c| c.as_str().to_string());
        let track_inventory = self.track_inventory.unwrap_or(false);
        if self.stock_quantity.is_some_and(|q| q != 0) && !track_inventory {
            errors.0.push(crate::error::FieldError::new("stock_quantity", "needs track_inventory: true"));
        }
        let draft = ProductDraft {
            sku,
            columns: ProductColumns {
                name,
                product_type,
                category,
                attributes: Value::Object(self.attributes.unwrap_or_default()).to_string(),
                price: self.price,
                currency: currency.unwrap_or_default(),
                track_inventory,
                low_stock_threshold: self.low_stock_threshold,
                active: self.active.unwrap_or(true),
                updated_at: crate::domain::now(),
            },
            stock_quantity: self.stock_quantity.unwrap_or(0),
        };
        errors.into_result(draft)
    }
}

/// `PATCH /v1/products/{sku}` (merge patch; stock changes go through stock adjustments).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchInput {
    pub name: Option<String>,
    pub product_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Patch<Map<String, Value>>,
    #[validate(range(min = 0, message = "must be 0 or more"))]
    #[schema(minimum = 0)]
    pub price: Option<i64>,
    pub currency: Option<String>,
    pub track_inventory: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub low_stock_threshold: Patch<i64>,
    pub active: Option<bool>,
}

impl ProductPatchInput {
    pub fn into_patch(self) -> Result<ProductPatch, AppError> {
        let mut errors = FieldErrors::default();
        let name = self.name.as_deref().and_then(|n| required_line(&mut errors, "name", n, 200));
        let patch = ProductPatch {
            name,
            product_type: self.product_type.as_deref().map(|t| label(&mut errors, "product_type", t)),
            category: match self.category {
                Patch::Value(c) => match label(&mut errors, "category", &c) {
                    c if c.is_empty() => Patch::Null,
                    c => Patch::Value(c),
                },
                other => other,
            },
            attributes: self.attributes,
            price: self.price,
            currency: errors.parse("currency", self.currency, |c| Currency::parse(&c)).map(|c| c.as_str().to_string()),
            track_inventory: self.track_inventory,
            low_stock_threshold: match self.low_stock_threshold {
                Patch::Value(t) if t < 0 => {
                    errors.0.push(crate::error::FieldError::new("low_stock_threshold", "must be 0 or more"));
                    Patch::Absent
                }
                other => other,
            },
            active: self.active,
        };
        errors.into_result(patch)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub product_type: Option<String>,
    pub category: Option<String>,
    pub active: Option<bool>,
    /// Tracked products at or below their threshold.
    pub low_stock: Option<bool>,
    /// Tracked products sold beyond their stock (negative quantity).
    pub oversold: Option<bool>,
}

impl ProductListQuery {
    /// The filter this query asks for (types and categories are stored lower-case).
    pub fn into_filter(self) -> ProductFilter {
        ProductFilter {
            product_type: self.product_type.map(|t| t.trim().to_lowercase()),
            category: self.category.map(|c| c.trim().to_lowercase()),
            active: self.active,
            low_stock: self.low_stock.unwrap_or(false),
            oversold: self.oversold.unwrap_or(false),
        }
    }
}

/// Body of `POST /v1/products/{sku}/stock-adjustments`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delta": 10, "reason": "restock", "note": "delivery 2026-11-21"}))]
pub struct StockAdjustmentInput {
    /// Non-zero, at most a billion either way; negative removes stock.
    #[schema(schema_with = stock_delta)]
    pub delta: i64,
    /// `restock`, `correction`, `damaged` or `return`.
    #[schema(pattern = "^(restock|correction|damaged|return)$")]
    pub reason: String,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// The largest stock movement one adjustment may make, either way.
pub const MAX_STOCK_DELTA: i64 = 1_000_000_000;

/// `delta`: a non-zero integer from -MAX_STOCK_DELTA to MAX_STOCK_DELTA.
fn stock_delta() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    OneOfBuilder::new()
        .item(range(-MAX_STOCK_DELTA, -1))
        .item(range(1, MAX_STOCK_DELTA))
        .description(Some("Non-zero, at most a billion either way; negative removes stock."))
        .into()
}

impl StockAdjustmentInput {
    pub fn parse(self) -> Result<(i64, String, Option<String>), AppError> {
        let mut errors = FieldErrors::default();
        if self.delta == 0 {
            errors.0.push(crate::error::FieldError::new("delta", "must not be 0"));
        } else if self.delta.abs() > MAX_STOCK_DELTA {
            errors.0.push(crate::error::FieldError::new(
                "delta",
                format!("must be from -{MAX_STOCK_DELTA} to {MAX_STOCK_DELTA}"),
            ));
        }
        let reason = errors.parse("reason", Some(self.reason), |r| match r.as_str() {
            "restock" | "correction" | "damaged" | "return" => Ok(r),
            _ => Err(format!("`{r}` is not restock, correction, damaged or return")),
        });
        let note = errors.parse("note", self.note, |n| single_line(&n, 500)).flatten();
        errors.into_result((self.delta, reason.unwrap_or_default(), note))
    }
}

/// One stock movement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StockMovement {
    pub id: i64,
    pub delta: i64,
    /// `restock`, `correction`, `damaged`, `return`, `sale`, `cancellation` or `refund`.
    pub reason: String,
    pub note: Option<String>,
    pub order_id: Option<i64>,
    pub quantity_after: i64,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<StockMovementRow> for StockMovement {
    fn from(row: StockMovementRow) -> Self {
        StockMovement {
            id: row.id,
            delta: row.delta,
            reason: row.reason,
            note: row.note,
            order_id: row.order_id,
            quantity_after: row.quantity_after,
            actor: row.actor,
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StockMovementPage {
    pub items: Vec<StockMovement>,
    pub next_cursor: Option<String>,
}
