use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::config::parse_timezone;
use crate::domain::analytics::{
    Cohort, ConsentFigures, GroupFigures, LineGroup, ProductFilter, RankBy, Ranking, RankingRequest, SalesReport,
    SalesRequest, ValueRequest,
};
use crate::domain::forms::{median, EnquiryPeriod};
use crate::domain::period::{buckets, local_midnight_utc, Bucket, Granularity, Periods};
use crate::domain::sales::{granularity_name, Figures, SalesFilter};
use crate::domain::segment::RFM_SEGMENTS;
use crate::domain::SalesChannel;
use crate::domain::{ConsentChannel, Currency};
use crate::domain::{EnquiryChannel, EnquiryStatus};
use crate::dto::campaigns::CampaignReport;
use crate::dto::rate;
use crate::error::AppError;
use crate::error::FieldError;
use crate::models::analytics::{ChannelFigures, CustomerValue, Promotions, RfmFigures};

/// The period parameters every analytics endpoint takes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// `day`, `week` (ISO, from Monday), `month` or `year` (default `month`).
    #[param(value_type = Option<crate::dto::schema::GranularityName>, inline)]
    pub granularity: Option<String>,
    /// IANA time zone of the dates and buckets (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
}

impl PeriodQuery {
    /// The periods asked for; every problem is a 422 naming its parameter.
    pub fn periods(&self, default_timezone: chrono_tz::Tz) -> Result<Periods, AppError> {
        parse_periods(&self.from, &self.to, self.granularity.as_deref(), &self.timezone, default_timezone)
    }
}

fn parse_date(name: &str, raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match raw {
        None => {
            errors.push(FieldError::new(name, "is required (YYYY-MM-DD)"));
            None
        }
        Some(text) => NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| errors.push(FieldError::new(name, format!("`{text}` is not a date (YYYY-MM-DD)"))))
            .ok(),
    }
}

fn parse_zone(
    raw: &Option<String>,
    default_timezone: chrono_tz::Tz,
    errors: &mut Vec<FieldError>,
) -> Option<chrono_tz::Tz> {
    match raw {
        None => Some(default_timezone),
        Some(name) => parse_timezone(name).map_err(|e| errors.push(FieldError::new("timezone", e))).ok(),
    }
}

/// `from`, `to` (local dates, inclusive), `granularity` (default month) and `timezone`
/// (default RAPPORT_TIMEZONE) as periods; every problem is a 422 naming its parameter.
pub fn parse_periods(
    from: &Option<String>,
    to: &Option<String>,
    granularity: Option<&str>,
    timezone: &Option<String>,
    default_timezone: chrono_tz::Tz,
) -> Result<Periods, AppError> {
    let mut errors = Vec::new();
    let from = parse_date("from", from, &mut errors);
    let to = parse_date("to", to, &mut errors);
    let granularity = Granularity::parse(granularity.unwrap_or("month"))
        .map_err(|e| errors.push(FieldError::new("granularity", e)))
        .ok();
    let timezone = parse_zone(timezone, default_timezone, &mut errors);
    match (from, to, granularity, timezone) {
        (Some(from), Some(to), Some(granularity), Some(timezone)) if errors.is_empty() => {
            let buckets = buckets(granularity, timezone, from, to).map_err(|e| {
                let field = if to < from { "to" } else { "granularity" };
                AppError::invalid(field, e)
            })?;
            Ok(Periods { granularity, timezone, buckets })
        }
        _ => Err(AppError::Validation(errors)),
    }
}

/// `from` to `to` (local dates, inclusive, any length) as one period.
pub fn parse_whole_range(
    from: &Option<String>,
    to: &Option<String>,
    timezone: &Option<String>,
    default_timezone: chrono_tz::Tz,
) -> Result<Periods, AppError> {
    let mut errors = Vec::new();
    let from = parse_date("from", from, &mut errors);
    let to = parse_date("to", to, &mut errors);
    let timezone = parse_zone(timezone, default_timezone, &mut errors);
    let (Some(from), Some(to), Some(timezone)) = (from, to, timezone) else {
        return Err(AppError::Validation(errors));
    };
    if to < from {
        return Err(AppError::invalid("to", "`to` is before `from`"));
    }
    let bucket = Bucket {
        period_start: from,
        utc_start: local_midnight_utc(timezone, from),
        utc_end: local_midnight_utc(timezone, to + chrono::Duration::days(1)),
    };
    Ok(Periods { granularity: Granularity::Day, timezone, buckets: vec![bucket] })
}

/// Optional `from` / `to` as a UTC range of local days (both or neither).
fn optional_range(
    from: &Option<String>,
    to: &Option<String>,
    timezone: &Option<String>,
    default_timezone: chrono_tz::Tz,
) -> Result<Option<(NaiveDateTime, NaiveDateTime)>, AppError> {
    if from.is_none() && to.is_none() {
        let mut errors = Vec::new();
        parse_zone(timezone, default_timezone, &mut errors);
        return finish(errors, None);
    }
    Ok(Some(parse_whole_range(from, to, timezone, default_timezone)?.utc_range()))
}

fn text_filter(name: &str, raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = raw.as_ref()?.trim().to_string();
    if value.is_empty() || value.chars().count() > 100 {
        errors.push(FieldError::new(name, "must be 1 to 100 characters"));
        return None;
    }
    Some(value)
}

/// Product types and categories are stored lower-case.
fn label_filter(name: &str, raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    text_filter(name, raw, errors).map(|label| label.to_lowercase())
}

fn currency_filter(raw: &Option<String>, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw.as_ref()?;
    Currency::parse(raw).map(|c| c.as_str().to_string()).map_err(|e| errors.push(FieldError::new("currency", e))).ok()
}

