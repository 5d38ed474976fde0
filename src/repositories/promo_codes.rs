use diesel::prelude::*;

use crate::db::schema::{promo_codes, promo_redemptions};
use crate::db::DbConn;
use crate::models::promo_codes::{NewPromoCode, PromoCodeColumns, PromoCodeRow, RedemptionRow};
use crate::repositories::sql::insert_in_chunks;

pub fn insert(conn: &mut DbConn, code: NewPromoCode) -> QueryResult<PromoCodeRow> {
    diesel::insert_into(promo_codes::table).values(code).returning(promo_codes::all_columns).get_result(conn)
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<PromoCodeRow>> {
    promo_codes::table.find(id).select(PromoCodeRow::as_select()).get_result(conn).optional()
}

/// Codes by id, in one query.
pub fn codes_by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<std::collections::HashMap<i64, String>> {
    let rows: Vec<(i64, String)> = promo_codes::table
        .filter(promo_codes::id.eq_any(ids))
        .select((promo_codes::id, promo_codes::code))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The codes among these that carry a cost.
pub fn with_costs(conn: &mut DbConn, codes: &[String]) -> QueryResult<Vec<PromoCodeRow>> {
    promo_codes::table
        .filter(promo_codes::code.eq_any(codes))
        .filter(promo_codes::cost_currency.is_not_null())
        .select(PromoCodeRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, code: &str) -> QueryResult<Option<PromoCodeRow>> {
    promo_codes::table.filter(promo_codes::code.eq(code)).select(PromoCodeRow::as_select()).get_result(conn).optional()
}

pub fn update(conn: &mut DbConn, id: i64, columns: PromoCodeColumns) -> QueryResult<PromoCodeRow> {
    diesel::update(promo_codes::table.find(id)).set(columns).returning(promo_codes::all_columns).get_result(conn)
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<PromoCodeRow>> {
    let mut query = promo_codes::table.select(PromoCodeRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(promo_codes::id.lt(before_id));
    }
    query.order(promo_codes::id.desc()).limit(limit).load(conn)
}

/// Takes one redemption if any is left, in one statement: of two concurrent orders only
/// one can take the last redemption.
pub fn take_redemption(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    let taken = diesel::update(
        promo_codes::table.filter(promo_codes::id.eq(id)).filter(
            promo_codes::max_redemptions
                .is_null()
                .or(promo_codes::redemptions.lt(promo_codes::max_redemptions.assume_not_null())),
        ),
    )
    .set(promo_codes::redemptions.eq(promo_codes::redemptions + 1))
    .execute(conn)?;
    Ok(taken == 1)
}

pub fn customer_redemptions(conn: &mut DbConn, promo_code_id: i64, customer_id: i64) -> QueryResult<i64> {
    promo_redemptions::table
        .filter(promo_redemptions::promo_code_id.eq(promo_code_id))
        .filter(promo_redemptions::customer_id.eq(customer_id))
        .count()
        .get_result(conn)
}

pub fn record_redemption(conn: &mut DbConn, redemption: RedemptionRow) -> QueryResult<()> {
    diesel::insert_into(promo_redemptions::table).values(redemption).execute(conn).map(drop)
}

pub fn redemptions(
    conn: &mut DbConn,
    promo_code_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<RedemptionRow>> {
    let mut query = promo_redemptions::table
        .filter(promo_redemptions::promo_code_id.eq(promo_code_id))
        .select(RedemptionRow::as_select())
        .into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(promo_redemptions::id.lt(before_id));
    }
    query.order(promo_redemptions::id.desc()).limit(limit).load(conn)
}

/// Moves a merged duplicate's redemptions to the survivor.
pub fn move_redemptions(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(promo_redemptions::table.filter(promo_redemptions::customer_id.eq(from)))
        .set(promo_redemptions::customer_id.eq(to))
        .execute(conn)
        .map(drop)
}

/// Gives back the redemption an order took (the order was cancelled).
pub fn release_redemption(conn: &mut DbConn, promo_code_id: i64, order_id: i64) -> QueryResult<()> {
    let removed = diesel::delete(
        promo_redemptions::table
            .filter(promo_redemptions::promo_code_id.eq(promo_code_id))
            .filter(promo_redemptions::order_id.eq(order_id)),
    )
    .execute(conn)?;
    if removed > 0 {
        diesel::update(promo_codes::table.find(promo_code_id))
            .set(promo_codes::redemptions.eq(promo_codes::redemptions - 1))
            .execute(conn)?;
    }
    Ok(())
}

/// Many codes in a few statements (a campaign's unique codes).
pub fn insert_many(conn: &mut DbConn, codes: &[NewPromoCode]) -> QueryResult<()> {
    insert_in_chunks!(conn, promo_codes::table, codes)
}
