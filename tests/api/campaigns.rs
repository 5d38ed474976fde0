use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::segments::set_consent;
use crate::smtp_sink::{decoded, SmtpSink};

both_backends!(
    launch_contacts_only_subscribed_reachable_customers,
    frequency_cap_and_exclusions_across_campaigns,
    holdout_share_on_a_thousand_customers,
    report_checked_by_hand_with_single_use_codes,
    tracking_records_opens_and_refuses_open_redirects,
    email_campaign_sent_through_smtp_with_rfc_8058_headers,
    bad_campaigns_and_responses_are_rejected,
    campaigns_join_timeline_export_and_erasure,
    a_merge_moves_campaign_history_to_the_survivor,
    campaign_results_stay_exact_through_orders_refunds_cancellations_and_merges,
);

async fn customer(app: &TestApp, body: Value) -> i64 {
    app.create_customer(body).await["id"].as_i64().unwrap()
}

async fn create_campaign(app: &TestApp, body: Value) -> i64 {
    let response = app.post("/v1/campaigns", &app.token("campaigns:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    assert_eq!(response.body["status"], "draft");
    response.body["id"].as_i64().unwrap()
}

async fn launch(app: &TestApp, id: i64) -> Value {
    let response = app.post(&format!("/v1/campaigns/{id}/launch"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

async fn contacts(app: &TestApp, id: i64, query: &str) -> Vec<Value> {
    let response =
        app.get(&format!("/v1/campaigns/{id}/contacts?limit=200{query}"), &app.token("campaigns:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body["items"].as_array().unwrap().clone()
}

fn tagged(tag: &str) -> Value {
    json!({"field": "tag", "op": "eq", "value": tag})
}

/// Subscribed customers tagged `club`, by email.
async fn club_members(app: &TestApp, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for n in 0..count {
        let id = customer(
            app,
            json!({"email": format!("m{n}@example.com"), "first_name": format!("M{n}"), "tags": ["club"]}),
        )
        .await;
        set_consent(app, id, "email", "subscribed").await;
        ids.push(id);
    }
    ids
}

async fn launch_contacts_only_subscribed_reachable_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ana = customer(&app, json!({"email": "ana@example.com", "first_name": "Ana", "tags": ["club"]})).await;
    let pending = customer(&app, json!({"email": "p@example.com", "tags": ["club"]})).await;
    let unsubscribed = customer(&app, json!({"email": "u@example.com", "tags": ["club"]})).await;
    let _never_asked = customer(&app, json!({"email": "n@example.com", "tags": ["club"]})).await;
    let changed_mind = customer(&app, json!({"email": "c@example.com", "tags": ["club"]})).await;
    let phone_only = customer(&app, json!({"phone": "+33612345678", "first_name": "Pat", "tags": ["club"]})).await;
    let erased = customer(&app, json!({"email": "gone@example.com", "tags": ["club"]})).await;
    set_consent(&app, ana, "email", "subscribed").await;
    set_consent(&app, pending, "email", "pending").await;
    set_consent(&app, unsubscribed, "email", "unsubscribed").await;
    set_consent(&app, changed_mind, "email", "subscribed").await;
    set_consent(&app, phone_only, "email", "subscribed").await;
    set_consent(&app, erased, "email", "subscribed").await;
    assert_eq!(app.delete(&format!("/v1/customers/{erased}"), &app.token("admin")).await.status.as_u16(), 204);

    let segment =
        app.post("/v1/segments", &app.token("campaigns:write"), json!({"name": "Club", "rules": tagged("club")})).await;
    let id = create_campaign(
        &app,
        json!({"name": "Club news", "channel": "email", "segment_id": segment.body["id"], "offer": "Members' evening",
               "subject": "{{first_name}}, you are invited", "content": "Hello {{first_name}}!\nUnsubscribe: {{unsubscribe_url}}"}),
    )
    .await;
    // Added to the segment while subscribed, unsubscribed before the launch.
    set_consent(&app, changed_mind, "email", "unsubscribed").await;
    let launched = launch(&app, id).await;
    assert_eq!(launched["status"], "launched");
    assert_eq!(
        launched["audience"],
        json!({"segment_size": 6, "no_consent": 4, "suppressed": 0, "unreachable": 1, "excluded": 0, "capped": 0,
               "holdout": 0, "contacted": 1})
    );
    let list = contacts(&app, id, "").await;
    assert_eq!(list.len(), 1);
    let contact = &list[0];
    assert_eq!((contact["customer_id"].as_i64(), contact["email"].as_str()), (Some(ana), Some("ana@example.com")));
    assert_eq!(contact["subject"], "Ana, you are invited");
    let unsubscribe_url = contact["unsubscribe_url"].as_str().unwrap();
    assert!(unsubscribe_url.contains("/v1/public/unsubscribe?token="), "{unsubscribe_url}");
    assert_eq!(contact["content"], format!("Hello Ana!\nUnsubscribe: {unsubscribe_url}"));
    assert!(contact["tracking_token"].as_str().unwrap().len() >= 22);
    assert!(contact.get("phone").is_none(), "an email campaign shows no phone");

    let again = app.post(&format!("/v1/campaigns/{id}/launch"), &app.token("campaigns:write"), json!({})).await;
    again.assert_problem(409);
    assert_eq!(app.count("campaign_contacts").await, 1);

    // A postal campaign lists addresses; nobody consented to post here.
    let postal = customer(
        &app,
        json!({"first_name": "Lou", "tags": ["mail"], "address": {"line1": "1 rue Haute", "city": "Lyon",
        "postal_code": "69001", "country": "FR"}}),
    )
    .await;
    set_consent(&app, postal, "post", "subscribed").await;
    let letters = create_campaign(&app, json!({"name": "Catalogue", "channel": "post", "rules": tagged("mail")})).await;
    assert_eq!(launch(&app, letters).await["audience"]["contacted"], 1);
    let letter = &contacts(&app, letters, "").await[0];
    assert_eq!((letter["address"]["city"].as_str(), letter.get("email")), (Some("Lyon"), None));
}

async fn frequency_cap_and_exclusions_across_campaigns(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_FREQUENCY_CAP", "2/7")]).await;
    club_members(&app, 3).await;
    let first = create_campaign(&app, json!({"name": "One", "channel": "email", "rules": tagged("club")})).await;
    assert_eq!(launch(&app, first).await["audience"]["contacted"], 3);
    let strict = json!({"name": "Strict", "channel": "email", "rules": tagged("club"),
                        "frequency_cap": {"max_contacts": 1, "per_days": 7}});
    let strict = create_campaign(&app, strict).await;
    let audience = launch(&app, strict).await["audience"].clone();
    assert_eq!((audience["capped"].as_i64(), audience["contacted"].as_i64()), (Some(3), Some(0)));
    // The default cap (2 in 7 days) lets a second campaign through, not a third.
    let second = create_campaign(&app, json!({"name": "Two", "channel": "email", "rules": tagged("club")})).await;
    assert_eq!(launch(&app, second).await["audience"]["contacted"], 3);
    let third = create_campaign(&app, json!({"name": "Three", "channel": "email", "rules": tagged("club")})).await;
    assert_eq!(launch(&app, third).await["audience"]["capped"], 3);
    let excluding = json!({"name": "Not again", "channel": "email", "rules": tagged("club"), "exclude_campaign_ids": [first],
                           "frequency_cap": {"max_contacts": 10, "per_days": 1}});
    let excluding = create_campaign(&app, excluding).await;
    let audience = launch(&app, excluding).await["audience"].clone();
    assert_eq!((audience["excluded"].as_i64(), audience["contacted"].as_i64()), (Some(3), Some(0)));
    // Segment rules can pick earlier recipients too.
    let received = json!({"name": "Follow-up", "channel": "email", "frequency_cap": {"max_contacts": 10, "per_days": 1},
        "rules": {"all": [tagged("club"), {"field": "received_campaign", "op": "eq", "value": second}]}});
    let received = create_campaign(&app, received).await;
    assert_eq!(launch(&app, received).await["audience"]["contacted"], 3);
}

async fn holdout_share_on_a_thousand_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            conn.write_transaction(|conn| {
                for n in 1..=1000 {
                    diesel::sql_query(format!(
                        "INSERT INTO customers (kind, email, source, attributes, created_at, updated_at) \
                         VALUES ('person', 'h{n}@example.com', 'import', '{{}}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                    ))
                    .execute(conn)?;
                }
                diesel::sql_query(
                    "INSERT INTO customer_consents (customer_id, channel, state, opt_in_level, source, event_id, occurred_at) \
                     SELECT id, 'email', 'subscribed', 'single_opt_in', 'admin', 0, '2026-01-01 00:00:00' FROM customers",
                )
                .execute(conn)?;
                Ok::<_, rapport::error::AppError>(())
            })
        })
        .await
        .unwrap();
    let everyone = json!({"field": "source", "op": "eq", "value": "import"});
    let id =
        create_campaign(&app, json!({"name": "Test", "channel": "email", "rules": everyone, "holdout_percent": 20}))
            .await;
    let audience = launch(&app, id).await["audience"].clone();
    assert_eq!(audience["segment_size"], 1000);
    let holdout = audience["holdout"].as_i64().unwrap();
    assert!((180..=220).contains(&holdout), "holdout {holdout} is not about 20% of 1000");
    assert_eq!(audience["contacted"].as_i64().unwrap() + holdout, 1000);
    // Drawn at random, not the first or last ids.
    let mut held: Vec<i64> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get(&format!("/v1/campaigns/{id}/contacts?holdout=true&limit=200{cursor}"), &app.token("campaigns:read"))
            .await;
        held.extend(page.body["items"].as_array().unwrap().iter().map(|c| c["customer_id"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(held.len() as i64, holdout);
    let low = held.iter().filter(|id| **id <= 500).count();
    assert!((50..=150).contains(&low), "{low} of {holdout} held-out ids in the lower half");
    assert!(contacts(&app, id, "&holdout=true").await.iter().all(|c| c["tracking_token"].is_null()));
}

fn order_with_code(customer_id: i64, external_id: &str, code: Option<&str>) -> Value {
    json!({"external_id": external_id, "channel": "web", "currency": "EUR", "customer": {"id": customer_id},
           "lines": [{"sku": "BOOT-1", "name": "Boot", "product_type": "shoes", "quantity": 1, "unit_price": 10000}],
           "discount_total": if code.is_some() { 1000 } else { 0 }, "total": if code.is_some() { 9000 } else { 10000 },
           "promo_code": code})
}

async fn report_checked_by_hand_with_single_use_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let members = club_members(&app, 4).await;
    let stranger = customer(&app, json!({"email": "stranger@example.com"})).await;
    let body = json!({"name": "Boots", "channel": "email", "rules": tagged("club"), "holdout_percent": 50,
        "promo": {"unique_codes": {"prefix": "boots", "discount": {"type": "percent", "value": 10}}},
        "subject": "Your code {{promo_code}}", "content": "{{promo_code}} https://shop.example/boots", "attribution_window_days": 7});
    let id = create_campaign(&app, body).await;
    let audience = launch(&app, id).await["audience"].clone();
    assert_eq!((audience["contacted"].as_i64(), audience["holdout"].as_i64()), (Some(2), Some(2)));
    let sent = contacts(&app, id, "").await;
    let held = contacts(&app, id, "&holdout=true").await;
    let (x, y) = (&sent[0], &sent[1]);
    let code_x = x["promo_code"].as_str().unwrap().to_string();
    assert!(code_x.starts_with("BOOTS-") && code_x.len() == 14, "{code_x}");
    assert_ne!(code_x, y["promo_code"].as_str().unwrap());
    assert_eq!(x["subject"], format!("Your code {code_x}"));
    let (x_id, y_id) = (x["customer_id"].as_i64().unwrap(), y["customer_id"].as_i64().unwrap());
    let holdout_id = held[0]["customer_id"].as_i64().unwrap();
    assert!(members.contains(&x_id) && members.contains(&holdout_id));

    let writer = app.token("orders:write");
    let first = app.post("/v1/orders", &writer, order_with_code(x_id, "r-1", Some(&code_x))).await;
    assert_eq!(
        (first.status.as_u16(), first.body["promo_code_status"].as_str()),
        (201, Some("applied")),
        "{}",
        first.text
    );
    // A single-use code: the second use is refused (the order stands, the code does not apply).
    let second = app.post("/v1/orders", &writer, order_with_code(stranger, "r-2", Some(&code_x))).await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.text);
    assert_ne!(second.body["promo_code_status"], "applied");
    let baseline = app.post("/v1/orders", &writer, order_with_code(holdout_id, "r-3", None)).await;
    assert_eq!(baseline.status.as_u16(), 201);

    let responses = json!([
        {"token": x["tracking_token"], "type": "opened"},
        {"token": x["tracking_token"], "type": "opened"},
        {"token": y["tracking_token"], "type": "opened"},
        {"token": x["tracking_token"], "type": "clicked"},
        {"customer_id": y_id, "type": "unsubscribed"},
    ]);
    let recorded = app.post(&format!("/v1/campaigns/{id}/responses"), &app.token("campaigns:write"), responses).await;
    assert_eq!(recorded.body, json!({"recorded": 5, "unsubscribed": 1}), "{}", recorded.text);
    let consents = app.get(&format!("/v1/customers/{y_id}/consents"), &app.token("customers:read")).await;
    let email = &consents.body["channels"][0];
    assert_eq!((email["state"].as_str(), email["source"].as_str()), (Some("unsubscribed"), Some("campaign_reply")));

    let report = app.get(&format!("/v1/campaigns/{id}/report"), &app.token("campaigns:read")).await.body;
    assert_eq!((report["contacted"].as_i64(), report["holdout"].as_i64()), (Some(2), Some(2)));
    assert_eq!(report["responses"]["opened"], json!({"count": 2, "rate": 1.0}));
    assert_eq!(report["responses"]["clicked"], json!({"count": 1, "rate": 0.5}));
    assert_eq!(report["responses"]["unsubscribed"], json!({"count": 1, "rate": 0.5}));
    assert_eq!(report["responses"]["bounced"], json!({"count": 0, "rate": 0.0}));
    assert_eq!(report["conversions"], json!({"customers": 2, "converted": 1, "rate": 0.5}));
    assert_eq!(report["holdout_conversions"], json!({"customers": 2, "converted": 1, "rate": 0.5}));
    assert_eq!(report["incremental_lift"], 0.0);
    // X's order (in the window, with the code); the stranger's order did not get the code.
    assert_eq!(report["attributed_orders"], 1);
    assert_eq!(report["attributed_revenue"], json!([{"currency": "EUR", "amount": 9000}]));
    assert_eq!((report["promo_redemptions"].as_i64(), report["discount_given"].as_i64()), (Some(1), Some(1000)));

    // Segments see the code's use.
    let used = json!({"rules": {"field": "used_promo_code", "op": "eq", "value": code_x.to_lowercase()}});
    let used = app.post("/v1/segments/preview", &app.token("campaigns:read"), used).await;
    assert_eq!((used.body["count"].as_i64(), used.body["sample"][0]["id"].as_i64()), (Some(1), Some(x_id)));

    let compared = app.get("/v1/campaigns?with_report=true", &app.token("campaigns:read")).await;
    assert_eq!(compared.body["items"][0]["report"]["attributed_orders"], 1);
    assert!(app.get("/v1/campaigns", &app.token("campaigns:read")).await.body["items"][0].get("report").is_none());
    app.patch(&format!("/v1/campaigns/{id}"), &app.token("campaigns:write"), json!({"name": "Late"}))
        .await
        .assert_problem(409);
}

fn tracked_link(content: &str) -> String {
    let start = content.find("http://").or_else(|| content.find("https://")).unwrap();
    let link = content[start..].split_whitespace().next().unwrap();
    let path_start = link.find("/v1/t/c/").unwrap();
    link[path_start..].to_string()
}

async fn tracking_records_opens_and_refuses_open_redirects(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    club_members(&app, 1).await;
    let id = create_campaign(
        &app,
        json!({"name": "Sale", "channel": "email", "rules": tagged("club"), "content": "Sale: https://shop.example/sale?c=1."}),
    )
    .await;
    launch(&app, id).await;
    let contact = contacts(&app, id, "").await.remove(0);
    let content = contact["content"].as_str().unwrap();
    assert!(content.ends_with('.'), "the sentence's full stop stays outside the link: {content}");
    let link = tracked_link(content.trim_end_matches('.'));
    let click = app.get(&link, "").await;
    assert_eq!(click.status.as_u16(), 302, "{}", click.text);
    assert_eq!(click.header("location"), Some("https://shop.example/sale?c=1"));

    let altered = link.replace("shop.example", "evil.example");
    app.get(&altered, "").await.assert_problem(400);
    let token = contact["tracking_token"].as_str().unwrap();
    let unsigned = format!("/v1/t/c/{token}?url=https%3A%2F%2Fevil.example%2F");
    app.get(&unsigned, "").await.assert_problem(400);

    let pixel = app
        .get(
            contact["open_tracking_url"]
                .as_str()
                .unwrap()
                .split_once("/v1/")
                .map(|(_, p)| format!("/v1/{p}"))
                .unwrap()
                .as_str(),
            "",
        )
        .await;
    assert_eq!((pixel.status.as_u16(), pixel.header("content-type")), (200, Some("image/gif")));
    let unknown = app.get("/v1/t/o/not-a-token", "").await;
    assert_eq!(unknown.status.as_u16(), 200);
    let report = app.get(&format!("/v1/campaigns/{id}/report"), &app.token("campaigns:read")).await.body;
    assert_eq!(
        (report["responses"]["opened"]["count"].as_i64(), report["responses"]["clicked"]["count"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(app.count("campaign_responses").await, 2);
}

async fn email_campaign_sent_through_smtp_with_rfc_8058_headers(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    let members = club_members(&app, 2).await;
    let id = create_campaign(
        &app,
        json!({"name": "News", "channel": "email", "rules": tagged("club"), "subject": "News for {{first_name}}",
               "content": "Hello {{first_name}}. Unsubscribe: {{unsubscribe_url}}"}),
    )
    .await;
    launch(&app, id).await;
    set_consent(&app, members[1], "email", "unsubscribed").await;
    let writer = app.token("campaigns:write");
    let sent = app.post(&format!("/v1/campaigns/{id}/send"), &writer, json!({"rate_per_minute": 6000})).await;
    assert_eq!(sent.body, json!({"queued": 1, "skipped": 1}), "{}", sent.text);
    app.post(&format!("/v1/campaigns/{id}/send"), &writer, json!({})).await.assert_problem(409);
    let queued = app.get(&format!("/v1/campaigns/{id}"), &app.token("campaigns:read")).await;
    assert_eq!(queued.body["messages"], json!({"queued": 1, "sent": 0, "failed": 0}));

    let mailer = rapport::services::messages::Mailer::from_config(&app.state.config.mail).unwrap().unwrap();
    let delivered = app
        .state
        .db
        .with_conn(|conn| rapport::services::messages::deliver_due(conn, &mailer, rapport::services::now()))
        .unwrap();
    assert_eq!(delivered, 1);
    let raw = sink.wait_for(1).remove(0);
    let mail = decoded(&raw);
    assert!(mail.contains("To: m0@example.com"), "{mail}");
    assert!(mail.contains("Subject: News for M0"), "{mail}");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{raw}");
    let header = raw.lines().find(|l| l.starts_with("List-Unsubscribe: <")).expect("List-Unsubscribe header");
    let url = header.trim_start_matches("List-Unsubscribe: <").trim_end_matches('>');
    assert!(url.starts_with("https://shop.example/v1/public/unsubscribe?token="), "{url}");
    assert!(mail.contains(url), "the body carries the same link");
    let sent = app.get(&format!("/v1/campaigns/{id}"), &app.token("campaigns:read")).await;
    assert_eq!(sent.body["messages"], json!({"queued": 0, "sent": 1, "failed": 0}));

    // The mail client's one-click POST unsubscribes.
    let path = url.trim_start_matches("https://shop.example");
    let request = actix_web::test::TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload("List-Unsubscribe=One-Click");
    assert_eq!(app.call(request).await.status.as_u16(), 200);
    let consents = app.get(&format!("/v1/customers/{}/consents", members[0]), &app.token("customers:read")).await;
    assert_eq!(consents.body["channels"][0]["state"], "unsubscribed");
}

async fn bad_campaigns_and_responses_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write");
    let base = json!({"name": "X", "channel": "email", "rules": tagged("club")});
    let with = |changes: Value| {
        let mut body = base.clone();
        crate::campaigns::merge(&mut body, changes);
        body
    };
    let cases = [
        (with(json!({"segment_id": 99})), "rules"),
        (json!({"name": "X", "channel": "email", "segment_id": 99}), "segment_id"),
        (json!({"name": "X", "channel": "email"}), "segment_id"),
        (with(json!({"holdout_percent": 60})), "holdout_percent"),
        (with(json!({"attribution_window_days": 0})), "attribution_window_days"),
        (with(json!({"content": "Hi {{name}}"})), "content"),
        (with(json!({"subject": "{{promo_code}}"})), "subject"),
        (with(json!({"promo": {"code": "NOPE"}})), "promo.code"),
        (
            with(json!({"promo": {"unique_codes": {"prefix": "A", "discount": {"type": "percent", "value": 300}}}})),
            "promo.unique_codes.discount.value",
        ),
        (with(json!({"exclude_campaign_ids": [4242]})), "exclude_campaign_ids"),
        (with(json!({"frequency_cap": {"max_contacts": 0, "per_days": 7}})), "frequency_cap.max_contacts"),
        (with(json!({"rules": {"field": "nope", "op": "eq", "value": 1}})), "rules.field"),
    ];
    for (body, field) in cases {
        let response = app.post("/v1/campaigns", &writer, body.clone()).await;
        assert_eq!(response.invalid_fields(), [field], "{body}");
    }
    let response = app.post("/v1/campaigns", &writer, with(json!({"channel": "pigeon"}))).await;
    response.assert_problem(422);
    assert_eq!(app.count("campaigns").await, 0);
    app.post("/v1/campaigns", &app.token("campaigns:read"), base.clone()).await.assert_problem(403);

    club_members(&app, 2).await;
    let id = create_campaign(&app, with(json!({"holdout_percent": 50}))).await;
    let patched =
        app.patch(&format!("/v1/campaigns/{id}"), &writer, json!({"name": "Renamed", "offer": "20% off"})).await;
    assert_eq!(
        (patched.status.as_u16(), patched.body["name"].as_str(), patched.body["holdout_percent"].as_i64()),
        (200, Some("Renamed"), Some(50))
    );
    app.patch(&format!("/v1/campaigns/{id}"), &writer, json!({"holdout_percent": 99})).await.assert_problem(422);
    launch(&app, id).await;
    let held = contacts(&app, id, "&holdout=true").await[0]["customer_id"].clone();
    let responses = format!("/v1/campaigns/{id}/responses");
    let refused = app.post(&responses, &writer, json!({"customer_id": held, "type": "opened"})).await;
    assert_eq!(refused.invalid_fields(), ["customer_id"]);
    let refused = app.post(&responses, &writer, json!([{"type": "opened", "token": "nope"}, {"type": "opened"}])).await;
    assert_eq!(refused.invalid_fields(), ["[1].token"]);
    let refused = app.post(&responses, &writer, json!([{"token": "nope", "type": "opened"}])).await;
    assert_eq!(refused.invalid_fields(), ["[0].token"]);
    let refused = app.post(&responses, &writer, json!({"token": "x", "type": "teleported"})).await;
    assert_eq!(refused.invalid_fields(), ["body"]);
    let many: Vec<Value> = (0..1001).map(|_| json!({"token": "x", "type": "opened"})).collect();
    app.post(&responses, &writer, json!(many)).await.assert_problem(422);
    assert_eq!(app.count("campaign_responses").await, 0);
    app.get("/v1/campaigns/999", &app.token("campaigns:read")).await.assert_problem(404);
    app.post("/v1/campaigns/999/launch", &writer, json!({})).await.assert_problem(404);
    let sms = create_campaign(&app, json!({"name": "S", "channel": "sms", "rules": tagged("club")})).await;
    app.post(&format!("/v1/campaigns/{sms}/send"), &writer, json!({})).await.assert_problem(409);
}

pub fn merge(target: &mut Value, patch: Value) {
    for (key, value) in patch.as_object().unwrap() {
        target[key] = value.clone();
    }
}

async fn campaigns_join_timeline_export_and_erasure(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let members = club_members(&app, 1).await;
    let id = create_campaign(&app, json!({"name": "Hello", "channel": "email", "rules": tagged("club")})).await;
    launch(&app, id).await;
    let contact = contacts(&app, id, "").await.remove(0);
    let token = contact["tracking_token"].as_str().unwrap().to_string();
    let response = json!({"token": token, "type": "replied"});
    app.post(&format!("/v1/campaigns/{id}/responses"), &app.token("campaigns:write"), response).await;
    let customer = members[0];
    let timeline = app.get(&format!("/v1/customers/{customer}/timeline"), &app.token("customers:read")).await;
    let kinds: Vec<&str> =
        timeline.body["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"campaign_contact") && kinds.contains(&"campaign_response"), "{kinds:?}");
    let code =
        app.get(&format!("/v1/customers/{customer}/referral"), &app.token("customers:read")).await.body["code"].clone();
    let export = app.get(&format!("/v1/customers/{customer}/export"), &app.token("admin")).await;
    assert_eq!(export.body["referral_code"], code);
    assert_eq!(export.body["campaign_contacts"][0]["campaign_id"], id);
    assert_eq!(export.body["campaign_responses"][0]["type"], "replied");

    assert_eq!(app.delete(&format!("/v1/customers/{customer}"), &app.token("admin")).await.status.as_u16(), 204);
    assert!(contacts(&app, id, "").await.is_empty(), "an erased person is not delivered to");
    assert_eq!(app.count("referral_codes").await, 0, "an erased person's referral code is gone");
    app.get(&format!("/v1/t/o/{token}"), "").await;
    assert_eq!(app.count("campaign_responses").await, 1, "the erased contact's token no longer tracks");
    let report = app.get(&format!("/v1/campaigns/{id}/report"), &app.token("campaigns:read")).await;
    assert_eq!(report.body["contacted"], 1, "the figures stay");
}

async fn a_merge_moves_campaign_history_to_the_survivor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let members = club_members(&app, 1).await;
    let survivor = customer(&app, json!({"email": "survivor@example.com"})).await;
    let id = create_campaign(&app, json!({"name": "Hello", "channel": "email", "rules": tagged("club")})).await;
    launch(&app, id).await;
    let response = json!({"customer_id": members[0], "type": "clicked"});
    app.post(&format!("/v1/campaigns/{id}/responses"), &app.token("campaigns:write"), response).await;
    let merged = app
        .post(&format!("/v1/customers/{survivor}/merge"), &app.token("admin"), json!({"duplicate_id": members[0]}))
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    assert_eq!(contacts(&app, id, "").await[0]["customer_id"], survivor);
    let received = json!({"rules": {"field": "received_campaign", "op": "eq", "value": id}});
    let received = app.post("/v1/segments/preview", &app.token("campaigns:read"), received).await;
    assert_eq!(received.body["sample"][0]["id"], survivor);
    let export = app.get(&format!("/v1/customers/{survivor}/export"), &app.token("admin")).await;
    assert_eq!(export.body["campaign_responses"][0]["type"], "clicked");
}

/// An order of 100.00 (90.00 with a code), placed now.
async fn place_order(app: &TestApp, customer_id: i64, external_id: &str, code: Option<&str>) -> Value {
    let response =
        app.post("/v1/orders", &app.token("orders:write"), order_with_code(customer_id, external_id, code)).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body
}

async fn post_ok(app: &TestApp, path: &str, scope: &str, body: Value) {
    let response = app.post(path, &app.token(scope), body).await;
    assert!(response.status.is_success(), "{path}: {}", response.text);
}

/// The kept campaign results equal a recomputation from the orders.
fn assert_results_exact(app: &TestApp, step: &str) {
    let differences = app.state.db.with_conn(rapport::services::rollups::check).expect("check");
    assert!(differences.is_empty(), "after {step}:\n{}", differences.join("\n"));
}

async fn report(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/v1/campaigns/{id}/report"), &app.token("campaigns:read")).await.body
}

async fn campaign_results_stay_exact_through_orders_refunds_cancellations_and_merges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let members = club_members(&app, 8).await;
    let strangers = [
        customer(&app, json!({"email": "s1@example.com"})).await,
        customer(&app, json!({"email": "s2@example.com"})).await,
    ];
    let code = json!({"code": "CLUB10", "discount": {"type": "fixed", "value": 1000}, "currency": "EUR"});
    post_ok(&app, "/v1/promo-codes", "campaigns:write", code).await;
    // Used before the launch: the shared code counts only since the launch.
    let early = place_order(&app, members[0], "early", Some("CLUB10")).await;

    let shared = create_campaign(
        &app,
        json!({"name": "Club", "channel": "email", "rules": tagged("club"), "holdout_percent": 25,
               "promo": {"code": "CLUB10"}, "content": "CLUB10", "attribution_window_days": 30}),
    )
    .await;
    launch(&app, shared).await;
    let unique = create_campaign(
        &app,
        json!({"name": "Boots", "channel": "email", "rules": tagged("club"), "frequency_cap": {"max_contacts": 5, "per_days": 30},
               "promo": {"unique_codes": {"prefix": "boots", "discount": {"type": "percent", "value": 10}}},
               "content": "{{promo_code}}", "attribution_window_days": 7}),
    )
    .await;
    launch(&app, unique).await;
    assert_results_exact(&app, "the launches");
    let codes: Vec<(i64, String)> = contacts(&app, unique, "")
        .await
        .iter()
        .map(|c| (c["customer_id"].as_i64().unwrap(), c["promo_code"].as_str().unwrap().to_string()))
        .collect();
    assert!(codes.len() >= 6, "{codes:?}");
    let held: Vec<i64> =
        contacts(&app, shared, "&holdout=true").await.iter().map(|c| c["customer_id"].as_i64().unwrap()).collect();
    assert_eq!(held.len(), 2);

    // Orders with the shared code, a unique code, none; by contacts, holdout members, strangers.
    let mut orders = Vec::new();
    for (n, &member) in members.iter().enumerate() {
        let own_code = codes.iter().find(|(c, _)| *c == member).map(|(_, code)| code.as_str());
        let code = match n % 3 {
            0 => Some("CLUB10"),
            1 => own_code,
            _ => None,
        };
        orders.push(place_order(&app, member, &format!("m{n}"), code).await);
    }
    orders.push(place_order(&app, strangers[0], "s1", Some("CLUB10")).await);
    orders.push(place_order(&app, strangers[1], "s2", None).await);
    assert_results_exact(&app, "the orders");
    // Responses, repeated: each contact counts once per kind, and once as a responder.
    let tokens: Vec<Value> = contacts(&app, unique, "").await.iter().map(|c| c["tracking_token"].clone()).collect();
    let responses = json!([
        {"token": tokens[0], "type": "opened"}, {"token": tokens[0], "type": "opened"},
        {"token": tokens[0], "type": "clicked"}, {"token": tokens[0], "type": "replied"},
        {"token": tokens[1], "type": "clicked"}, {"token": tokens[2], "type": "opened"},
    ]);
    post_ok(&app, &format!("/v1/campaigns/{unique}/responses"), "campaigns:write", responses.clone()).await;
    post_ok(&app, &format!("/v1/campaigns/{unique}/responses"), "campaigns:write", responses).await;
    assert_results_exact(&app, "the responses");
    let responded = report(&app, unique).await["responses"].clone();
    assert_eq!((responded["opened"]["count"].as_i64(), responded["clicked"]["count"].as_i64()), (Some(2), Some(2)));
    let before = report(&app, shared).await;
    assert!(before["conversions"]["converted"].as_i64().unwrap() >= 5, "{before}");
    assert_eq!(before["holdout_conversions"]["converted"], 2, "{before}");
    assert!(before["promo_redemptions"].as_i64().unwrap() >= 3, "{before}");

    // Refunds, a payment, cancellations (one of them the order from before the launch).
    let id = |order: &Value| order["id"].as_i64().unwrap();
    let refund = json!({"amount": 2500, "reason": "returned", "lines": []});
    post_ok(&app, &format!("/v1/orders/{}/refunds", id(&orders[0])), "orders:write", refund.clone()).await;
    post_ok(&app, &format!("/v1/orders/{}/refunds", id(&orders[8])), "orders:write", refund).await;
    let status = |s: &str| json!({"status": s});
    post_ok(&app, &format!("/v1/orders/{}/status", id(&orders[1])), "orders:write", status("paid")).await;
    for order in [&orders[3], &orders[4], &early] {
        post_ok(&app, &format!("/v1/orders/{}/status", id(order)), "orders:write", status("cancelled")).await;
    }
    assert_results_exact(&app, "refunds and cancellations");

    // A contact merged into a stranger; a holdout member merged into a contact; then orders
    // of the survivors.
    let merge = |duplicate: i64| json!({"duplicate_id": duplicate});
    post_ok(&app, &format!("/v1/customers/{}/merge", strangers[1]), "customers:write", merge(members[2])).await;
    let contact = *members.iter().find(|m| !held.contains(m) && **m != members[2]).unwrap();
    let held_member = *held.iter().find(|h| **h != members[2]).unwrap();
    post_ok(&app, &format!("/v1/customers/{contact}/merge"), "customers:write", merge(held_member)).await;
    assert_results_exact(&app, "the merges");
    place_order(&app, strangers[1], "after-1", Some("CLUB10")).await;
    place_order(&app, contact, "after-2", None).await;
    assert_results_exact(&app, "orders after the merges");

    let after = report(&app, shared).await;
    assert_ne!(after["attributed_revenue"], before["attributed_revenue"], "the changes moved the figures");
    // A rebuild from the orders gives the same report.
    app.state.db.with_conn(|conn| rapport::services::rollups::rebuild(conn, chrono_tz::UTC)).expect("rebuild");
    assert_eq!(report(&app, shared).await, after);
    assert_results_exact(&app, "the rebuild");

    // The list reads the kept results of all its campaigns at once; each must get its own.
    let listed = app.get("/v1/campaigns?with_report=true", &app.token("campaigns:read")).await.body;
    for item in listed["items"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        assert_eq!(item["report"], report(&app, id).await, "campaign {id} in the list");
    }
    assert!([shared, unique].iter().all(|id| listed["items"].as_array().unwrap().iter().any(|i| i["id"] == *id)));
}
