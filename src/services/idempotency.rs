//! Idempotency-Key (IETF httpapi draft): the first request with a key runs; a retry with
//! the same body gets the stored response; a different body is a 422; a retry while the
//! first still runs is a 409 (PostgreSQL) or waits for it (SQLite). The key and its
//! response are written in the transaction of the work itself (`run_once`).

use sha2::{Digest, Sha256};

use super::{now, write_with_one_retry, TxError};
use crate::db::DbConn;
use crate::error::AppError;
use crate::models::orders::IdempotencyRow;
use crate::repositories::orders as repo;

/// A stored response to replay.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// The fingerprint of a request: method, path and its canonical JSON body.
pub fn fingerprint(method: &str, path: &str, canonical_body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_body);
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A request that carries an `Idempotency-Key`: who sent it, the key, and the
/// fingerprint of what was asked.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub actor: String,
    pub key: String,
    pub request_hash: String,
}

/// What the caller answers: a fresh response, or the stored one replayed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub response: StoredResponse,
    pub replayed: bool,
}

/// Runs `work` at most once per key, crash-safe.
///
/// The key, the work's writes and the stored response are one write transaction: a crash
/// or a lost connection at any point leaves either nothing (the key is free and a retry
/// does the work) or everything (a retry replays the stored response). "In progress" is a
/// real running transaction, never a flag left behind: on PostgreSQL a transaction-scoped
/// advisory lock on the key makes a concurrent retry a 409; on SQLite writers queue on the
/// write lock, so the retry waits for the first and replays it.
pub(crate) fn run_once<T>(
    conn: &mut DbConn,
    keyed: Option<&KeyedRequest>,
    mut work: impl FnMut(&mut DbConn) -> Result<T, TxError>,
    render: impl Fn(T) -> Result<StoredResponse, AppError>,
) -> Result<Answer, TxError> {
    run_once_shared_last(conn, keyed, |conn| Ok((work(conn)?, ())), |_, ()| Ok(()), render)
}

/// `run_once` for work that ends with writes to rows every request shares (a sale's stock,
/// a code's counter, today's rollups): `work` returns its value and those writes, which
/// `shared` makes after the key is stored, last before the commit, so that those rows stay
/// locked for as short a time as can be.
pub(crate) fn run_once_shared_last<T, S>(
    conn: &mut DbConn,
    keyed: Option<&KeyedRequest>,
    mut work: impl FnMut(&mut DbConn) -> Result<(T, S), TxError>,
    shared: impl Fn(&mut DbConn, S) -> Result<(), TxError>,
    render: impl Fn(T) -> Result<StoredResponse, AppError>,
) -> Result<Answer, TxError> {
    let Some(keyed) = keyed else {
        let value = write_with_one_retry(conn, |conn| {
            let (value, writes) = work(conn)?;
            shared(conn, writes)?;
            Ok(value)
        })?;
        return Ok(Answer { response: render(value)?, replayed: false });
    };
    write_with_one_retry(conn, |conn| {
        if !repo::try_lock_idempotency_key(conn, &keyed.actor, &keyed.key)? {
            return Err(AppError::Conflict {
                detail: "a request with this Idempotency-Key is still being processed; retry shortly".into(),
                existing_id: None,
            }
            .into());
        }
        if let Some(stored) = repo::find_idempotency_key(conn, &keyed.actor, &keyed.key)? {
            return Ok(Answer { response: replayable(keyed, stored)?, replayed: true });
        }
        let (value, writes) = work(conn)?;
        let response = render(value)?;
        repo::insert_idempotency_key(
            conn,
            IdempotencyRow {
                actor: keyed.actor.clone(),
                idempotency_key: keyed.key.clone(),
                request_hash: keyed.request_hash.clone(),
                status: "done".to_string(),
                response_status: Some(response.status as i32),
                response_body: Some(response.body.clone()),
                response_location: response.location.clone(),
                created_at: now(),
            },
        )?;
        shared(conn, writes)?;
        Ok(Answer { response, replayed: false })
    })
}

/// The stored response of a finished request with the same key, if the body matches.
fn replayable(keyed: &KeyedRequest, stored: IdempotencyRow) -> Result<StoredResponse, AppError> {
    if stored.request_hash != keyed.request_hash {
        return Err(AppError::invalid("Idempotency-Key", "this key was used with a different request"));
    }
    match (stored.response_status, stored.response_body) {
        (Some(status), Some(body)) => {
            Ok(StoredResponse { status: status as u16, body, location: stored.response_location })
        }
        _ => Err(AppError::internal("an idempotency key was stored without its response")),
    }
}

/// How long a key is kept (at least the 24 hours clients may retry within).
pub const KEEP_FOR: chrono::Duration = chrono::Duration::hours(48);

/// Deletes expired keys once an hour, in the background (one instance per hour when
/// several share the database).
pub fn spawn_cleanup(database: crate::db::Database) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
    std::thread::Builder::new()
        .name("idempotency-cleanup".into())
        .spawn(move || loop {
            let cleanup = |conn: &mut DbConn| {
                let deleted = repo::delete_idempotency_keys_before(conn, now() - KEEP_FOR)?;
                if deleted > 0 {
                    tracing::info!(deleted, "expired idempotency keys removed");
                }
                Ok(())
            };
            if let Err(error) = super::leases::once_per_period(&database, "idempotency-cleanup", EVERY, cleanup) {
                tracing::warn!(%error, "idempotency key cleanup failed");
            }
            std::thread::sleep(EVERY);
        })
        .expect("start the idempotency cleanup thread");
}
