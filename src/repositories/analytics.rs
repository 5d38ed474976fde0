//! Read-only queries for dashboards.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::sql::{add_counters, days_between, json_text, live_order, live_orders, Sql, SqlValue, Term};
use crate::db::schema::{
    consent_events, customer_consents, customers, orders, purchase_day_counts, purchase_days, rollup_state,
    sales_customers, sales_daily,
};
use crate::db::DbConn;
use crate::domain::analytics::LineGroup;
use crate::domain::cohorts::{CohortCell, CohortFigures, CohortOrder};
use crate::domain::period::Granularity;
use crate::domain::purchase_days::{BuyerDays, BuyerKey, DayRangePlan, MonthCell, PurchaseDay};
use crate::domain::sales::{Dimension, Figures, OrderFacts, PeriodKey, RollupKey};
use crate::models::analytics::{FiguresRow, KeyCountRow, LineFactsRow, OrderFactsRow, PeriodCountRow, PurchaseDayRow};
use crate::models::analytics::{RfmSegmentRow, SourceRow};

/// (channel, state, customers) now.
pub fn consent_states(conn: &mut DbConn) -> QueryResult<Vec<(String, String, i64)>> {
    customer_consents::table
        .group_by((customer_consents::channel, customer_consents::state))
        .select((customer_consents::channel, customer_consents::state, diesel::dsl::count_star()))
        .load(conn)
}

/// (occurred_at, channel, state) of the opt-ins and opt-outs in `[from, to)`.
pub fn consent_changes(
    conn: &mut DbConn,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, String, String)>> {
    consent_events::table
        .filter(consent_events::occurred_at.ge(from))
        .filter(consent_events::occurred_at.lt(to))
        .filter(consent_events::state.eq_any(["subscribed", "unsubscribed"]))
        .select((consent_events::occurred_at, consent_events::channel, consent_events::state))
        .load(conn)
}

