//! Webhook endpoints and deliveries against a real HTTP receiver: signatures verified with
//! the Standard Webhooks reference crate, retries on a moved clock, disabling, manual
//! retry, secret rotation, SSRF refusals, per-customer order and two workers at once.

use actix_web::http::StatusCode;
use chrono::{Duration, NaiveDateTime};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::webhook_receiver::Receiver;
use rapport::db::Database;
use rapport::domain::events::EventType;
use rapport::services::{events, webhooks};

const ALLOW_PRIVATE: (&str, &str) = ("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true");

async fn app_allowing_private(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, &[ALLOW_PRIVATE]).await
}

fn now() -> NaiveDateTime {
    rapport::domain::now()
}

/// One round of the delivery worker at `at`, as the background worker runs it.
async fn deliver(app: &TestApp, at: NaiveDateTime) -> usize {
    let database = app.state.db.clone();
    let allow_private = app.state.config.webhooks.allow_private;
    actix_web::web::block(move || {
        let sender = webhooks::Sender::new(allow_private).expect("client");
        webhooks::deliver_due(&database, &sender, at)
    })
    .await
    .unwrap()
    .expect("delivery round")
}

/// Creates an endpoint; returns its id and secret.
async fn subscribe(app: &TestApp, url: &str, types: Value) -> (i64, String) {
    let response =
        app.post("/v1/webhooks", &app.token("webhooks:write"), json!({"url": url, "event_types": types})).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
    (response.body["id"].as_i64().unwrap(), response.body["secret"].as_str().unwrap().to_string())
}

/// Records an event about `customer_id` in its own transaction, as a service would.
async fn record(app: &TestApp, event_type: EventType, customer_id: Option<i64>, data: Value) {
    app.state
        .db
        .run(move |conn| conn.write_transaction(|conn| events::record(conn, event_type, customer_id, data.clone())))
        .await
        .unwrap();
}

async fn deliveries(app: &TestApp, endpoint: i64) -> Vec<Value> {
    let response =
        app.get(&format!("/v1/webhooks/{endpoint}/deliveries?limit=200"), &app.token("webhooks:write")).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body["items"].as_array().unwrap().clone()
}

async fn endpoints_crud_and_the_secret_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("webhooks:write");
    let body = json!({"url": "https://hooks.example.com/rapport", "event_types": ["order.created", "order.refunded"],
                      "description": "accounting"});
    let created = app.post("/v1/webhooks", &token, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), Some(format!("/v1/webhooks/{id}").as_str()));
    assert!(created.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created.body["status"], "enabled");

    let fetched = app.get(&format!("/v1/webhooks/{id}"), &token).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert!(fetched.body.get("secret").is_none(), "the secret is shown once: {}", fetched.body);
    assert_eq!(fetched.body["event_types"], json!(["order.created", "order.refunded"]));
    let listed = app.get("/v1/webhooks", &token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let patched =
        app.patch(&format!("/v1/webhooks/{id}"), &token, json!({"event_types": ["*"], "status": "disabled"})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["event_types"], json!(["*"]));
    assert_eq!(patched.body["status"], "disabled");
    // Merge patch: a null description clears it; the other fields cannot be removed.
    let cleared = app.patch(&format!("/v1/webhooks/{id}"), &token, json!({"description": null})).await;
    assert_eq!((cleared.status, &cleared.body["description"]), (StatusCode::OK, &json!("")));
    for field in ["url", "event_types", "status"] {
        let refused = app.patch(&format!("/v1/webhooks/{id}"), &token, json!({ field: null })).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", refused.body);
        assert_eq!(refused.invalid_fields(), vec![field.to_string()]);
    }

    // Bad input names the field and writes nothing.
    for (body, field) in [
        (json!({"url": "https://hooks.example.com/", "event_types": ["order.made"]}), "event_types"),
        (json!({"url": "https://hooks.example.com/", "event_types": []}), "event_types"),
        (json!({"url": "https://hooks.example.com/", "event_types": ["*", "order.created"]}), "event_types"),
        (json!({"url": "http://hooks.example.com/", "event_types": ["*"]}), "url"),
        (json!({"url": "hooks.example.com", "event_types": ["*"]}), "url"),
    ] {
        let refused = app.post("/v1/webhooks", &token, body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", refused.body);
        assert_eq!(refused.invalid_fields(), vec![field.to_string()], "{body}");
    }
    assert_eq!(app.count("webhook_endpoints").await, 1);
    // Only `webhooks:write` (or admin) manages endpoints.
    let forbidden = app.get("/v1/webhooks", &app.token("customers:read")).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    assert_eq!(app.delete(&format!("/v1/webhooks/{id}"), &token).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1/webhooks/{id}"), &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/v1/webhooks/{id}"), &token).await.status, StatusCode::NOT_FOUND);
}

