use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{customer_merges, erasures, suppressions};
use crate::db::Json;
use crate::models::campaigns::{ContactRow, ResponseRow};
use crate::models::consents::{ConsentEventRow, CurrentConsentRow};
use crate::models::customers::CustomerRecord;
use crate::models::forms::EnquiryRow;
use crate::models::messages::MessageRow;
use crate::models::orders::OrderRecord;
use crate::models::referrals::ReferralRow;

/// Timeline kinds: the order of entries that share a time.
pub const TIMELINE_CONSENT: i32 = 1;
pub const TIMELINE_ENQUIRY: i32 = 2;
pub const TIMELINE_MERGE: i32 = 3;
pub const TIMELINE_ORDER: i32 = 4;
pub const TIMELINE_CAMPAIGN_CONTACT: i32 = 5;
pub const TIMELINE_CAMPAIGN_RESPONSE: i32 = 6;
/// Keyed by the referred customer's id (a referral's primary key).
pub const TIMELINE_REFERRAL: i32 = 7;
pub const TIMELINE_FLOW_CONTACT: i32 = 8;
/// An enquiry's follow-up that fell due (keyed by the enquiry's id).
pub const TIMELINE_FOLLOW_UP: i32 = 9;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = customer_merges)]
pub struct MergeRow {
    pub id: i64,
    pub survivor_id: i64,
    pub duplicate_id: i64,
    pub merged_by: String,
    pub merged_at: NaiveDateTime,
    /// The duplicate as it was (JSON); serialized as that text.
    #[serde(serialize_with = "Json::serialize_as_text")]
    pub duplicate_snapshot: Json<serde_json::Value>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = suppressions)]
pub struct NewSuppression {
    pub hash: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = erasures)]
pub struct NewErasure {
    pub customer_id: i64,
    pub erased_by: String,
    pub erased_at: NaiveDateTime,
}

/// One entry of a customer's timeline: which table, which row, when.
#[derive(Debug, Clone, QueryableByName)]
pub struct TimelineRow {
    /// 1 consent event, 2 enquiry, 3 merge.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub kind: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    pub at: NaiveDateTime,
}

/// One thing that happened to a customer.
#[derive(Debug, Clone)]
pub enum TimelineEntry {
    Consent(ConsentEventRow),
    Enquiry(EnquiryRow),
    Merge(MergeRow),
    Order(OrderRecord),
    CampaignContact(ContactRow),
    CampaignResponse(ResponseRow),
    Referral(ReferralRow),
    FlowContact(crate::models::flows::FlowContactRow),
    /// An enquiry whose follow-up fell due, at its `follow_up_at`.
    FollowUp(EnquiryRow),
}

impl TimelineEntry {
    /// The pagination key: time, kind, id.
    pub fn key(&self) -> (NaiveDateTime, i32, i64) {
        match self {
            TimelineEntry::Consent(e) => (e.occurred_at, TIMELINE_CONSENT, e.id),
            TimelineEntry::Enquiry(e) => (e.occurred_at, TIMELINE_ENQUIRY, e.id),
            TimelineEntry::Merge(m) => (m.merged_at, TIMELINE_MERGE, m.id),
            TimelineEntry::Order(o) => (o.order.placed_at, TIMELINE_ORDER, o.order.id),
            TimelineEntry::CampaignContact(c) => (c.created_at, TIMELINE_CAMPAIGN_CONTACT, c.id),
            TimelineEntry::CampaignResponse(r) => (r.occurred_at, TIMELINE_CAMPAIGN_RESPONSE, r.id),
            TimelineEntry::Referral(r) => (r.created_at, TIMELINE_REFERRAL, r.referred_id),
            TimelineEntry::FlowContact(c) => (c.created_at, TIMELINE_FLOW_CONTACT, c.id),
            TimelineEntry::FollowUp(e) => (e.follow_up_at.unwrap_or(e.occurred_at), TIMELINE_FOLLOW_UP, e.id),
        }
    }
}

/// Everything held about one person.
pub struct PersonalData {
    pub customer: CustomerRecord,
    pub current_consents: Vec<CurrentConsentRow>,
    pub consent_events: Vec<ConsentEventRow>,
    pub enquiries: Vec<EnquiryRow>,
    pub messages: Vec<MessageRow>,
    pub merges: Vec<MergeRow>,
    pub campaign_contacts: Vec<ContactRow>,
    pub campaign_responses: Vec<ResponseRow>,
    pub referral_code: Option<String>,
    pub referred_by: Option<ReferralRow>,
    pub referred: Vec<ReferralRow>,
    pub flow_runs: Vec<crate::models::flows::RunRow>,
    pub flow_contacts: Vec<crate::models::flows::FlowContactRow>,
    pub form_submissions: Vec<crate::models::form_definitions::FormSubmissionRow>,
    pub attribute_history: Vec<crate::models::form_definitions::AttributeHistoryRow>,
    pub timeline: Vec<TimelineEntry>,
}
