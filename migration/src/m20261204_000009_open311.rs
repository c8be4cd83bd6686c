//! Open311 GeoReport v2 as a second door for tip-offs: the client apps county staff
//! issue an `api_key` to (only its SHA-256 is kept), and the mark on a tipster who
//! reported through one of them (their identity is that app's, not WeChat's).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `open311_client`: a client app allowed to POST requests.
#[derive(DeriveIden)]
enum Open311Client {
    Table,
    Id,
    Name,
    KeyHash,
    KeyPrefix,
    RegionId,
    CreatedBy,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Tipster {
    Table,
    Open311ClientId,
}

#[derive(DeriveIden)]
enum Region {
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
        manager
            .create_table(
                Table::create()
                    .table(Open311Client::Table)
                    .col(id(Open311Client::Id))
                    .col(string_len(Open311Client::Name, 100))
                    .col(string_len(Open311Client::KeyHash, 64).unique_key())
                    .col(string_len(Open311Client::KeyPrefix, 16))
                    .col(big_integer(Open311Client::RegionId))
                    .col(big_integer(Open311Client::CreatedBy))
                    .col(timestamp_with_time_zone(Open311Client::CreatedAt))
                    .col(timestamp_with_time_zone_null(Open311Client::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_open311_client_region",
                        Open311Client::Table,
                        Open311Client::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_open311_client_creator",
                        Open311Client::Table,
                        Open311Client::CreatedBy,
                        AppUser::Table,
                        AppUser::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        // A plain column: SQLite cannot add a foreign key to an existing table, and
        // clients are never deleted (only revoked), so nothing can dangle.
        manager
            .alter_table(
                Table::alter()
                    .table(Tipster::Table)
                    .add_column(big_integer_null(Tipster::Open311ClientId))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_tipster_open311_client",
                Tipster::Table,
                [Tipster::Open311ClientId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tipster_open311_client")
                    .table(Tipster::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tipster::Table)
                    .drop_column(Tipster::Open311ClientId)
                    .take(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Open311Client::Table).to_owned())
            .await
    }
}
