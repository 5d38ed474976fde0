use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::campaign::{placeholders, AudienceCounts, PromoSpec};
use crate::domain::campaign::{CampaignSpec, ResponseReport};
use crate::domain::costs::{ContactCost, CostFigures};
use crate::domain::merge_patch;
use crate::domain::{clean_text, ConsentChannel, Currency, ResponseKind};
use crate::dto::promo_codes::{normalize_code, Discount};
use crate::dto::rate;
use crate::error::AppError;
use crate::error::FieldError;
use crate::error::FieldErrors;
use crate::models::campaigns::CampaignRow;
use crate::models::campaigns::{CampaignView, ContactView, Report};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// Contacts at most, across all campaigns...
    pub max_contacts: i64,
    /// ...in this many days.
    pub per_days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UniqueCodesInput {
    /// Start of every code, e.g. `WINBACK` gives `WINBACK-7KQ2M9XA`.
    pub prefix: String,
    pub discount: Discount,
    /// Required for a `fixed` discount.
    pub currency: Option<String>,
}

/// Either `{"code": "SPRING10"}` (an existing code for everyone) or
/// `{"unique_codes": {...}}` (one single-use code per recipient). Null: no promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoInput {
    pub code: Option<String>,
    pub unique_codes: Option<UniqueCodesInput>,
}

/// Body of `POST /v1/campaigns`.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Winter boots", "channel": "email", "segment_id": 3,
    "offer": "15% off boots", "subject": "{{first_name}}, winter is here",
    "content": "Hello {{first_name}},\nyour code {{promo_code}} takes 15% off: https://shop.example/boots\nUnsubscribe: {{unsubscribe_url}}",
    "promo": {"unique_codes": {"prefix": "BOOTS", "discount": {"type": "percent", "value": 15}}},
    "frequency_cap": {"max_contacts": 2, "per_days": 7}, "exclude_campaign_ids": [], "holdout_percent": 10,
    "attribution_window_days": 14}))]
pub struct CampaignInput {
    pub name: String,
    pub channel: ConsentChannel,
    /// A saved segment, or `rules` (not both).
    pub segment_id: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub rules: Option<Value>,
    pub offer: Option<String>,
    pub subject: Option<String>,
    /// Template: `{{first_name}}`, `{{last_name}}`, `{{promo_code}}`, `{{unsubscribe_url}}`.
    /// Links written in it become tracked click links per recipient.
    pub content: Option<String>,
    /// An optional HTML version of `content` (the same variables; values are HTML-escaped),
    /// sent with it as multipart/alternative. Email only.
    pub content_html: Option<String>,
    pub promo: Option<PromoInput>,
    /// Default from `RAPPORT_FREQUENCY_CAP`.
    pub frequency_cap: Option<FrequencyCap>,
    pub exclude_campaign_ids: Option<Vec<i64>>,
    /// 0 to 50 (default 0).
    pub holdout_percent: Option<i64>,
    /// 1 to 365 (default 14).
    pub attribution_window_days: Option<i64>,
    /// What the campaign costs: a fixed part and a part per contacted customer, in minor
    /// units of `currency`. Only attributed orders in that currency are set against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<ContactCost>,
}

/// Whether a template uses `{{promo_code}}` while the campaign gives none.
fn promo_uses_missing(promo: &Option<PromoInput>, used: &[String]) -> bool {
    promo.is_none() && used.iter().any(|p| p == "promo_code")
}

fn optional_text(errors: &mut FieldErrors, field: &str, raw: Option<String>, max: usize) -> Option<String> {
    let text = raw.as_deref().map(str::trim).filter(|t| !t.is_empty())?.to_string();
    if text.chars().count() > max {
        errors.0.push(FieldError::new(field, format!("must be at most {max} characters")));
    }
    Some(text)
}

