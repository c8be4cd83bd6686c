//! Write discipline shared by every state change.
//!
//! SQLite allows one writer at a time and, in WAL mode, refuses to upgrade a read
//! transaction whose snapshot went stale (`SQLITE_BUSY_SNAPSHOT`) instead of waiting.
//! Within one process we therefore serialise write transactions on SQLite behind a
//! gate; PostgreSQL needs none (row locks and conditional updates do the work).

use std::sync::Arc;

use sea_orm::DbBackend;
use tokio::sync::{Mutex, MutexGuard};

/// Serialises write transactions where the database needs it.
#[derive(Clone, Default)]
pub struct WriteGate(Option<Arc<Mutex<()>>>);

impl std::fmt::Debug for WriteGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WriteGate").field(&self.0.is_some()).finish()
    }
}

impl WriteGate {
    /// A gate for the backend: a mutex for SQLite, nothing for PostgreSQL.
    pub fn for_backend(backend: DbBackend) -> Self {
        match backend {
            DbBackend::Sqlite => Self(Some(Arc::new(Mutex::new(())))),
            _ => Self(None),
        }
    }

    /// Enters the gate for the duration of a write transaction.
    pub async fn enter(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.0 {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }
}
