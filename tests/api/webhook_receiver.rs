//! A small real HTTP receiver for webhook tests: it listens on a free port, keeps every
//! request it gets, answers each with the next planned status (200 once the plan is spent),
//! and verifies signatures with the Standard Webhooks reference crate.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    /// Whether the signature verifies with `secret`, by the specification's algorithm.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) =
                (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(value))
            {
                headers.insert(name, value);
            }
        }
        standardwebhooks::Webhook::new(secret).expect("a whsec_ secret").verify(self.body.as_bytes(), &headers).is_ok()
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Statuses to answer, in order; 200 when empty.
    plan: VecDeque<u16>,
    /// Answer this status to every request (after the plan).
    always: Option<u16>,
    /// Echo the request's data in error answers (as careless receivers do).
    echo: bool,
    /// Wait this long before answering.
    delay: Option<Duration>,
}

#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Receiver { port, shared }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The next requests get these statuses, in order.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared.lock().unwrap().plan.extend(statuses);
    }

    /// Every request after the plan gets this status (None: 200).
    pub fn answer_always(&self, status: Option<u16>) {
        self.shared.lock().unwrap().always = status;
    }

    /// Every answer comes after `delay`.
    pub fn answer_after(&self, delay: Duration) {
        self.shared.lock().unwrap().delay = Some(delay);
    }

    /// Error answers carry the request's data back.
    pub fn echo_bodies_in_errors(&self) {
        self.shared.lock().unwrap().echo = true;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Waits (bounded) until `count` requests arrived.
    pub fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, shared: &Mutex<Shared>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let (status, echo, delay) = {
        let mut state = shared.lock().unwrap();
        state.received.push(Received { headers, body: body.clone() });
        let planned = state.plan.pop_front();
        (planned.or(state.always).unwrap_or(200), state.echo, state.delay)
    };
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    let reply = match (status, echo) {
        (200, _) => "ok".to_string(),
        // The event's data first, so that it fits in what rapport keeps of an answer.
        (_, true) => {
            let data = serde_json::from_str::<serde_json::Value>(&body).map(|b| b["data"].to_string());
            format!("cannot take {}", data.unwrap_or(body))
        }
        (_, false) => "receiver says no".to_string(),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()
}
