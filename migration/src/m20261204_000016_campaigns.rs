//! Campaign seasons (专项行动, e.g. 秸秆禁烧 in autumn): a region, a set of categories,
//! local dates and tighter time limits; and `case.campaign_id`, the campaign whose
//! limits a case took when it came in.
//!
//! `case.campaign_id` is a plain column (SQLite cannot add a foreign key to an
//! existing table; campaigns are never deleted), indexed for the campaign report.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Campaign {
    Table,
    Id,
    Name,
    RegionId,
    RegionPath,
    StartsOn,
    EndsOn,
    EndedAt,
    PatrolsPerGridPerDay,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CampaignCategory {
    Table,
    Id,
    CampaignId,
    CategoryId,
}

#[derive(DeriveIden)]
enum CampaignTimeLimit {
    Table,
    Id,
    CampaignId,
    Priority,
    Step,
    Amount,
    Unit,
}

#[derive(DeriveIden)]
enum Region {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Category {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Case {
    Table,
    CampaignId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Campaign::Table)
                    .col(id(Campaign::Id))
                    .col(string_len(Campaign::Name, 100))
                    .col(big_integer(Campaign::RegionId))
                    .col(string_len(Campaign::RegionPath, 255))
                    .col(date(Campaign::StartsOn))
                    .col(date(Campaign::EndsOn))
                    .col(timestamp_with_time_zone_null(Campaign::EndedAt))
                    .col(integer_null(Campaign::PatrolsPerGridPerDay))
                    .col(big_integer(Campaign::CreatedBy))
                    .col(timestamp_with_time_zone(Campaign::CreatedAt))
                    .col(timestamp_with_time_zone(Campaign::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_campaign_region",
                        Campaign::Table,
                        Campaign::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        crate::util::bytewise_path_column(manager, "campaign", "region_path").await?;
        manager
            .create_index(index(
                "idx_campaign_region_path",
                Campaign::Table,
                [Campaign::RegionPath],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CampaignCategory::Table)
                    .col(id(CampaignCategory::Id))
                    .col(big_integer(CampaignCategory::CampaignId))
                    .col(big_integer(CampaignCategory::CategoryId))
                    .foreign_key(&mut fk(
                        "fk_campaign_category_campaign",
                        CampaignCategory::Table,
                        CampaignCategory::CampaignId,
                        Campaign::Table,
                        Campaign::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_campaign_category_category",
                        CampaignCategory::Table,
                        CampaignCategory::CategoryId,
                        Category::Table,
                        Category::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_campaign_category",
                CampaignCategory::Table,
                [CampaignCategory::CampaignId, CampaignCategory::CategoryId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_campaign_category_category",
                CampaignCategory::Table,
                [CampaignCategory::CategoryId],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CampaignTimeLimit::Table)
                    .col(id(CampaignTimeLimit::Id))
                    .col(big_integer(CampaignTimeLimit::CampaignId))
                    .col(string_len(CampaignTimeLimit::Priority, 16))
                    .col(string_len(CampaignTimeLimit::Step, 16))
                    .col(integer(CampaignTimeLimit::Amount))
                    .col(string_len(CampaignTimeLimit::Unit, 16))
                    .foreign_key(&mut fk(
                        "fk_campaign_time_limit_campaign",
                        CampaignTimeLimit::Table,
                        CampaignTimeLimit::CampaignId,
                        Campaign::Table,
                        Campaign::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_campaign_time_limit",
                CampaignTimeLimit::Table,
                [
                    CampaignTimeLimit::CampaignId,
                    CampaignTimeLimit::Priority,
                    CampaignTimeLimit::Step,
                ],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Case::Table)
                    .add_column(big_integer_null(Case::CampaignId))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("idx_case_campaign", Case::Table, [Case::CampaignId]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_case_campaign")
                    .table(Case::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Case::Table)
                    .drop_column(Case::CampaignId)
                    .take(),
            )
            .await?;
        crate::util::drop_tables(
            manager,
            vec![
                CampaignTimeLimit::Table.into_iden(),
                CampaignCategory::Table.into_iden(),
                Campaign::Table.into_iden(),
            ],
        )
        .await
    }
}
