//! Sales analytics: a small dataset with hand-computed figures, time zone and ISO week
//! edges, the rollups against the raw orders after random changes, and bad parameters.
//!
//! When the request's time zone is the server's RAPPORT_TIMEZONE the figures come from the
//! rollups. In any other zone (even `Etc/UTC` on a server in `UTC`), sales per period and
//! cohorts read the orders, and the reports over a range (products, product types,
//! promotions, channels) read the rollups' whole days inside the range and the orders at
//! its edges. Most assertions below run in both zones and must give the same answer, and
//! the answers in zones with other offsets are checked against the orders alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{new_database, Backend, TestApp};

both_backends!(
    a_customer_shows_its_rfm_scores,
    sales_buckets_totals_and_filters,
    products_and_product_types_rank_lines,
    promotions_channels_and_sources,
    customer_value_rfm_and_cohorts,
    an_evening_order_counts_on_the_local_day,
    iso_weeks_years_and_empty_periods,
    first_orders_move_with_cancellations_and_merges,
    rollups_agree_with_the_orders_after_random_changes,
    rollups_in_paris_agree_with_the_orders_after_random_changes,
    other_time_zones_read_whole_days_and_the_orders_at_the_edges,
    a_restart_in_another_time_zone_rebuilds_the_rollups,
    bad_parameters_are_422,
);

/// The zone the test servers run in by default (RAPPORT_TIMEZONE unset): the rollups' zone.
const ROLLUPS: &str = "UTC";
/// The same offsets under another name: read from the orders.
const RAW: &str = "Etc/UTC";
/// Ranges that are exactly one year, month or ISO week.
const WHOLE_PERIODS: [&str; 3] =
    ["from=2026-01-01&to=2026-12-31", "from=2026-09-01&to=2026-09-30", "from=2026-09-07&to=2026-09-13"];
/// Both paths, for assertions that must hold on each.
const BOTH_PATHS: [&str; 2] = [ROLLUPS, RAW];

// ---- Helpers -------------------------------------------------------------------------------

/// One order line: `material` goes into the line's attributes when given.
fn line(sku: &str, product_type: &str, material: Option<&str>, quantity: i64, unit_price: i64) -> Value {
    let attributes = match material {
        Some(material) => json!({"material": material}),
        None => json!({}),
    };
    json!({"sku": sku, "name": sku, "product_type": product_type, "quantity": quantity, "unit_price": unit_price,
           "attributes": attributes})
}

/// An order to place; the subtotal and total are computed from the lines.
struct NewOrder<'a> {
    customer: i64,
    placed_at: &'a str,
    channel: &'a str,
    currency: &'a str,
    lines: Vec<Value>,
    discount: i64,
    shipping: i64,
    promo_code: Option<&'a str>,
}

