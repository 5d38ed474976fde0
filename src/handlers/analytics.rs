use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::dto::analytics::{ConsentAnalytics, PeriodQuery};
use crate::error::AppError;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::analytics as service;
use crate::state::AppState;

/// Consent for dashboards: subscribed / unsubscribed / pending customers per channel now,
/// opt-ins and opt-outs per period (every period present), and the email opt-in rate of
/// customers by the source they came from. Scope: `analytics:read`.
#[utoipa::path(
    tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "Consent figures", body = ConsentAnalytics),
        (status = 422, description = "Bad period: dates, inverted range, range too long for the granularity, unknown time zone",
         body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/analytics/consent")]
pub async fn consent(
    _auth: Authorized<scopes::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<PeriodQuery>,
) -> Result<web::Json<ConsentAnalytics>, AppError> {
    let periods = query.periods(state.config.timezone)?;
    Ok(web::Json(state.db.run(move |conn| service::consent(conn, &periods.buckets)).await?.into()))
}
