use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::dto::time::TimeFilter;
use validator::Validate;

use crate::domain::customer::{
    check_company_id, check_employees, check_rating, parse_birthday, parse_founded_on, parse_website, AddressFields,
    AddressPatch, CompanyFactsPatch, CustomerDraft, CustomerFields, CustomerFilter, CustomerPatch, NAME_MAX, NOTES_MAX,
};
use crate::domain::{
    clean_text, ConsentChannel, ConsentState, Country, CustomerKind, CustomerSource, Email, Gender, Language, Patch,
    Phone, Tag,
};
use crate::dto::consents::ConsentSummary;
use crate::error::AppError;
use crate::error::FieldErrors;
use crate::models::customers::{CustomerRecord, DuplicatePairRow};
use crate::models::orders::CustomerStatsRow;
use crate::models::predictions::CustomerPredictionRow;

/// A customer: a person or a company.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 42, "kind": "person", "first_name": "Ana", "last_name": "Silva", "company_name": null,
    "email": "ana@example.com", "phone": "+33612345678", "birthday": "1990-04-12", "gender": "female",
    "address": {"line1": "3 rue des Lilas", "line2": null, "city": "Lyon", "region": null,
                "postal_code": "69003", "country": "FR"},
    "preferred_language": "fr", "source": "checkout", "tags": ["newsletter", "vip"],
    "attributes": {"favourite_colour": "green"}, "notes": null,
    "consents": {"email": "subscribed", "sms": "not_set", "phone": "not_set", "post": "unsubscribed"},
    "created_at": "2026-11-20T14:03:00Z", "updated_at": "2026-11-21T09:12:44Z"
}))]
pub struct Customer {
    pub id: i64,
    pub kind: CustomerKind,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<Gender>,
    /// Null when no address field is known.
    pub address: Option<Address>,
    pub preferred_language: Option<String>,
    pub source: CustomerSource,
    /// Sorted, lower-case.
    pub tags: Vec<String>,
    /// Free JSON object of custom fields.
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub notes: Option<String>,
    /// A company's founding date (`YYYY-MM-DD`); companies only, null for a person.
    pub founded_on: Option<NaiveDate>,
    /// Companies only.
    pub industry: Option<String>,
    /// Companies only; 0 or more.
    pub employees: Option<i64>,
    /// Companies only; an http(s) URL.
    pub website: Option<String>,
    /// Companies only (e.g. the trade register number).
    pub registration_number: Option<String>,
    /// Companies only.
    pub vat_number: Option<String>,
    /// Companies only: the shop's own assessment (e.g. financial health), 1 to 5.
    pub rating: Option<i64>,
    /// Companies only: free text about the company.
    pub particularities: Option<String>,
    /// The company this person belongs to (persons only).
    pub company_id: Option<i64>,
    /// The person's role in that company.
    pub role: Option<String>,
    /// A company's roll-up over its own orders and its people's, on `GET /v1/customers/{id}`
    /// of a company; null for a person and in lists.
    pub company_totals: Option<CompanyTotals>,
    /// Current consent state per channel.
    pub consents: ConsentSummary,
    /// Net purchase statistics per currency (cancelled orders excluded, refunds subtracted).
    pub purchases: Vec<PurchaseStats>,
    /// RFM scores (1 to 5, quintiles among buyers) and segment; null for customers who
    /// have not bought. Rescored in the background after orders change (within
    /// `RAPPORT_RFM_REFRESH_SECONDS`), and at once by RFM segments and analytics.
    pub rfm: Option<RfmScores>,
    /// Purchase predictions (BG/NBD and Gamma-Gamma, see docs/predictions.md); null before
    /// the first model, for customers who have not bought in the model's currency, and
    /// until the background refresh (`RAPPORT_PREDICTIONS_REFRESH_SECONDS`) has seen a new
    /// buyer.
    pub predictions: Option<CustomerPredictions>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A company's purchases with its people's.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyTotals {
    /// People (not erased) who belong to the company.
    pub people_count: i64,
    /// Per currency: the orders (cancelled excluded, refunds subtracted) of the company
    /// itself and of its people, from the same statistics as `purchases`.
    pub purchases: Vec<CompanyPurchases>,
}

/// A company's purchases in one currency, its people's included.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyPurchases {
    pub currency: String,
    pub orders_count: i64,
    /// Net: refunds subtracted.
    pub revenue: i64,
    pub average_order_value: i64,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
    /// The company and its people who ordered in this currency.
    pub buyers: i64,
}

