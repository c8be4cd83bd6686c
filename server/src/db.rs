//! Database connection and migrations, for SQLite and PostgreSQL alike.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::DatabaseConfig;

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
            o.after_release(|conn, _| {
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
