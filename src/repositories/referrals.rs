use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{customers, orders, referral_codes, referrals};
use crate::db::DbConn;
use crate::models::referrals::{ReferralCodeRow, ReferralRow, ReferredContact, RevenueRow};

/// A customer's referral code, if they have one yet.
pub fn code_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Option<String>> {
    referral_codes::table.find(customer_id).select(referral_codes::code).get_result(conn).optional()
}

/// Fails with a unique violation when the customer already has a code (a concurrent
/// first request) or when the code belongs to someone else.
pub fn insert_code(conn: &mut DbConn, row: ReferralCodeRow) -> QueryResult<()> {
    diesel::insert_into(referral_codes::table).values(row).execute(conn).map(drop)
}

/// Whose code this is (`code` already normalized).
pub fn owner_of(conn: &mut DbConn, code: &str) -> QueryResult<Option<i64>> {
    referral_codes::table
        .filter(referral_codes::code.eq(code))
        .select(referral_codes::customer_id)
        .get_result(conn)
        .optional()
}

/// Removes a customer's code (erasure): nobody can be referred with it any more.
pub fn delete_code_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    diesel::delete(referral_codes::table.find(customer_id)).execute(conn).map(drop)
}

/// Who referred this customer, if anyone.
pub fn referral_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Option<ReferralRow>> {
    referrals::table.find(customer_id).select(ReferralRow::as_select()).get_result(conn).optional()
}

/// Every customer this referrer brought, newest referred customer first.
pub fn referred_by_referrer(conn: &mut DbConn, referrer_id: i64) -> QueryResult<Vec<ReferralRow>> {
    referrals::table
        .filter(referrals::referrer_id.eq(referrer_id))
        .order(referrals::referred_id.desc())
        .select(ReferralRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConn, row: ReferralRow) -> QueryResult<()> {
    diesel::insert_into(referrals::table).values(row).execute(conn).map(drop)
}

/// Whether the customer has an order, other than `order_id`, that was not cancelled.
pub fn has_other_orders(conn: &mut DbConn, customer_id: i64, order_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        orders::table
            .filter(orders::customer_id.eq(customer_id))
            .filter(orders::id.ne(order_id))
            .filter(super::sql::live_orders()),
    ))
    .get_result(conn)
}

pub fn count_referred(conn: &mut DbConn, referrer_id: i64) -> QueryResult<i64> {
    referrals::table.filter(referrals::referrer_id.eq(referrer_id)).count().get_result(conn)
}

/// Net revenue of everyone the referrer brought, per currency, from the purchase
/// statistics (already net of refunds and cancellations).
pub fn revenue_of_referred(conn: &mut DbConn, referrer_id: i64) -> QueryResult<Vec<RevenueRow>> {
    let mut sql = super::sql::Sql::new(conn.backend());
    sql.push(
        "SELECT s.currency AS currency, CAST(SUM(s.total_spent) AS BIGINT) AS amount \
         FROM customer_order_stats s JOIN referrals r ON r.referred_id = s.customer_id \
         WHERE r.referrer_id = ",
    )
    .bind(super::sql::SqlValue::Int(referrer_id))
    .push(" GROUP BY s.currency ORDER BY s.currency");
    sql.query().load(conn)
}

/// One page of a referrer's referrals, newest referred customer first; keyset on
/// `referred_id` (index `referrals_referrer_idx`).
pub fn referred_page(
    conn: &mut DbConn,
    referrer_id: i64,
    before_referred_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ReferralRow>> {
    let mut query =
        referrals::table.filter(referrals::referrer_id.eq(referrer_id)).select(ReferralRow::as_select()).into_boxed();
    if let Some(before) = before_referred_id {
        query = query.filter(referrals::referred_id.lt(before));
    }
    query.order(referrals::referred_id.desc()).limit(limit).load(conn)
}

/// Names and emails of these customers, in one query.
pub fn contacts(conn: &mut DbConn, ids: &[i64]) -> QueryResult<HashMap<i64, ReferredContact>> {
    let rows: Vec<ReferredContact> = customers::table
        .filter(customers::id.eq_any(ids))
        .select((customers::id, customers::first_name, customers::last_name, customers::email))
        .load(conn)?;
    Ok(rows.into_iter().map(|c| (c.id, c)).collect())
}

/// Moves a merged duplicate's referral data to the survivor. The survivor keeps their own
/// referrer and their own code when they have one; a customer never ends up referring
/// themself.
pub fn move_customer(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    // Only the survivor can have become their own referrer.
    let delete_self_referral = |conn: &mut DbConn| {
        diesel::delete(referrals::table.find(to).filter(referrals::referrer_id.eq(to))).execute(conn)
    };
    // The duplicate's referred customers are now the survivor's.
    diesel::update(referrals::table.filter(referrals::referrer_id.eq(from)))
        .set(referrals::referrer_id.eq(to))
        .execute(conn)?;
    // One referred the other: that row is now a self-referral, which must not count as
    // the survivor's referrer below.
    delete_self_referral(conn)?;
    if referral_of(conn, to)?.is_some() {
        diesel::delete(referrals::table.find(from)).execute(conn)?;
    } else {
        diesel::update(referrals::table.find(from)).set(referrals::referred_id.eq(to)).execute(conn)?;
        delete_self_referral(conn)?;
    }
    match code_of(conn, to)? {
        Some(_) => diesel::delete(referral_codes::table.find(from)).execute(conn)?,
        None => {
            diesel::update(referral_codes::table.find(from)).set(referral_codes::customer_id.eq(to)).execute(conn)?
        }
    };
    Ok(())
}

/// Referrals by referred customer id (the timeline's rows).
pub fn by_referred_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ReferralRow>> {
    referrals::table.filter(referrals::referred_id.eq_any(ids)).select(ReferralRow::as_select()).load(conn)
}