fn rank_by(raw: &Option<String>, errors: &mut Vec<FieldError>) -> RankBy {
    match raw.as_deref().map(str::trim) {
        None | Some("revenue") => RankBy::Revenue,
        Some("units") => RankBy::Units,
        Some(other) => {
            errors.push(FieldError::new("by", format!("`{other}` is not a ranking; use revenue or units")));
            RankBy::Revenue
        }
    }
}

pub(crate) fn limit_of(name: &str, raw: Option<i64>, default: i64, errors: &mut Vec<FieldError>) -> usize {
    match raw {
        None => default as usize,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            errors.push(FieldError::new(name, format!("is {n}; it must be from 1 to 100")));
            default as usize
        }
    }
}

fn finish<T>(errors: Vec<FieldError>, value: T) -> Result<T, AppError> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Combines the period's errors with the other parameters' errors, so one 422 names them all.
fn periods_and(periods: Result<Periods, AppError>, mut errors: Vec<FieldError>) -> Result<Periods, AppError> {
    match periods {
        Ok(periods) => finish(errors, periods),
        Err(AppError::Validation(mut more)) => {
            more.append(&mut errors);
            Err(AppError::Validation(more))
        }
        Err(error) if errors.is_empty() => Err(error),
        Err(_) => Err(AppError::Validation(errors)),
    }
}

// ---- Sales -----------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SalesQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// `day`, `week` (ISO, from Monday), `month` or `year` (default `month`).
    #[param(value_type = Option<crate::dto::schema::GranularityName>, inline)]
    pub granularity: Option<String>,
    /// IANA time zone of the dates and buckets (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// Only orders through this channel.
    #[param(value_type = Option<crate::dto::schema::SalesChannel>, inline)]
    pub channel: Option<SalesChannel>,
    /// Only the lines of this product type (as recorded on the order lines).
    #[param(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub product_type: Option<String>,
    /// Only orders where this promo code was applied.
    #[param(pattern = r"^\s*[A-Za-z0-9_-]{2,40}\s*$")]
    pub promo_code: Option<String>,
    /// ISO 4217 code (default: the currency with the most orders in the range).
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
}

impl SalesQuery {
    pub fn parse(&self, default_timezone: chrono_tz::Tz, sku: Option<String>) -> Result<SalesRequest, AppError> {
        let mut errors = Vec::new();
        let filter = SalesFilter {
            channel: self.channel.map(|c| c.as_str().to_string()),
            promo_code: text_filter("promo_code", &self.promo_code, &mut errors).map(|c| c.to_uppercase()),
            product_type: label_filter("product_type", &self.product_type, &mut errors),
            sku,
        };
        let currency = currency_filter(&self.currency, &mut errors);
        let periods = periods_and(
            parse_periods(&self.from, &self.to, self.granularity.as_deref(), &self.timezone, default_timezone),
            errors,
        )?;
        Ok(SalesRequest { periods, filter, currency })
    }
}

/// The sales of one period. Money in minor units of `currency`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesBucket {
    /// The local date the period starts on.
    pub period_start: NaiveDate,
    /// Orders (not cancelled).
    pub orders: i64,
    /// Units sold, net of refunded quantities.
    pub units: i64,
    /// Before discounts, net of refunds.
    pub revenue: i64,
    pub discounts: i64,
    pub refunds: i64,
    /// revenue − discounts: what the customers paid and kept.
    pub net_revenue: i64,
    /// net_revenue / orders, rounded (null without orders).
    pub average_order_value: Option<i64>,
    /// Customers whose first order (in this currency) is in this period.
    pub new_customers: i64,
    /// Customers who ordered in this period after ordering before it.
    pub returning_customers: i64,
}

/// The sums over the range.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesTotals {
    pub orders: i64,
    pub units: i64,
    pub revenue: i64,
    pub discounts: i64,
    pub refunds: i64,
    pub net_revenue: i64,
    pub average_order_value: Option<i64>,
    /// Customers whose first order is in the range.
    pub new_customers: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesAnalytics {
    /// The currency of every amount (null when the range has no orders).
    pub currency: Option<String>,
    /// Other currencies with orders in the range (ask with `currency=`).
    pub other_currencies: Vec<String>,
    pub granularity: String,
    pub timezone: String,
    /// Every period of the range, empty ones included.
    pub buckets: Vec<SalesBucket>,
    pub totals: SalesTotals,
}

impl SalesAnalytics {
    pub fn new(report: SalesReport, periods: &Periods) -> SalesAnalytics {
        let buckets = report
            .periods
            .iter()
            .map(|p| SalesBucket {
                period_start: p.period_start,
                orders: p.figures.orders,
                units: p.figures.units,
                revenue: p.figures.revenue(),
                discounts: p.figures.discounts,
                refunds: p.figures.refunds,
                net_revenue: p.figures.net_revenue(),
                average_order_value: p.figures.average_order_value(),
                new_customers: p.figures.new_customers,
                returning_customers: p.returning_customers(),
            })
            .collect();
        let t = report.totals;
        SalesAnalytics {
            currency: report.currency,
            other_currencies: report.other_currencies,
            granularity: granularity_name(periods.granularity).to_string(),
            timezone: periods.timezone.name().to_string(),
            buckets,
            totals: SalesTotals {
                orders: t.orders,
                units: t.units,
                revenue: t.revenue(),
                discounts: t.discounts,
                refunds: t.refunds,
                net_revenue: t.net_revenue(),
                average_order_value: t.average_order_value(),
                new_customers: t.new_customers,
            },
        }
    }
}

