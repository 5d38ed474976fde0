//! Production faults, injected the way they happen: PostgreSQL backends terminated (what a
//! restart or a failover does), the server killed with SIGKILL mid-request and restarted,
//! commands run again and again, concurrent writers on one customer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use diesel::pg::PgConnection;
use diesel::Connection;
use rapport::auth::{JwtKeys, Scope};
use rapport::db::DatabaseTarget;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{bearer, new_database, postgres_url, Backend, TestApp, TEST_SECRET};
use crate::smtp_sink::SmtpSink;

both_backends!(
    a_killed_server_loses_no_acknowledged_order_and_doubles_none,
    concurrent_writes_to_one_customer_never_fail,
    two_instances_deliver_a_campaign_exactly_once,
    two_instances_run_an_import_exactly_once,
    two_instances_start_together_on_a_fresh_database,
);

/// Terminates every connection to the app's PostgreSQL database, as a restart does.
fn terminate_backends(app: &TestApp) -> usize {
    let DatabaseTarget::Postgres(url) = &app.state.config.database else { panic!("a PostgreSQL test") };
    let name = url::Url::parse(url).unwrap().path().trim_start_matches('/').to_string();
    let mut admin = PgConnection::establish(&postgres_url()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let terminated: Terminated = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()) AS t"
        )),
        &mut admin,
    )
    .unwrap();
    terminated.n as usize
}

async fn warm_pool(app: &TestApp, token: &str, path: &str) {
    let requests = (0..8).map(|_| TestRequest::get().uri(path).insert_header(bearer(token))).collect();
    for response in app.call_concurrently(requests).await {
        assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    }
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn terminated_backends_heal_at_once_without_a_restart() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let token = app.token("admin");
    let id = app.create_customer(json!({"email": "ana@example.com"})).await["id"].as_i64().unwrap();
    let path = format!("/v1/customers/{id}");
    warm_pool(&app, &token, &path).await;

    let terminated = terminate_backends(&app);
    assert!(terminated >= 2, "an idle pool of several connections was cut: {terminated}");
    let cut_at = Instant::now();
    let mut statuses = Vec::new();
    let mut first_ok = None;
    for _ in 0..40 {
        let response = app.get(&path, &token).await;
        if response.status.as_u16() == 503 {
            assert_eq!(response.header("retry-after"), Some("1"));
        }
        if response.status.as_u16() == 200 && first_ok.is_none() {
            first_ok = Some(cut_at.elapsed());
        }
        statuses.push(response.status.as_u16());
    }
    let failed = statuses.iter().filter(|s| **s != 200).count();
    assert!(failed <= 1, "only the request that found the first dead connection fails: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
    eprintln!("seconds from pg_terminate_backend to the first 200: {:.3}", first_ok.unwrap().as_secs_f64());

    // A transaction that finds a dead connection heals the pool the same way.
    warm_pool(&app, &token, &path).await;
    terminate_backends(&app);
    let mut created = Vec::new();
    for n in 0..10 {
        created.push(app.post("/v1/customers", &token, json!({"email": format!("c{n}@example.com")})).await.status);
    }
    assert!(created.iter().filter(|s| s.as_u16() != 201).count() <= 1, "{created:?}");
    assert_eq!(app.call(TestRequest::get().uri("/readyz")).await.status.as_u16(), 200);
}

fn order_body(n: usize) -> Value {
    json!({
        "channel": "web", "placed_at": "2026-11-20T14:03:00Z", "currency": "EUR",
        "customer": {"email": format!("buyer{}@example.com", n % 5)},
        "lines": [{"sku": "DROP-1", "name": "Drop", "quantity": 1, "unit_price": 1000}],
        "total": 1000, "marketing_consent": {"channels": ["email"], "text": "Offers by email"}
    })
}

#[actix_web::test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
async fn writers_resume_after_terminated_backends_with_every_acknowledged_order_stored() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let product = json!({"sku": "DROP-1", "name": "Drop", "product_type": "drop", "price": 1000, "currency": "EUR",
        "track_inventory": true, "stock_quantity": 1000});
    assert_eq!(app.post("/v1/products", &app.token("products:write"), product).await.status.as_u16(), 201);
    let token = app.token("orders:write");
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 12;
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let terminated = Arc::new(AtomicUsize::new(0));
    let writers = (0..WRITERS).map(|writer| {
        let (app, token, acknowledged, refused) = (&app, token.clone(), acknowledged.clone(), refused.clone());
        let terminated = terminated.clone();
        async move {
            for n in 0..PER_WRITER {
                if writer == 0 && n == PER_WRITER / 3 {
                    // The restart happens while the other writers are in flight.
                    terminated.store(terminate_backends(app), Ordering::SeqCst);
                }
                let key = format!("w{writer}-{n}");
                let body = order_body(writer * PER_WRITER + n);
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let request = TestRequest::post()
                        .uri("/v1/orders")
                        .insert_header(bearer(&token))
                        .insert_header(("Idempotency-Key", key.clone()))
                        .set_json(&body);
                    let response = app.call(request).await;
                    match response.status.as_u16() {
                        201 => {
                            acknowledged.lock().unwrap().push((key.clone(), response.body["id"].as_i64().unwrap()));
                            break;
                        }
                        409 | 503 if attempts < 50 => {
                            refused.fetch_add(1, Ordering::SeqCst);
                            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                        }
                        other => panic!("{key}: {other} {}", response.text),
                    }
                }
            }
        }
    });
    futures_util::future::join_all(writers).await;
    assert!(terminated.load(Ordering::SeqCst) >= 1, "connections were terminated mid-run");
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), WRITERS * PER_WRITER, "every writer's orders were acknowledged in the end");
    let ids: std::collections::BTreeSet<i64> = acknowledged.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), WRITERS * PER_WRITER, "one order per key");
    assert_eq!(app.count("orders").await as usize, WRITERS * PER_WRITER, "nothing doubled, nothing lost");
    let stock = app.get("/v1/products/DROP-1", &app.token("orders:read")).await.body["stock_quantity"].as_i64();
    assert_eq!(stock, Some(1000 - (WRITERS * PER_WRITER) as i64));
    eprintln!("8 writers, {} orders, {} refused attempts retried", ids.len(), refused.load(Ordering::SeqCst));
}

