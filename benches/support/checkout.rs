//! The order the order benchmarks send: the catalogue and promo code it needs (set up
//! through the API), its 3 tracked lines and totals, the `POST /v1/orders` body for a
//! pool customer, and one checked `POST /v1/orders`. benches/orders.rs and
//! benches/webhooks.rs send exactly this order.

use std::net::SocketAddr;

use super::{names, HttpClient, CITIES, TAGS};

pub const PROMO_CODE: &str = "BENCH10";
pub const PROMO_PERCENT: i64 = 10;
/// The code's redemption limit: far above what a run places, so every order applies it,
/// through the same guarded counter a limited sale code uses.
pub const PROMO_LIMIT: i64 = 100_000_000;
pub const INITIAL_STOCK: i64 = 1_000_000_000;
pub const SHIPPING_TOTAL: i64 = 490;
pub const TAX_TOTAL: i64 = 2_820;
pub const CONSENT_TEXT: &str = "Send me offers by email";

pub struct LineSpec {
    pub sku: &'static str,
    pub name: &'static str,
    pub product_type: &'static str,
    pub quantity: i64,
    pub unit_price: i64,
}

pub const LINES: [LineSpec; 3] = [
    LineSpec { sku: "BENCH-RING-1", name: "Silver ring", product_type: "ring", quantity: 1, unit_price: 2_500 },
    LineSpec {
        sku: "BENCH-NECKLACE-2",
        name: "Gold necklace",
        product_type: "necklace",
        quantity: 2,
        unit_price: 4_900,
    },
    LineSpec {
        sku: "BENCH-EARRINGS-3",
        name: "Pearl earrings",
        product_type: "earrings",
        quantity: 1,
        unit_price: 1_800,
    },
];

pub fn subtotal() -> i64 {
    LINES.iter().map(|line| line.quantity * line.unit_price).sum()
}

pub fn units_per_order() -> i64 {
    LINES.iter().map(|line| line.quantity).sum()
}

pub fn discount_total() -> i64 {
    subtotal() * PROMO_PERCENT / 100
}

pub fn order_total() -> i64 {
    subtotal() - discount_total() + SHIPPING_TOTAL + TAX_TOTAL
}

/// The 3 tracked products and the promo code, through the API.
pub fn setup_catalogue(addr: SocketAddr, token: &str) {
    let mut client = HttpClient::connect(addr, token);
    for line in &LINES {
        let body = serde_json::json!({
            "sku": line.sku, "name": line.name, "product_type": line.product_type, "price": line.unit_price,
            "currency": "EUR", "track_inventory": true, "stock_quantity": INITIAL_STOCK,
        });
        let body = serde_json::to_vec(&body).expect("serialize a product");
        let (status, response) = client.send("POST", "/v1/products", &[], Some(&body)).expect("POST /v1/products");
        assert_eq!(status, 201, "POST /v1/products: {}", String::from_utf8_lossy(&response));
    }
    let body = serde_json::json!({
        "code": PROMO_CODE, "description": "benchmark", "discount": {"type": "percent", "value": PROMO_PERCENT},
        "max_redemptions": PROMO_LIMIT,
    });
    let body = serde_json::to_vec(&body).expect("serialize a promo code");
    let (status, response) = client.send("POST", "/v1/promo-codes", &[], Some(&body)).expect("POST /v1/promo-codes");
    assert_eq!(status, 201, "POST /v1/promo-codes: {}", String::from_utf8_lossy(&response));
}

/// The `POST /v1/orders` body: pool customer `index`'s details under `email`.
pub fn order_json(email: &str, index: usize) -> Vec<u8> {
    let (first_name, last_name) = names(index);
    let (city, postal_code) = CITIES[index % CITIES.len()];
    let lines: Vec<serde_json::Value> = LINES
        .iter()
        .map(|line| {
            serde_json::json!({
                "sku": line.sku, "name": line.name, "product_type": line.product_type,
                "attributes": {"gift_wrap": false}, "quantity": line.quantity, "unit_price": line.unit_price,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "channel": "web",
        "source_detail": "benchmark",
        "currency": "EUR",
        "customer": {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            // +33 61x xx xx xx: always a valid French mobile number.
            "phone": format!("+3361{:07}", index),
            "address": {"line1": format!("{} rue des Lilas", index % 120 + 1), "city": city,
                        "postal_code": postal_code, "country": "FR"},
            "tags": [TAGS[index % TAGS.len()], TAGS[(index + 1) % TAGS.len()]],
            "attributes": {"favourite_colour": "green", "loyalty_points": index % 500},
        },
        "lines": lines,
        "discount_total": discount_total(),
        "shipping_total": SHIPPING_TOTAL,
        "tax_total": TAX_TOTAL,
        "total": order_total(),
        "promo_code": PROMO_CODE,
        "marketing_consent": {"channels": ["email"], "text": CONSENT_TEXT},
    }))
    .expect("serialize an order")
}

/// One `POST /v1/orders` of pool customer `index`'s order under `email`, with `key` as its
/// `Idempotency-Key`; panics unless the answer is 201 with the total, the promo code
/// applied and 3 lines.
pub fn post_order(client: &mut HttpClient, email: &str, index: usize, key: &str) {
    let body = order_json(email, index);
    let (status, response) =
        client.send("POST", "/v1/orders", &[("Idempotency-Key", key)], Some(&body)).expect("POST /v1/orders");
    assert_eq!(status, 201, "POST /v1/orders: {}", String::from_utf8_lossy(&response));
    #[derive(serde::Deserialize)]
    struct Created {
        total: i64,
        promo_code_status: Option<String>,
        lines: Vec<serde::de::IgnoredAny>,
    }
    let created: Created = serde_json::from_slice(&response).expect("an order");
    assert_eq!(
        (created.total, created.promo_code_status.as_deref(), created.lines.len()),
        (order_total(), Some("applied"), 3),
        "the order's total, promo code status and lines"
    );
}