// ---- Products ----------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopProductsQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// IANA time zone of the dates (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// `revenue` (default) or `units`.
    #[param(pattern = "^(revenue|units)$")]
    pub by: Option<String>,
    /// 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// `product_type` (default), `category` or `attributes.<key>` (product-types only).
    pub group_by: Option<String>,
    /// The catalogue's product type of the product.
    #[param(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub product_type: Option<String>,
    /// The catalogue's category of the product.
    #[param(min_length = 1, max_length = 100, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub category: Option<String>,
    /// Only orders through this channel.
    #[param(value_type = Option<crate::dto::schema::SalesChannel>, inline)]
    pub channel: Option<SalesChannel>,
    /// ISO 4217 code (default: the currency with the most orders in the range).
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
}

/// What a ranking ranks: products (by SKU), or groups of lines (`group_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranked {
    Products,
    Groups,
}

impl TopProductsQuery {
    pub fn parse(&self, default_timezone: chrono_tz::Tz, ranked: Ranked) -> Result<RankingRequest, AppError> {
        let mut errors = Vec::new();
        let group = match (ranked, self.group_by.as_deref().map(str::trim)) {
            (Ranked::Products, None) => LineGroup::Sku,
            (Ranked::Products, Some(_)) => {
                errors.push(FieldError::new("group_by", "is for /v1/analytics/product-types"));
                LineGroup::Sku
            }
            (Ranked::Groups, None | Some("product_type")) => LineGroup::ProductType,
            (Ranked::Groups, Some("category")) => LineGroup::Category,
            (Ranked::Groups, Some(other)) => match other.strip_prefix("attributes.") {
                Some(key)
                    if !key.is_empty()
                        && key.len() <= 64
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    LineGroup::Attribute(key.to_string())
                }
                _ => {
                    errors.push(FieldError::new(
                        "group_by",
                        format!("`{other}`: use product_type, category or attributes.<key> (letters, digits, _ and -)"),
                    ));
                    LineGroup::ProductType
                }
            },
        };
        let filter = ProductFilter {
            product_type: label_filter("product_type", &self.product_type, &mut errors),
            category: label_filter("category", &self.category, &mut errors),
            channel: self.channel.map(|c| c.as_str().to_string()),
        };
        let currency = currency_filter(&self.currency, &mut errors);
        let by = rank_by(&self.by, &mut errors);
        let limit = limit_of("limit", self.limit, 10, &mut errors);
        let periods = periods_and(parse_whole_range(&self.from, &self.to, &self.timezone, default_timezone), errors)?;
        Ok(RankingRequest { periods, group, filter, currency, by, limit })
    }
}

/// One ranked product or group. Money in minor units of `currency`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedGroup {
    /// The SKU, product type, category or attribute value.
    pub key: String,
    /// The catalogue's name (products only).
    pub name: Option<String>,
    /// Units sold, net of refunded quantities.
    pub units: i64,
    /// Line value (quantity × unit price) net of refunded quantities, before order discounts.
    pub revenue: i64,
    /// Revenue minus the lines' pro-rata share of order discounts.
    pub net_revenue: i64,
    /// Orders with such lines.
    pub orders: i64,
    /// Distinct customers who bought them.
    pub customers: i64,
    /// Of the revenue (or units, with `by=units`) of everything matched.
    pub share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RankingAnalytics {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    /// `revenue` or `units`.
    pub by: String,
    /// `sku`, `product_type`, `category` or `attributes.<key>`.
    pub group_by: String,
    pub groups: Vec<RankedGroup>,
}

impl RankingAnalytics {
    pub fn new(ranking: Ranking, group: &LineGroup) -> RankingAnalytics {
        let share = |g: &GroupFigures| {
            let part = match ranking.by {
                RankBy::Revenue => g.figures.revenue(),
                RankBy::Units => g.figures.units,
            };
            rate(part, ranking.total)
        };
        let groups = ranking
            .groups
            .iter()
            .map(|g| RankedGroup {
                key: g.key.clone(),
                name: g.name.clone(),
                units: g.figures.units,
                revenue: g.figures.revenue(),
                net_revenue: g.figures.net_revenue(),
                orders: g.figures.orders,
                customers: g.customers,
                share: share(g),
            })
            .collect();
        RankingAnalytics {
            currency: ranking.currency,
            other_currencies: ranking.other_currencies,
            by: match ranking.by {
                RankBy::Revenue => "revenue",
                RankBy::Units => "units",
            }
            .into(),
            group_by: match group {
                LineGroup::Sku => "sku".into(),
                LineGroup::ProductType => "product_type".into(),
                LineGroup::Category => "category".into(),
                LineGroup::Attribute(key) => format!("attributes.{key}"),
            },
            groups,
        }
    }
}

// ---- Promotions ----------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// `day`, `week`, `month` or `year` (cohorts; default `month`).
    #[param(value_type = Option<crate::dto::schema::GranularityName>, inline)]
    pub granularity: Option<String>,
    /// IANA time zone of the dates (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// ISO 4217 code (default: the currency with the most orders in the range).
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
}

impl RangeQuery {
    /// The range as one period (any length), and the currency.
    pub fn whole(&self, default_timezone: chrono_tz::Tz) -> Result<(Periods, Option<String>), AppError> {
        let mut errors = Vec::new();
        let currency = currency_filter(&self.currency, &mut errors);
        if self.granularity.is_some() {
            errors.push(FieldError::new(
                "granularity",
                "is for /v1/analytics/cohorts; this figure is for the whole range",
            ));
        }
        let periods = parse_whole_range(&self.from, &self.to, &self.timezone, default_timezone);
        Ok((periods_and(periods, errors)?, currency))
    }

