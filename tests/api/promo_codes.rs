use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(promo_codes_are_created_validated_and_patched, bad_promo_codes_are_rejected);

async fn promo_codes_are_created_validated_and_patched(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write");
    let created = app
        .post(
            "/v1/promo-codes",
            &writer,
            json!({"code": " spring10 ", "discount": {"type": "percent", "value": 10}, "min_subtotal": 2000,
            "valid_until": "2099-01-01T00:00:00Z", "max_redemptions_per_customer": 1}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(
        (created.body["code"].as_str(), created.header("location")),
        (Some("SPRING10"), Some("/v1/promo-codes/SPRING10"))
    );
    let duplicate =
        app.post("/v1/promo-codes", &writer, json!({"code": "Spring10", "discount": {"type": "free_shipping"}})).await;
    duplicate.assert_problem(409);
    assert_eq!(duplicate.body["existing_id"], created.body["id"]);

    let reader = app.token("orders:read");
    assert_eq!(app.get("/v1/promo-codes/spring10", &reader).await.body["id"], created.body["id"]);
    app.get("/v1/promo-codes/NOPE", &reader).await.assert_problem(404);
    let validate = |body| {
        let (app, reader) = (&app, reader.clone());
        async move { app.post("/v1/promo-codes/validate", &reader, body).await.body }
    };
    assert_eq!(
        validate(json!({"code": "Spring10", "subtotal": 5000, "currency": "EUR"})).await,
        json!({"valid": true, "reason": null, "discount_amount": 500})
    );
    let too_small = validate(json!({"code": "SPRING10", "subtotal": 1000, "currency": "EUR"})).await;
    assert_eq!((too_small["valid"].as_bool(), too_small["discount_amount"].as_i64()), (Some(false), Some(0)));
    assert!(too_small["reason"].as_str().unwrap().contains("minimum"));
    assert_eq!(validate(json!({"code": "GHOST", "subtotal": 5000, "currency": "EUR"})).await["valid"], false);

    let paused = app.patch("/v1/promo-codes/SPRING10", &writer, json!({"active": false, "min_subtotal": null})).await;
    assert_eq!(
        (paused.status.as_u16(), paused.body["active"].as_bool(), paused.body["min_subtotal"].clone()),
        (200, Some(false), json!(null))
    );
    let inactive = validate(json!({"code": "SPRING10", "subtotal": 5000, "currency": "EUR"})).await;
    assert_eq!(inactive["reason"], "the code is not active");
    let listed = app.get("/v1/promo-codes", &reader).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    app.post("/v1/promo-codes", &reader, json!({"code": "X1", "discount": {"type": "free_shipping"}}))
        .await
        .assert_problem(403);
}

async fn bad_promo_codes_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("campaigns:write");
    let cases = [
        (json!({"code": "a b", "discount": {"type": "percent", "value": 10}}), "code"),
        (json!({"code": "P", "discount": {"type": "percent", "value": 10}}), "code"),
        (json!({"code": "P150", "discount": {"type": "percent", "value": 150}}), "discount.value"),
        (json!({"code": "F5", "discount": {"type": "fixed", "value": 500}}), "currency"),
        (json!({"code": "F6", "discount": {"type": "fixed", "value": 500}, "currency": "EURO"}), "currency"),
        (json!({"code": "G1", "discount": {"type": "gift", "value": 1}}), "discount.type"),
        (
            json!({"code": "W1", "discount": {"type": "free_shipping"}, "valid_from": "2026-05-01T00:00:00Z", "valid_until": "2026-04-01T00:00:00Z"}),
            "valid_until",
        ),
        (json!({"code": "M1", "discount": {"type": "free_shipping"}, "max_redemptions": 0}), "max_redemptions"),
    ];
    for (body, field) in cases {
        assert_eq!(
            app.post("/v1/promo-codes", &writer, body.clone()).await.invalid_fields(),
            vec![field.to_string()],
            "{body}"
        );
    }
    assert_eq!(app.count("promo_codes").await, 0);
}
