//! Rate limits shared by every server process: one row per limited key (client
//! address, WeChat user) holding the GCRA "theoretical arrival time" in epoch
//! milliseconds, updated by one conditional upsert per request.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    /// `login:ip:…`, `public:ip:…`, `public:user:…`.
    Key,
    /// When the bucket is empty again, in epoch milliseconds.
    TatMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .col(string_len(RateLimit::Key, 128).primary_key())
                    .col(big_integer(RateLimit::TatMs))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimit::Table).to_owned())
            .await
    }
}
