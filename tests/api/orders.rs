use actix_web::test::TestRequest;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp, TestResponse};

both_backends!(
    an_order_records_everything_in_one_go,
    idempotency_key_replays_and_refuses_other_bodies,
    twenty_concurrent_identical_posts_make_one_order,
    invalid_orders_are_rejected_without_writing,
    bad_promo_codes_and_unknown_skus_never_reject_the_order,
    only_one_order_takes_the_last_redemption,
    a_sale_on_one_product_and_code_loses_nothing,
    a_code_used_up_while_the_order_runs_is_not_applied,
    a_failure_mid_transaction_writes_nothing,
    status_transitions_and_cancellation,
    refunds_never_exceed_what_was_paid,
    order_lists_filters_and_merges,
);

fn order(external_id: &str) -> Value {
    json!({
        "external_id": external_id, "channel": "web", "source_detail": "woocommerce", "placed_at": "2026-11-20T14:03:00Z",
        "currency": "EUR", "customer": {"email": "ana@example.com", "first_name": "Ana", "phone": "+33612345678"},
        "lines": [{"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "quantity": 2, "unit_price": 2500,
                   "attributes": {"material": "silver"}}],
        "discount_total": 500, "shipping_total": 490, "tax_total": 0, "total": 4990, "promo_code": "spring10",
        "referral_code": null, "marketing_consent": {"channels": ["email"], "text": "Send me offers by email"}
    })
}

async fn setup_catalogue(app: &TestApp, max_redemptions: Option<i64>) {
    let product = json!({"sku": "RING-SILVER-7", "name": "Silver ring", "product_type": "ring", "price": 2500, "currency": "EUR",
        "track_inventory": true, "stock_quantity": 10});
    assert_eq!(app.post("/v1/products", &app.token("products:write"), product).await.status.as_u16(), 201);
    let mut code = json!({"code": "SPRING10", "discount": {"type": "percent", "value": 10}});
    if let Some(max) = max_redemptions {
        code["max_redemptions"] = json!(max);
    }
    assert_eq!(app.post("/v1/promo-codes", &app.token("campaigns:write"), code).await.status.as_u16(), 201);
}

fn post_order(app: &TestApp, body: &Value, key: Option<&str>) -> TestRequest {
    let mut request =
        TestRequest::post().uri("/v1/orders").insert_header(bearer(&app.token("orders:write"))).set_json(body);
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key.to_string()));
    }
    request
}

async fn stock(app: &TestApp) -> i64 {
    app.get("/v1/products/RING-SILVER-7", &app.token("orders:read")).await.body["stock_quantity"].as_i64().unwrap()
}

