use actix_web::{get, web, HttpResponse};

use crate::dto::health::HealthStatus;
use crate::error::AppError;
use crate::openapi::ServerProblems;
use crate::state::AppState;

/// Liveness: the process is up and serving.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is alive", body = HealthStatus)),
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok".into() })
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus),
        ServerProblems,
    ),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.db.check_ready().await?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ok".into() }))
}
