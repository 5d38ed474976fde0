//! One error type for the whole service. It becomes RFC 9457 problem+json in exactly
//! one place: `ResponseError for AppError` in dto/problem.rs.

use serde::Serialize;
use utoipa::ToSchema;

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

    /// A 409 about the resource's state (no existing record to point at).
    pub fn conflict(detail: impl Into<String>) -> Self {
        AppError::Conflict { detail: detail.into(), existing_id: None }
    }

    pub fn unauthorized(detail: impl Into<String>, token_sent: bool) -> Self {
        AppError::Unauthorized { detail: detail.into(), token_sent }
    }
}

/// One invalid field: its path in the request (`address.country`, `tags[2]`) and why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Collects per-field parse failures while converting a DTO into domain types.
#[derive(Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Parses `raw` (when present) with `parse`, recording a failure under `field`.
    pub fn parse<R, T>(
        &mut self,
        field: &str,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> Option<T> {
        match raw.map(parse) {
            Some(Ok(value)) => Some(value),
            Some(Err(message)) => {
                self.0.push(FieldError::new(field, message));
                None
            }
            None => None,
        }
    }

    pub fn into_result<T>(self, value: T) -> Result<T, AppError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}
