//! What the benchmarks share: the application state, the server on a free port in its own
//! thread, a token, a small keep-alive HTTP/1.1 client, connections opened like the app's
//! pool opens them, the databases a run writes to, the environment knobs, latency
//! percentiles, the concurrent load loop, and the fake customers' names; in `checkout`, the
//! order the order benchmarks send. Each benchmark includes it with
//! `#[path = "support/mod.rs"] mod support;`.
#![allow(dead_code)]

pub mod checkout;
pub mod dataset;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use rapport::auth::{JwtKeys, Scope};
use rapport::config::Config;
use rapport::db::{DatabaseTarget, DbConn};
use rapport::state::AppState;

/// The token secret of every benchmark server.
pub const JWT_SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";
/// The subject of every benchmark token: the actor the API records on what it writes.
pub const ACTOR: &str = "bench";
/// The same pragmas the app's pool sets on every SQLite connection (src/db/conn.rs): its
/// connections leave checkpoints to the pool's background checkpointer, which runs while
/// the benchmark server is up.
pub const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                                  PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                                  PRAGMA wal_autocheckpoint = 10000;";
/// Seconds per measured phase without BENCH_SECONDS.
const DEFAULT_PHASE_SECONDS: u64 = 5;

/// The backend type of `DbConn`, for boxed `sql_query` statements.
pub type DbBackend = <DbConn as Connection>::Backend;

/// The app state exactly as `rapport serve` builds it, on a database migrated here.
pub fn app_state(database_url: &str) -> AppState {
    let vars = [("DATABASE_URL", database_url), ("RAPPORT_JWT_SECRET", JWT_SECRET)];
    let config = Config::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, v)| v.to_string()))
        .expect("benchmark config");
    let db = rapport::db::open(
        &config.database,
        config.db_pool_size,
        config.db_acquire_timeout,
        config.db_startup_timeout,
        true,
    )
    .expect("open and migrate the benchmark database");
    rapport::services::rollups::ensure(&db, config.timezone).expect("build the sales rollups");
    let keys = rapport::services::keys::ensure(&db, JWT_SECRET.as_bytes()).expect("load the data keys");
    AppState::new(db, JwtKeys::new(JWT_SECRET.as_bytes()), keys, config)
}

/// A token for `ACTOR` with `scopes`, valid for an hour.
pub fn token(state: &AppState, scopes: &[Scope]) -> String {
    state.jwt.issue(ACTOR, scopes, chrono::Duration::hours(1))
}

/// One connection, opened and set up the way the app's pool opens one.
pub fn connect(target: &DatabaseTarget) -> DbConn {
    match target {
        DatabaseTarget::Postgres(url) => DbConn::Pg(PgConnection::establish(url).expect("connect to PostgreSQL")),
        DatabaseTarget::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy()).expect("open the SQLite file");
            conn.batch_execute(SQLITE_PRAGMAS).expect("SQLite pragmas");
            DbConn::Sqlite(conn)
        }
    }
}

pub struct RunningServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: thread::JoinHandle<io::Result<()>>,
}

impl RunningServer {
    /// `HttpServer` on 127.0.0.1:0 in its own thread with its own actix System.
    /// No tracing subscriber is installed, so the access log costs nothing.
    pub fn start(state: AppState, workers: usize) -> RunningServer {
        let (started, on_start) = mpsc::channel();
        let thread = thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || rapport::build_app(state.clone()))
                    .workers(workers)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .bind(("127.0.0.1", 0))?;
                let addr = server.addrs()[0];
                let server = server.run();
                started.send((addr, server.handle())).expect("the benchmark waits for the server");
                server.await
            })
        });
        let (addr, handle) = on_start.recv().expect("the server thread failed to start");
        RunningServer { addr, handle, thread }
    }

    pub fn stop(self) {
        // `stop` only sends a message to the server's System; any runtime can await it.
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        self.thread.join().expect("server thread panicked").expect("server error");
    }
}

/// A minimal HTTP/1.1 client over one keep-alive connection. It handles what rapport
/// sends (Content-Length bodies) and refuses anything else loudly.
pub struct HttpClient {
    connection: BufReader<TcpStream>,
    authorization: String,
    request: Vec<u8>,
}

