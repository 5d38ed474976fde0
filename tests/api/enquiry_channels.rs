//! Enquiries from any channel: `POST /v1/enquiries` (by customer id, or by contact
//! details upserted without overwriting), refused input that writes nothing, the
//! follow-up to-do list and its `enquiry.follow_up_due` event (the due scan driven by an
//! injected clock), the timeline, PATCH, the analytics, and erasure.

use actix_web::test::TestRequest;
use chrono::{DateTime, Duration, NaiveDateTime, SecondsFormat, SubsecRound, Utc};
use rapport::services::enquiries::{announce_due_follow_ups, follow_up_round};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};

both_backends!(
    enquiries_are_recorded_by_customer_id_or_by_contact_details,
    bad_input_names_the_field_and_writes_nothing,
    follow_ups_make_a_to_do_list_and_fall_due_once,
    patch_sets_follow_up_tags_and_resolution,
    analytics_match_hand_computed_figures,
    erasure_scrubs_enquiries_recorded_through_the_api,
    a_due_follow_up_alerts_the_shop_through_a_flow,
);

fn now() -> NaiveDateTime {
    rapport::domain::now()
}

fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time")).expect("RFC 3339").with_timezone(&Utc)
}

async fn record(app: &TestApp, body: Value) -> Value {
    let response = app.post("/v1/enquiries", &app.token("customers:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().expect("items").iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

/// The data of every event of this type, in log order.
fn events(app: &TestApp, event_type: &str) -> Vec<(Option<i64>, Value)> {
    let rows = app.state.db.with_conn(|conn| rapport::services::events::feed(conn, &[], None, 1000)).unwrap();
    rows.into_iter()
        .filter(|row| row.event_type == event_type)
        .map(|row| (row.customer_id, serde_json::from_str(&row.data).unwrap()))
        .collect()
}

fn announce(app: &TestApp, at: NaiveDateTime) -> usize {
    app.state.db.with_conn(|conn| announce_due_follow_ups(conn, at)).unwrap()
}

async fn enquiries_are_recorded_by_customer_id_or_by_contact_details(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("customers:read");
    let ana =
        app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana", "phone": "+33612345678"})).await;
    let ana_id = ana["id"].as_i64().unwrap();

    // By customer id, on the phone three days ago.
    let called = (now() - Duration::days(3)).and_utc();
    let response = app
        .post(
            "/v1/enquiries",
            &app.token("customers:write"),
            json!({"channel": "phone", "occurred_at": called.to_rfc3339(), "customer_id": ana_id,
                "subject": "Ring sizes", "message": "Asked about size 7.", "status": "in_progress",
                "assignee": "marie", "tags": ["Rings", "rings", "VIP"]}),
        )
        .await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    let by_id = response.body.clone();
    assert_eq!(response.header("Location"), Some(format!("/v1/enquiries/{}", by_id["id"]).as_str()));
    assert_eq!(
        (&by_id["channel"], &by_id["customer_id"], &by_id["email"], &by_id["status"], &by_id["assignee"]),
        (&json!("phone"), &json!(ana_id), &json!("ana@example.com"), &json!("in_progress"), &json!("marie"))
    );
    assert_eq!(by_id["tags"], json!(["rings", "vip"]));
    assert_eq!(time(&by_id["occurred_at"]), called, "a past occurred_at is kept");
    assert!(time(&by_id["created_at"]) > called);
    assert_eq!(
        (&by_id["resolved_at"], &by_id["follow_up_at"], &by_id["kind"]),
        (&json!(null), &json!(null), &json!("contact"))
    );
    let fetched = app.get(&format!("/v1/enquiries/{}", by_id["id"]), &reader).await;
    assert_eq!(fetched.body, by_id);

    // By contact details: the same person (another spelling of the email); only blanks filled.
    let by_contact = record(
        &app,
        json!({"channel": "email", "contact": {"email": " ANA@example.com", "first_name": "Anna",
            "last_name": "Lopez", "phone": "+33699999999"}, "message": "Any news?"}),
    )
    .await;
    assert_eq!(by_contact["customer_id"], json!(ana_id));
    assert_eq!(by_contact["status"], "new", "the default status");
    let after = app.get(&format!("/v1/customers/{ana_id}"), &reader).await.body;
    assert_eq!(
        (&after["first_name"], &after["last_name"], &after["phone"]),
        (&json!("Ana"), &json!("Lopez"), &json!("+33612345678")),
        "never overwritten, blanks filled"
    );

    // A new person met in the shop becomes a customer whose source is the store.
    let visit = record(
        &app,
        json!({"channel": "in_person", "contact": {"email": "bob@example.com"}, "message": "Gift wrap?",
            "status": "resolved"}),
    )
    .await;
    let bob = app.get(&format!("/v1/customers/{}", visit["customer_id"]), &reader).await.body;
    assert_eq!((&bob["email"], &bob["source"]), (&json!("bob@example.com"), &json!("store")));
    assert_eq!(visit["resolved_at"], visit["occurred_at"], "recorded resolved: resolved at the contact itself");

    // Each is an `enquiry.created`, with the customer it is about.
    let created = events(&app, "enquiry.created");
    assert_eq!(created.len(), 3);
    assert_eq!(created[0].0, Some(ana_id));
    assert_eq!((&created[0].1["channel"], &created[0].1["tags"]), (&json!("phone"), &json!(["rings", "vip"])));
    assert_eq!(time(&created[0].1["occurred_at"]), called);

    // The contact form's enquiries are on channel `form`, occurring when submitted.
    let form = app
        .call(
            TestRequest::post()
                .uri("/v1/forms/contact")
                .peer_addr("198.51.100.7:1".parse().unwrap())
                .insert_header(bearer(&app.token("forms:submit")))
                .set_json(json!({"email": "cleo@example.com", "message": "Hello"})),
        )
        .await;
    assert_eq!(form.status.as_u16(), 202, "{}", form.text);
    let page = app.get("/v1/enquiries?channel=form", &reader).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let from_form = &page.body["items"][0];
    assert_eq!((page.body["items"].as_array().unwrap().len(), &from_form["channel"]), (1, &json!("form")));
    assert_eq!(from_form["occurred_at"], from_form["created_at"]);
    assert_eq!(ids(&app.get("/v1/enquiries?channel=phone", &reader).await.body), vec![by_id["id"].as_i64().unwrap()]);
    assert_eq!(app.get("/v1/enquiries?channel=fax", &reader).await.status.as_u16(), 400);

    // Idempotency-Key: a retry replays, another body under the key is refused.
    let keyed = |body: Value| {
        TestRequest::post()
            .uri("/v1/enquiries")
            .insert_header(bearer(&app.token("customers:write")))
            .insert_header(("Idempotency-Key", "call-42"))
            .set_json(body)
    };
    let body = json!({"channel": "letter", "customer_id": ana_id, "message": "A letter"});
    let first = app.call(keyed(body.clone())).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let again = app.call(keyed(body)).await;
    assert_eq!((again.status.as_u16(), again.header("Idempotent-Replayed")), (201, Some("true")));
    assert_eq!(again.body["id"], first.body["id"]);
    app.call(keyed(json!({"channel": "letter", "customer_id": ana_id, "message": "Another"})))
        .await
        .assert_problem(422);
    assert_eq!(app.count("enquiries WHERE channel = 'letter'").await, 1);
}

async fn bad_input_names_the_field_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("customers:write");
    let ana = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    let counts = || async { (app.count("enquiries").await, app.count("customers").await, app.count("events").await) };
    let before = counts().await;
    let tomorrow = rfc3339(now() + Duration::days(1));
    let contact = json!({"email": "new@example.com", "first_name": "New"});
    let cases = [
        (json!({"customer_id": ana, "message": "x"}), "channel"),
        (json!({"channel": "fax", "customer_id": ana, "message": "x"}), "channel"),
        (json!({"channel": "phone", "message": "x"}), "customer_id"),
        (json!({"channel": "phone", "customer_id": ana, "contact": contact, "message": "x"}), "contact"),
        (json!({"channel": "phone", "customer_id": 987654, "message": "x"}), "customer_id"),
        (json!({"channel": "phone", "customer_id": 0, "message": "x"}), "customer_id"),
        (json!({"channel": "phone", "contact": {"email": "not-an-email"}, "message": "x"}), "contact.email"),
        (
            json!({"channel": "phone", "contact": {"email": "a@example.com", "phone": "abc"}, "message": "x"}),
            "contact.phone",
        ),
        (json!({"channel": "phone", "contact": {"email": "a@example.com", "age": 3}, "message": "x"}), "contact"),
        (json!({"channel": "phone", "customer_id": ana, "message": "  "}), "message"),
        (json!({"channel": "phone", "customer_id": ana}), "message"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "status": "lost"}), "status"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "occurred_at": tomorrow}), "occurred_at"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "occurred_at": "yesterday"}), "occurred_at"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "follow_up_at": "soon"}), "follow_up_at"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "tags": ["ok", ""]}), "tags[1]"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "assignee": "a\u{0}b"}), "assignee"),
        (json!({"channel": "phone", "customer_id": ana, "message": "x", "colour": "red"}), "colour"),
        // A good new contact with one bad field: the customer is not created either.
        (
            json!({"channel": "phone", "contact": {"email": "new@example.com"}, "message": "x", "status": "done"}),
            "status",
        ),
    ];
    for (body, field) in cases {
        let refused = app.post("/v1/enquiries", &writer, body.clone()).await;
        let fields = refused.invalid_fields();
        assert!(fields.iter().any(|f| f.starts_with(field)), "{body} should name `{field}`: {}", refused.text);
        assert_eq!(refused.header("content-type"), Some("application/problem+json"));
    }
    assert_eq!(counts().await, before, "nothing written");
    app.post(
        "/v1/enquiries",
        &app.token("customers:read"),
        json!({"channel": "phone", "customer_id": ana, "message": "x"}),
    )
    .await
    .assert_problem(403);

    // PATCH: bad follow-up and tags, named; nothing changes.
    let enquiry = record(&app, json!({"channel": "phone", "customer_id": ana, "message": "x"})).await;
    let path = format!("/v1/enquiries/{}", enquiry["id"]);
    let events_before = app.count("events").await;
    let long = "x".repeat(65);
    for (body, field) in [
        (json!({"follow_up_at": "tomorrow"}), "follow_up_at"),
        (json!({"tags": ["fine", long]}), "tags[1]"),
        (json!({"tags": "rings"}), "tags"),
        (json!({"status": "resolved", "channel": "email"}), "channel"),
    ] {
        let refused = app.patch(&path, &writer, body.clone()).await;
        assert!(refused.invalid_fields().iter().any(|f| f == field), "{body}: {}", refused.text);
    }
    assert_eq!(app.get(&path, &app.token("customers:read")).await.body, enquiry);
    assert_eq!(app.count("events").await, events_before);
}

