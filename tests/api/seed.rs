//! `rapport seed`: the requested counts, derived data consistent with what the API
//! computes, the same data for the same seed (on both backends), an API that reads and
//! extends the result, and a refusal to seed a database that holds data.

use std::process::{Command, Output};

use diesel::prelude::*;
use rapport::db::schema::{
    campaign_contacts, campaign_responses, consent_events, customers, order_lines, orders, refunds,
};
use rapport::seed::{SeedError, SeedOptions, SeedSummary};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    seeding_writes_the_counts_asked_for_and_consistent_derived_data,
    the_same_seed_gives_the_same_data,
    the_api_reads_and_extends_seeded_data,
    a_database_that_holds_data_is_refused,
);

fn options(customers: u64, orders: u64, seed: u64) -> SeedOptions {
    SeedOptions { customers, orders, seed, progress: false, timezone: chrono_tz::UTC }
}

async fn seed(app: &TestApp, options: SeedOptions) -> Result<SeedSummary, SeedError> {
    let database = app.state.db.clone();
    actix_web::web::block(move || rapport::seed::run(&database, &options)).await.expect("seed task")
}

/// One number from a query that selects `n`.
async fn scalar(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = sql.to_string();
    app.state.db.run(move |conn| Ok(diesel::sql_query(sql).get_result::<Number>(conn)?.n)).await.expect("query")
}