async fn an_order_records_everything_in_one_go(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let response = app.call(post_order(&app, &order("shop-10045"), Some("key-1"))).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    let o = &response.body;
    assert_eq!(response.header("location"), Some(format!("/v1/orders/{}", o["id"]).as_str()));
    assert_eq!(
        (o["status"].as_str(), o["promo_code"].as_str(), o["promo_code_status"].as_str()),
        (Some("placed"), Some("SPRING10"), Some("applied"))
    );
    assert_eq!(
        (o["subtotal"].as_i64(), o["total"].as_i64(), o["net_total"].as_i64()),
        (Some(5000), Some(4990), Some(4990))
    );
    assert!(o["lines"][0]["product_id"].is_i64());
    assert_eq!(o["lines"][0]["line_total"], 5000);
    assert_eq!(stock(&app).await, 8);
    let movements = app.get("/v1/products/RING-SILVER-7/stock-movements", &app.token("orders:read")).await;
    assert_eq!(
        (movements.body["items"][0]["reason"].as_str(), movements.body["items"][0]["order_id"].clone()),
        (Some("sale"), o["id"].clone())
    );
    let redemptions = app.get("/v1/promo-codes/SPRING10/redemptions", &app.token("orders:read")).await;
    assert_eq!(redemptions.body["items"][0]["order_id"], o["id"]);

    let customer = app.get(&format!("/v1/customers/{}", o["customer_id"]), &app.token("customers:read")).await.body;
    assert_eq!((customer["source"].as_str(), customer["email"].as_str()), (Some("checkout"), Some("ana@example.com")));
    assert_eq!(customer["consents"]["email"], "subscribed");
    assert_eq!(customer["purchases"][0]["orders_count"], 1);
    assert_eq!(customer["purchases"][0]["total_spent"], 4990);
    let history =
        app.get(&format!("/v1/customers/{}/consents/history", o["customer_id"]), &app.token("customers:read")).await;
    assert_eq!(history.body["items"][0]["source"], "checkout");
    assert_eq!(history.body["items"][0]["consent_text"], "Send me offers by email");
    assert_eq!(app.get(&format!("/v1/orders/{}", o["id"]), &app.token("orders:read")).await.body, response.body);

    // Checkouts upsert only the profile; the customer API still answers with the whole record.
    let upserted = app
        .put("/v1/customers/by-email/ana@example.com", &app.token("customers:write"), json!({"last_name": "Silva"}))
        .await;
    assert_eq!(upserted.status.as_u16(), 200, "{}", upserted.text);
    assert_eq!(upserted.body["last_name"], "Silva");
    assert_eq!(upserted.body["consents"]["email"], "subscribed");
    assert_eq!(upserted.body["purchases"], customer["purchases"]);
}

async fn idempotency_key_replays_and_refuses_other_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let mut body = order("shop-1");
    body.as_object_mut().unwrap().remove("external_id");
    let first = app.call(post_order(&app, &body, Some("retry-me"))).await;
    assert_eq!(first.status.as_u16(), 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let replay = app.call(post_order(&app, &body, Some("retry-me"))).await;
    assert_eq!((replay.status.as_u16(), replay.header("idempotent-replayed")), (201, Some("true")));
    assert_eq!((replay.text.as_str(), replay.header("location")), (first.text.as_str(), first.header("location")));
    let mut other = body.clone();
    other["shipping_total"] = json!(0);
    other["total"] = json!(4500);
    let mismatch = app.call(post_order(&app, &other, Some("retry-me"))).await;
    assert_eq!(mismatch.invalid_fields(), vec!["Idempotency-Key"]);
    let missing = app.call(post_order(&app, &body, None)).await;
    missing.assert_problem(400);
    assert_eq!(app.count("orders").await, 1);
    // A failed request releases its key: fixing the body and retrying works.
    let mut broken = body.clone();
    broken["total"] = json!(1);
    app.call(post_order(&app, &broken, Some("fix-me"))).await.assert_problem(422);
    assert_eq!(app.call(post_order(&app, &body, Some("fix-me"))).await.status.as_u16(), 201);
}

async fn twenty_concurrent_identical_posts_make_one_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let body = order("shop-race");
    let responses = app.call_concurrently((0..20).map(|_| post_order(&app, &body, Some("same-key"))).collect()).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    assert_eq!(app.count("orders").await, 1, "exactly one order: {statuses:?}");
    assert_eq!(stock(&app).await, 8, "stock moved once");
    // Without keys, the external_id holds the line.
    let responses: Vec<TestResponse> =
        app.call_concurrently((0..20).map(|_| post_order(&app, &order("shop-race-2"), None)).collect()).await;
    let created: Vec<&TestResponse> = responses.iter().filter(|r| r.status.as_u16() == 201).collect();
    assert_eq!(created.len(), 1);
    for loser in responses.iter().filter(|r| r.status.as_u16() != 201) {
        loser.assert_problem(409);
        assert_eq!(loser.body["existing_id"], created[0].body["id"]);
    }
    assert_eq!(app.count("orders").await, 2);
}

