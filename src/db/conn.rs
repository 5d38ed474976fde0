use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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
    ///
    /// On PostgreSQL a deadlock or a serialization failure rolls the whole transaction
    /// back; it is run again (a few times, after a short pause) instead of failing the
    /// request. Inside an outer transaction it is a savepoint and is never retried alone:
    /// the outer transaction is.
    pub fn write_transaction<T, E, F>(&mut self, mut work: F) -> Result<T, E>
    where
        F: FnMut(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error> + Contention,
    {
        if self.in_transaction() {
            return self.transaction(work);
        }
        let mut attempt = 0;
        loop {
            let outcome = self.top_level_write(&mut work);
            match outcome {
                Err(error) if error.is_contention() && attempt < CONTENTION_RETRIES => {
                    attempt += 1;
                    tracing::info!(
                        attempt,
                        "transaction lost a lock race (deadlock or serialization); running it again"
                    );
                    std::thread::sleep(Duration::from_millis(5 * attempt as u64));
                }
                outcome => return outcome,
            }
        }
    }

    fn top_level_write<T, E, F>(&mut self, work: &mut F) -> Result<T, E>
    where
        F: FnMut(&mut DbConn) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        if let DbConn::Sqlite(inner) = self {
            // Held until this block returns, after the commit or the rollback.
            let _turn = sqlite_writer_turn();
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
        self.transaction(|conn| work(conn))
    }

    /// Whether a transaction (or savepoint) is open on this connection.
    pub fn in_transaction(&mut self) -> bool {
        let depth = match self {
            DbConn::Pg(inner) => AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(),
            DbConn::Sqlite(inner) => AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(),
        };
        matches!(depth, Ok(Some(_)))
    }
}

/// SQLite has one writer at a time. Writers of this process take turns on this lock before
/// `BEGIN IMMEDIATE`, first come first served, instead of polling the database lock in
/// SQLite's busy handler, which sleeps up to 100 ms between tries: under a burst of writes
/// (a sale) those sleeps were the slowest orders' time. The lock is for the whole process
/// (one database in production; tests' databases share it). Another process on the same
/// file is still waited for by busy_timeout, and a writer that waits here longer than
/// busy_timeout goes on without its turn, so a writer that needs a second connection's
/// write (which would wait for itself) fails as before instead of hanging.
static SQLITE_WRITERS: parking_lot::FairMutex<()> = parking_lot::const_fair_mutex(());

/// How long a writer waits for its turn (busy_timeout's 5 s).
const SQLITE_TURN_WAIT: Duration = Duration::from_secs(5);

fn sqlite_writer_turn() -> Option<parking_lot::FairMutexGuard<'static, ()>> {
    let turn = SQLITE_WRITERS.try_lock_for(SQLITE_TURN_WAIT);
    if turn.is_none() {
        tracing::warn!("waited 5 s for the SQLite write turn; going on without it");
    }
    turn
}

/// How many times a transaction that lost a lock race is run again.
const CONTENTION_RETRIES: u32 = 4;

/// Errors that can say "this transaction lost a lock race and may simply be run again"
/// (PostgreSQL `deadlock detected`, 40P01, or a serialization failure, 40001).
pub trait Contention {
    fn is_contention(&self) -> bool;
}

impl Contention for diesel::result::Error {
    fn is_contention(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
            Error::DatabaseError(_, info) => info.message().contains("deadlock detected"),
            _ => false,
        }
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

