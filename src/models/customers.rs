use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{company_details, customer_merges, customer_search_terms, customer_tags, customers};
use crate::db::Json;
use crate::domain::customer::{Address, CompanyFacts, CustomerDetails, CustomerProfile};
use crate::domain::{Country, CustomerKind, CustomerSource, Email, Gender, Language, Phone, Tag};
use crate::models::consents::CurrentConsentRow;
use crate::models::orders::CustomerStatsRow;
use diesel::sql_types::{BigInt, Double, Timestamp};

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable, Serialize)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
pub struct CustomerRow {
    pub id: i64,
    pub kind: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub preferred_language: Option<String>,
    pub source: String,
    /// Serialized as the stored JSON text (merge snapshots hold it so).
    #[serde(serialize_with = "Json::serialize_as_text")]
    pub attributes: Json<serde_json::Map<String, serde_json::Value>>,
    pub notes: Option<String>,
    #[serde(skip)]
    pub name_key: Option<String>,
    #[serde(skip)]
    pub company_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    #[serde(skip)]
    pub erased_at: Option<NaiveDateTime>,
    pub company_id: Option<i64>,
    #[serde(rename = "role")]
    pub company_role: Option<String>,
}

/// The writable columns of a customer, from a profile.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = customers, treat_none_as_null = true)]
pub struct CustomerColumns {
    pub kind: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub gender: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub preferred_language: Option<String>,
    pub source: String,
    pub attributes: String,
    pub notes: Option<String>,
    pub name_key: Option<String>,
    pub company_key: Option<String>,
    pub updated_at: NaiveDateTime,
    pub company_id: Option<i64>,
    pub company_role: Option<String>,
}

/// A company's own fields (one row per company that has any).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = company_details, treat_none_as_null = true)]
pub struct CompanyDetailsRow {
    #[serde(skip)]
    pub customer_id: i64,
    pub founded_on: Option<NaiveDate>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub website: Option<String>,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    pub rating: Option<i64>,
    pub particularities: Option<String>,
}

impl CompanyDetailsRow {
    /// The row a profile needs: None for a person, or a company without company fields.
    pub fn from_profile(id: i64, profile: &CustomerProfile) -> Option<CompanyDetailsRow> {
        let c = &profile.details.company;
        if profile.kind != CustomerKind::Company || *c == CompanyFacts::default() {
            return None;
        }
        Some(CompanyDetailsRow {
            customer_id: id,
            founded_on: c.founded_on,
            industry: c.industry.clone(),
            employees: c.employees,
            website: c.website.clone(),
            registration_number: c.registration_number.clone(),
            vat_number: c.vat_number.clone(),
            rating: c.rating,
            particularities: c.particularities.clone(),
        })
    }

    pub fn facts(&self) -> CompanyFacts {
        CompanyFacts {
            founded_on: self.founded_on,
            industry: self.industry.clone(),
            employees: self.employees,
            website: self.website.clone(),
            registration_number: self.registration_number.clone(),
            vat_number: self.vat_number.clone(),
            rating: self.rating,
            particularities: self.particularities.clone(),
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customers)]
pub struct NewCustomer {
    #[diesel(embed)]
    pub columns: CustomerColumns,
    pub created_at: NaiveDateTime,
}

impl CustomerColumns {
    pub fn from_profile(profile: &CustomerProfile, now: NaiveDateTime) -> CustomerColumns {
        let d = &profile.details;
        CustomerColumns {
            kind: profile.kind.as_str().to_string(),
            first_name: d.first_name.clone(),
            last_name: d.last_name.clone(),
            company_name: d.company_name.clone(),
            email: d.email.as_ref().map(|e| e.as_str().to_string()),
            phone: d.phone.as_ref().map(|p| p.as_str().to_string()),
            birthday: d.birthday,
            gender: d.gender.map(|g| g.as_str().to_string()),
            address_line1: d.address.line1.clone(),
            address_line2: d.address.line2.clone(),
            city: d.address.city.clone(),
            region: d.address.region.clone(),
            postal_code: d.address.postal_code.clone(),
            country: d.address.country.map(|c| c.as_str().to_string()),
            preferred_language: d.preferred_language.as_ref().map(|l| l.as_str().to_string()),
            source: profile.source.as_str().to_string(),
            attributes: serde_json::Value::Object(d.attributes.clone()).to_string(),
            notes: d.notes.clone(),
            name_key: profile.name_key(),
            company_key: profile.company_key(),
            updated_at: now,
            company_id: d.company_id,
            company_role: d.role.clone(),
        }
    }
}

/// A customer row with its tags (sorted) and current consent per channel.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerRecord {
    #[serde(flatten)]
    pub row: CustomerRow,
    pub tags: Vec<String>,
    pub consents: Vec<CurrentConsentRow>,
    /// A company's own fields, when it has any.
    pub company: Option<CompanyDetailsRow>,
    #[serde(skip)]
    pub stats: Vec<CustomerStatsRow>,
    /// RFM scores, for buyers (as of the last scoring).
    #[serde(skip)]
    pub rfm: Option<CustomerRfmRow>,
    /// Purchase predictions, for buyers of the model's currency (as of the last refresh).
    #[serde(skip)]
    pub predictions: Option<crate::models::predictions::CustomerPredictionRow>,
    /// A company's roll-up over itself and its people (`GET /v1/customers/{id}` only).
    #[serde(skip)]
    pub company_totals: Option<CompanyTotals>,
}

