//! The shop's own forms: definitions, public submissions and their protections, personal
//! links, questionnaires with a reward, attribute provenance, merges and erasure.

use actix_web::test::TestRequest;
use rapport::services::messages::{deliver_due, Mailer};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};
use crate::smtp_sink::{decoded, SmtpSink};

both_backends!(
    bad_definitions_are_refused_naming_the_field,
    bad_submissions_name_the_field_and_write_nothing,
    the_new_form_endpoint_has_the_public_protections,
    a_questionnaire_round_trip_through_a_real_smtp_sink,
    contact_and_subscribe_forms_with_the_shops_questions,
    an_older_answer_arriving_late_never_overwrites_a_newer_one,
    merges_move_and_erasure_strips_answers_and_history,
    the_embed_is_an_accessible_form_posting_with_the_token,
    a_campaign_message_carries_each_contacts_personal_link,
);

fn questionnaire() -> Value {
    json!({
        "key": "perfume-taste", "title": "Tell us your taste", "purpose": "questionnaire",
        "fields": [
            {"name": "email", "label": "Your email", "type": "email", "maps_to": "email"},
            {"name": "first_name", "label": "First name", "type": "text", "maps_to": "first_name"},
            {"name": "age_bracket", "label": "Age", "type": "select", "options": ["18-25", "26-40", "41-60", "60+"],
             "required": true, "maps_to": "attributes.age_bracket"},
            {"name": "colours", "label": "Favourite colours", "type": "multiselect", "options": ["red", "blue", "green"],
             "maps_to": "attributes.colours"},
            {"name": "score", "label": "How do you like our shop?", "type": "rating"},
            {"name": "visits", "label": "Visits a year", "type": "number"}
        ],
        "consent_texts": {"email": "Send me news and offers by email"},
        "reward": {"type": "promo_code", "discount": {"type": "percent", "value": 10}, "valid_days": 60}
    })
}

async fn define(app: &TestApp, form: Value) -> Value {
    let created = app.post("/v1/forms", &app.token("admin"), form).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    created.body
}

fn public(app: &TestApp, path: &str, ip: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .peer_addr(format!("{ip}:40000").parse().unwrap())
        .insert_header(bearer(&app.token("forms:submit")))
        .insert_header(("User-Agent", "Mozilla/5.0 (questionnaire test)"))
        .set_json(body)
}

fn deliver(app: &TestApp) -> usize {
    let mailer = Mailer::from_config(&app.state.config.mail).unwrap().expect("SMTP configured");
    app.state.db.with_conn(|conn| deliver_due(conn, &mailer, rapport::services::now())).unwrap()
}

async fn customer(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/v1/customers/{id}"), &app.token("customers:read")).await.body
}

async fn history(app: &TestApp, id: i64, field: &str) -> Vec<Value> {
    let page =
        app.get(&format!("/v1/customers/{id}/attributes/history?field={field}"), &app.token("customers:read")).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    page.body["items"].as_array().unwrap().clone()
}

