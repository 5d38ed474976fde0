//! Purchase profiles, "also bought" products, recommendations, the segment fields built on
//! them and the recommendations campaign contacts carry; on both backends. The stored
//! tables are brought up to date by running the background job's function directly.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::segments::set_consent;

both_backends!(
    profile_is_live_from_the_orders,
    related_products_and_recommendations,
    repeatable_types_are_recommended_again,
    degenerate_catalogues_and_histories,
    profile_and_recommendations_follow_a_merge,
    erasure_forgets_the_stored_profile,
    segments_select_by_price_band_and_affinity,
    campaign_contacts_carry_recommendations,
    bad_requests_are_named,
);

async fn customer(app: &TestApp, email: &str) -> i64 {
    app.create_customer(json!({"email": email, "first_name": email.split('@').next().unwrap()})).await["id"]
        .as_i64()
        .unwrap()
}

async fn product(app: &TestApp, sku: &str, name: &str, product_type: &str, price: i64) {
    let body = json!({"sku": sku, "name": name, "product_type": product_type, "price": price, "currency": "EUR"});
    let response = app.post("/v1/products", &app.token("products:write"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
}

/// The jewellery shop: rings, a necklace, earrings, tea.
async fn catalogue(app: &TestApp) {
    product(app, "RING-S", "Silver ring", "ring", 3000).await;
    product(app, "RING-G", "Gold ring", "ring", 9000).await;
    product(app, "NECK", "Necklace", "necklace", 3500).await;
    product(app, "EAR", "Earrings", "earring", 3200).await;
    product(app, "TEA", "Tea", "tea", 800).await;
}

/// An order of `lines` (sku, product type, unit price, quantity, material).
async fn order(app: &TestApp, customer_id: i64, lines: &[(&str, &str, i64, i64, &str)]) -> i64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let external_id = format!("rec-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, product_type, price, quantity, material)| {
            json!({"sku": sku, "name": sku, "product_type": product_type, "quantity": quantity, "unit_price": price,
                   "attributes": {"material": material}})
        })
        .collect();
    let total: i64 = lines.iter().map(|l| l["unit_price"].as_i64().unwrap() * l["quantity"].as_i64().unwrap()).sum();
    let body = json!({"external_id": external_id, "channel": "web", "currency": "EUR", "customer": {"id": customer_id},
        "lines": lines, "total": total});
    let response = app.post("/v1/orders", &app.token("admin"), body).await;
    assert_eq!(response.status.as_u16(), 201, "{}", response.text);
    response.body["id"].as_i64().unwrap()
}

fn refresh(app: &TestApp) -> bool {
    rapport::services::recommendations::refresh(&app.state.db).expect("refresh the recommendation tables")
}

