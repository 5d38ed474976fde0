//! What the HTTP benchmarks share: the application state, the server on a free port in
//! its own thread, and a small keep-alive HTTP/1.1 client. Each benchmark includes it with
//! `#[path = "support/mod.rs"] mod support;`.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;

use actix_web::dev::ServerHandle;
use actix_web::HttpServer;
use rapport::auth::JwtKeys;
use rapport::config::Config;
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
    AppState::new(db, JwtKeys::new(JWT_SECRET.as_bytes()), config)
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