    pub(crate) fn establish(&self) -> Result<DbConn, diesel::r2d2::Error> {
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

/// A pooled connection and what the pool knows of it.
pub struct PooledConn {
    conn: DbConn,
    /// The connection-loss generation when it was opened or last checked (see `Database`).
    generation: u64,
    /// Its server went away: r2d2 drops it instead of handing it out again.
    lost: bool,
}

/// Our own r2d2 manager: it picks the backend from the target and keeps the real
/// connection error (the derive's own `establish` hides it).
pub struct ConnectionManager {
    target: DatabaseTarget,
    generation: Arc<AtomicU64>,
}

impl ManageConnection for ConnectionManager {
    type Connection = PooledConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledConn, Self::Error> {
        // Read before connecting: a loss seen while connecting makes this one checked too.
        let generation = self.generation.load(Ordering::SeqCst);
        let mut conn = self.target.establish()?;
        if let DbConn::Sqlite(_) = conn {
            conn.batch_execute(SQLITE_POOL_PRAGMAS).map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(PooledConn { conn, generation, lost: false })
    }

    fn is_valid(&self, pooled: &mut PooledConn) -> Result<(), Self::Error> {
        pooled.conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    /// diesel's `is_broken` only sees a broken transaction; a dead socket is `lost`.
    fn has_broken(&self, pooled: &mut PooledConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        pooled.lost || pooled.conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The pool, shared by every request. Work runs on actix's blocking threads.
///
/// Connection loss (a PostgreSQL restart, failover or `pg_terminate_backend`): the first
/// request that fails on a dead connection marks it lost (r2d2 then drops it) and moves
/// the pool's loss generation on. Every connection opened before that is checked with
/// one `SELECT 1` the next time it is handed out, and dropped if it is dead too; so no
/// request is ever handed a connection already known to be suspect, and the healthy
/// fast path has no extra round trip.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
    generation: Arc<AtomicU64>,
    /// SQLite: keeps the background checkpointer running (see `spawn_checkpointer`).
    _checkpointer: Option<Arc<()>>,
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
        let applied = run_migrations_exclusively(&mut first)?;
        for version in applied {
            tracing::info!(%version, "applied migration");
        }
    }
    drop(first);
    let generation = Arc::new(AtomicU64::new(0));
    // r2d2 opens connections on its own threads. Keeping none idle in reserve (min_idle 0)
    // means it opens one only while a caller waits for it, never in the background after a
    // checkout: a connection being opened while a command exits can crash in OpenSSL's
    // exit handlers. Connections stay until they fail (no idle timeout), so a quiet server
    // keeps its pool.
    let pool = r2d2::Pool::builder()
        .max_size(pool_size)
        .min_idle(Some(0))
        .idle_timeout(None)
        .connection_timeout(acquire_timeout)
        // No `SELECT 1` per checkout: see `Database::checkout`.
        .test_on_check_out(false)
        .build(ConnectionManager { target: target.clone(), generation: generation.clone() })
        .map_err(|e| StartupError::Pool(e.to_string()))?;
    let checkpointer = matches!(target, DatabaseTarget::Sqlite(_)).then(|| spawn_checkpointer(target.clone()));
    Ok(Database { pool, backend: target.backend(), generation, _checkpointer: checkpointer })
}

/// The pool's SQLite connections leave checkpoints to `spawn_checkpointer` (they would
/// checkpoint at 1,000 pages by default). Copying the write-ahead log into the database
/// file, with its fsync, then happens outside every write transaction: it used to fall
/// on whichever order committed past the threshold, about 1.5 ms per order on average.
/// At 10,000 pages (40 MB) writers still checkpoint themselves if the thread falls behind.
const SQLITE_POOL_PRAGMAS: &str = "PRAGMA wal_autocheckpoint = 10000;";

/// How often the checkpointer copies what was committed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// A thread with its own connection that runs a passive checkpoint (it never blocks a
/// reader or a writer) every `CHECKPOINT_EVERY`, until every clone of the `Database`
/// holding the returned token is dropped.
fn spawn_checkpointer(target: DatabaseTarget) -> Arc<()> {
    let alive = Arc::new(());
    let database_alive = Arc::downgrade(&alive);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut conn: Option<DbConn> = None;
            while database_alive.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                if conn.is_none() {
                    conn = target.establish().ok();
                }
                if let Some(checkpointing) = conn.as_mut() {
                    if let Err(error) = checkpointing.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(%error, "SQLite checkpoint failed; trying again");
                        conn = None;
                    }
                }
            }
        })
        .expect("start the SQLite checkpoint thread");
    alive
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

/// Applies pending migrations while no other instance does: instances that start together
/// on one database wait for each other instead of applying the same migration twice.
/// PostgreSQL: a session advisory lock; SQLite: one `BEGIN IMMEDIATE` transaction around
/// them (diesel runs each migration in a savepoint inside it).
fn run_migrations_exclusively(conn: &mut DbConn) -> Result<Vec<String>, StartupError> {
    const MIGRATION_LOCK: i64 = 0x7261_7070_6f72_7401; // "rapport" + 1
    let failed = |error: diesel::result::Error| StartupError::Migrations(error.to_string());
    match conn {
        DbConn::Pg(_) => {
            conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).map_err(failed)?;
            let applied = run_migrations(conn);
            conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).map_err(failed)?;
            applied
        }
        DbConn::Sqlite(_) => {
            // Another instance migrating holds the write lock for as long as it takes,
            // which may be longer than busy_timeout: wait for it rather than give up.
            let deadline = Instant::now() + SQLITE_MIGRATION_WAIT;
            loop {
                let mut applied = Vec::new();
                let outcome = conn.write_transaction(|conn| {
                    applied = run_migrations(conn).map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
                    Ok::<_, diesel::result::Error>(())
                });
                match outcome {
                    Ok(()) => return Ok(applied),
                    Err(error) if is_locked(&error) && Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(error) => return Err(failed(error)),
                }
            }
        }
    }
}