async fn follow_ups_make_a_to_do_list_and_fall_due_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("customers:read");
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    // Whole seconds, as the bodies below write the times.
    let start = now().trunc_subsecs(0);
    let day = |n: i64| start + Duration::days(n);
    let with_follow_up = |status: &str, at: Option<NaiveDateTime>| {
        json!({"channel": "phone", "customer_id": customer, "message": "Call back", "status": status,
            "occurred_at": rfc3339(start - Duration::hours(1)), "follow_up_at": at.map(rfc3339)})
    };
    let a = record(&app, with_follow_up("new", Some(day(1)))).await["id"].as_i64().unwrap();
    let b = record(&app, with_follow_up("in_progress", Some(day(3)))).await["id"].as_i64().unwrap();
    let resolved = record(&app, with_follow_up("resolved", Some(day(1)))).await["id"].as_i64().unwrap();
    let spam = record(&app, with_follow_up("spam", Some(day(1)))).await["id"].as_i64().unwrap();
    record(&app, with_follow_up("new", None)).await;

    // The to-do list: open enquiries only, follow-up before the bound (a date means its end).
    let todo = |before: String| {
        let reader = reader.clone();
        let app = &app;
        async move {
            let page = app.get(&format!("/v1/enquiries?follow_up_before={before}"), &reader).await;
            assert_eq!(page.status.as_u16(), 200, "{}", page.text);
            ids(&page.body)
        }
    };
    assert_eq!(todo(rfc3339(day(2))).await, vec![a]);
    assert_eq!(todo(rfc3339(day(4))).await, vec![b, a], "newest first");
    let local_day = day(3).and_utc().with_timezone(&app.state.config.timezone).date_naive();
    assert_eq!(todo(local_day.to_string()).await, vec![b, a], "a date: to the end of that day");
    assert_eq!(todo(rfc3339(day(1))).await, Vec::<i64>::new(), "the bound is exclusive");
    let refused = app.get("/v1/enquiries?follow_up_before=soon", &reader).await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert!(refused.text.contains("follow_up_before"), "{}", refused.text);

    // Nothing is due before its time; then each open follow-up is announced once.
    assert_eq!(announce(&app, start), 0);
    assert_eq!(announce(&app, day(1) - Duration::seconds(1)), 0);
    assert!(events(&app, "enquiry.follow_up_due").is_empty(), "not before its time");
    assert_eq!(announce(&app, day(1) + Duration::minutes(1)), 1, "a: resolved and spam are not announced");
    assert_eq!(announce(&app, day(1) + Duration::minutes(2)), 0, "once");
    let due = events(&app, "enquiry.follow_up_due");
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].0, &due[0].1["id"], &due[0].1["customer_id"]), (Some(customer), &json!(a), &json!(customer)));
    assert_eq!(time(&due[0].1["follow_up_at"]), day(1).and_utc());
    let _ = (resolved, spam);

    // Two instances scanning at once announce b once.
    let rounds: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let database = app.state.db.clone();
                scope.spawn(move || {
                    let mut announced = 0;
                    for _ in 0..5 {
                        announced += database.with_conn(|conn| announce_due_follow_ups(conn, day(5))).unwrap();
                        announced += database.with_conn(|conn| follow_up_round(conn, day(5))).unwrap();
                    }
                    announced
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(rounds.iter().sum::<usize>(), 1, "{rounds:?}");
    assert_eq!(events(&app, "enquiry.follow_up_due").len(), 2);

    // A new follow-up is a new reminder; clearing it takes the enquiry off the list.
    let writer = app.token("customers:write");
    let moved = app.patch(&format!("/v1/enquiries/{a}"), &writer, json!({"follow_up_at": rfc3339(day(6))})).await;
    assert_eq!(moved.status.as_u16(), 200, "{}", moved.text);
    assert_eq!(todo(rfc3339(day(10))).await, vec![b, a]);
    assert_eq!(announce(&app, day(6) + Duration::minutes(1)), 1);
    let cleared = app.patch(&format!("/v1/enquiries/{b}"), &writer, json!({"follow_up_at": null})).await;
    assert_eq!(cleared.body["follow_up_at"], json!(null));
    assert_eq!(todo(rfc3339(day(10))).await, vec![a]);
    assert_eq!(announce(&app, day(20)), 0);
    assert_eq!(events(&app, "enquiry.follow_up_due").len(), 3);

    // The timeline: each enquiry when it occurred, and a's follow-up that fell due.
    let timeline = app.get(&format!("/v1/customers/{customer}/timeline"), &reader).await;
    assert_eq!(timeline.status.as_u16(), 200, "{}", timeline.text);
    let items = timeline.body["items"].as_array().unwrap();
    let follow_ups: Vec<&Value> = items.iter().filter(|i| i["kind"] == "follow_up").collect();
    assert_eq!(follow_ups.len(), 1, "{items:#?}");
    assert_eq!((&follow_ups[0]["follow_up"]["id"], time(&follow_ups[0]["at"])), (&json!(a), day(6).and_utc()));
    assert_eq!(items[0]["kind"], "follow_up", "a follow-up in the future of the enquiries comes first");
    let enquiries: Vec<&Value> = items.iter().filter(|i| i["kind"] == "enquiry").collect();
    assert_eq!(enquiries.len(), 5);
    assert!(enquiries.iter().all(|e| time(&e["at"]) == (start - Duration::hours(1)).and_utc()), "at occurred_at");
}

async fn patch_sets_follow_up_tags_and_resolution(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("customers:write");
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    let enquiry = record(
        &app,
        json!({"channel": "social", "customer_id": customer, "message": "DM about earrings", "tags": ["x"]}),
    )
    .await;
    let path = format!("/v1/enquiries/{}", enquiry["id"]);
    let mut seen = events(&app, "enquiry.updated").len();
    let mut updated = |app: &TestApp| {
        let all = events(app, "enquiry.updated");
        let new = all[seen..].to_vec();
        seen = all.len();
        new
    };

    let follow_up = rfc3339(now() + Duration::days(2));
    let patched = app.patch(&path, &writer, json!({"follow_up_at": follow_up, "tags": ["Earrings", "b", "b"]})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!((&patched.body["tags"], &patched.body["follow_up_at"]), (&json!(["b", "earrings"]), &json!(follow_up)));
    let changes = updated(&app);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].1["changed"], json!({"follow_up_at": follow_up, "tags": ["b", "earrings"]}));

    let resolved = app.patch(&path, &writer, json!({"status": "resolved"})).await.body;
    assert!(time(&resolved["resolved_at"]) >= time(&enquiry["created_at"]));
    let again = app.patch(&path, &writer, json!({"status": "resolved", "note": "sent photos"})).await.body;
    assert_eq!(again["resolved_at"], resolved["resolved_at"], "still resolved: the first time stays");
    let reopened = app.patch(&path, &writer, json!({"status": "in_progress"})).await.body;
    assert_eq!(reopened["resolved_at"], json!(null), "reopened: cleared");
    let cleared = app.patch(&path, &writer, json!({"follow_up_at": null, "tags": []})).await.body;
    assert_eq!((&cleared["follow_up_at"], &cleared["tags"]), (&json!(null), &json!([])));
    assert_eq!(cleared["channel"], "social", "the channel stays");
    assert_eq!(updated(&app).len(), 4);
    assert_eq!(app.patch(&path, &writer, json!({"tags": []})).await.status.as_u16(), 200);
    assert!(updated(&app).is_empty(), "a no-op records nothing");
    app.patch("/v1/enquiries/987654", &writer, json!({"tags": []})).await.assert_problem(404);
}

