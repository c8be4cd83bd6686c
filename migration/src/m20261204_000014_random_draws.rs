//! 双随机 random inspections: a recorded draw (`random_draw`) — its inputs, the frame it
//! drew from, the seed and a hash chaining it to the draw before — and one row per drawn
//! site (`random_draw_site`) with the inspectors drawn for it and the task created.
//!
//! The inputs and the frame are stored as the exact canonical JSON text that was hashed,
//! so a draw can be recomputed and checked byte for byte (`verifyDraw`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{fk, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RandomDraw {
    Table,
    Id,
    RegionId,
    RegionPath,
    Period,
    DrawnAt,
    DrawnBy,
    PrevHash,
    Seed,
    Hash,
    Inputs,
    Frame,
    PoolExhausted,
    SiteCount,
    PublishedAt,
    PublishedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RandomDrawSite {
    Table,
    Id,
    DrawId,
    Seq,
    SiteId,
    Period,
    InspectorIds,
    CaseId,
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

#[derive(DeriveIden)]
enum SupervisedSite {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Case {
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
                    .table(RandomDraw::Table)
                    .col(id(RandomDraw::Id))
                    .col(big_integer(RandomDraw::RegionId))
                    .col(string_len(RandomDraw::RegionPath, 255))
                    .col(string_len(RandomDraw::Period, 16))
                    .col(timestamp_with_time_zone(RandomDraw::DrawnAt))
                    .col(big_integer(RandomDraw::DrawnBy))
                    .col(string_len(RandomDraw::PrevHash, 64))
                    .col(string_len(RandomDraw::Seed, 64))
                    .col(string_len(RandomDraw::Hash, 64))
                    .col(text(RandomDraw::Inputs))
                    .col(text(RandomDraw::Frame))
                    .col(boolean(RandomDraw::PoolExhausted))
                    .col(integer(RandomDraw::SiteCount))
                    .col(timestamp_with_time_zone_null(RandomDraw::PublishedAt))
                    .col(big_integer_null(RandomDraw::PublishedBy))
                    .col(timestamp_with_time_zone(RandomDraw::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_random_draw_region",
                        RandomDraw::Table,
                        RandomDraw::RegionId,
                        Region::Table,
                        Region::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_random_draw_drawn_by",
                        RandomDraw::Table,
                        RandomDraw::DrawnBy,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_random_draw_published_by",
                        RandomDraw::Table,
                        RandomDraw::PublishedBy,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        // One draw per predecessor: the chain stays a line even when two draws race.
        manager
            .create_index(unique_index(
                "uq_random_draw_prev_hash",
                RandomDraw::Table,
                [RandomDraw::PrevHash],
            ))
            .await?;
        manager
            .create_index(unique_index(
                "uq_random_draw_hash",
                RandomDraw::Table,
                [RandomDraw::Hash],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_random_draw_region_path",
                RandomDraw::Table,
                [RandomDraw::RegionPath],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RandomDrawSite::Table)
                    .col(id(RandomDrawSite::Id))
                    .col(big_integer(RandomDrawSite::DrawId))
                    .col(integer(RandomDrawSite::Seq))
                    .col(big_integer(RandomDrawSite::SiteId))
                    .col(string_len(RandomDrawSite::Period, 16))
                    .col(text(RandomDrawSite::InspectorIds))
                    .col(big_integer(RandomDrawSite::CaseId))
                    .foreign_key(&mut fk(
                        "fk_random_draw_site_draw",
                        RandomDrawSite::Table,
                        RandomDrawSite::DrawId,
                        RandomDraw::Table,
                        RandomDraw::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_random_draw_site_site",
                        RandomDrawSite::Table,
                        RandomDrawSite::SiteId,
                        SupervisedSite::Table,
                        SupervisedSite::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_random_draw_site_case",
                        RandomDrawSite::Table,
                        RandomDrawSite::CaseId,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_random_draw_site_draw_seq",
                RandomDrawSite::Table,
                [RandomDrawSite::DrawId, RandomDrawSite::Seq],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_random_draw_site_period",
                RandomDrawSite::Table,
                [RandomDrawSite::Period, RandomDrawSite::SiteId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_random_draw_site_case",
                RandomDrawSite::Table,
                [RandomDrawSite::CaseId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RandomDrawSite::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RandomDraw::Table).to_owned())
            .await
    }
}