impl HttpClient {
    pub fn connect(addr: SocketAddr, token: &str) -> HttpClient {
        let stream = TcpStream::connect(addr).expect("connect to the benchmark server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        HttpClient {
            connection: BufReader::new(stream),
            authorization: format!("Bearer {token}"),
            request: Vec::with_capacity(2048),
        }
    }

    /// Sends one request and returns (status, body).
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        json_body: Option<&[u8]>,
    ) -> io::Result<(u16, Vec<u8>)> {
        self.request.clear();
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\n",
            self.authorization
        )?;
        for (name, value) in headers {
            write!(self.request, "{name}: {value}\r\n")?;
        }
        if let Some(body) = json_body {
            write!(self.request, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len())?;
        }
        self.request.extend_from_slice(b"\r\n");
        if let Some(body) = json_body {
            self.request.extend_from_slice(body);
        }
        self.connection.get_mut().write_all(&self.request)?;
        self.read_response()
    }

    fn read_response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let mut line = String::new();
        self.connection.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {line:?}")))?;
        let mut content_length = None;
        loop {
            line.clear();
            if self.connection.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") || name.eq_ignore_ascii_case("connection") {
                // Chunked bodies or a closing connection would make the figures lie.
                panic!("this benchmark client does not handle `{header}`");
            }
        }
        let mut body = vec![0; content_length.expect("a Content-Length header")];
        self.connection.read_exact(&mut body)?;
        Ok((status, body))
    }
}

// ---------------------------------------------------------------------------------------
// A benchmark database kept between runs: a SQLite file, or a PostgreSQL database on the
// TEST_DATABASE_URL server.

/// Where a benchmark keeps its dataset.
pub enum BenchDatabase {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl BenchDatabase {
    pub fn label(&self) -> &'static str {
        match self {
            BenchDatabase::Sqlite(_) => "sqlite",
            BenchDatabase::Postgres { .. } => "postgres",
        }
    }

    pub fn url(&self) -> String {
        match self {
            BenchDatabase::Sqlite(path) => format!("sqlite://{}", path.display()),
            BenchDatabase::Postgres { admin_url, name } => database_url(admin_url, name),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BenchDatabase::Sqlite(path) => format!("file {}", path.display()),
            BenchDatabase::Postgres { name, .. } => format!("database {name}"),
        }
    }

