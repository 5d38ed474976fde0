//! Purchase predictions: the background refit, the figures on customers, segment fields,
//! the analytics report with its holdout check, merges, erasure and degenerate data.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use rapport::services::predictions::{refresh, refresh_at, Refresh};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};
use crate::segments::place_order;

both_backends!(
    predictions_follow_the_orders,
    time_without_orders_lowers_the_probability_alive,
    predictions_follow_merges_and_vanish_with_erasure,
    too_little_data_is_an_answer,
);

/// Each buyer's order days, as days ago (first order first).
type Histories = BTreeMap<i64, Vec<i64>>;

async fn refresh_now(app: &TestApp) -> Refresh {
    let (db, config) = (app.state.db.clone(), app.state.config.predictions);
    actix_web::web::block(move || refresh(&db, &config)).await.unwrap().expect("refresh")
}

async fn report(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/analytics/predictions{query}"), &app.token("analytics:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body
}

async fn predictions_of(app: &TestApp, id: i64) -> Value {
    let response = app.get(&format!("/v1/customers/{id}"), &app.token("customers:read")).await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    response.body["predictions"].clone()
}

/// 60 buyers with known histories: first orders 120 to 297 days ago, 0 to 5 repeat
/// purchases 20 days apart; every fourth buyer made its repeats quickly, long ago.
async fn buyers(app: &TestApp) -> Histories {
    let mut histories = Histories::new();
    for i in 0..60_i64 {
        let id = app.create_customer(json!({"email": format!("buyer{i}@example.com")})).await["id"].as_i64().unwrap();
        let first = 297 - 3 * i;
        let gap = if i % 4 == 0 { 3 } else { 20 };
        let days: Vec<i64> = (0..=(i % 6)).map(|n| first - n * gap).collect();
        for (n, days_ago) in days.iter().enumerate() {
            place_order(app, id, "RING-1", "ring", 2000 + 500 * n as i64 + 100 * (i % 7), *days_ago).await;
        }
        histories.insert(id, days);
    }
    histories
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("not a number: {value}"))
}

/// The probability alive of BG/NBD, written out from the paper for the test.
fn probability_alive(model: &Value, days: &[i64]) -> f64 {
    let (r, alpha, a, b) = (number(&model["r"]), number(&model["alpha"]), number(&model["a"]), number(&model["b"]));
    let x = (days.len() - 1) as f64;
    if x == 0.0 {
        return 1.0;
    }
    let age = days[0] as f64;
    let t_x = (days[0] - days[days.len() - 1]) as f64;
    1.0 / (1.0 + a / (b + x - 1.0) * ((alpha + age) / (alpha + t_x)).powf(r + x))
}

