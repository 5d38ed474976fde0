//! What each change appends to the event log (`events::record`), in the API's field names:
//! one function per event type, called inside the transaction of the change, with values
//! the change already has in hand (no reads of its own).
//!
//! `data` always holds the resource's `id` (and its `customer_id` when it has one);
//! changes (`*.updated`, `*.status_changed`) hold `{"id", "changed": {field: new value}}`;
//! times are RFC 3339 UTC strings and money is minor units with its `currency`, as the API
//! shows them.

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::events::record;
use crate::db::DbConn;
use crate::domain::campaign::AudienceCounts;
use crate::domain::customer::CustomerProfile;
use crate::domain::events::EventType;
use crate::error::AppError;
use crate::models::campaigns::CampaignRow;
use crate::models::consents::{ConsentEventRow, CurrentConsentRow};
use crate::models::forms::EnquiryRow;
use crate::models::imports::ImportJobRow;
use crate::models::messages::MessageRow;
use crate::models::orders::{OrderRecord, OrderRow};
use crate::models::products::ProductRow;

/// A time as the API writes it (RFC 3339, UTC, `Z`).
fn time(at: NaiveDateTime) -> Value {
    json!(at.and_utc())
}

/// A customer's profile fields as `GET /v1/customers/{id}` names them (without the
/// figures computed from other resources: consents, purchases, RFM, predictions).
pub fn customer_fields(profile: &CustomerProfile) -> Map<String, Value> {
    let d = &profile.details;
    let a = &d.address;
    let has_address = a.line1.is_some()
        || a.line2.is_some()
        || a.city.is_some()
        || a.region.is_some()
        || a.postal_code.is_some()
        || a.country.is_some();
    let address = has_address.then(|| {
        json!({
            "line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
            "postal_code": a.postal_code, "country": a.country.map(|c| c.as_str().to_string()),
        })
    });
    let fields = json!({
        "kind": profile.kind.as_str(),
        "first_name": d.first_name,
        "last_name": d.last_name,
        "company_name": d.company_name,
        "email": d.email.as_ref().map(|e| e.as_str()),
        "phone": d.phone.as_ref().map(|p| p.as_str()),
        "birthday": d.birthday.map(|b| b.to_string()),
        "gender": d.gender.map(|g| g.as_str()),
        "address": address,
        "preferred_language": d.preferred_language.as_ref().map(|l| l.as_str()),
        "source": profile.source.as_str(),
        "tags": d.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "attributes": d.attributes,
        "notes": d.notes,
    });
    match fields {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    }
}

/// The fields of `after` whose value differs from `before`, with their new value.
fn changed(before: &Map<String, Value>, after: Map<String, Value>) -> Map<String, Value> {
    after.into_iter().filter(|(field, value)| before.get(field) != Some(value)).collect()
}

/// `customer.created`: the new customer's profile.
pub fn customer_created(
    conn: &mut DbConn,
    id: i64,
    profile: &CustomerProfile,
    created_at: NaiveDateTime,
) -> Result<(), AppError> {
    record(conn, EventType::CustomerCreated, Some(id), customer_created_data(id, profile, created_at))
}

pub fn customer_created_data(id: i64, profile: &CustomerProfile, created_at: NaiveDateTime) -> Value {
    let mut data = Map::new();
    data.insert("id".into(), json!(id));
    data.extend(customer_fields(profile));
    data.insert("created_at".into(), time(created_at));
    Value::Object(data)
}

/// `customer.updated` with the fields that changed from `before` to `after`; nothing is
/// recorded when none did. True when recorded.
pub fn customer_updated(
    conn: &mut DbConn,
    id: i64,
    before: &CustomerProfile,
    after: &CustomerProfile,
) -> Result<bool, AppError> {
    customer_fields_updated(conn, id, &customer_fields(before), customer_fields(after))
}

/// `customer.updated` from two field maps (or parts of them, such as `tags`).
pub fn customer_fields_updated(
    conn: &mut DbConn,
    id: i64,
    before: &Map<String, Value>,
    after: Map<String, Value>,
) -> Result<bool, AppError> {
    let changed = changed(before, after);
    if changed.is_empty() {
        return Ok(false);
    }
    record(conn, EventType::CustomerUpdated, Some(id), json!({"id": id, "changed": changed}))?;
    Ok(true)
}

/// `customer.merged`: the survivor (`id`) absorbed `duplicate_id`, which no longer exists.
pub fn customer_merged(conn: &mut DbConn, survivor_id: i64, duplicate_id: i64) -> Result<(), AppError> {
    record(conn, EventType::CustomerMerged, Some(survivor_id), json!({"id": survivor_id, "duplicate_id": duplicate_id}))
}

