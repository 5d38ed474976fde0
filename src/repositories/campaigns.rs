use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::sql::{add_counters, insert_in_chunks, live_order, live_orders, lock_row, Sql, SqlValue, INSERT_CHUNK};
use crate::db::schema::{
    campaign_contacts, campaign_conversions, campaign_orders, campaign_responders, campaign_response_counts,
    campaign_responses, campaigns, customer_consents, customers, messages, orders, promo_redemptions,
};
use crate::db::DbConn;
use crate::domain::attribution::{
    CampaignFigures, CampaignOrderFigures, CodeCampaign, ContactWindow, ConversionCounts, Redemption, StandingOrder,
};
use crate::models::campaigns::AttributedRow;
use crate::models::campaigns::{
    CampaignColumns, CampaignRow, ContactRow, NewCampaign, NewContact, NewResponse, ResponseRow,
};
use crate::models::customers::CustomerRow;

pub fn insert(conn: &mut DbConn, campaign: NewCampaign) -> QueryResult<CampaignRow> {
    diesel::insert_into(campaigns::table).values(campaign).returning(campaigns::all_columns).get_result(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<CampaignRow>> {
    campaigns::table.find(id).select(CampaignRow::as_select()).get_result(conn).optional()
}

/// Like `find`, locking the row on PostgreSQL (SQLite write transactions lock the database).
pub fn find_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<CampaignRow>> {
    lock_row(conn, "campaigns", id)?;
    find(conn, id)
}

pub fn update_columns(conn: &mut DbConn, id: i64, columns: CampaignColumns) -> QueryResult<CampaignRow> {
    diesel::update(campaigns::table.find(id)).set(columns).returning(campaigns::all_columns).get_result(conn)
}

pub fn mark_launched(
    conn: &mut DbConn,
    id: i64,
    rules: &str,
    audience: &str,
    now: NaiveDateTime,
) -> QueryResult<CampaignRow> {
    diesel::update(campaigns::table.find(id))
        .set((
            campaigns::status.eq("launched"),
            campaigns::rules.eq(Some(rules)),
            campaigns::audience.eq(Some(audience)),
            campaigns::launched_at.eq(Some(now)),
            campaigns::updated_at.eq(now),
        ))
        .returning(campaigns::all_columns)
        .get_result(conn)
}

pub fn mark_send_requested(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(campaigns::table.find(id))
        .set((campaigns::send_requested_at.eq(Some(now)), campaigns::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn list(conn: &mut DbConn, before_id: Option<i64>, limit: i64) -> QueryResult<Vec<CampaignRow>> {
    let mut query = campaigns::table.select(CampaignRow::as_select()).into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(campaigns::id.lt(before_id));
    }
    query.order(campaigns::id.desc()).limit(limit).load(conn)
}

/// Which of `ids` are campaigns.
pub fn launched_between(conn: &mut DbConn, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<Vec<CampaignRow>> {
    campaigns::table
        .filter(campaigns::launched_at.ge(from))
        .filter(campaigns::launched_at.lt(to))
        .order(campaigns::id)
        .select(CampaignRow::as_select())
        .load(conn)
}

/// Contacts per campaign who clicked or replied (each counted once).
pub fn responders(conn: &mut DbConn, campaign_ids: &[i64]) -> QueryResult<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = campaign_responses::table
        .filter(campaign_responses::campaign_id.eq_any(campaign_ids))
        .filter(campaign_responses::kind.eq_any(["clicked", "replied"]))
        .group_by(campaign_responses::campaign_id)
        .select((
            campaign_responses::campaign_id,
            diesel::dsl::count(campaign_responses::contact_id).aggregate_distinct(),
        ))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn existing_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<i64>> {
    campaigns::table.filter(campaigns::id.eq_any(ids)).select(campaigns::id).load(conn)
}

pub fn insert_contacts(conn: &mut DbConn, contacts: &[NewContact]) -> QueryResult<()> {
    insert_in_chunks!(conn, campaign_contacts::table, contacts)
}

/// A page of a campaign's contacts (or its holdout group) with their customers, by id.
/// Erased customers are left out: nothing about them may be delivered.
pub fn contacts_page(
    conn: &mut DbConn,
    campaign_id: i64,
    holdout: bool,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<(ContactRow, CustomerRow)>> {
    campaign_contacts::table
        .inner_join(customers::table.on(customers::id.eq(campaign_contacts::customer_id)))
        .filter(campaign_contacts::campaign_id.eq(campaign_id))
        .filter(campaign_contacts::holdout.eq(holdout))
        .filter(campaign_contacts::id.gt(after_id))
        .filter(customers::erased_at.is_null())
        .order(campaign_contacts::id)
        .limit(limit)
        .select((ContactRow::as_select(), CustomerRow::as_select()))
        .load(conn)
}

/// Contacts of an email campaign that may still be mailed: email known, consent for
/// email still `subscribed` (it may have changed since the launch).
pub fn mailable_contacts(
    conn: &mut DbConn,
    campaign_id: i64,
    after_id: i64,
    limit: i64,
) -> QueryResult<Vec<(ContactRow, CustomerRow)>> {
    campaign_contacts::table
        .inner_join(customers::table.on(customers::id.eq(campaign_contacts::customer_id)))
        .filter(campaign_contacts::campaign_id.eq(campaign_id))
        .filter(campaign_contacts::holdout.eq(false))
        .filter(campaign_contacts::id.gt(after_id))
        .filter(customers::erased_at.is_null())
        .filter(customers::email.is_not_null())
        .filter(diesel::dsl::exists(
            customer_consents::table
                .filter(customer_consents::customer_id.eq(campaign_contacts::customer_id))
                .filter(customer_consents::channel.eq("email"))
                .filter(customer_consents::state.eq("subscribed")),
        ))
        .order(campaign_contacts::id)
        .limit(limit)
        .select((ContactRow::as_select(), CustomerRow::as_select()))
        .load(conn)
}

pub fn count_contacted(conn: &mut DbConn, campaign_id: i64) -> QueryResult<i64> {
    campaign_contacts::table
        .filter(campaign_contacts::campaign_id.eq(campaign_id))
        .filter(campaign_contacts::holdout.eq(false))
        .count()
        .get_result(conn)
}

/// Whether any contact was ever given a tracking token (and so links to sign).
pub fn has_tracked_contacts(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(campaign_contacts::table.filter(campaign_contacts::token.is_not_null())))
        .get_result(conn)
}

pub fn contact_by_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<ContactRow>> {
    campaign_contacts::table
        .filter(campaign_contacts::token.eq(token))
        .select(ContactRow::as_select())
        .get_result(conn)
        .optional()
}

/// The campaign's contacts (contacted or holdout) among these tokens and customers.
pub fn contacts_matching(
    conn: &mut DbConn,
    campaign_id: i64,
    tokens: &[String],
    customer_ids: &[i64],
) -> QueryResult<Vec<ContactRow>> {
    campaign_contacts::table
        .filter(campaign_contacts::campaign_id.eq(campaign_id))
        .filter(campaign_contacts::token.eq_any(tokens).or(campaign_contacts::customer_id.eq_any(customer_ids)))
        .select(ContactRow::as_select())
        .load(conn)
}

pub fn insert_responses(conn: &mut DbConn, rows: &[NewResponse]) -> QueryResult<()> {
    insert_in_chunks!(conn, campaign_responses::table, rows)?;
    record_responders(conn, rows)
}

/// The kind that stands for "clicked or replied" in the responder counts.
pub const RESPONDED: &str = "responded";

/// Counts the contacts whose first response of a kind (or first click or reply) these are.
fn record_responders(conn: &mut DbConn, rows: &[NewResponse]) -> QueryResult<()> {
    let mut firsts: BTreeSet<(i64, &str, i64)> = BTreeSet::new();
    for row in rows {
        firsts.insert((row.campaign_id, &row.kind, row.contact_id));
        if matches!(row.kind.as_str(), "clicked" | "replied") {
            firsts.insert((row.campaign_id, RESPONDED, row.contact_id));
        }
    }
    let firsts: Vec<_> = firsts.into_iter().collect();
    let mut counts: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for chunk in firsts.chunks(INSERT_CHUNK) {
        let mut sql = Sql::new(conn.backend());
        sql.push("INSERT INTO campaign_responders (campaign_id, kind, contact_id) VALUES ");
        for (index, (campaign_id, kind, contact_id)) in chunk.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.bind_list([SqlValue::Int(*campaign_id), SqlValue::Text(kind.to_string()), SqlValue::Int(*contact_id)]);
        }
        // Only the rows inserted come back: a contact already counted is not counted again.
        sql.push(" ON CONFLICT (campaign_id, kind, contact_id) DO NOTHING RETURNING campaign_id, kind");
        let inserted: Vec<CampaignKind> = sql.query().load(conn)?;
        for row in inserted {
            *counts.entry((row.campaign_id, row.kind)).or_default() += 1;
        }
    }
    add_response_counts(conn, &counts)
}

#[derive(QueryableByName)]
struct CampaignKind {
    #[diesel(sql_type = BigInt)]
    campaign_id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
}

fn add_response_counts(conn: &mut DbConn, counts: &BTreeMap<(i64, String), i64>) -> QueryResult<()> {
    let rows = counts
        .iter()
        .map(|((campaign_id, kind), n)| {
            vec![SqlValue::Int(*campaign_id), SqlValue::Text(kind.clone()), SqlValue::Int(*n)]
        })
        .collect();
    add_counters(conn, "campaign_response_counts", &["campaign_id", "kind"], &["contacts"], rows)
}

/// Stored responder counts: (campaign, kind) -> contacts (`RESPONDED` included).
/// Of these campaigns, or of all when None.
pub fn response_counts(conn: &mut DbConn, campaign_ids: Option<&[i64]>) -> QueryResult<BTreeMap<(i64, String), i64>> {
    let mut query = campaign_response_counts::table.into_boxed();
    if let Some(ids) = campaign_ids {
        query = query.filter(campaign_response_counts::campaign_id.eq_any(ids));
    }
    let rows: Vec<(i64, String, i64)> = query
        .select((
            campaign_response_counts::campaign_id,
            campaign_response_counts::kind,
            campaign_response_counts::contacts,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(c, k, n)| ((c, k), n)).filter(|(_, n)| *n != 0).collect())
}

/// Responder counts computed from the responses, for every campaign.
pub fn computed_response_counts(conn: &mut DbConn) -> QueryResult<BTreeMap<(i64, String), i64>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT campaign_id, kind, COUNT(DISTINCT contact_id) AS n FROM campaign_responses GROUP BY campaign_id, kind \
         UNION ALL SELECT campaign_id, '",
    )
    .push(RESPONDED)
    .push(
        "' AS kind, COUNT(DISTINCT contact_id) AS n FROM campaign_responses \
         WHERE kind IN ('clicked', 'replied') GROUP BY campaign_id",
    );
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        campaign_id: i64,
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = sql.query().load(conn)?;
    Ok(rows.into_iter().map(|r| ((r.campaign_id, r.kind), r.n)).collect())
}

/// Recomputes the responders and their counts from the responses.
pub fn rebuild_responders(conn: &mut DbConn) -> QueryResult<()> {
    diesel::delete(campaign_responders::table).execute(conn)?;
    diesel::delete(campaign_response_counts::table).execute(conn)?;
    diesel::sql_query(
        "INSERT INTO campaign_responders (campaign_id, kind, contact_id) \
         SELECT DISTINCT campaign_id, kind, contact_id FROM campaign_responses",
    )
    .execute(conn)?;
    diesel::sql_query(format!(
        "INSERT INTO campaign_responders (campaign_id, kind, contact_id) \
         SELECT DISTINCT campaign_id, '{RESPONDED}', contact_id FROM campaign_responses \
         WHERE kind IN ('clicked', 'replied')"
    ))
    .execute(conn)?;
    diesel::sql_query(
        "INSERT INTO campaign_response_counts (campaign_id, kind, contacts) \
         SELECT campaign_id, kind, COUNT(*) FROM campaign_responders GROUP BY campaign_id, kind",
    )
    .execute(conn)?;
    Ok(())
}

/// Whether the contact already has a response of this kind since `since`.
pub fn has_response_since(conn: &mut DbConn, contact_id: i64, kind: &str, since: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        campaign_responses::table
            .filter(campaign_responses::contact_id.eq(contact_id))
            .filter(campaign_responses::kind.eq(kind))
            .filter(campaign_responses::occurred_at.ge(since)),
    ))
    .get_result(conn)
}

