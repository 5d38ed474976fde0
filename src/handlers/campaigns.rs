use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::domain::ResponseKind;
use crate::dto::campaigns::CampaignPreviewInput;
use crate::dto::campaigns::{
    Campaign, CampaignInput, CampaignListQuery, CampaignPage, CampaignPatchInput, CampaignReport, ClickQuery,
    ContactListQuery, ContactPage, ResponsesInput, ResponsesOutcome, SendInput, SendOutcome,
};
use crate::dto::flows::MessagePreview;
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::campaigns as service;
use crate::state::AppState;

/// Render the campaign's subject and content for one customer, as they would read it
/// (a unique code shows as `PREFIX-PREVIEW`; links are not tracked). Nothing is sent or
/// recorded. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body = CampaignPreviewInput,
    responses(
        (status = 200, description = "The rendered message", body = MessagePreview),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/campaigns/{id}/preview")]
pub async fn preview_campaign(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<CampaignPreviewInput>,
) -> Result<web::Json<MessagePreview>, AppError> {
    let (id, customer_id, config) = (id.into_inner(), body.0.customer_id, state.config.clone());
    let preview = state.db.run(move |conn| service::preview(conn, &config, id, customer_id)).await?;
    Ok(web::Json(preview.into()))
}

/// Create a draft campaign: who (a segment or rules), on which channel, with which offer,
/// message, promotion, frequency cap, exclusions and holdout share. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:write"])),
    request_body = CampaignInput,
    responses(
        (status = 201, description = "Created as `draft`", body = Campaign, headers(("Location" = String))),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/campaigns")]
pub async fn create_campaign(
    auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    body: ValidJson<CampaignInput>,
) -> Result<HttpResponse, AppError> {
    let spec = body.0.into_spec()?;
    let config = state.config.clone();
    let actor = auth.caller.sub;
    let view = state.db.run(move |conn| service::create(conn, &config, spec, &actor)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/campaigns/{}", view.row.id)))
        .json(Campaign::from(view)))
}

/// All campaigns, newest first; `with_report=true` adds each one's report for
/// side-by-side comparison. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:read"])),
    params(CampaignListQuery),
    responses((status = 200, description = "One page of campaigns", body = CampaignPage), AuthProblems, ServerProblems),
)]
#[get("/campaigns")]
pub async fn list_campaigns(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    query: Query<CampaignListQuery>,
    page: Page,
) -> Result<web::Json<CampaignPage>, AppError> {
    let before = page.after_id()?;
    let with_report = query.with_report.unwrap_or(false);
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before, fetch, with_report)).await?;
    let (items, next_cursor) = page.answer(rows, |c| vec![c.row.id]);
    Ok(web::Json(CampaignPage { items, next_cursor }))
}

/// One campaign, with its launch counts and its mail in the outbox. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The campaign", body = Campaign),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/campaigns/{id}")]
pub async fn get_campaign(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Campaign>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get(conn, id)).await?.into()))
}

/// Change a draft (JSON Merge Patch of the fields of `POST /v1/campaigns`). A launched
/// campaign cannot change (409). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body(content = Object, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The campaign", body = Campaign),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already launched", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/campaigns/{id}")]
pub async fn patch_campaign(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: ValidJson<CampaignPatchInput>,
) -> Result<web::Json<Campaign>, AppError> {
    let (id, patch, config) = (id.into_inner(), body.0, state.config.clone());
    let campaign = state
        .db
        .run(move |conn| service::update(conn, &config, id, |current, code| patch.apply_to(current, code)))
        .await?;
    Ok(web::Json(campaign.into()))
}