/// `consent.changed`: a ledger event (`id`) that became the channel's current state,
/// moving it from `from` (None: never recorded) to the event's state.
pub fn consent_changed(conn: &mut DbConn, event: &ConsentEventRow, from: Option<&str>) -> Result<(), AppError> {
    record(conn, EventType::ConsentChanged, Some(event.customer_id), consent_changed_data(event, from))
}

/// `consent.changed` for a channel whose current state a merge changed (the two ledgers
/// joined): `current` is the survivor's new current state.
pub fn consent_changed_by_merge(
    conn: &mut DbConn,
    current: &CurrentConsentRow,
    from: Option<&str>,
) -> Result<(), AppError> {
    let data = json!({
        "id": current.event_id,
        "customer_id": current.customer_id,
        "channel": current.channel,
        "from": from,
        "to": current.state,
        "opt_in_level": current.opt_in_level,
        "source": current.source,
        "occurred_at": time(current.occurred_at),
    });
    record(conn, EventType::ConsentChanged, Some(current.customer_id), data)
}

pub fn consent_changed_data(event: &ConsentEventRow, from: Option<&str>) -> Value {
    json!({
            "id": event.id,
            "customer_id": event.customer_id,
            "channel": event.channel,
            "from": from,
            "to": event.state,
            "opt_in_level": event.opt_in_level,
            "source": event.source,
            "occurred_at": time(event.occurred_at),
    })
}

/// An enquiry as the API shows it, without its client details (IP, user agent) and note.
fn enquiry_fields(enquiry: &EnquiryRow) -> Value {
    json!({
        "id": enquiry.id,
        "customer_id": enquiry.customer_id,
        "kind": enquiry.kind,
        "channel": enquiry.channel,
        "status": enquiry.status,
        "email": enquiry.email,
        "subject": enquiry.subject,
        "message": enquiry.message,
        "assignee": enquiry.assignee,
        "tags": enquiry.tags.0,
        "occurred_at": time(enquiry.occurred_at),
        "follow_up_at": enquiry.follow_up_at.map(time),
        "created_at": time(enquiry.created_at),
    })
}

/// `enquiry.created`: the enquiry without its client details (IP, user agent).
pub fn enquiry_created(conn: &mut DbConn, enquiry: &EnquiryRow) -> Result<(), AppError> {
    record(conn, EventType::EnquiryCreated, enquiry.customer_id, enquiry_fields(enquiry))
}

/// `enquiry.follow_up_due`: an open enquiry's follow-up time has come.
pub fn enquiry_follow_up_due(conn: &mut DbConn, enquiry: &EnquiryRow) -> Result<(), AppError> {
    record(conn, EventType::EnquiryFollowUpDue, enquiry.customer_id, enquiry_fields(enquiry))
}

/// `enquiry.updated` with the triage fields that changed; nothing when none did.
pub fn enquiry_updated(conn: &mut DbConn, before: &EnquiryRow, after: &EnquiryRow) -> Result<(), AppError> {
    let triage = |e: &EnquiryRow| match json!({"status": e.status, "assignee": e.assignee, "note": e.note,
        "follow_up_at": e.follow_up_at.map(time), "tags": e.tags.0})
    {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object"),
    };
    let changed = changed(&triage(before), triage(after));
    if changed.is_empty() {
        return Ok(());
    }
    record(
        conn,
        EventType::EnquiryUpdated,
        after.customer_id,
        json!({"id": after.id, "customer_id": after.customer_id, "changed": changed}),
    )
}

/// `order.created`: the order's figures, not its lines (`lines_count` of them).
pub fn order_created(conn: &mut DbConn, order: &OrderRecord) -> Result<(), AppError> {
    let o = &order.order;
    record(
        conn,
        EventType::OrderCreated,
        Some(o.customer_id),
        json!({
            "id": o.id,
            "customer_id": o.customer_id,
            "external_id": o.external_id,
            "status": o.status,
            "channel": o.channel,
            "placed_at": time(o.placed_at),
            "currency": o.currency,
            "subtotal": o.subtotal,
            "discount_total": o.discount_total,
            "shipping_total": o.shipping_total,
            "tax_total": o.tax_total,
            "total": o.total,
            "promo_code": o.promo_code,
            "promo_code_status": o.promo_code_status,
            "lines_count": order.lines.len(),
            "created_at": time(o.created_at),
        }),
    )
}

/// `order.status_changed`: `from` and `to`, and the change as every `changed` event has it.
pub fn order_status_changed(conn: &mut DbConn, order: &OrderRow, from: &str) -> Result<(), AppError> {
    record(
        conn,
        EventType::OrderStatusChanged,
        Some(order.customer_id),
        json!({
            "id": order.id,
            "customer_id": order.customer_id,
            "from": from,
            "to": order.status,
            "changed": {"status": order.status},
            "updated_at": time(order.updated_at),
        }),
    )
}