/// Outbox messages of campaigns by status: campaign id -> (pending, sent, failed).
pub fn message_counts(conn: &mut DbConn, campaign_ids: &[i64]) -> QueryResult<HashMap<i64, (i64, i64, i64)>> {
    let rows: Vec<(Option<i64>, String, i64)> = messages::table
        .filter(messages::campaign_id.eq_any(campaign_ids))
        .group_by((messages::campaign_id, messages::status))
        .select((messages::campaign_id, messages::status, diesel::dsl::count_star()))
        .load(conn)?;
    let mut counts: HashMap<i64, (i64, i64, i64)> = HashMap::new();
    for (campaign_id, status, n) in rows {
        let entry = counts.entry(campaign_id.unwrap_or_default()).or_default();
        match status.as_str() {
            "pending" => entry.0 += n,
            "sent" => entry.1 += n,
            _ => entry.2 += n,
        }
    }
    Ok(counts)
}

/// Contacts with at least one response of each kind.
pub fn unique_responses(conn: &mut DbConn, campaign_id: i64) -> QueryResult<Vec<(String, i64)>> {
    campaign_responses::table
        .filter(campaign_responses::campaign_id.eq(campaign_id))
        .group_by(campaign_responses::kind)
        .select((campaign_responses::kind, diesel::dsl::count(campaign_responses::contact_id).aggregate_distinct()))
        .load(conn)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Contacted (or holdout) customers with an order, not cancelled, placed in the window.
pub fn converted(
    conn: &mut DbConn,
    campaign_id: i64,
    holdout: bool,
    window: (NaiveDateTime, NaiveDateTime),
) -> QueryResult<i64> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT COUNT(*) AS n FROM campaign_contacts k WHERE k.campaign_id = ")
        .bind(SqlValue::Int(campaign_id))
        .push(if holdout { " AND k.holdout = TRUE" } else { " AND k.holdout = FALSE" })
        .push(" AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = k.customer_id AND ")
        .push(&live_order("o"))
        .push(" AND o.placed_at >= ")
        .bind(SqlValue::Time(window.0))
        .push(" AND o.placed_at <= ")
        .bind(SqlValue::Time(window.1))
        .push(")");
    let row: Count = sql.query().get_result(conn)?;
    Ok(row.n)
}

