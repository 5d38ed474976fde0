//! Automated flows: what starts a run (trigger), who may enter (entry rules), what happens
//! (steps), when a run ends early (exit rules), and the times involved (waits in the shop's
//! time zone, quiet hours, birthdays). Everything here is pure: the scheduler in
//! services::flows applies it with an injected clock.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::ConsentChannel;
use crate::error::FieldError;

/// Steps in one flow, at most.
pub const MAX_STEPS: usize = 50;
/// Steps one run may take in one scheduler round without a wait (a guard; validation
/// already refuses loops without a wait).
pub const MAX_STEPS_PER_ROUND: usize = MAX_STEPS + 1;
/// How late a message may still go out by default (after downtime): later, it is skipped.
pub const DEFAULT_TOLERANCE_HOURS: i64 = 24;

/// What starts a run. Event triggers read the event log; the others are scheduled scans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A customer was created (`customer.created`).
    CustomerCreated {},
    /// The flow's channel became `subscribed` (`consent.changed`): a welcome.
    ConsentSubscribed {},
    /// Any order (`order.created`): post-purchase.
    OrderCreated {},
    /// The customer's `n`th order: a loyalty reward.
    NthOrder {
        #[schema(minimum = 1, maximum = 1000)]
        n: i64,
    },
    /// `days_before` days before the customer's birthday, in the shop's time zone.
    Birthday {
        #[schema(minimum = 0, maximum = 60)]
        #[serde(default)]
        days_before: i64,
    },
    /// The anniversary of the customer's first order.
    FirstOrderAnniversary {},
    /// No order for `interval_multiple` times the customer's own interval between orders
    /// (customers with at least two orders), or `probability_alive` below the threshold
    /// (from the predictions). Give one.
    Lapsed {
        #[schema(minimum = 1, maximum = 20)]
        interval_multiple: Option<f64>,
        #[schema(minimum = 0, maximum = 1)]
        probability_alive_below: Option<f64>,
    },
    /// The customer entered the saved segment (checked on a schedule).
    SegmentEntered {
        #[schema(minimum = 1)]
        segment_id: i64,
    },
    /// An enquiry has had no status change for `hours` (an alert to the shop).
    EnquiryUnresolved {
        #[schema(minimum = 1, maximum = 720)]
        hours: i64,
    },
    /// A referred customer's first order: the referrer enters (their reward).
    ReferralConverted {},
    /// An enquiry's follow-up fell due (`enquiry.follow_up_due`): a reminder to the shop.
    EnquiryFollowUpDue {},
}

impl Trigger {
    /// The stored name of the trigger's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::CustomerCreated {} => "customer_created",
            Trigger::ConsentSubscribed {} => "consent_subscribed",
            Trigger::OrderCreated {} => "order_created",
            Trigger::NthOrder { .. } => "nth_order",
            Trigger::Birthday { .. } => "birthday",
            Trigger::FirstOrderAnniversary {} => "first_order_anniversary",
            Trigger::Lapsed { .. } => "lapsed",
            Trigger::SegmentEntered { .. } => "segment_entered",
            Trigger::EnquiryUnresolved { .. } => "enquiry_unresolved",
            Trigger::ReferralConverted {} => "referral_converted",
            Trigger::EnquiryFollowUpDue {} => "enquiry_follow_up_due",
        }
    }

    /// Whether a scheduled scan (not the event log) starts this trigger's runs.
    pub fn is_scanned(&self) -> bool {
        matches!(
            self,
            Trigger::Birthday { .. }
                | Trigger::FirstOrderAnniversary {}
                | Trigger::Lapsed { .. }
                | Trigger::SegmentEntered { .. }
                | Trigger::EnquiryUnresolved { .. }
        )
    }
}

/// A moment of the week in the shop's time zone: `{"weekday": "tue", "time": "10:00"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyMoment {
    #[schema(pattern = "^(mon|tue|wed|thu|fri|sat|sun)$")]
    pub weekday: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub time: String,
}

