use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};

both_backends!(
    create_normalizes_and_sets_location,
    create_company_and_identity_rules,
    create_rejects_invalid_fields_without_writing,
    create_rejects_bad_bodies,
    phone_without_country_code_uses_default_country,
    duplicate_email_is_409_with_existing_id,
    concurrent_creates_with_one_email_have_one_winner,
    get_unknown_customer_is_404,
    patch_follows_json_merge_patch,
    patch_rejects_conflicts_and_invalid_values,
    concurrent_patches_lose_no_change,
    upsert_by_email_creates_then_merges,
    upsert_rejects_mismatched_email,
    concurrent_upserts_of_one_email_make_one_customer,
    list_pages_newest_first,
    list_filters,
    list_rejects_bad_queries,
    tags_are_added_and_removed,
    duplicates_are_found_by_each_rule,
    merge_folds_the_duplicate_into_the_survivor,
    merge_edge_cases,
);

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn create_normalizes_and_sets_location(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let response = app
        .post(
            "/v1/customers",
            &token,
            json!({
                "first_name": "  Jean   Paul ", "last_name": "Dupont",
                "email": "  Jean.Paul@Example.COM ", "phone": "+33 6 12 34 56 78",
                "birthday": "1985-02-28", "gender": "male",
                "address": {"line1": " 3 rue des  Lilas ", "city": "Lyon", "postal_code": "69003", "country": "fr"},
                "preferred_language": "FR", "source": "store",
                "tags": [" VIP ", "vip", "Wholesale  Client"],
                "attributes": {"favourite_colour": "green", "sizes": [7, 8]},
                "notes": "met at the fair"
            }),
        )
        .await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    let customer = &response.body;
    let id = customer["id"].as_i64().unwrap();
    assert_eq!(response.header("location"), Some(format!("/v1/customers/{id}").as_str()));
    assert_eq!(customer["kind"], "person");
    assert_eq!(customer["first_name"], "Jean Paul");
    assert_eq!(customer["email"], "jean.paul@example.com");
    assert_eq!(customer["phone"], "+33612345678");
    assert_eq!(customer["birthday"], "1985-02-28");
    assert_eq!(customer["address"]["line1"], "3 rue des Lilas");
    assert_eq!(customer["address"]["country"], "FR");
    assert_eq!(customer["preferred_language"], "fr");
    assert_eq!(customer["source"], "store");
    assert_eq!(customer["tags"], json!(["vip", "wholesale client"]));
    assert_eq!(customer["attributes"], json!({"favourite_colour": "green", "sizes": [7, 8]}));
    let created_at = customer["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z'), "{created_at}");

    let fetched = app.get(&format!("/v1/customers/{id}"), &token).await;
    assert_eq!(fetched.status.as_u16(), 200);
    assert_eq!(&fetched.body, customer, "GET returns what POST returned");

    // Defaults: kind person, source api, no address object.
    let minimal = app.create_customer(json!({"phone": "+4915123456789"})).await;
    assert_eq!(minimal["source"], "api");
    assert_eq!(minimal["kind"], "person");
    assert_eq!(minimal["address"], Value::Null);
    assert_eq!(minimal["tags"], json!([]));
}

async fn create_company_and_identity_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let company = app
        .post(
            "/v1/customers",
            &token,
            json!({"kind": "company", "company_name": "Atelier Lune", "address": {"country": "BE"}}),
        )
        .await;
    assert_eq!(company.status.as_u16(), 201, "{}", company.text);
    let no_company_name = app.post("/v1/customers", &token, json!({"kind": "company", "email": "x@example.com"})).await;
    assert_eq!(no_company_name.invalid_fields(), vec!["company_name"]);
    let nobody = app.post("/v1/customers", &token, json!({"notes": "who is this?", "first_name": "   "})).await;
    assert_eq!(nobody.invalid_fields(), vec!["email"]);
    let name_only = app.post("/v1/customers", &token, json!({"last_name": "Silva"})).await;
    assert_eq!(name_only.status.as_u16(), 201);
    assert_eq!(app.count("customers").await, 2);
}

