use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::domain::analytics::{RankingRequest, SalesRequest};
use crate::domain::parse_sku;
use crate::dto::analytics::{
    ChannelAnalytics, CohortAnalytics, ConsentAnalytics, CustomerValueAnalytics, CustomerValueQuery, EnquiryAnalytics,
    EnquiryAnalyticsQuery, PeriodQuery, PromotionsAnalytics, PromotionsQuery, RangeQuery, Ranked, RankingAnalytics,
    RfmAnalytics, RfmQuery, SalesAnalytics, SalesQuery, TopProductsQuery,
};
use crate::dto::predictions::{PredictionsAnalytics, PredictionsQuery};
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::analytics as service;
use crate::state::AppState;

/// Consent for dashboards: subscribed / unsubscribed / pending customers per channel now,
/// opt-ins and opt-outs per period (every period present), and the email opt-in rate of
/// customers by the source they came from. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "Consent figures", body = ConsentAnalytics),
        (status = 422, description = "Bad period: dates, inverted range, range too long for the granularity, unknown time zone",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/consent")]
pub async fn consent(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<PeriodQuery>,
) -> Result<web::Json<ConsentAnalytics>, AppError> {
    let periods = query.periods(state.config.timezone)?;
    Ok(web::Json(state.db.run(move |conn| service::consent(conn, &periods.buckets)).await?.into()))
}

/// Sales per period: orders, units, revenue, discounts, refunds, net revenue, average
/// order value, new and returning customers; every period present; one currency per
/// answer (cancelled orders left out, refunds subtracted). Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(SalesQuery),
    responses(
        (status = 200, description = "Sales per period", body = SalesAnalytics),
        (status = 422, description = "Bad period (dates, inverted range, range too long for the granularity, unknown time zone) or filter",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/sales")]
pub async fn sales(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<SalesQuery>,
) -> Result<web::Json<SalesAnalytics>, AppError> {
    let request = query.parse(state.config.timezone, None)?;
    sales_response(&state, request).await
}

async fn sales_response(state: &AppState, request: SalesRequest) -> Result<web::Json<SalesAnalytics>, AppError> {
    let SalesRequest { periods, filter, currency } = request;
    let (report, periods) = state
        .db
        .run(move |conn| service::sales(conn, &periods, &filter, currency).map(|report| (report, periods)))
        .await?;
    Ok(web::Json(SalesAnalytics::new(report, &periods)))
}

/// One product's sales per period (its lines only), like `/v1/analytics/sales?sku=`.
/// Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(("sku" = String, Path, description = "The product's SKU"), SalesQuery),
    responses(
        (status = 200, description = "The product's sales per period", body = SalesAnalytics),
        (status = 422, description = "Bad SKU, period or filter",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/products/{sku}/sales")]
pub async fn product_sales(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    query: Query<SalesQuery>,
) -> Result<web::Json<SalesAnalytics>, AppError> {
    let sku = parse_sku(&sku).map_err(|e| AppError::invalid("sku", e))?;
    let request = query.parse(state.config.timezone, Some(sku))?;
    sales_response(&state, request).await
}

/// Best-selling products in a date range, by revenue or units, with orders, distinct
/// customers and share of the total. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(TopProductsQuery),
    responses(
        (status = 200, description = "Ranked products", body = RankingAnalytics),
        (status = 422, description = "Bad range, ranking, limit or filter",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/products/top")]
pub async fn top_products(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<TopProductsQuery>,
) -> Result<web::Json<RankingAnalytics>, AppError> {
    ranking_response(&state, query.parse(state.config.timezone, Ranked::Products)?).await
}

/// Sales ranked by product type, catalogue category or a line attribute
/// (`group_by=attributes.material`). Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(TopProductsQuery),
    responses(
        (status = 200, description = "Ranked groups", body = RankingAnalytics),
        (status = 422, description = "Bad range, grouping, ranking, limit or filter",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/product-types")]
pub async fn product_types(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<TopProductsQuery>,
) -> Result<web::Json<RankingAnalytics>, AppError> {
    ranking_response(&state, query.parse(state.config.timezone, Ranked::Groups)?).await
}

async fn ranking_response(state: &AppState, request: RankingRequest) -> Result<web::Json<RankingAnalytics>, AppError> {
    let RankingRequest { periods, group, filter, currency, by, limit } = request;
    let grouping = group.clone();
    let ranking =
        state.db.run(move |conn| service::product_groups(conn, &periods, group, &filter, currency, by, limit)).await?;
    Ok(web::Json(RankingAnalytics::new(ranking, &grouping)))
}

/// Promotions in a date range: per promo code (redemptions, customers, revenue, discount,
/// average order value, first-time vs returning), orders with vs without a code, and the
/// campaigns launched in the range with response, conversion and lift, ranked, with the
/// leaders named; and every promotion with a cost in the currency ranked by `sort` (cost
/// per order, per incremental order, return on spend) in `by_cost`. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(PromotionsQuery),
    responses(
        (status = 200, description = "Promotions", body = PromotionsAnalytics),
        (status = 400, description = "Unknown query parameter or bad `sort`",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad range or currency",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/promotions")]
pub async fn promotions(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<PromotionsQuery>,
) -> Result<web::Json<PromotionsAnalytics>, AppError> {
    let (periods, currency) = query.whole(state.config.timezone)?;
    let sort = query.sort.unwrap_or_default();
    let promotions = state.db.run(move |conn| service::promotions(conn, &periods, currency)).await?;
    Ok(web::Json(PromotionsAnalytics::new(promotions, sort)))
}

/// Customer lifetime value (historical, net): average, median and percentiles, repeat
/// purchase rate, days between orders, top customers. `from`/`to` restrict it to the
/// customers acquired (first order) in that range. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(CustomerValueQuery),
    responses(
        (status = 200, description = "Customer lifetime value", body = CustomerValueAnalytics),
        (status = 422, description = "Bad range, currency or top",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/customers/value")]
pub async fn customer_value(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<CustomerValueQuery>,
) -> Result<web::Json<CustomerValueAnalytics>, AppError> {
    let (range, currency, top) = query.parse(state.config.timezone)?;
    let value = state.db.run(move |conn| service::customer_value(conn, currency, range, top)).await?;
    Ok(web::Json(value.into()))
}

/// Customers, orders, revenue and averages per RFM segment: the scores of all orders as of
/// now, or, with `from` and `to`, scores computed from the orders in that range as of the
/// end of `to` (see the README for the grid). Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(RfmQuery),
    responses(
        (status = 200, description = "RFM segments", body = RfmAnalytics),
        (status = 422, description = "Bad range, time zone or currency",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/customers/rfm")]
pub async fn customer_rfm(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<RfmQuery>,
) -> Result<web::Json<RfmAnalytics>, AppError> {
    let (currency, range) = query.parse(state.config.timezone)?;
    let figures = state.db.run(move |conn| service::rfm(conn, currency, range)).await?;
    Ok(web::Json(figures.into()))
}

/// Retention: customers by the period of their first order, how many ordered again in
/// each following period, and the cohort's revenue. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(RangeQuery),
    responses(
        (status = 200, description = "Cohorts", body = CohortAnalytics),
        (status = 422, description = "Bad period or currency",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/cohorts")]
pub async fn cohorts(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<RangeQuery>,
) -> Result<web::Json<CohortAnalytics>, AppError> {
    let (periods, currency) = query.bucketed(state.config.timezone)?;
    let (currency, others, cohorts, periods) = state
        .db
        .run(move |conn| service::cohorts(conn, &periods, currency).map(|(c, o, cohorts)| (c, o, cohorts, periods)))
        .await?;
    Ok(web::Json(CohortAnalytics::new(currency, others, cohorts, &periods)))
}

/// Orders and revenue by sales channel and by the customer's source, in a date range.
/// Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(RangeQuery),
    responses(
        (status = 200, description = "Channels and sources", body = ChannelAnalytics),
        (status = 422, description = "Bad range or currency",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/channels")]
pub async fn channels(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<RangeQuery>,
) -> Result<web::Json<ChannelAnalytics>, AppError> {
    let (periods, currency) = query.whole(state.config.timezone)?;
    let figures = state.db.run(move |conn| service::channels(conn, &periods, currency)).await?;
    Ok(web::Json(figures.into()))
}

/// Purchase predictions: the BG/NBD and Gamma-Gamma models fitted on the shop's orders
/// (refitted in the background), the spread of predicted 12-month value, the top
/// customers by it and, with `calibration_end`, a holdout check of the model on this
/// shop's own data. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(PredictionsQuery),
    responses(
        (status = 200, description = "The predictions", body = PredictionsAnalytics),
        (status = 422, description = "Bad calibration end or top",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/predictions")]
pub async fn predictions(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<PredictionsQuery>,
) -> Result<web::Json<PredictionsAnalytics>, AppError> {
    let today = crate::services::now().date();
    let (calibration_end, top) = query.parse(today)?;
    let config = state.config.predictions;
    let report =
        state.db.run(move |conn| crate::services::predictions::report(conn, &config, calibration_end, top)).await?;
    Ok(web::Json(PredictionsAnalytics::new(report, calibration_end, today)))
}

/// Enquiries for dashboards, by when they occurred: counts per channel and status in each
/// period (every period present), the exact median time from an enquiry to its resolution
/// (`resolved_at - occurred_at`, over those now resolved), and the share of enquiries (spam
/// left out) whose customer placed an order (not cancelled) within `within_days` days.
/// Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(EnquiryAnalyticsQuery),
    responses(
        (status = 200, description = "Enquiry figures per period and over the range", body = EnquiryAnalytics),
        (status = 422, description = "Bad period (dates, inverted range, range too long for the granularity, unknown time zone) or window",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/enquiries")]
pub async fn enquiries(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: Query<EnquiryAnalyticsQuery>,
) -> Result<web::Json<EnquiryAnalytics>, AppError> {
    let (periods, within_days) = query.parse(state.config.timezone)?;
    let (buckets, totals, periods) = state
        .db
        .run(move |conn| {
            service::enquiries(conn, &periods, within_days).map(|(buckets, totals)| (buckets, totals, periods))
        })
        .await?;
    Ok(web::Json(EnquiryAnalytics::new(buckets, totals, &periods, within_days)))
}
