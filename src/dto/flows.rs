use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::domain::flows::library::{self, FlowTemplate};
use crate::domain::flows::{ExitRules, FlowDefinition, QuietHours, Reentry, Step, Trigger};
use crate::domain::{clean_text, merge_patch, ConsentChannel, FlowOutcome, FlowStatus};
use crate::dto::json::parse_json;
use crate::error::AppError;
use crate::models::customers::CustomerRecord;
use crate::models::flows::{FlowContactRow, FlowReport as ReportModel, FlowView, Preview, RunRow};

/// Body of `POST /v1/flows`: a whole definition, or `from_template` and the fields to
/// change in it.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Welcome", "trigger": {"type": "consent_subscribed"}, "channel": "email",
    "holdout_percent": 10, "reentry": {"policy": "once"}, "quiet_hours": {"start": "21:00", "end": "08:00"},
    "steps": [
        {"type": "send", "subject": "Welcome to {{ shop_name }}", "text": "Hello {{ first_name }}!\nUnsubscribe: {{ unsubscribe_url }}"},
        {"type": "wait", "days": 3},
        {"type": "send", "subject": "Our best sellers", "text": "{% for p in recommendations %}- {{ p.name }}\n{% endfor %}Unsubscribe: {{ unsubscribe_url }}"}
    ]}))]
pub struct FlowInput {
    /// Required unless `from_template` gives one.
    #[schema(min_length = 1, max_length = 200)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A key of `GET /v1/flow-templates`; the other fields override the template's.
    #[schema(
        pattern = "^(welcome_series|post_purchase|birthday_offer|win_back|referral_reward|unresolved_enquiry_alert)$"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// Segment rules (as in `POST /v1/segments`) a customer must match to enter; null
    /// removes a template's.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub entry_rules: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_rules: Option<ExitRules>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ConsentChannel>,
    /// Share of entrants held out (recorded, never messaged): the baseline of the lift.
    #[schema(minimum = 0, maximum = 50)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout_percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reentry: Option<Reentry>,
    /// Null removes a template's quiet hours.
    #[schema(value_type = Option<QuietHours>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<Option<QuietHours>>,
    #[schema(minimum = 1, maximum = 365)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_window_days: Option<i64>,
    #[schema(min_items = 1, max_items = 50)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// What the flow costs (`{currency, fixed_minor, per_contact_minor}`); only orders in
    /// the cost's currency are set against it. Null removes it.
    #[schema(value_type = Option<crate::domain::costs::ContactCost>)]
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub cost: Option<Option<crate::domain::costs::ContactCost>>,
}

/// A field that may be absent (keep the template's), null (remove it) or set.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

fn clean_name(name: Option<String>) -> Result<String, AppError> {
    let name = name.as_deref().and_then(clean_text).ok_or_else(|| AppError::invalid("name", "give the flow a name"))?;
    if name.chars().count() > 200 {
        return Err(AppError::invalid("name", "at most 200 characters"));
    }
    Ok(name)
}

