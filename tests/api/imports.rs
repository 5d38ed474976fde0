use std::time::Duration;

use actix_web::test::TestRequest;
use rapport::services::imports::{create_job, resume_unfinished, ImportContext, ImportMode};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp, TestResponse};

both_backends!(
    import_reports_bad_rows_by_line_and_imports_the_good_ones,
    upsert_imports_are_idempotent_and_create_only_refuses_known_emails,
    imported_consent_never_overrides_newer_events,
    imports_never_bring_back_erased_people,
    bad_import_files_are_refused,
    export_streams_every_customer_and_imports_back,
    an_interrupted_import_resumes_where_it_stopped,
);

async fn post_csv(app: &TestApp, mode: &str, csv: &str) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(&format!("/v1/imports?mode={mode}"))
            .insert_header(bearer(&app.token("admin")))
            .insert_header(("Content-Type", "text/csv"))
            .set_payload(csv.to_string()),
    )
    .await
}

/// Posts a file and waits (bounded) for the job to finish.
pub(crate) async fn import(app: &TestApp, mode: &str, csv: &str) -> Value {
    let response = post_csv(app, mode, csv).await;
    assert_eq!(response.status.as_u16(), 202, "{}", response.text);
    let location = response.header("location").unwrap().to_string();
    wait(app, &location).await
}

async fn wait(app: &TestApp, location: &str) -> Value {
    for _ in 0..300 {
        let job = app.get(location, &app.token("admin")).await;
        if matches!(job.body["status"].as_str(), Some("completed" | "failed")) {
            return job.body;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

async fn customer_by_email(app: &TestApp, email: &str) -> Value {
    app.get(&format!("/v1/customers?email={email}"), &app.token("customers:read")).await.body["items"][0].clone()
}

async fn import_reports_bad_rows_by_line_and_imports_the_good_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let csv = "email,first_name,phone,tags,attributes.colour,country,consent_email,consent_email_at\n\
               Ana@Example.com, Ana ,+33 6 12 34 56 78,VIP;web,green,fr,subscribed,2025-03-01T10:00:00Z\n\
               not-an-email,Bob,,,,,,\n\
               cleo@example.com,Cleo,,,,XX,,\n\
               dan@example.com,Dan,,,,,subscribed,\n\
               eve@example.com,Eve,,,,,unsubscribed,2025-01-01\n";
    let job = import(&app, "create_only", csv).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!((job["rows"].as_i64(), job["processed"].as_i64()), (Some(5), Some(5)));
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(2), Some(3)));
    let errors: Vec<(i64, &str)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, vec![(3, "email"), (4, "address.country"), (5, "consent_email_at")]);

    let ana = customer_by_email(&app, "ana@example.com").await;
    assert_eq!(ana["first_name"], "Ana");
    assert_eq!(ana["phone"], "+33612345678");
    assert_eq!(ana["tags"], json!(["vip", "web"]));
    assert_eq!(ana["attributes"], json!({"colour": "green"}));
    assert_eq!(ana["source"], "import");
    assert_eq!(ana["consents"]["email"], "subscribed");
    let consents = app.get(&format!("/v1/customers/{}/consents", ana["id"]), &app.token("customers:read")).await;
    assert_eq!(consents.body["channels"][0]["opt_in_level"], "unknown");
    assert_eq!(consents.body["channels"][0]["updated_at"], "2025-03-01T10:00:00Z");
    assert_eq!(customer_by_email(&app, "eve@example.com").await["consents"]["email"], "unsubscribed");
    assert_eq!(app.count("customers").await, 2, "rejected rows wrote nothing");
}

async fn upsert_imports_are_idempotent_and_create_only_refuses_known_emails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let existing =
        app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana", "phone": "+33612345678"})).await;
    let csv = "email,last_name,phone,consent_sms,consent_sms_at\n\
               ana@example.com,Silva,,subscribed,2025-05-01T00:00:00Z\n\
               new@example.com,Newman,,,\n";
    let first = import(&app, "upsert", csv).await;
    assert_eq!(
        (first["created"].as_i64(), first["updated"].as_i64(), first["rejected"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
    let ana = customer_by_email(&app, "ana@example.com").await;
    assert_eq!(ana["id"], existing["id"]);
    assert_eq!((ana["first_name"].as_str(), ana["last_name"].as_str()), (Some("Ana"), Some("Silva")));
    assert_eq!(ana["phone"], "+33612345678", "empty cells never erase");
    let events = app.count("consent_events").await;

    let again = import(&app, "upsert", csv).await;
    assert_eq!(
        (again["unchanged"].as_i64(), again["created"].as_i64(), again["updated"].as_i64()),
        (Some(2), Some(0), Some(0))
    );
    assert_eq!(app.count("consent_events").await, events, "a re-run records each consent once");
    assert_eq!(app.count("customers").await, 2);

    let refused = import(&app, "create_only", csv).await;
    assert_eq!(refused["rejected"], 2);
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains(&format!("id {}", existing["id"])));
}

async fn imported_consent_never_overrides_newer_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    app.put(
        &format!("/v1/customers/{}/consents/email", customer["id"]),
        &app.token("consents:write"),
        json!({"state": "unsubscribed", "source": "api", "occurred_at": "2026-06-01T00:00:00Z"}),
    )
    .await;
    let job = import(
        &app,
        "upsert",
        "email,consent_email,consent_email_at\nana@example.com,subscribed,2025-01-01T00:00:00Z\n",
    )
    .await;
    assert_eq!(job["status"], "completed");
    assert_eq!(
        customer_by_email(&app, "ana@example.com").await["consents"]["email"],
        "unsubscribed",
        "no resubscription"
    );
    assert_eq!(app.count("consent_events").await, 2, "the older event is kept in the ledger");
    let future = import(
        &app,
        "upsert",
        "email,consent_email,consent_email_at\nana@example.com,subscribed,2999-01-01T00:00:00Z\n",
    )
    .await;
    assert_eq!(future["errors"][0]["field"], "consent_email_at");
}

