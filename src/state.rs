use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::Database;

/// Shared by every worker and request.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub jwt: Arc<JwtKeys>,
    pub config: Arc<Config>,
}
