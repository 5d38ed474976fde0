use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::consents::{ConsentEvent, CustomerConsents};
use crate::dto::customers::Customer;
use crate::dto::enquiries::Enquiry;
use crate::dto::forms::Message;
use crate::dto::orders::Order;
use crate::models::privacy::MergeRow;
use crate::services::privacy::{PersonalData, TimelineEntry};

/// A customer merged into this one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeRecord {
    pub id: i64,
    pub duplicate_id: i64,
    /// The token `sub` that merged.
    pub merged_by: String,
    pub merged_at: DateTime<Utc>,
    /// The duplicate as it was before the merge.
    #[schema(value_type = Object)]
    pub duplicate: serde_json::Value,
}

impl From<MergeRow> for MergeRecord {
    fn from(row: MergeRow) -> Self {
        MergeRecord {
            id: row.id,
            duplicate_id: row.duplicate_id,
            merged_by: row.merged_by,
            merged_at: row.merged_at.and_utc(),
            duplicate: serde_json::from_str(&row.duplicate_snapshot).unwrap_or_default(),
        }
    }
}

/// One thing that happened to a customer (consent change, enquiry, merge, order);
/// `kind` says which field holds it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineItem {
    Consent { at: DateTime<Utc>, consent: ConsentEvent },
    Enquiry { at: DateTime<Utc>, enquiry: Enquiry },
    Merge { at: DateTime<Utc>, merge: MergeRecord },
    Order { at: DateTime<Utc>, order: Order },
}

impl From<TimelineEntry> for TimelineItem {
    fn from(entry: TimelineEntry) -> Self {
        let at = entry.key().0.and_utc();
        match entry {
            TimelineEntry::Consent(event) => TimelineItem::Consent { at, consent: event.into() },
            TimelineEntry::Enquiry(enquiry) => TimelineItem::Enquiry { at, enquiry: enquiry.into() },
            TimelineEntry::Merge(merge) => TimelineItem::Merge { at, merge: merge.into() },
            TimelineEntry::Order(order) => TimelineItem::Order { at, order: order.into() },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
}

/// Everything rapport holds about one person (GDPR articles 15 and 20).
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalDataExport {
    pub exported_at: DateTime<Utc>,
    pub customer: Customer,
    pub consents: CustomerConsents,
    /// The whole consent ledger, oldest first.
    pub consent_events: Vec<ConsentEvent>,
    pub enquiries: Vec<Enquiry>,
    /// Messages sent (or queued) to the person.
    pub messages: Vec<Message>,
    /// Records merged into this one, with their former values.
    pub merges: Vec<MergeRecord>,
    /// All of the above in order, newest first.
    pub timeline: Vec<TimelineItem>,
}

impl From<PersonalData> for PersonalDataExport {
    fn from(data: PersonalData) -> Self {
        let customer_id = data.customer.row.id;
        PersonalDataExport {
            exported_at: Utc::now(),
            consents: CustomerConsents::from_rows(customer_id, &data.current_consents),
            customer: data.customer.into(),
            consent_events: data.consent_events.into_iter().map(Into::into).collect(),
            enquiries: data.enquiries.into_iter().map(Into::into).collect(),
            messages: data.messages.into_iter().map(Into::into).collect(),
            merges: data.merges.into_iter().map(Into::into).collect(),
            timeline: data.timeline.into_iter().map(Into::into).collect(),
        }
    }
}
