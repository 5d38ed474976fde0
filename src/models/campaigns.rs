use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{campaign_contacts, campaign_responses, campaigns};
use crate::db::Json;
use crate::domain::campaign::AudienceCounts;
use crate::models::customers::CustomerRow;
use diesel::sql_types::{BigInt, Text};

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns, treat_none_as_default_value = false)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub channel: String,
    pub segment_id: Option<i64>,
    pub rules: Option<Json<serde_json::Value>>,
    pub offer: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    /// `none`, `shared` (promo_code_id) or `unique` (one code per recipient).
    pub promo_kind: String,
    pub promo_code_id: Option<i64>,
    pub unique_prefix: Option<String>,
    pub unique_discount_type: Option<String>,
    pub unique_discount_value: Option<i64>,
    pub unique_currency: Option<String>,
    pub cap_max_contacts: i64,
    pub cap_per_days: i64,
    /// JSON list of campaign ids.
    pub exclude_campaign_ids: Json<Vec<i64>>,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    pub status: String,
    /// JSON `AudienceCounts`, once launched.
    pub audience: Option<Json<AudienceCounts>>,
    pub launched_at: Option<NaiveDateTime>,
    pub send_requested_at: Option<NaiveDateTime>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// An optional HTML template, sent beside `content` (multipart/alternative).
    pub content_html: Option<String>,
    pub cost_currency: Option<String>,
    pub cost_fixed_minor: Option<i64>,
    pub cost_per_contact_minor: Option<i64>,
}

impl CampaignRow {
    /// What the campaign cost, when given.
    pub fn cost(&self) -> Option<crate::domain::costs::ContactCost> {
        Some(crate::domain::costs::ContactCost {
            currency: self.cost_currency.clone()?,
            fixed_minor: self.cost_fixed_minor.unwrap_or(0),
            per_contact_minor: self.cost_per_contact_minor.unwrap_or(0),
        })
    }
}

/// Everything a draft holds; written whole on create and on each patch.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = campaigns, treat_none_as_null = true)]
pub struct CampaignColumns {
    pub name: String,
    pub channel: String,
    pub segment_id: Option<i64>,
    pub rules: Option<String>,
    pub offer: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub content_html: Option<String>,
    pub promo_kind: String,
    pub promo_code_id: Option<i64>,
    pub unique_prefix: Option<String>,
    pub unique_discount_type: Option<String>,
    pub unique_discount_value: Option<i64>,
    pub unique_currency: Option<String>,
    pub cap_max_contacts: i64,
    pub cap_per_days: i64,
    pub exclude_campaign_ids: String,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    pub updated_at: NaiveDateTime,
    pub cost_currency: Option<String>,
    pub cost_fixed_minor: Option<i64>,
    pub cost_per_contact_minor: Option<i64>,
}

impl CampaignColumns {
    pub fn from_row(row: &CampaignRow) -> CampaignColumns {
        CampaignColumns {
            name: row.name.clone(),
            channel: row.channel.clone(),
            segment_id: row.segment_id,
            rules: row.rules.as_ref().map(Json::to_text),
            offer: row.offer.clone(),
            subject: row.subject.clone(),
            content: row.content.clone(),
            content_html: row.content_html.clone(),
            promo_kind: row.promo_kind.clone(),
            promo_code_id: row.promo_code_id,
            unique_prefix: row.unique_prefix.clone(),
            unique_discount_type: row.unique_discount_type.clone(),
            unique_discount_value: row.unique_discount_value,
            unique_currency: row.unique_currency.clone(),
            cap_max_contacts: row.cap_max_contacts,
            cap_per_days: row.cap_per_days,
            exclude_campaign_ids: row.exclude_campaign_ids.to_text(),
            holdout_percent: row.holdout_percent,
            attribution_window_days: row.attribution_window_days,
            updated_at: row.updated_at,
            cost_currency: row.cost_currency.clone(),
            cost_fixed_minor: row.cost_fixed_minor,
            cost_per_contact_minor: row.cost_per_contact_minor,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaigns)]
pub struct NewCampaign {
    #[diesel(embed)]
    pub columns: CampaignColumns,
    pub status: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_contacts, treat_none_as_default_value = false)]
pub struct ContactRow {
    pub id: i64,
    pub campaign_id: i64,
    pub customer_id: i64,
    pub holdout: bool,
    pub token: Option<String>,
    pub promo_code: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaign_contacts)]
pub struct NewContact {
    pub campaign_id: i64,
    pub customer_id: i64,
    pub holdout: bool,
    pub token: Option<String>,
    pub promo_code: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_responses, treat_none_as_default_value = false)]
pub struct ResponseRow {
    pub id: i64,
    pub campaign_id: i64,
    pub contact_id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = campaign_responses)]
pub struct NewResponse {
    pub campaign_id: i64,
    pub contact_id: i64,
    pub customer_id: i64,
    pub kind: String,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
}

/// A campaign with what its resource shows beside the row.
pub struct CampaignView {
    pub row: CampaignRow,
    pub shared_code: Option<String>,
    /// Outbox messages: (queued, sent, failed).
    pub messages: (i64, i64, i64),
    pub report: Option<Report>,
}

/// One contact, rendered for its channel.
pub struct ContactView {
    pub contact: ContactRow,
    pub customer: CustomerRow,
    pub channel: String,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub content_html: Option<String>,
    pub open_tracking_url: Option<String>,
    pub unsubscribe_url: Option<String>,
    /// The customer's top recommendations (see services::recommendations).
    pub recommendations: Vec<crate::domain::recommendations::Recommendation>,
}

/// The figures of a campaign's report.
pub struct Report {
    pub campaign_id: i64,
    pub audience: Option<AudienceCounts>,
    pub contacted: i64,
    pub holdout: i64,
    pub responses: Vec<(String, i64)>,
    pub window: Option<(NaiveDateTime, NaiveDateTime)>,
    pub converted: i64,
    pub holdout_converted: i64,
    pub attributed: Vec<AttributedRow>,
    pub redemptions: i64,
    pub discount_given: i64,
    /// The campaign's cost, when given.
    pub cost: Option<crate::domain::costs::ContactCost>,
}

/// Revenue of one currency attributed to a campaign.
#[derive(Debug, QueryableByName)]
pub struct AttributedRow {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue: i64,
}