impl From<crate::models::customers::CompanyTotals> for CompanyTotals {
    fn from(totals: crate::models::customers::CompanyTotals) -> Self {
        CompanyTotals {
            people_count: totals.people_count,
            purchases: totals
                .purchases
                .into_iter()
                .map(|p| CompanyPurchases {
                    average_order_value: if p.orders_count > 0 { p.total_spent / p.orders_count } else { 0 },
                    currency: p.currency,
                    orders_count: p.orders_count,
                    revenue: p.total_spent,
                    first_order_at: p.first_order_at.and_utc(),
                    last_order_at: p.last_order_at.and_utc(),
                    buyers: p.buyers,
                })
                .collect(),
        }
    }
}

/// A buyer's RFM scores.
#[derive(Debug, Serialize, ToSchema)]
pub struct RfmScores {
    /// 5 = ordered most recently.
    pub recency: i64,
    /// 5 = most orders.
    pub frequency: i64,
    /// 5 = spent most.
    pub monetary: i64,
    /// `champions`, `loyal`, ... `lost` (see the README).
    pub segment: String,
}

/// A buyer's predicted purchases, from the last fitted model.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPredictions {
    /// The model's currency: the one most buyers paid in.
    pub currency: String,
    /// The probability, 0 to 1, that the customer is still a customer (has not silently
    /// dropped out).
    #[schema(minimum = 0, maximum = 1)]
    pub probability_alive: f64,
    /// Expected orders (purchase days) in the next 90 days.
    pub expected_orders_90d: f64,
    /// Expected orders in the next `horizon_days` (`RAPPORT_PREDICTION_HORIZON_DAYS`).
    pub expected_orders: f64,
    pub horizon_days: i64,
    /// Expected net revenue over the next 12 months, discounted at
    /// `RAPPORT_CLV_DISCOUNT_RATE` a year, in minor units of `currency`.
    pub predicted_clv_12m: i64,
    /// The mean wait for the next order at the customer's expected rate, if still active;
    /// null when the probability alive is under 0.05.
    pub expected_days_to_next_order: Option<f64>,
    /// `low` (probability alive >= 0.7), `medium` (>= 0.3) or `high`.
    #[schema(value_type = crate::dto::schema::ChurnRiskName)]
    pub churn_risk: String,
}

impl From<CustomerPredictionRow> for CustomerPredictions {
    fn from(row: CustomerPredictionRow) -> Self {
        CustomerPredictions {
            currency: row.currency,
            probability_alive: row.probability_alive,
            expected_orders_90d: row.expected_orders_90d,
            expected_orders: row.expected_orders,
            horizon_days: row.horizon_days,
            predicted_clv_12m: row.predicted_clv_12m,
            expected_days_to_next_order: row.expected_days_to_next_order,
            churn_risk: row.churn_risk,
        }
    }
}

/// A customer's purchases in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseStats {
    pub currency: String,
    pub orders_count: i64,
    /// Net: refunds subtracted.
    pub total_spent: i64,
    pub average_order_value: i64,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
}

