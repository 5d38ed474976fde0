use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    products_are_created_read_and_patched,
    bad_products_are_rejected,
    stock_moves_are_recorded,
    product_filters
);

fn ring() -> Value {
    json!({"sku": "RING-SILVER-7", "name": " Silver  ring ", "product_type": "Ring", "category": "Jewellery",
           "attributes": {"material": "silver"}, "price": 2500, "currency": "eur", "track_inventory": true,
           "stock_quantity": 5, "low_stock_threshold": 2})
}

async fn products_are_created_read_and_patched(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("products:write");
    let created = app.post("/v1/products", &writer, ring()).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.header("location"), Some("/v1/products/RING-SILVER-7"));
    let p = &created.body;
    assert_eq!(
        (p["name"].as_str(), p["product_type"].as_str(), p["category"].as_str()),
        (Some("Silver ring"), Some("ring"), Some("jewellery"))
    );
    assert_eq!(
        (p["currency"].as_str(), p["stock_quantity"].as_i64(), p["active"].as_bool()),
        (Some("EUR"), Some(5), Some(true))
    );
    let again = app.post("/v1/products", &writer, ring()).await;
    again.assert_problem(409);
    assert_eq!(again.body["existing_id"], p["id"]);

    let reader = app.token("orders:read");
    assert_eq!(app.get("/v1/products/RING-SILVER-7", &reader).await.body, created.body);
    app.get("/v1/products/NOPE", &reader).await.assert_problem(404);
    let patched = app
        .patch(
            "/v1/products/RING-SILVER-7",
            &writer,
            json!({"price": 2700, "category": null, "attributes": {"technique": "hammered"}}),
        )
        .await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!((patched.body["price"].as_i64(), patched.body["category"].clone()), (Some(2700), Value::Null));
    assert_eq!(patched.body["attributes"], json!({"material": "silver", "technique": "hammered"}));
    assert_eq!(
        app.patch("/v1/products/RING-SILVER-7", &writer, json!({"stock_quantity": 99})).await.invalid_fields(),
        vec!["stock_quantity"]
    );
    app.post("/v1/products", &reader, ring()).await.assert_problem(403);
}

async fn bad_products_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("products:write");
    let cases = [
        ("sku", json!("has space")),
        ("price", json!(-1)),
        ("currency", json!("EURO")),
        ("name", json!("  ")),
        ("low_stock_threshold", json!(-3)),
        ("price", json!("12.50")),
    ];
    for (field, value) in cases {
        let mut body = ring();
        body[field] = value;
        assert_eq!(app.post("/v1/products", &writer, body).await.invalid_fields(), vec![field.to_string()]);
    }
    let mut untracked = ring();
    untracked["track_inventory"] = json!(false);
    assert_eq!(app.post("/v1/products", &writer, untracked).await.invalid_fields(), vec!["stock_quantity"]);
    assert_eq!(app.count("products").await, 0);
}

async fn stock_moves_are_recorded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("products:write");
    app.post("/v1/products", &writer, ring()).await;
    let restocked = app
        .post(
            "/v1/products/RING-SILVER-7/stock-adjustments",
            &writer,
            json!({"delta": 10, "reason": "restock", "note": "delivery"}),
        )
        .await;
    assert_eq!(restocked.status.as_u16(), 200, "{}", restocked.text);
    assert_eq!(restocked.body["stock_quantity"], 15);
    let damaged = app
        .post("/v1/products/RING-SILVER-7/stock-adjustments", &writer, json!({"delta": -14, "reason": "damaged"}))
        .await;
    assert_eq!((damaged.body["stock_quantity"].as_i64(), damaged.body["low_stock"].as_bool()), (Some(1), Some(true)));
    let movements = app.get("/v1/products/RING-SILVER-7/stock-movements", &app.token("orders:read")).await;
    let rows: Vec<(i64, &str, i64)> = movements.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["delta"].as_i64().unwrap(), m["reason"].as_str().unwrap(), m["quantity_after"].as_i64().unwrap()))
        .collect();
    assert_eq!(rows, vec![(-14, "damaged", 1), (10, "restock", 15), (5, "correction", 5)]);
    for (body, field) in
        [(json!({"delta": 0, "reason": "restock"}), "delta"), (json!({"delta": 1, "reason": "theft"}), "reason")]
    {
        assert_eq!(
            app.post("/v1/products/RING-SILVER-7/stock-adjustments", &writer, body).await.invalid_fields(),
            vec![field]
        );
    }
    let mut untracked = ring();
    untracked["sku"] = json!("CARD");
    untracked["track_inventory"] = json!(false);
    untracked["stock_quantity"] = json!(0);
    app.post("/v1/products", &writer, untracked).await;
    app.post("/v1/products/CARD/stock-adjustments", &writer, json!({"delta": 1, "reason": "restock"}))
        .await
        .assert_problem(409);
    app.post("/v1/products/NOPE/stock-adjustments", &writer, json!({"delta": 1, "reason": "restock"}))
        .await
        .assert_problem(404);
}

async fn product_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let writer = app.token("products:write");
    for (sku, product_type, stock, active) in
        [("R1", "ring", 1, true), ("R2", "ring", 9, true), ("N1", "necklace", 0, false)]
    {
        let body = json!({"sku": sku, "name": sku, "product_type": product_type, "price": 100, "currency": "EUR",
            "track_inventory": true, "stock_quantity": stock, "low_stock_threshold": 2, "active": active});
        assert_eq!(app.post("/v1/products", &writer, body).await.status.as_u16(), 201);
    }
    app.post("/v1/products/N1/stock-adjustments", &writer, json!({"delta": -2, "reason": "correction"})).await;
    let reader = app.token("orders:read");
    let skus = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|p| p["sku"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(skus(&app.get("/v1/products?product_type=Ring", &reader).await.body), vec!["R2", "R1"]);
    assert_eq!(skus(&app.get("/v1/products?active=false", &reader).await.body), vec!["N1"]);
    assert_eq!(skus(&app.get("/v1/products?low_stock=true", &reader).await.body), vec!["N1", "R1"]);
    assert_eq!(skus(&app.get("/v1/products?oversold=true", &reader).await.body), vec!["N1"]);
    let page = app.get("/v1/products?limit=2", &reader).await;
    let next =
        app.get(&format!("/v1/products?limit=2&cursor={}", page.body["next_cursor"].as_str().unwrap()), &reader).await;
    assert_eq!(skus(&next.body), vec!["R1"]);
    app.get("/v1/products?low_stock=maybe", &reader).await.assert_problem(400);
}
