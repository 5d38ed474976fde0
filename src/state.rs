use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::Database;
use crate::rate_limit::RateLimiter;

/// Shared by every worker and request.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub jwt: Arc<JwtKeys>,
    pub config: Arc<Config>,
    /// Shared by the public endpoints, per client IP.
    pub rate_limiter: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(db: Database, jwt: JwtKeys, config: Config) -> AppState {
        let rate_limiter = Arc::new(RateLimiter::new(config.forms.rate_limit_per_minute));
        AppState { db, jwt: Arc::new(jwt), config: Arc::new(config), rate_limiter }
    }
}
