//! The event feed and webhook endpoints on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use validator::Validate;

use crate::domain::consent::single_line;
use crate::domain::events::{event_wire_id, EventType, Subscription};
use crate::domain::{DeliveryStatus, EndpointStatus, Patch};
use crate::error::{AppError, FieldError, FieldErrors};
use crate::models::events::{DeliveryRow, EndpointRow, EventRow};

/// Events per feed page: 100 unless `limit` says otherwise, at most 1000.
pub const FEED_DEFAULT_LIMIT: i64 = 100;
pub const FEED_MAX_LIMIT: i64 = 1_000;

/// An event type's name, for the document.
pub struct EventTypeName;

impl PartialSchema for EventTypeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(EventType::subscribable().map(|t| t.as_str().to_string())))
            .description(Some("An event type (`noun.verb`)"))
            .into()
    }
}

impl ToSchema for EventTypeName {}

/// What a webhook endpoint subscribes to: `*` (every type) or event types.
pub struct SubscribedType;

impl PartialSchema for SubscribedType {
    fn schema() -> RefOr<Schema> {
        let names = std::iter::once(Subscription::ALL_TEXT.to_string())
            .chain(EventType::subscribable().map(|t| t.as_str().to_string()));
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .description(Some("`*` for every event type, or one event type"))
            .into()
    }
}

impl ToSchema for SubscribedType {}

/// A list of subscribed types, 1 to 32 of them.
pub struct SubscribedTypes;

impl PartialSchema for SubscribedTypes {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(SubscribedType::schema()).min_items(Some(1)).max_items(Some(32)).into()
    }
}

impl ToSchema for SubscribedTypes {}

/// Query of `GET /v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFeedQuery {
    /// Only these event types, comma-separated (e.g. `order.created,order.refunded`).
    #[param(
        pattern = r"^(customer\.created|customer\.updated|customer\.merged|customer\.erased|consent\.changed|enquiry\.created|enquiry\.updated|enquiry\.follow_up_due|order\.created|order\.status_changed|order\.refunded|product\.stock_low|import\.completed|campaign\.launched|campaign\.sent|message\.failed|webhook\.disabled)(,(customer\.created|customer\.updated|customer\.merged|customer\.erased|consent\.changed|enquiry\.created|enquiry\.updated|enquiry\.follow_up_due|order\.created|order\.status_changed|order\.refunded|product\.stock_low|import\.completed|campaign\.launched|campaign\.sent|message\.failed|webhook\.disabled))*$"
    )]
    pub r#type: Option<String>,
    /// The `next_cursor` of the previous page, or an event's `sequence`: events after it.
    /// Absent: from the oldest event kept.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl EventFeedQuery {
    pub fn types(&self) -> Result<Vec<EventType>, AppError> {
        let Some(text) = &self.r#type else { return Ok(Vec::new()) };
        text.split(',')
            .map(|name| {
                EventType::parse(name).filter(|t| *t != EventType::WebhookTest).ok_or_else(|| {
                    AppError::BadRequest(format!("query parameter `type`: `{name}` is not an event type"))
                })
            })
            .collect()
    }

    pub fn after(&self) -> Result<Option<i64>, AppError> {
        let Some(text) = &self.after else { return Ok(None) };
        let digits = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        text.parse::<i64>().ok().filter(|_| digits).map(Some).ok_or_else(|| {
            AppError::BadRequest(format!("query parameter `after`: `{text}` is not a cursor of this feed"))
        })
    }

    pub fn limit(&self) -> Result<i64, AppError> {
        match self.limit {
            None => Ok(FEED_DEFAULT_LIMIT),
            Some(n) if (1..=FEED_MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => {
                Err(AppError::BadRequest(format!("query parameter `limit`: {n} is not from 1 to {FEED_MAX_LIMIT}")))
            }
        }
    }
}

/// Something that happened, as recorded in the event log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "evt_1042", "sequence": 1042, "type": "order.created", "created_at": "2026-12-07T10:15:00.123456Z",
    "api_version": "v1", "customer_id": 17, "data": {"id": 311, "customer_id": 17, "status": "paid", "total": 4990, "currency": "EUR"}}))]
