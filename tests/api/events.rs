//! The event log: each change appends its event once, in its own transaction, with the
//! customer it is about; refused requests, replays and no-op changes append nothing. The
//! log is read through `services::events::feed`, the function behind `GET /v1/events`.

use actix_web::test::TestRequest;
use rapport::services::messages::{deliver_due, Mailer, MAX_ATTEMPTS};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};
use crate::smtp_sink::SmtpSink;

both_backends!(
    customer_changes_merge_and_erasure,
    orders_refunds_and_low_stock,
    forms_consents_enquiries_and_failed_messages,
    imports_and_campaigns,
);

#[derive(Debug, Clone)]
struct Event {
    event_type: String,
    customer_id: Option<i64>,
    data: Value,
}

/// The whole log, in feed order.
fn log(app: &TestApp) -> Vec<Event> {
    let rows = app.state.db.with_conn(|conn| rapport::services::events::feed(conn, &[], None, 1000)).unwrap();
    rows.into_iter()
        .map(|row| Event {
            event_type: row.event_type,
            customer_id: row.customer_id,
            data: serde_json::from_str(&row.data).expect("data is JSON"),
        })
        .collect()
}

/// The events appended since the log held `seen` of them.
fn since(app: &TestApp, seen: &mut usize) -> Vec<Event> {
    let all = log(app);
    let new = all[*seen..].to_vec();
    *seen = all.len();
    new
}

/// Exactly one event appended since `seen`, of this type, about this customer: its data.
fn one(app: &TestApp, seen: &mut usize, event_type: &str, customer_id: Option<i64>) -> Value {
    let new = since(app, seen);
    assert_eq!(new.len(), 1, "one event expected: {new:#?}");
    assert_eq!((new[0].event_type.as_str(), new[0].customer_id), (event_type, customer_id), "{new:#?}");
    new[0].data.clone()
}

fn none(app: &TestApp, seen: &mut usize, why: &str) {
    let new = since(app, seen);
    assert!(new.is_empty(), "{why}: no event expected, got {new:#?}");
}

fn of_type<'a>(events: &'a [Event], event_type: &str) -> Vec<&'a Event> {
    events.iter().filter(|e| e.event_type == event_type).collect()
}

fn is_utc_time(value: &Value) -> bool {
    value.as_str().is_some_and(|t| t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok())
}