impl From<&CustomerStatsRow> for PurchaseStats {
    fn from(row: &CustomerStatsRow) -> Self {
        PurchaseStats {
            currency: row.currency.clone(),
            orders_count: row.orders_count,
            total_spent: row.total_spent,
            average_order_value: if row.orders_count > 0 { row.total_spent / row.orders_count } else { 0 },
            first_order_at: row.first_order_at.and_utc(),
            last_order_at: row.last_order_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

impl From<CustomerRecord> for Customer {
    fn from(record: CustomerRecord) -> Self {
        let attributes = record.attributes();
        let consents = ConsentSummary::from_rows(&record.consents);
        let purchases = record.stats.iter().map(PurchaseStats::from).collect();
        let rfm = record.rfm.map(|r| RfmScores {
            recency: r.recency_score,
            frequency: r.frequency_score,
            monetary: r.monetary_score,
            segment: r.rfm_segment,
        });
        let predictions = record.predictions.map(CustomerPredictions::from);
        let company_totals = record.company_totals.map(CompanyTotals::from);
        let company = record.company.map(|c| c.facts()).unwrap_or_default();
        let r = record.row;
        let address = Address {
            line1: r.address_line1,
            line2: r.address_line2,
            city: r.city,
            region: r.region,
            postal_code: r.postal_code,
            country: r.country,
        };
        let has_address =
            [&address.line1, &address.line2, &address.city, &address.region, &address.postal_code, &address.country]
                .iter()
                .any(|field| field.is_some());
        Customer {
            id: r.id,
            kind: CustomerKind::parse(&r.kind).unwrap_or(CustomerKind::Person),
            first_name: r.first_name,
            last_name: r.last_name,
            company_name: r.company_name,
            email: r.email,
            phone: r.phone,
            birthday: r.birthday,
            gender: r.gender.as_deref().and_then(Gender::parse),
            address: has_address.then_some(address),
            preferred_language: r.preferred_language,
            source: CustomerSource::parse(&r.source).unwrap_or(CustomerSource::Api),
            tags: record.tags,
            attributes,
            notes: r.notes,
            founded_on: company.founded_on,
            industry: company.industry,
            employees: company.employees,
            website: company.website,
            registration_number: company.registration_number,
            vat_number: company.vat_number,
            rating: company.rating,
            particularities: company.particularities,
            company_id: r.company_id,
            role: r.company_role,
            company_totals,
            consents,
            purchases,
            rfm,
            predictions,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

/// Body of `POST /v1/customers` and `PUT /v1/customers/by-email/{email}`. Text is trimmed
/// and inner whitespace collapsed; empty strings count as not given.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "first_name": "Ana", "last_name": "Silva", "email": "Ana@Example.com", "phone": "+33 6 12 34 56 78",
    "birthday": "1990-04-12", "address": {"city": "Lyon", "postal_code": "69003", "country": "fr"},
    "source": "checkout", "tags": ["VIP"], "attributes": {"favourite_colour": "green"}
}))]
pub struct CustomerInput {
    /// Default `person`.
    pub kind: Option<CustomerKind>,
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    #[schema(max_length = 200)]
    pub last_name: Option<String>,
    /// Required when `kind` is `company`.
    #[schema(max_length = 200)]
    pub company_name: Option<String>,
    /// Trimmed and lower-cased; unique across customers.
    #[schema(schema_with = crate::dto::schema::email_or_blank)]
    pub email: Option<String>,
    /// Normalized to E.164; without +CC it is read in `RAPPORT_DEFAULT_COUNTRY`.
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(format = Date, example = "1990-04-12")]
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    #[validate(nested)]
    pub address: Option<AddressInput>,
    /// Language tag such as `fr` or `pt-BR`.
    pub preferred_language: Option<String>,
    /// Where the record was captured; default `api`. An upsert keeps the original source.
    pub source: Option<CustomerSource>,
    #[validate(length(max = 100, message = "at most 100 tags"))]
    #[schema(max_items = 100)]
    pub tags: Option<Vec<String>>,
    /// Free JSON object of custom fields.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
    /// Companies only (422 naming the field for a person): `YYYY-MM-DD`, not in the future.
    #[schema(format = Date, example = "2004-09-01")]
    pub founded_on: Option<String>,
    /// Companies only.
    #[schema(max_length = 200)]
    pub industry: Option<String>,
    /// Companies only; 0 or more.
    #[schema(minimum = 0)]
    pub employees: Option<i64>,
    /// Companies only: an absolute http(s) URL with a host, at most 2000 characters.
    #[schema(max_length = 2000, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#.:][^/?#]*")]
    pub website: Option<String>,
    /// Companies only.
    #[schema(max_length = 200)]
    pub registration_number: Option<String>,
    /// Companies only.
    #[schema(max_length = 200)]
    pub vat_number: Option<String>,
    /// Companies only: the shop's own assessment (e.g. financial health), 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// Companies only: free text.
    #[schema(max_length = 10000)]
    pub particularities: Option<String>,
    /// Persons only: the company (an existing customer of kind `company`) the person
    /// belongs to; 422 otherwise.
    #[schema(minimum = 1)]
    pub company_id: Option<i64>,
    /// The person's role in the company; needs `company_id`.
    #[schema(max_length = 200)]
    pub role: Option<String>,
}

#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, any case.
    pub country: Option<String>,
}