/// Runs a one-shot command of the binary.
fn rapport(dir: &Path, args: &[&str], url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", url)
        .env("RAPPORT_JWT_SECRET", TEST_SECRET)
        .output()
        .expect("run rapport")
}

#[test]
#[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
fn commands_exit_with_their_code_every_time_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let (_database, url) = new_database(Backend::Postgres);
    const RUNS: usize = 20;
    let mut codes = Vec::new();
    for _ in 0..RUNS {
        let output = rapport(dir.path(), &["migrate"], &url);
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations are up to date"));
        codes.push(output.status.code());
    }
    assert_eq!(codes, vec![Some(0); RUNS], "`rapport migrate` exits 0 every time");
    let seeded = rapport(dir.path(), &["seed", "--customers", "20", "--orders", "60"], &url);
    assert_eq!(seeded.status.code(), Some(0), "{}", String::from_utf8_lossy(&seeded.stderr));
    for _ in 0..3 {
        let again = rapport(dir.path(), &["seed", "--customers", "20", "--orders", "60"], &url);
        assert_eq!(again.status.code(), Some(1), "seeding a database with data is refused");
        let checked = rapport(dir.path(), &["rollups"], &url);
        assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    }
    for _ in 0..3 {
        let server = Server::start(dir.path(), &url);
        assert_eq!(server.get("/readyz").0, 200);
        assert_eq!(server.stop_gracefully(), Some(0), "serve exits 0 on SIGTERM");
    }
}

