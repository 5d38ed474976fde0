use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(consent_figures_by_period_in_a_time_zone, bad_periods_are_422);

async fn consent_at(app: &TestApp, customer: i64, channel: &str, state: &str, at: &str) {
    let body = json!({"state": state, "source": "admin", "consent_text": "Yes", "occurred_at": at});
    let response = app.put(&format!("/v1/customers/{customer}/consents/{channel}"), &app.token("admin"), body).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
}

async fn consent_figures_by_period_in_a_time_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = |v: Value| v["id"].as_i64().unwrap();
    let ana = id(app.create_customer(json!({"email": "ana@example.com", "source": "checkout"})).await);
    let ben = id(app.create_customer(json!({"email": "ben@example.com", "source": "checkout"})).await);
    let cleo = id(app.create_customer(json!({"email": "cleo@example.com", "source": "newsletter_form"})).await);
    // 23:30 UTC on the 20th is the 21st in Paris.
    consent_at(&app, ana, "email", "subscribed", "2026-11-20T23:30:00Z").await;
    consent_at(&app, ben, "email", "subscribed", "2026-11-20T10:00:00Z").await;
    consent_at(&app, ben, "email", "unsubscribed", "2026-11-22T10:00:00Z").await;
    consent_at(&app, cleo, "sms", "pending", "2026-11-21T10:00:00Z").await;

    let reader = app.token("analytics:read");
    let url = "/v1/analytics/consent?from=2026-11-20&to=2026-11-23&granularity=day&timezone=Europe/Paris";
    let response = app.get(url, &reader).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    let body = &response.body;
    assert_eq!(body["channels"][0], json!({"channel": "email", "subscribed": 1, "unsubscribed": 1, "pending": 0}));
    assert_eq!(body["channels"][1], json!({"channel": "sms", "subscribed": 0, "unsubscribed": 0, "pending": 1}));
    let days: Vec<(String, i64, i64)> = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["period_start"].as_str().unwrap().to_string(),
                b["opt_ins"]["email"].as_i64().unwrap(),
                b["opt_outs"]["email"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-20".into(), 1, 0),
            ("2026-11-21".into(), 1, 0),
            ("2026-11-22".into(), 0, 1),
            ("2026-11-23".into(), 0, 0)
        ]
    );
    let utc =
        app.get("/v1/analytics/consent?from=2026-11-20&to=2026-11-20&granularity=day&timezone=UTC", &reader).await;
    assert_eq!(utc.body["buckets"][0]["opt_ins"]["email"], 2);
    let checkout = body["by_source"].as_array().unwrap().iter().find(|s| s["source"] == "checkout").unwrap();
    assert_eq!(
        checkout,
        &json!({"source": "checkout", "customers": 2, "email_subscribed": 1, "email_opt_in_rate": 0.5})
    );
    let weekly = app.get("/v1/analytics/consent?from=2026-11-20&to=2026-11-23&granularity=week", &reader).await;
    let weeks: Vec<&str> =
        weekly.body["buckets"].as_array().unwrap().iter().map(|b| b["period_start"].as_str().unwrap()).collect();
    assert_eq!(weeks, ["2026-11-16", "2026-11-23"]);
    app.get(url, &app.token("customers:read")).await.assert_problem(403);
}

async fn bad_periods_are_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("analytics:read");
    let cases = [
        ("from=2026-01-01&to=2026-02-01&granularity=hour", "granularity"),
        ("from=2026-02-01&to=2026-01-01&granularity=day", "to"),
        ("from=2020-01-01&to=2026-01-01&granularity=day", "granularity"),
        ("from=2026-01-01&to=2026-02-01&timezone=Mars/Olympus", "timezone"),
        ("to=2026-02-01", "from"),
        ("from=2026-13-01&to=2026-02-01", "from"),
    ];
    for (query, field) in cases {
        let response = app.get(&format!("/v1/analytics/consent?{query}"), &reader).await;
        assert_eq!(response.invalid_fields(), [field], "{query}");
    }
}
