//! The recommendation tables: what the refresh writes (price bands, affinities,
//! associations, popularity, the state row) and what recommendations read, always for a
//! batch of customers or products in one query.

use diesel::prelude::*;

use super::sql::{insert_in_chunks, live_order, lock_row, Sql, SqlValue};
use crate::db::schema::{
    customer_affinities, customer_price_bands, product_associations, product_popularity, recommendation_state,
};
use crate::db::DbConn;
use crate::models::recommendations::{
    AffinityRow, AssociationRow, BoughtRow, CandidateRow, LineRow, PopularityRow, PriceBandRow, RelatedRow,
};

/// Whose purchased lines to load.
#[derive(Debug, Clone, Copy)]
pub enum Customers<'a> {
    /// These customers.
    Ids(&'a [i64]),
    /// Customers with ids from .0 to .1 (inclusive).
    Range(i64, i64),
}

/// The lines of live orders with units left after refunds, of customers who were not
/// erased, by customer, most recent first.
pub fn purchased_lines(conn: &mut DbConn, customers: Customers) -> QueryResult<Vec<LineRow>> {
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.customer_id AS customer_id, l.product_id AS product_id, \
         COALESCE(l.product_type, p.product_type) AS product_type, p.product_type AS catalogue_type, \
         l.attributes AS attributes, l.quantity - l.refunded_quantity AS units, l.unit_price AS unit_price, \
         o.currency AS currency \
         FROM orders o JOIN order_lines l ON l.order_id = o.id \
         JOIN customers c ON c.id = o.customer_id \
         LEFT JOIN products p ON p.id = l.product_id WHERE ",
    );
    sql.push(&live_order("o")).push(" AND l.quantity > l.refunded_quantity AND c.erased_at IS NULL AND ");
    match customers {
        Customers::Ids([]) => return Ok(Vec::new()),
        Customers::Ids(ids) => {
            sql.push("o.customer_id IN ");
            sql.bind_list(ids.iter().map(|id| SqlValue::Int(*id)));
        }
        Customers::Range(from, to) => {
            sql.push("o.customer_id >= ").bind(SqlValue::Int(from));
            sql.push(" AND o.customer_id <= ").bind(SqlValue::Int(to));
        }
    }
    sql.push(" ORDER BY o.customer_id, o.placed_at DESC, l.id DESC");
    sql.query().load(conn)
}