/// A `rapport serve` process on a free loopback port.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &Path, url: &str) -> Server {
        Server::start_with(dir, url, &[])
    }

    fn start_with(dir: &Path, url: &str, vars: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env!("CARGO_BIN_EXE_rapport"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .envs(vars.iter().copied())
            .env("DATABASE_URL", url)
            .env("RAPPORT_JWT_SECRET", TEST_SECRET)
            .env("RAPPORT_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rapport serve");
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.try_get("/readyz").map(|(status, _)| status) != Some(200) {
            assert!(Instant::now() < deadline, "the server did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn try_get(&self, path: &str) -> Option<(u16, String)> {
        http(self.port, "GET", path, None, None, None)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.try_get(path).expect("the server answers")
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop_gracefully(mut self) -> Option<i32> {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                return exit.code();
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection; None when the server is not there or the
/// connection broke before a whole answer.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<&Value>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(key) = key {
        request.push_str(&format!("Idempotency-Key: {key}\r\n"));
    }
    request.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().ok()))??;
    (body.len() == length).then(|| (status, body.to_string()))
}

/// Many checkouts with keys in flight, the server killed with SIGKILL in the middle and
/// started again on the same database: every retry ends in 201, one order per key, and a
/// key acknowledged before the crash replays the same order.
async fn a_killed_server_loses_no_acknowledged_order_and_doubles_none(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_database, url) = new_database(backend);
    let token = JwtKeys::new(TEST_SECRET.as_bytes()).issue("checkout", &[Scope::Admin], chrono::Duration::hours(1));
    let server = Server::start(dir.path(), &url);
    let product = json!({"sku": "DROP-1", "name": "Drop", "product_type": "drop", "price": 1000, "currency": "EUR",
        "track_inventory": true, "stock_quantity": 1000});
    assert_eq!(http(server.port, "POST", "/v1/products", Some(&token), None, Some(&product)).unwrap().0, 201);

    const KEYS: usize = 60;
    let acknowledged = Arc::new(Mutex::new(std::collections::BTreeMap::<usize, i64>::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let port = server.port;
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (acknowledged, next, token) = (acknowledged.clone(), next.clone(), token.clone());
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= KEYS {
                    return;
                }
                let answer =
                    http(port, "POST", "/v1/orders", Some(&token), Some(&format!("k{n}")), Some(&order_body(n)));
                match answer {
                    Some((201, body)) => {
                        let id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_i64().unwrap();
                        acknowledged.lock().unwrap().insert(n, id);
                    }
                    // The server is gone: the client gives up on this key for now.
                    None => return,
                    Some((status, body)) => panic!("k{n}: {status} {body}"),
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 15 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    for client in clients {
        client.join().unwrap();
    }
    let before_crash = acknowledged.lock().unwrap().clone();
    assert!(before_crash.len() >= 15 && before_crash.len() < KEYS, "killed mid-run: {}", before_crash.len());

    let server = Server::start(dir.path(), &url);
    let mut order_of_key = std::collections::BTreeMap::new();
    for n in 0..KEYS {
        let mut answer = None;
        for _ in 0..50 {
            match http(server.port, "POST", "/v1/orders", Some(&token), Some(&format!("k{n}")), Some(&order_body(n))) {
                Some((201, body)) => {
                    answer = Some(serde_json::from_str::<Value>(&body).unwrap()["id"].as_i64().unwrap());
                    break;
                }
                Some((409 | 503, _)) | None => std::thread::sleep(Duration::from_millis(100)),
                Some((status, body)) => panic!("retry of k{n}: {status} {body}"),
            }
        }
        let id = answer.unwrap_or_else(|| panic!("the retry of k{n} never succeeded"));
        if let Some(first) = before_crash.get(&n) {
            assert_eq!(*first, id, "k{n} was acknowledged before the crash and replays the same order");
        }
        order_of_key.insert(n, id);
    }
    let distinct: std::collections::BTreeSet<i64> = order_of_key.values().copied().collect();
    assert_eq!(distinct.len(), KEYS, "one order per key");
    let (status, orders) = http(server.port, "GET", "/v1/orders?limit=200", Some(&token), None, None).unwrap();
    assert_eq!(status, 200);
    let orders: Value = serde_json::from_str(&orders).unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), KEYS, "no order without its key, none doubled");
    let (_, product) = http(server.port, "GET", "/v1/products/DROP-1", Some(&token), None, None).unwrap();
    let stock = serde_json::from_str::<Value>(&product).unwrap()["stock_quantity"].as_i64();
    assert_eq!(stock, Some(1000 - KEYS as i64), "stock moved once per order");
    eprintln!(
        "{backend:?}: {KEYS} keys, {} acknowledged before SIGKILL, all {KEYS} 201 after restart",
        before_crash.len()
    );
}

/// Tags, consents, orders and a merge on the same customers at once: one lock order for
/// every write path, and a deadlock that still happens is retried, never a 500.
async fn concurrent_writes_to_one_customer_never_fail(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    for round in 0..4 {
        let email = format!("ana{round}@example.com");
        let ana = app.create_customer(json!({"email": email, "tags": ["vip"]})).await["id"].as_i64().unwrap();
        let twin = app.create_customer(json!({"phone": format!("+3361234567{round}")})).await["id"].as_i64().unwrap();
        let mut requests = Vec::new();
        for n in 0..3 {
            requests.push(
                TestRequest::delete().uri(&format!("/v1/customers/{ana}/tags/vip")).insert_header(bearer(&token)),
            );
            requests.push(
                TestRequest::post()
                    .uri(&format!("/v1/customers/{ana}/tags"))
                    .insert_header(bearer(&token))
                    .set_json(json!({"tags": [format!("t{n}"), "vip"]})),
            );
            requests.push(
                TestRequest::put()
                    .uri(&format!("/v1/customers/{ana}/consents/email"))
                    .insert_header(bearer(&token))
                    .set_json(
                        json!({"state": if n % 2 == 0 { "subscribed" } else { "unsubscribed" }, "source": "admin",
                        "consent_text": "Offers by email"}),
                    ),
            );
            let mut body = order_body(0);
            body["customer"] = json!({"id": ana});
            requests.push(
                TestRequest::post()
                    .uri("/v1/orders")
                    .insert_header(bearer(&token))
                    .insert_header(("Idempotency-Key", format!("r{round}-{n}")))
                    .set_json(body),
            );
        }
        requests.push(
            TestRequest::post()
                .uri(&format!("/v1/customers/{ana}/merge"))
                .insert_header(bearer(&token))
                .set_json(json!({"duplicate_id": twin})),
        );
        for response in app.call_concurrently(requests).await {
            let status = response.status.as_u16();
            assert!(status < 500, "round {round}: {status} {}", response.text);
        }
    }
}

/// Two `rapport serve` processes on one database, both delivering the outbox to one SMTP
/// server: a campaign of 30 mails arrives exactly once each.
async fn two_instances_deliver_a_campaign_exactly_once(backend: Backend) {
    let sink = SmtpSink::start();
    let app = TestApp::spawn(backend).await;
    let token = app.token("admin");
    for n in 0..30 {
        let id = app.create_customer(json!({"email": format!("m{n}@example.com"), "tags": ["club"]})).await["id"]
            .as_i64()
            .unwrap();
        let consent = json!({"state": "subscribed", "source": "admin", "consent_text": "News by email"});
        assert_eq!(app.put(&format!("/v1/customers/{id}/consents/email"), &token, consent).await.status.as_u16(), 200);
    }
    let campaign = json!({"name": "News", "channel": "email", "rules": {"field": "tag", "op": "eq", "value": "club"},
        "subject": "News", "content": "Hello. Unsubscribe: {{unsubscribe_url}}"});
    let id = app.post("/v1/campaigns", &token, campaign).await.body["id"].as_i64().unwrap();
    assert_eq!(app.post(&format!("/v1/campaigns/{id}/launch"), &token, json!({})).await.status.as_u16(), 200);

    let dir = tempfile::tempdir().unwrap();
    let url = app.database_url();
    let vars = [("RAPPORT_SMTP_URL", sink.url()), ("RAPPORT_PUBLIC_URL", "https://shop.example".to_string())];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = Server::start_with(dir.path(), &url, &vars);
    let second = Server::start_with(dir.path(), &url, &vars);
    let sent = app.post(&format!("/v1/campaigns/{id}/send"), &token, json!({"rate_per_minute": 6000})).await;
    assert_eq!(sent.body["queued"], 30, "{}", sent.text);

    let received = sink.wait_for(30);
    // Long enough for a second delivery round of both instances to double anything.
    std::thread::sleep(Duration::from_secs(3));
    let received = if sink.messages().len() > received.len() { sink.messages() } else { received };
    let recipients: std::collections::BTreeSet<String> =
        received.iter().filter_map(|mail| mail.lines().find(|l| l.starts_with("To: ")).map(str::to_string)).collect();
    assert_eq!((received.len(), recipients.len()), (30, 30), "each of the 30 mails exactly once");
    let messages = app.get(&format!("/v1/campaigns/{id}"), &app.token("campaigns:read")).await.body["messages"].clone();
    assert_eq!(messages, json!({"queued": 0, "sent": 30, "failed": 0}));
    drop((first, second));
}

/// Two instances reach for the same import job at once (the one that took the upload and
/// another's resumer): it runs exactly once. A job whose instance died is taken over
/// once its lease expires, and not before.
async fn two_instances_run_an_import_exactly_once(backend: Backend) {
    use rapport::services::imports::{create_job, get_job, run_job, ImportContext, ImportMode};
    let app = TestApp::spawn(backend).await;
    let rows = 1200;
    let csv: String = std::iter::once("email".to_string())
        .chain((0..rows).map(|n| format!("person{n}@example.com")))
        .collect::<Vec<_>>()
        .join("\n");
    let id =
        app.state.db.with_conn(|conn| create_job(conn, ImportMode::CreateOnly, csv.clone(), rows, "test")).unwrap();
    let config = &app.state.config;
    let open =
        || rapport::db::open(&config.database, 4, config.db_acquire_timeout, config.db_startup_timeout, false).unwrap();
    let instances: Vec<ImportContext> = (0..2)
        .map(|_| ImportContext { database: open(), keys: app.state.keys.clone(), default_country: None })
        .collect();
    let runs: Vec<_> = instances
        .iter()
        .cloned()
        .map(|context| std::thread::spawn(move || run_job(&context, id).expect("the import runs")))
        .collect();
    let ran: Vec<bool> = runs.into_iter().map(|run| run.join().unwrap()).collect();
    assert_eq!(ran.iter().filter(|r| **r).count(), 1, "exactly one instance ran it: {ran:?}");
    let job = app.state.db.with_conn(|conn| get_job(conn, id)).unwrap();
    assert_eq!((job.status.as_str(), job.created, job.rejected), ("completed", rows, 0));
    assert_eq!(app.count("customers").await, rows);

    // An instance died holding a job: nobody else runs it until the lease expires.
    let csv = "email\nlate@example.com\n".to_string();
    let id = app.state.db.with_conn(|conn| create_job(conn, ImportMode::CreateOnly, csv.clone(), 1, "test")).unwrap();
    let hold = |until: &str| {
        let sql = format!(
            "INSERT INTO background_leases (name, owner, lease_until) VALUES ('import:{id}', 'dead', {until}) \
             ON CONFLICT (name) DO UPDATE SET lease_until = excluded.lease_until"
        );
        app.state.db.with_conn(move |conn| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), conn)?)).unwrap();
    };
    hold("'2999-01-01 00:00:00'");
    assert!(!run_job(&instances[0], id).unwrap(), "a live lease keeps the job with its holder");
    hold("'2000-01-01 00:00:00'");
    assert!(run_job(&instances[1], id).unwrap(), "an expired lease is taken over");
    let job = app.state.db.with_conn(|conn| get_job(conn, id)).unwrap();
    assert_eq!((job.status.as_str(), job.created), ("completed", 1));
}

