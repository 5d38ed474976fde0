//! Orders: one transaction for the customer upsert, the order and its lines, stock
//! movements, the promo code redemption, the checkout's consent and the customer's
//! purchase statistics. Any failure writes nothing.

use chrono::NaiveDateTime;

use super::idempotency::{self, Answer, KeyedRequest, StoredResponse};
use super::{now, TxError};
use crate::db::DbConn;
use crate::domain::consent::ConsentChange;
use crate::domain::orders::{Buyer, OrderDraft, OrderFilter, RefundRequest};
use crate::domain::promo::Purchase;
use crate::domain::OrderStatus;
use crate::domain::{ConsentSource, ConsentState};
use crate::error::AppError;
use crate::keys::DataKeys;
use crate::models::customers::CustomerRecord;
use crate::models::orders::{NewOrder, NewOrderLine, NewRefund, OrderRecord};
use crate::models::products::ProductRow;
use crate::repositories::orders as repo;
use crate::repositories::products::{self as product_repo, StockChange};
use crate::repositories::{customers as customer_repo, promo_codes as promo_repo};
use crate::services::provenance::{Provenance, ValueSource};
use crate::services::rollups::{Activity, RollupChange, RollupWrites};
use crate::services::{consents, customers, emit, privacy, promo_codes, referrals};

fn not_found(id: i64) -> AppError {
    AppError::not_found(format!("order {id} does not exist"))
}

fn duplicate_external_id(external_id: &str, order_id: i64) -> AppError {
    AppError::Conflict {
        detail: format!("order `{external_id}` was already recorded as order {order_id}"),
        existing_id: Some(order_id),
    }
}

/// Records an order from a checkout, once per Idempotency-Key (`keyed`): the order, the
/// key and the response `render` makes of it are one transaction.
pub fn create(
    conn: &mut DbConn,
    keys: &DataKeys,
    draft: OrderDraft,
    actor: &str,
    keyed: Option<&KeyedRequest>,
    render: impl Fn(OrderRecord) -> Result<StoredResponse, AppError>,
) -> Result<Answer, AppError> {
    let outcome = idempotency::run_once_shared_last(
        conn,
        keyed,
        |conn| create_in_transaction(conn, keys, &draft, actor),
        |conn, writes| writes.write(conn, actor),
        render,
    );
    match outcome {
        Ok(answer) => Ok(answer),
        // A concurrent twin with the same external_id won the unique index twice over.
        Err(TxError::Db(error)) if super::is_unique_violation(&error) => match &draft.external_id {
            Some(external_id) => match repo::find_id_by_external_id(conn, external_id)? {
                Some(id) => Err(duplicate_external_id(external_id, id)),
                None => Err(error.into()),
            },
            None => Err(error.into()),
        },
        Err(error) => Err(error.into()),
    }
}

