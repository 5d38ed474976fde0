//! The database going away and coming back while serving (PostgreSQL: a proxy in front
//! of the real server is cut and restored).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::test::TestRequest;
use rapport::config::Config;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{new_database, Backend, TestApp, TEST_SECRET};

/// A TCP proxy to PostgreSQL that can drop every connection and refuse new ones.
struct Outage {
    up: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Outage {
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.live.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Runs on its own thread and runtime: the app under test blocks its own thread while
/// it connects, and the proxy must keep accepting meanwhile.
fn start_proxy(upstream: String) -> (u16, Outage) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let live = Arc::new(Mutex::new(Vec::new()));
    let (up_flag, live_tasks) = (up.clone(), live.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut client, _)) = listener.accept().await else { break };
                if !up_flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                live_tasks.lock().unwrap().push(task);
            }
        });
    });
    (port, Outage { up, live })
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn postgres_outage_is_503_then_recovers_without_restart() {
    let (database, direct_url) = new_database(Backend::Postgres);
    let parsed = url::Url::parse(&direct_url).unwrap();
    let upstream = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432));
    let (port, outage) = start_proxy(upstream);
    let mut proxied = parsed.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(port)).unwrap();
    let proxied = proxied.to_string();

    let mut config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(proxied.clone()),
        "RAPPORT_JWT_SECRET" => Some(TEST_SECRET.to_string()),
        _ => None,
    })
    .unwrap();
    config.db_acquire_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_config(config, database).await;
    let token = app.token("admin");
    assert_eq!(app.post("/v1/customers", &token, json!({"email": "before@example.com"})).await.status.as_u16(), 201);

    outage.cut();
    let down = app.get("/v1/customers", &token).await;
    down.assert_problem(503);
    assert_eq!(down.header("retry-after"), Some("1"));
    app.call(TestRequest::get().uri("/readyz")).await.assert_problem(503);
    let write = app.post("/v1/customers", &token, json!({"email": "during@example.com"})).await;
    write.assert_problem(503);

    outage.restore();
    let mut recovered = None;
    for _ in 0..20 {
        let response = app.get("/v1/customers", &token).await;
        if response.status.as_u16() == 200 {
            recovered = Some(response);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    let recovered = recovered.expect("serves again once the database is back, without a restart");
    assert_eq!(recovered.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.call(TestRequest::get().uri("/readyz")).await.status.as_u16(), 200);
}
