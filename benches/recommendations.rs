//! Recommendations: offline quality (leave-last-purchase-out) beside a best-sellers
//! baseline, and the latency of `GET /v1/customers/{id}/recommendations`.
//!
//!     cargo bench --bench recommendations
//!     BENCH_ORDERS=20000 BENCH_EVAL_CUSTOMERS=500 BENCH_SIM_CUSTOMERS=1000 cargo bench --bench recommendations
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench recommendations
//!
//! SQLite always; PostgreSQL too, in the same run, when TEST_DATABASE_URL is set.
//!
//! Two datasets per backend:
//! - seeded: `rapport::seed` (the code behind `rapport seed`, seed 42) with BENCH_ORDERS
//!   orders (default 1,000,000) and BENCH_CUSTOMERS customers (default a tenth of the
//!   orders). Kept between runs: the SQLite file `target/tmp/recommendations-bench-<orders>.db`
//!   and the PostgreSQL database `rapport_bench_recs_<orders>` (reused when it holds the
//!   orders; delete it to seed again).
//! - simulated: customers with known preferences (two favourite product types out of 12,
//!   one of three price tiers, products bought with a fixed partner half of the time) on
//!   a fresh database; BENCH_SIM_CUSTOMERS customers (default 5,000), 2 to 6 orders each.
//!
//! Leave-last-purchase-out, on BENCH_EVAL_CUSTOMERS customers (default 2,000; spread over
//! the customers with at least two orders of catalogue products): their last order is set
//! aside (marked cancelled), the stored tables are recomputed without it
//! (`services::recommendations::refresh`), each customer gets 5 recommendations
//! (`for_customers`, in batches of 200, as campaign contact pages do) and the baseline's 5
//! (the best sellers they did not buy, available). hit rate@5: the share of customers
//! with at least one of the 5 among the products of the set-aside order. in band: the
//! share of recommended products priced within the customer's band [p25, p75] in the
//! product's currency (no tolerance); in types: the share whose product type the customer bought before. The
//! set-aside orders are restored and the tables recomputed at the end.
//!
//! Latency (seeded dataset): BENCH_RUNS requests (default 300, after 20 warm-ups) of
//! `/v1/customers/{id}/recommendations?limit=10` for the evaluated customers in turn, one
//! keep-alive connection, the server in-process (2 workers). Goal: p95 < 20 ms at 1M orders.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use rapport::auth::Scope;
use rapport::db::DbConn;
use rapport::seed::SeedOptions;
use rapport::state::AppState;

#[path = "support/mod.rs"]
mod support;

use support::{
    app_state, connect, env_number, measure, ms, on_each_backend, scalar, token, BenchDatabase, HttpClient,
    RunningServer,
};

const SEED: u64 = 42;
const TOP: usize = 5;
const BATCH: usize = 200;
const GOAL_P95: Duration = Duration::from_millis(20);
const GOAL_RATIO: f64 = 1.5;

fn main() {
    let orders = env_number("BENCH_ORDERS", 1_000_000);
    let customers = env_number("BENCH_CUSTOMERS", (orders / 10).max(1));
    let eval = env_number("BENCH_EVAL_CUSTOMERS", 2_000) as usize;
    let sim_customers = env_number("BENCH_SIM_CUSTOMERS", 5_000) as usize;
    let runs = env_number("BENCH_RUNS", 300) as usize;
    println!(
        "recommendations bench: seeded {orders} orders / {customers} customers, {eval} evaluated customers, \
         simulated {sim_customers} customers, {runs} timed requests; top {TOP}"
    );
    let admin_url = std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty());
    let mut databases = vec![BenchDatabase::Sqlite(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("recommendations-bench-{orders}.db")),
    )];
    if let Some(admin_url) = admin_url {
        databases.push(BenchDatabase::Postgres { admin_url, name: format!("rapport_bench_recs_{orders}") });
    }
    for database in &databases {
        let state = prepare(database, orders, customers);
        let backend = database.label();
        let mut conn = connect(&state.config.database);
        let evaluated = leave_last_out(&mut conn, backend, "seeded", eval);
        latency(state, backend, &evaluated, runs);
    }
    on_each_backend(|backend, url| {
        let state = app_state(url);
        let mut conn = connect(&state.config.database);
        simulate(&mut conn, sim_customers);
        leave_last_out(&mut conn, backend, "simulated", eval);
    });
    if databases.len() == 1 {
        println!("postgres SKIPPED for the seeded dataset: TEST_DATABASE_URL is not set");
    }
}

