use actix_web::{delete, get, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::customers::PageQuery;
use crate::dto::pagination::Page;
use crate::dto::privacy::{PersonalDataExport, TimelinePage};
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::privacy as service;
use crate::state::AppState;

/// Everything that happened to a customer, newest first: consent events, enquiries (at
/// when they occurred) and their follow-ups once due (`follow_up`, at `follow_up_at`),
/// merges, orders, campaign and flow contacts, referrals. Scope: `customers:read`.
#[utoipa::path(
    tag = "privacy",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "One page of the timeline", body = TimelinePage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/timeline")]
pub async fn timeline(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<TimelinePage>, AppError> {
    let id = id.into_inner();
    let before = page.after_time_key(3)?.map(|(at, key)| (at, key[0] as i32, key[1]));
    let fetch = page.fetch();
    let entries = state.db.run(move |conn| service::timeline(conn, id, before, fetch)).await?;
    let (items, next_cursor) = page.answer(entries, |entry| {
        let (at, kind, id) = entry.key();
        vec![at.and_utc().timestamp_micros(), kind as i64, id]
    });
    Ok(web::Json(TimelinePage { items, next_cursor }))
}

/// Everything held about the person, as one JSON document (GDPR articles 15 and 20).
/// Scope: `customers:read`.
#[utoipa::path(
    tag = "privacy",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Profile, consent ledger, enquiries, messages, merges and timeline", body = PersonalDataExport),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/export")]
pub async fn export(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let data = state.db.run(move |conn| service::export(conn, id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Disposition", format!("attachment; filename=\"customer-{id}.json\"")))
        .json(PersonalDataExport::from(data)))
}

/// Erase a customer (GDPR article 17), in one transaction.
///
/// Personal data is removed from the customer, enquiries, messages and consent events;
/// rows that statistics need stay, attached to an anonymous placeholder. A keyed hash of
/// the email and phone goes to a suppression list, so an import or a checkout can never
/// silently recreate marketing consent (a form filled in by the person still can). The
/// erasure is recorded (when, by whom). The id then answers 404. Scope: `admin`.
#[utoipa::path(
    tag = "privacy",
    security(("bearer" = ["admin"])),
    params(("id" = i64, Path, description = "Customer id")),
    responses(
        (status = 204, description = "Erased"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/customers/{id}")]
pub async fn erase(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (keys, actor) = (state.keys.clone(), auth.caller.sub);
    state.db.run(move |conn| service::erase(conn, &keys, id, &actor)).await?;
    Ok(HttpResponse::NoContent().finish())
}