async fn preview(app: &TestApp, rules: Value) -> (i64, Vec<i64>) {
    let response = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": rules})).await;
    assert_eq!(response.status.as_u16(), 200, "{rules}: {}", response.text);
    let count = response.body["count"].as_i64().unwrap();
    let sample: Vec<i64> =
        response.body["sample"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    (count, sample)
}

/// The segment selects exactly `expected`: its count, and a sample from it.
async fn assert_selects(app: &TestApp, rules: Value, expected: &[i64]) {
    let (count, sample) = preview(app, rules.clone()).await;
    assert_eq!(count, expected.len() as i64, "{rules}");
    assert!(sample.iter().all(|id| expected.contains(id)), "{rules}: {sample:?} against {expected:?}");
    assert_eq!(sample.len(), expected.len().min(20));
}

async fn predictions_follow_the_orders(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let empty = report(&app, "").await;
    assert_eq!(empty["status"], "not_fitted");
    assert_eq!(empty["bg_nbd"], Value::Null);
    assert_eq!(empty["clv_deciles"], json!([]));

    let histories = buyers(&app).await;
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 60 });
    assert_eq!(refresh_now(&app).await, Refresh::Unchanged, "nothing changed since");
    let fitted = report(&app, "?top=3").await;
    assert_eq!(fitted["status"], "fitted", "{fitted}");
    assert_eq!(fitted["currency"], "EUR");
    assert_eq!(fitted["customers"], 60);
    assert_eq!(fitted["repeat_buyers"], 50);
    assert_eq!(fitted["horizon_days"], 90);
    assert_eq!(fitted["clv_discount_rate"], 0.1);
    let model = fitted["bg_nbd"].clone();
    for name in ["r", "alpha", "a", "b"] {
        assert!(number(&model[name]) > 0.0, "{model}");
    }
    assert!(number(&model["log_likelihood"]) < 0.0);
    assert!(fitted["gamma_gamma"]["p"].as_f64().unwrap() > 0.0, "{fitted}");
    let deciles = fitted["clv_deciles"].as_array().unwrap();
    assert_eq!(deciles.len(), 10);
    assert_eq!(deciles.iter().map(|d| d["customers"].as_u64().unwrap()).sum::<u64>(), 60);
    for pair in deciles.windows(2) {
        assert!(pair[0]["min"].as_i64() >= pair[1]["max"].as_i64(), "deciles go down: {pair:?}");
    }
    let top = fitted["top_customers"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    assert_eq!(top[0]["predicted_clv_12m"], deciles[0]["max"]);

    // Every buyer's figures agree with the model and the thresholds.
    let mut alive = BTreeMap::new();
    for (id, days) in &histories {
        let figures = predictions_of(&app, *id).await;
        let p = number(&figures["probability_alive"]);
        let expected = probability_alive(&model, days);
        assert!((p - expected).abs() < 1e-9, "customer {id}: {p} against {expected}");
        let risk = if p >= 0.7 {
            "low"
        } else if p >= 0.3 {
            "medium"
        } else {
            "high"
        };
        assert_eq!(figures["churn_risk"], risk, "{figures}");
        assert_eq!(figures["currency"], "EUR");
        assert_eq!(figures["horizon_days"], 90);
        assert_eq!(figures["expected_orders"], figures["expected_orders_90d"]);
        assert!(number(&figures["expected_orders_90d"]) >= 0.0);
        assert!(figures["predicted_clv_12m"].as_i64().unwrap() >= 0);
        alive.insert(*id, (p, figures.clone()));
    }
    let quick_and_gone = histories.keys().nth(4).unwrap();
    let regular = histories.keys().nth(5).unwrap();
    assert!(alive[quick_and_gone].0 < alive[regular].0, "a buyer who stopped long ago is less likely alive");

    // Segment fields select from the stored figures.
    let matching = |keep: &dyn Fn(&Value) -> bool| {
        alive.iter().filter(|(_, (_, f))| keep(f)).map(|(id, _)| *id).collect::<Vec<i64>>()
    };
    let below_half = matching(&|f| number(&f["probability_alive"]) < 0.5);
    assert!(!below_half.is_empty());
    assert_selects(&app, json!({"field": "probability_alive", "op": "lt", "value": 0.5}), &below_half).await;
    let high = matching(&|f| f["churn_risk"] == "high");
    assert_selects(&app, json!({"field": "churn_risk", "op": "in", "value": ["high"]}), &high).await;
    let mut values: Vec<i64> = alive.values().map(|(_, f)| f["predicted_clv_12m"].as_i64().unwrap()).collect();
    values.sort();
    let median = values[30];
    let valuable = matching(&|f| f["predicted_clv_12m"].as_i64().unwrap() >= median);
    assert_selects(&app, json!({"field": "predicted_clv_12m", "op": "gte", "value": median}), &valuable).await;
    let some_orders = matching(&|f| (0.2..=1.0).contains(&number(&f["expected_orders_90d"])));
    assert_selects(&app, json!({"field": "expected_orders_90d", "op": "between", "value": [0.2, 1.0]}), &some_orders)
        .await;
    for (rule, field) in [
        (json!({"field": "probability_alive", "op": "gt", "value": 1.5}), "rules.value"),
        (json!({"field": "churn_risk", "op": "eq", "value": "extreme"}), "rules.value"),
        (json!({"field": "predicted_clv_12m", "op": "eq", "value": 100}), "rules.op"),
        (json!({"field": "expected_orders_90d", "op": "between", "value": [2, 1]}), "rules.value"),
    ] {
        let response = app.post("/v1/segments/preview", &app.token("campaigns:read"), json!({"rules": rule})).await;
        response.assert_problem(422);
        assert_eq!(response.invalid_fields(), [field], "{rule}");
    }

    // The holdout check: fitted on the orders before the calibration end, against what
    // happened since, counted here from the histories.
    let end = (Utc::now() - Duration::days(100)).date_naive();
    let checked = report(&app, &format!("?calibration_end={end}")).await;
    let holdout = &checked["holdout"];
    assert_eq!(holdout["problem"], Value::Null, "{holdout}");
    assert_eq!(holdout["holdout_days"], 100);
    let actual: usize = histories.values().map(|days| days.iter().filter(|d| **d <= 100).count()).sum();
    assert_eq!(holdout["actual_total"], actual as u64);
    let before: usize = histories.values().filter(|days| days[0] > 100).count();
    assert_eq!(holdout["customers"], before as u64);
    let rows = holdout["by_calibration_purchases"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows.iter().map(|r| r["customers"].as_u64().unwrap()).sum::<u64>(), before as u64);
    assert_eq!(rows[7]["or_more"], true);
    let predicted: f64 = rows.iter().map(|r| number(&r["predicted_mean"]) * number(&r["customers"])).sum();
    assert!((predicted - number(&holdout["predicted_total"])).abs() < 1e-6);
    assert!(number(&holdout["mean_absolute_error"]) >= 0.0);

    // A new order changes the figures at the next refresh.
    let (first_id, _) = histories.iter().next().unwrap();
    place_order(&app, *first_id, "RING-1", "ring", 2000, 1).await;
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 60 });
    let refitted = report(&app, "").await["bg_nbd"].clone();
    assert_ne!(refitted, model);
    let days: Vec<i64> = histories[first_id].iter().copied().chain([1]).collect();
    let p = number(&predictions_of(&app, *first_id).await["probability_alive"]);
    assert!((p - probability_alive(&refitted, &days)).abs() < 1e-9);

    // A buyer whose only order is cancelled is no buyer any more: the next refit drops
    // their figures.
    let newcomer = app.create_customer(json!({"email": "newcomer@example.com"})).await["id"].as_i64().unwrap();
    let order = place_order(&app, newcomer, "RING-1", "ring", 2000, 2).await;
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 61 });
    assert_eq!(app.count("customer_predictions").await, 61);
    assert_eq!(predictions_of(&app, newcomer).await["probability_alive"], 1.0);
    let cancelled = app
        .post(&format!("/v1/orders/{}/status", order["id"]), &app.token("orders:write"), json!({"status": "cancelled"}))
        .await;
    assert_eq!(cancelled.status.as_u16(), 200, "{}", cancelled.text);
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 60 });
    assert_eq!(predictions_of(&app, newcomer).await, Value::Null);
    assert_eq!(app.count("customer_predictions").await, 60);

    // Bad parameters name themselves; the scope is analytics:read.
    let today = Utc::now().date_naive();
    for (query, field) in [
        (format!("?calibration_end={today}"), "calibration_end"),
        ("?calibration_end=2026-13-01".to_string(), "calibration_end"),
        ("?top=0".to_string(), "top"),
        ("?top=101".to_string(), "top"),
    ] {
        let response = app.get(&format!("/v1/analytics/predictions{query}"), &app.token("analytics:read")).await;
        response.assert_problem(422);
        assert_eq!(response.invalid_fields(), [field], "{query}");
    }
    let forbidden = app.get("/v1/analytics/predictions", &app.token("customers:read")).await;
    forbidden.assert_problem(403);
}