async fn imports_never_bring_back_erased_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"email": "gone@example.com", "phone": "+33612345678"})).await;
    app.delete(&format!("/v1/customers/{}", customer["id"]), &app.token("admin")).await;
    let job = import(&app, "upsert", "email,phone,consent_email,consent_email_at\ngone@example.com,,subscribed,2025-01-01T00:00:00Z\n,+33612345678,,\n").await;
    assert_eq!((job["rejected"].as_i64(), job["created"].as_i64()), (Some(2), Some(0)));
    assert_eq!(app.get("/v1/customers", &app.token("customers:read")).await.body["items"], json!([]));
}

async fn bad_import_files_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let unknown = post_csv(&app, "upsert", "email,favourite_colour\na@example.com,blue\n").await;
    assert_eq!(unknown.invalid_fields(), vec!["columns.favourite_colour"]);
    post_csv(&app, "merge", "email\na@example.com\n").await.assert_problem(400);
    post_csv(&app, "upsert", "email,first_name\na@example.com\n").await.assert_problem(400);
    let json_body = app
        .call(TestRequest::post().uri("/v1/imports").insert_header(bearer(&app.token("admin"))).set_json(json!({})))
        .await;
    json_body.assert_problem(415);
    let not_admin = app
        .call(
            TestRequest::post()
                .uri("/v1/imports")
                .insert_header(bearer(&app.token("customers:write")))
                .insert_header(("Content-Type", "text/csv"))
                .set_payload("email\n"),
        )
        .await;
    not_admin.assert_problem(403);
    app.get("/v1/imports/999", &app.token("admin")).await.assert_problem(404);
    assert_eq!(app.count("import_jobs").await, 0);
}

async fn export_streams_every_customer_and_imports_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for n in 0..3 {
        let body = json!({"email": format!("c{n}@example.com"), "first_name": format!("C{n}"), "tags": ["a", "b"],
            "attributes": {"colour": "red", "size": n}});
        app.create_customer(body).await;
    }
    // More than one export page.
    let csv: String = (3..1203).map(|n| format!("c{n}@example.com,C{n}\n")).collect();
    assert_eq!(import(&app, "create_only", &format!("email,first_name\n{csv}")).await["created"], 1200);
    app.put(
        "/v1/customers/1/consents/email",
        &app.token("consents:write"),
        json!({"state": "subscribed", "source": "admin", "occurred_at": "2025-02-02T00:00:00Z"}),
    )
    .await;

    let export = app.get("/v1/customers/export.csv", &app.token("admin")).await;
    assert_eq!(export.status.as_u16(), 200);
    assert!(export.header("content-type").unwrap().starts_with("text/csv"));
    let mut lines = export.text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("kind,first_name,last_name,company_name,email,phone,"), "{header}");
    assert!(header.contains("attributes.colour,attributes.size,consent_email,consent_email_at"), "{header}");
    assert_eq!(lines.count(), 1203, "every customer once");
    assert!(
        export
            .text
            .contains("person,C0,,,c0@example.com,,,,,,,,,,,api,a;b,,,,,,,,,,,,red,0,subscribed,2025-02-02T00:00:00Z"),
        "{}",
        &export.text[..400]
    );
    app.get("/v1/customers/export.csv", &app.token("customers:read")).await.assert_problem(403);

    let copy = TestApp::spawn(backend).await;
    let job = import(&copy, "upsert", &export.text).await;
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(1203), Some(0)), "{job}");
    let c0 = customer_by_email(&copy, "c0@example.com").await;
    assert_eq!(c0["tags"], json!(["a", "b"]));
    assert_eq!(c0["consents"]["email"], "subscribed");
}

async fn an_interrupted_import_resumes_where_it_stopped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let csv = "email\nfirst@example.com\nsecond@example.com\nthird@example.com\n";
    // As if a crash happened after the batch holding the first row was committed.
    let id = app
        .state
        .db
        .with_conn(|conn| {
            let id = create_job(conn, ImportMode::CreateOnly, csv.to_string(), 3, "test")?;
            use diesel::RunQueryDsl;
            diesel::sql_query(format!(
                "UPDATE import_jobs SET status = 'running', next_row = 1, created = 1 WHERE id = {id}"
            ))
            .execute(conn)?;
            Ok(id)
        })
        .unwrap();
    app.create_customer(json!({"email": "first@example.com"})).await;
    let context = ImportContext { database: app.state.db.clone(), keys: app.state.keys.clone(), default_country: None };
    assert_eq!(resume_unfinished(&context).unwrap(), 1);
    let job = wait(&app, &format!("/v1/imports/{id}")).await;
    assert_eq!(
        (job["created"].as_i64(), job["rejected"].as_i64(), job["processed"].as_i64()),
        (Some(3), Some(0), Some(3)),
        "{job}"
    );
    assert_eq!(app.count("customers").await, 3);
    assert_eq!(app.count("import_files").await, 0, "the file is dropped once done");
}