async fn bad_definitions_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut bad = questionnaire();
    bad["key"] = json!("Bad Key");
    bad["fields"][2]["options"] = json!([]);
    bad["fields"][3]["maps_to"] = json!("shoe_size");
    bad["reward"]["valid_days"] = json!(0);
    let refused = app.post("/v1/forms", &app.token("admin"), bad).await;
    assert_eq!(
        refused.invalid_fields(),
        ["key", "fields[2].options", "fields[3].maps_to", "reward.valid_days"],
        "{}",
        refused.text
    );
    let contact_without_message = json!({"key": "hello", "title": "Hello", "purpose": "contact",
        "fields": [{"name": "email", "label": "Email", "type": "email", "required": true, "maps_to": "email"}]});
    assert_eq!(app.post("/v1/forms", &app.token("admin"), contact_without_message).await.invalid_fields(), ["fields"]);
    let email_from_a_date = json!({"key": "x", "title": "X", "purpose": "questionnaire",
        "fields": [{"name": "when", "label": "When", "type": "date", "maps_to": "email"}]});
    assert_eq!(
        app.post("/v1/forms", &app.token("admin"), email_from_a_date).await.invalid_fields(),
        ["fields[0].maps_to"]
    );
    let reserved = json!({"key": "contact", "title": "X", "purpose": "questionnaire",
        "fields": [{"name": "a", "label": "A", "type": "text"}]});
    assert_eq!(app.post("/v1/forms", &app.token("admin"), reserved).await.invalid_fields(), ["key"]);
    app.post("/v1/forms", &app.token("customers:write"), questionnaire()).await.assert_problem(403);
    assert_eq!(app.count("form_definitions").await, 0, "nothing was written");

    define(&app, questionnaire()).await;
    app.post("/v1/forms", &app.token("admin"), questionnaire()).await.assert_problem(409);
    let patched = app
        .patch(
            "/v1/forms/perfume-taste",
            &app.token("admin"),
            json!({"title": "Your taste, in 2 minutes", "reward": null}),
        )
        .await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!(patched.body["title"], "Your taste, in 2 minutes");
    assert_eq!(patched.body["reward"], Value::Null);
    let broken = app.patch("/v1/forms/perfume-taste", &app.token("admin"), json!({"fields": []})).await;
    assert_eq!(broken.invalid_fields(), ["fields"]);
    let listed = app.get("/v1/forms", &app.token("admin")).await;
    assert_eq!(listed.body["items"][0]["key"], "perfume-taste");
    assert_eq!(listed.body["items"][0]["fields"].as_array().unwrap().len(), 6, "the bad patch changed nothing");
    app.get("/v1/forms/nope", &app.token("admin")).await.assert_problem(404);
    assert_eq!(app.delete("/v1/forms/perfume-taste", &app.token("admin")).await.status.as_u16(), 204);
    app.get("/v1/forms/perfume-taste", &app.token("admin")).await.assert_problem(404);
}

async fn bad_submissions_name_the_field_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    define(&app, questionnaire()).await;
    let path = "/v1/forms/perfume-taste/submissions";
    let bad = json!({"answers": {"email": "not-an-email", "colours": ["pink"], "score": 6, "visits": "many", "shoe": 42},
        "consent": ["sms"]});
    let refused = app.call(public(&app, path, "198.51.100.2", bad)).await;
    assert_eq!(
        refused.invalid_fields(),
        ["answers.shoe", "answers.email", "answers.age_bracket", "answers.colours", "answers.score", "answers.visits"],
        "{}",
        refused.text
    );
    let no_consent_text = app
        .call(public(&app, path, "198.51.100.2", json!({"answers": {"age_bracket": "18-25"}, "consent": ["sms"]})))
        .await;
    assert_eq!(no_consent_text.invalid_fields(), ["consent"]);
    let unknown = app.call(public(&app, "/v1/forms/nope/submissions", "198.51.100.2", json!({"answers": {}}))).await;
    unknown.assert_problem(404);
    for table in ["form_submissions", "customers", "attribute_history", "promo_codes", "messages"] {
        assert_eq!(app.count(table).await, 0, "nothing written in {table}");
    }
}

async fn the_new_form_endpoint_has_the_public_protections(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_FORM_RATE_LIMIT", "3"), ("RAPPORT_CORS_ORIGINS", "https://shop.example")],
    )
    .await;
    define(&app, questionnaire()).await;
    let path = "/v1/forms/perfume-taste/submissions";
    // No token, or the wrong scope.
    let anonymous = TestRequest::post().uri(path).set_json(json!({"answers": {"age_bracket": "18-25"}}));
    app.call(anonymous).await.assert_problem(401);
    let wrong_scope = TestRequest::post()
        .uri(path)
        .insert_header(bearer(&app.token("customers:read")))
        .set_json(json!({"answers": {"age_bracket": "18-25"}}));
    app.call(wrong_scope).await.assert_problem(403);
    // The honeypot: answered the same, kept as spam without its content.
    let bot = json!({"answers": {"email": "bot@example.com", "age_bracket": "18-25"}, "website": "http://spam"});
    let answered = app.call(public(&app, path, "203.0.113.9", bot)).await;
    assert_eq!(answered.status.as_u16(), 202);
    assert_eq!(answered.body, json!({"status": "accepted"}));
    assert_eq!(app.count("form_submissions WHERE status = 'spam' AND answers = '{}' AND customer_id IS NULL").await, 1);
    assert_eq!(app.count("customers").await, 0);
    // Size limit.
    let huge = json!({"answers": {"age_bracket": "18-25", "first_name": "x".repeat(20_000)}});
    app.call(public(&app, path, "203.0.113.9", huge)).await.assert_problem(413);
    // The rate limit is shared with the other public endpoints (3 per minute here: the
    // spam, the oversized body and this one).
    let third = app.call(public(&app, path, "203.0.113.9", json!({"answers": {"age_bracket": "18-25"}}))).await;
    assert_eq!(third.status.as_u16(), 202);
    let limited = app.call(public(&app, path, "203.0.113.9", json!({"answers": {"age_bracket": "18-25"}}))).await;
    limited.assert_problem(429);
    assert!(limited.header("retry-after").is_some());
    // CORS: only the configured origin.
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri(path)
            .insert_header(("Origin", origin.to_string()))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "authorization, content-type"))
    };
    let allowed = app.call(preflight("https://shop.example")).await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://shop.example"));
    let refused = app.call(preflight("https://evil.example")).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    // No enumeration: a known and an unknown email get the same answer.
    app.create_customer(json!({"email": "known@example.com"})).await;
    let known = json!({"answers": {"email": "known@example.com", "age_bracket": "18-25"}});
    let unknown = json!({"answers": {"email": "new@example.com", "age_bracket": "18-25"}});
    let a = app.call(public(&app, path, "203.0.113.10", known)).await;
    let b = app.call(public(&app, path, "203.0.113.10", unknown)).await;
    assert_eq!((a.status, &a.body), (b.status, &b.body));
}

