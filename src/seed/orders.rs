//! The second pass: what each planned order contains (lines, promo code, shipping, tax,
//! status) and what happened to it afterwards (refunds), in order of id, so that promo
//! code limits see the redemptions taken before.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{Datelike, Duration, NaiveDateTime};
use serde_json::json;

use super::catalogue::{self, anchor, Product, PromoCode, PRODUCTS, RING_SIZES, WELCOME_CODE};
use super::plan::{Channel, Plan};
use super::rng::Rng;
use crate::db::Json;
use crate::domain::promo::{evaluate, PromoRules, Purchase};
use crate::domain::Gender;
use crate::models::orders::{OrderLineRow, OrderRow, RefundWithId};
use crate::models::promo_codes::RedemptionWithId;
use serde_json::Map;

/// Codes people type that never existed (recorded as `unknown`).
const UNKNOWN_CODES: [&str; 3] = ["SPRING10", "WELCOME20", "NOEL2024"];

#[derive(Default)]
pub struct OrderBatch {
    pub orders: Vec<OrderRow>,
    pub lines: Vec<OrderLineRow>,
    pub redemptions: Vec<RedemptionWithId>,
    pub refunds: Vec<RefundWithId>,
}

/// A product's line attributes as JSON (rings: one per size).
struct ProductLines {
    attributes: Json<Map<String, serde_json::Value>>,
    ring_sizes: Vec<Json<Map<String, serde_json::Value>>>,
    available_from: NaiveDateTime,
    available_until: Option<NaiveDateTime>,
}

/// The object inside a JSON value made with `json!({...})`.
pub fn object(value: serde_json::Value) -> Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => unreachable!("attributes are built as objects, not {other}"),
    }
}

pub fn product_attributes(product: &Product) -> serde_json::Value {
    let mut attributes = json!({"material": product.material, "colour": product.colour});
    if let Some(stone) = product.stone {
        attributes["stone"] = json!(stone);
    }
    if product.product_type == "gift_card" {
        attributes = json!({"delivery": "email", "value": product.price / 100});
    }
    attributes
}

pub fn product_dates(product: &Product) -> (NaiveDateTime, Option<NaiveDateTime>) {
    let from = product
        .launched
        .map_or(super::plan::history_start() - Duration::days(30), |(y, m, d)| catalogue::at(y, m, d, 9, 0));
    (from, product.retired.map(|(y, m, d)| catalogue::at(y, m, d, 0, 0)))
}

/// A price in another currency, rounded to whole units; gift cards keep their face value.
fn price_in(product: &Product, currency: &str) -> i64 {
    if product.product_type == "gift_card" {
        return product.price;
    }
    let converted = match currency {
        "GBP" => product.price * 86 / 100,
        "USD" => product.price * 108 / 100,
        _ => return product.price,
    };
    (converted + 50) / 100 * 100
}

/// (flat shipping, free from subtotal) per currency.
fn shipping_rates(currency: &str) -> (i64, i64) {
    match currency {
        "GBP" => (395, 9000),
        "USD" => (695, 12000),
        _ => (490, 10000),
    }
}

pub struct OrderFiller {
    rng: Rng,
    products: Vec<ProductLines>,
    codes: Vec<PromoCode>,
    redemptions: Vec<i64>,
    per_customer: HashMap<(usize, u32), i64>,
    next_line: i64,
    next_redemption: i64,
    next_refund: i64,
}

