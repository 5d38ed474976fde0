use actix_web::test::TestRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp, TEST_SECRET};

both_backends!(
    missing_token_is_401_with_challenge,
    bad_tokens_are_401,
    missing_scope_is_403_naming_it,
    admin_implies_every_scope,
    auth_is_checked_before_the_body,
);

fn sign(claims: serde_json::Value, algorithm: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn claims(exp_offset_secs: i64, scope: &str) -> serde_json::Value {
    let now = Utc::now().timestamp();
    json!({"sub": "tester", "iat": now, "exp": now + exp_offset_secs, "scope": scope})
}

async fn missing_token_is_401_with_challenge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.call(TestRequest::get().uri("/v1/customers")).await;
    response.assert_problem(401);
    assert_eq!(response.header("www-authenticate"), Some("Bearer realm=\"rapport\""));
}

async fn bad_tokens_are_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let secret = TEST_SECRET.as_bytes();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let none_claims = URL_SAFE_NO_PAD.encode(claims(3600, "admin").to_string());
    let mut no_exp = claims(3600, "admin");
    no_exp.as_object_mut().unwrap().remove("exp");
    let cases = [
        ("malformed", "not.a.jwt".to_string()),
        ("garbage", "abc".to_string()),
        ("expired", sign(claims(-3600, "admin"), Algorithm::HS256, secret)),
        ("forged", sign(claims(3600, "admin"), Algorithm::HS256, b"another-secret-another-secret-another")),
        ("alg none", format!("{none_header}.{none_claims}.")),
        ("wrong algorithm", sign(claims(3600, "admin"), Algorithm::HS512, secret)),
        ("missing exp", sign(no_exp, Algorithm::HS256, secret)),
    ];
    for (case, token) in cases {
        let response = app.get("/v1/customers", &token).await;
        assert_eq!(response.status.as_u16(), 401, "{case}: {}", response.text);
        response.assert_problem(401);
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("invalid_token"), "{case}: {challenge}");
    }
    let expired = app.get("/v1/customers", &sign(claims(-3600, "admin"), Algorithm::HS256, secret)).await;
    assert!(expired.body["detail"].as_str().unwrap().contains("expired"));

    let wrong_scheme =
        app.call(TestRequest::get().uri("/v1/customers").insert_header(("Authorization", "Basic dXNlcjpwYXNz"))).await;
    wrong_scheme.assert_problem(401);
    // A token still inside the leeway is accepted.
    let just_expired = sign(claims(-5, "customers:read"), Algorithm::HS256, secret);
    assert_eq!(app.get("/v1/customers", &just_expired).await.status.as_u16(), 200);
}

async fn missing_scope_is_403_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reader = app.token("customers:read");
    let response = app.post("/v1/customers", &reader, json!({"email": "ana@example.com"})).await;
    response.assert_problem(403);
    assert!(response.body["detail"].as_str().unwrap().contains("customers:write"));
    assert!(response.header("www-authenticate").unwrap().contains("insufficient_scope"));
    assert_eq!(app.count("customers").await, 0);

    let forms_only = app.token("forms:submit");
    app.get("/v1/customers", &forms_only).await.assert_problem(403);
    // Unknown scopes in a token grant nothing.
    let odd = sign(claims(3600, "customers:reed everything"), Algorithm::HS256, TEST_SECRET.as_bytes());
    app.get("/v1/customers", &odd).await.assert_problem(403);
}

async fn admin_implies_every_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token("admin");
    let created = app.post("/v1/customers", &admin, json!({"email": "ana@example.com"})).await;
    assert_eq!(created.status.as_u16(), 201);
    assert_eq!(app.get("/v1/customers", &admin).await.status.as_u16(), 200);
}

async fn auth_is_checked_before_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app
        .call(
            TestRequest::post()
                .uri("/v1/customers")
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
    response.assert_problem(401);
    let reader = app
        .call(
            TestRequest::post()
                .uri("/v1/customers")
                .insert_header(bearer(&app.token("customers:read")))
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
    reader.assert_problem(403);
}
