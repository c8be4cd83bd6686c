//! The administrative grid: the region tree (county → township → village)
//! and the supervised sites that sit in it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{bytewise_path_column, clear_self_references, drop_tables, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `region`: one node of the grid tree.
#[derive(DeriveIden)]
pub(crate) enum Region {
    Table,
    Id,
    Code,
    Name,
    Level,
    ParentId,
    Path,
    Boundary,
    CentroidLat,
    CentroidLng,
    SyntheticName,
    SyntheticBoundary,
    CreatedAt,
    UpdatedAt,
}

/// `supervised_site`: a place inspected on a schedule (farm, outfall, …).
#[derive(DeriveIden)]
pub(crate) enum SupervisedSite {
    Table,
    Id,
    Name,
    Kind,
    RegionId,
    RegionPath,
    Lat,
    Lng,
    Address,
    RiskLevel,
    InspectEveryDays,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Region::Table)
                    .col(id(Region::Id))
                    .col(string_len_uniq(Region::Code, 32))
                    .col(string_len(Region::Name, 64))
                    .col(string_len(Region::Level, 16))
                    .col(big_integer_null(Region::ParentId))
                    .col(string_len_uniq(Region::Path, 255))
                    .col(text_null(Region::Boundary))
                    .col(double_null(Region::CentroidLat))
                    .col(double_null(Region::CentroidLng))
                    .col(boolean(Region::SyntheticName).default(false))
                    .col(boolean(Region::SyntheticBoundary).default(false))
                    .col(timestamp_with_time_zone(Region::CreatedAt))
                    .col(timestamp_with_time_zone(Region::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_region_parent",
                        Region::Table,
                        Region::ParentId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "region", "path").await?;
        manager
            .create_index(index(
                "idx_region_parent",
                Region::Table,
                [Region::ParentId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SupervisedSite::Table)
                    .col(id(SupervisedSite::Id))
                    .col(string_len(SupervisedSite::Name, 128))
                    .col(string_len(SupervisedSite::Kind, 32))
                    .col(big_integer(SupervisedSite::RegionId))
                    .col(string_len(SupervisedSite::RegionPath, 255))
                    .col(double(SupervisedSite::Lat))
                    .col(double(SupervisedSite::Lng))
                    .col(text_null(SupervisedSite::Address))
                    .col(string_len(SupervisedSite::RiskLevel, 16))
                    .col(integer(SupervisedSite::InspectEveryDays))
                    .col(boolean(SupervisedSite::Active).default(true))
                    .col(timestamp_with_time_zone(SupervisedSite::CreatedAt))
                    .col(timestamp_with_time_zone(SupervisedSite::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_supervised_site_region",
                        SupervisedSite::Table,
                        SupervisedSite::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "supervised_site", "region_path").await?;
        manager
            .create_index(index(
                "idx_supervised_site_region_path",
                SupervisedSite::Table,
                [SupervisedSite::RegionPath],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        clear_self_references(manager, "region", &["parent_id"]).await?;
        drop_tables(
            manager,
            vec![SupervisedSite::Table.into_iden(), Region::Table.into_iden()],
        )
        .await
    }
}
