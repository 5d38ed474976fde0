use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::time::TimeFilter;
use validator::Validate;

use crate::domain::consent::{multi_line, single_line, CLOCK_SKEW};
use crate::domain::customer::{CustomerDetails, CustomerDraft};
use crate::domain::forms::{EnquiryChange, EnquiryDraft, EnquiryFilter, EnquiryParty};
use crate::domain::EnquiryStatus;
use crate::domain::{Email, EnquiryChannel, Patch, Phone, Tag};
use crate::error::AppError;
use crate::error::{FieldError, FieldErrors};
use crate::models::forms::EnquiryRow;

/// An enquiry: what someone asked the shop, on any channel (`form` for the public
/// contact form).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "customer_id": 42, "kind": "contact", "channel": "phone", "status": "in_progress",
    "email": "ana@example.com", "subject": "Ring sizes", "message": "Do you make it in size 7?", "assignee": "marie",
    "note": null, "tags": ["rings"], "occurred_at": "2026-11-20T14:03:00Z", "follow_up_at": "2026-11-23T09:00:00Z",
    "resolved_at": null, "ip": null, "user_agent": null, "created_at": "2026-11-20T14:10:00Z", "updated_at": "2026-11-20T14:10:00Z"}))]
pub struct Enquiry {
    pub id: i64,
    /// Null for spam from the public forms (no customer is created for it).
    pub customer_id: Option<i64>,
    /// `contact` or `subscribe` (spam caught on the newsletter form).
    pub kind: String,
    /// How the person reached the shop.
    pub channel: EnquiryChannel,
    /// `new`, `in_progress`, `resolved` or `spam`.
    pub status: String,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
    /// Lower-cased, sorted.
    pub tags: Vec<String>,
    /// When the person reached the shop (for the form: when it was submitted).
    pub occurred_at: DateTime<Utc>,
    /// When the shop means to follow up: while the enquiry is open, it is on the to-do
    /// list (`follow_up_before`), and `enquiry.follow_up_due` is recorded once at this time.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// When the status became `resolved` (null while it is not).
    pub resolved_at: Option<DateTime<Utc>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EnquiryRow> for Enquiry {
    fn from(row: EnquiryRow) -> Self {
        Enquiry {
            id: row.id,
            customer_id: row.customer_id,
            kind: row.kind,
            channel: EnquiryChannel::parse(&row.channel).unwrap_or(EnquiryChannel::Form),
            status: row.status,
            email: row.email,
            subject: row.subject,
            message: row.message,
            assignee: row.assignee,
            note: row.note,
            tags: row.tags.0,
            occurred_at: row.occurred_at.and_utc(),
            follow_up_at: row.follow_up_at.map(|t| t.and_utc()),
            resolved_at: row.resolved_at.map(|t| t.and_utc()),
            ip: row.ip,
            user_agent: row.user_agent,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Who an enquiry is from, when they are not a customer yet (or the shop does not know
/// their id): found by `email` and only blanks filled, or created.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnquiryContact {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    #[schema(max_length = 200)]
    pub last_name: Option<String>,
    /// E.164 after normalization (a national number takes `RAPPORT_DEFAULT_COUNTRY`).
    pub phone: Option<String>,
}

/// `POST /v1/enquiries`: an enquiry from any channel. Give `customer_id` or `contact`.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "phone", "occurred_at": "2026-11-20T14:03:00Z",
    "contact": {"email": "ana@example.com", "first_name": "Ana", "phone": "+33612345678"},
    "subject": "Ring sizes", "message": "Asked whether the silver ring comes in size 7.", "status": "in_progress",
    "assignee": "marie", "follow_up_at": "2026-11-23T09:00:00Z", "tags": ["rings"]}))]