async fn invalid_orders_are_rejected_without_writing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|o| o["total"] = json!(5000)), "total"),
        (Box::new(|o| o["lines"] = json!([])), "lines"),
        (Box::new(|o| o["lines"][0]["quantity"] = json!(0)), "lines[0].quantity"),
        (
            Box::new(|o| {
                o["lines"][0]["unit_price"] = json!(-1);
                o["total"] = json!(-1012);
            }),
            "lines[0].unit_price",
        ),
        (Box::new(|o| o["currency"] = json!("EURO")), "currency"),
        (Box::new(|o| o["placed_at"] = json!("2999-01-01T00:00:00Z")), "placed_at"),
        (Box::new(|o| o["channel"] = json!("pigeon")), "channel"),
        (Box::new(|o| o["customer"] = json!({"first_name": "Nobody"})), "customer.email"),
        (Box::new(|o| o["customer"] = json!({"email": "bad"})), "customer.email"),
        (Box::new(|o| o["customer"] = json!({"id": -4})), "customer.id"),
        (Box::new(|o| o["lines"][0]["sku"] = json!("has space")), "lines[0].sku"),
        (Box::new(|o| o["discount_total"] = json!(-5)), "discount_total"),
        (Box::new(|o| o["coupon"] = json!("x")), "coupon"),
    ];
    for (n, (change, field)) in cases.into_iter().enumerate() {
        let mut body = order(&format!("bad-{n}"));
        change(&mut body);
        let response = app.call(post_order(&app, &body, Some(&format!("k{n}")))).await;
        assert!(response.invalid_fields().contains(&field.to_string()), "{field}: {}", response.text);
    }
    let mut unknown_customer = order("bad-x");
    unknown_customer["customer"] = json!({"id": 999});
    assert_eq!(app.call(post_order(&app, &unknown_customer, Some("kx"))).await.invalid_fields(), vec!["customer.id"]);
    assert_eq!((app.count("orders").await, app.count("customers").await, stock(&app).await), (0, 0, 10));
    app.call(
        TestRequest::post().uri("/v1/orders").insert_header(bearer(&app.token("orders:read"))).set_json(order("x")),
    )
    .await
    .assert_problem(403);
}

async fn bad_promo_codes_and_unknown_skus_never_reject_the_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let writer = app.token("campaigns:write");
    app.post(
        "/v1/promo-codes",
        &writer,
        json!({"code": "OLD", "discount": {"type": "percent", "value": 5}, "valid_until": "2020-01-01T00:00:00Z"}),
    )
    .await;
    app.post(
        "/v1/promo-codes",
        &writer,
        json!({"code": "BIG", "discount": {"type": "percent", "value": 5}, "min_subtotal": 100000}),
    )
    .await;
    for (n, (code, status)) in
        [("NOPE", "unknown"), ("OLD", "expired"), ("BIG", "not_eligible")].into_iter().enumerate()
    {
        let mut body = order(&format!("p{n}"));
        body["promo_code"] = json!(code);
        body["lines"][0]["sku"] = json!("MYSTERY-BOX");
        let response = app.call(post_order(&app, &body, None)).await;
        assert_eq!(response.status.as_u16(), 201, "{}", response.text);
        assert_eq!(response.body["promo_code_status"], status);
        assert_eq!(response.body["lines"][0]["product_id"], Value::Null, "unknown SKU kept as given");
    }
    assert_eq!(stock(&app).await, 10);
}

async fn only_one_order_takes_the_last_redemption(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, Some(1)).await;
    let requests = (0..2)
        .map(|n| {
            let mut body = order(&format!("race-{n}"));
            body["customer"]["email"] = json!(format!("buyer{n}@example.com"));
            post_order(&app, &body, None)
        })
        .collect();
    let responses = app.call_concurrently(requests).await;
    let mut statuses: Vec<&str> = responses.iter().map(|r| r.body["promo_code_status"].as_str().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, vec!["applied", "exhausted"]);
    assert_eq!(app.get("/v1/promo-codes/SPRING10", &app.token("orders:read")).await.body["redemptions"], 1);
}

