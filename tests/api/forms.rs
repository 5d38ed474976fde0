use actix_web::test::TestRequest;
use rapport::services::messages::{deliver_due, Mailer, MAX_ATTEMPTS};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp, TestResponse};
use crate::smtp_sink::{decoded, SmtpSink};

both_backends!(
    double_opt_in_round_trip_through_smtp,
    expired_and_unknown_confirmation_links,
    single_opt_in_when_double_opt_in_is_off,
    contact_form_fills_blanks_and_stores_the_enquiry,
    answers_do_not_reveal_known_emails,
    honeypot_is_answered_but_stored_as_spam,
    rate_limit_per_ip_with_headers,
    bad_form_input_is_rejected,
    cors_allows_only_configured_origins,
    one_click_unsubscribe_is_idempotent,
    failed_deliveries_are_retried_then_marked_failed,
    the_background_worker_delivers,
);

fn form(app: &TestApp, path: &str, ip: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .peer_addr(format!("{ip}:40000").parse().unwrap())
        .insert_header(bearer(&app.token("forms:submit")))
        .insert_header(("User-Agent", "Mozilla/5.0 (form test)"))
        .set_json(body)
}

async fn subscribe(app: &TestApp, email: &str) -> TestResponse {
    app.call(form(
        app,
        "/v1/forms/subscribe",
        "198.51.100.1",
        json!({"email": email, "first_name": "Ana",
        "consent_text": "Send me the monthly newsletter", "website": ""}),
    ))
    .await
}

async fn consents(app: &TestApp, customer_id: i64) -> Value {
    app.get(&format!("/v1/customers/{customer_id}/consents"), &app.token("customers:read")).await.body
}

async fn only_customer_id(app: &TestApp) -> i64 {
    let page = app.get("/v1/customers", &app.token("customers:read")).await;
    let items = page.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", page.body);
    items[0]["id"].as_i64().unwrap()
}

fn deliver(app: &TestApp, now: chrono::NaiveDateTime) -> usize {
    let mailer = Mailer::from_config(&app.state.config.mail).unwrap().expect("SMTP configured");
    app.state.db.with_conn(|conn| deliver_due(conn, &mailer, now)).unwrap()
}

fn link_token(mail: &str) -> String {
    let text = decoded(mail);
    let start = text.find("https://shop.example/v1/public/confirm?token=").expect("a confirmation link");
    let token: String = text[start..]
        .split("token=")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert!(token.len() >= 43, "{token}");
    token
}

