//! One error type for the whole service; it becomes RFC 9457 problem+json in exactly
//! one place (`ResponseError::error_response`).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::Contention;
use crate::dto::problem::{FieldError, Problem};
use crate::telemetry::current_request_id;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    /// Missing or invalid credentials. `token_sent` decides the WWW-Authenticate error code.
    #[error("{detail}")]
    Unauthorized { detail: String, token_sent: bool },
    #[error("this operation needs the scope `{0}`")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    MethodNotAllowed { detail: String, allow: Vec<String> },
    #[error("{detail}")]
    Conflict { detail: String, existing_id: Option<i64> },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// An emailed link whose time is up.
    #[error("{0}")]
    Gone(String),
    #[error("too many requests from this address; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// A transaction lost a lock race (deadlock or serialization failure) more often than
    /// it is retried: a 503 that invites a retry, never a 500.
    #[error("the database is busy with conflicting writes; try again shortly")]
    Contention,
    /// Never shown to the client: logged with the request id.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn internal(cause: impl Into<String>) -> Self {
        AppError::Internal(cause.into())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(detail: impl Into<String>, token_sent: bool) -> Self {
        AppError::Unauthorized { detail: detail.into(), token_sent }
    }
}

impl From<DieselError> for AppError {
    fn from(error: DieselError) -> Self {
        if error.is_contention() {
            return AppError::Contention;
        }
        match &error {
            DieselError::NotFound => AppError::NotFound("not found".into()),
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => {
                tracing::warn!(%error, "database connection lost");
                AppError::Unavailable
            }
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                tracing::warn!(%error, "database busy or gone");
                AppError::Unavailable
            }
            _ => AppError::Internal(format!("database error: {}", with_causes(&error))),
        }
    }
}

/// The error's message and its causes' (a failed read names the field, its cause why).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}

/// SQLite lock timeouts and PostgreSQL connection loss reported as plain errors.
fn is_transient(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "database is locked",
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "no connection to the server",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

impl Contention for AppError {
    fn is_contention(&self) -> bool {
        matches!(self, AppError::Contention)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable | AppError::Contention => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let request_id = current_request_id();
        let detail = match self {
            AppError::Internal(cause) => {
                tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), %cause, "internal error");
                "an internal error occurred; quote the request id when reporting it".to_string()
            }
            other => other.to_string(),
        };
        let problem = Problem {
            r#type: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            request_id,
            errors: match self {
                AppError::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            existing_id: match self {
                AppError::Conflict { existing_id, .. } => *existing_id,
                _ => None,
            },
        };

        let mut response = HttpResponse::build(status);
        response.content_type(PROBLEM_JSON);
        match self {
            AppError::Unauthorized { detail, token_sent } => {
                let challenge = if *token_sent {
                    format!(
                        "Bearer realm=\"rapport\", error=\"invalid_token\", error_description=\"{}\"",
                        detail.replace('"', "'")
                    )
                } else {
                    "Bearer realm=\"rapport\"".to_string()
                };
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            AppError::Forbidden(scope) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"rapport\", error=\"insufficient_scope\", scope=\"{scope}\""),
                ));
            }
            AppError::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            AppError::Unavailable | AppError::Contention => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            AppError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).unwrap_or_default())
    }
}
