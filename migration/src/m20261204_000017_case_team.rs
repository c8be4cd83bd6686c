//! `case_team`: the inspectors who work one case together — the team a 双随机 random
//! inspection drew for its site (the lead, who is the case's first assignee, and the
//! members). Written in the draw's transaction, never changed afterwards: it is the
//! record of who was drawn, and it widens an inspector's scope to the cases whose team
//! they are on (see `domain::cases`).
//!
//! Primary key (case_id, user_id): one row per person per case, and the probe of the
//! scope rule ("is this viewer on this case's team?"). The index on (user_id, case_id)
//! serves "the cases whose team I am on" (`myTasks`, live events).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseTeam {
    Table,
    CaseId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Case {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Restrict;
        manager
            .create_table(
                Table::create()
                    .table(CaseTeam::Table)
                    .col(big_integer(CaseTeam::CaseId))
                    .col(big_integer(CaseTeam::UserId))
                    .col(string_len(CaseTeam::Role, 16))
                    .col(timestamp_with_time_zone(CaseTeam::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_case_team")
                            .col(CaseTeam::CaseId)
                            .col(CaseTeam::UserId),
                    )
                    .foreign_key(&mut fk(
                        "fk_case_team_case",
                        CaseTeam::Table,
                        CaseTeam::CaseId,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_team_user",
                        CaseTeam::Table,
                        CaseTeam::UserId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_case_team_user",
                CaseTeam::Table,
                [CaseTeam::UserId, CaseTeam::CaseId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CaseTeam::Table).to_owned())
            .await
    }
}
