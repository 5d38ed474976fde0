use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    segment_rules_select_the_right_customers,
    segments_are_saved_listed_and_paged,
    bad_rules_are_named_in_422s,
);

/// Sets a customer's consent on a channel.
pub async fn set_consent(app: &TestApp, customer_id: i64, channel: &str, state: &str) {
    let body = json!({"state": state, "source": "admin", "consent_text": "Yes please"});
    let response = app.put(&format!("/v1/customers/{customer_id}/consents/{channel}"), &app.token("admin"), body).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
}

/// Records an order of one line for an existing customer, `days_ago` days back.
pub async fn place_order(
    app: &TestApp,
    customer_id: i64,
    sku: &str,
    product_type: &str,
    unit_price: i64,
    days_ago: i64,
) -> Value {
    let placed_at = (Utc::now() - Duration::days(days_ago)).to_rfc3339();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let external_id = format!("t-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let body = json!({"external_id": external_id, "channel": "web", "placed_at": placed_at, "currency": "EUR", "customer": {"id": customer_id},
        "lines": [{"sku": sku, "name": sku, "product_type": product_type, "quantity": 1, "unit_price": unit_price,
                   "attributes": {"material": if product_type == "shoes" { "leather" } else { "wool" }}}],
        "total": unit_price});
    let response = app.post("/v1/orders", &app.token("admin"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

/// ana: vip, Paris, 36, two recent shoe orders of 60.00, email subscribed.
/// ben: Berlin, one shoe order of 30.00 400 days ago, email unsubscribed.
/// cleo: vip, no orders, email subscribed. dan: a hat of 80.00, email pending. eve: nothing.
async fn customers(app: &TestApp) -> [i64; 5] {
    let ana = app
        .create_customer(
            json!({"email": "ana@example.com", "first_name": "Ana", "tags": ["VIP"], "birthday": "1990-05-10",
            "address": {"city": "Paris", "country": "FR"}, "attributes": {"loyalty": "gold", "visits": 12}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let ben = app
        .create_customer(
            json!({"email": "ben@example.com", "first_name": "Ben", "address": {"city": "Berlin", "country": "DE"}}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let cleo = app.create_customer(json!({"email": "cleo@example.com", "tags": ["vip"]})).await["id"].as_i64().unwrap();
    let dan = app.create_customer(json!({"email": "dan@example.com"})).await["id"].as_i64().unwrap();
    let eve = app.create_customer(json!({"email": "eve@example.com"})).await["id"].as_i64().unwrap();
    set_consent(app, ana, "email", "subscribed").await;
    set_consent(app, ben, "email", "unsubscribed").await;
    set_consent(app, cleo, "email", "subscribed").await;
    set_consent(app, dan, "email", "pending").await;
    place_order(app, ana, "SHOE-1", "shoes", 6000, 10).await;
    place_order(app, ana, "SHOE-1", "shoes", 6000, 5).await;
    place_order(app, ben, "SHOE-2", "shoes", 3000, 400).await;
    place_order(app, dan, "HAT-1", "hat", 8000, 20).await;
    [ana, ben, cleo, dan, eve]
}

async fn preview(app: &TestApp, rules: Value) -> Vec<i64> {
    let response = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": rules})).await;
    assert_eq!(response.status.as_u16(), 200, "{rules}: {}", response.text);
    let mut ids: Vec<i64> =
        response.body["sample"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(response.body["count"].as_i64().unwrap(), ids.len() as i64, "{rules}");
    ids.sort();
    ids
}

async fn segment_rules_select_the_right_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, ben, cleo, dan, eve] = customers(&app).await;
    let cond = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});

    // Purchase history, price range and consent together.
    let shoe_buyers = json!({"all": [
        {"field": "purchased.product_type", "op": "eq", "value": "shoes"},
        cond("average_order_value", "between", json!([5000, 7000])),
        cond("consent.email", "eq", json!("subscribed")),
    ]});
    assert_eq!(preview(&app, shoe_buyers).await, [ana]);
    let any_shoes_ever = cond("purchased.product_type", "eq", json!("shoes"));
    assert_eq!(preview(&app, any_shoes_ever).await, [ana, ben]);
    let recent_shoes = json!({"field": "purchased.product_type", "op": "eq", "value": "shoes", "within_days": 30});
    assert_eq!(preview(&app, recent_shoes).await, [ana]);
    assert_eq!(preview(&app, cond("purchased.sku", "ne", json!("SHOE-1"))).await, [ben, cleo, dan, eve]);
    assert_eq!(preview(&app, cond("purchased.attributes.material", "eq", json!("wool"))).await, [dan]);
    assert_eq!(preview(&app, json!({"not": cond("tag", "eq", json!("vip"))})).await, [ben, dan, eve]);
    assert_eq!(
        preview(&app, json!({"any": [cond("tag", "in", json!(["vip"])), cond("country", "eq", json!("de"))]})).await,
        [ana, ben, cleo]
    );
    // Customers without orders have 0 orders and spent 0.
    assert_eq!(preview(&app, cond("orders_count", "eq", json!(0))).await, [cleo, eve]);
    assert_eq!(preview(&app, cond("orders_count", "lt", json!(2))).await, [ben, cleo, dan, eve]);
    assert_eq!(preview(&app, cond("total_spent", "gte", json!(10000))).await, [ana]);
    assert_eq!(preview(&app, cond("average_order_value", "gt", json!(0))).await, [ana, ben, dan]);
    assert_eq!(
        preview(&app, json!({"field": "total_spent", "op": "gt", "value": 0, "currency": "USD"})).await,
        Vec::<i64>::new()
    );
    assert_eq!(preview(&app, cond("consent.email", "eq", json!("not_set"))).await, [eve]);
    assert_eq!(preview(&app, cond("consent.email", "ne", json!("subscribed"))).await, [ben, dan, eve]);
    assert_eq!(preview(&app, cond("attributes.visits", "gt", json!(10))).await, [ana]);
    assert_eq!(preview(&app, cond("attributes.loyalty", "eq", json!("gold"))).await, [ana]);
    assert_eq!(preview(&app, json!({"field": "attributes.loyalty", "op": "not_exists"})).await, [ben, cleo, dan, eve]);
    assert_eq!(preview(&app, cond("city", "eq", json!("PARIS"))).await, [ana]);
    assert_eq!(preview(&app, cond("city", "contains", json!("erl"))).await, [ben]);
    assert_eq!(preview(&app, cond("age", "gte", json!(30))).await, [ana]);
    assert_eq!(preview(&app, cond("age", "lt", json!(30))).await, Vec::<i64>::new());
    assert_eq!(preview(&app, cond("birthday_month", "eq", json!(5))).await, [ana]);
    assert_eq!(preview(&app, cond("last_order_at", "within_last_days", json!(30))).await, [ana, dan]);
    assert_eq!(preview(&app, json!({"field": "first_order_at", "op": "not_exists"})).await, [cleo, eve]);
    assert_eq!(preview(&app, cond("created_at", "before", json!("2000-01-01"))).await, Vec::<i64>::new());
    assert_eq!(preview(&app, json!({"all": []})).await, [ana, ben, cleo, dan, eve]);
    // RFM segments split the buyers; `ne` also selects customers without orders.
    let champions = preview(&app, cond("rfm_segment", "eq", json!("champions"))).await;
    let others = preview(&app, cond("rfm_segment", "ne", json!("champions"))).await;
    assert_eq!(champions.len() + others.len(), 5);
    assert!(others.contains(&cleo) && others.contains(&eve));
    // By hand (README, "RFM"): ana R4 FM4, dan R2 FM2, ben R1 FM1.
    assert_eq!(preview(&app, cond("rfm_segment", "eq", json!("loyal"))).await, [ana]);
    assert_eq!(preview(&app, cond("rfm_segment", "eq", json!("hibernating"))).await, [dan]);
    assert_eq!(preview(&app, cond("rfm_segment", "eq", json!("lost"))).await, [ben]);
    // A new order moves everyone's ranks, and the next count sees it: ben R4 FM3, ana R2 FM2, dan R1 FM1.
    place_order(&app, ben, "SHOE-2", "shoes", 20000, 0).await;
    assert_eq!(preview(&app, cond("rfm_segment", "eq", json!("potential_loyalists"))).await, [ben]);
    assert_eq!(preview(&app, cond("rfm_segment", "in", json!(["hibernating", "lost"]))).await, [ana, dan]);
    assert_eq!(preview(&app, cond("rfm_segment", "eq", json!("lost"))).await, [dan]);
}

async fn segments_are_saved_listed_and_paged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, _, cleo, ..] = customers(&app).await;
    let writer = app.token("campaigns:write");
    let reader = app.token("campaigns:read");
    let vip = json!({"name": "VIPs", "rules": {"field": "tag", "op": "eq", "value": "vip"}});
    let created = app.post("/v1/segments", &writer, vip).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), Some(format!("/v1/segments/{id}").as_str()));
    assert_eq!(app.get(&format!("/v1/segments/{id}"), &reader).await.body["rules"]["value"], "vip");

    let page = app.get(&format!("/v1/segments/{id}/customers?limit=1"), &reader).await;
    assert_eq!(page.body["items"][0]["id"], cleo, "newest first");
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let next = app.get(&format!("/v1/segments/{id}/customers?limit=1&cursor={cursor}"), &reader).await;
    assert_eq!((next.body["items"][0]["id"].as_i64(), next.body["next_cursor"].clone()), (Some(ana), Value::Null));

    let patched = app
        .patch(
            &format!("/v1/segments/{id}"),
            &writer,
            json!({"description": "Big spenders", "rules": {"field": "orders_count", "op": "gte", "value": 2}}),
        )
        .await;
    assert_eq!((patched.status.as_u16(), patched.body["name"].as_str()), (200, Some("VIPs")), "{}", patched.text);
    let members = app.get(&format!("/v1/segments/{id}/customers"), &reader).await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/v1/segments", &reader).await.body["items"].as_array().unwrap().len(), 1);
    app.patch(&format!("/v1/segments/{id}"), &writer, json!({"rules": {"field": "nope", "op": "eq", "value": 1}}))
        .await
        .assert_problem(422);
    app.post("/v1/segments", &reader, json!({"name": "x", "rules": {"all": []}})).await.assert_problem(403);
    assert_eq!(app.delete(&format!("/v1/segments/{id}"), &writer).await.status.as_u16(), 204);
    app.get(&format!("/v1/segments/{id}"), &reader).await.assert_problem(404);
    app.get(&format!("/v1/segments/{id}/customers"), &reader).await.assert_problem(404);
}

