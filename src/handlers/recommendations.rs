//! Purchase profiles, recommendations and "also bought" products. Scope: `customers:read`.

use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::dto::problem::Problem;
use crate::dto::recommendations::{
    CustomerProfile, CustomerRecommendations, RecommendationsQuery, RelatedProducts, RelatedQuery,
};
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::recommendations as service;
use crate::state::AppState;

/// What a customer buys: their price band per currency (25th to 75th percentile of the unit
/// prices they paid) and the shares of product types and line attributes in their units
/// and spend. Computed live from their orders (not cancelled, net of refunds).
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "recommendations",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The purchase profile", body = CustomerProfile),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/profile")]
pub async fn customer_profile(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<CustomerProfile>, AppError> {
    let id = id.into_inner();
    let profile = state.db.run(move |conn| service::profile(conn, id)).await?;
    Ok(web::Json(CustomerProfile::new(id, profile)))
}

/// Products to recommend to a customer, best first, each with a reason: active, in stock
/// when stock is tracked, not bought before (unless the product type is in
/// `RAPPORT_REPEATABLE_PRODUCT_TYPES`), within the customer's price band widened by 20 %;
/// ranked by "also bought" lift from what they bought and their share of the product's
/// type; then best sellers of their types, then best sellers (cold start).
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "recommendations",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), RecommendationsQuery),
    responses(
        (status = 200, description = "Recommended products", body = CustomerRecommendations),
        (status = 400, description = "A query parameter that does not parse (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/recommendations")]
pub async fn customer_recommendations(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<RecommendationsQuery>,
) -> Result<web::Json<CustomerRecommendations>, AppError> {
    let id = id.into_inner();
    let limit = query.limit()?;
    let repeatable = state.config.repeatable_product_types.clone();
    let items = state.db.run(move |conn| service::for_customer(conn, &repeatable, id, limit)).await?;
    Ok(web::Json(CustomerRecommendations { customer_id: id, items: items.into_iter().map(Into::into).collect() }))
}

/// Products bought by customers who bought this one ("also bought"), highest lift first,
/// among pairs bought by at least 2 customers; as of the last background refresh.
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "recommendations",
    security(("bearer" = ["customers:read"])),
    params(("sku" = String, Path, description = "SKU"), RelatedQuery),
    responses(
        (status = 200, description = "Related products", body = RelatedProducts),
        (status = 400, description = "A query parameter that does not parse (named)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such SKU", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/products/{sku}/related")]
pub async fn related_products(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    sku: web::Path<String>,
    query: Query<RelatedQuery>,
) -> Result<web::Json<RelatedProducts>, AppError> {
    let sku = sku.into_inner();
    let limit = query.limit()? as i64;
    let lookup = sku.clone();
    let items = state.db.run(move |conn| service::related(conn, &lookup, limit)).await?;
    Ok(web::Json(RelatedProducts { sku, items: items.into_iter().map(Into::into).collect() }))
}
