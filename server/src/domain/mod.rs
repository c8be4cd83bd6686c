//! The rules of gridwatch, free of HTTP and GraphQL.
//!
//! Every domain function takes what it needs from [`Services`] (database, grid, write
//! gate, clock, evidence store, vault, token keys, configuration) and a
//! [`access::Viewer`]; nothing here may import the `app`, `http` or `graphql` modules
//! (a test in `tests/it/layers.rs` fails when something does).

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub mod access;
pub mod accounts;
pub mod cache;
pub mod campaigns;
pub mod cases;
pub mod category;
pub mod changes;
pub mod dates;
pub mod draws;
pub mod events;
pub mod evidence;
pub mod exports;
pub mod geo;
pub mod grid;
pub mod idempotency;
pub mod media;
pub mod notifications;
pub mod open311;
pub mod outbox;
pub mod page;
pub mod patrols;
pub mod phone;
pub mod rankings;
pub mod sites;
pub mod sla;
pub mod stats;
pub mod subscriptions;
pub mod supervision;
pub mod tipsters;
pub mod uow;
pub mod webhooks;

pub use crate::clock::Clock;
pub use uow::WriteGate;

/// What the domain may reach: built once at start-up, cheap to clone (every part is
/// shared).
#[derive(Clone)]
pub struct Services {
    /// The database pool.
    pub db: DatabaseConnection,
    /// The region tree and its spatial index.
    pub grid: Arc<grid::Grid>,
    /// Serialises write transactions where the database needs it (SQLite).
    pub gate: WriteGate,
    /// The one source of "now".
    pub clock: Clock,
    /// The evidence store (local folder or S3).
    pub storage: Arc<dyn crate::storage::BlobStore>,
    /// Encryption of personal data at rest.
    pub vault: Arc<crate::auth::vault::Vault>,
    /// Access-token keys.
    pub keys: Arc<crate::auth::token::TokenKeys>,
    /// Rarely changed tables kept in memory while their changes are heard: time limits,
    /// work calendar, escalation rules, categories and the viewer fields of accounts.
    pub cache: Arc<cache::TableCache>,
    /// The configuration the server was started with.
    pub config: Arc<crate::config::Config>,
}
