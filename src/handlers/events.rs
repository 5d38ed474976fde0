use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::dto::events::{EventFeedQuery, EventPage};
use crate::dto::problem::Problem;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::events as service;
use crate::state::AppState;

/// The event log, in commit order: what changed, for an integration to follow or catch up
/// on (events are kept 30 days by default). Scope: `events:read`.
#[utoipa::path(
    tag = "events",
    security(("bearer" = ["events:read"])),
    params(EventFeedQuery),
    responses(
        (status = 200, description = "One page of events, oldest first", body = EventPage),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/events")]
pub async fn list_events(
    _auth: Authorized<scopes::EventsRead>,
    state: web::Data<AppState>,
    query: Query<EventFeedQuery>,
) -> Result<web::Json<EventPage>, AppError> {
    let query = query.into_inner();
    let (types, after, limit) = (query.types()?, query.after()?, query.limit()?);
    let mut rows = state.db.run(move |conn| service::feed(conn, &types, after, limit + 1)).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().and_then(|row| row.position).or(after).unwrap_or(0).to_string();
    Ok(web::Json(EventPage { items: rows.into_iter().map(Into::into).collect(), next_cursor, has_more }))
}