fn prepare(database: &BenchDatabase, orders: u64, customers: u64) -> AppState {
    let backend = database.label();
    database.create_if_missing();
    let state = app_state(&database.url());
    let mut conn = connect(&state.config.database);
    let have = scalar(&mut conn, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders");
    if have >= orders as i64 {
        println!("{backend:<8} seeded: reusing the {} ({have} orders)", database.describe());
        return state;
    }
    drop(conn);
    let state = if have > 0 {
        drop(state);
        database.recreate();
        app_state(&database.url())
    } else {
        state
    };
    println!("{backend:<8} seeded: seeding the {} ...", database.describe());
    let options = SeedOptions { customers, orders, seed: SEED, progress: false, timezone: state.config.timezone };
    let started = Instant::now();
    rapport::seed::run(&state.db, &options).unwrap_or_else(|e| panic!("seeding failed: {e}"));
    println!("{backend:<8} seeded: {:.1} s", started.elapsed().as_secs_f64());
    state
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = BigInt)]
    customer_id: i64,
    #[diesel(sql_type = BigInt)]
    order_id: i64,
    #[diesel(sql_type = Text)]
    status: String,
}

#[derive(QueryableByName)]
struct Pair {
    #[diesel(sql_type = BigInt)]
    a: i64,
    #[diesel(sql_type = BigInt)]
    b: i64,
}

#[derive(QueryableByName)]
struct ProductRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    product_type: String,
    #[diesel(sql_type = BigInt)]
    price: i64,
    #[diesel(sql_type = Text)]
    currency: String,
}

#[derive(QueryableByName)]
struct Band {
    #[diesel(sql_type = BigInt)]
    customer_id: i64,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = BigInt)]
    low: i64,
    #[diesel(sql_type = BigInt)]
    high: i64,
}

#[derive(Default)]
struct Score {
    customers: usize,
    hits: usize,
    recommended: usize,
    in_band: usize,
    in_types: usize,
}

impl Score {
    fn add(
        &mut self,
        recs: &[i64],
        held: &HashSet<i64>,
        in_band: impl Fn(i64) -> bool,
        in_types: impl Fn(i64) -> bool,
    ) {
        self.customers += 1;
        if recs.iter().any(|p| held.contains(p)) {
            self.hits += 1;
        }
        self.recommended += recs.len();
        self.in_band += recs.iter().filter(|p| in_band(**p)).count();
        self.in_types += recs.iter().filter(|p| in_types(**p)).count();
    }

    fn hit_rate(&self) -> f64 {
        self.hits as f64 / self.customers.max(1) as f64
    }

    fn line(&self) -> String {
        let share = |n: usize| n as f64 / self.recommended.max(1) as f64;
        format!(
            "hit@{TOP} {:.3} ({}/{})  in band {:.2}  in types {:.2}  ({:.2} recs/customer)",
            self.hit_rate(),
            self.hits,
            self.customers,
            share(self.in_band),
            share(self.in_types),
            self.recommended as f64 / self.customers.max(1) as f64
        )
    }
}

