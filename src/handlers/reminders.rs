use actix_web::{get, web};
use chrono::Utc;

use crate::auth::{scopes, Authorized};
use crate::config::parse_timezone;
use crate::dto::pagination::Page;
use crate::dto::reminders::{BirthdayPage, BirthdayQuery, LapsedPage, LapsedQuery};
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::reminders as service;
use crate::state::AppState;

fn range(name: &str, value: Option<i64>, default: i64, min: i64, max: i64) -> Result<i64, AppError> {
    match value.unwrap_or(default) {
        n if (min..=max).contains(&n) => Ok(n),
        n => Err(AppError::invalid(name, format!("is {n}; it must be from {min} to {max}"))),
    }
}

/// Customers whose birthday is today or within the next `within_days` days, soonest first,
/// with their consent states so a dashboard knows whom it may contact. Scope: `customers:read`.
#[utoipa::path(
    tag = "reminders",
    security(("bearer" = ["customers:read"])),
    params(BirthdayQuery),
    responses(
        (status = 200, description = "One page of birthdays", body = BirthdayPage),
        (status = 422, description = "A parameter is out of range, or an unknown time zone", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/reminders/birthdays")]
pub async fn birthdays(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    query: Query<BirthdayQuery>,
    page: Page,
) -> Result<web::Json<BirthdayPage>, AppError> {
    let within_days = range("within_days", query.within_days, 14, 0, 366)?;
    let timezone = match &query.timezone {
        Some(name) => parse_timezone(name).map_err(|e| AppError::invalid("timezone", e))?,
        None => state.config.timezone,
    };
    let today = Utc::now().with_timezone(&timezone).date_naive();
    let after = page.after_key(2)?.map(|k| (k[0], k[1]));
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::birthdays(conn, today, within_days, after, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |(days, b)| vec![*days, b.customer.row.id]);
    Ok(web::Json(BirthdayPage { items, next_cursor }))
}

/// Customers slipping away: at least two orders, and silent for more than `days` and more
/// than twice their own usual gap between orders; most valuable first. Scope: `customers:read`.
#[utoipa::path(
    tag = "reminders",
    security(("bearer" = ["customers:read"])),
    params(LapsedQuery),
    responses(
        (status = 200, description = "One page of lapsed customers", body = LapsedPage),
        (status = 422, description = "A parameter is out of range", body = crate::dto::problem::Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/reminders/lapsed")]
pub async fn lapsed(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    query: Query<LapsedQuery>,
    page: Page,
) -> Result<web::Json<LapsedPage>, AppError> {
    let days = range("days", query.days, 90, 1, 3650)?;
    let before = page.after_key(2)?.map(|k| (k[0], k[1]));
    let fetch = page.fetch();
    let rows = state.db.run(move |conn| service::lapsed(conn, days, before, fetch)).await?;
    let (items, next_cursor) = page.answer(rows, |l| vec![l.row.total_spent, l.row.customer_id]);
    Ok(web::Json(LapsedPage { items, next_cursor }))
}