async fn create_rejects_invalid_fields_without_writing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let cases = [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "ana@example.com", "phone": "06 12 34 56 78"}), "phone"),
        (json!({"email": "ana@example.com", "phone": "+33 12"}), "phone"),
        (json!({"email": "ana@example.com", "address": {"country": "XX"}}), "address.country"),
        (json!({"email": "ana@example.com", "birthday": "2020-13-01"}), "birthday"),
        (json!({"email": "ana@example.com", "birthday": "2999-01-01"}), "birthday"),
        (json!({"email": "ana@example.com", "preferred_language": "klingon!"}), "preferred_language"),
        (json!({"email": "ana@example.com", "tags": ["ok", " "]}), "tags[1]"),
        (json!({"email": "ana@example.com", "first_name": "x".repeat(201)}), "first_name"),
        (json!({"email": "ana@example.com", "favourite": "blue"}), "favourite"),
        (json!({"email": "ana@example.com", "address": {"town": "Lyon"}}), "address.town"),
        (json!({"email": "ana@example.com", "first_name": 5}), "first_name"),
        (json!({"email": "ana@example.com", "kind": "robot"}), "kind"),
        (json!({"email": "ana@example.com", "source": "fax"}), "source"),
        (json!({"email": "ana@example.com", "attributes": [1, 2]}), "attributes"),
        (json!({"email": "ana@example.com", "tags": "vip"}), "tags"),
    ];
    for (body, field) in cases {
        let response = app.post("/v1/customers", &token, body.clone()).await;
        let fields = response.invalid_fields();
        assert_eq!(fields, vec![field.to_string()], "body {body}: {}", response.text);
    }
    // The phone error tells the client what to do.
    let response = app.post("/v1/customers", &token, json!({"phone": "06 12 34 56 78"})).await;
    let message = response.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("+CC") && message.contains("RAPPORT_DEFAULT_COUNTRY"), "{message}");
    // Several bad fields are all reported at once.
    let many = app.post("/v1/customers", &token, json!({"email": "bad", "address": {"country": "XX"}})).await;
    assert_eq!(many.invalid_fields(), vec!["email", "address.country"]);
    assert_eq!(app.count("customers").await, 0, "no invalid request wrote anything");
    assert_eq!(app.count("customer_tags").await, 0);
}

async fn create_rejects_bad_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let raw = |payload: Vec<u8>, content_type: &str| {
        TestRequest::post()
            .uri("/v1/customers")
            .insert_header(bearer(&token))
            .insert_header(("content-type", content_type.to_string()))
            .set_payload(payload)
    };
    let malformed = app.call(raw(b"{\"email\": ".to_vec(), "application/json")).await;
    assert!(malformed.assert_problem(400)["detail"].as_str().unwrap().contains("malformed JSON"));
    app.call(raw(b"".to_vec(), "application/json")).await.assert_problem(400);
    app.call(raw(b"{} {}".to_vec(), "application/json")).await.assert_problem(400);
    for not_object in [&b"[1,2]"[..], b"\"text\"", b"42", b"null"] {
        let response = app.call(raw(not_object.to_vec(), "application/json")).await;
        assert_eq!(response.invalid_fields(), vec!["body"]);
    }
    app.call(raw(b"email=a@b.c".to_vec(), "application/x-www-form-urlencoded")).await.assert_problem(415);
    app.call(TestRequest::post().uri("/v1/customers").insert_header(bearer(&token)).set_payload("{}"))
        .await
        .assert_problem(415);
    let mut big = b"{\"notes\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.extend(b"\"}");
    app.call(raw(big, "application/json")).await.assert_problem(413);
    assert_eq!(app.count("customers").await, 0);
}

async fn phone_without_country_code_uses_default_country(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_DEFAULT_COUNTRY", "FR")]).await;
    let customer = app.create_customer(json!({"phone": "06 12 34 56 78"})).await;
    assert_eq!(customer["phone"], "+33612345678");
    let foreign = app.create_customer(json!({"phone": "+49 151 23456789"})).await;
    assert_eq!(foreign["phone"], "+4915123456789");
}

