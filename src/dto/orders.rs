use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::dto::time::TimeFilter;
use validator::Validate;

use crate::domain::consent::{check_occurred_at, multi_line, single_line};
use crate::domain::orders::{Buyer, LineDraft, OrderDraft, OrderFilter, RefundRequest};
use crate::domain::promo::PromoCode;
use crate::domain::{parse_sku, ConsentChannel, Country, Currency, Email};
use crate::domain::{OrderStatus, SalesChannel};
use crate::dto::customers::CustomerInput;
use crate::error::AppError;
use crate::error::FieldError;
use crate::error::FieldErrors;
use crate::models::orders::{OrderLineRow, OrderRecord};

/// The channel names, for messages.
fn channel_names() -> String {
    SalesChannel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// Parses a sales channel as given in a body or a query.
pub fn parse_channel(raw: &str) -> Result<SalesChannel, String> {
    SalesChannel::parse(raw).ok_or_else(|| format!("`{raw}` is not one of {}", channel_names()))
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineInput {
    /// A known SKU links the line to the product and moves its stock; an unknown one is kept as given.
    pub sku: String,
    pub name: String,
    pub product_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    pub quantity: i64,
    /// Minor units.
    pub unit_price: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketingConsentInput {
    pub channels: Vec<ConsentChannel>,
    /// The exact wording ticked at checkout.
    pub text: String,
}

/// Body of `POST /v1/orders`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
  "external_id": "shop-10045", "channel": "web", "source_detail": "woocommerce", "placed_at": "2026-11-20T14:03:00Z",
  "currency": "EUR", "customer": {"email": "ana@example.com", "first_name": "Ana", "phone": "+33612345678"},
  "lines": [{"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "quantity": 2, "unit_price": 2500,
             "attributes": {"material": "silver"}}],
  "discount_total": 500, "shipping_total": 490, "tax_total": 0, "total": 4990, "promo_code": "SPRING10",
  "referral_code": null, "marketing_consent": {"channels": ["email"], "text": "Send me offers by email"}}))]
pub struct OrderInput {
    /// The shop's order number; unique.
    pub external_id: Option<String>,
    /// `web`, `marketplace`, `phone`, `email`, `store`, `event` or `other`.
    pub channel: String,
    pub source_detail: Option<String>,
    /// Default now; never in the future beyond a small skew.
    pub placed_at: Option<DateTime<Utc>>,
    pub currency: String,
    /// `{"id": N}`, or a customer upserted by email (like `PUT /v1/customers/by-email/{email}`).
    #[schema(value_type = Object)]
    pub customer: Value,
    pub lines: Vec<OrderLineInput>,
    #[serde(default)]
    pub discount_total: i64,
    #[serde(default)]
    pub shipping_total: i64,
    #[serde(default)]
    pub tax_total: i64,
    /// Must equal sum(quantity * unit_price) - discount_total + shipping_total + tax_total.
    pub total: i64,
    pub promo_code: Option<String>,
    pub referral_code: Option<String>,
    pub marketing_consent: Option<MarketingConsentInput>,
}

fn non_negative(errors: &mut FieldErrors, field: &str, value: i64) {
    if value < 0 {
        errors.0.push(FieldError::new(field, "must be 0 or more"));
    }
}

fn buyer(errors: &mut FieldErrors, value: Value, default_country: Option<Country>) -> Option<Buyer> {
    if let Some(id) = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("id")) {
        return match id.as_i64() {
            Some(id) if id > 0 => Some(Buyer::Id(id)),
            _ => {
                errors.0.push(FieldError::new("customer.id", "must be a customer id"));
                None
            }
        };
    }
    let input: CustomerInput = match serde_json::from_value(value) {
        Ok(input) => input,
        Err(error) => {
            errors.0.push(FieldError::new("customer", error.to_string()));
            return None;
        }
    };
    let Some(email) = input.email.clone() else {
        errors.0.push(FieldError::new("customer.email", "give {\"id\": N} or a customer with an email"));
        return None;
    };
    let email = errors.parse("customer.email", Some(email.as_str()), Email::parse)?;
    match input.into_draft(default_country) {
        Ok(mut draft) => {
            draft.source.get_or_insert(crate::domain::CustomerSource::Checkout);
            Some(Buyer::ByEmail(email, Box::new(draft)))
        }
        Err(AppError::Validation(found)) => {
            errors.0.extend(found.into_iter().map(|e| FieldError::new(format!("customer.{}", e.field), e.message)));
            None
        }
        Err(other) => {
            errors.0.push(FieldError::new("customer", other.to_string()));
            None
        }
    }
}