/// What a send step does when the frequency cap holds its message back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenCapped {
    /// Wait for the next free slot (the cap's window moving on), then send.
    #[default]
    Wait,
    /// Skip the message and go on.
    Skip,
}

/// A branch's question about the customer. Give exactly one.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchCondition {
    /// Has the customer ordered since entering the flow?
    pub ordered_since_entry: Option<bool>,
    /// Did the customer open the run's last message?
    pub opened_last_message: Option<bool>,
    /// Did the customer click a link in the run's last message?
    pub clicked_last_message: Option<bool>,
    /// Is the customer a member of these segment rules (as in `POST /v1/segments`)?
    #[schema(value_type = Option<Object>)]
    pub rules: Option<Value>,
}

/// One step. `then_step` / `else_step` of a branch are step indexes (0-based); the number
/// of steps means "the end".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Wait a duration, or until the next given weekday and local time.
    Wait {
        #[schema(minimum = 0, maximum = 365)]
        days: Option<i64>,
        #[schema(minimum = 0, maximum = 8760)]
        hours: Option<i64>,
        #[schema(minimum = 0, maximum = 525600)]
        minutes: Option<i64>,
        until: Option<WeeklyMoment>,
    },
    /// A message on the flow's channel: an email through the outbox, or for sms, post and
    /// phone an entry on the step's delivery list. Templates use minijinja.
    Send {
        #[schema(max_length = 500)]
        subject: Option<String>,
        #[schema(min_length = 1, max_length = 20000)]
        text: String,
        #[schema(max_length = 100000)]
        html: Option<String>,
        /// How late (after downtime) the message may still go out; later it is skipped.
        #[schema(minimum = 1, maximum = 720)]
        tolerance_hours: Option<i64>,
        when_capped: Option<WhenCapped>,
    },
    /// A unique single-use promo code for this customer, valid `valid_days`; later steps
    /// use it as `{{promo_code}}` and `{{promo_expires_at}}`.
    Offer {
        #[schema(pattern = "^[A-Z0-9]{2,20}$")]
        prefix: String,
        #[schema(pattern = "^(percent|fixed|free_shipping)$")]
        discount_type: String,
        #[serde(default)]
        #[schema(minimum = 0, maximum = 100000000)]
        discount_value: i64,
        #[schema(pattern = "^[A-Z]{3}$")]
        currency: Option<String>,
        #[schema(minimum = 1, maximum = 365)]
        valid_days: i64,
    },
    Branch {
        condition: BranchCondition,
        #[schema(minimum = 0, maximum = 50)]
        then_step: Option<usize>,
        #[schema(minimum = 0, maximum = 50)]
        else_step: Option<usize>,
    },
    Tag {
        #[schema(min_length = 1, max_length = 64)]
        tag: String,
    },
    Untag {
        #[schema(min_length = 1, max_length = 64)]
        tag: String,
    },
    /// A mail to the shop's own address (`RAPPORT_SHOP_EMAIL`, else the sender address).
    NotifyShop {
        #[schema(min_length = 1, max_length = 500)]
        subject: String,
        #[schema(min_length = 1, max_length = 20000)]
        text: String,
    },
    Exit {},
}

/// When a run ends before its last step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitRules {
    /// The customer ordered since entering (checked before every step).
    #[serde(default)]
    pub ordered_since_entry: bool,
    /// The customer unsubscribed from the flow's channel (checked before every step).
    #[serde(default = "yes")]
    pub unsubscribed: bool,
}

fn yes() -> bool {
    true
}

impl Default for ExitRules {
    fn default() -> Self {
        ExitRules { ordered_since_entry: false, unsubscribed: true }
    }
}

/// May a customer enter again? Never while a run of theirs is active in the flow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reentry {
    /// Once ever.
    #[default]
    Once,
    /// Again once `days` have passed since their last entry.
    Every {
        #[schema(minimum = 1, maximum = 3650)]
        days: i64,
    },
}

/// Local hours in which no message goes out: a message due then waits until `end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: String,
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: String,
}