impl OrderFiller {
    pub fn new(seed: u64) -> OrderFiller {
        let products = PRODUCTS
            .iter()
            .map(|product| {
                let attributes = product_attributes(product);
                let ring_sizes = if product.product_type == "ring" {
                    RING_SIZES
                        .iter()
                        .map(|(size, _)| {
                            let mut with_size = attributes.clone();
                            with_size["size"] = json!(size);
                            Json(object(with_size))
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let (available_from, available_until) = product_dates(product);
                ProductLines { attributes: Json(object(attributes)), ring_sizes, available_from, available_until }
            })
            .collect();
        let codes = catalogue::promo_codes();
        OrderFiller {
            rng: Rng::stream(seed, "order contents"),
            products,
            redemptions: vec![0; codes.len()],
            codes,
            per_customer: HashMap::new(),
            next_line: 1,
            next_redemption: 1,
            next_refund: 1,
        }
    }

    fn rules(&self, index: usize) -> PromoRules {
        let code = &self.codes[index];
        PromoRules {
            discount_type: code.discount_type.to_string(),
            discount_value: code.discount_value,
            currency: code.currency.map(str::to_string),
            valid_from: code.valid_from,
            valid_until: code.valid_until,
            max_redemptions: code.max_redemptions,
            max_redemptions_per_customer: code.max_redemptions_per_customer,
            min_subtotal: code.min_subtotal,
            active: code.active,
            redemptions: self.redemptions[index],
        }
    }

    /// The code a shopper tries at `at`, if any: mostly codes that are valid then, now
    /// and then one that just expired or was never valid.
    fn tried_code(&mut self, at: NaiveDateTime) -> Option<usize> {
        let recently = Duration::days(21);
        let weights: Vec<u64> = self
            .codes
            .iter()
            .map(|code| {
                let started = code.valid_from.is_none_or(|from| from <= at);
                match code.valid_until {
                    _ if !started || code.popularity == 0 => 0,
                    Some(until) if until <= at => u64::from(at - until < recently),
                    _ => code.popularity * 10,
                }
            })
            .collect();
        (weights.iter().sum::<u64>() > 0).then(|| self.rng.weighted(&weights))
    }

    /// Fills orders `range` (0-based positions in the plan; ids are positions + 1).
    pub fn fill(&mut self, plan: &Plan, range: Range<usize>) -> OrderBatch {
        let end = anchor();
        let mut batch = OrderBatch::default();
        for position in range {
            let planned = plan.orders[position];
            let id = position as i64 + 1;
            let customer = &plan.customers[planned.customer as usize];
            let currency = customer.currency();
            let at = planned.placed_at;
            let rng = &mut self.rng;

            // Lines: 1 to 4 distinct products, more gift cards before Christmas.
            let line_count = 1 + rng.weighted(&[55, 28, 12, 5]);
            let festive = (at.month() == 11 && at.day() >= 15) || (at.month() == 12 && at.day() <= 24);
            let male = customer.profile.details.gender == Some(Gender::Male);
            let mut weights: Vec<u64> = PRODUCTS
                .iter()
                .zip(&self.products)
                .map(|(product, lines)| {
                    if at < lines.available_from || lines.available_until.is_some_and(|until| at >= until) {
                        return 0;
                    }
                    let mut weight = 3_000_000 / (product.price as u64 / 100 + 30);
                    if product.product_type == "gift_card" && festive {
                        weight *= 3;
                    }
                    if male && matches!(product.category, "men" | "watches") {
                        weight *= 3;
                    }
                    weight
                })
                .collect();
            let first_line = batch.lines.len();
            let mut subtotal = 0;
            let mut only_gift_cards = true;
            for _ in 0..line_count {
                if weights.iter().all(|&w| w == 0) {
                    break;
                }
                let index = rng.weighted(&weights);
                weights[index] = 0;
                let product = &PRODUCTS[index];
                let lines = &self.products[index];
                let quantity = 1 + rng.weighted(&[90, 8, 2]) as i64;
                let unit_price = price_in(product, currency);
                let attributes = if lines.ring_sizes.is_empty() {
                    lines.attributes.clone()
                } else {
                    let sizes: Vec<u64> = RING_SIZES.iter().map(|(_, w)| *w).collect();
                    lines.ring_sizes[rng.weighted(&sizes)].clone()
                };
                only_gift_cards &= product.product_type == "gift_card";
                subtotal += quantity * unit_price;
                batch.lines.push(OrderLineRow {
                    id: self.next_line,
                    order_id: id,
                    product_id: Some(index as i64 + 1),
                    sku: product.sku.to_string(),
                    name: product.name.to_string(),
                    product_type: Some(product.product_type.to_string()),
                    attributes,
                    quantity,
                    unit_price,
                    refunded_quantity: 0,
                });
                self.next_line += 1;
            }

            let shipping = if planned.channel == Channel::Store || only_gift_cards {
                0
            } else {
                let (flat, free_from) = shipping_rates(currency);
                if subtotal >= free_from {
                    0
                } else {
                    flat
                }
            };

            // A promo code on about one order in seven.
            let web_like = matches!(planned.channel, Channel::Web | Channel::Phone);
            let tried = match planned.campaign_code {
                Some(code) => Some(Ok(code as usize)),
                None if planned.first && web_like && self.rng.chance(300) => Some(Ok(WELCOME_CODE)),
                None if self.rng.chance(150) => {
                    if self.rng.chance(15) {
                        Some(Err(*self.rng.pick(&UNKNOWN_CODES)))
                    } else {
                        self.tried_code(at).map(Ok)
                    }
                }
                None => None,
            };
            let (mut promo_code, mut promo_code_id, mut promo_code_status, mut discount) = (None, None, None, 0);
            match tried {
                Some(Ok(index)) => {
                    let key = (index, planned.customer);
                    let purchase = Purchase {
                        subtotal,
                        shipping,
                        currency,
                        at,
                        customer_redemptions: self.per_customer.get(&key).copied().unwrap_or(0),
                    };
                    promo_code = Some(self.codes[index].code);
                    promo_code_id = Some(index as i64 + 1);
                    match evaluate(&self.rules(index), &purchase) {
                        Ok((amount, status)) => {
                            discount = amount;
                            promo_code_status = Some(status);
                            // A cancelled order gives its redemption back.
                            if !planned.cancelled {
                                self.redemptions[index] += 1;
                                *self.per_customer.entry(key).or_default() += 1;
                                batch.redemptions.push(RedemptionWithId {
                                    id: self.next_redemption,
                                    promo_code_id: index as i64 + 1,
                                    order_id: id,
                                    customer_id: i64::from(planned.customer) + 1,
                                    discount_amount: amount,
                                    created_at: at,
                                });
                                self.next_redemption += 1;
                            }
                        }
                        Err((refusal, _)) => promo_code_status = Some(refusal.as_str()),
                    }
                }
                Some(Err(unknown)) => {
                    promo_code = Some(unknown);
                    promo_code_status = Some("unknown");
                }
                None => {}
            }
            let tax = if currency == "USD" { (subtotal - discount) * 8 / 100 } else { 0 };
            let total = subtotal - discount + shipping + tax;

            let rng = &mut self.rng;
            let age = end - at;
            let status = if planned.cancelled {
                "cancelled"
            } else if planned.channel == Channel::Store || age > Duration::days(10) {
                "fulfilled"
            } else if age > Duration::days(2) {
                if rng.chance(400) {
                    "fulfilled"
                } else {
                    "paid"
                }
            } else if rng.chance(500) {
                "paid"
            } else {
                "placed"
            };
            let latest = end - Duration::seconds(1);
            let created_at = match planned.channel {
                Channel::Marketplace => at + Duration::seconds(rng.between(300, 3600)),
                Channel::Store => at,
                _ => at + Duration::seconds(rng.between(1, 3)),
            }
            .min(latest)
            .max(at);
            let mut updated_at = match status {
                "fulfilled" if planned.channel == Channel::Store => created_at,
                "fulfilled" => created_at + Duration::hours(rng.between(20, 96)),
                "paid" => created_at + Duration::minutes(rng.between(1, 120)),
                "cancelled" => created_at + Duration::hours(rng.between(1, 48)),
                _ => created_at,
            }
            .min(latest)
            .max(created_at);

            // About 4% of fulfilled orders are refunded, in full, by returned lines, or
            // as a goodwill gesture.
            let mut refunded_total = 0;
            let has_lines = batch.lines.len() > first_line;
            if status == "fulfilled" && total > 0 && has_lines && at + Duration::days(8) < end && rng.chance(45) {
                let refunded_at = (at + Duration::days(rng.between(7, 40))).min(latest).max(updated_at);
                let order_lines = &mut batch.lines[first_line..];
                let (amount, reason, returned): (i64, &'static str, Vec<(i64, i64)>) = match rng.below(100) {
                    0..=34 => {
                        let returned = order_lines.iter().map(|l| (l.id, l.quantity)).collect();
                        (total, *rng.pick(&["changed my mind", "wrong size", "arrived damaged"]), returned)
                    }
                    35..=79 => {
                        let line = rng.below(order_lines.len() as u64) as usize;
                        let (line_id, unit_price) = (order_lines[line].id, order_lines[line].unit_price);
                        let paid_share = if subtotal > 0 { unit_price * (subtotal - discount) / subtotal } else { 0 };
                        let amount = (paid_share + unit_price * tax / subtotal.max(1)).clamp(1, total);
                        (amount, *rng.pick(&["wrong size", "not as pictured", "changed my mind"]), vec![(line_id, 1)])
                    }
                    _ => {
                        let amount = (total * rng.between(10, 30) / 100).max(1);
                        (amount, *rng.pick(&["late delivery", "damaged packaging", "goodwill gesture"]), Vec::new())
                    }
                };
                for &(line_id, quantity) in &returned {
                    if let Some(line) = order_lines.iter_mut().find(|l| l.id == line_id) {
                        line.refunded_quantity += quantity;
                    }
                }
                let lines_json =
                    json!(returned.iter().map(|(l, q)| json!({"line_id": l, "quantity": q})).collect::<Vec<_>>());
                batch.refunds.push(RefundWithId {
                    id: self.next_refund,
                    order_id: id,
                    amount,
                    reason: reason.to_string(),
                    lines: lines_json.to_string(),
                    created_by: "customer-service".to_string(),
                    created_at: refunded_at,
                });
                self.next_refund += 1;
                refunded_total = amount;
                updated_at = refunded_at;
            }

            let (external_id, source_detail, created_by) = match planned.channel {
                Channel::Web => (Some(format!("WEB-{}", 100_000 + id)), Some("webshop"), "shop-checkout"),
                Channel::Store => (Some(format!("POS-{}", 500_000 + id)), customer.store, "pos"),
                Channel::Marketplace => {
                    let market = *rng.weighted_pick(&[("etsy", 50), ("amazon", 30), ("zalando", 20)]);
                    (Some(format!("MKT-{}", 900_000 + id)), Some(market), "marketplace-sync")
                }
                Channel::Phone => (None, Some("customer service"), "customer-service"),
            };
            batch.orders.push(OrderRow {
                id,
                external_id,
                customer_id: i64::from(planned.customer) + 1,
                status: status.to_string(),
                channel: planned.channel.as_str().to_string(),
                source_detail: source_detail.map(str::to_string),
                placed_at: at,
                currency: currency.to_string(),
                subtotal,
                discount_total: discount,
                shipping_total: shipping,
                tax_total: tax,
                total,
                refunded_total,
                promo_code: promo_code.map(str::to_string),
                promo_code_id,
                promo_code_status: promo_code_status.map(str::to_string),
                referral_code: None,
                created_by: created_by.to_string(),
                created_at,
                updated_at,
            });
        }
        batch
    }
}
