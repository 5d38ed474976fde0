use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::consent::{multi_line, single_line};
use crate::domain::customer::{CustomerDetails, CustomerDraft};
use crate::domain::forms::{ConsentRequest, ContactSubmission, SubscribeSubmission};
use crate::domain::{ConsentChannel, Email, Phone};
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::messages::MessageRow;

/// Consent ticked on a form: the channels and the exact wording shown.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormConsent {
    #[validate(length(min = 1, max = 4, message = "give from 1 to 4 channels"))]
    pub channels: Vec<ConsentChannel>,
    /// The exact wording next to the checkbox.
    #[schema(max_length = 2000)]
    pub text: String,
}

/// `POST /v1/forms/contact`, posted from the browser.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ana@example.com", "first_name": "Ana", "subject": "Ring sizes",
    "message": "Do you make the silver ring in size 7?", "consent": {"channels": ["email"], "text": "Send me news and offers by email"},
    "website": ""}))]
pub struct ContactForm {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    #[schema(max_length = 200)]
    pub last_name: Option<String>,
    pub phone: Option<String>,
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[schema(max_length = 5000)]
    pub message: String,
    #[validate(nested)]
    pub consent: Option<FormConsent>,
    /// Honeypot: a field hidden from people. Must be empty or absent.
    pub website: Option<String>,
}

/// `POST /v1/forms/subscribe`, posted from the browser.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ana@example.com", "first_name": "Ana", "channels": ["email"],
    "consent_text": "Send me the monthly newsletter", "website": ""}))]
pub struct SubscribeForm {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    /// Default `["email"]`.
    #[validate(length(min = 1, max = 4, message = "give from 1 to 4 channels"))]
    pub channels: Option<Vec<ConsentChannel>>,
    /// The exact wording next to the checkbox.
    #[schema(max_length = 2000)]
    pub consent_text: String,
    /// Honeypot: a field hidden from people. Must be empty or absent.
    pub website: Option<String>,
}

/// The answer to every form submission, whatever happened (no enumeration).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "accepted"}))]
pub struct Accepted {
    pub status: String,
}

impl Accepted {
    pub fn new() -> Self {
        Accepted { status: "accepted".into() }
    }
}

impl Default for Accepted {
    fn default() -> Self {
        Self::new()
    }
}

fn honeypot_filled(website: &Option<String>) -> bool {
    website.as_deref().is_some_and(|w| !w.trim().is_empty())
}

impl FieldErrors {
    fn line(&mut self, field: &str, raw: Option<String>, max: usize) -> Option<String> {
        self.parse(field, raw, |t| single_line(&t, max)).flatten()
    }
}

fn parse_email(errors: &mut FieldErrors, raw: &str) -> Email {
    errors
        .parse("email", Some(raw), |raw| {
            single_line(raw, 254)?;
            Email::parse(raw)
        })
        .unwrap_or_else(|| Email::from_stored(String::new()))
}

fn consent_text(errors: &mut FieldErrors, field: &str, raw: &str) -> String {
    match errors.parse(field, Some(raw), |t| multi_line(t, 2000)) {
        Some(Some(text)) => text,
        Some(None) => {
            errors.0.push(crate::error::FieldError::new(field, "must not be empty"));
            String::new()
        }
        None => String::new(),
    }
}

impl ContactForm {
    pub fn into_submission(
        self,
        default_country: Option<crate::domain::Country>,
    ) -> Result<ContactSubmission, AppError> {
        let mut errors = FieldErrors::default();
        let email = parse_email(&mut errors, &self.email);
        let details = CustomerDetails {
            first_name: errors.line("first_name", self.first_name, 200),
            last_name: errors.line("last_name", self.last_name, 200),
            phone: errors
                .parse("phone", self.phone.filter(|p| !p.trim().is_empty()), |p| Phone::parse(&p, default_country)),
            ..Default::default()
        };
        let subject = errors.line("subject", self.subject, 200);
        let message = match errors.parse("message", Some(self.message), |m| multi_line(&m, 5000)) {
            Some(Some(message)) => message,
            Some(None) => {
                errors.0.push(crate::error::FieldError::new("message", "must not be empty"));
                String::new()
            }
            None => String::new(),
        };
        let consent = self
            .consent
            .map(|c| ConsentRequest { channels: c.channels, text: consent_text(&mut errors, "consent.text", &c.text) });
        errors.into_result(ContactSubmission {
            email,
            draft: CustomerDraft { details, ..Default::default() },
            subject,
            message,
            consent,
            honeypot_filled: honeypot_filled(&self.website),
        })
    }
}

impl SubscribeForm {
    pub fn into_submission(self) -> Result<SubscribeSubmission, AppError> {
        let mut errors = FieldErrors::default();
        let email = parse_email(&mut errors, &self.email);
        let details =
            CustomerDetails { first_name: errors.line("first_name", self.first_name, 200), ..Default::default() };
        let text = consent_text(&mut errors, "consent_text", &self.consent_text);
        errors.into_result(SubscribeSubmission {
            email,
            draft: CustomerDraft { details, ..Default::default() },
            consent: ConsentRequest { channels: self.channels.unwrap_or_else(|| vec![ConsentChannel::Email]), text },
            honeypot_filled: honeypot_filled(&self.website),
        })
    }
}

/// `POST /v1/public/confirm` as JSON (a shop page may call it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmInput {
    /// The token from the confirmation link.
    pub token: String,
}

/// The token of an emailed link, in the query string.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkQuery {
    /// The token from the emailed link.
    pub token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "confirmed"}))]
pub struct LinkOutcome {
    /// `confirmed` or `unsubscribed`.
    pub status: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeUrlQuery {
    pub channel: ConsentChannel,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"url": "https://shop.example/v1/public/unsubscribe?token=q3X..."}))]
pub struct UnsubscribeUrl {
    pub url: String,
}

/// A message in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub customer_id: Option<i64>,
    /// `confirmation` (double opt-in).
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Message {
            id: row.id,
            customer_id: row.customer_id,
            kind: row.kind,
            recipient: row.recipient,
            subject: row.subject,
            body: row.body,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at.and_utc(),
            sent_at: row.sent_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<Message>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// `pending`, `sent` or `failed`.
    pub status: Option<String>,
}
