use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};

both_backends!(
    enquiries_are_listed_read_and_triaged,
    timeline_lists_everything_newest_first,
    export_holds_everything_about_the_person,
    erasure_leaves_no_personal_data_anywhere,
    erased_people_get_no_consent_from_imports_or_checkouts,
);

async fn contact(app: &TestApp, email: &str, message: &str) {
    let response = app
        .call(
            TestRequest::post()
                .uri("/v1/forms/contact")
                .peer_addr("198.51.100.77:1234".parse().unwrap())
                .insert_header(bearer(&app.token("forms:submit")))
                .insert_header(("User-Agent", "Erasable Browser 1.0"))
                .set_json(
                    json!({"email": email, "first_name": "Zoé", "last_name": "Quinterro", "phone": "+33687654321",
                    "subject": "About my order", "message": message,
                    "consent": {"channels": ["email"], "text": "Send me offers"}}),
                ),
        )
        .await;
    assert_eq!(response.status.as_u16(), 202, "{}", response.text);
}

async fn enquiries_are_listed_read_and_triaged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contact(&app, "zoe@example.com", "First question").await;
    contact(&app, "max@example.com", "Second question").await;
    let reader = app.token("customers:read");
    let all = app.get("/v1/enquiries", &reader).await;
    assert_eq!(all.status.as_u16(), 200, "{}", all.text);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["message"], "Second question", "newest first");
    assert_eq!(items[0]["ip"], "198.51.100.77");
    let first_id = items[1]["id"].as_i64().unwrap();
    let customer_id = items[1]["customer_id"].as_i64().unwrap();
    let mine = app.get(&format!("/v1/enquiries?customer_id={customer_id}"), &reader).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);

    let writer = app.token("customers:write");
    let triaged = app
        .patch(
            &format!("/v1/enquiries/{first_id}"),
            &writer,
            json!({"status": "in_progress", "assignee": "marie", "note": "call back"}),
        )
        .await;
    assert_eq!(triaged.status.as_u16(), 200, "{}", triaged.text);
    assert_eq!(
        (triaged.body["status"].as_str(), triaged.body["assignee"].as_str()),
        (Some("in_progress"), Some("marie"))
    );
    let cleared = app.patch(&format!("/v1/enquiries/{first_id}"), &writer, json!({"assignee": null})).await;
    assert_eq!((cleared.body["assignee"].clone(), cleared.body["note"].clone()), (Value::Null, json!("call back")));
    assert_eq!(app.get(&format!("/v1/enquiries/{first_id}"), &reader).await.body["status"], "in_progress");
    assert_eq!(app.get("/v1/enquiries?status=in_progress", &reader).await.body["items"].as_array().unwrap().len(), 1);

    assert_eq!(
        app.patch(&format!("/v1/enquiries/{first_id}"), &writer, json!({"status": "done"})).await.invalid_fields(),
        vec!["status"]
    );
    app.patch("/v1/enquiries/999", &writer, json!({"status": "resolved"})).await.assert_problem(404);
    app.get("/v1/enquiries/999", &reader).await.assert_problem(404);
    app.get("/v1/enquiries?status=done", &reader).await.assert_problem(400);
    app.patch(&format!("/v1/enquiries/{first_id}"), &reader, json!({"status": "resolved"})).await.assert_problem(403);
}

async fn timeline_lists_everything_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contact(&app, "zoe@example.com", "Hello").await;
    let id = app.get("/v1/customers?email=zoe@example.com", &app.token("customers:read")).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let duplicate = app.create_customer(json!({"phone": "+33687654321", "first_name": "Z"})).await;
    let merged = app
        .post(
            &format!("/v1/customers/{id}/merge"),
            &app.token("customers:write"),
            json!({"duplicate_id": duplicate["id"]}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200);
    let reader = app.token("customers:read");
    let page = app.get(&format!("/v1/customers/{id}/timeline"), &reader).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let items = page.body["items"].as_array().unwrap();
    let mut kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    let times: Vec<&str> = items.iter().map(|i| i["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] >= pair[1]), "newest first: {times:?}");
    assert_eq!(kinds[0], "merge");
    assert_eq!(items[0]["merge"]["duplicate_id"], duplicate["id"]);
    kinds.sort();
    assert_eq!(kinds, vec!["consent", "enquiry", "merge"]);
    let enquiry = items.iter().find(|i| i["kind"] == "enquiry").unwrap();
    assert_eq!(enquiry["enquiry"]["message"], "Hello");
    let consent = items.iter().find(|i| i["kind"] == "consent").unwrap();
    assert_eq!(consent["consent"]["state"], "pending");

    let first = app.get(&format!("/v1/customers/{id}/timeline?limit=2"), &reader).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/v1/customers/{id}/timeline?limit=2&cursor={cursor}"), &reader).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0], page.body["items"][2]);
    app.get("/v1/customers/999/timeline", &reader).await.assert_problem(404);
}

async fn export_holds_everything_about_the_person(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    contact(&app, "zoe@example.com", "Hello").await;
    let id = app.get("/v1/customers?email=zoe@example.com", &app.token("customers:read")).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let export = app.get(&format!("/v1/customers/{id}/export"), &app.token("customers:read")).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.text);
    assert!(export.header("content-disposition").unwrap().contains("attachment"));
    let body = &export.body;
    assert_eq!(body["customer"]["email"], "zoe@example.com");
    assert_eq!(body["consents"]["channels"][0]["state"], "pending");
    assert_eq!(body["consent_events"][0]["ip"], "198.51.100.77");
    assert_eq!(body["enquiries"][0]["message"], "Hello");
    assert_eq!(body["messages"][0]["recipient"], "zoe@example.com");
    assert_eq!(body["timeline"].as_array().unwrap().len(), 2);
    app.get("/v1/customers/999/export", &app.token("customers:read")).await.assert_problem(404);
}

/// Every text column of every table, for the "no personal data left" scan.
pub(crate) async fn text_columns(app: &TestApp) -> Vec<(String, String)> {
    let backend_is_pg = app.state.db.backend() == rapport::db::Backend::Postgres;
    app.state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Column {
                #[diesel(sql_type = diesel::sql_types::Text)]
                table_name: String,
                #[diesel(sql_type = diesel::sql_types::Text)]
                column_name: String,
            }
            let sql = if backend_is_pg {
                "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
                 WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')"
            } else {
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND upper(p.type) = 'TEXT'"
            };
            Ok(diesel::sql_query(sql).load::<Column>(conn)?.into_iter().map(|c| (c.table_name, c.column_name)).collect())
        })
        .await
        .unwrap()
}