async fn duplicate_email_is_409_with_existing_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let first = app.create_customer(json!({"email": "ana@example.com"})).await;
    let second = app.post("/v1/customers", &token, json!({"email": " ANA@example.com", "first_name": "Other"})).await;
    second.assert_problem(409);
    assert_eq!(second.body["existing_id"], first["id"]);
    assert_eq!(app.count("customers").await, 1);
}

async fn concurrent_creates_with_one_email_have_one_winner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let requests = (0..10)
        .map(|n| {
            TestRequest::post()
                .uri("/v1/customers")
                .insert_header(bearer(&token))
                .set_json(json!({"email": "race@example.com", "first_name": format!("Racer {n}")}))
        })
        .collect();
    let responses = app.call_concurrently(requests).await;
    let winners: Vec<_> = responses.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert_eq!(winners.len(), 1, "exactly one create wins");
    let winner_id = &winners[0].body["id"];
    for loser in responses.iter().filter(|r| r.status.as_u16() != 201) {
        loser.assert_problem(409);
        assert_eq!(&loser.body["existing_id"], winner_id);
    }
    assert_eq!(app.count("customers").await, 1);
}

async fn get_unknown_customer_is_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:read");
    app.get("/v1/customers/999", &token).await.assert_problem(404);
    app.get("/v1/customers/abc", &token).await.assert_problem(404);
}

async fn patch_follows_json_merge_patch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let customer = app
        .create_customer(json!({
            "first_name": "Ana", "last_name": "Silva", "email": "ana@example.com", "notes": "old note",
            "address": {"line1": "1 Main St", "city": "Porto", "country": "PT"},
            "tags": ["a", "b"], "attributes": {"colour": "blue", "size": 7, "pets": {"cat": 1, "dog": 2}}
        }))
        .await;
    let id = customer["id"].as_i64().unwrap();
    let patched = app
        .patch(
            &format!("/v1/customers/{id}"),
            &token,
            json!({
                "last_name": "Silva-Martins", "notes": null,
                "address": {"city": "Lisboa", "line1": null},
                "tags": ["C"],
                "attributes": {"colour": null, "size": 8, "pets": {"dog": null, "fish": 3}}
            }),
        )
        .await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    let body = &patched.body;
    assert_eq!(body["first_name"], "Ana", "absent fields stay");
    assert_eq!(body["last_name"], "Silva-Martins");
    assert_eq!(body["notes"], Value::Null, "null clears");
    assert_eq!(
        body["address"],
        json!({"line1": null, "line2": null, "city": "Lisboa", "region": null, "postal_code": null, "country": "PT"})
    );
    assert_eq!(body["tags"], json!(["c"]));
    assert_eq!(body["attributes"], json!({"size": 8, "pets": {"cat": 1, "fish": 3}}));
    assert_eq!(body["created_at"], customer["created_at"]);
    assert!(body["updated_at"].as_str() >= customer["updated_at"].as_str());
    // The stored record is what PATCH answered.
    assert_eq!(&app.get(&format!("/v1/customers/{id}"), &token).await.body, body);

    let cleared = app
        .patch(&format!("/v1/customers/{id}"), &token, json!({"address": null, "attributes": null, "tags": null}))
        .await;
    assert_eq!(cleared.body["address"], Value::Null);
    assert_eq!(cleared.body["attributes"], json!({}));
    assert_eq!(cleared.body["tags"], json!([]));
    let empty = app.patch(&format!("/v1/customers/{id}"), &token, json!({})).await;
    assert_eq!(empty.status.as_u16(), 200);
    assert_eq!(empty.body["email"], "ana@example.com");
}