async fn seeding_writes_the_counts_asked_for_and_consistent_derived_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let summary = seed(&app, options(200, 1500, 42)).await.expect("seeded");
    assert_eq!((summary.customers, summary.orders), (200, 1500));
    let tables = [
        ("customers", summary.customers),
        ("orders", summary.orders),
        ("order_lines", summary.order_lines),
        ("promo_redemptions", summary.promo_redemptions),
        ("refunds", summary.refunds),
        ("consent_events", summary.consent_events),
        ("customer_tags", summary.customer_tags),
        ("customer_search_terms", summary.search_terms),
        ("products", summary.products),
        ("promo_codes", summary.promo_codes),
        ("segments", summary.segments),
        ("campaigns", summary.campaigns),
        ("campaign_contacts", summary.campaign_contacts),
        ("campaign_responses", summary.campaign_responses),
    ];
    for (table, expected) in tables {
        assert_eq!(app.count(table).await, expected as i64, "{table}");
    }
    assert!(summary.order_lines >= summary.orders, "every order has lines");
    assert!(summary.products >= 35 && summary.campaigns >= 3 && summary.segments >= 3);
    assert!(summary.refunds > 0 && summary.promo_redemptions > 0 && summary.campaign_responses > 0);

    // Purchase statistics are what `refresh_stats` computes, for every customer and currency.
    let computed = "SELECT customer_id, currency, COUNT(*) AS orders_count, \
                    CAST(SUM(total - refunded_total) AS BIGINT) AS total_spent, \
                    MIN(placed_at) AS first_order_at, MAX(placed_at) AS last_order_at \
                    FROM orders WHERE status <> 'cancelled' GROUP BY customer_id, currency";
    let stored = "SELECT customer_id, currency, orders_count, total_spent, first_order_at, last_order_at \
                  FROM customer_order_stats";
    assert_eq!(scalar(&app, &format!("SELECT COUNT(*) AS n FROM ({computed} EXCEPT {stored}) d")).await, 0);
    assert_eq!(scalar(&app, &format!("SELECT COUNT(*) AS n FROM ({stored} EXCEPT {computed}) d")).await, 0);
    assert!(app.count("customer_order_stats").await > 50, "most customers bought");
    assert!(
        scalar(&app, "SELECT COUNT(*) AS n FROM customer_order_stats WHERE orders_count >= 3").await > 10,
        "repeat buyers"
    );

    // Promo code counters equal their redemptions; cancelled orders gave theirs back.
    let wrong_counters = "SELECT COUNT(*) AS n FROM promo_codes p WHERE redemptions <> \
        (SELECT COUNT(*) FROM promo_redemptions r JOIN orders o ON o.id = r.order_id \
         WHERE r.promo_code_id = p.id AND o.status <> 'cancelled')";
    assert_eq!(scalar(&app, wrong_counters).await, 0);
    let on_cancelled = "SELECT COUNT(*) AS n FROM promo_redemptions r JOIN orders o ON o.id = r.order_id \
                        WHERE o.status = 'cancelled'";
    assert_eq!(scalar(&app, on_cancelled).await, 0);
    let wrong_discounts = "SELECT COUNT(*) AS n FROM promo_redemptions r JOIN orders o ON o.id = r.order_id \
                           WHERE r.discount_amount <> o.discount_total OR o.promo_code_status <> 'applied'";
    assert_eq!(scalar(&app, wrong_discounts).await, 0);

    // Totals add up as the API requires; refunds never exceed what was paid.
    let wrong_totals = "SELECT COUNT(*) AS n FROM orders o WHERE total <> \
        (SELECT SUM(quantity * unit_price) FROM order_lines l WHERE l.order_id = o.id) \
        - discount_total + shipping_total + tax_total";
    assert_eq!(scalar(&app, wrong_totals).await, 0);
    let wrong_refunds = "SELECT COUNT(*) AS n FROM orders o WHERE refunded_total > total OR refunded_total <> \
        COALESCE((SELECT SUM(amount) FROM refunds r WHERE r.order_id = o.id), 0)";
    assert_eq!(scalar(&app, wrong_refunds).await, 0);
    let over_returned = "SELECT COUNT(*) AS n FROM order_lines WHERE refunded_quantity > quantity";
    assert_eq!(scalar(&app, over_returned).await, 0);
    assert!(scalar(&app, "SELECT COUNT(*) AS n FROM order_lines WHERE refunded_quantity > 0").await > 0);

    // The current consent is the ledger's latest event (by occurrence, then id).
    let stale_consents = "SELECT COUNT(*) AS n FROM customer_consents cc WHERE NOT EXISTS \
        (SELECT 1 FROM consent_events e WHERE e.id = cc.event_id AND e.customer_id = cc.customer_id \
           AND e.channel = cc.channel AND e.state = cc.state AND e.occurred_at = cc.occurred_at) \
        OR EXISTS (SELECT 1 FROM consent_events later WHERE later.customer_id = cc.customer_id \
           AND later.channel = cc.channel AND (later.occurred_at > cc.occurred_at \
           OR (later.occurred_at = cc.occurred_at AND later.id > cc.event_id)))";
    assert_eq!(scalar(&app, stale_consents).await, 0);
    let channels_without_state = "SELECT COUNT(*) AS n FROM (SELECT DISTINCT customer_id, channel \
        FROM consent_events) e WHERE NOT EXISTS (SELECT 1 FROM customer_consents cc \
        WHERE cc.customer_id = e.customer_id AND cc.channel = e.channel)";
    assert_eq!(scalar(&app, channels_without_state).await, 0);

    // Nobody orders or is contacted before they exist; contacts had consent (checked in
    // the generator) and responses belong to contacted members, not the holdout.
    let early = "SELECT COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id \
                 WHERE o.placed_at < c.created_at";
    assert_eq!(scalar(&app, early).await, 0);
    let holdout_responses = "SELECT COUNT(*) AS n FROM campaign_responses r \
        JOIN campaign_contacts c ON c.id = r.contact_id WHERE c.holdout OR c.customer_id <> r.customer_id";
    assert_eq!(scalar(&app, holdout_responses).await, 0);

    // Search terms and tags as the API writes them.
    let term = "SELECT COUNT(*) AS n FROM customers c WHERE c.email IS NOT NULL AND NOT EXISTS \
        (SELECT 1 FROM customer_search_terms t WHERE t.customer_id = c.id AND t.term = c.email)";
    assert_eq!(scalar(&app, term).await, 0);
}

