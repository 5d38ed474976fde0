use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    imports_check_company_links_like_the_api,
    company_fields_round_trip_and_are_for_companies_only,
    people_belong_to_companies_and_are_listed,
    company_totals_roll_up_people_orders,
    company_segment_fields,
    merge_moves_people_and_erasure_unlinks,
);

async fn company(app: &TestApp, name: &str, extra: Value) -> i64 {
    let mut body = json!({"kind": "company", "company_name": name});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    app.create_customer(body).await["id"].as_i64().unwrap()
}

async fn person(app: &TestApp, email: &str, company_id: Option<i64>, role: Option<&str>) -> i64 {
    app.create_customer(json!({"email": email, "company_id": company_id, "role": role})).await["id"].as_i64().unwrap()
}

/// An order of `total` minor units in `currency`, placed now.
async fn order(app: &TestApp, customer_id: i64, external_id: &str, currency: &str, total: i64) {
    let body = json!({"external_id": external_id, "channel": "web", "currency": currency,
        "customer": {"id": customer_id},
        "lines": [{"sku": "MUG", "name": "Mug", "product_type": "kitchen", "quantity": 1, "unit_price": total}],
        "total": total});
    let response = app.post("/v1/orders", &app.token("orders:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

fn fields(response: &Value) -> Vec<String> {
    response["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
}

async fn company_fields_round_trip_and_are_for_companies_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let created = app
        .post(
            "/v1/customers",
            &admin,
            json!({"kind": "company", "company_name": "Acme", "founded_on": "2004-09-01", "industry": " Tools ",
                   "employees": 120, "website": "https://acme.example/about", "registration_number": "RCS 123",
                   "vat_number": "FR12345678901", "rating": 4, "particularities": "pays late in summer"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    let got = app.get(&format!("/v1/customers/{id}"), &admin).await.body;
    assert_eq!(got["founded_on"], "2004-09-01");
    assert_eq!(got["industry"], "Tools");
    assert_eq!(got["employees"], 120);
    assert_eq!(got["website"], "https://acme.example/about");
    assert_eq!(got["registration_number"], "RCS 123");
    assert_eq!(got["vat_number"], "FR12345678901");
    assert_eq!(got["rating"], 4);
    assert_eq!(got["particularities"], "pays late in summer");
    assert_eq!(got["company_totals"]["people_count"], 0);

    // Merge patch: a value replaces, null clears, absent stays.
    let patched =
        app.patch(&format!("/v1/customers/{id}"), &admin, json!({"rating": 2, "industry": null, "employees": 0})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!(patched.body["rating"], 2);
    assert_eq!(patched.body["industry"], Value::Null);
    assert_eq!(patched.body["employees"], 0);
    assert_eq!(patched.body["vat_number"], "FR12345678901");

    // Bad values: 422 naming each field, nothing written.
    let before = app.count("customers").await;
    let bad = app
        .post(
            "/v1/customers",
            &admin,
            json!({"kind": "company", "company_name": "Bad", "employees": -1, "rating": 6,
                   "website": "ftp://x", "founded_on": "2999-01-01"}),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422, "{}", bad.text);
    let mut names = fields(&bad.body);
    names.sort();
    assert_eq!(names, ["employees", "founded_on", "rating", "website"]);
    // A person given company fields, a company given a company: 422 naming the field.
    let on_person = app.post("/v1/customers", &admin, json!({"email": "p@example.com", "industry": "x"})).await;
    assert_eq!(on_person.status.as_u16(), 422);
    assert_eq!(fields(&on_person.body), ["industry"]);
    let company_in_company =
        app.post("/v1/customers", &admin, json!({"kind": "company", "company_name": "Sub", "company_id": id})).await;
    assert_eq!(company_in_company.status.as_u16(), 422);
    assert_eq!(fields(&company_in_company.body), ["company_id"]);
    assert_eq!(app.count("customers").await, before, "no partial write");
    let rating_on_person = app.create_customer(json!({"email": "q@example.com"})).await["id"].as_i64().unwrap();
    let patch = app.patch(&format!("/v1/customers/{rating_on_person}"), &admin, json!({"rating": 3})).await;
    assert_eq!(patch.status.as_u16(), 422);
    assert_eq!(fields(&patch.body), ["rating"]);
    let bad_patch = app.patch(&format!("/v1/customers/{id}"), &admin, json!({"rating": 0})).await;
    assert_eq!(bad_patch.status.as_u16(), 422);
    assert_eq!(fields(&bad_patch.body), ["rating"]);
}

async fn people_belong_to_companies_and_are_listed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let acme = company(&app, "Acme", json!({})).await;
    let ana = person(&app, "ana@example.com", Some(acme), Some("buyer")).await;
    let ben = person(&app, "ben@example.com", None, None).await;
    let cleo = person(&app, "cleo@example.com", Some(acme), None).await;
    let got = app.get(&format!("/v1/customers/{ana}"), &admin).await.body;
    assert_eq!((got["company_id"].as_i64(), got["role"].as_str()), (Some(acme), Some("buyer")));

    // company_id must name a company.
    for (value, status) in [(json!(ben), 422), (json!(999_999), 422), (json!(0), 422)] {
        let response = app.patch(&format!("/v1/customers/{cleo}"), &admin, json!({"company_id": value})).await;
        assert_eq!(response.status.as_u16(), status, "{value}: {}", response.text);
        assert_eq!(fields(&response.body), ["company_id"]);
    }
    let role_alone = app.patch(&format!("/v1/customers/{ben}"), &admin, json!({"role": "cto"})).await;
    assert_eq!(fields(&role_alone.body), ["role"]);
    let joined = app.patch(&format!("/v1/customers/{ben}"), &admin, json!({"company_id": acme, "role": "cto"})).await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.text);

    // Listed by ascending id, keyset paginated.
    let page = app.get(&format!("/v1/customers/{acme}/people?limit=2"), &admin).await;
    assert_eq!(page.status.as_u16(), 200, "{}", page.text);
    let ids: Vec<i64> = page.body["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [ana, ben]);
    let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
    let next = app.get(&format!("/v1/customers/{acme}/people?limit=2&cursor={cursor}"), &admin).await.body;
    assert_eq!(next["items"][0]["id"].as_i64(), Some(cleo));
    assert_eq!(next["next_cursor"], Value::Null);
    assert_eq!(app.get(&format!("/v1/customers/{ana}/people"), &admin).await.status.as_u16(), 404);
    assert_eq!(app.get("/v1/customers/999999/people", &admin).await.status.as_u16(), 404);

    // Leaving a company ends the role; a company with people stays a company.
    let left = app.patch(&format!("/v1/customers/{ben}"), &admin, json!({"company_id": null})).await.body;
    assert_eq!((left["company_id"].clone(), left["role"].clone()), (Value::Null, Value::Null));
    let demote =
        app.patch(&format!("/v1/customers/{acme}"), &admin, json!({"kind": "person", "email": "a@x.com"})).await;
    assert_eq!(demote.status.as_u16(), 422, "{}", demote.text);
    assert_eq!(fields(&demote.body), ["kind"]);
}

async fn company_totals_roll_up_people_orders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let acme = company(&app, "Acme", json!({})).await;
    let ana = person(&app, "ana@example.com", Some(acme), None).await;
    let ben = person(&app, "ben@example.com", Some(acme), None).await;
    let outsider = person(&app, "out@example.com", None, None).await;
    order(&app, acme, "o1", "EUR", 10_000).await;
    order(&app, ana, "o2", "EUR", 2_500).await;
    order(&app, ana, "o3", "EUR", 4_000).await;
    order(&app, ben, "o4", "USD", 7_000).await;
    order(&app, outsider, "o5", "EUR", 99_900).await;
    let got = app.get(&format!("/v1/customers/{acme}"), &admin).await.body;
    let totals = &got["company_totals"];
    assert_eq!(totals["people_count"], 2);
    // EUR: 10,000 + 2,500 + 4,000 = 16,500 over 3 orders (average 5,500) by 2 buyers.
    assert_eq!(totals["purchases"][0]["currency"], "EUR");
    assert_eq!(totals["purchases"][0]["orders_count"], 3);
    assert_eq!(totals["purchases"][0]["revenue"], 16_500);
    assert_eq!(totals["purchases"][0]["average_order_value"], 5_500);
    assert_eq!(totals["purchases"][0]["buyers"], 2);
    assert_eq!(totals["purchases"][1]["currency"], "USD");
    assert_eq!(totals["purchases"][1]["orders_count"], 1);
    assert_eq!(totals["purchases"][1]["revenue"], 7_000);
    // The company's own purchases stay its own; a person has no roll-up.
    assert_eq!(got["purchases"][0]["total_spent"], 10_000);
    assert_eq!(app.get(&format!("/v1/customers/{ana}"), &admin).await.body["company_totals"], Value::Null);
}

async fn company_segment_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme =
        company(&app, "Acme", json!({"industry": "Tools", "employees": 120, "rating": 4, "founded_on": "2004-09-01"}))
            .await;
    let tiny = company(&app, "Tiny", json!({"industry": "Food", "employees": 3, "rating": 2})).await;
    let ana = person(&app, "ana@example.com", Some(acme), None).await;
    let ben = person(&app, "ben@example.com", Some(tiny), None).await;
    let _loner = person(&app, "loner@example.com", None, None).await;
    let preview = |rules: Value| {
        let app = &app;
        async move {
            let response =
                app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": rules})).await;
            assert_eq!(response.status.as_u16(), 200, "{}", response.text);
            let mut ids: Vec<i64> =
                response.body["sample"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
            ids.sort();
            ids
        }
    };
    let cond = |field: &str, op: &str, value: Value| json!({"field": field, "op": op, "value": value});
    assert_eq!(preview(cond("company.industry", "eq", json!("tools"))).await, [acme, ana]);
    assert_eq!(preview(cond("company.employees", "gte", json!(100))).await, [acme, ana]);
    assert_eq!(preview(cond("company.rating", "lt", json!(3))).await, [tiny, ben]);
    assert_eq!(preview(cond("company.founded_on", "before", json!("2010-01-01"))).await, [acme, ana]);
    assert_eq!(preview(cond("company.id", "eq", json!(tiny))).await, [tiny, ben]);
    assert_eq!(preview(json!({"field": "company.id", "op": "not_exists"})).await.len(), 1);
    let bad = app
        .post(
            "/v1/segments/preview",
            &app.token("campaigns:read"),
            json!({"rules": cond("company.rating", "contains", json!("x"))}),
        )
        .await;
    assert_eq!(bad.status.as_u16(), 422);
}

async fn merge_moves_people_and_erasure_unlinks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let acme = company(&app, "Acme", json!({"rating": 5})).await;
    let acme_dup = company(&app, "Acme Ltd", json!({"industry": "Tools"})).await;
    let ana = person(&app, "ana@example.com", Some(acme_dup), Some("buyer")).await;
    let ben = person(&app, "ben@example.com", Some(acme), None).await;

    // A company with people cannot be merged into a person.
    let into_person = app.post(&format!("/v1/customers/{ben}/merge"), &admin, json!({"duplicate_id": acme_dup})).await;
    assert_eq!(into_person.status.as_u16(), 422, "{}", into_person.text);
    assert_eq!(fields(&into_person.body), ["duplicate_id"]);

    let merged = app.post(&format!("/v1/customers/{acme}/merge"), &admin, json!({"duplicate_id": acme_dup})).await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    assert_eq!(merged.body["industry"], "Tools", "blank company fields are filled from the duplicate");
    assert_eq!(merged.body["rating"], 5);
    let moved = app.get(&format!("/v1/customers/{ana}"), &admin).await.body;
    assert_eq!((moved["company_id"].as_i64(), moved["role"].as_str()), (Some(acme), Some("buyer")));
    assert_eq!(app.get(&format!("/v1/customers/{acme}"), &admin).await.body["company_totals"]["people_count"], 2);

    // Erasing a person strips the role (the link stays); erasing a company unlinks its people.
    assert_eq!(app.delete(&format!("/v1/customers/{ana}"), &admin).await.status.as_u16(), 204);
    assert_eq!(
        app.count(&format!("customers WHERE id = {ana} AND company_role IS NULL AND company_id = {acme}")).await,
        1
    );
    assert_eq!(app.get(&format!("/v1/customers/{acme}"), &admin).await.body["company_totals"]["people_count"], 1);
    assert_eq!(app.delete(&format!("/v1/customers/{acme}"), &admin).await.status.as_u16(), 204);
    assert_eq!(app.count(&format!("customers WHERE company_id = {acme}")).await, 0);
    assert_eq!(app.count(&format!("company_details WHERE customer_id = {acme}")).await, 0);
    assert_eq!(app.get(&format!("/v1/customers/{ben}"), &admin).await.body["company_id"], Value::Null);
}

async fn imports_check_company_links_like_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let company = app.create_customer(json!({"kind": "company", "company_name": "Acme"})).await["id"].as_i64().unwrap();
    let person = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    let csv = format!(
        "email,first_name,company_id,industry\n\
         bob@example.com,Bob,{company},\n\
         carl@example.com,Carl,{person},\n\
         dora@example.com,Dora,999999,\n\
         ana@example.com,Ana,999999,\n\
         eve@example.com,Eve,,perfume\n"
    );
    let job = crate::imports::import(&app, "upsert", &csv).await;
    assert_eq!(job["status"], "completed", "{job}");
    let errors: Vec<(i64, &str)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_i64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, vec![(3, "company_id"), (4, "company_id"), (5, "company_id"), (6, "industry")], "{job}");
    assert_eq!((job["created"].as_i64(), job["rejected"].as_i64()), (Some(1), Some(4)));
    let people = app.get(&format!("/v1/customers/{company}/people"), &app.token("customers:read")).await;
    assert_eq!(people.body["items"].as_array().unwrap().len(), 1, "{}", people.text);
}