/// Everything of an order but the writes to rows every order of a sale shares, which it
/// returns (`SharedWrites`) to be made last, just before the commit.
fn create_in_transaction(
    conn: &mut DbConn,
    keys: &DataKeys,
    draft: &OrderDraft,
    actor: &str,
) -> Result<(OrderRecord, SharedWrites), TxError> {
    if let Some(external_id) = &draft.external_id {
        if let Some(id) = repo::find_id_by_external_id(conn, external_id)? {
            return Err(duplicate_external_id(external_id, id).into());
        }
    }
    let customer: CustomerRecord = match &draft.buyer {
        Buyer::Id(id) => customer_repo::find_for_update(conn, *id)?
            .ok_or_else(|| AppError::invalid("customer.id", format!("customer {id} does not exist")))?,
        Buyer::ByEmail(email, details) => {
            let from = Provenance {
                source: ValueSource::Checkout,
                source_ref: draft.external_id.as_ref().map(|id| format!("order:{id}")),
                actor: Some(actor.to_string()),
                observed_at: now(),
            };
            customers::upsert_in_transaction(conn, email, (**details).clone(), &from)?.0
        }
    };
    let rollups = RollupChange::begin(conn, &[customer.row.id], &[], Activity::Around(vec![draft.placed_at]))?;
    let (promo_status, promo_id) = match &draft.promo_code {
        Some(code) => {
            let purchase = Purchase {
                subtotal: draft.subtotal,
                shipping: draft.shipping_total,
                currency: draft.currency.as_str(),
                at: draft.placed_at,
                customer_redemptions: 0,
            };
            let (status, id) = promo_codes::check_for_order(conn, code.as_str(), &purchase, customer.row.id)?;
            (Some(status), id)
        }
        None => (None, None),
    };
    let applied_code = promo_id.filter(|_| promo_status == Some("applied"));
    let now = now();
    let order = repo::insert(
        conn,
        NewOrder {
            external_id: draft.external_id.clone(),
            customer_id: customer.row.id,
            status: OrderStatus::Placed.as_str().into(),
            channel: draft.channel.as_str().to_string(),
            source_detail: draft.source_detail.clone(),
            placed_at: draft.placed_at,
            currency: draft.currency.as_str().to_string(),
            subtotal: draft.subtotal,
            discount_total: draft.discount_total,
            shipping_total: draft.shipping_total,
            tax_total: draft.tax_total,
            total: draft.total,
            promo_code: draft.promo_code.clone().map(String::from),
            promo_code_id: promo_id,
            promo_code_status: promo_status.map(String::from),
            referral_code: draft.referral_code.clone(),
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
        },
    )?;
    let skus: Vec<String> = draft.lines.iter().map(|l| l.sku.clone()).collect();
    let products = product_repo::find_by_skus(conn, &skus)?;
    let lines: Vec<NewOrderLine> = draft
        .lines
        .iter()
        .map(|line| NewOrderLine {
            order_id: order.id,
            product_id: products.get(&line.sku).map(|p| p.id),
            sku: line.sku.clone(),
            name: line.name.clone(),
            product_type: line.product_type.clone(),
            attributes: line.attributes.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
        })
        .collect();
    let stored_lines = repo::insert_lines(conn, &lines)?;
    if let Some(promo_id) = applied_code {
        promo_codes::record_for_order(conn, promo_id, order.id, customer.row.id, draft.discount_total)?;
    }
    if let Some(code) = &draft.referral_code {
        referrals::link_in_transaction(conn, customer.row.id, order.id, code)?;
    }
    if let Some((channels, text)) = &draft.consent {
        // An erased person's consent is never recreated by a checkout; the order stands.
        if !privacy::is_suppressed(conn, keys, &customer)? {
            for &channel in channels {
                let change = ConsentChange {
                    channel,
                    state: ConsentState::Subscribed,
                    source: ConsentSource::Checkout,
                    method_detail: Some(format!("checkout, order {}", order.id)),
                    consent_text: Some(text.clone()),
                    consent_text_version: None,
                    ip: None,
                    user_agent: None,
                    occurred_at: draft.placed_at,
                };
                consents::append(conn, customer.row.id, change, actor)?;
            }
        }
    }
    repo::refresh_stats(conn, customer.row.id, draft.currency.as_str())?;
    let rollup_writes = match rollups {
        Some(rollups) => Some(rollups.work_out(conn, &[order.id])?),
        None => None,
    };
    // Nothing in this transaction changes the order or its lines after they are inserted.
    let record = OrderRecord { order, lines: stored_lines };
    emit::order_created(conn, &record)?;
    let mut stock: Vec<(ProductRow, i64)> = draft
        .lines
        .iter()
        .filter_map(|line| {
            let product = products.get(&line.sku).filter(|p| p.track_inventory)?;
            Some((product.clone(), -line.quantity))
        })
        .collect();
    stock.sort_by_key(|(product, _)| product.id);
    let shared = SharedWrites { order_id: record.order.id, at: now, stock, applied_code, rollups: rollup_writes };
    Ok((record, shared))
}

