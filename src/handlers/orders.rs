use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::domain::orders::OrderFilter;
use crate::dto::customers::PageQuery;
use crate::dto::orders::{Order, OrderInput, OrderListQuery, OrderPage, RefundInput, StatusInput};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::idempotency::{self, Answer, KeyedRequest, StoredResponse};
use crate::services::orders as service;
use crate::state::AppState;

pub(crate) const REPLAYED: &str = "Idempotent-Replayed";

/// The `Idempotency-Key` header: up to 255 printable ASCII characters (spaces and tabs
/// allowed), at least one visible; surrounding blanks are not part of the key (HTTP drops
/// them anyway).
pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let raw = value.as_bytes();
    let printable = raw.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    let visible = raw.iter().any(|b| b.is_ascii_graphic());
    if !printable || !visible || raw.len() > 255 {
        return Err(AppError::BadRequest("`Idempotency-Key` must be 1 to 255 visible ASCII characters".into()));
    }
    Ok(Some(String::from_utf8_lossy(raw).trim().to_string()))
}

/// The request's key, with who sent it and the fingerprint of what was asked.
pub(crate) fn keyed_request(
    req: &HttpRequest,
    actor: &str,
    canonical_body: &[u8],
) -> Result<Option<KeyedRequest>, AppError> {
    Ok(idempotency_key(req)?.map(|key| KeyedRequest {
        actor: actor.to_string(),
        key,
        request_hash: idempotency::fingerprint(req.method().as_str(), req.path(), canonical_body),
    }))
}

pub(crate) fn respond(answer: Answer) -> HttpResponse {
    let stored = answer.response;
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(stored.status).unwrap_or_default());
    response.content_type("application/json");
    if let Some(location) = stored.location {
        response.insert_header((header::LOCATION, location));
    }
    if answer.replayed {
        response.insert_header((REPLAYED, "true"));
    }
    response.body(stored.body)
}

fn stored_order(status: u16, order: Order, location: bool) -> Result<StoredResponse, AppError> {
    Ok(StoredResponse {
        status,
        location: location.then(|| format!("/v1/orders/{}", order.id)),
        body: serde_json::to_string(&order).map_err(|e| AppError::internal(e.to_string()))?,
    })
}

/// Record an order from a checkout, in one transaction.
///
/// The customer (`{"id"}` or upserted by email, source `checkout`), the order and its
/// lines, stock movements for known tracked SKUs, the promo code's redemption, the
/// consent ticked at checkout and the customer's statistics are written together or not
/// at all. A bad promo code never rejects the order: its `promo_code_status` says why.
/// Retries: send `Idempotency-Key` (required without `external_id`); the same key and
/// body replays the 201 with `Idempotent-Replayed: true`; another body is a 422; while
/// the first is running, a 409. A repeated `external_id` is a 409 naming the order.
/// Scope: `orders:write`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe; required without external_id: 1 to 255 visible ASCII characters",
            max_length = 255, pattern = r"^[\t -~]*[!-~][\t -~]*$")),
    request_body = OrderInput,
    responses(
        (status = 201, description = "Recorded (or replayed)", body = Order,
         headers(("Location" = String), ("Idempotent-Replayed" = bool, description = "true on a replay"))),
        (status = 409, description = "external_id already recorded (`existing_id`), or the same key still in progress",
         body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/orders")]
pub async fn create_order(
    auth: Authorized<scopes::OrdersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<OrderInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.0;
    if idempotency_key(&req)?.is_none() && input.external_id.is_none() {
        return Err(AppError::BadRequest(
            "send an `Idempotency-Key` header (or an `external_id`) so retries cannot double the order".into(),
        ));
    }
    let canonical = serde_json::to_vec(&input).map_err(|e| AppError::internal(e.to_string()))?;
    let draft = input.into_draft(state.config.default_country)?;
    let actor = auth.caller.sub;
    let keyed = keyed_request(&req, &actor, &canonical)?;
    let keys = state.keys.clone();
    let answer = state
        .db
        .run(move |conn| {
            service::create(conn, &keys, draft, &actor, keyed.as_ref(), |order| stored_order(201, order.into(), true))
        })
        .await?;
    Ok(respond(answer))
}

/// One order. Scope: `orders:read`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:read"])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/orders/{id}")]
pub async fn get_order(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Order>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// One page of the orders the filter selects, newest first.
async fn orders_page(state: &AppState, filter: OrderFilter, page: Page) -> Result<OrderPage, AppError> {
    let (before, fetch) = (page.after_id()?, page.fetch());
    let rows = state.db.run(move |conn| service::list(conn, &filter, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |o| vec![o.order.id]);
    Ok(OrderPage { items, next_cursor })
}

/// Orders, newest first, with filters. Scope: `orders:read`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:read"])),
    params(OrderListQuery),
    responses(
        (status = 200, description = "One page of orders", body = OrderPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer (`customer_id`)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/orders")]
pub async fn list_orders(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    query: Query<OrderListQuery>,
    page: Page,
) -> Result<web::Json<OrderPage>, AppError> {
    let filter = query.into_inner().into_filter(state.config.timezone)?;
    Ok(web::Json(orders_page(&state, filter, page).await?))
}

/// A customer's orders, newest first. Scope: `orders:read`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:read"])),
    params(("id" = i64, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "One page of orders", body = OrderPage),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/orders")]
pub async fn customer_orders(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<OrderPage>, AppError> {
    let filter = OrderFilter { customer_id: Some(id.into_inner()), ..Default::default() };
    Ok(web::Json(orders_page(&state, filter, page).await?))
}

/// Move an order along: placed -> paid | cancelled, paid -> fulfilled | cancelled.
/// Cancelling restores tracked stock and gives the promo redemption back. Other
/// transitions are a 409. Scope: `orders:write`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:write"])),
    params(("id" = i64, Path, description = "Order id")),
    request_body = StatusInput,
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Transition not allowed", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/orders/{id}/status")]
pub async fn change_status(
    auth: Authorized<scopes::OrdersWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<StatusInput>,
) -> Result<web::Json<Order>, AppError> {
    let (id, status, actor) = (id.into_inner(), body.0.status, auth.caller.sub);
    Ok(web::Json(state.db.run(move |conn| service::change_status(conn, id, status, &actor)).await?.into()))
}

/// Refund part or all of an order (never more than what is left of its total);
/// `Idempotency-Key` is honoured. Scope: `orders:write`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["orders:write"])),
    params(("id" = i64, Path, description = "Order id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters",
            max_length = 255, pattern = r"^[\t -~]*[!-~][\t -~]*$")),
    request_body = RefundInput,
    responses(
        (status = 201, description = "Refunded: the order with refunded_total and net_total", body = Order),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is cancelled", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/orders/{id}/refunds")]
pub async fn refund_order(
    auth: Authorized<scopes::OrdersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<i64>,
    body: ValidJson<RefundInput>,
) -> Result<HttpResponse, AppError> {
    let canonical = serde_json::to_vec(&body.0).map_err(|e| AppError::internal(e.to_string()))?;
    let request = body.0.parse()?;
    let (id, actor) = (id.into_inner(), auth.caller.sub);
    let keyed = keyed_request(&req, &actor, &canonical)?;
    let answer = state
        .db
        .run(move |conn| {
            service::refund(conn, id, request, &actor, keyed.as_ref(), |order| stored_order(201, order.into(), false))
        })
        .await?;
    Ok(respond(answer))
}
