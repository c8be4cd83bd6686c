//! Evaluation (考核): what the indicators need that the case row lacked, and the
//! frozen monthly rankings.
//!
//! - `case.first_submitted_at`: when the case was first submitted for verification.
//!   `submitted_at` is cleared when a case is returned for rework, so it cannot say
//!   whether the first handling was on time. Filled from the SUBMIT events for cases
//!   written before this migration.
//! - Indexes on the timestamps the indicators count by (first submission, closure,
//!   escalation and extension events).
//! - `ranking`: one published snapshot per region and month, never rewritten.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Case {
    Table,
    FirstSubmittedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum CaseEvent {
    Table,
    Action,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Ranking {
    Table,
    Id,
    RegionId,
    Month,
    PublishedAt,
    PublishedBy,
    Body,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Case::Table)
                    .add_column(timestamp_with_time_zone_null(Case::FirstSubmittedAt))
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE \"case\" SET first_submitted_at = (SELECT MIN(e.created_at) \
                 FROM case_event e WHERE e.case_id = \"case\".id AND e.action = 'SUBMIT') \
                 WHERE EXISTS (SELECT 1 FROM case_event e \
                 WHERE e.case_id = \"case\".id AND e.action = 'SUBMIT')",
            )
            .await?;
        manager
            .create_index(index(
                "idx_case_first_submitted",
                Case::Table,
                [Case::FirstSubmittedAt],
            ))
            .await?;
        manager
            .create_index(index("idx_case_closed", Case::Table, [Case::ClosedAt]))
            .await?;
        // Escalations and extensions of a period.
        manager
            .create_index(index(
                "idx_case_event_action_at",
                CaseEvent::Table,
                [CaseEvent::Action, CaseEvent::CreatedAt],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Ranking::Table)
                    .col(id(Ranking::Id))
                    .col(big_integer(Ranking::RegionId))
                    .col(string_len(Ranking::Month, 7))
                    .col(timestamp_with_time_zone(Ranking::PublishedAt))
                    .col(big_integer(Ranking::PublishedBy))
                    .col(text(Ranking::Body))
                    .foreign_key(&mut fk(
                        "fk_ranking_region",
                        Ranking::Table,
                        Ranking::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_ranking_region_month",
                Ranking::Table,
                [Ranking::RegionId, Ranking::Month],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Ranking::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_case_event_action_at")
                    .table(CaseEvent::Table)
                    .to_owned(),
            )
            .await?;
        for name in ["idx_case_closed", "idx_case_first_submitted"] {
            manager
                .drop_index(Index::drop().name(name).table(Case::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Case::Table)
                    .drop_column(Case::FirstSubmittedAt)
                    .take(),
            )
            .await
    }
}
