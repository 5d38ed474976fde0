//! The data keys: loaded at start-up, created once when missing.

use super::now;
use crate::db::{Database, DbConn};
use crate::error::AppError;
use crate::keys::{from_hex, random_key, to_hex, DataKeys, Purpose};
use crate::models::keys::ServerKeyRow;
use crate::repositories::{campaigns as campaign_repo, keys as repo, privacy as privacy_repo};

/// Loads the data keys, creating the missing ones once. Before keys were stored, the
/// token secret keyed everything: a purpose whose data already exists (suppression rows,
/// tracked campaign contacts) gets `token_secret` as its key, so every hash and link made
/// then stays valid; any other purpose gets 256 random bits. Instances starting together
/// race safely: each inserts only where no key exists, then all read the same keys back.
pub fn load_or_create(conn: &mut DbConn, token_secret: &[u8]) -> Result<DataKeys, AppError> {
    let mut stored = repo::all(conn)?;
    let missing: Vec<Purpose> =
        Purpose::ALL.into_iter().filter(|purpose| !stored.iter().any(|row| row.purpose == purpose.as_str())).collect();
    if !missing.is_empty() {
        let erased_people = privacy_repo::has_suppressions(conn)?;
        let campaign_links = campaign_repo::has_tracked_contacts(conn)?;
        for purpose in missing {
            let keyed_with_secret = match purpose {
                Purpose::SuppressionEmail | Purpose::SuppressionPhone => erased_people,
                Purpose::CampaignUnsubscribe | Purpose::CampaignClick => campaign_links,
            };
            let key = if keyed_with_secret { token_secret.to_vec() } else { random_key() };
            let row = ServerKeyRow { purpose: purpose.as_str().to_string(), key_hex: to_hex(&key), created_at: now() };
            repo::insert_if_absent(conn, &row)?;
        }
        stored = repo::all(conn)?;
    }
    let decoded = stored
        .iter()
        .map(|row| {
            from_hex(&row.key_hex)
                .map(|key| (row.purpose.as_str(), key))
                .ok_or_else(|| AppError::internal(format!("the stored key for {} is not hex", row.purpose)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    DataKeys::from_stored(decoded.iter().map(|(purpose, key)| (*purpose, key.as_slice()))).map_err(AppError::internal)
}

/// [`load_or_create`] on a connection of `database`, warning when a stored key is the
/// current token secret (a database upgraded from before keys were stored): until that
/// secret is rotated, whoever reads the database or a backup of it can sign API tokens.
pub fn ensure(database: &Database, token_secret: &[u8]) -> Result<DataKeys, AppError> {
    let keys = database.with_conn(|conn| load_or_create(conn, token_secret))?;
    if keys.contains_key(token_secret) {
        tracing::warn!(
            "the data keys were seeded from RAPPORT_JWT_SECRET to keep existing suppression hashes and links \
             valid; rotate the token secret (README: Rotating the token secret) so the database holds no key \
             that signs API tokens"
        );
    }
    Ok(keys)
}
