//! Segment rules: a tree of `all` / `any` / `not` nodes over conditions
//! `{"field", "op", "value", "within_days"?, "currency"?}`, parsed into typed values so
//! that the SQL compiler (repositories::segments) only meets valid rules.

use crate::domain::Patch;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::{ConsentChannel, ConsentState, Country, Currency, CustomerKind, CustomerSource, Gender, Language, Tag};
use crate::domain::predictions::CHURN_RISKS;
use crate::error::{AppError, FieldError};

/// Nesting depth and condition count a rule tree may have.
pub const MAX_DEPTH: usize = 8;
pub const MAX_CONDITIONS: usize = 100;
/// Values an `in` / `not_in` list may hold.
pub const MAX_LIST: usize = 1000;

/// The RFM segment names (see README, "RFM").
pub const RFM_SEGMENTS: [&str; 11] = [
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Cond(Condition),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub operand: Operand,
    /// Purchases, promo codes and campaigns: only the last N days count.
    pub within_days: Option<i64>,
    /// Money and order counts: only this currency's statistics.
    pub currency: Option<String>,
}

/// A customer column that holds text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    Source,
    Kind,
    Country,
    City,
    PostalCode,
    Gender,
    PreferredLanguage,
}

impl TextColumn {
    pub fn column(self) -> &'static str {
        match self {
            TextColumn::Source => "source",
            TextColumn::Kind => "kind",
            TextColumn::Country => "country",
            TextColumn::City => "city",
            TextColumn::PostalCode => "postal_code",
            TextColumn::Gender => "gender",
            TextColumn::PreferredLanguage => "preferred_language",
        }
    }

    /// Free text (compared without regard to case) rather than a code.
    pub fn is_free_text(self) -> bool {
        matches!(self, TextColumn::City | TextColumn::PostalCode)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsField {
    OrdersCount,
    TotalSpent,
    AverageOrderValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTime {
    First,
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseField {
    Sku,
    ProductType,
    Category,
    Attribute(String),
}

/// What an affinity condition measures the share of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AffinityDimension {
    ProductType,
    Attribute(String),
}

impl AffinityDimension {
    /// The `dimension` of the stored affinities.
    pub fn stored_name(&self) -> String {
        match self {
            AffinityDimension::ProductType => "product_type".to_string(),
            AffinityDimension::Attribute(key) => format!("attributes.{key}"),
        }
    }
}

/// A stored purchase prediction (domain::predictions) compared with a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionField {
    ProbabilityAlive,
    PredictedClv12m,
    ExpectedOrders90d,
}

impl PredictionField {
    pub fn column(self) -> &'static str {
        match self {
            PredictionField::ProbabilityAlive => "probability_alive",
            PredictionField::PredictedClv12m => "predicted_clv_12m",
            PredictionField::ExpectedOrders90d => "expected_orders_90d",
        }
    }
}

/// A company's field (`company.*`): a company's own for a company, its company's for a
/// person (a person without a company has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyField {
    Id,
    Industry,
    Employees,
    Rating,
    FoundedOn,
}

impl CompanyField {
    /// The column of `company_details` (None for the id).
    pub fn column(self) -> Option<&'static str> {
        match self {
            CompanyField::Id => None,
            CompanyField::Industry => Some("industry"),
            CompanyField::Employees => Some("employees"),
            CompanyField::Rating => Some("rating"),
            CompanyField::FoundedOn => Some("founded_on"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Tag,
    Text(TextColumn),
    Age,
    BirthdayMonth,
    Attribute(String),
    CreatedAt,
    Consent(ConsentChannel),
    Stats(StatsField),
    OrderAt(OrderTime),
    Purchased(PurchaseField),
    UsedPromoCode,
    ReceivedCampaign,
    RfmSegment,
    /// The customer's usual price range in a currency (`overlaps` a range).
    PriceBand,
    /// The customer's share of units of a product type or attribute value.
    Affinity(AffinityDimension),
    Prediction(PredictionField),
    ChurnRisk,
    Company(CompanyField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    Contains,
    Exists,
    NotExists,
    Before,
    After,
    WithinLastDays,
    Overlaps,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "in" => Op::In,
            "not_in" => Op::NotIn,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "between" => Op::Between,
            "contains" => Op::Contains,
            "exists" => Op::Exists,
            "not_exists" => Op::NotExists,
            "before" => Op::Before,
            "after" => Op::After,
            "within_last_days" => Op::WithinLastDays,
            "overlaps" => Op::Overlaps,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Between => "between",
            Op::Contains => "contains",
            Op::Exists => "exists",
            Op::NotExists => "not_exists",
            Op::Before => "before",
            Op::After => "after",
            Op::WithinLastDays => "within_last_days",
            Op::Overlaps => "overlaps",
        }
    }
}

/// The condition's value, typed for its field and op.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    /// One value for eq/ne/contains, several for in/not_in.
    Texts(Vec<String>),
    /// One value for comparisons, two for between, several for in/not_in.
    Integers(Vec<i64>),
    Numbers(Vec<f64>),
    Time(NaiveDateTime),
    TimeRange(NaiveDateTime, NaiveDateTime),
    Days(i64),
    /// `price_band`: a range of minor units `{"min", "max"}`.
    Range(i64, i64),
    /// `affinity.*`: a value and a share of units `{"value", "share"}`.
    Share(String, f64),
}