/// Every seeded row that matters, as text, for comparisons.
async fn dump(app: &TestApp) -> Vec<String> {
    app.state
        .db
        .run(|conn| {
            let mut rows: Vec<String> = Vec::new();
            type OrderHead = (i64, i64, String, String, chrono::NaiveDateTime, String);
            type OrderMoney = (i64, i64, i64, i64, i64, i64, Option<String>, Option<String>);
            let loaded: Vec<(OrderHead, OrderMoney)> = orders::table
                .order(orders::id)
                .select((
                    (
                        orders::id,
                        orders::customer_id,
                        orders::status,
                        orders::channel,
                        orders::placed_at,
                        orders::currency,
                    ),
                    (
                        orders::subtotal,
                        orders::discount_total,
                        orders::shipping_total,
                        orders::tax_total,
                        orders::total,
                        orders::refunded_total,
                        orders::promo_code,
                        orders::promo_code_status,
                    ),
                ))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("order {r:?}")));
            let loaded: Vec<(i64, i64, String, String, i64, i64, i64)> = order_lines::table
                .order(order_lines::id)
                .select((
                    order_lines::id,
                    order_lines::order_id,
                    order_lines::sku,
                    order_lines::attributes,
                    order_lines::quantity,
                    order_lines::unit_price,
                    order_lines::refunded_quantity,
                ))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("line {r:?}")));
            let loaded: Vec<_> = customers::table
                .order(customers::id)
                .select((
                    customers::id,
                    customers::email,
                    customers::first_name,
                    customers::last_name,
                    customers::phone,
                    customers::city,
                    customers::postal_code,
                    customers::birthday,
                    customers::created_at,
                    customers::attributes,
                ))
                .load::<(
                    i64,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<chrono::NaiveDate>,
                    chrono::NaiveDateTime,
                    String,
                )>(conn)?;
            rows.extend(loaded.iter().map(|r| format!("customer {r:?}")));
            let loaded: Vec<(i64, i64, String, String, String, chrono::NaiveDateTime)> = consent_events::table
                .order(consent_events::id)
                .select((
                    consent_events::id,
                    consent_events::customer_id,
                    consent_events::channel,
                    consent_events::state,
                    consent_events::source,
                    consent_events::occurred_at,
                ))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("consent {r:?}")));
            let loaded: Vec<(i64, i64, String)> = refunds::table
                .order(refunds::id)
                .select((refunds::order_id, refunds::amount, refunds::lines))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("refund {r:?}")));
            let loaded: Vec<(i64, i64, i64, bool, Option<String>)> = campaign_contacts::table
                .order(campaign_contacts::id)
                .select((
                    campaign_contacts::id,
                    campaign_contacts::campaign_id,
                    campaign_contacts::customer_id,
                    campaign_contacts::holdout,
                    campaign_contacts::token,
                ))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("contact {r:?}")));
            let loaded: Vec<(i64, i64, String, chrono::NaiveDateTime)> = campaign_responses::table
                .order(campaign_responses::id)
                .select((
                    campaign_responses::id,
                    campaign_responses::contact_id,
                    campaign_responses::kind,
                    campaign_responses::occurred_at,
                ))
                .load(conn)?;
            rows.extend(loaded.iter().map(|r| format!("response {r:?}")));
            Ok(rows)
        })
        .await
        .expect("dump")
}

async fn seeded_dump(backend: Backend, seed_value: u64) -> Vec<String> {
    let app = TestApp::spawn(backend).await;
    seed(&app, options(120, 900, seed_value)).await.expect("seeded");
    dump(&app).await
}

async fn the_same_seed_gives_the_same_data(backend: Backend) {
    let first = seeded_dump(backend, 7).await;
    let second = seeded_dump(backend, 7).await;
    assert!(first.len() > 2000, "{} rows", first.len());
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b, "the same seed gives the same rows");
    }
    let other = seeded_dump(backend, 8).await;
    assert_ne!(first, other, "another seed gives other data");
    if backend == Backend::Postgres {
        let sqlite = seeded_dump(Backend::Sqlite, 7).await;
        assert_eq!(first.len(), sqlite.len());
        for (a, b) in first.iter().zip(&sqlite) {
            assert_eq!(a, b, "SQLite and PostgreSQL get the same rows");
        }
    }
}

