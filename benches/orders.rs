//! Throughput of `POST /v1/orders` (3 lines, a customer upserted by email, a promo code,
//! a checkout consent, an `Idempotency-Key`) at 8 concurrent clients, beside the raw SQL
//! the same order transaction performs, on the same database in the same run.
//!
//!     cargo bench --bench orders
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench orders
//!
//! BENCH_SECONDS (default 5) sets how long each measured phase runs. BENCH_STATEMENTS=1
//! also prints, per backend, every statement the API and the raw SQL run for an order.
//!
//! The real server runs in-process on 127.0.0.1:0 (its own thread and actix System). The
//! load generator is 8 OS threads, each with one keep-alive HTTP/1.1 connection and a tiny
//! hand-written client. Every response is checked (201, 3 lines, promo code applied):
//! errors are never measured as throughput.
//!
//! The raw SQL baseline is 8 threads with one diesel connection each, running the order's
//! statements written by hand with `diesel::sql_query`, in one transaction per order like
//! the service. Values (the merged customer profile, the consent event, the promo rules)
//! are computed with the app's own domain code, so the same rows get written.
//!
//! Customers: before each measured phase, 2,000 seed orders (250 per client, not
//! measured; they also warm the server, the pool and the caches) create a pool of 2,000
//! customers for that path. In the measured phase 9 orders out of 10 update one of them
//! and 1 out of 10 creates a new customer, on both paths.
//!
//! Statement counts come from a diesel `Instrumentation` installed on every connection;
//! it does nothing outside the 1-client profiling run that follows each measured phase.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Text, Timestamp};
use diesel::{OptionalExtension, QueryResult, QueryableByName, RunQueryDsl};
use rapport::auth::Scope;
use rapport::db::schema::{consent_events, customers, order_lines, orders, products, promo_codes};
use rapport::db::{Backend, DbConn};
use rapport::domain::consent::ConsentChange;
use rapport::domain::customer::CustomerProfile;
use rapport::domain::orders::{Buyer, OrderDraft};
use rapport::domain::promo::{evaluate, PromoRules, Purchase};
use rapport::domain::{ConsentSource, ConsentState, Email};
use rapport::dto::orders::{Order, OrderInput};
use rapport::keys::DataKeys;
use rapport::models::customers::{CustomerColumns, CustomerRecord, CustomerRow};
use rapport::models::orders::{OrderLineRow, OrderRecord, OrderRow};
use rapport::services::now;

#[path = "support/mod.rs"]
mod support;

use support::checkout::{
    discount_total, order_json, order_total, post_order, setup_catalogue, subtotal, units_per_order, INITIAL_STOCK,
    LINES, PROMO_CODE, PROMO_LIMIT, PROMO_PERCENT, SHIPPING_TOTAL, TAX_TOTAL,
};
use support::{
    app_state, connect, customer_columns, ms, names, on_each_backend, phase_duration, placeholders, run_phase, token,
    DbBackend, HttpClient, PhaseResult, RunningServer, Stop, ACTOR,
};

/// Concurrent clients (HTTP) and concurrent connections (raw SQL).
const CLIENTS: usize = 8;
/// actix workers: one per core of the 2-core machine this was written on.
const SERVER_WORKERS: usize = 2;
/// Customers created by the seed orders of each path; the measured orders update them.
const POOL_EMAILS: usize = 2_000;
/// One measured order in this many creates a new customer.
const NEW_CUSTOMER_EVERY: usize = 10;
/// Orders of the 1-client profiling run (statement counts and time spent in statements).
const PROFILED_ORDERS: usize = 100;

fn main() {
    diesel::connection::set_default_instrumentation(statement_counter).expect("install the statement counter");
    let phase = phase_duration();
    print_header(phase);

    on_each_backend(|backend, database_url| {
        let report = bench_backend(backend, database_url, phase);
        report.print();
        let goal = if backend == "postgres" { 500.0 } else { 600.0 };
        let api = &report.api.measurement;
        let minimal_ratio = api.per_second() / report.minimal.measurement.per_second();
        println!(
            "{backend:<8} goals: >= {goal:.0} orders/s at {CLIENTS} clients: {}; p99 < 50 ms: {}{}",
            met(api.per_second() >= goal),
            met(api.percentile(99) < Duration::from_millis(50)),
            if backend == "postgres" {
                format!(
                    "; 1 client <= 5 ms per order: {}; API >= half the minimal transaction: {} (API/minimal {minimal_ratio:.2})",
                    met(report.api_profile.per_order() <= Duration::from_millis(5)),
                    met(minimal_ratio >= 0.5),
                )
            } else {
                String::new()
            }
        );
    });
}

fn met(yes: bool) -> &'static str {
    if yes {
        "MET"
    } else {
        "NOT MET"
    }
}

