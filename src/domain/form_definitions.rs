//! Forms the shop defines with its own questions: what a definition may say, and how a
//! submission is checked against it and mapped onto a customer's profile.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::consent::{multi_line, single_line};
use super::customer::CustomerFields;
use super::ConsentChannel;
use crate::error::FieldError;

pub const MAX_FIELDS: usize = 50;
pub const MAX_OPTIONS: usize = 50;
const TEXT_MAX: usize = 2000;
const LABEL_MAX: usize = 200;

/// What a form is for: what a submission creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormPurpose {
    /// An enquiry (kind `contact`).
    Contact,
    /// Consent to the ticked channels (`pending` with double opt-in).
    Subscribe,
    /// Answers, mapped onto the profile, and an optional reward.
    Questionnaire,
}

impl FormPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            FormPurpose::Contact => "contact",
            FormPurpose::Subscribe => "subscribe",
            FormPurpose::Questionnaire => "questionnaire",
        }
    }

    pub fn parse(raw: &str) -> Option<FormPurpose> {
        serde_json::from_value(Value::String(raw.to_string())).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Email,
    Phone,
    Select,
    Multiselect,
    Checkbox,
    Date,
    Number,
    /// A whole number from 1 to 5.
    Rating,
}

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The answer's key in a submission: lower-case letters, digits and `_`, from 1 to 64.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub label: String,
    pub r#type: FieldType,
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select` or `multiselect` (1 to 50, distinct).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 50)]
    pub options: Vec<String>,
    /// Where the answer goes on the customer: a profile field (`first_name`, `last_name`,
    /// `company_name`, `email`, `phone`, `birthday`, `gender`, `preferred_language`,
    /// `address.line1`, `address.line2`, `address.city`, `address.region`,
    /// `address.postal_code`, `address.country`) or `attributes.<key>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps_to: Option<String>,
}

/// The discount of a reward code: as for promo codes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardDiscount {
    /// `percent` (1 to 100), `fixed` (minor units; needs `currency`) or `free_shipping` (0).
    #[schema(pattern = "^(percent|fixed|free_shipping)$")]
    pub r#type: String,
    #[serde(default)]
    pub value: i64,
}

/// What a completed questionnaire earns (once per customer and form).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reward {
    /// A unique single-use promo code, mailed on completion.
    PromoCode {
        discount: RewardDiscount,
        /// ISO 4217; required for a `fixed` discount.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
        /// How long the code is valid after it is issued, 1 to 365 days.
        #[schema(minimum = 1, maximum = 365)]
        valid_days: i64,
    },
    /// A gift sent by post: recorded for the shop to fulfil.
    Gift {
        #[schema(max_length = 200)]
        description: String,
    },
}

impl Reward {
    pub fn kind(&self) -> &'static str {
        match self {
            Reward::PromoCode { .. } => "promo_code",
            Reward::Gift { .. } => "gift",
        }
    }
}

/// A whole definition, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct FormDefinition {
    pub key: String,
    pub title: String,
    pub purpose: FormPurpose,
    pub fields: Vec<FormField>,
    /// The exact consent wording shown per channel (`email`, `sms`, `phone`, `post`); a
    /// channel without text cannot be ticked.
    pub consent_texts: BTreeMap<String, String>,
    pub reward: Option<Reward>,
}

/// A form key: like a field name, but `-` is allowed; `contact` and `subscribe` are the
/// built-in forms' paths.
pub fn check_key(raw: &str) -> Result<String, String> {
    let key = raw.trim();
    let valid = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err("use 1 to 64 lower-case letters, digits, `_` or `-`, starting with a letter".into());
    }
    if matches!(key, "contact" | "subscribe") {
        return Err(format!("`{key}` is the built-in form's path; choose another key"));
    }
    Ok(key.to_string())
}

fn check_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The profile fields an answer may map to, with the field types that fit each.
pub fn profile_target(path: &str) -> Option<&'static [FieldType]> {
    use FieldType::*;
    const TEXT: &[FieldType] = &[Text, Select];
    Some(match path {
        "first_name"
        | "last_name"
        | "company_name"
        | "address.line1"
        | "address.line2"
        | "address.city"
        | "address.region"
        | "address.postal_code"
        | "address.country"
        | "preferred_language"
        | "gender" => TEXT,
        "email" => &[Email],
        "phone" => &[Phone],
        "birthday" => &[Date],
        _ => return None,
    })
}

