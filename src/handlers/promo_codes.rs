use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::customers::PageQuery;
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::dto::promo_codes::{
    normalize_code, CodePath, PromoCode, PromoCodeInput, PromoCodePage, PromoCodePatchInput, RedemptionPage,
    ValidateInput, Validation,
};
use crate::error::AppError;
use crate::extract::{Query, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, ServerProblems};
use crate::services::promo_codes as service;
use crate::state::AppState;

fn code_of(path: CodePath) -> Result<String, AppError> {
    normalize_code(&path.code).map_err(AppError::NotFound)
}

/// Create a promo code. Scope: `campaigns:write`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["campaigns:write"])),
    request_body = PromoCodeInput,
    responses(
        (status = 201, description = "Created", body = PromoCode, headers(("Location" = String))),
        (status = 409, description = "The code exists (`existing_id`)", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/promo-codes")]
pub async fn create_promo_code(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    body: ValidJson<PromoCodeInput>,
) -> Result<HttpResponse, AppError> {
    let (code, columns) = body.0.into_parts()?;
    let created = state.db.run(move |conn| service::create(conn, code, columns)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/promo-codes/{}", created.code)))
        .json(PromoCode::from(created)))
}

/// Check a code before payment, applying every rule. Scope: `orders:read`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["orders:read"])),
    request_body = ValidateInput,
    responses((status = 200, description = "Whether it applies and its discount", body = Validation), BodyProblems, AuthProblems, ServerProblems),
)]
#[post("/promo-codes/validate")]
pub async fn validate_promo_code(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    body: ValidJson<ValidateInput>,
) -> Result<web::Json<Validation>, AppError> {
    let (code, subtotal, currency, customer) = body.0.parse()?;
    let outcome = state.db.run(move |conn| service::validate(conn, &code, subtotal, &currency, customer)).await?;
    Ok(web::Json(match outcome {
        Ok(amount) => Validation { valid: true, reason: None, discount_amount: amount },
        Err(reason) => Validation { valid: false, reason: Some(reason.to_string()), discount_amount: 0 },
    }))
}

/// One code. Scope: `orders:read`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["orders:read"])),
    params(CodePath),
    responses(
        (status = 200, description = "The code", body = PromoCode),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/promo-codes/{code}")]
pub async fn get_promo_code(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    path: web::Path<CodePath>,
) -> Result<web::Json<PromoCode>, AppError> {
    let code = code_of(path.into_inner())?;
    Ok(web::Json(state.db.run(move |conn| service::get(conn, &code)).await?.into()))
}

/// Change a code's limits, window or activity (merge patch). Scope: `campaigns:write`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["campaigns:write"])),
    params(CodePath),
    request_body(content = PromoCodePatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The code", body = PromoCode),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/promo-codes/{code}")]
pub async fn patch_promo_code(
    _auth: Authorized<scopes::CampaignsWrite>,
    state: web::Data<AppState>,
    path: web::Path<CodePath>,
    body: ValidJson<PromoCodePatchInput>,
) -> Result<web::Json<PromoCode>, AppError> {
    let code = code_of(path.into_inner())?;
    let patch = body.0.into_patch()?;
    Ok(web::Json(state.db.run(move |conn| service::patch(conn, &code, patch)).await?.into()))
}

/// All codes, newest first. Scope: `orders:read`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["orders:read"])),
    params(PageQuery),
    responses((status = 200, description = "One page of codes", body = PromoCodePage), AuthProblems, ServerProblems),
)]
#[get("/promo-codes")]
pub async fn list_promo_codes(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<PromoCodePage>, AppError> {
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |c| vec![c.id]);
    Ok(web::Json(PromoCodePage { items, next_cursor }))
}

/// The orders that redeemed a code, newest first. Scope: `orders:read`.
#[utoipa::path(
    tag = "promo codes",
    security(("bearer" = ["orders:read"])),
    params(CodePath, PageQuery),
    responses(
        (status = 200, description = "One page of redemptions", body = RedemptionPage),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/promo-codes/{code}/redemptions")]
pub async fn list_redemptions(
    _auth: Authorized<scopes::OrdersRead>,
    state: web::Data<AppState>,
    path: web::Path<CodePath>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<RedemptionPage>, AppError> {
    let code = code_of(path.into_inner())?;
    let before = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::redemptions(conn, &code, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |r| vec![r.id]);
    Ok(web::Json(RedemptionPage { items, next_cursor }))
}
