use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::dto::forms::{MessageListQuery, MessagePage};
use crate::dto::pagination::{cursor_id, page_limit, paginate};
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::messages as service;
use crate::state::AppState;

/// The outbox: messages rapport sends, newest first, with delivery status. Scope: `admin`.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = ["admin"])),
    params(MessageListQuery),
    responses(
        (status = 200, description = "One page of messages", body = MessagePage),
        (status = 400, description = "Invalid query parameter or cursor", body = crate::dto::problem::Problem,
         content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/messages")]
pub async fn list_messages(
    _auth: Authorized<scopes::Admin>,
    state: web::Data<AppState>,
    query: Query<MessageListQuery>,
) -> Result<web::Json<MessagePage>, AppError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let before_id = cursor_id(query.cursor.as_deref())?;
    let status = match query.status.as_deref() {
        None => None,
        Some(status @ ("pending" | "sent" | "failed")) => Some(status.to_string()),
        Some(other) => return Err(AppError::BadRequest(format!("`status`: `{other}` is not pending, sent or failed"))),
    };
    let rows = state.db.run(move |conn| service::list(conn, status.as_deref(), before_id, limit + 1)).await?;
    let (rows, next_cursor) = paginate(rows, limit, |m| vec![m.id]);
    Ok(web::Json(MessagePage { items: rows.into_iter().map(Into::into).collect(), next_cursor }))
}