pub struct EnquiryInput {
    pub channel: EnquiryChannel,
    /// When the person reached the shop; may be in the past (default: now).
    pub occurred_at: Option<DateTime<Utc>>,
    /// An existing customer. Give this or `contact`.
    #[schema(minimum = 1)]
    pub customer_id: Option<i64>,
    /// Contact details, upserted like a form (never overwriting). Give this or `customer_id`.
    pub contact: Option<EnquiryContact>,
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[schema(max_length = 5000, min_length = 1)]
    pub message: String,
    /// `new` (default), `in_progress`, `resolved` or `spam`.
    #[schema(pattern = "^(new|in_progress|resolved|spam)$")]
    pub status: Option<String>,
    #[schema(max_length = 200)]
    pub assignee: Option<String>,
    /// A reminder: the enquiry is on the to-do list while open, and
    /// `enquiry.follow_up_due` is recorded once at this time.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// At most 20 tags of at most 64 characters (lower-cased, de-duplicated).
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnquiryPage {
    pub items: Vec<Enquiry>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EnquiryListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// `new`, `in_progress`, `resolved` or `spam`.
    #[param(pattern = "^(new|in_progress|resolved|spam)$")]
    pub status: Option<String>,
    pub customer_id: Option<i64>,
    /// `phone`, `email`, `in_person`, `social`, `form` or `letter`.
    #[param(inline)]
    pub channel: Option<EnquiryChannel>,
    /// The to-do list: open enquiries (`new` or `in_progress`) whose follow-up is before
    /// this (RFC 3339, or a date: up to the end of that day in the shop's time zone).
    #[param(inline)]
    pub follow_up_before: Option<TimeFilter>,
    /// RFC 3339, or a date: from the start of that day in the shop's time zone; inclusive.
    #[param(inline)]
    pub created_after: Option<TimeFilter>,
    /// RFC 3339, or a date: up to the end of that day in the shop's time zone; exclusive.
    #[param(inline)]
    pub created_before: Option<TimeFilter>,
}

/// `PATCH /v1/enquiries/{id}` (merge patch: null clears `assignee`, `note` or
/// `follow_up_at`; `tags` replaces the tags).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "in_progress", "assignee": "marie", "note": "Called back on Monday",
    "follow_up_at": "2026-11-27T09:00:00Z", "tags": ["rings", "wholesale"]}))]
pub struct EnquiryPatchInput {
    /// `new`, `in_progress`, `resolved` or `spam`.
    #[schema(pattern = "^(new|in_progress|resolved|spam)$")]
    pub status: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub assignee: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub note: Patch<String>,
    /// A new follow-up (announced again when due), or null to clear it.
    #[serde(default)]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub follow_up_at: Patch<DateTime<Utc>>,
    /// The new tags (replacing the old ones); at most 20.
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
}

/// An enquiry status as given in a body or a query, in its stored form.
pub fn check_status(status: &str) -> Result<String, String> {
    EnquiryStatus::parse(status)
        .map(|s| s.as_str().to_string())
        .ok_or_else(|| format!("`{status}` is not one of new, in_progress, resolved, spam"))
}

impl EnquiryListQuery {
    /// The filter this query asks for; dates are days in the shop's time zone.
    pub fn into_filter(self, timezone: chrono_tz::Tz) -> Result<EnquiryFilter, AppError> {
        Ok(EnquiryFilter {
            status: self
                .status
                .as_deref()
                .map(check_status)
                .transpose()
                .map_err(|m| AppError::BadRequest(format!("`status`: {m}")))?,
            customer_id: self.customer_id,
            channel: self.channel,
            follow_up_before: self.follow_up_before.map(|t| t.end_utc(timezone)),
            created_after: self.created_after.map(|t| t.start_utc(timezone)),
            created_before: self.created_before.map(|t| t.end_utc(timezone)),
        })
    }
}

impl EnquiryPatchInput {
    pub fn into_change(self) -> Result<EnquiryChange, AppError> {
        let mut errors = FieldErrors::default();
        let text = |errors: &mut FieldErrors, field: &str, patch: Patch<String>, multi: bool, max: usize| match patch {
            Patch::Value(raw) => {
                let parsed = if multi { multi_line(&raw, max) } else { single_line(&raw, max) };
                match errors.parse(field, Some(parsed), |p| p) {
                    Some(Some(value)) => Patch::Value(value),
                    Some(None) => Patch::Null,
                    None => Patch::Absent,
                }
            }
            other => other,
        };
        let change = EnquiryChange {
            status: errors.parse("status", self.status, |s| check_status(&s)),
            assignee: text(&mut errors, "assignee", self.assignee, false, 200),
            note: text(&mut errors, "note", self.note, true, 5000),
            follow_up_at: self.follow_up_at.map(|t| t.naive_utc().trunc_subsecs(6)),
            tags: self.tags.map(|tags| parse_tags(&mut errors, tags)),
        };
        errors.into_result(change)
    }
}