/// Sets a resolved enquiry's `resolved_at` (the API sets it to the moment of the change;
/// the analytics test needs known durations).
async fn resolve_at(app: &TestApp, id: i64, at: &str) {
    let sql = format!("UPDATE enquiries SET resolved_at = '{at}' WHERE id = {id}");
    app.state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn order_at(app: &TestApp, customer_id: i64, placed_at: &str, external_id: &str) {
    let body = json!({"external_id": external_id, "channel": "web", "currency": "EUR", "customer": {"id": customer_id},
        "placed_at": placed_at,
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": 1000}], "total": 1000});
    let response = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

async fn analytics_match_hand_computed_figures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // (channel, occurred_at, status, resolved_at, email)
    let enquiries = [
        ("phone", "2026-10-05T10:00:00Z", "resolved", Some("2026-10-05 11:00:00"), "c1@example.com"), // 3,600 s
        ("phone", "2026-10-06T09:00:00Z", "resolved", Some("2026-10-06 11:00:00"), "c1@example.com"), // 7,200 s
        ("email", "2026-10-20T08:00:00Z", "resolved", Some("2026-10-21 08:00:00"), "c2@example.com"), // 86,400 s
        ("in_person", "2026-10-25T12:00:00Z", "in_progress", None, "c3@example.com"),
        ("social", "2026-10-26T12:00:00Z", "spam", None, "c4@example.com"),
        ("letter", "2026-11-03T00:00:00Z", "resolved", Some("2026-11-03 01:00:00"), "c5@example.com"), // 3,600 s
        ("form", "2026-11-04T00:00:00Z", "resolved", Some("2026-11-04 02:30:00"), "c6@example.com"),   // 9,000 s
        ("phone", "2026-09-30T23:59:59Z", "new", None, "c6@example.com"), // outside the range
    ];
    let mut customers = std::collections::HashMap::new();
    for (channel, occurred_at, status, resolved_at, email) in enquiries {
        let created = record(
            &app,
            json!({"channel": channel, "occurred_at": occurred_at, "contact": {"email": email}, "message": "Hello",
                "status": status}),
        )
        .await;
        customers.insert(email, created["customer_id"].as_i64().unwrap());
        if let Some(at) = resolved_at {
            resolve_at(&app, created["id"].as_i64().unwrap(), at).await;
        }
    }
    // Within 10 days: c1's order converts both of c1's enquiries; c2 ordered too late, c3
    // before asking, c4's enquiry is spam; c5's order converts; c6 never ordered.
    order_at(&app, customers["c1@example.com"], "2026-10-08T12:00:00Z", "o-1").await;
    order_at(&app, customers["c2@example.com"], "2026-11-15T12:00:00Z", "o-2").await;
    order_at(&app, customers["c3@example.com"], "2026-10-24T12:00:00Z", "o-3").await;
    order_at(&app, customers["c4@example.com"], "2026-10-27T12:00:00Z", "o-4").await;
    order_at(&app, customers["c5@example.com"], "2026-11-10T12:00:00Z", "o-5").await;

    let reader = app.token("analytics:read");
    let response = app
        .get(
            "/v1/analytics/enquiries?from=2026-10-01&to=2026-11-30&granularity=month&timezone=UTC&within_days=10",
            &reader,
        )
        .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    let body = &response.body;
    assert_eq!(
        (&body["granularity"], &body["timezone"], &body["within_days"]),
        (&json!("month"), &json!("UTC"), &json!(10))
    );
    let october = &body["buckets"][0];
    let november = &body["buckets"][1];
    assert_eq!((&october["period_start"], &november["period_start"]), (&json!("2026-10-01"), &json!("2026-11-01")));
    assert_eq!(
        october["counts"],
        json!([{"channel": "email", "status": "resolved", "enquiries": 1},
               {"channel": "in_person", "status": "in_progress", "enquiries": 1},
               {"channel": "phone", "status": "resolved", "enquiries": 2},
               {"channel": "social", "status": "spam", "enquiries": 1}])
    );
    assert_eq!(
        october["by_channel"],
        json!({"email": 1, "form": 0, "in_person": 1, "letter": 0, "phone": 2, "social": 1})
    );
    assert_eq!(october["by_status"], json!({"in_progress": 1, "new": 0, "resolved": 3, "spam": 1}));
    // October: [3600, 7200, 86400] -> 7200; November: [3600, 9000] -> 6300; all five -> 7200.
    let figures = |b: &Value| {
        (
            b["enquiries"].as_i64(),
            b["resolved"].as_i64(),
            b["median_resolution_seconds"].as_f64(),
            b["genuine"].as_i64(),
            b["converted"].as_i64(),
            b["conversion_rate"].as_f64(),
        )
    };
    assert_eq!(figures(october), (Some(5), Some(3), Some(7200.0), Some(4), Some(2), Some(0.5)));
    assert_eq!(figures(november), (Some(2), Some(2), Some(6300.0), Some(2), Some(1), Some(0.5)));
    assert_eq!(figures(&body["totals"]), (Some(7), Some(5), Some(7200.0), Some(6), Some(3), Some(0.5)));

    // The default window (30 days) converts c2 too: 4 of 6.
    let wide = app.get("/v1/analytics/enquiries?from=2026-10-01&to=2026-11-30&timezone=UTC", &reader).await;
    assert_eq!((wide.body["totals"]["converted"].as_i64(), wide.body["within_days"].as_i64()), (Some(4), Some(30)));
    // A day with nothing: present, zeros, no median.
    let empty =
        app.get("/v1/analytics/enquiries?from=2026-10-02&to=2026-10-02&granularity=day&timezone=UTC", &reader).await;
    assert_eq!(figures(&empty.body["buckets"][0]), (Some(0), Some(0), None, Some(0), Some(0), Some(0.0)));

    // Bad parameters name themselves; the scope is the analytics one.
    let bad = app.get("/v1/analytics/enquiries?from=2026-10-01&to=2026-11-30&within_days=0", &reader).await;
    assert_eq!(bad.invalid_fields(), vec!["within_days"]);
    let bad = app.get("/v1/analytics/enquiries?to=2026-11-30&granularity=hour", &reader).await;
    assert_eq!(bad.invalid_fields(), vec!["from", "granularity"]);
    app.get("/v1/analytics/enquiries?from=2026-10-01&to=2026-11-30", &app.token("customers:read"))
        .await
        .assert_problem(403);
}

async fn erasure_scrubs_enquiries_recorded_through_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let enquiry = record(
        &app,
        json!({"channel": "phone", "contact": {"email": "zoe@example.com", "first_name": "Zoé", "last_name": "Quinterro",
            "phone": "+33687654321"}, "subject": "Quinterro order", "message": "Zoé Quinterro called",
            "assignee": "quinterro-desk", "tags": ["quinterro"], "follow_up_at": rfc3339(now() + Duration::hours(1))}),
    )
    .await;
    let id = enquiry["customer_id"].as_i64().unwrap();
    let writer = app.token("customers:write");
    let path = format!("/v1/enquiries/{}", enquiry["id"]);
    app.patch(&path, &writer, json!({"note": "Quinterro wants a call", "tags": ["quinterro", "zoé"]})).await;
    assert_eq!(announce(&app, now() + Duration::hours(2)), 1);
    assert_eq!(app.count("events WHERE event_type = 'enquiry.follow_up_due'").await, 1);

    let erased = app.delete(&format!("/v1/customers/{id}"), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);
    for (table, column) in crate::privacy::text_columns(&app).await {
        for needle in ["zoe@example.com", "Quinterro", "quinterro", "+33687654321", "Zoé", "zoé"] {
            let count = app.count(&format!("{table} WHERE {column} LIKE '%{needle}%'")).await;
            assert_eq!(count, 0, "`{needle}` is still in {table}.{column}");
        }
    }
    let kept = app.get(&path, &app.token("customers:read")).await.body;
    assert_eq!((&kept["channel"], &kept["tags"], &kept["subject"]), (&json!("phone"), &json!([]), &json!(null)));
    assert!(kept["occurred_at"].is_string(), "the figures stay");
}

async fn a_due_follow_up_alerts_the_shop_through_a_flow(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_SHOP_EMAIL", "Shop desk <desk@shop.example>")]).await;
    let writer = app.token("campaigns:write");
    let flow = app
        .post(
            "/v1/flows",
            &writer,
            json!({"name": "Call back", "trigger": {"type": "enquiry_follow_up_due"},
            "channel": "email", "holdout_percent": 0, "quiet_hours": null,
            "steps": [{"type": "notify_shop", "subject": "Call back about enquiry {{ enquiry.id }}",
                       "text": "{{ enquiry.email }} waits for your call."}]}),
        )
        .await;
    assert_eq!(flow.status.as_u16(), 201, "{}", flow.text);
    let id = flow.body["id"].as_i64().unwrap();
    assert_eq!(app.post(&format!("/v1/flows/{id}/activate"), &writer, json!({})).await.status.as_u16(), 200);
    let start = now().trunc_subsecs(0);
    let enquiry = app
        .post(
            "/v1/enquiries",
            &app.token("customers:write"),
            json!({"channel": "phone", "contact": {"email": "ana@example.com"},
            "message": "Call me back about the blue vase", "follow_up_at": rfc3339(start + Duration::days(2))}),
        )
        .await;
    assert_eq!(enquiry.status.as_u16(), 201, "{}", enquiry.text);
    let tick = |at: NaiveDateTime| {
        let (config, keys) = (&app.state.config, &app.state.keys);
        app.state.db.with_conn(|conn| {
            announce_due_follow_ups(conn, at)?;
            rapport::services::flows::tick(conn, config, keys, at)
        })
    };
    tick(start + Duration::days(1)).unwrap();
    assert_eq!(app.count("messages WHERE kind = 'flow_notification'").await, 0, "not due yet");
    tick(start + Duration::days(3)).unwrap();
    tick(start + Duration::days(3) + Duration::minutes(1)).unwrap();
    assert_eq!(
        app.count("messages WHERE kind = 'flow_notification' AND recipient LIKE '%desk@shop.example%' AND body LIKE '%ana@example.com waits%'")
            .await,
        1,
        "one alert for the due follow-up"
    );
}
