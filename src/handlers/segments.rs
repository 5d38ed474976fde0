use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::domain::segment::parse_rules;
use crate::dto::customers::{CustomerPage, PageQuery};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::dto::segments::{Preview, PreviewInput, Segment, SegmentInput, SegmentPage, SegmentPatchInput};
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::segments as service;
use crate::state::AppState;

/// Save a segment: a named rule tree over who customers are, what they bought and what
/// they agreed to. An unknown field, an op that does not fit its field or a bad value is
/// a 422 naming the rule's path. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:write"])),
    request_body = SegmentInput,
    responses(
        (status = 201, description = "Created", body = Segment, headers(("Location" = String))),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/segments")]
pub async fn create_segment(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    body: ValidJson<SegmentInput>,
) -> Result<HttpResponse, AppError> {
    let draft = body.0.into_draft()?;
    let row = state.db.run(move |conn| service::create(conn, draft)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/segments/{}", row.id)))
        .json(Segment::from(row)))
}

/// Count the customers some rules select, and show the newest 20, without saving
/// anything. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:read"])),
    request_body = PreviewInput,
    responses((status = 200, description = "Count and sample", body = Preview), BodyProblems, AuthProblems, ServerProblems),
)]
#[post("/segments/preview")]
pub async fn preview_segment(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    body: ValidJson<PreviewInput>,
) -> Result<web::Json<Preview>, AppError> {
    let rule = parse_rules(&body.0.rules)?;
    let (count, sample) = state.db.run(move |conn| service::preview(conn, &rule)).await?;
    Ok(web::Json(Preview { count, sample: sample.into_iter().map(Into::into).collect() }))
}

/// All segments, newest first. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:read"])),
    params(PageQuery),
    responses((status = 200, description = "One page of segments", body = SegmentPage), AuthProblems, ServerProblems),
)]
#[get("/segments")]
pub async fn list_segments(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<SegmentPage>, AppError> {
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |s| vec![s.id]);
    Ok(web::Json(SegmentPage { items, next_cursor }))
}

/// One segment. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Segment id")),
    responses(
        (status = 200, description = "The segment", body = Segment),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/segments/{id}")]
pub async fn get_segment(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Segment>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// Change a segment's name, description or rules (merge patch). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Segment id")),
    request_body(content = SegmentPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The segment", body = Segment),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/segments/{id}")]
pub async fn patch_segment(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<SegmentPatchInput>,
) -> Result<web::Json<Segment>, AppError> {
    let id = id.into_inner();
    let patch = body.0.into_patch()?;
    Ok(web::Json(state.db.run(move |conn| service::patch(conn, id, patch)).await?.into()))
}

/// Delete a segment. Launched campaigns keep the rules they were built from; a segment
/// a draft campaign uses cannot be deleted (409). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Segment id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft campaign uses it", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/segments/{id}")]
pub async fn delete_segment(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.run(move |conn| service::delete(conn, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The segment's customers now, newest first. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "segments",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Segment id"), PageQuery),
    responses(
        (status = 200, description = "One page of customers", body = CustomerPage),
        (status = 404, description = "No such segment", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/segments/{id}/customers")]
pub async fn segment_customers(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<CustomerPage>, AppError> {
    let id = id.into_inner();
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::members(conn, id, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |c| vec![c.row.id]);
    Ok(web::Json(CustomerPage { items, next_cursor }))
}
