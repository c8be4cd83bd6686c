//! One way to write: every idempotent, versioned change goes through [`write`].
//!
//! The sequence, written once: replay an earlier answer of the same idempotency key
//! (unless the caller just did); enter the write gate; replay again where there is a
//! gate (a concurrent duplicate may have finished while we waited); begin; do the work (state change and its audit event); record the
//! answer under the key; commit. If anything fails and the key has an answer by then,
//! a concurrent duplicate won: answer with its result.
//!
//! The whole sequence runs in its own task, so a client that disconnects mid-request
//! cancels only its wait, never the transaction: a transaction is always committed or
//! rolled back, and a connection never goes back to the pool inside one.
//!
//! SQLite allows one writer at a time and, in WAL mode, refuses to upgrade a read
//! transaction whose snapshot went stale (`SQLITE_BUSY_SNAPSHOT`) instead of waiting.
//! Within one process write transactions are therefore serialised on SQLite behind a
//! [`WriteGate`]; PostgreSQL needs none (row locks and conditional updates do the work).

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_orm::{
    DatabaseTransaction, DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::Services;
use super::idempotency::IdemKey;
use crate::error::AppError;

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
    pub async fn enter(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.0 {
            Some(m) => Some(Arc::clone(m).lock_owned().await),
            None => None,
        }
    }
}

/// The work of one transaction: reads and writes through `txn`, returning the answer.
pub type Work<T> =
    Box<dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, AppError>> + Send>;

/// Wraps a closure as [`Work`] (saves the boxing at every call site).
pub fn work<T, F>(f: F) -> Work<T>
where
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, AppError>>
        + Send
        + 'static,
{
    Box::new(f)
}

/// Runs `fut` to completion in its own task, whatever happens to the caller.
pub async fn detached<T, F>(fut: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, AppError>> + Send + 'static,
{
    tokio::spawn(fut)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("write task failed: {e}")))?
}

/// Runs `work` as one transaction behind the gate, idempotently when `idem` is given
/// (see the module documentation).
pub async fn write<T>(svc: &Services, idem: Option<IdemKey>, work: Work<T>) -> Result<T, AppError>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    // The caller may have looked already (to answer a retry before any other work).
    if let Some(k) = &idem
        && !k.was_unanswered()
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let db = svc.db.clone();
    let gate = svc.gate.clone();
    let clock = svc.clock.clone();
    detached(async move {
        // Behind a gate, a concurrent duplicate may have finished while we waited: look
        // again. Without one (PostgreSQL) the unique (scope, key) index decides between
        // concurrent duplicates, and the loser replays the winner below.
        let gate = gate.enter().await;
        if gate.is_some()
            && let Some(k) = &idem
            && let Some(done) = k.replay(&db).await?
        {
            return Ok(done);
        }
        let result = async {
            // SQLite: take the write lock at BEGIN, so a transaction that reads before
            // it writes waits for other writers instead of failing on a stale snapshot
            // (SQLITE_BUSY_SNAPSHOT). PostgreSQL ignores the option.
            let txn = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?;
            let done = async {
                let answer = work(&txn).await?;
                if let Some(k) = &idem {
                    k.record(&txn, &answer, clock.now()).await?;
                }
                Ok::<_, AppError>(answer)
            }
            .await;
            match done {
                Ok(answer) => {
                    txn.commit().await?;
                    Ok(answer)
                }
                Err(e) => {
                    // Roll back now rather than on drop: a dropped transaction's
                    // ROLLBACK waits for the pool's release task, and its locks with it.
                    if let Err(r) = txn.rollback().await {
                        tracing::debug!(error = %r, "rollback after a failed unit of work");
                    }
                    Err(e)
                }
            }
        }
        .await;
        match (result, &idem) {
            (Err(e), Some(k)) => match k.replay(&db).await {
                Ok(Some(done)) => Ok(done),
                _ => Err(e),
            },
            (r, _) => r,
        }
    })
    .await
}
