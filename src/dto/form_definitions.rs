use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::consent::single_line;
use crate::domain::form_definitions::{check_definition, check_key, FormDefinition, FormField, FormPurpose, Reward};
use crate::domain::{ConsentChannel, Patch};
use crate::error::{AppError, FieldError, FieldErrors};
use crate::models::form_definitions::{AttributeHistoryRow, FormDefinitionRow, FormSubmissionRow};

/// Body of `POST /v1/forms`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "perfume-taste", "title": "Tell us your taste", "purpose": "questionnaire",
    "fields": [
        {"name": "email", "label": "Your email", "type": "email", "required": true, "maps_to": "email"},
        {"name": "age_bracket", "label": "Age", "type": "select", "options": ["18-25", "26-40", "41-60", "60+"], "maps_to": "attributes.age_bracket"},
        {"name": "colours", "label": "Favourite colours", "type": "multiselect", "options": ["red", "blue", "green"], "maps_to": "attributes.colours"}
    ],
    "consent_texts": {"email": "Send me news and offers by email"},
    "reward": {"type": "promo_code", "discount": {"type": "percent", "value": 10}, "valid_days": 60}}))]
pub struct FormDefinitionInput {
    /// The form's path: 1 to 64 lower-case letters, digits, `_` or `-`, starting with a
    /// letter (`contact` and `subscribe` are taken by the built-in forms).
    #[schema(pattern = "^[a-z][a-z0-9_-]{0,63}$")]
    pub key: String,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    pub purpose: FormPurpose,
    /// 1 to 50 fields.
    #[schema(min_items = 1, max_items = 50)]
    pub fields: Vec<FormField>,
    /// The exact consent wording per channel (`email`, `sms`, `phone`, `post`); a channel
    /// without wording cannot be ticked. A subscribe form needs at least one.
    #[serde(default)]
    pub consent_texts: BTreeMap<String, String>,
    /// A questionnaire's reward.
    pub reward: Option<Reward>,
}

fn title(errors: &mut FieldErrors, raw: &str) -> String {
    match single_line(raw, 200) {
        Ok(Some(title)) => title,
        _ => {
            errors.0.push(FieldError::new("title", "give a title of 1 to 200 characters on one line"));
            String::new()
        }
    }
}

/// Every problem of a definition at once: those of its key and title, then the rest.
fn into_result(mut errors: FieldErrors, definition: FormDefinition) -> Result<FormDefinition, AppError> {
    errors.0.extend(check_definition(&definition));
    errors.into_result(definition)
}

impl FormDefinitionInput {
    pub fn into_definition(self) -> Result<FormDefinition, AppError> {
        let mut errors = FieldErrors::default();
        let key = errors.parse("key", Some(self.key.as_str()), check_key).unwrap_or_default();
        let title = title(&mut errors, &self.title);
        into_result(
            errors,
            FormDefinition {
                key,
                title,
                purpose: self.purpose,
                fields: self.fields,
                consent_texts: self.consent_texts,
                reward: self.reward,
            },
        )
    }
}

/// `PATCH /v1/forms/{key}` (merge patch: given members replace; `reward: null` removes
/// the reward). The key and purpose stay.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Tell us your taste (2 minutes)"}))]
pub struct FormDefinitionPatchInput {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[schema(min_items = 1, max_items = 50)]
    pub fields: Option<Vec<FormField>>,
    pub consent_texts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(value_type = Option<Reward>)]
    pub reward: Patch<Reward>,
}

/// A parsed form patch.
pub struct FormChange {
    pub title: Option<String>,
    pub fields: Option<Vec<FormField>>,
    pub consent_texts: Option<BTreeMap<String, String>>,
    pub reward: Patch<Reward>,
}

