use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{attribute_history, form_definitions, form_links, form_submissions};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = form_definitions)]
pub struct FormDefinitionRow {
    pub id: i64,
    pub form_key: String,
    pub title: String,
    pub purpose: String,
    /// JSON: the fields.
    pub fields: String,
    /// JSON: channel -> consent wording.
    pub consent_texts: String,
    /// JSON: the reward, if any.
    pub reward: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = form_definitions, treat_none_as_null = true)]
pub struct FormDefinitionColumns {
    pub form_key: String,
    pub title: String,
    pub purpose: String,
    pub fields: String,
    pub consent_texts: String,
    pub reward: Option<String>,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = form_definitions)]
pub struct NewFormDefinition {
    #[diesel(embed)]
    pub columns: FormDefinitionColumns,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = form_links)]
pub struct FormLinkRow {
    pub token_hash: String,
    pub form_id: i64,
    pub customer_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub opened_at: Option<NaiveDateTime>,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = form_submissions)]
pub struct FormSubmissionRow {
    pub id: i64,
    pub form_id: i64,
    pub customer_id: Option<i64>,
    pub status: String,
    pub via_link: bool,
    /// JSON: field name -> answer.
    pub answers: String,
    pub enquiry_id: Option<i64>,
    pub reward_type: Option<String>,
    pub reward_promo_code_id: Option<i64>,
    pub reward_status: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub answered_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = form_submissions)]
pub struct NewFormSubmission {
    pub form_id: i64,
    pub customer_id: Option<i64>,
    pub status: String,
    pub via_link: bool,
    pub answers: String,
    pub enquiry_id: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub answered_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attribute_history)]
pub struct AttributeHistoryRow {
    pub id: i64,
    pub customer_id: i64,
    pub field: String,
    /// JSON: the value given (null: cleared).
    pub value: Option<String>,
    pub source: String,
    pub source_ref: Option<String>,
    pub actor: Option<String>,
    pub applied: bool,
    pub observed_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = attribute_history)]
pub struct NewAttributeHistory {
    pub customer_id: i64,
    pub field: String,
    pub value: Option<String>,
    pub source: String,
    pub source_ref: Option<String>,
    pub actor: Option<String>,
    pub applied: bool,
    pub observed_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
}

/// Counts of a form's report, read in one query each.
#[derive(Debug, Clone, Default)]
pub struct FormCounts {
    pub links_sent: i64,
    pub links_opened: i64,
    pub completed: i64,
    pub completed_via_link: i64,
    pub spam: i64,
    pub rewards_issued: i64,
    pub rewards_redeemed: i64,
}
