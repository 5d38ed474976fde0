//! The scale goals of automated flows, each beside a raw baseline measured on the same
//! database in the same run, on SQLite and (with TEST_DATABASE_URL) PostgreSQL:
//!
//! 1. The scheduled scans over 1,000,000 customers finish in < 60 s each:
//!    `rapport::services::flows::scan` for one active flow at a time, with the trigger
//!    `birthday` (7 days before), `lapsed` (2 x the customer's own interval between
//!    orders) and `segment_entered` (a saved segment of customers tagged vip, loyalty,
//!    newsletter or flowbench: its first scan only records the members, about 180,000;
//!    then 1,000 customers who were in no segment get the tag `flowbench` and the scan at
//!    now + 2 h, in the injected clock, enters them). A scan's time covers the candidate
//!    query, entering the candidates in transactions of 500 (entry history, liveness, the
//!    runs' INSERT) and marking the flow scanned. Baseline: the raw SQL candidate query
//!    alone, its ids loaded (birthday: `month-day IN (...)`; lapsed: the rhythm GROUP BY
//!    over customer_order_stats, the customer's own rhythm applied in Rust; segment: the
//!    members' ids from customer_tags), 1 warm-up then BENCH_RUNS runs, the median.
//!    Each scan runs once (it enters its candidates: a second scan at the same clock
//!    would enter nobody); the number of runs it started is printed and checked against
//!    the baseline's candidate count.
//! 2. 10,000 due flow steps are processed in < 30 s by `rapport::services::flows::run_due`:
//!    a flow triggered by `consent_subscribed` with one email `send` step; 10,000 runs of
//!    subscribed, reachable customers are INSERTed directly into flow_runs, due now (step
//!    0; then `ANALYZE flow_runs` on PostgreSQL, as autovacuum would), then `run_due` is
//!    timed. Each send passes the gate (exit rules, consent, suppression, reachability,
//!    the frequency cap), renders its templates with the customer's context, writes an
//!    unsubscribe token, a message in the outbox and a flow contact, and completes the run. Afterwards the outcomes are counted: 10,000
//!    messages of kind `flow` must be queued, or the table says so. Baseline: 10,000
//!    outbox rows INSERTed raw into `messages`, one multi-row INSERT per 500 rows (each
//!    its own transaction), same database; then deleted.
//! 3. (informative, no goal) `GET /v1/customers/{id}` latency through the real server
//!    (in-process on 127.0.0.1:0, 2 actix workers, the app's pool; one keep-alive
//!    HTTP/1.1 connection sending requests one after the other for random live
//!    customers) while idle for BENCH_SECONDS (default 5), then while a `lapsed` scan of
//!    a new flow (entering every lapsed customer again) runs on another connection.
//!
//! No goal is asserted: each figure is printed with its goal and whether it is met.
//!
//!     cargo bench --bench flows
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench flows
//!
//! BENCH_CUSTOMERS (default 1000000, a multiple of 20) sets the dataset size, BENCH_DUE
//! (default 10000) the due runs of goal 2, BENCH_RUNS (default 5) the measured runs of each
//! baseline query, BENCH_SECONDS (default 5) the idle latency phase. BENCH_RELOAD=1
//! rebuilds the dataset even when a complete one is there.
//!
//! The dataset is the one of benches/segments.rs (its loading code is copied below),
//! loaded with set-based SQL into a database migrated by rapport's own migrations and
//! kept between runs, here the PostgreSQL database `rapport_bench_flows` and the SQLite
//! file `target/tmp/flows-bench.db` (`_<BENCH_CUSTOMERS>` appended for another size).
//! Per 1,000,000 customers: birthdays from 1940 to 2002 (10% unknown, 0.2% erased), 60%
//! with an email consent (60% of them subscribed), 30% tagged, 40% buyers with 600,000
//! orders over the 3 years before the load, and their customer_order_stats rows. What a
//! previous run of this benchmark left (flows, runs, contacts, flow messages,
//! unsubscribe tokens, the `flowbench` tag) is deleted before the measurements.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use rand::Rng;
use rapport::auth::Scope;
use rapport::db::{Backend, DbConn};
use rapport::domain::flows::FlowDefinition;
use rapport::services::flows;
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::dataset::*;
use support::{
    app_state, connect, env_number, measure, phase_duration, placeholders, scalar, token, BenchDatabase, DbBackend,
    HttpClient, Measurement, RunningServer,
};

