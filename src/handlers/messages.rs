use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::domain::MessageStatus;
use crate::dto::forms::{MessageListQuery, MessagePage};
use crate::dto::pagination::Page;
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
    page: Page,
) -> Result<web::Json<MessagePage>, AppError> {
    let query = query.into_inner();
    let before_id = page.after_id()?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => match MessageStatus::parse(text) {
            Some(status) => Some(status.as_str().to_string()),
            None => return Err(AppError::BadRequest(format!("`status`: `{text}` is not pending, sent or failed"))),
        },
    };
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::list(conn, status.as_deref(), before_id, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |m| vec![m.id]);
    Ok(web::Json(MessagePage { items, next_cursor }))
}