async fn the_api_reads_and_extends_seeded_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app, options(200, 1500, 42)).await.expect("seeded");
    let admin = app.token("admin");

    let best = scalar(
        &app,
        "SELECT customer_id AS n FROM customer_order_stats ORDER BY orders_count DESC, customer_id LIMIT 1",
    )
    .await;
    let stats_count =
        scalar(&app, &format!("SELECT orders_count AS n FROM customer_order_stats WHERE customer_id = {best}")).await;
    let customer = app.get(&format!("/v1/customers/{best}"), &admin).await;
    assert_eq!(customer.status.as_u16(), 200, "{}", customer.text);
    let purchases = &customer.body["purchases"][0];
    assert_eq!(purchases["orders_count"].as_i64(), Some(stats_count), "{}", customer.text);
    assert!(purchases["total_spent"].as_i64().unwrap() > 0);
    assert!(customer.body["email"].as_str().is_some_and(|e| e.ends_with(".com") || e.contains("@example.")));

    let listed = app.get(&format!("/v1/orders?customer_id={best}&limit=100"), &admin).await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.text);
    let items = listed.body["items"].as_array().expect("items");
    assert!(!items.is_empty() && items.iter().all(|o| o["customer_id"] == best));
    let order_id = items[0]["id"].as_i64().unwrap();
    let order = app.get(&format!("/v1/orders/{order_id}"), &admin).await;
    assert_eq!(order.status.as_u16(), 200, "{}", order.text);
    assert!(!order.body["lines"].as_array().unwrap().is_empty());
    let newest = app.get("/v1/orders?limit=5", &admin).await;
    assert_eq!(newest.body["items"][0]["id"], 1500, "newest first");

    let contacted =
        scalar(&app, "SELECT COUNT(*) AS n FROM campaign_contacts WHERE campaign_id = 1 AND NOT holdout").await;
    let report = app.get("/v1/campaigns/1/report", &admin).await;
    assert_eq!(report.status.as_u16(), 200, "{}", report.text);
    assert_eq!(report.body["contacted"].as_i64(), Some(contacted));
    assert!(contacted > 0);

    // New writes continue after the seeded ids.
    let body = json!({
        "external_id": "after-seed-1", "channel": "web", "currency": "EUR",
        "customer": {"email": "new.buyer@example.com", "first_name": "Nina"},
        "lines": [{"sku": "RING-GLD-SIGNET", "name": "Gold signet ring", "product_type": "ring", "quantity": 1, "unit_price": 18900}],
        "discount_total": 490, "shipping_total": 490, "tax_total": 0, "total": 18900, "promo_code": "FREESHIP"
    });
    let created = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!((created.body["id"].as_i64(), created.body["customer_id"].as_i64()), (Some(1501), Some(201)));
    assert_eq!(created.body["promo_code_status"], "applied");
    assert!(created.body["lines"][0]["product_id"].is_i64(), "the seeded product is found by SKU");
    let customer = app.create_customer(json!({"email": "another@example.com"})).await;
    assert_eq!(customer["id"], 202);
}

async fn a_database_that_holds_data_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customer(json!({"email": "first@example.com"})).await;
    let refused = seed(&app, options(50, 200, 1)).await.expect_err("refused");
    assert!(matches!(refused, SeedError::NotEmpty(_)));
    assert!(refused.to_string().contains("(customers: 1)"), "{refused}");
    assert_eq!((app.count("orders").await, app.count("products").await), (0, 0), "nothing written");

    let app = TestApp::spawn(backend).await;
    seed(&app, options(50, 200, 1)).await.expect("seeded");
    let again = seed(&app, options(50, 200, 1)).await.expect_err("refused the second time");
    assert!(again.to_string().starts_with("the database is not empty"), "{again}");
    assert_eq!((app.count("customers").await, app.count("orders").await), (50, 200));

    let app = TestApp::spawn(backend).await;
    let invalid = seed(&app, options(0, 10, 1)).await.expect_err("orders need customers");
    assert!(matches!(invalid, SeedError::Invalid(_)), "{invalid}");
    let empty = seed(&app, options(0, 0, 1)).await.expect("an empty history is allowed");
    assert_eq!((empty.customers, empty.orders, empty.products), (0, 0, 40));
}

fn rapport(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", "seeded.db")
        .output()
        .expect("run rapport")
}

#[test]
fn seed_subcommand_prints_a_summary_and_refuses_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let help = rapport(dir.path(), &["seed", "--help"]);
    let help_text = String::from_utf8_lossy(&help.stdout);
    assert!(help_text.contains("--customers") && help_text.contains("must be empty"), "{help_text}");

    let first = rapport(dir.path(), &["seed", "--customers", "30", "--orders", "200", "--seed", "5"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&first.stdout), String::from_utf8_lossy(&first.stderr));
    assert!(first.status.success(), "{stderr}");
    assert!(
        stdout.contains("30 customers") && stdout.contains("200 orders") && stdout.contains("(seed 5)"),
        "{stdout}"
    );
    assert!(stderr.contains("seed: orders 200/200"), "progress goes to stderr: {stderr}");

    let second = rapport(dir.path(), &["seed", "--customers", "30", "--orders", "200"]);
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("rapport: the database is not empty (customers: 30, orders: 200, products: 40"),
        "one clear line: {stderr}"
    );
}
