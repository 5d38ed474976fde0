//! Referrals: every customer has a code to share; the first order of a new customer that
//! carries it links them to its owner, so the shop can reward whoever brought them.

use diesel::QueryResult;
use rand::Rng;

use super::{now, write_with_one_retry, TxError};
use crate::db::DbConn;
use crate::domain::promo::ReferralCode;
use crate::error::AppError;
use crate::models::referrals::{ReferralCodeRow, ReferralRow};
use crate::models::referrals::{ReferralOverview, ReferredCustomer};
use crate::repositories::{customers as customer_repo, orders as order_repo, referrals as repo};

/// Upper-case letters and digits without the look-alikes 0/O and 1/I, so a code read
/// aloud or copied by hand comes out right.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: usize = 8;

/// A fresh random code (32^8, about 10^12 possibilities; the unique index catches the
/// rare collision).
pub fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("customer {id} does not exist"))
}

/// The customer's code, created on first request. Two concurrent first requests get the
/// same code: the loser of the insert hits the unique key and, retried, reads the
/// winner's code.
fn ensure_code(conn: &mut DbConn, customer_id: i64) -> Result<String, AppError> {
    if let Some(code) = repo::code_of(conn, customer_id)? {
        return Ok(code);
    }
    let code = write_with_one_retry(conn, |conn| {
        if !customer_repo::exists(conn, customer_id)? {
            return Err(TxError::App(not_found(customer_id)));
        }
        if let Some(code) = repo::code_of(conn, customer_id)? {
            return Ok(code);
        }
        let code = new_code();
        repo::insert_code(conn, ReferralCodeRow { customer_id, code: code.clone(), created_at: now() })?;
        Ok(code)
    })?;
    Ok(code)
}

/// `GET /v1/customers/{id}/referral`. Fetches up to `limit` referred customers with
/// `referred_id < before_referred_id`; their contacts and statistics take one query each.
pub fn overview(
    conn: &mut DbConn,
    customer_id: i64,
    before_referred_id: Option<i64>,
    limit: i64,
) -> Result<ReferralOverview, AppError> {
    if !customer_repo::exists(conn, customer_id)? {
        return Err(not_found(customer_id));
    }
    let code = ensure_code(conn, customer_id)?;
    let referred_by = repo::referral_of(conn, customer_id)?.map(|r| r.referrer_id);
    let referred_count = repo::count_referred(conn, customer_id)?;
    let revenue = repo::revenue_of_referred(conn, customer_id)?;
    let page = repo::referred_page(conn, customer_id, before_referred_id, limit)?;
    let ids: Vec<i64> = page.iter().map(|r| r.referred_id).collect();
    let mut contacts = repo::contacts(conn, &ids)?;
    let mut stats = order_repo::stats_for(conn, &ids)?;
    let referred = page
        .into_iter()
        .map(|referral| ReferredCustomer {
            contact: contacts.remove(&referral.referred_id),
            stats: stats.remove(&referral.referred_id).unwrap_or_default(),
            referral,
        })
        .collect();
    Ok(ReferralOverview { customer_id, code, referred_by, referred_count, revenue, referred })
}

/// Runs in the order's transaction, after the order row is written. Links the buyer to
/// the code's owner when the code exists, is not the buyer's own, the buyer has no
/// referrer yet and this is their first order that was not cancelled. Otherwise it does
/// nothing: like a promo code, a bad referral code never rejects an order.
/// Returns whether a link was made.
pub fn link_in_transaction(conn: &mut DbConn, buyer_id: i64, order_id: i64, raw_code: &str) -> QueryResult<bool> {
    let Some(code) = ReferralCode::parse(raw_code) else { return Ok(false) };
    let code = code.as_str().to_string();
    let Some(referrer_id) = repo::owner_of(conn, &code)? else { return Ok(false) };
    if referrer_id == buyer_id
        || repo::referral_of(conn, buyer_id)?.is_some()
        || repo::has_other_orders(conn, buyer_id, order_id)?
    {
        return Ok(false);
    }
    repo::insert(conn, ReferralRow { referred_id: buyer_id, referrer_id, order_id, code, created_at: now() })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
        }
    }
}
