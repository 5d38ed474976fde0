//! Purchase predictions at about 100,000 buyers: the background refit and rescore, what requests
//! see while it runs, and the holdout check on the seeded data.
//!
//!     cargo bench --bench predictions
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench predictions
//!
//! SQLite always; PostgreSQL too, in the same run, when TEST_DATABASE_URL is set. Each
//! backend gets a fresh database seeded by `rapport::seed` (BENCH_CUSTOMERS customers,
//! default 140,000; BENCH_ORDERS orders, default 700,000; seed 42; three years of orders up
//! to 2026-11-01): about 100,000 buyers in EUR, the currency the model is fitted on.
//!
//! Printed per backend:
//! - raw: the one query the refit reads (every live order's customer, time and net value),
//!   loaded on one connection: the floor of any refit;
//! - the refit in parts (summaries, BG/NBD + Gamma-Gamma fit, scoring), then
//!   `services::predictions::refresh` as the background job runs it (read, fit, score,
//!   write every buyer's figures in one transaction); goal: < 30 s;
//! - `GET /v1/customers/{id}` and `POST /v1/orders` latencies from one client, first with
//!   the server idle, then while the refresh runs (BENCH_SECONDS per idle phase, default 5);
//! - the holdout check of `GET /v1/analytics/predictions?calibration_end=2026-05-01`
//!   (fitted on the orders before, compared with the orders after) and its time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rapport::auth::Scope;
use rapport::domain::predictions::{fit_model, score, summarize, ScoringSettings};
use rapport::repositories::predictions as prediction_repo;
use rapport::seed::SeedOptions;
use rapport::services::predictions::{refresh_timed, Refresh};
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::{
    app_state, env_number, ms, on_each_backend, phase_duration, token, HttpClient, Measurement, RunningServer,
};

const SEED: u64 = 42;
const CALIBRATION_END: &str = "2026-05-01";
const GOAL: Duration = Duration::from_secs(30);

