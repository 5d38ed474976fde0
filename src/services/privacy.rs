//! Privacy rights: the timeline, the export of everything held about a person (GDPR
//! articles 15 and 20), and erasure with a suppression list (article 17).

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::now;
use crate::db::DbConn;
use crate::domain::{ConsentSource, ConsentState};
use crate::error::AppError;
use crate::keys::{DataKeys, Purpose};
use crate::models::campaigns::{ContactRow, ResponseRow};
use crate::models::consents::ConsentEventRow;
use crate::models::customers::CustomerRecord;
use crate::models::flows::FlowContactRow;
use crate::models::forms::EnquiryRow;
use crate::models::orders::OrderRecord;
use crate::models::privacy::{MergeRow, NewErasure, NewSuppression};
use crate::models::privacy::{PersonalData, TimelineEntry};
use crate::models::privacy::{
    TIMELINE_CAMPAIGN_CONTACT, TIMELINE_CAMPAIGN_RESPONSE, TIMELINE_CONSENT, TIMELINE_ENQUIRY, TIMELINE_FLOW_CONTACT,
    TIMELINE_FOLLOW_UP, TIMELINE_MERGE, TIMELINE_ORDER, TIMELINE_REFERRAL,
};
use crate::models::referrals::ReferralRow;
use crate::repositories::campaigns as campaign_repo;
use crate::repositories::flows as flow_repo;
use crate::repositories::orders as order_repo;
use crate::repositories::privacy as repo;
use crate::repositories::referrals as referral_repo;
use crate::repositories::{customers as customer_repo, forms as forms_repo};

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("customer {id} does not exist"))
}

/// A page of the timeline: one query for the order, one per kind for the rows.
pub fn timeline(
    conn: &mut DbConn,
    customer_id: i64,
    before: Option<(NaiveDateTime, i32, i64)>,
    limit: i64,
) -> Result<Vec<TimelineEntry>, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(not_found(customer_id));
    }
    let order = repo::timeline(conn, customer_id, before, limit)?;
    let ids_of = |kind| order.iter().filter(|row| row.kind == kind).map(|row| row.id).collect::<Vec<_>>();
    let mut consents: HashMap<i64, ConsentEventRow> =
        repo::consent_events_by_id(conn, &ids_of(TIMELINE_CONSENT))?.into_iter().map(|e| (e.id, e)).collect();
    // An enquiry and its due follow-up are two entries of one row.
    let mut enquiry_ids = ids_of(TIMELINE_ENQUIRY);
    enquiry_ids.extend(ids_of(TIMELINE_FOLLOW_UP));
    let enquiries: HashMap<i64, EnquiryRow> =
        forms_repo::find_enquiries(conn, &enquiry_ids)?.into_iter().map(|e| (e.id, e)).collect();
    let mut merges: HashMap<i64, MergeRow> =
        repo::merges_by_id(conn, &ids_of(TIMELINE_MERGE))?.into_iter().map(|m| (m.id, m)).collect();
    let mut orders: HashMap<i64, OrderRecord> =
        order_repo::find_many(conn, &ids_of(TIMELINE_ORDER))?.into_iter().map(|o| (o.order.id, o)).collect();
    let mut contacts: HashMap<i64, ContactRow> =
        campaign_repo::contacts_by_id(conn, &ids_of(TIMELINE_CAMPAIGN_CONTACT))?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
    let mut responses: HashMap<i64, ResponseRow> =
        campaign_repo::responses_by_id(conn, &ids_of(TIMELINE_CAMPAIGN_RESPONSE))?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
    let mut referrals: HashMap<i64, ReferralRow> = referral_repo::by_referred_ids(conn, &ids_of(TIMELINE_REFERRAL))?
        .into_iter()
        .map(|r| (r.referred_id, r))
        .collect();
    let mut flow_contacts: HashMap<i64, FlowContactRow> =
        flow_repo::contacts_by_id(conn, &ids_of(TIMELINE_FLOW_CONTACT))?.into_iter().map(|c| (c.id, c)).collect();
    Ok(order
        .into_iter()
        .filter_map(|row| match row.kind {
            TIMELINE_CONSENT => consents.remove(&row.id).map(TimelineEntry::Consent),
            TIMELINE_ENQUIRY => enquiries.get(&row.id).cloned().map(TimelineEntry::Enquiry),
            TIMELINE_FOLLOW_UP => enquiries.get(&row.id).cloned().map(TimelineEntry::FollowUp),
            TIMELINE_MERGE => merges.remove(&row.id).map(TimelineEntry::Merge),
            TIMELINE_CAMPAIGN_CONTACT => contacts.remove(&row.id).map(TimelineEntry::CampaignContact),
            TIMELINE_CAMPAIGN_RESPONSE => responses.remove(&row.id).map(TimelineEntry::CampaignResponse),
            TIMELINE_REFERRAL => referrals.remove(&row.id).map(TimelineEntry::Referral),
            TIMELINE_FLOW_CONTACT => flow_contacts.remove(&row.id).map(TimelineEntry::FlowContact),
            _ => orders.remove(&row.id).map(TimelineEntry::Order),
        })
        .collect())
}