const DEFAULT_CUSTOMERS: i64 = 1_000_000;
const DEFAULT_DUE: i64 = 10_000;
const DEFAULT_RUNS: usize = 5;
const SERVER_WORKERS: usize = 2;
/// The kept databases; a dataset of another size than the default gets its own.
const POSTGRES_DATABASE: &str = "rapport_bench_flows";
const SQLITE_FILE: &str = "flows-bench";

/// The goals, in seconds.
const SCAN_GOAL: f64 = 60.0;
const DUE_GOAL: f64 = 30.0;
/// Customers who join the segment between its two scans.
const ENTRANTS: i64 = 1_000;
/// The tag that makes them join; removed again before each run.
const ENTRY_TAG: &str = "flowbench";
const SEGMENT_NAME: &str = "flows bench segment";
const SEGMENT_TAGS: [&str; 4] = ["vip", "loyalty", "newsletter", ENTRY_TAG];
/// Rows per raw INSERT of the outbox baseline.
const RAW_BATCH: usize = 500;
/// The `kind` of the baseline's raw outbox rows (deleted after).
const RAW_KIND: &str = "flows_bench_raw";
const SUBJECT: &str = "Hi {{ first_name }}";
const TEXT: &str = "Hello {{ first_name }}, thank you for subscribing. Your first order ships free this week.";

fn main() {
    let options = Options::from_env();
    print_header(&options);

    let suffix = if options.customers == DEFAULT_CUSTOMERS { String::new() } else { format!("_{}", options.customers) };
    let sqlite_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{SQLITE_FILE}{suffix}.db"));
    let started = Instant::now();
    let mut tables = vec![bench_backend(&options, BenchDatabase::Sqlite(sqlite_path))];

    match std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty()) {
        Some(admin_url) => tables.push(bench_backend(
            &options,
            BenchDatabase::Postgres { admin_url, name: format!("{POSTGRES_DATABASE}{suffix}") },
        )),
        None => println!("postgres SKIPPED: TEST_DATABASE_URL is not set (SQLite figures only)."),
    }
    println!("==== summary ({} customers; whole run {:.0} s)", options.customers, started.elapsed().as_secs_f64());
    for table in tables {
        print!("{table}");
    }
}

struct Options {
    customers: i64,
    due: i64,
    runs: usize,
    reload: bool,
}

impl Options {
    fn from_env() -> Options {
        let number = |name: &str, default: i64| env_number(name, default as u64) as i64;
        let flag = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty() && v.trim() != "0");
        let customers = number("BENCH_CUSTOMERS", DEFAULT_CUSTOMERS);
        assert!(customers % 20 == 0, "BENCH_CUSTOMERS must be a multiple of 20");
        let dataset = Dataset::new(customers);
        for prime in [SECOND_ORDER_STEP, THIRD_ORDER_STEP] {
            assert!(dataset.buyers % prime != 0, "BENCH_CUSTOMERS: 2/5 of it must not be a multiple of {prime}");
        }
        Options {
            customers,
            due: number("BENCH_DUE", DEFAULT_DUE),
            runs: number("BENCH_RUNS", DEFAULT_RUNS as i64) as usize,
            reload: flag("BENCH_RELOAD"),
        }
    }
}