async fn predictions_follow_merges_and_vanish_with_erasure(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("RAPPORT_PREDICTION_HORIZON_DAYS", "30")]).await;
    let histories = buyers(&app).await;
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 60 });
    assert_eq!(app.count("customer_predictions").await, 60);
    let ids: Vec<i64> = histories.keys().copied().collect();
    let figures = predictions_of(&app, ids[7]).await;
    assert_eq!(figures["horizon_days"], 30);
    assert!(number(&figures["expected_orders"]) < number(&figures["expected_orders_90d"]), "{figures}");

    // A merge: the duplicate's figures go at once, the survivor's follow the moved orders.
    let (survivor, duplicate) = (ids[1], ids[2]);
    crate::referrals::merge(&app, survivor, duplicate).await;
    assert_eq!(app.count("customer_predictions").await, 59);
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 59 });
    let mut joined: Vec<i64> = histories[&survivor].iter().chain(&histories[&duplicate]).copied().collect();
    joined.sort_by(|a, b| b.cmp(a));
    joined.dedup();
    let model = report(&app, "").await["bg_nbd"].clone();
    let p = number(&predictions_of(&app, survivor).await["probability_alive"]);
    assert!((p - probability_alive(&model, &joined)).abs() < 1e-9, "the survivor is scored on both histories");

    // Erasure: the figures vanish and stay gone.
    let erased = app.delete(&format!("/v1/customers/{}", ids[9]), &app.token("admin")).await;
    assert_eq!(erased.status.as_u16(), 204, "{}", erased.text);
    assert_eq!(app.count("customer_predictions").await, 58);
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 58 });
    assert_eq!(app.count("customer_predictions").await, 58);
}

