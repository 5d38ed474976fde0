use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::segment::{parse_rules, SegmentDraft, SegmentPatch};
use crate::domain::{clean_text, Patch};
use crate::dto::customers::Customer;
use crate::error::AppError;
use crate::models::segments::SegmentRow;

fn name(raw: &str) -> Result<String, AppError> {
    clean_text(raw)
        .filter(|n| n.chars().count() <= 200)
        .ok_or_else(|| AppError::invalid("name", "must be 1 to 200 characters"))
}

/// A saved segment.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "name": "Shoe lovers", "description": null,
    "rules": {"all": [{"field": "purchased.product_type", "op": "eq", "value": "shoes", "within_days": 365},
                      {"field": "consent.email", "op": "eq", "value": "subscribed"}]},
    "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-01T09:00:00Z"}))]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub rules: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<SegmentRow> for Segment {
    fn from(row: SegmentRow) -> Self {
        Segment {
            id: row.id,
            name: row.name,
            description: row.description,
            rules: row.rules.0,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Body of `POST /v1/segments`. `rules` is a tree: `{"all": [...]}`, `{"any": [...]}`,
/// `{"not": rule}`, or a condition `{"field", "op", "value", "within_days"?, "currency"?}`
/// (fields and ops in the README).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Shoe lovers",
    "rules": {"all": [{"field": "purchased.product_type", "op": "eq", "value": "shoes", "within_days": 365},
                      {"field": "average_order_value", "op": "between", "value": [5000, 20000]},
                      {"field": "consent.email", "op": "eq", "value": "subscribed"}]}}))]
pub struct SegmentInput {
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub rules: Value,
}

impl SegmentInput {
    pub fn into_draft(self) -> Result<SegmentDraft, AppError> {
        let name = name(&self.name)?;
        parse_rules(&self.rules)?;
        Ok(SegmentDraft {
            name,
            description: self.description.as_deref().and_then(clean_text),
            rules_json: self.rules.to_string(),
        })
    }
}

/// `PATCH /v1/segments/{id}` (merge patch).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatchInput {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[schema(value_type = Option<Object>)]
    pub rules: Option<Value>,
}

impl SegmentPatchInput {
    pub fn into_patch(self) -> Result<SegmentPatch, AppError> {
        let name = self.name.as_deref().map(name).transpose()?;
        if let Some(rules) = &self.rules {
            parse_rules(rules)?;
        }
        Ok(SegmentPatch {
            name,
            description: self.description.map(|d| clean_text(&d).unwrap_or_default()),
            rules_json: self.rules.map(|r| r.to_string()),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPage {
    pub items: Vec<Segment>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /v1/segments/preview`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rules": {"field": "tag", "op": "eq", "value": "vip"}}))]
pub struct PreviewInput {
    #[schema(value_type = Object)]
    pub rules: Value,
}

/// How many customers the rules select, and the newest 20 of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub count: i64,
    pub sample: Vec<Customer>,
}
