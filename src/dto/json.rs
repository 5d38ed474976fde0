//! JSON bodies parsed into wire types, with problems that name the field.

use serde::de::DeserializeOwned;

use crate::error::{AppError, FieldError};

/// Malformed JSON is a 400; well-formed JSON of the wrong shape (types, unknown or
/// missing fields) is a 422 naming the field path.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::BadRequest("the request body is empty; send a JSON object".into()));
    }
    // Every body rapport takes is an object; saying so beats serde's view of an array.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = without_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = match (path.as_str(), missing_field(&message)) {
                    (".", Some(missing)) => missing.to_string(),
                    (_, Some(missing)) => format!("{path}.{missing}"),
                    (".", None) => "body".to_string(),
                    _ => path,
                };
                AppError::Validation(vec![FieldError::new(field, message)])
            }
            _ => AppError::BadRequest(format!("malformed JSON: {message}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| AppError::BadRequest(format!("malformed JSON: {}", without_position(&e.to_string()))))?;
    Ok(value)
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}