impl CampaignInput {
    pub fn into_spec(self) -> Result<CampaignSpec, AppError> {
        let mut errors = FieldErrors(Vec::new());
        let name = clean_text(&self.name).filter(|n| n.chars().count() <= 200);
        if name.is_none() {
            errors.0.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        let rules = match (self.segment_id, self.rules) {
            (Some(_), Some(_)) => {
                errors.0.push(FieldError::new("rules", "give segment_id or rules, not both"));
                None
            }
            (None, None) => {
                errors.0.push(FieldError::new("segment_id", "give segment_id or rules"));
                None
            }
            (_, Some(rules)) => match crate::domain::segment::parse(&rules, "rules") {
                Ok(_) => Some(rules.to_string()),
                Err(found) => {
                    errors.0.extend(found);
                    None
                }
            },
            (Some(_), None) => None,
        };
        let subject = optional_text(&mut errors, "subject", self.subject, 300);
        let content = optional_text(&mut errors, "content", self.content, 100_000);
        let content_html = optional_text(&mut errors, "content_html", self.content_html, 100_000);
        if let Some(html) = &content_html {
            if self.channel != ConsentChannel::Email {
                errors.0.push(FieldError::new("content_html", "only an email has an HTML part"));
            }
            match crate::domain::templates::variables(html, true) {
                Ok(used) if promo_uses_missing(&self.promo, &used) => {
                    errors.0.push(FieldError::new("content_html", "uses {{promo_code}} but the campaign has no promo"))
                }
                Ok(_) => {}
                Err(message) => errors.0.push(FieldError::new("content_html", message)),
            }
        }
        let offer = optional_text(&mut errors, "offer", self.offer, 2000);
        let promo = self.promo.map(|p| promo_spec(&mut errors, p)).unwrap_or(PromoSpec::None);
        for (field, template) in [("subject", &subject), ("content", &content)] {
            if let Some(template) = template {
                match placeholders(template) {
                    Ok(used) if promo == PromoSpec::None && used.iter().any(|p| p == "promo_code") => {
                        errors.0.push(FieldError::new(field, "uses {{promo_code}} but the campaign has no promo"))
                    }
                    Ok(_) => {}
                    Err(message) => errors.0.push(FieldError::new(field, message)),
                }
            }
        }
        let frequency_cap = self.frequency_cap.map(|cap| {
            if !(1..=100).contains(&cap.max_contacts) {
                errors.0.push(FieldError::new("frequency_cap.max_contacts", "must be from 1 to 100"));
            }
            if !(1..=365).contains(&cap.per_days) {
                errors.0.push(FieldError::new("frequency_cap.per_days", "must be from 1 to 365"));
            }
            (cap.max_contacts, cap.per_days)
        });
        let holdout_percent = self.holdout_percent.unwrap_or(0);
        if !(0..=50).contains(&holdout_percent) {
            errors.0.push(FieldError::new("holdout_percent", "must be from 0 to 50"));
        }
        let attribution_window_days = self.attribution_window_days.unwrap_or(14);
        if !(1..=365).contains(&attribution_window_days) {
            errors.0.push(FieldError::new("attribution_window_days", "must be from 1 to 365"));
        }
        let mut exclude_campaign_ids = self.exclude_campaign_ids.unwrap_or_default();
        exclude_campaign_ids.sort_unstable();
        exclude_campaign_ids.dedup();
        if exclude_campaign_ids.len() > 100 {
            errors.0.push(FieldError::new("exclude_campaign_ids", "at most 100 campaigns"));
        }
        let cost = self.cost.and_then(|cost| cost.checked("cost", &mut errors.0));
        if let (Some(cost), PromoSpec::Unique { currency: Some(code_currency), .. }) = (&cost, &promo) {
            if &cost.currency != code_currency {
                errors.0.push(FieldError::new(
                    "cost.currency",
                    format!("the campaign's codes are in {code_currency}; give its cost in {code_currency} too"),
                ));
            }
        }
        errors.into_result(())?;
        Ok(CampaignSpec {
            name: name.unwrap_or_default(),
            channel: self.channel,
            segment_id: self.segment_id,
            rules,
            offer,
            subject,
            content,
            content_html,
            promo,
            frequency_cap,
            exclude_campaign_ids,
            holdout_percent,
            attribution_window_days,
            cost,
        })
    }

    /// The input that describes a stored campaign (what a PATCH is merged onto).
    pub fn from_row(row: &CampaignRow) -> CampaignInput {
        let promo = match row.promo_kind.as_str() {
            "unique" => Some(PromoInput {
                code: None,
                unique_codes: Some(UniqueCodesInput {
                    prefix: row.unique_prefix.clone().unwrap_or_default(),
                    discount: Discount {
                        r#type: row.unique_discount_type.clone().unwrap_or_default(),
                        value: row.unique_discount_value.unwrap_or_default(),
                    },
                    currency: row.unique_currency.clone(),
                }),
            }),
            _ => None,
        };
        CampaignInput {
            name: row.name.clone(),
            channel: ConsentChannel::parse(&row.channel).unwrap_or(ConsentChannel::Email),
            segment_id: row.segment_id,
            rules: row.rules.as_ref().map(|r| r.0.clone()),
            offer: row.offer.clone(),
            subject: row.subject.clone(),
            content: row.content.clone(),
            content_html: row.content_html.clone(),
            promo,
            frequency_cap: Some(FrequencyCap { max_contacts: row.cap_max_contacts, per_days: row.cap_per_days }),
            exclude_campaign_ids: Some(row.exclude_campaign_ids.0.clone()),
            holdout_percent: Some(row.holdout_percent),
            attribution_window_days: Some(row.attribution_window_days),
            cost: row.cost(),
        }
    }
}

fn promo_spec(errors: &mut FieldErrors, promo: PromoInput) -> PromoSpec {
    match (promo.code, promo.unique_codes) {
        (Some(code), None) => match normalize_code(&code) {
            Ok(code) => PromoSpec::Shared(code),
            Err(message) => {
                errors.0.push(FieldError::new("promo.code", message));
                PromoSpec::None
            }
        },
        (None, Some(unique)) => {
            let prefix = unique.prefix.trim().to_uppercase();
            let prefix_ok = (1..=20).contains(&prefix.len())
                && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !prefix_ok {
                errors.0.push(FieldError::new("promo.unique_codes.prefix", "1 to 20 letters, digits, - or _"));
            }
            let currency = errors.parse("promo.unique_codes.currency", unique.currency.as_deref(), Currency::parse);
            let before = errors.0.len();
            crate::dto::promo_codes::check_discount(errors, &unique.discount, currency.is_some());
            for error in &mut errors.0[before..] {
                error.field = format!("promo.unique_codes.{}", error.field);
            }
            PromoSpec::Unique {
                prefix,
                discount_type: unique.discount.r#type,
                discount_value: unique.discount.value,
                currency: currency.map(|c| c.as_str().to_string()),
            }
        }
        (None, None) => PromoSpec::None,
        (Some(_), Some(_)) => {
            errors.0.push(FieldError::new("promo", "give code or unique_codes, not both"));
            PromoSpec::None
        }
    }
}

/// `PATCH /v1/campaigns/{id}`: a JSON Merge Patch of the campaign's fields (as in
/// `POST /v1/campaigns`), accepted while the campaign is a draft.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct CampaignPatchInput(pub Value);

impl Validate for CampaignPatchInput {
    /// Checked as a whole once merged onto the campaign (`apply_to`).
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl CampaignPatchInput {
    /// The patched campaign, validated as a whole.
    pub fn apply_to(&self, current: &CampaignRow, shared_code: Option<String>) -> Result<CampaignSpec, AppError> {
        if !self.0.is_object() {
            return Err(AppError::invalid("body", "must be a JSON object"));
        }
        let mut input = CampaignInput::from_row(current);
        if let Some(code) = shared_code {
            input.promo = Some(PromoInput { code: Some(code), unique_codes: None });
        }
        let mut value = serde_json::to_value(&input).map_err(|e| AppError::internal(e.to_string()))?;
        // Switching between a segment and rules: the new one replaces the other.
        if self.0.get("rules").is_some_and(|r| !r.is_null()) {
            value["segment_id"] = Value::Null;
        }
        if self.0.get("segment_id").is_some_and(|r| !r.is_null()) {
            value["rules"] = Value::Null;
        }
        merge_patch(&mut value, self.0.clone());
        let patched: CampaignInput = crate::dto::json::parse_json(value.to_string().as_bytes())?;
        patched.into_spec()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Audience {
    pub segment_size: i64,
    pub no_consent: i64,
    pub suppressed: i64,
    pub unreachable: i64,
    pub excluded: i64,
    pub capped: i64,
    pub holdout: i64,
    pub contacted: i64,
}

impl From<AudienceCounts> for Audience {
    fn from(c: AudienceCounts) -> Self {
        Audience {
            segment_size: c.segment_size,
            no_consent: c.no_consent,
            suppressed: c.suppressed,
            unreachable: c.unreachable,
            excluded: c.excluded,
            capped: c.capped,
            holdout: c.holdout,
            contacted: c.contacted,
        }
    }
}

/// Campaign mail in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageCounts {
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
}

/// A campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub channel: String,
    pub segment_id: Option<i64>,
    /// The rules given, or (once launched) the rules the audience was built from.
    #[schema(value_type = Option<Object>)]
    pub rules: Option<Value>,
    pub offer: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub content_html: Option<String>,
    /// `{"code"}`, `{"unique_codes"}` or null.
    #[schema(value_type = Option<Object>)]
    pub promo: Option<Value>,
    pub frequency_cap: FrequencyCap,
    pub exclude_campaign_ids: Vec<i64>,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    /// What the campaign costs; null when not given.
    pub cost: Option<ContactCost>,
    /// `draft` or `launched`.
    pub status: String,
    /// The launch's counts; null while a draft.
    pub audience: Option<Audience>,
    pub launched_at: Option<DateTime<Utc>>,
    pub send_requested_at: Option<DateTime<Utc>>,
    pub messages: MessageCounts,
    /// With `?with_report=true` on the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<CampaignReport>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CampaignView> for Campaign {
    fn from(view: CampaignView) -> Self {
        let CampaignView { row, shared_code, messages, report } = view;
        let cost = row.cost();
        let promo = match row.promo_kind.as_str() {
            "shared" => Some(json!({"code": shared_code})),
            "unique" => Some(json!({"unique_codes": {"prefix": row.unique_prefix,
                "discount": {"type": row.unique_discount_type, "value": row.unique_discount_value},
                "currency": row.unique_currency}})),
            _ => None,
        };
        Campaign {
            id: row.id,
            name: row.name,
            channel: row.channel,
            segment_id: row.segment_id,
            rules: row.rules.map(|r| r.0),
            offer: row.offer,
            subject: row.subject,
            content: row.content,
            content_html: row.content_html,
            promo,
            frequency_cap: FrequencyCap { max_contacts: row.cap_max_contacts, per_days: row.cap_per_days },
            exclude_campaign_ids: row.exclude_campaign_ids.0,
            holdout_percent: row.holdout_percent,
            attribution_window_days: row.attribution_window_days,
            cost,
            status: row.status,
            audience: row.audience.map(|a| a.0.into()),
            launched_at: row.launched_at.map(|t| t.and_utc()),
            send_requested_at: row.send_requested_at.map(|t| t.and_utc()),
            messages: MessageCounts { queued: messages.0, sent: messages.1, failed: messages.2 },
            report: report.map(Into::into),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPage {
    pub items: Vec<Campaign>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Include each campaign's report (for side-by-side comparison).
    pub with_report: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// List the holdout (control) group instead: recorded, never contacted.
    pub holdout: Option<bool>,
}

/// One recipient, with everything needed to deliver the campaign to them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub id: i64,
    pub customer_id: i64,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    /// Email campaigns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// SMS and phone campaigns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Postal campaigns.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub address: Option<Value>,
    pub holdout: bool,
    pub subject: Option<String>,
    pub content: Option<String>,
    /// The HTML part, when the campaign has `content_html`.
    pub content_html: Option<String>,
    pub promo_code: Option<String>,
    pub tracking_token: Option<String>,
    /// A 1x1 image URL that records an open.
    pub open_tracking_url: Option<String>,
    pub unsubscribe_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The customer's top 3 recommended products (see `GET /v1/customers/{id}/recommendations`).
    pub recommendations: Vec<crate::dto::recommendations::ContactRecommendation>,
}

impl From<ContactView> for Contact {
    fn from(view: ContactView) -> Self {
        let ContactView {
            contact,
            customer,
            channel,
            subject,
            content,
            content_html,
            open_tracking_url,
            unsubscribe_url,
            recommendations,
        } = view;
        let address = (channel == "post").then(|| {
            json!({"line1": customer.address_line1, "line2": customer.address_line2, "city": customer.city,
                   "region": customer.region, "postal_code": customer.postal_code, "country": customer.country})
        });
        Contact {
            id: contact.id,
            customer_id: contact.customer_id,
            first_name: customer.first_name,
            last_name: customer.last_name,
            company_name: customer.company_name,
            email: if channel == "email" { customer.email } else { None },
            phone: if matches!(channel.as_str(), "sms" | "phone") { customer.phone } else { None },
            address,
            holdout: contact.holdout,
            subject,
            content,
            content_html,
            promo_code: contact.promo_code,
            tracking_token: contact.token,
            open_tracking_url,
            unsubscribe_url,
            created_at: contact.created_at.and_utc(),
            recommendations: recommendations.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<Contact>,
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/campaigns/{id}/send`.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// Mails queued per minute (default `RAPPORT_CAMPAIGN_SEND_RATE`).
    #[validate(range(min = 1, max = 100000, message = "must be from 1 to 100000"))]
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_per_minute: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendOutcome {
    pub queued: i64,
    /// Contacts whose email consent was withdrawn (or who were erased) since the launch.
    pub skipped: i64,
}

/// One response: `token` or `customer_id` identifies the contact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseInput {
    pub token: Option<String>,
    pub customer_id: Option<i64>,
    pub r#type: ResponseKind,
    /// Default now.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Body of `POST /v1/campaigns/{id}/responses`: one response, or a list of up to 1,000.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ResponsesInput(pub Value);

impl Validate for ResponsesInput {
    /// Checked item by item in `parse`, with each item's index in the field names.
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl ResponsesInput {
    /// The responses, and whether they came as a list (errors then name `[index].field`).
    pub fn parse(self) -> Result<(Vec<ResponseReport>, bool), AppError> {
        let (items, prefix) = match self.0 {
            Value::Array(items) => (items, true),
            other => (vec![other], false),
        };
        if items.is_empty() || items.len() > 1000 {
            return Err(AppError::invalid("body", "give 1 to 1000 responses"));
        }
        let mut errors = Vec::new();
        let mut parsed = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let at = |field: &str| if prefix { format!("[{index}].{field}") } else { field.to_string() };
            match serde_json::from_value::<ResponseInput>(item) {
                Ok(input) if input.token.is_some() == input.customer_id.is_some() => {
                    errors.push(FieldError::new(at("token"), "give token or customer_id (one of them)"))
                }
                Ok(input) if input.occurred_at.is_some_and(|t| t > Utc::now() + chrono::Duration::minutes(5)) => {
                    errors.push(FieldError::new(at("occurred_at"), "is in the future"))
                }
                Ok(input) => parsed.push(ResponseReport {
                    token: input.token,
                    customer_id: input.customer_id,
                    kind: input.r#type,
                    occurred_at: input.occurred_at.map(|t| t.naive_utc()),
                }),
                Err(error) => errors.push(FieldError::new(at("body"), error.to_string())),
            }
        }
        if errors.is_empty() {
            Ok((parsed, prefix))
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// The service names a response's fields `[index].field`; a body that held one response
/// (not a list) names them plainly.
pub fn unlisted(error: AppError) -> AppError {
    match error {
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError::new(e.field.strip_prefix("[0].").unwrap_or(&e.field), e.message))
                .collect(),
        ),
        other => other,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResponsesOutcome {
    pub recorded: i64,
    /// Consent events written for `unsubscribed` and `complained`.
    pub unsubscribed: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClickQuery {
    /// The destination, as signed in the contact's content.
    #[param(required = true)]
    pub url: Option<String>,
    /// The link's signature.
    #[param(required = true)]
    pub sig: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseRate {
    /// Contacts with at least one response of this type.
    pub count: i64,
    /// count / contacted.
    pub rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupConversion {
    pub customers: i64,
    /// Customers with an order (not cancelled) in the attribution window.
    pub converted: i64,
    pub rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyAmount {
    pub currency: String,
    pub amount: i64,
}

/// What a campaign achieved.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReport {
    pub campaign_id: i64,
    pub audience: Option<Audience>,
    pub contacted: i64,
    pub holdout: i64,
    /// Per type: delivered, opened, clicked, replied, bounced, unsubscribed, complained.
    #[schema(value_type = Object)]
    pub responses: std::collections::BTreeMap<String, ResponseRate>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub conversions: GroupConversion,
    pub holdout_conversions: GroupConversion,
    /// Contacted rate minus holdout rate (null without a holdout group).
    pub incremental_lift: Option<f64>,
    /// Orders of contacted customers in the window, and orders since the launch with the campaign's codes.
    pub attributed_orders: i64,
    pub attributed_revenue: Vec<MoneyAmount>,
    pub promo_redemptions: i64,
    pub discount_given: i64,
    /// The campaign's cost against its attributed orders in the cost's currency (null
    /// without a cost; see docs/analytics.md, "What each promotion cost").
    pub cost: Option<CostResult>,
}

/// What a promotion cost against what it brought, in minor units of `currency` (only
/// orders in that currency count).
#[derive(Debug, Serialize, ToSchema)]
pub struct CostResult {
    pub currency: String,
    /// fixed + per contact × contacts (campaigns, flows) or per redemption × redemptions.
    pub cost: i64,
    /// Orders set against the cost (attributed orders in `currency`).
    pub orders: i64,
    /// Their net revenue.
    pub revenue: i64,
    /// cost / orders, rounded; null without orders.
    pub cost_per_order: Option<i64>,
    /// The orders beyond the holdout's baseline: orders × (converted − treated ×
    /// holdout rate) / converted. Null without a holdout (promo codes, holdout 0 %).
    pub incremental_orders: Option<f64>,
    /// revenue × the same incremental share; null without a holdout.
    pub incremental_revenue: Option<i64>,
    /// cost / incremental orders, rounded; null without a holdout or an increment.
    pub cost_per_incremental_order: Option<i64>,
    /// revenue / cost without a holdout, incremental revenue / cost with one; null when
    /// the cost is 0.
    pub return_on_spend: Option<f64>,
}

impl From<CostFigures> for CostResult {
    fn from(f: CostFigures) -> Self {
        CostResult {
            currency: f.currency,
            cost: f.cost,
            orders: f.orders,
            revenue: f.revenue,
            cost_per_order: f.cost_per_order,
            incremental_orders: f.incremental_orders,
            incremental_revenue: f.incremental_revenue,
            cost_per_incremental_order: f.cost_per_incremental_order,
            return_on_spend: f.return_on_spend,
        }
    }
}

/// A campaign's cost set against its attributed orders in the cost's currency, with the
/// holdout as the baseline when it has one.
pub fn campaign_cost_figures(cost: &ContactCost, r: &Report) -> CostFigures {
    use crate::domain::costs::{figures, Holdout, Returns};
    let attributed = r.attributed.iter().find(|a| a.currency == cost.currency);
    let holdout = (r.holdout > 0).then_some(Holdout {
        treated: r.contacted,
        treated_converted: r.converted,
        holdout: r.holdout,
        holdout_converted: r.holdout_converted,
    });
    let returns =
        Returns { orders: attributed.map_or(0, |a| a.orders), revenue: attributed.map_or(0, |a| a.revenue), holdout };
    figures(&cost.currency, cost.total(r.contacted), returns)
}

impl From<Report> for CampaignReport {
    fn from(r: Report) -> Self {
        let cost = r.cost.as_ref().map(|cost| CostResult::from(campaign_cost_figures(cost, &r)));
        let responses = ResponseKind::ALL
            .iter()
            .map(|kind| {
                let count = r.responses.iter().find(|(k, _)| k == kind.as_str()).map_or(0, |(_, n)| *n);
                (kind.as_str().to_string(), ResponseRate { count, rate: rate(count, r.contacted) })
            })
            .collect();
        let contacted_rate = rate(r.converted, r.contacted);
        let holdout_rate = rate(r.holdout_converted, r.holdout);
        CampaignReport {
            campaign_id: r.campaign_id,
            audience: r.audience.map(Into::into),
            contacted: r.contacted,
            holdout: r.holdout,
            responses,
            window_start: r.window.map(|w| w.0.and_utc()),
            window_end: r.window.map(|w| w.1.and_utc()),
            conversions: GroupConversion { customers: r.contacted, converted: r.converted, rate: contacted_rate },
            holdout_conversions: GroupConversion {
                customers: r.holdout,
                converted: r.holdout_converted,
                rate: holdout_rate,
            },
            incremental_lift: (r.holdout > 0).then(|| ((contacted_rate - holdout_rate) * 10_000.0).round() / 10_000.0),
            attributed_orders: r.attributed.iter().map(|a| a.orders).sum(),
            attributed_revenue: r
                .attributed
                .into_iter()
                .map(|a| MoneyAmount { currency: a.currency, amount: a.revenue })
                .collect(),
            promo_redemptions: r.redemptions,
            discount_given: r.discount_given,
            cost,
        }
    }
}

/// A campaign that reached the customer (timeline, export).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactRecord {
    pub id: i64,
    pub campaign_id: i64,
    /// In the control group: recorded, not contacted.
    pub holdout: bool,
    pub promo_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<crate::models::campaigns::ContactRow> for ContactRecord {
    fn from(row: crate::models::campaigns::ContactRow) -> Self {
        ContactRecord {
            id: row.id,
            campaign_id: row.campaign_id,
            holdout: row.holdout,
            promo_code: row.promo_code,
            created_at: row.created_at.and_utc(),
        }
    }
}

/// What the customer did with a campaign (timeline, export).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseRecord {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub r#type: String,
    pub occurred_at: DateTime<Utc>,
}

impl From<crate::models::campaigns::ResponseRow> for ResponseRecord {
    fn from(row: crate::models::campaigns::ResponseRow) -> Self {
        ResponseRecord {
            id: row.id,
            campaign_id: row.campaign_id,
            contact_id: row.contact_id,
            r#type: row.kind,
            occurred_at: row.occurred_at.and_utc(),
        }
    }
}

/// Body of `POST /v1/campaigns/{id}/preview`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPreviewInput {
    #[schema(minimum = 1)]
    #[validate(range(min = 1))]
    pub customer_id: i64,
}
