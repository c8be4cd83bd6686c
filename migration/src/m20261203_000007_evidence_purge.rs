//! When the orphan sweeper has cleaned up after an evidence row: the objects an
//! expired ticket or a rejected upload left, or the upload copy a confirmed photo
//! was sealed from. Rows without it are the sweeper's work list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Evidence {
    Table,
    Status,
    PurgedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .add_column(timestamp_with_time_zone_null(Evidence::PurgedAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_evidence_unpurged",
                Evidence::Table,
                [Evidence::Status, Evidence::PurgedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_evidence_unpurged")
                    .table(Evidence::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .drop_column(Evidence::PurgedAt)
                    .take(),
            )
            .await
    }
}