/// A flow's definition (one version of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    pub trigger: Trigger,
    /// Segment rules the customer must match when entering.
    #[schema(value_type = Option<Object>)]
    pub entry_rules: Option<Value>,
    #[serde(default)]
    pub exit_rules: ExitRules,
    pub channel: ConsentChannel,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 50)]
    pub holdout_percent: i64,
    #[serde(default)]
    pub reentry: Reentry,
    pub quiet_hours: Option<QuietHours>,
    /// Orders within this many days of entry count as conversions in the report.
    #[serde(default = "default_conversion_window")]
    #[schema(minimum = 1, maximum = 365)]
    pub conversion_window_days: i64,
    #[schema(min_items = 1, max_items = 50)]
    pub steps: Vec<Step>,
    /// What the flow costs: a fixed part and a part per contact made (message sent or
    /// delivery-list entry), in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::domain::costs::ContactCost>,
}

fn default_conversion_window() -> i64 {
    30
}

fn field(path: String, message: impl Into<String>) -> FieldError {
    FieldError::new(path, message)
}

/// `HH:MM`, exactly (two digits each).
fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let exact = text.len() == 5 && text.as_bytes()[2] == b':';
    exact.then(|| NaiveTime::parse_from_str(text, "%H:%M").ok()).flatten()
}

fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) && crate::domain::Currency::parse(code).is_ok()
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// Where each step may go next: the following step, a branch's targets, nothing (exit).
pub fn successors(steps: &[Step], index: usize) -> Vec<usize> {
    match &steps[index] {
        Step::Exit {} => Vec::new(),
        Step::Branch { then_step, else_step, .. } => {
            let mut next = vec![then_step.unwrap_or(index + 1), else_step.unwrap_or(index + 1)];
            next.dedup();
            next
        }
        _ => vec![index + 1],
    }
}

impl FlowDefinition {
    /// Checks what the schema cannot say: ranges across fields, step targets, reachability,
    /// loops without a wait, templates (with `check_template`) and rules (with `check_rules`).
    pub fn validate(
        &self,
        check_template: impl Fn(&str, bool) -> Result<(), String>,
        check_rules: impl Fn(&Value, &str) -> Vec<FieldError>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        self.validate_trigger(&mut errors);
        if !(0..=50).contains(&self.holdout_percent) {
            errors.push(field("holdout_percent".into(), "must be from 0 to 50"));
        }
        if !(1..=365).contains(&self.conversion_window_days) {
            errors.push(field("conversion_window_days".into(), "must be from 1 to 365"));
        }
        if let Reentry::Every { days } = self.reentry {
            if !(1..=3650).contains(&days) {
                errors.push(field("reentry.days".into(), "must be from 1 to 3650"));
            }
        }
        if let Some(quiet) = &self.quiet_hours {
            for (name, value) in [("start", &quiet.start), ("end", &quiet.end)] {
                if parse_hhmm(value).is_none() {
                    errors.push(field(format!("quiet_hours.{name}"), "expected a local time HH:MM"));
                }
            }
            if quiet.start == quiet.end {
                errors.push(field("quiet_hours.end".into(), "must differ from `start`"));
            }
        }
        if let Some(rules) = &self.entry_rules {
            errors.extend(check_rules(rules, "entry_rules"));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            errors.push(field("steps".into(), format!("give 1 to {MAX_STEPS} steps")));
            return errors;
        }
        for (index, step) in self.steps.iter().enumerate() {
            self.validate_step(index, step, &check_template, &check_rules, &mut errors);
        }
        if errors.is_empty() {
            self.validate_graph(&mut errors);
        }
        errors
    }

