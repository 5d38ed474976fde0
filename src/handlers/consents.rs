use actix_web::{get, put, web};

use crate::auth::{scopes, Authorized};
use crate::dto::consents::{ChannelConsent, ConsentEventPage, ConsentInput, ConsentPath, CustomerConsents};
use crate::dto::customers::PageQuery;
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::consents as service;
use crate::state::AppState;

/// Current consent of a customer on every channel. Scope: `customers:read`.
#[utoipa::path(
    tag = "consents",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Email, sms, phone and post", body = CustomerConsents),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/consents")]
pub async fn get_consents(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<CustomerConsents>, AppError> {
    let id = id.into_inner();
    let rows = state.db.run(move |conn| service::current(conn, id)).await?;
    Ok(web::Json(CustomerConsents::from_rows(id, &rows)))
}

/// Record a consent change on one channel.
///
/// Appends an immutable event to the ledger (who, when, where, with which wording) and
/// answers the channel's current state: the event with the latest `occurred_at`, so a
/// back-filled older event never overrides a newer one. Scope: `consents:write`.
#[utoipa::path(
    tag = "consents",
    security(("bearer" = ["consents:write"])),
    params(ConsentPath),
    request_body = ConsentInput,
    responses(
        (status = 200, description = "The channel's current state after the change", body = ChannelConsent),
        (status = 404, description = "No such customer or channel", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[put("/customers/{id}/consents/{channel}")]
pub async fn put_consent(
    auth: Authorized<scopes::ConsentsWrite>,
    state: web::Data<AppState>,
    path: web::Path<ConsentPath>,
    body: ValidJson<ConsentInput>,
) -> Result<web::Json<ChannelConsent>, AppError> {
    let ConsentPath { id, channel } = path.into_inner();
    let change = body.0.into_change(channel)?;
    let actor = auth.caller.sub;
    let keys = state.keys.clone();
    let rows = state.db.run(move |conn| service::record(conn, &keys, id, change, &actor)).await?;
    let current = CustomerConsents::from_rows(id, &rows).channels.into_iter().find(|c| c.channel == channel);
    Ok(web::Json(current.expect("every channel is listed")))
}

/// The consent ledger of a customer, newest first. Scope: `customers:read`.
#[utoipa::path(
    tag = "consents",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "One page of events, by occurrence then record, newest first", body = ConsentEventPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/consents/history")]
pub async fn consent_history(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<ConsentEventPage>, AppError> {
    let id = id.into_inner();
    let before = page.after_time_key(2)?.map(|(occurred_at, key)| (occurred_at, key[0]));
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::history(conn, id, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |e| vec![e.occurred_at.and_utc().timestamp_micros(), e.id]);
    Ok(web::Json(ConsentEventPage { items, next_cursor }))
}

/// A new unsubscribe link for a customer and channel, for an email service to embed.
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "consents",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), crate::dto::forms::UnsubscribeUrlQuery),
    responses(
        (status = 200, description = "The link", body = crate::dto::forms::UnsubscribeUrl),
        (status = 400, description = "Missing or unknown channel", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/unsubscribe-url")]
pub async fn unsubscribe_url(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<crate::dto::forms::UnsubscribeUrlQuery>,
) -> Result<web::Json<crate::dto::forms::UnsubscribeUrl>, AppError> {
    let (id, channel) = (id.into_inner(), query.channel);
    let config = state.config.clone();
    let url = state.db.run(move |conn| crate::services::forms::new_unsubscribe_url(conn, &config, id, channel)).await?;
    Ok(web::Json(crate::dto::forms::UnsubscribeUrl { url }))
}