/// An order's writes to rows every order of a sale shares: the products' stock, the code's
/// counter and the rollups. They come last, so those rows stay locked only until the
/// commit, and always in this order (stock by product id, the code, the rollups), which
/// cancellations follow too.
struct SharedWrites {
    order_id: i64,
    at: NaiveDateTime,
    /// Tracked products and their stock change, by product id.
    stock: Vec<(ProductRow, i64)>,
    applied_code: Option<i64>,
    rollups: Option<RollupWrites>,
}

impl SharedWrites {
    fn write(self, conn: &mut DbConn, actor: &str) -> Result<(), TxError> {
        let mut moved = Vec::new();
        for (product, delta) in self.stock {
            let change = StockChange {
                product_id: product.id,
                delta,
                reason: "sale",
                note: None,
                order_id: Some(self.order_id),
                actor,
            };
            let quantity_after = product_repo::move_stock(conn, change, self.at)?;
            moved.push((product, delta, quantity_after));
        }
        if let Some(promo_id) = self.applied_code {
            promo_codes::take_for_order(conn, promo_id)?;
        }
        if let Some(rollups) = self.rollups {
            rollups.write(conn)?;
        }
        for (product, delta, quantity_after) in moved {
            emit::stock_moved(conn, &product, delta, quantity_after)?;
        }
        Ok(())
    }
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<OrderRecord, AppError> {
    repo::find(conn, id)?.ok_or_else(|| not_found(id))
}

pub fn list(
    conn: &mut DbConn,
    filter: &OrderFilter,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<OrderRecord>, AppError> {
    if let Some(customer_id) = filter.customer_id {
        if !customer_repo::exists(conn, customer_id)? {
            return Err(AppError::not_found(format!("customer {customer_id} does not exist")));
        }
    }
    Ok(repo::list(conn, filter, before_id, limit)?)
}

/// Changes an order's status (`OrderStatus::can_become` says which moves are allowed);
/// cancelling restores tracked stock, gives the promo redemption back and takes the order
/// out of the customer's statistics.
pub fn change_status(conn: &mut DbConn, id: i64, status: OrderStatus, actor: &str) -> Result<OrderRecord, AppError> {
    if !OrderStatus::SETTABLE.contains(&status) {
        return Err(AppError::invalid("status", "use paid, fulfilled or cancelled"));
    }
    conn.write_transaction(|conn| {
        let record = lock_with_customer(conn, id)?;
        let rollups = RollupChange::begin(
            conn,
            &[record.order.customer_id],
            &[id],
            Activity::Around(vec![record.order.placed_at]),
        )?;
        let current = OrderStatus::parse(&record.order.status)
            .ok_or_else(|| AppError::internal(format!("order {id} has an unknown status")))?;
        if !current.can_become(status) {
            return Err(AppError::Conflict {
                detail: format!("an order that is `{}` cannot become `{}`", current.as_str(), status.as_str()),
                existing_id: None,
            });
        }
        let now = now();
        repo::set_status(conn, id, status.as_str(), now)?;
        if status == OrderStatus::Cancelled {
            // Stock first, by product id, then the code's counter: the order new orders take them in.
            let skus: Vec<String> = record.lines.iter().map(|line| line.sku.clone()).collect();
            let products = product_repo::find_by_skus(conn, &skus)?;
            let mut returned: Vec<(i64, i64)> = record
                .lines
                .iter()
                .filter_map(|line| {
                    let product_id = line.product_id?;
                    let tracked = products.get(&line.sku).is_some_and(|p| p.track_inventory);
                    tracked.then_some((product_id, line.quantity))
                })
                .collect();
            returned.sort_by_key(|&(product_id, _)| product_id);
            for (product_id, quantity) in returned {
                let change = StockChange {
                    product_id,
                    delta: quantity,
                    reason: "cancellation",
                    note: None,
                    order_id: Some(id),
                    actor,
                };
                product_repo::move_stock(conn, change, now)?;
            }
            if record.order.promo_code_status.as_deref() == Some("applied") {
                if let Some(promo_id) = record.order.promo_code_id {
                    promo_repo::release_redemption(conn, promo_id, id)?;
                }
            }
            repo::refresh_stats(conn, record.order.customer_id, &record.order.currency)?;
        }
        if let Some(rollups) = rollups {
            rollups.finish(conn, &[])?;
        }
        let changed = get(conn, id)?;
        emit::order_status_changed(conn, &changed.order, current.as_str())?;
        Ok(changed)
    })
}

/// Locks an order's customer, then the order: the same order as new orders and merges take
/// (customer first), so they cannot deadlock, and the customer's orders hold still while
/// the rollups are brought up to date.
fn lock_with_customer(conn: &mut DbConn, id: i64) -> Result<OrderRecord, AppError> {
    let customer_id = repo::customer_of(conn, id)?.ok_or_else(|| not_found(id))?;
    customer_repo::find_for_update(conn, customer_id)?;
    let record = repo::find_for_update(conn, id)?.ok_or_else(|| not_found(id))?;
    if record.order.customer_id != customer_id {
        // A merge moved the order meanwhile; its new customer is locked the same way.
        return lock_with_customer(conn, id);
    }
    Ok(record)
}

/// A refund, never more than what was paid; refunded line quantities are tracked. Once
/// per Idempotency-Key (`keyed`), like `create`.
pub fn refund(
    conn: &mut DbConn,
    id: i64,
    request: RefundRequest,
    actor: &str,
    keyed: Option<&KeyedRequest>,
    render: impl Fn(OrderRecord) -> Result<StoredResponse, AppError>,
) -> Result<Answer, AppError> {
    Ok(idempotency::run_once(conn, keyed, |conn| Ok(refund_in_transaction(conn, id, &request, actor)?), render)?)
}

fn refund_in_transaction(
    conn: &mut DbConn,
    id: i64,
    request: &RefundRequest,
    actor: &str,
) -> Result<OrderRecord, AppError> {
    let RefundRequest { amount, reason, lines } = request;
    let amount = *amount;
    {
        let record = lock_with_customer(conn, id)?;
        if record.order.status == OrderStatus::Cancelled.as_str() {
            return Err(AppError::Conflict {
                detail: "a cancelled order cannot be refunded".into(),
                existing_id: None,
            });
        }
        let refundable = record.order.total - record.order.refunded_total;
        if amount > refundable {
            return Err(AppError::invalid("amount", format!("exceeds what is left to refund ({refundable})")));
        }
        for (index, &(line_id, quantity)) in lines.iter().enumerate() {
            let Some(line) = record.lines.iter().find(|l| l.id == line_id) else {
                return Err(AppError::invalid(
                    format!("lines[{index}].line_id"),
                    format!("order {id} has no line {line_id}"),
                ));
            };
            if quantity > line.quantity - line.refunded_quantity {
                return Err(AppError::invalid(
                    format!("lines[{index}].quantity"),
                    "exceeds the quantity not yet refunded",
                ));
            }
        }
        let lines_json = serde_json::to_string(
            &lines.iter().map(|(l, q)| serde_json::json!({"line_id": l, "quantity": q})).collect::<Vec<_>>(),
        )
        .map_err(|e| AppError::internal(e.to_string()))?;
        let refund = NewRefund {
            order_id: id,
            amount,
            reason: reason.clone(),
            lines: lines_json,
            created_by: actor.to_string(),
            created_at: now(),
        };
        let rollups = RollupChange::begin(
            conn,
            &[record.order.customer_id],
            &[id],
            Activity::Around(vec![record.order.placed_at]),
        )?;
        repo::record_refund(conn, refund, lines)?;
        repo::refresh_stats(conn, record.order.customer_id, &record.order.currency)?;
        if let Some(rollups) = rollups {
            rollups.finish(conn, &[])?;
        }
        let refunded = get(conn, id)?;
        emit::order_refunded(conn, &refunded.order, amount)?;
        Ok(refunded)
    }
}