async fn bad_rules_are_named_in_422s(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write");
    let cases = [
        (json!({"all": [{"field": "shoe_size", "op": "eq", "value": 42}]}), "rules.all[0].field"),
        (json!({"any": [{"field": "age", "op": "contains", "value": "3"}]}), "rules.any[0].op"),
        (json!({"field": "consent.fax", "op": "eq", "value": "subscribed"}), "rules.field"),
        (json!({"field": "consent.email", "op": "eq", "value": "yes"}), "rules.value"),
        (json!({"field": "average_order_value", "op": "between", "value": [9000, 100]}), "rules.value"),
        (json!({"field": "source", "op": "eq", "value": "carrier_pigeon"}), "rules.value"),
        (json!({"field": "tag", "op": "exists", "value": "x"}), "rules.value"),
        (json!({"field": "last_order_at", "op": "after", "value": "yesterday"}), "rules.value"),
        (json!({"field": "purchased.sku", "op": "eq", "value": "A", "within_days": 0}), "rules.within_days"),
        (json!({"not": {"field": "tag", "op": "eq", "value": "a"}, "any": []}), "rules"),
        (json!([1, 2]), "rules"),
    ];
    for (rules, field) in cases {
        let response = app.post("/v1/segments", &writer, json!({"name": "bad", "rules": rules})).await;
        assert_eq!(response.invalid_fields(), [field], "{rules}");
    }
    let response = app.post("/v1/segments", &writer, json!({"name": " ", "rules": {"all": []}})).await;
    assert_eq!(response.invalid_fields(), ["name"]);
    assert_eq!(app.count("segments").await, 0);
}