async fn customer_changes_merge_and_erasure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let mut seen = 0;

    let created = app
        .post("/v1/customers", &admin, json!({"email": "Ana@Example.com", "first_name": "Ana", "tags": ["vip"]}))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let ana = created.body["id"].as_i64().unwrap();
    let data = one(&app, &mut seen, "customer.created", Some(ana));
    assert_eq!(
        (&data["id"], &data["email"], &data["first_name"], &data["tags"], &data["source"]),
        (&json!(ana), &json!("ana@example.com"), &json!("Ana"), &json!(["vip"]), &created.body["source"])
    );
    assert!(is_utc_time(&data["created_at"]), "{data}");
    assert!(data.get("consents").is_none() && data.get("purchases").is_none(), "{data}");

    app.post("/v1/customers", &admin, json!({"email": "not-an-email"})).await.assert_problem(422);
    app.post("/v1/customers", &admin, json!({"email": "ana@example.com"})).await.assert_problem(409);
    none(&app, &mut seen, "refused creations");

    let path = format!("/v1/customers/{ana}");
    assert_eq!(app.patch(&path, &admin, json!({"last_name": "Silva"})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "customer.updated", Some(ana));
    assert_eq!(data, json!({"id": ana, "changed": {"last_name": "Silva"}}));
    assert_eq!(app.patch(&path, &admin, json!({"last_name": "Silva"})).await.status.as_u16(), 200);
    app.patch(&path, &admin, json!({"phone": "not a phone"})).await.assert_problem(422);
    none(&app, &mut seen, "a no-op patch and a refused one");

    let tags = format!("/v1/customers/{ana}/tags");
    assert!(app.post(&tags, &admin, json!({"tags": ["club", "VIP"]})).await.status.is_success());
    assert_eq!(
        one(&app, &mut seen, "customer.updated", Some(ana)),
        json!({"id": ana, "changed": {"tags": ["club", "vip"]}})
    );
    assert!(app.post(&tags, &admin, json!({"tags": ["club"]})).await.status.is_success());
    none(&app, &mut seen, "tags already there");
    assert!(app.delete(&format!("{tags}/club"), &admin).await.status.is_success());
    assert_eq!(one(&app, &mut seen, "customer.updated", Some(ana)), json!({"id": ana, "changed": {"tags": ["vip"]}}));
    app.delete(&format!("{tags}/club"), &admin).await.assert_problem(404);
    none(&app, &mut seen, "a tag the customer does not have");

    // Upsert by email: creates, then changes nothing, then updates.
    let by_email = "/v1/customers/by-email/bob@example.com";
    let upserted = app.put(by_email, &admin, json!({"first_name": "Bob"})).await;
    assert_eq!(upserted.status.as_u16(), 201, "{}", upserted.text);
    let bob = upserted.body["id"].as_i64().unwrap();
    assert_eq!(one(&app, &mut seen, "customer.created", Some(bob))["email"], "bob@example.com");
    assert_eq!(app.put(by_email, &admin, json!({"first_name": "Bob"})).await.status.as_u16(), 200);
    none(&app, &mut seen, "an upsert that changes nothing");
    assert_eq!(app.put(by_email, &admin, json!({"address": {"city": "Lyon"}})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "customer.updated", Some(bob));
    assert_eq!(data["changed"]["address"]["city"], "Lyon", "{data}");
    assert_eq!(data["changed"].as_object().unwrap().len(), 1, "{data}");

    // Bob agreed to email; Ana never said. After the merge, Ana's email consent is Bob's.
    let bob_consent = json!({"state": "subscribed", "source": "admin"});
    let path_bob = format!("/v1/customers/{bob}/consents/email");
    assert_eq!(app.put(&path_bob, &admin, bob_consent).await.status.as_u16(), 200);
    one(&app, &mut seen, "consent.changed", Some(bob));

    // A merge: the duplicate's events become the survivor's.
    let merged = app.post(&format!("/v1/customers/{ana}/merge"), &admin, json!({"duplicate_id": bob})).await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    let new = since(&app, &mut seen);
    let types: Vec<&str> = new.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, vec!["customer.merged", "customer.updated", "consent.changed"], "{new:#?}");
    let consent = &new[2];
    assert_eq!(consent.customer_id, Some(ana));
    assert_eq!(
        (&consent.data["channel"], &consent.data["from"], &consent.data["to"]),
        (&json!("email"), &json!(null), &json!("subscribed")),
        "{consent:#?}"
    );
    assert_eq!(new[0].data, json!({"id": ana, "duplicate_id": bob}));
    // What the survivor took from the duplicate: its address (Ana had none).
    assert_eq!((new[1].customer_id, &new[1].data["changed"]["address"]["city"]), (Some(ana), &json!("Lyon")));
    assert!(new[1].data["changed"].get("email").is_none(), "Ana kept her email: {:#?}", new[1]);
    let all = log(&app);
    assert!(all.iter().all(|e| e.customer_id == Some(ana)), "{all:#?}");
    app.post(&format!("/v1/customers/{ana}/merge"), &admin, json!({"duplicate_id": bob})).await.assert_problem(422);
    none(&app, &mut seen, "a refused merge");

    // Erasure scrubs every event about the person, and its own event keeps only the id.
    assert!(app.delete(&path, &admin).await.status.is_success());
    let all = log(&app);
    let (erased, before): (Vec<&Event>, Vec<&Event>) = all.iter().partition(|e| e.event_type == "customer.erased");
    assert_eq!(erased.len(), 1);
    assert_eq!((erased[0].customer_id, &erased[0].data), (Some(ana), &json!({"id": ana})));
    assert_eq!(before.len(), 10, "{all:#?}");
    for event in before {
        assert_eq!(event.data, json!({"customer_id": ana, "erased": true}), "{event:?}");
    }
    let text = serde_json::to_string(&all.iter().map(|e| &e.data).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("ana@example.com") && !text.contains("Silva") && !text.contains("Lyon"), "{text}");
}

fn order(external_id: &str, quantity: i64) -> Value {
    json!({
        "external_id": external_id, "channel": "web", "placed_at": "2026-11-20T14:03:00Z", "currency": "EUR",
        "customer": {"email": "ana@example.com", "first_name": "Ana"},
        "lines": [{"sku": "RING", "name": "Silver ring", "quantity": quantity, "unit_price": 2500}],
        "discount_total": 0, "shipping_total": 490, "tax_total": 0, "total": 2500 * quantity + 490,
        "marketing_consent": {"channels": ["email"], "text": "Send me offers by email"}
    })
}