    /// The range in periods of `granularity`, and the currency.
    pub fn bucketed(&self, default_timezone: chrono_tz::Tz) -> Result<(Periods, Option<String>), AppError> {
        let mut errors = Vec::new();
        let currency = currency_filter(&self.currency, &mut errors);
        let periods = periods_and(
            parse_periods(&self.from, &self.to, self.granularity.as_deref(), &self.timezone, default_timezone),
            errors,
        )?;
        Ok((periods, currency))
    }
}

/// One promo code's orders in the range. Money in minor units of `currency`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromoCodeFigures {
    pub code: String,
    /// Orders (not cancelled) where the code was applied.
    pub redemptions: i64,
    /// Distinct customers who used it.
    pub customers: i64,
    /// Before discounts, net of refunds.
    pub revenue: i64,
    pub discount_given: i64,
    pub net_revenue: i64,
    pub average_order_value: Option<i64>,
    /// Redemptions that were the customer's first order.
    pub first_time_customers: i64,
    /// Customers who had ordered before (customers − first-time).
    pub returning_customers: i64,
}

/// Orders with or without a code, for comparing average order values.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderGroup {
    pub orders: i64,
    pub net_revenue: i64,
    pub average_order_value: Option<i64>,
}

/// A campaign launched in the range, with what it achieved.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignPromotion {
    pub campaign_id: i64,
    pub name: String,
    pub channel: String,
    pub launched_at: Option<DateTime<Utc>>,
    pub contacted: i64,
    /// Contacts who opened.
    pub open_rate: f64,
    /// Contacts who clicked.
    pub click_rate: f64,
    /// Contacts who clicked or replied (the campaign's response rate).
    pub response_rate: f64,
    /// Contacted customers who ordered in the attribution window.
    pub conversion_rate: f64,
    /// Contacted rate minus holdout rate (null without a holdout).
    pub incremental_lift: Option<f64>,
    /// Attributed net revenue in `currency`.
    pub revenue: i64,
    pub report: CampaignReport,
}

/// Which of a promotion's kinds.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionKind {
    Campaign,
    Flow,
    PromoCode,
}

/// One promotion with a cost in the chosen currency, its cost against its orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionCost {
    pub kind: PromotionKind,
    /// The campaign's or flow's id; null for a promo code, whose `name` is the code.
    pub id: Option<i64>,
    /// The campaign's or flow's name; the code for a promo code.
    pub name: String,
    #[serde(flatten)]
    pub figures: crate::dto::campaigns::CostResult,
}

/// `sort` of `GET /v1/analytics/promotions`: how `by_cost` is ranked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionSort {
    /// Cheapest orders first (no orders last).
    #[default]
    CostPerOrder,
    /// Cheapest incremental orders first (no holdout or no increment last).
    CostPerIncrementalOrder,
    /// Highest return on spend first.
    ReturnOnSpend,
    /// Most expensive first.
    Cost,
}

/// Query of `GET /v1/analytics/promotions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PromotionsQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// IANA time zone of the dates (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// ISO 4217 code (default: the currency with the most orders in the range). Only
    /// costs in this currency are ranked.
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
    /// How `by_cost` is ranked (default `cost_per_order`).
    #[param(inline)]
    pub sort: Option<PromotionSort>,
    /// Not taken here (the figures are for the whole range): given, it is a 422.
    #[param(value_type = Option<crate::dto::schema::GranularityName>, inline)]
    pub granularity: Option<String>,
}

impl PromotionsQuery {
    pub fn whole(&self, default_timezone: chrono_tz::Tz) -> Result<(Periods, Option<String>), AppError> {
        RangeQuery {
            from: self.from.clone(),
            to: self.to.clone(),
            granularity: self.granularity.clone(),
            timezone: self.timezone.clone(),
            currency: self.currency.clone(),
        }
        .whole(default_timezone)
    }
}

