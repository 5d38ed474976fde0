//! Idempotency-Key (IETF httpapi draft): the first request with a key runs; a retry with
//! the same body gets the stored response; a different body is a 422; a retry while the
//! first still runs is a 409. The key row is committed before the work starts, so
//! concurrent retries see it.

use sha2::{Digest, Sha256};

use super::{is_unique_violation, now};
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

/// Claims the key for this request; `Some` when a finished request is to be replayed.
pub fn begin(
    conn: &mut DbConn,
    actor: &str,
    key: &str,
    request_hash: &str,
) -> Result<Option<StoredResponse>, AppError> {
    let row = IdempotencyRow {
        actor: actor.to_string(),
        idempotency_key: key.to_string(),
        request_hash: request_hash.to_string(),
        status: "in_progress".to_string(),
        response_status: None,
        response_body: None,
        response_location: None,
        created_at: now(),
    };
    match conn.write_transaction(|conn| repo::insert_idempotency_key(conn, row)) {
        Ok(()) => Ok(None),
        Err(error) if is_unique_violation(&error) => {
            let existing = repo::find_idempotency_key(conn, actor, key)?.ok_or_else(|| AppError::Conflict {
                detail: "this Idempotency-Key is in use; retry".into(),
                existing_id: None,
            })?;
            if existing.request_hash != request_hash {
                return Err(AppError::invalid("Idempotency-Key", "this key was used with a different request"));
            }
            match (existing.status.as_str(), existing.response_status, existing.response_body) {
                ("done", Some(status), Some(body)) => {
                    Ok(Some(StoredResponse { status: status as u16, body, location: existing.response_location }))
                }
                _ => Err(AppError::Conflict {
                    detail: "a request with this Idempotency-Key is still being processed; retry shortly".into(),
                    existing_id: None,
                }),
            }
        }
        Err(error) => Err(error.into()),
    }
}

pub fn complete(conn: &mut DbConn, actor: &str, key: &str, response: &StoredResponse) -> Result<(), AppError> {
    Ok(repo::complete_idempotency_key(
        conn,
        actor,
        key,
        response.status as i32,
        &response.body,
        response.location.as_deref(),
    )?)
}

/// Releases the key of a request that failed, so that it can be retried.
pub fn abandon(conn: &mut DbConn, actor: &str, key: &str) -> Result<(), AppError> {
    Ok(repo::delete_idempotency_key(conn, actor, key)?)
}

/// How long a key is kept (at least the 24 hours clients may retry within).
pub const KEEP_FOR: chrono::Duration = chrono::Duration::hours(48);

/// Deletes expired keys once an hour, in the background.
pub fn spawn_cleanup(database: crate::db::Database) {
    std::thread::Builder::new()
        .name("idempotency-cleanup".into())
        .spawn(move || loop {
            match database.with_conn(|conn| Ok(repo::delete_idempotency_keys_before(conn, now() - KEEP_FOR)?)) {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired idempotency keys removed"),
                Err(error) => tracing::warn!(%error, "idempotency key cleanup failed"),
            }
            std::thread::sleep(std::time::Duration::from_secs(3600));
        })
        .expect("start the idempotency cleanup thread");
}