    fn validate_trigger(&self, errors: &mut Vec<FieldError>) {
        match &self.trigger {
            Trigger::NthOrder { n } if !(1..=1000).contains(n) => {
                errors.push(field("trigger.n".into(), "must be from 1 to 1000"))
            }
            Trigger::Birthday { days_before } if !(0..=60).contains(days_before) => {
                errors.push(field("trigger.days_before".into(), "must be from 0 to 60"))
            }
            Trigger::Lapsed { interval_multiple, probability_alive_below } => {
                match (interval_multiple, probability_alive_below) {
                    (Some(_), Some(_)) | (None, None) => errors
                        .push(field("trigger".into(), "give one of `interval_multiple` or `probability_alive_below`")),
                    (Some(k), None) if !(1.0..=20.0).contains(k) => {
                        errors.push(field("trigger.interval_multiple".into(), "must be from 1 to 20"))
                    }
                    (None, Some(p)) if !(0.0..=1.0).contains(p) => {
                        errors.push(field("trigger.probability_alive_below".into(), "must be from 0 to 1"))
                    }
                    _ => {}
                }
            }
            Trigger::SegmentEntered { segment_id } if *segment_id < 1 => {
                errors.push(field("trigger.segment_id".into(), "must be a segment id"))
            }
            Trigger::EnquiryUnresolved { hours } if !(1..=720).contains(hours) => {
                errors.push(field("trigger.hours".into(), "must be from 1 to 720"))
            }
            _ => {}
        }
    }

    fn validate_step(
        &self,
        index: usize,
        step: &Step,
        check_template: &impl Fn(&str, bool) -> Result<(), String>,
        check_rules: &impl Fn(&Value, &str) -> Vec<FieldError>,
        errors: &mut Vec<FieldError>,
    ) {
        let at = |name: &str| format!("steps[{index}].{name}");
        // A template: within its length bounds, then compiling with known variables.
        let template = |name: &str, source: &str, html: bool| {
            let most = match name {
                "subject" => 500,
                "html" => 100_000,
                _ => 20_000,
            };
            if source.trim().is_empty() || source.chars().count() > most {
                return Some(field(at(name), format!("give 1 to {most} characters")));
            }
            check_template(source, html).err().map(|message| field(at(name), message))
        };
        match step {
            Step::Wait { days, hours, minutes, until } => {
                let parts = [days, hours, minutes];
                let total = wait_duration(*days, *hours, *minutes);
                match until {
                    Some(moment) => {
                        if parts.iter().any(|p| p.is_some()) {
                            errors.push(field(at("until"), "give a duration or `until`, not both"));
                        }
                        if parse_weekday(&moment.weekday).is_none() {
                            errors.push(field(at("until.weekday"), "expected mon, tue, wed, thu, fri, sat or sun"));
                        }
                        if parse_hhmm(&moment.time).is_none() {
                            errors.push(field(at("until.time"), "expected a local time HH:MM"));
                        }
                    }
                    None if parts.iter().any(|p| p.is_some_and(|v| v < 0)) => {
                        errors.push(field(at("days"), "durations cannot be negative"))
                    }
                    None if total <= Duration::zero() || total > Duration::days(365) => {
                        errors.push(field(at("days"), "wait more than zero and at most 365 days"))
                    }
                    None => {}
                }
            }
            Step::Send { subject, text, html, tolerance_hours, .. } => {
                if let Some(subject) = subject {
                    errors.extend(template("subject", subject, false));
                } else if self.channel == ConsentChannel::Email {
                    errors.push(field(at("subject"), "an email needs a subject"));
                }
                errors.extend(template("text", text, false));
                if let Some(html) = html {
                    errors.extend(template("html", html, true));
                    if self.channel != ConsentChannel::Email {
                        errors.push(field(at("html"), "only an email has an HTML part"));
                    }
                }
                if tolerance_hours.is_some_and(|h| !(1..=720).contains(&h)) {
                    errors.push(field(at("tolerance_hours"), "must be from 1 to 720"));
                }
            }
            Step::Offer { prefix, discount_type, discount_value, currency, valid_days } => {
                if prefix.len() < 2
                    || prefix.len() > 20
                    || !prefix.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                {
                    errors.push(field(at("prefix"), "2 to 20 capital letters or digits"));
                }
                match (discount_type.as_str(), *discount_value, currency) {
                    ("percent", 1..=100, None) | ("free_shipping", 0, None) => {}
                    ("fixed", 1..=100_000_000, Some(code)) if is_currency(code) => {}
                    ("fixed", 1..=100_000_000, Some(code)) => errors
                        .push(field(at("currency"), format!("`{code}` is not an ISO 4217 currency code in capitals"))),
                    ("percent", _, _) => {
                        errors.push(field(at("discount_value"), "a percent is from 1 to 100, without currency"))
                    }
                    ("fixed", _, _) => {
                        errors.push(field(at("currency"), "a fixed discount needs a positive value and a currency"))
                    }
                    ("free_shipping", _, _) => {
                        errors.push(field(at("discount_value"), "free shipping takes value 0, without currency"))
                    }
                    _ => errors.push(field(at("discount_type"), "expected percent, fixed or free_shipping")),
                }
                if !(1..=365).contains(valid_days) {
                    errors.push(field(at("valid_days"), "must be from 1 to 365"));
                }
            }
            Step::Branch { condition, then_step, else_step } => {
                let given = [
                    condition.ordered_since_entry.is_some(),
                    condition.opened_last_message.is_some(),
                    condition.clicked_last_message.is_some(),
                    condition.rules.is_some(),
                ];
                if given.iter().filter(|g| **g).count() != 1 {
                    errors.push(field(at("condition"), "give exactly one condition"));
                }
                if let Some(rules) = &condition.rules {
                    errors.extend(check_rules(rules, &at("condition.rules")));
                }
                for (name, target) in [("then_step", then_step), ("else_step", else_step)] {
                    if target.is_some_and(|t| t > self.steps.len()) {
                        errors.push(field(
                            at(name),
                            format!("there are {} steps (the number of steps means the end)", self.steps.len()),
                        ));
                    }
                }
            }
            Step::Tag { tag } | Step::Untag { tag } => {
                if tag.trim().is_empty() || tag.len() > 64 {
                    errors.push(field(at("tag"), "1 to 64 characters"));
                }
            }
            Step::NotifyShop { subject, text } => {
                errors.extend(template("subject", subject, false));
                errors.extend(template("text", text, false));
            }
            Step::Exit {} => {}
        }
    }