async fn a_questionnaire_round_trip_through_a_real_smtp_sink(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    define(&app, questionnaire()).await;
    let ana = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana"})).await;
    let ben = app.create_customer(json!({"email": "ben@example.com"})).await;
    let id = ana["id"].as_i64().unwrap();
    // A personal link each; Ana answers, Ben never opens his.
    let link = app.get(&format!("/v1/customers/{id}/forms/perfume-taste/link"), &app.token("customers:write")).await;
    assert_eq!(link.status.as_u16(), 200, "{}", link.text);
    let url = link.body["url"].as_str().unwrap().to_string();
    let token = link.body["token"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://shop.example/v1/public/forms/perfume-taste?token="), "{url}");
    app.get(&format!("/v1/customers/{}/forms/perfume-taste/link", ben["id"]), &app.token("customers:write")).await;
    app.get("/v1/customers/999999/forms/perfume-taste/link", &app.token("customers:write")).await.assert_problem(404);

    let page = app.call(TestRequest::get().uri(url.trim_start_matches("https://shop.example"))).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    assert!(page.text.contains("<!doctype html>") && page.text.contains("Tell us your taste"), "{}", page.text);
    assert!(page.text.contains(&token), "the page posts with the link's token");
    let wrong = app.call(TestRequest::get().uri("/v1/public/forms/perfume-taste?token=nope")).await;
    assert_eq!(wrong.status.as_u16(), 404);

    // Ben's address given through Ana's link changes nothing and tells nothing.
    let answers = json!({"token": token, "answers": {"email": "ben@example.com", "first_name": "Anna", "age_bracket": "26-40",
        "colours": ["green", "red"], "score": 5, "visits": 12}, "consent": ["email"]});
    let sent = app.call(TestRequest::post().uri("/v1/public/forms/perfume-taste").set_json(answers.clone())).await;
    assert_eq!(sent.status.as_u16(), 202, "{}", sent.text);
    let again = app.call(TestRequest::post().uri("/v1/public/forms/perfume-taste").set_json(answers)).await;
    again.assert_problem(409);
    let used_page = app.call(TestRequest::get().uri(url.trim_start_matches("https://shop.example"))).await;
    assert_eq!(used_page.status.as_u16(), 409);

    // A public answer earns no reward (it could name any address); only links and the shop's
    // records do.
    let public_answer = json!({"answers": {"email": "carl+1@example.com", "age_bracket": "18-25"}});
    let answered = app.call(public(&app, "/v1/forms/perfume-taste/submissions", "198.51.100.4", public_answer)).await;
    assert_eq!(answered.status.as_u16(), 202, "{}", answered.text);
    assert_eq!(app.count("form_submissions WHERE reward_type IS NOT NULL").await, 1);

    // Through a link the answers replace: the customer's own statement.
    let after = customer(&app, id).await;
    assert_eq!(after["email"], "ana@example.com");
    assert_eq!(history(&app, id, "email").await[0]["applied"], false);
    assert_eq!(after["first_name"], "Anna");
    assert_eq!(after["attributes"]["age_bracket"], "26-40");
    assert_eq!(after["attributes"]["colours"], json!(["red", "green"]));
    let age = history(&app, id, "attributes.age_bracket").await;
    assert_eq!(age[0]["source"], "questionnaire");
    assert_eq!(age[0]["applied"], true);
    assert_eq!(age[0]["actor"], format!("customer:{id}"));
    // Consent asked (double opt-in: pending) with the form's wording.
    let consents = app.get(&format!("/v1/customers/{id}/consents"), &app.token("customers:read")).await;
    assert_eq!(consents.body["channels"][0]["state"], "pending", "{}", consents.text);

    // The reward code by mail, through the SMTP sink.
    assert!(deliver(&app) >= 1);
    let mails = sink.wait_for(2);
    let reward = mails.iter().map(|m| decoded(m)).find(|m| m.contains("your reward code")).expect("a reward mail");
    assert!(reward.contains("To: ana@example.com"), "{reward}");
    let code: String = reward
        .split_whitespace()
        .find(|word| word.starts_with('Q') && word.len() == 9 && word.chars().all(|c| c.is_ascii_alphanumeric()))
        .expect("the code in the mail")
        .to_string();

    // The code is single use: redeemed in Ana's order.
    let product =
        json!({"sku": "EDP-ROSE", "name": "Rose", "product_type": "perfume", "price": 5000, "currency": "EUR"});
    assert_eq!(app.post("/v1/products", &app.token("products:write"), product).await.status.as_u16(), 201);
    // Placed now: the code is valid from when it was issued.
    let placed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let order = |external: &str| {
        json!({"external_id": external, "channel": "web", "placed_at": placed_at, "currency": "EUR",
            "customer": {"id": id}, "lines": [{"sku": "EDP-ROSE", "name": "Rose", "quantity": 1, "unit_price": 5000}],
            "discount_total": 500, "shipping_total": 0, "tax_total": 0, "total": 4500, "promo_code": code})
    };
    let placed = app.post("/v1/orders", &app.token("orders:write"), order("A-1")).await;
    assert_eq!(placed.status.as_u16(), 201, "{}", placed.text);
    assert_eq!(placed.body["promo_code_status"], "applied", "{}", placed.text);
    let second = app.post("/v1/orders", &app.token("orders:write"), order("A-2")).await;
    assert_ne!(second.body["promo_code_status"], "applied", "single use");

    let report = app.get("/v1/forms/perfume-taste/report", &app.token("customers:read")).await;
    assert_eq!(report.status.as_u16(), 200, "{}", report.text);
    let r = &report.body;
    assert_eq!((r["sent"].as_i64(), r["opened"].as_i64(), r["completed"].as_i64()), (Some(2), Some(1), Some(2)));
    assert_eq!(r["response_rate"], 0.5);
    assert_eq!(r["rewards"], json!({"issued": 1, "redeemed": 1}));
    let age = &r["questions"][2];
    assert_eq!(age["name"], "age_bracket");
    assert_eq!(age["counts"][1], json!({"value": "26-40", "count": 1}));
    assert_eq!(age["counts"][0], json!({"value": "18-25", "count": 1}), "Carl's public answer");
    assert_eq!(r["questions"][4]["counts"][4], json!({"value": "5", "count": 1}));
    assert_eq!((r["questions"][5]["mean"].as_f64(), r["questions"][5]["max"].as_f64()), (Some(12.0), Some(12.0)));
    let submissions = app.get("/v1/forms/perfume-taste/submissions", &app.token("customers:read")).await;
    let item = &submissions.body["items"][1]; // newest first: Carl's public answer, then Ana's
    assert_eq!(item["reward"], json!({"type": "promo_code", "status": "mailed", "promo_code": code}));
    assert_eq!(item["via_link"], true);

    // Answering again (the shop records it) gives no second reward.
    let again = app
        .post(
            &format!("/v1/customers/{id}/forms/perfume-taste/answers"),
            &app.token("customers:write"),
            json!({"answers": {"age_bracket": "26-40"}}),
        )
        .await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.text);
    assert_eq!(again.body["reward"], Value::Null);
    assert_eq!(app.count("promo_codes").await, 1);
}