fn attribute_key(path: &str) -> Option<&str> {
    path.strip_prefix("attributes.").filter(|key| !key.is_empty() && key.len() <= 64 && !key.contains('.'))
}

/// Checks a definition's fields, consent texts and reward; field errors name the place
/// in the body (`fields[2].options`, `reward.valid_days`).
pub fn check_definition(definition: &FormDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let fields = &definition.fields;
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        errors.push(FieldError::new("fields", format!("give from 1 to {MAX_FIELDS} fields")));
    }
    let mut names = BTreeSet::new();
    let mut targets = BTreeSet::new();
    for (i, field) in fields.iter().enumerate() {
        let at = |part: &str| format!("fields[{i}].{part}");
        if !check_field_name(&field.name) {
            errors.push(FieldError::new(
                at("name"),
                "use 1 to 64 lower-case letters, digits or `_`, starting with a letter",
            ));
        } else if !names.insert(field.name.as_str()) {
            errors.push(FieldError::new(at("name"), format!("`{}` is used by another field", field.name)));
        }
        if single_line(&field.label, LABEL_MAX).ok().flatten().is_none() {
            errors.push(FieldError::new(at("label"), "give a label of 1 to 200 characters on one line"));
        }
        let has_options = matches!(field.r#type, FieldType::Select | FieldType::Multiselect);
        if has_options {
            let distinct: BTreeSet<&str> = field.options.iter().map(String::as_str).collect();
            let clean = field.options.iter().all(|o| single_line(o, LABEL_MAX).ok().flatten().as_deref() == Some(o));
            if field.options.is_empty() || field.options.len() > MAX_OPTIONS {
                errors.push(FieldError::new(at("options"), format!("give from 1 to {MAX_OPTIONS} options")));
            } else if distinct.len() != field.options.len() || !clean {
                errors.push(FieldError::new(at("options"), "options must be distinct, trimmed, one line each"));
            }
        } else if !field.options.is_empty() {
            errors.push(FieldError::new(at("options"), "only select and multiselect fields have options"));
        }
        if let Some(target) = &field.maps_to {
            let fits = match (profile_target(target), attribute_key(target)) {
                (Some(types), _) => types.contains(&field.r#type),
                (None, Some(_)) => true,
                (None, None) => {
                    errors.push(FieldError::new(
                        at("maps_to"),
                        format!("`{target}` is neither a profile field nor `attributes.<key>`"),
                    ));
                    true
                }
            };
            if !fits {
                errors.push(FieldError::new(
                    at("maps_to"),
                    format!("a {} field cannot fill `{target}`", field_type_name(field.r#type)),
                ));
            } else if !targets.insert(target.as_str()) {
                errors.push(FieldError::new(at("maps_to"), format!("another field already fills `{target}`")));
            }
        }
    }
    let email_field = fields.iter().find(|f| f.maps_to.as_deref() == Some("email"));
    match (definition.purpose, email_field) {
        (FormPurpose::Contact | FormPurpose::Subscribe, None) => errors.push(FieldError::new(
            "fields",
            "a contact or subscribe form needs a required email field with `maps_to: email`",
        )),
        (_, Some(field)) if definition.purpose != FormPurpose::Questionnaire && !field.required => {
            errors.push(FieldError::new("fields", "the email field of a contact or subscribe form must be required"))
        }
        _ => {}
    }
    if definition.purpose == FormPurpose::Contact && !fields.iter().any(|f| f.name == "message") {
        errors.push(FieldError::new("fields", "a contact form needs a field named `message` (its enquiry's text)"));
    }
    if definition.purpose == FormPurpose::Subscribe && definition.consent_texts.is_empty() {
        errors.push(FieldError::new(
            "consent_texts",
            "a subscribe form needs the consent wording of at least one channel",
        ));
    }
    for (channel, text) in &definition.consent_texts {
        if ConsentChannel::parse(channel).is_none() {
            errors.push(FieldError::new(format!("consent_texts.{channel}"), "use email, sms, phone or post"));
        } else if multi_line(text, TEXT_MAX).ok().flatten().is_none() {
            errors.push(FieldError::new(
                format!("consent_texts.{channel}"),
                "give the wording shown, 1 to 2000 characters",
            ));
        }
    }
    if let Some(reward) = &definition.reward {
        if definition.purpose != FormPurpose::Questionnaire {
            errors.push(FieldError::new("reward", "only a questionnaire has a reward"));
        }
        errors.extend(check_reward(reward));
    }
    errors
}

fn check_reward(reward: &Reward) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match reward {
        Reward::PromoCode { discount, currency, valid_days } => {
            let problem = match (discount.r#type.as_str(), discount.value) {
                ("percent", 1..=100) | ("free_shipping", 0) => None,
                ("percent", _) => Some(("reward.discount.value", "a percent discount is from 1 to 100")),
                ("fixed", value) if value <= 0 => Some(("reward.discount.value", "a fixed discount is more than 0")),
                ("fixed", _) if currency.is_none() => Some(("reward.currency", "a fixed discount needs a currency")),
                ("fixed", _) => None,
                ("free_shipping", _) => Some(("reward.discount.value", "free shipping has no value (0)")),
                _ => Some(("reward.discount.type", "use percent, fixed or free_shipping")),
            };
            if let Some((field, message)) = problem {
                errors.push(FieldError::new(field, message));
            }
            if let Some(currency) = currency {
                if let Err(message) = super::Currency::parse(currency) {
                    errors.push(FieldError::new("reward.currency", message));
                }
            }
            if !(1..=365).contains(valid_days) {
                errors.push(FieldError::new("reward.valid_days", "from 1 to 365 days"));
            }
        }
        Reward::Gift { description } => {
            if single_line(description, LABEL_MAX).ok().flatten().is_none() {
                errors.push(FieldError::new("reward.description", "describe the gift in 1 to 200 characters"));
            }
        }
    }
    errors
}

fn field_type_name(field_type: FieldType) -> String {
    serde_json::to_value(field_type).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Checks one answer against its field; the normalized answer, or a message.
fn check_answer(field: &FormField, value: &Value) -> Result<Value, String> {
    let text = |max: usize| -> Result<Value, String> {
        match value {
            Value::String(s) => match single_line(s, max)? {
                Some(clean) => Ok(Value::String(clean)),
                None => Ok(Value::Null),
            },
            _ => Err("must be a string".into()),
        }
    };
    match field.r#type {
        FieldType::Text => match value {
            Value::String(s) => Ok(multi_line(s, TEXT_MAX)?.map_or(Value::Null, Value::String)),
            _ => Err("must be a string".into()),
        },
        FieldType::Email => {
            let answer = text(254)?;
            match answer.as_str() {
                Some(raw) => super::Email::parse(raw).map(|e| Value::String(e.as_str().to_string())),
                None => Ok(Value::Null),
            }
        }
        // Phones are parsed to E.164 when applied (they need the shop's default country).
        FieldType::Phone => text(40),
        FieldType::Select => match value {
            Value::String(s) if field.options.contains(s) => Ok(value.clone()),
            Value::String(s) if s.is_empty() => Ok(Value::Null),
            _ => Err(format!("must be one of: {}", field.options.join(", "))),
        },
        FieldType::Multiselect => match value {
            Value::Array(items) => {
                let mut chosen = BTreeSet::new();
                for item in items {
                    match item {
                        Value::String(s) if field.options.contains(s) => {
                            chosen.insert(s.clone());
                        }
                        _ => return Err(format!("every choice must be one of: {}", field.options.join(", "))),
                    }
                }
                // In the definition's order, each once.
                let ordered: Vec<Value> =
                    field.options.iter().filter(|o| chosen.contains(*o)).map(|o| Value::String(o.clone())).collect();
                Ok(if ordered.is_empty() { Value::Null } else { Value::Array(ordered) })
            }
            _ => Err("must be a list of choices".into()),
        },
        FieldType::Checkbox => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err("must be true or false".into()),
        },
        FieldType::Date => match value {
            Value::String(s) if s.is_empty() => Ok(Value::Null),
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| Value::String(d.to_string()))
                .map_err(|_| format!("`{s}` is not a date in the form YYYY-MM-DD")),
            _ => Err("must be a date in the form YYYY-MM-DD".into()),
        },
        FieldType::Number => match value {
            Value::Number(n) if n.as_f64().is_some_and(|f| f.is_finite() && f.abs() <= 1e12) => Ok(value.clone()),
            _ => Err("must be a number between -10^12 and 10^12".into()),
        },
        FieldType::Rating => match value.as_i64() {
            Some(1..=5) if value.is_i64() || value.is_u64() => Ok(value.clone()),
            _ => Err("must be a whole number from 1 to 5".into()),
        },
    }
}

