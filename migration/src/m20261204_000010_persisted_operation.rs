//! `persisted_operation`: the GraphQL operations registered from an app build (the
//! allowlist of production, and known hashes for automatic persisted queries).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::drop_tables;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PersistedOperation {
    Table,
    Hash,
    Name,
    Body,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersistedOperation::Table)
                    .col(string_len(PersistedOperation::Hash, 64).primary_key())
                    .col(string_len_null(PersistedOperation::Name, 255))
                    .col(text(PersistedOperation::Body))
                    .col(timestamp_with_time_zone(PersistedOperation::CreatedAt))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, vec![PersistedOperation::Table.into_iden()]).await
    }
}
