use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    costs_round_trip_on_campaigns_flows_and_codes,
    bad_costs_are_422_naming_the_field,
    promotions_are_ranked_by_cost,
);

fn fields(response: &Value) -> Vec<String> {
    response["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

fn campaign(cost: Value) -> Value {
    json!({"name": "Boots", "channel": "email", "rules": {"field": "tag", "op": "eq", "value": "club"},
           "subject": "Boots", "content": "https://shop.example/boots", "cost": cost})
}

fn flow(cost: Value) -> Value {
    json!({"name": "Welcome", "trigger": {"type": "consent_subscribed"}, "channel": "email",
           "steps": [{"type": "send", "subject": "Hi", "text": "Hello\nUnsubscribe: {{ unsubscribe_url }}"}],
           "cost": cost})
}

fn code(name: &str, cost: Value) -> Value {
    json!({"code": name, "discount": {"type": "percent", "value": 10}, "cost": cost})
}

async fn costs_round_trip_on_campaigns_flows_and_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write campaigns:read");
    let cost = json!({"currency": "eur", "fixed_minor": 5000, "per_contact_minor": 12});
    let created = app.post("/v1/campaigns", &writer, campaign(cost.clone())).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let expected = json!({"currency": "EUR", "fixed_minor": 5000, "per_contact_minor": 12});
    assert_eq!(created.body["cost"], expected);
    let id = created.body["id"].as_i64().unwrap();
    let patched = app.patch(&format!("/v1/campaigns/{id}"), &writer, json!({"cost": null})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!(patched.body["cost"], Value::Null);
    let report = app.get(&format!("/v1/campaigns/{id}/report"), &writer).await;
    assert_eq!(report.body["cost"], Value::Null, "{}", report.text);

    let flow_created = app.post("/v1/flows", &writer, flow(cost)).await;
    assert_eq!(flow_created.status.as_u16(), 201, "{}", flow_created.text);
    assert_eq!(flow_created.body["cost"], expected);
    let flow_id = flow_created.body["id"].as_i64().unwrap();
    let flow_report = app.get(&format!("/v1/flows/{flow_id}/report"), &writer).await;
    assert_eq!(flow_report.status.as_u16(), 200, "{}", flow_report.text);
    // No contact and no order yet: the fixed part only, no cost per order.
    assert_eq!(flow_report.body["cost"]["cost"], 5000);
    assert_eq!(flow_report.body["cost"]["cost_per_order"], Value::Null);
    assert_eq!(flow_report.body["cost"]["cost_per_incremental_order"], Value::Null);

    let admin = app.token("admin");
    let promo = app
        .post("/v1/promo-codes", &admin, code("SAVE", json!({"currency": "EUR", "per_redemption_minor": 150})))
        .await;
    assert_eq!(promo.status.as_u16(), 201, "{}", promo.text);
    assert_eq!(promo.body["cost"], json!({"currency": "EUR", "fixed_minor": 0, "per_redemption_minor": 150}));
    assert_eq!(promo.body["cost_to_date"], 0);
    let patched =
        app.patch("/v1/promo-codes/SAVE", &admin, json!({"cost": {"currency": "EUR", "fixed_minor": 700}})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!(patched.body["cost_to_date"], 700);
}

async fn bad_costs_are_422_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write campaigns:read");
    let admin = app.token("admin");
    let bad = json!({"currency": "XYZ", "fixed_minor": -1, "per_contact_minor": 1_000_000_000_001_i64});
    let response = app.post("/v1/campaigns", &writer, campaign(bad.clone())).await;
    assert_eq!(response.status.as_u16(), 422, "{}", response.text);
    let mut names = fields(&response.body);
    names.sort();
    assert_eq!(names, ["cost.currency", "cost.fixed_minor", "cost.per_contact_minor"]);
    let response = app.post("/v1/flows", &writer, flow(bad)).await;
    assert_eq!(response.status.as_u16(), 422, "{}", response.text);
    assert!(fields(&response.body).contains(&"cost.currency".to_string()));
    let unknown =
        app.post("/v1/campaigns", &writer, campaign(json!({"currency": "EUR", "per_redemption_minor": 1}))).await;
    assert_eq!(unknown.status.as_u16(), 422, "{}", unknown.text);
    // A code restricted to a currency costs in that currency.
    let mismatch = app
        .post(
            "/v1/promo-codes",
            &admin,
            json!({"code": "TENOFF", "discount": {"type": "fixed", "value": 1000}, "currency": "EUR",
                   "cost": {"currency": "USD", "fixed_minor": 1}}),
        )
        .await;
    assert_eq!(mismatch.status.as_u16(), 422, "{}", mismatch.text);
    assert_eq!(fields(&mismatch.body), ["cost.currency"]);
    assert_eq!(app.count("campaigns").await + app.count("flows").await + app.count("promo_codes").await, 0);
}

/// An order of 100.00 (90.00 with a code).
async fn order(app: &TestApp, customer_id: i64, external_id: &str, code: Option<&str>) {
    let body = json!({"external_id": external_id, "channel": "web", "currency": "EUR", "customer": {"id": customer_id},
        "lines": [{"sku": "BOOT-1", "name": "Boot", "product_type": "shoes", "quantity": 1, "unit_price": 10000}],
        "discount_total": if code.is_some() { 1000 } else { 0 }, "total": if code.is_some() { 9000 } else { 10000 },
        "promo_code": code});
    let response = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

async fn promotions_are_ranked_by_cost(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    for (name, cost) in [
        ("SAVE", json!({"currency": "EUR", "fixed_minor": 1000, "per_redemption_minor": 200})),
        ("CHEAP", json!({"currency": "EUR", "fixed_minor": 100})),
        ("DOLLAR", json!({"currency": "USD", "fixed_minor": 1})),
    ] {
        let response = app.post("/v1/promo-codes", &admin, code(name, cost)).await;
        assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    }
    let ana = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    let ben = app.create_customer(json!({"email": "ben@example.com"})).await["id"].as_i64().unwrap();
    order(&app, ana, "o1", Some("SAVE")).await;
    order(&app, ben, "o2", Some("SAVE")).await;
    order(&app, ana, "o3", Some("CHEAP")).await;
    order(&app, ben, "o4", Some("DOLLAR")).await;
    let today = chrono::Utc::now().date_naive();
    let range =
        format!("from={}&to={}&timezone=UTC", today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    let reader = app.token("analytics:read");
    let by_order = app.get(&format!("/v1/analytics/promotions?{range}"), &reader).await;
    assert_eq!(by_order.status.as_u16(), 200, "{}", by_order.text);
    let ranked = by_order.body["by_cost"].as_array().unwrap().clone();
    // CHEAP: 100 for 1 order; SAVE: 1,000 + 2 × 200 = 1,400 for 2 orders = 700 each. DOLLAR
    // costs in USD: left out of the EUR ranking.
    let names: Vec<&str> = ranked.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["CHEAP", "SAVE"]);
    assert_eq!((ranked[0]["cost"].as_i64(), ranked[0]["cost_per_order"].as_i64()), (Some(100), Some(100)));
    assert_eq!((ranked[1]["cost"].as_i64(), ranked[1]["cost_per_order"].as_i64()), (Some(1400), Some(700)));
    assert_eq!(ranked[1]["kind"], "promo_code");
    assert_eq!(ranked[1]["orders"], 2);
    assert_eq!(ranked[1]["cost_per_incremental_order"], Value::Null, "a code has no holdout");
    let revenue = ranked[1]["revenue"].as_i64().unwrap();
    let expected = ((revenue as f64 / 1400.0) * 10_000.0).round() / 10_000.0;
    assert_eq!(ranked[1]["return_on_spend"].as_f64(), Some(expected));
    let by_cost = app.get(&format!("/v1/analytics/promotions?{range}&sort=cost"), &reader).await.body;
    assert_eq!(by_cost["by_cost"][0]["name"], "SAVE");
    let bad = app.get(&format!("/v1/analytics/promotions?{range}&sort=cheapest"), &reader).await;
    assert!(matches!(bad.status.as_u16(), 400 | 422), "{}", bad.text);
}