/// A flash sale: concurrent orders for the same product and the same limited code. The
/// stock and the code's counter are taken last in each order's transaction; an order that
/// finds the code used up at that point runs again and is recorded without it.
async fn a_sale_on_one_product_and_code_loses_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, Some(3)).await;
    let requests = (0..8)
        .map(|n| {
            let mut body = order(&format!("sale-{n}"));
            body["customer"]["email"] = json!(format!("sale{n}@example.com"));
            post_order(&app, &body, Some(&format!("sale-key-{n}")))
        })
        .collect();
    let responses = app.call_concurrently(requests).await;
    let mut statuses: Vec<&str> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status.as_u16(), 201, "{}", r.text);
            r.body["promo_code_status"].as_str().unwrap()
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, [vec!["applied"; 3], vec!["exhausted"; 5]].concat());
    // 8 orders of 2 units from 10: the product allows overselling, and nothing is lost.
    assert_redeemed_and_stock(&app, 3, 3, 10 - 8 * 2).await;
}

/// The code is checked on a plain read and its counter taken last. Here another writer
/// takes the last redemption after this order read the code and before it takes the
/// counter: on PostgreSQL the order's take finds the code used up and the order runs again
/// (its first attempt's id is skipped); on SQLite the writer holds the database, so the
/// order reads the code used up at once. Either way the order is recorded without the code.
async fn a_code_used_up_while_the_order_runs_is_not_applied(backend: Backend) {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, Some(2)).await;
    let first = app.call(post_order(&app, &order("used-up-1"), None)).await;
    assert_eq!(first.body["promo_code_status"], "applied", "{}", first.text);

    let (taken, wait_for_taken) = std::sync::mpsc::channel();
    let db = app.state.db.clone();
    let other_writer = std::thread::spawn(move || {
        db.with_conn(|conn| {
            conn.write_transaction(|conn| {
                diesel::sql_query("UPDATE promo_codes SET redemptions = max_redemptions").execute(conn)?;
                taken.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(700));
                Ok::<_, rapport::error::AppError>(())
            })
        })
        .unwrap()
    });
    wait_for_taken.recv().unwrap();
    let mut body = order("used-up-2");
    body["customer"]["email"] = json!("late@example.com");
    let late = app.call(post_order(&app, &body, Some("used-up-key"))).await;
    other_writer.join().unwrap();
    assert_eq!(late.status.as_u16(), 201, "{}", late.text);
    assert_eq!(late.body["promo_code_status"], "exhausted");
    if backend == Backend::Postgres {
        let first_id = first.body["id"].as_i64().unwrap();
        assert_eq!(late.body["id"].as_i64(), Some(first_id + 2), "the first attempt was rolled back and run again");
    }
    // The counter is the other writer's; the redemption row is the first order's.
    assert_redeemed_and_stock(&app, 2, 1, 10 - 2 * 2).await;
}

/// The code's counter, its redemption rows, the ring's stock, and rollups that agree with
/// the orders.
async fn assert_redeemed_and_stock(app: &TestApp, counter: i64, redemption_rows: usize, stock_left: i64) {
    let read = app.token("orders:read");
    assert_eq!(app.get("/v1/promo-codes/SPRING10", &read).await.body["redemptions"], counter);
    let redemptions = app.get("/v1/promo-codes/SPRING10/redemptions", &read).await;
    assert_eq!(redemptions.body["items"].as_array().map(Vec::len), Some(redemption_rows), "{}", redemptions.text);
    assert_eq!(stock(app).await, stock_left);
    let differences = app.state.db.with_conn(rapport::services::rollups::check).expect("check");
    assert!(differences.is_empty(), "{differences:?}");
}

