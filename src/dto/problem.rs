use serde::Serialize;
use utoipa::ToSchema;

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