async fn erasure_leaves_no_personal_data_anywhere(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    // Events and webhooks in use: a receiver that refuses every delivery and echoes it back,
    // so that the deliveries stay pending and their last error holds the personal data.
    let receiver = crate::webhook_receiver::Receiver::start();
    receiver.answer_always(Some(500));
    receiver.echo_bodies_in_errors();
    let hook = json!({"url": receiver.url(), "event_types": ["*"]});
    assert_eq!(app.post("/v1/webhooks", &app.token("webhooks:write"), hook).await.status.as_u16(), 201);
    contact(&app, "zoe@example.com", "My address is 12 rue Quinterro").await;
    let id = app.get("/v1/customers?email=zoe@example.com", &app.token("customers:read")).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let patched = app
        .patch(&format!("/v1/customers/{id}"), &app.token("customers:write"),
            json!({"tags": ["quinterro-fan"], "attributes": {"nickname": "Quinterro"}, "notes": "Quinterro called", "address": {"line1": "12 rue Quinterro"}}))
        .await;
    assert_eq!(patched.status.as_u16(), 200);
    // Companies in use: Zoé works for one, with a role that names her.
    let company = app.create_customer(json!({"kind": "company", "company_name": "Acme", "industry": "Tools"})).await;
    let linked = app
        .patch(
            &format!("/v1/customers/{id}"),
            &app.token("customers:write"),
            json!({"company_id": company["id"], "role": "Quinterro liaison"}),
        )
        .await;
    assert_eq!(linked.status.as_u16(), 200, "{}", linked.text);
    let duplicate =
        app.create_customer(json!({"first_name": "Zoé", "last_name": "Quinterro", "phone": "+33687654321"})).await;
    app.post(
        &format!("/v1/customers/{id}/merge"),
        &app.token("customers:write"),
        json!({"duplicate_id": duplicate["id"]}),
    )
    .await;
    app.get(&format!("/v1/customers/{id}/unsubscribe-url?channel=email"), &app.token("customers:read")).await;
    // Spam carrying the same address, not linked to the record.
    app.call(
        TestRequest::post()
            .uri("/v1/forms/subscribe")
            .peer_addr("198.51.100.78:1".parse().unwrap())
            .insert_header(bearer(&app.token("forms:submit")))
            .set_json(json!({"email": "zoe@example.com", "consent_text": "x", "website": "bot"})),
    )
    .await;
    let bystander = app.create_customer(json!({"email": "other@example.com", "first_name": "Other"})).await;
    let database = app.state.db.clone();
    let attempted = actix_web::web::block(move || {
        let sender = rapport::services::webhooks::Sender::new(true).unwrap();
        rapport::services::webhooks::deliver_due(&database, &sender, rapport::domain::now())
    })
    .await
    .unwrap()
    .unwrap();
    // One customer's events go out in order: the first is attempted, the rest wait behind it.
    assert!(attempted >= 1, "deliveries were attempted");
    assert!(app.count("webhook_deliveries WHERE last_error LIKE '%zoe@example.com%'").await > 0, "the echo was kept");

    // Flows in use: the shop is alerted about Zoé's unanswered enquiry, quoting her.
    let alert = app
        .post("/v1/flows", &app.token("campaigns:write"), json!({"from_template": "unresolved_enquiry_alert",
            "steps": [{"type": "notify_shop", "subject": "{{ enquiry.email }} waits", "text": "{{ customer.last_name }} {{ attributes.nickname }}"}]}))
        .await;
    let alert_id = alert.body["id"].as_i64().expect("a flow");
    app.post(&format!("/v1/flows/{alert_id}/activate"), &app.token("campaigns:write"), json!({})).await;
    let later = rapport::domain::now() + chrono::Duration::hours(25);
    let (config, keys) = (&app.state.config, &app.state.keys);
    app.state.db.with_conn(|conn| rapport::services::flows::tick(conn, config, keys, later)).unwrap();
    assert!(
        app.count("messages WHERE kind = 'flow_notification' AND body LIKE '%Quinterro%'").await > 0,
        "the alert quotes her"
    );
    assert!(app.count("flow_runs").await > 0);

    // The shop's own forms in use: a questionnaire answered by her, its history and a link.
    let questionnaire = json!({"key": "taste", "title": "Taste", "purpose": "questionnaire",
        "fields": [{"name": "email", "label": "Email", "type": "email", "maps_to": "email"},
                   {"name": "street", "label": "Street", "type": "text", "maps_to": "attributes.street"}]});
    assert_eq!(app.post("/v1/forms", &app.token("admin"), questionnaire).await.status.as_u16(), 201);
    let answered = app
        .call(
            TestRequest::post()
                .uri("/v1/forms/taste/submissions")
                .peer_addr("198.51.100.77:1".parse().unwrap())
                .insert_header(bearer(&app.token("forms:submit")))
                .insert_header(("User-Agent", "Erasable Browser"))
                .set_json(json!({"answers": {"email": "zoe@example.com", "street": "rue Quinterro"}})),
        )
        .await;
    assert_eq!(answered.status.as_u16(), 202, "{}", answered.text);
    app.get(&format!("/v1/customers/{id}/forms/taste/link"), &app.token("customers:write")).await;
    assert!(app.count("attribute_history WHERE value LIKE '%Quinterro%'").await > 0);

    app.delete(&format!("/v1/customers/{id}"), &app.token("customers:write")).await.assert_problem(403);
    let erased = app.delete(&format!("/v1/customers/{id}"), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);
    app.get(&format!("/v1/customers/{id}"), &app.token("customers:read")).await.assert_problem(404);
    app.delete(&format!("/v1/customers/{id}"), &app.token("admin")).await.assert_problem(404);
    let listed = app.get("/v1/customers", &app.token("customers:read")).await;
    let ids: Vec<i64> = listed.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![bystander["id"].as_i64().unwrap(), company["id"].as_i64().unwrap()]);

    let needles = [
        "zoe@example.com",
        "Quinterro",
        "quinterro",
        "+33687654321",
        "33687654321",
        "198.51.100.77",
        "Erasable Browser",
        "Zoé",
    ];
    for (table, column) in text_columns(&app).await {
        for needle in needles {
            let count = app.count(&format!("{table} WHERE {column} LIKE '%{needle}%'")).await;
            assert_eq!(count, 0, "`{needle}` is still in {table}.{column}");
        }
    }
    assert_eq!(app.count("erasures").await, 1);
    assert_eq!(app.count("suppressions").await, 2, "email and phone");
    assert!(app.count("consent_events").await > 0, "the events stay, stripped");
    assert_eq!(app.count("customer_consents").await, 0, "no current consent for a placeholder");
    assert_eq!(app.count("messages WHERE status = 'pending'").await, 0, "nothing queued goes out");
    assert!(app.count("events WHERE event_type = 'customer.erased'").await == 1, "the erasure is an event");
    assert!(app.count("webhook_deliveries WHERE status = 'pending'").await > 3, "deliveries stay, scrubbed");
    assert_eq!(
        app.get(&format!("/v1/customers/{}", bystander["id"]), &app.token("customers:read")).await.body["first_name"],
        "Other"
    );
}

