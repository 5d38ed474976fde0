//! What the HTTP benchmarks share: the application state, the server on a free port in
//! its own thread, and a small keep-alive HTTP/1.1 client. Each benchmark includes it with
//! `#[path = "support/mod.rs"] mod support;`.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use rapport::auth::JwtKeys;
use rapport::config::Config;
use rapport::db::DbConn;
use rapport::state::AppState;

/// The token secret of every benchmark server.
pub const JWT_SECRET: &str = "bench-secret-0123456789abcdef0123456789abcdef";

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
            BenchDatabase::Postgres { admin_url, name } => {
                let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
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