/// Two instances started at the same moment on an empty database (after an upgrade, or a
/// deployment that starts two): migrations and the rollups are applied once, both serve.
async fn two_instances_start_together_on_a_fresh_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _cleanup) = match backend {
        Backend::Sqlite => (format!("sqlite://{}", dir.path().join("fresh.db").display()), None),
        Backend::Postgres => {
            let name = format!("rapport_test_{}_fresh{}", chrono::Utc::now().timestamp(), std::process::id());
            let mut admin = PgConnection::establish(&postgres_url()).unwrap();
            diesel::RunQueryDsl::execute(diesel::sql_query(format!("CREATE DATABASE \"{name}\"")), &mut admin).unwrap();
            let mut url = url::Url::parse(&postgres_url()).unwrap();
            url.set_path(&format!("/{name}"));
            (url.to_string(), Some(DropDatabase(name)))
        }
    };
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let (dir, url) = (dir.path().to_path_buf(), url.clone());
            std::thread::spawn(move || Server::start(&dir, &url))
        })
        .collect();
    let servers: Vec<Server> = starting.into_iter().map(|s| s.join().expect("both instances start")).collect();
    let token = JwtKeys::new(TEST_SECRET.as_bytes()).issue("ops", &[Scope::Admin], chrono::Duration::hours(1));
    for server in &servers {
        let (status, body) = http(server.port, "GET", "/v1/customers", Some(&token), None, None).unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&postgres_url()) {
            let _ = diesel::RunQueryDsl::execute(
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.0)),
                &mut admin,
            );
        }
    }
}
