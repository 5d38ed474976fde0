use chrono::{Datelike, Duration, Utc};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::segments::{place_order, set_consent};

both_backends!(birthdays_coming_up_with_consents, lapsed_customers_by_their_own_rhythm, bad_reminder_parameters);

fn born(years_ago: i32, day: chrono::NaiveDate) -> String {
    // 28 February stands in for a 29th in the birth year.
    let year = day.year() - years_ago;
    day.with_year(year).unwrap_or_else(|| day.with_day(28).unwrap().with_year(year).unwrap()).to_string()
}

async fn birthdays_coming_up_with_consents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let today = Utc::now().date_naive();
    let soon = app
        .create_customer(json!({"email": "soon@example.com", "birthday": born(30, today + Duration::days(3))}))
        .await;
    let now = app.create_customer(json!({"email": "now@example.com", "birthday": born(40, today)})).await;
    app.create_customer(json!({"email": "later@example.com", "birthday": born(20, today + Duration::days(20))})).await;
    app.create_customer(json!({"email": "unknown@example.com"})).await;
    set_consent(&app, soon["id"].as_i64().unwrap(), "email", "subscribed").await;

    let reader = app.token("customers:read");
    let page = app.get("/v1/reminders/birthdays?within_days=14", &reader).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", page.text);
    assert_eq!((items[0]["customer"]["id"].clone(), items[0]["days_until"].as_i64()), (now["id"].clone(), Some(0)));
    assert_eq!(items[0]["turns"], 40);
    assert_eq!((items[1]["customer"]["id"].clone(), items[1]["days_until"].as_i64()), (soon["id"].clone(), Some(3)));
    assert_eq!(items[1]["date"], (today + Duration::days(3)).to_string());
    assert_eq!(items[1]["customer"]["consents"]["email"], "subscribed");
    let first = app.get("/v1/reminders/birthdays?within_days=14&limit=1", &reader).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = app.get(&format!("/v1/reminders/birthdays?within_days=14&limit=1&cursor={cursor}"), &reader).await;
    assert_eq!(second.body["items"][0]["customer"]["id"], soon["id"]);
    assert_eq!(
        app.get("/v1/reminders/birthdays?within_days=30", &reader).await.body["items"].as_array().unwrap().len(),
        3
    );

    // "Today" is the time zone's: the day is already tomorrow somewhere.
    let zone: chrono_tz::Tz = "Pacific/Kiritimati".parse().unwrap();
    let there = Utc::now().with_timezone(&zone).date_naive();
    let islander = app.create_customer(json!({"email": "k@example.com", "birthday": born(25, there)})).await;
    let page = app.get("/v1/reminders/birthdays?within_days=0&timezone=Pacific/Kiritimati", &reader).await;
    assert!(
        page.body["items"].as_array().unwrap().iter().any(|i| i["customer"]["id"] == islander["id"]),
        "{}",
        page.text
    );
}

async fn lapsed_customers_by_their_own_rhythm(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = |v: serde_json::Value| v["id"].as_i64().unwrap();
    let regular = id(app.create_customer(json!({"email": "regular@example.com"})).await);
    let big = id(app.create_customer(json!({"email": "big@example.com"})).await);
    let slow = id(app.create_customer(json!({"email": "slow@example.com"})).await);
    let once = id(app.create_customer(json!({"email": "once@example.com"})).await);
    let recent = id(app.create_customer(json!({"email": "recent@example.com"})).await);
    let gone = id(app.create_customer(json!({"email": "gone@example.com"})).await);
    // Every 10 days, silent for 190: lapsed.
    place_order(&app, regular, "A", "ring", 1000, 200).await;
    place_order(&app, regular, "A", "ring", 1000, 190).await;
    place_order(&app, big, "A", "ring", 9000, 300).await;
    place_order(&app, big, "A", "ring", 9000, 280).await;
    // Every 300 days, silent for 100: still within their rhythm.
    place_order(&app, slow, "A", "ring", 1000, 400).await;
    place_order(&app, slow, "A", "ring", 1000, 100).await;
    place_order(&app, once, "A", "ring", 1000, 300).await;
    place_order(&app, recent, "A", "ring", 1000, 20).await;
    place_order(&app, recent, "A", "ring", 1000, 10).await;
    place_order(&app, gone, "A", "ring", 1000, 300).await;
    place_order(&app, gone, "A", "ring", 1000, 290).await;
    assert_eq!(app.delete(&format!("/v1/customers/{gone}"), &app.token("admin")).await.status.as_u16(), 204);

    let reader = app.token("customers:read");
    let page = app.get("/v1/reminders/lapsed?days=90", &reader).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let ids: Vec<i64> =
        page.body["items"].as_array().unwrap().iter().map(|i| i["customer"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [big, regular], "most valuable first");
    let first = &page.body["items"][0];
    assert_eq!((first["orders_count"].as_i64(), first["total_spent"].as_i64()), (Some(2), Some(18000)));
    assert_eq!((first["days_since_last_order"].as_i64(), first["usual_gap_days"].as_f64()), (Some(280), Some(20.0)));
    let paged = app.get("/v1/reminders/lapsed?days=90&limit=1", &reader).await;
    let cursor = paged.body["next_cursor"].as_str().unwrap().to_string();
    let next = app.get(&format!("/v1/reminders/lapsed?days=90&limit=1&cursor={cursor}"), &reader).await;
    assert_eq!(next.body["items"][0]["customer"]["id"], regular);
    assert_eq!(app.get("/v1/reminders/lapsed?days=250", &reader).await.body["items"].as_array().unwrap().len(), 1);
}

async fn bad_reminder_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("customers:read");
    assert_eq!(app.get("/v1/reminders/birthdays?within_days=400", &reader).await.invalid_fields(), ["within_days"]);
    assert_eq!(app.get("/v1/reminders/birthdays?timezone=Mars/Olympus", &reader).await.invalid_fields(), ["timezone"]);
    assert_eq!(app.get("/v1/reminders/lapsed?days=0", &reader).await.invalid_fields(), ["days"]);
    app.get("/v1/reminders/lapsed?days=ninety", &reader).await.assert_problem(400);
    app.get("/v1/reminders/lapsed", &app.token("orders:read")).await.assert_problem(403);
}