async fn patch_rejects_conflicts_and_invalid_values(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let ana = app.create_customer(json!({"email": "ana@example.com"})).await;
    let bob = app.create_customer(json!({"email": "bob@example.com", "first_name": "Bob"})).await;
    let bob_path = format!("/v1/customers/{}", bob["id"]);

    let conflict = app.patch(&bob_path, &token, json!({"email": "ANA@example.com"})).await;
    conflict.assert_problem(409);
    assert_eq!(conflict.body["existing_id"], ana["id"]);

    let no_identity = app.patch(&bob_path, &token, json!({"email": null, "first_name": null})).await;
    no_identity.assert_problem(422);
    assert_eq!(app.patch(&bob_path, &token, json!({"nickname": "B"})).await.invalid_fields(), vec!["nickname"]);
    assert_eq!(
        app.patch(&bob_path, &token, json!({"address": {"country": "ZZ"}})).await.invalid_fields(),
        vec!["address.country"]
    );
    assert_eq!(app.patch(&bob_path, &token, json!({"kind": null})).await.invalid_fields(), vec!["kind"]);
    assert_eq!(app.patch(&bob_path, &token, json!({"source": null})).await.invalid_fields(), vec!["source"]);
    assert_eq!(
        app.post("/v1/customers", &token, json!({"address": {"country": "FR", "city": 3}})).await.invalid_fields(),
        vec!["address.city"]
    );
    app.patch("/v1/customers/424242", &token, json!({"first_name": "X"})).await.assert_problem(404);

    let unchanged = app.get(&bob_path, &token).await;
    assert_eq!(unchanged.body, bob, "failed patches changed nothing");
}

async fn concurrent_patches_lose_no_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let customer = app.create_customer(json!({"email": "ana@example.com"})).await;
    let path = format!("/v1/customers/{}", customer["id"]);
    let requests = (0..10)
        .map(|n| {
            TestRequest::patch()
                .uri(&path)
                .insert_header(bearer(&token))
                .insert_header(("content-type", "application/merge-patch+json"))
                .set_payload(json!({"attributes": {format!("answer_{n}"): n}}).to_string())
        })
        .collect();
    for response in app.call_concurrently(requests).await {
        assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    }
    let stored = app.get(&path, &token).await;
    assert_eq!(stored.body["attributes"].as_object().unwrap().len(), 10, "{}", stored.body["attributes"]);
}

async fn upsert_by_email_creates_then_merges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let created = app
        .put(
            "/v1/customers/by-email/Ana@Example.com",
            &token,
            json!({"first_name": "Ana", "phone": "+33612345678", "source": "checkout", "tags": ["web"],
                   "attributes": {"colour": "blue", "size": 7}}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), Some(format!("/v1/customers/{id}").as_str()));
    assert_eq!(created.body["email"], "ana@example.com");
    assert_eq!(created.body["source"], "checkout");

    let merged = app
        .put(
            "/v1/customers/by-email/ana@example.com",
            &token,
            json!({"first_name": "Anna", "last_name": "Silva", "phone": "", "source": "contact_form",
                   "tags": ["newsletter"], "attributes": {"colour": "red", "size": null}}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    let body = &merged.body;
    assert_eq!(body["id"], id);
    assert_eq!(body["first_name"], "Anna", "given values replace");
    assert_eq!(body["last_name"], "Silva", "given values fill");
    assert_eq!(body["phone"], "+33612345678", "empty values never erase");
    assert_eq!(body["source"], "checkout", "the first capture source is kept");
    assert_eq!(body["tags"], json!(["newsletter", "web"]));
    assert_eq!(body["attributes"], json!({"colour": "red", "size": 7}));
    assert_eq!(app.count("customers").await, 1);
}

async fn upsert_rejects_mismatched_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let mismatch = app.put("/v1/customers/by-email/ana@example.com", &token, json!({"email": "bob@example.com"})).await;
    assert_eq!(mismatch.invalid_fields(), vec!["email"]);
    let same = app.put("/v1/customers/by-email/ana@example.com", &token, json!({"email": "ANA@example.com"})).await;
    assert_eq!(same.status.as_u16(), 201);
    let invalid = app.put("/v1/customers/by-email/not-an-email", &token, json!({})).await;
    assert_eq!(invalid.invalid_fields(), vec!["email"]);
    assert_eq!(app.count("customers").await, 1);
}