fn print_header(phase: Duration) {
    println!("command: cargo bench --bench orders   (release profile; PostgreSQL too when TEST_DATABASE_URL is set)");
    println!(
        "{CLIENTS} clients x 1 keep-alive HTTP/1.1 connection, {}s measured per path after {POOL_EMAILS} seed orders \
         (not measured; they warm up too) and an ANALYZE; server: {SERVER_WORKERS} actix workers, pool of 8 connections; raw SQL: \
         {CLIENTS} threads x 1 connection; clients, server and database share this machine's {} cores",
        phase.as_secs(),
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let lines: Vec<String> = LINES.iter().map(|l| format!("{} x{} at {}", l.sku, l.quantity, l.unit_price)).collect();
    println!(
        "each order: 3 lines ({}; tracked stock), promo code {PROMO_CODE} ({PROMO_PERCENT}%, max_redemptions {PROMO_LIMIT}), \
         marketing consent (email), subtotal {} - discount {} + shipping {SHIPPING_TOTAL} + tax {TAX_TOTAL} = total {}, \
         a unique Idempotency-Key, the customer upserted by email",
        lines.join(", "),
        subtotal(),
        discount_total(),
        order_total(),
    );
    println!(
        "customers: {POOL_EMAILS} seed orders per path create its pool of {POOL_EMAILS} customers; measured orders: \
         {} in {NEW_CUSTOMER_EVERY} update a pool customer (stride over the pool), 1 in {NEW_CUSTOMER_EVERY} creates \
         a new customer",
        NEW_CUSTOMER_EVERY - 1
    );
    println!("raw SQL per order (hand-written diesel::sql_query, one connection per thread):");
    println!("  BEGIN (BEGIN IMMEDIATE on SQLite, like DbConn::write_transaction)");
    println!(
        "  the key: pg_try_advisory_xact_lock on it (PostgreSQL); SELECT idempotency_keys by actor and key (none)"
    );
    println!(
        "  SELECT the customers row by email (FOR UPDATE on PostgreSQL); found: SELECT its customer_tags, merge with \
         the app's CustomerProfile::fill_from, UPDATE customers (21 columns), DELETE its customer_tags, DELETE its \
         customer_search_terms; not found: INSERT customers RETURNING id; then INSERT customer_tags, INSERT \
         customer_search_terms (one multi-row statement each)"
    );
    println!("  INSERT orders RETURNING id; SELECT products by the 3 SKUs; INSERT order_lines (one 3-row statement)");
    println!("  3 x (UPDATE products SET stock_quantity = stock_quantity - q RETURNING stock_quantity; INSERT stock_movements)");
    println!(
        "  SELECT promo_codes by code; SELECT COUNT(*) of the customer's redemptions of it; UPDATE promo_codes \
         redemptions + 1 (guarded by max_redemptions); INSERT promo_redemptions; UPDATE orders promo_code_id/status"
    );
    println!(
        "  SELECT EXISTS suppressions (email and phone hashes); INSERT consent_events; SELECT the customer's \
         consent_events; DELETE + INSERT customer_consents"
    );
    println!("  DELETE customer_order_stats + INSERT ... SELECT the aggregate of the customer's orders");
    println!("  SELECT the orders row; SELECT its order_lines");
    println!("  INSERT idempotency_keys done, with the serialized order; COMMIT");
    println!(
        "minimal order transaction (after the checks; 8 threads x 1 connection): BEGIN; INSERT orders (promo applied) \
         RETURNING id; INSERT order_lines (3 rows); 3 x UPDATE products stock (by product id); UPDATE promo_codes \
         redemptions + 1 (guarded by max_redemptions); INSERT promo_redemptions; COMMIT"
    );
    println!(
        "raw SQL leaves out: HTTP, JSON parsing and validation, the SHA-256 fingerprint of the body (its \
         request_hash is a SHA-256 of the key), the pool, actix's blocking-thread hand-offs, diesel's query builder, \
         and the service's extra statements (see the statement counts): the \
         customer id lookup and a separate SELECT ... FOR UPDATE before the row is read, and the upkeep of the \
         analytics rollups (the customer's orders, purchase days and campaign facts of the touched periods read \
         before and after the order, then the rollup upserts); it reads only the columns it uses (the service reads \
         and RETURNs whole rows). sql_query statements are never in diesel's prepared-statement cache: SQLite \
         prepares each one, PostgreSQL parses and plans each one (still one round trip each)"
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// One backend

struct Report {
    backend: &'static str,
    api: PhaseResult<bool>,
    raw: PhaseResult<bool>,
    api_profile: Profile,
    raw_profile: Profile,
    checked: String,
    /// The minimal order transaction, run after the checks (it writes no customer, consent,
    /// statistics or key).
    minimal: PhaseResult<()>,
}

impl Report {
    fn ratio(&self) -> f64 {
        self.api.measurement.per_second() / self.raw.measurement.per_second()
    }

    fn print(&self) {
        println!(
            "{:<8} POST /v1/orders  API {} | raw SQL {} | API/raw {:.2}",
            self.backend,
            self.api.measurement.summary("orders/s"),
            self.raw.measurement.summary("orders/s"),
            self.ratio(),
        );
        println!(
            "{:<8} measured orders: API {} ({} created a customer, {} updated one), raw SQL {} ({} created, {} updated)",
            "",
            self.api.measurement.operations(),
            created(&self.api),
            self.api.measurement.operations() - created(&self.api),
            self.raw.measurement.operations(),
            created(&self.raw),
            self.raw.measurement.operations() - created(&self.raw),
        );
        println!(
            "{:<8} 1 client, {PROFILED_ORDERS} orders each: API {} | raw SQL {}",
            "",
            self.api_profile.summary(),
            self.raw_profile.summary(),
        );
        println!(
            "{:<8} minimal order transaction (header + 3 lines + 3 stock UPDATEs + the code's counter and \
             redemption, durable commit), {CLIENTS} connections: {} | API/minimal {:.2}",
            "",
            self.minimal.measurement.summary("orders/s"),
            self.api.measurement.per_second() / self.minimal.measurement.per_second(),
        );
        println!("{:<8} checked: {}", "", self.checked);
        if std::env::var("BENCH_STATEMENTS").is_ok_and(|v| v == "1") {
            let locked = |p: &Profile| p.hot_rows_locked / p.orders as u32;
            let ceiling = |p: &Profile| 1.0 / locked(p).as_secs_f64();
            println!(
                "{:<8} 1 client: the 3 products rows (and the promo code row) stay locked from the first stock UPDATE \
                 to the end of COMMIT for {} ms per order (API) and {} ms (raw SQL): with every order on the same \
                 rows, no concurrency exceeds ~{:.0} (API) and ~{:.0} (raw SQL) orders/s{}",
                "",
                ms(locked(&self.api_profile)),
                ms(locked(&self.raw_profile)),
                ceiling(&self.api_profile),
                ceiling(&self.raw_profile),
                if self.backend == "sqlite" { " (SQLite also locks the whole database per write)" } else { "" },
            );
            for (path, profile) in [("API", &self.api_profile), ("raw SQL", &self.raw_profile)] {
                println!("{:<8} {path} statements per order:", "");
                let mut statements: Vec<_> = profile.breakdown.iter().collect();
                statements.sort_by_key(|(_, (_, took))| std::cmp::Reverse(*took));
                println!("{:<8}   count  ms/order  statement", "");
                for (sql, (count, took)) in statements {
                    let per_order = took.as_secs_f64() * 1000.0 / profile.orders as f64;
                    println!("{:<8}   {:>5.2}  {per_order:>8.3}  {sql}", "", *count as f64 / profile.orders as f64);
                }
            }
        }
        println!();
    }
}

/// Gives the planner the statistics of the tables the seed orders filled, as a database in
/// use has them. Without it, PostgreSQL keeps the generic plans it cached while the tables
/// were empty (sequential scans) until autovacuum's ANALYZE comes round, which a
/// few-second phase may never see.
fn analyze(target: &rapport::db::DatabaseTarget) {
    diesel::sql_query("ANALYZE").execute(&mut connect(target)).expect("ANALYZE");
}

/// Runs every phase on one freshly migrated database.
fn bench_backend(backend: &'static str, database_url: &str, phase: Duration) -> Report {
    let state = app_state(database_url);
    let token = token(&state, &[Scope::Admin]);
    let target = state.config.database.clone();
    let keys = state.keys.clone();

    let server = RunningServer::start(state, SERVER_WORKERS);
    setup_catalogue(server.addr, &token);
    let api_seed = run_phase(
        CLIENTS,
        Stop::PerClient(POOL_EMAILS / CLIENTS),
        |_| HttpClient::connect(server.addr, &token),
        |client, worker, seq| api_order(client, &Pick::new("api", Stage::Seed, worker, seq)),
    );
    analyze(&target);
    let api = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| HttpClient::connect(server.addr, &token),
        |client, worker, seq| api_order(client, &Pick::new("api", Stage::Measured, worker, seq)),
    );
    let api_profile = {
        let mut client = HttpClient::connect(server.addr, &token);
        profile(|seq| api_order(&mut client, &Pick::new("api", Stage::Profiled, 0, seq)))
    };
    server.stop();

    let drafts = raw_drafts();
    let raw_seed = run_phase(
        CLIENTS,
        Stop::PerClient(POOL_EMAILS / CLIENTS),
        |_| connect(&target),
        |conn, worker, seq| raw_order(conn, &keys, &drafts, &Pick::new("raw", Stage::Seed, worker, seq)),
    );
    analyze(&target);
    let raw = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| connect(&target),
        |conn, worker, seq| raw_order(conn, &keys, &drafts, &Pick::new("raw", Stage::Measured, worker, seq)),
    );
    let raw_profile = {
        let mut conn = connect(&target);
        profile(|seq| raw_order(&mut conn, &keys, &drafts, &Pick::new("raw", Stage::Profiled, 0, seq)))
    };

    let orders_placed = [&api_seed, &api, &raw_seed, &raw].iter().map(|p| p.measurement.operations()).sum::<usize>()
        + api_profile.orders
        + raw_profile.orders;
    let customers_created = [&api_seed, &api, &raw_seed, &raw].iter().map(|p| created(p)).sum::<usize>()
        + api_profile.created
        + raw_profile.created;
    let checked = check_consistency(&mut connect(&target), orders_placed, customers_created);
    let hot = HotRows::find(&mut connect(&target));
    let minimal = run_phase(CLIENTS, Stop::After(phase), |_| connect(&target), |conn, _, _| minimal_order(conn, &hot));
    Report { backend, api, raw, api_profile, raw_profile, checked, minimal }
}

// ---------------------------------------------------------------------------------------
// Which customer an order is for

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Creates the pool: order `seq` of client `worker` creates pool customer `seq * CLIENTS + worker`.
    Seed,
    Measured,
    Profiled,
}

