//! What webhooks cost: `POST /v1/orders` throughput without and with a webhook endpoint
//! (and the delivery worker running), then how many deliveries per second the worker's
//! `deliver_due` rounds get to a local receiver, beside the same signed requests sent with
//! no database at all. Both backends in one run, figures side by side.
//!
//!     cargo bench --bench webhooks
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench webhooks
//!
//! Without TEST_DATABASE_URL only SQLite is measured. BENCH_SECONDS (default 5) sets how
//! long each measured order phase runs; a backend takes about 1.5 minutes by default.
//!
//! 1. Orders. The real server runs in-process on 127.0.0.1:0 (2 actix workers, the app's
//!    pool), built with `RAPPORT_WEBHOOK_ALLOW_PRIVATE=true` so that an `http://127.0.0.1`
//!    endpoint is accepted. 8 OS threads, each with one keep-alive HTTP/1.1 connection,
//!    send the order of benches/orders.rs (benches/support/checkout.rs: 3 tracked lines,
//!    the customer upserted by email, a promo code, a checkout consent, a unique
//!    `Idempotency-Key`; 9 orders in 10 update one of the 1,000 customers the seed orders
//!    created, 1 in 10 creates one). Every response is checked (201, the total, 3 lines,
//!    the promo applied): an error panics and is never counted as throughput. Phase (a)
//!    runs with no enabled webhook endpoint and no worker; phase (b) with one endpoint
//!    subscribed to `*` (`POST /v1/webhooks`, then `PATCH` `status` enabled/disabled)
//!    pointing at the local receiver, and the delivery worker running. The runs go
//!    a b b a b a a b on the same database (the database grows, so throughput drifts
//!    down; this order cancels a steady drift), and the figures are the means of the four
//!    runs of each (every run is printed too).
//!    Between runs nothing is measured: after a (b) run the worker keeps going until every
//!    event is sequenced and every delivery succeeded (the drain time is printed), then it
//!    stops and the endpoint is disabled; before a (b) run the events the (a) run recorded
//!    are sequenced with no enabled endpoint (so they make no deliveries) and the endpoint
//!    is enabled again. Each (b) run therefore delivers exactly the events of its own orders.
//!
//!    The worker: rapport's own, `rapport::services::webhooks::spawn_worker` on the server's
//!    `Database` (its pool), stopped between runs; its counts (rounds, idle rounds,
//!    attempts, failed rounds) are printed.
//!
//!    Where the time goes, per run: the machine's CPU busy share and busy CPU ms per order
//!    (/proc/stat, so clients, server, worker, receiver, PostgreSQL's backends and anything
//!    else running on the machine); and, from a diesel `Instrumentation` on every
//!    connection, per top-level transaction of the API and of the worker: the wait in
//!    `BEGIN` (on SQLite `BEGIN IMMEDIATE`, i.e. the wait for the database's write lock)
//!    and how long it stayed open (on SQLite, holding the write lock, so the API's and the
//!    worker's shares of the run add up to at most 100 %).
//!
//! 2. Deliveries. On the same database with the worker stopped and every earlier delivery
//!    done, 5,000 `customer.updated` events (each about its own customer, so per-customer
//!    ordering never holds one back) are recorded with `services::events::record` in write
//!    transactions of 500. Then rounds of `deliver_due(&database, &sender, now)` run back
//!    to back (no idle sleep) on 1 thread, or on 2 threads with a `Sender` each (as two
//!    instances would), until a count of `webhook_deliveries` with status `succeeded` shows
//!    all 5,000; sequencing the events and fanning them out is inside the timing. The
//!    receiver is a std `TcpListener` on 127.0.0.1:0 serving persistent HTTP/1.1
//!    connections, as a real endpoint would: one thread per connection that reads requests
//!    one after the other (request line, headers, Content-Length body) and answers each
//!    `200` with a `content-length` and no `connection: close`, until the client closes the
//!    connection (reqwest's pool keeps it open between requests, so deliveries do not pay a
//!    new TCP connection and a new receiver thread each); it must have received exactly
//!    5,000 signed requests, each delivery once. Baselines, no database: the same number
//!    of requests (the same kind of body, signed per Standard Webhooks for each request)
//!    sent through rapport's `Sender` (i) one request after the other per thread, from the
//!    same number of threads, and (ii) the way `deliver_due` sends them: batches of 64, all
//!    at once (the `Sender` runs them concurrently on its own runtime), from the same
//!    number of threads. Each of the 6 measures (3 kinds x 1 or 2 threads) runs 3 times,
//!    interleaved (deliver_due, reqwest, Sender, deliver_due, ...); the figures are medians,
//!    and every run is printed too.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use rapport::auth::Scope;
use rapport::config::WebhooksConfig;
use rapport::db::{Database, DbConn};
use rapport::domain::events::EventType;
use rapport::services::webhooks::sender::SignedRequest;
use rapport::services::webhooks::{deliver_due, Sender};

