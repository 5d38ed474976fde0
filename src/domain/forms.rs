//! What people send through forms, and what the shop changes on an enquiry.

use chrono::NaiveDateTime;

use crate::domain::customer::CustomerDraft;
use crate::domain::{ConsentChannel, Email, EnquiryChannel, EnquiryStatus, Patch, Tag};

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
    /// A new follow-up (a new reminder, announced again when due), or null to clear it.
    pub follow_up_at: Patch<NaiveDateTime>,
    /// The whole new set of tags.
    pub tags: Option<Vec<Tag>>,
}

/// Who an enquiry recorded through the API is from.
#[derive(Debug, Clone)]
pub enum EnquiryParty {
    /// A customer the shop already has.
    Customer(i64),
    /// Contact details: the customer is found by email and only its blanks are filled,
    /// or created (like a form).
    Contact { email: Email, draft: Box<CustomerDraft> },
}

/// A parsed `POST /v1/enquiries`: an enquiry from any channel.
#[derive(Debug, Clone)]
pub struct EnquiryDraft {
    pub channel: EnquiryChannel,
    pub occurred_at: NaiveDateTime,
    pub party: EnquiryParty,
    pub subject: Option<String>,
    pub message: String,
    pub status: EnquiryStatus,
    pub assignee: Option<String>,
    pub follow_up_at: Option<NaiveDateTime>,
    pub tags: Vec<Tag>,
}

/// When an enquiry with `status` was resolved: an enquiry recorded as already resolved was
/// resolved at the contact itself (`occurred_at`); a change to `resolved` resolves it at
/// `now`, and keeps the earlier time if it already was; any other status clears it.
pub fn resolved_at(status: &str, previous: Option<NaiveDateTime>, at: NaiveDateTime) -> Option<NaiveDateTime> {
    (status == EnquiryStatus::Resolved.as_str()).then(|| previous.unwrap_or(at))
}

/// Enquiry figures per period: counts per (channel, status), resolution durations in
/// seconds (for an exact median), and how many became buyers within the window.
#[derive(Debug, Clone, Default)]
pub struct EnquiryPeriod {
    pub period_start: chrono::NaiveDate,
    /// (channel, status, enquiries), sorted.
    pub counts: Vec<(String, String, i64)>,
    pub enquiries: i64,
    /// Enquiries not marked spam: the base of `converted`.
    pub genuine: i64,
    pub resolved: i64,
    pub resolution_seconds: Vec<i64>,
    pub converted: i64,
}

/// The exact median of `values` (sorted here): the middle value, or the mean of the two
/// middle values; None when there are none.
pub fn median(values: &mut [i64]) -> Option<f64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2] as f64),
        _ => Some((values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0),
    }
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
    pub channel: Option<EnquiryChannel>,
    /// The to-do list: open enquiries (`new`, `in_progress`) whose follow-up is before this.
    pub follow_up_before: Option<NaiveDateTime>,
    pub customer_id: Option<i64>,
    pub created_after: Option<NaiveDateTime>,
    pub created_before: Option<NaiveDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_exact_for_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [30, 10, 20]), Some(20.0));
        assert_eq!(median(&mut [40, 10, 30, 20]), Some(25.0));
        assert_eq!(median(&mut [1, 2]), Some(1.5));
    }

    #[test]
    fn resolved_at_is_kept_set_or_cleared() {
        let t = |h| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(h, 0, 0).unwrap();
        assert_eq!(resolved_at("resolved", None, t(2)), Some(t(2)));
        assert_eq!(resolved_at("resolved", Some(t(1)), t(2)), Some(t(1)));
        assert_eq!(resolved_at("in_progress", Some(t(1)), t(2)), None);
    }
}