/// Ranks by `sort`; ties and missing values keep a stable order (missing last).
fn rank_by_cost(items: &mut [PromotionCost], sort: PromotionSort) {
    let key = |p: &PromotionCost| -> Option<f64> {
        match sort {
            PromotionSort::CostPerOrder => p.figures.cost_per_order.map(|v| v as f64),
            PromotionSort::CostPerIncrementalOrder => p.figures.cost_per_incremental_order.map(|v| v as f64),
            PromotionSort::ReturnOnSpend => p.figures.return_on_spend.map(|v| -v),
            PromotionSort::Cost => Some(-(p.figures.cost as f64)),
        }
    };
    items.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// The leaders, so "which promotion sold most / got the best response" is one look.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionLeaders {
    pub code_by_revenue: Option<String>,
    pub code_by_redemptions: Option<String>,
    pub campaign_by_revenue: Option<i64>,
    pub campaign_by_response_rate: Option<i64>,
    pub campaign_by_conversion_rate: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionsAnalytics {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    /// Ranked by revenue.
    pub codes: Vec<PromoCodeFigures>,
    pub with_code: OrderGroup,
    pub without_code: OrderGroup,
    /// Ranked by attributed revenue.
    pub campaigns: Vec<CampaignPromotion>,
    pub leaders: PromotionLeaders,
    /// Campaigns (launched in the range), promo codes (redeemed in the range) and flows
    /// (since activation) with a cost in `currency`, ranked by `sort`: cost per order,
    /// per incremental order, return on spend. Promotions with a cost in another currency
    /// are left out (there is no exchange rate).
    pub by_cost: Vec<PromotionCost>,
}

impl PromotionsAnalytics {
    pub fn new(promotions: Promotions, sort: PromotionSort) -> PromotionsAnalytics {
        let mut by_cost = Vec::new();
        let currency_matches = |code: &str| promotions.currency.as_deref() == Some(code);
        for (row, report) in &promotions.campaigns {
            if let Some(cost) = row.cost().filter(|c| currency_matches(&c.currency)) {
                by_cost.push(PromotionCost {
                    kind: PromotionKind::Campaign,
                    id: Some(row.id),
                    name: row.name.clone(),
                    figures: crate::dto::campaigns::campaign_cost_figures(&cost, report).into(),
                });
            }
        }
        for code in &promotions.codes {
            if let Some(cost) = promotions.code_costs.get(&code.code).filter(|c| currency_matches(&c.currency)) {
                let returns = crate::domain::costs::Returns {
                    orders: code.figures.orders,
                    revenue: code.figures.net_revenue(),
                    holdout: None,
                };
                let figures = crate::domain::costs::figures(&cost.currency, cost.total(code.figures.orders), returns);
                by_cost.push(PromotionCost {
                    kind: PromotionKind::PromoCode,
                    id: None,
                    name: code.code.clone(),
                    figures: figures.into(),
                });
            }
        }
        for (view, report) in &promotions.flows {
            if let Some(cost) = view.definition.cost.as_ref() {
                by_cost.push(PromotionCost {
                    kind: PromotionKind::Flow,
                    id: Some(view.row.id),
                    name: view.row.name.clone(),
                    figures: crate::dto::flows::flow_cost_figures(cost, report).into(),
                });
            }
        }
        rank_by_cost(&mut by_cost, sort);
        let responders = &promotions.responders;
        let currency = promotions.currency.clone();
        let codes: Vec<PromoCodeFigures> = promotions
            .codes
            .iter()
            .map(|c| PromoCodeFigures {
                code: c.code.clone(),
                redemptions: c.figures.orders,
                customers: c.customers,
                revenue: c.figures.revenue(),
                discount_given: c.figures.discounts,
                net_revenue: c.figures.net_revenue(),
                average_order_value: c.figures.average_order_value(),
                first_time_customers: c.figures.new_customers,
                returning_customers: c.customers - c.figures.new_customers,
            })
            .collect();
        let group = |f: &Figures| OrderGroup {
            orders: f.orders,
            net_revenue: f.net_revenue(),
            average_order_value: f.average_order_value(),
        };
        let campaigns: Vec<CampaignPromotion> = promotions
            .campaigns
            .into_iter()
            .map(|(row, report)| {
                let revenue = report
                    .attributed
                    .iter()
                    .filter(|a| Some(&a.currency) == currency.as_ref())
                    .map(|a| a.revenue)
                    .sum();
                let responded = responders.get(&row.id).copied().unwrap_or(0);
                let report = CampaignReport::from(report);
                let rate_of = |kind: &str| report.responses.get(kind).map_or(0.0, |r| r.rate);
                CampaignPromotion {
                    campaign_id: row.id,
                    name: row.name,
                    channel: row.channel,
                    launched_at: row.launched_at.map(|t| t.and_utc()),
                    contacted: report.contacted,
                    open_rate: rate_of("opened"),
                    click_rate: rate_of("clicked"),
                    response_rate: rate(responded, report.contacted),
                    conversion_rate: report.conversions.rate,
                    incremental_lift: report.incremental_lift,
                    revenue,
                    report,
                }
            })
            .collect();
        let best_by = |key: &dyn Fn(&CampaignPromotion) -> f64| {
            campaigns
                .iter()
                .filter(|c| c.contacted > 0)
                .max_by(|a, b| key(a).total_cmp(&key(b)).then(b.campaign_id.cmp(&a.campaign_id)))
                .map(|c| c.campaign_id)
        };
        let leaders = PromotionLeaders {
            code_by_revenue: codes.first().map(|c| c.code.clone()),
            code_by_redemptions: codes
                .iter()
                .max_by(|a, b| a.redemptions.cmp(&b.redemptions).then(b.code.cmp(&a.code)))
                .map(|c| c.code.clone()),
            campaign_by_revenue: campaigns.first().filter(|c| c.revenue > 0).map(|c| c.campaign_id),
            campaign_by_response_rate: best_by(&|c| c.response_rate),
            campaign_by_conversion_rate: best_by(&|c| c.conversion_rate),
        };
        PromotionsAnalytics {
            currency,
            other_currencies: promotions.other_currencies,
            codes,
            with_code: group(&promotions.with_code),
            without_code: group(&promotions.without_code),
            campaigns,
            leaders,
            by_cost,
        }
    }
}

// ---- Customers ----------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerValueQuery {
    /// Only customers whose first order is on or after this local date (with `to`).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Only customers whose first order is on or before this local date (with `from`).
    #[param(format = Date)]
    pub to: Option<String>,
    /// IANA time zone of the dates (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// ISO 4217 code (default: the currency with the most orders).
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
    /// How many top customers, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub top: Option<i64>,
}