async fn concurrent_upserts_of_one_email_make_one_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let requests = (0..10)
        .map(|n| {
            TestRequest::put()
                .uri("/v1/customers/by-email/shared@example.com")
                .insert_header(bearer(&token))
                .set_json(json!({"tags": [format!("t{n}")]}))
        })
        .collect();
    let responses = app.call_concurrently(requests).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 9, "{statuses:?}");
    assert_eq!(app.count("customers").await, 1);
    assert_eq!(app.count("customer_tags").await, 10, "every upsert's tag was kept");
}

async fn list_pages_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:read");
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(app.create_customer(json!({"email": format!("c{n}@example.com")})).await["id"].as_i64().unwrap());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/v1/customers?limit=2&cursor={c}"),
            None => "/v1/customers?limit=2".to_string(),
        };
        let page = app.get(&uri, &token).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        seen.extend(ids(&page.body));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created, "every customer once, newest first");
    assert_eq!(pages, 3);
    let all = app.get("/v1/customers", &token).await;
    assert_eq!(all.body["next_cursor"], Value::Null);
}

async fn list_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:read");
    let ana = app
        .create_customer(json!({"first_name": "Ana", "last_name": "Silva", "email": "ana@example.com",
                                "phone": "+33612345678", "tags": ["vip"], "source": "checkout"}))
        .await;
    let anatole =
        app.create_customer(json!({"first_name": "Anatole", "email": "tole@example.com", "source": "store"})).await;
    let bob = app
        .create_customer(json!({"kind": "company", "company_name": "Bobcat Tools", "email": "sales@bobcat.example", "tags": ["vip"]}))
        .await;
    let find = |query: &str| {
        let uri = format!("/v1/customers?{query}");
        let app = &app;
        let token = token.clone();
        async move {
            let response = app.get(&uri, &token).await;
            assert_eq!(response.status.as_u16(), 200, "{uri}: {}", response.text);
            let mut found = ids(&response.body);
            found.sort();
            found
        }
    };
    let id = |c: &Value| c["id"].as_i64().unwrap();
    assert_eq!(find("email=ANA@example.com").await, vec![id(&ana)]);
    assert_eq!(find("q=ana").await, vec![id(&ana), id(&anatole)]);
    assert_eq!(find("q=ANAT").await, vec![id(&anatole)]);
    assert_eq!(find("q=silv").await, vec![id(&ana)]);
    assert_eq!(find("q=tools").await, vec![id(&bob)], "a word of a company name");
    assert_eq!(find("q=sales%40bob").await, vec![id(&bob)]);
    assert_eq!(find("q=%2B3361").await, vec![id(&ana)], "phone with +");
    assert_eq!(find("q=3361").await, vec![id(&ana)], "phone without +");
    assert_eq!(find("q=zzz").await, Vec::<i64>::new());
    assert_eq!(find("tag=VIP").await, vec![id(&ana), id(&bob)]);
    assert_eq!(find("source=store").await, vec![id(&anatole)]);
    assert_eq!(find("tag=vip&q=bob").await, vec![id(&bob)]);
    let created_at = anatole["created_at"].as_str().unwrap();
    let encoded = created_at.replace('+', "%2B").replace(':', "%3A");
    assert_eq!(find(&format!("created_after={encoded}")).await, vec![id(&anatole), id(&bob)]);
    assert_eq!(find(&format!("created_before={encoded}")).await, vec![id(&ana)]);
    assert_eq!(find("created_after=2000-01-01T00:00:00Z&created_before=2001-01-01T00:00:00Z").await, Vec::<i64>::new());
}

async fn list_rejects_bad_queries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:read");
    for query in [
        "limit=0",
        "limit=201",
        "limit=ten",
        "cursor=bogus",
        "source=fax",
        "created_after=yesterday",
        "colour=blue",
        "email=not-an-email",
    ] {
        let response = app.get(&format!("/v1/customers?{query}"), &token).await;
        response.assert_problem(400);
    }
}