/// A company's purchases with its people's, and how many people it has.
#[derive(Debug, Clone, Default)]
pub struct CompanyTotals {
    /// Live (not erased) people linked to the company.
    pub people_count: i64,
    /// Per currency: the company's own orders and its people's.
    pub purchases: Vec<CompanyPurchaseRow>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct CompanyPurchaseRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub orders_count: i64,
    #[diesel(sql_type = BigInt)]
    pub total_spent: i64,
    #[diesel(sql_type = Timestamp)]
    pub first_order_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    pub last_order_at: NaiveDateTime,
    /// Customers (the company and its people) with orders in this currency.
    #[diesel(sql_type = BigInt)]
    pub buyers: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::db::schema::customer_rfm)]
pub struct CustomerRfmRow {
    pub customer_id: i64,
    pub recency_score: i64,
    pub frequency_score: i64,
    pub monetary_score: i64,
    pub rfm_segment: String,
}

impl CustomerRecord {
    /// Back to the domain; stored values were normalized on the way in.
    pub fn profile(&self) -> CustomerProfile {
        let r = &self.row;
        CustomerProfile {
            kind: CustomerKind::parse(&r.kind).unwrap_or(CustomerKind::Person),
            source: CustomerSource::parse(&r.source).unwrap_or(CustomerSource::Api),
            details: CustomerDetails {
                first_name: r.first_name.clone(),
                last_name: r.last_name.clone(),
                company_name: r.company_name.clone(),
                email: r.email.clone().map(Email::from_stored),
                phone: r.phone.clone().map(Phone::from_stored),
                birthday: r.birthday,
                gender: r.gender.as_deref().and_then(Gender::parse),
                address: Address {
                    line1: r.address_line1.clone(),
                    line2: r.address_line2.clone(),
                    city: r.city.clone(),
                    region: r.region.clone(),
                    postal_code: r.postal_code.clone(),
                    country: r.country.as_deref().and_then(|c| Country::parse(c).ok()),
                },
                preferred_language: r.preferred_language.clone().map(Language::from_stored),
                tags: self.tags.iter().cloned().map(Tag::from_stored).collect(),
                attributes: self.attributes(),
                notes: r.notes.clone(),
                company: self.company.as_ref().map(CompanyDetailsRow::facts).unwrap_or_default(),
                company_id: r.company_id,
                role: r.company_role.clone(),
            },
        }
    }

    pub fn attributes(&self) -> serde_json::Map<String, serde_json::Value> {
        self.row.attributes.0.clone()
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_tags, treat_none_as_default_value = false)]
pub struct CustomerTagRow {
    pub customer_id: i64,
    pub tag: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_search_terms, treat_none_as_default_value = false)]
pub struct SearchTermRow {
    pub term: String,
    pub customer_id: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_merges)]
pub struct NewCustomerMerge {
    pub survivor_id: i64,
    pub duplicate_id: i64,
    pub merged_by: String,
    pub merged_at: NaiveDateTime,
    /// The duplicate as it was, as JSON.
    pub duplicate_snapshot: String,
}

/// One likely-duplicate pair and why it was found.
#[derive(Debug, Clone, QueryableByName)]
pub struct DuplicatePairRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub duplicate_id: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub same_phone: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub same_name: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub same_company: i32,
}

pub struct Birthday {
    pub customer: CustomerRecord,
    pub date: NaiveDate,
    /// Age on that day.
    pub turns: Option<i32>,
}

pub struct Lapsed {
    pub customer: CustomerRecord,
    pub row: LapsedRow,
}

#[derive(Debug, QueryableByName)]
pub struct LapsedRow {
    #[diesel(sql_type = BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = BigInt)]
    pub orders_count: i64,
    #[diesel(sql_type = BigInt)]
    pub total_spent: i64,
    #[diesel(sql_type = Timestamp)]
    pub first_order_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    pub last_order_at: NaiveDateTime,
    /// Days since the last order.
    #[diesel(sql_type = Double)]
    pub days_since: f64,
}
