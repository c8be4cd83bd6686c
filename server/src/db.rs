//! Database connection and migrations, for SQLite and PostgreSQL alike.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::DatabaseConfig;

/// How long a pooled connection may sit idle before it is pinged on checkout.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// When the last database outage was seen (nanoseconds after [`EPOCH`]; 0: never).
static LAST_OUTAGE: AtomicU64 = AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn since_epoch(t: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(t.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// Records that a statement just met a database outage (a broken connection, a
/// restart): every connection queued in the pool before now is pinged before it is
/// handed out again, so one broken link costs at most the statement that found it.
pub fn note_outage() {
    LAST_OUTAGE.store(since_epoch(Instant::now()).max(1), Ordering::Relaxed);
}

/// Whether a pooled connection, idle for `idle_for`, must be pinged before use: it sat
/// idle long enough to have been cut by a restart or a proxy, or it was queued before
/// the last outage seen.
fn needs_ping(idle_for: Duration) -> bool {
    if idle_for >= PING_IF_IDLE_FOR {
        return true;
    }
    let last_outage = LAST_OUTAGE.load(Ordering::Relaxed);
    let now = Instant::now();
    let queued_at = since_epoch(now.checked_sub(idle_for).unwrap_or(now));
    last_outage != 0 && queued_at <= last_outage
}

/// Connects with pool settings fit for each backend.
///
/// SQLite runs in WAL mode with a busy timeout, so a CLI command (e.g. `import-grid`)
/// can write while the server reads; foreign keys are enforced.
///
/// A connection that comes back to the pool still inside a transaction (its owner was
/// dropped mid-way) is closed rather than reused: another request's autocommit
/// statements on it would silently join that transaction. Writes run their
/// transactions to completion in their own task (`domain::uow`), so this should never
/// happen; the pool makes sure it cannot hurt if it does.
///
/// No ping before each checkout (sea-orm's default `test_before_acquire`, a round trip
/// per statement): sqlx already pings every connection when it comes back to the pool
/// and drops it if that fails, so a connection in the idle queue was alive when it was
/// queued. It is pinged again before it is handed out only when it has sat idle for
/// [`PING_IF_IDLE_FOR`] or was queued before the last outage a statement met
/// ([`note_outage`]); a busy server's connections never are. A link that breaks while
/// connections sit idle costs the one statement that finds it (a retryable
/// `UNAVAILABLE`); every other connection queued before is then checked first.
pub async fn connect(cfg: &DatabaseConfig) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(cfg.url.clone());
    opts.max_connections(cfg.max_connections)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        })
        .map_sqlx_postgres_pool_opts(|o| {
            o.test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if needs_ping(meta.idle_for) {
                            sea_orm::sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .after_release(|conn, _| {
                    Box::pin(async move { Ok(!sea_orm::sqlx::Connection::is_in_transaction(conn)) })
                })
        })
        .map_sqlx_sqlite_pool_opts(|o| {
            o.after_release(|conn, _| {
                Box::pin(async move { Ok(!sea_orm::sqlx::Connection::is_in_transaction(conn)) })
            })
        });
    let db = Database::connect(opts)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// Writes a consistent copy of a SQLite database to `file` (`VACUUM INTO`: one read
/// transaction, so it runs beside a serving process and sees one moment). The file
/// must not exist. PostgreSQL deployments use `pg_dump` instead.
pub async fn backup(db: &DatabaseConnection, file: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use sea_orm::ConnectionTrait as _;
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        anyhow::bail!(
            "`backup` copies SQLite files; for PostgreSQL use `pg_dump -Fc -f FILE DATABASE_URL` (README, \"Operating it\")"
        );
    }
    if file.exists() {
        anyhow::bail!("{} already exists; choose a new file", file.display());
    }
    let path = file
        .to_str()
        .context("the backup path is not valid UTF-8")?
        .replace('\'', "''");
    db.execute_unprepared(&format!("VACUUM INTO '{path}'"))
        .await
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_the_idle_and_those_queued_before_an_outage() {
        assert!(needs_ping(PING_IF_IDLE_FOR), "idle long enough");
        // Queued long before any outage this test records, but only just idle: pinged
        // only once an outage is seen after it was queued.
        std::thread::sleep(Duration::from_millis(5));
        let before = LAST_OUTAGE.load(Ordering::Relaxed);
        let queued = Duration::from_millis(2);
        if before == 0 {
            assert!(
                !needs_ping(queued),
                "no outage seen: a busy connection goes out"
            );
        }
        note_outage();
        assert!(needs_ping(queued), "queued before the outage: pinged");
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            !needs_ping(Duration::from_millis(1)),
            "queued after the outage: trusted"
        );
    }
}