fn in_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// Sets aside the last order of `eval` customers, recomputes, scores, restores. Returns the
/// evaluated customers.
fn leave_last_out(conn: &mut DbConn, backend: &str, dataset: &str, eval: usize) -> Vec<i64> {
    let candidates: Vec<Held> = diesel::sql_query(
        "SELECT customer_id, order_id, status FROM (SELECT o.customer_id AS customer_id, o.id AS order_id, o.status AS status, \
         ROW_NUMBER() OVER (PARTITION BY o.customer_id ORDER BY o.placed_at DESC, o.id DESC) AS n, \
         COUNT(*) OVER (PARTITION BY o.customer_id) AS orders \
         FROM orders o WHERE o.status <> 'cancelled' AND EXISTS (SELECT 1 FROM order_lines l \
           WHERE l.order_id = o.id AND l.product_id IS NOT NULL AND l.quantity > l.refunded_quantity)) ranked \
         WHERE n = 1 AND orders >= 2 ORDER BY customer_id",
    )
    .load(conn)
    .expect("customers with two orders");
    let step = (candidates.len() / eval.max(1)).max(1);
    let held: Vec<&Held> = candidates.iter().step_by(step).take(eval).collect();
    let customers: Vec<i64> = held.iter().map(|h| h.customer_id).collect();
    let orders: Vec<i64> = held.iter().map(|h| h.order_id).collect();
    let mut held_products: HashMap<i64, HashSet<i64>> = HashMap::new();
    for chunk in orders.chunks(1000) {
        let sql = format!(
            "SELECT o.customer_id AS a, l.product_id AS b FROM orders o JOIN order_lines l ON l.order_id = o.id \
             WHERE l.product_id IS NOT NULL AND o.id IN ({})",
            in_list(chunk)
        );
        for pair in diesel::sql_query(sql).load::<Pair>(conn).expect("held-out lines") {
            held_products.entry(pair.a).or_default().insert(pair.b);
        }
    }
    for chunk in orders.chunks(1000) {
        conn.batch_execute(&format!("UPDATE orders SET status = 'cancelled' WHERE id IN ({})", in_list(chunk)))
            .expect("set the last orders aside");
    }
    let started = Instant::now();
    force_refresh(conn);
    let refresh_time = started.elapsed();
    println!(
        "{backend:<8} {dataset:<9} {} customers evaluated (of {} with 2+ orders); refresh without their last orders {:.1} s",
        customers.len(),
        candidates.len(),
        refresh_time.as_secs_f64()
    );

    let products: HashMap<i64, ProductRow> =
        diesel::sql_query("SELECT id, product_type, price, currency FROM products")
            .load::<ProductRow>(conn)
            .expect("products")
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
    let best: Vec<i64> = diesel::sql_query(
        "SELECT pp.product_id AS a, pp.customers AS b FROM product_popularity pp JOIN products p ON p.id = pp.product_id \
         WHERE p.active = TRUE AND (p.track_inventory = FALSE OR p.stock_quantity > 0) \
         ORDER BY pp.customers DESC, pp.product_id LIMIT 1000",
    )
    .load::<Pair>(conn)
    .expect("best sellers")
    .into_iter()
    .map(|p| p.a)
    .collect();
    let mut model = Score::default();
    let mut baseline = Score::default();
    let started = Instant::now();
    for batch in customers.chunks(BATCH) {
        let recs = rapport::services::recommendations::for_customers(conn, &[], batch, TOP).expect("recommendations");
        let list = in_list(batch);
        let mut bought: HashMap<i64, HashSet<i64>> = HashMap::new();
        let sql = format!(
            "SELECT DISTINCT o.customer_id AS a, l.product_id AS b FROM orders o JOIN order_lines l ON l.order_id = o.id \
             WHERE o.status <> 'cancelled' AND l.product_id IS NOT NULL AND o.customer_id IN ({list})"
        );
        for pair in diesel::sql_query(sql).load::<Pair>(conn).expect("bought") {
            bought.entry(pair.a).or_default().insert(pair.b);
        }
        let mut bands: HashMap<i64, Vec<Band>> = HashMap::new();
        let sql =
            format!("SELECT customer_id, currency, low, high FROM customer_price_bands WHERE customer_id IN ({list})");
        for band in diesel::sql_query(sql).load::<Band>(conn).expect("bands") {
            bands.entry(band.customer_id).or_default().push(band);
        }
        let mut types: HashMap<i64, HashSet<String>> = HashMap::new();
        #[derive(QueryableByName)]
        struct TypeRow {
            #[diesel(sql_type = BigInt)]
            customer_id: i64,
            #[diesel(sql_type = Text)]
            value: String,
        }
        let sql = format!(
            "SELECT customer_id, value FROM customer_affinities WHERE dimension = 'product_type' AND customer_id IN ({list})"
        );
        for row in diesel::sql_query(sql).load::<TypeRow>(conn).expect("types") {
            types.entry(row.customer_id).or_default().insert(row.value);
        }
        for customer in batch {
            let held = held_products.get(customer).cloned().unwrap_or_default();
            let no_bands = Vec::new();
            let customer_bands = bands.get(customer).unwrap_or(&no_bands);
            let in_band = |p: i64| {
                products.get(&p).is_some_and(|p| {
                    customer_bands.iter().any(|b| b.currency == p.currency && b.low <= p.price && p.price <= b.high)
                })
            };
            let no_types = HashSet::new();
            let customer_types = types.get(customer).unwrap_or(&no_types);
            let in_types = |p: i64| products.get(&p).is_some_and(|p| customer_types.contains(&p.product_type));
            let ours: Vec<i64> =
                recs.get(customer).map(|r| r.iter().map(|r| r.product.product_id).collect()).unwrap_or_default();
            model.add(&ours, &held, in_band, in_types);
            let no_bought = HashSet::new();
            let had = bought.get(customer).unwrap_or(&no_bought);
            let theirs: Vec<i64> = best.iter().copied().filter(|p| !had.contains(p)).take(TOP).collect();
            baseline.add(&theirs, &held, in_band, in_types);
        }
    }
    let scoring = started.elapsed();
    println!("{backend:<8} {dataset:<9} recommender   {}", model.line());
    println!("{backend:<8} {dataset:<9} best sellers  {}", baseline.line());
    let ratio = model.hit_rate() / baseline.hit_rate().max(f64::MIN_POSITIVE);
    println!(
        "{backend:<8} {dataset:<9} hit rate ratio {ratio:.2}x (goal {GOAL_RATIO}x: {}); {} batches of {BATCH} in {:.2} s",
        if ratio >= GOAL_RATIO { "met" } else { "MISSED" },
        customers.len().div_ceil(BATCH),
        scoring.as_secs_f64()
    );
    // Restore.
    let mut by_status: HashMap<&str, Vec<i64>> = HashMap::new();
    for h in &held {
        by_status.entry(h.status.as_str()).or_default().push(h.order_id);
    }
    for (status, ids) in by_status {
        for chunk in ids.chunks(1000) {
            conn.batch_execute(&format!("UPDATE orders SET status = '{status}' WHERE id IN ({})", in_list(chunk)))
                .expect("restore the last orders");
        }
    }
    force_refresh(conn);
    customers
}

