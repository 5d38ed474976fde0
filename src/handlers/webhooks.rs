use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::customers::PageQuery;
use crate::dto::events::{
    DeliveryListQuery, DeliveryPath, EndpointPath, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint,
    WebhookEndpointInput, WebhookEndpointPage, WebhookEndpointPatchInput, WebhookEndpointWithSecret,
};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::webhooks as service;
use crate::state::AppState;

/// Subscribe a URL to events. The answer carries the signing secret, shown this once.
/// Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    request_body = WebhookEndpointInput,
    responses(
        (status = 201, description = "Created, with its secret", body = WebhookEndpointWithSecret, headers(("Location" = String))),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/webhooks")]
pub async fn create_webhook(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    body: ValidJson<WebhookEndpointInput>,
) -> Result<HttpResponse, AppError> {
    let draft = body.0.into_draft()?;
    let config = state.config.webhooks;
    let created = state.db.run(move |conn| service::create(conn, &config, draft)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/webhooks/{}", created.id)))
        .json(WebhookEndpointWithSecret::from(created)))
}

/// Every endpoint, newest first. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of endpoints", body = WebhookEndpointPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<WebhookEndpointPage>, AppError> {
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |e| vec![e.id]);
    Ok(web::Json(WebhookEndpointPage { items, next_cursor }))
}

/// One endpoint. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
) -> Result<web::Json<WebhookEndpoint>, AppError> {
    let id = path.into_inner().id;
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// Change an endpoint's URL, event types, description or status (merge patch); enabling
/// a disabled endpoint resumes its pending deliveries. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath),
    request_body(content = WebhookEndpointPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/webhooks/{id}")]
pub async fn patch_webhook(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
    body: ValidJson<WebhookEndpointPatchInput>,
) -> Result<web::Json<WebhookEndpoint>, AppError> {
    let id = path.into_inner().id;
    let patch = body.0.into_patch()?;
    let config = state.config.webhooks;
    Ok(web::Json(state.db.run(move |conn| service::patch(conn, &config, id, patch)).await?.into()))
}

/// Remove an endpoint and its deliveries. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner().id;
    state.db.run(move |conn| service::delete(conn, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret (shown this once). The previous secret keeps signing for 24 hours:
/// deliveries carry both signatures meanwhile. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath),
    responses(
        (status = 200, description = "The endpoint with its new secret", body = WebhookEndpointWithSecret),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
) -> Result<web::Json<WebhookEndpointWithSecret>, AppError> {
    let id = path.into_inner().id;
    Ok(web::Json(state.db.run(move |conn| service::rotate_secret(conn, id)).await?.into()))
}

/// Queue a `webhook.test` event for this endpoint alone; its delivery shows in the
/// deliveries. Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath),
    responses(
        (status = 202, description = "Queued: the delivery", body = WebhookDelivery),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is disabled", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/webhooks/{id}/test")]
pub async fn test_webhook(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner().id;
    let delivery = state.db.run(move |conn| service::send_test(conn, id)).await?;
    Ok(HttpResponse::Accepted().json(WebhookDelivery::from(delivery)))
}

/// An endpoint's deliveries, newest first: status, attempts, next attempt, last answer.
/// Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(EndpointPath, DeliveryListQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = WebhookDeliveryPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<EndpointPath>,
    query: Query<DeliveryListQuery>,
    page: Page,
) -> Result<web::Json<WebhookDeliveryPage>, AppError> {
    let id = path.into_inner().id;
    let status = query.status()?;
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::deliveries(conn, id, status.as_deref(), before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |(d, _)| vec![d.id]);
    Ok(web::Json(WebhookDeliveryPage { items, next_cursor }))
}

/// Attempt a delivery again now (a failed one gets one more attempt). Scope: `webhooks:write`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["webhooks:write"])),
    params(DeliveryPath),
    responses(
        (status = 202, description = "Due now: the delivery", body = WebhookDelivery),
        (status = 404, description = "No such endpoint or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The endpoint is disabled, or the delivery is being attempted", body = Problem,
         content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    _auth: Authorized<scopes::WebhooksWrite>,
    state: web::Data<AppState>,
    path: web::Path<DeliveryPath>,
) -> Result<HttpResponse, AppError> {
    let DeliveryPath { id, delivery_id } = path.into_inner();
    let delivery = state.db.run(move |conn| service::retry(conn, id, delivery_id)).await?;
    Ok(HttpResponse::Accepted().json(WebhookDelivery::from(delivery)))
}