async fn a_failure_mid_transaction_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    // A trigger that fails on one line, after the customer, order and first stock move were written.
    let trigger = match backend {
        Backend::Sqlite => vec!["CREATE TRIGGER boom BEFORE INSERT ON stock_movements WHEN NEW.delta = -3 BEGIN SELECT RAISE(ABORT, 'boom'); END".to_string()],
        Backend::Postgres => vec![
            "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.delta = -3 THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql".to_string(),
            "CREATE TRIGGER boom BEFORE INSERT ON stock_movements FOR EACH ROW EXECUTE FUNCTION boom()".to_string(),
        ],
    };
    app.state
        .db
        .with_conn(|conn| {
            use diesel::RunQueryDsl;
            for sql in &trigger {
                diesel::sql_query(sql).execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    let mut body = order("boom-1");
    body["lines"] = json!([
        {"sku": "RING-SILVER-7", "name": "Silver ring", "quantity": 1, "unit_price": 2500},
        {"sku": "RING-SILVER-7", "name": "Silver ring again", "quantity": 3, "unit_price": 2500}
    ]);
    body["total"] = json!(10000 - 500 + 490);
    let response = app.call(post_order(&app, &body, Some("boom"))).await;
    response.assert_problem(500);
    assert_eq!(
        (
            app.count("orders").await,
            app.count("order_lines").await,
            app.count("customers").await,
            app.count("consent_events").await
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (stock(&app).await, app.count("stock_movements").await, app.count("promo_redemptions").await),
        (10, 1, 0)
    );
    assert_eq!(app.count("idempotency_keys").await, 0, "the key is released for a retry");
}

async fn status_transitions_and_cancellation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let writer = app.token("orders:write");
    let first = app.call(post_order(&app, &order("s-1"), None)).await.body;
    let path = format!("/v1/orders/{}/status", first["id"]);
    app.post(&path, &writer, json!({"status": "fulfilled"})).await.assert_problem(409);
    assert_eq!(app.post(&path, &writer, json!({"status": "paid"})).await.body["status"], "paid");
    assert_eq!(app.post(&path, &writer, json!({"status": "fulfilled"})).await.body["status"], "fulfilled");
    app.post(&path, &writer, json!({"status": "cancelled"})).await.assert_problem(409);
    assert_eq!(app.post(&path, &writer, json!({"status": "placed"})).await.invalid_fields(), vec!["status"]);

    let second = app.call(post_order(&app, &order("s-2"), None)).await.body;
    assert_eq!(stock(&app).await, 6);
    let cancelled =
        app.post(&format!("/v1/orders/{}/status", second["id"]), &writer, json!({"status": "cancelled"})).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(stock(&app).await, 8, "stock restored on cancel");
    assert_eq!(
        app.get("/v1/promo-codes/SPRING10", &app.token("orders:read")).await.body["redemptions"],
        1,
        "redemption given back"
    );
    let customer = app.get(&format!("/v1/customers/{}", first["customer_id"]), &app.token("customers:read")).await.body;
    assert_eq!(customer["purchases"][0]["orders_count"], 1, "cancelled orders do not count");
    app.post("/v1/orders/999/status", &writer, json!({"status": "paid"})).await.assert_problem(404);
}

async fn refunds_never_exceed_what_was_paid(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let placed = app.call(post_order(&app, &order("r-1"), None)).await.body;
    let path = format!("/v1/orders/{}/refunds", placed["id"]);
    let line_id = placed["lines"][0]["id"].as_i64().unwrap();
    let refund = |body: Value, key: &str| {
        TestRequest::post()
            .uri(&path)
            .insert_header(bearer(&app.token("orders:write")))
            .insert_header(("Idempotency-Key", key.to_string()))
            .set_json(body)
    };
    let first = app
        .call(refund(
            json!({"amount": 2500, "reason": "too small", "lines": [{"line_id": line_id, "quantity": 1}]}),
            "rf-1",
        ))
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    assert_eq!((first.body["refunded_total"].as_i64(), first.body["net_total"].as_i64()), (Some(2500), Some(2490)));
    assert_eq!(first.body["lines"][0]["refunded_quantity"], 1);
    let replay = app
        .call(refund(
            json!({"amount": 2500, "reason": "too small", "lines": [{"line_id": line_id, "quantity": 1}]}),
            "rf-1",
        ))
        .await;
    assert_eq!(
        (replay.header("idempotent-replayed"), replay.body["refunded_total"].as_i64()),
        (Some("true"), Some(2500))
    );
    let over = app.call(refund(json!({"amount": 2491, "reason": "more"}), "rf-2")).await;
    assert_eq!(over.invalid_fields(), vec!["amount"]);
    let too_many = app
        .call(refund(json!({"amount": 10, "reason": "x", "lines": [{"line_id": line_id, "quantity": 2}]}), "rf-3"))
        .await;
    assert_eq!(too_many.invalid_fields(), vec!["lines[0].quantity"]);
    assert_eq!(app.call(refund(json!({"amount": 0, "reason": "x"}), "rf-4")).await.invalid_fields(), vec!["amount"]);
    let customer =
        app.get(&format!("/v1/customers/{}", placed["customer_id"]), &app.token("customers:read")).await.body;
    assert_eq!(customer["purchases"][0]["total_spent"], 2490, "net of refunds");
    let rest = app.call(refund(json!({"amount": 2490, "reason": "all of it"}), "rf-5")).await;
    assert_eq!(rest.body["net_total"], 0);
    assert_eq!(app.count("refunds").await, 2);
}

async fn order_lists_filters_and_merges(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    setup_catalogue(&app, None).await;
    let ana = app.call(post_order(&app, &order("l-1"), None)).await.body;
    let mut other = order("l-2");
    other["customer"] = json!({"email": "bob@example.com", "phone": "+33612345678"});
    other["channel"] = json!("store");
    other["promo_code"] = Value::Null;
    other["lines"][0]["sku"] = json!("CARD");
    let bob = app.call(post_order(&app, &other, None)).await.body;
    let reader = app.token("orders:read");
    let ids = |page: &Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(
        ids(&app.get("/v1/orders", &reader).await.body),
        vec![bob["id"].as_i64().unwrap(), ana["id"].as_i64().unwrap()]
    );
    assert_eq!(ids(&app.get("/v1/orders?channel=store", &reader).await.body), vec![bob["id"].as_i64().unwrap()]);
    assert_eq!(ids(&app.get("/v1/orders?sku=RING-SILVER-7", &reader).await.body), vec![ana["id"].as_i64().unwrap()]);
    assert_eq!(ids(&app.get("/v1/orders?promo_code=spring10", &reader).await.body), vec![ana["id"].as_i64().unwrap()]);
    assert_eq!(
        ids(&app.get(&format!("/v1/orders?customer_id={}", ana["customer_id"]), &reader).await.body),
        vec![ana["id"].as_i64().unwrap()]
    );
    assert_eq!(ids(&app.get("/v1/orders?placed_before=2026-01-01T00:00:00Z", &reader).await.body), Vec::<i64>::new());
    app.get("/v1/orders?status=lost", &reader).await.assert_problem(400);
    app.get("/v1/customers/999/orders", &reader).await.assert_problem(404);

    let merged = app
        .post(
            &format!("/v1/customers/{}/merge", ana["customer_id"]),
            &app.token("customers:write"),
            json!({"duplicate_id": bob["customer_id"]}),
        )
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    assert_eq!(merged.body["purchases"][0]["orders_count"], 2, "orders follow the merge");
    let mine = app.get(&format!("/v1/customers/{}/orders", ana["customer_id"]), &reader).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);
    let timeline =
        app.get(&format!("/v1/customers/{}/timeline", ana["customer_id"]), &app.token("customers:read")).await;
    let orders_in_timeline = timeline.body["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "order").count();
    assert_eq!(orders_in_timeline, 2, "orders join the timeline");

    // Erasure keeps the orders (statistics need them), attached to the anonymous placeholder.
    let erased = app.delete(&format!("/v1/customers/{}", ana["customer_id"]), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204);
    let kept = app.get(&format!("/v1/orders/{}", ana["id"]), &reader).await;
    assert_eq!((kept.status.as_u16(), kept.body["customer_id"].clone()), (200, ana["customer_id"].clone()));
    assert_eq!(app.count("orders").await, 2);
}
