//! The contract the OpenAPI document states: date-only timestamp filters, parse errors
//! that name their parameter, declared bounds enforced, CORS refusals as problems.

use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp};

both_backends!(
    date_only_filters_cover_the_local_day,
    parse_errors_name_the_parameter,
    limit_bounds_name_limit,
    undeclared_method_on_a_literal_route_is_405,
    cors_refusal_is_a_problem,
    stock_delta_out_of_range_is_422,
    rfm_scores_the_orders_of_a_range,
);

fn order(external_id: &str, placed_at: &str) -> Value {
    json!({
        "external_id": external_id, "channel": "web", "placed_at": placed_at, "currency": "EUR",
        "customer": {"email": "ana@example.com"},
        "lines": [{"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "quantity": 1, "unit_price": 2500}],
        "discount_total": 0, "shipping_total": 0, "tax_total": 0, "total": 2500
    })
}

fn external_ids(page: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|o| o["external_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids
}

async fn date_only_filters_cover_the_local_day(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_TIMEZONE", "Europe/Paris")]).await;
    let writer = app.token("orders:write");
    // Paris is UTC+1 in November: 1 November runs from 31 October 23:00 to 1 November 23:00 UTC.
    for (id, at) in [
        ("before", "2026-10-31T22:59:59Z"),
        ("first", "2026-10-31T23:00:00Z"),
        ("last", "2026-11-01T22:59:59Z"),
        ("after", "2026-11-01T23:00:00Z"),
    ] {
        let response = app.post("/v1/orders", &writer, order(id, at)).await;
        assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    }
    let reader = app.token("orders:read");
    let day = app.get("/v1/orders?placed_after=2026-11-01&placed_before=2026-11-01", &reader).await;
    assert_eq!(day.status.as_u16(), 200, "{}", day.text);
    assert_eq!(external_ids(&day.body), ["first", "last"]);
    let from_day = app.get("/v1/orders?placed_after=2026-11-01", &reader).await;
    assert_eq!(external_ids(&from_day.body), ["after", "first", "last"]);
    let until_day = app.get("/v1/orders?placed_before=2026-10-31", &reader).await;
    assert_eq!(external_ids(&until_day.body), ["before"]);
    // RFC 3339 instants still work, exactly.
    let instants = app
        .get("/v1/orders?placed_after=2026-11-01T00:00:00%2B01:00&placed_before=2026-11-01T22:59:59Z", &reader)
        .await;
    assert_eq!(external_ids(&instants.body), ["first"]);

    // Customers: created today, so inside a filter that starts long ago and outside one that ends then.
    app.create_customer(json!({"email": "bo@example.com"})).await;
    let customers = app.token("customers:read");
    assert_eq!(
        app.get("/v1/customers?created_after=2000-01-01", &customers).await.body["items"].as_array().unwrap().len(),
        2
    );
    assert_eq!(app.get("/v1/customers?created_before=2000-01-01", &customers).await.body["items"], json!([]));
}

async fn parse_errors_name_the_parameter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    for (uri, parameter) in [
        ("/v1/orders?placed_after=2026-13-01", "placed_after"),
        ("/v1/orders?placed_before=tomorrow", "placed_before"),
        ("/v1/customers?created_after=2026-11-01T25:00:00Z", "created_after"),
        ("/v1/orders?limit=ten", "limit"),
        ("/v1/orders?customer_id=99999999999999999999", "customer_id"),
        ("/v1/products?active=maybe", "active"),
        ("/v1/orders?colour=blue", "colour"),
    ] {
        let response = app.get(uri, &token).await;
        let detail = response.assert_problem(400)["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(&format!("`{parameter}`")), "{uri}: {detail}");
    }
    let path = app.get("/v1/customers/abc", &token).await;
    let detail = path.assert_problem(404)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("`id`"), "{detail}");
}

async fn limit_bounds_name_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    for uri in ["/v1/customers?limit=0", "/v1/customers?limit=201", "/v1/orders?limit=-1", "/v1/segments?limit=201"] {
        let response = app.get(uri, &token).await;
        let detail = response.assert_problem(400)["detail"].as_str().unwrap().to_string();
        assert!(detail.contains("`limit`"), "{uri}: {detail}");
    }
    assert_eq!(app.get("/v1/customers?limit=200", &token).await.status.as_u16(), 200);
    assert_eq!(app.get("/v1/customers?limit=1", &token).await.status.as_u16(), 200);
    // The document says so too.
    let doc = serde_json::to_value(rapport::openapi::document()).unwrap();
    let limit = doc["paths"]["/v1/customers"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .cloned()
        .unwrap();
    assert_eq!((limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()), (Some(1), Some(200)));
}

async fn undeclared_method_on_a_literal_route_is_405(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    let export = app.call(TestRequest::patch().uri("/v1/customers/export.csv").insert_header(bearer(&token))).await;
    export.assert_problem(405);
    assert_eq!(export.header("allow"), Some("GET"));
    let validate = app
        .call(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/v1/promo-codes/validate")
                .insert_header(bearer(&token)),
        )
        .await;
    validate.assert_problem(405);
    assert_eq!(validate.header("allow"), Some("POST"));
}

async fn cors_refusal_is_a_problem(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_CORS_ORIGINS", "https://shop.example")]).await;
    let preflight = |origin: &str, method: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/v1/forms/subscribe")
            .insert_header(("Origin", origin.to_string()))
            .insert_header(("Access-Control-Request-Method", method.to_string()))
    };
    let refused = app.call(preflight("https://evil.example", "POST")).await;
    let detail = refused.assert_problem(400)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("https://evil.example"), "{detail}");
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let wrong_method = app.call(preflight("https://shop.example", "DELETE")).await;
    wrong_method.assert_problem(400);
    let allowed = app.call(preflight("https://shop.example", "POST")).await;
    assert_eq!(allowed.status.as_u16(), 200);
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://shop.example"));
}

