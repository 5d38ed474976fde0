//! Rotating the token secret: old tokens work while listed as previous, and nothing keyed
//! with the data keys (suppression hashes, campaign and customer links) notices.

use std::time::Duration;

use actix_web::test::TestRequest;
use chrono::Utc;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rapport::auth::key_id;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, Backend, TestApp, TEST_SECRET};
use crate::segments::set_consent;

both_backends!(
    old_tokens_work_only_while_their_secret_is_listed_as_previous,
    erased_people_stay_suppressed_after_a_rotation,
    links_issued_before_a_rotation_still_work_after_it,
    a_database_from_before_stored_keys_keeps_its_hashes_and_links,
    data_keys_are_random_created_once_and_shared,
);

const NEW_SECRET: &str = "rotated-secret-fedcba9876543210fedcba9876543210";

fn rotated() -> [(&'static str, &'static str); 2] {
    [("RAPPORT_JWT_SECRET", NEW_SECRET), ("RAPPORT_JWT_PREVIOUS_SECRETS", TEST_SECRET)]
}

/// A token as signed before tokens carried a `kid`.
fn token_without_kid(secret: &str) -> String {
    let now = Utc::now().timestamp();
    let claims = json!({"sub": "legacy-shop", "iat": now, "exp": now + 3600, "scope": "customers:read"});
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).unwrap().kid
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.get("/v1/customers", token).await.status.as_u16()
}

async fn old_tokens_work_only_while_their_secret_is_listed_as_previous(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = app.token("customers:read");
    assert_eq!(kid(&old), Some(key_id(TEST_SECRET.as_bytes())), "tokens name their key");
    let legacy = token_without_kid(TEST_SECRET);
    assert_eq!((status(&app, &old).await, status(&app, &legacy).await), (200, 200));

    // Rotation: the new secret signs, the old one still verifies.
    let app = app.restart_with(&rotated()).await;
    let new = app.token("customers:read");
    assert_eq!(kid(&new), Some(key_id(NEW_SECRET.as_bytes())));
    assert_eq!(status(&app, &new).await, 200);
    assert_eq!(status(&app, &old).await, 200, "a token of a previous secret is accepted");
    assert_eq!(status(&app, &legacy).await, 200, "a token without kid is tried with the previous secrets too");

    // The old secret removed from the list: its tokens are refused.
    let app = app.restart_with(&[("RAPPORT_JWT_SECRET", NEW_SECRET)]).await;
    for token in [&old, &legacy] {
        let refused = app.get("/v1/customers", token).await;
        refused.assert_problem(401);
        assert!(refused.header("www-authenticate").unwrap().contains("invalid_token"));
    }
    assert_eq!(status(&app, &new).await, 200);
    assert_eq!(status(&app, &token_without_kid(NEW_SECRET)).await, 200);
}