/// Launch: in one transaction, the segment's customers whose consent for the channel is
/// `subscribed`, minus suppressed, unreachable, excluded and over-cap customers; a random
/// holdout share is recorded and not contacted; every other one becomes a contact with a
/// tracking token, an unsubscribe URL and (with `unique_codes`) a single-use code. The
/// response's `audience` has each count. A second launch is a 409. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "Launched", body = Campaign),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already launched", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/campaigns/{id}/launch")]
pub async fn launch_campaign(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<Campaign>, AppError> {
    let id = id.into_inner();
    let keys = state.keys.clone();
    Ok(web::Json(state.db.run(move |conn| service::launch(conn, &keys, id)).await?.into()))
}

/// The contacts, with what delivery needs: name, the channel's email / phone / address,
/// rendered subject and content (links tracked), promo code, tracking token, unsubscribe
/// URL. `holdout=true` lists the control group instead. Scope: `campaigns:read`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id"), ContactListQuery),
    responses(
        (status = 200, description = "One page of contacts", body = ContactPage),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The template fails for a customer of this page (say which)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/campaigns/{id}/contacts")]
pub async fn list_contacts(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<ContactListQuery>,
    page: Page,
) -> Result<web::Json<ContactPage>, AppError> {
    let id = id.into_inner();
    let after = page.after_id()?.unwrap_or(0);
    let holdout = query.holdout.unwrap_or(false);
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::contacts(conn, &config, &keys, id, holdout, after, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |c| vec![c.contact.id]);
    Ok(web::Json(ContactPage { items, next_cursor }))
}

/// Send an email campaign through the outbox: one mail per contact whose email consent
/// still stands, with `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058), spaced to
/// `rate_per_minute`. Once only (409 after). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body(content = Option<SendInput>, description = "Optional"),
    responses(
        (status = 200, description = "Queued", body = SendOutcome),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not launched, not email, or already sent", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/campaigns/{id}/send")]
pub async fn send_campaign(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<web::Json<SendOutcome>, AppError> {
    let id = id.into_inner();
    let input: SendInput = if body.is_empty() { SendInput::default() } else { crate::extract::parse_json(&body)? };
    validator::Validate::validate(&input)
        .map_err(|errors| AppError::Validation(crate::extract::field_errors(&errors)))?;
    let rate = input.rate_per_minute.unwrap_or(state.config.campaigns.send_rate_per_minute);
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let (queued, skipped) = state.db.run(move |conn| service::send(conn, &config, &keys, id, rate)).await?;
    Ok(web::Json(SendOutcome { queued, skipped }))
}

/// Record responses reported by a delivery service or a person: one object or a list of
/// up to 1,000, each with `token` or `customer_id`. All or nothing. `unsubscribed` and
/// `complained` also record the withdrawal of consent (source `campaign_reply`).
/// Scope: `campaigns:write`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:write"])),
    params(("id" = i64, Path, description = "Campaign id")),
    request_body(content = Object, description = "A response {token | customer_id, type, occurred_at?}, or a list of them",
        example = json!([{"token": "q3V9xY2b8kLmN0pQ4rS6tA", "type": "opened"}, {"customer_id": 42, "type": "unsubscribed"}])),
    responses(
        (status = 200, description = "Recorded", body = ResponsesOutcome),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/campaigns/{id}/responses")]
pub async fn record_responses(
    auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<web::Json<ResponsesOutcome>, AppError> {
    let id = id.into_inner();
    // A list is allowed here, so not `ValidJson` (which takes objects only).
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("the body is not JSON: {e}")))?;
    let (inputs, listed) = ResponsesInput(value).parse()?;
    let actor = auth.caller.sub;
    let (recorded, unsubscribed) = state
        .db
        .run(move |conn| service::record_responses(conn, id, inputs, &actor))
        .await
        .map_err(|error| if listed { error } else { crate::dto::campaigns::unlisted(error) })?;
    Ok(web::Json(ResponsesOutcome { recorded, unsubscribed }))
}

/// What the campaign achieved: audience, contacted and holdout sizes, unique responses
/// and rates per type, conversions of contacted and holdout customers in the attribution
/// window, incremental lift, attributed revenue (net) and promo redemptions.
/// Scope: `campaigns:read`.
#[utoipa::path(
    tag = "campaigns",
    security(("bearer" = ["campaigns:read"])),
    params(("id" = i64, Path, description = "Campaign id")),
    responses(
        (status = 200, description = "The report", body = CampaignReport),
        (status = 404, description = "No such campaign", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/campaigns/{id}/report")]
pub async fn campaign_report(
    _auth: Authorized<scopes::CampaignsRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<CampaignReport>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::report(conn, id)).await?.into()))
}

/// A transparent 1x1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Open tracking: answers a 1x1 GIF and records an open for the contact (unknown tokens
/// get the image too, and nothing is recorded). No JWT.
#[utoipa::path(
    tag = "tracking",
    params(("token" = String, Path, description = "The contact's tracking token")),
    responses((status = 200, description = "A 1x1 GIF", content_type = "image/gif", body = [u8]), ServerProblems),
)]
#[get("/o/{token}")]
pub async fn track_open(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    state.db.run(move |conn| service::track(conn, &token, ResponseKind::Opened, "public:open_pixel")).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/gif")
        .insert_header((header::CACHE_CONTROL, "no-store, max-age=0"))
        .body(PIXEL))
}

/// Click tracking: records a click and redirects to `url`, only when `sig` is rapport's
/// signature of this URL for this contact (no open redirect: anything else is a 400).
/// No JWT.
#[utoipa::path(
    tag = "tracking",
    params(("token" = String, Path, description = "The contact's tracking token"), ClickQuery),
    responses(
        (status = 302, description = "Redirect to the signed URL", headers(("Location" = String))),
        (status = 400, description = "Missing, unsigned or altered URL", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown token", body = Problem, content_type = "application/problem+json"),
        ServerProblems,
    ),
)]
#[get("/c/{token}")]
pub async fn track_click(
    state: web::Data<AppState>,
    token: web::Path<String>,
    query: Query<ClickQuery>,
) -> Result<HttpResponse, AppError> {
    let token = token.into_inner();
    let (Some(url), Some(sig)) = (query.url.clone(), query.sig.clone()) else {
        return Err(AppError::BadRequest("the link needs `url` and `sig`".into()));
    };
    let (keys, target) = (state.keys.clone(), url.clone());
    let known = state.db.run(move |conn| service::track_click(conn, &keys, &token, &target, &sig)).await?;
    if !known {
        return Err(AppError::not_found("this tracking link is not valid"));
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish())
}
