//! The figures analytics report, before they are put on the wire.

use chrono::NaiveDate;

use chrono::NaiveDateTime;

use crate::domain::period::Periods;
use crate::domain::sales::{Figures, SalesFilter};

/// Consent changes of one period: (channel, true for an opt-in / false for an opt-out).
pub struct ConsentPeriod {
    pub period_start: NaiveDate,
    pub changes: Vec<(String, bool)>,
}

/// Consent figures: (channel, state, customers) now; each period's opt-ins (`true`) and
/// opt-outs (`false`) per channel; (customer source, customers, email-subscribed).
pub struct ConsentFigures {
    pub states: Vec<(String, String, i64)>,
    pub periods: Vec<ConsentPeriod>,
    pub by_source: Vec<(String, i64, i64)>,
}

/// One period's sales: additive figures and distinct customers who ordered.
#[derive(Debug, Clone, Default)]
pub struct SalesPeriod {
    pub period_start: NaiveDate,
    pub figures: Figures,
    pub customers: i64,
}

impl SalesPeriod {
    /// Customers who ordered in the period and had ordered before it.
    pub fn returning_customers(&self) -> i64 {
        self.customers - self.figures.new_customers
    }
}

pub struct SalesReport {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    pub periods: Vec<SalesPeriod>,
    pub totals: Figures,
}

/// One group of lines (a product, a product type, a category, an attribute value).
#[derive(Debug, Clone)]
pub struct GroupFigures {
    pub key: String,
    pub name: Option<String>,
    pub figures: Figures,
    pub customers: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankBy {
    Revenue,
    Units,
}

pub struct Ranking {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    pub groups: Vec<GroupFigures>,
    /// Revenue or units of every group, the base of the shares.
    pub total: i64,
    pub by: RankBy,
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub product_type: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
}

pub struct CodeFigures {
    pub code: String,
    /// Orders with the code applied (redemptions), first orders among them in `new_customers`.
    pub figures: Figures,
    pub customers: i64,
}

pub struct Cohort {
    pub period_start: NaiveDate,
    pub customers: i64,
    /// Net revenue of the cohort's orders up to the end of the range.
    pub revenue: i64,
    /// For each following period: customers of the cohort who ordered in it.
    pub returning: Vec<i64>,
}

/// The currency, the other currencies, and one cohort per period.
pub type Cohorts = (Option<String>, Vec<String>, Vec<Cohort>);

/// What lines are grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineGroup {
    Sku,
    ProductType,
    /// The catalogue's category of the line's SKU.
    Category,
    /// A key of the line's attributes.
    Attribute(String),
}

/// What sales requests ask for.
pub struct SalesRequest {
    pub periods: Periods,
    pub filter: SalesFilter,
    pub currency: Option<String>,
}

pub struct RankingRequest {
    pub periods: Periods,
    pub group: LineGroup,
    pub filter: ProductFilter,
    pub currency: Option<String>,
    pub by: RankBy,
    pub limit: usize,
}

/// Customers acquired in a UTC range (all without one), the currency, how many top customers.
pub type ValueRequest = (Option<(NaiveDateTime, NaiveDateTime)>, Option<String>, usize);
