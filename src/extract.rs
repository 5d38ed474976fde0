//! Request extractors that turn every bad input into a problem: JSON bodies (content
//! type, size, syntax, types, unknown fields, validator rules) and query strings.

use std::borrow::Cow;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

pub use crate::domain::forms::ClientInfo;
pub use crate::dto::json::parse_json;
use crate::error::{AppError, FieldError};

/// Largest JSON body accepted, in bytes (app data; 1 MiB when absent).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body, deserialized strictly and validated.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(1024 * 1024, |l| l.0);
        let checks = check_content_type(req).and_then(|()| check_declared_length(req, limit));
        let mut payload = payload.take();
        Box::pin(async move {
            checks?;
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| AppError::BadRequest(format!("cannot read the request body: {e}")))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            let value: T = parse_json(&body)?;
            value.validate().map_err(|errors| AppError::Validation(field_errors(&errors)))?;
            Ok(ValidJson(value))
        })
    }
}

fn too_large(limit: usize) -> AppError {
    AppError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
}

fn check_content_type(req: &HttpRequest) -> Result<(), AppError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    // application/json, and +json types such as application/merge-patch+json.
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType(format!(
            "send the body as JSON: `Content-Type: application/json` (PATCH also takes application/merge-patch+json); got `{}`",
            if content_type.is_empty() { "nothing" } else { content_type }
        )))
    }
}

fn check_declared_length(req: &HttpRequest, limit: usize) -> Result<(), AppError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(length) if length > limit => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// Flattens validator errors into `field.path[index]` entries.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out = Vec::new();
    collect(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error.message.clone().unwrap_or(Cow::Owned(format!("is invalid ({})", error.code)));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}[{index}]"), out);
                }
            }
        }
    }
}

/// The client's IP: the peer address, or the first `X-Forwarded-For` hop when rapport
/// runs behind a trusted proxy.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> Option<std::net::IpAddr> {
    if trust_proxy {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|ip| ip.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.peer_addr().map(|addr| addr.ip())
}

impl FromRequest for ClientInfo {
    type Error = AppError;
    type Future = futures_util::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trust_proxy =
            req.app_data::<web::Data<crate::state::AppState>>().is_some_and(|state| state.config.forms.trust_proxy);
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect::<String>())
            .filter(|ua| !ua.trim().is_empty());
        futures_util::future::ready(Ok(ClientInfo { ip: client_ip(req, trust_proxy), user_agent }))
    }
}

/// A query string, deserialized strictly: a value that does not parse, an unknown or a
/// repeated parameter is a 400 problem whose detail names the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = futures_util::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        futures_util::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string into `T`; the error names the parameter at fault.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    // Text goes to the database, and PostgreSQL text cannot hold NUL.
    if let Some((name, _)) = url::form_urlencoded::parse(query.as_bytes()).find(|(_, value)| value.contains('\0')) {
        return Err(AppError::BadRequest(format!("query parameter `{name}`: must not contain a NUL character")));
    }
    let deserializer = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let named = message.contains('`');
        AppError::BadRequest(match path.as_str() {
            "." | "?" if named => format!("invalid query parameter: {message}"),
            "." | "?" => format!("invalid query string: {message}"),
            _ => format!("query parameter `{path}`: {}", value_message(&message)),
        })
    })
}

/// serde's terse number and bool errors, said in words.
fn value_message(message: &str) -> String {
    match message {
        "invalid digit found in string" | "cannot parse integer from empty string" => "is not an integer".to_string(),
        "number too large to fit in target type" | "number too small to fit in target type" => {
            "is out of range".to_string()
        }
        "provided string was not `true` or `false`" => "must be `true` or `false`".to_string(),
        other => other.to_string(),
    }
}

/// Error handler for `web::Query` (should any remain): a bad query string is a 400 problem.
pub fn query_error(error: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    AppError::BadRequest(format!("invalid query string: {error}")).into()
}

/// Error handler for `web::Path`: a path parameter that does not parse names no
/// resource (404, naming the parameter), unless the path only exists under other
/// methods (405 with `Allow`).
pub fn path_error(error: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    if let Some(known) = req.app_data::<web::Data<crate::handlers::fallback::KnownRoutes>>() {
        let allow = known.methods_for(req.path());
        if !allow.is_empty() && !allow.iter().any(|m| m == req.method().as_str()) {
            return crate::handlers::fallback::method_not_allowed(req, allow).into();
        }
    }
    let message = error.to_string();
    // actix says `can not parse "abc" to a i64`: find the parameter holding that value.
    let parameter = req
        .match_info()
        .iter()
        .find(|(_, value)| message.contains(&format!("\"{value}\"")) || message.contains(&format!("`{value}`")))
        .map(|(name, _)| name.to_string());
    let detail = match parameter {
        Some(name) => format!("no resource at {}: path parameter `{name}`: {message}", req.path()),
        None => format!("no resource at {} (path parameters: {message})", req.path()),
    };
    AppError::NotFound(detail).into()
}