/// `order.refunded`: this refund's `amount`, and the order's totals after it.
pub fn order_refunded(conn: &mut DbConn, order: &OrderRow, amount: i64) -> Result<(), AppError> {
    record(
        conn,
        EventType::OrderRefunded,
        Some(order.customer_id),
        json!({
            "id": order.id,
            "customer_id": order.customer_id,
            "amount": amount,
            "currency": order.currency,
            "total": order.total,
            "refunded_total": order.refunded_total,
            "net_total": order.total - order.refunded_total,
        }),
    )
}

/// Whether a product shows as low on stock (the API's `low_stock`, the `low_stock` filter).
fn is_low(track_inventory: bool, stock: i64, threshold: Option<i64>) -> bool {
    track_inventory && threshold.is_some_and(|t| stock <= t)
}

/// `product.stock_low`, when a product that was not low on stock now is: its stock fell to
/// its threshold or below (`previous > threshold >= stock`), or its threshold (or
/// tracking) changed so that it is. True when recorded.
pub fn stock_low_if_crossed(
    conn: &mut DbConn,
    before: (bool, i64, Option<i64>),
    product: &ProductRow,
) -> Result<bool, AppError> {
    let (track_inventory, stock, threshold) = before;
    let now_low = is_low(product.track_inventory, product.stock_quantity, product.low_stock_threshold);
    if !now_low || is_low(track_inventory, stock, threshold) {
        return Ok(false);
    }
    record(
        conn,
        EventType::ProductStockLow,
        None,
        json!({
            "id": product.id,
            "sku": product.sku,
            "stock_quantity": product.stock_quantity,
            "low_stock_threshold": product.low_stock_threshold,
        }),
    )?;
    Ok(true)
}

/// `product.stock_low` after a stock movement of `delta` left `quantity_after`, on a
/// product whose other columns are those of `product`.
pub fn stock_moved(conn: &mut DbConn, product: &ProductRow, delta: i64, quantity_after: i64) -> Result<bool, AppError> {
    let before = (product.track_inventory, quantity_after - delta, product.low_stock_threshold);
    let after = ProductRow { stock_quantity: quantity_after, ..product.clone() };
    stock_low_if_crossed(conn, before, &after)
}

/// `import.completed`: a job that ended, `completed` or `failed`, and its counts.
pub fn import_completed(conn: &mut DbConn, job: &ImportJobRow) -> Result<(), AppError> {
    record(
        conn,
        EventType::ImportCompleted,
        None,
        json!({
            "id": job.id,
            "mode": job.mode,
            "status": job.status,
            "rows": job.rows_total,
            "processed": job.next_row,
            "created": job.created,
            "updated": job.updated,
            "unchanged": job.unchanged,
            "rejected": job.rejected,
            "failure": job.failure,
            "finished_at": job.finished_at.map(time),
        }),
    )
}

/// `campaign.launched`: the campaign and its audience's counts (`contacted` recipients).
pub fn campaign_launched(conn: &mut DbConn, row: &CampaignRow, audience: &AudienceCounts) -> Result<(), AppError> {
    record(
        conn,
        EventType::CampaignLaunched,
        None,
        json!({
            "id": row.id,
            "name": row.name,
            "channel": row.channel,
            "status": row.status,
            "audience": audience,
            "launched_at": row.launched_at.map(time),
        }),
    )
}

/// `campaign.sent`: an email campaign's mail was queued in the outbox (`queued` messages;
/// `skipped` contacts whose consent was withdrawn since the launch).
pub fn campaign_sent(
    conn: &mut DbConn,
    row: &CampaignRow,
    queued: i64,
    skipped: i64,
    at: NaiveDateTime,
) -> Result<(), AppError> {
    record(
        conn,
        EventType::CampaignSent,
        None,
        json!({
            "id": row.id,
            "name": row.name,
            "channel": row.channel,
            "queued": queued,
            "skipped": skipped,
            "send_requested_at": time(at),
        }),
    )
}

/// `message.failed`: a message the outbox gave up on, without its recipient or content
/// (an SMTP error that quotes the recipient's address has it masked).
pub fn message_failed(conn: &mut DbConn, message: &MessageRow, attempts: i32, error: &str) -> Result<(), AppError> {
    let error =
        if message.recipient.is_empty() { error.to_string() } else { error.replace(&message.recipient, "[recipient]") };
    record(
        conn,
        EventType::MessageFailed,
        message.customer_id,
        json!({
            "id": message.id,
            "kind": message.kind,
            "customer_id": message.customer_id,
            "campaign_id": message.campaign_id,
            "attempts": attempts,
            "error": error,
        }),
    )
}
