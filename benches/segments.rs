//! Counting a segment over 1,000,000 customers: `POST /v1/segments/preview` through the real
//! server beside `repositories::segments::count` (the compiled SQL count alone), per rule
//! shape, on the same database in the same run.
//!
//!     cargo bench --bench segments
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench segments
//!
//! BENCH_RUNS (default 7) sets the measured runs per shape and path, after one warm-up run.
//! BENCH_CUSTOMERS (default 1000000, a multiple of 20) sets the dataset size.
//! BENCH_RELOAD=1 rebuilds the dataset even when a complete one is there.
//! BENCH_SQL=1 also prints each shape's count statement with its binds inlined (ready for
//! `EXPLAIN (ANALYZE)` in psql or `EXPLAIN QUERY PLAN` in sqlite3) and, on SQLite, the plan
//! the bundled SQLite chooses for it.
//!
//! The dataset is loaded with set-based SQL (PostgreSQL: `generate_series`; SQLite: a
//! recursive CTE), in one transaction, into a database migrated by rapport's own
//! migrations, so the figures use the real indexes; then `VACUUM ANALYZE` (PostgreSQL) or
//! `ANALYZE` (SQLite). It is kept for the next run: the PostgreSQL database
//! `rapport_bench_segments` on the TEST_DATABASE_URL server and the SQLite file
//! `target/tmp/segments-bench.db` (with `_<BENCH_CUSTOMERS>` appended to either name for
//! another size). A saved segment named after the dataset, written in the loading
//! transaction, marks it complete; without it, the database is rebuilt.
//!
//! Per 1,000,000 customers (every value derived from the row number, so both backends hold
//! the same rows): 5% companies; 20 first and last names; birthdays from 1940 to 2002 (10%
//! unknown); 21 cities in 7 countries; 10 sources; 20% with JSON attributes; 0.2% erased;
//! 30% tagged (6 tags, a third of them with two); 60% with an email consent (60%
//! subscribed, 25% unsubscribed, 15% pending) and 15% with an SMS consent, each with its
//! ledger event; 40% buyers with 600,000 orders over the last 3 years (1, 2 or 3 each; 3%
//! cancelled; 5% in CHF, the rest in EUR), one line each among 200 products of 6 product
//! types (the 20 best sellers take about half the lines), and their customer_order_stats
//! rows, computed from the orders the way the app computes them.
//!
//! The real server runs in-process on 127.0.0.1:0 (its own thread and actix System); one
//! keep-alive HTTP/1.1 connection sends the previews one after the other. A preview runs the
//! count, then the newest 20 member ids, then loads those 20 customers; the SQL figures are
//! the count alone, and the member ids query alone, on one connection opened the way the
//! app's pool opens them. Every response is checked (200, and the count the SQL finds).

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::pg::PgConnection;
use diesel::sql_types::{Integer, Text, Timestamp};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use rapport::auth::Scope;
use rapport::db::{Backend, DbConn};
use rapport::domain::segment::Rule;
use rapport::repositories::segments::{self as segments, Compiler};
use rapport::repositories::sql::{Sql, SqlValue};
use rapport::services::segments::SAMPLE_SIZE;
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::dataset::*;
use support::{app_state, connect, env_number, measure, token, BenchDatabase, HttpClient, RunningServer};

const DEFAULT_CUSTOMERS: i64 = 1_000_000;
const DEFAULT_RUNS: usize = 7;
const SERVER_WORKERS: usize = 2;
/// The kept databases; a dataset of another size than the default gets its own.
const POSTGRES_DATABASE: &str = "rapport_bench_segments";
const SQLITE_FILE: &str = "segments-bench";
fn main() {
    let options = Options::from_env();
    print_header(&options);

    let suffix = if options.customers == DEFAULT_CUSTOMERS { String::new() } else { format!("_{}", options.customers) };
    let sqlite_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{SQLITE_FILE}{suffix}.db"));
    bench_backend(&options, BenchDatabase::Sqlite(sqlite_path));

    match std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty()) {
        Some(admin_url) => {
            bench_backend(&options, BenchDatabase::Postgres { admin_url, name: format!("{POSTGRES_DATABASE}{suffix}") })
        }
        None => println!("postgres SKIPPED: TEST_DATABASE_URL is not set (SQLite figures only)."),
    }
}