impl CustomerValueQuery {
    pub fn parse(&self, default_timezone: chrono_tz::Tz) -> Result<ValueRequest, AppError> {
        let mut errors = Vec::new();
        if self.from.is_some() != self.to.is_some() {
            errors.push(FieldError::new(
                if self.from.is_none() { "from" } else { "to" },
                "give both from and to, or neither",
            ));
        }
        let currency = currency_filter(&self.currency, &mut errors);
        let top = limit_of("top", self.top, 10, &mut errors);
        let range = if errors.is_empty() {
            optional_range(&self.from, &self.to, &self.timezone, default_timezone)?
        } else {
            None
        };
        finish(errors, (range, currency, top))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValuedCustomer {
    pub customer_id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub orders: i64,
    /// Net spent in `currency`.
    pub lifetime_value: i64,
}

/// Historical customer lifetime value: net spent per buyer. Money in minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerValueAnalytics {
    pub currency: Option<String>,
    /// Buyers (customers with an order that is not cancelled).
    pub customers: i64,
    pub average_value: f64,
    pub median_value: i64,
    /// Nearest-rank percentiles.
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    /// Buyers with at least two orders.
    pub repeat_customers: i64,
    pub repeat_purchase_rate: f64,
    /// Mean over repeat buyers of (last order − first order) / (orders − 1).
    pub average_days_between_orders: Option<f64>,
    pub top: Vec<ValuedCustomer>,
}

impl From<CustomerValue> for CustomerValueAnalytics {
    fn from(v: CustomerValue) -> Self {
        CustomerValueAnalytics {
            currency: v.currency,
            customers: v.customers,
            average_value: (v.average * 100.0).round() / 100.0,
            median_value: v.percentiles[0],
            p50: v.percentiles[0],
            p90: v.percentiles[1],
            p99: v.percentiles[2],
            repeat_customers: v.repeat_customers,
            repeat_purchase_rate: rate(v.repeat_customers, v.customers),
            average_days_between_orders: v.average_days_between_orders.map(|d| (d * 100.0).round() / 100.0),
            top: v
                .top
                .into_iter()
                .map(|t| {
                    let row = t.customer.as_ref().map(|c| &c.row);
                    let name = row.and_then(|r| {
                        let parts: Vec<&str> =
                            [r.first_name.as_deref(), r.last_name.as_deref()].into_iter().flatten().collect();
                        if parts.is_empty() {
                            r.company_name.clone()
                        } else {
                            Some(parts.join(" "))
                        }
                    });
                    ValuedCustomer {
                        customer_id: t.customer_id,
                        name,
                        email: row.and_then(|r| r.email.clone()),
                        orders: t.orders,
                        lifetime_value: t.spent,
                    }
                })
                .collect(),
        }
    }
}

/// Query of `GET /v1/analytics/customers/rfm`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RfmQuery {
    /// Score from the orders placed on or after this local date only (with `to`);
    /// without `from` and `to`, the kept scores of all orders, as of now.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Score from the orders placed on or before this local date only (with `from`), as of
    /// the end of that day.
    #[param(format = Date)]
    pub to: Option<String>,
    /// IANA time zone of the dates (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// ISO 4217 code (default: the currency with the most orders).
    #[param(value_type = Option<crate::dto::schema::CurrencyCode>)]
    pub currency: Option<String>,
}