async fn contact_and_subscribe_forms_with_the_shops_questions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    define(
        &app,
        json!({"key": "stall-contact", "title": "Ask us", "purpose": "contact",
        "fields": [
            {"name": "email", "label": "Email", "type": "email", "required": true, "maps_to": "email"},
            {"name": "name", "label": "First name", "type": "text", "maps_to": "first_name"},
            {"name": "subject", "label": "About", "type": "select", "options": ["an order", "a product"]},
            {"name": "message", "label": "Your message", "type": "text", "required": true},
            {"name": "city", "label": "City", "type": "text", "maps_to": "address.city"}
        ]}),
    )
    .await;
    let known = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana"})).await;
    let body = json!({"answers": {"email": "ana@example.com", "name": "Mallory", "subject": "a product",
        "message": "Do you ship to Lyon?", "city": "Lyon"}});
    let sent = app.call(public(&app, "/v1/forms/stall-contact/submissions", "198.51.100.3", body)).await;
    assert_eq!(sent.status.as_u16(), 202, "{}", sent.text);
    let enquiries = app.get("/v1/enquiries", &app.token("customers:read")).await;
    let enquiry = &enquiries.body["items"][0];
    assert_eq!(enquiry["customer_id"], known["id"]);
    assert_eq!(enquiry["subject"], "a product");
    assert_eq!(enquiry["message"], "Do you ship to Lyon?");
    let after = customer(&app, known["id"].as_i64().unwrap()).await;
    assert_eq!(after["first_name"], "Ana", "a public form never overwrites");
    assert_eq!(after["address"]["city"], "Lyon", "but fills blanks");
    let name = history(&app, known["id"].as_i64().unwrap(), "first_name").await;
    assert_eq!((name[0]["value"].as_str(), name[0]["applied"].as_bool()), (Some("Mallory"), Some(false)));

    define(
        &app,
        json!({"key": "newsletter", "title": "News", "purpose": "subscribe",
        "fields": [{"name": "email", "label": "Email", "type": "email", "required": true, "maps_to": "email"}],
        "consent_texts": {"email": "The monthly letter", "sms": "Flash sales by SMS"}}),
    )
    .await;
    let none_ticked = json!({"answers": {"email": "ben@example.com"}});
    assert_eq!(
        app.call(public(&app, "/v1/forms/newsletter/submissions", "198.51.100.3", none_ticked)).await.invalid_fields(),
        ["consent"]
    );
    let ticked = json!({"answers": {"email": "ben@example.com"}, "consent": ["email", "sms"]});
    let sent = app.call(public(&app, "/v1/forms/newsletter/submissions", "198.51.100.3", ticked)).await;
    assert_eq!(sent.status.as_u16(), 202, "{}", sent.text);
    let ben =
        app.get("/v1/customers?email=ben@example.com", &app.token("customers:read")).await.body["items"][0].clone();
    assert_eq!(ben["source"], "newsletter_form");
    let history = app.get(&format!("/v1/customers/{}/consents/history", ben["id"]), &app.token("customers:read")).await;
    let texts: Vec<&str> =
        history.body["items"].as_array().unwrap().iter().filter_map(|e| e["consent_text"].as_str()).collect();
    assert!(texts.contains(&"The monthly letter") && texts.contains(&"Flash sales by SMS"), "{}", history.text);
    assert_eq!(app.count("messages WHERE kind = 'confirmation'").await, 2, "one confirmation per wording");
}

