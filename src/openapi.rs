//! The OpenAPI document: generated from the same route list that actix serves.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::dto::problem::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rapport",
        description = "A self-hostable customer database: customers, consent, orders, campaigns and analytics over REST/JSON.\n\n\
Authenticate with `Authorization: Bearer <JWT>` (HS256). Each operation names the scope it needs; `admin` implies every scope. \
Errors are `application/problem+json` (RFC 9457) with a `request_id`. Lists use keyset pagination: pass `next_cursor` back as `cursor`.",
        license(name = "MIT"),
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "customers", description = "Customer records, tags, duplicates and merges"),
        (name = "consents", description = "The consent ledger: every change, and the current state derived from it"),
        (name = "forms", description = "Public contact and newsletter forms, posted from the browser with a `forms:submit` token"),
        (name = "public links", description = "Pages and actions behind emailed links (confirm, unsubscribe): no JWT, the link's token"),
        (name = "enquiries", description = "What people wrote through the contact form, and its triage"),
        (name = "privacy", description = "Timeline, data export and erasure (GDPR articles 15, 17, 20)"),
        (name = "imports", description = "CSV import (background jobs) and export of customers"),
        (name = "products", description = "The catalogue, stock and its movements"),
        (name = "promo codes", description = "Codes, their rules, validation at checkout and redemptions"),
        (name = "orders", description = "Orders from checkouts: idempotent, all-or-nothing, with lifecycle and refunds"),
        (name = "segments", description = "Saved rule trees over who customers are, what they bought and what they agreed to"),
        (name = "campaigns", description = "Campaigns to segments: launch with consent, caps and holdout; delivery lists; sending; responses; reports"),
        (name = "tracking", description = "Open and click tracking links in campaign mail: no JWT, the contact's token"),
        (name = "referrals", description = "Referral codes and the customers they brought"),
        (name = "analytics", description = "Figures for dashboards, per period in a time zone"),
        (name = "reminders", description = "Birthdays coming up and customers slipping away"),
        (name = "messages", description = "The outbox of messages rapport sends"),
        (name = "operations", description = "Health and readiness probes (no authentication)"),
    ),
)]
struct BaseDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        http.description = Some(
            "HS256 JWT with claims sub, exp, iat and scope (space-separated). Make one with `rapport token`.".into(),
        );
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The complete document, as served at `/openapi.json` and printed by `rapport openapi`.
pub fn document() -> OpenApiDoc {
    let (_, doc) = crate::handlers::routes(actix_web::App::new().into_utoipa_app().openapi(BaseDoc::openapi()), &[])
        .split_for_parts();
    doc
}

/// The starting document the route list is added to.
pub fn base() -> OpenApiDoc {
    BaseDoc::openapi()
}

/// Problems any authenticated endpoint can answer.
#[derive(IntoResponses)]
pub enum AuthProblems {
    /// Missing, malformed, expired or forged token (with `WWW-Authenticate: Bearer`).
    #[response(status = 401, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401,
                         "detail": "the token has expired", "request_id": "6f1c0b6a8d2e4f3a"}))]
    Unauthorized(Problem),
    /// The token lacks the scope this operation needs.
    #[response(status = 403, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Forbidden", "status": 403,
                         "detail": "this operation needs the scope `customers:write`", "request_id": "6f1c0b6a8d2e4f3a"}))]
    Forbidden(Problem),
}

/// Problems of endpoints that take a JSON body.
#[derive(IntoResponses)]
pub enum BodyProblems {
    /// Malformed JSON or an empty body.
    #[response(status = 400, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Bad Request", "status": 400,
                         "detail": "malformed JSON: EOF while parsing an object", "request_id": "6f1c0b6a8d2e4f3a"}))]
    BadRequest(Problem),
    /// The body is larger than the limit (1 MiB by default).
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Invalid fields: wrong types, unknown fields, bad values; `errors` lists each.
    #[response(status = 422, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Unprocessable Entity", "status": 422,
                         "detail": "the request has invalid fields", "request_id": "6f1c0b6a8d2e4f3a",
                         "errors": [{"field": "address.country", "message": "`XX` is not an ISO 3166-1 alpha-2 country code"}]}))]
    Unprocessable(Problem),
}

/// Problems any endpoint that reads the database can answer.
#[derive(IntoResponses)]
pub enum ServerProblems {
    /// Unexpected error; logged with the request id, which the body carries.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// The database is unreachable; retry after the `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json",
        example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503,
                         "detail": "the database is unavailable; try again shortly", "request_id": "6f1c0b6a8d2e4f3a"}))]
    Unavailable(Problem),
}

/// Problems of the public endpoints (forms and emailed links).
#[derive(IntoResponses)]
pub enum PublicProblems {
    /// Too many requests from this IP; wait `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json",
        headers(("Retry-After" = u64), ("RateLimit-Limit" = u32), ("RateLimit-Remaining" = u32), ("RateLimit-Reset" = u64)),
        example = json!({"type": "about:blank", "title": "Too Many Requests", "status": 429,
                         "detail": "too many requests from this address; retry in 42 s", "request_id": "6f1c0b6a8d2e4f3a"}))]
    TooManyRequests(Problem),
}

/// The document as committed in `openapi/openapi.json`.
pub fn to_pretty_json(doc: &OpenApiDoc) -> String {
    let mut text = doc.to_pretty_json().expect("the OpenAPI document serializes");
    text.push('\n');
    text
}