/// Recomputes the stored tables whatever the fingerprint (orders were changed by SQL).
fn force_refresh(conn: &mut DbConn) {
    conn.batch_execute("UPDATE recommendation_state SET fingerprint = ''").expect("forget the fingerprint");
    rapport::services::recommendations::refresh_with(conn).expect("refresh");
}

fn latency(state: AppState, backend: &str, customers: &[i64], runs: usize) {
    if customers.is_empty() {
        println!("{backend:<8} latency: no customers to ask for");
        return;
    }
    let token = token(&state, &[Scope::CustomersRead]);
    let server = RunningServer::start(state, 2);
    let mut client = HttpClient::connect(server.addr, &token);
    let mut next = 0;
    let (_, measured) = measure(20, runs, None, || {
        let id = customers[next % customers.len()];
        next += 1;
        let (status, body) =
            client.send("GET", &format!("/v1/customers/{id}/recommendations?limit=10"), &[], None).expect("request");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    });
    let p95 = measured.nearest_rank(95);
    println!(
        "{backend:<8} seeded    GET /v1/customers/{{id}}/recommendations?limit=10: p50 {} ms  p95 {} ms  max {} ms  (n={}; goal p95 < 20 ms: {})",
        ms(measured.nearest_rank(50)),
        ms(p95),
        ms(measured.max()),
        measured.operations(),
        if p95 < GOAL_P95 { "met" } else { "MISSED" }
    );
    drop(client);
    server.stop();
}

/// SplitMix64: a small deterministic generator for the simulated shop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const SIM_TYPES: usize = 12;
const SIM_TIERS: usize = 3;
const SIM_PER_TIER: usize = 4;

/// Product id (1-based, in insertion order) of (type, tier, index).
fn sim_product(t: usize, tier: usize, index: usize) -> usize {
    1 + (t * SIM_TIERS + tier) * SIM_PER_TIER + index
}