/// (customer source, customers, of whom email-subscribed), erased customers left out.
pub fn email_opt_in_by_source(conn: &mut DbConn) -> QueryResult<Vec<(String, i64, i64)>> {
    let totals: Vec<(String, i64)> = customers::table
        .filter(customers::erased_at.is_null())
        .group_by(customers::source)
        .select((customers::source, diesel::dsl::count_star()))
        .load(conn)?;
    let subscribed: Vec<(String, i64)> = customers::table
        .inner_join(customer_consents::table)
        .filter(customers::erased_at.is_null())
        .filter(customer_consents::channel.eq("email"))
        .filter(customer_consents::state.eq("subscribed"))
        .group_by(customers::source)
        .select((customers::source, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(totals
        .into_iter()
        .map(|(source, n)| {
            let yes = subscribed.iter().find(|(s, _)| *s == source).map_or(0, |(_, k)| *k);
            (source, n, yes)
        })
        .collect())
}

// ---- Sales rollups -------------------------------------------------------------------

/// Which orders to read the facts of (conditions on `orders o`); a `placed` range also
/// leaves cancelled orders out.
#[derive(Debug, Clone, Default)]
pub struct OrderSelection {
    pub ids: Vec<i64>,
    pub customer_ids: Vec<i64>,
    pub customer_range: Option<(i64, i64)>,
    /// Leave cancelled orders out.
    pub live_only: bool,
    /// Work out whether each order was its customer's first (costs a lookup per order).
    pub with_first: bool,
    pub id_range: Option<(i64, i64)>,
    pub placed: Option<(NaiveDateTime, NaiveDateTime)>,
    pub currency: Option<String>,
}

impl OrderSelection {
    fn push_where(&self, sql: &mut Sql) {
        sql.push(" WHERE 1 = 1");
        if !self.ids.is_empty() {
            sql.push(" AND o.id IN ").bind_list(self.ids.iter().map(|&id| SqlValue::Int(id)));
        }
        if !self.customer_ids.is_empty() {
            sql.push(" AND o.customer_id IN ").bind_list(self.customer_ids.iter().map(|&id| SqlValue::Int(id)));
        }
        if let Some((low, high)) = self.customer_range {
            sql.push(" AND o.customer_id >= ").bind(SqlValue::Int(low));
            sql.push(" AND o.customer_id < ").bind(SqlValue::Int(high));
        }
        if self.live_only {
            sql.push(" AND ").push(&live_order("o"));
        }
        if let Some((low, high)) = self.id_range {
            sql.push(" AND o.id >= ").bind(SqlValue::Int(low)).push(" AND o.id < ").bind(SqlValue::Int(high));
        }
        if let Some((from, to)) = self.placed {
            sql.push(" AND o.placed_at >= ").bind(SqlValue::Time(from));
            sql.push(" AND o.placed_at < ").bind(SqlValue::Time(to));
            sql.push(" AND ").push(&live_order("o"));
        }
        if let Some(currency) = &self.currency {
            sql.push(" AND o.currency = ").bind(SqlValue::Text(currency.clone()));
        }
    }
}

/// Whether `o` is its customer's first order in its currency (earliest placed, then lowest id).
fn is_first_sql() -> String {
    format!(
        "({} AND NOT EXISTS (SELECT 1 FROM orders p \
         WHERE p.customer_id = o.customer_id AND p.currency = o.currency AND {} \
         AND (p.placed_at < o.placed_at OR (p.placed_at = o.placed_at AND p.id < o.id))))",
        live_order("o"),
        live_order("p")
    )
}

/// The facts of the selected orders with their lines, and whether each was its customer's
/// first order, ordered by id.
pub fn order_facts(conn: &mut DbConn, selection: &OrderSelection) -> QueryResult<Vec<(OrderFacts, bool)>> {
    let backend = conn.backend();
    let mut orders_sql = Sql::new(backend);
    orders_sql.push(
        "SELECT o.id, o.customer_id, o.currency, o.channel, c.source, o.placed_at, o.status, o.promo_code, \
         o.promo_code_status, o.subtotal, o.discount_total, o.total, o.refunded_total, ",
    );
    orders_sql
        .push(&if selection.with_first { is_first_sql() } else { "FALSE".into() })
        .push(" AS is_first FROM orders o JOIN customers c ON c.id = o.customer_id");
    selection.push_where(&mut orders_sql);
    orders_sql.push(" ORDER BY o.id");
    let orders: Vec<OrderFactsRow> = orders_sql.query().load(conn)?;
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines_sql = Sql::new(backend);
    lines_sql.push(
        "SELECT l.order_id, l.sku, l.product_type, l.quantity, l.refunded_quantity, l.unit_price \
         FROM order_lines l WHERE l.order_id IN (SELECT o.id FROM orders o",
    );
    selection.push_where(&mut lines_sql);
    lines_sql.push(") ORDER BY l.order_id, l.id");
    let lines: Vec<LineFactsRow> = lines_sql.query().load(conn)?;
    let mut lines_by_order: HashMap<i64, Vec<LineFactsRow>> = HashMap::new();
    for line in lines {
        lines_by_order.entry(line.order_id).or_default().push(line);
    }
    Ok(orders
        .into_iter()
        .map(|order| {
            let lines = lines_by_order.remove(&order.id).unwrap_or_default();
            order.into_facts(lines)
        })
        .collect())
}

/// Highest order and customer ids (0 when empty), to walk them in ranges.
pub fn max_ids(conn: &mut DbConn) -> QueryResult<(i64, i64)> {
    let order: Option<i64> = orders::table.select(diesel::dsl::max(orders::id)).get_result(conn)?;
    let customer: Option<i64> = customers::table.select(diesel::dsl::max(customers::id)).get_result(conn)?;
    Ok((order.unwrap_or(0), customer.unwrap_or(0)))
}

/// Adds figures to the daily rollup, in key order (so concurrent writers lock rows in the
/// same order and cannot deadlock); rows that fall to zero are removed.
pub fn add_sales(conn: &mut DbConn, deltas: &BTreeMap<RollupKey, Figures>) -> QueryResult<()> {
    let deltas: Vec<(&RollupKey, &Figures)> = deltas.iter().filter(|(_, f)| !f.is_zero()).collect();
    let rows = deltas
        .iter()
        .map(|(key, figures)| {
            vec![
                SqlValue::Text(key.dimension.as_str().to_string()),
                SqlValue::Text(key.value.clone()),
                SqlValue::Text(key.currency.clone()),
                SqlValue::Date(key.day),
                SqlValue::Int(figures.orders),
                SqlValue::Int(figures.units),
                SqlValue::Int(figures.gross),
                SqlValue::Int(figures.discounts),
                SqlValue::Int(figures.refunds),
                SqlValue::Int(figures.new_customers),
            ]
        })
        .collect();
    let keys = ["dimension", "value", "currency", "day"];
    let counters = ["orders", "units", "gross", "discounts", "refunds", "new_customers"];
    add_counters(conn, "sales_daily", &keys, &counters, rows)?;
    // Only a row something was taken from can have fallen to zero.
    for (key, figures) in deltas {
        let decreased = [figures.orders, figures.units, figures.gross, figures.discounts, figures.refunds]
            .iter()
            .chain([&figures.new_customers])
            .any(|&n| n < 0);
        if decreased {
            delete_if_zero(conn, key)?;
        }
    }
    Ok(())
}

fn delete_if_zero(conn: &mut DbConn, key: &RollupKey) -> QueryResult<()> {
    diesel::delete(
        sales_daily::table
            .find((key.dimension.as_str(), key.value.as_str(), key.currency.as_str(), key.day))
            .filter(sales_daily::orders.eq(0))
            .filter(sales_daily::units.eq(0))
            .filter(sales_daily::gross.eq(0))
            .filter(sales_daily::discounts.eq(0))
            .filter(sales_daily::refunds.eq(0))
            .filter(sales_daily::new_customers.eq(0)),
    )
    .execute(conn)
    .map(drop)
}

/// Adds to the distinct-customer counts, in key order (see `add_sales`).
pub fn add_customers(conn: &mut DbConn, deltas: &BTreeMap<PeriodKey, i64>) -> QueryResult<()> {
    let deltas: Vec<_> = deltas.iter().filter(|(_, &n)| n != 0).collect();
    let rows = deltas
        .iter()
        .map(|((granularity, start, currency, dimension, value), n)| {
            vec![
                SqlValue::Text(dimension.as_str().to_string()),
                SqlValue::Text(value.clone()),
                SqlValue::Text(granularity.to_string()),
                SqlValue::Text(currency.clone()),
                SqlValue::Date(*start),
                SqlValue::Int(**n),
            ]
        })
        .collect();
    let keys = ["dimension", "value", "granularity", "currency", "period_start"];
    add_counters(conn, "sales_customers", &keys, &["customers"], rows)?;
    for ((granularity, start, currency, dimension, value), _) in deltas.iter().filter(|(_, &n)| n < 0) {
        diesel::delete(
            sales_customers::table
                .find((dimension.as_str(), value.as_str(), *granularity, currency.as_str(), *start))
                .filter(sales_customers::customers.eq(0)),
        )
        .execute(conn)?;
    }
    Ok(())
}

pub fn clear_rollups(conn: &mut DbConn) -> QueryResult<()> {
    diesel::delete(sales_daily::table).execute(conn)?;
    diesel::delete(sales_customers::table).execute(conn)?;
    diesel::sql_query("DELETE FROM cohort_activity").execute(conn)?;
    Ok(())
}

/// The time zone the rollups are kept in ("" until they are first built).
pub fn rollup_timezone(conn: &mut DbConn) -> QueryResult<String> {
    rollup_state::table.find(1).select(rollup_state::timezone).get_result(conn)
}

pub fn set_rollup_timezone(conn: &mut DbConn, timezone: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(rollup_state::table.find(1))
        .set((rollup_state::timezone.eq(timezone), rollup_state::built_at.eq(Some(now))))
        .execute(conn)
        .map(drop)
}

/// Keeps writers of orders out while the rollups are rebuilt (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already does).
pub fn lock_orders(conn: &mut DbConn) -> QueryResult<()> {
    if conn.backend() == crate::db::Backend::Postgres {
        diesel::sql_query("LOCK TABLE orders IN SHARE MODE").execute(conn)?;
    }
    Ok(())
}

/// After a rebuild replaced the rollup tables, on PostgreSQL: a visibility map, so the
/// covering indexes answer without reading the tables (every page is new and unmarked after
/// a rebuild, and `products/top` took three times as long until autovacuum came by), and
/// fresh planner statistics. `VACUUM` cannot run in a transaction: call it after commit.
/// SQLite needs neither (and its planner did worse with `ANALYZE` statistics here).
pub fn vacuum_rollups(conn: &mut DbConn) -> QueryResult<()> {
    if conn.backend() == crate::db::Backend::Postgres {
        diesel::sql_query(
            "VACUUM (ANALYZE) sales_daily, sales_customers, purchase_days, purchase_day_counts, \
             campaign_conversions, campaign_orders, campaign_responders, campaign_response_counts",
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Declares that this transaction writes orders, before it reads anything for the rollups:
/// on PostgreSQL it then waits while a campaign launch holds `lock_orders`, and a launch
/// waits for it. (SQLite runs one writer at a time anyway.)
pub fn announce_order_writes(conn: &mut DbConn) -> QueryResult<()> {
    if conn.backend() == crate::db::Backend::Postgres {
        diesel::sql_query("LOCK TABLE orders IN ROW EXCLUSIVE MODE").execute(conn)?;
    }
    Ok(())
}

/// Every rollup row, for comparing with a recomputation.
pub fn all_sales(conn: &mut DbConn) -> QueryResult<BTreeMap<RollupKey, Figures>> {
    let rows: Vec<FiguresRowWithKey> = sales_daily::table
        .select((
            sales_daily::dimension,
            sales_daily::value,
            sales_daily::currency,
            sales_daily::day,
            sales_daily::orders,
            sales_daily::units,
            sales_daily::gross,
            sales_daily::discounts,
            sales_daily::refunds,
            sales_daily::new_customers,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(dimension, value, currency, day, orders, units, gross, discounts, refunds, new_customers)| {
            let key = RollupKey { dimension: Dimension::parse(&dimension)?, value, currency, day };
            Some((key, Figures { orders, units, gross, discounts, refunds, new_customers }))
        })
        .collect())
}

type FiguresRowWithKey = (String, String, String, NaiveDate, i64, i64, i64, i64, i64, i64);

/// A stored distinct-customer count's key: (granularity, start, currency, dimension, value).
pub type StoredPeriodKey = (String, NaiveDate, String, String, String);

/// Every distinct-customer count.
pub fn all_customer_counts(conn: &mut DbConn) -> QueryResult<BTreeMap<StoredPeriodKey, i64>> {
    let rows: Vec<(String, NaiveDate, String, String, String, i64)> = sales_customers::table
        .select((
            sales_customers::granularity,
            sales_customers::period_start,
            sales_customers::currency,
            sales_customers::dimension,
            sales_customers::value,
            sales_customers::customers,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(g, start, currency, d, v, n)| ((g, start, currency, d, v), n)).collect())
}

/// Figures per local day of one dimension value, `[from, to]`.
pub fn sales_by_day(
    conn: &mut DbConn,
    dimension: Dimension,
    value: &str,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<FiguresRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT value, day, orders, units, gross, discounts, refunds, new_customers FROM sales_daily \
         WHERE dimension = ",
    )
    .bind(SqlValue::Text(dimension.as_str().into()));
    sql.push(" AND value = ").bind(SqlValue::Text(value.into()));
    sql.push(" AND currency = ").bind(SqlValue::Text(currency.into()));
    sql.push(" AND day >= ").bind(SqlValue::Date(from));
    sql.push(" AND day <= ").bind(SqlValue::Date(to));
    sql.push(" ORDER BY day");
    sql.query().load(conn)
}

/// Figures per value of one dimension summed over `[from, to]` (`day` holds `from`).
pub fn sales_by_value(
    conn: &mut DbConn,
    dimension: Dimension,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<FiguresRow>> {
    let mut sql = Sql::new(conn.backend());
    let sum = |c: &str| format!("CAST(SUM({c}) AS BIGINT) AS {c}");
    sql.push("SELECT value, MIN(day) AS day, ");
    let sums: Vec<String> = ["orders", "units", "gross", "discounts", "refunds", "new_customers"].map(sum).to_vec();
    sql.push(&sums.join(", "));
    sql.push(" FROM sales_daily WHERE dimension = ").bind(SqlValue::Text(dimension.as_str().into()));
    sql.push(" AND currency = ").bind(SqlValue::Text(currency.into()));
    sql.push(" AND day >= ").bind(SqlValue::Date(from));
    sql.push(" AND day <= ").bind(SqlValue::Date(to));
    sql.push(" GROUP BY value");
    sql.query().load(conn)
}

/// Distinct customers per whole period of a granularity under one dimension value, `[from, to]`.
pub fn customers_by_period(
    conn: &mut DbConn,
    (dimension, value): (Dimension, &str),
    granularity: &str,
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<PeriodCountRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT period_start, customers FROM sales_customers WHERE dimension = ")
        .bind(SqlValue::Text(dimension.as_str().into()));
    sql.push(" AND value = ").bind(SqlValue::Text(value.into()));
    sql.push(" AND granularity = ").bind(SqlValue::Text(granularity.into()));
    sql.push(" AND currency = ").bind(SqlValue::Text(currency.into()));
    sql.push(" AND period_start >= ").bind(SqlValue::Date(from));
    sql.push(" AND period_start <= ").bind(SqlValue::Date(to));
    sql.query().load(conn)
}

/// Distinct customers of one whole period, per value of a dimension (`values` only).
pub fn customers_by_value(
    conn: &mut DbConn,
    (dimension, values): (Dimension, &[String]),
    granularity: &str,
    currency: &str,
    period_start: NaiveDate,
) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sales_customers::table
        .filter(sales_customers::dimension.eq(dimension.as_str()))
        .filter(sales_customers::value.eq_any(values))
        .filter(sales_customers::granularity.eq(granularity))
        .filter(sales_customers::currency.eq(currency))
        .filter(sales_customers::period_start.eq(period_start))
        .select((sales_customers::value, sales_customers::customers))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Currencies with sales in `[from, to]`, most orders first.
pub fn currencies_by_orders(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<String>> {
    Ok(orders_per_currency(conn, from, to)?.into_iter().map(|(c, _)| c).collect())
}

/// The orders of each currency with sales in `[from, to]`, most orders first: the
/// currencies of the years the range touches, then each one's orders in the range, all
/// through primary keys.
pub fn orders_per_currency(conn: &mut DbConn, from: NaiveDate, to: NaiveDate) -> QueryResult<Vec<(String, i64)>> {
    let first_year = NaiveDate::from_ymd_opt(from.year(), 1, 1).unwrap_or(from);
    let currencies: Vec<String> = sales_customers::table
        .filter(sales_customers::dimension.eq("all"))
        .filter(sales_customers::value.eq(""))
        .filter(sales_customers::granularity.eq("year"))
        .filter(sales_customers::period_start.ge(first_year))
        .filter(sales_customers::period_start.le(to))
        .select(sales_customers::currency)
        .distinct()
        .load(conn)?;
    let mut counts = Vec::new();
    for currency in currencies {
        let orders: Vec<i64> = sales_daily::table
            .filter(sales_daily::dimension.eq("all"))
            .filter(sales_daily::value.eq(""))
            .filter(sales_daily::currency.eq(&currency))
            .filter(sales_daily::day.ge(from))
            .filter(sales_daily::day.le(to))
            .select(sales_daily::orders)
            .load(conn)?;
        let total: i64 = orders.iter().sum();
        if total > 0 {
            counts.push((currency, total));
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(counts)
}

// ---- Reads straight from the orders --------------------------------------------------

/// Lines of orders placed in `[from, to)` (not cancelled) in one currency, grouped.
#[derive(Debug, Clone)]
pub struct LineQuery {
    pub group: LineGroup,
    pub placed: (NaiveDateTime, NaiveDateTime),
    pub currency: String,
    pub channel: Option<String>,
    /// The catalogue's product type of the line's SKU.
    pub product_type: Option<String>,
    pub category: Option<String>,
}

#[derive(Debug, QueryableByName)]
pub struct LineGroupRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub units: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub gross: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub discounts: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub refunds: i64,
}

fn push_group_key(sql: &mut Sql, group: &LineGroup) {
    match group {
        LineGroup::Sku => sql.push("l.sku"),
        LineGroup::ProductType => sql.push("l.product_type"),
        LineGroup::Category => sql.push("p.category"),
        LineGroup::Attribute(key) => {
            json_text(sql, "l.attributes", key);
            sql
        }
    };
}

/// Units, line value, discount shares, refunded value, orders and distinct customers per
/// group, computed from the order lines (the same definitions as the rollups).
pub fn line_groups(conn: &mut DbConn, query: &LineQuery) -> QueryResult<Vec<LineGroupRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT ");
    push_group_key(&mut sql, &query.group);
    sql.push(
        " AS key, COUNT(DISTINCT o.id) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
         CAST(SUM(l.quantity - l.refunded_quantity) AS BIGINT) AS units, \
         CAST(SUM(l.quantity * l.unit_price) AS BIGINT) AS gross, \
         CAST(SUM(CASE WHEN o.subtotal > 0 THEN o.discount_total * l.quantity * l.unit_price / o.subtotal ELSE 0 END) \
              AS BIGINT) AS discounts, \
         CAST(SUM(l.refunded_quantity * l.unit_price) AS BIGINT) AS refunds \
         FROM order_lines l JOIN orders o ON o.id = l.order_id LEFT JOIN products p ON p.sku = l.sku \
         WHERE o.placed_at >= ",
    )
    .bind(SqlValue::Time(query.placed.0));
    sql.push(" AND o.placed_at < ").bind(SqlValue::Time(query.placed.1));
    sql.push(" AND ").push(&live_order("o")).push(" AND o.currency = ").bind(SqlValue::Text(query.currency.clone()));
    if let Some(channel) = &query.channel {
        sql.push(" AND o.channel = ").bind(SqlValue::Text(channel.clone()));
    }
    if let Some(product_type) = &query.product_type {
        sql.push(" AND p.product_type = ").bind(SqlValue::Text(product_type.clone()));
    }
    if let Some(category) = &query.category {
        sql.push(" AND p.category = ").bind(SqlValue::Text(category.clone()));
    }
    sql.push(" AND ");
    push_group_key(&mut sql, &query.group);
    sql.push(" IS NOT NULL GROUP BY 1");
    sql.query().load(conn)
}

/// Distinct customers per applied promo code, orders placed in `[from, to)`.
pub fn promo_customers(
    conn: &mut DbConn,
    placed: (NaiveDateTime, NaiveDateTime),
    currency: &str,
) -> QueryResult<Vec<KeyCountRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.promo_code AS key, COUNT(DISTINCT o.customer_id) AS n FROM orders o \
         WHERE o.promo_code IS NOT NULL AND o.placed_at >= ",
    )
    .bind(SqlValue::Time(placed.0));
    sql.push(" AND o.placed_at < ").bind(SqlValue::Time(placed.1));
    sql.push(" AND ").push(&live_order("o")).push(" AND o.promo_code_status = 'applied' AND o.currency = ");
    sql.bind(SqlValue::Text(currency.into()));
    sql.push(" GROUP BY o.promo_code");
    sql.query().load(conn)
}

/// Orders, distinct customers and net revenue by the customer's source, `[from, to)`.
pub fn sales_by_source(
    conn: &mut DbConn,
    placed: (NaiveDateTime, NaiveDateTime),
    currency: &str,
) -> QueryResult<Vec<SourceRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT c.source, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
         CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS net_revenue \
         FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.placed_at >= ",
    )
    .bind(SqlValue::Time(placed.0));
    sql.push(" AND o.placed_at < ").bind(SqlValue::Time(placed.1));
    sql.push(" AND ").push(&live_order("o")).push(" AND o.currency = ").bind(SqlValue::Text(currency.into()));
    sql.push(" GROUP BY c.source");
    sql.query().load(conn)
}

/// Currencies of orders placed in `[from, to)`, most orders first.
pub fn currencies_in(conn: &mut DbConn, placed: (NaiveDateTime, NaiveDateTime)) -> QueryResult<Vec<String>> {
    let mut rows: Vec<(String, i64)> = orders::table
        .filter(orders::placed_at.ge(placed.0))
        .filter(orders::placed_at.lt(placed.1))
        .filter(live_orders())
        .group_by(orders::currency)
        .select((orders::currency, diesel::dsl::count_star()))
        .load(conn)?;
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(rows.into_iter().map(|(c, _)| c).collect())
}

/// Buyers in one currency, optionally only those whose first order was placed in `[from, to)`:
/// the conditions on `customer_order_stats s`.
fn push_buyers(sql: &mut Sql, currency: &str, first_order: Option<(NaiveDateTime, NaiveDateTime)>) {
    sql.push(" FROM customer_order_stats s WHERE s.currency = ").bind(SqlValue::Text(currency.into()));
    if let Some((from, to)) = first_order {
        sql.push(" AND s.first_order_at >= ").bind(SqlValue::Time(from));
        sql.push(" AND s.first_order_at < ").bind(SqlValue::Time(to));
    }
}

#[derive(Debug, QueryableByName)]
pub struct BuyerTotals {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub spent: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub repeat_customers: i64,
    /// Over repeat customers: the sum of (last − first, whole seconds) / (orders − 1), in days.
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    pub gap_days: Option<f64>,
}

/// Buyers, their summed net spend, repeat buyers and their summed days between orders, read
/// from the purchase statistics (an index-only scan of `customer_order_stats_first_idx`).
pub fn buyer_totals(
    conn: &mut DbConn,
    currency: &str,
    first_order: Option<(NaiveDateTime, NaiveDateTime)>,
) -> QueryResult<BuyerTotals> {
    let mut sql = Sql::new(conn.backend());
    let seconds = if sql.is_postgres() {
        // date_part gives a double; EXTRACT a slower numeric.
        "FLOOR(date_part('epoch', s.last_order_at - s.first_order_at))"
    } else {
        "(CAST(strftime('%s', s.last_order_at) AS INTEGER) - CAST(strftime('%s', s.first_order_at) AS INTEGER))"
    };
    sql.push(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS customers, CAST(COALESCE(SUM(s.total_spent), 0) AS BIGINT) AS spent, \
         CAST(COALESCE(SUM(CASE WHEN s.orders_count >= 2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS repeat_customers, \
         CAST(SUM(CASE WHEN s.orders_count >= 2 THEN {seconds} / 86400.0 / (s.orders_count - 1) END) \
         AS DOUBLE PRECISION) AS gap_days"
    ));
    push_buyers(&mut sql, currency, first_order);
    sql.query().get_result(conn)
}

#[derive(QueryableByName)]
struct SpentRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    total_spent: i64,
}

/// The net spend of the buyer at `rank` (1 = least spent) among the `count` buyers of
/// `buyer_totals`: an index scan from whichever end of the spend order is nearer.
pub fn spent_at_rank(
    conn: &mut DbConn,
    currency: &str,
    first_order: Option<(NaiveDateTime, NaiveDateTime)>,
    rank: i64,
    count: i64,
) -> QueryResult<Option<i64>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT s.total_spent");
    push_buyers(&mut sql, currency, first_order);
    if rank > count / 2 {
        sql.push(" ORDER BY s.total_spent DESC LIMIT 1 OFFSET ").bind(SqlValue::Int(count - rank));
    } else {
        sql.push(" ORDER BY s.total_spent LIMIT 1 OFFSET ").bind(SqlValue::Int(rank - 1));
    }
    Ok(sql.query().load::<SpentRow>(conn)?.into_iter().next().map(|r| r.total_spent))
}

#[derive(QueryableByName)]
pub struct TopBuyerRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customer_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub orders_count: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub total_spent: i64,
}

/// The `limit` buyers who spent most (ties: the higher id first).
pub fn top_buyers(
    conn: &mut DbConn,
    currency: &str,
    first_order: Option<(NaiveDateTime, NaiveDateTime)>,
    limit: usize,
) -> QueryResult<Vec<TopBuyerRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT s.customer_id, CAST(s.orders_count AS BIGINT) AS orders_count, s.total_spent");
    push_buyers(&mut sql, currency, first_order);
    sql.push(" ORDER BY s.total_spent DESC, s.customer_id DESC LIMIT ").bind(SqlValue::Int(limit as i64));
    sql.query().load(conn)
}

