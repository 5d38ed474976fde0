//! Test harness: every test gets its own database (a fresh SQLite file, or a PostgreSQL
//! database cloned from a migrated template) and drives the real app in-process.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use actix_service::boxed::{self, BoxService};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderMap, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use rapport::auth::{JwtKeys, Scope};
use rapport::config::Config;
use rapport::db::{self, DatabaseTarget, DbConn};
use rapport::state::AppState;
use serde_json::Value;

pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares each listed `async fn name(backend: Backend)` as two tests:
/// `name::sqlite` and `name::postgres` (reported as ignored when TEST_DATABASE_URL was
/// unset at build time; see build.rs).
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[actix_web::test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// `TEST_DATABASE_URL`, or None when it is unset (the PostgreSQL tests are then built as
/// ignored, see build.rs). Under CI it must be set: the run fails rather than skip.
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.trim().is_empty());
    if url.is_none() && std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but TEST_DATABASE_URL is not: the PostgreSQL half of the suite cannot run");
    }
    url
}

/// The PostgreSQL admin URL for a PostgreSQL-only test (built as ignored without one).
pub fn postgres_url() -> String {
    postgres_admin_url().expect("TEST_DATABASE_URL (the PostgreSQL tests are ignored when it is unset at build time)")
}

/// A database that exists for one test and is removed after it.
pub enum TestDatabase {
    /// Holds the temporary directory (and so the file) alive for the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

fn random_suffix() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// A migrated template database, named after the migrations' content so that a changed
/// migration makes a new one. Created once, under an advisory lock (tests run in parallel
/// threads or processes).
fn postgres_template(admin_url: &str) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
            let mut entries: Vec<_> = walk(std::path::Path::new(dir));
            entries.sort();
            for path in entries {
                std::hash::Hash::hash(&path, &mut hasher);
                std::hash::Hash::hash(&std::fs::read(&path).unwrap_or_default(), &mut hasher);
            }
            let name = format!("rapport_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
            let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
            admin.batch_execute("SELECT pg_advisory_lock(7263)").unwrap();
            let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
            )))
            .get_result(&mut admin)
            .unwrap();
            drop_stale_test_databases(&mut admin);
            if !exists {
                admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
                let conn = PgConnection::establish(&with_database(admin_url, &name)).unwrap();
                db::run_migrations(&mut DbConn::Pg(conn)).expect("migrate the template");
            }
            admin.batch_execute("SELECT pg_advisory_unlock(7263)").unwrap();
            name
        })
        .clone()
}

/// Test databases are named `rapport_test_<unix seconds>_<random>`; ones older than an
/// hour were left behind by a killed run.
fn drop_stale_test_databases(admin: &mut PgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Name> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'rapport_test_%'")
        .load(admin)
        .unwrap_or_default();
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    for Name { datname } in names {
        let created = datname.split('_').nth(2).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
        if created < cutoff {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"));
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn create_postgres_database(admin_url: &str) -> (TestDatabase, String) {
    let template = postgres_template(admin_url);
    let name = format!("rapport_test_{}_{}", chrono::Utc::now().timestamp(), random_suffix());
    let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
    // Cloning fails while another session is connected to the template; retry briefly.
    let mut attempts = 0;
    loop {
        match admin.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")) {
            Ok(()) => break,
            Err(error) if attempts < 50 => {
                attempts += 1;
                let _ = error;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("cannot create test database: {error}"),
        }
    }
    let url = with_database(admin_url, &name);
    (TestDatabase::Postgres { admin_url: admin_url.to_string(), name }, url)
}

/// A new database for `backend`, and the DATABASE_URL that reaches it.
pub fn new_database(backend: Backend) -> (TestDatabase, String) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("rapport.db").display());
            (TestDatabase::Sqlite(dir), url)
        }
        Backend::Postgres => create_postgres_database(&postgres_url()),
    }
}

/// The configuration of a test app on `url`: the test secret and `vars`.
fn test_config(url: String, vars: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> =
        HashMap::from([("DATABASE_URL".to_string(), url), ("RAPPORT_JWT_SECRET".to_string(), TEST_SECRET.to_string())]);
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|name| env.get(name).cloned()).expect("test config")
}

type AppService = BoxService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