/// One order's customer and Idempotency-Key.
struct Pick {
    /// Which pool customer's details the order carries.
    index: usize,
    email: String,
    /// Whether the order creates its customer (else it updates a pool customer).
    creates: bool,
    key: String,
}

impl Pick {
    fn new(path: &str, stage: Stage, worker: usize, seq: usize) -> Pick {
        let n = seq * CLIENTS + worker;
        let stage_name = match stage {
            Stage::Seed => "seed",
            Stage::Measured => "measured",
            Stage::Profiled => "profiled",
        };
        let key = format!("{path}-{stage_name}-{worker}-{seq}");
        let (first, last) = names(n % POOL_EMAILS);
        if stage == Stage::Seed {
            assert!(n < POOL_EMAILS, "the seed creates each pool customer once");
            let email = format!("{first}.{last}.{path}-pool-{n}@example.com").to_lowercase();
            Pick { index: n, email, creates: true, key }
        } else if seq % NEW_CUSTOMER_EVERY == NEW_CUSTOMER_EVERY - 1 {
            let index = n % POOL_EMAILS;
            let email = format!("{first}.{last}.{path}-{stage_name}-new-{worker}-{seq}@example.com").to_lowercase();
            Pick { index, email, creates: true, key }
        } else {
            let index = n * 7919 % POOL_EMAILS;
            let (first, last) = names(index);
            let email = format!("{first}.{last}.{path}-pool-{index}@example.com").to_lowercase();
            Pick { index, email, creates: false, key }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The API path

/// One `POST /v1/orders`, its answer checked; returns whether it created its customer.
fn api_order(client: &mut HttpClient, pick: &Pick) -> bool {
    post_order(client, &pick.email, pick.index, &pick.key);
    pick.creates
}

// ---------------------------------------------------------------------------------------
// Measured phases

/// How many of a phase's orders created their customer.
fn created(phase: &PhaseResult<bool>) -> usize {
    phase.outputs.iter().filter(|created| **created).count()
}

// ---------------------------------------------------------------------------------------
// Counting statements (1 client, after each measured phase)

static COUNTING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static STATEMENT_NANOS: AtomicU64 = AtomicU64::new(0);
/// Per statement text (BENCH_STATEMENTS=1): how many ran and the time spent in them.
static BREAKDOWN: Mutex<BTreeMap<String, (u64, Duration)>> = Mutex::new(BTreeMap::new());
/// BENCH_STATEMENTS=1: time from each transaction's first `UPDATE products` (the rows
/// every order locks) to the end of its COMMIT, i.e. how long the shared rows stay locked.
static HOT_ROW_NANOS: AtomicU64 = AtomicU64::new(0);

/// Installed on every connection; does nothing (one relaxed load) unless COUNTING.
struct StatementCounter {
    started: Option<Instant>,
    /// The running statement's text, when BENCH_STATEMENTS=1.
    sql: Option<String>,
    breakdown: bool,
    /// When this connection's transaction first updated a products row.
    hot_rows_since: Option<Instant>,
}

fn statement_counter() -> Option<Box<dyn Instrumentation>> {
    let breakdown = std::env::var("BENCH_STATEMENTS").is_ok_and(|v| v == "1");
    Some(Box::new(StatementCounter { started: None, sql: None, breakdown, hot_rows_since: None }))
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if !COUNTING.load(Ordering::Relaxed) {
            return;
        }
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                STATEMENTS.fetch_add(1, Ordering::Relaxed);
                if self.breakdown {
                    let sql = query.to_string();
                    let sql = sql.split(" -- binds").next().unwrap_or_default().replace(['"', '`'], "");
                    if (sql.starts_with("UPDATE products") || sql.starts_with("WITH moved AS (UPDATE products"))
                        && self.hot_rows_since.is_none()
                    {
                        self.hot_rows_since = Some(Instant::now());
                    }
                    self.sql = Some(sql.chars().take(100).collect());
                }
                self.started = Some(Instant::now());
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some(started) = self.started.take() {
                    let took = started.elapsed();
                    STATEMENT_NANOS.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                    if let Some(sql) = self.sql.take() {
                        if sql == "COMMIT" || sql == "ROLLBACK" {
                            if let Some(since) = self.hot_rows_since.take() {
                                HOT_ROW_NANOS.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
                            }
                        }
                        let mut breakdown = BREAKDOWN.lock().expect("breakdown lock");
                        let entry = breakdown.entry(sql).or_default();
                        *entry = (entry.0 + 1, entry.1 + took);
                    }
                }
            }
            _ => {}
        }
    }
}

/// One client's orders, one after the other, with every statement counted and timed.
struct Profile {
    orders: usize,
    created: usize,
    elapsed: Duration,
    statements: u64,
    in_statements: Duration,
    breakdown: BTreeMap<String, (u64, Duration)>,
    hot_rows_locked: Duration,
}

impl Profile {
    fn per_order(&self) -> Duration {
        self.elapsed / self.orders as u32
    }

    fn summary(&self) -> String {
        let per_order = |d: Duration| ms(d / self.orders as u32);
        format!(
            "{} ms/order, {:.1} statements/order taking {} ms",
            per_order(self.elapsed),
            self.statements as f64 / self.orders as f64,
            per_order(self.in_statements),
        )
    }
}