async fn an_older_answer_arriving_late_never_overwrites_a_newer_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    define(&app, questionnaire()).await;
    let ana = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana"})).await;
    let id = ana["id"].as_i64().unwrap();
    let app = &app;
    let record = |answers: Value, at: &str| {
        let body = json!({"answers": answers, "answered_at": at});
        let path = format!("/v1/customers/{id}/forms/perfume-taste/answers");
        let token = app.token("customers:write");
        async move { app.post(&path, &token, body).await }
    };
    let newer = record(json!({"age_bracket": "26-40"}), "2026-10-02T15:00:00Z").await;
    assert_eq!(newer.status.as_u16(), 201, "{}", newer.text);
    // A paper questionnaire from September, typed in later.
    let older = record(json!({"age_bracket": "18-25", "colours": ["blue"]}), "2026-09-01T10:00:00Z").await;
    assert_eq!(older.status.as_u16(), 201, "{}", older.text);
    let after = customer(app, id).await;
    assert_eq!(after["attributes"]["age_bracket"], "26-40", "the newer answer stays");
    assert_eq!(after["attributes"]["colours"], json!(["blue"]), "a field nobody answered later is filled");
    let age = history(app, id, "attributes.age_bracket").await;
    assert_eq!(age.len(), 2);
    assert_eq!((age[0]["value"].as_str(), age[0]["applied"].as_bool()), (Some("18-25"), Some(false)));
    assert_eq!(age[0]["observed_at"], "2026-09-01T10:00:00Z");
    assert_eq!(age[0]["actor"], "test-client");
    assert_eq!((age[1]["value"].as_str(), age[1]["applied"].as_bool()), (Some("26-40"), Some(true)));
    // A change through the API is recorded too, with its source and who made it.
    let patched = app
        .patch(
            &format!("/v1/customers/{id}"),
            &app.token("customers:write"),
            json!({"attributes": {"age_bracket": "41-60"}}),
        )
        .await;
    assert_eq!(patched.status.as_u16(), 200);
    let age = history(app, id, "attributes.age_bracket").await;
    assert_eq!((age[0]["source"].as_str(), age[0]["value"].as_str()), (Some("api"), Some("41-60")));
    assert_eq!(age[0]["actor"], "test-client");
    // A checkout that fills a field records it as the checkout's.
    let order = json!({"external_id": "W-1", "channel": "web", "placed_at": "2026-11-20T14:03:00Z", "currency": "EUR",
        "customer": {"email": "ana@example.com", "last_name": "Silva"},
        "lines": [{"sku": "X", "name": "X", "quantity": 1, "unit_price": 1000}], "total": 1000});
    let placed = app.post("/v1/orders", &app.token("orders:write"), order).await;
    assert_eq!(placed.status.as_u16(), 201, "{}", placed.text);
    let last_name = history(app, id, "last_name").await;
    assert_eq!(
        (last_name[0]["source"].as_str(), last_name[0]["source_ref"].as_str()),
        (Some("checkout"), Some("order:W-1"))
    );
    // A value the record was created with counts as observed at its creation.
    let before_creation = record(json!({"age_bracket": "26-40", "first_name": "Annie"}), "2026-01-05T10:00:00Z").await;
    assert_eq!(before_creation.status.as_u16(), 201, "{}", before_creation.text);
    assert_eq!(customer(app, id).await["first_name"], "Ana");
    // In the future: refused, naming the field.
    let future = record(json!({"age_bracket": "60+"}), "2099-01-01T00:00:00Z").await;
    assert_eq!(future.invalid_fields(), ["answered_at"]);
    app.get("/v1/customers/999999/attributes/history", &app.token("customers:read")).await.assert_problem(404);
}