const TEXT_SET_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::In, Op::NotIn, Op::Exists, Op::NotExists];
const CODE_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::In, Op::NotIn];
const FREE_TEXT_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::In, Op::NotIn, Op::Contains, Op::Exists, Op::NotExists];
const NUMBER_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::Between];
const RANGE_OPS: &[Op] = &[Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::Between];
const TIME_OPS: &[Op] = &[Op::Before, Op::After, Op::Between, Op::WithinLastDays];
const ATTRIBUTE_OPS: &[Op] = &[
    Op::Eq,
    Op::Ne,
    Op::In,
    Op::NotIn,
    Op::Contains,
    Op::Exists,
    Op::NotExists,
    Op::Gt,
    Op::Gte,
    Op::Lt,
    Op::Lte,
    Op::Between,
];

impl Field {
    fn parse(name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("attributes.") {
            return attribute_key(key).map(Field::Attribute);
        }
        if let Some(key) = name.strip_prefix("purchased.attributes.") {
            return attribute_key(key).map(|k| Field::Purchased(PurchaseField::Attribute(k)));
        }
        if let Some(key) = name.strip_prefix("affinity.attributes.") {
            return attribute_key(key).map(|k| Field::Affinity(AffinityDimension::Attribute(k)));
        }
        if let Some(channel) = name.strip_prefix("consent.") {
            return ConsentChannel::parse(channel).map(Field::Consent);
        }
        Some(match name {
            "tag" => Field::Tag,
            "source" => Field::Text(TextColumn::Source),
            "kind" => Field::Text(TextColumn::Kind),
            "country" => Field::Text(TextColumn::Country),
            "city" => Field::Text(TextColumn::City),
            "postal_code" => Field::Text(TextColumn::PostalCode),
            "gender" => Field::Text(TextColumn::Gender),
            "preferred_language" => Field::Text(TextColumn::PreferredLanguage),
            "age" => Field::Age,
            "birthday_month" => Field::BirthdayMonth,
            "created_at" => Field::CreatedAt,
            "orders_count" => Field::Stats(StatsField::OrdersCount),
            "total_spent" => Field::Stats(StatsField::TotalSpent),
            "average_order_value" => Field::Stats(StatsField::AverageOrderValue),
            "first_order_at" => Field::OrderAt(OrderTime::First),
            "last_order_at" => Field::OrderAt(OrderTime::Last),
            "purchased.sku" => Field::Purchased(PurchaseField::Sku),
            "purchased.product_type" => Field::Purchased(PurchaseField::ProductType),
            "purchased.category" => Field::Purchased(PurchaseField::Category),
            "used_promo_code" => Field::UsedPromoCode,
            "received_campaign" => Field::ReceivedCampaign,
            "rfm_segment" => Field::RfmSegment,
            "probability_alive" => Field::Prediction(PredictionField::ProbabilityAlive),
            "predicted_clv_12m" => Field::Prediction(PredictionField::PredictedClv12m),
            "expected_orders_90d" => Field::Prediction(PredictionField::ExpectedOrders90d),
            "churn_risk" => Field::ChurnRisk,
            "price_band" => Field::PriceBand,
            "affinity.product_type" => Field::Affinity(AffinityDimension::ProductType),
            "company.id" => Field::Company(CompanyField::Id),
            "company.industry" => Field::Company(CompanyField::Industry),
            "company.employees" => Field::Company(CompanyField::Employees),
            "company.rating" => Field::Company(CompanyField::Rating),
            "company.founded_on" => Field::Company(CompanyField::FoundedOn),
            _ => return None,
        })
    }