/// The definition with its cost checked (422 naming `cost.*`) and its currency upper-cased.
fn checked_cost(mut definition: FlowDefinition) -> Result<FlowDefinition, AppError> {
    if let Some(cost) = definition.cost.take() {
        let mut errors = Vec::new();
        definition.cost = cost.checked("cost", &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
    }
    Ok(definition)
}

/// A validated new flow: its name, definition and the template it came from.
pub struct FlowDraft {
    pub name: String,
    pub definition: FlowDefinition,
    pub template_key: Option<String>,
}

impl FlowInput {
    pub fn into_draft(self) -> Result<FlowDraft, AppError> {
        let template: Option<&FlowTemplate> = match &self.from_template {
            Some(key) => Some(library::find(key).ok_or_else(|| {
                let keys: Vec<&str> = library::TEMPLATES.iter().map(|t| t.key).collect();
                AppError::invalid("from_template", format!("`{key}` is not a template; use one of {}", keys.join(", ")))
            })?),
            None => None,
        };
        let mut value = template.map(|t| (t.definition)()).unwrap_or_else(|| Value::Object(Default::default()));
        let name = self.name.clone().or(template.map(|t| t.name.to_string()));
        let mut overrides = serde_json::to_value(&self).map_err(|e| AppError::internal(e.to_string()))?;
        if let Some(fields) = overrides.as_object_mut() {
            fields.remove("name");
            fields.remove("from_template");
        }
        merge_patch(&mut value, overrides);
        let definition = checked_cost(parse_json(value.to_string().as_bytes())?)?;
        Ok(FlowDraft { name: clean_name(name)?, definition, template_key: template.map(|t| t.key.to_string()) })
    }
}

/// Body of `PATCH /v1/flows/{id}`: a JSON Merge Patch of the flow's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(value_type = Object)]
pub struct FlowPatchInput(pub Value);

impl Validate for FlowPatchInput {
    /// Checked as a whole once merged onto the flow (`apply_to`).
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

impl FlowPatchInput {
    /// The patched name and definition.
    pub fn apply_to(&self, current: &FlowView) -> Result<(String, FlowDefinition), AppError> {
        if !self.0.is_object() {
            return Err(AppError::invalid("body", "must be a JSON object"));
        }
        let mut value = serde_json::to_value(&current.definition).map_err(|e| AppError::internal(e.to_string()))?;
        value["name"] = Value::String(current.row.name.clone());
        merge_patch(&mut value, self.0.clone());
        let name = value.as_object_mut().and_then(|fields| fields.remove("name"));
        let name = match name {
            Some(Value::String(name)) => Some(name),
            Some(_) => return Err(AppError::invalid("name", "must be a string")),
            None => None,
        };
        let definition = checked_cost(parse_json(value.to_string().as_bytes())?)?;
        Ok((clean_name(name)?, definition))
    }
}

/// A flow: its state and the definition of its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct Flow {
    pub id: i64,
    pub name: String,
    pub status: FlowStatus,
    /// Grows with every change; runs keep the version they entered with.
    pub version: i32,
    pub template_key: Option<String>,
    // The definition's fields, as `POST /v1/flows` takes them (written out rather than
    // flattened: the definition's schema is closed to other fields).
    pub trigger: Trigger,
    #[schema(value_type = Option<Object>)]
    pub entry_rules: Option<Value>,
    pub exit_rules: ExitRules,
    pub channel: ConsentChannel,
    pub holdout_percent: i64,
    pub reentry: Reentry,
    pub quiet_hours: Option<QuietHours>,
    pub conversion_window_days: i64,
    pub steps: Vec<Step>,
    /// What the flow costs; null when not given.
    pub cost: Option<crate::domain::costs::ContactCost>,
    pub activated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<FlowView> for Flow {
    fn from(view: FlowView) -> Self {
        let row = view.row;
        Flow {
            id: row.id,
            name: row.name,
            status: FlowStatus::parse(&row.status).unwrap_or(FlowStatus::Draft),
            version: row.version,
            template_key: row.template_key,
            trigger: view.definition.trigger,
            entry_rules: view.definition.entry_rules,
            exit_rules: view.definition.exit_rules,
            channel: view.definition.channel,
            holdout_percent: view.definition.holdout_percent,
            reentry: view.definition.reentry,
            quiet_hours: view.definition.quiet_hours,
            conversion_window_days: view.definition.conversion_window_days,
            steps: view.definition.steps,
            cost: view.definition.cost,
            activated_at: row.activated_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowPage {
    pub items: Vec<Flow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlowListQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlowContactsQuery {
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only this step's contacts (0-based).
    #[param(minimum = 0, maximum = 49)]
    pub step: Option<i32>,
    /// Only this outcome, e.g. `listed` for an sms, post or phone step's delivery list.
    pub outcome: Option<FlowOutcome>,
}

/// What one step did for one run, with the customer's contact details (a delivery list).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowContact {
    pub id: i64,
    pub run_id: i64,
    pub customer_id: Option<i64>,
    pub step: i32,
    pub outcome: FlowOutcome,
    pub channel: Option<ConsentChannel>,
    /// The email in the outbox (`GET /v1/messages`).
    pub message_id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl FlowContact {
    pub fn new(row: FlowContactRow, customers: &HashMap<i64, CustomerRecord>) -> FlowContact {
        let customer = row.customer_id.and_then(|id| customers.get(&id)).map(|c| &c.row);
        let field = |get: fn(&crate::models::customers::CustomerRow) -> Option<String>| customer.and_then(get);
        FlowContact {
            id: row.id,
            run_id: row.run_id,
            customer_id: row.customer_id,
            step: row.step,
            outcome: FlowOutcome::parse(&row.outcome).unwrap_or(FlowOutcome::Messaged),
            channel: row.channel.as_deref().and_then(ConsentChannel::parse),
            message_id: row.message_id,
            first_name: field(|c| c.first_name.clone()),
            last_name: field(|c| c.last_name.clone()),
            email: field(|c| c.email.clone()),
            phone: field(|c| c.phone.clone()),
            address_line1: field(|c| c.address_line1.clone()),
            address_line2: field(|c| c.address_line2.clone()),
            postal_code: field(|c| c.postal_code.clone()),
            city: field(|c| c.city.clone()),
            country: field(|c| c.country.clone()),
            opened_at: row.opened_at.map(|t| t.and_utc()),
            clicked_at: row.clicked_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowContactPage {
    pub items: Vec<FlowContact>,
    pub next_cursor: Option<String>,
}

/// A group of the report: runs, and how many converted (ordered within the conversion
/// window after entry).
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResult {
    pub runs: i64,
    pub converted: i64,
    pub conversion_rate: Option<f64>,
}

impl From<crate::models::flows::GroupFigures> for GroupResult {
    fn from(group: crate::models::flows::GroupFigures) -> Self {
        GroupResult {
            runs: group.runs,
            converted: group.converted,
            conversion_rate: (group.runs > 0).then(|| round4(group.converted as f64 / group.runs as f64)),
        }
    }
}

fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

/// The messaged group's conversion rate minus the holdout's, with its 95 % confidence
/// interval (normal approximation): above zero at `low`, the flow pays off.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiftResult {
    pub lift: f64,
    pub low: f64,
    pub high: f64,
}

fn lift_result(l: crate::domain::flows::Lift) -> LiftResult {
    LiftResult { lift: round4(l.lift), low: round4(l.low), high: round4(l.high) }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevenueResult {
    /// `messaged` or `holdout`.
    pub group: String,
    pub currency: String,
    pub orders: i64,
    /// Net of refunds, in minor units.
    pub revenue: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepResult {
    pub step: usize,
    pub r#type: String,
    /// Contacts by outcome (`messaged`, `held_cap`, `held_consent`, `holdout`, ...).
    pub outcomes: BTreeMap<String, i64>,
    pub opened: i64,
    pub clicked: i64,
    /// Runs messaged at this step, and how many ordered after the message (within the
    /// conversion window).
    pub messaged: GroupResult,
    /// Holdout runs that reached this step, and how many ordered after that moment.
    pub holdout: GroupResult,
    /// This step's messaged conversion rate minus its holdout's, with the 95 % interval.
    pub incremental_lift: Option<LiftResult>,
    /// Revenue (net of refunds, minor units) of the orders after this step's messages, per
    /// currency.
    pub revenue: BTreeMap<String, i64>,
}

/// Does the flow pay? Runs by state, each step's outcomes, and the messaged group against
/// the holdout.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowReport {
    pub flow_id: i64,
    pub entered: i64,
    pub active: i64,
    pub completed: i64,
    /// Runs that ended early, by reason (`ordered`, `unsubscribed`, `exit_step`, `merged`).
    pub exited: BTreeMap<String, i64>,
    pub messaged: GroupResult,
    pub holdout: GroupResult,
    /// Null until both groups have runs.
    pub incremental_lift: Option<LiftResult>,
    pub revenue: Vec<RevenueResult>,
    pub steps: Vec<StepResult>,
    /// The flow's cost against the messaged group's orders in the cost's currency (null
    /// without a cost; see docs/analytics.md, "What each promotion cost").
    pub cost: Option<crate::dto::campaigns::CostResult>,
}

impl FlowReport {
    pub fn new(flow_id: i64, report: ReportModel, cost: Option<&crate::domain::costs::ContactCost>) -> FlowReport {
        let cost = cost.map(|cost| crate::dto::campaigns::CostResult::from(flow_cost_figures(cost, &report)));
        FlowReport {
            cost,
            flow_id,
            entered: report.entered,
            active: report.active,
            completed: report.completed,
            exited: report.exited,
            messaged: report.treated.into(),
            holdout: report.holdout.into(),
            incremental_lift: report.lift.map(lift_result),
            revenue: report
                .revenue
                .into_iter()
                .map(|r| RevenueResult {
                    group: if r.holdout { "holdout" } else { "messaged" }.into(),
                    currency: r.currency,
                    orders: r.orders,
                    revenue: r.revenue,
                })
                .collect(),
            steps: report
                .steps
                .into_iter()
                .map(|s| StepResult {
                    step: s.step,
                    r#type: s.step_type,
                    outcomes: s.outcomes,
                    opened: s.opened,
                    clicked: s.clicked,
                    messaged: s.messaged.into(),
                    holdout: s.holdout.into(),
                    incremental_lift: s.lift.map(lift_result),
                    revenue: s.revenue,
                })
                .collect(),
        }
    }
}

/// A flow's cost set against its messaged group (orders and revenue in the cost's
/// currency), with the holdout as the baseline when it has runs.
pub fn flow_cost_figures(
    cost: &crate::domain::costs::ContactCost,
    report: &ReportModel,
) -> crate::domain::costs::CostFigures {
    use crate::domain::costs::{figures, Holdout, Returns};
    let contacts: i64 = report
        .steps
        .iter()
        .flat_map(|s| s.outcomes.iter())
        .filter(|(outcome, _)| matches!(outcome.as_str(), "messaged" | "listed"))
        .map(|(_, n)| *n)
        .sum();
    let messaged = report.revenue.iter().filter(|r| !r.holdout && r.currency == cost.currency);
    let (orders, revenue) = messaged.fold((0, 0), |(o, r), row| (o + row.orders, r + row.revenue));
    let holdout = (report.holdout.runs > 0).then_some(Holdout {
        treated: report.treated.runs,
        treated_converted: report.treated.converted,
        holdout: report.holdout.runs,
        holdout_converted: report.holdout.converted,
    });
    figures(&cost.currency, cost.total(contacts), Returns { orders, revenue, holdout })
}

/// Body of `POST /v1/flows/{id}/preview`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    #[schema(minimum = 1)]
    #[validate(range(min = 1))]
    pub customer_id: i64,
    /// A `send` or `notify_shop` step (0-based).
    #[schema(minimum = 0, maximum = 49)]
    #[validate(range(min = 0, max = 49))]
    pub step: i64,
}

/// A message rendered for one customer; nothing was sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePreview {
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

impl From<Preview> for MessagePreview {
    fn from(p: Preview) -> Self {
        MessagePreview { recipient: p.recipient, subject: p.subject, text: p.text, html: p.html }
    }
}

/// A ready-made flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowTemplateInfo {
    pub key: String,
    pub name: String,
    pub description: String,
    pub definition: FlowDefinition,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FlowTemplateList {
    pub items: Vec<FlowTemplateInfo>,
}

impl FlowTemplateList {
    pub fn all() -> FlowTemplateList {
        FlowTemplateList {
            items: library::TEMPLATES
                .iter()
                .filter_map(|t| {
                    let definition = serde_json::from_value((t.definition)()).ok()?;
                    Some(FlowTemplateInfo {
                        key: t.key.into(),
                        name: t.name.into(),
                        description: t.description.into(),
                        definition,
                    })
                })
                .collect(),
        }
    }
}

/// A customer's run through a flow (export).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowRunRecord {
    pub id: i64,
    pub flow_id: i64,
    pub holdout: bool,
    pub state: String,
    pub exit_reason: Option<String>,
    pub step: i32,
    pub promo_code: Option<String>,
    pub entered_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<RunRow> for FlowRunRecord {
    fn from(row: RunRow) -> Self {
        FlowRunRecord {
            id: row.id,
            flow_id: row.flow_id,
            holdout: row.holdout,
            state: row.state,
            exit_reason: row.exit_reason,
            step: row.step,
            promo_code: row.promo_code,
            entered_at: row.entered_at.and_utc(),
            finished_at: row.finished_at.map(|t| t.and_utc()),
        }
    }
}

/// A flow message (or delivery-list entry) that reached the customer (timeline, export).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowContactRecord {
    pub id: i64,
    pub flow_id: i64,
    pub run_id: i64,
    pub step: i32,
    pub outcome: FlowOutcome,
    pub message_id: Option<i64>,
    pub opened_at: Option<DateTime<Utc>>,
    pub clicked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<FlowContactRow> for FlowContactRecord {
    fn from(row: FlowContactRow) -> Self {
        FlowContactRecord {
            id: row.id,
            flow_id: row.flow_id,
            run_id: row.run_id,
            step: row.step,
            outcome: FlowOutcome::parse(&row.outcome).unwrap_or(FlowOutcome::Messaged),
            message_id: row.message_id,
            opened_at: row.opened_at.map(|t| t.and_utc()),
            clicked_at: row.clicked_at.map(|t| t.and_utc()),
            created_at: row.created_at.and_utc(),
        }
    }
}