#[derive(QueryableByName)]
struct SegmentTotalsRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    rfm_segment: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    orders: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    revenue: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    last_order_seconds: f64,
}

/// Per RFM segment: customers, orders and net revenue in one currency, and the average days
/// since their last order (at `now`), from the totals kept with the scores.
pub fn rfm_segments(conn: &mut DbConn, currency: &str, now: NaiveDateTime) -> QueryResult<Vec<RfmSegmentRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT rfm_segment, customers, orders, revenue, last_order_seconds FROM rfm_segment_totals \
         WHERE currency = ",
    )
    .bind(SqlValue::Text(currency.into()));
    let rows: Vec<SegmentTotalsRow> = sql.query().load(conn)?;
    let now_seconds = now.and_utc().timestamp_micros() as f64 / 1e6;
    Ok(rows
        .into_iter()
        .map(|row| RfmSegmentRow {
            segment: row.rfm_segment,
            customers: row.customers,
            orders: row.orders,
            revenue: row.revenue,
            recency_days: (now_seconds - row.last_order_seconds / row.customers as f64) / 86_400.0,
        })
        .collect())
}

/// Customers, orders, net revenue and recency per RFM segment, scored from the orders
/// (not cancelled, refunds subtracted) placed in `[from, to)` only, as of `to`; the
/// figures are those of the range in `currency`.
pub fn rfm_segments_between(
    conn: &mut DbConn,
    currency: &str,
    (from, to): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<RfmSegmentRow>> {
    let scores = crate::repositories::segments::RFM_SQL.replace("FROM customer_order_stats ", "FROM ranged ");
    debug_assert!(!scores.contains("customer_order_stats"), "RFM_SQL reads its statistics from one table");
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "WITH ranged AS (SELECT customer_id, currency, COUNT(*) AS orders_count, \
         CAST(SUM(total - refunded_total) AS BIGINT) AS total_spent, MAX(placed_at) AS last_order_at \
         FROM orders WHERE ",
    )
    .push(&live_order("orders"))
    .push(" AND placed_at >= ")
    .bind(SqlValue::Time(from));
    sql.push(" AND placed_at < ").bind(SqlValue::Time(to));
    sql.push(
        " GROUP BY customer_id, currency) \
         SELECT r.rfm_segment AS segment, COUNT(*) AS customers, CAST(SUM(s.orders_count) AS BIGINT) AS orders, \
         CAST(SUM(s.total_spent) AS BIGINT) AS revenue, CAST(AVG(",
    );
    days_between(&mut sql, Term::Value(SqlValue::Time(to)), Term::Sql("s.last_order_at"));
    sql.push(&format!(
        ") AS DOUBLE PRECISION) AS recency_days \
         FROM ({scores}) r JOIN ranged s ON s.customer_id = r.customer_id AND s.currency = "
    ));
    sql.bind(SqlValue::Text(currency.into()));
    sql.push(" GROUP BY r.rfm_segment");
    sql.query().load(conn)
}