async fn double_opt_in_round_trip_through_smtp(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example/")],
    )
    .await;
    let response = subscribe(&app, "Ana@Example.com").await;
    assert_eq!(response.status.as_u16(), 202, "{}", response.text);
    assert_eq!(response.body, json!({"status": "accepted"}));
    let id = only_customer_id(&app).await;
    let before = consents(&app, id).await;
    assert_eq!(before["channels"][0]["state"], "pending");

    let outbox = app.get("/v1/messages", &app.token("admin")).await;
    assert_eq!(outbox.body["items"][0]["status"], "pending");
    assert_eq!(outbox.body["items"][0]["recipient"], "ana@example.com");
    app.get("/v1/messages", &app.token("customers:read")).await.assert_problem(403);

    assert_eq!(deliver(&app, rapport::services::now()), 1);
    let mail = sink.wait_for(1).remove(0);
    assert!(mail.contains("To: ana@example.com"), "{mail}");
    assert!(mail.contains("Subject: Please confirm your subscription"));
    let token = link_token(&mail);
    let sent = app.get("/v1/messages", &app.token("admin")).await;
    assert_eq!(sent.body["items"][0]["status"], "sent");

    // Opening the link only shows a button: mail scanners must not confirm.
    let page = app
        .call(
            TestRequest::get()
                .uri(&format!("/v1/public/confirm?token={token}"))
                .peer_addr("192.0.2.50:1".parse().unwrap()),
        )
        .await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("<form method=\"post\"") && page.text.contains(&token));
    assert_eq!(consents(&app, id).await["channels"][0]["state"], "pending");

    let confirmed = app
        .call(
            TestRequest::post()
                .uri("/v1/public/confirm")
                .peer_addr("192.0.2.77:5555".parse().unwrap())
                .insert_header(("User-Agent", "Confirming Browser"))
                .set_json(json!({"token": token})),
        )
        .await;
    assert_eq!(confirmed.status.as_u16(), 200, "{}", confirmed.text);
    assert_eq!(confirmed.body, json!({"status": "confirmed"}));
    let email = &consents(&app, id).await["channels"][0];
    assert_eq!(
        (email["state"].as_str(), email["opt_in_level"].as_str()),
        (Some("subscribed"), Some("confirmed_opt_in"))
    );
    let history = app.get(&format!("/v1/customers/{id}/consents/history"), &app.token("customers:read")).await;
    let event = &history.body["items"][0];
    assert_eq!(event["source"], "confirmation_link");
    assert_eq!(event["ip"], "192.0.2.77");
    assert_eq!(event["user_agent"], "Confirming Browser");
    assert_eq!(event["consent_text"], "Send me the monthly newsletter");
    assert_eq!(history.body["items"][1]["ip"], "198.51.100.1", "the sign-up's IP is kept too");

    let reused = app.call(TestRequest::post().uri("/v1/public/confirm").set_json(json!({"token": token}))).await;
    reused.assert_problem(409);
    // Subscribing again once confirmed changes nothing and sends nothing.
    assert_eq!(subscribe(&app, "ana@example.com").await.status.as_u16(), 202);
    assert_eq!(consents(&app, id).await["channels"][0]["state"], "subscribed");
    assert_eq!(app.count("messages").await, 1);
}

async fn expired_and_unknown_confirmation_links(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    subscribe(&app, "late@example.com").await;
    deliver(&app, rapport::services::now());
    let token = link_token(&sink.wait_for(1)[0]);
    app.state
        .db
        .with_conn(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE confirmation_tokens SET expires_at = created_at").execute(conn)?;
            Ok(())
        })
        .unwrap();
    let expired = app.call(TestRequest::post().uri("/v1/public/confirm").set_json(json!({"token": token}))).await;
    expired.assert_problem(410);
    let unknown =
        app.call(TestRequest::post().uri("/v1/public/confirm").set_json(json!({"token": "x".repeat(43)}))).await;
    unknown.assert_problem(404);
    let missing = app.call(TestRequest::post().uri("/v1/public/confirm").set_json(json!({"token": ""}))).await;
    missing.assert_problem(422);
    let id = only_customer_id(&app).await;
    assert_eq!(consents(&app, id).await["channels"][0]["state"], "pending");
}

async fn single_opt_in_when_double_opt_in_is_off(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_DOUBLE_OPT_IN", "false")]).await;
    let response = app
        .call(form(
            &app,
            "/v1/forms/subscribe",
            "198.51.100.1",
            json!({"email": "ana@example.com", "channels": ["email", "sms"],
            "consent_text": "News by email and SMS"}),
        ))
        .await;
    assert_eq!(response.status.as_u16(), 202);
    let id = only_customer_id(&app).await;
    let state = consents(&app, id).await;
    for channel in &state["channels"].as_array().unwrap()[..2] {
        assert_eq!(
            (channel["state"].as_str(), channel["opt_in_level"].as_str()),
            (Some("subscribed"), Some("single_opt_in"))
        );
    }
    assert_eq!(app.count("messages").await, 0);
    let customer = app.get(&format!("/v1/customers/{id}"), &app.token("customers:read")).await;
    assert_eq!(customer.body["source"], "newsletter_form");
}

