use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::flows::{
    Flow, FlowContact, FlowContactPage, FlowContactsQuery, FlowInput, FlowListQuery, FlowPage, FlowPatchInput,
    FlowReport, FlowTemplateList, MessagePreview, PreviewInput,
};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::flows as service;
use crate::state::AppState;

/// Create a draft flow: a trigger, entry and exit rules, steps, channel, holdout share,
/// re-entry policy and quiet hours; or start from a ready-made one with `from_template`
/// and override any field. Templates and rules are checked now (422 naming the step and
/// line). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:write"])),
    request_body = FlowInput,
    responses(
        (status = 201, description = "Created as `draft`", body = Flow, headers(("Location" = String))),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/flows")]
pub async fn create_flow(
    auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    body: ValidJson<FlowInput>,
) -> Result<HttpResponse, AppError> {
    let draft = body.0.into_draft()?;
    let actor = auth.caller.sub;
    let view = state
        .db
        .run(move |conn| service::create(conn, draft.name, draft.definition, draft.template_key, &actor))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/flows/{}", view.row.id)))
        .json(Flow::from(view)))
}

/// All flows, newest first. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    params(FlowListQuery),
    responses((status = 200, description = "One page of flows", body = FlowPage), AuthProblems, ServerProblems),
)]
#[get("/flows")]
pub async fn list_flows(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    _query: Query<FlowListQuery>,
    page: Page,
) -> Result<web::Json<FlowPage>, AppError> {
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |f| vec![f.row.id]);
    Ok(web::Json(FlowPage { items, next_cursor }))
}

/// One flow. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Flow id")),
    responses(
        (status = 200, description = "The flow", body = Flow),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/flows/{id}")]
pub async fn get_flow(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Flow>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// Change a draft or paused flow (JSON Merge Patch of the fields of `POST /v1/flows`).
/// It becomes a new version: customers already in the flow finish on the version they
/// entered with; new entrants take the new one. An active flow is a 409: pause it first.
/// Scope: `campaigns:write`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Flow id")),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The flow", body = Flow),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The flow is active", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/flows/{id}")]
pub async fn patch_flow(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<FlowPatchInput>,
) -> Result<web::Json<Flow>, AppError> {
    let (id, patch) = (id.into_inner(), body.0);
    let flow = state.db.run(move |conn| service::update(conn, id, |current| patch.apply_to(current))).await?;
    Ok(web::Json(flow.into()))
}

/// Delete a draft. A flow that was activated keeps its record and report: pause it (409).
/// Scope: `campaigns:write`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Flow id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/flows/{id}")]
pub async fn delete_flow(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    state.db.run(move |conn| service::delete(conn, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Activate (or resume) a flow: events from now on and the next scheduled scans enrol
/// customers, and due steps run. 409 when already active. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Flow id")),
    responses(
        (status = 200, description = "The flow, `active`", body = Flow),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already active", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/flows/{id}/activate")]
pub async fn activate_flow(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Flow>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::activate(conn, id)).await?.into()))
}

/// Pause a flow: nobody enters and no step runs; runs wait where they are and go on when
/// the flow is activated again (a step whose moment passed by more than its tolerance is
/// then skipped, not sent late). 409 for a draft or a paused flow. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Flow id")),
    responses(
        (status = 200, description = "The flow, `paused`", body = Flow),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft, or already paused", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/flows/{id}/pause")]
pub async fn pause_flow(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Flow>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::pause(conn, id)).await?.into()))
}

/// The flow's report: entered, active, completed and exited runs (by reason); per step,
/// contacts by outcome (messaged, held back by the cap or consent, holdout, skipped late...)
/// with opens and clicks; conversions and revenue of the messaged group and of the holdout,
/// and the incremental lift with its 95 % confidence interval. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Flow id")),
    responses(
        (status = 200, description = "The report", body = FlowReport),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/flows/{id}/report")]
pub async fn flow_report(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<FlowReport>, AppError> {
    let id = id.into_inner();
    let (report, cost) = state
        .db
        .run(move |conn| Ok::<_, AppError>((service::report(conn, id)?, service::get(conn, id)?.definition.cost)))
        .await?;
    Ok(web::Json(FlowReport::new(id, report, cost.as_ref())))
}

/// What the flow's steps did, newest first, with each customer's contact details: the
/// delivery list of an sms, post or phone step is `outcome=listed&step=N`. Scope:
/// `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Flow id"), FlowContactsQuery),
    responses(
        (status = 200, description = "One page of contacts", body = FlowContactPage),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/flows/{id}/contacts")]
pub async fn flow_contacts(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<FlowContactsQuery>,
    page: Page,
) -> Result<web::Json<FlowContactPage>, AppError> {
    let (id, step, outcome) = (id.into_inner(), query.step, query.outcome);
    if let Some(step) = step.filter(|s| !(0..=49).contains(s)) {
        return Err(AppError::BadRequest(format!("`step` is {step}; it must be from 0 to 49")));
    }
    let before = page.after_id()?;
    let fetch = page.fetch();
    let (rows, customers) = state.db.run(move |conn| service::contacts(conn, id, step, outcome, before, fetch)).await?;
    let (rows, next_cursor) = page.answer(rows, |c| vec![c.id]);
    let items = rows.into_iter().map(|row| FlowContact::new(row, &customers)).collect();
    Ok(web::Json(FlowContactPage { items, next_cursor }))
}

/// Render a `send` or `notify_shop` step for one customer: subject, text and HTML as they
/// would go out now. Nothing is sent or recorded. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Flow id")),
    request_body = PreviewInput,
    responses(
        (status = 200, description = "The rendered message", body = MessagePreview),
        (status = 404, description = "No such flow", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/flows/{id}/preview")]
pub async fn preview_flow(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<PreviewInput>,
) -> Result<web::Json<MessagePreview>, AppError> {
    let (id, input) = (id.into_inner(), body.0);
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let preview = state
        .db
        .run(move |conn| service::preview(conn, &config, &keys, id, input.customer_id, input.step as usize))
        .await?;
    Ok(web::Json(preview.into()))
}

/// The ready-made flows (a treatment strategy): welcome series, post-purchase, birthday
/// offer, win-back, referral reward and the unresolved-enquiry alert. Start one with
/// `POST /v1/flows {"from_template": key}`. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "flows",
    security(("bearer" = ["campaigns:read"])),
    responses((status = 200, description = "The templates", body = FlowTemplateList), AuthProblems),
)]
#[get("/flow-templates")]
pub async fn list_flow_templates(_auth: Authorized<scopes::CampaignsRead>) -> web::Json<FlowTemplateList> {
    web::Json(FlowTemplateList::all())
}
