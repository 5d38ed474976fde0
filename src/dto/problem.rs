use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
pub use crate::error::FieldError;
use crate::telemetry::current_request_id;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// RFC 9457 problem details: the body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "the request has invalid fields",
    "request_id": "6f1c0b6a8d2e4f3a9b7c5d1e2f3a4b5c",
    "errors": [{"field": "email", "message": "is not a valid email address"}]
}))]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` means the status says it all.
    pub r#type: String,
    /// The HTTP status phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The request id (also in the `X-Request-Id` header); quote it when reporting errors.
    pub request_id: Option<String>,
    /// Validation failures (422 only), one per field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// On a 409 caused by an existing record: that record's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<i64>,
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