async fn contact_form_fills_blanks_and_stores_the_enquiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let existing =
        app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana", "source": "store"})).await;
    let response = app
        .call(form(
            &app,
            "/v1/forms/contact",
            "198.51.100.9",
            json!({"email": "ANA@example.com", "first_name": "Mallory",
            "last_name": "Silva", "subject": "Ring sizes", "message": "Do you make it in size 7?\nThanks",
            "consent": {"channels": ["email"], "text": "Send me offers"}}),
        ))
        .await;
    assert_eq!(response.status.as_u16(), 202, "{}", response.text);
    let customer = app.get(&format!("/v1/customers/{}", existing["id"]), &app.token("customers:read")).await;
    assert_eq!(customer.body["first_name"], "Ana", "a public form never overwrites");
    assert_eq!(customer.body["last_name"], "Silva", "but fills blanks");
    assert_eq!(customer.body["source"], "store");
    assert_eq!(customer.body["consents"]["email"], "pending");
    assert_eq!(app.count("enquiries").await, 1);
    assert_eq!(app.count("customers").await, 1);

    let newcomer = app
        .call(form(&app, "/v1/forms/contact", "198.51.100.9", json!({"email": "bob@example.com", "message": "Hello"})))
        .await;
    assert_eq!(newcomer.status.as_u16(), 202);
    let found = app.get("/v1/customers?email=bob@example.com", &app.token("customers:read")).await;
    assert_eq!(found.body["items"][0]["source"], "contact_form");
    assert_eq!(found.body["items"][0]["consents"]["email"], "not_set", "no consent without the checkbox");
}

async fn answers_do_not_reveal_known_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customer(json!({"email": "known@example.com"})).await;
    let known = subscribe(&app, "known@example.com").await;
    let unknown = subscribe(&app, "unknown@example.com").await;
    assert_eq!((known.status, &known.body, &known.text), (unknown.status, &unknown.body, &unknown.text));
    let names = |r: &TestResponse| {
        let mut names: Vec<String> = r.headers.keys().map(|k| k.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&known), names(&unknown));
}

async fn honeypot_is_answered_but_stored_as_spam(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .call(form(
            &app,
            "/v1/forms/subscribe",
            "198.51.100.1",
            json!({"email": "bot@example.com",
            "consent_text": "yes", "website": "http://spam.example"}),
        ))
        .await;
    assert_eq!((response.status.as_u16(), response.body.clone()), (202, json!({"status": "accepted"})));
    let contact = app
        .call(form(
            &app,
            "/v1/forms/contact",
            "198.51.100.1",
            json!({"email": "bot@example.com", "message": "buy",
            "website": "x"}),
        ))
        .await;
    assert_eq!(contact.status.as_u16(), 202);
    assert_eq!(app.count("customers").await, 0);
    assert_eq!(app.count("consent_events").await, 0);
    assert_eq!(app.count("messages").await, 0);
    assert_eq!(app.count("enquiries WHERE status = 'spam'").await, 2);
}

async fn rate_limit_per_ip_with_headers(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_FORM_RATE_LIMIT", "3")]).await;
    let body = json!({"email": "ana@example.com", "message": "hi"});
    for remaining in ["2", "1", "0"] {
        let response = app.call(form(&app, "/v1/forms/contact", "203.0.113.5", body.clone())).await;
        assert_eq!(response.status.as_u16(), 202);
        assert_eq!(response.header("ratelimit-limit"), Some("3"));
        assert_eq!(response.header("ratelimit-remaining"), Some(remaining));
        assert!(response.header("ratelimit-reset").unwrap().parse::<u64>().unwrap() <= 60);
    }
    let limited = app
        .call(form(&app, "/v1/forms/subscribe", "203.0.113.5", json!({"email": "a@example.com", "consent_text": "x"})))
        .await;
    limited.assert_problem(429);
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let public = app
        .call(TestRequest::get().uri("/v1/public/unsubscribe?token=x").peer_addr("203.0.113.5:1".parse().unwrap()))
        .await;
    public.assert_problem(429);
    let other_ip = app.call(form(&app, "/v1/forms/contact", "203.0.113.6", body)).await;
    assert_eq!(other_ip.status.as_u16(), 202, "the limit is per IP");
    assert_eq!(app.count("enquiries").await, 4);
}