    fn ops(&self) -> Vec<Op> {
        let mut ops = match self {
            Field::Tag | Field::Purchased(_) | Field::UsedPromoCode | Field::ReceivedCampaign => TEXT_SET_OPS.to_vec(),
            Field::Text(column) if column.is_free_text() => FREE_TEXT_OPS.to_vec(),
            Field::Text(TextColumn::Source | TextColumn::Kind)
            | Field::Consent(_)
            | Field::RfmSegment
            | Field::ChurnRisk => CODE_OPS.to_vec(),
            Field::Text(_) => TEXT_SET_OPS.to_vec(),
            Field::Age => [NUMBER_OPS, &[Op::Exists, Op::NotExists]].concat(),
            Field::BirthdayMonth => [NUMBER_OPS, &[Op::In, Op::NotIn]].concat(),
            Field::Stats(_) => NUMBER_OPS.to_vec(),
            Field::Prediction(_) => RANGE_OPS.to_vec(),
            Field::Attribute(_) => ATTRIBUTE_OPS.to_vec(),
            Field::CreatedAt => TIME_OPS.to_vec(),
            Field::OrderAt(_) => [TIME_OPS, &[Op::Exists, Op::NotExists]].concat(),
            Field::PriceBand => vec![Op::Overlaps],
            Field::Affinity(_) => vec![Op::Gt, Op::Gte, Op::Lt, Op::Lte],
            Field::Company(CompanyField::Id) => [CODE_OPS, &[Op::Exists, Op::NotExists]].concat(),
            Field::Company(CompanyField::Industry) => FREE_TEXT_OPS.to_vec(),
            Field::Company(CompanyField::Employees | CompanyField::Rating) => {
                [NUMBER_OPS, &[Op::In, Op::NotIn, Op::Exists, Op::NotExists]].concat()
            }
            Field::Company(CompanyField::FoundedOn) => {
                vec![Op::Before, Op::After, Op::Between, Op::Exists, Op::NotExists]
            }
        };
        if matches!(self, Field::Purchased(PurchaseField::Attribute(_))) {
            ops.push(Op::Contains);
        }
        ops
    }

    fn takes_within_days(&self) -> bool {
        matches!(self, Field::Purchased(_) | Field::UsedPromoCode | Field::ReceivedCampaign)
    }

    fn takes_currency(&self) -> bool {
        matches!(self, Field::Stats(_) | Field::PriceBand)
    }
}

fn attribute_key(key: &str) -> Option<String> {
    let valid = (1..=64).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    valid.then(|| key.to_string())
}

/// Parses a rule tree; every problem is reported with its path under `path`.
pub fn parse(value: &Value, path: &str) -> Result<Rule, Vec<FieldError>> {
    let mut parser = Parser { errors: Vec::new(), conditions: 0 };
    let rule = parser.node(value, path, 1);
    match rule {
        Some(rule) if parser.errors.is_empty() => Ok(rule),
        _ => Err(parser.errors),
    }
}

struct Parser {
    errors: Vec<FieldError>,
    conditions: usize,
}

impl Parser {
    fn fail<T>(&mut self, path: &str, message: impl Into<String>) -> Option<T> {
        self.errors.push(FieldError::new(path, message));
        None
    }

