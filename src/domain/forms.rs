//! What people send through forms, and what the shop changes on an enquiry.

use chrono::NaiveDateTime;

use crate::domain::customer::CustomerDraft;
use crate::domain::{ConsentChannel, Email, Patch};

/// What a person asked for on a form: channels and the exact wording they saw.
#[derive(Debug, Clone)]
pub struct ConsentRequest {
    pub channels: Vec<ConsentChannel>,
    pub text: String,
}

/// A parsed contact form.
#[derive(Debug, Clone)]
pub struct ContactSubmission {
    pub email: Email,
    pub draft: CustomerDraft,
    pub subject: Option<String>,
    pub message: String,
    pub consent: Option<ConsentRequest>,
    pub honeypot_filled: bool,
}

/// A parsed newsletter form.
#[derive(Debug, Clone)]
pub struct SubscribeSubmission {
    pub email: Email,
    pub draft: CustomerDraft,
    pub consent: ConsentRequest,
    pub honeypot_filled: bool,
}

/// A parsed `PATCH /v1/enquiries/{id}`.
#[derive(Debug, Clone, Default)]
pub struct EnquiryChange {
    pub status: Option<String>,
    pub assignee: Patch<String>,
    pub note: Patch<String>,
}

/// Who is on the other end of a public request: IP and user agent, kept as proof of consent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// Filters of `GET /v1/enquiries`.
#[derive(Debug, Clone, Default)]
pub struct EnquiryFilter {
    pub status: Option<String>,
    pub customer_id: Option<i64>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
}