async fn bad_form_input_is_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases = [
        ("/v1/forms/contact", json!({"email": "not-an-email", "message": "hi"}), "email"),
        ("/v1/forms/contact", json!({"email": "a@example.com", "message": "bell\u{7}"}), "message"),
        ("/v1/forms/contact", json!({"email": "a@example.com", "message": "   "}), "message"),
        (
            "/v1/forms/contact",
            json!({"email": "a@example.com", "message": "hi", "subject": "s".repeat(201)}),
            "subject",
        ),
        ("/v1/forms/contact", json!({"email": "a@example.com", "message": "x".repeat(5001)}), "message"),
        (
            "/v1/forms/contact",
            json!({"email": "a@example.com", "message": "hi", "first_name": "Ana\u{0}"}),
            "first_name",
        ),
        ("/v1/forms/contact", json!({"email": "a@example.com", "message": "hi", "admin": true}), "admin"),
        ("/v1/forms/contact", json!({"email": "a@example.com"}), "message"),
        (
            "/v1/forms/contact",
            json!({"email": "a@example.com", "message": "hi", "consent": {"channels": [], "text": "x"}}),
            "consent.channels",
        ),
        ("/v1/forms/subscribe", json!({"email": "a@example.com", "consent_text": ""}), "consent_text"),
        (
            "/v1/forms/subscribe",
            json!({"email": "a@example.com", "consent_text": "x", "channels": ["fax"]}),
            "channels[0]",
        ),
    ];
    for (n, (path, body, field)) in cases.into_iter().enumerate() {
        let response = app.call(form(&app, path, &format!("198.51.100.{n}"), body.clone())).await;
        assert_eq!(response.invalid_fields(), vec![field.to_string()], "{body}");
    }
    let mut big = json!({"email": "a@example.com", "message": "x".repeat(17 * 1024)});
    big["message"] = json!("x".repeat(17 * 1024));
    app.call(form(&app, "/v1/forms/contact", "198.51.100.200", big)).await.assert_problem(413);
    let no_token = app
        .call(TestRequest::post().uri("/v1/forms/contact").set_json(json!({"email": "a@example.com", "message": "hi"})))
        .await;
    no_token.assert_problem(401);
    let wrong_scope = app
        .call(
            TestRequest::post()
                .uri("/v1/forms/contact")
                .insert_header(bearer(&app.token("customers:write")))
                .set_json(json!({"email": "a@example.com", "message": "hi"})),
        )
        .await;
    wrong_scope.assert_problem(403);
    // The forms token can do nothing else.
    app.get("/v1/customers", &app.token("forms:submit")).await.assert_problem(403);
    assert_eq!(app.count("customers").await + app.count("enquiries").await, 0);
}

async fn cors_allows_only_configured_origins(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, &[("RAPPORT_CORS_ORIGINS", "https://shop.example, https://www.shop.example")])
            .await;
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/v1/forms/subscribe")
            .insert_header(("Origin", origin.to_string()))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "authorization, content-type"))
    };
    let allowed = app.call(preflight("https://shop.example")).await;
    assert_eq!(allowed.status.as_u16(), 200);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://shop.example"));
    let refused = app.call(preflight("https://evil.example")).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let post = app
        .call(
            form(&app, "/v1/forms/subscribe", "198.51.100.1", json!({"email": "a@example.com", "consent_text": "x"}))
                .insert_header(("Origin", "https://www.shop.example")),
        )
        .await;
    assert_eq!(post.status.as_u16(), 202);
    assert_eq!(post.header("access-control-allow-origin"), Some("https://www.shop.example"));
}

