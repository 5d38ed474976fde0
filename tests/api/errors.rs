use actix_web::test::TestRequest;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    unknown_route_is_404_problem,
    wrong_method_is_405_with_allow,
    request_id_is_echoed_or_generated,
    health_and_readiness,
    docs_and_openapi_are_served,
);

async fn unknown_route_is_404_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.call(TestRequest::get().uri("/v1/nothing-here")).await;
    response.assert_problem(404);
    app.call(TestRequest::get().uri("/v2/customers")).await.assert_problem(404);
}

async fn wrong_method_is_405_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.call(TestRequest::delete().uri("/v1/customers")).await;
    response.assert_problem(405);
    assert_eq!(response.header("allow"), Some("GET, POST"));
    let on_item = app.call(TestRequest::put().uri("/v1/customers/12")).await;
    on_item.assert_problem(405);
    assert_eq!(on_item.header("allow"), Some("DELETE, GET, PATCH"));
}

async fn request_id_is_echoed_or_generated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let echoed =
        app.call(TestRequest::get().uri("/v1/customers").insert_header(("X-Request-Id", "client-abc-123"))).await;
    assert_eq!(echoed.header("x-request-id"), Some("client-abc-123"));
    assert_eq!(echoed.assert_problem(401)["request_id"], "client-abc-123");

    let generated = app.call(TestRequest::get().uri("/healthz")).await;
    let id = generated.header("x-request-id").expect("generated id");
    assert_eq!(id.len(), 32);
    // An unsafe client id is replaced rather than echoed.
    let unsafe_id =
        app.call(TestRequest::get().uri("/healthz").insert_header(("X-Request-Id", "bad id with spaces"))).await;
    assert_ne!(unsafe_id.header("x-request-id"), Some("bad id with spaces"));
}

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health = app.call(TestRequest::get().uri("/healthz")).await;
    assert_eq!((health.status.as_u16(), health.body.clone()), (200, json!({"status": "ok"})));
    let ready = app.call(TestRequest::get().uri("/readyz")).await;
    assert_eq!((ready.status.as_u16(), ready.body.clone()), (200, json!({"status": "ok"})));
}

async fn docs_and_openapi_are_served(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spec = app.call(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(spec.status.as_u16(), 200);
    assert_eq!(spec.body, serde_json::to_value(rapport::openapi::document()).unwrap());
    let redirect = app.call(TestRequest::get().uri("/docs")).await;
    assert_eq!(redirect.header("location"), Some("/docs/"));
    let page = app.call(TestRequest::get().uri("/docs/")).await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("swagger-ui"), "the docs page is served by the binary");
    let bundle = app.call(TestRequest::get().uri("/docs/swagger-ui-bundle.js")).await;
    assert_eq!(bundle.status.as_u16(), 200);
    assert!(bundle.text.len() > 100_000, "the UI assets are embedded");
    let initializer = app.call(TestRequest::get().uri("/docs/swagger-initializer.js")).await;
    assert!(initializer.text.contains("/openapi.json"));
}

/// The committed document must match the generated one.
#[test]
fn committed_openapi_document_is_current() {
    let generated = rapport::openapi::to_pretty_json(&rapport::openapi::document());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date with the code. Regenerate it with:\n\n    cargo run -- openapi > openapi/openapi.json\n"
    );
}

/// Every operation documents its security, problems and a JSON example somewhere.
#[test]
fn every_operation_documents_scope_and_problems() {
    let doc = serde_json::to_value(rapport::openapi::document()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/v1/t/") {
                // Tracking links: the contact's token, no rate limit (mail proxies share IPs).
                assert!(operation.get("security").is_none(), "{method} {path}: tracking takes the contact's token");
            } else if path.starts_with("/v1/public/") {
                assert!(operation.get("security").is_none(), "{method} {path}: link endpoints take the link's token");
                assert!(responses.contains_key("429"), "{method} {path} documents its rate limit");
            } else if path.starts_with("/v1/") {
                if path.starts_with("/v1/forms/") {
                    assert!(responses.contains_key("429"), "{method} {path} documents its rate limit");
                }
                let scopes = &operation["security"][0]["bearer"];
                assert!(scopes.as_array().is_some_and(|s| !s.is_empty()), "{method} {path} names its scope");
                for status in ["401", "403", "503"] {
                    assert!(responses.contains_key(status), "{method} {path} documents {status}");
                    assert_eq!(
                        responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {status}"
                    );
                }
            }
            assert!(operation["summary"].is_string(), "{method} {path} has a summary");
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
}