async fn tags_are_added_and_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let customer = app.create_customer(json!({"email": "ana@example.com", "tags": ["vip"]})).await;
    let path = format!("/v1/customers/{}/tags", customer["id"]);
    let added = app.post(&path, &token, json!({"tags": ["VIP", " Summer  Sale ", "b2b"]})).await;
    assert_eq!(added.status.as_u16(), 200, "{}", added.text);
    assert_eq!(added.body["tags"], json!(["b2b", "summer sale", "vip"]));

    let removed = app.delete(&format!("{path}/Summer%20Sale"), &token).await;
    assert_eq!(removed.status.as_u16(), 204);
    let fetched = app.get(&format!("/v1/customers/{}", customer["id"]), &token).await;
    assert_eq!(fetched.body["tags"], json!(["b2b", "vip"]));

    app.delete(&format!("{path}/nope"), &token).await.assert_problem(404);
    app.delete("/v1/customers/9999/tags/vip", &token).await.assert_problem(404);
    app.post("/v1/customers/9999/tags", &token, json!({"tags": ["x"]})).await.assert_problem(404);
    assert_eq!(app.post(&path, &token, json!({"tags": []})).await.invalid_fields(), vec!["tags"]);
    assert_eq!(app.post(&path, &token, json!({"tags": ["ok", ""]})).await.invalid_fields(), vec!["tags[1]"]);
    assert_eq!(app.count("customer_tags").await, 2);
}

async fn duplicates_are_found_by_each_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:read");
    let phone_a = app.create_customer(json!({"email": "a1@example.com", "phone": "+33612345678"})).await;
    let name_a = app
        .create_customer(json!({"first_name": "Marie", "last_name": "Curie", "address": {"postal_code": "75005"}}))
        .await;
    let company_a =
        app.create_customer(json!({"kind": "company", "company_name": "Lune SA", "address": {"country": "BE"}})).await;
    let phone_b = app.create_customer(json!({"email": "a2@example.com", "phone": "+33 6 12 34 56 78"})).await;
    let name_b = app
        .create_customer(json!({"first_name": "MARIE", "last_name": "curie", "email": "mc@example.com", "address": {"postal_code": "75005"}}))
        .await;
    let company_b =
        app.create_customer(json!({"kind": "company", "company_name": "lune sa", "address": {"country": "BE"}})).await;
    // Not duplicates: same company elsewhere, same name elsewhere.
    app.create_customer(json!({"kind": "company", "company_name": "Lune SA", "address": {"country": "FR"}})).await;
    app.create_customer(json!({"first_name": "Marie", "last_name": "Curie", "address": {"postal_code": "69001"}}))
        .await;

    let page = app.get("/v1/customers/duplicates", &token).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let pairs: Vec<(i64, i64, Value)> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["customer"]["id"].as_i64().unwrap(), p["duplicate"]["id"].as_i64().unwrap(), p["reasons"].clone()))
        .collect();
    let id = |c: &Value| c["id"].as_i64().unwrap();
    assert_eq!(
        pairs,
        vec![
            (id(&phone_a), id(&phone_b), json!(["same_phone"])),
            (id(&name_a), id(&name_b), json!(["same_name_and_postal_code"])),
            (id(&company_a), id(&company_b), json!(["same_company_and_country"])),
        ]
    );
    assert_eq!(page.body["next_cursor"], Value::Null);

    let first = app.get("/v1/customers/duplicates?limit=2", &token).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("a second page");
    let second = app.get(&format!("/v1/customers/duplicates?limit=2&cursor={cursor}"), &token).await;
    assert_eq!(second.body["items"][0]["duplicate"]["id"], company_b["id"]);
    assert_eq!(second.body["next_cursor"], Value::Null);
}