// ---- Cohorts (domain::cohorts) ---------------------------------------------------------

#[derive(QueryableByName)]
struct CohortOrderFacts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    customer_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    placed_at: NaiveDateTime,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    net: i64,
}

/// The orders that count (not cancelled) of the customers `o.<condition>` picks; an
/// index-only read of `orders_customer_currency_idx`.
fn load_cohort_orders(conn: &mut DbConn, pick: impl FnOnce(&mut Sql)) -> QueryResult<Vec<CohortOrder>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.id, o.customer_id, o.currency, o.placed_at, CAST(o.total - o.refunded_total AS BIGINT) AS net \
         FROM orders o WHERE ",
    )
    .push(&live_order("o"))
    .push(" AND ");
    pick(&mut sql);
    let rows: Vec<CohortOrderFacts> = sql.query().load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| CohortOrder {
            id: r.id,
            customer_id: r.customer_id,
            currency: r.currency,
            placed_at: r.placed_at,
            net: r.net,
        })
        .collect())
}

/// The ids of every order of these customers, cancelled ones included.
pub fn order_ids_of(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<i64>> {
    orders::table.filter(orders::customer_id.eq_any(customer_ids)).select(orders::id).order(orders::id).load(conn)
}

/// The orders that count (not cancelled) in one currency, placed before `first_before`, of the
/// customers whose first order in that currency was placed in `[first_from, first_before)`:
/// the purchase statistics pick those customers (index on currency and first order), so
/// only their orders are read, not every order in the currency.
pub fn cohort_orders(
    conn: &mut DbConn,
    currency: &str,
    (first_from, first_before): (NaiveDateTime, NaiveDateTime),
) -> QueryResult<Vec<CohortOrder>> {
    load_cohort_orders(conn, |sql| {
        sql.push("o.customer_id IN (SELECT s.customer_id FROM customer_order_stats s WHERE s.currency = ")
            .bind(SqlValue::Text(currency.into()));
        sql.push(" AND s.first_order_at >= ").bind(SqlValue::Time(first_from));
        sql.push(" AND s.first_order_at < ").bind(SqlValue::Time(first_before));
        sql.push(") AND o.currency = ").bind(SqlValue::Text(currency.into()));
        sql.push(" AND o.placed_at < ").bind(SqlValue::Time(first_before));
    })
}

/// The orders that count of these customers.
pub fn cohort_orders_of(conn: &mut DbConn, customer_ids: &[i64]) -> QueryResult<Vec<CohortOrder>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    load_cohort_orders(conn, |sql| {
        sql.push("o.customer_id IN ").bind_list(customer_ids.iter().map(|&id| SqlValue::Int(id)));
    })
}

