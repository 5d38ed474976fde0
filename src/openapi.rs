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
        (name = "enquiries", description = "What people asked the shop, on any channel: triage, follow-ups and tags"),
        (name = "privacy", description = "Timeline, data export and erasure (GDPR articles 15, 17, 20)"),
        (name = "imports", description = "CSV import (background jobs) and export of customers"),
        (name = "products", description = "The catalogue, stock and its movements"),
        (name = "recommendations", description = "Purchase profiles (price band, affinities), also-bought products and recommendations"),
        (name = "promo codes", description = "Codes, their rules, validation at checkout and redemptions"),
        (name = "orders", description = "Orders from checkouts: idempotent, all-or-nothing, with lifecycle and refunds"),
        (name = "segments", description = "Saved rule trees over who customers are, what they bought and what they agreed to"),
        (name = "campaigns", description = "Campaigns to segments: launch with consent, caps and holdout; delivery lists; sending; responses; reports"),
        (name = "tracking", description = "Open and click tracking links in campaign mail: no JWT, the contact's token"),
        (name = "referrals", description = "Referral codes and the customers they brought"),
        (name = "analytics", description = "Figures for dashboards, per period in a time zone"),
        (name = "reminders", description = "Birthdays coming up and customers slipping away"),
        (name = "messages", description = "The outbox of messages rapport sends"),
        (name = "flows", description = "Automated flows: triggers, steps, the send gate, holdout and lift; ready-made templates"),
        (name = "events", description = "The event log: every change an integration cares about, in commit order"),
        (name = "webhooks", description = "Endpoints that receive the events, signed (Standard Webhooks), retried, observable"),
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
    let (_, mut doc) =
        crate::handlers::routes(actix_web::App::new().into_utoipa_app().openapi(BaseDoc::openapi()), &[])
            .split_for_parts();
    complete(&mut doc);
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
    /// The database is unreachable or busy with conflicting writes; retry after the `Retry-After` seconds.
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

/// The pattern of query text without a pattern of its own: anything but NUL.
pub const NO_NUL: &str = r"^[^\x00]*$";

/// Adds the problems an operation can answer because of what it takes, so that no
/// operation forgets one: 400 for a query parameter, header or body that does not parse
/// (the detail names it), 404 for a path parameter that names nothing, 401/403 with a
/// security requirement, 413/415/422 with a body, 429 on the rate-limited public scopes,
/// and 500/503 everywhere. Responses an operation declares itself are kept as they are.
pub fn complete(doc: &mut OpenApiDoc) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{SchemaType, Type};
    use utoipa::openapi::{RefOr, Schema};

    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in crate::dto::schema::components() {
        components.schemas.insert(name, schema);
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = path.starts_with("/v1/forms/") || path.starts_with("/v1/public/");
        let probe = path == "/healthz";
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let located = |place: ParameterIn| {
                operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
            };
            let (query, path_parameter, header) =
                (located(ParameterIn::Query), located(ParameterIn::Path), located(ParameterIn::Header));
            let body = operation.request_body.is_some();
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut wanted: Vec<(&str, &str)> = Vec::new();
            if query || header || body {
                wanted.push(("400", "A query parameter, header or body that does not parse; the detail names it."));
            }
            if secured {
                wanted.push(("401", "Missing, malformed, expired or forged token (with `WWW-Authenticate: Bearer`)."));
                wanted.push(("403", "The token lacks the scope this operation needs."));
            }
            if path_parameter {
                wanted.push(("404", "Nothing at this path: no such record, or a path parameter that does not parse (the detail names it)."));
            }
            if body {
                wanted.push(("413", "The body is larger than the limit."));
                wanted.push(("415", "The body is not `application/json`."));
                wanted.push(("422", "Invalid fields: wrong types, unknown fields, bad values; `errors` lists each."));
            }
            if public {
                wanted.push(("429", "Too many requests from this IP; wait `Retry-After` seconds."));
            }
            wanted.push(("500", "Unexpected error; logged with the request id, which the body carries."));
            if !probe {
                wanted.push(("503", "The database is unreachable or busy with conflicting writes; retry after the `Retry-After` seconds."));
            }
            // Text reaches the database: a NUL character is refused (400 naming the parameter).
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter {
                    if parameter.parameter_in == ParameterIn::Query {
                        if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() {
                            let text = schema.schema_type == SchemaType::Type(Type::String);
                            if text
                                && schema.pattern.is_none()
                                && schema.enum_values.is_none()
                                && schema.format.is_none()
                            {
                                schema.pattern = Some(NO_NUL.to_string());
                            }
                        }
                    }
                }
            }
            for (status, description) in wanted {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem_response(description));
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::dto::problem::PROBLEM_JSON,
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
        .into()
}
