use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::auth::{scopes, Authorized};
use crate::dto::imports::{ImportJob, ImportQuery};
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::imports::{self as service, ImportContext, ImportMode};
use crate::state::AppState;

/// Largest CSV accepted by an import.
pub const IMPORT_BODY_LIMIT: usize = 256 * 1024 * 1024;

/// Import customers from CSV, in the background.
///
/// Body `text/csv` with a header row. Columns: `kind`, `first_name`, `last_name`,
/// `company_name`, `email`, `phone`, `birthday`, `gender`, `address_line1`,
/// `address_line2`, `city`, `region`, `postal_code`, `country`, `preferred_language`,
/// `source`, `tags` (separated by `;`), `notes`, any `attributes.<key>`, and per channel
/// `consent_<channel>` with `consent_<channel>_at`. Rows are validated and normalized as the
/// API does; bad rows are reported by line and the good ones imported. Consent columns
/// add ledger events at their own time (never overriding newer events) and never touch
/// erased people. Answers 202 with the job; follow it at `Location`. Scope: `admin`.
#[utoipa::path(
    tag = "imports",
    security(("bearer" = ["admin"])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        example = "email,first_name,tags,attributes.colour,consent_email,consent_email_at\nana@example.com,Ana,vip;web,green,subscribed,2024-03-01T10:00:00Z\n"),
    responses(
        (status = 202, description = "Queued", body = ImportJob, headers(("Location" = String))),
        (status = 400, description = "Unknown mode, not UTF-8, or malformed CSV", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown columns or no header row", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[post("/imports")]
pub async fn create_import(
    auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: Query<ImportQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let mode = match query.mode.as_deref() {
        None => ImportMode::CreateOnly,
        Some(text) => ImportMode::parse(text)
            .ok_or_else(|| AppError::BadRequest(format!("`mode`: `{text}` is not create_only or upsert")))?,
    };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("text/csv") {
        return Err(AppError::UnsupportedMediaType("send the file as `Content-Type: text/csv`".into()));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > IMPORT_BODY_LIMIT {
            return Err(AppError::PayloadTooLarge(format!("the file is larger than {IMPORT_BODY_LIMIT} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    let csv =
        String::from_utf8(body.to_vec()).map_err(|_| AppError::BadRequest("the file is not UTF-8 text".into()))?;
    let csv = csv.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(csv);
    let context = ImportContext {
        database: state.db.clone(),
        keys: state.keys.clone(),
        default_country: state.config.default_country,
    };
    let actor = auth.caller.sub;
    let job = web::block(move || service::submit(context, mode, csv, &actor))
        .await
        .map_err(|_| AppError::internal("import submission cancelled"))??;
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/v1/imports/{}", job.id)))
        .json(ImportJob::from(job)))
}

/// An import's status, counts and row errors. Scope: `admin`.
#[utoipa::path(
    tag = "imports",
    security(("bearer" = ["admin"])),
    params(("id" = i64, Path, description = "Import id")),
    responses(
        (status = 200, description = "The import", body = ImportJob),
        (status = 404, description = "No such import", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/imports/{id}")]
pub async fn get_import(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<web::Json<ImportJob>, AppError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| service::get_job(conn, id)).await?.into()))
}

/// All customers as CSV, streamed page by page (constant memory), in the import's
/// columns: a file exported here imports back. Scope: `admin`.
#[utoipa::path(
    tag = "imports",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "CSV with a header row", content_type = "text/csv", body = String),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/export.csv")]
pub async fn export_csv(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let keys = state.db.run(service::attribute_keys).await?;
    let header = service::header_line(&keys)?;
    let database = state.db.clone();
    // State: the last exported id, or None once the last page went out.
    let pages = futures_util::stream::unfold(Some(0i64), move |after| {
        let (database, keys) = (database.clone(), keys.clone());
        async move {
            let after = after?;
            match database.run(move |conn| service::export_page(conn, after, &keys)).await {
                Ok((text, Some(last))) => Some((Ok::<_, AppError>(web::Bytes::from(text)), Some(last))),
                Ok((_, None)) => None,
                Err(error) => Some((Err(error), None)),
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, AppError>(web::Bytes::from(header)) }).chain(pages);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"customers.csv\""))
        .streaming(body))
}