impl<'a> NewOrder<'a> {
    /// A EUR web order without discount, shipping or code.
    fn new(customer: i64, placed_at: &'a str, lines: Vec<Value>) -> NewOrder<'a> {
        NewOrder {
            customer,
            placed_at,
            channel: "web",
            currency: "EUR",
            lines,
            discount: 0,
            shipping: 0,
            promo_code: None,
        }
    }
}

/// Places an order (201 expected) and returns its JSON.
async fn place(app: &TestApp, order: NewOrder<'_>) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let subtotal: i64 =
        order.lines.iter().map(|l| l["quantity"].as_i64().unwrap() * l["unit_price"].as_i64().unwrap()).sum();
    let body = json!({
        "external_id": format!("sa-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        "channel": order.channel, "placed_at": order.placed_at, "currency": order.currency,
        "customer": {"id": order.customer}, "lines": order.lines,
        "discount_total": order.discount, "shipping_total": order.shipping, "tax_total": 0,
        "total": subtotal - order.discount + order.shipping, "promo_code": order.promo_code,
    });
    let response = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

fn id(value: &Value) -> i64 {
    value["id"].as_i64().expect("an id")
}

async fn set_status(app: &TestApp, order_id: i64, status: &str) {
    let path = format!("/v1/orders/{order_id}/status");
    let response = app.post(&path, &app.token("orders:write"), json!({"status": status})).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
}

async fn cancel(app: &TestApp, order_id: i64) {
    set_status(app, order_id, "cancelled").await;
}

/// Refunds `amount`, with (line id, quantity) pairs.
async fn refund(app: &TestApp, order_id: i64, amount: i64, lines: &[(i64, i64)]) -> Value {
    let lines: Vec<Value> = lines.iter().map(|(l, q)| json!({"line_id": l, "quantity": q})).collect();
    let body = json!({"amount": amount, "reason": "returned", "lines": lines});
    let response = app.post(&format!("/v1/orders/{order_id}/refunds"), &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

async fn merge(app: &TestApp, survivor: i64, duplicate: i64) {
    let path = format!("/v1/customers/{survivor}/merge");
    let response = app.post(&path, &app.token("customers:write"), json!({"duplicate_id": duplicate})).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
}

async fn customer(app: &TestApp, body: Value) -> i64 {
    id(&app.create_customer(body).await)
}

async fn product(app: &TestApp, body: Value) {
    let response = app.post("/v1/products", &app.token("products:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

async fn promo_code(app: &TestApp, body: Value) {
    let response = app.post("/v1/promo-codes", &app.token("campaigns:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

/// GET an analytics URL, 200 expected.
async fn analytics(app: &TestApp, url: &str) -> Value {
    let response = app.get(url, &app.token("analytics:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{url}: {}", response.text);
    response.body
}

/// A sales bucket as the API writes it.
#[allow(clippy::too_many_arguments)]
fn bucket(
    period_start: &str,
    orders: i64,
    units: i64,
    revenue: i64,
    discounts: i64,
    refunds: i64,
    aov: Option<i64>,
    new_customers: i64,
    returning_customers: i64,
) -> Value {
    json!({"period_start": period_start, "orders": orders, "units": units, "revenue": revenue, "discounts": discounts,
           "refunds": refunds, "net_revenue": revenue - discounts, "average_order_value": aov,
           "new_customers": new_customers, "returning_customers": returning_customers})
}

fn empty_bucket(period_start: &str) -> Value {
    bucket(period_start, 0, 0, 0, 0, 0, None, 0, 0)
}

/// Sales totals as the API writes them.
fn totals(orders: i64, units: i64, revenue: i64, discounts: i64, refunds: i64, aov: Option<i64>, new: i64) -> Value {
    json!({"orders": orders, "units": units, "revenue": revenue, "discounts": discounts, "refunds": refunds,
           "net_revenue": revenue - discounts, "average_order_value": aov, "new_customers": new})
}

/// A ranked group as the API writes it.
#[allow(clippy::too_many_arguments)]
fn group(
    key: &str,
    name: Option<&str>,
    units: i64,
    revenue: i64,
    net_revenue: i64,
    orders: i64,
    customers: i64,
    share: f64,
) -> Value {
    json!({"key": key, "name": name, "units": units, "revenue": revenue, "net_revenue": net_revenue,
           "orders": orders, "customers": customers, "share": share})
}

fn keys(body: &Value, list: &str, field: &str) -> Vec<String> {
    body[list].as_array().unwrap().iter().map(|g| g[field].as_str().unwrap().to_string()).collect()
}

// ---- The hand-computed dataset ----------------------------------------------------------------

/// Catalogue names.
const RING: &str = "RING-1";
const NECKLACE: &str = "NECK-1";
const SCARF: &str = "SCARF-1";
/// Not in the catalogue.
const GIFT_WRAP: &str = "GIFT-WRAP";

struct Shop {
    ana: i64,
    ben: i64,
    cleo: i64,
}

/// Customers (source): ana (store), ben (newsletter_form), cleo (newsletter_form), dan (event).
/// Catalogue: RING-1 ring/jewellery 25.00, NECK-1 necklace/jewellery 80.00, SCARF-1
/// scarf/accessories 30.00. Promo code AUTUMN: 10.00 off (EUR).
///
/// Orders (EUR unless said; gross = total + discount; net = total − refunded):
/// - O1 ana 2026-10-05 10:00Z web: 2 RING (silver) 5000 + 1 SCARF (wool) 3000 = 8000,
///   shipping 500, total 8500. gross 8500, units 3, net 8500. Ana's first order.
/// - O2 ben 2026-10-12 09:00Z store: 1 NECK (gold) 8000, AUTUMN applied, discount 1000,
///   total 7000. gross 8000, units 1, net 7000. Ben's first order.
/// - O3 ana 2026-11-02 15:00Z web: 1 NECK (gold) 8000 + 1 RING (silver) 2500 = 10500,
///   AUTUMN applied, discount 1000, total 9500; then refunded 2500 with the ring (1 unit).
///   gross 10500, refunds 2500, revenue 8000, units 1, net 7000.
///   Discount shares: NECK floor(1000 × 8000 / 10500) = 761, RING floor(1000 × 2500 / 10500) = 238.
/// - O4 cleo 2026-11-02 23:30Z web (00:30 on the 3rd in Paris): 2 SCARF (wool) 6000, total 6000.
///   Cleo's first order.
/// - O5 dan 2026-11-10 12:00Z store: 1 RING 2500, AUTUMN, discount 1000, total 1500: CANCELLED.
/// - O6 ben 2026-11-15 08:00Z store (a Sunday): 1 SCARF (wool) 3000 + 1 RING (gold) 2500 +
///   1 GIFT-WRAP (service, no attributes) 500 = 6000, code NOPE (unknown: not applied), total 6000.
/// - O7 cleo 2026-11-05 10:00Z web, USD: 1 SCARF 3500, total 3500.
async fn shop(app: &TestApp) -> Shop {
    let ana = customer(
        app,
        json!({"email": "ana@example.com", "first_name": "Ana", "last_name": "Silva", "source": "store"}),
    )
    .await;
    let ben = customer(
        app,
        json!({"email": "ben@example.com", "first_name": "Ben", "last_name": "Okafor", "source": "newsletter_form"}),
    )
    .await;
    let cleo =
        customer(app, json!({"email": "cleo@example.com", "first_name": "Cleo", "source": "newsletter_form"})).await;
    let dan = customer(app, json!({"email": "dan@example.com", "first_name": "Dan", "source": "event"})).await;
    for (sku, name, product_type, category, price) in [
        (RING, "Silver ring", "ring", "jewellery", 2500),
        (NECKLACE, "Gold necklace", "necklace", "jewellery", 8000),
        (SCARF, "Wool scarf", "scarf", "accessories", 3000),
    ] {
        product(
            app,
            json!({"sku": sku, "name": name, "product_type": product_type, "category": category, "price": price,
                   "currency": "EUR", "track_inventory": false}),
        )
        .await;
    }
    promo_code(app, json!({"code": "AUTUMN", "discount": {"type": "fixed", "value": 1000}, "currency": "EUR"})).await;

    let mut o1 = NewOrder::new(
        ana,
        "2026-10-05T10:00:00Z",
        vec![line(RING, "ring", Some("silver"), 2, 2500), line(SCARF, "scarf", Some("wool"), 1, 3000)],
    );
    o1.shipping = 500;
    place(app, o1).await;

    let mut o2 = NewOrder::new(ben, "2026-10-12T09:00:00Z", vec![line(NECKLACE, "necklace", Some("gold"), 1, 8000)]);
    (o2.channel, o2.discount, o2.promo_code) = ("store", 1000, Some("AUTUMN"));
    assert_eq!(place(app, o2).await["promo_code_status"], "applied");

    let mut o3 = NewOrder::new(
        ana,
        "2026-11-02T15:00:00Z",
        vec![line(NECKLACE, "necklace", Some("gold"), 1, 8000), line(RING, "ring", Some("silver"), 1, 2500)],
    );
    (o3.discount, o3.promo_code) = (1000, Some("autumn"));
    let o3 = place(app, o3).await;
    assert_eq!(o3["promo_code_status"], "applied");
    let ring_line = o3["lines"].as_array().unwrap().iter().find(|l| l["sku"] == RING).unwrap()["id"].as_i64().unwrap();
    let refunded = refund(app, id(&o3), 2500, &[(ring_line, 1)]).await;
    assert_eq!((refunded["refunded_total"].as_i64(), refunded["net_total"].as_i64()), (Some(2500), Some(7000)));

    place(app, NewOrder::new(cleo, "2026-11-02T23:30:00Z", vec![line(SCARF, "scarf", Some("wool"), 2, 3000)])).await;

    let mut o5 = NewOrder::new(dan, "2026-11-10T12:00:00Z", vec![line(RING, "ring", Some("silver"), 1, 2500)]);
    (o5.channel, o5.discount, o5.promo_code) = ("store", 1000, Some("AUTUMN"));
    let o5 = place(app, o5).await;
    assert_eq!(o5["promo_code_status"], "applied");
    cancel(app, id(&o5)).await;

    let mut o6 = NewOrder::new(
        ben,
        "2026-11-15T08:00:00Z",
        vec![
            line(SCARF, "scarf", Some("wool"), 1, 3000),
            line(RING, "ring", Some("gold"), 1, 2500),
            line(GIFT_WRAP, "service", None, 1, 500),
        ],
    );
    (o6.channel, o6.promo_code) = ("store", Some("NOPE"));
    assert_eq!(place(app, o6).await["promo_code_status"], "unknown");

    let mut o7 = NewOrder::new(cleo, "2026-11-05T10:00:00Z", vec![line(SCARF, "scarf", Some("wool"), 1, 3500)]);
    o7.currency = "USD";
    place(app, o7).await;
    Shop { ana, ben, cleo }
}

const OCT_NOV: &str = "from=2026-10-01&to=2026-11-30";

async fn sales_buckets_totals_and_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    shop(&app).await;
    for tz in BOTH_PATHS {
        let monthly = analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=month&timezone={tz}")).await;
        assert_eq!(
            (&monthly["currency"], &monthly["other_currencies"], &monthly["granularity"], &monthly["timezone"]),
            (&json!("EUR"), &json!(["USD"]), &json!("month"), &json!(tz)),
            "{tz}: EUR has 5 orders, USD 1"
        );
        // October: O1 + O2. units 3 + 1; revenue 8500 + 8000; discounts 1000; net 15500; aov 7750;
        // new: ana, ben.
        // November: O3 + O4 + O6 (O5 cancelled). units 1 + 2 + 3 = 6; revenue 8000 + 6000 + 6000 =
        // 20000; discounts 1000; refunds 2500; net 19000; aov round(19000 / 3) = 6333; new: cleo;
        // customers ana, cleo, ben: 2 returning.
        assert_eq!(
            monthly["buckets"],
            json!([
                bucket("2026-10-01", 2, 4, 16500, 1000, 0, Some(7750), 2, 0),
                bucket("2026-11-01", 3, 6, 20000, 1000, 2500, Some(6333), 1, 2),
            ]),
            "{tz}"
        );
        // 36500 − 2000 = 34500 = (8500 + 7000 + 9500 + 6000 + 6000) − 2500; aov 34500 / 5 = 6900.
        assert_eq!(monthly["totals"], totals(5, 10, 36500, 2000, 2500, Some(6900), 3), "{tz}");

        // Days: O3 and O4 on 2 November in UTC; the 1st and 3rd are empty.
        let daily = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2026-11-01&to=2026-11-03&granularity=day&timezone={tz}"),
        )
        .await;
        assert_eq!(
            daily["buckets"],
            json!([
                empty_bucket("2026-11-01"),
                // 10500 + 6000 − 2500 refunded; discounts 1000; net 13000 / 2 orders = 6500.
                bucket("2026-11-02", 2, 3, 14000, 1000, 2500, Some(6500), 1, 1),
                empty_bucket("2026-11-03"),
            ]),
            "{tz}"
        );
        assert_eq!(daily["totals"], totals(2, 3, 14000, 1000, 2500, Some(6500), 1), "{tz}");

        // ISO weeks from Monday 28 September; O6 (Sunday 15 November) is in the week of the 9th.
        let weekly = analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=week&timezone={tz}")).await;
        let weeks: Vec<(String, i64)> = weekly["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["period_start"].as_str().unwrap().to_string(), b["orders"].as_i64().unwrap()))
            .collect();
        let expected: Vec<(String, i64)> = [
            ("2026-09-28", 0),
            ("2026-10-05", 1),
            ("2026-10-12", 1),
            ("2026-10-19", 0),
            ("2026-10-26", 0),
            ("2026-11-02", 2),
            ("2026-11-09", 1),
            ("2026-11-16", 0),
            ("2026-11-23", 0),
            ("2026-11-30", 0),
        ]
        .iter()
        .map(|(d, n)| (d.to_string(), *n))
        .collect();
        assert_eq!(weeks, expected, "{tz}");

        let sales = |filter: String| {
            let app = &app;
            async move {
                analytics(app, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=month&timezone={tz}&{filter}")).await
                    ["totals"]
                    .clone()
            }
        };
        // AUTUMN applied on O2 and O3 (O5 cancelled): gross 8000 + 10500 − 2500 refunded = 16000;
        // discounts 2000; net 14000; new: O2 was ben's first.
        assert_eq!(sales("promo_code=autumn".into()).await, totals(2, 2, 16000, 2000, 2500, Some(7000), 1), "{tz}");
        // NOPE was never applied: nothing, though O6 carries it.
        assert_eq!(sales("promo_code=NOPE".into()).await, totals(0, 0, 0, 0, 0, None, 0), "{tz}");
        // store: O2 + O6: 8000 + 6000; units 1 + 3; discounts 1000; net 13000.
        assert_eq!(sales("channel=store".into()).await, totals(2, 4, 14000, 1000, 0, Some(6500), 1), "{tz}");
        // scarf lines of O1 (3000), O4 (6000), O6 (3000): 4 units; O1 and O4 were first orders.
        assert_eq!(sales("product_type=scarf".into()).await, totals(3, 4, 12000, 0, 0, Some(4000), 2), "{tz}");
        // Two filters (never from the rollups): ring lines of web orders, O1 (2 × 2500) and O3
        // (2500, share of discount 238, refunded 2500): units 2 + 0, revenue 5000, net 4762.
        assert_eq!(
            sales("channel=web&product_type=ring".into()).await,
            totals(2, 2, 5000, 238, 2500, Some(2381), 1),
            "{tz}"
        );
        // USD: O7 alone, cleo's first order in USD.
        let usd =
            analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=month&timezone={tz}&currency=USD"))
                .await;
        assert_eq!((&usd["currency"], &usd["other_currencies"]), (&json!("USD"), &json!(["EUR"])), "{tz}");
        assert_eq!(usd["totals"], totals(1, 1, 3500, 0, 0, Some(3500), 1), "{tz}");

        // One SKU's lines: RING-1.
        // October: O1, 2 × 2500, ana's first order.
        // November: O3 (2500, discount share 238, refunded 2500, 0 units) and O6 (2500, 1 unit):
        // revenue 5000 − 2500 = 2500; net 2262; aov 1131; ana and ben both returning.
        let ring =
            analytics(&app, &format!("/v1/analytics/products/{RING}/sales?{OCT_NOV}&granularity=month&timezone={tz}"))
                .await;
        assert_eq!(
            ring["buckets"],
            json!([
                bucket("2026-10-01", 1, 2, 5000, 0, 0, Some(5000), 1, 0),
                bucket("2026-11-01", 2, 1, 2500, 238, 2500, Some(1131), 0, 2),
            ]),
            "{tz}"
        );
        // net 7262 / 3 orders = 2420.67 → 2421.
        assert_eq!(ring["totals"], totals(3, 3, 7500, 238, 2500, Some(2421), 1), "{tz}");
    }

    // In Paris O4 (23:30Z on the 2nd) is on the 3rd.
    let paris =
        analytics(&app, "/v1/analytics/sales?from=2026-11-01&to=2026-11-03&granularity=day&timezone=Europe/Paris")
            .await;
    assert_eq!(
        paris["buckets"],
        json!([
            empty_bucket("2026-11-01"),
            bucket("2026-11-02", 1, 1, 8000, 1000, 2500, Some(7000), 0, 1),
            bucket("2026-11-03", 1, 2, 6000, 0, 0, Some(6000), 1, 0),
        ])
    );
    // Without granularity: months; without timezone: the server's (UTC, the rollups).
    let default = analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}")).await;
    assert_eq!((&default["granularity"], &default["timezone"]), (&json!("month"), &json!("UTC")));
    assert_eq!(default["totals"]["net_revenue"], 34500);
}

async fn products_and_product_types_rank_lines(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    shop(&app).await;
    // Per SKU (lines of O1, O2, O3, O4, O6; O5 cancelled, O7 in USD):
    // - NECK-1: O2 8000 (discount share 1000) + O3 8000 (761): units 2, revenue 16000, net 14239,
    //   orders 2, customers ben, ana.
    // - SCARF-1: O1 3000 + O4 6000 + O6 3000: units 4, revenue 12000, orders 3, customers 3.
    // - RING-1: O1 5000 + O3 2500 (refunded: −2500, share 238) + O6 2500: units 2 + 0 + 1,
    //   revenue 7500, net 7262, orders 3, customers ana, ben.
    // - GIFT-WRAP: O6 500, not in the catalogue (no name).
    // Revenue of everything: 16000 + 12000 + 7500 + 500 = 36000; units 2 + 4 + 3 + 1 = 10.
    let necklace = group(NECKLACE, Some("Gold necklace"), 2, 16000, 14239, 2, 2, 0.4444);
    let scarf = group(SCARF, Some("Wool scarf"), 4, 12000, 12000, 3, 3, 0.3333);
    let ring = group(RING, Some("Silver ring"), 3, 7500, 7262, 3, 2, 0.2083);
    let wrap = group(GIFT_WRAP, None, 1, 500, 500, 1, 1, 0.0139);
    for tz in BOTH_PATHS {
        let top = analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}")).await;
        assert_eq!(
            (&top["currency"], &top["other_currencies"], &top["by"], &top["group_by"]),
            (&json!("EUR"), &json!(["USD"]), &json!("revenue"), &json!("sku")),
            "{tz}"
        );
        assert_eq!(top["groups"], json!([necklace, scarf, ring, wrap]), "{tz}");

        // By units: 4, 3, 2, 1 of 10.
        let by_units = analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&by=units")).await;
        assert_eq!(keys(&by_units, "groups", "key"), [SCARF, RING, NECKLACE, GIFT_WRAP], "{tz}");
        let shares: Vec<f64> =
            by_units["groups"].as_array().unwrap().iter().map(|g| g["share"].as_f64().unwrap()).collect();
        assert_eq!(shares, [0.4, 0.3, 0.2, 0.1], "{tz}");

        // The limit keeps the shares of the whole.
        let two = analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&limit=2")).await;
        assert_eq!(two["groups"], json!([necklace, scarf]), "{tz}");

        // Catalogue filters: type ring → RING-1 alone; category jewellery → NECK-1 16000 and
        // RING-1 7500 of 23500 (0.6809, 0.3191).
        let rings =
            analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&product_type=ring")).await;
        assert_eq!(rings["groups"], json!([group(RING, Some("Silver ring"), 3, 7500, 7262, 3, 2, 1.0)]), "{tz}");
        // Types, categories and channels are stored lower-case: filters ignore case.
        let shouted =
            analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&product_type=Ring")).await;
        assert_eq!(shouted["groups"], rings["groups"], "{tz}");
        let jewellery =
            analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&category=jewellery")).await;
        assert_eq!(
            jewellery["groups"],
            json!([
                group(NECKLACE, Some("Gold necklace"), 2, 16000, 14239, 2, 2, 0.6809),
                group(RING, Some("Silver ring"), 3, 7500, 7262, 3, 2, 0.3191),
            ]),
            "{tz}"
        );
        // Store orders (O2, O6): NECK 8000, SCARF 3000, RING 2500, GIFT 500 of 14000.
        let store = analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&channel=store")).await;
        let ranked: Vec<(String, f64)> = store["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["key"].as_str().unwrap().to_string(), g["share"].as_f64().unwrap()))
            .collect();
        assert_eq!(
            ranked,
            [(NECKLACE.to_string(), 0.5714), (SCARF.into(), 0.2143), (RING.into(), 0.1786), (GIFT_WRAP.into(), 0.0357)],
            "{tz}"
        );

        // By the lines' product type: the same figures as the SKUs here.
        let types = analytics(&app, &format!("/v1/analytics/product-types?{OCT_NOV}&timezone={tz}")).await;
        assert_eq!(types["group_by"], "product_type", "{tz}");
        assert_eq!(
            types["groups"],
            json!([
                group("necklace", None, 2, 16000, 14239, 2, 2, 0.4444),
                group("scarf", None, 4, 12000, 12000, 3, 3, 0.3333),
                group("ring", None, 3, 7500, 7262, 3, 2, 0.2083),
                group("service", None, 1, 500, 500, 1, 1, 0.0139),
            ]),
            "{tz}"
        );

        // By catalogue category (GIFT-WRAP has none): jewellery = NECK + RING: units 5, revenue
        // 23500, net 14239 + 7262 = 21501, orders O1 O2 O3 O6, customers ana ben; accessories =
        // SCARF. Of 35500: 0.6620 and 0.3380.
        let categories =
            analytics(&app, &format!("/v1/analytics/product-types?{OCT_NOV}&timezone={tz}&group_by=category")).await;
        assert_eq!(categories["group_by"], "category", "{tz}");
        assert_eq!(
            categories["groups"],
            json!([
                group("jewellery", None, 5, 23500, 21501, 4, 2, 0.662),
                group("accessories", None, 4, 12000, 12000, 3, 3, 0.338),
            ]),
            "{tz}"
        );

        // By the lines' material (GIFT-WRAP has none):
        // - gold: NECK in O2 and O3 + the ring of O6: units 3, revenue 18500, discounts 1000 + 761,
        //   net 16739, orders 3, customers ben, ana; 18500 / 35500 = 0.5211.
        // - wool: the scarves, 12000 (0.3380).
        // - silver: rings of O1 (5000) and O3 (2500, refunded, share 238): units 2, revenue 5000,
        //   net 4762, orders 2, customer ana; 5000 / 35500 = 0.1408.
        let materials = analytics(
            &app,
            &format!("/v1/analytics/product-types?{OCT_NOV}&timezone={tz}&group_by=attributes.material"),
        )
        .await;
        assert_eq!(materials["group_by"], "attributes.material", "{tz}");
        assert_eq!(
            materials["groups"],
            json!([
                group("gold", None, 3, 18500, 16739, 3, 2, 0.5211),
                group("wool", None, 4, 12000, 12000, 3, 3, 0.338),
                group("silver", None, 2, 5000, 4762, 2, 1, 0.1408),
            ]),
            "{tz}"
        );

        // USD: the one scarf of O7.
        let usd = analytics(&app, &format!("/v1/analytics/products/top?{OCT_NOV}&timezone={tz}&currency=USD")).await;
        assert_eq!(usd["groups"], json!([group(SCARF, Some("Wool scarf"), 1, 3500, 3500, 1, 1, 1.0)]), "{tz}");
    }
}

async fn promotions_channels_and_sources(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    shop(&app).await;
    for tz in BOTH_PATHS {
        let promotions = analytics(&app, &format!("/v1/analytics/promotions?{OCT_NOV}&timezone={tz}")).await;
        assert_eq!((&promotions["currency"], &promotions["other_currencies"]), (&json!("EUR"), &json!(["USD"])));
        // AUTUMN applied on O2 (ben's first order) and O3 (ana's second); O5 was cancelled and
        // NOPE was never applied. revenue 8000 + 10500 − 2500 = 16000; discounts 2000; net 14000.
        assert_eq!(
            promotions["codes"],
            json!([{"code": "AUTUMN", "redemptions": 2, "customers": 2, "revenue": 16000, "discount_given": 2000,
                    "net_revenue": 14000, "average_order_value": 7000, "first_time_customers": 1,
                    "returning_customers": 1}]),
            "{tz}"
        );
        assert_eq!(
            promotions["with_code"],
            json!({"orders": 2, "net_revenue": 14000, "average_order_value": 7000}),
            "{tz}"
        );
        // O1 8500 + O4 6000 + O6 6000 = 20500 / 3 = 6833.33.
        assert_eq!(
            promotions["without_code"],
            json!({"orders": 3, "net_revenue": 20500, "average_order_value": 6833}),
            "{tz}"
        );
        assert_eq!(promotions["campaigns"], json!([]), "{tz}");
        assert_eq!(
            promotions["leaders"],
            json!({"code_by_revenue": "AUTUMN", "code_by_redemptions": "AUTUMN", "campaign_by_revenue": null,
                   "campaign_by_response_rate": null, "campaign_by_conversion_rate": null}),
            "{tz}"
        );
        // November alone: O3 only, not a first order.
        let november =
            analytics(&app, &format!("/v1/analytics/promotions?from=2026-11-01&to=2026-11-30&timezone={tz}")).await;
        assert_eq!(
            (&november["codes"][0]["redemptions"], &november["codes"][0]["first_time_customers"]),
            (&json!(1), &json!(0)),
            "{tz}"
        );
        assert_eq!(november["codes"][0]["returning_customers"], 1, "{tz}");

        let channels = analytics(&app, &format!("/v1/analytics/channels?{OCT_NOV}&timezone={tz}")).await;
        // web: O1, O3, O4: revenue 8500 + 8000 + 6000, net 8500 + 7000 + 6000 = 21500 (0.6232 of 34500).
        // store: O2, O6: revenue 8000 + 6000, net 7000 + 6000 = 13000 (0.3768).
        assert_eq!(
            channels["channels"],
            json!([
                {"channel": "web", "orders": 3, "revenue": 22500, "net_revenue": 21500, "share": 0.6232},
                {"channel": "store", "orders": 2, "revenue": 14000, "net_revenue": 13000, "share": 0.3768},
            ]),
            "{tz}"
        );
        // newsletter_form: ben (O2, O6) and cleo (O4): 7000 + 6000 + 6000 = 19000 (0.5507).
        // store: ana (O1, O3): 8500 + 7000 = 15500 (0.4493). dan (event) only has a cancelled order.
        assert_eq!(
            channels["sources"],
            json!([
                {"source": "newsletter_form", "orders": 3, "customers": 2, "net_revenue": 19000, "share": 0.5507},
                {"source": "store", "orders": 2, "customers": 1, "net_revenue": 15500, "share": 0.4493},
            ]),
            "{tz}"
        );
    }
}

async fn customer_value_rfm_and_cohorts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let Shop { ana, ben, cleo } = shop(&app).await;
    // Net spent in EUR: ana 8500 + 7000 = 15500 (2 orders, 10-05 10:00 → 11-02 15:00 = 28.2083
    // days); ben 7000 + 6000 = 13000 (10-12 09:00 → 11-15 08:00 = 33.9583 days); cleo 6000.
    // dan's only order was cancelled: not a buyer.
    // Sorted [6000, 13000, 15500]: nearest rank p50 = #ceil(1.5) = #2 = 13000; p90 = #ceil(2.7) =
    // #3; p99 = #3. Average 34500 / 3 = 11500. Repeat 2 of 3. Days (28.2083 + 33.9583) / 2 = 31.08.
    let value = analytics(&app, "/v1/analytics/customers/value").await;
    assert_eq!(
        value,
        json!({"currency": "EUR", "customers": 3, "average_value": 11500.0, "median_value": 13000, "p50": 13000,
        "p90": 15500, "p99": 15500, "repeat_customers": 2, "repeat_purchase_rate": 0.6667,
        "average_days_between_orders": 31.08, "top": [
            {"customer_id": ana, "name": "Ana Silva", "email": "ana@example.com", "orders": 2, "lifetime_value": 15500},
            {"customer_id": ben, "name": "Ben Okafor", "email": "ben@example.com", "orders": 2, "lifetime_value": 13000},
            {"customer_id": cleo, "name": "Cleo", "email": "cleo@example.com", "orders": 1, "lifetime_value": 6000},
        ]})
    );
    let one = analytics(&app, "/v1/analytics/customers/value?top=1").await;
    assert_eq!(one["top"].as_array().unwrap().len(), 1);
    assert_eq!(one["top"][0]["customer_id"], ana);
    // Acquired in October: ana and ben, [13000, 15500]: p50 = #ceil(1.0) = #1 = 13000 (nearest
    // rank, not the interpolated 14250); p90 = #ceil(1.8) = #2.
    let october = analytics(&app, "/v1/analytics/customers/value?from=2026-10-01&to=2026-10-31").await;
    assert_eq!(
        (october["customers"].as_i64(), october["average_value"].as_f64(), october["p50"].as_i64()),
        (Some(2), Some(14250.0), Some(13000))
    );
    assert_eq!((october["p90"].as_i64(), october["repeat_purchase_rate"].as_f64()), (Some(15500), Some(1.0)));
    // Acquired in November: cleo alone, no repeat.
    let november = analytics(&app, "/v1/analytics/customers/value?from=2026-11-01&to=2026-11-30").await;
    assert_eq!(
        (november["customers"].as_i64(), november["p99"].as_i64(), november["repeat_customers"].as_i64()),
        (Some(1), Some(6000), Some(0))
    );
    assert_eq!(november["average_days_between_orders"], Value::Null);
    let usd = analytics(&app, "/v1/analytics/customers/value?currency=USD").await;
    assert_eq!(
        (usd["currency"].as_str(), usd["customers"].as_i64(), usd["p50"].as_i64()),
        (Some("USD"), Some(1), Some(3500))
    );

    // RFM: every segment, in order; the buyers and their net revenue add up.
    let rfm = analytics(&app, "/v1/analytics/customers/rfm").await;
    assert_eq!(rfm["currency"], "EUR");
    let segments = rfm["segments"].as_array().unwrap();
    assert_eq!(
        keys(&rfm, "segments", "segment"),
        [
            "champions",
            "loyal",
            "potential_loyalists",
            "new_customers",
            "promising",
            "need_attention",
            "about_to_sleep",
            "at_risk",
            "cannot_lose",
            "hibernating",
            "lost"
        ]
    );
    let sum = |field: &str| segments.iter().map(|s| s[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum("customers"), sum("orders"), sum("revenue")), (3, 5, 34500));
    let shares: f64 = segments.iter().map(|s| s["share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 0.001, "shares add up to 1: {shares}");

    // Cohorts by month: October = ana + ben, both back in November; revenue to the end of the
    // range 15500 + 13000. November = cleo, 6000.
    for tz in BOTH_PATHS {
        let cohorts =
            analytics(&app, &format!("/v1/analytics/cohorts?{OCT_NOV}&granularity=month&timezone={tz}")).await;
        assert_eq!((&cohorts["currency"], &cohorts["other_currencies"]), (&json!("EUR"), &json!(["USD"])));
        assert_eq!(
            cohorts["cohorts"],
            json!([
                {"period_start": "2026-10-01", "customers": 2, "revenue": 28500,
                 "retention": [{"offset": 1, "customers": 2, "rate": 1.0}]},
                {"period_start": "2026-11-01", "customers": 1, "revenue": 6000, "retention": []},
            ]),
            "{tz}"
        );
    }
    // A range ending in October: only the orders before its end count (O1 8500 + O2 7000).
    let october = analytics(&app, "/v1/analytics/cohorts?from=2026-10-01&to=2026-10-31&granularity=month").await;
    assert_eq!(
        october["cohorts"],
        json!([{"period_start": "2026-10-01", "customers": 2, "revenue": 15500, "retention": []}])
    );
    // A range starting in November: ana and ben were acquired before it.
    let november = analytics(&app, "/v1/analytics/cohorts?from=2026-11-01&to=2026-11-30&granularity=month").await;
    assert_eq!(
        november["cohorts"],
        json!([{"period_start": "2026-11-01", "customers": 1, "revenue": 6000, "retention": []}])
    );
    // Weekly: ana (week of 5 Oct) comes back in the week of 2 Nov (offset 4); ben (week of 12
    // Oct) in the week of 9 Nov (offset 4); cleo starts the week of 2 Nov.
    let weekly = analytics(&app, "/v1/analytics/cohorts?from=2026-10-05&to=2026-11-15&granularity=week").await;
    let cells = |index: usize| -> Vec<i64> {
        weekly["cohorts"][index]["retention"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["customers"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(keys(&weekly, "cohorts", "period_start").len(), 6);
    assert_eq!(cells(0), [0, 0, 0, 1, 0], "ana");
    assert_eq!(cells(1), [0, 0, 0, 1], "ben");
    assert_eq!(weekly["cohorts"][4]["customers"], 1, "cleo");
    app.get("/v1/analytics/customers/value", &app.token("customers:read")).await.assert_problem(403);

    // The RFM figures are kept with the scores: a new order scores and sums them again.
    place(&app, NewOrder::new(cleo, "2026-11-20T12:00:00Z", vec![line(RING, "ring", None, 1, 2500)])).await;
    let rfm = analytics(&app, "/v1/analytics/customers/rfm").await;
    let segments = rfm["segments"].as_array().unwrap();
    let sum = |field: &str| segments.iter().map(|s| s[field].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum("customers"), sum("orders"), sum("revenue")), (3, 6, 37000));
    let value = analytics(&app, "/v1/analytics/customers/value").await;
    assert_eq!((value["p50"].as_i64(), value["repeat_customers"].as_i64()), (Some(13000), Some(3)));
}

// ---- Time zones, weeks and empty periods -----------------------------------------------------

/// (period_start, orders) of each bucket.
fn orders_per_bucket(body: &Value) -> Vec<(String, i64)> {
    body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["period_start"].as_str().unwrap().to_string(), b["orders"].as_i64().unwrap()))
        .collect()
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(d, n)| (d.to_string(), *n)).collect()
}

/// eve: one order at 23:30 UTC on 20 November (00:30 on the 21st in Paris), and two around
/// the end of summer time in Paris (25 October has 25 hours there): 22:30Z on the 24th is
/// 00:30 CEST on the 25th; 22:30Z on the 25th is 23:30 CET on the 25th.
async fn evening_orders(app: &TestApp) {
    let eve = customer(app, json!({"email": "eve@example.com"})).await;
    for at in ["2026-10-24T22:30:00Z", "2026-10-25T22:30:00Z", "2026-11-20T23:30:00Z"] {
        place(app, NewOrder::new(eve, at, vec![line(SCARF, "scarf", Some("wool"), 1, 4200)])).await;
    }
}

async fn an_evening_order_counts_on_the_local_day(backend: Backend) {
    let utc_server = TestApp::spawn(backend).await;
    let paris_server = TestApp::spawn_with(backend, &[("RAPPORT_TIMEZONE", "Europe/Paris")]).await;
    for app in [&utc_server, &paris_server] {
        evening_orders(app).await;
        let days = |query: &str| format!("/v1/analytics/sales?granularity=day&{query}");
        let november_utc = analytics(app, &days("from=2026-11-20&to=2026-11-21&timezone=UTC")).await;
        assert_eq!(orders_per_bucket(&november_utc), pairs(&[("2026-11-20", 1), ("2026-11-21", 0)]));
        let november_paris = analytics(app, &days("from=2026-11-20&to=2026-11-21&timezone=Europe/Paris")).await;
        assert_eq!(orders_per_bucket(&november_paris), pairs(&[("2026-11-20", 0), ("2026-11-21", 1)]));
        let october_utc = analytics(app, &days("from=2026-10-24&to=2026-10-26&timezone=UTC")).await;
        assert_eq!(orders_per_bucket(&october_utc), pairs(&[("2026-10-24", 1), ("2026-10-25", 1), ("2026-10-26", 0)]));
        let october_paris = analytics(app, &days("from=2026-10-24&to=2026-10-26&timezone=Europe/Paris")).await;
        assert_eq!(
            october_paris["buckets"],
            json!([
                empty_bucket("2026-10-24"),
                // eve's first order and her second, on the same (25-hour) day.
                bucket("2026-10-25", 2, 2, 8400, 0, 0, Some(4200), 1, 0),
                empty_bucket("2026-10-26"),
            ])
        );
        // Whole-range endpoints take the local dates too: 21 November in Paris holds the order.
        let top = |tz: &str| format!("/v1/analytics/products/top?from=2026-11-21&to=2026-11-21&timezone={tz}");
        assert_eq!(analytics(app, &top("Europe/Paris")).await["groups"][0]["units"], 1);
        assert_eq!(analytics(app, &top("UTC")).await["groups"], json!([]));
        let channels = |tz: &str| format!("/v1/analytics/channels?from=2026-11-20&to=2026-11-20&timezone={tz}");
        assert_eq!(analytics(app, &channels("UTC")).await["channels"][0]["orders"], 1);
        assert_eq!(analytics(app, &channels("Europe/Paris")).await["channels"], json!([]));
    }
    // The default zone is the server's: Paris there, with the rollups kept in Paris.
    let default = analytics(&paris_server, "/v1/analytics/sales?granularity=day&from=2026-11-20&to=2026-11-21").await;
    assert_eq!(default["timezone"], "Europe/Paris");
    assert_eq!(orders_per_bucket(&default), pairs(&[("2026-11-20", 0), ("2026-11-21", 1)]));
    let default = analytics(&utc_server, "/v1/analytics/sales?granularity=day&from=2026-11-20&to=2026-11-21").await;
    assert_eq!(default["timezone"], "UTC");
    assert_eq!(orders_per_bucket(&default), pairs(&[("2026-11-20", 1), ("2026-11-21", 0)]));
    for app in [&utc_server, &paris_server] {
        assert_eq!(app.state.db.with_conn(rapport::services::rollups::check).unwrap(), Vec::<String>::new());
    }
}

async fn iso_weeks_years_and_empty_periods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fay = customer(&app, json!({"email": "fay@example.com"})).await;
    // Wednesday 31 December 2025 and Friday 2 January 2026: both in the ISO week of Monday 29 December.
    place(&app, NewOrder::new(fay, "2025-12-31T12:00:00Z", vec![line(RING, "ring", None, 1, 2500)])).await;
    place(&app, NewOrder::new(fay, "2026-01-02T12:00:00Z", vec![line(RING, "ring", None, 2, 2500)])).await;
    for tz in BOTH_PATHS {
        let weeks = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2025-12-20&to=2026-01-10&granularity=week&timezone={tz}"),
        )
        .await;
        // 20 December is a Saturday (week of the 15th); 10 January a Saturday (week of the 5th).
        assert_eq!(
            weeks["buckets"],
            json!([
                empty_bucket("2025-12-15"),
                empty_bucket("2025-12-22"),
                // 2500 + 5000 = 7500, 3 units; fay is new and not returning within the week.
                bucket("2025-12-29", 2, 3, 7500, 0, 0, Some(3750), 1, 0),
                empty_bucket("2026-01-05"),
            ]),
            "{tz}"
        );
        let years = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2025-06-01&to=2026-06-30&granularity=year&timezone={tz}"),
        )
        .await;
        assert_eq!(
            years["buckets"],
            json!([
                bucket("2025-01-01", 1, 1, 2500, 0, 0, Some(2500), 1, 0),
                bucket("2026-01-01", 1, 2, 5000, 0, 0, Some(5000), 0, 1),
            ]),
            "{tz}"
        );
        let months = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2025-11-15&to=2026-02-01&granularity=month&timezone={tz}"),
        )
        .await;
        assert_eq!(
            orders_per_bucket(&months),
            pairs(&[("2025-11-01", 0), ("2025-12-01", 1), ("2026-01-01", 1), ("2026-02-01", 0)]),
            "{tz}"
        );
        // The same across 2026/2027 (no orders there yet): 20 December 2026 is a Sunday, so is
        // 10 January 2027.
        let next = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2026-12-20&to=2027-01-10&granularity=week&timezone={tz}"),
        )
        .await;
        assert_eq!(
            orders_per_bucket(&next),
            pairs(&[("2026-12-14", 0), ("2026-12-21", 0), ("2026-12-28", 0), ("2027-01-04", 0)]),
            "{tz}"
        );
        // A range without orders: every period present, all zeros, no currency.
        let empty = analytics(
            &app,
            &format!("/v1/analytics/sales?from=2026-03-01&to=2026-05-31&granularity=month&timezone={tz}"),
        )
        .await;
        assert_eq!((&empty["currency"], &empty["other_currencies"]), (&Value::Null, &json!([])), "{tz}");
        assert_eq!(
            empty["buckets"],
            json!([empty_bucket("2026-03-01"), empty_bucket("2026-04-01"), empty_bucket("2026-05-01")]),
            "{tz}"
        );
        assert_eq!(empty["totals"], totals(0, 0, 0, 0, 0, None, 0), "{tz}");
        let nothing =
            analytics(&app, &format!("/v1/analytics/products/top?from=2026-03-01&to=2026-05-31&timezone={tz}")).await;
        assert_eq!(nothing["groups"], json!([]), "{tz}");
    }
}

/// (period_start, orders, new_customers, returning_customers) of each monthly bucket.
async fn monthly(app: &TestApp, path: &str, tz: &str) -> Vec<(String, i64, i64, i64)> {
    let url = format!("/v1/analytics/{path}?from=2026-08-01&to=2026-09-30&granularity=month&timezone={tz}");
    analytics(app, &url).await["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let n = |field: &str| b[field].as_i64().unwrap();
            (b["period_start"].as_str().unwrap().to_string(), n("orders"), n("new_customers"), n("returning_customers"))
        })
        .collect()
}

fn months(aug: (i64, i64, i64), sep: (i64, i64, i64)) -> Vec<(String, i64, i64, i64)> {
    vec![("2026-08-01".into(), aug.0, aug.1, aug.2), ("2026-09-01".into(), sep.0, sep.1, sep.2)]
}

/// Who is new where, on both paths, with the rollups exact.
async fn assert_firsts(
    app: &TestApp,
    sales: Vec<(String, i64, i64, i64)>,
    rings: Vec<(String, i64, i64, i64)>,
    scarves: Vec<(String, i64, i64, i64)>,
) {
    assert_rollups_exact(app);
    for tz in BOTH_PATHS {
        assert_eq!(monthly(app, "sales", tz).await, sales, "sales, {tz}");
        assert_eq!(monthly(app, &format!("products/{RING}/sales"), tz).await, rings, "{RING}, {tz}");
        assert_eq!(monthly(app, &format!("products/{SCARF}/sales"), tz).await, scarves, "{SCARF}, {tz}");
    }
}

async fn first_orders_move_with_cancellations_and_merges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let gus = customer(&app, json!({"email": "gus@example.com"})).await;
    let hal = customer(&app, json!({"email": "hal@example.com"})).await;
    let ivy = customer(&app, json!({"email": "ivy@example.com"})).await;
    let ring = || vec![line(RING, "ring", None, 1, 2500)];
    let scarf = || vec![line(SCARF, "scarf", None, 1, 3000)];
    let g1 = id(&place(&app, NewOrder::new(gus, "2026-08-10T12:00:00Z", ring())).await);
    // G2 and G3 at the same instant: the lower id (G2) comes first.
    let g2 = id(&place(&app, NewOrder::new(gus, "2026-09-01T12:00:00Z", ring())).await);
    place(&app, NewOrder::new(gus, "2026-09-01T12:00:00Z", scarf())).await;
    place(&app, NewOrder::new(hal, "2026-09-05T12:00:00Z", scarf())).await;
    place(&app, NewOrder::new(ivy, "2026-08-20T12:00:00Z", ring())).await;
    // (orders, new, returning). August: G1 (gus's first), I1 (ivy's first). September: G2 and
    // G3 (gus again), H1 (hal's first): customers gus and hal.
    // Rings: G1, I1 new in August; G2 in September (gus returning).
    // Scarves: G3 (gus returning) and H1 (hal new) in September.
    assert_firsts(&app, months((2, 2, 0), (3, 1, 1)), months((2, 2, 0), (1, 0, 1)), months((0, 0, 0), (2, 1, 1))).await;

    // Without G1, gus's first is G2 (the tie goes to the lower id): new in September.
    cancel(&app, g1).await;
    assert_firsts(&app, months((1, 1, 0), (3, 2, 0)), months((1, 1, 0), (1, 1, 0)), months((0, 0, 0), (2, 1, 1))).await;

    // ivy merged into hal: hal's first is now I1 in August; H1 is a returning order.
    merge(&app, hal, ivy).await;
    assert_firsts(&app, months((1, 1, 0), (3, 1, 1)), months((1, 1, 0), (1, 1, 0)), months((0, 0, 0), (2, 0, 2))).await;

    // Without G2, gus's first is G3, the scarf.
    cancel(&app, g2).await;
    assert_firsts(&app, months((1, 1, 0), (2, 1, 1)), months((1, 1, 0), (0, 0, 0)), months((0, 0, 0), (2, 1, 1))).await;
    // gus: 3000 (1 order); hal: 2500 + 3000 (2 orders, 16 days apart).
    let value = analytics(&app, "/v1/analytics/customers/value").await;
    assert_eq!(
        (
            value["customers"].as_i64(),
            value["repeat_customers"].as_i64(),
            value["average_days_between_orders"].as_f64()
        ),
        (Some(2), Some(1), Some(16.0))
    );
    assert_eq!(value["top"][0]["lifetime_value"], 5500);
}

// ---- Rollups against the orders ----------------------------------------------------------------

/// A tiny deterministic generator (Knuth's MMIX LCG), so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// (sku, line product type, material, unit price, catalogue: (product type, category)).
type Article = (&'static str, &'static str, Option<&'static str>, i64, Option<(&'static str, Option<&'static str>)>);

const ARTICLES: [Article; 6] = [
    ("RING-1", "ring", Some("silver"), 2500, Some(("ring", Some("jewellery")))),
    ("NECK-1", "necklace", Some("gold"), 8000, Some(("necklace", Some("jewellery")))),
    ("SCARF-1", "scarf", Some("wool"), 3000, Some(("scarf", Some("accessories")))),
    ("HAT-1", "hat", Some("wool"), 1990, Some(("hat", Some("accessories")))),
    ("MUG-1", "mug", Some("ceramic"), 1250, Some(("mug", None))),
    ("LOOSE-1", "misc", None, 700, None),
];

/// What the test knows of an order, to compute expected totals.
struct Known {
    id: i64,
    customer: i64,
    currency: &'static str,
    placed_at: DateTime<Utc>,
    total: i64,
    discount: i64,
    refunded: i64,
    paid: bool,
    cancelled: bool,
    /// (line id, quantity, refunded quantity, unit price)
    lines: Vec<(i64, i64, i64, i64)>,
}

/// Places an order of 1 to 3 random lines, sometimes in USD, with shipping or a promo code.
async fn random_order(app: &TestApp, rng: &mut Lcg, customer: i64, at: DateTime<Utc>, known: &mut Vec<Known>) {
    let mut lines = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let (sku, product_type, material, price, _) = *rng.pick(&ARTICLES);
        // Sometimes a line without attributes, or at another price.
        let material = if rng.chance(15) { None } else { material };
        let price = if rng.chance(20) { price + 100 * rng.below(10) } else { price };
        lines.push(line(sku, product_type, material, 1 + rng.below(3), price));
    }
    let subtotal: i64 = lines.iter().map(|l| l["quantity"].as_i64().unwrap() * l["unit_price"].as_i64().unwrap()).sum();
    let currency = if rng.chance(12) { "USD" } else { "EUR" };
    let at_text = at.to_rfc3339();
    let mut order = NewOrder::new(customer, &at_text, lines);
    order.currency = currency;
    order.channel = *rng.pick(&["web", "store", "phone", "marketplace"]);
    order.shipping = if rng.chance(50) { 490 } else { 0 };
    match rng.below(10) {
        0..=2 => (order.promo_code, order.discount) = (Some("SAVE10"), subtotal / 10),
        // Applied in EUR; not eligible in USD (the discount is still given).
        3 => (order.promo_code, order.discount) = (Some("TENOFF"), 1000.min(subtotal)),
        4 => (order.promo_code, order.discount) = (Some("GHOST"), 0),
        _ => {}
    }
    let (total, discount) = (subtotal - order.discount + order.shipping, order.discount);
    let body = place(app, order).await;
    known.push(Known {
        id: id(&body),
        customer,
        currency,
        placed_at: at,
        total,
        discount,
        refunded: 0,
        paid: false,
        cancelled: false,
        lines: body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (id(l), l["quantity"].as_i64().unwrap(), 0, l["unit_price"].as_i64().unwrap()))
            .collect(),
    });
}

/// Refunds (line units, then sometimes money only), marks paid and cancels orders at random.
async fn random_changes(app: &TestApp, rng: &mut Lcg, known: &mut [Known], percent: u64) {
    for order in known.iter_mut().filter(|o| !o.cancelled) {
        if rng.chance(percent) {
            // A partial refund: some units of one line, at most what is left to refund.
            let index = rng.below(order.lines.len() as u64) as usize;
            let (line_id, quantity, refunded_quantity, unit_price) = order.lines[index];
            let left = order.total - order.refunded;
            if quantity > refunded_quantity && left > 0 {
                let units = 1 + rng.below((quantity - refunded_quantity) as u64);
                let amount = (units * unit_price).min(left);
                refund(app, order.id, amount, &[(line_id, units)]).await;
                order.refunded += amount;
                order.lines[index].2 += units;
            }
            if rng.chance(30) && order.total - order.refunded > 1 {
                // A goodwill refund of money only.
                let amount = 1 + rng.below(((order.total - order.refunded) / 2) as u64);
                refund(app, order.id, amount, &[]).await;
                order.refunded += amount;
            }
        }
        if !order.paid && rng.chance(percent / 2) {
            set_status(app, order.id, "paid").await;
            order.paid = true;
        }
        if rng.chance(percent / 2) {
            cancel(app, order.id).await;
            order.cancelled = true;
        }
    }
}

/// Randomly placed, cancelled and refunded orders of 8 customers from July to mid-November
/// 2026, two merges in between, and orders placed after the merges (some before the
/// survivors' first orders). Returns what the test knows of them.
async fn random_history(app: &TestApp, seed: u64) -> Vec<Known> {
    let mut rng = Lcg(seed);
    for (sku, _, material, price, catalogue) in ARTICLES {
        if let Some((product_type, category)) = catalogue {
            product(
                app,
                json!({"sku": sku, "name": format!("{sku} item"), "product_type": product_type, "category": category,
                       "attributes": {"material": material}, "price": price, "currency": "EUR",
                       "track_inventory": false}),
            )
            .await;
        }
    }
    promo_code(app, json!({"code": "SAVE10", "discount": {"type": "percent", "value": 10}})).await;
    promo_code(app, json!({"code": "TENOFF", "discount": {"type": "fixed", "value": 1000}, "currency": "EUR"})).await;
    let sources = ["checkout", "store", "newsletter_form", "event"];
    let mut customers = Vec::new();
    for n in 0..8 {
        let source = sources[n % sources.len()];
        customers.push(customer(app, json!({"email": format!("c{n}@example.com"), "source": source})).await);
    }
    let start = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
    let mut known: Vec<Known> = Vec::new();

    for _ in 0..40 {
        let customer = *rng.pick(&customers);
        let mut at = start + Duration::days(rng.below(138)) + Duration::minutes(rng.below(24 * 60));
        if rng.chance(25) {
            // Late in the UTC evening: the next day in Paris.
            at = start + Duration::days(rng.below(138)) + Duration::minutes(22 * 60 + rng.below(120));
        }
        random_order(app, &mut rng, customer, at, &mut known).await;
    }
    // A tie: the same customer and instant as an earlier order (the lower id is the first).
    let (tie_customer, tie_at) = (known[3].customer, known[3].placed_at);
    random_order(app, &mut rng, tie_customer, tie_at, &mut known).await;
    // Around the end of summer time in Paris.
    for at in ["2026-10-24T22:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T23:30:00Z"] {
        let customer = *rng.pick(&customers);
        random_order(app, &mut rng, customer, at.parse().unwrap(), &mut known).await;
    }
    // Cancel some customer's first order outright: their next one becomes the first.
    let first = known.iter_mut().filter(|o| o.customer == customers[5]).min_by_key(|o| (o.placed_at, o.id));
    if let Some(first) = first {
        cancel(app, first.id).await;
        first.cancelled = true;
    }

    random_changes(app, &mut rng, &mut known, 20).await;
    // A customer's source edited: their orders count under the new source from then on.
    let patched = app
        .patch(&format!("/v1/customers/{}", customers[4]), &app.token("customers:write"), json!({"source": "event"}))
        .await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    merge(app, customers[0], customers[1]).await;
    for order in known.iter_mut().filter(|o| o.customer == customers[1]) {
        order.customer = customers[0];
    }
    random_changes(app, &mut rng, &mut known, 10).await;
    merge(app, customers[3], customers[2]).await;
    for order in known.iter_mut().filter(|o| o.customer == customers[2]) {
        order.customer = customers[3];
    }
    // After the merges: an order before everything else for each survivor, more random ones.
    for (survivor, at) in [(customers[0], "2026-06-20T10:00:00Z"), (customers[3], "2026-06-21T23:10:00Z")] {
        random_order(app, &mut rng, survivor, at.parse().unwrap(), &mut known).await;
    }
    let survivors: Vec<i64> = customers.iter().copied().filter(|c| *c != customers[1] && *c != customers[2]).collect();
    for _ in 0..4 {
        let customer = *rng.pick(&survivors);
        let at = start + Duration::days(rng.below(138)) + Duration::minutes(rng.below(24 * 60));
        random_order(app, &mut rng, customer, at, &mut known).await;
    }
    random_changes(app, &mut rng, &mut known, 10).await;
    known
}

const HISTORY: &str = "from=2026-06-01&to=2026-11-22";

/// The analytics URLs whose answers must not depend on where the figures come from.
fn comparable_urls() -> Vec<String> {
    let mut urls = Vec::new();
    for granularity in ["day", "week", "month", "year"] {
        urls.push(format!("/v1/analytics/sales?{HISTORY}&granularity={granularity}"));
        urls.push(format!("/v1/analytics/sales?from=2026-09-15&to=2026-10-20&granularity={granularity}"));
    }
    for filter in [
        "currency=USD",
        "channel=web",
        "channel=store",
        "promo_code=SAVE10",
        "promo_code=TENOFF",
        "product_type=ring",
        "product_type=hat",
        "channel=web&product_type=scarf",
    ] {
        urls.push(format!("/v1/analytics/sales?{HISTORY}&granularity=week&{filter}"));
    }
    for sku in ["RING-1", "LOOSE-1", "MUG-1"] {
        urls.push(format!("/v1/analytics/products/{sku}/sales?{HISTORY}&granularity=month"));
        urls.push(format!("/v1/analytics/products/{sku}/sales?from=2026-10-01&to=2026-10-31&granularity=day"));
    }
    for query in [
        "",
        "&by=units",
        "&limit=2",
        "&limit=2&by=units",
        "&product_type=ring",
        "&category=accessories",
        "&channel=web",
        "&currency=USD",
    ] {
        urls.push(format!("/v1/analytics/products/top?{HISTORY}{query}"));
        urls.push(format!("/v1/analytics/products/top?from=2026-08-10&to=2026-09-30{query}"));
        // Whole months between partial ones: distinct customers come from the purchase days.
        urls.push(format!("/v1/analytics/products/top?from=2026-07-20&to=2026-10-10{query}"));
        // Exactly one year, month or ISO week: distinct customers come from the rollups.
        for whole in WHOLE_PERIODS {
            urls.push(format!("/v1/analytics/products/top?{whole}{query}"));
        }
    }
    for query in [
        "",
        "&by=units",
        "&group_by=category",
        "&group_by=attributes.material",
        "&limit=3",
        "&channel=store",
        "&currency=USD",
    ] {
        urls.push(format!("/v1/analytics/product-types?{HISTORY}{query}"));
        urls.push(format!("/v1/analytics/product-types?from=2026-10-25&to=2026-10-25{query}"));
        urls.push(format!("/v1/analytics/product-types?from=2026-07-20&to=2026-10-10{query}"));
    }
    for whole in WHOLE_PERIODS {
        urls.push(format!("/v1/analytics/product-types?{whole}"));
    }
    let ranges =
        [HISTORY, "from=2026-08-01&to=2026-09-15", "from=2026-10-25&to=2026-10-25", "from=2026-07-20&to=2026-10-10"];
    for query in ranges.into_iter().chain(WHOLE_PERIODS) {
        urls.push(format!("/v1/analytics/promotions?{query}"));
        urls.push(format!("/v1/analytics/promotions?{query}&currency=USD"));
        urls.push(format!("/v1/analytics/channels?{query}"));
        urls.push(format!("/v1/analytics/channels?{query}&currency=USD"));
    }
    for granularity in ["day", "week", "month", "year"] {
        urls.push(format!("/v1/analytics/cohorts?{HISTORY}&granularity={granularity}"));
        urls.push(format!("/v1/analytics/cohorts?from=2026-08-10&to=2026-10-20&granularity={granularity}"));
        urls.push(format!("/v1/analytics/cohorts?{HISTORY}&granularity={granularity}&currency=USD"));
    }
    urls
}

/// The same URL in two time zones that share their rules gives the same answer, `timezone` aside.
async fn assert_paths_agree(app: &TestApp, rollups: &str, raw: &str) {
    for url in comparable_urls() {
        let mut answers = Vec::new();
        for tz in [rollups, raw] {
            let mut body = analytics(app, &format!("{url}&timezone={tz}")).await;
            if let Some(zone) = body.as_object_mut().unwrap().remove("timezone") {
                assert_eq!(zone, tz, "{url}");
            }
            answers.push(body);
        }
        assert_eq!(answers[0], answers[1], "{url}: {rollups} (rollups) against {raw} (orders)");
    }
}

/// The year's totals per currency against the test's own record of the orders.
async fn assert_totals_match(app: &TestApp, known: &[Known], tz: &str) {
    for currency in ["EUR", "USD"] {
        let live: Vec<&Known> = known.iter().filter(|o| o.currency == currency && !o.cancelled).collect();
        let orders = live.len() as i64;
        let units: i64 = live.iter().flat_map(|o| o.lines.iter()).map(|l| l.1 - l.2).sum();
        let revenue: i64 = live.iter().map(|o| o.total + o.discount - o.refunded).sum();
        let discounts: i64 = live.iter().map(|o| o.discount).sum();
        let refunds: i64 = live.iter().map(|o| o.refunded).sum();
        let buyers: BTreeSet<i64> = live.iter().map(|o| o.customer).collect();
        let net = revenue - discounts;
        let aov = (orders > 0).then(|| (net as f64 / orders as f64).round() as i64);
        let url = format!(
            "/v1/analytics/sales?from=2026-01-01&to=2026-12-31&granularity=year&currency={currency}&timezone={tz}"
        );
        let sales = analytics(app, &url).await;
        let buyers_n = buyers.len() as i64;
        assert_eq!(sales["totals"], totals(orders, units, revenue, discounts, refunds, aov, buyers_n), "{url}");
        // One bucket holds every order: every buyer is new in it, none returning.
        assert_eq!(sales["buckets"][0]["returning_customers"], 0, "{url}");

        let value = analytics(app, &format!("/v1/analytics/customers/value?currency={currency}&top=100")).await;
        assert_eq!(value["customers"], buyers_n, "{currency}");
        let top = value["top"].as_array().unwrap();
        let spent: i64 = top.iter().map(|t| t["lifetime_value"].as_i64().unwrap()).sum();
        let counted: i64 = top.iter().map(|t| t["orders"].as_i64().unwrap()).sum();
        assert_eq!((spent, counted), (net, orders), "{currency}: lifetime values add up to the net revenue");
        let mut per_customer: BTreeMap<i64, i64> = BTreeMap::new();
        for order in &live {
            *per_customer.entry(order.customer).or_default() += 1;
        }
        let repeat = per_customer.values().filter(|n| **n >= 2).count() as i64;
        assert_eq!(value["repeat_customers"], repeat, "{currency}");

        let rfm = analytics(app, &format!("/v1/analytics/customers/rfm?currency={currency}")).await;
        let segments = rfm["segments"].as_array().unwrap();
        assert_eq!(segments.len(), 11);
        let sum = |field: &str| segments.iter().map(|s| s[field].as_i64().unwrap()).sum::<i64>();
        assert_eq!((sum("customers"), sum("orders"), sum("revenue")), (buyers_n, orders, net), "{currency}");
    }
}

fn assert_rollups_exact(app: &TestApp) {
    let differences = app.state.db.with_conn(rapport::services::rollups::check).expect("check");
    assert!(differences.is_empty(), "the rollups differ from the orders:\n{}", differences.join("\n"));
}

async fn rollups_agree_with_the_orders_after_random_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let known = random_history(&app, 20261122).await;
    assert!(known.iter().filter(|o| o.cancelled).count() >= 3, "the history cancels orders");
    assert!(known.iter().filter(|o| o.refunded > 0).count() >= 3, "the history refunds orders");
    assert_rollups_exact(&app);
    assert_paths_agree(&app, ROLLUPS, RAW).await;
    assert_totals_match(&app, &known, ROLLUPS).await;
    assert_totals_match(&app, &known, RAW).await;
}

async fn rollups_in_paris_agree_with_the_orders_after_random_changes(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_TIMEZONE", "Europe/Paris")]).await;
    let known = random_history(&app, 7).await;
    assert_rollups_exact(&app);
    // Europe/Monaco follows the rules of Europe/Paris (in 2026 at least): same days, other name.
    assert_paths_agree(&app, "Europe/Paris", "Europe/Monaco").await;
    assert_totals_match(&app, &known, "Europe/Paris").await;
    assert_totals_match(&app, &known, "Europe/Monaco").await;
}

/// Zones whose days never line up with the rollups' UTC days: whole hours with daylight
/// saving (Paris, New York), half an hour (Kolkata), half an hour with daylight saving
/// (Adelaide, St John's) and three quarters of an hour (Kathmandu).
const OTHER_ZONES: [&str; 6] =
    ["Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Adelaide", "America/St_Johns", "Asia/Kathmandu"];

/// Ranges, products, product types, promotions and channels answered in another time zone:
/// from the rollups' whole days and the orders at the edges of the range.
fn range_urls() -> Vec<String> {
    // Across the end of summer time in Europe (25 October) and in North America (1 November),
    // one day, a partial month, whole months between partial ones, the whole history.
    let ranges = [
        HISTORY,
        "from=2026-10-20&to=2026-11-05",
        "from=2026-10-25&to=2026-10-25",
        "from=2026-07-20&to=2026-10-10",
        "from=2026-09-01&to=2026-09-30",
        // A few days off the month boundaries at both ends: counted as whole months, less
        // the buyers of those few days who bought nothing in the range.
        "from=2026-07-03&to=2026-10-29",
    ];
    let mut urls = Vec::new();
    for range in ranges {
        for query in ["", "&by=units&limit=2", "&product_type=ring", "&category=accessories", "&currency=USD"] {
            urls.push(format!("/v1/analytics/products/top?{range}{query}"));
        }
        for query in ["", "&limit=3", "&currency=USD"] {
            urls.push(format!("/v1/analytics/product-types?{range}{query}"));
        }
        for query in ["", "&currency=USD"] {
            urls.push(format!("/v1/analytics/promotions?{range}{query}"));
            urls.push(format!("/v1/analytics/channels?{range}{query}"));
        }
        urls.push(format!("/v1/analytics/sales?{range}&granularity=week"));
    }
    urls
}

/// Marks the rollups as never built (every answer then comes from the orders), or as built
/// in UTC again.
fn set_rollup_zone(app: &TestApp, zone: &str) {
    let sql = format!("UPDATE rollup_state SET timezone = '{zone}' WHERE id = 1");
    app.state
        .db
        .with_conn(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).execute(conn)?;
            Ok(())
        })
        .unwrap();
}

