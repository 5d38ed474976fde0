//! Wire types of recommendations: the purchase profile, recommended and related products.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::recommendations::{
    Affinity, PriceBand, Profile, Recommendation, RelatedProduct, Source, DEFAULT_LIMIT, MAX_RECOMMENDATIONS,
    RELATED_PER_PRODUCT,
};
use crate::error::{AppError, FieldError};

/// `limit` of `GET /v1/customers/{id}/recommendations`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendationsQuery {
    /// How many products, 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
}

impl RecommendationsQuery {
    pub fn limit(&self) -> Result<usize, AppError> {
        limit_within(self.limit, MAX_RECOMMENDATIONS)
    }
}

/// `limit` of `GET /v1/products/{sku}/related`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RelatedQuery {
    /// How many related products, 1 to 20 (default 10).
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<i64>,
}

impl RelatedQuery {
    pub fn limit(&self) -> Result<usize, AppError> {
        limit_within(self.limit, RELATED_PER_PRODUCT as i64)
    }
}

fn limit_within(limit: Option<i64>, max: i64) -> Result<usize, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT.min(max) as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => {
            Err(AppError::Validation(vec![FieldError::new("limit", format!("is {n}; it must be from 1 to {max}"))]))
        }
    }
}

/// The range of net unit prices a customer usually pays in one currency: the 25th and
/// 75th percentile of the prices of their units (minor units).
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceBandView {
    /// ISO 4217.
    pub currency: String,
    /// 25th percentile of unit prices (minor units).
    pub low: i64,
    /// 75th percentile of unit prices (minor units).
    pub high: i64,
    /// Units the band is computed from.
    pub units: i64,
}

impl From<PriceBand> for PriceBandView {
    fn from(b: PriceBand) -> Self {
        PriceBandView { currency: b.currency, low: b.low, high: b.high, units: b.units }
    }
}

/// The share of a customer's purchases of one product type or line attribute value.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffinityView {
    /// `product_type`, or `attributes.<key>` for a line attribute.
    #[schema(example = "product_type")]
    pub dimension: String,
    #[schema(example = "ring")]
    pub value: String,
    /// Units bought of it.
    pub units: i64,
    /// Share of the customer's units, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub unit_share: f64,
    /// Share of the customer's spend in `spend_currency`, 0 to 1.
    #[schema(minimum = 0, maximum = 1)]
    pub spend_share: f64,
}

impl From<Affinity> for AffinityView {
    fn from(a: Affinity) -> Self {
        AffinityView {
            dimension: a.dimension,
            value: a.value,
            units: a.units,
            unit_share: a.unit_share,
            spend_share: a.spend_share,
        }
    }
}

/// What a customer buys, from the lines of their orders that were not cancelled, net of
/// refunded units; computed live (exact at the time of the request).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"customer_id": 42, "units": 5, "spend_currency": "EUR",
    "price_bands": [{"currency": "EUR", "low": 2000, "high": 6000, "units": 5}],
    "affinities": [{"dimension": "attributes.material", "value": "silver", "units": 3, "unit_share": 0.6, "spend_share": 0.5},
                   {"dimension": "product_type", "value": "ring", "units": 3, "unit_share": 0.6, "spend_share": 0.55}]}))]
pub struct CustomerProfile {
    pub customer_id: i64,
    /// Units bought.
    pub units: i64,
    /// The currency with the most units; `spend_share` is a share of the spend in it.
    pub spend_currency: Option<String>,
    /// One per currency the customer paid in.
    pub price_bands: Vec<PriceBandView>,
    /// By dimension, then largest unit share first.
    pub affinities: Vec<AffinityView>,
}

impl CustomerProfile {
    pub fn new(customer_id: i64, profile: Profile) -> CustomerProfile {
        CustomerProfile {
            customer_id,
            units: profile.units,
            spend_currency: profile.spend_currency,
            price_bands: profile.price_bands.into_iter().map(Into::into).collect(),
            affinities: profile.affinities.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where a recommendation comes from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecommendationSource {
    /// Customers who bought what this customer bought also bought it.
    AlsoBought,
    /// A best seller of a product type the customer buys.
    TypeBestSeller,
    /// A best seller of the catalogue (cold start).
    BestSeller,
}

impl From<Source> for RecommendationSource {
    fn from(source: Source) -> Self {
        match source {
            Source::AlsoBought => RecommendationSource::AlsoBought,
            Source::TypeBestSeller => RecommendationSource::TypeBestSeller,
            Source::BestSeller => RecommendationSource::BestSeller,
        }
    }
}

/// A recommended product: active, in stock when stock is tracked, not bought before
/// (unless its type is repeatable), within the customer's price band (20 % tolerance).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedProduct {
    pub sku: String,
    pub name: String,
    pub product_type: String,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    /// The ranking score (higher first): the sum of the lifts from the products the
    /// customer bought, plus twice their share of the product's type, plus a small
    /// popularity term.
    pub score: f64,
    pub source: RecommendationSource,
    /// Why, for a person.
    #[schema(example = "customers who bought Silver ring also bought this; your usual price range 20-60 EUR")]
    pub reason: String,
}

impl From<Recommendation> for RecommendedProduct {
    fn from(r: Recommendation) -> Self {
        RecommendedProduct {
            sku: r.product.sku,
            name: r.product.name,
            product_type: r.product.product_type,
            price: r.product.price,
            currency: r.product.currency,
            score: (r.score * 1000.0).round() / 1000.0,
            source: r.source.into(),
            reason: r.reason,
        }
    }
}

/// Recommendations for a customer, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerRecommendations {
    pub customer_id: i64,
    pub items: Vec<RecommendedProduct>,
}

/// A product bought by customers who bought another.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedProductView {
    pub sku: String,
    pub name: String,
    pub product_type: String,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub active: bool,
    /// Customers who bought both (at least the minimum support, 2).
    pub customers: i64,
    /// P(both) / (P(this product) x P(the other)), over customers: above 1, bought together
    /// more often than chance.
    pub lift: f64,
}

impl From<RelatedProduct> for RelatedProductView {
    fn from(r: RelatedProduct) -> Self {
        RelatedProductView {
            sku: r.product.sku,
            name: r.product.name,
            product_type: r.product.product_type,
            price: r.product.price,
            currency: r.product.currency,
            active: r.product.active,
            customers: r.customers,
            lift: (r.lift * 1000.0).round() / 1000.0,
        }
    }
}

/// The "also bought" list of a product, highest lift first (as of the last refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedProducts {
    pub sku: String,
    pub items: Vec<RelatedProductView>,
}

/// A recommendation as a campaign contact carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactRecommendation {
    pub sku: String,
    pub name: String,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub reason: String,
}

impl From<Recommendation> for ContactRecommendation {
    fn from(r: Recommendation) -> Self {
        ContactRecommendation {
            sku: r.product.sku,
            name: r.product.name,
            price: r.product.price,
            currency: r.product.currency,
            reason: r.reason,
        }
    }
}