/// Checks the answers of a submission: unknown names, missing required answers and bad
/// values are errors named `answers.<name>`. Empty answers are left out.
pub fn check_answers(
    definition: &FormDefinition,
    answers: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    for name in answers.keys() {
        if !definition.fields.iter().any(|f| &f.name == name) {
            errors.push(FieldError::new(format!("answers.{name}"), "this form has no such field"));
        }
    }
    let mut clean = Map::new();
    for field in &definition.fields {
        let at = format!("answers.{}", field.name);
        let answer = match answers.get(&field.name) {
            None | Some(Value::Null) => Value::Null,
            Some(value) => match check_answer(field, value) {
                Ok(answer) => answer,
                Err(message) => {
                    errors.push(FieldError::new(at, message));
                    continue;
                }
            },
        };
        let unanswered = answer.is_null() || (field.r#type == FieldType::Checkbox && answer == Value::Bool(false));
        if field.required && unanswered {
            errors.push(FieldError::new(at, "is required"));
            continue;
        }
        if !answer.is_null() {
            clean.insert(field.name.clone(), answer);
        }
    }
    if errors.is_empty() {
        Ok(clean)
    } else {
        Err(errors)
    }
}

/// The answers that map onto the profile: the profile part as raw customer fields
/// (parsed like any customer input), the attribute part as JSON values, and for each
/// target path the form field it came from (to name it in errors).
#[derive(Debug, Default)]
pub struct MappedAnswers {
    pub profile: CustomerFields,
    pub attributes: Map<String, Value>,
    pub field_of_path: BTreeMap<String, String>,
}

pub fn mapped_answers(definition: &FormDefinition, answers: &Map<String, Value>) -> MappedAnswers {
    let mut mapped = MappedAnswers::default();
    for field in &definition.fields {
        let (Some(target), Some(answer)) = (&field.maps_to, answers.get(&field.name)) else {
            continue;
        };
        mapped.field_of_path.insert(target.clone(), field.name.clone());
        if let Some(key) = attribute_key(target) {
            mapped.attributes.insert(key.to_string(), answer.clone());
            continue;
        }
        let text = answer.as_str().map(str::to_string);
        let p = &mut mapped.profile;
        match target.as_str() {
            "first_name" => p.first_name = text,
            "last_name" => p.last_name = text,
            "company_name" => p.company_name = text,
            "email" => p.email = text,
            "phone" => p.phone = text,
            "birthday" => p.birthday = text,
            "gender" => {
                p.gender = text.and_then(|g| serde_json::from_value(Value::String(g)).ok());
                if p.gender.is_none() {
                    mapped.field_of_path.remove(target);
                }
            }
            "preferred_language" => p.preferred_language = text,
            "address.line1" => p.address.line1 = text,
            "address.line2" => p.address.line2 = text,
            "address.city" => p.address.city = text,
            "address.region" => p.address.region = text,
            "address.postal_code" => p.address.postal_code = text,
            "address.country" => p.address.country = text,
            _ => {}
        }
    }
    mapped
}

/// `GET /v1/forms/{key}/report`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FormReport {
    pub key: String,
    pub title: String,
    pub purpose: FormPurpose,
    /// Personal links issued.
    pub sent: i64,
    /// Personal links whose page was opened (or answered).
    pub opened: i64,
    /// Accepted submissions, through links or not.
    pub completed: i64,
    pub completed_via_link: i64,
    /// Submissions that filled the honeypot (nothing of them is kept).
    pub spam: i64,
    /// `completed_via_link / sent`; null when no link was sent.
    pub response_rate: Option<f64>,
    /// The answers per question, in the form's order.
    pub questions: Vec<QuestionSummary>,
    pub rewards: RewardCounts,
}