struct Options {
    customers: i64,
    runs: usize,
    reload: bool,
    show_sql: bool,
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
            runs: number("BENCH_RUNS", DEFAULT_RUNS as i64) as usize,
            reload: flag("BENCH_RELOAD"),
            show_sql: flag("BENCH_SQL"),
        }
    }
}

fn print_header(options: &Options) {
    let dataset = Dataset::new(options.customers);
    println!("command: cargo bench --bench segments   (release profile; PostgreSQL too when TEST_DATABASE_URL is set)");
    println!(
        "dataset: {} customers, {} buyers ({} with a second order, {} with a third), {} orders of 1 line, \
         {PRODUCTS} products; kept between runs (BENCH_RELOAD=1 rebuilds it)",
        dataset.customers, dataset.buyers, dataset.second_orders, dataset.third_orders, dataset.orders,
    );
    println!(
        "per shape: 1 warm-up then {} runs of each path, one after the other; api = POST /v1/segments/preview \
         (count + newest {SAMPLE_SIZE} ids + those customers) over 1 keep-alive HTTP/1.1 connection, server with \
         {SERVER_WORKERS} actix workers and a pool of 8; sql = repositories::segments::count on 1 connection; \
         ids = repositories::segments::member_ids (limit {SAMPLE_SIZE}); {} cores shared by client, server and database",
        options.runs,
        thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// The rule shapes

struct Shape {
    name: &'static str,
    rules: Value,
}

fn shapes() -> Vec<Shape> {
    let purchase = json!({"field": "purchased.product_type", "op": "eq", "value": "shoes", "within_days": 365});
    let aov = json!({"field": "average_order_value", "op": "between", "value": [5000, 20000]});
    let subscribed = json!({"field": "consent.email", "op": "eq", "value": "subscribed"});
    vec![
        Shape { name: "tag eq vip", rules: json!({"field": "tag", "op": "eq", "value": "vip"}) },
        Shape { name: "consent.email subscribed", rules: subscribed.clone() },
        Shape { name: "purchased shoes within 365d", rules: purchase.clone() },
        Shape { name: "aov between 50-200", rules: aov.clone() },
        Shape { name: "purchase+aov+consent (all)", rules: json!({"all": [purchase, aov, subscribed]}) },
        Shape {
            name: "any/not mix",
            rules: json!({"all": [
                {"any": [{"field": "tag", "op": "in", "value": ["vip", "loyalty"]},
                         {"field": "city", "op": "eq", "value": "Lyon"}]},
                {"not": {"field": "consent.email", "op": "eq", "value": "unsubscribed"}},
                {"field": "purchased.product_type", "op": "ne", "value": "bags"}
            ]}),
        },
        Shape { name: "orders_count eq 0", rules: json!({"field": "orders_count", "op": "eq", "value": 0}) },
        Shape {
            name: "rfm_segment champions",
            rules: json!({"field": "rfm_segment", "op": "eq", "value": "champions"}),
        },
    ]
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

fn bench_backend(options: &Options, database: BenchDatabase) {
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
    let size = database.size_bytes(&mut conn);
    println!("{backend:<8} dataset: {}; {:.0} MB on disk", dataset.summary(&mut conn), size as f64 / 1e6);
    drop(conn);

    let token = token(&state, &[Scope::CampaignsRead]);
    let server = RunningServer::start(state, SERVER_WORKERS);
    for shape in shapes() {
        let rule = rapport::domain::segment::parse_rules(&shape.rules).expect("the shape's rules are valid");
        let body = json!({"rules": shape.rules}).to_string();

        // A new connection per shape: the server closes one left idle (keep-alive timeout)
        // while the SQL runs.
        let mut client = HttpClient::connect(server.addr, &token);
        let (api_counts, api) = measure(1, options.runs, None, || preview(&mut client, body.as_bytes()));
        drop(client);
        // The SQL's own connection lives for this shape only. On SQLite, a connection of
        // this process outside the server's pool, left open after it had read, made every
        // full scan on the pool's connections about 8 times slower (3.1 s of CPU instead of
        // 0.4 s for `orders_count eq 0`, seen on 2026-12-08; it stops when that connection
        // is closed). The server has no such connection; the benchmark must not add one.
        let mut conn = connect(&target);
        let (sql_counts, sql) = measure(1, options.runs, None, || {
            segments::count(&mut conn, &rule, rapport::services::now()).expect("count the segment")
        });
        let (_, ids) = measure(1, options.runs, None, || {
            segments::member_ids(&mut conn, &rule, rapport::services::now(), None, SAMPLE_SIZE)
                .expect("the segment's newest ids")
                .len()
        });
        let count = sql_counts[0];
        let agree = api_counts.iter().chain(&sql_counts).all(|n| *n == count);
        println!(
            "{backend:<8} {:<28} count {count:>7}  api p50 {} max {} | sql p50 {} max {} | api/sql {:.2} | ids p50 {}{}",
            shape.name,
            ms(api.percentile(50)),
            ms(api.max()),
            ms(sql.percentile(50)),
            ms(sql.max()),
            api.percentile(50).as_secs_f64() / sql.percentile(50).as_secs_f64(),
            ms(ids.percentile(50)),
            if agree { String::new() } else { format!("  (counts differ: api {api_counts:?}, sql {sql_counts:?})") },
        );
        if options.show_sql {
            print_statement(&mut conn, &rule);
        }
    }
    server.stop();
    println!();
}

// ---------------------------------------------------------------------------------------
// Printing

/// Milliseconds in a 6-wide column: `  1.23 ms`, `    12 ms`.
fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:>6.2} ms")
    } else {
        format!("{ms:>6.0} ms")
    }
}

