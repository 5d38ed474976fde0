use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use crate::db::schema::{flow_contacts, flow_runs, flow_versions, flows};
use crate::domain::flows::{FlowDefinition, Lift};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = flows)]
pub struct FlowRow {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub trigger_type: String,
    pub version: i32,
    pub template_key: Option<String>,
    pub activated_at: Option<NaiveDateTime>,
    pub last_scan_at: Option<NaiveDateTime>,
    pub segment_baseline: bool,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = flows)]
pub struct NewFlow {
    pub name: String,
    pub status: String,
    pub trigger_type: String,
    pub version: i32,
    pub template_key: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = flow_versions)]
pub struct NewFlowVersion {
    pub flow_id: i64,
    pub version: i32,
    pub definition: String,
    pub created_at: NaiveDateTime,
}

/// A flow with the definition of its current version.
#[derive(Debug, Clone)]
pub struct FlowView {
    pub row: FlowRow,
    pub definition: FlowDefinition,
}

/// Runs of one group (messaged or holdout) and how many converted.
#[derive(Debug, Clone, Copy, Default)]
pub struct GroupFigures {
    pub runs: i64,
    pub converted: i64,
}

/// One step's figures: its contacts by outcome, and opens and clicks of its messages.
#[derive(Debug, Clone)]
pub struct StepFigures {
    pub step: usize,
    pub step_type: String,
    pub outcomes: std::collections::BTreeMap<String, i64>,
    pub opened: i64,
    pub clicked: i64,
    /// Runs messaged at this step, and how many ordered after the message.
    pub messaged: GroupFigures,
    /// Holdout runs that reached this step (its baseline), and how many ordered after.
    pub holdout: GroupFigures,
    pub lift: Option<Lift>,
    /// Revenue (net of refunds) of the orders after this step's messages, per currency.
    pub revenue: std::collections::BTreeMap<String, i64>,
}

impl StepFigures {
    pub fn empty(step: usize) -> StepFigures {
        StepFigures {
            step,
            step_type: String::new(),
            outcomes: Default::default(),
            opened: 0,
            clicked: 0,
            messaged: GroupFigures::default(),
            holdout: GroupFigures::default(),
            lift: None,
            revenue: Default::default(),
        }
    }
}

/// Conversions after one step, for one group (messaged or holdout).
#[derive(Debug, Clone, QueryableByName)]
pub struct StepConversion {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub step: i32,
    #[diesel(sql_type = Bool)]
    pub holdout: bool,
    #[diesel(sql_type = BigInt)]
    pub runs: i64,
    #[diesel(sql_type = BigInt)]
    pub converted: i64,
}

/// Revenue after one step's messages, per currency.
#[derive(Debug, Clone, QueryableByName)]
pub struct StepRevenue {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub step: i32,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub revenue: i64,
}

#[derive(Debug, Clone)]
pub struct FlowReport {
    pub entered: i64,
    pub active: i64,
    pub completed: i64,
    pub exited: std::collections::BTreeMap<String, i64>,
    pub treated: GroupFigures,
    pub holdout: GroupFigures,
    pub lift: Option<Lift>,
    pub revenue: Vec<RevenueRow>,
    pub steps: Vec<StepFigures>,
}

/// A message rendered for one customer, not sent.
#[derive(Debug, Clone)]
pub struct Preview {
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = flow_runs)]
pub struct RunRow {
    pub id: i64,
    pub flow_id: i64,
    pub version: i32,
    pub customer_id: Option<i64>,
    pub enquiry_id: Option<i64>,
    pub holdout: bool,
    pub state: String,
    pub exit_reason: Option<String>,
    pub step: i32,
    pub next_at: NaiveDateTime,
    pub promo_code: Option<String>,
    pub promo_expires_at: Option<NaiveDateTime>,
    pub last_contact_id: Option<i64>,
    pub entered_at: NaiveDateTime,
    pub conversion_until: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = flow_runs)]
pub struct NewRun {
    pub flow_id: i64,
    pub version: i32,
    pub customer_id: Option<i64>,
    pub enquiry_id: Option<i64>,
    pub holdout: bool,
    pub state: String,
    pub step: i32,
    pub next_at: NaiveDateTime,
    pub entered_at: NaiveDateTime,
    pub conversion_until: NaiveDateTime,
}

/// What a scheduler round changes on a run: written whole.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = flow_runs, treat_none_as_null = true)]
pub struct RunProgress {
    pub state: String,
    pub exit_reason: Option<String>,
    pub step: i32,
    pub next_at: NaiveDateTime,
    pub promo_code: Option<String>,
    pub promo_expires_at: Option<NaiveDateTime>,
    pub last_contact_id: Option<i64>,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = flow_contacts)]
pub struct FlowContactRow {
    pub id: i64,
    pub run_id: i64,
    pub flow_id: i64,
    pub customer_id: Option<i64>,
    pub step: i32,
    pub outcome: String,
    pub channel: Option<String>,
    pub message_id: Option<i64>,
    pub token: Option<String>,
    pub opened_at: Option<NaiveDateTime>,
    pub clicked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = flow_contacts)]
pub struct NewFlowContact {
    pub run_id: i64,
    pub flow_id: i64,
    pub customer_id: Option<i64>,
    pub step: i32,
    pub outcome: String,
    pub channel: Option<String>,
    pub message_id: Option<i64>,
    pub token: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A customer's history in a flow, for entry decisions: whether a run is active, and
/// when they last entered.
#[derive(Debug, Clone, QueryableByName)]
pub struct EntryHistory {
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = BigInt)]
    pub active_runs: i64,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    pub last_entered_at: NaiveDateTime,
}

/// One customer as the send gate sees them on a channel.
#[derive(Debug, Clone, QueryableByName)]
pub struct GateRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub phone: Option<String>,
    /// The current consent state on the channel (NULL: never set).
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_state: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub consent_source: Option<String>,
    #[diesel(sql_type = Bool)]
    pub reachable: bool,
    #[diesel(sql_type = Bool)]
    pub erased: bool,
}

/// Counts of the report, one per group.
#[derive(Debug, Clone, QueryableByName)]
pub struct RunCount {
    #[diesel(sql_type = Bool)]
    pub holdout: bool,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub exit_reason: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub runs: i64,
    #[diesel(sql_type = BigInt)]
    pub converted: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct StepCount {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub step: i32,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = BigInt)]
    pub contacts: i64,
    #[diesel(sql_type = BigInt)]
    pub opened: i64,
    #[diesel(sql_type = BigInt)]
    pub clicked: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct RevenueRow {
    #[diesel(sql_type = Bool)]
    pub holdout: bool,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue: i64,
}