    /// Every step reachable from the first; every loop passes through a wait.
    fn validate_graph(&self, errors: &mut Vec<FieldError>) {
        let steps = &self.steps;
        let mut reached = vec![false; steps.len()];
        let mut stack = vec![0usize];
        while let Some(index) = stack.pop() {
            if index >= steps.len() || reached[index] {
                continue;
            }
            reached[index] = true;
            stack.extend(successors(steps, index));
        }
        if let Some(index) = reached.iter().position(|r| !r) {
            errors.push(field(format!("steps[{index}]"), "this step can never be reached"));
        }
        // A cycle among steps that are not waits would run forever in one moment.
        let is_wait = |i: usize| matches!(steps[i], Step::Wait { .. });
        // 0: not seen, 1: on the current path, 2: done.
        let mut mark = vec![0u8; steps.len()];
        fn visit(i: usize, steps: &[Step], mark: &mut [u8], is_wait: &dyn Fn(usize) -> bool) -> Option<usize> {
            mark[i] = 1;
            for next in successors(steps, i) {
                if next >= steps.len() || is_wait(next) {
                    continue;
                }
                if mark[next] == 1 {
                    return Some(next);
                }
                if mark[next] == 0 {
                    if let Some(found) = visit(next, steps, mark, is_wait) {
                        return Some(found);
                    }
                }
            }
            mark[i] = 2;
            None
        }
        for start in 0..steps.len() {
            if mark[start] == 0 && !is_wait(start) {
                if let Some(index) = visit(start, steps, &mut mark, &is_wait) {
                    errors.push(field(format!("steps[{index}]"), "this step is on a loop without a wait"));
                    return;
                }
            }
        }
    }
}