/// Posts a CSV import (upsert) and waits (bounded) for it to finish; returns the job.
pub(crate) async fn import(app: &TestApp, csv: &str) -> Value {
    let request = TestRequest::post()
        .uri("/v1/imports?mode=upsert")
        .insert_header(bearer(&app.token("admin")))
        .insert_header(("Content-Type", "text/csv"))
        .set_payload(csv.to_string());
    let response = app.call(request).await;
    assert_eq!(response.status.as_u16(), 202, "{}", response.text);
    let location = response.header("location").unwrap().to_string();
    for _ in 0..300 {
        let job = app.get(&location, &app.token("admin")).await;
        if matches!(job.body["status"].as_str(), Some("completed" | "failed")) {
            return job.body;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

/// Asserts that neither a checkout with marketing consent nor an import brings zoe's
/// consent back.
async fn assert_zoe_stays_suppressed(app: &TestApp) {
    let events = app.count("consent_events").await;
    let order = json!({"external_id": "after-rotation", "channel": "web", "placed_at": "2026-11-20T14:03:00Z",
        "currency": "EUR", "customer": {"email": "Zoe@example.com"},
        "lines": [{"sku": "HAT", "name": "Hat", "product_type": "hat", "quantity": 1, "unit_price": 2000}],
        "total": 2000, "marketing_consent": {"channels": ["email"], "text": "Send me offers"}});
    let placed = app.post("/v1/orders", &app.token("orders:write"), order).await;
    assert_eq!(placed.status.as_u16(), 201, "the order stands: {}", placed.text);
    let buyer = app.get(&format!("/v1/customers/{}", placed.body["customer_id"]), &app.token("customers:read")).await;
    assert_ne!(buyer.body["consents"]["email"], "subscribed", "{}", buyer.text);
    assert_eq!(app.count("consent_events").await, events, "the checkout recorded no consent");

    let csv = "email,phone,consent_email,consent_email_at\nzoe@example.com,,subscribed,2026-01-01T00:00:00Z\n,+33612345678,,\n";
    let job = import(app, csv).await;
    assert_eq!((job["rejected"].as_i64(), job["created"].as_i64()), (Some(2), Some(0)), "email and phone: {job}");
    assert_eq!(app.count("consent_events").await, events, "the import recorded no consent");
}

async fn erased_people_stay_suppressed_after_a_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let zoe = app.create_customer(json!({"email": "zoe@example.com", "phone": "+33612345678"})).await;
    let erased = app.delete(&format!("/v1/customers/{}", zoe["id"]), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);

    // A full rotation: the old secret is not even listed as previous.
    let app = app.restart_with(&[("RAPPORT_JWT_SECRET", NEW_SECRET)]).await;
    assert_zoe_stays_suppressed(&app).await;
}

/// Ana (subscribed, tagged club) in a launched and sent email campaign with a tracked link,
/// and Bob's own unsubscribe link. Returns (Ana, Bob, campaign id, Bob's unsubscribe URL).
async fn campaign_and_links(app: &TestApp) -> (i64, i64, i64, String) {
    let ana = app.create_customer(json!({"email": "ana@example.com", "first_name": "Ana", "tags": ["club"]})).await;
    let ana = ana["id"].as_i64().unwrap();
    set_consent(app, ana, "email", "subscribed").await;
    let bob = app.create_customer(json!({"email": "bob@example.com"})).await["id"].as_i64().unwrap();
    set_consent(app, bob, "email", "subscribed").await;
    let link =
        app.get(&format!("/v1/customers/{bob}/unsubscribe-url?channel=email"), &app.token("customers:read")).await;
    assert_eq!(link.status.as_u16(), 200, "{}", link.text);
    let bob_url = link.body["url"].as_str().unwrap().to_string();

    let writer = app.token("campaigns:write");
    let campaign = json!({"name": "Sale", "channel": "email", "subject": "Sale",
        "rules": {"field": "tag", "op": "eq", "value": "club"},
        "content": "Sale: https://shop.example/sale\nUnsubscribe: {{unsubscribe_url}}"});
    let created = app.post("/v1/campaigns", &writer, campaign).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_i64().unwrap();
    let launched = app.post(&format!("/v1/campaigns/{id}/launch"), &writer, json!({})).await;
    assert_eq!(launched.status.as_u16(), 200, "{}", launched.text);
    let sent = app.post(&format!("/v1/campaigns/{id}/send"), &writer, json!({"rate_per_minute": 6000})).await;
    assert_eq!(sent.body, json!({"queued": 1, "skipped": 0}), "{}", sent.text);
    (ana, bob, id, bob_url)
}

/// The one contact's unsubscribe URL and tracked link path, as the contact list shows them.
async fn contact_links(app: &TestApp, campaign: i64) -> (String, String) {
    let contacts = app.get(&format!("/v1/campaigns/{campaign}/contacts"), &app.token("campaigns:read")).await;
    let contact = &contacts.body["items"][0];
    let content = contact["content"].as_str().unwrap();
    let link = content.split_whitespace().find(|word| word.contains("/v1/t/c/")).unwrap();
    let path = link[link.find("/v1/").unwrap()..].to_string();
    (contact["unsubscribe_url"].as_str().unwrap().to_string(), path)
}

/// The `List-Unsubscribe` URL of the queued campaign mail.
async fn list_unsubscribe(app: &TestApp) -> String {
    let mut urls =
        texts(app, "SELECT list_unsubscribe AS value FROM messages WHERE list_unsubscribe IS NOT NULL").await;
    assert_eq!(urls.len(), 1, "{urls:?}");
    urls.remove(0)
}

fn path_of(url: &str) -> String {
    url[url.find("/v1/").expect("a rapport URL")..].to_string()
}

async fn one_click_unsubscribe(app: &TestApp, url: &str) {
    let request = TestRequest::post()
        .uri(&path_of(url))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload("List-Unsubscribe=One-Click");
    let response = app.call(request).await;
    assert_eq!(response.status.as_u16(), 200, "{url}: {}", response.text);
}

async fn email_state(app: &TestApp, customer: i64) -> Value {
    app.get(&format!("/v1/customers/{customer}"), &app.token("customers:read")).await.body["consents"]["email"].clone()
}

/// Everything issued before the rotation still works after it.
async fn assert_links_work(
    app: &TestApp,
    ana: i64,
    bob: i64,
    campaign: i64,
    issued: &(String, String, String, String),
) {
    let (shown_unsubscribe, shown_link, mailed_unsubscribe, bob_url) = issued;
    assert_eq!(&contact_links(app, campaign).await, &(shown_unsubscribe.clone(), shown_link.clone()), "same links");
    let click = app.get(shown_link, "").await;
    assert_eq!(click.status.as_u16(), 302, "{}", click.text);
    assert_eq!(click.header("location"), Some("https://shop.example/sale"));
    one_click_unsubscribe(app, mailed_unsubscribe).await;
    assert_eq!(email_state(app, ana).await, "unsubscribed");
    one_click_unsubscribe(app, bob_url).await;
    assert_eq!(email_state(app, bob).await, "unsubscribed");
}

async fn links_issued_before_a_rotation_still_work_after_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (ana, bob, campaign, bob_url) = campaign_and_links(&app).await;
    let (shown_unsubscribe, shown_link) = contact_links(&app, campaign).await;
    let mailed_unsubscribe = list_unsubscribe(&app).await;
    assert_eq!(path_of(&mailed_unsubscribe), path_of(&shown_unsubscribe), "the mail carries the shown link");

    let app = app.restart_with(&[("RAPPORT_JWT_SECRET", NEW_SECRET)]).await;
    assert_links_work(&app, ana, bob, campaign, &(shown_unsubscribe, shown_link, mailed_unsubscribe, bob_url)).await;
}

async fn texts(app: &TestApp, sql: &'static str) -> Vec<String> {
    app.state
        .db
        .run(move |conn| {
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::Text)]
                value: String,
            }
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query(sql).load::<Row>(conn)?.into_iter().map(|row| row.value).collect())
        })
        .await
        .expect("query")
}