pub struct Event {
    /// Unique; the `webhook-id` of its deliveries.
    pub id: String,
    /// Its place in commit order: events are listed by it, and `after=<sequence>` resumes there.
    pub sequence: i64,
    #[schema(value_type = EventTypeName)]
    pub r#type: String,
    pub created_at: DateTime<Utc>,
    /// The API version that shapes `data`.
    pub api_version: String,
    /// The customer the event is about, if any.
    pub customer_id: Option<i64>,
    /// The resource's id and fields (see docs/webhooks.md for each type).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Event {
            id: event_wire_id(row.id),
            sequence: row.position.unwrap_or_default(),
            r#type: row.event_type,
            created_at: row.created_at.and_utc(),
            api_version: row.api_version,
            customer_id: row.customer_id,
            data: serde_json::from_str(&row.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// One page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// Where the next page starts (`after=`): the last item's sequence, or the `after`
    /// given when the page is empty. Keep it to resume later.
    pub next_cursor: String,
    /// Whether more events follow now.
    pub has_more: bool,
}

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "url": "https://hooks.example.com/rapport", "description": "accounting",
    "event_types": ["order.created", "order.refunded"], "status": "enabled", "disabled_reason": null, "failing_since": null,
    "previous_secret_expires_at": null, "created_at": "2026-12-07T10:00:00Z", "updated_at": "2026-12-07T10:00:00Z"}))]
pub struct WebhookEndpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    #[schema(value_type = SubscribedTypes)]
    pub event_types: Vec<String>,
    /// `enabled` or `disabled` (by the API, or after 5 days of failures).
    #[schema(pattern = "^(enabled|disabled)$")]
    pub status: String,
    pub disabled_reason: Option<String>,
    /// Since when every delivery attempt has failed; null after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation: until when the previous secret also signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        let now = crate::domain::now();
        WebhookEndpoint {
            id: row.id,
            url: row.url,
            description: row.description,
            event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
            status: row.status,
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since.map(|t| t.and_utc()),
            previous_secret_expires_at: row.previous_secret_until.filter(|until| *until > now).map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// An endpoint with its signing secret, shown only when created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_` and base64), for verifying deliveries. Shown once.
    pub secret: String,
}

impl From<EndpointRow> for WebhookEndpointWithSecret {
    fn from(row: EndpointRow) -> Self {
        let secret = row.secret.clone();
        WebhookEndpointWithSecret { endpoint: row.into(), secret }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointPage {
    pub items: Vec<WebhookEndpoint>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/rapport", "event_types": ["order.created", "order.refunded"],
    "description": "accounting"}))]
pub struct WebhookEndpointInput {
    /// `https` (and a public address) unless `RAPPORT_WEBHOOK_ALLOW_PRIVATE=true`.
    #[schema(pattern = r"^https?://[^\s/?#]+([/?#]\S*)?$", max_length = 2048)]
    pub url: String,
    #[schema(value_type = SubscribedTypes)]
    pub event_types: Vec<String>,
    /// One line (no control characters).
    #[schema(max_length = 500, pattern = r"^[^\x00-\x08\x0A-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/webhooks/{id}` (merge patch): absent fields are unchanged, a null
/// `description` clears it; `url`, `event_types` and `status` cannot be removed.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "enabled"}))]
pub struct WebhookEndpointPatchInput {
    #[serde(default)]
    #[schema(value_type = String, pattern = r"^https?://[^\s/?#]+([/?#]\S*)?$", max_length = 2048)]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = SubscribedTypes)]
    pub event_types: Patch<Vec<String>>,
    /// One line (no control characters).
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\x00-\x08\x0A-\x1F\x7F-\x9F]*$")]
    pub description: Patch<String>,
    /// `enabled` (also after an automatic disabling) or `disabled`.
    #[serde(default)]
    #[schema(value_type = String, pattern = "^(enabled|disabled)$")]
    pub status: Patch<String>,
}

/// A field that may be absent but not null.
fn required<T>(errors: &mut FieldErrors, field: &str, patch: Patch<T>) -> Option<T> {
    match patch {
        Patch::Absent => None,
        Patch::Value(value) => Some(value),
        Patch::Null => {
            errors.0.push(FieldError::new(field, "cannot be removed; give a value or leave it out"));
            None
        }
    }
}