#[path = "support/mod.rs"]
mod support;

use support::checkout::{order_total, post_order, setup_catalogue, PROMO_CODE};
use support::{
    app_state, ms, names, on_each_backend, phase_duration, run_phase, scalar, token, HttpClient, PhaseResult,
    RunningServer, Stop,
};

/// Concurrent order clients.
const CLIENTS: usize = 8;
/// actix workers: one per core of the 2-core machine this was written on.
const SERVER_WORKERS: usize = 2;
/// Customers created by the seed orders; the measured orders update them.
const POOL_EMAILS: usize = 1_000;
/// One measured order in this many creates a new customer.
const NEW_CUSTOMER_EVERY: usize = 10;
/// Repetitions of each deliveries measure.
const REPEATS: usize = 3;
/// The order runs, (a) false and (b) true, in an a b b a b a a b pattern: the database grows
/// and throughput drifts down from run to run, and this order cancels a steady drift in
/// the means (a plain a b a b would always measure (b) on the larger database).
const ORDER_RUNS: [bool; 8] = [false, true, true, false, true, false, false, true];
/// The goal: with the endpoint and the worker, at least this share of the orders/s.
const GOAL: f64 = 0.95;
/// Events recorded for each deliveries run.
const EVENTS: usize = 5_000;
/// Events per write transaction when recording them.
const EVENTS_PER_TRANSACTION: usize = 500;
/// How many deliveries `deliver_due` claims and sends at once (src/services/webhooks.rs: BATCH).
const WORKER_BATCH: usize = 64;
/// Longest wait for the worker to catch up, or for a deliveries run.
const TIMEOUT: Duration = Duration::from_secs(180);

fn main() {
    diesel::connection::set_default_instrumentation(transaction_timer).expect("install the transaction timer");
    let phase = phase_duration();
    print_header(phase);
    let receiver = Receiver::start();
    on_each_backend(|backend, database_url| {
        let report = bench_backend(backend, database_url, phase, &receiver);
        report.print();
    });
}