pub struct TestApp {
    service: AppService,
    pub state: AppState,
    _database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[]).await
    }

    /// With extra environment variables, e.g. `("RAPPORT_DEFAULT_COUNTRY", "FR")`.
    pub async fn spawn_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
        let (database, url) = new_database(backend);
        TestApp::spawn_config(test_config(url, vars), database).await
    }

    pub async fn spawn_config(config: Config, database: TestDatabase) -> TestApp {
        let db =
            db::open(&config.database, config.db_pool_size, config.db_acquire_timeout, config.db_startup_timeout, true)
                .expect("open test database");
        rapport::services::rollups::ensure(&db, config.timezone).expect("build the sales rollups");
        let secret = config.jwt_secret.load().expect("token secret");
        let jwt = JwtKeys::with_previous(&secret, &config.jwt_previous_secrets);
        let keys = rapport::services::keys::ensure(&db, &secret).expect("data keys");
        let state = AppState::new(db, jwt, keys, config);
        let service = actix_web::test::init_service(rapport::build_app(state.clone())).await;
        TestApp { service: boxed::service(service), state, _database: database }
    }

    /// The same database served again, as after a restart, with `vars` in the environment
    /// (e.g. a rotated `RAPPORT_JWT_SECRET`; the test secret unless given).
    pub async fn restart_with(self, vars: &[(&str, &str)]) -> TestApp {
        let url = self.database_url();
        let TestApp { service, state, _database: database } = self;
        drop((service, state));
        TestApp::spawn_config(test_config(url, vars), database).await
    }

    /// The DATABASE_URL of this app's database (for another instance or process on it).
    pub fn database_url(&self) -> String {
        match &self.state.config.database {
            DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseTarget::Postgres(url) => url.clone(),
        }
    }

    /// A valid token with these space-separated scopes.
    pub fn token(&self, scopes: &str) -> String {
        let scopes: Vec<Scope> = scopes.split_whitespace().map(|s| Scope::parse(s).expect("known scope")).collect();
        self.state.jwt.issue("test-client", &scopes, chrono::Duration::hours(1))
    }

    pub async fn call(&self, request: TestRequest) -> TestResponse {
        let response = actix_web::test::call_service(&self.service, request.to_request()).await;
        TestResponse::read(response).await
    }

    /// Sends all requests at once and waits for every response.
    pub async fn call_concurrently(&self, requests: Vec<TestRequest>) -> Vec<TestResponse> {
        use actix_web::dev::Service;
        let futures = requests.into_iter().map(|r| self.service.call(r.to_request()));
        let mut out = Vec::new();
        for result in futures_util::future::join_all(futures).await {
            out.push(TestResponse::read(result.expect("service error")).await);
        }
        out
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.call(TestRequest::get().uri(path).insert_header(bearer(token))).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call(TestRequest::post().uri(path).insert_header(bearer(token)).set_json(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call(TestRequest::put().uri(path).insert_header(bearer(token)).set_json(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.call(
            TestRequest::patch()
                .uri(path)
                .insert_header(bearer(token))
                .insert_header((CONTENT_TYPE, "application/merge-patch+json"))
                .set_payload(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.call(TestRequest::delete().uri(path).insert_header(bearer(token))).await
    }

    /// Creates a customer with a full-access token and returns its JSON.
    pub async fn create_customer(&self, body: Value) -> Value {
        let response = self.post("/v1/customers", &self.token("admin"), body).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.body
    }

    /// A count straight from the database, for "nothing was written" checks.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        self.state
            .db
            .run(move |conn| {
                #[derive(diesel::QueryableByName)]
                struct Count {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                use diesel::RunQueryDsl;
                Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
            })
            .await
            .expect("count")
    }
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    async fn read(response: ServiceResponse<BoxBody>) -> TestResponse {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = actix_web::body::to_bytes(response.into_body()).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse { status, headers, body, text }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status whose request_id matches the header.
    pub fn assert_problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.text);
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], "about:blank");
        assert!(self.body["title"].is_string() && self.body["detail"].is_string(), "{}", self.text);
        let request_id = self.header("x-request-id").expect("X-Request-Id header");
        assert_eq!(self.body["request_id"], request_id);
        &self.body
    }

    /// Asserts a 422 and returns the fields named in `errors`.
    pub fn invalid_fields(&self) -> Vec<String> {
        self.assert_problem(422);
        self.body["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}
