use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    new_customers_have_every_channel_not_set,
    a_change_is_recorded_with_its_proof,
    a_back_filled_event_never_overrides_a_newer_one,
    invalid_changes_are_rejected_without_writing,
    consent_scopes,
    customers_can_be_filtered_by_consent,
    history_pages_newest_first,
    merge_joins_the_ledgers,
);

async fn put(app: &TestApp, customer: &Value, channel: &str, body: Value) -> Value {
    let response = app
        .put(&format!("/v1/customers/{}/consents/{channel}", customer["id"]), &app.token("consents:write"), body)
        .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

async fn new_customers_have_every_channel_not_set(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    assert_eq!(
        customer["consents"],
        json!({"email": "not_set", "sms": "not_set", "phone": "not_set", "post": "not_set"})
    );
    let consents = app.get(&format!("/v1/customers/{}/consents", customer["id"]), &app.token("customers:read")).await;
    assert_eq!(consents.status.as_u16(), 200);
    let channels: Vec<&str> =
        consents.body["channels"].as_array().unwrap().iter().map(|c| c["channel"].as_str().unwrap()).collect();
    assert_eq!(channels, vec!["email", "sms", "phone", "post"]);
    for channel in consents.body["channels"].as_array().unwrap() {
        assert_eq!(channel["state"], "not_set");
        assert_eq!(channel["opt_in_level"], "unknown");
        assert_eq!(channel["updated_at"], Value::Null);
    }
    app.get("/v1/customers/999/consents", &app.token("customers:read")).await.assert_problem(404);
}

async fn a_change_is_recorded_with_its_proof(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    let current = put(
        &app,
        &customer,
        "email",
        json!({"state": "subscribed", "source": "admin", "method_detail": "shop counter",
               "consent_text": "Yes, send me offers by email", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0",
               "occurred_at": "2026-01-15T10:00:00Z"}),
    )
    .await;
    assert_eq!(
        current,
        json!({"channel": "email", "state": "subscribed", "opt_in_level": "single_opt_in",
               "updated_at": "2026-01-15T10:00:00Z", "source": "admin"})
    );
    let reader = app.token("customers:read");
    let history = app.get(&format!("/v1/customers/{}/consents/history", customer["id"]), &reader).await;
    let event = &history.body["items"][0];
    assert_eq!(event["consent_text"], "Yes, send me offers by email");
    assert_eq!(event["method_detail"], "shop counter");
    assert_eq!(event["ip"], "203.0.113.7");
    assert_eq!(event["user_agent"], "Mozilla/5.0");
    assert_eq!(event["actor"], "test-client");
    assert_eq!(event["occurred_at"], "2026-01-15T10:00:00Z");
    assert!(event["recorded_at"].as_str().unwrap() > "2026-01-15");
    let fetched = app.get(&format!("/v1/customers/{}", customer["id"]), &reader).await;
    assert_eq!(fetched.body["consents"]["email"], "subscribed");
    // Without occurred_at, the change happens now.
    let now = put(&app, &customer, "sms", json!({"state": "unsubscribed", "source": "api"})).await;
    assert_eq!(now["state"], "unsubscribed");
    assert_eq!(now["opt_in_level"], "unknown");
    assert!(now["updated_at"].as_str().unwrap() > "2026-11-01");
}

async fn a_back_filled_event_never_overrides_a_newer_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    put(
        &app,
        &customer,
        "email",
        json!({"state": "subscribed", "source": "checkout", "occurred_at": "2026-06-01T00:00:00Z"}),
    )
    .await;
    let after_backfill = put(
        &app,
        &customer,
        "email",
        json!({"state": "unsubscribed", "source": "import", "occurred_at": "2024-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(after_backfill["state"], "subscribed", "the older event is kept but not current");
    assert_eq!(after_backfill["source"], "checkout");
    assert_eq!(app.count("consent_events").await, 2);
    // Same instant: the later record wins.
    let tie = put(
        &app,
        &customer,
        "email",
        json!({"state": "unsubscribed", "source": "admin", "occurred_at": "2026-06-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(tie["state"], "unsubscribed");
    let newer = put(
        &app,
        &customer,
        "email",
        json!({"state": "subscribed", "source": "api", "occurred_at": "2026-07-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(newer["state"], "subscribed");
}

async fn invalid_changes_are_rejected_without_writing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("consents:write");
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    let path = format!("/v1/customers/{}/consents/email", customer["id"]);
    let cases = [
        (json!({"state": "subscribed", "source": "admin", "occurred_at": "2099-01-01T00:00:00Z"}), "occurred_at"),
        (json!({"state": "not_set", "source": "admin"}), "state"),
        (json!({"state": "maybe", "source": "admin"}), "state"),
        (json!({"state": "subscribed", "source": "carrier pigeon"}), "source"),
        (json!({"state": "subscribed", "source": "admin", "ip": "999.1.1.1"}), "ip"),
        (json!({"state": "subscribed", "source": "admin", "method_detail": "bad\u{0}text"}), "method_detail"),
        (json!({"state": "subscribed", "source": "admin", "user_agent": "x".repeat(600)}), "user_agent"),
        (json!({"state": "subscribed", "source": "admin", "occurred_at": "yesterday"}), "occurred_at"),
        (json!({"state": "subscribed", "source": "admin", "wording": "x"}), "wording"),
        (json!({"source": "admin"}), "state"),
        (json!({"state": "subscribed", "source": "confirmation_link"}), "source"),
        (json!({"state": "unsubscribed", "source": "unsubscribe_link"}), "source"),
    ];
    for (body, field) in cases {
        let response = app.put(&path, &token, body.clone()).await;
        assert_eq!(response.invalid_fields(), vec![field.to_string()], "{body}: {}", response.text);
    }
    app.put(
        &format!("/v1/customers/{}/consents/fax", customer["id"]),
        &token,
        json!({"state": "subscribed", "source": "admin"}),
    )
    .await
    .assert_problem(404);
    app.put("/v1/customers/999/consents/email", &token, json!({"state": "subscribed", "source": "admin"}))
        .await
        .assert_problem(404);
    assert_eq!(app.count("consent_events").await, 0);
    assert_eq!(app.count("customer_consents").await, 0);
}

async fn consent_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    let path = format!("/v1/customers/{}/consents/email", customer["id"]);
    let body = json!({"state": "subscribed", "source": "admin"});
    let writer = app.put(&path, &app.token("customers:write customers:read"), body.clone()).await;
    writer.assert_problem(403);
    assert!(writer.body["detail"].as_str().unwrap().contains("consents:write"));
    let history = format!("/v1/customers/{}/consents/history", customer["id"]);
    app.get(&history, &app.token("consents:write")).await.assert_problem(403);
}

async fn customers_can_be_filtered_by_consent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("customers:read");
    let subscribed = app.create_customer(json!({"email": "yes@example.com"})).await;
    let unsubscribed = app.create_customer(json!({"email": "no@example.com"})).await;
    let never = app.create_customer(json!({"email": "never@example.com"})).await;
    put(&app, &subscribed, "email", json!({"state": "subscribed", "source": "admin"})).await;
    put(&app, &unsubscribed, "email", json!({"state": "unsubscribed", "source": "admin"})).await;
    put(&app, &never, "sms", json!({"state": "subscribed", "source": "admin"})).await;
    let ids = |page: &Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };
    let find = |query: &'static str| {
        let (app, reader) = (&app, reader.clone());
        async move { app.get(&format!("/v1/customers?{query}"), &reader).await }
    };
    assert_eq!(ids(&find("consent.email=subscribed").await.body), vec![subscribed["id"].as_i64().unwrap()]);
    assert_eq!(ids(&find("consent.email=unsubscribed").await.body), vec![unsubscribed["id"].as_i64().unwrap()]);
    assert_eq!(ids(&find("consent.email=not_set").await.body), vec![never["id"].as_i64().unwrap()]);
    assert_eq!(
        ids(&find("consent.sms=subscribed&consent.email=not_set").await.body),
        vec![never["id"].as_i64().unwrap()]
    );
    assert_eq!(ids(&find("consent.post=pending").await.body), Vec::<i64>::new());
    find("consent.email=maybe").await.assert_problem(400);
    find("consent.fax=subscribed").await.assert_problem(400);
}

async fn history_pages_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    for (day, state) in [("03", "subscribed"), ("01", "pending"), ("02", "unsubscribed")] {
        put(
            &app,
            &customer,
            "email",
            json!({"state": state, "source": "api", "occurred_at": format!("2026-03-{day}T00:00:00Z")}),
        )
        .await;
    }
    let reader = app.token("customers:read");
    let base = format!("/v1/customers/{}/consents/history", customer["id"]);
    let first = app.get(&format!("{base}?limit=2"), &reader).await;
    let days: Vec<&str> =
        first.body["items"].as_array().unwrap().iter().map(|e| &e["occurred_at"].as_str().unwrap()[8..10]).collect();
    assert_eq!(days, vec!["03", "02"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("{base}?limit=2&cursor={cursor}"), &reader).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["state"], "pending");
    assert_eq!(second.body["next_cursor"], Value::Null);
}

async fn merge_joins_the_ledgers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let survivor = app.create_customer(json!({"first_name": "Ana", "phone": "+33612345678"})).await;
    let duplicate = app.create_customer(json!({"email": "ana@example.com", "phone": "+33612345678"})).await;
    put(
        &app,
        &survivor,
        "email",
        json!({"state": "unsubscribed", "source": "api", "occurred_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    put(
        &app,
        &duplicate,
        "email",
        json!({"state": "subscribed", "source": "api", "occurred_at": "2026-02-01T00:00:00Z"}),
    )
    .await;
    put(&app, &duplicate, "post", json!({"state": "subscribed", "source": "api"})).await;
    let merged = app
        .post(
            &format!("/v1/customers/{}/merge", survivor["id"]),
            &app.token("customers:write"),
            json!({"duplicate_id": duplicate["id"]}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    assert_eq!(
        merged.body["consents"],
        json!({"email": "subscribed", "sms": "not_set", "phone": "not_set", "post": "subscribed"})
    );
    let history =
        app.get(&format!("/v1/customers/{}/consents/history", survivor["id"]), &app.token("customers:read")).await;
    assert_eq!(history.body["items"].as_array().unwrap().len(), 3, "no event is lost");
    assert_eq!(app.count("customer_consents").await, 2);
}
