use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::consent::single_line;
use crate::domain::costs::RedemptionCost;
use crate::domain::promo::{CustomerRef, PromoPatch};
use crate::domain::{Currency, Email, Patch};
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::promo_codes::{PromoCodeColumns, PromoCodeRow, RedemptionRow};

/// Parses a code as given on the wire into its stored form.
pub fn normalize_code(raw: &str) -> Result<String, String> {
    crate::domain::promo::PromoCode::parse(raw).map(String::from)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Discount {
    /// `percent` (value 1 to 100), `fixed` (value in minor units; needs `currency`) or
    /// `free_shipping` (value 0).
    #[schema(pattern = "^(percent|fixed|free_shipping)$")]
    pub r#type: String,
    #[serde(default)]
    pub value: i64,
}

/// A promo code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "code": "SPRING10", "description": "Spring sale", "discount": {"type": "percent", "value": 10},
    "currency": null, "valid_from": "2026-03-01T00:00:00Z", "valid_until": "2026-05-31T23:59:59Z", "max_redemptions": 500,
    "max_redemptions_per_customer": 1, "min_subtotal": 2000, "campaign_id": null, "active": true, "redemptions": 42,
    "created_at": "2026-02-20T10:00:00Z", "updated_at": "2026-02-20T10:00:00Z"}))]
pub struct PromoCode {
    pub id: i64,
    pub code: String,
    pub description: Option<String>,
    pub discount: Discount,
    pub currency: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub campaign_id: Option<i64>,
    pub active: bool,
    pub redemptions: i64,
    /// What the code costs (null when not given).
    pub cost: Option<RedemptionCost>,
    /// The cost so far: `fixed_minor + per_redemption_minor × redemptions`, in minor units
    /// of the cost's currency (null without a cost).
    pub cost_to_date: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PromoCodeRow> for PromoCode {
    fn from(row: PromoCodeRow) -> Self {
        let cost = row.cost();
        PromoCode {
            cost_to_date: cost.as_ref().map(|c| c.total(row.redemptions)),
            cost,
            id: row.id,
            code: row.code,
            description: row.description,
            discount: Discount { r#type: row.discount_type, value: row.discount_value },
            currency: row.currency,
            valid_from: row.valid_from.map(|t| t.and_utc()),
            valid_until: row.valid_until.map(|t| t.and_utc()),
            max_redemptions: row.max_redemptions,
            max_redemptions_per_customer: row.max_redemptions_per_customer,
            min_subtotal: row.min_subtotal,
            campaign_id: row.campaign_id,
            active: row.active,
            redemptions: row.redemptions,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Body of `POST /v1/promo-codes`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "spring10", "description": "Spring sale", "discount": {"type": "percent", "value": 10},
    "valid_until": "2026-05-31T23:59:59Z", "max_redemptions": 500, "max_redemptions_per_customer": 1, "min_subtotal": 2000}))]
pub struct PromoCodeInput {
    /// Case-insensitive, unique.
    pub code: String,
    pub description: Option<String>,
    pub discount: Discount,
    /// Required for a `fixed` discount; restricts the code to that currency.
    pub currency: Option<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    #[validate(range(min = 1, message = "must be 1 or more"))]
    #[schema(minimum = 1)]
    pub max_redemptions: Option<i64>,
    #[validate(range(min = 1, message = "must be 1 or more"))]
    #[schema(minimum = 1)]
    pub max_redemptions_per_customer: Option<i64>,
    #[validate(range(min = 0, message = "must be 0 or more"))]
    #[schema(minimum = 0)]
    pub min_subtotal: Option<i64>,
    pub campaign_id: Option<i64>,
    /// Default true.
    pub active: Option<bool>,
    /// What the code costs: a fixed part and a part per redemption, in minor units of
    /// `currency`. With a code restricted to a currency, the cost is in that currency
    /// (else 422 `cost.currency`).
    pub cost: Option<RedemptionCost>,
}

pub fn check_discount(errors: &mut FieldErrors, discount: &Discount, currency_given: bool) {
    let problem = match (discount.r#type.as_str(), discount.value) {
        ("percent", 1..=100) | ("free_shipping", 0) => None,
        ("percent", _) => Some(("discount.value", "a percent discount is from 1 to 100")),
        ("fixed", value) if value <= 0 => Some(("discount.value", "a fixed discount is more than 0")),
        ("fixed", _) if !currency_given => Some(("currency", "a fixed discount needs a currency")),
        ("fixed", _) => None,
        ("free_shipping", _) => Some(("discount.value", "free shipping has no value (0)")),
        _ => Some(("discount.type", "use percent, fixed or free_shipping")),
    };
    if let Some((field, message)) = problem {
        errors.0.push(crate::error::FieldError::new(field, message));
    }
}

impl PromoCodeInput {
    pub fn into_parts(self) -> Result<(String, PromoCodeColumns), AppError> {
        let mut errors = FieldErrors::default();
        let code = errors.parse("code", Some(self.code.as_str()), normalize_code).unwrap_or_default();
        let currency_given = self.currency.is_some();
        let currency = errors.parse("currency", self.currency, |c| Currency::parse(&c)).map(|c| c.as_str().to_string());
        check_discount(&mut errors, &self.discount, currency_given);
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until <= from {
                errors.0.push(crate::error::FieldError::new("valid_until", "must be after valid_from"));
            }
        }
        let cost = self.cost.and_then(|cost| cost.checked("cost", &mut errors.0));
        if let (Some(cost), Some(code_currency)) = (&cost, &currency) {
            if &cost.currency != code_currency {
                errors.0.push(crate::error::FieldError::new(
                    "cost.currency",
                    format!("the code is restricted to {code_currency}; give its cost in {code_currency} too"),
                ));
            }
        }
        let columns = PromoCodeColumns {
            description: errors.parse("description", self.description, |d| single_line(&d, 500)).flatten(),
            discount_type: self.discount.r#type,
            discount_value: self.discount.value,
            currency,
            valid_from: self.valid_from.map(|t| t.naive_utc()),
            valid_until: self.valid_until.map(|t| t.naive_utc()),
            max_redemptions: self.max_redemptions,
            max_redemptions_per_customer: self.max_redemptions_per_customer,
            min_subtotal: self.min_subtotal,
            campaign_id: self.campaign_id,
            active: self.active.unwrap_or(true),
            updated_at: crate::domain::now(),
            cost_currency: cost.as_ref().map(|c| c.currency.clone()),
            cost_fixed_minor: cost.as_ref().map(|c| c.fixed_minor),
            cost_per_redemption_minor: cost.as_ref().map(|c| c.per_redemption_minor),
        };
        errors.into_result((code, columns))
    }
}

