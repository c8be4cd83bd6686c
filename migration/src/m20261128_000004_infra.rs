//! Plumbing tables: idempotent mutations and the transactional outbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{drop_tables, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `idempotency_record`: the stored outcome of one idempotent mutation.
#[derive(DeriveIden)]
enum IdempotencyRecord {
    Table,
    Id,
    Scope,
    IdemKey,
    Operation,
    RequestHash,
    Response,
    CreatedAt,
    ExpiresAt,
}

/// `outbox`: messages written in the same transaction as the change they
/// announce, delivered later by a worker.
#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Topic,
    Payload,
    CreatedAt,
    AvailableAt,
    Attempts,
    LockedUntil,
    DeliveredAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecord::Table)
                    .col(id(IdempotencyRecord::Id))
                    .col(string_len(IdempotencyRecord::Scope, 128))
                    .col(string_len(IdempotencyRecord::IdemKey, 128))
                    .col(string_len(IdempotencyRecord::Operation, 64))
                    .col(string_len(IdempotencyRecord::RequestHash, 64))
                    .col(json_binary_null(IdempotencyRecord::Response))
                    .col(timestamp_with_time_zone(IdempotencyRecord::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyRecord::ExpiresAt))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_idempotency_record_scope_key",
                IdempotencyRecord::Table,
                [IdempotencyRecord::Scope, IdempotencyRecord::IdemKey],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_idempotency_record_expires",
                IdempotencyRecord::Table,
                [IdempotencyRecord::ExpiresAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(id(Outbox::Id))
                    .col(string_len(Outbox::Topic, 64))
                    .col(json_binary(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone(Outbox::AvailableAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                    .col(timestamp_with_time_zone_null(Outbox::DeliveredAt))
                    .col(text_null(Outbox::LastError))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_outbox_delivered_available",
                Outbox::Table,
                [Outbox::DeliveredAt, Outbox::AvailableAt],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                Outbox::Table.into_iden(),
                IdempotencyRecord::Table.into_iden(),
            ],
        )
        .await
    }
}