async fn orders_refunds_and_low_stock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let product = json!({"sku": "RING", "name": "Silver ring", "product_type": "ring", "price": 2500, "currency": "EUR",
        "track_inventory": true, "stock_quantity": 10, "low_stock_threshold": 8});
    assert_eq!(app.post("/v1/products", &admin, product).await.status.as_u16(), 201);
    let mut seen = log(&app).len();
    assert_eq!(seen, 0, "creating a product above its threshold records nothing");

    let post = |body: Value, key: &str| {
        TestRequest::post()
            .uri("/v1/orders")
            .insert_header(bearer(&app.token("orders:write")))
            .insert_header(("Idempotency-Key", key.to_string()))
            .set_json(body)
    };
    let placed = app.call(post(order("shop-1", 2), "key-1")).await;
    assert_eq!(placed.status.as_u16(), 201, "{}", placed.text);
    let (order_id, ana) = (placed.body["id"].as_i64().unwrap(), placed.body["customer_id"].as_i64().unwrap());
    let new = since(&app, &mut seen);
    let types: Vec<&str> = new.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["customer.created", "consent.changed", "order.created", "product.stock_low"], "{new:#?}");
    assert!(new[..3].iter().all(|e| e.customer_id == Some(ana)), "{new:#?}");
    let consent = &new[1].data;
    assert_eq!(
        (&consent["customer_id"], &consent["channel"], &consent["from"], &consent["to"], &consent["source"]),
        (&json!(ana), &json!("email"), &Value::Null, &json!("subscribed"), &json!("checkout"))
    );
    let created = &new[2].data;
    assert_eq!(
        (&created["id"], &created["status"], &created["currency"], &created["total"], &created["lines_count"]),
        (&json!(order_id), &json!("placed"), &json!("EUR"), &json!(5490), &json!(1))
    );
    assert!(created.get("lines").is_none() && is_utc_time(&created["placed_at"]), "{created}");
    assert_eq!(new[3].customer_id, None);
    assert_eq!(new[3].data["sku"], "RING");
    assert_eq!(
        (new[3].data["stock_quantity"].as_i64(), new[3].data["low_stock_threshold"].as_i64()),
        (Some(8), Some(8))
    );

    let replayed = app.call(post(order("shop-1", 2), "key-1")).await;
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    app.call(post(order("shop-2", 0), "key-2")).await.assert_problem(422);
    app.call(post(order("shop-1", 2), "key-3")).await.assert_problem(409);
    none(&app, &mut seen, "a replay, an invalid order and a duplicate external id");

    // A second order by the same buyer: the customer and the consent do not change, and
    // the stock, already low, does not cross its threshold again.
    let second = app.call(post(order("shop-2", 1), "key-2")).await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.text);
    one(&app, &mut seen, "order.created", Some(ana));

    let status = format!("/v1/orders/{order_id}/status");
    assert_eq!(app.post(&status, &admin, json!({"status": "paid"})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "order.status_changed", Some(ana));
    assert_eq!(
        (&data["id"], &data["from"], &data["to"], &data["changed"]),
        (&json!(order_id), &json!("placed"), &json!("paid"), &json!({"status": "paid"}))
    );
    app.post(&status, &admin, json!({"status": "paid"})).await.assert_problem(409);
    app.post(&status, &admin, json!({"status": "placed"})).await.assert_problem(422);
    none(&app, &mut seen, "refused status changes");

    let refunds = format!("/v1/orders/{order_id}/refunds");
    let refund = TestRequest::post()
        .uri(&refunds)
        .insert_header(bearer(&admin))
        .insert_header(("Idempotency-Key", "refund-1"))
        .set_json(json!({"amount": 1000, "reason": "scratch"}));
    assert_eq!(app.call(refund).await.status.as_u16(), 201);
    let data = one(&app, &mut seen, "order.refunded", Some(ana));
    assert_eq!(
        (&data["id"], &data["amount"], &data["currency"], &data["refunded_total"], &data["net_total"]),
        (&json!(order_id), &json!(1000), &json!("EUR"), &json!(1000), &json!(4490))
    );
    let again = TestRequest::post()
        .uri(&refunds)
        .insert_header(bearer(&admin))
        .insert_header(("Idempotency-Key", "refund-1"))
        .set_json(json!({"amount": 1000, "reason": "scratch"}));
    assert_eq!(app.call(again).await.header("idempotent-replayed"), Some("true"));
    app.post(&refunds, &admin, json!({"amount": 999_999, "reason": "all"})).await.assert_problem(422);
    none(&app, &mut seen, "a replayed refund and a refused one");

    // Stock: a restock lifts it above the threshold; a higher threshold makes it low
    // (patch); a lower one does not; a movement down to the threshold does (adjustment).
    let adjust = |delta: i64| json!({"delta": delta, "reason": if delta > 0 { "restock" } else { "damaged" }});
    let adjustments = "/v1/products/RING/stock-adjustments";
    assert_eq!(app.post(adjustments, &admin, adjust(10)).await.body["stock_quantity"], 17);
    none(&app, &mut seen, "stock going up");
    assert_eq!(app.patch("/v1/products/RING", &admin, json!({"low_stock_threshold": 20})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "product.stock_low", None);
    assert_eq!((data["stock_quantity"].as_i64(), data["low_stock_threshold"].as_i64()), (Some(17), Some(20)));
    assert_eq!(app.patch("/v1/products/RING", &admin, json!({"name": "Ring"})).await.status.as_u16(), 200);
    none(&app, &mut seen, "a patch of a product already low");
    assert_eq!(app.patch("/v1/products/RING", &admin, json!({"low_stock_threshold": 5})).await.status.as_u16(), 200);
    assert_eq!(app.post(adjustments, &admin, adjust(-11)).await.body["stock_quantity"], 6);
    none(&app, &mut seen, "a threshold lowered, stock still above it");
    app.post(adjustments, &admin, json!({"delta": -1, "reason": "stolen"})).await.assert_problem(422);
    none(&app, &mut seen, "a refused adjustment");
    assert_eq!(app.post(adjustments, &admin, adjust(-1)).await.body["stock_quantity"], 5);
    let data = one(&app, &mut seen, "product.stock_low", None);
    assert_eq!((data["stock_quantity"].as_i64(), data["low_stock_threshold"].as_i64()), (Some(5), Some(5)));
    assert_eq!(app.post(adjustments, &admin, adjust(-1)).await.body["stock_quantity"], 4);
    none(&app, &mut seen, "already low");
}

fn form(app: &TestApp, path: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .peer_addr("198.51.100.9:40000".parse().unwrap())
        .insert_header(bearer(&app.token("forms:submit")))
        .set_json(body)
}

async fn forms_consents_enquiries_and_failed_messages(backend: Backend) {
    let sink = SmtpSink::start_refusing();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    let admin = app.token("admin");
    let mut seen = 0;

    let contact = json!({"email": "ana@example.com", "first_name": "Ana", "subject": "Sizes", "message": "Size 7?",
        "consent": {"channels": ["email"], "text": "Send me offers"}, "website": ""});
    let answered = app.call(form(&app, "/v1/forms/contact", contact.clone())).await;
    assert_eq!(answered.status.as_u16(), 202, "{}", answered.text);
    let new = since(&app, &mut seen);
    let types: Vec<&str> = new.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["customer.created", "enquiry.created", "consent.changed"], "{new:#?}");
    let ana = new[0].data["id"].as_i64().unwrap();
    assert!(new.iter().all(|e| e.customer_id == Some(ana)), "{new:#?}");
    let enquiry = &new[1].data;
    assert_eq!(
        (&enquiry["customer_id"], &enquiry["kind"], &enquiry["status"], &enquiry["subject"]),
        (&json!(ana), &json!("contact"), &json!("new"), &json!("Sizes"))
    );
    assert!(enquiry.get("ip").is_none(), "{enquiry}");
    let enquiry_id = enquiry["id"].as_i64().unwrap();
    assert_eq!(
        (&new[2].data["from"], &new[2].data["to"], &new[2].data["source"]),
        (&Value::Null, &json!("pending"), &json!("contact_form"))
    );

    let mut spam = contact.clone();
    spam["website"] = json!("http://spam.example");
    assert_eq!(app.call(form(&app, "/v1/forms/contact", spam)).await.status.as_u16(), 202);
    app.call(form(&app, "/v1/forms/contact", json!({"email": "nope", "message": "x"}))).await.assert_problem(422);
    none(&app, &mut seen, "a honeypot hit and a refused form");

    // Consent through the API: a change, then the same state again (no change).
    let consent = format!("/v1/customers/{ana}/consents/email");
    let subscribed = json!({"state": "subscribed", "source": "admin"});
    assert_eq!(app.put(&consent, &admin, subscribed.clone()).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "consent.changed", Some(ana));
    assert_eq!(
        (&data["channel"], &data["from"], &data["to"], &data["source"]),
        (&json!("email"), &json!("pending"), &json!("subscribed"), &json!("admin"))
    );
    assert!(data["id"].is_i64() && is_utc_time(&data["occurred_at"]), "{data}");
    assert_eq!(app.put(&consent, &admin, subscribed).await.status.as_u16(), 200);
    app.put(&consent, &admin, json!({"state": "not_set", "source": "admin"})).await.assert_problem(422);
    // An older event does not become the current state.
    let older = json!({"state": "unsubscribed", "source": "admin", "occurred_at": "2020-01-01T00:00:00Z"});
    assert_eq!(app.put(&consent, &admin, older).await.status.as_u16(), 200);
    none(&app, &mut seen, "the same state, a refused change and an older event");

    // The unsubscribe link: once.
    let link = app.get(&format!("/v1/customers/{ana}/unsubscribe-url?channel=email"), &admin).await;
    let path = link.body["url"].as_str().unwrap().trim_start_matches("https://shop.example").to_string();
    let unsubscribe = || TestRequest::post().uri(&path);
    assert_eq!(app.call(unsubscribe()).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "consent.changed", Some(ana));
    assert_eq!(
        (&data["from"], &data["to"], &data["source"]),
        (&json!("subscribed"), &json!("unsubscribed"), &json!("unsubscribe_link"))
    );
    assert_eq!(app.call(unsubscribe()).await.status.as_u16(), 200);
    none(&app, &mut seen, "a second unsubscribe");

    // Enquiry triage.
    let enquiry = format!("/v1/enquiries/{enquiry_id}");
    assert_eq!(app.patch(&enquiry, &admin, json!({"status": "in_progress"})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "enquiry.updated", Some(ana));
    assert_eq!(data, json!({"id": enquiry_id, "customer_id": ana, "changed": {"status": "in_progress"}}));
    assert_eq!(app.patch(&enquiry, &admin, json!({"status": "in_progress"})).await.status.as_u16(), 200);
    app.patch(&enquiry, &admin, json!({"status": "lost"})).await.assert_problem(422);
    none(&app, &mut seen, "a no-op triage and a refused one");

    // The confirmation mail is refused until the outbox gives up: one event, at the end.
    let mailer = Mailer::from_config(&app.state.config.mail).unwrap().expect("SMTP configured");
    let mut now = rapport::services::now();
    for attempt in 1..=MAX_ATTEMPTS {
        app.state.db.with_conn(|conn| deliver_due(conn, &mailer, now)).unwrap();
        if attempt < MAX_ATTEMPTS {
            none(&app, &mut seen, "a failed attempt that will be retried");
        }
        now += chrono::Duration::hours(1);
    }
    let data = one(&app, &mut seen, "message.failed", Some(ana));
    assert_eq!(
        (&data["kind"], &data["customer_id"], &data["campaign_id"], &data["attempts"]),
        (&json!("confirmation"), &json!(ana), &Value::Null, &json!(MAX_ATTEMPTS))
    );
    assert!(data["id"].is_i64() && data["error"].as_str().is_some_and(|e| e.contains("550")), "{data}");
    assert!(!data.to_string().contains("ana@example.com"), "no recipient address: {data}");
    app.state.db.with_conn(|conn| deliver_due(conn, &mailer, now + chrono::Duration::days(1))).unwrap();
    none(&app, &mut seen, "a message that failed for good is not tried again");
}

async fn imports_and_campaigns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let cleo =
        app.create_customer(json!({"email": "cleo@example.com", "tags": ["club"]})).await["id"].as_i64().unwrap();
    let mut seen = 0;
    one(&app, &mut seen, "customer.created", Some(cleo));

    let csv = "email,first_name,consent_email,consent_email_at\n\
               ana@example.com,Ana,subscribed,2025-03-01T10:00:00Z\n\
               bob@example.com,Bob,,\n\
               not-an-email,Nobody,,\n\
               cleo@example.com,Cleo,subscribed,2025-03-01T10:00:00Z\n";
    let job = crate::keys::import(&app, csv).await;
    assert_eq!(
        (job["created"].as_i64(), job["updated"].as_i64(), job["rejected"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    let new = since(&app, &mut seen);
    let created = of_type(&new, "customer.created");
    let emails: Vec<&Value> = created.iter().map(|e| &e.data["email"]).collect();
    assert_eq!(emails, [&json!("ana@example.com"), &json!("bob@example.com")], "{new:#?}");
    assert!(created.iter().all(|e| e.customer_id == e.data["id"].as_i64()), "{new:#?}");
    let ana = created[0].data["id"].as_i64().unwrap();
    let consents = of_type(&new, "consent.changed");
    let about: Vec<(Option<i64>, &Value, &Value, &Value)> =
        consents.iter().map(|e| (e.customer_id, &e.data["from"], &e.data["to"], &e.data["source"])).collect();
    assert_eq!(about.len(), 2, "{new:#?}");
    assert!(about.contains(&(Some(ana), &Value::Null, &json!("subscribed"), &json!("import"))), "{about:?}");
    assert!(about.contains(&(Some(cleo), &Value::Null, &json!("subscribed"), &json!("import"))), "{about:?}");
    let updated = of_type(&new, "customer.updated");
    assert_eq!(updated.len(), 1, "{new:#?}");
    assert_eq!(
        (updated[0].customer_id, &updated[0].data),
        (Some(cleo), &json!({"id": cleo, "changed": {"first_name": "Cleo"}}))
    );
    let completed = of_type(&new, "import.completed");
    assert_eq!(completed.len(), 1, "{new:#?}");
    assert_eq!(completed[0].customer_id, None);
    let data = &completed[0].data;
    assert_eq!(
        (&data["id"], &data["mode"], &data["status"], &data["created"], &data["updated"], &data["rejected"]),
        (&job["id"], &json!("upsert"), &json!("completed"), &json!(2), &json!(1), &json!(1))
    );
    assert_eq!(new.len(), 6, "{new:#?}");

    // The same file again changes nothing: only the job's own event.
    let again = crate::keys::import(&app, csv).await;
    assert_eq!(again["unchanged"], 3);
    assert_eq!(one(&app, &mut seen, "import.completed", None)["unchanged"], 3);

    // A campaign to the club (Cleo, subscribed by the import).
    let campaign = json!({"name": "News", "channel": "email", "rules": {"field": "tag", "op": "eq", "value": "club"},
        "subject": "News", "content": "Hello {{first_name}}. {{unsubscribe_url}}"});
    let draft = app.post("/v1/campaigns", &admin, campaign).await;
    assert_eq!(draft.status.as_u16(), 201, "{}", draft.text);
    let id = draft.body["id"].as_i64().unwrap();
    none(&app, &mut seen, "a draft");
    let launch = format!("/v1/campaigns/{id}/launch");
    assert_eq!(app.post(&launch, &admin, json!({})).await.status.as_u16(), 200);
    let data = one(&app, &mut seen, "campaign.launched", None);
    assert_eq!((&data["id"], &data["status"], &data["channel"]), (&json!(id), &json!("launched"), &json!("email")));
    assert_eq!(data["audience"]["contacted"], 1, "{data}");
    assert!(is_utc_time(&data["launched_at"]), "{data}");
    app.post(&launch, &admin, json!({})).await.assert_problem(409);
    none(&app, &mut seen, "a second launch");

    let send = format!("/v1/campaigns/{id}/send");
    assert_eq!(app.post(&send, &admin, json!({"rate_per_minute": 0})).await.status.as_u16(), 422);
    none(&app, &mut seen, "a refused send");
    let sent = app.post(&send, &admin, json!({})).await;
    assert_eq!(sent.body, json!({"queued": 1, "skipped": 0}), "{}", sent.text);
    let data = one(&app, &mut seen, "campaign.sent", None);
    assert_eq!((&data["id"], &data["queued"], &data["skipped"]), (&json!(id), &json!(1), &json!(0)));
    app.post(&send, &admin, json!({})).await.assert_problem(409);
    none(&app, &mut seen, "a second send");
}