/// The largest customer id (0 without customers).
pub fn max_customer_id(conn: &mut DbConn) -> QueryResult<i64> {
    use crate::db::schema::customers;
    Ok(customers::table.select(diesel::dsl::max(customers::id)).get_result::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Replaces the stored profiles of the customers with ids from `from` to `to`
/// (inclusive): rows of customers in that range that are not given are removed.
pub fn replace_profiles(
    conn: &mut DbConn,
    from: i64,
    to: i64,
    bands: &[PriceBandRow],
    affinities: &[AffinityRow],
) -> QueryResult<()> {
    diesel::delete(customer_price_bands::table.filter(customer_price_bands::customer_id.between(from, to)))
        .execute(conn)?;
    diesel::delete(customer_affinities::table.filter(customer_affinities::customer_id.between(from, to)))
        .execute(conn)?;
    insert_in_chunks!(conn, customer_price_bands::table, bands)?;
    insert_in_chunks!(conn, customer_affinities::table, affinities)
}

/// Removes the stored profiles of some customers (an erasure, a merge).
pub fn delete_profiles(conn: &mut DbConn, customers: &[i64]) -> QueryResult<()> {
    diesel::delete(customer_price_bands::table.filter(customer_price_bands::customer_id.eq_any(customers)))
        .execute(conn)?;
    diesel::delete(customer_affinities::table.filter(customer_affinities::customer_id.eq_any(customers)))
        .execute(conn)?;
    Ok(())
}

pub fn insert_profiles(conn: &mut DbConn, bands: &[PriceBandRow], affinities: &[AffinityRow]) -> QueryResult<()> {
    insert_in_chunks!(conn, customer_price_bands::table, bands)?;
    insert_in_chunks!(conn, customer_affinities::table, affinities)
}

/// Replaces the associations of the products with ids from `from` to `to` (inclusive).
pub fn replace_associations(conn: &mut DbConn, from: i64, to: i64, rows: &[AssociationRow]) -> QueryResult<()> {
    diesel::delete(product_associations::table.filter(product_associations::product_id.between(from, to)))
        .execute(conn)?;
    insert_in_chunks!(conn, product_associations::table, rows)
}

pub fn replace_popularity(conn: &mut DbConn, rows: &[PopularityRow]) -> QueryResult<()> {
    diesel::delete(product_popularity::table).execute(conn)?;
    insert_in_chunks!(conn, product_popularity::table, rows)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A checksum of what the tables are computed from: the order statistics (orders placed,
/// cancelled, refunded, moved by a merge; see `segments::stats_fingerprint`), erasures and
/// merges.
pub fn current_fingerprint(conn: &mut DbConn) -> QueryResult<String> {
    let merges: Count = diesel::sql_query("SELECT COUNT(*) AS n FROM customer_merges").get_result(conn)?;
    Ok(format!(
        "{}:{}:{}",
        super::segments::stats_fingerprint(conn)?,
        super::predictions::erased_count(conn)?,
        merges.n
    ))
}

pub fn stored_fingerprint(conn: &mut DbConn) -> QueryResult<String> {
    recommendation_state::table.find(1).select(recommendation_state::fingerprint).get_result(conn)
}

/// Locks the state row (one refresh at a time on PostgreSQL; SQLite's write lock does it).
pub fn lock_state(conn: &mut DbConn) -> QueryResult<()> {
    lock_row(conn, "recommendation_state", 1)
}

pub fn set_fingerprint(conn: &mut DbConn, fingerprint: &str, at: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(recommendation_state::table.find(1))
        .set((recommendation_state::fingerprint.eq(fingerprint), recommendation_state::computed_at.eq(Some(at))))
        .execute(conn)
        .map(drop)
}

/// The catalogue products some customers bought (live orders, units left), with the
/// last time they bought each.
pub fn bought(conn: &mut DbConn, customers: &[i64]) -> QueryResult<Vec<BoughtRow>> {
    if customers.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.backend());
    sql.push(
        "SELECT o.customer_id AS customer_id, p.id AS product_id, p.name AS name, p.product_type AS product_type, \
         MAX(o.placed_at) AS last_at \
         FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id WHERE ",
    );
    sql.push(&live_order("o")).push(" AND l.quantity > l.refunded_quantity AND o.customer_id IN ");
    sql.bind_list(customers.iter().map(|id| SqlValue::Int(*id)));
    sql.push(" GROUP BY o.customer_id, p.id, p.name, p.product_type");
    sql.query().load(conn)
}

pub fn bands_of(conn: &mut DbConn, customers: &[i64]) -> QueryResult<Vec<PriceBandRow>> {
    customer_price_bands::table
        .filter(customer_price_bands::customer_id.eq_any(customers))
        .order((customer_price_bands::customer_id, customer_price_bands::currency))
        .select(PriceBandRow::as_select())
        .load(conn)
}

/// Stored affinities of some customers along one dimension.
pub fn affinities_of(conn: &mut DbConn, customers: &[i64], dimension: &str) -> QueryResult<Vec<AffinityRow>> {
    customer_affinities::table
        .filter(customer_affinities::customer_id.eq_any(customers))
        .filter(customer_affinities::dimension.eq(dimension))
        .select(AffinityRow::as_select())
        .load(conn)
}

/// The stored associations of some products, strongest first.
pub fn associations_of(conn: &mut DbConn, products: &[i64]) -> QueryResult<Vec<AssociationRow>> {
    product_associations::table
        .filter(product_associations::product_id.eq_any(products))
        .order((product_associations::product_id, product_associations::position))
        .select(AssociationRow::as_select())
        .load(conn)
}

const CANDIDATE_COLUMNS: &str = "SELECT p.id AS id, p.sku AS sku, p.name AS name, p.product_type AS product_type, \
     p.price AS price, p.currency AS currency, p.active AS active, p.track_inventory AS track_inventory, \
     p.stock_quantity AS stock_quantity, COALESCE(pp.customers, 0) AS buyers ";

/// Products by id, with their buyers.
pub fn candidates(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<CandidateRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(conn.backend());
    sql.push(CANDIDATE_COLUMNS);
    sql.push("FROM products p LEFT JOIN product_popularity pp ON pp.product_id = p.id WHERE p.id IN ");
    sql.bind_list(ids.iter().map(|id| SqlValue::Int(*id)));
    sql.query().load(conn)
}

/// Available best sellers: the `overall` most bought, and the `per_type` most bought of
/// each of `types`, by customers who bought them (most first).
pub fn best_sellers(
    conn: &mut DbConn,
    types: &[String],
    per_type: i64,
    overall: i64,
) -> QueryResult<Vec<CandidateRow>> {
    let available = "p.active = TRUE AND (p.track_inventory = FALSE OR p.stock_quantity > 0)";
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT * FROM (");
    sql.push(CANDIDATE_COLUMNS);
    sql.push("FROM product_popularity pp JOIN products p ON p.id = pp.product_id WHERE ").push(available);
    sql.push(" ORDER BY pp.customers DESC, pp.product_id LIMIT ").bind(SqlValue::Int(overall));
    sql.push(") overall");
    if !types.is_empty() {
        sql.push(" UNION SELECT id, sku, name, product_type, price, currency, active, track_inventory, stock_quantity, buyers FROM (");
        sql.push(CANDIDATE_COLUMNS);
        sql.push(", ROW_NUMBER() OVER (PARTITION BY pp.product_type ORDER BY pp.customers DESC, pp.product_id) AS n ");
        sql.push("FROM product_popularity pp JOIN products p ON p.id = pp.product_id WHERE ").push(available);
        sql.push(" AND pp.product_type IN ");
        sql.bind_list(types.iter().cloned().map(SqlValue::Text));
        sql.push(") ranked WHERE n <= ").bind(SqlValue::Int(per_type));
    }
    sql.push(" ORDER BY buyers DESC, id");
    sql.query().load(conn)
}

/// The stored related products of one product, strongest first.
pub fn related(conn: &mut DbConn, product_id: i64, limit: i64) -> QueryResult<Vec<RelatedRow>> {
    product_associations::table
        .filter(product_associations::product_id.eq(product_id))
        .order(product_associations::position)
        .limit(limit)
        .select((
            product_associations::related_id,
            product_associations::customers,
            product_associations::lift,
            product_associations::position,
        ))
        .load::<(i64, i64, f64, i64)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(product_id, customers, lift, position)| RelatedRow { product_id, customers, lift, position })
                .collect()
        })
}