async fn erased_people_get_no_consent_from_imports_or_checkouts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "zoe@example.com"})).await;
    app.delete(&format!("/v1/customers/{}", customer["id"]), &app.token("admin")).await;
    // The person comes back through a checkout: the record may exist again...
    let again = app.create_customer(json!({"email": "ZOE@example.com"})).await;
    let path = format!("/v1/customers/{}/consents/email", again["id"]);
    let writer = app.token("consents:write");
    for source in ["import", "checkout"] {
        let refused = app.put(&path, &writer, json!({"state": "subscribed", "source": source})).await;
        refused.assert_problem(409);
    }
    assert_eq!(app.count("consent_events").await, 0);
    // ...and only the person's own explicit opt-in brings consent back.
    let form = app
        .call(
            TestRequest::post()
                .uri("/v1/forms/subscribe")
                .peer_addr("198.51.100.1:1".parse().unwrap())
                .insert_header(bearer(&app.token("forms:submit")))
                .set_json(json!({"email": "zoe@example.com", "consent_text": "Newsletter please"})),
        )
        .await;
    assert_eq!(form.status.as_u16(), 202);
    let state = app.get(&format!("/v1/customers/{}", again["id"]), &app.token("customers:read")).await;
    assert_eq!(state.body["consents"]["email"], "pending");
    // Withdrawing is always allowed.
    let withdrawn = app.put(&path, &writer, json!({"state": "unsubscribed", "source": "import"})).await;
    assert_eq!(withdrawn.status.as_u16(), 200);
}
