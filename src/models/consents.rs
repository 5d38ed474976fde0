use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{consent_events, customer_consents};

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = consent_events, treat_none_as_default_value = false)]
pub struct ConsentEventRow {
    pub id: i64,
    pub customer_id: i64,
    pub channel: String,
    pub state: String,
    pub opt_in_level: String,
    pub source: String,
    pub method_detail: Option<String>,
    pub consent_text: Option<String>,
    pub consent_text_version: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = consent_events)]
pub struct NewConsentEvent {
    pub customer_id: i64,
    pub channel: String,
    pub state: String,
    pub opt_in_level: String,
    pub source: String,
    pub method_detail: Option<String>,
    pub consent_text: Option<String>,
    pub consent_text_version: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: NaiveDateTime,
    pub recorded_at: NaiveDateTime,
    pub actor: String,
}

/// The current state of one channel: a copy of the ledger's latest event for it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = customer_consents, treat_none_as_default_value = false)]
pub struct CurrentConsentRow {
    pub customer_id: i64,
    pub channel: String,
    pub state: String,
    pub opt_in_level: String,
    pub source: String,
    pub event_id: i64,
    pub occurred_at: NaiveDateTime,
}

impl From<ConsentEventRow> for CurrentConsentRow {
    /// The current state an event sets.
    fn from(e: ConsentEventRow) -> Self {
        CurrentConsentRow {
            customer_id: e.customer_id,
            channel: e.channel,
            state: e.state,
            opt_in_level: e.opt_in_level,
            source: e.source,
            event_id: e.id,
            occurred_at: e.occurred_at,
        }
    }
}