fn print_header(options: &Options) {
    let dataset = Dataset::new(options.customers);
    let args: Vec<String> = std::env::args().collect();
    println!(
        "command: cargo bench --bench flows   (release profile; PostgreSQL too when TEST_DATABASE_URL is set; \
         this process: {})",
        args.join(" ")
    );
    let knobs: Vec<String> =
        ["TEST_DATABASE_URL", "BENCH_CUSTOMERS", "BENCH_DUE", "BENCH_RUNS", "BENCH_SECONDS", "BENCH_RELOAD"]
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v}")))
            .collect();
    println!("environment: {}", if knobs.is_empty() { "(none of the knobs set)".into() } else { knobs.join(" ") });
    println!(
        "dataset: {} customers (birthdays spread over the year, 60% with an email consent, 30% tagged), {} buyers \
         ({} with a second order, {} with a third), {} orders; the segments benchmark's rows, kept between runs \
         (BENCH_RELOAD=1 rebuilds it)",
        dataset.customers, dataset.buyers, dataset.second_orders, dataset.third_orders, dataset.orders,
    );
    println!(
        "goals: each scan < {SCAN_GOAL:.0} s (baseline: its raw candidate query, median of {} runs after 1 warm-up); \
         {} due send steps through run_due < {DUE_GOAL:.0} s (baseline: the same number of outbox rows INSERTed raw, \
         {RAW_BATCH} per statement); {} cores shared by the benchmark, the server and the database",
        options.runs,
        options.due,
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// One backend

impl BenchDatabase {
    /// The marker's `created_at` when a complete dataset of this size is there.
    fn loaded_at(&self, marker: &str) -> Option<NaiveDateTime> {
        let mut conn = match self {
            BenchDatabase::Sqlite(path) => {
                if !path.exists() {
                    return None;
                }
                DbConn::Sqlite(SqliteConnection::establish(&path.to_string_lossy()).ok()?)
            }
            BenchDatabase::Postgres { .. } => DbConn::Pg(PgConnection::establish(&self.url()).ok()?),
        };
        #[derive(QueryableByName)]
        struct Marker {
            #[diesel(sql_type = Timestamp)]
            created_at: NaiveDateTime,
        }
        diesel::sql_query("SELECT created_at FROM segments WHERE name = $1")
            .bind::<Text, _>(marker)
            .get_result::<Marker>(&mut conn)
            .ok()
            .map(|m| m.created_at)
    }
}

/// One line of a backend's table.
struct Row {
    figure: String,
    value: String,
    goal: String,
    met: &'static str,
    baseline: String,
}

fn met(seconds: f64, goal: f64) -> &'static str {
    if seconds < goal {
        "met"
    } else {
        "NOT MET"
    }
}