impl FormChange {
    pub fn apply(&self, definition: &mut FormDefinition) {
        if let Some(title) = &self.title {
            definition.title = title.clone();
        }
        if let Some(fields) = &self.fields {
            definition.fields = fields.clone();
        }
        if let Some(texts) = &self.consent_texts {
            definition.consent_texts = texts.clone();
        }
        match &self.reward {
            Patch::Absent => {}
            Patch::Null => definition.reward = None,
            Patch::Value(reward) => definition.reward = Some(reward.clone()),
        }
    }
}

impl FormDefinitionPatchInput {
    pub fn into_change(self) -> Result<FormChange, AppError> {
        let mut errors = FieldErrors::default();
        let title = self.title.map(|raw| title(&mut errors, &raw));
        errors.into_result(FormChange {
            title,
            fields: self.fields,
            consent_texts: self.consent_texts,
            reward: self.reward,
        })
    }
}

/// A form definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormDefinitionOut {
    pub id: i64,
    pub key: String,
    pub title: String,
    pub purpose: FormPurpose,
    pub fields: Vec<FormField>,
    pub consent_texts: BTreeMap<String, String>,
    pub reward: Option<Reward>,
    /// Where the public posts answers (with a `forms:submit` token).
    pub submit_path: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FormDefinitionOut {
    pub fn new(row: &FormDefinitionRow, definition: FormDefinition) -> Self {
        FormDefinitionOut {
            id: row.id,
            submit_path: format!("/v1/forms/{}/submissions", definition.key),
            key: definition.key,
            title: definition.title,
            purpose: definition.purpose,
            fields: definition.fields,
            consent_texts: definition.consent_texts,
            reward: definition.reward,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormDefinitionPage {
    pub items: Vec<FormDefinitionOut>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/forms/{key}/submissions`, posted from the browser.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answers": {"email": "ana@example.com", "age_bracket": "26-40", "colours": ["red"]},
    "consent": ["email"], "website": ""}))]
pub struct FormSubmissionInput {
    /// Answers by field name, checked against the form: a text, an email or a phone is a
    /// string, a select one of its options, a multiselect a list of options, a checkbox
    /// true or false, a date `YYYY-MM-DD`, a number a number, a rating 1 to 5.
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    /// The channels whose consent box was ticked.
    #[serde(default)]
    #[validate(length(max = 4, message = "give at most 4 channels"))]
    #[schema(max_items = 4)]
    pub consent: Vec<ConsentChannel>,
    /// Honeypot: a field hidden from people. Must be empty or absent.
    pub website: Option<String>,
}

/// `POST /v1/public/forms/{key}`: the answers given through a personal link.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q8b1u1Yc0m4rXj3Kf5tXg2b9Zr3kP0cQ1s2d3f4g5h6", "answers": {"age_bracket": "26-40"}}))]
pub struct LinkSubmissionInput {
    /// The token of the personal link.
    pub token: String,
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    #[serde(default)]
    #[validate(length(max = 4, message = "give at most 4 channels"))]
    #[schema(max_items = 4)]
    pub consent: Vec<ConsentChannel>,
    /// Honeypot: must be empty or absent.
    pub website: Option<String>,
}

/// `POST /v1/customers/{id}/forms/{key}/answers`: answers the shop collected itself (on
/// paper, at the stall, by phone).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answers": {"age_bracket": "26-40"}, "answered_at": "2026-10-02T15:00:00Z"}))]
pub struct ShopAnswersInput {
    #[schema(value_type = Object)]
    pub answers: Map<String, Value>,
    /// When the customer answered; default now. An answer older than a value recorded
    /// later for the same field is kept in the history but does not replace it.
    pub answered_at: Option<DateTime<Utc>>,
}

pub fn honeypot_filled(website: &Option<String>) -> bool {
    website.as_deref().is_some_and(|w| !w.trim().is_empty())
}

/// The check of `answered_at`: not in the future.
pub fn answered_at(given: Option<DateTime<Utc>>) -> Result<chrono::NaiveDateTime, AppError> {
    let now = crate::domain::now();
    match given.map(|t| t.naive_utc()) {
        Some(at) if at > now + chrono::Duration::minutes(5) => {
            Err(AppError::invalid("answered_at", "must not be in the future"))
        }
        Some(at) => Ok(at),
        None => Ok(now),
    }
}

/// A reward given for a submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionReward {
    /// `promo_code` or `gift`.
    pub r#type: String,
    /// `mailed` (a code sent by email), `issued` (a code, the customer has no email) or
    /// `to_send` (a gift for the shop to post).
    pub status: String,
    pub promo_code: Option<String>,
}

/// One submission of a form.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormSubmissionOut {
    pub id: i64,
    /// Null for an anonymous answer or spam.
    pub customer_id: Option<i64>,
    /// `accepted` or `spam`.
    pub status: String,
    pub via_link: bool,
    #[schema(value_type = Object)]
    pub answers: Value,
    /// The enquiry a contact form created.
    pub enquiry_id: Option<i64>,
    pub reward: Option<SubmissionReward>,
    pub answered_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl FormSubmissionOut {
    pub fn new(row: FormSubmissionRow, codes: &BTreeMap<i64, String>) -> Self {
        let reward = row.reward_type.clone().map(|kind| SubmissionReward {
            r#type: kind,
            status: row.reward_status.clone().unwrap_or_default(),
            promo_code: row.reward_promo_code_id.and_then(|id| codes.get(&id).cloned()),
        });
        FormSubmissionOut {
            id: row.id,
            customer_id: row.customer_id,
            status: row.status,
            via_link: row.via_link,
            answers: serde_json::from_str(&row.answers).unwrap_or(Value::Object(Map::new())),
            enquiry_id: row.enquiry_id,
            reward,
            answered_at: row.answered_at.and_utc(),
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FormSubmissionPage {
    pub items: Vec<FormSubmissionOut>,
    pub next_cursor: Option<String>,
}

/// A personal link to a form.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"url": "https://shop.example/v1/public/forms/perfume-taste?token=q8b1...", "token": "q8b1...",
    "expires_at": "2027-01-01T10:00:00Z"}))]
pub struct FormLinkOut {
    /// The page the customer opens: the form, filled in once.
    pub url: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// One value given for a customer's field, applied or not.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeHistoryEntry {
    pub id: i64,
    /// `first_name`, `address.city`, `attributes.<key>`...
    pub field: String,
    /// The value given (a string, number, boolean, list or object); null when it was cleared.
    pub value: Value,
    /// `questionnaire`, `form`, `import`, `api` or `checkout`.
    pub source: String,
    /// The form and submission, the import job or the order.
    pub source_ref: Option<String>,
    /// Who gave it: the token's subject, `customer:<id>` (a personal link), `public`.
    pub actor: Option<String>,
    /// False when a value observed later was already recorded (it was kept, not this one),
    /// or when a public form found the field already filled.
    pub applied: bool,
    pub observed_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

impl From<AttributeHistoryRow> for AttributeHistoryEntry {
    fn from(row: AttributeHistoryRow) -> Self {
        AttributeHistoryEntry {
            id: row.id,
            field: row.field,
            value: row.value.as_deref().and_then(|v| serde_json::from_str(v).ok()).unwrap_or(Value::Null),
            source: row.source,
            source_ref: row.source_ref,
            actor: row.actor,
            applied: row.applied,
            observed_at: row.observed_at.and_utc(),
            recorded_at: row.recorded_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeHistoryPage {
    pub items: Vec<AttributeHistoryEntry>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttributeHistoryQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only this field (`attributes.age_bracket`, `first_name`...).
    #[param(max_length = 200)]
    pub field: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FormPath {
    /// The form's key.
    #[param(example = "perfume-taste")]
    pub key: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerFormPath {
    /// Customer id.
    pub id: i64,
    /// The form's key.
    #[param(example = "perfume-taste")]
    pub key: String,
}