/// How long an instance waits for another one's SQLite migrations.
const SQLITE_MIGRATION_WAIT: Duration = Duration::from_secs(120);

/// SQLite's "database is locked": another connection kept the write lock past busy_timeout.
fn is_locked(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info) if info.message().contains("database is locked"))
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
        let database = self.clone();
        actix_web::web::block(move || database.with_conn(work))
            .await
            .map_err(|_| AppError::internal("database task was cancelled"))?
    }

    /// Runs database work on the calling thread (background workers and commands).
    pub fn with_conn<T>(&self, work: impl FnOnce(&mut DbConn) -> Result<T, AppError>) -> Result<T, AppError> {
        let mut pooled = self.checkout()?;
        let outcome = work(&mut pooled.conn);
        match outcome {
            Err(error) if self.lost_during(&mut pooled, &error) => {
                tracing::warn!(%error, "database connection lost; it is dropped and the others are checked");
                Err(AppError::Unavailable)
            }
            outcome => outcome,
        }
    }

    /// A connection that is not known to be suspect: one opened or checked since the last
    /// connection loss is handed out as it is; an older one is checked first.
    fn checkout(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, AppError> {
        loop {
            let mut pooled = self.pool.get().map_err(|error| {
                tracing::warn!(%error, "no database connection available");
                AppError::Unavailable
            })?;
            let current = self.generation.load(Ordering::SeqCst);
            if pooled.generation >= current {
                return Ok(pooled);
            }
            if pooled.conn.batch_execute("SELECT 1").is_ok() {
                pooled.generation = current;
                return Ok(pooled);
            }
            // Dead like the one that failed: dropped (`has_broken`), try the next.
            pooled.lost = true;
        }
    }

    /// After work failed with a server-side or connection error: is the connection
    /// itself gone? Business errors (validation, not found, conflicts) never ask.
    fn lost_during(&self, pooled: &mut PooledConn, error: &AppError) -> bool {
        if self.backend != Backend::Postgres || !matches!(error, AppError::Unavailable | AppError::Internal(_)) {
            return false;
        }
        if pooled.conn.batch_execute("SELECT 1").is_ok() {
            return false;
        }
        pooled.lost = true;
        self.generation.fetch_add(1, Ordering::SeqCst);
        true
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

impl Contention for crate::error::AppError {
    fn is_contention(&self) -> bool {
        matches!(self, crate::error::AppError::Contention)
    }
}

impl From<diesel::result::Error> for crate::error::AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as DieselError};
        if error.is_contention() {
            return crate::error::AppError::Contention;
        }
        match &error {
            DieselError::NotFound => crate::error::AppError::NotFound("not found".into()),
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => {
                tracing::warn!(%error, "database connection lost");
                crate::error::AppError::Unavailable
            }
            DieselError::DatabaseError(_, info) if is_transient(info.message()) => {
                tracing::warn!(%error, "database busy or gone");
                crate::error::AppError::Unavailable
            }
            _ => crate::error::AppError::Internal(format!("database error: {}", with_causes(&error))),
        }
    }
}

