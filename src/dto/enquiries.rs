use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::time::TimeFilter;
use validator::Validate;

use crate::domain::consent::{multi_line, single_line};
use crate::domain::forms::{EnquiryChange, EnquiryFilter};
use crate::domain::EnquiryStatus;
use crate::domain::Patch;
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::forms::EnquiryRow;

/// What someone wrote through a public form.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 7, "customer_id": 42, "kind": "contact", "status": "new", "email": "ana@example.com",
    "subject": "Ring sizes", "message": "Do you make it in size 7?", "assignee": null, "note": null,
    "ip": "198.51.100.9", "user_agent": "Mozilla/5.0", "created_at": "2026-11-20T14:03:00Z", "updated_at": "2026-11-20T14:03:00Z"}))]
pub struct Enquiry {
    pub id: i64,
    /// Null for spam (no customer is created for it).
    pub customer_id: Option<i64>,
    /// `contact` or `subscribe`.
    pub kind: String,
    /// `new`, `in_progress`, `resolved` or `spam`.
    pub status: String,
    pub email: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub assignee: Option<String>,
    pub note: Option<String>,
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
            status: row.status,
            email: row.email,
            subject: row.subject,
            message: row.message,
            assignee: row.assignee,
            note: row.note,
            ip: row.ip,
            user_agent: row.user_agent,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
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
    /// RFC 3339, or a date: from the start of that day in the shop's time zone; inclusive.
    #[param(inline)]
    pub created_after: Option<TimeFilter>,
    /// RFC 3339, or a date: up to the end of that day in the shop's time zone; exclusive.
    #[param(inline)]
    pub created_before: Option<TimeFilter>,
}

/// `PATCH /v1/enquiries/{id}` (merge patch: null clears `assignee` or `note`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "in_progress", "assignee": "marie", "note": "Called back on Monday"}))]
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
        };
        errors.into_result(change)
    }
}
