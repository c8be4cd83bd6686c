//! `idx_case_open_tasks` (assignee_id, id) over open tasks only (`ASSIGNED`,
//! `IN_PROGRESS`, `SUBMITTED`): `myTasks` asks for an inspector's newest open tasks.
//! With `(assignee_id, id)` alone it walks the inspector's cases newest first and reads
//! each row for its status, so the work grows with the inspector's whole history: at a
//! million cases, an inspector with 3 open tasks among 1,065 took 5.3 ms to find them.
//! Over open tasks only the walk meets nothing else and needs no row but the page's
//! (0.3 ms for the same inspector, an index-only scan).
//!
//! The condition is written exactly as `domain::cases::task_ids` writes it (same words,
//! same order): PostgreSQL proves the query implies it, SQLite needs the same term.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_case_open_tasks";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                r#"CREATE INDEX {NAME} ON "case" ("assignee_id", "id") WHERE "status" IN ('ASSIGNED', 'IN_PROGRESS', 'SUBMITTED')"#
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {NAME}"))
            .await?;
        Ok(())
    }
}