async fn stock_delta_out_of_range_is_422(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("products:write");
    let product = json!({"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "price": 2500,
        "currency": "EUR", "track_inventory": true, "stock_quantity": i64::MAX - 10});
    let created = app.post("/v1/products", &writer, product).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let path = "/v1/products/RING-SILVER-7/stock-adjustments";
    let huge = app.post(path, &writer, json!({"delta": 9_223_372_036_854_775_806_i64, "reason": "restock"})).await;
    assert_eq!(huge.invalid_fields(), ["delta"]);
    let overflow = app.post(path, &writer, json!({"delta": 1000, "reason": "restock"})).await;
    assert_eq!(overflow.invalid_fields(), ["delta"]);
    let fine = app.post(path, &writer, json!({"delta": -1000, "reason": "correction"})).await;
    assert_eq!(fine.status.as_u16(), 200, "{}", fine.text);
    assert_eq!(fine.body["stock_quantity"], i64::MAX - 1010);
}

async fn rfm_scores_the_orders_of_a_range(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_TIMEZONE", "Europe/Paris")]).await;
    let writer = app.token("orders:write");
    for (id, email, at) in [
        ("a-1", "ana@example.com", "2026-01-10T10:00:00Z"),
        ("b-1", "bo@example.com", "2026-06-10T10:00:00Z"),
        ("b-2", "bo@example.com", "2026-06-20T10:00:00Z"),
    ] {
        let mut body = order(id, at);
        body["customer"]["email"] = json!(email);
        let response = app.post("/v1/orders", &writer, body).await;
        assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    }
    let reader = app.token("analytics:read");
    let sum = |body: &Value, field: &str| -> i64 {
        body["segments"].as_array().unwrap().iter().map(|s| s[field].as_i64().unwrap()).sum()
    };
    let all = app.get("/v1/analytics/customers/rfm", &reader).await;
    assert_eq!(all.status.as_u16(), 200, "{}", all.text);
    assert_eq!((sum(&all.body, "customers"), sum(&all.body, "orders"), sum(&all.body, "revenue")), (2, 3, 7500));

    let june = app.get("/v1/analytics/customers/rfm?from=2026-06-01&to=2026-06-30", &reader).await;
    assert_eq!(june.status.as_u16(), 200, "{}", june.text);
    assert_eq!(june.body["currency"], "EUR");
    assert_eq!((sum(&june.body, "customers"), sum(&june.body, "orders"), sum(&june.body, "revenue")), (1, 2, 5000));
    // As of the end of `to` (30 June, 22:00 UTC in Paris): the last order was 10 days and 12 hours before.
    let scored = june.body["segments"].as_array().unwrap().iter().find(|s| s["customers"] == 1).unwrap().clone();
    assert_eq!(scored["average_recency_days"], 10.5);

    let january = app.get("/v1/analytics/customers/rfm?from=2026-01-01&to=2026-01-10", &reader).await;
    assert_eq!((sum(&january.body, "customers"), sum(&january.body, "revenue")), (1, 2500));
    let nothing = app.get("/v1/analytics/customers/rfm?from=2025-01-01&to=2025-12-31", &reader).await;
    assert_eq!(sum(&nothing.body, "customers"), 0);

    let half = app.get("/v1/analytics/customers/rfm?from=2026-06-01", &reader).await;
    assert_eq!(half.invalid_fields(), ["to"]);
    let inverted = app.get("/v1/analytics/customers/rfm?from=2026-06-30&to=2026-06-01", &reader).await;
    assert_eq!(inverted.invalid_fields(), ["to"]);
}
