use actix_web::{post, web, HttpResponse};

use crate::auth::{scopes, Authorized};
use crate::dto::forms::{Accepted, ContactForm, SubscribeForm};
use crate::error::AppError;
use crate::extract::{ClientInfo, ValidJson};
use crate::openapi::{AuthProblems, BodyProblems, PublicProblems, ServerProblems};
use crate::services::forms as service;
use crate::state::AppState;

/// A website's contact-us form.
///
/// Upserts the customer by email (fills blanks only, source `contact_form`), stores the
/// enquiry, and records consent if given (double opt-in for email when enabled). The
/// answer is the same whether the email was known or not; a filled `website` honeypot is
/// answered the same and stored as spam. Scope: `forms:submit` (safe to embed in a page).
/// Body limit 16 KiB; per-IP rate limit with `RateLimit-*` headers.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["forms:submit"])),
    request_body = ContactForm,
    responses(
        (status = 202, description = "Accepted", body = Accepted,
         headers(("RateLimit-Limit" = u32), ("RateLimit-Remaining" = u32), ("RateLimit-Reset" = u64))),
        PublicProblems, BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/contact")]
pub async fn contact(
    _auth: Authorized<scopes::FormsSubmit>,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ValidJson<ContactForm>,
) -> Result<HttpResponse, AppError> {
    let submission = body.0.into_submission(state.config.default_country)?;
    let config = state.config.clone();
    state.db.run(move |conn| service::submit_contact(conn, &config, submission, &client)).await?;
    Ok(HttpResponse::Accepted().json(Accepted::new()))
}

/// A website's newsletter sign-up form.
///
/// With double opt-in (`RAPPORT_DOUBLE_OPT_IN`, default on) the channels become `pending`
/// and a confirmation message with a single-use link goes to the outbox; without it they
/// become `subscribed` (`single_opt_in`). Channels already subscribed are left alone. Same
/// answer whether the email was known or not. Scope: `forms:submit`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["forms:submit"])),
    request_body = SubscribeForm,
    responses(
        (status = 202, description = "Accepted", body = Accepted,
         headers(("RateLimit-Limit" = u32), ("RateLimit-Remaining" = u32), ("RateLimit-Reset" = u64))),
        PublicProblems, BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/subscribe")]
pub async fn subscribe(
    _auth: Authorized<scopes::FormsSubmit>,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: ValidJson<SubscribeForm>,
) -> Result<HttpResponse, AppError> {
    let submission = body.0.into_submission()?;
    let config = state.config.clone();
    state.db.run(move |conn| service::submit_subscribe(conn, &config, submission, &client)).await?;
    Ok(HttpResponse::Accepted().json(Accepted::new()))
}
