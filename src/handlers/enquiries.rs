use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};

use super::orders::{keyed_request, respond};
use crate::auth::{scopes, Authorized};
use crate::dto::enquiries::{Enquiry, EnquiryInput, EnquiryListQuery, EnquiryPage, EnquiryPatchInput};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::enquiries as service;
use crate::services::idempotency::StoredResponse;
use crate::state::AppState;

/// Record an enquiry from any channel: a phone call, an email, a visit, a message on
/// social media, a letter, or a form the shop typed in.
///
/// The person is `customer_id`, or `contact` (found by email and only its blank fields
/// filled, or created with the channel as its source: a shop's note never overwrites what
/// it knows). The customer, the enquiry and its `enquiry.created` event are written
/// together or not at all. `occurred_at` may be in the past (default now); an enquiry
/// recorded as `resolved` was resolved at `occurred_at`. `follow_up_at` makes it a
/// reminder (see `follow_up_before` on the list). `Idempotency-Key` is honoured: the same
/// key and body replays the 201 with `Idempotent-Replayed: true`; another body is a 422;
/// while the first is running, a 409. Scope: `customers:write`.
#[utoipa::path(
    tag = "enquiries",
    security(("bearer" = ["customers:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 visible ASCII characters",
            max_length = 255, pattern = r"^[\t -~]*[!-~][\t -~]*$")),
    request_body = EnquiryInput,
    responses(
        (status = 201, description = "Recorded (or replayed)", body = Enquiry,
         headers(("Location" = String, description = "URL of the new enquiry"),
                 ("Idempotent-Replayed" = bool, description = "true on a replay"))),
        (status = 409, description = "A request with the same Idempotency-Key is still running",
         body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/enquiries")]
pub async fn create_enquiry(
    auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ValidJson<EnquiryInput>,
) -> Result<HttpResponse, AppError> {
    let canonical = serde_json::to_vec(&body.0).map_err(|e| AppError::internal(e.to_string()))?;
    let draft = body.0.into_draft(state.config.default_country, crate::domain::now())?;
    let keyed = keyed_request(&req, &auth.caller.sub, &canonical)?;
    let render = |row: crate::models::forms::EnquiryRow| {
        let enquiry = Enquiry::from(row);
        Ok(StoredResponse {
            status: 201,
            location: Some(format!("/v1/enquiries/{}", enquiry.id)),
            body: serde_json::to_string(&enquiry).map_err(|e| AppError::internal(e.to_string()))?,
        })
    };
    let actor = auth.caller.sub.clone();
    let answer = state.db.run(move |conn| service::create(conn, draft, &actor, keyed.as_ref(), render)).await?;
    Ok(respond(answer))
}

/// Enquiries from every channel, newest first. `follow_up_before` gives the shop's
/// to-do list: open enquiries (`new`, `in_progress`) whose follow-up falls before it;
/// resolved and spam enquiries are never on it. Scope: `customers:read`.
#[utoipa::path(
    tag = "enquiries",
    security(("bearer" = ["customers:read"])),
    params(EnquiryListQuery),
    responses(
        (status = 200, description = "One page of enquiries", body = EnquiryPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/enquiries")]
pub async fn list_enquiries(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    query: Query<EnquiryListQuery>,
    page: Page,
) -> Result<web::Json<EnquiryPage>, AppError> {
    let query = query.into_inner();
    let filter = query.into_filter(state.config.timezone)?;
    let before_id = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, &filter, before_id, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |e| vec![e.id]);
    Ok(web::Json(EnquiryPage { items, next_cursor }))
}

/// One enquiry. Scope: `customers:read`.
#[utoipa::path(
    tag = "enquiries",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Enquiry id")),
    responses(
        (status = 200, description = "The enquiry", body = Enquiry),
        (status = 404, description = "No such enquiry", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/enquiries/{id}")]
pub async fn get_enquiry(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Enquiry>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// Triage an enquiry: status, assignee, note, follow-up and tags (merge patch: null
/// clears). Becoming `resolved` sets `resolved_at`; any other status clears it. A new
/// `follow_up_at` is a new reminder, announced again when due. Scope: `customers:write`.
#[utoipa::path(
    tag = "enquiries",
    security(("bearer" = ["customers:write"])),
    params(("id" = i64, Path, description = "Enquiry id")),
    request_body(content = EnquiryPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The enquiry", body = Enquiry),
        (status = 404, description = "No such enquiry", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/enquiries/{id}")]
pub async fn patch_enquiry(
    _auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<EnquiryPatchInput>,
) -> Result<web::Json<Enquiry>, AppError> {
    let id = id.into_inner();
    let change = body.0.into_change()?;
    Ok(web::Json(state.db.run(move |conn| service::update(conn, id, change)).await?.into()))
}