async fn execute(app: &TestApp, sql: String) {
    app.state
        .db
        .run(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).execute(conn)?;
            Ok(())
        })
        .await
        .expect("statement");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 of `label:value` keyed with the token secret: how hashes were made before
/// the data keys were stored.
fn keyed_with_secret(label: &str, value: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(TEST_SECRET.as_bytes()).unwrap();
    mac.update(format!("{label}:{value}").as_bytes());
    hex(&mac.finalize().into_bytes())
}

async fn a_database_from_before_stored_keys_keeps_its_hashes_and_links(backend: Backend) {
    // Before this version the token secret keyed everything: serve with every data key
    // set to it, make the data, then empty the key table as a database of then has it.
    let app = TestApp::spawn(backend).await;
    execute(&app, "DELETE FROM server_keys".into()).await;
    for purpose in rapport::keys::Purpose::ALL {
        let (name, key) = (purpose.as_str(), hex(TEST_SECRET.as_bytes()));
        let sql = format!(
            "INSERT INTO server_keys (purpose, key_hex, created_at) VALUES ('{name}', '{key}', '2026-11-01 00:00:00')"
        );
        execute(&app, sql).await;
    }
    let app = app.restart_with(&[]).await;
    let zoe = app.create_customer(json!({"email": "zoe@example.com", "phone": "+33612345678"})).await;
    app.delete(&format!("/v1/customers/{}", zoe["id"]), &app.token("admin")).await;
    let mut hashes = texts(&app, "SELECT hash AS value FROM suppressions").await;
    hashes.sort();
    let mut expected = vec![keyed_with_secret("email", "zoe@example.com"), keyed_with_secret("phone", "+33612345678")];
    expected.sort();
    assert_eq!(hashes, expected, "the data is keyed as before stored keys");
    let (ana, bob, campaign, bob_url) = campaign_and_links(&app).await;
    let (shown_unsubscribe, shown_link) = contact_links(&app, campaign).await;
    let mailed_unsubscribe = list_unsubscribe(&app).await;
    execute(&app, "DELETE FROM server_keys".into()).await;

    // The upgrade (same secret) stores the secret as the key of data that exists...
    let app = app.restart_with(&[]).await;
    assert_eq!(texts(&app, "SELECT key_hex AS value FROM server_keys").await, vec![hex(TEST_SECRET.as_bytes()); 4]);
    // ...so after a rotation everything made before still holds.
    let app = app.restart_with(&rotated()).await;
    assert_zoe_stays_suppressed(&app).await;
    assert_links_work(&app, ana, bob, campaign, &(shown_unsubscribe, shown_link, mailed_unsubscribe, bob_url)).await;
}

async fn data_keys_are_random_created_once_and_shared(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let keys = texts(&app, "SELECT key_hex AS value FROM server_keys ORDER BY purpose").await;
    assert_eq!(keys.len(), 4, "one key per purpose");
    assert!(keys.iter().all(|key| key.len() == 64 && *key != hex(TEST_SECRET.as_bytes())), "{keys:?}");
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "each purpose has its own key");

    // A restart (with another secret) finds them and keeps them.
    let app = app.restart_with(&[("RAPPORT_JWT_SECRET", NEW_SECRET)]).await;
    assert_eq!(texts(&app, "SELECT key_hex AS value FROM server_keys ORDER BY purpose").await, keys);

    // Instances starting together on a database without keys end up with the same ones.
    execute(&app, "DELETE FROM server_keys".into()).await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let db = app.state.db.clone();
            std::thread::spawn(move || rapport::services::keys::ensure(&db, NEW_SECRET.as_bytes()).unwrap())
        })
        .collect();
    let hashes: Vec<String> = starts
        .into_iter()
        .map(|start| start.join().unwrap().keyed_hash(rapport::keys::Purpose::SuppressionEmail, "x@example.com"))
        .collect();
    assert!(hashes.windows(2).all(|pair| pair[0] == pair[1]), "{hashes:?}");
    assert_eq!(app.count("server_keys").await, 4);
}