async fn a_delivery_is_signed_per_the_specification(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (endpoint, secret) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    let test = app.post(&format!("/v1/webhooks/{endpoint}/test"), &app.token("webhooks:write"), json!({})).await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.body);
    assert_eq!(test.body["status"], "pending");
    assert_eq!(test.body["event_type"], "webhook.test");

    assert_eq!(deliver(&app, now()).await, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert!(request.verifies_with(&secret), "signature: {:?}", request.headers);
    assert!(!request.verifies_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "another secret must not verify");
    assert_eq!(request.header("webhook-id"), test.body["event_id"].as_str().unwrap());
    assert!(request.header("webhook-signature").starts_with("v1,"));
    let body = request.json();
    assert_eq!(body["type"], "webhook.test");
    assert_eq!(body["data"]["endpoint_id"], endpoint);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));

    let listed = deliveries(&app, endpoint).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "succeeded");
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(listed[0]["last_response_status"], 200);
    assert!(listed[0]["last_latency_ms"].as_i64().is_some());
    assert_eq!(listed[0]["next_attempt_at"], Value::Null);
    // The test event is for this endpoint alone: not in the feed.
    let feed = app.get("/v1/events", &app.token("events:read")).await;
    assert_eq!(feed.body["items"], json!([]));
}

async fn a_failing_receiver_is_retried_with_backoff(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    receiver.answer_next(&[500, 503]);
    let (endpoint, secret) = subscribe(&app, &receiver.url(), json!(["customer.updated"])).await;
    record(&app, EventType::CustomerUpdated, Some(7), json!({"id": 7, "changed": {"first_name": "Ada"}})).await;

    let start = now();
    assert_eq!(deliver(&app, start).await, 1);
    let first = &deliveries(&app, endpoint).await[0];
    assert_eq!((first["status"].as_str(), first["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert_eq!(first["last_response_status"], 500);
    assert!(first["last_error"].as_str().unwrap().contains("HTTP 500"));
    // Not due again before its backoff (5 s, plus up to 10 % jitter).
    assert_eq!(deliver(&app, start + Duration::seconds(4)).await, 0);
    assert_eq!(deliver(&app, start + Duration::seconds(6)).await, 1);
    let second = &deliveries(&app, endpoint).await[0];
    assert_eq!((second["attempts"].as_i64(), second["last_response_status"].as_i64()), (Some(2), Some(503)));
    // The next wait is about 5 minutes.
    assert_eq!(deliver(&app, start + Duration::seconds(6 + 290)).await, 0);
    assert_eq!(deliver(&app, start + Duration::seconds(6 + 331)).await, 1);
    let third = &deliveries(&app, endpoint).await[0];
    assert_eq!((third["status"].as_str(), third["attempts"].as_i64()), (Some("succeeded"), Some(3)));
    assert_eq!(third["last_error"], Value::Null);

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.verifies_with(&secret)));
    let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "every attempt carries the event's id: {ids:?}");
}

