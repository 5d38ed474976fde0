//! Sends one signed webhook request (Standard Webhooks) and tells what happened. Safe by
//! default: `https` only, no redirects, no proxy from the environment, and every address
//! a name resolves to is checked at connection time (so DNS rebinding cannot reach a
//! private address), unless private addresses are allowed (development).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::events::{check_webhook_url, is_public_address};

/// How long one attempt may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a response body is read (for the error message); the rest is ignored.
const BODY_LIMIT: u64 = 4_096;
/// How much of that body is kept in `last_error`.
const ERROR_BODY_CHARS: usize = 200;

/// What one attempt gave.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub response_status: Option<u16>,
    pub latency: Duration,
    /// None on a 2xx answer.
    pub error: Option<String>,
}

/// One signed request: its URL, the `webhook-*` header values and the body.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub url: String,
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: String,
}

/// The HTTP client of the webhook worker. It owns a small runtime: the worker's thread
/// sends a round's requests at once on it and waits for them all.
pub struct Sender {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool) -> Result<Sender, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("rapport-webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        let client = builder.build().map_err(|e| format!("cannot build the webhook HTTP client: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the webhook runtime: {e}"))?;
        Ok(Sender { client, runtime, allow_private })
    }

    /// Sends every request at once; each attempt ends within TIMEOUT, answer included.
    pub fn send_all(&self, requests: &[Option<&SignedRequest>]) -> Vec<Attempt> {
        let attempts = requests.iter().map(|request| async move {
            let started = Instant::now();
            let Some(request) = request else {
                return failed_at(started, "the event or the endpoint is gone".into());
            };
            match tokio::time::timeout(TIMEOUT, self.attempt(request, started)).await {
                Ok(attempt) => attempt,
                Err(_) => failed_at(started, format!("timed out after {} s", TIMEOUT.as_secs())),
            }
        });
        self.runtime.block_on(futures_util::future::join_all(attempts))
    }

    async fn attempt(&self, request: &SignedRequest, started: Instant) -> Attempt {
        // Checked on every attempt: the setting may have changed since the URL was saved.
        if let Err(problem) = check_webhook_url(&request.url, self.allow_private) {
            return failed_at(started, format!("refused: the URL {problem}"));
        }
        let sent = self
            .client
            .post(&request.url)
            .header("content-type", "application/json")
            .header("webhook-id", &request.id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return failed_at(started, describe(&error)),
        };
        let status = response.status();
        if status.is_success() {
            // The body of a success is not read: the status is the answer.
            return Attempt { response_status: Some(status.as_u16()), latency: started.elapsed(), error: None };
        }
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() as u64 >= BODY_LIMIT {
                break;
            }
        }
        let text: String = String::from_utf8_lossy(&body).chars().take(ERROR_BODY_CHARS).collect();
        let text = text.trim();
        let error = match (status.is_redirection(), text.is_empty()) {
            (true, _) => format!("HTTP {}: redirects are not followed", status.as_u16()),
            (false, true) => format!("HTTP {}", status.as_u16()),
            (false, false) => format!("HTTP {}: {text}", status.as_u16()),
        };
        Attempt { response_status: Some(status.as_u16()), latency: started.elapsed(), error: Some(error) }
    }
}

fn failed_at(started: Instant, error: String) -> Attempt {
    Attempt { response_status: None, latency: started.elapsed(), error: Some(error) }
}

/// An error and its causes in one line ("error sending request: ...: refused: ...").
fn describe(error: &reqwest::Error) -> String {
    let mut text =
        if error.is_timeout() { format!("timed out after {} s", TIMEOUT.as_secs()) } else { error.to_string() };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = std::error::Error::source(source.unwrap());
    }
    text
}

/// Resolves names with the system resolver, then keeps only public addresses: the
/// connection is made to an address checked here, never to one resolved again later.
struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let lookup = host.clone();
            let resolved: Vec<SocketAddr> = tokio::task::spawn_blocking(move || (lookup.as_str(), 0).to_socket_addrs())
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)??
                .collect();
            let public: Vec<SocketAddr> = resolved.iter().copied().filter(|a| is_public_address(a.ip())).collect();
            if public.is_empty() {
                let found: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "refused: `{host}` resolves to {}, not a public address \
                     (RAPPORT_WEBHOOK_ALLOW_PRIVATE=true allows it, for development)",
                    if found.is_empty() { "nothing".to_string() } else { found.join(", ") }
                )
                .into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
