//! Dashboard analytics over 100,000 customers and 1,000,000 orders: each
//! `GET /v1/analytics/...` case through the real server beside the SQL one would run
//! without the sales rollups (a scan of `orders` / `order_lines` over the same range), on
//! the same database in the same run; then an exactness spot check of the rollups.
//!
//!     cargo bench --bench analytics
//!     TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench analytics
//!
//! SQLite always; PostgreSQL too, in the same run, when TEST_DATABASE_URL is set.
//! BENCH_RUNS (default 30): measured requests per case, after 2 warm-ups; a case whose
//! measured requests pass BENCH_CASE_SECONDS (default 60) in total stops there (after at
//! least 5), and its `n` column says how many were measured.
//! BENCH_RAW_RUNS (default 5): measured runs of each raw query, after 1 warm-up.
//! BENCH_CASES (default: all): the case numbers to run, e.g. `BENCH_CASES=7,8,9,10`.
//!
//! The dataset is `rapport::seed` (the code behind `rapport seed`) with 100,000 customers,
//! 1,000,000 orders and seed 42: three years of orders up to 2026-11-01, on both backends the
//! same rows; seeding also builds the rollups in the server's time zone (UTC here). It is
//! seeded once and kept: the SQLite file `target/tmp/analytics-bench.db` and the PostgreSQL
//! database `rapport_bench_analytics` on the TEST_DATABASE_URL server (created when
//! missing). A database with at least 1,000,000 orders is reused, an empty one is seeded, a
//! partly seeded one is emptied and seeded again. Delete the file (with its `-wal` and `-shm`)
//! or drop the database to seed again. Every run adds one order (the spot check).
//!
//! The server runs in-process on 127.0.0.1:0 (its own thread and actix System, 2 workers, a
//! pool of 8, RAPPORT_TIMEZONE unset so UTC); one keep-alive HTTP/1.1 connection per case
//! sends the requests one after the other. Every response must be a 200, and where a raw
//! query exists its figures are compared with the response's (the `check` column): the
//! rollups must give exactly what the scan gives.
//!
//! The raw queries run through `diesel::sql_query` on one connection opened the way the
//! app's pool opens them, rows loaded; all in EUR, cancelled orders left out, over the
//! same UTC range as the request. Sales: per period `COUNT(*)`, `COUNT(DISTINCT
//! customer_id)` and `SUM(total - refunded_total)` (net revenue) grouped by `date(placed_at)`
//! / `strftime` on SQLite and `date_trunc` on PostgreSQL. Products and product types: the
//! lines joined to their orders, grouped by SKU / product type, line revenue
//! `SUM((quantity - refunded_quantity) * unit_price)`. Promotions: grouped by the applied
//! code, revenue `SUM(total + discount_total - refunded_total)`. Channels: grouped by
//! channel, and by the customer's source (orders joined to their customers). Customer value:
//! net spent per buyer (without `customer_order_stats`), its nearest-rank percentiles and
//! repeat buyers. RFM: the scores computed from the orders, grouped by segment. Cohorts:
//! each buyer's first order, grouped by its month.
//!
//! Spot check, per backend, after the timings: the EUR sales of 2026-10-15 (granularity
//! day), one new order placed that day through `POST /v1/orders` (a new customer, a unique
//! external id), the same request again at once: the day must show one more order, its
//! net amount more net revenue and one more new customer.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use rapport::auth::Scope;
use rapport::db::Backend;
use rapport::seed::SeedOptions;
use rapport::state::AppState;
use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;

use support::{
    app_state, connect, env_number, measure, scalar, token, BenchDatabase, HttpClient, Measurement, RunningServer,
};

const CUSTOMERS: u64 = 100_000;
const ORDERS: u64 = 1_000_000;
const SEED: u64 = 42;
const SQLITE_FILE: &str = "analytics-bench.db";
const POSTGRES_DATABASE: &str = "rapport_bench_analytics";
const DEFAULT_RUNS: usize = 30;
const DEFAULT_RAW_RUNS: usize = 5;
const DEFAULT_CASE_SECONDS: u64 = 60;
const API_WARM_UPS: usize = 2;
const RAW_WARM_UPS: usize = 1;
/// A case cut short by the time budget still has this many measured runs.
const MIN_RUNS: usize = 5;
const SERVER_WORKERS: usize = 2;
/// The goal for cases 1 to 4 (served from the rollups since they were built).
const GOAL_P95: Duration = Duration::from_millis(20);
/// The goal for cases 7 to 11 and 13 to 16 (the slow reports and other time zones).
const SLOW_GOAL_P95: Duration = Duration::from_millis(50);
/// The currency of every raw query (the one with the most orders, which the API picks).
const CURRENCY: &str = "EUR";
/// The last year of the dataset and its three years, as local dates (inclusive) and as
/// UTC instants `[from, to)`.
const YEAR: (&str, &str) = ("2025-11-01", "2026-10-31");
const YEAR_UTC: (&str, &str) = ("2025-11-01 00:00:00", "2026-11-01 00:00:00");
/// A calendar year: exactly one period, so distinct customers come from the rollups.
const CALENDAR_YEAR: (&str, &str) = ("2025-01-01", "2025-12-31");
const CALENDAR_YEAR_UTC: (&str, &str) = ("2025-01-01 00:00:00", "2026-01-01 00:00:00");
const THREE_YEARS: (&str, &str) = ("2023-11-01", "2026-10-31");
const THREE_YEARS_UTC: (&str, &str) = ("2023-11-01 00:00:00", "2026-11-01 00:00:00");
/// Weekly buckets run from the Monday of the week holding `from` to the end of the week
/// holding `to`.
const YEAR_OF_WEEKS_UTC: (&str, &str) = ("2025-10-27 00:00:00", "2026-11-02 00:00:00");
const SPOT_DAY: &str = "2026-10-15";
/// The day after `YEAR`.
const DAY_AFTER_YEAR: &str = "2026-11-01";