async fn merges_move_and_erasure_strips_answers_and_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    define(&app, questionnaire()).await;
    let survivor = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana"})).await;
    let duplicate = app.create_customer(json!({"email": "ana.old@example.com", "first_name": "Ana"})).await;
    let (sid, did) = (survivor["id"].as_i64().unwrap(), duplicate["id"].as_i64().unwrap());
    for id in [sid, did] {
        let answered = app
            .post(
                &format!("/v1/customers/{id}/forms/perfume-taste/answers"),
                &app.token("customers:write"),
                json!({"answers": {"age_bracket": "26-40", "first_name": "Quinterra"}}),
            )
            .await;
        assert_eq!(answered.status.as_u16(), 201, "{}", answered.text);
    }
    app.get(&format!("/v1/customers/{did}/forms/perfume-taste/link"), &app.token("customers:write")).await;
    let merged = app
        .post(&format!("/v1/customers/{sid}/merge"), &app.token("customers:write"), json!({"duplicate_id": did}))
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    assert_eq!(app.count(&format!("attribute_history WHERE customer_id = {did}")).await, 0);
    assert_eq!(app.count(&format!("form_links WHERE customer_id = {sid}")).await, 1);
    assert_eq!(app.count(&format!("form_submissions WHERE customer_id = {sid}")).await, 2, "both answers follow");
    assert_eq!(history(&app, sid, "attributes.age_bracket").await.len(), 2);

    let export = app.get(&format!("/v1/customers/{sid}/export"), &app.token("admin")).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.text);
    assert!(!export.body["attribute_history"].as_array().unwrap().is_empty());
    assert_eq!(export.body["form_submissions"][0]["answers"]["first_name"], "Quinterra");

    assert_eq!(app.delete(&format!("/v1/customers/{sid}"), &app.token("admin")).await.status.as_u16(), 204);
    assert_eq!(app.count("attribute_history").await, 0);
    assert_eq!(app.count("form_links").await, 0);
    assert_eq!(app.count("form_submissions WHERE answers LIKE '%Quinterra%'").await, 0);
    assert_eq!(app.count("form_submissions").await, 2, "still counted in the report");
}

