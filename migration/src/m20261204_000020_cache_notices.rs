//! On PostgreSQL, the notice of migration 000019 (`gridwatch_rules`, sent by a statement
//! trigger in the writer's transaction) for two more tables that every server process
//! keeps in memory:
//!
//! - `category`: every page of cases names its categories; they change when county staff
//!   edit them.
//! - `app_user`: every authenticated request needs its viewer's name, role, region and
//!   whether the account is still active; a process keeps those per user while it hears
//!   of every change, so deactivating an account or changing its role reaches every
//!   process with the writer's commit.
//!
//! SQLite has no notifications; servers on it read both each time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose changes the in-memory caches must hear of (the function is 000019's).
const TABLES: [&str; 2] = ["category", "app_user"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            for t in TABLES {
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {t}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE \
                     ON {t} FOR EACH STATEMENT EXECUTE FUNCTION gridwatch_rules_changed()"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            for t in TABLES {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {t}_changed ON {t}"))
                    .await?;
            }
        }
        Ok(())
    }
}