async fn recommended(app: &TestApp, customer_id: i64, query: &str) -> Vec<Value> {
    let response =
        app.get(&format!("/v1/customers/{customer_id}/recommendations{query}"), &app.token("customers:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    assert_eq!(response.body["customer_id"], customer_id);
    response.body["items"].as_array().unwrap().clone()
}

fn skus(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["sku"].as_str().unwrap()).collect()
}

async fn profile(app: &TestApp, customer_id: i64) -> Value {
    let response = app.get(&format!("/v1/customers/{customer_id}/profile"), &app.token("customers:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

async fn profile_is_live_from_the_orders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalogue(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    assert_eq!(
        profile(&app, ana).await,
        json!({"customer_id": ana, "units": 0, "spend_currency": null, "price_bands": [], "affinities": []})
    );
    order(&app, ana, &[("RING-S", "ring", 2000, 2, "silver"), ("NECK", "necklace", 4000, 1, "silver")]).await;
    order(&app, ana, &[("RING-G", "ring", 6000, 1, "gold")]).await;
    let cancelled = order(&app, ana, &[("EAR", "earring", 50_000, 3, "gold")]).await;
    let response = app
        .post(&format!("/v1/orders/{cancelled}/status"), &app.token("orders:write"), json!({"status": "cancelled"}))
        .await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    // No refresh: the profile is computed from the orders at each request.
    let body = profile(&app, ana).await;
    assert_eq!(body["units"], 4);
    assert_eq!(body["spend_currency"], "EUR");
    // Units at 2000, 2000, 4000, 6000: 25th percentile 2000, 75th 4500.
    assert_eq!(body["price_bands"], json!([{"currency": "EUR", "low": 2000, "high": 4500, "units": 4}]));
    let affinity = |dimension: &str, value: &str| {
        body["affinities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["dimension"] == dimension && a["value"] == value)
            .unwrap_or_else(|| panic!("{dimension} {value}: {body}"))
            .clone()
    };
    let ring = affinity("product_type", "ring");
    assert_eq!((ring["units"].as_i64(), ring["unit_share"].as_f64()), (Some(3), Some(0.75)));
    // Spend: rings 4000 + 6000 of 14000.
    assert!((ring["spend_share"].as_f64().unwrap() - 10.0 / 14.0).abs() < 1e-9, "{ring}");
    assert_eq!(affinity("attributes.material", "silver")["unit_share"], 0.75);
    assert_eq!(affinity("product_type", "necklace")["unit_share"], 0.25);
    assert!(!body["affinities"].as_array().unwrap().iter().any(|a| a["value"] == "earring"), "cancelled");
    // Unknown customers, scopes.
    app.get("/v1/customers/999999/profile", &app.token("customers:read")).await.assert_problem(404);
    app.get("/v1/customers/abc/profile", &app.token("customers:read")).await.assert_problem(404);
    app.get(&format!("/v1/customers/{ana}/profile"), &app.token("orders:read")).await.assert_problem(403);
    app.get(&format!("/v1/customers/{ana}/profile"), "not-a-token").await.assert_problem(401);
}

/// ana, ben: Silver ring + Necklace. cleo: Silver ring + Earrings. dan: Tea. fay: Silver ring.
async fn shop(app: &TestApp) -> [i64; 6] {
    catalogue(app).await;
    let ana = customer(app, "ana@example.com").await;
    let ben = customer(app, "ben@example.com").await;
    let cleo = customer(app, "cleo@example.com").await;
    let dan = customer(app, "dan@example.com").await;
    let fay = customer(app, "fay@example.com").await;
    let new = customer(app, "new@example.com").await;
    order(app, ana, &[("RING-S", "ring", 3000, 1, "silver"), ("NECK", "necklace", 3500, 1, "silver")]).await;
    order(app, ben, &[("RING-S", "ring", 3000, 1, "silver")]).await;
    order(app, ben, &[("NECK", "necklace", 3500, 1, "silver")]).await;
    order(app, cleo, &[("RING-S", "ring", 3000, 1, "silver"), ("EAR", "earring", 3200, 1, "silver")]).await;
    order(app, dan, &[("TEA", "tea", 800, 3, "leaf")]).await;
    order(app, fay, &[("RING-S", "ring", 3000, 1, "silver")]).await;
    [ana, ben, cleo, dan, fay, new]
}

async fn related_products_and_recommendations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, _ben, cleo, dan, fay, new] = shop(&app).await;
    assert!(refresh(&app));
    assert!(!refresh(&app), "nothing changed since");

    // Over 5 buyers: Silver ring 4, Necklace 2, both 2: lift = (2/5) / (4/5 x 2/5) = 1.25.
    // Earrings with the ring: one customer, under the minimum support of 2.
    let related = app.get("/v1/products/RING-S/related", &app.token("customers:read")).await;
    assert_eq!(related.status.as_u16(), 200, "{}", related.text);
    assert_eq!(
        related.body,
        json!({"sku": "RING-S", "items": [{"sku": "NECK", "name": "Necklace", "product_type": "necklace", "price": 3500,
            "currency": "EUR", "active": true, "customers": 2, "lift": 1.25}]})
    );
    let related = app.get("/v1/products/NECK/related?limit=1", &app.token("customers:read")).await;
    assert_eq!(skus(related.body["items"].as_array().unwrap()), ["RING-S"]);
    let related = app.get("/v1/products/TEA/related", &app.token("customers:read")).await;
    assert_eq!(related.body["items"], json!([]));

    // Fay bought the ring: the necklace (3500, within 3000 + 20 %), also bought; then the
    // best sellers within her band (earrings at 3200; not tea at 800).
    let fays = recommended(&app, fay, "").await;
    assert_eq!(skus(&fays), ["NECK", "EAR"]);
    assert_eq!(fays[1]["source"], "best_seller");
    assert_eq!(fays[0]["source"], "also_bought");
    assert_eq!(fays[0]["price"], 3500);
    assert_eq!(
        fays[0]["reason"],
        "customers who bought Silver ring also bought this; your usual price range 30-30 EUR"
    );
    // Cleo bought the ring and earrings (band 3050-3150): the necklace, and nothing out of
    // her band (the gold ring at 9000, tea at 800).
    assert_eq!(skus(&recommended(&app, cleo, "").await), ["NECK"]);
    // Ana bought both (band 3125-3375): a best seller she has not bought, the earrings.
    let anas = recommended(&app, ana, "").await;
    assert_eq!(skus(&anas), ["EAR"]);
    assert_eq!(anas[0]["source"], "best_seller");
    // Dan (tea, 800) has nothing in his band; a new customer gets best sellers.
    assert!(recommended(&app, dan, "").await.is_empty());
    let cold = recommended(&app, new, "?limit=2").await;
    assert_eq!(skus(&cold), ["RING-S", "NECK"]);
    assert_eq!(cold[0]["reason"], "a best seller");
    assert_eq!(cold[0]["source"], "best_seller");
    // Inactive or sold-out products are never recommended.
    let writer = app.token("products:write");
    assert_eq!(app.patch("/v1/products/NECK", &writer, json!({"active": false})).await.status.as_u16(), 200);
    assert_eq!(skus(&recommended(&app, fay, "").await), ["EAR"]);
    assert_eq!(skus(&recommended(&app, new, "?limit=2").await), ["RING-S", "EAR"]);
    let patch = json!({"active": true, "track_inventory": true});
    assert_eq!(app.patch("/v1/products/NECK", &writer, patch).await.status.as_u16(), 200);
    assert_eq!(skus(&recommended(&app, fay, "").await), ["EAR"], "tracked with no stock");
    // The new order is not yet in the stored tables, but what was bought is read live.
    order(&app, fay, &[("EAR", "earring", 3200, 1, "silver")]).await;
    assert!(!skus(&recommended(&app, new, "").await).is_empty());
    assert!(!skus(&recommended(&app, fay, "").await).contains(&"EAR"));
}

async fn repeatable_types_are_recommended_again(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_REPEATABLE_PRODUCT_TYPES", "tea, coffee")]).await;
    let [_ana, _ben, _cleo, dan, fay, _new] = shop(&app).await;
    refresh(&app);
    let dans = recommended(&app, dan, "").await;
    assert_eq!(skus(&dans), ["TEA"]);
    assert_eq!(dans[0]["source"], "type_best_seller");
    assert_eq!(dans[0]["reason"], "a best seller among tea, a type you buy; your usual price range 8-8 EUR");
    // Rings are not repeatable.
    assert!(!skus(&recommended(&app, fay, "").await).contains(&"RING-S"));
}

async fn degenerate_catalogues_and_histories(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Nothing at all.
    assert!(refresh(&app));
    let alone = customer(&app, "alone@example.com").await;
    assert!(recommended(&app, alone, "").await.is_empty());
    // One product, never bought.
    product(&app, "ONLY", "The only one", "thing", 1000).await;
    let related = app.get("/v1/products/ONLY/related", &app.token("customers:read")).await;
    assert_eq!(related.body["items"], json!([]));
    refresh(&app);
    assert!(recommended(&app, alone, "").await.is_empty(), "no sales: no best seller");
    // One buyer of one product: the others get it as a best seller; the buyer nothing.
    let buyer = customer(&app, "buyer@example.com").await;
    order(&app, buyer, &[("ONLY", "thing", 1000, 1, "wood")]).await;
    assert!(refresh(&app));
    assert_eq!(skus(&recommended(&app, alone, "").await), ["ONLY"]);
    assert!(recommended(&app, buyer, "").await.is_empty());
    assert_eq!(app.get("/v1/products/ONLY/related", &app.token("customers:read")).await.body["items"], json!([]));
    // A line of no catalogue product counts for the profile, not for recommendations.
    order(&app, buyer, &[("GHOST", "thing", 1200, 1, "wood")]).await;
    assert_eq!(profile(&app, buyer).await["units"], 2);
    assert!(refresh(&app));
    assert!(recommended(&app, buyer, "").await.is_empty());
}

async fn profile_and_recommendations_follow_a_merge(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [_ana, _ben, _cleo, dan, fay, _new] = shop(&app).await;
    refresh(&app);
    assert_eq!(skus(&recommended(&app, fay, "").await), ["NECK", "EAR"]);
    // Dan (tea) merges into Fay (ring): her profile and stored band follow at once.
    let merged = app
        .post(&format!("/v1/customers/{fay}/merge"), &app.token("customers:write"), json!({"duplicate_id": dan}))
        .await;
    assert_eq!(merged.status.as_u16(), 200, "{}", merged.text);
    let body = profile(&app, fay).await;
    assert_eq!(body["units"], 4);
    assert_eq!(body["price_bands"], json!([{"currency": "EUR", "low": 800, "high": 1350, "units": 4}]));
    app.get(&format!("/v1/customers/{dan}/profile"), &app.token("customers:read")).await.assert_problem(404);
    app.get(&format!("/v1/customers/{dan}/recommendations"), &app.token("customers:read")).await.assert_problem(404);
    // Units at 800 x3 and 3000: band 800-1350 (+- 20 %: 640-1620): the necklace is out.
    assert!(recommended(&app, fay, "").await.is_empty());
    let band = json!({"field": "price_band", "op": "overlaps", "value": {"min": 700, "max": 900}, "currency": "EUR"});
    let preview = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": band})).await;
    assert_eq!(preview.body["count"], 1, "{}", preview.text);
    assert_eq!(preview.body["sample"][0]["id"], fay);
    // The next refresh agrees (the merge changed the fingerprint).
    assert!(refresh(&app));
    let preview = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": band})).await;
    assert_eq!(preview.body["count"], 1, "{}", preview.text);
}

async fn erasure_forgets_the_stored_profile(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, ..] = shop(&app).await;
    refresh(&app);
    assert!(app.count(&format!("customer_price_bands WHERE customer_id = {ana}")).await > 0);
    assert!(app.count(&format!("customer_affinities WHERE customer_id = {ana}")).await > 0);
    let erased = app.delete(&format!("/v1/customers/{ana}"), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);
    for table in ["customer_price_bands", "customer_affinities"] {
        assert_eq!(app.count(&format!("{table} WHERE customer_id = {ana}")).await, 0, "{table}");
    }
    // The refresh does not bring them back (erased customers are left out).
    assert!(refresh(&app));
    for table in ["customer_price_bands", "customer_affinities"] {
        assert_eq!(app.count(&format!("{table} WHERE customer_id = {ana}")).await, 0, "{table}");
    }
    app.get(&format!("/v1/customers/{ana}/profile"), &app.token("customers:read")).await.assert_problem(404);
    app.get(&format!("/v1/customers/{ana}/recommendations"), &app.token("customers:read")).await.assert_problem(404);
}

async fn preview_ids(app: &TestApp, rules: Value) -> Vec<i64> {
    let response = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": rules})).await;
    assert_eq!(response.status.as_u16(), 200, "{rules}: {}", response.text);
    let mut ids: Vec<i64> =
        response.body["sample"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids
}

async fn segments_select_by_price_band_and_affinity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, ben, cleo, dan, fay, new] = shop(&app).await;
    refresh(&app);
    let band = |min: i64, max: i64| json!({"field": "price_band", "op": "overlaps", "value": {"min": min, "max": max}, "currency": "EUR"});
    // Bands: ana, ben 3125-3375; cleo 3050-3150; dan 800-800; fay 3000-3000.
    assert_eq!(preview_ids(&app, band(3100, 5000)).await, [ana, ben, cleo]);
    assert_eq!(preview_ids(&app, band(0, 1000)).await, [dan]);
    let gbp = json!({"field": "price_band", "op": "overlaps", "value": {"min": 0, "max": 99999}, "currency": "GBP"});
    assert!(preview_ids(&app, gbp).await.is_empty());
    let share = |op: &str, value: &str, share: f64| json!({"field": "affinity.product_type", "op": op, "value": {"value": value, "share": share}});
    assert_eq!(preview_ids(&app, share("gte", "ring", 0.5)).await, [ana, ben, cleo, fay]);
    assert_eq!(preview_ids(&app, share("gt", "ring", 0.5)).await, [fay]);
    // Customers who never bought a ring have a share of 0.
    assert_eq!(preview_ids(&app, share("lt", "ring", 0.5)).await, [dan, new]);
    let material =
        json!({"field": "affinity.attributes.material", "op": "gte", "value": {"value": "leaf", "share": 1}});
    assert_eq!(preview_ids(&app, material).await, [dan]);
    // Invalid conditions name the field.
    let token = app.token("campaigns:read");
    let no_currency = json!({"rules": {"field": "price_band", "op": "overlaps", "value": {"min": 1, "max": 2}}});
    assert_eq!(app.post("/v1/segments/preview", &token, no_currency).await.invalid_fields(), ["rules.currency"]);
    let inverted = json!({"rules": {"all": [band(5, 2)]}});
    assert_eq!(app.post("/v1/segments/preview", &token, inverted).await.invalid_fields(), ["rules.all[0].value"]);
    let too_much = json!({"rules": share("gte", "ring", 2.0)});
    assert_eq!(app.post("/v1/segments/preview", &token, too_much).await.invalid_fields(), ["rules.value"]);
    let wrong_op =
        json!({"rules": {"field": "affinity.product_type", "op": "eq", "value": {"value": "ring", "share": 0.5}}});
    assert_eq!(app.post("/v1/segments/preview", &token, wrong_op).await.invalid_fields(), ["rules.op"]);
}

async fn campaign_contacts_carry_recommendations(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let [ana, ben, cleo, dan, fay, new] = shop(&app).await;
    for id in [ana, ben, cleo, dan, fay, new] {
        set_consent(&app, id, "email", "subscribed").await;
    }
    refresh(&app);
    let rules = json!({"field": "orders_count", "op": "gte", "value": 0});
    let created = app
        .post(
            "/v1/campaigns",
            &app.token("campaigns:write"),
            json!({"name": "Picks", "channel": "email", "rules": rules, "subject": "For you", "content": "Hello"}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    let launched = app.post(&format!("/v1/campaigns/{id}/launch"), &app.token("campaigns:write"), json!({})).await;
    assert_eq!(launched.status.as_u16(), 200, "{}", launched.text);
    let response = app.get(&format!("/v1/campaigns/{id}/contacts?limit=4"), &app.token("campaigns:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    let mut pages = vec![response.body.clone()];
    if let Some(cursor) = response.body["next_cursor"].as_str() {
        let next = app
            .get(&format!("/v1/campaigns/{id}/contacts?limit=4&cursor={cursor}"), &app.token("campaigns:read"))
            .await;
        pages.push(next.body);
    }
    let contacts: Vec<Value> = pages.iter().flat_map(|p| p["items"].as_array().unwrap().clone()).collect();
    assert_eq!(contacts.len(), 6);
    let of = |customer: i64| contacts.iter().find(|c| c["customer_id"] == customer).unwrap()["recommendations"].clone();
    assert_eq!(
        of(fay)[0],
        json!({"sku": "NECK", "name": "Necklace", "price": 3500, "currency": "EUR",
                "reason": "customers who bought Silver ring also bought this; your usual price range 30-30 EUR"})
    );
    assert_eq!(of(fay).as_array().unwrap().len(), 2);
    let cold = of(new);
    let cold: Vec<&str> = cold.as_array().unwrap().iter().map(|r| r["sku"].as_str().unwrap()).collect();
    assert_eq!(cold, ["RING-S", "NECK", "EAR"], "top 3");
    assert_eq!(of(dan), json!([]));
    // The same as the customer endpoint's top 3.
    let top: Vec<Value> = recommended(&app, cleo, "?limit=3").await;
    let cleos = of(cleo);
    assert_eq!(skus(&top), cleos.as_array().unwrap().iter().map(|r| r["sku"].as_str().unwrap()).collect::<Vec<_>>());
}

async fn bad_requests_are_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    catalogue(&app).await;
    let ana = customer(&app, "ana@example.com").await;
    let token = app.token("customers:read");
    let path = format!("/v1/customers/{ana}/recommendations");
    for limit in ["0", "51", "-3"] {
        let response = app.get(&format!("{path}?limit={limit}"), &token).await;
        assert_eq!(response.invalid_fields(), ["limit"], "{limit}");
    }
    let response = app.get(&format!("{path}?limit=many"), &token).await;
    assert!(response.assert_problem(400)["detail"].as_str().unwrap().contains("`limit`"), "{}", response.text);
    let response = app.get(&format!("{path}?limti=3"), &token).await;
    assert!(response.assert_problem(400)["detail"].as_str().unwrap().contains("limti"), "{}", response.text);
    assert!(recommended(&app, ana, "?limit=50").await.is_empty(), "no sales yet: no best sellers");
    app.get("/v1/customers/424242/recommendations", &token).await.assert_problem(404);
    app.get("/v1/customers/x/recommendations", &token).await.assert_problem(404);
    app.get(&path, &app.token("orders:read")).await.assert_problem(403);
    // Related products.
    let response = app.get("/v1/products/NOPE/related", &token).await;
    assert!(response.assert_problem(404)["detail"].as_str().unwrap().contains("NOPE"));
    for limit in ["0", "21"] {
        assert_eq!(
            app.get(&format!("/v1/products/RING-S/related?limit={limit}"), &token).await.invalid_fields(),
            ["limit"]
        );
    }
    app.get("/v1/products/RING-S/related?limit=x", &token).await.assert_problem(400);
    app.get("/v1/products/RING-S/related", &app.token("orders:read")).await.assert_problem(403);
    app.get("/v1/products/RING-S/related", "").await.assert_problem(401);
}