fn main() {
    let customers = env_number("BENCH_CUSTOMERS", 140_000);
    let orders = env_number("BENCH_ORDERS", 700_000);
    println!(
        "command: cargo bench --bench predictions   (release; SQLite, and PostgreSQL in the same run when TEST_DATABASE_URL is set)"
    );
    println!("dataset: rapport::seed, {customers} customers, {orders} orders, seed {SEED}, fresh per backend");
    on_each_backend(|backend, url| bench(backend, url, customers, orders));
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

fn bench(backend: &str, url: &str, customers: u64, orders: u64) {
    let state = app_state(url);
    let options = SeedOptions { customers, orders, seed: SEED, progress: false, timezone: state.config.timezone };
    let started = Instant::now();
    rapport::seed::run(&state.db, &options).unwrap_or_else(|e| panic!("seeding failed: {e}"));
    println!("{backend:<8} seeded in {}", seconds(started.elapsed()));

    // The raw read, then the refit in parts.
    let currency = state
        .db
        .with_conn(|conn| Ok(prediction_repo::main_currency(conn)?))
        .expect("main currency")
        .expect("the seeded orders have a currency");
    let started = Instant::now();
    let points =
        state.db.with_conn(|conn| Ok(prediction_repo::order_points(conn, &currency)?)).expect("read the orders");
    let raw = started.elapsed();
    let now = rapport::services::now();
    let started = Instant::now();
    let buyers = summarize(&points, now);
    let summarized = started.elapsed();
    let started = Instant::now();
    let model = fit_model(&buyers).expect("the seeded data fits");
    let fitted = started.elapsed();
    let settings = ScoringSettings {
        horizon_days: state.config.predictions.horizon_days,
        annual_discount_rate: state.config.predictions.clv_discount_rate,
    };
    let started = Instant::now();
    let scored: Vec<_> = buyers.iter().map(|buyer| score(&model, buyer, settings)).collect();
    let scoring = started.elapsed();
    println!(
        "{backend:<8} raw read: {} orders of {} buyers in {currency} in {}",
        points.len(),
        buyers.len(),
        seconds(raw)
    );
    println!(
        "{backend:<8} parts: summaries {}, fit {} (r {:.3}, alpha {:.1} days, a {:.3}, b {:.3}; p {}, q {}, gamma {}), \
         scoring {} buyers {}",
        seconds(summarized),
        seconds(fitted),
        model.r,
        model.alpha,
        model.a,
        model.b,
        model.spend.map_or("-".into(), |s| format!("{:.2}", s.p)),
        model.spend.map_or("-".into(), |s| format!("{:.2}", s.q)),
        model.spend.map_or("-".into(), |s| format!("{:.1}", s.gamma)),
        scored.len(),
        seconds(scoring),
    );
    drop(points);

    let token = token(&state, &[Scope::Admin]);
    let sample_ids: Vec<i64> = buyers.iter().step_by((buyers.len() / 500).max(1)).map(|b| b.customer_id).collect();
    let server = RunningServer::start(state.clone(), 2);

    // Requests with the server idle, then while the refresh runs.
    let idle = requests_until(server.addr, &token, &sample_ids, &Stop::Time(phase_duration()));
    let running = Arc::new(AtomicBool::new(true));
    let during = {
        let (addr, token, ids, running) = (server.addr, token.clone(), sample_ids.clone(), running.clone());
        thread::spawn(move || requests_until(addr, &token, &ids, &Stop::Flag(running)))
    };
    let started = Instant::now();
    let (outcome, parts) = refresh_timed(&state.db, &state.config.predictions).expect("refresh");
    let refreshed = started.elapsed();
    running.store(false, Ordering::SeqCst);
    let during = during.join().expect("client thread");
    let Refresh::Fitted { buyers: rescored } = outcome else { panic!("the refresh fitted nothing: {outcome:?}") };
    println!(
        "{backend:<8} refresh (read {}, fit {}, score + write {rescored} buyers' figures {}): {}  goal < 30 s: {}",
        seconds(parts.read),
        seconds(parts.fit),
        seconds(parts.write),
        seconds(refreshed),
        if refreshed < GOAL { "met" } else { "MISSED" }
    );
    for (name, index) in [("GET /v1/customers/{id}", 0), ("POST /v1/orders", 1)] {
        println!(
            "{backend:<8} {name:<24} idle: p50 {:>6} ms p99 {:>6} ms max {:>6} ms (n {:>5}) | during the refresh: \
             p50 {:>6} ms p99 {:>6} ms max {:>6} ms (n {:>5})",
            ms(idle[index].percentile(50)),
            ms(idle[index].percentile(99)),
            ms(idle[index].max()),
            idle[index].operations(),
            ms(during[index].percentile(50)),
            ms(during[index].percentile(99)),
            ms(during[index].max()),
            during[index].operations(),
        );
    }

    // The holdout check on the seeded data.
    let mut client = HttpClient::connect(server.addr, &token);
    let started = Instant::now();
    let (status, body) = client
        .send("GET", &format!("/v1/analytics/predictions?calibration_end={CALIBRATION_END}"), &[], None)
        .expect("send");
    let took = started.elapsed();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let report: Value = serde_json::from_slice(&body).expect("JSON");
    let holdout = &report["holdout"];
    println!(
        "{backend:<8} holdout check (calibration end {CALIBRATION_END}, {} days after, {}): {} buyers, predicted {:.0} \
         purchases, actual {}, mean absolute error {:.3} per buyer",
        holdout["holdout_days"],
        seconds(took),
        holdout["customers"],
        holdout["predicted_total"].as_f64().unwrap_or(0.0),
        holdout["actual_total"],
        holdout["mean_absolute_error"].as_f64().unwrap_or(0.0),
    );
    if let Some(problem) = holdout["problem"].as_str() {
        println!("{backend:<8} holdout problem: {problem}");
    }
    println!("{backend:<8}   repeat purchases before | buyers | predicted mean | actual mean");
    for row in holdout["by_calibration_purchases"].as_array().into_iter().flatten() {
        println!(
            "{backend:<8}   {:>2}{:<21} | {:>6} | {:>14.3} | {:>11.3}",
            row["repeat_purchases"],
            if row["or_more"] == true { "+" } else { "" },
            row["customers"],
            row["predicted_mean"].as_f64().unwrap_or(0.0),
            row["actual_mean"].as_f64().unwrap_or(0.0),
        );
    }
    server.stop();
}

enum Stop {
    Time(Duration),
    Flag(Arc<AtomicBool>),
}

/// One client alternating `GET /v1/customers/{id}` and `POST /v1/orders` until `stop`;
/// the latencies of each.
fn requests_until(addr: std::net::SocketAddr, token: &str, ids: &[i64], stop: &Stop) -> [Measurement; 2] {
    let mut client = HttpClient::connect(addr, token);
    let (mut reads, mut writes) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let placed_at =
        NaiveDate::from_ymd_opt(2026, 10, 30).unwrap().and_hms_opt(12, 0, 0).unwrap().and_utc().to_rfc3339();
    let mut n = 0usize;
    loop {
        let done = match stop {
            Stop::Time(limit) => started.elapsed() >= *limit,
            Stop::Flag(running) => !running.load(Ordering::SeqCst) && n >= 2,
        };
        if done {
            break;
        }
        let id = ids[n % ids.len()];
        let at = Instant::now();
        let (status, body) = client.send("GET", &format!("/v1/customers/{id}"), &[], None).expect("send");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        reads.push(at.elapsed());
        let external_id = format!("bench-{}-{n}", started.elapsed().as_nanos());
        let order = json!({"external_id": external_id, "channel": "web", "placed_at": placed_at, "currency": "EUR", "customer": {"id": id},
            "lines": [{"sku": "BENCH-1", "name": "Bench", "product_type": "bench", "quantity": 1, "unit_price": 1000}],
            "total": 1000});
        let body = serde_json::to_vec(&order).unwrap();
        let at = Instant::now();
        let (status, answer) = client.send("POST", "/v1/orders", &[], Some(&body)).expect("send");
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
        writes.push(at.elapsed());
        n += 1;
    }
    let elapsed = started.elapsed();
    [Measurement::from_latencies(reads, elapsed), Measurement::from_latencies(writes, elapsed)]
}