async fn other_time_zones_read_whole_days_and_the_orders_at_the_edges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    random_history(&app, 99).await;
    // Orders on both sides of each zone's midnights around the changes of time.
    let buyer = customer(&app, json!({"email": "edges@example.com", "source": "event"})).await;
    for (n, at) in [
        "2026-10-24T21:50:00Z",
        "2026-10-24T22:10:00Z",
        "2026-10-25T18:40:00Z",
        "2026-10-31T23:55:00Z",
        "2026-11-01T04:30:00Z",
        "2026-11-01T05:10:00Z",
        "2026-11-01T13:20:00Z",
    ]
    .into_iter()
    .enumerate()
    {
        let (sku, product_type, ..) = ARTICLES[n % 3];
        let mut order = NewOrder::new(buyer, at, vec![line(sku, product_type, None, 1, 1500)]);
        order.promo_code = (n % 2 == 0).then_some("SAVE10");
        place(&app, order).await;
    }
    // In Kolkata, 2026-10-20..2026-11-05 holds the UTC days 20 October to 4 November whole:
    // a buyer at each edge who also bought on the first (or last) of those days counts once.
    for (email, first, second) in [
        ("start@example.com", "2026-10-19T20:00:00Z", "2026-11-04T10:00:00Z"),
        ("end@example.com", "2026-10-20T10:00:00Z", "2026-11-05T10:00:00Z"),
    ] {
        let buyer = customer(&app, json!({"email": email, "source": "event"})).await;
        for at in [first, second] {
            place(&app, NewOrder::new(buyer, at, vec![line("RING-1", "ring", None, 1, 2500)])).await;
        }
    }
    // In Kolkata, 2026-10-20..2026-11-05 ends at 18:30 UTC on 5 November: that UTC day is
    // read whole from the rollups, less its orders after 18:30. A buyer there only does not
    // count; one who also bought earlier that day, on the days before or at the first edge
    // counts once.
    for (email, others) in [
        ("trim-only@example.com", vec![]),
        ("trim-and-inside@example.com", vec!["2026-11-05T08:00:00Z"]),
        ("trim-and-day@example.com", vec!["2026-11-01T12:00:00Z"]),
        ("trim-and-edge@example.com", vec!["2026-10-19T20:00:00Z"]),
    ] {
        let buyer = customer(&app, json!({"email": email, "source": "event"})).await;
        for at in others.into_iter().chain(["2026-11-05T20:00:00Z"]) {
            place(&app, NewOrder::new(buyer, at, vec![line("RING-1", "ring", None, 1, 2500)])).await;
        }
    }
    // Buyers only in the days just outside 2026-07-03..2026-10-29, in every zone.
    for (email, at) in [("head@example.com", "2026-07-01T12:00:00Z"), ("tail@example.com", "2026-10-30T12:00:00Z")] {
        let buyer = customer(&app, json!({"email": email, "source": "event"})).await;
        place(&app, NewOrder::new(buyer, at, vec![line("RING-1", "ring", None, 1, 2500)])).await;
    }
    let urls = range_urls();
    let mut from_rollups = Vec::new();
    for zone in OTHER_ZONES {
        for url in &urls {
            from_rollups.push(analytics(&app, &format!("{url}&timezone={zone}")).await);
        }
    }
    set_rollup_zone(&app, "");
    let mut answers = from_rollups.into_iter();
    for zone in OTHER_ZONES {
        for url in &urls {
            let from_orders = analytics(&app, &format!("{url}&timezone={zone}")).await;
            assert_eq!(
                answers.next().unwrap(),
                from_orders,
                "{url}&timezone={zone}: rollups and edges against the orders"
            );
        }
    }
    set_rollup_zone(&app, ROLLUPS);
    assert_rollups_exact(&app);
}