fn preview(client: &mut HttpClient, body: &[u8]) -> i64 {
    let (status, response) =
        client.send("POST", "/v1/segments/preview", &[], Some(body)).expect("POST /v1/segments/preview");
    assert_eq!(status, 200, "POST /v1/segments/preview: {}", String::from_utf8_lossy(&response));
    #[derive(serde::Deserialize)]
    struct Preview {
        count: i64,
        sample: Vec<Value>,
    }
    let preview: Preview = serde_json::from_slice(&response).expect("a preview");
    assert_eq!(
        preview.sample.len() as i64,
        preview.count.min(SAMPLE_SIZE),
        "the sample holds the newest {SAMPLE_SIZE} members"
    );
    preview.count
}

/// The count statement with its binds written as literals, and on SQLite its query plan.
fn print_statement(conn: &mut DbConn, rule: &Rule) {
    let mut sql = Sql::new(conn.backend());
    sql.push("SELECT COUNT(*) AS n FROM customers c WHERE c.erased_at IS NULL AND ");
    Compiler::new(rapport::services::now()).rule(&mut sql, rule);
    println!("{:<8} {}", "", inline_binds(&sql));
    if conn.backend() == Backend::Sqlite {
        #[derive(QueryableByName)]
        struct PlanRow {
            #[diesel(sql_type = Integer)]
            id: i32,
            #[diesel(sql_type = Integer)]
            parent: i32,
            #[diesel(sql_type = Text)]
            detail: String,
        }
        let mut explain = sql.clone();
        explain.text = format!("EXPLAIN QUERY PLAN {}", sql.text);
        let rows: Vec<PlanRow> = explain.query().load(conn).expect("EXPLAIN QUERY PLAN");
        let mut depth: Vec<(i32, usize)> = Vec::new();
        for row in rows {
            let level = depth.iter().find(|(id, _)| *id == row.parent).map_or(0, |(_, level)| level + 1);
            depth.push((row.id, level));
            println!("{:<8} plan: {}{}", "", "  ".repeat(level), row.detail);
        }
    }
}

/// `$n` / `?n` replaced by the bind's literal, highest number first (so `$1` does not eat `$12`).
fn inline_binds(sql: &Sql) -> String {
    let postgres = sql.backend == Backend::Postgres;
    let mut text = sql.text.clone();
    for (index, value) in sql.binds.iter().enumerate().rev() {
        let placeholder = format!("{}{}", if postgres { "$" } else { "?" }, index + 1);
        let literal = match value {
            SqlValue::Text(v) => format!("'{}'", v.replace('\'', "''")),
            SqlValue::Int(v) => v.to_string(),
            SqlValue::Float(v) => format!("{v:?}"),
            SqlValue::Time(v) if postgres => format!("TIMESTAMP '{}'", v.format("%F %T%.f")),
            SqlValue::Time(v) => format!("'{}'", v.format("%F %T%.f")),
            SqlValue::Date(v) if postgres => format!("DATE '{v}'"),
            SqlValue::Date(v) => format!("'{v}'"),
            SqlValue::Bool(v) => (if *v { "TRUE" } else { "FALSE" }).to_string(),
        };
        text = text.replace(&placeholder, &literal);
    }
    text
}

// ---------------------------------------------------------------------------------------
// The server and its client