fn subscription(errors: &mut FieldErrors, names: Option<Vec<String>>) -> Option<Subscription> {
    let names = names?;
    if names.len() > 32 {
        errors.0.push(FieldError::new("event_types", "at most 32 event types"));
        return None;
    }
    errors.parse("event_types", Some(names), |n| Subscription::parse(&n))
}

fn description(errors: &mut FieldErrors, text: Option<String>) -> Option<String> {
    errors.parse("description", text, |d| single_line(&d, 500).map(Option::unwrap_or_default))
}

impl WebhookEndpointInput {
    pub fn into_draft(self) -> Result<crate::domain::events::EndpointDraft, AppError> {
        let mut errors = FieldErrors::default();
        let subscription = subscription(&mut errors, Some(self.event_types));
        let description = description(&mut errors, self.description);
        errors.into_result(())?;
        Ok(crate::domain::events::EndpointDraft {
            url: self.url,
            subscription: subscription.expect("checked"),
            description: description.unwrap_or_default(),
        })
    }
}

impl WebhookEndpointPatchInput {
    pub fn into_patch(self) -> Result<crate::domain::events::EndpointPatch, AppError> {
        let mut errors = FieldErrors::default();
        let url = required(&mut errors, "url", self.url);
        let event_types = required(&mut errors, "event_types", self.event_types);
        let subscription = subscription(&mut errors, event_types);
        let description = match self.description {
            Patch::Absent => None,
            Patch::Null => Some(String::new()),
            Patch::Value(text) => description(&mut errors, Some(text)),
        };
        let status = required(&mut errors, "status", self.status);
        let enabled = errors.parse("status", status, |text| match EndpointStatus::parse(&text) {
            Some(status) => Ok(status == EndpointStatus::Enabled),
            None => Err(format!("`{text}` is not enabled or disabled")),
        });
        errors.into_result(())?;
        Ok(crate::domain::events::EndpointPatch { url, subscription, description, enabled })
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: i64,
    /// The event (`webhook-id` of the requests).
    pub event_id: String,
    #[schema(value_type = String)]
    pub event_type: String,
    /// `pending` (to be attempted), `succeeded` or `failed` (retries spent).
    #[schema(pattern = "^(pending|succeeded|failed)$")]
    pub status: String,
    pub attempts: i32,
    /// When a pending delivery is attempted next; null otherwise.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer; null when there was none (timeout, refused).
    pub last_response_status: Option<i32>,
    /// How long the last attempt took.
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<(DeliveryRow, String)> for WebhookDelivery {
    fn from((row, event_type): (DeliveryRow, String)) -> Self {
        WebhookDelivery {
            id: row.id,
            event_id: event_wire_id(row.event_id),
            event_type,
            next_attempt_at: (row.status == DeliveryStatus::Pending.as_str()).then(|| row.next_attempt_at.and_utc()),
            status: row.status,
            attempts: row.attempts,
            last_attempt_at: row.last_attempt_at.map(|t| t.and_utc()),
            last_response_status: row.last_response_status,
            last_latency_ms: row.last_latency_ms,
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            delivered_at: row.delivered_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListQuery {
    /// Only deliveries in this status.
    #[param(pattern = "^(pending|succeeded|failed)$")]
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl DeliveryListQuery {
    pub fn status(&self) -> Result<Option<String>, AppError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(text) => match DeliveryStatus::parse(text) {
                Some(status) => Ok(Some(status.as_str().to_string())),
                None => Err(AppError::BadRequest(format!(
                    "query parameter `status`: `{text}` is not pending, succeeded or failed"
                ))),
            },
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The endpoint's id.
    pub id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// The endpoint's id.
    pub id: i64,
    /// The delivery's id.
    pub delivery_id: i64,
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams;

    use super::*;

    /// The feed's `type` pattern lists exactly the event types the feed holds.
    #[test]
    fn the_type_pattern_names_every_feed_type() {
        let parameters = EventFeedQuery::into_params(|| None);
        let json = serde_json::to_value(&parameters).unwrap();
        let pattern = json[0]["schema"]["pattern"].as_str().unwrap().to_string();
        let names: Vec<String> = EventType::subscribable().map(|t| t.as_str().replace('.', "\\.")).collect();
        let alternatives = names.join("|");
        assert_eq!(pattern, format!("^({alternatives})(,({alternatives}))*$"));
    }
}