async fn an_endpoint_failing_for_five_days_is_disabled(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    receiver.answer_always(Some(500));
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["customer.updated"])).await;
    let watcher = Receiver::start();
    let (watching, _) = subscribe(&app, &watcher.url(), json!(["webhook.disabled"])).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;

    // Every attempt of the first event fails until its retries are spent (about 3 days).
    let start = now();
    let mut at = start;
    for _ in 0..12 {
        deliver(&app, at).await;
        let delivery = deliveries(&app, endpoint).await.remove(0);
        match delivery["next_attempt_at"].as_str() {
            Some(next) => at = chrono::DateTime::parse_from_rfc3339(next).unwrap().naive_utc(),
            None => break,
        }
    }
    let given_up = deliveries(&app, endpoint).await.remove(0);
    assert_eq!(given_up["status"], "failed");
    assert_eq!(given_up["attempts"], 12);
    let spent = at - start;
    assert!(spent > Duration::days(2) && spent < Duration::days(4), "retries lasted {spent}");
    let still = app.get(&format!("/v1/webhooks/{endpoint}"), &app.token("webhooks:write")).await;
    assert_eq!(still.body["status"], "enabled", "3 days of failures do not disable it yet");

    // A later event still fails after 5 days of failures: the endpoint is disabled.
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    deliver(&app, start + Duration::days(5) + Duration::minutes(1)).await;
    let disabled = app.get(&format!("/v1/webhooks/{endpoint}"), &app.token("webhooks:write")).await;
    assert_eq!(disabled.body["status"], "disabled", "{}", disabled.body);
    assert!(disabled.body["disabled_reason"].as_str().unwrap().contains("5 days"));
    let feed = app.get("/v1/events?type=webhook.disabled", &app.token("events:read")).await;
    let items = feed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", feed.body);
    assert_eq!(items[0]["data"]["id"], endpoint);
    // Another endpoint hears of it.
    deliver(&app, start + Duration::days(5) + Duration::minutes(2)).await;
    let told = watcher.received();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].json()["data"]["id"], endpoint);
    let _ = watching;

    // While disabled it gets nothing new; enabled again, its pending deliveries resume.
    let before = receiver.received().len();
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    deliver(&app, start + Duration::days(6)).await;
    assert_eq!(receiver.received().len(), before);
    let token = app.token("webhooks:write");
    let retry =
        app.post(&format!("/v1/webhooks/{endpoint}/deliveries/{}/retry", given_up["id"]), &token, json!({})).await;
    assert_eq!(retry.status, StatusCode::CONFLICT, "{}", retry.body);
    let enabled = app.patch(&format!("/v1/webhooks/{endpoint}"), &token, json!({"status": "enabled"})).await;
    assert_eq!(enabled.body["status"], "enabled");
    assert_eq!(enabled.body["failing_since"], Value::Null);
    assert_eq!(enabled.body["disabled_reason"], Value::Null);
}