/// `PATCH /v1/customers/{id}`: JSON Merge Patch (RFC 7396). Absent = unchanged,
/// null = cleared; `address` and `attributes` merge key by key; `tags` replaces the set.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"last_name": "Silva-Martins", "notes": null, "attributes": {"favourite_colour": null, "size": 7}}))]
pub struct CustomerPatchInput {
    /// Cannot be null.
    #[serde(default)]
    #[schema(value_type = Option<CustomerKind>)]
    pub kind: Patch<CustomerKind>,
    /// Cannot be null.
    #[serde(default)]
    #[schema(value_type = Option<CustomerSource>)]
    pub source: Patch<CustomerSource>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub company_name: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = crate::dto::schema::email_or_blank)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub birthday: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Gender>)]
    pub gender: Patch<Gender>,
    #[serde(default)]
    #[schema(value_type = Option<AddressPatchInput>)]
    pub address: Patch<AddressPatchInput>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub preferred_language: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Patch<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notes: Patch<String>,
    /// Companies only; `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub founded_on: Patch<String>,
    /// Companies only.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub industry: Patch<String>,
    /// Companies only; 0 or more.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub employees: Patch<i64>,
    /// Companies only; an http(s) URL.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#.:][^/?#]*")]
    pub website: Patch<String>,
    /// Companies only.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub registration_number: Patch<String>,
    /// Companies only.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub vat_number: Patch<String>,
    /// Companies only; 1 to 5.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 5)]
    pub rating: Patch<i64>,
    /// Companies only.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub particularities: Patch<String>,
    /// Persons only: an existing company; null leaves it (and ends the role).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub company_id: Patch<i64>,
    /// Needs `company_id`.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub role: Patch<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPatchInput {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub line1: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub line2: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub city: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub region: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub postal_code: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub country: Patch<String>,
}

impl CustomerInput {
    pub fn into_draft(self, default_country: Option<Country>) -> Result<CustomerDraft, AppError> {
        CustomerFields::from(self).into_draft(default_country)
    }
}

impl From<CustomerInput> for CustomerFields {
    fn from(input: CustomerInput) -> Self {
        let address = input.address.unwrap_or_default();
        CustomerFields {
            kind: input.kind,
            first_name: input.first_name,
            last_name: input.last_name,
            company_name: input.company_name,
            email: input.email,
            phone: input.phone,
            birthday: input.birthday,
            gender: input.gender,
            address: AddressFields {
                line1: address.line1,
                line2: address.line2,
                city: address.city,
                region: address.region,
                postal_code: address.postal_code,
                country: address.country,
            },
            preferred_language: input.preferred_language,
            source: input.source,
            tags: input.tags,
            attributes: input.attributes,
            notes: input.notes,
            founded_on: input.founded_on,
            industry: input.industry,
            employees: input.employees,
            website: input.website,
            registration_number: input.registration_number,
            vat_number: input.vat_number,
            rating: input.rating,
            particularities: input.particularities,
            company_id: input.company_id,
            role: input.role,
        }
    }
}