impl RfmQuery {
    /// The currency and the UTC range of the local days (none without `from` and `to`).
    #[allow(clippy::type_complexity)]
    pub fn parse(
        &self,
        default_timezone: chrono_tz::Tz,
    ) -> Result<(Option<String>, Option<(NaiveDateTime, NaiveDateTime)>), AppError> {
        let mut errors = Vec::new();
        if self.from.is_some() != self.to.is_some() {
            errors.push(FieldError::new(
                if self.from.is_none() { "from" } else { "to" },
                "give both from and to, or neither",
            ));
        }
        let currency = currency_filter(&self.currency, &mut errors);
        let range = if errors.is_empty() {
            optional_range(&self.from, &self.to, &self.timezone, default_timezone)?
        } else {
            None
        };
        finish(errors, (currency, range))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RfmSegmentFigures {
    pub segment: String,
    pub customers: i64,
    /// Of all scored buyers.
    pub share: f64,
    pub orders: i64,
    /// Net revenue in `currency`.
    pub revenue: i64,
    pub average_orders: f64,
    pub average_revenue: f64,
    /// Days since the last order, on average.
    pub average_recency_days: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RfmAnalytics {
    pub currency: Option<String>,
    /// Every segment, empty ones included.
    pub segments: Vec<RfmSegmentFigures>,
}

impl From<RfmFigures> for RfmAnalytics {
    fn from(f: RfmFigures) -> Self {
        let scored: i64 = f.segments.iter().map(|s| s.customers).sum();
        let round = |x: f64| (x * 100.0).round() / 100.0;
        let segments = RFM_SEGMENTS
            .iter()
            .map(|name| {
                let row = f.segments.iter().find(|s| s.segment == *name);
                let customers = row.map_or(0, |r| r.customers);
                let per = |x: i64| if customers == 0 { 0.0 } else { round(x as f64 / customers as f64) };
                RfmSegmentFigures {
                    segment: name.to_string(),
                    customers,
                    share: rate(customers, scored),
                    orders: row.map_or(0, |r| r.orders),
                    revenue: row.map_or(0, |r| r.revenue),
                    average_orders: per(row.map_or(0, |r| r.orders)),
                    average_revenue: per(row.map_or(0, |r| r.revenue)),
                    average_recency_days: row.map_or(0.0, |r| round(r.recency_days)),
                }
            })
            .collect();
        RfmAnalytics { currency: f.currency, segments }
    }
}

// ---- Cohorts and channels -------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionCell {
    /// Periods after the cohort's own (1 = the next one).
    pub offset: i64,
    pub customers: i64,
    /// Of the cohort's customers.
    pub rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CohortRow {
    /// The period of the customers' first order.
    pub period_start: NaiveDate,
    pub customers: i64,
    /// Net revenue of these customers' orders up to the end of the range.
    pub revenue: i64,
    /// One cell per following period up to the end of the range.
    pub retention: Vec<RetentionCell>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CohortAnalytics {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    pub granularity: String,
    pub timezone: String,
    pub cohorts: Vec<CohortRow>,
}

impl CohortAnalytics {
    pub fn new(currency: Option<String>, others: Vec<String>, cohorts: Vec<Cohort>, periods: &Periods) -> Self {
        CohortAnalytics {
            currency,
            other_currencies: others,
            granularity: granularity_name(periods.granularity).into(),
            timezone: periods.timezone.name().into(),
            cohorts: cohorts
                .into_iter()
                .map(|c| CohortRow {
                    period_start: c.period_start,
                    customers: c.customers,
                    revenue: c.revenue,
                    retention: c
                        .returning
                        .iter()
                        .enumerate()
                        .map(|(i, &n)| RetentionCell { offset: i as i64 + 1, customers: n, rate: rate(n, c.customers) })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelSales {
    pub channel: String,
    pub orders: i64,
    /// Before discounts, net of refunds.
    pub revenue: i64,
    pub net_revenue: i64,
    /// Of the net revenue of every channel.
    pub share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceSales {
    /// Where the customer was first captured (`checkout`, `form`, `import`, ...).
    pub source: String,
    pub orders: i64,
    pub customers: i64,
    pub net_revenue: i64,
    pub share: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAnalytics {
    pub currency: Option<String>,
    pub other_currencies: Vec<String>,
    pub channels: Vec<ChannelSales>,
    pub sources: Vec<SourceSales>,
}

impl From<ChannelFigures> for ChannelAnalytics {
    fn from(f: ChannelFigures) -> Self {
        let channel_total: i64 = f.channels.iter().map(|c| c.1.net_revenue()).sum();
        let source_total: i64 = f.sources.iter().map(|s| s.net_revenue).sum();
        ChannelAnalytics {
            currency: f.currency,
            other_currencies: f.other_currencies,
            channels: f
                .channels
                .iter()
                .map(|(channel, figures)| ChannelSales {
                    channel: channel.clone(),
                    orders: figures.orders,
                    revenue: figures.revenue(),
                    net_revenue: figures.net_revenue(),
                    share: rate(figures.net_revenue(), channel_total),
                })
                .collect(),
            sources: f
                .sources
                .into_iter()
                .map(|s| SourceSales {
                    share: rate(s.net_revenue, source_total),
                    source: s.source,
                    orders: s.orders,
                    customers: s.customers,
                    net_revenue: s.net_revenue,
                })
                .collect(),
        }
    }
}

/// Current consent states on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStates {
    pub channel: String,
    pub subscribed: i64,
    pub unsubscribed: i64,
    pub pending: i64,
}

/// Consent changes in one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentBucket {
    pub period_start: NaiveDate,
    /// Events that made a channel `subscribed`, per channel.
    #[schema(value_type = Object)]
    pub opt_ins: BTreeMap<String, i64>,
    /// Events that made a channel `unsubscribed`, per channel.
    #[schema(value_type = Object)]
    pub opt_outs: BTreeMap<String, i64>,
}

/// How customers captured through one source stand on email now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOptIn {
    pub source: String,
    pub customers: i64,
    /// Customers of this source whose email consent is `subscribed`.
    pub email_subscribed: i64,
    pub email_opt_in_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentAnalytics {
    pub channels: Vec<ChannelStates>,
    pub buckets: Vec<ConsentBucket>,
    pub by_source: Vec<SourceOptIn>,
}

impl From<ConsentFigures> for ConsentAnalytics {
    fn from(figures: ConsentFigures) -> Self {
        let channels = ConsentChannel::ALL
            .iter()
            .map(|channel| {
                let count = |state: &str| {
                    figures
                        .states
                        .iter()
                        .find(|(c, s, _)| c == channel.as_str() && s == state)
                        .map_or(0, |(_, _, n)| *n)
                };
                ChannelStates {
                    channel: channel.as_str().to_string(),
                    subscribed: count("subscribed"),
                    unsubscribed: count("unsubscribed"),
                    pending: count("pending"),
                }
            })
            .collect();
        let zeros = || ConsentChannel::ALL.iter().map(|c| (c.as_str().to_string(), 0)).collect::<BTreeMap<_, _>>();
        let buckets = figures
            .periods
            .into_iter()
            .map(|period| {
                let (mut opt_ins, mut opt_outs) = (zeros(), zeros());
                for (channel, subscribed) in period.changes {
                    *if subscribed { &mut opt_ins } else { &mut opt_outs }.entry(channel).or_default() += 1;
                }
                ConsentBucket { period_start: period.period_start, opt_ins, opt_outs }
            })
            .collect();
        let by_source = figures
            .by_source
            .into_iter()
            .map(|(source, customers, subscribed)| SourceOptIn {
                email_opt_in_rate: rate(subscribed, customers),
                source,
                customers,
                email_subscribed: subscribed,
            })
            .collect();
        ConsentAnalytics { channels, buckets, by_source }
    }
}

// ---- Enquiries -----------------------------------------------------------------------

/// `GET /v1/analytics/enquiries`: the period parameters and the conversion window.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EnquiryAnalyticsQuery {
    /// First local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub from: Option<String>,
    /// Last local date (inclusive), `YYYY-MM-DD`.
    #[param(required = true, format = Date)]
    pub to: Option<String>,
    /// `day`, `week` (ISO, from Monday), `month` or `year` (default `month`).
    #[param(value_type = Option<crate::dto::schema::GranularityName>, inline)]
    pub granularity: Option<String>,
    /// IANA time zone of the dates and buckets (default `RAPPORT_TIMEZONE`).
    #[param(value_type = Option<crate::dto::schema::TimeZoneName>)]
    pub timezone: Option<String>,
    /// An enquiry converted when its customer placed an order (not cancelled) within this
    /// many days of it: 1 to 365 (default 30).
    #[param(minimum = 1, maximum = 365)]
    pub within_days: Option<i64>,
}

impl EnquiryAnalyticsQuery {
    /// The periods and the window (days); one 422 names every bad parameter.
    pub fn parse(&self, default_timezone: chrono_tz::Tz) -> Result<(Periods, i64), AppError> {
        let mut errors = Vec::new();
        let within_days = match self.within_days {
            None => 30,
            Some(n @ 1..=365) => n,
            Some(n) => {
                errors.push(FieldError::new("within_days", format!("is {n}; it must be from 1 to 365")));
                30
            }
        };
        let periods =
            parse_periods(&self.from, &self.to, self.granularity.as_deref(), &self.timezone, default_timezone);
        Ok((periods_and(periods, errors)?, within_days))
    }
}

/// How many enquiries came in on one channel with one status.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnquiryCount {
    pub channel: EnquiryChannel,
    /// `new`, `in_progress`, `resolved` or `spam`.
    pub status: String,
    pub enquiries: i64,
}

/// Enquiry figures over a period (by when the enquiries occurred).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnquiryFigures {
    pub enquiries: i64,
    /// Enquiries per channel (every channel, zeros included).
    #[schema(value_type = Object)]
    pub by_channel: BTreeMap<String, i64>,
    /// Enquiries per status (every status, zeros included).
    #[schema(value_type = Object)]
    pub by_status: BTreeMap<String, i64>,
    /// Per channel and status (the pairs that occur), sorted.
    pub counts: Vec<EnquiryCount>,
    /// Enquiries now `resolved`.
    pub resolved: i64,
    /// The exact median of `resolved_at - occurred_at` over the resolved ones, in seconds
    /// (the mean of the two middle values for an even count); null when none is resolved.
    pub median_resolution_seconds: Option<f64>,
    /// Enquiries not marked spam.
    pub genuine: i64,
    /// Of `genuine`, those whose customer placed an order within `within_days` days.
    pub converted: i64,
    /// `converted / genuine` (0 when there are none), four decimals.
    pub conversion_rate: f64,
}

impl From<EnquiryPeriod> for EnquiryFigures {
    fn from(period: EnquiryPeriod) -> Self {
        let mut period = period;
        let mut by_channel: BTreeMap<String, i64> =
            EnquiryChannel::ALL.iter().map(|c| (c.as_str().to_string(), 0)).collect();
        let mut by_status: BTreeMap<String, i64> =
            EnquiryStatus::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
        for (channel, status, n) in &period.counts {
            *by_channel.entry(channel.clone()).or_default() += n;
            *by_status.entry(status.clone()).or_default() += n;
        }
        EnquiryFigures {
            enquiries: period.enquiries,
            by_channel,
            by_status,
            counts: period
                .counts
                .iter()
                .filter_map(|(channel, status, n)| {
                    EnquiryChannel::parse(channel).map(|channel| EnquiryCount {
                        channel,
                        status: status.clone(),
                        enquiries: *n,
                    })
                })
                .collect(),
            resolved: period.resolved,
            median_resolution_seconds: median(&mut period.resolution_seconds),
            genuine: period.genuine,
            converted: period.converted,
            conversion_rate: rate(period.converted, period.genuine),
        }
    }
}

/// One period of the enquiry analytics.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnquiryBucket {
    pub period_start: NaiveDate,
    #[serde(flatten)]
    pub figures: EnquiryFigures,
}

/// Enquiries per period: counts by channel and status, median time to resolution, and
/// the share that led to an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"granularity": "month", "timezone": "Europe/Paris", "within_days": 30,
    "buckets": [{"period_start": "2026-11-01", "enquiries": 3,
        "by_channel": {"email": 0, "form": 1, "in_person": 0, "letter": 0, "phone": 2, "social": 0},
        "by_status": {"in_progress": 0, "new": 1, "resolved": 2, "spam": 0},
        "counts": [{"channel": "form", "status": "new", "enquiries": 1}, {"channel": "phone", "status": "resolved", "enquiries": 2}],
        "resolved": 2, "median_resolution_seconds": 5400.0, "genuine": 3, "converted": 1, "conversion_rate": 0.3333}],
    "totals": {"enquiries": 3,
        "by_channel": {"email": 0, "form": 1, "in_person": 0, "letter": 0, "phone": 2, "social": 0},
        "by_status": {"in_progress": 0, "new": 1, "resolved": 2, "spam": 0},
        "counts": [{"channel": "form", "status": "new", "enquiries": 1}, {"channel": "phone", "status": "resolved", "enquiries": 2}],
        "resolved": 2, "median_resolution_seconds": 5400.0, "genuine": 3, "converted": 1, "conversion_rate": 0.3333}}))]
pub struct EnquiryAnalytics {
    pub granularity: String,
    pub timezone: String,
    /// The conversion window asked for, in days.
    pub within_days: i64,
    /// Every period of the range, empty ones included.
    pub buckets: Vec<EnquiryBucket>,
    /// The whole range (its median is over the whole range, not of the periods' medians).
    pub totals: EnquiryFigures,
}

impl EnquiryAnalytics {
    pub fn new(buckets: Vec<EnquiryPeriod>, totals: EnquiryPeriod, periods: &Periods, within_days: i64) -> Self {
        EnquiryAnalytics {
            granularity: granularity_name(periods.granularity).to_string(),
            timezone: periods.timezone.name().to_string(),
            within_days,
            buckets: buckets
                .into_iter()
                .map(|p| EnquiryBucket { period_start: p.period_start, figures: p.into() })
                .collect(),
            totals: totals.into(),
        }
    }
}