async fn a_restart_in_another_time_zone_rebuilds_the_rollups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let Shop { cleo, .. } = shop(&app).await;
    let before =
        analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=week&timezone=Europe/Paris")).await;
    // The same database served again with RAPPORT_TIMEZONE=Europe/Paris: the rollups are rebuilt
    // in Paris at start-up (the spare database only stands in for the harness).
    let mut config = (*app.state.config).clone();
    config.timezone = "Europe/Paris".parse().unwrap();
    let paris = TestApp::spawn_config(config, new_database(backend).0).await;
    assert_rollups_exact(&paris);
    let rebuilt = rapport::services::rollups::ensure(&paris.state.db, "Europe/Paris".parse().unwrap()).unwrap();
    assert!(!rebuilt, "already in Paris");
    let after = analytics(&paris, &format!("/v1/analytics/sales?{OCT_NOV}&granularity=week")).await;
    assert_eq!(after, before, "the rollups in Paris answer what the orders said in Paris");
    // O4 (23:30Z on 2 November) is on the 3rd in Paris.
    let days = analytics(&paris, "/v1/analytics/sales?from=2026-11-02&to=2026-11-03&granularity=day").await;
    assert_eq!(orders_per_bucket(&days), pairs(&[("2026-11-02", 1), ("2026-11-03", 1)]));
    // The first server (still configured in UTC) keeps the Paris rollups exact, and reads UTC
    // from the orders.
    place(&app, NewOrder::new(cleo, "2026-11-21T23:30:00Z", vec![line(SCARF, "scarf", Some("wool"), 1, 3000)])).await;
    assert_rollups_exact(&app);
    let utc = analytics(&app, &format!("/v1/analytics/sales?{OCT_NOV}&timezone=UTC")).await;
    assert_eq!(utc["totals"], totals(6, 11, 39500, 2000, 2500, Some(6250), 3));
    let november = "/v1/analytics/sales?from=2026-11-21&to=2026-11-22&granularity=day&timezone=Europe/Paris";
    assert_eq!(orders_per_bucket(&analytics(&paris, november).await), pairs(&[("2026-11-21", 0), ("2026-11-22", 1)]));
    assert_paths_agree(&paris, "Europe/Paris", "Europe/Monaco").await;
}

