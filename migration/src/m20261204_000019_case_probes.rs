//! Indexes for two hot paths that otherwise read far more of `case` than they answer:
//!
//! - `idx_case_duplicate_probe` (category_id, lat, lng, created_at): a new tip-off's
//!   duplicate check looks for open cases of its category in a small box around it
//!   within a time window. Only `(category_id, status)` served it before, so it read
//!   every open case of the category in the county; now it reads the box's latitude
//!   band and filters longitude and time inside the index.
//! - `idx_case_assignee_id` (assignee_id, id): `myTasks` is an inspector's cases newest
//!   first; with it the plan walks one inspector's cases by id instead of walking the
//!   whole primary key backwards (or sorting all of the inspector's cases) at a million.
//!
//! And, on PostgreSQL, a statement trigger on each table a new case's deadlines are
//! planned from (`category_time_limit`, `work_calendar_day`, `escalation_rule`) that
//! `pg_notify`s `gridwatch_rules` in the writer's transaction, whoever writes: every
//! server process keeps those rules in memory and forgets them on the notice. SQLite has
//! no notifications; servers on it read the rules each time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Case {
    Table,
    Id,
    CategoryId,
    Lat,
    Lng,
    CreatedAt,
    AssigneeId,
}

const INDEXES: [&str; 2] = ["idx_case_duplicate_probe", "idx_case_assignee_id"];

/// The tables whose changes the rule cache must hear of.
const RULE_TABLES: [&str; 3] = [
    "category_time_limit",
    "work_calendar_day",
    "escalation_rule",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                INDEXES[0],
                Case::Table,
                [Case::CategoryId, Case::Lat, Case::Lng, Case::CreatedAt],
            ))
            .await?;
        manager
            .create_index(index(INDEXES[1], Case::Table, [Case::AssigneeId, Case::Id]))
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE FUNCTION gridwatch_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN PERFORM pg_notify('gridwatch_rules', TG_TABLE_NAME); RETURN NULL; END $$",
            )
            .await?;
            for t in RULE_TABLES {
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
            for t in RULE_TABLES {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {t}_changed ON {t}"))
                    .await?;
            }
            db.execute_unprepared("DROP FUNCTION IF EXISTS gridwatch_rules_changed()")
                .await?;
        }
        for name in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Case::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