    /// Creates the PostgreSQL database when it is missing (the SQLite file is created on open).
    pub fn create_if_missing(&self) {
        if let BenchDatabase::Postgres { admin_url, name } = self {
            let mut admin = DbConn::Pg(PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL"));
            let exists = scalar(
                &mut admin,
                &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM pg_database WHERE datname = '{name}'"),
            );
            if exists == 0 {
                admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create the benchmark database");
            }
        }
    }

    /// An empty database (dropping what was there), ready for the migrations.
    pub fn recreate(&self) {
        match self {
            BenchDatabase::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let file = PathBuf::from(format!("{}{suffix}", path.display()));
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => panic!("remove {}: {e}", file.display()),
                    }
                }
            }
            BenchDatabase::Postgres { admin_url, name } => {
                let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
                // Two statements apart: neither may run inside a transaction block.
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .expect("drop the previous benchmark database");
                admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create the benchmark database");
            }
        }
    }

    pub fn size_bytes(&self, conn: &mut DbConn) -> i64 {
        match self {
            BenchDatabase::Sqlite(path) => ["", "-wal"]
                .iter()
                .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
                .map(|m| m.len() as i64)
                .sum(),
            BenchDatabase::Postgres { .. } => scalar(conn, "SELECT pg_database_size(current_database()) AS n"),
        }
    }
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The `n` column of a one-row query.
pub fn scalar(conn: &mut DbConn, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Number>(conn).unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

/// `admin_url` (the TEST_DATABASE_URL server) with the database `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

// ---------------------------------------------------------------------------------------
// Fresh databases for one run

/// Runs `bench` with the backend's name and a database URL: on a SQLite file in a temp
/// dir, then on a scratch PostgreSQL database when TEST_DATABASE_URL is set.
pub fn on_each_backend(mut bench: impl FnMut(&'static str, &str)) {
    let sqlite_dir = tempfile::tempdir().expect("create a temp dir");
    let sqlite_url = format!("sqlite://{}", sqlite_dir.path().join("rapport.db").display());
    bench("sqlite", &sqlite_url);

    match std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.trim().is_empty()) {
        Some(admin_url) => {
            let database = ScratchPostgres::create(&admin_url);
            bench("postgres", &database.url);
        }
        None => println!("postgres SKIPPED: TEST_DATABASE_URL is not set (SQLite figures only)."),
    }
}

/// `rapport_bench_<random>` on the TEST_DATABASE_URL server, dropped at the end (also
/// when the benchmark panics).
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchPostgres {
    pub fn create(admin_url: &str) -> ScratchPostgres {
        use rand::Rng;
        let name = format!("rapport_bench_{:016x}", rand::rng().random::<u64>());
        let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create the benchmark database");
        let url = database_url(admin_url, &name);
        ScratchPostgres { admin_url: admin_url.to_string(), name, url }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url).map_err(|e| e.to_string()).and_then(|mut admin| {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
                .map_err(|e| e.to_string())
        });
        match dropped {
            Ok(()) => println!("dropped database {}", self.name),
            Err(error) => eprintln!("could not drop database {}: {error}", self.name),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Environment knobs

/// The whole number >= 1 in the environment variable `name`, or `default` without it.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => {
            text.trim().parse::<u64>().ok().filter(|n| *n > 0).unwrap_or_else(|| panic!("{name}: a whole number >= 1"))
        }
        Err(_) => default,
    }
}

/// How long each measured phase runs: BENCH_SECONDS, 5 s by default.
pub fn phase_duration() -> Duration {
    Duration::from_secs(env_number("BENCH_SECONDS", DEFAULT_PHASE_SECONDS))
}

// ---------------------------------------------------------------------------------------
// Measuring

/// The latencies of one measured phase (or series of runs), sorted, and how long the
/// phase took.
pub struct Measurement {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Measurement {
    pub fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Measurement {
        assert!(!latencies.is_empty(), "a phase completed no operation");
        latencies.sort_unstable();
        Measurement { latencies, elapsed }
    }

    pub fn operations(&self) -> usize {
        self.latencies.len()
    }