/// Orders attributed to the campaign, per currency, net of refunds: orders of contacted
/// customers in the window, and orders since the launch that used the campaign's codes.
pub fn attributed(
    conn: &mut DbConn,
    campaign_id: i64,
    shared_code_id: Option<i64>,
    window: (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<AttributedRow>> {
    // Two index-driven sets (the contacts' orders in the window; orders with the codes)
    // joined by UNION: an OR across them would read every order.
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.currency AS currency, COUNT(*) AS orders, CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS revenue \
         FROM orders o WHERE o.id IN (\
           SELECT c.id FROM campaign_contacts k JOIN orders c ON c.customer_id = k.customer_id \
           WHERE k.holdout = FALSE AND k.campaign_id = ",
    )
    .bind(SqlValue::Int(campaign_id))
    .push(" AND ")
    .push(&live_order("c"))
    .push(" AND c.placed_at >= ")
    .bind(SqlValue::Time(window.0))
    .push(" AND c.placed_at <= ")
    .bind(SqlValue::Time(window.1))
    .push(" UNION SELECT p.id FROM orders p WHERE ")
    .push(&live_order("p"))
    .push(
        " AND p.promo_code_status = 'applied' \
          AND p.promo_code IN (SELECT code FROM promo_codes WHERE campaign_id = ",
    )
    .bind(SqlValue::Int(campaign_id));
    if let Some(shared) = shared_code_id {
        sql.push(" OR id = ").bind(SqlValue::Int(shared));
    }
    sql.push(") AND p.placed_at >= ").bind(SqlValue::Time(window.0));
    sql.push(") GROUP BY o.currency ORDER BY o.currency");
    sql.query().load(conn)
}

#[derive(Debug, QueryableByName)]
pub struct RedemptionTotals {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub redemptions: i64,
    #[diesel(sql_type = BigInt)]
    pub discount: i64,
}

/// Redemptions of the campaign's codes on orders that stand (a shared code: since launch),
/// per currency of the orders.
pub fn redemptions(
    conn: &mut DbConn,
    campaign_id: i64,
    shared_code_id: Option<i64>,
    since: NaiveDateTime,
) -> QueryResult<Vec<RedemptionTotals>> {
    // The campaign's own codes, and its shared code since the launch, as one UNION (an OR
    // across the join would read every redemption).
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.currency AS currency, COUNT(*) AS redemptions, CAST(SUM(r.discount_amount) AS BIGINT) AS discount \
         FROM promo_redemptions r JOIN orders o ON o.id = r.order_id WHERE ",
    )
    .push(&live_order("o"))
    .push(
        " AND r.id IN (\
           SELECT own.id FROM promo_redemptions own \
           WHERE own.promo_code_id IN (SELECT id FROM promo_codes WHERE campaign_id = ",
    )
    .bind(SqlValue::Int(campaign_id))
    .push(")");
    if let Some(shared) = shared_code_id {
        sql.push(
            " UNION SELECT s.id FROM promo_redemptions s JOIN orders so ON so.id = s.order_id \
              WHERE s.promo_code_id = ",
        )
        .bind(SqlValue::Int(shared))
        .push(" AND so.placed_at >= ")
        .bind(SqlValue::Time(since));
    }
    sql.push(") GROUP BY o.currency ORDER BY o.currency");
    sql.query().load(conn)
}

/// A customer's contacts and responses, for the timeline and the export.
pub fn contacts_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<ContactRow>> {
    campaign_contacts::table
        .filter(campaign_contacts::customer_id.eq(customer_id))
        .order(campaign_contacts::id)
        .select(ContactRow::as_select())
        .load(conn)
}

pub fn responses_of(conn: &mut DbConn, customer_id: i64) -> QueryResult<Vec<ResponseRow>> {
    campaign_responses::table
        .filter(campaign_responses::customer_id.eq(customer_id))
        .order(campaign_responses::id)
        .select(ResponseRow::as_select())
        .load(conn)
}

pub fn contacts_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ContactRow>> {
    campaign_contacts::table.filter(campaign_contacts::id.eq_any(ids)).select(ContactRow::as_select()).load(conn)
}

pub fn responses_by_id(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ResponseRow>> {
    campaign_responses::table.filter(campaign_responses::id.eq_any(ids)).select(ResponseRow::as_select()).load(conn)
}

/// Merge: the duplicate's contacts and responses become the survivor's.
pub fn move_customer(conn: &mut DbConn, from: i64, to: i64) -> QueryResult<()> {
    diesel::update(campaign_contacts::table.filter(campaign_contacts::customer_id.eq(from)))
        .set(campaign_contacts::customer_id.eq(to))
        .execute(conn)?;
    diesel::update(campaign_responses::table.filter(campaign_responses::customer_id.eq(from)))
        .set(campaign_responses::customer_id.eq(to))
        .execute(conn)?;
    Ok(())
}

/// Erasure: the contacts stay for the campaigns' figures, without their tracking tokens.
pub fn strip_customer(conn: &mut DbConn, customer_id: i64) -> QueryResult<()> {
    diesel::update(campaign_contacts::table.filter(campaign_contacts::customer_id.eq(customer_id)))
        .set(campaign_contacts::token.eq(None::<String>))
        .execute(conn)
        .map(drop)
}

// ---- Campaign results (kept by services::rollups) --------------------------------------

/// The customers' contacts in launched campaigns, with their attribution windows.
pub fn contact_windows(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<ContactWindow>> {
    let rows: Vec<(i64, i64, i64, bool, Option<NaiveDateTime>, i64)> = campaign_contacts::table
        .inner_join(campaigns::table)
        .filter(campaign_contacts::customer_id.eq_any(customer_ids))
        .filter(campaigns::launched_at.is_not_null())
        .order(campaign_contacts::id)
        .select((
            campaign_contacts::id,
            campaign_contacts::campaign_id,
            campaign_contacts::customer_id,
            campaign_contacts::holdout,
            campaigns::launched_at,
            campaigns::attribution_window_days,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(contact_id, campaign_id, customer_id, holdout, launched_at, days)| {
            let opens = launched_at?;
            Some(ContactWindow {
                contact_id,
                campaign_id,
                customer_id,
                holdout,
                opens,
                closes: window_end(opens, days),
            })
        })
        .collect())
}

/// The end of an attribution window of `days` opened at `opens` (inclusive).
pub fn window_end(opens: NaiveDateTime, days: i64) -> NaiveDateTime {
    opens + chrono::Duration::days(days)
}

/// (id, customer, placed at, currency, total, refunded, promo code id, promo code status).
type StandingOrderRow = (i64, i64, NaiveDateTime, String, i64, i64, Option<i64>, Option<String>);

/// The customers' orders that stand (not cancelled).
pub fn standing_orders(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<StandingOrder>> {
    let rows: Vec<StandingOrderRow> = orders::table
        .filter(orders::customer_id.eq_any(customer_ids))
        .filter(live_orders())
        .order(orders::id)
        .select((
            orders::id,
            orders::customer_id,
            orders::placed_at,
            orders::currency,
            orders::total,
            orders::refunded_total,
            orders::promo_code_id,
            orders::promo_code_status,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, customer_id, placed_at, currency, total, refunded, promo_code_id, promo_status)| StandingOrder {
            id,
            customer_id,
            placed_at,
            currency,
            net: total - refunded,
            promo_code_id: promo_code_id.filter(|_| promo_status.as_deref() == Some("applied")),
        })
        .collect())
}

/// The launched campaigns these promo codes belong to, as own or as shared codes (a code
/// that is both counts as own: own codes count at any time, shared ones since the launch).
pub fn code_campaigns(conn: &mut DbConn, code_ids: &[i64]) -> QueryResult<Vec<CodeCampaign>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        promo_code_id: i64,
        #[diesel(sql_type = BigInt)]
        campaign_id: i64,
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        launched_at: NaiveDateTime,
        #[diesel(sql_type = BigInt)]
        own: i64,
    }
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT p.id AS promo_code_id, c.id AS campaign_id, c.launched_at AS launched_at, \
         CAST(CASE WHEN p.campaign_id = c.id THEN 1 ELSE 0 END AS BIGINT) AS own \
         FROM promo_codes p JOIN campaigns c ON c.id = p.campaign_id OR c.promo_code_id = p.id \
         WHERE c.launched_at IS NOT NULL AND p.id IN ",
    )
    .bind_list(code_ids.iter().map(|id| SqlValue::Int(*id)));
    sql.push(" ORDER BY p.id, c.id");
    let rows: Vec<Row> = sql.query().load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| CodeCampaign {
            promo_code_id: r.promo_code_id,
            campaign_id: r.campaign_id,
            launched_at: r.launched_at,
            shared: r.own == 0,
        })
        .collect())
}

