use super::{is_unique_violation, now};
use crate::db::DbConn;
use crate::domain::promo::{evaluate, PromoRefusal, Purchase};
use crate::domain::promo::{CustomerRef, PromoPatch};
use crate::error::AppError;
use crate::models::promo_codes::{NewPromoCode, PromoCodeColumns, PromoCodeRow, RedemptionRow};
use crate::repositories::{customers as customer_repo, promo_codes as repo};

fn not_found(code: &str) -> AppError {
    AppError::not_found(format!("no promo code `{code}`"))
}

pub fn create(conn: &mut DbConn, code: String, columns: PromoCodeColumns) -> Result<PromoCodeRow, AppError> {
    let now = now();
    let new =
        NewPromoCode { code: code.clone(), columns: PromoCodeColumns { updated_at: now, ..columns }, created_at: now };
    conn.write_transaction(|conn| repo::insert(conn, new.clone())).map_err(|error| {
        if is_unique_violation(&error) {
            let existing_id = repo::find(conn, &code).ok().flatten().map(|c| c.id);
            AppError::Conflict { detail: format!("the code `{code}` exists"), existing_id }
        } else {
            error.into()
        }
    })
}

pub fn get(conn: &mut DbConn, code: &str) -> Result<PromoCodeRow, AppError> {
    repo::find(conn, code)?.ok_or_else(|| not_found(code))
}

pub fn patch(conn: &mut DbConn, code: &str, patch: PromoPatch) -> Result<PromoCodeRow, AppError> {
    conn.write_transaction(|conn| {
        let patch = patch.clone();
        let current = get(conn, code)?;
        let mut columns = current.columns();
        patch.description.apply_to(&mut columns.description);
        patch.valid_from.apply_to(&mut columns.valid_from);
        patch.valid_until.apply_to(&mut columns.valid_until);
        patch.max_redemptions.apply_to(&mut columns.max_redemptions);
        patch.max_redemptions_per_customer.apply_to(&mut columns.max_redemptions_per_customer);
        patch.min_subtotal.apply_to(&mut columns.min_subtotal);
        patch.campaign_id.apply_to(&mut columns.campaign_id);
        columns.active = patch.active.unwrap_or(columns.active);
        let mut cost = current.cost();
        patch.cost.apply_to(&mut cost);
        if let (Some(cost), Some(code_currency)) = (&cost, &columns.currency) {
            if &cost.currency != code_currency {
                return Err(AppError::invalid(
                    "cost.currency",
                    format!("the code is restricted to {code_currency}; give its cost in {code_currency} too"),
                ));
            }
        }
        columns.cost_currency = cost.as_ref().map(|c| c.currency.clone());
        columns.cost_fixed_minor = cost.as_ref().map(|c| c.fixed_minor);
        columns.cost_per_redemption_minor = cost.as_ref().map(|c| c.per_redemption_minor);
        if let (Some(from), Some(until)) = (columns.valid_from, columns.valid_until) {
            if until <= from {
                return Err(AppError::invalid("valid_until", "must be after valid_from"));
            }
        }
        columns.updated_at = now();
        Ok(repo::update(conn, current.id, columns)?)
    })
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> Result<Vec<PromoCodeRow>, AppError> {
    Ok(repo::list(conn, before_id, limit)?)
}

pub fn redemptions(
    conn: &mut DbConn,
    code: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<RedemptionRow>, AppError> {
    let promo = get(conn, code)?;
    Ok(repo::redemptions(conn, promo.id, before_id, limit)?)
}

/// `POST /v1/promo-codes/validate`: whether the code would apply, and its discount.
pub fn validate(
    conn: &mut DbConn,
    code: &str,
    subtotal: i64,
    currency: &str,
    customer: Option<CustomerRef>,
) -> Result<Result<i64, &'static str>, AppError> {
    let Some(promo) = repo::find(conn, code)? else { return Ok(Err("the code does not exist")) };
    let customer_id = match customer {
        Some(CustomerRef::Id(id)) => Some(id),
        Some(CustomerRef::Email(email)) => customer_repo::find_id_by_email(conn, &email)?,
        None => None,
    };
    let customer_redemptions = match customer_id {
        Some(id) => repo::customer_redemptions(conn, promo.id, id)?,
        None => 0,
    };
    let purchase = Purchase { subtotal, shipping: 0, currency, at: now(), customer_redemptions };
    Ok(evaluate(&promo.rules(), &purchase).map(|(amount, _)| amount).map_err(|(_, reason)| reason))
}

/// An order's code, checked inside the order's transaction on a plain read of the code:
/// the status the order gets and the code's id. When it applies, the order records the
/// redemption (`record_for_order`) and takes the counter last (`take_for_order`): in a
/// sale every order updates that one row, which then stays locked only until the commit.
pub fn check_for_order(
    conn: &mut DbConn,
    code: &str,
    purchase: &Purchase<'_>,
    customer_id: i64,
) -> Result<(&'static str, Option<i64>), AppError> {
    let Some(promo) = repo::find(conn, code)? else { return Ok((PromoRefusal::Unknown.as_str(), None)) };
    // The customer's own redemptions matter only under a per-customer limit.
    let customer_redemptions = match promo.max_redemptions_per_customer {
        Some(_) => repo::customer_redemptions(conn, promo.id, customer_id)?,
        None => 0,
    };
    let purchase = Purchase { customer_redemptions, ..purchase.clone() };
    match evaluate(&promo.rules(), &purchase) {
        Ok((_, status)) => Ok((status, Some(promo.id))),
        Err((refusal, _)) => Ok((refusal.as_str(), Some(promo.id))),
    }
}

/// The redemption of a code `check_for_order` applied.
pub fn record_for_order(
    conn: &mut DbConn,
    promo_id: i64,
    order_id: i64,
    customer_id: i64,
    discount_amount: i64,
) -> Result<(), AppError> {
    let redemption =
        RedemptionRow { id: 0, promo_code_id: promo_id, order_id, customer_id, discount_amount, created_at: now() };
    Ok(repo::record_redemption(conn, redemption)?)
}

/// Takes the redemption `check_for_order` granted. When another order took the code's last
/// redemption meanwhile, the transaction is run again (`AppError::Contention`): its check
/// then reads the code used up, so the last redemption goes to exactly one order.
pub fn take_for_order(conn: &mut DbConn, promo_id: i64) -> Result<(), AppError> {
    if repo::take_redemption(conn, promo_id)? {
        Ok(())
    } else {
        Err(AppError::Contention)
    }
}
