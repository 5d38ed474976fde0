//! The shop's own forms: definitions (scope `admin`), public submissions and the embed
//! (`forms:submit`), personal links and their page (the link's token), answers the shop
//! records, the report, and a customer's attribute history.

use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse, ResponseError};

use crate::auth::{scopes, Authorized};
use crate::domain::form_page::{self, PostWith};
use crate::dto::customers::PageQuery;
use crate::dto::form_definitions::{
    answered_at, honeypot_filled, AttributeHistoryEntry, AttributeHistoryPage, AttributeHistoryQuery, CustomerFormPath,
    FormDefinitionInput, FormDefinitionOut, FormDefinitionPage, FormDefinitionPatchInput, FormLinkOut, FormPath,
    FormSubmissionInput, FormSubmissionOut, FormSubmissionPage, LinkSubmissionInput, ShopAnswersInput,
};
use crate::dto::forms::{Accepted, LinkQuery};
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::{ClientInfo, Query, ValidJson};
use crate::models::form_definitions::{FormDefinitionRow, FormSubmissionRow};
use crate::openapi::{AuthProblems, BodyProblems, PublicProblems, ServerProblems};
use crate::services::form_definitions::{self as service, Respondent, Submission};
use crate::state::AppState;

fn out(row: &FormDefinitionRow) -> Result<FormDefinitionOut, AppError> {
    Ok(FormDefinitionOut::new(row, service::parse_row(row)?))
}