/// The redemptions recorded on these orders.
pub fn redemptions_on(conn: &mut DbConn, order_ids: &[i64]) -> QueryResult<Vec<Redemption>> {
    let rows: Vec<(i64, i64, i64, i64)> = promo_redemptions::table
        .filter(promo_redemptions::order_id.eq_any(order_ids))
        .order(promo_redemptions::id)
        .select((
            promo_redemptions::id,
            promo_redemptions::order_id,
            promo_redemptions::promo_code_id,
            promo_redemptions::discount_amount,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, order_id, promo_code_id, discount)| Redemption { id, order_id, promo_code_id, discount })
        .collect())
}

/// Adds to the stored results, in key order (so concurrent writers lock rows in the same
/// order and cannot deadlock).
pub fn add_results(
    conn: &mut DbConn,
    conversions: &ConversionCounts,
    figures: &CampaignOrderFigures,
) -> QueryResult<()> {
    let conversions = conversions
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|((campaign_id, holdout), n)| {
            vec![SqlValue::Int(*campaign_id), SqlValue::Bool(*holdout), SqlValue::Int(*n)]
        })
        .collect();
    add_counters(conn, "campaign_conversions", &["campaign_id", "holdout"], &["contacts"], conversions)?;
    let figures = figures
        .iter()
        .filter(|(_, f)| **f != CampaignFigures::default())
        .map(|((campaign_id, currency), f)| {
            vec![
                SqlValue::Int(*campaign_id),
                SqlValue::Text(currency.clone()),
                SqlValue::Int(f.orders),
                SqlValue::Int(f.revenue),
                SqlValue::Int(f.redemptions),
                SqlValue::Int(f.discount),
            ]
        })
        .collect();
    let counters = ["orders", "revenue", "redemptions", "discount"];
    add_counters(conn, "campaign_orders", &["campaign_id", "currency"], &counters, figures)
}

