use actix_web::{get, web};

use crate::auth::{scopes, Authorized};
use crate::dto::customers::PageQuery;
use crate::dto::pagination::Page;
use crate::dto::problem::Problem;
use crate::dto::referrals::Referral;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::{AuthProblems, ServerProblems};
use crate::services::referrals as service;
use crate::state::AppState;

/// A customer's referral code and the customers they referred. Scope: `customers:read`.
///
/// The code is created on the first request and never changes. An order that carries it
/// links a new customer (their first order) to this one. `revenue` is the net revenue of
/// every referred customer; `referred` is paged with `limit` and `cursor`, newest
/// customer first.
#[utoipa::path(
    tag = "referrals",
    security(("bearer" = ["customers:read"])),
    params(("id" = i64, Path, description = "Customer id"), PageQuery),
    responses(
        (status = 200, description = "The code and one page of referred customers", body = Referral),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        AuthProblems, ServerProblems,
    ),
)]
#[get("/customers/{id}/referral")]
pub async fn customer_referral(
    _auth: Authorized<scopes::CustomersRead>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _only_paging: Query<PageQuery>,
    page: Page,
) -> Result<web::Json<Referral>, AppError> {
    let id = id.into_inner();
    let before = page.after_id()?;
    let fetch = page.fetch();
    let mut overview = state.db.run(move |conn| service::overview(conn, id, before, fetch)).await?;
    let (referred, next_cursor) = page.answer(std::mem::take(&mut overview.referred), |r| vec![r.referral.referred_id]);
    Ok(web::Json(Referral::new(overview, referred, next_cursor)))
}