/// At most 20 tags, each parsed (`tags[i]` names a bad one).
fn parse_tags(errors: &mut FieldErrors, tags: Vec<String>) -> Vec<Tag> {
    if tags.len() > 20 {
        errors.0.push(FieldError::new("tags", "give at most 20 tags"));
        return Vec::new();
    }
    tags.iter()
        .enumerate()
        .filter_map(|(i, raw)| errors.parse(&format!("tags[{i}]"), Some(raw), |t| Tag::parse(t)))
        .collect()
}

impl FieldErrors {
    fn optional_line(&mut self, field: &str, raw: Option<String>, max: usize) -> Option<String> {
        self.parse(field, raw, |t| single_line(&t, max)).flatten()
    }
}

impl EnquiryInput {
    /// The enquiry asked for; every problem is a 422 naming its field. `now` bounds
    /// `occurred_at` (not in the future, beyond clock skew).
    pub fn into_draft(
        self,
        default_country: Option<crate::domain::Country>,
        now: chrono::NaiveDateTime,
    ) -> Result<EnquiryDraft, AppError> {
        let mut errors = FieldErrors::default();
        let party = match (self.customer_id, self.contact) {
            (Some(_), Some(_)) => {
                errors.0.push(FieldError::new("contact", "give `customer_id` or `contact`, not both"));
                None
            }
            (None, None) => {
                errors.0.push(FieldError::new("customer_id", "give `customer_id` or `contact`"));
                None
            }
            (Some(id), None) if id < 1 => {
                errors.0.push(FieldError::new("customer_id", "must be a customer id (1 or more)"));
                None
            }
            (Some(id), None) => Some(EnquiryParty::Customer(id)),
            (None, Some(contact)) => {
                let email = errors.parse("contact.email", Some(contact.email), |raw| {
                    single_line(&raw, 254)?;
                    Email::parse(&raw)
                });
                let details = CustomerDetails {
                    first_name: errors.optional_line("contact.first_name", contact.first_name, 200),
                    last_name: errors.optional_line("contact.last_name", contact.last_name, 200),
                    phone: errors.parse("contact.phone", contact.phone.filter(|p| !p.trim().is_empty()), |p| {
                        Phone::parse(&p, default_country)
                    }),
                    ..Default::default()
                };
                email.map(|email| EnquiryParty::Contact {
                    email,
                    draft: Box::new(CustomerDraft { details, ..Default::default() }),
                })
            }
        };
        let occurred_at = self.occurred_at.map_or(now, |t| t.naive_utc().trunc_subsecs(6));
        if occurred_at > now + CLOCK_SKEW {
            errors.0.push(FieldError::new("occurred_at", "must not be in the future"));
        }
        let subject = errors.optional_line("subject", self.subject, 200);
        let message = match errors.parse("message", Some(self.message), |m| multi_line(&m, 5000)) {
            Some(Some(message)) => message,
            Some(None) => {
                errors.0.push(FieldError::new("message", "must not be empty"));
                String::new()
            }
            None => String::new(),
        };
        let status = errors
            .parse("status", self.status, |s| EnquiryStatus::parse(&s).ok_or_else(|| check_status(&s).unwrap_err()))
            .unwrap_or(EnquiryStatus::New);
        let assignee = errors.optional_line("assignee", self.assignee, 200);
        let tags = parse_tags(&mut errors, self.tags.unwrap_or_default());
        let draft = party.map(|party| EnquiryDraft {
            channel: self.channel,
            occurred_at,
            party,
            subject,
            message,
            status,
            assignee,
            follow_up_at: self.follow_up_at.map(|t| t.naive_utc().trunc_subsecs(6)),
            tags,
        });
        match (errors.0.is_empty(), draft) {
            (true, Some(draft)) => Ok(draft),
            _ => Err(AppError::Validation(errors.0)),
        }
    }
}
