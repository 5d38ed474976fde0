use super::{is_unique_violation, now};
use crate::db::DbConn;
use crate::domain::merge_patch_object;
use crate::domain::products::ProductFilter;
use crate::domain::products::ProductPatch;
use crate::domain::Patch;
use crate::error::AppError;
use crate::models::products::ProductDraft;
use crate::models::products::{NewProduct, ProductRow, StockMovementRow};
use crate::repositories::products::{self as repo, StockChange};

fn not_found(sku: &str) -> AppError {
    AppError::not_found(format!("no product with SKU `{sku}`"))
}

pub fn create(conn: &mut DbConn, draft: ProductDraft, actor: &str) -> Result<ProductRow, AppError> {
    let outcome = conn.write_transaction(|conn| {
        let now = now();
        let mut columns = draft.columns.clone();
        columns.updated_at = now;
        let product =
            repo::insert(conn, NewProduct { sku: draft.sku.clone(), columns, stock_quantity: 0, created_at: now })?;
        if draft.stock_quantity != 0 {
            let change = StockChange {
                product_id: product.id,
                delta: draft.stock_quantity,
                reason: "correction",
                note: Some("initial stock".to_string()),
                order_id: None,
                actor,
            };
            repo::move_stock(conn, change, now)?;
            return repo::find_by_sku(conn, &draft.sku).map(|p| p.expect("just inserted"));
        }
        Ok(product)
    });
    outcome.map_err(|error| {
        if is_unique_violation(&error) {
            let existing = repo::find_by_sku(conn, &draft.sku).ok().flatten().map(|p| p.id);
            AppError::Conflict {
                detail: format!("a product with SKU `{}` already exists", draft.sku),
                existing_id: existing,
            }
        } else {
            error.into()
        }
    })
}

pub fn get(conn: &mut DbConn, sku: &str) -> Result<ProductRow, AppError> {
    repo::find_by_sku(conn, sku)?.ok_or_else(|| not_found(sku))
}

pub fn patch(conn: &mut DbConn, sku: &str, patch: ProductPatch) -> Result<ProductRow, AppError> {
    conn.write_transaction(|conn| {
        let patch = patch.clone();
        let product = repo::find_by_sku(conn, sku)?.ok_or_else(|| not_found(sku))?;
        let mut columns = product.columns();
        if let Some(name) = patch.name {
            columns.name = name;
        }
        if let Some(product_type) = patch.product_type {
            columns.product_type = product_type;
        }
        patch.category.apply_to(&mut columns.category);
        match patch.attributes {
            Patch::Absent => {}
            Patch::Null => columns.attributes = "{}".into(),
            Patch::Value(changes) => {
                let mut attributes: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&columns.attributes).map_err(|e| AppError::internal(e.to_string()))?;
                merge_patch_object(&mut attributes, changes);
                columns.attributes = serde_json::Value::Object(attributes).to_string();
            }
        }
        columns.price = patch.price.unwrap_or(columns.price);
        columns.currency = patch.currency.unwrap_or(columns.currency);
        columns.track_inventory = patch.track_inventory.unwrap_or(columns.track_inventory);
        patch.low_stock_threshold.apply_to(&mut columns.low_stock_threshold);
        columns.active = patch.active.unwrap_or(columns.active);
        columns.updated_at = now();
        let updated = repo::update(conn, product.id, columns)?;
        // A new threshold (or tracking) can make the stock low.
        let before = (product.track_inventory, product.stock_quantity, product.low_stock_threshold);
        super::emit::stock_low_if_crossed(conn, before, &updated)?;
        Ok(updated)
    })
}

pub fn list(
    conn: &mut DbConn,
    filter: &ProductFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<ProductRow>, AppError> {
    Ok(repo::list(conn, filter, before_id, limit)?)
}

/// A manual stock movement (restock, correction, damaged, return) on a tracked product.
pub fn adjust_stock(
    conn: &mut DbConn,
    sku: &str,
    delta: i64,
    reason: &str,
    note: Option<String>,
    actor: &str,
) -> Result<ProductRow, AppError> {
    conn.write_transaction(|conn| {
        let product = repo::find_by_sku(conn, sku)?.ok_or_else(|| not_found(sku))?;
        if !product.track_inventory {
            return Err(AppError::Conflict {
                detail: format!("stock of `{sku}` is not tracked; set track_inventory first"),
                existing_id: None,
            });
        }
        if product.stock_quantity.checked_add(delta).is_none() {
            return Err(AppError::invalid(
                "delta",
                format!("would take the stock of `{sku}` ({}) out of range", product.stock_quantity),
            ));
        }
        let change = StockChange { product_id: product.id, delta, reason, note: note.clone(), order_id: None, actor };
        repo::move_stock(conn, change, now())?;
        let moved = get(conn, sku)?;
        let before = (product.track_inventory, product.stock_quantity, product.low_stock_threshold);
        super::emit::stock_low_if_crossed(conn, before, &moved)?;
        Ok(moved)
    })
}

pub fn movements(
    conn: &mut DbConn,
    sku: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<StockMovementRow>, AppError> {
    let product = get(conn, sku)?;
    Ok(repo::movements(conn, product.id, before_id, limit)?)
}