/// `PATCH /v1/promo-codes/{code}` (merge patch; the code and its discount stay).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoCodePatchInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_from: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Patch<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub max_redemptions: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub max_redemptions_per_customer: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub min_subtotal: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub campaign_id: Patch<i64>,
    pub active: Option<bool>,
    /// Replaces the cost; null removes it.
    #[serde(default)]
    #[schema(value_type = Option<RedemptionCost>)]
    pub cost: Patch<RedemptionCost>,
}

fn at_least(errors: &mut FieldErrors, field: &str, patch: Patch<i64>, min: i64) -> Patch<i64> {
    match patch {
        Patch::Value(value) if value < min => {
            errors.0.push(crate::error::FieldError::new(field, format!("must be {min} or more")));
            Patch::Absent
        }
        other => other,
    }
}

impl PromoCodePatchInput {
    pub fn into_patch(self) -> Result<PromoPatch, AppError> {
        let mut errors = FieldErrors::default();
        let patch = PromoPatch {
            description: match self.description {
                Patch::Value(d) => match errors.parse("description", Some(d), |d| single_line(&d, 500)) {
                    Some(Some(d)) => Patch::Value(d),
                    Some(None) => Patch::Null,
                    None => Patch::Absent,
                },
                Patch::Null => Patch::Null,
                Patch::Absent => Patch::Absent,
            },
            valid_from: self.valid_from.map(|t| t.naive_utc()),
            valid_until: self.valid_until.map(|t| t.naive_utc()),
            max_redemptions: at_least(&mut errors, "max_redemptions", self.max_redemptions, 1),
            max_redemptions_per_customer: at_least(
                &mut errors,
                "max_redemptions_per_customer",
                self.max_redemptions_per_customer,
                1,
            ),
            min_subtotal: at_least(&mut errors, "min_subtotal", self.min_subtotal, 0),
            campaign_id: self.campaign_id,
            active: self.active,
            cost: match self.cost {
                Patch::Value(cost) => match cost.checked("cost", &mut errors.0) {
                    Some(cost) => Patch::Value(cost),
                    None => Patch::Absent,
                },
                other => other,
            },
        };
        errors.into_result(patch)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromoCodePage {
    pub items: Vec<PromoCode>,
    pub next_cursor: Option<String>,
}

/// Who a validation is for: `{"email": ...}` or `{"id": ...}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerReference {
    pub id: Option<i64>,
    pub email: Option<String>,
}

/// Body of `POST /v1/promo-codes/validate`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "SPRING10", "subtotal": 5000, "currency": "EUR", "customer": {"email": "ana@example.com"}}))]
pub struct ValidateInput {
    pub code: String,
    #[validate(range(min = 0, message = "must be 0 or more"))]
    #[schema(minimum = 0)]
    pub subtotal: i64,
    pub currency: String,
    pub customer: Option<CustomerReference>,
}

impl ValidateInput {
    pub fn parse(self) -> Result<(String, i64, String, Option<CustomerRef>), AppError> {
        let mut errors = FieldErrors::default();
        let code = errors.parse("code", Some(self.code.as_str()), normalize_code).unwrap_or_default();
        let currency =
            errors.parse("currency", Some(self.currency.as_str()), Currency::parse).map(|c| c.as_str().to_string());
        let customer = match self.customer {
            None => None,
            Some(CustomerReference { id: Some(id), email: None }) => Some(CustomerRef::Id(id)),
            Some(CustomerReference { id: None, email: Some(email) }) => {
                errors.parse("customer.email", Some(email.as_str()), Email::parse).map(CustomerRef::Email)
            }
            Some(_) => {
                errors.0.push(crate::error::FieldError::new("customer", "give either id or email"));
                None
            }
        };
        errors.into_result((code, self.subtotal, currency.unwrap_or_default(), customer))
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"valid": true, "reason": null, "discount_amount": 500}))]
pub struct Validation {
    pub valid: bool,
    /// Why the code does not apply.
    pub reason: Option<String>,
    /// Minor units; 0 when not valid.
    pub discount_amount: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Redemption {
    pub id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub discount_amount: i64,
    pub created_at: DateTime<Utc>,
}

impl From<RedemptionRow> for Redemption {
    fn from(row: RedemptionRow) -> Self {
        Redemption {
            id: row.id,
            order_id: row.order_id,
            customer_id: row.customer_id,
            discount_amount: row.discount_amount,
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionPage {
    pub items: Vec<Redemption>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CodePath {
    /// The code (any case).
    pub code: String,
}
