use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dto::campaigns::{ContactRecord, ResponseRecord};
use crate::dto::consents::{ConsentEvent, CustomerConsents};
use crate::dto::customers::Customer;
use crate::dto::enquiries::Enquiry;
use crate::dto::forms::Message;
use crate::dto::orders::Order;
use crate::models::privacy::MergeRow;
use crate::models::privacy::{PersonalData, TimelineEntry};

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
            duplicate: row.duplicate_snapshot.0,
        }
    }
}

/// One thing that happened to a customer (consent change, enquiry, merge, order);
/// `kind` says which field holds it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineItem {
    Consent {
        at: DateTime<Utc>,
        consent: ConsentEvent,
    },
    Enquiry {
        at: DateTime<Utc>,
        enquiry: Enquiry,
    },
    Merge {
        at: DateTime<Utc>,
        merge: MergeRecord,
    },
    Order {
        at: DateTime<Utc>,
        order: Order,
    },
    CampaignContact {
        at: DateTime<Utc>,
        campaign_contact: ContactRecord,
    },
    CampaignResponse {
        at: DateTime<Utc>,
        campaign_response: ResponseRecord,
    },
    Referral {
        at: DateTime<Utc>,
        referral: ReferralRecord,
    },
    FlowContact {
        at: DateTime<Utc>,
        flow_contact: crate::dto::flows::FlowContactRecord,
    },
    /// An enquiry's follow-up that fell due (`at` is its `follow_up_at`).
    FollowUp {
        at: DateTime<Utc>,
        follow_up: Enquiry,
    },
}

/// A customer referred by another (their first order carried the referrer's code).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralRecord {
    pub referred_id: i64,
    pub referrer_id: i64,
    pub order_id: i64,
    pub code: String,
    pub created_at: DateTime<Utc>,
}

impl From<crate::models::referrals::ReferralRow> for ReferralRecord {
    fn from(row: crate::models::referrals::ReferralRow) -> Self {
        ReferralRecord {
            referred_id: row.referred_id,
            referrer_id: row.referrer_id,
            order_id: row.order_id,
            code: row.code,
            created_at: row.created_at.and_utc(),
        }
    }
}

impl From<TimelineEntry> for TimelineItem {
    fn from(entry: TimelineEntry) -> Self {
        let at = entry.key().0.and_utc();
        match entry {
            TimelineEntry::Consent(event) => TimelineItem::Consent { at, consent: event.into() },
            TimelineEntry::Enquiry(enquiry) => TimelineItem::Enquiry { at, enquiry: enquiry.into() },
            TimelineEntry::Merge(merge) => TimelineItem::Merge { at, merge: merge.into() },
            TimelineEntry::Order(order) => TimelineItem::Order { at, order: order.into() },
            TimelineEntry::CampaignContact(contact) => {
                TimelineItem::CampaignContact { at, campaign_contact: contact.into() }
            }
            TimelineEntry::CampaignResponse(response) => {
                TimelineItem::CampaignResponse { at, campaign_response: response.into() }
            }
            TimelineEntry::Referral(referral) => TimelineItem::Referral { at, referral: referral.into() },
            TimelineEntry::FlowContact(contact) => TimelineItem::FlowContact { at, flow_contact: contact.into() },
            TimelineEntry::FollowUp(enquiry) => TimelineItem::FollowUp { at, follow_up: enquiry.into() },
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
    /// Campaigns the person was in (contacted, or in a holdout group).
    pub campaign_contacts: Vec<ContactRecord>,
    /// What the person did with campaigns.
    pub campaign_responses: Vec<ResponseRecord>,
    /// The person's referral code, who referred them, and whom they referred.
    pub referral_code: Option<String>,
    pub referred_by: Option<ReferralRecord>,
    pub referred: Vec<ReferralRecord>,
    /// The person's runs through automated flows, and what each step did for them.
    pub flow_runs: Vec<crate::dto::flows::FlowRunRecord>,
    pub flow_contacts: Vec<crate::dto::flows::FlowContactRecord>,
    /// Their answers to the shop's forms.
    pub form_submissions: Vec<crate::dto::form_definitions::FormSubmissionOut>,
    /// Where each value of their profile came from.
    pub attribute_history: Vec<crate::dto::form_definitions::AttributeHistoryEntry>,
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
            campaign_contacts: data.campaign_contacts.into_iter().map(Into::into).collect(),
            campaign_responses: data.campaign_responses.into_iter().map(Into::into).collect(),
            referral_code: data.referral_code,
            referred_by: data.referred_by.map(Into::into),
            referred: data.referred.into_iter().map(Into::into).collect(),
            flow_runs: data.flow_runs.into_iter().map(Into::into).collect(),
            flow_contacts: data.flow_contacts.into_iter().map(Into::into).collect(),
            form_submissions: data
                .form_submissions
                .into_iter()
                .map(|row| crate::dto::form_definitions::FormSubmissionOut::new(row, &Default::default()))
                .collect(),
            attribute_history: data.attribute_history.into_iter().map(Into::into).collect(),
            timeline: data.timeline.into_iter().map(Into::into).collect(),
        }
    }
}