/// Define a form with the shop's own questions. Scope: `admin`.
///
/// `purpose` says what a submission creates: `contact` an enquiry (the form needs an
/// `email` field mapped to `email` and a `message` field), `subscribe` the consent of the
/// ticked channels (double opt-in when enabled), `questionnaire` answers mapped onto the
/// profile and an optional reward, once per customer.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["admin"])),
    request_body = FormDefinitionInput,
    responses(
        (status = 201, description = "Created", body = FormDefinitionOut, headers(("Location" = String))),
        (status = 409, description = "A form with this key exists", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/v1/forms")]
pub async fn create_form(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    body: ValidJson<FormDefinitionInput>,
) -> Result<HttpResponse, AppError> {
    let definition = body.0.into_definition()?;
    let row = state.db.run(move |conn| service::create(conn, definition)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/v1/forms/{}", row.form_key)))
        .json(out(&row)?))
}

/// Every form, newest first. Scope: `admin`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["admin"])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of forms", body = FormDefinitionPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/v1/forms")]
pub async fn list_forms(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<FormDefinitionPage>, AppError> {
    let before_id = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, before_id, fetch)).await?;
    let (rows, next_cursor) = page.answer::<_, FormDefinitionRow>(rows, |r| vec![r.id]);
    let items = rows.iter().map(out).collect::<Result<_, _>>()?;
    Ok(web::Json(FormDefinitionPage { items, next_cursor }))
}

/// One form. Scope: `admin`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["admin"])),
    params(FormPath),
    responses(
        (status = 200, description = "The form", body = FormDefinitionOut),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/v1/forms/{key}")]
pub async fn get_form(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
) -> Result<web::Json<FormDefinitionOut>, AppError> {
    let key = path.into_inner().key;
    let row = state.db.run(move |conn| service::get(conn, &key)).await?;
    Ok(web::Json(out(&row)?))
}

/// Change a form's title, fields, consent wording or reward (merge patch). Answers already
/// given keep the names they had. Scope: `admin`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["admin"])),
    params(FormPath),
    request_body(content = FormDefinitionPatchInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The form", body = FormDefinitionOut),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[patch("/v1/forms/{key}")]
pub async fn patch_form(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
    body: ValidJson<FormDefinitionPatchInput>,
) -> Result<web::Json<FormDefinitionOut>, AppError> {
    let key = path.into_inner().key;
    let change = body.0.into_change()?;
    let row = state.db.run(move |conn| service::update(conn, &key, |d| change.apply(d))).await?;
    Ok(web::Json(out(&row)?))
}

/// Delete a form with its links and submissions (reward codes already issued stay valid).
/// Scope: `admin`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["admin"])),
    params(FormPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[delete("/v1/forms/{key}")]
pub async fn delete_form(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
) -> Result<HttpResponse, AppError> {
    let key = path.into_inner().key;
    state.db.run(move |conn| service::delete(conn, &key)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How a form did: personal links sent and opened, completions, the response rate, the
/// answers per question and the rewards issued and redeemed. Scope: `customers:read`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["customers:read"])),
    params(FormPath),
    responses(
        (status = 200, description = "The report", body = crate::domain::form_definitions::FormReport),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/v1/forms/{key}/report")]
pub async fn form_report(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
) -> Result<web::Json<crate::domain::form_definitions::FormReport>, AppError> {
    let key = path.into_inner().key;
    Ok(web::Json(state.db.run(move |conn| service::report(conn, &key)).await?))
}

/// A form's submissions, newest first, with their rewards. Scope: `customers:read`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["customers:read"])),
    params(FormPath, PageQuery),
    responses(
        (status = 200, description = "One page of submissions", body = FormSubmissionPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/v1/forms/{key}/submissions")]
pub async fn list_submissions(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<FormSubmissionPage>, AppError> {
    let key = path.into_inner().key;
    let before_id = page.after_id()?;
    let fetch = page.fetch();
    let (rows, codes) = state.db.run(move |conn| service::submissions(conn, &key, before_id, fetch)).await?;
    let (rows, next_cursor) = page.answer::<_, FormSubmissionRow>(rows, |r| vec![r.id]);
    let items = rows.into_iter().map(|r| FormSubmissionOut::new(r, &codes)).collect();
    Ok(web::Json(FormSubmissionPage { items, next_cursor }))
}

/// Answer one of the shop's forms from a website.
///
/// The answers are checked against the form (422 naming `answers.<field>`). A contact form
/// creates an enquiry, a subscribe form asks consent, a questionnaire puts the answers on
/// the profile and gives its reward. The customer is matched by the email answered (blanks
/// filled only: a public form never overwrites what the shop knows); without an email the
/// answers stay anonymous. Same answer whether the email was known or not; a filled
/// `website` honeypot is answered the same and kept as spam without its content. Scope:
/// `forms:submit`. Body limit 16 KiB; per-IP rate limit with `RateLimit-*` headers.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["forms:submit"])),
    params(FormPath),
    request_body = FormSubmissionInput,
    responses(
        (status = 202, description = "Accepted", body = Accepted,
         headers(("RateLimit-Limit" = u32), ("RateLimit-Remaining" = u32), ("RateLimit-Reset" = u64))),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        PublicProblems, BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/{key}/submissions")]
pub async fn submit_form(
    _auth: Authorized<scopes::FormsSubmit>,
    state: web::Data<AppState>,
    client: ClientInfo,
    path: web::Path<FormPath>,
    body: ValidJson<FormSubmissionInput>,
) -> Result<HttpResponse, AppError> {
    let key = path.into_inner().key;
    let body = body.0;
    let submission = answered_now(body.answers, body.consent, &body.website, Respondent::Public, client);
    let config = state.config.clone();
    state.db.run(move |conn| service::submit(conn, &config, &key, submission)).await?;
    Ok(HttpResponse::Accepted().json(Accepted::new()))
}

/// A submission from a browser, answered now (the public form and a personal link's page).
fn answered_now(
    answers: serde_json::Map<String, serde_json::Value>,
    consent: Vec<crate::domain::ConsentChannel>,
    website: &Option<String>,
    respondent: Respondent,
    client: crate::domain::forms::ClientInfo,
) -> Submission {
    Submission {
        honeypot_filled: honeypot_filled(website),
        answers,
        consent,
        answered_at: crate::domain::now(),
        respondent,
        client,
    }
}

/// The bearer token of the request (already verified by `Authorized`).
fn bearer(req: &HttpRequest) -> String {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The form as HTML to paste into the shop's site: labelled inputs, the consent boxes,
/// the honeypot, and a small inline script posting to `/v1/forms/{key}/submissions` with
/// the `forms:submit` token this request was made with. No external assets. Scope:
/// `forms:submit`, and only it: a token with any other scope (even `admin`) is refused
/// (403), as it would end up in a public page.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["forms:submit"])),
    params(FormPath),
    responses(
        (status = 200, description = "An HTML fragment", content_type = "text/html", body = String),
        (status = 404, description = "No such form", body = Problem, content_type = "application/problem+json"),
        PublicProblems, AuthProblems, ServerProblems,
    ),
)]
#[get("/{key}/embed")]
pub async fn embed_form(
    auth: Authorized<scopes::FormsSubmit>,
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
) -> Result<HttpResponse, AppError> {
    // The page will hold the token: only one that can do nothing but submit forms.
    if !auth.caller.has_only(crate::auth::Scope::FormsSubmit) {
        return Err(AppError::Forbidden(
            "the embed holds the token it was fetched with: use a token whose only scope is `forms:submit`".into(),
        ));
    }
    let key = path.into_inner().key;
    let token = bearer(&req);
    let lookup = key.clone();
    let definition = state.db.run(move |conn| service::definition(conn, &lookup)).await?;
    let url = format!("{}/v1/forms/{key}/submissions", state.config.mail.public_url);
    let html = form_page::render(&definition, &url, PostWith::Bearer(&token), false).map_err(AppError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// The page a personal link opens: the form, to be answered once. Marks the link opened.
/// An unknown, used or expired link answers a page saying so (404, 409, 410). No JWT.
#[utoipa::path(
    tag = "public links",
    params(FormPath, LinkQuery),
    responses(
        (status = 200, description = "The form as an HTML page", content_type = "text/html", body = String),
        (status = 404, description = "Unknown form or link", content_type = "text/html", body = String),
        (status = 409, description = "The link was already used", content_type = "text/html", body = String),
        (status = 410, description = "The link has expired", content_type = "text/html", body = String),
        PublicProblems, ServerProblems,
    ),
)]
#[get("/forms/{key}")]
pub async fn link_page(
    state: web::Data<AppState>,
    path: web::Path<FormPath>,
    query: Query<LinkQuery>,
) -> Result<HttpResponse, AppError> {
    let key = path.into_inner().key;
    let token = query.token.clone().unwrap_or_default();
    let (lookup, link_token) = (key.clone(), token.clone());
    let opened = state.db.run(move |conn| service::open_link(conn, &lookup, &link_token)).await;
    let page = |status: StatusCode, body: String| {
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .body(body)
    };
    match opened {
        Ok(definition) => {
            let url = format!("{}/v1/public/forms/{key}", state.config.mail.public_url);
            let html =
                form_page::render(&definition, &url, PostWith::LinkToken(&token), true).map_err(AppError::Internal)?;
            Ok(page(StatusCode::OK, html))
        }
        Err(error @ (AppError::NotFound(_) | AppError::Conflict { .. } | AppError::Gone(_))) => {
            let text = super::public::escape(&error.to_string());
            let body = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>This link</title></head>\
                 <body><main><p>{text}</p></main></body></html>"
            );
            Ok(page(error.status_code(), body))
        }
        Err(error) => Err(error),
    }
}

/// Answers given through a personal link (what the link's page posts). The answers
/// replace the profile fields they map to, unless a value observed later was recorded.
/// Unknown link 404, used 409, expired 410. No JWT: the link's token.
#[utoipa::path(
    tag = "public links",
    params(FormPath),
    request_body = LinkSubmissionInput,
    responses(
        (status = 202, description = "Accepted", body = Accepted),
        (status = 404, description = "Unknown form or link", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The link was already used", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The link has expired", body = Problem, content_type = "application/problem+json"),
        PublicProblems, BodyProblems, ServerProblems,
    ),
)]
#[post("/forms/{key}")]
pub async fn submit_through_link(
    state: web::Data<AppState>,
    client: ClientInfo,
    path: web::Path<FormPath>,
    body: ValidJson<LinkSubmissionInput>,
) -> Result<HttpResponse, AppError> {
    let key = path.into_inner().key;
    let body = body.0;
    let respondent = Respondent::Link { token: body.token };
    let submission = answered_now(body.answers, body.consent, &body.website, respondent, client);
    let config = state.config.clone();
    state.db.run(move |conn| service::submit(conn, &config, &key, submission)).await?;
    Ok(HttpResponse::Accepted().json(Accepted::new()))
}

/// A personal link for this customer to answer a form: single use, valid 30 days. Put
/// its `url` in a message. Scope: `customers:write`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["customers:write"])),
    params(CustomerFormPath),
    responses(
        (status = 200, description = "A new link", body = FormLinkOut),
        (status = 404, description = "No such customer or form", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/forms/{key}/link")]
pub async fn customer_form_link(
    _auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    path: web::Path<CustomerFormPath>,
) -> Result<web::Json<FormLinkOut>, AppError> {
    let CustomerFormPath { id, key } = path.into_inner();
    let config = state.config.clone();
    let link = state.db.run(move |conn| service::new_link(conn, &config, id, &key)).await?;
    Ok(web::Json(FormLinkOut { url: link.url, token: link.token, expires_at: link.expires_at.and_utc() }))
}

/// Record answers the shop collected itself (on paper, at the stall, by phone), with the
/// time they were given. They replace the profile fields they map to unless a value
/// observed later was recorded; a questionnaire's reward is given as for any completion.
/// Scope: `customers:write`.
#[utoipa::path(
    tag = "forms",
    security(("bearer" = ["customers:write"])),
    params(CustomerFormPath),
    request_body = ShopAnswersInput,
    responses(
        (status = 201, description = "Recorded", body = FormSubmissionOut),
        (status = 404, description = "No such customer or form", body = Problem, content_type = "application/problem+json"),
        BodyProblems, AuthProblems, ServerProblems,
    ),
)]
#[post("/customers/{id}/forms/{key}/answers")]
pub async fn record_answers(
    auth: Authorized<scopes::CustomersWrite>,
    state: web::Data<AppState>,
    path: web::Path<CustomerFormPath>,
    body: ValidJson<ShopAnswersInput>,
) -> Result<HttpResponse, AppError> {
    let CustomerFormPath { id, key } = path.into_inner();
    let body = body.0;
    let submission = Submission {
        honeypot_filled: false,
        answers: body.answers,
        consent: Vec::new(),
        answered_at: answered_at(body.answered_at)?,
        respondent: Respondent::Shop { customer_id: id, actor: auth.caller.sub },
        client: Default::default(),
    };
    let config = state.config.clone();
    let lookup = key.clone();
    let submitted = state.db.run(move |conn| service::submit(conn, &config, &lookup, submission)).await?;
    let codes = match submitted.reward_code.clone() {
        Some((id, code)) => std::collections::BTreeMap::from([(id, code)]),
        None => Default::default(),
    };
    Ok(HttpResponse::Created().json(FormSubmissionOut::new(submitted.submission, &codes)))
}

/// Where each value of the customer's profile came from, newest first: every value given
/// by a questionnaire, a form, an import, the API or a checkout, with when and by whom,
/// and whether it was applied. Scope: `customers:read`.
#[utoipa::path(
    tag = "customers",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), AttributeHistoryQuery),
    responses(
        (status = 200, description = "One page of the history", body = AttributeHistoryPage),
        (status = 400, description = "Invalid query parameter or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/attributes/history")]
pub async fn attribute_history(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: Query<AttributeHistoryQuery>,
    page: Page,
) -> Result<web::Json<AttributeHistoryPage>, AppError> {
    let id = id.into_inner();
    let field = query.into_inner().field;
    if field.as_ref().is_some_and(|f| f.chars().count() > 200) {
        return Err(AppError::BadRequest("`field` is at most 200 characters".into()));
    }
    let before_id = page.after_id()?;
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::history(conn, id, field.as_deref(), before_id, fetch)).await?;
    let (items, next_cursor) = page.answer::<_, AttributeHistoryEntry>(rows, |r| vec![r.id]);
    Ok(web::Json(AttributeHistoryPage { items, next_cursor }))
}