async fn merge_folds_the_duplicate_into_the_survivor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write customers:read");
    let survivor = app
        .create_customer(json!({"first_name": "Ana", "phone": "+33612345678", "tags": ["vip"],
                                "attributes": {"colour": "blue"}}))
        .await;
    let duplicate = app
        .create_customer(json!({"first_name": "Anita", "last_name": "Silva", "email": "ana@example.com",
                                "phone": "+33612345678", "tags": ["newsletter"],
                                "attributes": {"colour": "red", "size": 7}, "address": {"city": "Lyon"}}))
        .await;
    let (survivor_id, duplicate_id) = (survivor["id"].as_i64().unwrap(), duplicate["id"].as_i64().unwrap());
    let merged =
        app.post(&format!("/v1/customers/{survivor_id}/merge"), &token, json!({"duplicate_id": duplicate_id})).await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    let body = &merged.body;
    assert_eq!(body["id"], survivor_id);
    assert_eq!(body["first_name"], "Ana", "the survivor's values win");
    assert_eq!(body["last_name"], "Silva", "blanks are filled");
    assert_eq!(body["email"], "ana@example.com", "the survivor takes over the duplicate's email");
    assert_eq!(body["address"]["city"], "Lyon");
    assert_eq!(body["tags"], json!(["newsletter", "vip"]));
    assert_eq!(body["attributes"], json!({"colour": "blue", "size": 7}));

    app.get(&format!("/v1/customers/{duplicate_id}"), &token).await.assert_problem(404);
    assert_eq!(app.count("customers").await, 1);
    assert_eq!(app.count("customer_merges").await, 1, "the merge is recorded");
    let found = app.get("/v1/customers?email=ana@example.com", &token).await;
    assert_eq!(ids(&found.body), vec![survivor_id]);
    let search = app.get("/v1/customers?q=silva", &token).await;
    assert_eq!(ids(&search.body), vec![survivor_id], "search terms follow the merge");
    let duplicates = app.get("/v1/customers/duplicates", &token).await;
    assert_eq!(duplicates.body["items"], json!([]));

    // The audit row keeps who merged and the duplicate's former values.
    let audit = app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use rapport::db::schema::customer_merges::dsl::*;
            Ok(customer_merges.select((survivor_id, duplicate_id, merged_by, duplicate_snapshot)).first::<(
                i64,
                i64,
                String,
                String,
            )>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(
        (audit.0, audit.1, audit.2.as_str()),
        (body["id"].as_i64().unwrap(), duplicate["id"].as_i64().unwrap(), "test-client")
    );
    let snapshot: Value = serde_json::from_str(&audit.3).unwrap();
    assert_eq!(snapshot["first_name"], "Anita");
    assert_eq!(snapshot["tags"], json!(["newsletter"]));
}

async fn merge_edge_cases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("customers:write");
    let ana = app.create_customer(json!({"email": "ana@example.com"})).await;
    let id = ana["id"].as_i64().unwrap();
    let into_itself = app.post(&format!("/v1/customers/{id}/merge"), &token, json!({"duplicate_id": id})).await;
    assert_eq!(into_itself.invalid_fields(), vec!["duplicate_id"]);
    let missing_duplicate = app.post(&format!("/v1/customers/{id}/merge"), &token, json!({"duplicate_id": 9999})).await;
    assert_eq!(missing_duplicate.invalid_fields(), vec!["duplicate_id"]);
    app.post("/v1/customers/9999/merge", &token, json!({"duplicate_id": id})).await.assert_problem(404);
    assert_eq!(
        app.post(&format!("/v1/customers/{id}/merge"), &token, json!({"duplicate_id": 0})).await.invalid_fields(),
        vec!["duplicate_id"]
    );
    assert_eq!(
        app.post(&format!("/v1/customers/{id}/merge"), &token, json!({"duplicate_id": "2"})).await.invalid_fields(),
        vec!["duplicate_id"]
    );
    assert_eq!(
        app.post(&format!("/v1/customers/{id}/merge"), &token, json!({})).await.invalid_fields(),
        vec!["duplicate_id"]
    );
    assert_eq!(app.count("customers").await, 1);
    assert_eq!(app.count("customer_merges").await, 0);
}