    fn node(&mut self, value: &Value, path: &str, depth: usize) -> Option<Rule> {
        if depth > MAX_DEPTH {
            return self.fail(path, format!("rules nest at most {MAX_DEPTH} levels deep"));
        }
        let Some(object) = value.as_object() else {
            return self
                .fail(path, "must be an object: {\"all\": [...]}, {\"any\": [...]}, {\"not\": {...}} or a condition");
        };
        let group = ["all", "any", "not"].into_iter().find(|key| object.contains_key(*key));
        match group {
            Some(key) if object.len() != 1 => self.fail(path, format!("`{key}` must be the only key of its object")),
            Some("not") => {
                let inner = self.node(&object["not"], &format!("{path}.not"), depth + 1)?;
                Some(Rule::Not(Box::new(inner)))
            }
            Some(key) => {
                let Some(items) = object[key].as_array() else {
                    return self.fail(&format!("{path}.{key}"), "must be a list of rules");
                };
                let mut rules = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    if let Some(rule) = self.node(item, &format!("{path}.{key}[{index}]"), depth + 1) {
                        rules.push(rule);
                    }
                }
                Some(if key == "all" { Rule::All(rules) } else { Rule::Any(rules) })
            }
            None => {
                self.conditions += 1;
                if self.conditions > MAX_CONDITIONS {
                    return self.fail(path, format!("a segment has at most {MAX_CONDITIONS} conditions"));
                }
                self.condition(object, path).map(Rule::Cond)
            }
        }
    }

    fn condition(&mut self, object: &Map<String, Value>, path: &str) -> Option<Condition> {
        for key in object.keys() {
            if !["field", "op", "value", "within_days", "currency"].contains(&key.as_str()) {
                return self.fail(
                    &format!("{path}.{key}"),
                    "unknown key (a condition has field, op, value, within_days, currency)",
                );
            }
        }
        let Some(name) = object.get("field").and_then(Value::as_str) else {
            return self.fail(&format!("{path}.field"), "is required (a field name)");
        };
        let Some(field) = Field::parse(name) else {
            return self.fail(&format!("{path}.field"), format!("`{name}` is not a field segments know"));
        };
        let Some(op_name) = object.get("op").and_then(Value::as_str) else {
            return self.fail(&format!("{path}.op"), "is required");
        };
        let allowed = field.ops();
        let op = match Op::parse(op_name) {
            Some(op) if allowed.contains(&op) => op,
            _ => {
                let names: Vec<&str> = allowed.iter().map(|op| op.as_str()).collect();
                return self.fail(
                    &format!("{path}.op"),
                    format!("`{op_name}` does not apply to `{name}`; use one of {}", names.join(", ")),
                );
            }
        };
        let within_days = match object.get("within_days") {
            None | Some(Value::Null) => None,
            Some(_) if !field.takes_within_days() => {
                return self.fail(&format!("{path}.within_days"), format!("`{name}` does not take within_days"))
            }
            Some(value) => match value.as_i64().filter(|n| (1..=36_500).contains(n)) {
                Some(days) => Some(days),
                None => {
                    return self.fail(&format!("{path}.within_days"), "must be a whole number of days from 1 to 36500")
                }
            },
        };
        let currency = match object.get("currency") {
            None | Some(Value::Null) => None,
            Some(_) if !field.takes_currency() => {
                return self.fail(&format!("{path}.currency"), format!("`{name}` does not take a currency"))
            }
            Some(value) => match value.as_str().map(Currency::parse) {
                Some(Ok(currency)) => Some(currency.as_str().to_string()),
                Some(Err(message)) => return self.fail(&format!("{path}.currency"), message),
                None => return self.fail(&format!("{path}.currency"), "must be a currency code"),
            },
        };
        if field == Field::PriceBand && currency.is_none() {
            return self.fail(&format!("{path}.currency"), "is required for `price_band` (the band's currency)");
        }
        let value_path = format!("{path}.value");
        let operand = match operand(&field, op, object.get("value").unwrap_or(&Value::Null)) {
            Ok(operand) => operand,
            Err(message) => return self.fail(&value_path, message),
        };
        Some(Condition { field, op, operand, within_days, currency })
    }
}