async fn the_embed_is_an_accessible_form_posting_with_the_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_PUBLIC_URL", "https://shop.example")]).await;
    define(&app, questionnaire()).await;
    let token = app.token("forms:submit");
    let embed = app.get("/v1/forms/perfume-taste/embed", &token).await;
    assert_eq!(embed.status.as_u16(), 200, "{}", embed.text);
    assert_eq!(embed.header("content-type"), Some("text/html; charset=utf-8"));
    let html = &embed.text;
    assert!(
        html.contains("https:\\/\\/shop.example\\/v1\\/forms\\/perfume-taste\\/submissions")
            || html.contains("https://shop.example/v1/forms/perfume-taste/submissions"),
        "{html}"
    );
    assert!(html.contains(&token), "posts with the forms:submit token");
    for name in ["email", "first_name", "visits"] {
        assert!(html.contains(&format!("<label for=\"rapport-form-perfume-taste-{name}\">")), "{name} is labelled");
    }
    assert!(html.contains("<fieldset>") && html.contains("<legend>Favourite colours</legend>"));
    assert!(html.contains("aria-live=\"polite\"") && html.contains("name=\"website\""));
    assert!(!html.contains("src=") && !html.contains("<link"), "no external assets");
    app.get("/v1/forms/nope/embed", &token).await.assert_problem(404);
    // The page will hold the token: one that can do more than submit forms is refused.
    app.get("/v1/forms/perfume-taste/embed", &app.token("admin")).await.assert_problem(403);
    app.get("/v1/forms/perfume-taste/embed", &app.token("forms:submit customers:read")).await.assert_problem(403);
    assert_eq!(embed.header("cache-control"), Some("no-store"));
    app.get("/v1/forms/perfume-taste/embed", &app.token("customers:read")).await.assert_problem(403);
}

async fn a_campaign_message_carries_each_contacts_personal_link(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    define(&app, questionnaire()).await;
    let ana = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana", "tags": ["new"]})).await;
    crate::segments::set_consent(&app, ana["id"].as_i64().unwrap(), "email", "subscribed").await;
    let campaign = app
        .post("/v1/campaigns", &app.token("campaigns:write"), json!({"name": "Taste", "channel": "email",
            "rules": {"field": "tag", "op": "eq", "value": "new"}, "subject": "A sample for your answers",
            "content": "Hello {{ first_name }}, tell us your taste: {{ form_links[\"perfume-taste\"] }} {{ form_links.nope }}"}))
        .await;
    assert_eq!(campaign.status.as_u16(), 201, "{}", campaign.text);
    let id = campaign.body["id"].as_i64().unwrap();
    let preview = app
        .post(&format!("/v1/campaigns/{id}/preview"), &app.token("campaigns:read"), json!({"customer_id": ana["id"]}))
        .await;
    assert!(
        preview.body["text"].as_str().unwrap().contains("/v1/public/forms/perfume-taste?token=preview"),
        "{}",
        preview.text
    );
    assert_eq!(app.count("form_links").await, 0, "a preview makes no link");
    let launched = app.post(&format!("/v1/campaigns/{id}/launch"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(launched.status.as_u16(), 200, "{}", launched.text);
    let content = |page: &crate::helpers::TestResponse| page.body["items"][0]["content"].as_str().unwrap().to_string();
    let first = app.get(&format!("/v1/campaigns/{id}/contacts"), &app.token("campaigns:read")).await;
    let second = app.get(&format!("/v1/campaigns/{id}/contacts"), &app.token("campaigns:read")).await;
    assert_eq!(content(&first), content(&second), "the same link however often it is rendered");
    let sent = app.post(&format!("/v1/campaigns/{id}/send"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(sent.status.as_u16(), 200, "{}", sent.text);
    assert_eq!(deliver(&app), 1);
    let mail = decoded(&sink.wait_for(1).remove(0));
    let start = mail.find("https://shop.example/v1/public/forms/perfume-taste?token=").expect("the link in the mail");
    let url: String = mail[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    assert!(content(&first).contains(&url), "the mail carries the contact's link");
    let page = app.call(TestRequest::get().uri(url.trim_start_matches("https://shop.example"))).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let report = app.get("/v1/forms/perfume-taste/report", &app.token("customers:read")).await;
    assert_eq!((report.body["sent"].as_i64(), report.body["opened"].as_i64()), (Some(1), Some(1)));
}