fn secs(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

/// Runs everything on one backend and returns its table, printed.
fn bench_backend(options: &Options, database: BenchDatabase) -> String {
    let backend = database.label();
    let dataset = Dataset::new(options.customers);
    let marker = dataset.marker();

    let reused = if options.reload { None } else { database.loaded_at(&marker) };
    let state = match reused {
        Some(at) => {
            println!(
                "{backend:<8} dataset: reusing the {} (loaded {at} UTC); BENCH_RELOAD=1 rebuilds it",
                database.describe()
            );
            app_state(&database.url())
        }
        None => {
            database.recreate();
            let state = app_state(&database.url());
            let mut conn = connect(&state.config.database);
            println!("{backend:<8} dataset: loading into the {} ...", database.describe());
            let timings = dataset.load(&mut conn, &marker);
            let total: Duration = timings.iter().map(|(_, d)| *d).sum();
            let steps: Vec<String> =
                timings.iter().map(|(step, d)| format!("{step} {:.1} s", d.as_secs_f64())).collect();
            println!("{backend:<8} dataset: loaded in {:.1} s ({})", total.as_secs_f64(), steps.join(", "));
            state
        }
    };
    let target = state.config.database.clone();
    let mut conn = connect(&target);
    let started = Instant::now();
    clean_up(&mut conn);
    println!("{backend:<8} cleaned up what an earlier run left in {:.1} s", started.elapsed().as_secs_f64());
    let size = database.size_bytes(&mut conn);
    println!("{backend:<8} dataset: {}; {:.0} MB on disk", dataset.summary(&mut conn), size as f64 / 1e6);

    let mut rows = Vec::new();
    birthday(options, &mut conn, &state.config, &mut rows);
    lapsed(options, &mut conn, &state.config, &mut rows);
    segment_entry(options, &mut conn, &state.config, &mut rows);
    due_steps(options, &mut conn, &state.config, &state.keys, &mut rows);
    latency(options, &mut conn, &state, &mut rows);

    let mut table = String::new();
    writeln!(table, "{backend} ({}):", database.describe()).unwrap();
    writeln!(table, "  {:<52} {:>14}  {:<8} {:<8} baseline (raw, same database)", "figure", "value", "goal", "met")
        .unwrap();
    for row in &rows {
        writeln!(table, "  {:<52} {:>14}  {:<8} {:<8} {}", row.figure, row.value, row.goal, row.met, row.baseline)
            .unwrap();
    }
    writeln!(table).unwrap();
    print!("{table}");
    table
}

/// Deletes what an earlier run of this benchmark wrote (the dataset itself stays).
fn clean_up(conn: &mut DbConn) {
    conn.batch_execute(&format!(
        "DELETE FROM flow_contacts; DELETE FROM flow_runs; DELETE FROM flow_segment_members; \
         DELETE FROM flow_versions; DELETE FROM flows; \
         DELETE FROM messages WHERE kind IN ('flow', 'flow_notification', '{RAW_KIND}'); \
         DELETE FROM unsubscribe_tokens; DELETE FROM customer_tags WHERE tag = '{ENTRY_TAG}'; \
         DELETE FROM segments WHERE name = '{SEGMENT_NAME}'; \
         DELETE FROM background_leases WHERE name = 'flow-scans'"
    ))
    .expect("clean up an earlier run");
}

/// A new flow from its JSON definition, activated.
fn active_flow(conn: &mut DbConn, name: &str, definition: Value) -> i64 {
    let definition: FlowDefinition = serde_json::from_value(definition).expect("a valid flow definition");
    let flow = flows::create(conn, name.to_string(), definition, None, support::ACTOR).expect("create the flow");
    flows::activate(conn, flow.row.id).expect("activate the flow");
    flow.row.id
}

fn send_step() -> Value {
    json!({"type": "send", "subject": SUBJECT, "text": TEXT})
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn ids(conn: &mut DbConn, sql: &str) -> Vec<i64> {
    diesel::sql_query(sql).load::<Id>(conn).unwrap_or_else(|e| panic!("{sql}: {e}")).into_iter().map(|r| r.id).collect()
}

/// Times one scan at `now`; returns (time, runs it started).
fn timed_scan(conn: &mut DbConn, config: &rapport::config::Config, now: NaiveDateTime) -> (Duration, usize) {
    let started = Instant::now();
    let entered = flows::scan(conn, config, now).expect("the scan");
    (started.elapsed(), entered)
}

/// `(entered N; baseline found M)` with a warning when they differ.
fn agreement(entered: usize, candidates: usize) -> String {
    if entered == candidates {
        String::new()
    } else {
        format!("  (!! the scan entered {entered}, the raw query found {candidates})")
    }
}

fn birthday(options: &Options, conn: &mut DbConn, config: &rapport::config::Config, rows: &mut Vec<Row>) {
    let backend = conn.backend();
    let now = rapport::services::now();
    let days_before = 7;
    let today = rapport::domain::flows::utc_to_local(config.timezone, now).date();
    let dates = rapport::domain::flows::birthdays_on(today, days_before);
    let list: Vec<String> = dates.iter().map(|(m, d)| format!("'{m:02}-{d:02}'")).collect();
    let month_day = match backend {
        Backend::Postgres => "to_char(birthday, 'MM-DD')",
        Backend::Sqlite => "strftime('%m-%d', birthday)",
    };
    let sql = format!(
        "SELECT id FROM customers WHERE erased_at IS NULL AND birthday IS NOT NULL AND {month_day} IN ({}) ORDER BY id",
        list.join(", ")
    );
    let (found, raw) = measure(1, options.runs, None, || ids(conn, &sql).len());
    let candidates = found[0];

    let flow = active_flow(
        conn,
        "bench birthday",
        json!({"trigger": {"type": "birthday", "days_before": days_before}, "channel": "email",
               "reentry": {"policy": "every", "days": 300}, "steps": [send_step()]}),
    );
    let (time, entered) = timed_scan(conn, config, now);
    flows::pause(conn, flow).expect("pause the flow");
    println!(
        "{:<8} birthday scan: {} entered in {} (raw candidate query {} for {candidates}){}",
        backend_name(backend),
        entered,
        secs(time),
        secs(raw.percentile(50)),
        agreement(entered, candidates)
    );
    rows.push(Row {
        figure: format!("birthday scan (days_before 7): {entered} entered"),
        value: secs(time),
        goal: format!("< {SCAN_GOAL:.0} s"),
        met: met(time.as_secs_f64(), SCAN_GOAL),
        baseline: format!(
            "{} month-day IN ({}) ids, {candidates} rows{}",
            secs(raw.percentile(50)),
            list.join(","),
            agreement(entered, candidates)
        ),
    });
}

#[derive(QueryableByName)]
struct RhythmRow {
    #[diesel(sql_type = BigInt)]
    customer_id: i64,
    #[diesel(sql_type = BigInt)]
    orders: i64,
    #[diesel(sql_type = Timestamp)]
    first_order_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    last_order_at: NaiveDateTime,
}

/// The raw rhythm query and the customer's own rhythm (x `multiple`) applied to its rows:
/// the lapsed customers' ids.
fn lapsed_ids(conn: &mut DbConn, now: NaiveDateTime, multiple: f64) -> Vec<i64> {
    let rows: Vec<RhythmRow> = diesel::sql_query(
        "SELECT customer_id, CAST(SUM(orders_count) AS BIGINT) AS orders, MIN(first_order_at) AS first_order_at, \
         MAX(last_order_at) AS last_order_at FROM customer_order_stats GROUP BY customer_id \
         HAVING SUM(orders_count) >= 2 AND MAX(last_order_at) < $1 ORDER BY customer_id",
    )
    .bind::<Timestamp, _>(now - chrono::Duration::days(1))
    .load(conn)
    .expect("the rhythm query");
    rows.into_iter()
        .filter(|r| {
            let interval = (r.last_order_at - r.first_order_at).num_seconds() as f64 / (r.orders - 1).max(1) as f64;
            r.last_order_at + chrono::Duration::seconds((interval * multiple) as i64) <= now
        })
        .map(|r| r.customer_id)
        .collect()
}

fn lapsed_definition() -> Value {
    json!({"trigger": {"type": "lapsed", "interval_multiple": 2.0}, "channel": "email",
           "reentry": {"policy": "every", "days": 90}, "steps": [send_step()]})
}

fn lapsed(options: &Options, conn: &mut DbConn, config: &rapport::config::Config, rows: &mut Vec<Row>) {
    let backend = conn.backend();
    let now = rapport::services::now();
    let (found, raw) = measure(1, options.runs, None, || lapsed_ids(conn, now, 2.0).len());
    let candidates = found[0];
    let flow = active_flow(conn, "bench lapsed", lapsed_definition());
    let (time, entered) = timed_scan(conn, config, now);
    flows::pause(conn, flow).expect("pause the flow");
    println!(
        "{:<8} lapsed scan: {entered} entered in {} (raw rhythm query {} for {candidates}){}",
        backend_name(backend),
        secs(time),
        secs(raw.percentile(50)),
        agreement(entered, candidates)
    );
    rows.push(Row {
        figure: format!("lapsed scan (2 x own interval): {entered} entered"),
        value: secs(time),
        goal: format!("< {SCAN_GOAL:.0} s"),
        met: met(time.as_secs_f64(), SCAN_GOAL),
        baseline: format!(
            "{} rhythm GROUP BY + filter, {candidates} lapsed{}",
            secs(raw.percentile(50)),
            agreement(entered, candidates)
        ),
    });
}

fn segment_entry(options: &Options, conn: &mut DbConn, config: &rapport::config::Config, rows: &mut Vec<Row>) {
    let backend = conn.backend();
    let tags: Vec<String> = SEGMENT_TAGS.iter().map(|t| format!("'{t}'")).collect();
    let rules = json!({"field": "tag", "op": "in", "value": SEGMENT_TAGS});
    let now = rapport::services::now();
    let members_sql = format!(
        "SELECT DISTINCT t.customer_id AS id FROM customer_tags t JOIN customers c ON c.id = t.customer_id \
         WHERE c.erased_at IS NULL AND t.tag IN ({}) ORDER BY id",
        tags.join(", ")
    );
    let (found, raw) = measure(1, options.runs, None, || ids(conn, &members_sql).len());
    let members = found[0];

    diesel::sql_query(
        "INSERT INTO segments (name, description, rules, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind::<Text, _>(SEGMENT_NAME)
    .bind::<Text, _>("The flows benchmark's segment_entered trigger.")
    .bind::<Text, _>(rules.to_string())
    .bind::<Timestamp, _>(now)
    .bind::<Timestamp, _>(now)
    .execute(conn)
    .expect("save the segment");
    let segment_id = scalar(conn, &format!("SELECT id AS n FROM segments WHERE name = '{SEGMENT_NAME}'"));
    let flow = active_flow(
        conn,
        "bench segment entry",
        json!({"trigger": {"type": "segment_entered", "segment_id": segment_id}, "channel": "email",
               "steps": [send_step()]}),
    );

    // The first scan records the members (no entries).
    let (first, first_entered) = timed_scan(conn, config, now);
    let recorded =
        scalar(conn, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM flow_segment_members WHERE flow_id = {flow}"))
            as usize;

    // Customers in no segment at all join this one.
    let joined = conn
        .batch_execute(&format!(
            "INSERT INTO customer_tags (customer_id, tag) SELECT c.id, '{ENTRY_TAG}' FROM customers c \
             WHERE c.erased_at IS NULL AND NOT EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id) \
             ORDER BY c.id LIMIT {ENTRANTS}"
        ))
        .map(|_| {
            scalar(conn, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM customer_tags WHERE tag = '{ENTRY_TAG}'"))
        })
        .expect("tag the entrants") as usize;
    let later = now + chrono::Duration::hours(2);
    let (_, raw_later) = measure(1, options.runs, None, || ids(conn, &members_sql).len());
    let (second, entered) = timed_scan(conn, config, later);
    flows::pause(conn, flow).expect("pause the flow");
    println!(
        "{:<8} segment_entered: first scan (baseline of {recorded} members, {first_entered} entered) {}, \
         scan after {joined} joined: {entered} entered in {} (raw member ids {} for {members})",
        backend_name(backend),
        secs(first),
        secs(second),
        secs(raw.percentile(50)),
    );
    rows.push(Row {
        figure: format!("segment_entered first scan: {recorded} members recorded"),
        value: secs(first),
        goal: format!("< {SCAN_GOAL:.0} s"),
        met: met(first.as_secs_f64(), SCAN_GOAL),
        baseline: format!(
            "{} member ids from customer_tags, {members} rows{}",
            secs(raw.percentile(50)),
            agreement(recorded, members)
        ),
    });
    rows.push(Row {
        figure: format!("segment_entered scan (+2 h): {entered} entered"),
        value: secs(second),
        goal: format!("< {SCAN_GOAL:.0} s"),
        met: met(second.as_secs_f64(), SCAN_GOAL),
        baseline: format!(
            "{} member ids, {} rows{}",
            secs(raw_later.percentile(50)),
            members + joined,
            agreement(entered, joined)
        ),
    });
}

/// The customers of the due runs: subscribed to email, reachable, not erased.
fn due_customers_sql(due: i64) -> String {
    format!(
        "SELECT c.id AS id FROM customers c JOIN customer_consents cc ON cc.customer_id = c.id \
         AND cc.channel = 'email' AND cc.state = 'subscribed' \
         WHERE c.erased_at IS NULL AND c.email IS NOT NULL ORDER BY c.id LIMIT {due}"
    )
}

#[derive(QueryableByName)]
struct OutcomeCount {
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn due_steps(
    options: &Options,
    conn: &mut DbConn,
    config: &rapport::config::Config,
    keys: &rapport::keys::DataKeys,
    rows: &mut Vec<Row>,
) {
    let backend = conn.backend();
    let flow = active_flow(
        conn,
        "bench welcome",
        json!({"trigger": {"type": "consent_subscribed"}, "channel": "email", "steps": [send_step()]}),
    );
    let now = rapport::services::now();
    let inserted = diesel::sql_query(format!(
        "INSERT INTO flow_runs (flow_id, version, customer_id, holdout, state, step, next_at, entered_at, \
         conversion_until) SELECT $1, 1, d.id, FALSE, 'active', 0, $2, $3, $4 FROM ({}) d",
        due_customers_sql(options.due)
    ))
    .bind::<BigInt, _>(flow)
    .bind::<Timestamp, _>(now)
    .bind::<Timestamp, _>(now)
    .bind::<Timestamp, _>(now + chrono::Duration::days(30))
    .execute(conn)
    .expect("insert the due runs");
    if backend == Backend::Postgres {
        conn.batch_execute("ANALYZE flow_runs").expect("ANALYZE flow_runs");
    }

    let run_at = rapport::services::now();
    let started = Instant::now();
    let advanced = flows::run_due(conn, config, keys, run_at).expect("run_due");
    let time = started.elapsed();

    let outcomes: Vec<OutcomeCount> = diesel::sql_query(format!(
        "SELECT outcome, CAST(COUNT(*) AS BIGINT) AS n FROM flow_contacts WHERE flow_id = {flow} \
         GROUP BY outcome ORDER BY outcome"
    ))
    .load(conn)
    .expect("count the outcomes");
    let outcomes: Vec<String> = outcomes.iter().map(|o| format!("{} {}", o.outcome, o.n)).collect();
    let queued = scalar(
        conn,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM messages m JOIN flow_contacts fc ON fc.message_id = m.id \
             WHERE m.kind = 'flow' AND m.status = 'pending' AND fc.flow_id = {flow}"
        ),
    );
    let completed = scalar(
        conn,
        &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM flow_runs WHERE flow_id = {flow} AND state = 'completed'"),
    );
    flows::pause(conn, flow).expect("pause the flow");
    let check = if queued == inserted as i64 && completed == inserted as i64 {
        String::new()
    } else {
        format!("  (!! {inserted} runs, {queued} messages queued, {completed} completed)")
    };

    // Baseline: the same number of outbox rows, raw, 500 per INSERT.
    let customers = ids(conn, &due_customers_sql(options.due));
    let started = Instant::now();
    for chunk in customers.chunks(RAW_BATCH) {
        let sql = format!(
            "INSERT INTO messages (customer_id, kind, recipient, subject, body, status, next_attempt_at, created_at) \
             VALUES {}",
            placeholders(chunk.len(), 8)
        );
        let body = TEXT.replace("{{ first_name }}", "Ana");
        conn.write_transaction(|conn| {
            let mut insert = diesel::sql_query(sql.as_str()).into_boxed::<DbBackend>();
            for id in chunk {
                insert = insert
                    .bind::<BigInt, _>(*id)
                    .bind::<Text, _>(RAW_KIND)
                    .bind::<Text, _>(format!("customer{id}@example.com"))
                    .bind::<Text, _>("Hi Ana")
                    .bind::<Text, _>(body.as_str())
                    .bind::<Text, _>("pending")
                    .bind::<Timestamp, _>(run_at)
                    .bind::<Timestamp, _>(run_at);
            }
            insert.execute(conn)
        })
        .expect("the raw outbox INSERT");
    }
    let raw = started.elapsed();
    let raw_rows =
        scalar(conn, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM messages WHERE kind = '{RAW_KIND}'"));
    conn.batch_execute(&format!("DELETE FROM messages WHERE kind = '{RAW_KIND}'")).expect("delete the raw rows");

    println!(
        "{:<8} run_due: {advanced} runs advanced in {} ({:.0}/s), outcomes: {}; {queued} flow messages queued; \
         raw INSERT of {raw_rows} outbox rows {}{check}",
        backend_name(backend),
        secs(time),
        advanced as f64 / time.as_secs_f64(),
        outcomes.join(", "),
        secs(raw),
    );
    rows.push(Row {
        figure: format!("run_due: {advanced} due sends, {queued} emails queued"),
        value: format!("{} {:>5.0}/s", secs(time), advanced as f64 / time.as_secs_f64()),
        goal: format!("< {DUE_GOAL:.0} s"),
        met: met(time.as_secs_f64(), DUE_GOAL),
        baseline: format!(
            "{} {:.0}/s raw INSERT of {raw_rows} outbox rows, {RAW_BATCH}/statement{check}",
            secs(raw),
            raw_rows as f64 / raw.as_secs_f64()
        ),
    });
}

/// `GET /v1/customers/{id}` for random live customers on one connection, until `done`.
fn get_customers(client: &mut HttpClient, customers: i64, done: impl Fn() -> bool) -> Measurement {
    let mut rng = rand::rng();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while !done() {
        let mut id = rng.random_range(1..=customers);
        if id % 500 == 0 {
            id -= 1; // erased
        }
        let sent = Instant::now();
        let (status, body) = client.send("GET", &format!("/v1/customers/{id}"), &[], None).expect("GET a customer");
        latencies.push(sent.elapsed());
        assert_eq!(status, 200, "GET /v1/customers/{id}: {}", String::from_utf8_lossy(&body));
    }
    Measurement::from_latencies(latencies, started.elapsed())
}

fn latency(options: &Options, conn: &mut DbConn, state: &rapport::state::AppState, rows: &mut Vec<Row>) {
    let backend = conn.backend();
    let token = token(state, &[Scope::CustomersRead]);
    let server = RunningServer::start(state.clone(), SERVER_WORKERS);
    let mut client = HttpClient::connect(server.addr, &token);
    // Warm-up.
    let warm_until = Instant::now() + Duration::from_secs(1);
    get_customers(&mut client, options.customers, || Instant::now() >= warm_until);
    let idle_until = Instant::now() + phase_duration();
    let idle = get_customers(&mut client, options.customers, || Instant::now() >= idle_until);

    let flow = active_flow(conn, "bench lapsed (latency)", lapsed_definition());
    let target = state.config.database.clone();
    let config = state.config.clone();
    let scan = thread::spawn(move || {
        let mut conn = connect(&target);
        timed_scan(&mut conn, &config, rapport::services::now())
    });
    let busy = get_customers(&mut client, options.customers, || scan.is_finished());
    let (time, entered) = scan.join().expect("the scan thread panicked");
    drop(client);
    server.stop();
    flows::pause(conn, flow).expect("pause the flow");
    let line = |m: &Measurement| {
        format!(
            "p50 {} ms p99 {} ms max {} ms",
            support::ms(m.percentile(50)),
            support::ms(m.percentile(99)),
            support::ms(m.max())
        )
    };
    println!(
        "{:<8} GET /v1/customers/{{id}}: idle {} ({} requests) | during a lapsed scan ({entered} entered, {}) {} \
         ({} requests)",
        backend_name(backend),
        line(&idle),
        idle.operations(),
        secs(time),
        line(&busy),
        busy.operations(),
    );
    rows.push(Row {
        figure: format!("GET /v1/customers/{{id}} during a lapsed scan ({})", secs(time)),
        value: format!("p50 {} ms", support::ms(busy.percentile(50))),
        goal: "-".into(),
        met: "info",
        baseline: format!(
            "idle: {} ({} req); busy: {} ({} req)",
            line(&idle),
            idle.operations(),
            line(&busy),
            busy.operations()
        ),
    });
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}