/// Adds to the cohort cells, in key order (see `add_sales`); cells that fall to zero are removed.
pub fn add_cohort_cells(conn: &mut DbConn, deltas: &BTreeMap<CohortCell, CohortFigures>) -> QueryResult<()> {
    let deltas: Vec<_> = deltas.iter().filter(|(_, f)| !f.is_zero()).collect();
    let rows = deltas
        .iter()
        .map(|((granularity, currency, cohort, period), figures)| {
            vec![
                SqlValue::Text(granularity.to_string()),
                SqlValue::Text(currency.clone()),
                SqlValue::Date(*cohort),
                SqlValue::Date(*period),
                SqlValue::Int(figures.customers),
                SqlValue::Int(figures.net),
            ]
        })
        .collect();
    let keys = ["granularity", "currency", "cohort_start", "period_start"];
    add_counters(conn, "cohort_activity", &keys, &["customers", "net"], rows)?;
    for ((granularity, currency, cohort, period), _) in deltas.iter().filter(|(_, f)| f.customers < 0 || f.net < 0) {
        let mut sql = Sql::new(conn.backend());
        sql.push("DELETE FROM cohort_activity WHERE granularity = ").bind(SqlValue::Text(granularity.to_string()));
        sql.push(" AND currency = ").bind(SqlValue::Text(currency.clone()));
        sql.push(" AND cohort_start = ").bind(SqlValue::Date(*cohort));
        sql.push(" AND period_start = ").bind(SqlValue::Date(*period));
        sql.push(" AND customers = 0 AND net = 0");
        sql.query().execute(conn)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
pub struct CohortCellRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub granularity: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub cohort_start: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub period_start: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub customers: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub net: i64,
}

const COHORT_COLUMNS: &str =
    "SELECT granularity, currency, cohort_start, period_start, customers, net FROM cohort_activity";

/// The cells of the cohorts starting in `[first_cohort, last_period]`, up to `last_period`.
pub fn cohort_cells(
    conn: &mut DbConn,
    granularity: &str,
    currency: &str,
    first_cohort: NaiveDate,
    last_period: NaiveDate,
) -> QueryResult<Vec<CohortCellRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(COHORT_COLUMNS).push(" WHERE granularity = ").bind(SqlValue::Text(granularity.into()));
    sql.push(" AND currency = ").bind(SqlValue::Text(currency.into()));
    sql.push(" AND cohort_start >= ").bind(SqlValue::Date(first_cohort));
    sql.push(" AND cohort_start <= ").bind(SqlValue::Date(last_period));
    sql.push(" AND period_start <= ").bind(SqlValue::Date(last_period));
    sql.query().load(conn)
}

