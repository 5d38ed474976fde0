use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::sql::{Sql, SqlValue};
use crate::db::schema::{products, stock_movements};
use crate::db::{Backend, DbConn};
use crate::domain::products::ProductFilter;
use crate::models::products::{NewProduct, NewStockMovement, ProductColumns, ProductRow, StockMovementRow};

pub fn insert(conn: &mut DbConn, product: NewProduct) -> QueryResult<ProductRow> {
    diesel::insert_into(products::table).values(product).returning(products::all_columns).get_result(conn)
}

pub fn find_by_sku(conn: &mut DbConn, sku: &str) -> QueryResult<Option<ProductRow>> {
    products::table.filter(products::sku.eq(sku)).select(ProductRow::as_select()).get_result(conn).optional()
}

/// Products by SKU, in one query.
pub fn find_by_skus(conn: &mut DbConn, skus: &[String]) -> QueryResult<HashMap<String, ProductRow>> {
    let rows: Vec<ProductRow> =
        products::table.filter(products::sku.eq_any(skus)).select(ProductRow::as_select()).load(conn)?;
    Ok(rows.into_iter().map(|p| (p.sku.clone(), p)).collect())
}

pub fn update(conn: &mut DbConn, id: i64, columns: ProductColumns) -> QueryResult<ProductRow> {
    diesel::update(products::table.find(id)).set(columns).returning(products::all_columns).get_result(conn)
}

pub fn list(
    conn: &mut DbConn,
    filter: &ProductFilter,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ProductRow>> {
    let mut query = products::table.select(ProductRow::as_select()).into_boxed();
    if let Some(product_type) = &filter.product_type {
        query = query.filter(products::product_type.eq(product_type.clone()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(products::category.eq(category.clone()));
    }
    if let Some(active) = filter.active {
        query = query.filter(products::active.eq(active));
    }
    if filter.low_stock {
        query = query
            .filter(products::track_inventory.eq(true))
            .filter(products::stock_quantity.le(products::low_stock_threshold.assume_not_null()))
            .filter(products::low_stock_threshold.is_not_null());
    }
    if filter.oversold {
        query = query.filter(products::track_inventory.eq(true)).filter(products::stock_quantity.lt(0));
    }
    if let Some(before_id) = before_id {
        query = query.filter(products::id.lt(before_id));
    }
    query.order(products::id.desc()).limit(limit).load(conn)
}

/// One stock movement to make.
#[derive(Debug, Clone)]
pub struct StockChange<'a> {
    pub product_id: i64,
    pub delta: i64,
    /// restock, correction, damaged, return, sale, cancellation, refund.
    pub reason: &'a str,
    pub note: Option<String>,
    pub order_id: Option<i64>,
    pub actor: &'a str,
}

/// Moves stock by `delta` in one statement (no lost update between two sales) and
/// records the movement; returns the new quantity.
pub fn move_stock(conn: &mut DbConn, change: StockChange<'_>, now: NaiveDateTime) -> QueryResult<i64> {
    if conn.backend() == Backend::Postgres {
        return move_stock_in_one_statement(conn, change, now);
    }
    let quantity_after: i64 = diesel::update(products::table.find(change.product_id))
        .set((products::stock_quantity.eq(products::stock_quantity + change.delta), products::updated_at.eq(now)))
        .returning(products::stock_quantity)
        .get_result(conn)?;
    diesel::insert_into(stock_movements::table)
        .values(NewStockMovement {
            product_id: change.product_id,
            delta: change.delta,
            reason: change.reason.to_string(),
            note: change.note,
            order_id: change.order_id,
            quantity_after,
            actor: change.actor.to_string(),
            created_at: now,
        })
        .execute(conn)?;
    Ok(quantity_after)
}

#[derive(QueryableByName)]
struct QuantityAfter {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    quantity_after: i64,
}

/// `move_stock` on PostgreSQL: the update and its movement in one round trip, because the
/// product's row stays locked from the update to the commit and every order of a sale on
/// that product waits for it.
fn move_stock_in_one_statement(conn: &mut DbConn, change: StockChange<'_>, now: NaiveDateTime) -> QueryResult<i64> {
    let mut sql = Sql::new(Backend::Postgres);
    sql.push("WITH moved AS (UPDATE products SET stock_quantity = stock_quantity + ")
        .bind(SqlValue::Int(change.delta))
        .push(", updated_at = ")
        .bind(SqlValue::Time(now))
        .push(" WHERE id = ")
        .bind(SqlValue::Int(change.product_id))
        .push(
            " RETURNING id, stock_quantity) INSERT INTO stock_movements (product_id, delta, reason, note, order_id, \
             quantity_after, actor, created_at) SELECT id, $1, ",
        )
        .bind(SqlValue::Text(change.reason.to_string()))
        .push(", ");
    match change.note {
        Some(note) => sql.bind(SqlValue::Text(note)),
        None => sql.push("CAST(NULL AS TEXT)"),
    };
    sql.push(", ");
    match change.order_id {
        Some(order_id) => sql.bind(SqlValue::Int(order_id)),
        None => sql.push("CAST(NULL AS BIGINT)"),
    };
    sql.push(", stock_quantity, ")
        .bind(SqlValue::Text(change.actor.to_string()))
        .push(", $2 FROM moved RETURNING quantity_after");
    let row: QuantityAfter = sql.query().get_result(conn)?;
    Ok(row.quantity_after)
}

pub fn movements(
    conn: &mut DbConn,
    product_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<StockMovementRow>> {
    let mut query = stock_movements::table
        .filter(stock_movements::product_id.eq(product_id))
        .select(StockMovementRow::as_select())
        .into_boxed();
    if let Some(before_id) = before_id {
        query = query.filter(stock_movements::id.lt(before_id));
    }
    query.order(stock_movements::id.desc()).limit(limit).load(conn)
}
