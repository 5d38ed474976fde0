//! Requests no route matched: 405 with `Allow` when the path exists under another
//! method (per the OpenAPI document, which lists exactly the served routes), else 404.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;

const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Path templates and their methods, taken from the OpenAPI document.
pub struct KnownRoutes(Vec<(Vec<String>, Vec<String>)>);

impl KnownRoutes {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let value = serde_json::to_value(&doc.paths).unwrap_or_default();
        let routes = value
            .get("paths")
            .or(Some(&value))
            .and_then(|paths| paths.as_object())
            .map(|paths| {
                paths
                    .iter()
                    .map(|(template, operations)| {
                        let segments = template.split('/').map(str::to_owned).collect();
                        let methods = operations
                            .as_object()
                            .map(|ops| {
                                ops.keys()
                                    .filter(|key| HTTP_METHODS.contains(&key.as_str()))
                                    .map(|m| m.to_ascii_uppercase())
                                    .collect()
                            })
                            .unwrap_or_default();
                        (segments, methods)
                    })
                    .collect()
            })
            .unwrap_or_default();
        KnownRoutes(routes)
    }

    /// The methods served at `path`. Literal segments win over parameters, as in the
    /// router: `/v1/customers/export.csv` has the methods of that route only, not those
    /// of `/v1/customers/{id}`.
    pub fn methods_for(&self, path: &str) -> Vec<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<&(Vec<String>, Vec<String>)> = self
            .0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
            })
            .collect();
        // Most specific first: the first segment where templates differ, literal beats `{..}`.
        let specificity = |template: &[String]| template.iter().map(|t| !t.starts_with('{')).collect::<Vec<bool>>();
        let best = matching.iter().map(|(template, _)| specificity(template)).max();
        let mut methods: Vec<String> = matching
            .iter()
            .filter(|(template, _)| Some(specificity(template)) == best)
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        methods.sort();
        methods.dedup();
        methods
    }
}

/// 405 with `Allow`: the path exists, under other methods.
pub fn method_not_allowed(req: &HttpRequest, allow: Vec<String>) -> AppError {
    AppError::MethodNotAllowed {
        detail: format!("{} does not accept {}; use {}", req.path(), req.method(), allow.join(", ")),
        allow,
    }
}

pub async fn not_matched(req: HttpRequest, known: web::Data<KnownRoutes>) -> Result<HttpResponse, AppError> {
    let allow = known.methods_for(req.path());
    Err(if allow.is_empty() {
        AppError::NotFound(format!("no endpoint at {}", req.path()))
    } else {
        method_not_allowed(&req, allow)
    })
}
