//! The state every request handler may reach. Its own module, so that the GraphQL and
//! HTTP layers depend on it without depending on `app` (which builds them).

use std::sync::Arc;

use crate::auth::wechat::WechatClient;
use crate::config::Config;
use crate::domain::Services;
use crate::ratelimit::RateLimits;

/// What every request handler may reach: the domain's services plus what only the
/// edges need (rate limits, the WeChat client, the statement counter).
#[derive(Clone)]
pub struct AppState {
    /// The domain context (database, grid, gate, clock, storage, vault, keys, config).
    pub services: Services,
    /// Rate limiters of this process.
    pub limits: Arc<RateLimits>,
    /// The WeChat mini-program login client.
    pub wechat: Arc<WechatClient>,
    /// SQL statements executed by this process (for metrics and the N+1 test).
    pub sql_statements: Arc<std::sync::atomic::AtomicU64>,
    /// Live case events for subscribers of this process.
    pub hub: Arc<crate::live::Hub>,
}

impl AppState {
    /// The configuration the app was built with.
    pub fn config(&self) -> &Config {
        &self.services.config
    }
}