/// Every stored cell, for checking.
pub fn all_cohort_cells(conn: &mut DbConn) -> QueryResult<Vec<CohortCellRow>> {
    diesel::sql_query(COHORT_COLUMNS).load(conn)
}

// ---- Purchase days (domain::purchase_days) ---------------------------------------------

fn buyer_days(rows: Vec<PurchaseDayRow>) -> BuyerDays {
    let mut days = BuyerDays::new();
    for row in rows {
        let Some(dimension) = Dimension::parse(&row.dimension) else { continue };
        let day = PurchaseDay { day: row.day, previous: row.previous_day, next: row.next_day };
        days.entry((row.customer_id, dimension, row.value, row.currency)).or_default().insert(row.day, day);
    }
    days
}

/// The customers' purchase days (of `values` only, when given).
pub fn purchase_days_of(conn: &mut DbConn, customer_ids: &[i64], values: Option<&[String]>) -> QueryResult<BuyerDays> {
    let mut query = purchase_days::table.filter(purchase_days::customer_id.eq_any(customer_ids)).into_boxed();
    if let Some(values) = values {
        query = query.filter(purchase_days::value.eq_any(values));
    }
    let rows: Vec<PurchaseDayRow> = query.select(PurchaseDayRow::as_select()).load(conn)?;
    Ok(buyer_days(rows))
}