/// The wait step's duration from its parts.
pub fn wait_duration(days: Option<i64>, hours: Option<i64>, minutes: Option<i64>) -> Duration {
    let clamp = |v: Option<i64>, max: i64| v.unwrap_or(0).clamp(-max, max);
    Duration::days(clamp(days, 100_000))
        + Duration::hours(clamp(hours, 10_000_000))
        + Duration::minutes(clamp(minutes, 1_000_000_000))
}

/// A local date and time as UTC; in a DST gap the time is moved on by the gap, in an
/// overlap the first of the two moments is taken.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> NaiveDateTime {
    let mut probe = local;
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&probe).earliest() {
            return at.naive_utc();
        }
        probe += Duration::minutes(30);
    }
    local
}

pub fn utc_to_local(tz: Tz, utc: NaiveDateTime) -> NaiveDateTime {
    tz.from_utc_datetime(&utc).naive_local()
}

/// When a wait that starts at `from` (UTC) ends.
pub fn wait_until(step: &Step, from: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    match step {
        Step::Wait { until: Some(moment), .. } => {
            let (Some(weekday), Some(time)) = (parse_weekday(&moment.weekday), parse_hhmm(&moment.time)) else {
                return from;
            };
            next_weekly(from, weekday, time, tz)
        }
        Step::Wait { days, hours, minutes, .. } => from + wait_duration(*days, *hours, *minutes),
        _ => from,
    }
}

/// The first `weekday` at local `time` strictly after `from`.
pub fn next_weekly(from: NaiveDateTime, weekday: Weekday, time: NaiveTime, tz: Tz) -> NaiveDateTime {
    let local_day = utc_to_local(tz, from).date();
    for offset in 0..=7 {
        let day = local_day + Duration::days(offset);
        if day.weekday() == weekday {
            let at = local_to_utc(tz, day.and_time(time));
            if at > from {
                return at;
            }
        }
    }
    from + Duration::days(7)
}

/// `at`, or the end of the quiet hours when `at` falls inside them.
pub fn after_quiet_hours(quiet: Option<&QuietHours>, at: NaiveDateTime, tz: Tz) -> NaiveDateTime {
    let Some(quiet) = quiet else { return at };
    let (Some(start), Some(end)) = (parse_hhmm(&quiet.start), parse_hhmm(&quiet.end)) else { return at };
    let local = utc_to_local(tz, at);
    let time = local.time();
    let inside = if start < end { time >= start && time < end } else { time >= start || time < end };
    if !inside {
        return at;
    }
    let end_day = if start < end || time < end { local.date() } else { local.date() + Duration::days(1) };
    local_to_utc(tz, end_day.and_time(end))
}

/// The (month, day) whose birthdays are celebrated on `day` when the flow runs
/// `days_before` ahead; 29 February is celebrated on 28 February in other years.
pub fn birthdays_on(day: NaiveDate, days_before: i64) -> Vec<(u32, u32)> {
    let target = day + Duration::days(days_before);
    let mut dates = vec![(target.month(), target.day())];
    let leap = NaiveDate::from_ymd_opt(target.year(), 2, 29).is_some();
    if target.month() == 2 && target.day() == 28 && !leap {
        dates.push((2, 29));
    }
    dates
}

/// Conversions of the messaged group against the holdout: the difference of the two
/// conversion rates with a 95 % confidence interval (normal approximation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    pub treated_rate: f64,
    pub holdout_rate: f64,
    pub lift: f64,
    pub low: f64,
    pub high: f64,
}

pub fn lift(treated: i64, treated_converted: i64, holdout: i64, holdout_converted: i64) -> Option<Lift> {
    if treated == 0 || holdout == 0 {
        return None;
    }
    let p1 = treated_converted as f64 / treated as f64;
    let p0 = holdout_converted as f64 / holdout as f64;
    let se = (p1 * (1.0 - p1) / treated as f64 + p0 * (1.0 - p0) / holdout as f64).sqrt();
    let lift = p1 - p0;
    Some(Lift { treated_rate: p1, holdout_rate: p0, lift, low: lift - 1.96 * se, high: lift + 1.96 * se })
}

#[cfg(test)]
mod tests;

pub mod library;