impl CustomerPatchInput {
    pub fn into_patch(self, default_country: Option<Country>) -> Result<CustomerPatch, AppError> {
        let mut errors = FieldErrors::default();
        let address = match self.address {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(a) => Patch::Value(AddressPatch {
                line1: errors.text_patch("address.line1", a.line1, NAME_MAX),
                line2: errors.text_patch("address.line2", a.line2, NAME_MAX),
                city: errors.text_patch("address.city", a.city, NAME_MAX),
                region: errors.text_patch("address.region", a.region, NAME_MAX),
                postal_code: errors.text_patch("address.postal_code", a.postal_code, 20),
                country: errors.value_patch("address.country", a.country, Country::parse),
            }),
        };
        let tags = match self.tags {
            Patch::Value(tags) if tags.len() > 100 => {
                errors.0.push(crate::error::FieldError::new("tags", "at most 100 tags"));
                Patch::Absent
            }
            other => other.map(|tags| errors.tags(tags)),
        };
        let patch = CustomerPatch {
            kind: errors.required("kind", self.kind),
            source: errors.required("source", self.source),
            first_name: errors.text_patch("first_name", self.first_name, NAME_MAX),
            last_name: errors.text_patch("last_name", self.last_name, NAME_MAX),
            company_name: errors.text_patch("company_name", self.company_name, NAME_MAX),
            email: errors.value_patch("email", self.email, Email::parse),
            phone: errors.value_patch("phone", self.phone, |p| Phone::parse(p, default_country)),
            birthday: errors.value_patch("birthday", self.birthday, parse_birthday),
            gender: self.gender,
            address,
            preferred_language: errors.value_patch("preferred_language", self.preferred_language, Language::parse),
            tags,
            attributes: self.attributes,
            notes: errors.text_patch("notes", self.notes, NOTES_MAX),
            company: CompanyFactsPatch {
                founded_on: errors.value_patch("founded_on", self.founded_on, parse_founded_on),
                industry: errors.text_patch("industry", self.industry, NAME_MAX),
                employees: number_patch(&mut errors, "employees", self.employees, check_employees),
                website: errors.value_patch("website", self.website, parse_website),
                registration_number: errors.text_patch("registration_number", self.registration_number, NAME_MAX),
                vat_number: errors.text_patch("vat_number", self.vat_number, NAME_MAX),
                rating: number_patch(&mut errors, "rating", self.rating, check_rating),
                particularities: errors.text_patch("particularities", self.particularities, NOTES_MAX),
            },
            company_id: number_patch(&mut errors, "company_id", self.company_id, check_company_id),
            role: errors.text_patch("role", self.role, NAME_MAX),
        };
        errors.into_result(patch)
    }
}

/// A patch of a number checked by `check`.
fn number_patch(
    errors: &mut FieldErrors,
    field: &str,
    patch: Patch<i64>,
    check: impl FnOnce(i64) -> Result<i64, String>,
) -> Patch<i64> {
    match patch {
        Patch::Value(n) => match errors.parse(field, Some(n), check) {
            Some(n) => Patch::Value(n),
            None => Patch::Absent,
        },
        other => other,
    }
}

/// Body of `POST /v1/customers/{id}/tags`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tags": ["vip", "wholesale"]}))]
pub struct TagsInput {
    #[validate(length(min = 1, max = 100, message = "give from 1 to 100 tags"))]
    #[schema(min_items = 1, max_items = 100)]
    pub tags: Vec<String>,
}

impl TagsInput {
    pub fn into_tags(self) -> Result<BTreeSet<Tag>, AppError> {
        let mut errors = FieldErrors::default();
        let tags = errors.tags(self.tags);
        errors.into_result(tags)
    }
}