async fn a_delivery_can_be_retried_by_hand(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    receiver.answer_next(&[500]);
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    record(&app, EventType::CustomerUpdated, Some(3), json!({"id": 3})).await;
    let start = now();
    deliver(&app, start).await;
    let failed = deliveries(&app, endpoint).await.remove(0);
    assert_eq!(failed["status"], "pending");
    let token = app.token("webhooks:write");

    let retried =
        app.post(&format!("/v1/webhooks/{endpoint}/deliveries/{}/retry", failed["id"]), &token, json!({})).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(retried.body["status"], "pending");
    // Due now, not in 5 seconds.
    assert_eq!(deliver(&app, now()).await, 1);
    let done = deliveries(&app, endpoint).await.remove(0);
    assert_eq!((done["status"].as_str(), done["attempts"].as_i64()), (Some("succeeded"), Some(2)));

    // A succeeded delivery can be sent again too (a receiver that lost it).
    let again = app.post(&format!("/v1/webhooks/{endpoint}/deliveries/{}/retry", done["id"]), &token, json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(deliver(&app, now()).await, 1);
    assert_eq!(receiver.received().len(), 3);

    let missing = app.post(&format!("/v1/webhooks/{endpoint}/deliveries/999999/retry"), &token, json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let other = app.post(&format!("/v1/webhooks/999999/deliveries/{}/retry", done["id"]), &token, json!({})).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

async fn a_rotated_secret_signs_alongside_the_old_one_for_a_day(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (endpoint, old_secret) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    let rotated =
        app.post(&format!("/v1/webhooks/{endpoint}/rotate-secret"), &app.token("webhooks:write"), json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    assert!(rotated.body["previous_secret_expires_at"].is_string());

    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    deliver(&app, now()).await;
    let during = &receiver.received()[0];
    assert_eq!(during.header("webhook-signature").split(' ').count(), 2, "both signatures during the overlap");
    assert!(during.verifies_with(&old_secret) && during.verifies_with(&new_secret));

    // After 24 hours only the new secret signs.
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    deliver(&app, now() + Duration::hours(25)).await;
    let after = &receiver.received()[1];
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    assert!(after.verifies_with(&new_secret));
    assert!(!after.verifies_with(&old_secret));
}

async fn private_addresses_are_refused_unless_allowed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
    ] {
        let refused = app.post("/v1/webhooks", &token, json!({"url": url, "event_types": ["*"]})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", refused.body);
        assert_eq!(refused.invalid_fields(), vec!["url".to_string()]);
    }
    // A name is checked where it leads, on every delivery: `localhost` resolves to loopback.
    let receiver = Receiver::start();
    let url = format!("https://localhost:{}/hook", receiver.port);
    let (endpoint, _) = subscribe(&app, &url, json!(["*"])).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    assert_eq!(deliver(&app, now()).await, 1);
    let refused = deliveries(&app, endpoint).await.remove(0);
    assert_eq!(refused["status"], "pending");
    assert_eq!(refused["last_response_status"], Value::Null);
    let error = refused["last_error"].as_str().unwrap();
    assert!(error.contains("refused") && error.contains("not a public address"), "{error}");
    assert!(receiver.received().is_empty(), "nothing reached the local receiver");
}

async fn one_customers_events_arrive_in_order(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    receiver.answer_next(&[500]);
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    for step in 1..=3 {
        record(&app, EventType::CustomerUpdated, Some(42), json!({"id": 42, "step": step})).await;
    }

    // The first event of customer 42 fails: their later events wait; customer 43's do not.
    let start = now();
    assert_eq!(deliver(&app, start).await, 1, "only the first of customer 42's events is attempted");
    record(&app, EventType::CustomerUpdated, Some(43), json!({"id": 43, "step": 1})).await;
    assert_eq!(deliver(&app, start + Duration::seconds(1)).await, 1, "customer 43's event is not held up");
    assert_eq!(deliver(&app, start + Duration::seconds(2)).await, 0);
    let mut at = start + Duration::seconds(6);
    while deliver(&app, at).await > 0 {
        at += Duration::seconds(1);
    }
    let steps: Vec<(i64, i64)> = receiver
        .received()
        .iter()
        .map(|r| r.json())
        .map(|body| (body["data"]["id"].as_i64().unwrap(), body["data"]["step"].as_i64().unwrap()))
        .collect();
    let of_42: Vec<i64> = steps.iter().filter(|(id, _)| *id == 42).map(|(_, step)| *step).collect();
    assert_eq!(of_42, vec![1, 1, 2, 3], "the failed first event, then each in order: {steps:?}");
    assert_eq!(steps[1], (43, 1), "{steps:?}");
    assert!(deliveries(&app, endpoint).await.iter().all(|d| d["status"] == "succeeded"));
}

async fn two_instances_deliver_each_attempt_once(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    const EVENTS: usize = 120;
    for customer in 0..EVENTS as i64 {
        record(&app, EventType::CustomerUpdated, Some(customer), json!({"id": customer})).await;
    }
    // A second instance: its own pool on the same database, its own worker.
    let config = &app.state.config;
    let other = rapport::db::open(&config.database, 4, config.db_acquire_timeout, config.db_startup_timeout, false)
        .expect("second instance");
    let run = |database: Database| {
        std::thread::spawn(move || {
            let sender = webhooks::Sender::new(true).unwrap();
            let mut attempted = 0;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while std::time::Instant::now() < deadline {
                match webhooks::deliver_due(&database, &sender, rapport::domain::now()) {
                    Ok(0) => {
                        if attempted > 0 {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Ok(n) => attempted += n,
                    Err(error) => panic!("delivery round failed: {error}"),
                }
            }
            attempted
        })
    };
    let (first, second) = (run(app.state.db.clone()), run(other));
    let attempted = first.join().unwrap() + second.join().unwrap();
    let received = receiver.wait_for(EVENTS);
    let mut ids: Vec<String> = received.iter().map(|r| r.header("webhook-id").to_string()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(attempted, EVENTS, "attempts across both instances");
    assert_eq!(received.len(), EVENTS, "each event delivered once");
    assert_eq!(ids.len(), EVENTS);
    assert!(deliveries(&app, endpoint).await.iter().all(|d| d["attempts"] == 1));
}

async fn the_feed_pages_in_commit_order_without_gaps_under_concurrent_writers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    const WRITERS: usize = 4;
    const PER_WRITER: usize = 40;
    // Writers whose transactions overlap: each records its event, then holds the
    // transaction open a little, so that commit order differs from insert order.
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let database = app.state.db.clone();
            std::thread::spawn(move || {
                for n in 0..PER_WRITER {
                    database
                        .with_conn(|conn| {
                            conn.write_transaction(|conn| {
                                let data = json!({"writer": writer, "n": n});
                                events::record(conn, EventType::CustomerUpdated, None, data)?;
                                std::thread::sleep(std::time::Duration::from_millis(
                                    ((writer * 7 + n * 3) % 11) as u64,
                                ));
                                Ok::<_, rapport::error::AppError>(())
                            })
                        })
                        .expect("write");
                }
            })
        })
        .collect();
    // A reader follows the feed while they write, page by page.
    let token = app.token("events:read");
    let mut cursor = "0".to_string();
    let mut seen: Vec<(i64, String)> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while seen.len() < WRITERS * PER_WRITER && std::time::Instant::now() < deadline {
        let page = app.get(&format!("/v1/events?after={cursor}&limit=7"), &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for item in page.body["items"].as_array().unwrap() {
            seen.push((item["sequence"].as_i64().unwrap(), item["id"].as_str().unwrap().to_string()));
        }
        cursor = page.body["next_cursor"].as_str().unwrap().to_string();
        if !page.body["has_more"].as_bool().unwrap() {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    }
    for writer in writers {
        writer.join().unwrap();
    }
    let sequences: Vec<i64> = seen.iter().map(|(s, _)| *s).collect();
    assert_eq!(seen.len(), WRITERS * PER_WRITER, "every event was seen once");
    assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1), "no gap, no repeat: {sequences:?}");
    let mut ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), WRITERS * PER_WRITER);
}

async fn the_feed_filters_and_refuses_bad_parameters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    record(&app, EventType::OrderCreated, Some(1), json!({"id": 5, "customer_id": 1})).await;
    let token = app.token("events:read");
    let orders = app.get("/v1/events?type=order.created,order.refunded", &token).await;
    let items = orders.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "order.created");
    assert_eq!(items[0]["api_version"], "v1");
    assert_eq!(items[0]["customer_id"], 1);
    assert_eq!(items[0]["data"], json!({"id": 5, "customer_id": 1}));
    let all = app.get("/v1/events?limit=1", &token).await;
    assert_eq!(all.body["has_more"], true);
    let rest = app.get(&format!("/v1/events?after={}", all.body["next_cursor"].as_str().unwrap()), &token).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["has_more"], false);
    for bad in ["type=order.made", "after=-1", "after=abc", "limit=0", "limit=1001", "colour=red"] {
        let refused = app.get(&format!("/v1/events?{bad}"), &token).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.body);
    }
    assert_eq!(app.get("/v1/events", &app.token("customers:read")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/v1/events", &app.token("admin")).await.status, StatusCode::OK);
}

async fn events_past_their_retention_are_removed(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    deliver(&app, now()).await;
    assert_eq!(deliveries(&app, endpoint).await.len(), 1);
    let keep = Duration::days(app.state.config.webhooks.event_retention_days.into());
    let removed = app.state.db.run(move |conn| events::remove_expired(conn, keep, now() + Duration::days(29))).await;
    assert_eq!(removed.unwrap(), 0);
    let removed = app.state.db.run(move |conn| events::remove_expired(conn, keep, now() + Duration::days(31))).await;
    assert_eq!(removed.unwrap(), 1);
    assert_eq!(app.count("events").await, 0);
    assert_eq!(deliveries(&app, endpoint).await.len(), 0);
}

async fn the_background_worker_delivers_an_order_as_it_happens(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (_, secret) = subscribe(&app, &receiver.url(), json!(["order.created"])).await;
    let worker = webhooks::spawn_worker(app.state.db.clone(), app.state.config.webhooks).unwrap();
    let order = json!({"external_id": "web-1", "channel": "web", "placed_at": "2026-11-20T14:03:00Z", "currency": "EUR",
                       "customer": {"email": "ada@example.com"}, "total": 900,
                       "lines": [{"sku": "TEA-1", "name": "Tea", "quantity": 2, "unit_price": 450}]});
    let created = app.post("/v1/orders", &app.token("orders:write"), order).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let received = receiver.wait_for(1);
    worker.stop();
    assert_eq!(received.len(), 1, "the worker delivered the order");
    assert!(received[0].verifies_with(&secret));
    let body = received[0].json();
    assert_eq!(body["type"], "order.created");
    assert_eq!(body["data"]["id"], created.body["id"]);
    assert_eq!(body["data"]["customer_id"], created.body["customer_id"]);
    assert_eq!(body["data"]["total"], created.body["total"]);
}

async fn a_crashed_workers_deliveries_are_taken_over_when_its_lease_ends(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    // A worker claims the delivery, then dies before sending it (nothing is recorded).
    let start = now();
    let claimed = app
        .state
        .db
        .run(move |conn| {
            events::sequence_on(conn, start)?;
            Ok(rapport::repositories::events::claim_due(conn, start, start + Duration::seconds(60), 10)?)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // Another worker leaves it alone while the lease runs, then takes it over.
    assert_eq!(deliver(&app, start + Duration::seconds(30)).await, 0);
    assert_eq!(deliver(&app, start + Duration::seconds(61)).await, 1);
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(deliveries(&app, endpoint).await[0]["status"], "succeeded");
}

async fn a_receiver_slower_than_ten_seconds_is_a_failed_attempt(backend: Backend) {
    let app = app_allowing_private(backend).await;
    let receiver = Receiver::start();
    receiver.answer_after(std::time::Duration::from_secs(12));
    let (endpoint, _) = subscribe(&app, &receiver.url(), json!(["*"])).await;
    record(&app, EventType::CustomerUpdated, Some(1), json!({"id": 1})).await;
    assert_eq!(deliver(&app, now()).await, 1);
    let timed_out = deliveries(&app, endpoint).await.remove(0);
    assert_eq!(timed_out["status"], "pending", "retried later");
    assert_eq!(timed_out["last_response_status"], Value::Null);
    assert!(timed_out["last_error"].as_str().unwrap().contains("timed out after 10 s"), "{timed_out}");
    let latency = timed_out["last_latency_ms"].as_i64().unwrap();
    assert!(latency >= 9_500, "waited for the 10 s timeout: {latency} ms");
}

both_backends!(
    a_receiver_slower_than_ten_seconds_is_a_failed_attempt,
    a_crashed_workers_deliveries_are_taken_over_when_its_lease_ends,
    the_background_worker_delivers_an_order_as_it_happens,
    endpoints_crud_and_the_secret_shown_once,
    a_delivery_is_signed_per_the_specification,
    a_failing_receiver_is_retried_with_backoff,
    an_endpoint_failing_for_five_days_is_disabled,
    a_delivery_can_be_retried_by_hand,
    a_rotated_secret_signs_alongside_the_old_one_for_a_day,
    private_addresses_are_refused_unless_allowed,
    one_customers_events_arrive_in_order,
    two_instances_deliver_each_attempt_once,
    the_feed_pages_in_commit_order_without_gaps_under_concurrent_writers,
    the_feed_filters_and_refuses_bad_parameters,
    events_past_their_retention_are_removed,
);