/// SQLite lock timeouts and PostgreSQL connection loss reported as plain errors.
fn is_transient(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    [
        "database is locked",
        "server closed the connection",
        "terminating connection",
        "connection refused",
        "no connection to the server",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// The error's message and its causes' (a failed read names the field, its cause why).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;

    use super::*;
    use crate::db::testing::TestDb;

    #[derive(diesel::QueryableByName)]
    struct Counter {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn read_counter(conn: &mut DbConn) -> diesel::QueryResult<i64> {
        Ok(diesel::sql_query("SELECT n FROM turn_counter").get_result::<Counter>(conn)?.n)
    }

    /// Writers on SQLite take turns: each one reads, then writes what it read plus one, and
    /// no write is lost and none fails as "database is locked". Their connections have no
    /// busy timeout at all, so without the turns the second writer to arrive would fail.
    #[test]
    fn sqlite_writers_take_turns_and_lose_nothing() {
        let mut db = TestDb::new(Backend::Sqlite);
        db.exec("CREATE TABLE turn_counter (n BIGINT NOT NULL); INSERT INTO turn_counter (n) VALUES (0);");
        let (writers, each) = (8, 40);
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let mut conn = db.connect();
                conn.batch_execute("PRAGMA busy_timeout = 0").expect("no busy timeout");
                thread::spawn(move || {
                    for _ in 0..each {
                        conn.write_transaction(|conn| {
                            let n = read_counter(conn)?;
                            diesel::sql_query(format!("UPDATE turn_counter SET n = {}", n + 1)).execute(conn)?;
                            Ok::<_, diesel::result::Error>(())
                        })
                        .expect("a write that waits for its turn succeeds");
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("a writer thread");
        }
        assert_eq!(read_counter(&mut db.conn).unwrap(), writers * each);
    }

    /// The pool's writers do not checkpoint below 10,000 pages: what they commit reaches
    /// the database file through the background checkpointer, and only through it here.
    #[test]
    fn the_sqlite_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("rapport.db");
        let target = DatabaseTarget::Sqlite(path.clone());
        let wait = Duration::from_secs(5);
        let database = open(&target, 2, wait, wait, true).expect("open the database");
        let size_before = std::fs::metadata(&path).unwrap().len();
        database
            .with_conn(|conn| {
                conn.write_transaction(|conn| {
                    conn.batch_execute(
                        "CREATE TABLE filler (body TEXT NOT NULL);                          WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)                          INSERT INTO filler (body) SELECT printf('%.1000c', 'x') FROM n;",
                    )
                })?;
                Ok(())
            })
            .expect("write about 2 MB");
        let deadline = Instant::now() + Duration::from_secs(30);
        let grown = loop {
            let size = std::fs::metadata(&path).unwrap().len();
            if size >= size_before + 2_000_000 || Instant::now() > deadline {
                break size;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(grown >= size_before + 2_000_000, "the database file stayed at {grown} bytes (from {size_before})");
    }

    /// A write that waits for another connection's write while holding its turn (which
    /// could never come) fails after the waits instead of hanging.
    #[test]
    fn a_sqlite_writer_waiting_for_itself_fails_instead_of_hanging() {
        let mut db = TestDb::new(Backend::Sqlite);
        db.exec("CREATE TABLE turn_counter (n BIGINT NOT NULL); INSERT INTO turn_counter (n) VALUES (0);");
        let (mut first, mut second) = (db.connect(), db.connect());
        let (done, outcome) = mpsc::channel();
        thread::spawn(move || {
            let result = first.write_transaction(|_| {
                second.write_transaction(|conn| diesel::sql_query("UPDATE turn_counter SET n = 1").execute(conn))
            });
            let _ = done.send(result);
        });
        let result = outcome.recv_timeout(Duration::from_secs(60)).expect("the writer gave up instead of hanging");
        let error = result.expect_err("the second connection cannot write while the first holds the lock");
        assert!(is_locked(&error), "{error}");
        assert_eq!(read_counter(&mut db.conn).unwrap(), 0);
    }
}