async fn too_little_data_is_an_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // No orders at all.
    match refresh_now(&app).await {
        Refresh::NoModel(reason) => assert!(reason.contains("too few buyers"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let none = report(&app, "").await;
    assert_eq!(none["status"], "insufficient_data");
    assert!(none["problem"].as_str().unwrap().contains("too few buyers"), "{none}");
    assert_eq!(none["bg_nbd"], Value::Null);

    // One buyer of one product.
    let one = app.create_customer(json!({"email": "one@example.com"})).await["id"].as_i64().unwrap();
    place_order(&app, one, "RING-1", "ring", 2000, 3).await;
    assert!(matches!(refresh_now(&app).await, Refresh::NoModel(_)));
    assert_eq!(predictions_of(&app, one).await, Value::Null);

    // Many buyers, none of whom came back.
    for i in 0..40 {
        let id = app.create_customer(json!({"email": format!("once{i}@example.com")})).await["id"].as_i64().unwrap();
        place_order(&app, id, "RING-1", "ring", 2000, 10 + i).await;
    }
    match refresh_now(&app).await {
        Refresh::NoModel(reason) => assert!(reason.contains("too few repeat buyers"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let answer = report(&app, "").await;
    assert_eq!(answer["status"], "insufficient_data");
    assert!(answer["problem"].as_str().unwrap().contains("repeat buyers"), "{answer}");
    assert_eq!(predictions_of(&app, one).await, Value::Null);
    let end = (Utc::now() - Duration::days(5)).date_naive();
    let holdout = report(&app, &format!("?calibration_end={end}")).await["holdout"].clone();
    assert!(holdout["problem"].as_str().unwrap().contains("too few"), "{holdout}");
    assert_eq!(holdout["customers"], 0);
}

/// The clock moves 200 days on without a new order: the day changed, so the job refits, and
/// every repeat buyer is less likely to be alive than before.
async fn time_without_orders_lowers_the_probability_alive(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let histories = buyers(&app).await;
    assert_eq!(refresh_now(&app).await, Refresh::Fitted { buyers: 60 });
    let mut before = BTreeMap::new();
    for id in histories.keys() {
        before.insert(*id, number(&predictions_of(&app, *id).await["probability_alive"]));
    }
    let later = rapport::services::now() + Duration::days(200);
    let (db, config) = (app.state.db.clone(), app.state.config.predictions);
    let (outcome, _) = actix_web::web::block(move || refresh_at(&db, &config, later)).await.unwrap().expect("refresh");
    assert_eq!(outcome, Refresh::Fitted { buyers: 60 });
    let fitted_at = report(&app, "").await["fitted_at"].as_str().unwrap().to_string();
    assert!(fitted_at.starts_with(&later.date().to_string()), "{fitted_at}");
    for (id, days) in &histories {
        let now = number(&predictions_of(&app, *id).await["probability_alive"]);
        if days.len() > 1 {
            assert!(now < before[id], "customer {id}: {now} is not below {}", before[id]);
        } else {
            assert_eq!(now, 1.0, "BG/NBD: no repeat purchase, no dropout");
        }
    }
}