/// Body of `POST /v1/customers/{id}/merge`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"duplicate_id": 57}))]
pub struct MergeInput {
    /// The customer to fold into `{id}` and delete.
    #[validate(range(min = 1, message = "must be a customer id"))]
    #[schema(minimum = 1)]
    pub duplicate_id: i64,
}

/// Query of `GET /v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Exact email (normalized before matching).
    pub email: Option<String>,
    /// Case-insensitive prefix of a first, last or company name (or a word of it), email or phone.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub source: Option<CustomerSource>,
    /// RFC 3339, or a date: from the start of that day in the shop's time zone; inclusive.
    #[param(inline)]
    pub created_after: Option<TimeFilter>,
    /// RFC 3339, or a date: up to the end of that day in the shop's time zone; exclusive.
    #[param(inline)]
    pub created_before: Option<TimeFilter>,
    /// Current email consent, e.g. `subscribed`.
    #[serde(rename = "consent.email")]
    #[param(rename = "consent.email")]
    pub consent_email: Option<ConsentState>,
    #[serde(rename = "consent.sms")]
    #[param(rename = "consent.sms")]
    pub consent_sms: Option<ConsentState>,
    #[serde(rename = "consent.phone")]
    #[param(rename = "consent.phone")]
    pub consent_phone: Option<ConsentState>,
    #[serde(rename = "consent.post")]
    #[param(rename = "consent.post")]
    pub consent_post: Option<ConsentState>,
}

impl CustomerListQuery {
    /// The `consent.<channel>` filters given.
    /// The filter this query asks for; dates are days in the shop's time zone.
    pub fn into_filter(self, timezone: chrono_tz::Tz) -> Result<CustomerFilter, AppError> {
        let bad_query = |name: &str, message: String| AppError::BadRequest(format!("`{name}`: {message}"));
        Ok(CustomerFilter {
            email: self.email.as_deref().map(Email::parse).transpose().map_err(|m| bad_query("email", m))?,
            search_prefix: self.q.as_deref().and_then(clean_text).map(|q| q.to_lowercase()),
            tag: self.tag.as_deref().map(Tag::parse).transpose().map_err(|m| bad_query("tag", m))?,
            source: self.source,
            created_after: self.created_after.map(|t| t.start_utc(timezone)),
            created_before: self.created_before.map(|t| t.end_utc(timezone)),
            consent: self.consent_filters(),
        })
    }

    fn consent_filters(&self) -> Vec<(ConsentChannel, ConsentState)> {
        [
            (ConsentChannel::Email, self.consent_email),
            (ConsentChannel::Sms, self.consent_sms),
            (ConsentChannel::Phone, self.consent_phone),
            (ConsentChannel::Post, self.consent_post),
        ]
        .into_iter()
        .filter_map(|(channel, state)| state.map(|state| (channel, state)))
        .collect()
    }
}

/// Query of list endpoints that only page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

/// Why two customers look like the same one.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    SamePhone,
    SameNameAndPostalCode,
    SameCompanyAndCountry,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatePair {
    /// The older record (smaller id): the natural survivor of a merge.
    pub customer: Customer,
    pub duplicate: Customer,
    pub reasons: Vec<DuplicateReason>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatePage {
    pub items: Vec<DuplicatePair>,
    pub next_cursor: Option<String>,
}

impl From<(DuplicatePairRow, CustomerRecord, CustomerRecord)> for DuplicatePair {
    fn from((pair, customer, duplicate): (DuplicatePairRow, CustomerRecord, CustomerRecord)) -> Self {
        let reasons = [
            (pair.same_phone, DuplicateReason::SamePhone),
            (pair.same_name, DuplicateReason::SameNameAndPostalCode),
            (pair.same_company, DuplicateReason::SameCompanyAndCountry),
        ]
        .into_iter()
        .filter(|(flag, _)| *flag != 0)
        .map(|(_, reason)| reason)
        .collect();
        DuplicatePair { customer: customer.into(), duplicate: duplicate.into(), reasons }
    }
}
