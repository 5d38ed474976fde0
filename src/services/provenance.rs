//! Where each value of a customer's profile came from: every later change of a field or
//! attribute is recorded with its source (questionnaire, form, import, api, checkout),
//! when it was observed and by whom. The values a record was created with are the
//! record's own `source` and `created_at`.
//!
//! The rule for answers arriving late, as for consent back-fill: a value observed before
//! the latest value applied to the same field is recorded, but not applied.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use diesel::QueryResult;
use serde_json::Value;

use super::now;
use crate::db::DbConn;
use crate::domain::customer::CustomerProfile;
use crate::models::form_definitions::NewAttributeHistory;
use crate::repositories::form_definitions as repo;

/// The sources of a value, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSource {
    Questionnaire,
    Form,
    Import,
    Api,
    Checkout,
}

impl ValueSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueSource::Questionnaire => "questionnaire",
            ValueSource::Form => "form",
            ValueSource::Import => "import",
            ValueSource::Api => "api",
            ValueSource::Checkout => "checkout",
        }
    }
}

/// Who gave a value, from where, and when it was true.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub source: ValueSource,
    /// The form key and submission, the import job, the order.
    pub source_ref: Option<String>,
    /// The token's subject, or `public` for an anonymous form.
    pub actor: Option<String>,
    pub observed_at: NaiveDateTime,
}

impl Provenance {
    /// What a public form filled in now.
    pub fn public_form() -> Provenance {
        Provenance { source: ValueSource::Form, source_ref: None, actor: Some("public".into()), observed_at: now() }
    }

    /// A change made now through the API by `actor`.
    pub fn api(actor: &str) -> Provenance {
        Provenance { source: ValueSource::Api, source_ref: None, actor: Some(actor.to_string()), observed_at: now() }
    }
}

/// The profile's tracked values, flat: `first_name`, `address.city`, `attributes.<key>`...
/// (kind, source and tags are not values anyone answers).
pub fn tracked_fields(profile: &CustomerProfile) -> BTreeMap<String, Value> {
    let mut flat = BTreeMap::new();
    for (name, value) in super::emit::customer_fields(profile) {
        match (name.as_str(), value) {
            ("kind" | "source" | "tags", _) => {}
            ("address", Value::Object(address)) => {
                flat.extend(address.into_iter().map(|(part, v)| (format!("address.{part}"), v)));
            }
            ("address", _) => {
                for part in ["line1", "line2", "city", "region", "postal_code", "country"] {
                    flat.insert(format!("address.{part}"), Value::Null);
                }
            }
            ("attributes", Value::Object(attributes)) => {
                flat.extend(attributes.into_iter().map(|(key, v)| (format!("attributes.{key}"), v)));
            }
            (_, value) => {
                flat.insert(name, value);
            }
        }
    }
    flat
}

fn history_row(
    customer_id: i64,
    field: String,
    value: &Value,
    applied: bool,
    from: &Provenance,
) -> NewAttributeHistory {
    NewAttributeHistory {
        customer_id,
        field,
        value: (!value.is_null()).then(|| value.to_string()),
        source: from.source.as_str().to_string(),
        source_ref: from.source_ref.clone(),
        actor: from.actor.clone(),
        applied,
        observed_at: from.observed_at,
        recorded_at: now(),
    }
}

/// Records what changed from `before` to `after` as applied values.
pub fn record_changes(
    conn: &mut DbConn,
    customer_id: i64,
    before: &CustomerProfile,
    after: &CustomerProfile,
    from: &Provenance,
) -> QueryResult<()> {
    let old = tracked_fields(before);
    let new = tracked_fields(after);
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let rows: Vec<NewAttributeHistory> = names
        .into_iter()
        .filter_map(|name| {
            let value = new.get(name).unwrap_or(&Value::Null);
            (old.get(name).unwrap_or(&Value::Null) != value)
                .then(|| history_row(customer_id, name.clone(), value, true, from))
        })
        .collect();
    repo::insert_history(conn, &rows)
}

/// Of `fields`, those holding a value observed after `observed_at`: the latest applied
/// value in the history, or, for a field filled but never changed since, the record's
/// creation (`created_at`). `current` is the profile's tracked values.
pub fn newer_fields(
    conn: &mut DbConn,
    customer_id: i64,
    fields: &[String],
    current: &BTreeMap<String, Value>,
    created_at: NaiveDateTime,
    observed_at: NaiveDateTime,
) -> QueryResult<BTreeSet<String>> {
    let latest: BTreeMap<String, Option<NaiveDateTime>> =
        repo::latest_applied(conn, customer_id, fields)?.into_iter().collect();
    Ok(fields
        .iter()
        .filter(|field| {
            let filled = current.get(*field).is_some_and(|v| !v.is_null());
            let since = match latest.get(*field) {
                Some(at) => *at,
                None if filled => Some(created_at),
                None => None,
            };
            since.is_some_and(|since| since > observed_at)
        })
        .cloned()
        .collect())
}

/// Records answers given for `given` fields, applied or not.
pub fn record_given(
    conn: &mut DbConn,
    customer_id: i64,
    given: &BTreeMap<String, Value>,
    applied: &BTreeSet<String>,
    from: &Provenance,
) -> QueryResult<()> {
    let rows: Vec<NewAttributeHistory> = given
        .iter()
        .map(|(field, value)| history_row(customer_id, field.clone(), value, applied.contains(field), from))
        .collect();
    repo::insert_history(conn, &rows)
}
