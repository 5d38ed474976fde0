use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::Database;
use crate::keys::DataKeys;
use crate::rate_limit::RateLimiter;

/// Shared by every worker and request.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    /// Signs and verifies API tokens; rotates with `RAPPORT_JWT_SECRET`.
    pub jwt: Arc<JwtKeys>,
    /// Keys suppression hashes and link signatures; stored in the database, never rotated.
    pub keys: Arc<DataKeys>,
    pub config: Arc<Config>,
    /// Shared by the public endpoints, per client IP.
    pub rate_limiter: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(db: Database, jwt: JwtKeys, keys: impl Into<Arc<DataKeys>>, config: Config) -> AppState {
        let rate_limiter = Arc::new(RateLimiter::new(config.forms.rate_limit_per_minute));
        AppState { db, jwt: Arc::new(jwt), keys: keys.into(), config: Arc::new(config), rate_limiter }
    }
}