fn profile(mut order: impl FnMut(usize) -> bool) -> Profile {
    STATEMENTS.store(0, Ordering::Relaxed);
    STATEMENT_NANOS.store(0, Ordering::Relaxed);
    HOT_ROW_NANOS.store(0, Ordering::Relaxed);
    BREAKDOWN.lock().expect("breakdown lock").clear();
    COUNTING.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let created = (0..PROFILED_ORDERS).filter(|&seq| order(seq)).count();
    let elapsed = started.elapsed();
    COUNTING.store(false, Ordering::SeqCst);
    Profile {
        orders: PROFILED_ORDERS,
        created,
        elapsed,
        statements: STATEMENTS.load(Ordering::SeqCst),
        in_statements: Duration::from_nanos(STATEMENT_NANOS.load(Ordering::SeqCst)),
        breakdown: std::mem::take(&mut *BREAKDOWN.lock().expect("breakdown lock")),
        hot_rows_locked: Duration::from_nanos(HOT_ROW_NANOS.load(Ordering::SeqCst)),
    }
}

// ---------------------------------------------------------------------------------------
// The raw SQL path

/// The order drafts of the pool customers, parsed and validated by the app (not measured):
/// the raw path writes what the API would write.
fn raw_drafts() -> Vec<OrderDraft> {
    (0..POOL_EMAILS)
        .map(|index| {
            let (first, last) = names(index);
            let email = format!("{first}.{last}.raw-pool-{index}@example.com").to_lowercase();
            let input: OrderInput = serde_json::from_slice(&order_json(&email, index)).expect("an order body");
            input.into_draft(None).expect("a valid order")
        })
        .collect()
}

/// One order through hand-written SQL; returns whether it created its customer.
fn raw_order(conn: &mut DbConn, keys: &DataKeys, drafts: &[OrderDraft], pick: &Pick) -> bool {
    let mut draft = drafts[pick.index].clone();
    draft.placed_at = now();
    if let Buyer::ByEmail(email, customer) = &mut draft.buyer {
        if email.as_str() != pick.email {
            *email = Email::from_stored(pick.email.clone());
            customer.details.email = Some(email.clone());
        }
    }
    let created = raw_sql_order(conn, keys, &draft, &pick.key).expect("raw SQL order");
    assert_eq!(created, pick.creates, "customer {} created or updated as planned", pick.email);
    created
}

type BoxedQuery<'a> = BoxedSqlQuery<'a, DbBackend, SqlQuery>;

const LOCK_KEY: &str = "SELECT pg_try_advisory_xact_lock(hashtext('idempotency ' || $1), hashtext($2)) AS locked";

const SELECT_KEY: &str = "SELECT request_hash FROM idempotency_keys WHERE actor = $1 AND idempotency_key = $2";

const INSERT_KEY: &str =
    "INSERT INTO idempotency_keys (actor, idempotency_key, request_hash, status, response_status, \
                          response_body, response_location, created_at) VALUES ($1, $2, $3, 'done', $4, $5, $6, $7)";

const SELECT_CUSTOMER: &str = concat!("SELECT ", customer_columns!(), " FROM customers WHERE email = $1");
const SELECT_CUSTOMER_FOR_UPDATE: &str =
    concat!("SELECT ", customer_columns!(), " FROM customers WHERE email = $1 FOR UPDATE");
const SELECT_TAGS: &str = "SELECT tag FROM customer_tags WHERE customer_id = $1 ORDER BY tag";

const UPDATE_CUSTOMER: &str = "UPDATE customers SET kind = $1, first_name = $2, last_name = $3, company_name = $4, \
     email = $5, phone = $6, birthday = $7, gender = $8, address_line1 = $9, address_line2 = $10, city = $11, \
     region = $12, postal_code = $13, country = $14, preferred_language = $15, source = $16, attributes = $17, \
     notes = $18, name_key = $19, company_key = $20, updated_at = $21 WHERE id = $22";

const INSERT_CUSTOMER: &str = "INSERT INTO customers (kind, first_name, last_name, company_name, email, phone, \
     birthday, gender, address_line1, address_line2, city, region, postal_code, country, preferred_language, source, \
     attributes, notes, name_key, company_key, updated_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
     RETURNING id";

const INSERT_ORDER: &str = "INSERT INTO orders (external_id, customer_id, status, channel, source_detail, placed_at, \
     currency, subtotal, discount_total, shipping_total, tax_total, total, promo_code, referral_code, created_by, \
     created_at, updated_at) \
     VALUES ($1, $2, 'placed', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id";

const MOVE_STOCK: &str = "UPDATE products SET stock_quantity = stock_quantity + $1, updated_at = $2 WHERE id = $3 \
                          RETURNING stock_quantity";

const INSERT_MOVEMENT: &str = "INSERT INTO stock_movements (product_id, delta, reason, note, order_id, \
     quantity_after, actor, created_at) VALUES ($1, $2, 'sale', NULL, $3, $4, $5, $6)";

const SELECT_PROMO: &str = "SELECT id, discount_type, discount_value, currency, valid_from, valid_until, \
     max_redemptions, max_redemptions_per_customer, min_subtotal, active, redemptions FROM promo_codes WHERE code = $1";

const COUNT_REDEMPTIONS: &str =
    "SELECT COUNT(*) AS n FROM promo_redemptions WHERE promo_code_id = $1 AND customer_id = $2";

const TAKE_REDEMPTION: &str = "UPDATE promo_codes SET redemptions = redemptions + 1 \
     WHERE id = $1 AND (max_redemptions IS NULL OR redemptions < max_redemptions)";

const INSERT_REDEMPTION: &str = "INSERT INTO promo_redemptions (promo_code_id, order_id, customer_id, \
     discount_amount, created_at) VALUES ($1, $2, $3, $4, $5)";

const SET_PROMO: &str = "UPDATE orders SET promo_code_id = $1, promo_code_status = $2 WHERE id = $3";

const INSERT_CONSENT_EVENT: &str = "INSERT INTO consent_events (customer_id, channel, state, opt_in_level, source, \
     method_detail, consent_text, consent_text_version, ip, user_agent, occurred_at, recorded_at, actor) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

const SELECT_CONSENT_EVENTS: &str =
    "SELECT id, channel, state, opt_in_level, source, occurred_at FROM consent_events WHERE customer_id = $1";

const DELETE_STATS: &str = "DELETE FROM customer_order_stats WHERE customer_id = $1 AND currency = $2";

/// The statement of `repositories::orders::refresh_stats`.
const INSERT_STATS: &str = "INSERT INTO customer_order_stats (customer_id, currency, orders_count, total_spent, \
     first_order_at, last_order_at) \
     SELECT customer_id, currency, COUNT(*), CAST(SUM(total - refunded_total) AS BIGINT), MIN(placed_at), \
     MAX(placed_at) FROM orders WHERE customer_id = $1 AND currency = $2 AND status <> 'cancelled' \
     GROUP BY customer_id, currency";