pub fn export(conn: &mut DbConn, customer_id: i64) -> Result<PersonalData, AppError> {
    let customer = customer_repo::find(conn, customer_id)?.ok_or_else(|| not_found(customer_id))?;
    Ok(PersonalData {
        current_consents: customer.consents.clone(),
        customer,
        consent_events: repo::consent_events_of(conn, customer_id)?,
        enquiries: repo::enquiries_of(conn, customer_id)?,
        messages: repo::messages_of(conn, customer_id)?,
        merges: repo::merges_of(conn, customer_id)?,
        campaign_contacts: campaign_repo::contacts_of(conn, customer_id)?,
        campaign_responses: campaign_repo::responses_of(conn, customer_id)?,
        referral_code: referral_repo::code_of(conn, customer_id)?,
        referred_by: referral_repo::referral_of(conn, customer_id)?,
        referred: referral_repo::referred_by_referrer(conn, customer_id)?,
        flow_runs: flow_repo::runs_of(conn, customer_id)?,
        flow_contacts: flow_repo::contacts_of(conn, customer_id)?,
        form_submissions: crate::repositories::form_definitions::customer_submissions(conn, customer_id)?,
        attribute_history: crate::repositories::form_definitions::all_history(conn, customer_id)?,
        timeline: timeline(conn, customer_id, None, i64::MAX)?,
    })
}

/// The keyed hashes that identify a person in the suppression list.
pub fn suppression_hashes(keys: &DataKeys, email: Option<&str>, phone: Option<&str>) -> Vec<(String, &'static str)> {
    let mut hashes = Vec::new();
    if let Some(email) = email {
        hashes.push((keys.keyed_hash(Purpose::SuppressionEmail, email), "email"));
    }
    if let Some(phone) = phone {
        hashes.push((keys.keyed_hash(Purpose::SuppressionPhone, phone), "phone"));
    }
    hashes
}

/// Whether this customer's email or phone belongs to someone who was erased.
pub fn is_suppressed(conn: &mut DbConn, keys: &DataKeys, customer: &CustomerRecord) -> Result<bool, AppError> {
    is_address_suppressed(conn, keys, customer.row.email.as_deref(), customer.row.phone.as_deref())
}

/// Whether this email or phone belongs to someone who was erased.
pub fn is_address_suppressed(
    conn: &mut DbConn,
    keys: &DataKeys,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<bool, AppError> {
    let hashes: Vec<String> = suppression_hashes(keys, email, phone).into_iter().map(|(hash, _)| hash).collect();
    Ok(!hashes.is_empty() && repo::any_suppressed(conn, &hashes)?)
}

/// Imports and checkouts never recreate marketing consent for an erased person; only the
/// person can, through a form.
pub fn check_consent_allowed(
    conn: &mut DbConn,
    keys: &DataKeys,
    customer: &CustomerRecord,
    source: ConsentSource,
    state: ConsentState,
) -> Result<(), AppError> {
    let grants = matches!(state, ConsentState::Subscribed | ConsentState::Pending);
    let indirect = matches!(source, ConsentSource::Import | ConsentSource::Checkout);
    if grants && indirect && is_suppressed(conn, keys, customer)? {
        return Err(AppError::Conflict {
            detail: "this person had their data erased; only they can give consent again (through a form)".into(),
            existing_id: None,
        });
    }
    Ok(())
}

/// Erasure in one transaction: personal data removed everywhere, the customer kept as an
/// anonymous placeholder, email and phone added to the suppression list, the erasure
/// recorded without personal data.
pub fn erase(conn: &mut DbConn, keys: &DataKeys, customer_id: i64, actor: &str) -> Result<(), AppError> {
    conn.write_transaction(|conn| {
        let customer = customer_repo::find_for_update(conn, customer_id)?.ok_or_else(|| not_found(customer_id))?;
        let now = now();
        let suppressions: Vec<NewSuppression> =
            suppression_hashes(keys, customer.row.email.as_deref(), customer.row.phone.as_deref())
                .into_iter()
                .map(|(hash, kind)| NewSuppression { hash, kind: kind.to_string(), created_at: now })
                .collect();
        repo::add_suppressions(conn, &suppressions)?;
        let mut anonymous = customer.profile();
        anonymous.details = Default::default();
        // An erased person stays linked to their company (their orders stay in its figures)
        // but loses the role; an erased company's fields go and its people are unlinked.
        anonymous.details.company_id = customer.row.company_id;
        customer_repo::unlink_people(conn, customer_id, now)?;
        customer_repo::update(conn, customer_id, &anonymous, now)?;
        repo::strip_personal_data(conn, customer_id, customer.row.email.as_deref(), now)?;
        crate::repositories::predictions::delete_for(conn, customer_id)?;
        crate::repositories::form_definitions::erase_customer(conn, customer_id)?;
        // Derived from their purchases: their price bands and affinities go too.
        crate::services::recommendations::forget_customer(conn, customer_id)?;
        repo::record_erasure(conn, NewErasure { customer_id, erased_by: actor.to_string(), erased_at: now })?;
        // The scrub first, so that the erasure's own event keeps its data (the id only).
        super::events::scrub_customer(conn, customer_id)?;
        super::events::record(
            conn,
            crate::domain::events::EventType::CustomerErased,
            Some(customer_id),
            serde_json::json!({ "id": customer_id }),
        )?;
        Ok(())
    })
}
