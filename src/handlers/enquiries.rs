use actix_web::{get, patch, web};

use crate::auth::{scopes, Authorized};
use crate::dto::enquiries::{Enquiry, EnquiryListQuery, EnquiryPage, EnquiryPatchInput};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::enquiries as service;
use crate::state::AppState;

/// Enquiries from the public forms, newest first. Scope: `customers:read`.
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

/// Triage an enquiry: status, assignee, note. Scope: `customers:write`.
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
