//! Endpoints a person reaches from an emailed link: no JWT, the link's token instead.
//! A GET only shows a page with a button; the POST acts (mail scanners follow links).

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};

use crate::dto::forms::{ConfirmInput, LinkOutcome, LinkQuery};
use crate::error::AppError;
use crate::extract::{parse_json, ClientInfo, Query};
use crate::openapi::{PublicProblems, ServerProblems};
use crate::services::forms as service;
use crate::state::AppState;

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}\
             button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
        ))
}

fn button_page(title: &str, text: &str, action: &str, token: &str, label: &str) -> HttpResponse {
    page(
        title,
        &format!(
            "<p>{text}</p><form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
            escape(token)
        ),
    )
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"))
}

/// The answer once a link did its work: a page for a browser, JSON for a program.
fn done(req: &HttpRequest, status: &str, title: &str, text: &str) -> HttpResponse {
    if wants_html(req) {
        page(title, &format!("<p>{text}</p>"))
    } else {
        HttpResponse::Ok().json(LinkOutcome { status: status.into() })
    }
}

/// The token from the query string, or from a form or JSON body.
fn link_token(req: &HttpRequest, query: &LinkQuery, body: &[u8]) -> Result<String, AppError> {
    if let Some(token) = query.token.as_deref().filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from_body = if content_type.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(body).find(|(key, _)| key == "token").map(|(_, value)| value.into_owned())
    } else if content_type.starts_with("application/json") {
        Some(parse_json::<ConfirmInput>(body)?.token)
    } else {
        None
    };
    from_body
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| AppError::invalid("token", "the link's token is required (query `token`, or a `token` field)"))
}

/// The confirmation page of a double opt-in link: a button that confirms. Confirms nothing by itself.
#[utoipa::path(
    tag = "public links",
    params(LinkQuery),
    responses(
        (status = 200, description = "An HTML page with a confirm button", content_type = "text/html", body = String),
        PublicProblems,
    ),
)]
#[get("/confirm")]
pub async fn confirm_page(query: Query<LinkQuery>) -> HttpResponse {
    let token = query.token.clone().unwrap_or_default();
    button_page(
        "Confirm your subscription",
        "Press the button to confirm that you want to hear from us.",
        "/v1/public/confirm",
        &token,
        "Confirm",
    )
}

/// Confirm a double opt-in: the channels become `subscribed` with `confirmed_opt_in`, and
/// the confirming IP and user agent are recorded. Takes `{"token"}` as JSON, a form field
/// `token`, or `?token=`. Unknown token 404, already used 409, expired 410. No JWT.
#[utoipa::path(
    tag = "public links",
    params(LinkQuery),
    request_body(content = ConfirmInput, description = "JSON, or a form field `token`"),
    responses(
        (status = 200, description = "Confirmed (HTML when the browser asks for it)", body = LinkOutcome),
        (status = 404, description = "Unknown token", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The link was already used", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        (status = 410, description = "The link has expired", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        PublicProblems, ServerProblems,
    ),
)]
#[post("/confirm")]
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    query: Query<LinkQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let token = link_token(&req, &query, &body)?;
    state.db.run(move |conn| service::confirm(conn, &token, &client)).await?;
    Ok(done(&req, "confirmed", "Thank you", "Your subscription is confirmed."))
}

/// The page behind an unsubscribe link: a button that unsubscribes. Changes nothing by itself.
#[utoipa::path(
    tag = "public links",
    params(LinkQuery),
    responses(
        (status = 200, description = "An HTML page with an unsubscribe button", content_type = "text/html", body = String),
        PublicProblems,
    ),
)]
#[get("/unsubscribe")]
pub async fn unsubscribe_page(query: Query<LinkQuery>) -> HttpResponse {
    let token = query.token.clone().unwrap_or_default();
    let action = format!(
        "/v1/public/unsubscribe?token={}",
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    button_page(
        "Unsubscribe",
        "Press the button to stop receiving these messages.",
        &escape(&action),
        &token,
        "Unsubscribe",
    )
}

/// Unsubscribe at once (RFC 8058 one-click: body `List-Unsubscribe=One-Click` as
/// `application/x-www-form-urlencoded` is accepted). Idempotent: a second call answers
/// 200 and records nothing. Unknown token 404. No JWT.
#[utoipa::path(
    tag = "public links",
    params(LinkQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`, or empty"),
    responses(
        (status = 200, description = "Unsubscribed (HTML when the browser asks for it)", body = LinkOutcome),
        (status = 404, description = "Unknown token", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        PublicProblems, ServerProblems,
    ),
)]
#[post("/unsubscribe")]
pub async fn unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    query: Query<LinkQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let token = link_token(&req, &query, &body)?;
    state.db.run(move |conn| service::unsubscribe(conn, &token, &client)).await?;
    Ok(done(&req, "unsubscribed", "Unsubscribed", "You will not receive these messages any more."))
}
