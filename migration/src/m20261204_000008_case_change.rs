//! `case_change`: the log that offline delta sync (`changesSince`) reads. One row per
//! change of a case, written in the transaction that changes it, with the case's scope
//! after the change (region and assignee), so a reader can tell "entered or changed in
//! my scope" from "left my scope" without the case's history.
//!
//! `tx` is the writing transaction's id on PostgreSQL (`pg_current_xact_id()`), which
//! lets a reader stop below the oldest transaction still running and so never step over
//! a change that commits late; SQLite commits writers one at a time in id order and
//! leaves it 0. Rows are pruned after a retention period.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{bytewise_path_column, drop_tables, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseChange {
    Table,
    Id,
    Tx,
    CaseId,
    RegionId,
    RegionPath,
    AssigneeId,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaseChange::Table)
                    .col(id(CaseChange::Id))
                    .col(big_integer(CaseChange::Tx).default(0))
                    .col(big_integer(CaseChange::CaseId))
                    .col(big_integer(CaseChange::RegionId))
                    .col(string_len(CaseChange::RegionPath, 255))
                    .col(big_integer_null(CaseChange::AssigneeId))
                    .col(timestamp_with_time_zone(CaseChange::At))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "case_change", "region_path").await?;
        for (name, cols) in [
            (
                "idx_case_change_position",
                vec![CaseChange::Tx, CaseChange::Id],
            ),
            ("idx_case_change_case", vec![CaseChange::CaseId]),
            ("idx_case_change_at", vec![CaseChange::At]),
        ] {
            manager
                .create_index(index(name, CaseChange::Table, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![CaseChange::Table.into_iden()]).await
    }
}