/// The operand an op takes for a field, from the JSON `value`.
fn operand(field: &Field, op: Op, value: &Value) -> Result<Operand, String> {
    match field {
        Field::PriceBand => return price_range(value),
        Field::Affinity(_) => return share(value),
        _ => {}
    }
    match op {
        Op::Exists | Op::NotExists => {
            return if value.is_null() { Ok(Operand::None) } else { Err(format!("`{}` takes no value", op.as_str())) }
        }
        Op::WithinLastDays => {
            return match value.as_i64().filter(|n| (1..=36_500).contains(n)) {
                Some(days) => Ok(Operand::Days(days)),
                None => Err("must be a whole number of days from 1 to 36500".into()),
            }
        }
        Op::Before | Op::After => return Ok(Operand::Time(time(value)?)),
        Op::Between
            if matches!(field, Field::CreatedAt | Field::OrderAt(_) | Field::Company(CompanyField::FoundedOn)) =>
        {
            let [from, to] = pair(value)?;
            let (from, to) = (time(from)?, time(to)?);
            return if from <= to { Ok(Operand::TimeRange(from, to)) } else { Err("the range is inverted".into()) };
        }
        _ => {}
    }
    let values: Vec<&Value> = match op {
        Op::In | Op::NotIn => {
            let items = value.as_array().ok_or("must be a list")?;
            if items.is_empty() || items.len() > MAX_LIST {
                return Err(format!("must list 1 to {MAX_LIST} values"));
            }
            items.iter().collect()
        }
        Op::Between => pair(value)?.to_vec(),
        _ => vec![value],
    };
    let operand = match field {
        Field::Prediction(PredictionField::ProbabilityAlive | PredictionField::ExpectedOrders90d) => {
            let numbers = values
                .iter()
                .map(|v| v.as_f64().filter(|n| *n >= 0.0).ok_or("must be a number, 0 or more"))
                .collect::<Result<Vec<f64>, _>>()?;
            if *field == Field::Prediction(PredictionField::ProbabilityAlive) && numbers.iter().any(|p| *p > 1.0) {
                return Err("a probability is from 0 to 1".into());
            }
            if op == Op::Between && numbers[0] > numbers[1] {
                return Err("the range is inverted".into());
            }
            Operand::Numbers(numbers)
        }
        Field::Age
        | Field::BirthdayMonth
        | Field::Stats(_)
        | Field::ReceivedCampaign
        | Field::Company(CompanyField::Id | CompanyField::Employees | CompanyField::Rating)
        | Field::Prediction(PredictionField::PredictedClv12m) => {
            let numbers = values
                .iter()
                .map(|v| v.as_i64().filter(|n| *n >= 0).ok_or("must be a whole number, 0 or more".to_string()))
                .collect::<Result<Vec<i64>, String>>()?;
            if *field == Field::BirthdayMonth && numbers.iter().any(|m| !(1..=12).contains(m)) {
                return Err("a month is from 1 to 12".into());
            }
            Operand::Integers(numbers)
        }
        Field::Attribute(_) | Field::Purchased(PurchaseField::Attribute(_))
            if matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte | Op::Between) =>
        {
            let numbers =
                values.iter().map(|v| v.as_f64().ok_or("must be a number")).collect::<Result<Vec<f64>, _>>()?;
            Operand::Numbers(numbers)
        }
        _ => Operand::Texts(values.iter().map(|v| text_value(field, op, v)).collect::<Result<Vec<String>, String>>()?),
    };
    if let (Op::Between, Operand::Integers(n)) = (op, &operand) {
        if n[0] > n[1] {
            return Err("the range is inverted".into());
        }
    }
    Ok(operand)
}

/// `{"min": 2000, "max": 6000}`: whole minor units, 0 or more, min <= max.
fn price_range(value: &Value) -> Result<Operand, String> {
    const SHAPE: &str = "must be {\"min\": <minor units>, \"max\": <minor units>}";
    let object = value.as_object().ok_or(SHAPE)?;
    if object.len() != 2 {
        return Err(SHAPE.into());
    }
    let bound = |key: &str| object.get(key).and_then(Value::as_i64).filter(|n| *n >= 0);
    match (bound("min"), bound("max")) {
        (Some(min), Some(max)) if min <= max => Ok(Operand::Range(min, max)),
        (Some(_), Some(_)) => Err("the range is inverted".into()),
        _ => Err(format!("{SHAPE}, whole numbers 0 or more")),
    }
}

/// `{"value": "ring", "share": 0.3}`: a value and a share from 0 to 1.
fn share(value: &Value) -> Result<Operand, String> {
    const SHAPE: &str = "must be {\"value\": <text>, \"share\": <0 to 1>}";
    let object = value.as_object().ok_or(SHAPE)?;
    if object.len() != 2 {
        return Err(SHAPE.into());
    }
    let text = match object.get("value") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return Err(SHAPE.into()),
    };
    if text.is_empty() || text.chars().count() > 200 {
        return Err("`value` must be 1 to 200 characters".into());
    }
    match object.get("share").and_then(Value::as_f64) {
        Some(share) if (0.0..=1.0).contains(&share) => Ok(Operand::Share(text, share)),
        _ => Err("`share` must be a number from 0 to 1".into()),
    }
}