/// A buyer's purchase day of a value: (customer, value, their purchase day of the value
/// before, and after).
pub type LinkedPurchaseDay = (i64, String, Option<NaiveDate>, Option<NaiveDate>);

/// The purchase days of `values` on one day, in `currency`, from the covering range index.
pub fn purchase_days_on(
    conn: &mut DbConn,
    (dimension, values): (Dimension, &[String]),
    currency: &str,
    day: NaiveDate,
) -> QueryResult<Vec<LinkedPurchaseDay>> {
    purchase_days::table
        .filter(purchase_days::dimension.eq(dimension.as_str()))
        .filter(purchase_days::value.eq_any(values))
        .filter(purchase_days::currency.eq(currency))
        .filter(purchase_days::day.eq(day))
        .select((
            purchase_days::customer_id,
            purchase_days::value,
            purchase_days::previous_day,
            purchase_days::next_day,
        ))
        .load(conn)
}

/// The purchase days of customers with ids in `[low, high)`, for checking.
pub fn purchase_days_between(conn: &mut DbConn, low: i64, high: i64) -> QueryResult<BuyerDays> {
    let rows: Vec<PurchaseDayRow> = purchase_days::table
        .filter(purchase_days::customer_id.ge(low))
        .filter(purchase_days::customer_id.lt(high))
        .select(PurchaseDayRow::as_select())
        .load(conn)?;
    Ok(buyer_days(rows))
}

/// Writes purchase day rows and removes others, in key order (no deadlocks between writers).
pub fn write_purchase_days(
    conn: &mut DbConn,
    upserts: &[(BuyerKey, PurchaseDay)],
    deletes: &[(BuyerKey, NaiveDate)],
) -> QueryResult<()> {
    for ((customer, dimension, value, currency), day) in deletes {
        diesel::delete(purchase_days::table.find((customer, dimension.as_str(), value, currency, day)))
            .execute(conn)?;
    }
    for chunk in upserts.chunks(500) {
        let mut sql = Sql::new(conn.backend());
        sql.push(
            "INSERT INTO purchase_days (customer_id, dimension, value, currency, day, previous_day, next_day) VALUES ",
        );
        for (index, ((customer, dimension, value, currency), row)) in chunk.iter().enumerate() {
            sql.push(if index > 0 { ", (" } else { "(" });
            sql.bind(SqlValue::Int(*customer)).push(", ");
            sql.bind(SqlValue::Text(dimension.as_str().to_string())).push(", ");
            sql.bind(SqlValue::Text(value.clone())).push(", ");
            sql.bind(SqlValue::Text(currency.clone())).push(", ");
            sql.bind(SqlValue::Date(row.day));
            for link in [row.previous, row.next] {
                match link {
                    Some(day) => sql.push(", ").bind(SqlValue::Date(day)),
                    None => sql.push(", NULL"),
                };
            }
            sql.push(")");
        }
        sql.push(
            " ON CONFLICT (customer_id, dimension, value, currency, day) DO UPDATE SET \
             previous_day = excluded.previous_day, next_day = excluded.next_day",
        );
        sql.query().execute(conn)?;
    }
    Ok(())
}