    pub fn per_second(&self) -> f64 {
        self.operations() as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at rank `len * p / 100` from 0 (the upper one of the two middle
    /// latencies for p = 50 and an even count; the largest for p = 100).
    pub fn percentile(&self, p: usize) -> Duration {
        self.latencies[(self.latencies.len() * p / 100).min(self.latencies.len() - 1)]
    }

    /// The nearest-rank percentile: the smallest latency with at least p% of the
    /// latencies at or below it.
    pub fn nearest_rank(&self, p: usize) -> Duration {
        self.latencies[(p * self.latencies.len()).div_ceil(100).max(1) - 1]
    }

    pub fn max(&self) -> Duration {
        self.latencies[self.latencies.len() - 1]
    }

    /// `  1234 req/s  p50  1.23 ms  p99  12.3 ms`: throughput and latency of a phase.
    pub fn summary(&self, unit: &str) -> String {
        format!(
            "{:>6.0} {unit}  p50 {:>5} ms  p99 {:>5} ms",
            self.per_second(),
            ms(self.percentile(50)),
            ms(self.percentile(99))
        )
    }
}

/// Milliseconds with two decimals under 10 ms, one above: `1.23`, `12.3`.
pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

/// `warm_ups` untimed calls, then `runs` timed ones, one after the other; with a
/// `budget` of (time, min_runs), fewer once the timed calls have taken that time and at
/// least min_runs (at most `runs`) ran. Returns what each timed call returned.
pub fn measure<T>(
    warm_ups: usize,
    runs: usize,
    budget: Option<(Duration, usize)>,
    mut operation: impl FnMut() -> T,
) -> (Vec<T>, Measurement) {
    for _ in 0..warm_ups {
        operation();
    }
    let mut outputs = Vec::with_capacity(runs);
    let mut latencies = Vec::with_capacity(runs);
    let started = Instant::now();
    while latencies.len() < runs.max(1) {
        let at = Instant::now();
        outputs.push(operation());
        latencies.push(at.elapsed());
        if budget.is_some_and(|(time, min_runs)| started.elapsed() >= time && latencies.len() >= min_runs.min(runs)) {
            break;
        }
    }
    (outputs, Measurement::from_latencies(latencies, started.elapsed()))
}

/// When a phase ends.
pub enum Stop {
    After(Duration),
    PerClient(usize),
}

pub struct PhaseResult<T> {
    pub measurement: Measurement,
    /// What each operation returned, in no particular order.
    pub outputs: Vec<T>,
}

/// Runs `operation` in a loop on `clients` threads until `stop`. Each thread first gets
/// its own context (a connection) from `connect`, before the clock starts. The operation
/// gets the thread's context, its number and the operation's sequence number in it.
pub fn run_phase<C: Send, T: Send>(
    clients: usize,
    stop: Stop,
    connect: impl Fn(usize) -> C,
    operation: impl Fn(&mut C, usize, usize) -> T + Sync,
) -> PhaseResult<T> {
    let contexts: Vec<C> = (0..clients).map(&connect).collect();
    let operation = &operation;
    let started = Instant::now();
    let (deadline, per_client) = match stop {
        Stop::After(duration) => (Some(started + duration), usize::MAX),
        Stop::PerClient(count) => (None, count),
    };
    let per_thread: Vec<(Vec<Duration>, Vec<T>)> = thread::scope(|scope| {
        let threads: Vec<_> = contexts
            .into_iter()
            .enumerate()
            .map(|(worker, mut context)| {
                scope.spawn(move || {
                    let (mut latencies, mut outputs) = (Vec::new(), Vec::new());
                    let mut seq = 0;
                    while seq < per_client && deadline.is_none_or(|deadline| Instant::now() < deadline) {
                        let sent = Instant::now();
                        outputs.push(operation(&mut context, worker, seq));
                        latencies.push(sent.elapsed());
                        seq += 1;
                    }
                    (latencies, outputs)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("a benchmark thread panicked")).collect()
    });
    let elapsed = started.elapsed();
    let (latencies, outputs): (Vec<_>, Vec<_>) = per_thread.into_iter().unzip();
    PhaseResult {
        measurement: Measurement::from_latencies(latencies.concat(), elapsed),
        outputs: outputs.into_iter().flatten().collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Raw SQL

/// `($1, $2, $3), ($4, $5, $6), ...` for `rows` rows of `columns` values.
pub fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns diesel's `customers::all_columns` names, for RETURNING and SELECT.
#[allow(unused_macros)]
macro_rules! customer_columns {
    () => {
        "id, kind, first_name, last_name, company_name, email, phone, birthday, gender, address_line1, \
         address_line2, city, region, postal_code, country, preferred_language, source, attributes, notes, \
         name_key, company_key, created_at, updated_at, erased_at"
    };
}
#[allow(unused_imports)]
pub(crate) use customer_columns;

// ---------------------------------------------------------------------------------------
// Realistic customers

pub const FIRST_NAMES: [&str; 10] =
    ["Ana", "Louis", "Chloe", "Hugo", "Lea", "Jules", "Ines", "Gabriel", "Camille", "Nathan"];
pub const LAST_NAMES: [&str; 10] =
    ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"];
pub const CITIES: [(&str, &str); 6] = [
    ("Lyon", "69003"),
    ("Paris", "75011"),
    ("Marseille", "13001"),
    ("Nantes", "44000"),
    ("Lille", "59000"),
    ("Bordeaux", "33000"),
];
pub const TAGS: [&str; 6] = ["newsletter", "vip", "b2c", "loyalty", "wholesale", "events"];

/// Customer `n`'s first and last names: 100 combinations.
pub fn names(n: usize) -> (&'static str, &'static str) {
    (FIRST_NAMES[n % 10], LAST_NAMES[n / 10 % 10])
}
