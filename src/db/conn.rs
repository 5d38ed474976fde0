use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::error::AppError;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// busy_timeout first: without it, concurrent writers fail at once with "database is locked".
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DbConn {
    pub fn backend(&self) -> Backend {
        match self {
            DbConn::Pg(_) => Backend::Postgres,
            DbConn::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// A transaction that writes. On SQLite it starts with `BEGIN IMMEDIATE`, so a
    /// transaction that reads before it writes waits for the write lock (busy_timeout)
    /// instead of failing with SQLITE_BUSY when another writer got there first.
    pub fn write_transaction<T, E, F>(&mut self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        if let DbConn::Sqlite(inner) = self {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            let outcome = work(self);
            let DbConn::Sqlite(inner) = self else { unreachable!("the connection kind cannot change") };
            return match outcome {
                Ok(value) => match AnsiTransactionManager::commit_transaction(inner) {
                    Ok(()) => Ok(value),
                    Err(commit_error) => {
                        let _ = AnsiTransactionManager::rollback_transaction(inner);
                        Err(commit_error.into())
                    }
                },
                Err(error) => {
                    let _ = AnsiTransactionManager::rollback_transaction(inner);
                    Err(error)
                }
            };
        }
        self.transaction(work)
    }
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseTarget {
    pub fn backend(&self) -> Backend {
        match self {
            DatabaseTarget::Sqlite(_) => Backend::Sqlite,
            DatabaseTarget::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password replaced, for logs and messages.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseTarget::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseTarget::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                _ => url.clone(),
            },
        }
    }

    fn establish(&self) -> Result<DbConn, diesel::r2d2::Error> {
        match self {
            DatabaseTarget::Postgres(url) => Ok(DbConn::Pg(PgConnection::establish(url)?)),
            DatabaseTarget::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// Our own r2d2 manager: it picks the backend from the target and keeps the real
/// connection error (the derive's own `establish` hides it).
pub struct ConnectionManager {
    target: DatabaseTarget,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        self.target.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The pool, shared by every request. Work runs on actix's blocking threads.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach the database at {target} (gave up after {waited_secs}s): {cause}")]
    Unreachable { target: String, waited_secs: u64, cause: String },
    #[error("cannot open the SQLite database {path}: {cause}")]
    Sqlite { path: String, cause: String },
    #[error("database migrations failed: {0}")]
    Migrations(String),
    #[error("cannot create the connection pool: {0}")]
    Pool(String),
}

/// Connects (retrying with backoff until `startup_timeout` for PostgreSQL), optionally
/// applies the pending migrations, and builds the pool.
pub fn open(
    target: &DatabaseTarget,
    pool_size: u32,
    acquire_timeout: Duration,
    startup_timeout: Duration,
    migrate: bool,
) -> Result<Database, StartupError> {
    if let DatabaseTarget::Sqlite(path) = target {
        ensure_parent_dir(path)?;
    }
    let mut first = connect_with_backoff(target, startup_timeout)?;
    if migrate {
        let applied = run_migrations(&mut first)?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
    }
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .min_idle(Some(1))
        .connection_timeout(acquire_timeout)
        // No `SELECT 1` per checkout: a connection that died fails its query (503) and
        // `has_broken` drops it, so the pool heals without a round trip on every request.
        .test_on_check_out(false)
        .build(ConnectionManager { target: target.clone() })
        .map_err(|e| StartupError::Pool(e.to_string()))?;
    Ok(Database { pool, backend: target.backend() })
}

fn ensure_parent_dir(path: &Path) -> Result<(), StartupError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(StartupError::Sqlite {
            path: path.display().to_string(),
            cause: format!("the directory {} does not exist", dir.display()),
        }),
        _ => Ok(()),
    }
}

fn connect_with_backoff(target: &DatabaseTarget, startup_timeout: Duration) -> Result<DbConn, StartupError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let error = match target.establish() {
            Ok(conn) => return Ok(conn),
            Err(error) => error.to_string().trim().to_string(),
        };
        if let DatabaseTarget::Sqlite(path) = target {
            // A file that cannot be opened will not heal by waiting.
            return Err(StartupError::Sqlite { path: path.display().to_string(), cause: error });
        }
        let waited = started.elapsed();
        if !is_transient_connect_error(&error) || waited >= startup_timeout {
            return Err(StartupError::Unreachable {
                target: target.redacted(),
                waited_secs: waited.as_secs(),
                cause: error,
            });
        }
        let pause = delay.min(startup_timeout - waited);
        tracing::warn!(
            target = %target.redacted(),
            %error,
            retry_in_ms = pause.as_millis() as u64,
            "database not reachable yet"
        );
        std::thread::sleep(pause);
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Wrong credentials or a missing database will not fix themselves; a server that is
/// down, starting or unreachable may.
fn is_transient_connect_error(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    let permanent = ["password authentication failed", "does not exist", "no pg_hba.conf entry", "role \""]
        .iter()
        .any(|needle| message.contains(needle));
    !permanent
}

/// Applies pending migrations; returns the versions applied.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, StartupError> {
    let applied = match conn {
        DbConn::Pg(inner) => inner.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConn::Sqlite(inner) => inner.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| StartupError::Migrations(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

fn has_pending_migrations(conn: &mut DbConn) -> Result<bool, AppError> {
    match conn {
        DbConn::Pg(inner) => inner.has_pending_migration(POSTGRES_MIGRATIONS),
        DbConn::Sqlite(inner) => inner.has_pending_migration(SQLITE_MIGRATIONS),
    }
    .map_err(|e| AppError::internal(format!("cannot read migration state: {e}")))
}

impl Database {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs blocking database work on actix's blocking pool with a pooled connection.
    /// A pool that cannot hand out a connection (database down) is a 503.
    pub async fn run<T, F>(&self, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(|error| {
                tracing::warn!(%error, "no database connection available");
                AppError::Unavailable
            })?;
            work(&mut conn)
        })
        .await
        .map_err(|_| AppError::internal("database task was cancelled"))?
    }

    /// Runs database work on the calling thread (for background workers, not handlers).
    pub fn with_conn<T>(&self, work: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut conn = self.pool.get().map_err(|_| AppError::Unavailable)?;
        work(&mut conn)
    }

    /// Readiness: the database answers and no migration is pending.
    pub async fn check_ready(&self) -> Result<(), AppError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            if has_pending_migrations(conn)? {
                return Err(AppError::Unavailable);
            }
            Ok(())
        })
        .await
    }
}