fn pair(value: &Value) -> Result<[&Value; 2], String> {
    match value.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok([a, b]),
        _ => Err("must be a list of two values [from, to]".into()),
    }
}

/// A timestamp (RFC 3339) or a date (midnight UTC).
fn time(value: &Value) -> Result<NaiveDateTime, String> {
    let text = value.as_str().ok_or("must be a date or timestamp string")?;
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .map_err(|_| format!("`{text}` is not a date (2026-01-31) or an RFC 3339 timestamp"))
}

/// A text value, normalized the way the column stores it, or refused when it cannot occur.
fn text_value(field: &Field, op: Op, value: &Value) -> Result<String, String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        // Attribute values may be numbers or booleans; they compare as their text.
        Value::Number(n) if matches!(field, Field::Attribute(_) | Field::Purchased(PurchaseField::Attribute(_))) => {
            n.to_string()
        }
        Value::Bool(b) if matches!(field, Field::Attribute(_) | Field::Purchased(PurchaseField::Attribute(_))) => {
            b.to_string()
        }
        _ => return Err("must be a string".into()),
    };
    if text.is_empty() || text.chars().count() > 200 {
        return Err("must be 1 to 200 characters".into());
    }
    if op == Op::Contains {
        return Ok(text);
    }
    let unknown = |what: &str| format!("`{text}` is not a {what}");
    Ok(match field {
        Field::Tag => Tag::parse(&text)?.into_inner(),
        Field::Text(TextColumn::Source) => {
            CustomerSource::parse(&text).ok_or_else(|| unknown("source"))?.as_str().into()
        }
        Field::Text(TextColumn::Kind) => CustomerKind::parse(&text).ok_or_else(|| unknown("kind"))?.as_str().into(),
        Field::Text(TextColumn::Gender) => Gender::parse(&text).ok_or_else(|| unknown("gender"))?.as_str().into(),
        Field::Text(TextColumn::Country) => Country::parse(&text)?.as_str().to_string(),
        Field::Text(TextColumn::PreferredLanguage) => Language::parse(&text)?.as_str().to_string(),
        // City and postal code: compared without regard to case, in SQL.
        Field::Text(_) => text,
        Field::Consent(_) => ConsentState::parse(&text).ok_or_else(|| unknown("consent state"))?.as_str().into(),
        Field::UsedPromoCode => text.to_uppercase(),
        Field::ChurnRisk => CHURN_RISKS
            .iter()
            .find(|s| **s == text)
            .ok_or_else(|| unknown("churn risk (low, medium, high)"))?
            .to_string(),
        Field::RfmSegment => {
            RFM_SEGMENTS.iter().find(|s| **s == text).ok_or_else(|| unknown("RFM segment"))?.to_string()
        }
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(rules: Value) -> Vec<String> {
        parse(&rules, "rules").unwrap_err().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect()
    }

    #[test]
    fn parses_a_nested_tree() {
        let rule = parse(
            &json!({"all": [
                {"field": "tag", "op": "eq", "value": " VIP "},
                {"any": [{"field": "purchased.product_type", "op": "in", "value": ["shoes"], "within_days": 90},
                         {"field": "average_order_value", "op": "between", "value": [2000, 5000]}]},
                {"not": {"field": "consent.email", "op": "eq", "value": "unsubscribed"}}
            ]}),
            "rules",
        )
        .unwrap();
        let Rule::All(items) = rule else { panic!("all") };
        assert_eq!(items.len(), 3);
        let Rule::Cond(tag) = &items[0] else { panic!("cond") };
        assert_eq!(tag.operand, Operand::Texts(vec!["vip".into()]));
    }

    #[test]
    fn names_unknown_fields_and_unfit_ops() {
        assert_eq!(
            errors(json!({"field": "shoe_size", "op": "eq", "value": 1})),
            ["rules.field: `shoe_size` is not a field segments know"]
        );
        let e = errors(json!({"all": [{"field": "age", "op": "contains", "value": "x"}]}));
        assert!(e[0].starts_with("rules.all[0].op: `contains` does not apply to `age`"), "{e:?}");
        let e = errors(json!({"field": "created_at", "op": "between", "value": ["2026-02-01", "2026-01-01"]}));
        assert_eq!(e, ["rules.value: the range is inverted"]);
        let e = errors(json!({"field": "consent.email", "op": "eq", "value": "maybe"}));
        assert_eq!(e, ["rules.value: `maybe` is not a consent state"]);
        let e = errors(json!({"field": "tag", "op": "eq", "value": "a", "within_days": 3}));
        assert_eq!(e, ["rules.within_days: `tag` does not take within_days"]);
        assert!(!errors(json!({"all": [], "any": []})).is_empty());
    }

    #[test]
    fn price_band_and_affinity_conditions() {
        let rule = parse(
            &json!({"all": [
                {"field": "price_band", "op": "overlaps", "value": {"min": 2000, "max": 6000}, "currency": "eur"},
                {"field": "affinity.product_type", "op": "gte", "value": {"value": " ring ", "share": 0.3}},
                {"field": "affinity.attributes.material", "op": "lt", "value": {"value": "gold", "share": 1}}
            ]}),
            "rules",
        )
        .unwrap();
        let Rule::All(items) = rule else { panic!("all") };
        let Rule::Cond(band) = &items[0] else { panic!("cond") };
        assert_eq!((band.operand.clone(), band.currency.as_deref()), (Operand::Range(2000, 6000), Some("EUR")));
        let Rule::Cond(affinity) = &items[1] else { panic!("cond") };
        assert_eq!(affinity.field, Field::Affinity(AffinityDimension::ProductType));
        assert_eq!(affinity.operand, Operand::Share("ring".into(), 0.3));
        let Rule::Cond(material) = &items[2] else { panic!("cond") };
        assert_eq!(material.field, Field::Affinity(AffinityDimension::Attribute("material".into())));
        let band = |value: Value| json!({"field": "price_band", "op": "overlaps", "value": value, "currency": "EUR"});
        assert_eq!(
            errors(json!({"field": "price_band", "op": "overlaps", "value": {"min": 1, "max": 2}})),
            ["rules.currency: is required for `price_band` (the band's currency)"]
        );
        assert_eq!(errors(band(json!({"min": 5, "max": 2}))), ["rules.value: the range is inverted"]);
        assert!(errors(band(json!({"min": -1, "max": 2})))[0].starts_with("rules.value: must be"));
        assert!(errors(band(json!([1, 2])))[0].starts_with("rules.value: must be"));
        assert!(errors(band(json!({"min": 1, "max": 2, "x": 3})))[0].starts_with("rules.value: must be"));
        let e = errors(json!({"field": "price_band", "op": "eq", "value": {"min": 1, "max": 2}, "currency": "EUR"}));
        assert!(e[0].starts_with("rules.op: `eq` does not apply to `price_band`; use one of overlaps"), "{e:?}");
        let affinity = |value: Value| json!({"any": [{"field": "affinity.product_type", "op": "gt", "value": value}]});
        assert_eq!(
            errors(affinity(json!({"value": "ring", "share": 1.5}))),
            ["rules.any[0].value: `share` must be a number from 0 to 1"]
        );
        assert!(errors(affinity(json!("ring")))[0].starts_with("rules.any[0].value: must be"));
        assert_eq!(
            errors(
                json!({"field": "affinity.product_type", "op": "gt", "value": {"value": "r", "share": 0.1}, "currency": "EUR"})
            ),
            ["rules.currency: `affinity.product_type` does not take a currency"]
        );
        assert_eq!(
            errors(json!({"field": "affinity.color", "op": "gt", "value": {"value": "r", "share": 0.1}})),
            ["rules.field: `affinity.color` is not a field segments know"]
        );
    }
}

/// Parses the `rules` of a body; problems are reported under `rules...`.
pub fn parse_rules(rules: &Value) -> Result<Rule, AppError> {
    parse(rules, "rules").map_err(AppError::Validation)
}

/// A validated segment: name, description, rule tree and its JSON.
/// A validated segment: its rules parsed once (so they are known to compile) and kept as
/// the JSON the client sent.
pub struct SegmentDraft {
    pub name: String,
    pub description: Option<String>,
    pub rules_json: String,
}

#[derive(Clone)]
pub struct SegmentPatch {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub rules_json: Option<String>,
}