async fn one_click_unsubscribe_is_idempotent(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_PUBLIC_URL", "https://shop.example")]).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    let id = customer["id"].as_i64().unwrap();
    app.put(
        &format!("/v1/customers/{id}/consents/email"),
        &app.token("consents:write"),
        json!({"state": "subscribed", "source": "admin"}),
    )
    .await;
    let link =
        app.get(&format!("/v1/customers/{id}/unsubscribe-url?channel=email"), &app.token("customers:read")).await;
    assert_eq!(link.status.as_u16(), 200, "{}", link.text);
    let url = link.body["url"].as_str().unwrap();
    assert!(url.starts_with("https://shop.example/v1/public/unsubscribe?token="), "{url}");
    let path = url.trim_start_matches("https://shop.example");

    let page = app.call(TestRequest::get().uri(path)).await;
    assert!(page.text.contains("<form method=\"post\""));
    assert_eq!(consents(&app, id).await["channels"][0]["state"], "subscribed", "a GET does not unsubscribe");

    let one_click = || {
        TestRequest::post()
            .uri(path)
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload("List-Unsubscribe=One-Click")
    };
    let first = app.call(one_click()).await;
    assert_eq!((first.status.as_u16(), first.body.clone()), (200, json!({"status": "unsubscribed"})));
    let email = &consents(&app, id).await["channels"][0];
    assert_eq!((email["state"].as_str(), email["source"].as_str()), (Some("unsubscribed"), Some("unsubscribe_link")));
    let events = app.count("consent_events").await;
    let second = app.call(one_click()).await;
    assert_eq!(second.status.as_u16(), 200);
    assert_eq!(app.count("consent_events").await, events, "a second unsubscribe adds no event");
    let from_browser = app.call(one_click().insert_header(("Accept", "text/html"))).await;
    assert!(from_browser.text.contains("<h1>Unsubscribed</h1>"));

    app.call(TestRequest::post().uri("/v1/public/unsubscribe?token=nope")).await.assert_problem(404);
    app.get(&format!("/v1/customers/{id}/unsubscribe-url?channel=fax"), &app.token("customers:read"))
        .await
        .assert_problem(400);
    app.get("/v1/customers/999/unsubscribe-url?channel=email", &app.token("customers:read")).await.assert_problem(404);
}

async fn failed_deliveries_are_retried_then_marked_failed(backend: Backend) {
    let sink = SmtpSink::start_refusing();
    let app = TestApp::spawn_with(backend, &[("RAPPORT_SMTP_URL", &sink.url())]).await;
    subscribe(&app, "ana@example.com").await;
    let mut now = rapport::services::now();
    assert_eq!(deliver(&app, now), 0);
    let first = app.get("/v1/messages", &app.token("admin")).await;
    let message = &first.body["items"][0];
    assert_eq!((message["status"].as_str(), message["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert!(message["last_error"].as_str().unwrap().contains("550"), "{message}");
    // Not due again before its backoff.
    assert_eq!(deliver(&app, now + chrono::Duration::seconds(10)), 0);
    assert_eq!(app.get("/v1/messages", &app.token("admin")).await.body["items"][0]["attempts"], 1);
    for _ in 1..MAX_ATTEMPTS {
        now += chrono::Duration::hours(1);
        deliver(&app, now);
    }
    let last = app.get("/v1/messages?status=failed", &app.token("admin")).await;
    assert_eq!(last.body["items"][0]["attempts"], MAX_ATTEMPTS);
    assert_eq!(deliver(&app, now + chrono::Duration::days(1)), 0, "failed for good");
    app.get("/v1/messages?status=lost", &app.token("admin")).await.assert_problem(400);
}

async fn the_background_worker_delivers(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn_with(
        backend,
        &[("RAPPORT_SMTP_URL", &sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example")],
    )
    .await;
    rapport::services::messages::spawn_worker(
        app.state.db.clone(),
        Mailer::from_config(&app.state.config.mail).unwrap().unwrap(),
    );
    subscribe(&app, "ana@example.com").await;
    let received = sink.wait_for(1);
    assert_eq!(received.len(), 1, "delivered in the background");
    link_token(&received[0]);
}
