//! Fresh databases for unit tests that touch SQL: a SQLite file in a temporary directory,
//! or a PostgreSQL database (from `TEST_DATABASE_URL`) cloned from a migrated template;
//! either is migrated and removed when the test ends.
//!
//! `db_tests!` declares each listed `fn name(db: &mut TestDb)` as two tests,
//! `name::sqlite` and `name::postgres`; the PostgreSQL one is reported as ignored when
//! `TEST_DATABASE_URL` was unset at build time (see build.rs).

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

use super::{run_migrations, Backend, DatabaseTarget, DbConn};

/// A migrated database of its own and a connection to it.
pub struct TestDb {
    /// Declared first: closed before the database is dropped.
    pub conn: DbConn,
    target: DatabaseTarget,
    _guard: Guard,
}

enum Guard {
    /// Keeps the directory (and so the file) for the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Postgres { admin_url, name } = self {
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

impl Deref for TestDb {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl DerefMut for TestDb {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let (target, guard) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                (DatabaseTarget::Sqlite(dir.path().join("rapport.db")), Guard::Sqlite(dir))
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL")
                    .ok()
                    .filter(|url| !url.trim().is_empty())
                    .expect("TEST_DATABASE_URL (PostgreSQL tests are ignored when it is unset at build time)");
                let name = clone_template(&admin_url);
                (DatabaseTarget::Postgres(with_database(&admin_url, &name)), Guard::Postgres { admin_url, name })
            }
        };
        let mut conn = target.establish().expect("connect to the test database");
        if backend == Backend::Sqlite {
            run_migrations(&mut conn).expect("migrate the test database");
        }
        TestDb { conn, target, _guard: guard }
    }

    /// Another connection to the same database.
    pub fn connect(&self) -> DbConn {
        self.target.establish().expect("connect to the test database")
    }
}

fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

/// A new database named like the API tests' ones (`rapport_test_<unix seconds>_<random>`,
/// so a killed run's leftovers are dropped by either), cloned from the template.
fn clone_template(admin_url: &str) -> String {
    use rand::Rng;
    let template = template(admin_url);
    let name = format!("rapport_test_{}_{:016x}", chrono::Utc::now().timestamp(), rand::rng().random::<u64>());
    let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
    // Cloning fails while another session is connected to the template; retry briefly.
    let mut attempts = 0;
    loop {
        match admin.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")) {
            Ok(()) => return name,
            Err(_) if attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => panic!("cannot create a test database: {error}"),
        }
    }
}

/// A migrated template named after the migrations' content (a changed migration makes a
/// new one), created once under an advisory lock: tests run in parallel.
fn template(admin_url: &str) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            let mut files = Vec::new();
            walk(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")), &mut files);
            files.sort();
            for path in files {
                std::hash::Hash::hash(&path, &mut hasher);
                std::hash::Hash::hash(&std::fs::read(&path).unwrap_or_default(), &mut hasher);
            }
            let name = format!("rapport_unit_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
            let mut admin = PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
            admin.batch_execute("SELECT pg_advisory_lock(7264)").expect("take the template lock");
            let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
            )))
            .get_result(&mut admin)
            .expect("look for the template");
            if !exists {
                admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).expect("create the template");
                let conn = PgConnection::establish(&with_database(admin_url, &name)).expect("connect to the template");
                run_migrations(&mut DbConn::Pg(conn)).expect("migrate the template");
            }
            admin.batch_execute("SELECT pg_advisory_unlock(7264)").expect("release the template lock");
            name
        })
        .clone()
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Declares each `fn name(db: &mut TestDb)` as `name::sqlite` and `name::postgres`.
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&mut $crate::db::testing::TestDb::new($crate::db::Backend::Sqlite))
            }

            #[test]
            #[cfg_attr(not(postgres_tests), ignore = "TEST_DATABASE_URL is not set")]
            fn postgres() {
                super::$name(&mut $crate::db::testing::TestDb::new($crate::db::Backend::Postgres))
            }
        }
    )*};
}
pub(crate) use db_tests;

impl TestDb {
    /// Runs statements written for both backends (fixtures).
    pub fn exec(&mut self, sql: &str) {
        self.conn.batch_execute(sql).unwrap_or_else(|error| panic!("{error}: {sql}"));
    }
}