/// Adds to the month pre-counts, in key order; cells that fall to zero are removed.
pub fn add_purchase_day_counts(conn: &mut DbConn, deltas: &BTreeMap<MonthCell, i64>) -> QueryResult<()> {
    let deltas: Vec<_> = deltas.iter().filter(|(_, &n)| n != 0).collect();
    let rows = deltas
        .iter()
        .map(|((dimension, value, currency, month, previous_month), n)| {
            vec![
                SqlValue::Text(dimension.as_str().to_string()),
                SqlValue::Text(value.clone()),
                SqlValue::Text(currency.clone()),
                SqlValue::Date(*month),
                SqlValue::Date(*previous_month),
                SqlValue::Int(**n),
            ]
        })
        .collect();
    let keys = ["dimension", "value", "currency", "month", "previous_month"];
    add_counters(conn, "purchase_day_counts", &keys, &["days"], rows)?;
    for ((dimension, value, currency, month, previous_month), _) in deltas.iter().filter(|(_, &n)| n < 0) {
        diesel::delete(
            purchase_day_counts::table
                .find((dimension.as_str(), value.as_str(), currency.as_str(), *month, *previous_month))
                .filter(purchase_day_counts::days.eq(0)),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Every month pre-count, for checking.
pub fn all_purchase_day_counts(conn: &mut DbConn) -> QueryResult<BTreeMap<MonthCell, i64>> {
    let rows: Vec<(String, String, String, NaiveDate, NaiveDate, i64)> = purchase_day_counts::table
        .select((
            purchase_day_counts::dimension,
            purchase_day_counts::value,
            purchase_day_counts::currency,
            purchase_day_counts::month,
            purchase_day_counts::previous_month,
            purchase_day_counts::days,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, value, currency, month, previous, n)| {
            Some(((Dimension::parse(&d)?, value, currency, month, previous), n))
        })
        .collect())
}

pub fn clear_purchase_days(conn: &mut DbConn) -> QueryResult<()> {
    diesel::delete(purchase_days::table).execute(conn)?;
    diesel::delete(purchase_day_counts::table).execute(conn)?;
    Ok(())
}

/// Distinct buyers of each of `values` in `[from, to]` (local days) and `currency`.
pub fn buyers_between(
    conn: &mut DbConn,
    dimension: Dimension,
    values: &[String],
    currency: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<HashMap<String, i64>> {
    let mut buyers: HashMap<String, i64> = HashMap::new();
    if values.is_empty() {
        return Ok(buyers);
    }
    let plan = DayRangePlan::new(from, to);
    let start = plan.start;
    let mut add = |rows: Vec<(String, i64)>, sign: i64| {
        for (value, n) in rows {
            *buyers.entry(value).or_default() += sign * n;
        }
    };
    let rows_of = |(low, high): (NaiveDate, NaiveDate)| {
        purchase_days::table
            .filter(purchase_days::dimension.eq(dimension.as_str()))
            .filter(purchase_days::value.eq_any(values))
            .filter(purchase_days::currency.eq(currency))
            .filter(purchase_days::day.between(low, high))
            .group_by(purchase_days::value)
            .select((purchase_days::value, diesel::dsl::count_star()))
    };
    if let (Some((first, last)), Some(end)) = (plan.months, plan.months_end()) {
        let start_month = Granularity::Month.start_of(start);
        add(
            purchase_day_counts::table
                .filter(purchase_day_counts::dimension.eq(dimension.as_str()))
                .filter(purchase_day_counts::value.eq_any(values))
                .filter(purchase_day_counts::currency.eq(currency))
                .filter(purchase_day_counts::month.between(first, last))
                .filter(purchase_day_counts::previous_month.lt(start_month))
                .group_by(purchase_day_counts::value)
                .select((
                    purchase_day_counts::value,
                    diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(SUM(days) AS BIGINT)"),
                ))
                .load(conn)?,
            1,
        );
        if let Some(days) = plan.handoff {
            add(rows_of(days).filter(purchase_days::next_day.between(first, end)).load(conn)?, 1);
        }
    }
    for days in plan.edges.iter().copied() {
        let first_since_start = purchase_days::previous_day.is_null().or(purchase_days::previous_day.lt(start));
        add(rows_of(days).filter(first_since_start).load(conn)?, 1);
    }
    // The widened range's buyers who bought nothing in `[from, to]`.
    if let Some(days) = plan.head_trim {
        let none_in_range = purchase_days::next_day.is_null().or(purchase_days::next_day.gt(to));
        add(rows_of(days).filter(none_in_range).load(conn)?, -1);
    }
    if let Some(days) = plan.tail_trim {
        let first_since_start = purchase_days::previous_day.is_null().or(purchase_days::previous_day.lt(start));
        add(rows_of(days).filter(first_since_start).load(conn)?, -1);
    }
    buyers.retain(|_, n| *n != 0);
    Ok(buyers)
}

/// (customer, placed_at) of the live orders of `customer_ids` placed in `[from, to)`,
/// in a few queries of at most 1,000 customers each.
pub fn order_times(
    conn: &mut DbConn,
    customer_ids: &[i64],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(i64, NaiveDateTime)>> {
    let mut out = Vec::new();
    for chunk in customer_ids.chunks(1000) {
        out.extend(
            orders::table
                .filter(orders::customer_id.eq_any(chunk))
                .filter(orders::placed_at.ge(from))
                .filter(orders::placed_at.lt(to))
                .filter(live_orders())
                .select((orders::customer_id, orders::placed_at))
                .load::<(i64, NaiveDateTime)>(conn)?,
        );
    }
    Ok(out)
}