const SELECT_ORDER: &str = "SELECT id, external_id, customer_id, status, channel, source_detail, placed_at, currency, \
     subtotal, discount_total, shipping_total, tax_total, total, refunded_total, promo_code, promo_code_id, \
     promo_code_status, referral_code, created_by, created_at, updated_at FROM orders WHERE id = $1";

const SELECT_LINES: &str = "SELECT id, order_id, product_id, sku, name, product_type, attributes, quantity, \
     unit_price, refunded_quantity FROM order_lines WHERE order_id = $1 ORDER BY id";

#[derive(QueryableByName)]
#[diesel(table_name = customers)]
struct CustomerByName {
    id: i64,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    birthday: Option<chrono::NaiveDate>,
    gender: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    preferred_language: Option<String>,
    source: String,
    attributes: String,
    notes: Option<String>,
    name_key: Option<String>,
    company_key: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    erased_at: Option<NaiveDateTime>,
}

impl From<CustomerByName> for CustomerRow {
    fn from(c: CustomerByName) -> CustomerRow {
        CustomerRow {
            id: c.id,
            kind: c.kind,
            first_name: c.first_name,
            last_name: c.last_name,
            company_name: c.company_name,
            email: c.email,
            phone: c.phone,
            birthday: c.birthday,
            gender: c.gender,
            address_line1: c.address_line1,
            address_line2: c.address_line2,
            city: c.city,
            region: c.region,
            postal_code: c.postal_code,
            country: c.country,
            preferred_language: c.preferred_language,
            source: c.source,
            attributes: rapport::db::Json(serde_json::from_str(&c.attributes).expect("stored attributes are JSON")),
            notes: c.notes,
            name_key: c.name_key,
            company_key: c.company_key,
            created_at: c.created_at,
            updated_at: c.updated_at,
            erased_at: c.erased_at,
            // The benchmark's customers are persons without a company.
            company_id: None,
            company_role: None,
        }
    }
}

#[derive(QueryableByName)]
struct TagByName {
    #[diesel(sql_type = Text)]
    tag: String,
}