impl OrderInput {
    pub fn into_draft(self, default_country: Option<Country>) -> Result<OrderDraft, AppError> {
        let mut errors = FieldErrors::default();
        let now = crate::domain::now();
        let external_id = errors.parse("external_id", self.external_id, |e| single_line(&e, 100)).flatten();
        let channel = errors.parse("channel", Some(self.channel.as_str()), parse_channel);
        let currency = errors.parse("currency", Some(self.currency.as_str()), Currency::parse);
        let placed_at = errors
            .parse("placed_at", Some(self.placed_at.map_or(now, |t| t.naive_utc())), |t| check_occurred_at(t, now))
            .unwrap_or(now);
        if self.lines.is_empty() {
            errors.0.push(FieldError::new("lines", "an order needs at least one line"));
        }
        // In i128: a sum of i64 products cannot overflow it, so a sum out of range is a 422.
        let mut subtotal: i128 = 0;
        let mut lines = Vec::new();
        for (index, line) in self.lines.into_iter().enumerate() {
            let field = |name: &str| format!("lines[{index}].{name}");
            if line.quantity < 1 {
                errors.0.push(FieldError::new(field("quantity"), "must be 1 or more"));
            }
            non_negative(&mut errors, &field("unit_price"), line.unit_price);
            subtotal += i128::from(line.quantity) * i128::from(line.unit_price);
            let sku = errors.parse(&field("sku"), Some(line.sku.as_str()), parse_sku);
            let name = match errors.parse(&field("name"), Some(line.name.as_str()), |n| single_line(n, 200)) {
                Some(Some(name)) => Some(name),
                Some(None) => {
                    errors.0.push(FieldError::new(field("name"), "must not be empty"));
                    None
                }
                None => None,
            };
            let product_type = errors
                .parse(&field("product_type"), line.product_type, |t| single_line(&t, 100))
                .flatten()
                .map(|t| t.to_lowercase());
            if let (Some(sku), Some(name)) = (sku, name) {
                lines.push(LineDraft {
                    sku,
                    name,
                    product_type,
                    attributes: Value::Object(line.attributes.unwrap_or_default()).to_string(),
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                });
            }
        }
        non_negative(&mut errors, "discount_total", self.discount_total);
        non_negative(&mut errors, "shipping_total", self.shipping_total);
        non_negative(&mut errors, "tax_total", self.tax_total);
        let expected =
            subtotal - i128::from(self.discount_total) + i128::from(self.shipping_total) + i128::from(self.tax_total);
        if i64::try_from(subtotal).is_err() {
            errors.0.push(FieldError::new("lines", "the lines add up to more than the largest amount rapport stores"));
        } else if i128::from(self.total) != expected {
            errors.0.push(FieldError::new(
                "total",
                format!(
                    "is {} but lines ({subtotal}) - discount_total + shipping_total + tax_total = {expected}",
                    self.total
                ),
            ));
        }
        let buyer = buyer(&mut errors, self.customer, default_country);
        let promo_code =
            errors.parse("promo_code", self.promo_code.filter(|c| !c.trim().is_empty()), |c| PromoCode::parse(&c));
        let referral_code = errors.parse("referral_code", self.referral_code, |r| single_line(&r, 100)).flatten();
        let source_detail = errors.parse("source_detail", self.source_detail, |s| single_line(&s, 200)).flatten();
        let consent = self.marketing_consent.and_then(|c| {
            if c.channels.is_empty() {
                errors.0.push(FieldError::new("marketing_consent.channels", "give at least one channel"));
            }
            match errors.parse("marketing_consent.text", Some(c.text), |t| multi_line(&t, 2000)) {
                Some(Some(text)) => Some((c.channels, text)),
                Some(None) => {
                    errors.0.push(FieldError::new("marketing_consent.text", "must not be empty"));
                    None
                }
                None => None,
            }
        });
        if !errors.0.is_empty() {
            return Err(AppError::Validation(errors.0));
        }
        Ok(OrderDraft {
            external_id,
            channel: channel.expect("checked"),
            source_detail,
            placed_at,
            currency: currency.expect("checked"),
            buyer: buyer.expect("checked"),
            lines,
            subtotal: i64::try_from(subtotal).unwrap_or(i64::MAX),
            discount_total: self.discount_total,
            shipping_total: self.shipping_total,
            tax_total: self.tax_total,
            total: self.total,
            promo_code,
            referral_code,
            consent,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLine {
    pub id: i64,
    pub sku: String,
    /// The catalogue product, when the SKU is known.
    pub product_id: Option<i64>,
    pub name: String,
    pub product_type: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub quantity: i64,
    pub unit_price: i64,
    pub line_total: i64,
    pub refunded_quantity: i64,
}

impl From<OrderLineRow> for OrderLine {
    fn from(row: OrderLineRow) -> Self {
        OrderLine {
            id: row.id,
            sku: row.sku,
            product_id: row.product_id,
            name: row.name,
            product_type: row.product_type,
            attributes: row.attributes.0,
            quantity: row.quantity,
            unit_price: row.unit_price,
            line_total: row.quantity * row.unit_price,
            refunded_quantity: row.refunded_quantity,
        }
    }
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: i64,
    pub external_id: Option<String>,
    /// `placed`, `paid`, `fulfilled` or `cancelled`.
    pub status: String,
    pub customer_id: i64,
    pub channel: String,
    pub source_detail: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub refunded_total: i64,
    /// `total - refunded_total`.
    pub net_total: i64,
    pub promo_code: Option<String>,
    /// `applied`, `unknown`, `expired`, `exhausted` or `not_eligible`.
    pub promo_code_status: Option<String>,
    pub referral_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrderRecord> for Order {
    fn from(record: OrderRecord) -> Self {
        let o = record.order;
        Order {
            id: o.id,
            external_id: o.external_id,
            status: o.status,
            customer_id: o.customer_id,
            channel: o.channel,
            source_detail: o.source_detail,
            placed_at: o.placed_at.and_utc(),
            currency: o.currency,
            lines: record.lines.into_iter().map(Into::into).collect(),
            subtotal: o.subtotal,
            discount_total: o.discount_total,
            shipping_total: o.shipping_total,
            tax_total: o.tax_total,
            total: o.total,
            refunded_total: o.refunded_total,
            net_total: o.total - o.refunded_total,
            promo_code: o.promo_code,
            promo_code_status: o.promo_code_status,
            referral_code: o.referral_code,
            created_at: o.created_at.and_utc(),
            updated_at: o.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    #[param(minimum = 1)]
    pub customer_id: Option<i64>,
    #[param(value_type = Option<crate::dto::schema::OrderStatusName>, inline)]
    pub status: Option<OrderStatus>,
    #[param(value_type = Option<crate::dto::schema::SalesChannel>, inline)]
    pub channel: Option<SalesChannel>,
    #[param(pattern = r"^\s*[A-Za-z0-9_-]{2,40}\s*$")]
    pub promo_code: Option<String>,
    /// RFC 3339, or a date: from the start of that day in the shop's time zone; inclusive.
    #[param(inline)]
    pub placed_after: Option<TimeFilter>,
    /// RFC 3339, or a date: up to the end of that day in the shop's time zone; exclusive.
    #[param(inline)]
    pub placed_before: Option<TimeFilter>,
    /// Orders with a line of this SKU.
    pub sku: Option<String>,
}

impl OrderListQuery {
    /// The filter this query asks for; dates are days in the shop's time zone.
    pub fn into_filter(self, timezone: chrono_tz::Tz) -> Result<OrderFilter, AppError> {
        let promo_code = self
            .promo_code
            .as_deref()
            .map(PromoCode::parse)
            .transpose()
            .map_err(|m| AppError::BadRequest(format!("`promo_code`: {m}")))?;
        Ok(OrderFilter {
            customer_id: self.customer_id,
            status: self.status,
            channel: self.channel,
            promo_code,
            placed_after: self.placed_after.map(|t| t.start_utc(timezone)),
            placed_before: self.placed_before.map(|t| t.end_utc(timezone)),
            sku: self.sku,
        })
    }
}

/// Body of `POST /v1/orders/{id}/status`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "paid"}))]
pub struct StatusInput {
    /// `paid`, `fulfilled` or `cancelled`.
    #[schema(value_type = String, pattern = "^(paid|fulfilled|cancelled)$")]
    pub status: OrderStatus,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineInput {
    pub line_id: i64,
    pub quantity: i64,
}

/// Body of `POST /v1/orders/{id}/refunds`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 2500, "reason": "ring too small", "lines": [{"line_id": 11, "quantity": 1}]}))]
pub struct RefundInput {
    /// Minor units, more than 0; never more than what is left of the total.
    #[validate(range(min = 1, message = "must be more than 0"))]
    #[schema(minimum = 1)]
    pub amount: i64,
    pub reason: String,
    pub lines: Option<Vec<RefundLineInput>>,
}

impl RefundInput {
    pub fn parse(self) -> Result<RefundRequest, AppError> {
        let mut errors = FieldErrors::default();
        let reason = match errors.parse("reason", Some(self.reason), |r| single_line(&r, 500)) {
            Some(Some(reason)) => reason,
            Some(None) => {
                errors.0.push(FieldError::new("reason", "must not be empty"));
                String::new()
            }
            None => String::new(),
        };
        let lines: Vec<(i64, i64)> =
            self.lines.unwrap_or_default().into_iter().map(|l| (l.line_id, l.quantity)).collect();
        for (index, (_, quantity)) in lines.iter().enumerate() {
            if *quantity < 1 {
                errors.0.push(FieldError::new(format!("lines[{index}].quantity"), "must be 1 or more"));
            }
        }
        errors.into_result(RefundRequest { amount: self.amount, reason, lines })
    }
}