/// How one question was answered. `counts` for choices, checkboxes and ratings (every
/// choice listed, also with 0); `min`, `max`, `mean` for numbers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionSummary {
    pub name: String,
    pub label: String,
    pub r#type: FieldType,
    pub answered: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Vec<ValueCount>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ValueCount {
    pub value: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RewardCounts {
    /// Rewards given (codes issued and gifts recorded).
    pub issued: i64,
    /// Reward codes used in an order.
    pub redeemed: i64,
}

/// The distribution of one question's answers.
pub fn summarize(field: &FormField, answers: &[Map<String, Value>]) -> QuestionSummary {
    let given: Vec<&Value> = answers.iter().filter_map(|a| a.get(&field.name)).collect();
    let counted = |keys: Vec<String>| -> Vec<ValueCount> {
        let mut counts: Vec<ValueCount> = keys.into_iter().map(|value| ValueCount { value, count: 0 }).collect();
        for value in &given {
            let picked: Vec<String> = match value {
                Value::Array(items) => items.iter().map(plain).collect(),
                other => vec![plain(other)],
            };
            for pick in picked {
                if let Some(entry) = counts.iter_mut().find(|c| c.value == pick) {
                    entry.count += 1;
                }
            }
        }
        counts
    };
    let mut summary = QuestionSummary {
        name: field.name.clone(),
        label: field.label.clone(),
        r#type: field.r#type,
        answered: given.len() as i64,
        counts: None,
        min: None,
        max: None,
        mean: None,
    };
    match field.r#type {
        FieldType::Select | FieldType::Multiselect => summary.counts = Some(counted(field.options.clone())),
        FieldType::Checkbox => summary.counts = Some(counted(vec!["true".into(), "false".into()])),
        FieldType::Rating => summary.counts = Some(counted((1..=5).map(|n| n.to_string()).collect())),
        FieldType::Number => {
            let numbers: Vec<f64> = given.iter().filter_map(|v| v.as_f64()).collect();
            if !numbers.is_empty() {
                summary.min = Some(numbers.iter().copied().fold(f64::INFINITY, f64::min));
                summary.max = Some(numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max));
                summary.mean = Some(numbers.iter().sum::<f64>() / numbers.len() as f64);
            }
        }
        FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Date => {}
    }
    summary
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definition(fields: Value) -> FormDefinition {
        FormDefinition {
            key: "taste".into(),
            title: "Your taste".into(),
            purpose: FormPurpose::Questionnaire,
            fields: serde_json::from_value(fields).unwrap(),
            consent_texts: BTreeMap::new(),
            reward: None,
        }
    }

    #[test]
    fn a_bad_definition_names_the_field() {
        let def = definition(json!([
            {"name": "age", "label": "Age", "type": "select", "options": []},
            {"name": "age", "label": "Again", "type": "text"},
            {"name": "mail", "label": "Mail", "type": "text", "maps_to": "email"},
            {"name": "x", "label": "X", "type": "text", "maps_to": "nowhere"},
        ]));
        let fields: Vec<String> = check_definition(&def).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["fields[0].options", "fields[1].name", "fields[2].maps_to", "fields[3].maps_to"]);
    }

    #[test]
    fn answers_are_checked_and_normalized() {
        let def = definition(json!([
            {"name": "age", "label": "Age", "type": "select", "options": ["18-25", "26-40"], "required": true},
            {"name": "colours", "label": "Colours", "type": "multiselect", "options": ["red", "blue", "green"]},
            {"name": "score", "label": "Score", "type": "rating"},
        ]));
        let ok = check_answers(&def, json!({"age": "18-25", "colours": ["green", "red", "red"]}).as_object().unwrap());
        assert_eq!(Value::Object(ok.unwrap()), json!({"age": "18-25", "colours": ["red", "green"]}));
        let bad = check_answers(&def, json!({"colours": ["pink"], "score": 6, "extra": 1}).as_object().unwrap());
        let fields: Vec<String> = bad.unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["answers.extra", "answers.age", "answers.colours", "answers.score"]);
    }
}