// ---- Bad parameters ------------------------------------------------------------------------------

async fn bad_parameters_are_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        ("sales?from=2026-01-01&to=2026-02-01&granularity=fortnight", "granularity"),
        ("sales?from=2026-02-01&to=2026-01-01&granularity=day", "to"),
        ("sales?from=2023-01-01&to=2026-01-01&granularity=day", "granularity"),
        ("sales?from=2000-01-01&to=2026-01-01&granularity=month", "granularity"),
        ("sales?from=2026-01-01&to=2026-02-01&timezone=Mars/Olympus", "timezone"),
        ("sales?to=2026-02-01", "from"),
        ("sales?from=2026-01-01", "to"),
        ("sales?from=2026-13-01&to=2026-02-01", "from"),
        ("sales?from=2026-01-01&to=01/02/2026", "to"),
        ("sales?from=2026-01-01&to=2026-02-01&currency=EURO", "currency"),
        ("products/RING-1/sales?from=2026-01-01&to=2026-02-01&granularity=fortnight", "granularity"),
        ("products/top?from=2026-01-01&to=2026-02-01&by=profit", "by"),
        ("products/top?from=2026-01-01&to=2026-02-01&limit=0", "limit"),
        ("products/top?from=2026-01-01&to=2026-02-01&limit=101", "limit"),
        ("products/top?from=2026-02-01&to=2026-01-01", "to"),
        ("products/top?from=2026-01-01&to=2026-02-01&currency=EURO", "currency"),
        ("products/top?from=2026-01-01&to=2026-02-01&group_by=category", "group_by"),
        ("products/top?to=2026-02-01", "from"),
        ("product-types?from=2026-01-01&to=2026-02-01&group_by=colour", "group_by"),
        ("product-types?from=2026-01-01&to=2026-02-01&group_by=attributes.", "group_by"),
        ("product-types?from=2026-01-01&to=2026-02-01&group_by=attributes.a%20b", "group_by"),
        ("product-types?from=2026-01-01&to=2026-02-01&by=margin", "by"),
        ("product-types?from=2026-01-01&to=2026-02-01&limit=500", "limit"),
        ("promotions?from=2026-02-01&to=2026-01-01", "to"),
        ("promotions?from=2026-01-01&to=2026-02-01&timezone=Nowhere", "timezone"),
        ("promotions?from=2026-01-01&to=2026-02-01&currency=E1", "currency"),
        ("promotions?from=2026-01-01&to=2026-02-01&granularity=month", "granularity"),
        ("customers/value?from=2026-01-01", "to"),
        ("customers/value?to=2026-01-01", "from"),
        ("customers/value?top=0", "top"),
        ("customers/value?currency=EURO", "currency"),
        ("customers/value?from=2026-02-01&to=2026-01-01", "to"),
        ("customers/rfm?currency=EURO", "currency"),
        ("cohorts?from=2026-01-01&to=2026-02-01&granularity=fortnight", "granularity"),
        ("cohorts?from=2020-01-01&to=2026-01-01&granularity=day", "granularity"),
        ("cohorts?from=2026-01-01&to=2026-02-01&currency=EURO", "currency"),
        ("channels?to=2026-02-01", "from"),
        ("channels?from=2026-01-01&to=2026-02-01&currency=EURO", "currency"),
    ];
    let reader = app.token("analytics:read");
    for (query, field) in cases {
        let response = app.get(&format!("/v1/analytics/{query}"), &reader).await;
        assert_eq!(response.status.as_u16(), 422, "{query}: {}", response.text);
        assert_eq!(response.header("content-type"), Some("application/problem+json"), "{query}");
        assert_eq!(response.invalid_fields(), [field], "{query}");
    }
    // A channel outside the vocabulary is the same mistake as on `GET /v1/orders`: a 400
    // naming the parameter.
    for query in [
        "sales?from=2026-01-01&to=2026-02-01&channel=carrier-pigeon",
        "products/top?from=2026-01-01&to=2026-02-01&channel=telepathy",
    ] {
        let response = app.get(&format!("/v1/analytics/{query}"), &reader).await;
        assert_eq!(response.status.as_u16(), 400, "{query}: {}", response.text);
        assert!(response.text.contains("`channel`"), "{query}: {}", response.text);
    }
    let order_list = app.get("/v1/orders?channel=carrier-pigeon", &app.token("orders:read")).await;
    assert_eq!(order_list.status.as_u16(), 400, "{}", order_list.text);
    assert!(order_list.text.contains("`channel`"), "{}", order_list.text);
    let sku = app.get("/v1/analytics/products/has%20space/sales?from=2026-01-01&to=2026-02-01", &reader).await;
    assert_eq!(sku.invalid_fields(), ["sku"]);
    // Several problems are named in one answer.
    let several = app
        .get("/v1/analytics/products/top?from=2026-01-01&to=2026-02-01&by=profit&limit=0&currency=EURO", &reader)
        .await;
    let mut fields = several.invalid_fields();
    fields.sort();
    assert_eq!(fields, ["by", "currency", "limit"]);
    app.get("/v1/analytics/sales?from=2026-01-01&to=2026-02-01", &app.token("orders:read")).await.assert_problem(403);
}