fn print_header(phase: Duration) {
    println!("command: cargo bench --bench webhooks   (release profile; PostgreSQL too when TEST_DATABASE_URL is set)");
    println!(
        "orders: {CLIENTS} clients x 1 keep-alive HTTP/1.1 connection, {}s per run, runs a b b a b a a b on one database \
         after {POOL_EMAILS} seed orders (not measured); (a) no enabled webhook endpoint, no worker; (b) 1 endpoint \
         subscribed to * at a local receiver + rapport's delivery worker (spawn_worker); figures are \
         means of the 4 runs of each; server: {SERVER_WORKERS} actix workers; clients, server, worker, receiver and \
         database share this machine's {} cores",
        phase.as_secs(),
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "each order: 3 tracked lines, promo code {PROMO_CODE}, email consent, total {}, a unique Idempotency-Key, the \
         customer upserted by email ({} in {NEW_CUSTOMER_EVERY} update a seed customer, 1 creates one)",
        order_total(),
        NEW_CUSTOMER_EVERY - 1
    );
    println!(
        "deliveries: {EVENTS} customer.updated events (one customer each) recorded, then deliver_due rounds back to \
         back on 1 and on 2 threads (a Sender each) until all {EVENTS} deliveries succeeded (sequencing included); \
         receiver: std TcpListener, persistent HTTP/1.1 connections (a thread per connection, each request \
         answered 200 with a content-length, the connection kept open until the client closes it); baselines \
         without a database: the same number of signed POSTs through rapport's Sender, (i) one after the other per \
         thread, (ii) in batches of {WORKER_BATCH} at once, as deliver_due sends"
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// One backend

struct OrderRun {
    label: String,
    with_webhook: bool,
    orders: PhaseResult<()>,
    cpu: CpuUse,
    transactions: TransactionTimes,
    /// (b) runs only.
    webhooks: Option<WebhookLoad>,
}

/// What the worker did in and after a (b) run.
struct WebhookLoad {
    events: i64,
    delivered_in_run: i64,
    /// Events not yet sequenced and deliveries not yet succeeded when the run ended.
    behind_at_end: (i64, i64),
    drained_after: Duration,
    worker: WorkerStats,
}

impl OrderRun {
    /// How long the measured run took.
    fn seconds(&self) -> f64 {
        self.orders.measurement.operations() as f64 / self.orders.measurement.per_second()
    }
}

/// One repetition of the deliveries measurement at some number of threads.
struct DeliveryRun {
    elapsed: Duration,
    /// deliver_due rounds per thread.
    rounds: Vec<usize>,
    raw_reqwest: Duration,
    raw_sender: Duration,
    /// The database work of the deliver_due threads.
    db: TransactionTimes,
}

/// The repetitions at one number of threads.
struct Deliveries {
    threads: usize,
    runs: Vec<DeliveryRun>,
}

impl Deliveries {
    /// The median deliveries/s of one measure, and every run's.
    fn per_second(&self, measure: impl Fn(&DeliveryRun) -> Duration) -> (f64, String) {
        let rates: Vec<f64> = self.runs.iter().map(|run| EVENTS as f64 / measure(run).as_secs_f64()).collect();
        let list = rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ");
        (median(rates), list)
    }
}

struct Report {
    backend: &'static str,
    runs: Vec<OrderRun>,
    deliveries: Vec<Deliveries>,
    checked: String,
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

impl Report {
    fn orders_per_second(&self, with_webhook: bool) -> Vec<f64> {
        self.runs.iter().filter(|r| r.with_webhook == with_webhook).map(|r| r.orders.measurement.per_second()).collect()
    }

    fn print(&self) {
        let b = self.backend;
        let without = mean(&self.orders_per_second(false));
        let with = mean(&self.orders_per_second(true));
        let list = |values: Vec<f64>| values.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(", ");
        println!(
            "{b:<8} POST /v1/orders  no endpoint {without:>6.0} orders/s (runs {}) | endpoint + worker {with:>6.0} \
             orders/s (runs {}) | with/without {:.3} (goal >= {GOAL}: {})",
            list(self.orders_per_second(false)),
            list(self.orders_per_second(true)),
            with / without,
            if with / without >= GOAL { "MET" } else { "NOT MET" },
        );
        for run in &self.runs {
            let orders = run.orders.measurement.operations() as f64;
            let t = &run.transactions;
            let mut line = format!(
                "{:<8}   {} {:<15} {}  cpu: machine {:>3.0}% busy, {:.2} ms/order, this process {:.2} ms/order | \
                 API txns {}: BEGIN wait {} ms/order, open {} ms each, {:.1}% of the run",
                "",
                run.label,
                if run.with_webhook { "endpoint+worker" } else { "no endpoint" },
                run.orders.measurement.summary("orders/s"),
                run.cpu.busy_share * 100.0,
                run.cpu.busy_seconds * 1000.0 / orders,
                run.cpu.process_seconds * 1000.0 / orders,
                t.count[API],
                ms(t.wait[API] / run.orders.measurement.operations().max(1) as u32),
                ms(t.hold[API] / t.count[API].max(1) as u32),
                t.hold[API].as_secs_f64() * 100.0 / run.seconds(),
            );
            if let Some(w) = &run.webhooks {
                line.push_str(&format!(
                    "\n{:<8}      worker: {} txns, open {:.1}% of the run, BEGIN wait {} ms in all ({:.1}% of the run); {} \
                     rounds ({} idle), {} attempted, {} round errors{}; {} events -> {} delivered during the run, behind at its end: {} \
                     events unsequenced, {} deliveries pending; drained {:.1}s after",
                    "",
                    t.count[WORKER],
                    t.hold[WORKER].as_secs_f64() * 100.0 / run.seconds(),
                    ms(t.wait[WORKER]),
                    t.wait[WORKER].as_secs_f64() * 100.0 / run.seconds(),
                    w.worker.rounds,
                    w.worker.idle_rounds,
                    w.worker.attempted,
                    w.worker.failed_rounds,
                    "",
                    w.events,
                    w.delivered_in_run,
                    w.behind_at_end.0,
                    w.behind_at_end.1,
                    w.drained_after.as_secs_f64(),
                ));
            }
            println!("{line}");
        }
        for d in &self.deliveries {
            let (due, due_runs) = d.per_second(|r| r.elapsed);
            let (reqwest, reqwest_runs) = d.per_second(|r| r.raw_reqwest);
            let (sender, sender_runs) = d.per_second(|r| r.raw_sender);
            println!(
                "{b:<8} {EVENTS} deliveries, {} thread{}: deliver_due {due:>5.0}/s | raw Sender, one after the other \
                 {reqwest:>5.0}/s | raw Sender, {WORKER_BATCH} at once {sender:>5.0}/s | deliver_due/raw Sender \
                 {:.2}",
                d.threads,
                if d.threads == 1 { "" } else { "s" },
                due / sender,
            );
            println!(
                "{:<8}   runs: deliver_due {due_runs} (rounds per thread {}) | raw Sender one by one {reqwest_runs} | raw Sender \
                 {sender_runs}",
                "",
                d.runs.iter().map(|r| format!("{:?}", r.rounds)).collect::<Vec<_>>().join(" "),
            );
            let deliveries = (EVENTS * d.runs.len()) as f64;
            let sum = |f: &dyn Fn(&TransactionTimes) -> f64| d.runs.iter().map(|r| f(&r.db)).sum::<f64>();
            println!(
                "{:<8}   database work per delivery (all runs): {:.2} statements taking {:.3} ms, {:.3} transactions \
                 open {:.3} ms, BEGIN wait {:.3} ms; per second of deliver_due: {:.0} ms in statements",
                "",
                sum(&|t| t.statements[WORKER] as f64) / deliveries,
                sum(&|t| t.in_statements[WORKER].as_secs_f64() * 1000.0) / deliveries,
                sum(&|t| t.count[WORKER] as f64) / deliveries,
                sum(&|t| t.hold[WORKER].as_secs_f64() * 1000.0) / deliveries,
                sum(&|t| t.wait[WORKER].as_secs_f64() * 1000.0) / deliveries,
                sum(&|t| t.in_statements[WORKER].as_secs_f64() * 1000.0)
                    / d.runs.iter().map(|r| r.elapsed.as_secs_f64()).sum::<f64>(),
            );
        }
        println!("{:<8} checked: {}", "", self.checked);
        println!();
    }
}

fn bench_backend(backend: &'static str, database_url: &str, phase: Duration, receiver: &Receiver) -> Report {
    let mut state = app_state(database_url);
    // As RAPPORT_WEBHOOK_ALLOW_PRIVATE=true would: http://127.0.0.1 is a valid endpoint.
    Arc::get_mut(&mut state.config).expect("nothing shares the new state's config yet").webhooks.allow_private = true;
    let config = state.config.webhooks;
    let database = state.db.clone();
    let token = token(&state, &[Scope::Admin]);
    let server = RunningServer::start(state, SERVER_WORKERS);
    let addr = server.addr;
    setup_catalogue(addr, &token);

    let seed = run_phase(
        CLIENTS,
        Stop::PerClient(POOL_EMAILS / CLIENTS),
        |_| HttpClient::connect(addr, &token),
        |client, worker, seq| api_order(client, &Pick::new("seed", worker, seq)),
    );
    let mut orders_placed = seed.measurement.operations();

    let mut endpoint: Option<(i64, String)> = None;
    let mut runs = Vec::new();
    let mut rounds = [0, 0];
    for with_webhook in ORDER_RUNS {
        rounds[with_webhook as usize] += 1;
        let label = format!("{}{}", if with_webhook { "b" } else { "a" }, rounds[with_webhook as usize]);
        let run = order_run(&label, with_webhook, addr, &token, &database, config, &mut endpoint, receiver, phase);
        orders_placed += run.orders.measurement.operations();
        runs.push(run);
    }
    server.stop();
    let (endpoint_id, secret) = endpoint.expect("the (b) runs created the endpoint");

    // Deliveries: the endpoint enabled again, the worker stopped, nothing pending.
    database
        .with_conn(|conn| rapport::services::webhooks::patch(conn, &config, endpoint_id, enable(true)).map(drop))
        .expect("enable the endpoint");
    let mut deliveries = Vec::new();
    let mut run = 0;
    for threads in [1, 2] {
        let mut at = Deliveries { threads, runs: Vec::new() };
        for _ in 0..REPEATS {
            at.runs.push(delivery_run(&database, receiver, &secret, threads, run));
            run += 1;
        }
        deliveries.push(at);
    }

    let checked = check(&database, orders_placed, &runs);
    Report { backend, runs, deliveries, checked }
}

fn enable(enabled: bool) -> rapport::domain::events::EndpointPatch {
    rapport::domain::events::EndpointPatch { url: None, subscription: None, description: None, enabled: Some(enabled) }
}

fn count(database: &Database, sql: &str) -> i64 {
    database.with_conn(|conn| Ok(scalar(conn, sql))).expect("a database connection")
}

const UNSEQUENCED: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE position IS NULL";
const PENDING: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM webhook_deliveries WHERE status = 'pending'";
const SUCCEEDED: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM webhook_deliveries WHERE status = 'succeeded'";
const EVENTS_SQL: &str = "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events";

/// One measured order run; a (b) run sets up the endpoint and the worker around it.
#[allow(clippy::too_many_arguments)]
fn order_run(
    label: &str,
    with_webhook: bool,
    addr: SocketAddr,
    token: &str,
    database: &Database,
    config: WebhooksConfig,
    endpoint: &mut Option<(i64, String)>,
    receiver: &Receiver,
    phase: Duration,
) -> OrderRun {
    let mut worker = None;
    let (mut events_before, mut succeeded_before) = (0, 0);
    if with_webhook {
        // The (a) run's events, in the log with no enabled endpoint: they make no delivery.
        rapport::services::events::sequence(database, rapport::domain::now()).expect("sequence the backlog");
        assert_eq!(count(database, PENDING), 0, "no delivery waits before a (b) run");
        let mut client = HttpClient::connect(addr, token);
        match endpoint {
            None => {
                let body = serde_json::json!({"url": receiver.url(), "event_types": ["*"]});
                let (status, response) = client
                    .send("POST", "/v1/webhooks", &[], Some(&serde_json::to_vec(&body).unwrap()))
                    .expect("POST /v1/webhooks");
                assert_eq!(status, 201, "POST /v1/webhooks: {}", String::from_utf8_lossy(&response));
                let created: serde_json::Value = serde_json::from_slice(&response).expect("an endpoint");
                *endpoint = Some((
                    created["id"].as_i64().expect("its id"),
                    created["secret"].as_str().expect("its secret").to_string(),
                ));
            }
            Some((id, _)) => set_status(&mut client, *id, "enabled"),
        }
        events_before = count(database, EVENTS_SQL);
        succeeded_before = count(database, SUCCEEDED);
        worker = Some(BackgroundWorker::start(database.clone(), config));
    }

    TransactionTimes::reset();
    let cpu = CpuSample::now();
    let orders = run_phase(
        CLIENTS,
        Stop::After(phase),
        |_| HttpClient::connect(addr, token),
        |client, worker, seq| {
            api_order(client, &Pick::new(label, worker, seq));
        },
    );
    let cpu = cpu.since();
    let transactions = TransactionTimes::take();

    let webhooks = worker.map(|worker| {
        let behind_at_end = (count(database, UNSEQUENCED), count(database, PENDING));
        let delivered_in_run = count(database, SUCCEEDED) - succeeded_before;
        let events = count(database, EVENTS_SQL) - events_before;
        let started = Instant::now();
        while count(database, UNSEQUENCED) + count(database, PENDING) > 0 {
            assert!(started.elapsed() < TIMEOUT, "the worker did not catch up in {TIMEOUT:?}");
            thread::sleep(Duration::from_millis(20));
        }
        let drained_after = started.elapsed();
        let worker = worker.stop();
        let (id, _) = endpoint.as_ref().expect("the endpoint of this run");
        set_status(&mut HttpClient::connect(addr, token), *id, "disabled");
        let delivered = count(database, SUCCEEDED) - succeeded_before;
        assert_eq!(delivered, events, "every event of the run delivered once ({label})");
        WebhookLoad { events, delivered_in_run, behind_at_end, drained_after, worker }
    });
    OrderRun { label: label.to_string(), with_webhook, orders, cpu, transactions, webhooks }
}

fn set_status(client: &mut HttpClient, id: i64, status: &str) {
    let body = serde_json::to_vec(&serde_json::json!({ "status": status })).unwrap();
    let (code, response) =
        client.send("PATCH", &format!("/v1/webhooks/{id}"), &[], Some(&body)).expect("PATCH /v1/webhooks/{id}");
    assert_eq!(code, 200, "PATCH /v1/webhooks/{id}: {}", String::from_utf8_lossy(&response));
}

// ---------------------------------------------------------------------------------------
// Orders (the request of benches/orders.rs, from benches/support/checkout.rs)

/// One order's customer and Idempotency-Key.
struct Pick {
    index: usize,
    email: String,
    key: String,
}

impl Pick {
    /// The seed's order `seq` of client `worker` creates pool customer `seq * CLIENTS +
    /// worker`; in a measured run, 1 order in NEW_CUSTOMER_EVERY creates a customer and
    /// the others update pool customers.
    fn new(run: &str, worker: usize, seq: usize) -> Pick {
        let n = seq * CLIENTS + worker;
        let key = format!("{run}-{worker}-{seq}");
        let pool_email = |index: usize| {
            let (first, last) = names(index);
            format!("{first}.{last}.pool-{index}@example.com").to_lowercase()
        };
        if run == "seed" {
            assert!(n < POOL_EMAILS, "the seed creates each pool customer once");
            Pick { index: n, email: pool_email(n), key }
        } else if seq % NEW_CUSTOMER_EVERY == NEW_CUSTOMER_EVERY - 1 {
            let index = n % POOL_EMAILS;
            let (first, last) = names(index);
            let email = format!("{first}.{last}.{run}-new-{worker}-{seq}@example.com").to_lowercase();
            Pick { index, email, key }
        } else {
            let index = n * 7919 % POOL_EMAILS;
            Pick { index, email: pool_email(index), key }
        }
    }
}

/// One `POST /v1/orders` for `pick`, its answer checked.
fn api_order(client: &mut HttpClient, pick: &Pick) {
    post_order(client, &pick.email, pick.index, &pick.key);
}

// ---------------------------------------------------------------------------------------
// The delivery worker, stoppable

#[derive(Default)]
struct WorkerStats {
    rounds: u64,
    idle_rounds: u64,
    attempted: u64,
    failed_rounds: u64,
}

/// rapport's own delivery worker (`services::webhooks::spawn_worker`), on the server's
/// database; its transactions are told apart by its thread's name.
struct BackgroundWorker(rapport::services::webhooks::Worker);

impl BackgroundWorker {
    fn start(database: Database, config: WebhooksConfig) -> BackgroundWorker {
        BackgroundWorker(rapport::services::webhooks::spawn_worker(database, config).expect("the webhook worker"))
    }

    fn stop(self) -> WorkerStats {
        let counts = self.0.counts.clone();
        self.0.stop();
        let read = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        WorkerStats {
            rounds: read(&counts.rounds),
            idle_rounds: read(&counts.idle_rounds),
            attempted: read(&counts.attempted),
            failed_rounds: read(&counts.failed_rounds),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Deliveries per second

/// Records EVENTS events, delivers them with `threads` deliver_due loops, then sends the
/// raw baselines from `threads` threads.
fn delivery_run(database: &Database, receiver: &Receiver, secret: &str, threads: usize, run: usize) -> DeliveryRun {
    assert_eq!(count(database, PENDING) + count(database, UNSEQUENCED), 0, "nothing waits before a deliveries run");
    // Customers far above the real ones: each event is about its own customer.
    let first_customer = 10_000_000 + (run * EVENTS) as i64;
    database
        .with_conn(|conn| {
            for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(EVENTS_PER_TRANSACTION) {
                conn.write_transaction(|conn: &mut DbConn| {
                    for &i in chunk {
                        let id = first_customer + i as i64;
                        rapport::services::events::record(
                            conn,
                            EventType::CustomerUpdated,
                            Some(id),
                            serde_json::json!({"id": id, "changed": ["notes", "attributes"]}),
                        )?;
                    }
                    Ok::<_, rapport::error::AppError>(())
                })?;
            }
            Ok(())
        })
        .expect("record the events");

    let target = count(database, SUCCEEDED) + EVENTS as i64;
    let received = receiver.count();
    TransactionTimes::reset();
    let started = Instant::now();
    let rounds: Vec<usize> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    ROLE.set(WORKER);
                    let sender = Sender::new(true).expect("the webhook HTTP client");
                    let mut rounds = 0;
                    loop {
                        let attempted =
                            deliver_due(database, &sender, rapport::domain::now()).expect("a deliver_due round");
                        rounds += 1;
                        if attempted == 0 {
                            if count(database, SUCCEEDED) >= target {
                                return rounds;
                            }
                            assert!(started.elapsed() < TIMEOUT, "{EVENTS} deliveries not done in {TIMEOUT:?}");
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a delivery thread panicked")).collect()
    });
    let elapsed = started.elapsed();
    let db = TransactionTimes::take();
    assert_eq!(count(database, SUCCEEDED), target, "every delivery succeeded once");
    assert_eq!(count(database, PENDING), 0, "no delivery left pending");
    assert_eq!(receiver.count() - received, EVENTS, "the receiver got each delivery once");

    let raw_reqwest = raw_sends(receiver, secret, threads, |_, requests| {
        let sender = Sender::new(true).expect("the webhook HTTP client");
        for request in &requests {
            let attempt = sender.send_all(&[Some(request)]).remove(0);
            assert!(attempt.error.is_none(), "a raw send failed: {:?}", attempt.error);
        }
    });
    let raw_sender = raw_sends(receiver, secret, threads, |_, requests| {
        let sender = Sender::new(true).expect("the webhook HTTP client");
        for batch in requests.chunks(WORKER_BATCH) {
            let signed: Vec<Option<&SignedRequest>> = batch.iter().map(Some).collect();
            for attempt in sender.send_all(&signed) {
                assert!(attempt.error.is_none(), "a raw send failed: {:?}", attempt.error);
            }
        }
    });
    DeliveryRun { elapsed, rounds, raw_reqwest, raw_sender, db }
}

/// EVENTS signed requests split over `threads` threads, each sent by `send`; signing
/// happens in the timing (the worker signs each request too). Returns how long it took.
fn raw_sends(
    receiver: &Receiver,
    secret: &str,
    threads: usize,
    send: impl Fn(&str, Vec<SignedRequest>) + Sync,
) -> Duration {
    let url = receiver.url();
    let received = receiver.count();
    let started = Instant::now();
    thread::scope(|scope| {
        for thread in 0..threads {
            let (send, url) = (&send, url.as_str());
            scope.spawn(move || {
                let signer = standardwebhooks::Webhook::new(secret).expect("a whsec_ secret");
                let requests = (thread..EVENTS)
                    .step_by(threads)
                    .map(|i| {
                        let id = format!("evt_raw_{i}");
                        let body = serde_json::json!({
                            "type": "customer.updated",
                            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                            "data": {"id": 20_000_000 + i, "changed": ["notes", "attributes"]},
                        })
                        .to_string();
                        let timestamp = chrono::Utc::now().timestamp();
                        let signature = signer.sign(&id, timestamp, body.as_bytes()).expect("a signature");
                        SignedRequest { url: url.to_string(), id, timestamp, signature, body }
                    })
                    .collect();
                send(url, requests);
            });
        }
    });
    let elapsed = started.elapsed();
    assert_eq!(receiver.count() - received, EVENTS, "the receiver got each raw request once");
    elapsed
}

// ---------------------------------------------------------------------------------------
// The local receiver

struct Receiver {
    addr: SocketAddr,
    received: Arc<AtomicUsize>,
}

impl Receiver {
    /// Listens on 127.0.0.1:0 for the whole run; a thread per connection, serving its
    /// requests until the client closes it.
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("the receiver's address");
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        thread::Builder::new()
            .name("receiver".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let counter = counter.clone();
                    thread::spawn(move || {
                        if let Err(error) = serve(stream, &counter) {
                            eprintln!("receiver: {error}");
                        }
                    });
                }
            })
            .expect("start the receiver");
        Receiver { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Signed requests received in full so far.
    fn count(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

/// The answer to every request; no `connection: close`, so the connection stays open.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
/// The answer to a request that asked to close the connection.
const OK_CLOSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
/// How long a connection may stay idle (or a request stall) before the receiver drops it:
/// longer than reqwest's 90 s pool idle timeout, so the client always gives up an idle
/// connection first and never sends on one the receiver is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// One persistent HTTP/1.1 connection: reads requests one after the other (request line,
/// headers, Content-Length body), counts each one that carries the Standard Webhooks
/// headers and a body, and answers each `200` with a `content-length`, until the client
/// closes the connection (or asks to with `connection: close`).
fn serve(stream: TcpStream, received: &AtomicUsize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        // The request line; end of stream here is the client closing the connection.
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let (mut length, mut signed, mut close) = (0, 0, false);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed in the headers"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => {
                    return Err(std::io::Error::other(format!("transfer-encoding {value} is not supported")));
                }
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "webhook-id" | "webhook-timestamp" | "webhook-signature" if !value.is_empty() => signed += 1,
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if signed == 3 && !body.is_empty() {
            received.fetch_add(1, Ordering::SeqCst);
        }
        writer.write_all(if close { OK_CLOSE } else { OK })?;
        if close {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Where the time goes: CPU and transactions

/// CPU over a run: the machine's (/proc/stat, all cores) and this process's.
struct CpuUse {
    /// Busy share of all the cores' time.
    busy_share: f64,
    /// CPU seconds spent busy, all cores.
    busy_seconds: f64,
    /// CPU seconds of this process (clients, server, worker, receiver, SQLite).
    process_seconds: f64,
}

struct CpuSample {
    busy: u64,
    total: u64,
    process: u64,
}

/// utime + stime of this process, in USER_HZ.
fn process_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after.split_whitespace().skip(11).take(2).map(|t| t.parse::<u64>().unwrap_or(0)).sum()
}

impl CpuSample {
    fn now() -> CpuSample {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|t| t.parse().unwrap_or(0))
            .collect();
        let process = process_ticks();
        if ticks.len() < 8 {
            return CpuSample { busy: 0, total: 0, process };
        }
        // user nice system idle iowait irq softirq steal
        let idle = ticks[3] + ticks[4];
        let total: u64 = ticks.iter().sum();
        CpuSample { busy: total - idle, total, process }
    }

    fn since(&self) -> CpuUse {
        let end = CpuSample::now();
        let (busy, total) = (end.busy.saturating_sub(self.busy), end.total.saturating_sub(self.total));
        // /proc/stat counts in USER_HZ, 100 per second on Linux.
        CpuUse {
            busy_share: busy as f64 / total.max(1) as f64,
            busy_seconds: busy as f64 / 100.0,
            process_seconds: end.process.saturating_sub(self.process) as f64 / 100.0,
        }
    }
}

const API: usize = 0;
const WORKER: usize = 1;

thread_local! {
    /// Whose transactions this thread runs: the worker's, or the API's (the default).
    static ROLE: Cell<usize> = const { Cell::new(API) };
}

static WAIT_NANOS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static HOLD_NANOS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static TRANSACTIONS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static STATEMENTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static STATEMENT_NANOS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Per role since the last reset: top-level transactions, the time waiting in BEGIN, the
/// time open (from BEGIN done to COMMIT or ROLLBACK sent: on SQLite all of it is inside
/// the write lock, so these intervals never overlap), and every statement (BEGIN and
/// COMMIT included) with the time spent in them.
struct TransactionTimes {
    count: [u64; 2],
    wait: [Duration; 2],
    hold: [Duration; 2],
    statements: [u64; 2],
    in_statements: [Duration; 2],
}

impl TransactionTimes {
    fn reset() {
        for counter in
            WAIT_NANOS.iter().chain(&HOLD_NANOS).chain(&TRANSACTIONS).chain(&STATEMENTS).chain(&STATEMENT_NANOS)
        {
            counter.store(0, Ordering::SeqCst);
        }
    }

    fn take() -> TransactionTimes {
        let load = |counters: &[AtomicU64; 2]| [0, 1].map(|role| counters[role].load(Ordering::SeqCst));
        TransactionTimes {
            count: load(&TRANSACTIONS),
            wait: load(&WAIT_NANOS).map(Duration::from_nanos),
            hold: load(&HOLD_NANOS).map(Duration::from_nanos),
            statements: load(&STATEMENTS),
            in_statements: load(&STATEMENT_NANOS).map(Duration::from_nanos),
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Idle,
    /// BEGIN sent at.
    Beginning(Instant),
    /// Open since.
    Open(Instant),
}

/// On every connection: times top-level transactions and statements, for the role of the
/// thread using the connection.
struct TransactionTimer {
    role: usize,
    step: Step,
    statement_started: Option<Instant>,
}

fn transaction_timer() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(TransactionTimer { role: API, step: Step::Idle, statement_started: None }))
}

impl Instrumentation for TransactionTimer {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::BeginTransaction { depth, .. } if depth.get() == 1 => {
                self.step = Step::Beginning(Instant::now());
            }
            InstrumentationEvent::CommitTransaction { depth, .. }
            | InstrumentationEvent::RollbackTransaction { depth, .. }
                if depth.get() == 1 =>
            {
                if let Step::Open(since) = self.step {
                    HOLD_NANOS[self.role].fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    TRANSACTIONS[self.role].fetch_add(1, Ordering::Relaxed);
                }
                self.step = Step::Idle;
            }
            InstrumentationEvent::StartQuery { .. } => {
                // The delivery worker's thread is named `webhooks` by rapport.
                self.role = if thread::current().name() == Some("webhooks") { WORKER } else { ROLE.get() };
                self.statement_started = Some(Instant::now());
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some(started) = self.statement_started.take() {
                    STATEMENTS[self.role].fetch_add(1, Ordering::Relaxed);
                    STATEMENT_NANOS[self.role].fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
                if let Step::Beginning(sent) = self.step {
                    WAIT_NANOS[self.role].fetch_add(sent.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    self.step = Step::Open(Instant::now());
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// After everything

fn check(database: &Database, orders_placed: usize, runs: &[OrderRun]) -> String {
    let orders = count(database, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders");
    assert_eq!(orders, orders_placed as i64, "every checked order is in the database once");
    let failed =
        count(database, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM webhook_deliveries WHERE status <> 'succeeded'");
    assert_eq!(failed, 0, "no delivery pending or failed");
    let retried = count(database, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM webhook_deliveries WHERE attempts <> 1");
    assert_eq!(retried, 0, "every delivery succeeded at its first attempt");
    let delivered: i64 = runs.iter().filter_map(|r| r.webhooks.as_ref()).map(|w| w.events).sum();
    let errors: u64 = runs.iter().filter_map(|r| r.webhooks.as_ref()).map(|w| w.worker.failed_rounds).sum();
    format!(
        "{orders_placed} orders (seed and measured), each 201 with its total, 3 lines and the promo applied, all in \
         the database; the (b) runs' {delivered} events each delivered once at the first attempt ({errors} worker \
         round errors); deliveries runs: {EVENTS} each, all succeeded once, the receiver got exactly {EVENTS}; raw \
         runs: every answer 200, the receiver got exactly {EVENTS}"
    )
}