/// A shop of 12 product types x 3 price tiers x 4 products; each customer likes two types
/// and one tier, buys from them 90 % / 80 % of the time, favours the first products of a
/// shelf (4:3:2:1), and half the time takes the product's partner (index xor 1) too.
fn simulate(conn: &mut DbConn, customers: usize) {
    let mut rng = Rng(SEED);
    let at = "'2026-01-01 00:00:00'";
    let mut products = Vec::new();
    for t in 0..SIM_TYPES {
        for tier in 0..SIM_TIERS {
            for index in 0..SIM_PER_TIER {
                let price = (1000 + 500 * t as i64) * [1, 3, 9][tier] + 100 * index as i64;
                products.push(format!(
                    "('SIM-{t}-{tier}-{index}', 'Type {t} tier {tier} #{index}', 'type{t}', {price}, 'EUR', FALSE, TRUE, {at}, {at})"
                ));
            }
        }
    }
    conn.batch_execute(&format!(
        "INSERT INTO products (sku, name, product_type, price, currency, track_inventory, active, created_at, updated_at) VALUES {}",
        products.join(", ")
    ))
    .expect("simulated products");
    let prices: Vec<i64> = (0..SIM_TYPES * SIM_TIERS * SIM_PER_TIER)
        .map(|i| {
            let (t, tier, index) = (i / (SIM_TIERS * SIM_PER_TIER), (i / SIM_PER_TIER) % SIM_TIERS, i % SIM_PER_TIER);
            (1000 + 500 * t as i64) * [1, 3, 9][tier] + 100 * index as i64
        })
        .collect();
    for chunk in (0..customers).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk.iter().map(|_| format!("('person', 'api', '{{}}', {at}, {at})")).collect();
        conn.batch_execute(&format!(
            "INSERT INTO customers (kind, source, attributes, created_at, updated_at) VALUES {}",
            rows.join(", ")
        ))
        .expect("simulated customers");
    }
    let (mut orders, mut lines) = (Vec::new(), Vec::new());
    let mut order_id = 0;
    let flush = |conn: &mut DbConn, orders: &mut Vec<String>, lines: &mut Vec<String>| {
        if !orders.is_empty() {
            conn.batch_execute(&format!(
                "INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, discount_total, \
                 shipping_total, tax_total, total, created_by, created_at, updated_at) VALUES {}",
                orders.join(", ")
            ))
            .expect("simulated orders");
            conn.batch_execute(&format!(
                "INSERT INTO order_lines (order_id, product_id, sku, name, product_type, attributes, quantity, unit_price) VALUES {}",
                lines.join(", ")
            ))
            .expect("simulated lines");
            orders.clear();
            lines.clear();
        }
    };
    for customer in 1..=customers {
        let liked = [rng.below(SIM_TYPES as u64) as usize, rng.below(SIM_TYPES as u64) as usize];
        let own_tier = rng.below(SIM_TIERS as u64) as usize;
        let count = 2 + rng.below(5);
        for n in 0..count {
            let t = if rng.chance(90) { liked[rng.below(2) as usize] } else { rng.below(SIM_TYPES as u64) as usize };
            let tier = if rng.chance(80) { own_tier } else { rng.below(SIM_TIERS as u64) as usize };
            let index = match rng.below(10) {
                0..=3 => 0,
                4..=6 => 1,
                7..=8 => 2,
                _ => 3,
            };
            let mut picked = vec![sim_product(t, tier, index)];
            if rng.chance(50) {
                picked.push(sim_product(t, tier, index ^ 1));
            }
            order_id += 1;
            let total: i64 = picked.iter().map(|p| prices[p - 1]).sum();
            let placed = format!("'2026-{:02}-{:02} 10:00:00'", 1 + n, 1 + customer % 28);
            orders.push(format!(
                "({customer}, 'paid', 'web', {placed}, 'EUR', {total}, 0, 0, 0, {total}, 'bench', {placed}, {placed})"
            ));
            for p in picked {
                lines.push(format!(
                    "({order_id}, {p}, 'SIM-{p}', 'P{p}', 'type{}', '{{}}', 1, {})",
                    (p - 1) / (SIM_TIERS * SIM_PER_TIER),
                    prices[p - 1]
                ));
            }
            if orders.len() >= 500 {
                flush(conn, &mut orders, &mut lines);
            }
        }
    }
    flush(conn, &mut orders, &mut lines);
    let n = scalar(conn, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders");
    println!("simulated: {customers} customers, {n} orders");
}