/// The stored results of these campaigns: converted contacts per (campaign, holdout), and
/// figures per (campaign, currency).
pub fn results(conn: &mut DbConn, campaign_ids: &[i64]) -> QueryResult<(ConversionCounts, CampaignOrderFigures)> {
    let conversions: Vec<(i64, bool, i64)> = campaign_conversions::table
        .filter(campaign_conversions::campaign_id.eq_any(campaign_ids))
        .select((campaign_conversions::campaign_id, campaign_conversions::holdout, campaign_conversions::contacts))
        .load(conn)?;
    let figures: Vec<(i64, String, i64, i64, i64, i64)> = campaign_orders::table
        .filter(campaign_orders::campaign_id.eq_any(campaign_ids))
        .select((
            campaign_orders::campaign_id,
            campaign_orders::currency,
            campaign_orders::orders,
            campaign_orders::revenue,
            campaign_orders::redemptions,
            campaign_orders::discount,
        ))
        .load(conn)?;
    let conversions = conversions.into_iter().map(|(c, h, n)| ((c, h), n)).collect();
    let figures = figures
        .into_iter()
        .map(|(c, currency, orders, revenue, redemptions, discount)| {
            ((c, currency), CampaignFigures { orders, revenue, redemptions, discount })
        })
        .collect();
    Ok((conversions, figures))
}

pub fn clear_results(conn: &mut DbConn) -> QueryResult<()> {
    diesel::delete(campaign_conversions::table).execute(conn)?;
    diesel::delete(campaign_orders::table).execute(conn)?;
    Ok(())
}

/// Every launched campaign, for rebuilding and checking their results.
pub fn launched(conn: &mut DbConn) -> QueryResult<Vec<CampaignRow>> {
    campaigns::table
        .filter(campaigns::launched_at.is_not_null())
        .order(campaigns::id)
        .select(CampaignRow::as_select())
        .load(conn)
}
