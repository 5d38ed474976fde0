use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};

both_backends!(
    a_code_is_created_on_first_request_and_stays,
    an_order_with_the_code_links_a_new_customer,
    only_a_first_order_of_someone_else_is_linked,
    referred_customers_are_paged,
    unknown_customers_and_missing_scope_are_refused,
    a_merge_moves_the_referral_data,
);

/// Records a one-line order of `total` (EUR) for `customer` (`{"id": N}` or a customer
/// with an email), carrying `referral_code` if given.
async fn order(app: &TestApp, customer: Value, referral_code: Option<&str>, total: i64) -> Value {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let external_id = format!("ref-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let body = json!({"external_id": external_id, "channel": "web", "currency": "EUR", "customer": customer,
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": total}], "total": total,
        "referral_code": referral_code});
    let response = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

async fn customer(app: &TestApp, email: &str, first_name: &str) -> i64 {
    app.create_customer(json!({"email": email, "first_name": first_name})).await["id"].as_i64().unwrap()
}

async fn referral(app: &TestApp, customer_id: i64) -> Value {
    let response = app.get(&format!("/v1/customers/{customer_id}/referral"), &app.token("customers:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

async fn code_of(app: &TestApp, customer_id: i64) -> String {
    referral(app, customer_id).await["code"].as_str().unwrap().to_string()
}

fn referred_ids(body: &Value) -> Vec<i64> {
    body["referred"].as_array().unwrap().iter().map(|r| r["customer_id"].as_i64().unwrap()).collect()
}

async fn a_code_is_created_on_first_request_and_stays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = customer(&app, "ana@example.com", "Ana").await;
    assert_eq!(app.count("referral_codes").await, 0, "no code before it is asked for");
    let first = referral(&app, ana).await;
    let code = first["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
    assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
    assert_eq!(
        first,
        json!({"customer_id": ana, "code": code, "referred_by": null, "referred_count": 0, "revenue": [],
               "referred": [], "next_cursor": null})
    );
    assert_eq!(referral(&app, ana).await["code"], code, "the same code on every request");

    // Concurrent first requests for one customer all get the one code.
    let ben = customer(&app, "ben@example.com", "Ben").await;
    let requests = (0..8)
        .map(|_| {
            TestRequest::get()
                .uri(&format!("/v1/customers/{ben}/referral"))
                .insert_header(bearer(&app.token("customers:read")))
        })
        .collect();
    let responses = app.call_concurrently(requests).await;
    for response in &responses {
        assert_eq!(response.status.as_u16(), 200, "{}", response.text);
        assert_eq!(response.body["code"], responses[0].body["code"]);
    }
    assert_ne!(responses[0].body["code"], code);
    assert_eq!(app.count("referral_codes").await, 2);
}

async fn an_order_with_the_code_links_a_new_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = customer(&app, "ana@example.com", "Ana").await;
    let code = code_of(&app, ana).await;

    // A new customer, created by the checkout; the code is typed in lower case.
    let typed = format!("  {}  ", code.to_lowercase());
    let placed =
        order(&app, json!({"email": "ben@example.com", "first_name": "Ben", "last_name": "Meyer"}), Some(&typed), 5000)
            .await;
    let ben = placed["customer_id"].as_i64().unwrap();
    let body = referral(&app, ana).await;
    assert_eq!((body["referred_count"].as_i64(), body["next_cursor"].clone()), (Some(1), Value::Null));
    assert_eq!(body["revenue"], json!([{"currency": "EUR", "amount": 5000}]));
    let referred = &body["referred"][0];
    assert_eq!(
        (referred["customer_id"].as_i64(), referred["first_name"].as_str(), referred["last_name"].as_str()),
        (Some(ben), Some("Ben"), Some("Meyer"))
    );
    assert_eq!(
        (referred["email"].as_str(), referred["order_id"].clone()),
        (Some("ben@example.com"), placed["id"].clone())
    );
    assert!(referred["referred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (referred["orders_count"].as_i64(), referred["revenue"].clone()),
        (Some(1), json!([{"currency": "EUR", "amount": 5000}]))
    );
    assert_eq!(referral(&app, ben).await["referred_by"], ana);

    // Revenue is net: a refund comes off, a later order adds up, a cancelled one does not count.
    let refund = app
        .post(
            &format!("/v1/orders/{}/refunds", placed["id"]),
            &app.token("orders:write"),
            json!({"amount": 1500, "reason": "chipped"}),
        )
        .await;
    assert_eq!(refund.status.as_u16(), 201, "{}", refund.text);
    let second = order(&app, json!({"id": ben}), Some(&code), 2000).await;
    let cancelled = order(&app, json!({"id": ben}), None, 9900).await;
    let status = app
        .post(
            &format!("/v1/orders/{}/status", cancelled["id"]),
            &app.token("orders:write"),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(status.status.as_u16(), 200, "{}", status.text);
    let cleo =
        order(&app, json!({"email": "cleo@example.com"}), Some(&code), 1000).await["customer_id"].as_i64().unwrap();

    let body = referral(&app, ana).await;
    assert_eq!(body["referred_count"], 2);
    assert_eq!(body["revenue"], json!([{"currency": "EUR", "amount": 3500 + 2000 + 1000}]));
    assert_eq!(referred_ids(&body), vec![cleo, ben], "newest customer first");
    let ben_entry = &body["referred"][1];
    assert_eq!(ben_entry["order_id"], placed["id"], "the first order made the link, not the second");
    assert_ne!(ben_entry["order_id"], second["id"]);
    assert_eq!(
        (ben_entry["orders_count"].as_i64(), ben_entry["revenue"].clone()),
        (Some(2), json!([{"currency": "EUR", "amount": 5500}]))
    );
    assert_eq!(app.count("referrals").await, 2);
}

async fn only_a_first_order_of_someone_else_is_linked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = customer(&app, "ana@example.com", "Ana").await;
    let code = code_of(&app, ana).await;

    // The referrer using their own code: the order stands, nothing is linked.
    let own = order(&app, json!({"id": ana}), Some(&code), 1000).await;
    assert_eq!(own["referral_code"], code.as_str());

    // A customer who already bought is not new.
    let ben = customer(&app, "ben@example.com", "Ben").await;
    order(&app, json!({"id": ben}), None, 1000).await;
    order(&app, json!({"id": ben}), Some(&code), 1000).await;

    // An unknown code never rejects the order.
    let unknown = order(&app, json!({"email": "dan@example.com"}), Some("NOPE2345"), 1000).await;
    assert_eq!(unknown["referral_code"], "NOPE2345");
    let blank = order(&app, json!({"email": "eve@example.com"}), Some("   "), 1000).await;
    assert_eq!(blank["status"], "placed");

    let body = referral(&app, ana).await;
    assert_eq!((body["referred_count"].as_i64(), body["referred_by"].clone()), (Some(0), Value::Null));
    assert_eq!(body["revenue"], json!([]));
    assert_eq!(app.count("referrals").await, 0);

    // An earlier order that was cancelled does not count: the next one is the first.
    let cleo = customer(&app, "cleo@example.com", "Cleo").await;
    let cancelled = order(&app, json!({"id": cleo}), None, 1000).await;
    let status = app
        .post(
            &format!("/v1/orders/{}/status", cancelled["id"]),
            &app.token("orders:write"),
            json!({"status": "cancelled"}),
        )
        .await;
    assert_eq!(status.status.as_u16(), 200, "{}", status.text);
    order(&app, json!({"id": cleo}), Some(&code), 1000).await;
    assert_eq!(referred_ids(&referral(&app, ana).await), vec![cleo]);

    // Once referred, always by the same referrer.
    let ben_code = code_of(&app, ben).await;
    let dan = unknown["customer_id"].as_i64().unwrap();
    order(&app, json!({"id": cleo}), Some(&ben_code), 1000).await;
    assert_eq!(referral(&app, cleo).await["referred_by"], ana);
    assert_eq!(referral(&app, ben).await["referred_count"], 0);
    assert_eq!(referral(&app, dan).await["referred_by"], Value::Null);
}

async fn referred_customers_are_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = customer(&app, "ana@example.com", "Ana").await;
    let code = code_of(&app, ana).await;
    let mut expected = Vec::new();
    for n in 0..3 {
        let placed = order(&app, json!({"email": format!("friend{n}@example.com")}), Some(&code), 1000).await;
        expected.push(placed["customer_id"].as_i64().unwrap());
    }
    expected.reverse();

    let token = app.token("customers:read");
    let mut seen = Vec::new();
    let mut path = format!("/v1/customers/{ana}/referral?limit=1");
    loop {
        let page = app.get(&path, &token).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        assert_eq!((page.body["referred_count"].as_i64(), page.body["code"].as_str()), (Some(3), Some(code.as_str())));
        assert_eq!(page.body["revenue"], json!([{"currency": "EUR", "amount": 3000}]), "the total, not the page's");
        let ids = referred_ids(&page.body);
        assert_eq!(ids.len(), 1);
        seen.extend(ids);
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers/{ana}/referral?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    app.get(&format!("/v1/customers/{ana}/referral?limit=0"), &token).await.assert_problem(400);
    app.get(&format!("/v1/customers/{ana}/referral?cursor=garbage"), &token).await.assert_problem(400);
    app.get(&format!("/v1/customers/{ana}/referral?page=2"), &token).await.assert_problem(400);
}

async fn unknown_customers_and_missing_scope_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/v1/customers/999/referral", &app.token("customers:read")).await.assert_problem(404);
    let ana = customer(&app, "ana@example.com", "Ana").await;
    let forbidden = app.get(&format!("/v1/customers/{ana}/referral"), &app.token("orders:read")).await;
    assert!(forbidden.assert_problem(403)["detail"].as_str().unwrap().contains("customers:read"));
    assert_eq!(app.count("referral_codes").await, 0, "a refused request creates nothing");

    let erased = app.delete(&format!("/v1/customers/{ana}"), &app.token("admin")).await;
    assert!(erased.status.is_success(), "{}", erased.text);
    app.get(&format!("/v1/customers/{ana}/referral"), &app.token("customers:read")).await.assert_problem(404);
    assert_eq!(app.count("referral_codes").await, 0);
}

/// Merges `duplicate` into `survivor` through the API (a 200).
pub async fn merge(app: &TestApp, survivor: i64, duplicate: i64) {
    let merged = app
        .post(
            &format!("/v1/customers/{survivor}/merge"),
            &app.token("customers:write"),
            json!({"duplicate_id": duplicate}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
}

async fn a_merge_moves_the_referral_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let rita = customer(&app, "rita@example.com", "Rita").await;
    let rita_code = code_of(&app, rita).await;
    // The duplicate was referred by Rita and referred Xavier; the survivor has no code.
    let duplicate = order(&app, json!({"email": "ana.dup@example.com"}), Some(&rita_code), 2000).await["customer_id"]
        .as_i64()
        .unwrap();
    let duplicate_code = code_of(&app, duplicate).await;
    let xavier = order(&app, json!({"email": "xavier@example.com"}), Some(&duplicate_code), 4000).await["customer_id"]
        .as_i64()
        .unwrap();
    let survivor = customer(&app, "ana@example.com", "Ana").await;

    merge(&app, survivor, duplicate).await;
    let body = referral(&app, survivor).await;
    assert_eq!(body["code"], duplicate_code.as_str(), "the survivor had no code: they take the duplicate's");
    assert_eq!(body["referred_by"], rita);
    assert_eq!(referred_ids(&body), vec![xavier]);
    assert_eq!(body["revenue"], json!([{"currency": "EUR", "amount": 4000}]));
    assert_eq!(referred_ids(&referral(&app, rita).await), vec![survivor]);
    assert_eq!(referral(&app, xavier).await["referred_by"], survivor);
    // The moved code still works.
    let yann = order(&app, json!({"email": "yann@example.com"}), Some(&duplicate_code), 1000).await["customer_id"]
        .as_i64()
        .unwrap();
    assert_eq!(referred_ids(&referral(&app, survivor).await), vec![yann, xavier]);

    // One referred the other: after the merge nobody refers themself, and the survivor
    // keeps their own code.
    let zoe = customer(&app, "zoe@example.com", "Zoe").await;
    let zoe_code = code_of(&app, zoe).await;
    let twin = order(&app, json!({"email": "zoe.twin@example.com"}), Some(&zoe_code), 1000).await["customer_id"]
        .as_i64()
        .unwrap();
    code_of(&app, twin).await;
    merge(&app, zoe, twin).await;
    let body = referral(&app, zoe).await;
    assert_eq!(
        (body["code"].as_str(), body["referred_by"].clone(), body["referred_count"].as_i64()),
        (Some(zoe_code.as_str()), Value::Null, Some(0))
    );
    // Rita's, Ana's (from the duplicate), Xavier's and Zoe's: the twin's code is gone.
    assert_eq!(app.count("referral_codes").await, 4);
}