fn main() {
    let options = Options::from_env();
    let admin_url = std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty());
    print_header(&options, admin_url.is_some());

    let sqlite_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(SQLITE_FILE);
    bench_backend(&options, &BenchDatabase::Sqlite(sqlite_path));

    match admin_url {
        Some(admin_url) => {
            bench_backend(&options, &BenchDatabase::Postgres { admin_url, name: POSTGRES_DATABASE.to_string() })
        }
        None => println!("postgres SKIPPED: TEST_DATABASE_URL is not set (SQLite figures only)."),
    }
}

struct Options {
    runs: usize,
    raw_runs: usize,
    case_budget: Duration,
    /// The case numbers to run (`BENCH_CASES=7,8,9,10`); every case when empty.
    only: Vec<String>,
}

impl Options {
    fn from_env() -> Options {
        Options {
            runs: env_number("BENCH_RUNS", DEFAULT_RUNS as u64) as usize,
            raw_runs: env_number("BENCH_RAW_RUNS", DEFAULT_RAW_RUNS as u64) as usize,
            case_budget: Duration::from_secs(env_number("BENCH_CASE_SECONDS", DEFAULT_CASE_SECONDS)),
            only: std::env::var("BENCH_CASES")
                .unwrap_or_default()
                .split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    fn runs_case(&self, case: &Case) -> bool {
        let number = case.label.split(' ').next().unwrap_or_default();
        self.only.is_empty() || self.only.iter().any(|n| n == number)
    }
}

fn print_header(options: &Options, postgres: bool) {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "command: cargo bench --bench analytics   (release profile; SQLite, and PostgreSQL in the same run when \
         TEST_DATABASE_URL is set)"
    );
    println!(
        "backends: sqlite (target/tmp/{SQLITE_FILE}){}",
        if postgres {
            format!(" and postgres (database {POSTGRES_DATABASE} on the TEST_DATABASE_URL server)")
        } else {
            ", postgres skipped (TEST_DATABASE_URL is not set)".to_string()
        }
    );
    println!(
        "dataset: rapport::seed, {} customers, {} orders, seed {SEED} (3 years of orders up to 2026-11-01), sales \
         rollups in UTC; kept between runs",
        thousands(CUSTOMERS as i64),
        thousands(ORDERS as i64),
    );
    println!(
        "runs: api = {} requests per case after {API_WARM_UPS} warm-ups (fewer, at least {MIN_RUNS}, when they pass \
         {} s; see n), 1 keep-alive HTTP/1.1 connection, server with {SERVER_WORKERS} actix workers and a pool of 8; \
         raw = the scan without rollups, {} runs after {RAW_WARM_UPS} warm-up, on 1 connection; p95 is nearest-rank",
        options.runs,
        options.case_budget.as_secs(),
        options.raw_runs,
    );
    println!(
        "machine: client, server and database share {cores} cores; goal: api p95 < {} ms for cases 1-4, < {} ms for 7-11 and 13-16; \
         raw/api = raw p50 / api p50",
        GOAL_P95.as_millis(),
        SLOW_GOAL_P95.as_millis()
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// The cases

/// What the response is compared with the raw rows on.
#[derive(Clone, Copy)]
enum Check {
    /// `buckets[]` per period start: orders, distinct customers (new + returning) and the
    /// named amount.
    Sales { amount: &'static str },
    /// `groups[]` in rank order: key, revenue, orders, customers.
    Ranking,
    /// `codes[]`, `with_code` and `without_code`.
    Promotions,
    /// `channels[]`: orders and net revenue; `sources[]`: orders, customers, net revenue.
    Channels,
    /// Buyers and the largest lifetime value.
    Buyers,
    /// `cohorts[]`: customers and revenue.
    Cohorts,
    /// `segments[]` of RFM: customers, orders and revenue.
    Segments,
}

struct Case {
    label: String,
    path: String,
    /// The p95 goal the case is held to, if any.
    goal: Option<Duration>,
    /// The equivalent scan, when there is one on this backend.
    raw: Option<String>,
    check: Option<Check>,
}

/// Writes the raw queries for one backend.
struct RawSql {
    backend: Backend,
}

impl RawSql {
    fn postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    fn at(&self, instant: &str) -> String {
        if self.postgres() {
            format!("TIMESTAMP '{instant}'")
        } else {
            format!("'{instant}'")
        }
    }

    /// The local start date (`YYYY-MM-DD`) of the period holding `column`.
    fn period(&self, granularity: &str, column: &str) -> String {
        match (self.backend, granularity) {
            (Backend::Postgres, _) => format!("to_char(date_trunc('{granularity}', {column}), 'YYYY-MM-DD')"),
            (Backend::Sqlite, "day") => format!("date({column})"),
            (Backend::Sqlite, "week") => format!("date({column}, 'weekday 0', '-6 days')"),
            (Backend::Sqlite, "month") => format!("strftime('%Y-%m-01', {column})"),
            (Backend::Sqlite, other) => panic!("no raw period for {other}"),
        }
    }

    /// Orders of the range that count: not cancelled, in EUR.
    fn orders_in(&self, range: (&str, &str)) -> String {
        format!(
            "o.placed_at >= {} AND o.placed_at < {} AND o.status <> 'cancelled' AND o.currency = '{CURRENCY}'",
            self.at(range.0),
            self.at(range.1)
        )
    }

    /// Sales per period; `key` is the period expression.
    fn sales(&self, key: &str, range: (&str, &str), extra: &str) -> String {
        format!(
            "SELECT {key} AS key, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
             CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS amount \
             FROM orders o WHERE {}{extra} GROUP BY 1",
            self.orders_in(range)
        )
    }

    /// Lines grouped by `column` (or per period of one SKU), line revenue.
    fn lines(&self, key: &str, range: (&str, &str), extra: &str, tail: &str) -> String {
        format!(
            "SELECT {key} AS key, COUNT(DISTINCT o.id) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
             CAST(SUM((l.quantity - l.refunded_quantity) * l.unit_price) AS BIGINT) AS amount \
             FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE {}{extra} GROUP BY 1{tail}",
            self.orders_in(range)
        )
    }

    /// Sales per channel (keys `channel:<name>`) and per customer source (`source:<name>`).
    fn channels(&self, range: (&str, &str)) -> String {
        format!(
            "SELECT 'channel:' || o.channel AS key, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
             CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS amount FROM orders o WHERE {orders} GROUP BY o.channel \
             UNION ALL \
             SELECT 'source:' || c.source AS key, COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
             CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS amount \
             FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {orders} GROUP BY c.source",
            orders = self.orders_in(range)
        )
    }

    fn promotions(&self, range: (&str, &str)) -> String {
        format!(
            "SELECT COALESCE(CASE WHEN o.promo_code_status = 'applied' THEN o.promo_code END, '') AS key, \
             COUNT(*) AS orders, COUNT(DISTINCT o.customer_id) AS customers, \
             CAST(SUM(o.total + o.discount_total - o.refunded_total) AS BIGINT) AS amount \
             FROM orders o WHERE {} GROUP BY 1",
            self.orders_in(range)
        )
    }

    fn buyers(&self) -> String {
        format!(
            "SELECT CAST(o.customer_id AS TEXT) AS key, COUNT(*) AS orders, CAST(1 AS BIGINT) AS customers, \
             CAST(SUM(o.total - o.refunded_total) AS BIGINT) AS amount \
             FROM orders o WHERE o.status <> 'cancelled' AND o.currency = '{CURRENCY}' GROUP BY o.customer_id"
        )
    }

    /// Customers, orders and net revenue in EUR per RFM segment, the scores computed from
    /// the orders themselves rather than the purchase statistics.
    fn rfm(&self) -> String {
        let scores = rapport::repositories::segments::RFM_SQL.replace("FROM customer_order_stats ", "FROM stats ");
        format!(
            "WITH stats AS (SELECT customer_id, currency, COUNT(*) AS orders_count, \
             SUM(total - refunded_total) AS total_spent, MAX(placed_at) AS last_order_at \
             FROM orders WHERE status <> 'cancelled' GROUP BY customer_id, currency) \
             SELECT r.rfm_segment AS key, CAST(SUM(s.orders_count) AS BIGINT) AS orders, \
             CAST(COUNT(*) AS BIGINT) AS customers, CAST(SUM(s.total_spent) AS BIGINT) AS amount \
             FROM ({scores}) r JOIN stats s ON s.customer_id = r.customer_id AND s.currency = '{CURRENCY}' \
             GROUP BY r.rfm_segment"
        )
    }

    /// Buyers by the month of their first order in the range, with the net revenue of all
    /// their orders up to the end of the range.
    fn cohorts(&self, range: (&str, &str)) -> String {
        format!(
            "SELECT {} AS key, COUNT(*) AS orders, COUNT(*) AS customers, CAST(SUM(f.net) AS BIGINT) AS amount \
             FROM (SELECT o.customer_id, MIN(o.placed_at) AS first_at, SUM(o.total - o.refunded_total) AS net \
                   FROM orders o WHERE o.status <> 'cancelled' AND o.currency = '{CURRENCY}' AND o.placed_at < {} \
                   GROUP BY o.customer_id) f \
             WHERE f.first_at >= {} GROUP BY 1",
            self.period("month", "f.first_at"),
            self.at(range.1),
            self.at(range.0),
        )
    }
}

/// The UTC instants `[from, to)` of the year `YEAR` in a time zone (its local midnights).
struct UtcRange(String, String);

impl UtcRange {
    fn as_pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

fn year_in(zone: &str) -> UtcRange {
    let zone: chrono_tz::Tz = zone.parse().expect("a known time zone");
    let midnight = |day: &str| {
        let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a date");
        rapport::domain::period::local_midnight_utc(zone, day).format("%Y-%m-%d %H:%M:%S").to_string()
    };
    UtcRange(midnight(YEAR.0), midnight(DAY_AFTER_YEAR))
}

fn cases(backend: Backend, top_sku: &str) -> Vec<Case> {
    let sql = RawSql { backend };
    let (year_from, year_to) = YEAR;
    let range = format!("from={year_from}&to={year_to}");
    let calendar = format!("from={}&to={}", CALENDAR_YEAR.0, CALENDAR_YEAR.1);
    let case = |label: &str, path: String, goal: Option<Duration>, raw: Option<String>, check: Check| Case {
        label: label.to_string(),
        path,
        goal,
        check: raw.is_some().then_some(check),
        raw,
    };
    let net = Check::Sales { amount: "net_revenue" };
    let paris_day = "to_char(date_trunc('day', (o.placed_at AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Paris'), \
                     'YYYY-MM-DD')";
    vec![
        case(
            "1 sales by day, 1 year",
            format!("/v1/analytics/sales?{range}&granularity=day"),
            Some(GOAL_P95),
            Some(sql.sales(&sql.period("day", "o.placed_at"), YEAR_UTC, "")),
            net,
        ),
        case(
            "2 sales by month, 3 years",
            format!("/v1/analytics/sales?from={}&to={}&granularity=month", THREE_YEARS.0, THREE_YEARS.1),
            Some(GOAL_P95),
            Some(sql.sales(&sql.period("month", "o.placed_at"), THREE_YEARS_UTC, "")),
            net,
        ),
        case(
            "3 products/top by revenue, 1 year",
            format!("/v1/analytics/products/top?{range}&by=revenue&limit=10"),
            Some(GOAL_P95),
            Some(sql.lines("l.sku", YEAR_UTC, "", " ORDER BY amount DESC, key LIMIT 10")),
            Check::Ranking,
        ),
        case(
            "3b products/top, calendar year",
            format!("/v1/analytics/products/top?{calendar}&by=revenue&limit=10"),
            Some(GOAL_P95),
            Some(sql.lines("l.sku", CALENDAR_YEAR_UTC, "", " ORDER BY amount DESC, key LIMIT 10")),
            Check::Ranking,
        ),
        case(
            "4 promotions, 1 year",
            format!("/v1/analytics/promotions?{range}"),
            Some(GOAL_P95),
            Some(sql.promotions(YEAR_UTC)),
            Check::Promotions,
        ),
        case(
            "4b promotions, calendar year",
            format!("/v1/analytics/promotions?{calendar}"),
            Some(GOAL_P95),
            Some(sql.promotions(CALENDAR_YEAR_UTC)),
            Check::Promotions,
        ),
        case(
            "5 sales by week, web, 1 year",
            format!("/v1/analytics/sales?{range}&granularity=week&channel=web"),
            None,
            Some(sql.sales(&sql.period("week", "o.placed_at"), YEAR_OF_WEEKS_UTC, " AND o.channel = 'web'")),
            net,
        ),
        case(
            "6 product-types, 1 year",
            format!("/v1/analytics/product-types?{range}"),
            None,
            Some(sql.lines(
                "l.product_type",
                YEAR_UTC,
                " AND l.product_type IS NOT NULL",
                " ORDER BY amount DESC, key",
            )),
            Check::Ranking,
        ),
        case(
            "7 channels, 1 year",
            format!("/v1/analytics/channels?{range}"),
            Some(SLOW_GOAL_P95),
            Some(sql.channels(YEAR_UTC)),
            Check::Channels,
        ),
        case(
            "8 customers/value",
            "/v1/analytics/customers/value".into(),
            Some(SLOW_GOAL_P95),
            Some(sql.buyers()),
            Check::Buyers,
        ),
        case(
            "9 customers/rfm",
            "/v1/analytics/customers/rfm".into(),
            Some(SLOW_GOAL_P95),
            Some(sql.rfm()),
            Check::Segments,
        ),
        case(
            "10 cohorts by month, 1 year",
            format!("/v1/analytics/cohorts?{range}&granularity=month"),
            Some(SLOW_GOAL_P95),
            Some(sql.cohorts(YEAR_UTC)),
            Check::Cohorts,
        ),
        case(
            "11 sales by day, 1 year, Paris",
            format!("/v1/analytics/sales?{range}&granularity=day&timezone=Europe/Paris"),
            Some(SLOW_GOAL_P95),
            // SQLite has no time zones.
            sql.postgres().then(|| sql.sales(paris_day, year_in("Europe/Paris").as_pair(), "")),
            net,
        ),
        case(
            "13 products/top by revenue, 1 year, Kolkata",
            format!("/v1/analytics/products/top?{range}&by=revenue&limit=10&timezone=Asia/Kolkata"),
            Some(SLOW_GOAL_P95),
            Some(sql.lines("l.sku", year_in("Asia/Kolkata").as_pair(), "", " ORDER BY amount DESC, key LIMIT 10")),
            Check::Ranking,
        ),
        case(
            "14 product-types, 1 year, New York",
            format!("/v1/analytics/product-types?{range}&timezone=America/New_York"),
            Some(SLOW_GOAL_P95),
            Some(sql.lines(
                "l.product_type",
                year_in("America/New_York").as_pair(),
                " AND l.product_type IS NOT NULL",
                " ORDER BY amount DESC, key",
            )),
            Check::Ranking,
        ),
        case(
            "15 promotions, 1 year, Kathmandu",
            format!("/v1/analytics/promotions?{range}&timezone=Asia/Kathmandu"),
            Some(SLOW_GOAL_P95),
            Some(sql.promotions(year_in("Asia/Kathmandu").as_pair())),
            Check::Promotions,
        ),
        case(
            "16 channels, 1 year, Paris",
            format!("/v1/analytics/channels?{range}&timezone=Europe/Paris"),
            Some(SLOW_GOAL_P95),
            Some(sql.channels(year_in("Europe/Paris").as_pair())),
            Check::Channels,
        ),
        case(
            "12 products/{sku}/sales by month, 1 year",
            format!("/v1/analytics/products/{top_sku}/sales?{range}&granularity=month"),
            None,
            Some(sql.lines(&sql.period("month", "o.placed_at"), YEAR_UTC, &format!(" AND l.sku = '{top_sku}'"), "")),
            Check::Sales { amount: "revenue" },
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// One backend

/// The app state on a seeded database: reused, seeded, or emptied and seeded again.
fn prepare(database: &BenchDatabase) -> AppState {
    let backend = database.label();
    database.create_if_missing();
    let state = app_state(&database.url());
    let orders = count_orders(&state);
    if orders >= ORDERS as i64 {
        println!(
            "{backend:<8} dataset: reusing the {} ({} orders); delete it to seed again",
            database.describe(),
            thousands(orders)
        );
        return state;
    }
    let state = if orders > 0 {
        println!(
            "{backend:<8} dataset: the {} holds only {} orders (partly seeded): emptying it",
            database.describe(),
            thousands(orders)
        );
        drop(state);
        database.recreate();
        app_state(&database.url())
    } else {
        state
    };
    println!("{backend:<8} dataset: seeding the {} (progress on stderr) ...", database.describe());
    let options = SeedOptions {
        customers: CUSTOMERS,
        orders: ORDERS,
        seed: SEED,
        progress: true,
        timezone: state.config.timezone,
    };
    let started = Instant::now();
    let summary = rapport::seed::run(&state.db, &options).unwrap_or_else(|e| panic!("seeding failed: {e}"));
    println!(
        "{backend:<8} dataset: seeded in {:.1} s (rollups included): {}",
        started.elapsed().as_secs_f64(),
        summary.to_string().replace('\n', "; ")
    );
    state
}

fn count_orders(state: &AppState) -> i64 {
    state
        .db
        .with_conn(|conn| Ok(scalar(conn, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders")))
        .expect("count the orders")
}

fn bench_backend(options: &Options, database: &BenchDatabase) {
    let backend = database.label();
    let state = prepare(database);
    let target = state.config.database.clone();
    let mut conn = connect(&target);
    let year_orders = RawSql { backend: conn.backend() }.orders_in(YEAR_UTC);
    {
        let mut count =
            |sql: &str| thousands(scalar(&mut conn, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {sql}")));
        let summary = format!(
            "{} customers, {} orders ({} in {CURRENCY}, not cancelled, in the last year), {} order lines, \
             sales_daily {} rows, sales_customers {} rows",
            count("FROM customers"),
            count("FROM orders"),
            count(&format!("FROM orders o WHERE {year_orders}")),
            count("FROM order_lines"),
            count("FROM sales_daily"),
            count("FROM sales_customers"),
        );
        let size = database.size_bytes(&mut conn);
        println!("{backend:<8} dataset: {summary}; {:.0} MB on disk", size as f64 / 1e6);
    }

    let token = token(&state, &[Scope::AnalyticsRead, Scope::OrdersWrite]);
    let server = RunningServer::start(state, SERVER_WORKERS);

    // The best seller of the year names the SKU of case 12.
    let top_sku = {
        let mut client = HttpClient::connect(server.addr, &token);
        let top = get_json(&mut client, &format!("/v1/analytics/products/top?from={}&to={}&limit=1", YEAR.0, YEAR.1));
        let sku = top["groups"][0]["key"].as_str().expect("a best seller").to_string();
        assert!(sku.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "a plain SKU: {sku}");
        sku
    };

    println!("{backend:<8} case 12's {{sku}}: {top_sku}, the best seller of the year in {CURRENCY}");
    println!(
        "{backend:<8} {:<44} {:>9} {:>9} {:>3} | {:>9} {:>9} {:>2} | {:>7} | {:<9} | check (api against raw)",
        "case", "api p50", "api p95", "n", "raw p50", "raw p95", "n", "raw/api", "p95 goal"
    );
    let mut goals = Vec::new();
    for case in cases(conn.backend(), &top_sku).into_iter().filter(|case| options.runs_case(case)) {
        // A new connection per case: the server closes one left idle while the raw SQL runs.
        let mut client = HttpClient::connect(server.addr, &token);
        let (response, api) =
            measure_case(API_WARM_UPS, options.runs, options.case_budget, || get_json(&mut client, &case.path));
        drop(client);
        let raw = case.raw.as_ref().map(|sql| {
            measure_case(RAW_WARM_UPS, options.raw_runs, options.case_budget, || {
                diesel::sql_query(sql.as_str()).load::<RawRow>(&mut conn).unwrap_or_else(|e| panic!("{e}\n{sql}"))
            })
        });
        let goal = if let Some(goal) = case.goal {
            let met = api.nearest_rank(95) < goal;
            goals.push(met);
            if met {
                "met"
            } else {
                "MISSED"
            }
        } else {
            "-"
        };
        let check = match (&raw, case.check) {
            (Some((rows, _)), Some(check)) => match compare(check, &response, rows) {
                Ok(summary) => format!("ok: {summary}"),
                Err(difference) => format!("DIFFERS: {difference}"),
            },
            _ => "no raw query".to_string(),
        };
        let (raw_p50, raw_p95, raw_n, ratio) = match &raw {
            Some((_, stats)) => (
                ms(stats.nearest_rank(50)),
                ms(stats.nearest_rank(95)),
                stats.operations().to_string(),
                ratio(stats.nearest_rank(50).as_secs_f64() / api.nearest_rank(50).as_secs_f64()),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into()),
        };
        println!(
            "{backend:<8} {:<44} {:>9} {:>9} {:>3} | {raw_p50:>9} {raw_p95:>9} {raw_n:>2} | {ratio:>7} | {goal:<9} | {check}",
            case.label,
            ms(api.nearest_rank(50)),
            ms(api.nearest_rank(95)),
            api.operations(),
        );
    }
    println!(
        "{backend:<8} goals (p95 < {} ms for 1-4, < {} ms for 7-11 and 13-16): {} of {} met",
        GOAL_P95.as_millis(),
        SLOW_GOAL_P95.as_millis(),
        goals.iter().filter(|met| **met).count(),
        goals.len()
    );

    let mut client = HttpClient::connect(server.addr, &token);
    println!("{backend:<8} {}", spot_check(&mut client));
    drop(client);
    server.stop();
    println!();
}

/// Every raw query returns rows of this shape.
#[derive(QueryableByName, Debug, Clone)]
struct RawRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    orders: i64,
    #[diesel(sql_type = BigInt)]
    customers: i64,
    #[diesel(sql_type = BigInt)]
    amount: i64,
}

fn get_json(client: &mut HttpClient, path: &str) -> Value {
    let (status, body) = client.send("GET", path, &[], None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
}

// ---------------------------------------------------------------------------------------
// Measuring

/// `warm_ups` untimed calls, then up to `runs` timed ones (stopping once they pass
/// `budget`, after at least MIN_RUNS); returns what the last call returned. The
/// percentiles are nearest-rank ones.
fn measure_case<T>(warm_ups: usize, runs: usize, budget: Duration, operation: impl FnMut() -> T) -> (T, Measurement) {
    let (mut outputs, measurement) = measure(warm_ups, runs, Some((budget, MIN_RUNS)), operation);
    (outputs.pop().expect("at least one run"), measurement)
}

/// Milliseconds: `1.23 ms`, `12.3 ms`, `123 ms`.
fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn ratio(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}x")
    } else {
        format!("{x:.0}x")
    }
}

fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Minor units as `12,345.67`.
fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", thousands(minor.abs() / 100), minor.abs() % 100)
}

// ---------------------------------------------------------------------------------------
// Comparing the response with the raw rows

fn int(value: &Value, field: &str) -> i64 {
    value[field].as_i64().unwrap_or_else(|| panic!("`{field}` is not an integer in {value}"))
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or_else(|| panic!("`{field}` is not a string in {value}"))
}

fn items<'a>(value: &'a Value, field: &str) -> &'a Vec<Value> {
    value[field].as_array().unwrap_or_else(|| panic!("`{field}` is not an array"))
}

/// (orders, customers, amount) of the API beside the raw row's, per key, where they differ.
struct Differences {
    compared: usize,
    found: Vec<String>,
}

impl Differences {
    fn new() -> Differences {
        Differences { compared: 0, found: Vec::new() }
    }

    fn compare(&mut self, key: &str, api: (i64, i64, i64), raw: Option<&RawRow>) {
        self.compared += 1;
        let raw = raw.map_or((0, 0, 0), |r| (r.orders, r.customers, r.amount));
        if api != raw {
            self.found.push(format!("{key}: api {api:?} raw {raw:?}"));
        }
    }

    fn missing(&mut self, key: &str, raw: &RawRow) {
        self.found.push(format!("{key}: only in raw ({}, {}, {})", raw.orders, raw.customers, raw.amount));
    }

    fn result(self, what: &str, summary: String) -> Result<String, String> {
        if self.found.is_empty() {
            Ok(format!("{} {what}, {summary}", self.compared))
        } else {
            Err(format!(
                "{} of {} {what} (orders, customers, amount); first: {}",
                self.found.len(),
                self.compared,
                self.found.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            ))
        }
    }
}

fn compare(check: Check, response: &Value, rows: &[RawRow]) -> Result<String, String> {
    let by_key = |key: &str| rows.iter().find(|r| r.key == key);
    if response["currency"].as_str().is_some_and(|c| c != CURRENCY) {
        return Err(format!("the response is in {}, the raw query in {CURRENCY}", response["currency"]));
    }
    let mut differences = Differences::new();
    match check {
        Check::Sales { amount } => {
            let buckets = items(response, "buckets");
            for bucket in buckets {
                let key = text(bucket, "period_start");
                let customers = int(bucket, "new_customers") + int(bucket, "returning_customers");
                differences.compare(key, (int(bucket, "orders"), customers, int(bucket, amount)), by_key(key));
            }
            for row in rows.iter().filter(|r| !buckets.iter().any(|b| b["period_start"] == r.key.as_str())) {
                differences.missing(&row.key, row);
            }
            let totals = &response["totals"];
            let summary =
                format!("{} orders, {} {}", thousands(int(totals, "orders")), money(int(totals, amount)), amount);
            differences.result("periods", summary)
        }
        Check::Ranking => {
            let groups = items(response, "groups");
            let mut ranked: Vec<&RawRow> = rows.iter().collect();
            ranked.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.key.cmp(&b.key)));
            for (rank, group) in groups.iter().enumerate() {
                let api_key = text(group, "key");
                let figures = (int(group, "orders"), int(group, "customers"), int(group, "revenue"));
                match ranked.get(rank) {
                    Some(row) if row.key == api_key => differences.compare(api_key, figures, Some(row)),
                    Some(row) => {
                        differences.compared += 1;
                        differences.found.push(format!("rank {}: api {api_key}, raw {}", rank + 1, row.key));
                    }
                    None => differences.compare(api_key, figures, None),
                }
            }
            let first = groups
                .first()
                .map_or(String::new(), |g| format!("first {} {}", text(g, "key"), money(int(g, "revenue"))));
            differences.result("ranked", first)
        }
        Check::Promotions => {
            let codes = items(response, "codes");
            for code in codes {
                let key = text(code, "code");
                let figures = (int(code, "redemptions"), int(code, "customers"), int(code, "revenue"));
                differences.compare(key, figures, by_key(key));
            }
            for row in rows.iter().filter(|r| !r.key.is_empty() && !codes.iter().any(|c| c["code"] == r.key.as_str())) {
                differences.missing(&row.key, row);
            }
            let with: i64 = rows.iter().filter(|r| !r.key.is_empty()).map(|r| r.orders).sum();
            let without = by_key("").map_or(0, |r| r.orders);
            let (api_with, api_without) =
                (int(&response["with_code"], "orders"), int(&response["without_code"], "orders"));
            differences.compared += 2;
            if (api_with, api_without) != (with, without) {
                differences
                    .found
                    .push(format!("orders with/without a code: api {api_with}/{api_without}, raw {with}/{without}"));
            }
            let summary = format!("{} orders with a code, {} without", thousands(api_with), thousands(api_without));
            differences.result("codes and groups", summary)
        }
        Check::Channels => {
            let channels = items(response, "channels");
            for channel in channels {
                let key = format!("channel:{}", text(channel, "channel"));
                let raw = by_key(&key).map(|r| RawRow { customers: 0, ..r.clone() });
                differences.compare(&key, (int(channel, "orders"), 0, int(channel, "net_revenue")), raw.as_ref());
            }
            let sources = items(response, "sources");
            for source in sources {
                let key = format!("source:{}", text(source, "source"));
                let api = (int(source, "orders"), int(source, "customers"), int(source, "net_revenue"));
                differences.compare(&key, api, by_key(&key));
            }
            let answered = |key: &str| {
                channels.iter().any(|c| format!("channel:{}", text(c, "channel")) == key)
                    || sources.iter().any(|s| format!("source:{}", text(s, "source")) == key)
            };
            for row in rows.iter().filter(|r| !answered(&r.key)) {
                differences.missing(&row.key, row);
            }
            let orders: i64 = channels.iter().map(|c| int(c, "orders")).sum();
            differences.result(
                "channels (orders, -, net revenue) and sources (orders, customers, net revenue)",
                format!("{} orders", thousands(orders)),
            )
        }
        Check::Buyers => {
            let buyers = int(response, "customers");
            let largest = rows.iter().map(|r| r.amount).max().unwrap_or(0);
            let top = items(response, "top").first().map_or(0, |t| int(t, "lifetime_value"));
            differences.compared += 1;
            if (buyers, top) != (rows.len() as i64, largest) {
                differences
                    .found
                    .push(format!("buyers, largest value: api {buyers}, {top}; raw {}, {largest}", rows.len()));
            }
            // Nearest-rank percentiles and repeat buyers, from the raw rows.
            let mut spent: Vec<i64> = rows.iter().map(|r| r.amount).collect();
            spent.sort_unstable();
            let at = |p: usize| spent.get((p * spent.len()).div_ceil(100).max(1) - 1).copied().unwrap_or(0);
            let raw_figures = (at(50), at(90), at(99), rows.iter().filter(|r| r.orders >= 2).count() as i64);
            let api_figures =
                (int(response, "p50"), int(response, "p90"), int(response, "p99"), int(response, "repeat_customers"));
            differences.compared += 1;
            if api_figures != raw_figures {
                differences.found.push(format!("p50, p90, p99, repeat: api {api_figures:?}; raw {raw_figures:?}"));
            }
            differences.result("figures", format!("{} buyers, largest value {}", thousands(buyers), money(top)))
        }
        Check::Segments => {
            let segments = items(response, "segments");
            for segment in segments.iter().filter(|s| int(s, "customers") > 0) {
                let key = text(segment, "segment");
                let api = (int(segment, "orders"), int(segment, "customers"), int(segment, "revenue"));
                differences.compare(key, api, by_key(key));
            }
            for row in rows.iter().filter(|r| !segments.iter().any(|s| s["segment"] == r.key.as_str())) {
                differences.missing(&row.key, row);
            }
            let customers: i64 = segments.iter().map(|s| int(s, "customers")).sum();
            differences.result("segments", format!("{} scored buyers", thousands(customers)))
        }
        Check::Cohorts => {
            let cohorts = items(response, "cohorts");
            for cohort in cohorts {
                let key = text(cohort, "period_start");
                let customers = int(cohort, "customers");
                let raw = by_key(key).map(|r| RawRow { orders: r.customers, ..r.clone() });
                differences.compare(key, (customers, customers, int(cohort, "revenue")), raw.as_ref());
            }
            for row in rows.iter().filter(|r| !cohorts.iter().any(|c| c["period_start"] == r.key.as_str())) {
                differences.missing(&row.key, row);
            }
            let customers: i64 = cohorts.iter().map(|c| int(c, "customers")).sum();
            differences.result("cohorts", format!("{} new buyers", thousands(customers)))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The spot check

/// The EUR figures of SPOT_DAY: (orders, net revenue, new customers, returning customers).
fn spot_day(client: &mut HttpClient) -> (i64, i64, i64, i64) {
    let path = format!("/v1/analytics/sales?from={SPOT_DAY}&to={SPOT_DAY}&granularity=day&currency={CURRENCY}");
    let response = get_json(client, &path);
    let buckets = items(&response, "buckets");
    assert_eq!(buckets.len(), 1, "one day, one bucket: {response}");
    let day = &buckets[0];
    (int(day, "orders"), int(day, "net_revenue"), int(day, "new_customers"), int(day, "returning_customers"))
}

fn spot_check(client: &mut HttpClient) -> String {
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos();
    let body = json!({
        "external_id": format!("analytics-bench-{stamp}"),
        "channel": "web",
        "source_detail": "analytics benchmark",
        "placed_at": format!("{SPOT_DAY}T12:00:00Z"),
        "currency": CURRENCY,
        "customer": {"email": format!("analytics-bench-{stamp}@example.com"), "first_name": "Spot", "last_name": "Check"},
        "lines": [
            {"sku": "BENCH-SPOT-CHECK", "name": "Spot check ring", "product_type": "ring", "quantity": 2, "unit_price": 4250},
            {"sku": "BENCH-SPOT-CHAIN", "name": "Spot check chain", "product_type": "necklace", "quantity": 1, "unit_price": 3100}
        ],
        "discount_total": 1000, "shipping_total": 490, "tax_total": 0, "total": 11090,
    });
    let body = serde_json::to_vec(&body).expect("serialize the order");
    let before = spot_day(client);
    let started = Instant::now();
    let (status, response) = client.send("POST", "/v1/orders", &[], Some(&body)).expect("POST /v1/orders");
    let posted = started.elapsed();
    assert_eq!(status, 201, "POST /v1/orders: {}", String::from_utf8_lossy(&response));
    let order: Value = serde_json::from_slice(&response).expect("an order");
    let net = int(&order, "net_total");
    let after = spot_day(client);
    let delta = (after.0 - before.0, after.1 - before.1, after.2 - before.2, after.3 - before.3);
    let exact = delta == (1, net, 1, 0);
    let mut line = String::new();
    write!(
        line,
        "spot check: POST /v1/orders (external_id analytics-bench-{stamp}, a new customer, placed {SPOT_DAY}T12:00:00Z, \
         {CURRENCY}, net {}) -> 201 in {}; GET sales of {SPOT_DAY} (day) just before: {} orders, net {}, {} new + {} \
         returning customers; just after: {} orders (+{}), net {} (+{}), {} new (+{}) + {} returning (+{}) -> {}",
        money(net),
        ms(posted),
        thousands(before.0),
        money(before.1),
        before.2,
        before.3,
        thousands(after.0),
        delta.0,
        money(after.1),
        money(delta.1),
        after.2,
        delta.2,
        after.3,
        delta.3,
        if exact { "EXACT (one order, its net amount, one new customer)" } else { "NOT EXACT" }
    )
    .expect("write to a String");
    line
}