#[derive(QueryableByName)]
struct IdByName {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct CountByName {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct SuppressedByName {
    #[diesel(sql_type = Bool)]
    suppressed: bool,
}

#[derive(QueryableByName)]
#[diesel(table_name = products)]
struct ProductByName {
    id: i64,
    sku: String,
    track_inventory: bool,
}

#[derive(QueryableByName)]
#[diesel(table_name = products)]
struct StockByName {
    stock_quantity: i64,
}

#[derive(QueryableByName)]
#[diesel(table_name = promo_codes)]
struct PromoByName {
    id: i64,
    discount_type: String,
    discount_value: i64,
    currency: Option<String>,
    valid_from: Option<NaiveDateTime>,
    valid_until: Option<NaiveDateTime>,
    max_redemptions: Option<i64>,
    max_redemptions_per_customer: Option<i64>,
    min_subtotal: Option<i64>,
    active: bool,
    redemptions: i64,
}

#[derive(QueryableByName)]
#[diesel(table_name = consent_events)]
struct EventByName {
    id: i64,
    channel: String,
    state: String,
    opt_in_level: String,
    source: String,
    occurred_at: NaiveDateTime,
}

#[derive(QueryableByName)]
#[diesel(table_name = orders)]
struct OrderByName {
    id: i64,
    external_id: Option<String>,
    customer_id: i64,
    status: String,
    channel: String,
    source_detail: Option<String>,
    placed_at: NaiveDateTime,
    currency: String,
    subtotal: i64,
    discount_total: i64,
    shipping_total: i64,
    tax_total: i64,
    total: i64,
    refunded_total: i64,
    promo_code: Option<String>,
    promo_code_id: Option<i64>,
    promo_code_status: Option<String>,
    referral_code: Option<String>,
    created_by: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(QueryableByName)]
#[diesel(table_name = order_lines)]
struct LineByName {
    id: i64,
    order_id: i64,
    product_id: Option<i64>,
    sku: String,
    name: String,
    product_type: Option<String>,
    attributes: String,
    quantity: i64,
    unit_price: i64,
    refunded_quantity: i64,
}

/// Binds the 21 writable customer columns, in `UPDATE_CUSTOMER` / `INSERT_CUSTOMER` order.
fn bind_customer<'a>(query: BoxedQuery<'a>, c: &'a CustomerColumns) -> BoxedQuery<'a> {
    query
        .bind::<Text, _>(&c.kind)
        .bind::<Nullable<Text>, _>(&c.first_name)
        .bind::<Nullable<Text>, _>(&c.last_name)
        .bind::<Nullable<Text>, _>(&c.company_name)
        .bind::<Nullable<Text>, _>(&c.email)
        .bind::<Nullable<Text>, _>(&c.phone)
        .bind::<Nullable<Date>, _>(c.birthday)
        .bind::<Nullable<Text>, _>(&c.gender)
        .bind::<Nullable<Text>, _>(&c.address_line1)
        .bind::<Nullable<Text>, _>(&c.address_line2)
        .bind::<Nullable<Text>, _>(&c.city)
        .bind::<Nullable<Text>, _>(&c.region)
        .bind::<Nullable<Text>, _>(&c.postal_code)
        .bind::<Nullable<Text>, _>(&c.country)
        .bind::<Nullable<Text>, _>(&c.preferred_language)
        .bind::<Text, _>(&c.source)
        .bind::<Text, _>(&c.attributes)
        .bind::<Nullable<Text>, _>(&c.notes)
        .bind::<Nullable<Text>, _>(&c.name_key)
        .bind::<Nullable<Text>, _>(&c.company_key)
        .bind::<Timestamp, _>(c.updated_at)
}

/// What `POST /v1/orders` does, as hand-written SQL: one transaction with the key checked,
/// the order, and the key stored with the response. Returns whether the customer was created.
fn raw_sql_order(conn: &mut DbConn, keys: &DataKeys, draft: &OrderDraft, key: &str) -> QueryResult<bool> {
    let Buyer::ByEmail(email, customer_draft) = &draft.buyer else { unreachable!("orders are by email here") };
    let request_hash = rapport::services::idempotency::fingerprint("POST", "/v1/orders", key.as_bytes());
    let postgres = conn.backend() == Backend::Postgres;
    conn.write_transaction(|conn| -> QueryResult<bool> {
        let now = now();
        if postgres {
            let lock: Locked =
                diesel::sql_query(LOCK_KEY).bind::<Text, _>(ACTOR).bind::<Text, _>(key).get_result(conn)?;
            assert!(lock.locked, "the key is free");
        }
        let stored: Option<StoredHash> =
            diesel::sql_query(SELECT_KEY).bind::<Text, _>(ACTOR).bind::<Text, _>(key).get_result(conn).optional()?;
        assert!(stored.is_none(), "each order has a new key");

        // The customer, upserted by email under the row lock.
        let select = if postgres { SELECT_CUSTOMER_FOR_UPDATE } else { SELECT_CUSTOMER };
        let found: Option<CustomerByName> =
            diesel::sql_query(select).bind::<Text, _>(email.as_str()).get_result(conn).optional()?;
        let (customer_id, profile, created) = match found {
            Some(row) => {
                let id = row.id;
                let tags: Vec<TagByName> = diesel::sql_query(SELECT_TAGS).bind::<BigInt, _>(id).load(conn)?;
                let record = CustomerRecord {
                    row: row.into(),
                    tags: tags.into_iter().map(|t| t.tag).collect(),
                    consents: Vec::new(),
                    stats: Vec::new(),
                    rfm: None,
                    predictions: None,
                    company_totals: None,
                    company: None,
                };
                let mut profile = record.profile();
                profile.fill_from((**customer_draft).clone());
                profile.check_identity().expect("a valid merged customer");
                let columns = CustomerColumns::from_profile(&profile, now);
                bind_customer(diesel::sql_query(UPDATE_CUSTOMER).into_boxed(), &columns)
                    .bind::<BigInt, _>(id)
                    .execute(conn)?;
                diesel::sql_query("DELETE FROM customer_tags WHERE customer_id = $1")
                    .bind::<BigInt, _>(id)
                    .execute(conn)?;
                diesel::sql_query("DELETE FROM customer_search_terms WHERE customer_id = $1")
                    .bind::<BigInt, _>(id)
                    .execute(conn)?;
                (id, profile, false)
            }
            None => {
                let profile = CustomerProfile::from_draft((**customer_draft).clone()).expect("a valid new customer");
                let columns = CustomerColumns::from_profile(&profile, now);
                let inserted: IdByName = bind_customer(diesel::sql_query(INSERT_CUSTOMER).into_boxed(), &columns)
                    .bind::<Timestamp, _>(now)
                    .get_result(conn)?;
                (inserted.id, profile, true)
            }
        };
        let tags: Vec<&str> = profile.details.tags.iter().map(|t| t.as_str()).collect();
        if !tags.is_empty() {
            let sql = format!("INSERT INTO customer_tags (customer_id, tag) VALUES {}", placeholders(tags.len(), 2));
            let mut insert = diesel::sql_query(sql).into_boxed::<DbBackend>();
            for tag in &tags {
                insert = insert.bind::<BigInt, _>(customer_id).bind::<Text, _>(*tag);
            }
            insert.execute(conn)?;
        }
        let terms = profile.search_terms();
        if !terms.is_empty() {
            let sql = format!(
                "INSERT INTO customer_search_terms (term, customer_id) VALUES {}",
                placeholders(terms.len(), 2)
            );
            let mut insert = diesel::sql_query(sql).into_boxed::<DbBackend>();
            for term in &terms {
                insert = insert.bind::<Text, _>(term.as_str()).bind::<BigInt, _>(customer_id);
            }
            insert.execute(conn)?;
        }

        // The order and its lines.
        let order: IdByName = diesel::sql_query(INSERT_ORDER)
            .bind::<Nullable<Text>, _>(&draft.external_id)
            .bind::<BigInt, _>(customer_id)
            .bind::<Text, _>(draft.channel.as_str())
            .bind::<Nullable<Text>, _>(&draft.source_detail)
            .bind::<Timestamp, _>(draft.placed_at)
            .bind::<Text, _>(draft.currency.as_str())
            .bind::<BigInt, _>(draft.subtotal)
            .bind::<BigInt, _>(draft.discount_total)
            .bind::<BigInt, _>(draft.shipping_total)
            .bind::<BigInt, _>(draft.tax_total)
            .bind::<BigInt, _>(draft.total)
            .bind::<Nullable<Text>, _>(draft.promo_code.as_ref().map(|c| c.as_str()))
            .bind::<Nullable<Text>, _>(&draft.referral_code)
            .bind::<Text, _>(ACTOR)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .get_result(conn)?;
        let order_id = order.id;
        let sql = format!(
            "SELECT id, sku, track_inventory FROM products WHERE sku IN {}",
            placeholders(1, draft.lines.len())
        );
        let mut select = diesel::sql_query(sql).into_boxed::<DbBackend>();
        for line in &draft.lines {
            select = select.bind::<Text, _>(line.sku.as_str());
        }
        let products: Vec<ProductByName> = select.load(conn)?;
        let product = |sku: &str| products.iter().find(|p| p.sku == sku);
        let sql = format!(
            "INSERT INTO order_lines (order_id, product_id, sku, name, product_type, attributes, quantity, unit_price) \
             VALUES {}",
            placeholders(draft.lines.len(), 8)
        );
        let mut insert = diesel::sql_query(sql).into_boxed::<DbBackend>();
        for line in &draft.lines {
            insert = insert
                .bind::<BigInt, _>(order_id)
                .bind::<Nullable<BigInt>, _>(product(&line.sku).map(|p| p.id))
                .bind::<Text, _>(line.sku.as_str())
                .bind::<Text, _>(line.name.as_str())
                .bind::<Nullable<Text>, _>(line.product_type.as_deref())
                .bind::<Text, _>(line.attributes.as_str())
                .bind::<BigInt, _>(line.quantity)
                .bind::<BigInt, _>(line.unit_price);
        }
        insert.execute(conn)?;

        // Stock: one atomic update and one movement per tracked line.
        for line in &draft.lines {
            let Some(product) = product(&line.sku).filter(|p| p.track_inventory) else { continue };
            let stock: StockByName = diesel::sql_query(MOVE_STOCK)
                .bind::<BigInt, _>(-line.quantity)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(product.id)
                .get_result(conn)?;
            diesel::sql_query(INSERT_MOVEMENT)
                .bind::<BigInt, _>(product.id)
                .bind::<BigInt, _>(-line.quantity)
                .bind::<BigInt, _>(order_id)
                .bind::<BigInt, _>(stock.stock_quantity)
                .bind::<Text, _>(ACTOR)
                .bind::<Timestamp, _>(now)
                .execute(conn)?;
        }

        // The promo code: evaluated by the app's rules, one redemption taken atomically.
        if let Some(code) = &draft.promo_code {
            let promo: PromoByName = diesel::sql_query(SELECT_PROMO).bind::<Text, _>(code.as_str()).get_result(conn)?;
            let used: CountByName = diesel::sql_query(COUNT_REDEMPTIONS)
                .bind::<BigInt, _>(promo.id)
                .bind::<BigInt, _>(customer_id)
                .get_result(conn)?;
            let rules = PromoRules {
                discount_type: promo.discount_type,
                discount_value: promo.discount_value,
                currency: promo.currency,
                valid_from: promo.valid_from,
                valid_until: promo.valid_until,
                max_redemptions: promo.max_redemptions,
                max_redemptions_per_customer: promo.max_redemptions_per_customer,
                min_subtotal: promo.min_subtotal,
                active: promo.active,
                redemptions: promo.redemptions,
            };
            let purchase = Purchase {
                subtotal: draft.subtotal,
                shipping: draft.shipping_total,
                currency: draft.currency.as_str(),
                at: draft.placed_at,
                customer_redemptions: used.n,
            };
            evaluate(&rules, &purchase).expect("the benchmark's promo code applies");
            let taken = diesel::sql_query(TAKE_REDEMPTION).bind::<BigInt, _>(promo.id).execute(conn)?;
            assert_eq!(taken, 1, "a code without max_redemptions is never exhausted");
            diesel::sql_query(INSERT_REDEMPTION)
                .bind::<BigInt, _>(promo.id)
                .bind::<BigInt, _>(order_id)
                .bind::<BigInt, _>(customer_id)
                .bind::<BigInt, _>(draft.discount_total)
                .bind::<Timestamp, _>(now)
                .execute(conn)?;
            diesel::sql_query(SET_PROMO)
                .bind::<Nullable<BigInt>, _>(Some(promo.id))
                .bind::<Text, _>("applied")
                .bind::<BigInt, _>(order_id)
                .execute(conn)?;
        }

        // The checkout's consent, unless the person was erased; then the current state.
        if let Some((channels, text)) = &draft.consent {
            let c = &profile.details;
            let hashes: Vec<String> = rapport::services::privacy::suppression_hashes(
                keys,
                c.email.as_ref().map(|e| e.as_str()),
                c.phone.as_ref().map(|p| p.as_str()),
            )
            .into_iter()
            .map(|(hash, _)| hash)
            .collect();
            let suppressed = !hashes.is_empty() && {
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM suppressions WHERE hash IN {}) AS suppressed",
                    placeholders(1, hashes.len())
                );
                let mut select = diesel::sql_query(sql).into_boxed::<DbBackend>();
                for hash in &hashes {
                    select = select.bind::<Text, _>(hash.as_str());
                }
                select.get_result::<SuppressedByName>(conn)?.suppressed
            };
            assert!(!suppressed, "nobody is erased in this benchmark");
            for &channel in channels {
                let change = ConsentChange {
                    channel,
                    state: ConsentState::Subscribed,
                    source: ConsentSource::Checkout,
                    method_detail: Some(format!("checkout, order {order_id}")),
                    consent_text: Some(text.clone()),
                    consent_text_version: None,
                    ip: None,
                    user_agent: None,
                    occurred_at: draft.placed_at,
                };
                let event =
                    rapport::services::consents::new_event(customer_id, change, ACTOR, rapport::services::now());
                diesel::sql_query(INSERT_CONSENT_EVENT)
                    .bind::<BigInt, _>(event.customer_id)
                    .bind::<Text, _>(&event.channel)
                    .bind::<Text, _>(&event.state)
                    .bind::<Text, _>(&event.opt_in_level)
                    .bind::<Text, _>(&event.source)
                    .bind::<Nullable<Text>, _>(&event.method_detail)
                    .bind::<Nullable<Text>, _>(&event.consent_text)
                    .bind::<Nullable<Text>, _>(&event.consent_text_version)
                    .bind::<Nullable<Text>, _>(&event.ip)
                    .bind::<Nullable<Text>, _>(&event.user_agent)
                    .bind::<Timestamp, _>(event.occurred_at)
                    .bind::<Timestamp, _>(event.recorded_at)
                    .bind::<Text, _>(&event.actor)
                    .execute(conn)?;
                // The current state per channel: the latest event by (occurred_at, id).
                let events: Vec<EventByName> =
                    diesel::sql_query(SELECT_CONSENT_EVENTS).bind::<BigInt, _>(customer_id).load(conn)?;
                let mut latest: HashMap<&str, &EventByName> = HashMap::new();
                for event in &events {
                    match latest.get(event.channel.as_str()) {
                        Some(current) if (event.occurred_at, event.id) <= (current.occurred_at, current.id) => {}
                        _ => {
                            latest.insert(event.channel.as_str(), event);
                        }
                    }
                }
                diesel::sql_query("DELETE FROM customer_consents WHERE customer_id = $1")
                    .bind::<BigInt, _>(customer_id)
                    .execute(conn)?;
                let sql = format!(
                    "INSERT INTO customer_consents (customer_id, channel, state, opt_in_level, source, event_id, \
                     occurred_at) VALUES {}",
                    placeholders(latest.len(), 7)
                );
                let mut insert = diesel::sql_query(sql).into_boxed::<DbBackend>();
                for event in latest.values() {
                    insert = insert
                        .bind::<BigInt, _>(customer_id)
                        .bind::<Text, _>(event.channel.as_str())
                        .bind::<Text, _>(event.state.as_str())
                        .bind::<Text, _>(event.opt_in_level.as_str())
                        .bind::<Text, _>(event.source.as_str())
                        .bind::<BigInt, _>(event.id)
                        .bind::<Timestamp, _>(event.occurred_at);
                }
                insert.execute(conn)?;
            }
        }

        // The customer's purchase statistics in the order's currency.
        diesel::sql_query(DELETE_STATS)
            .bind::<BigInt, _>(customer_id)
            .bind::<Text, _>(draft.currency.as_str())
            .execute(conn)?;
        diesel::sql_query(INSERT_STATS)
            .bind::<BigInt, _>(customer_id)
            .bind::<Text, _>(draft.currency.as_str())
            .execute(conn)?;

        // The order as the response shows it.
        let o: OrderByName = diesel::sql_query(SELECT_ORDER).bind::<BigInt, _>(order_id).get_result(conn)?;
        let lines: Vec<LineByName> = diesel::sql_query(SELECT_LINES).bind::<BigInt, _>(order_id).load(conn)?;
        let record = OrderRecord {
            order: OrderRow {
                id: o.id,
                external_id: o.external_id,
                customer_id: o.customer_id,
                status: o.status,
                channel: o.channel,
                source_detail: o.source_detail,
                placed_at: o.placed_at,
                currency: o.currency,
                subtotal: o.subtotal,
                discount_total: o.discount_total,
                shipping_total: o.shipping_total,
                tax_total: o.tax_total,
                total: o.total,
                refunded_total: o.refunded_total,
                promo_code: o.promo_code,
                promo_code_id: o.promo_code_id,
                promo_code_status: o.promo_code_status,
                referral_code: o.referral_code,
                created_by: o.created_by,
                created_at: o.created_at,
                updated_at: o.updated_at,
            },
            lines: lines
                .into_iter()
                .map(|l| OrderLineRow {
                    id: l.id,
                    order_id: l.order_id,
                    product_id: l.product_id,
                    sku: l.sku,
                    name: l.name,
                    product_type: l.product_type,
                    attributes: rapport::db::Json(
                        serde_json::from_str(&l.attributes).expect("stored attributes are JSON"),
                    ),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    refunded_quantity: l.refunded_quantity,
                })
                .collect(),
        };
        assert_eq!(
            (record.order.promo_code_status.as_deref(), record.lines.len()),
            (Some("applied"), 3),
            "the raw order's promo code status and lines"
        );
        let body = serde_json::to_string(&Order::from(record)).expect("serialize the order");
        diesel::sql_query(INSERT_KEY)
            .bind::<Text, _>(ACTOR)
            .bind::<Text, _>(key)
            .bind::<Text, _>(&request_hash)
            .bind::<Integer, _>(201)
            .bind::<Text, _>(&body)
            .bind::<Text, _>(format!("/v1/orders/{order_id}"))
            .bind::<Timestamp, _>(now)
            .execute(conn)?;
        Ok(created)
    })
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

#[derive(QueryableByName)]
struct StoredHash {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    request_hash: String,
}

// ---------------------------------------------------------------------------------------
// After both paths: every order wrote everything it should

/// What the minimal order transaction writes to: the products, the code and one customer.
struct HotRows {
    products: Vec<(i64, &'static str, i64)>,
    promo_id: i64,
    customer_id: i64,
}

impl HotRows {
    fn find(conn: &mut DbConn) -> HotRows {
        let mut products: Vec<(i64, &'static str, i64)> = LINES
            .iter()
            .map(|line| {
                let id: IdByName = diesel::sql_query("SELECT id FROM products WHERE sku = $1")
                    .bind::<Text, _>(line.sku)
                    .get_result(conn)
                    .expect("a benchmark product");
                (id.id, line.sku, line.quantity)
            })
            .collect();
        products.sort();
        let promo: IdByName = diesel::sql_query("SELECT id FROM promo_codes WHERE code = $1")
            .bind::<Text, _>(PROMO_CODE)
            .get_result(conn)
            .expect("the benchmark's code");
        let customer: IdByName =
            diesel::sql_query("SELECT MIN(id) AS id FROM customers").get_result(conn).expect("a customer");
        HotRows { products, promo_id: promo.id, customer_id: customer.id }
    }
}

const INSERT_MINIMAL_ORDER: &str = "INSERT INTO orders (customer_id, status, channel, placed_at, currency, subtotal, \
     discount_total, shipping_total, tax_total, total, promo_code, promo_code_id, promo_code_status, created_by, \
     created_at, updated_at) VALUES ($1, 'placed', 'web', $2, 'EUR', $3, $4, $5, $6, $7, $8, $9, 'applied', $10, $11, \
     $12) RETURNING id";

/// The minimal order transaction: the header, the lines, the stock and the code's
/// redemption, one durable commit; the hot rows (stock, the code's counter) last.
fn minimal_order(conn: &mut DbConn, hot: &HotRows) {
    conn.write_transaction(|conn| -> QueryResult<()> {
        let now = now();
        let order: IdByName = diesel::sql_query(INSERT_MINIMAL_ORDER)
            .bind::<BigInt, _>(hot.customer_id)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(subtotal())
            .bind::<BigInt, _>(discount_total())
            .bind::<BigInt, _>(SHIPPING_TOTAL)
            .bind::<BigInt, _>(TAX_TOTAL)
            .bind::<BigInt, _>(order_total())
            .bind::<Text, _>(PROMO_CODE)
            .bind::<BigInt, _>(hot.promo_id)
            .bind::<Text, _>(ACTOR)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .get_result(conn)?;
        let sql = format!(
            "INSERT INTO order_lines (order_id, product_id, sku, name, product_type, attributes, quantity, unit_price) \
             VALUES {}",
            placeholders(LINES.len(), 8)
        );
        let mut insert = diesel::sql_query(sql).into_boxed::<DbBackend>();
        for line in &LINES {
            let product_id = hot.products.iter().find(|p| p.1 == line.sku).map(|p| p.0);
            insert = insert
                .bind::<BigInt, _>(order.id)
                .bind::<Nullable<BigInt>, _>(product_id)
                .bind::<Text, _>(line.sku)
                .bind::<Text, _>(line.name)
                .bind::<Nullable<Text>, _>(Some(line.product_type))
                .bind::<Text, _>("{}")
                .bind::<BigInt, _>(line.quantity)
                .bind::<BigInt, _>(line.unit_price);
        }
        insert.execute(conn)?;
        for &(product_id, _, quantity) in &hot.products {
            let _: StockByName = diesel::sql_query(MOVE_STOCK)
                .bind::<BigInt, _>(-quantity)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(product_id)
                .get_result(conn)?;
        }
        let taken = diesel::sql_query(TAKE_REDEMPTION).bind::<BigInt, _>(hot.promo_id).execute(conn)?;
        assert_eq!(taken, 1, "the code's limit is far above what a run places");
        diesel::sql_query(INSERT_REDEMPTION)
            .bind::<BigInt, _>(hot.promo_id)
            .bind::<BigInt, _>(order.id)
            .bind::<BigInt, _>(hot.customer_id)
            .bind::<BigInt, _>(discount_total())
            .bind::<Timestamp, _>(now)
            .execute(conn)?;
        Ok(())
    })
    .expect("minimal order");
}

fn check_consistency(conn: &mut DbConn, orders: usize, created: usize) -> String {
    let mut scalar = |sql: &str| -> i64 {
        diesel::sql_query(sql).get_result::<CountByName>(conn).unwrap_or_else(|e| panic!("{sql}: {e}")).n
    };
    let orders = orders as i64;
    let found = [
        ("orders", scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders"), orders),
        (
            "orders with the promo applied",
            scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders WHERE promo_code_status = 'applied'"),
            orders,
        ),
        ("order lines", scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM order_lines"), 3 * orders),
        ("promo_codes.redemptions", scalar("SELECT redemptions AS n FROM promo_codes"), orders),
        ("promo_redemptions", scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM promo_redemptions"), orders),
        (
            "sale movements",
            scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM stock_movements WHERE reason = 'sale'"),
            3 * orders,
        ),
        (
            "units sold",
            3 * INITIAL_STOCK - scalar("SELECT CAST(SUM(stock_quantity) AS BIGINT) AS n FROM products"),
            units_per_order() * orders,
        ),
        ("consent events", scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM consent_events"), orders),
        (
            "completed idempotency keys",
            scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM idempotency_keys WHERE status = 'done'"),
            orders,
        ),
        (
            "orders in customer_order_stats",
            scalar("SELECT CAST(SUM(orders_count) AS BIGINT) AS n FROM customer_order_stats"),
            orders,
        ),
        ("customers", scalar("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM customers"), created as i64),
    ];
    for (what, found, expected) in &found {
        assert_eq!(found, expected, "{what} after {orders} orders");
    }
    format!(
        "{orders} orders (seed, measured and profiled, both paths): all with 3 lines and the promo applied, {orders} \
         redemptions, {} sale movements, stock down {} units, {orders} consent events, {orders} completed keys, \
         {orders} orders in the stats, {created} customers",
        3 * orders,
        units_per_order() * orders,
    )
}