/// Two buyers and one customer without orders. With two buyers the quintile scores are
/// 1 + 5 × (rank − 1) / 2: the lower rank scores 1, the higher 3. Ana (latest, most orders,
/// most spent) scores R3 F3 M3, FM = (3 + 3 + 1) / 2 = 3: `need_attention`; Ben scores
/// R1 F1 M1, FM 1: `lost`; Cleo has bought nothing: no scores.
async fn a_customer_shows_its_rfm_scores(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = |v: Value| v["id"].as_i64().unwrap();
    let ana = id(app.create_customer(json!({"email": "ana@example.com"})).await);
    let ben = id(app.create_customer(json!({"email": "ben@example.com"})).await);
    let cleo = id(app.create_customer(json!({"email": "cleo@example.com"})).await);
    for days_ago in [1, 5, 9] {
        crate::segments::place_order(&app, ana, "RING-1", "ring", 5000, days_ago).await;
    }
    crate::segments::place_order(&app, ben, "RING-1", "ring", 1000, 200).await;
    // Scoring runs when figures need it (and in the server's background thread).
    let rfm = analytics(&app, "/v1/analytics/customers/rfm").await;
    assert_eq!(rfm["segments"].as_array().unwrap().iter().map(|s| s["customers"].as_i64().unwrap()).sum::<i64>(), 2);
    let reader = app.token("customers:read");
    let rfm_of = |customer: i64| {
        let app = &app;
        let reader = reader.clone();
        async move {
            let response = app.get(&format!("/v1/customers/{customer}"), &reader).await;
            assert_eq!(response.status.as_u16(), 200, "{}", response.text);
            response.body["rfm"].clone()
        }
    };
    assert_eq!(rfm_of(ana).await, json!({"recency": 3, "frequency": 3, "monetary": 3, "segment": "need_attention"}));
    assert_eq!(rfm_of(ben).await, json!({"recency": 1, "frequency": 1, "monetary": 1, "segment": "lost"}));
    assert_eq!(rfm_of(cleo).await, Value::Null);
}
