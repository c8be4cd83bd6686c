//! Patrols (巡查): plans that say who patrols which grid or sites how often and when
//! (定点、定时、定人), the patrols themselves with their GPS tracks kept compactly (one
//! row per uploaded batch holding a delta-encoded blob, never one row per point),
//! check-ins including "nothing found" ones (零报告), and the cases reported on patrol.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{bytewise_path_column, drop_tables, fk, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Region {
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

/// `patrol_plan`: one inspector's standing duty to patrol their grid (and, when
/// `site_ids` is not empty, to visit those sites) on a schedule, in a local time window.
#[derive(DeriveIden)]
enum PatrolPlan {
    Table,
    Id,
    InspectorId,
    RegionId,
    RegionPath,
    Name,
    Frequency,
    TimesPerMonth,
    Weekday,
    WindowStartMin,
    WindowEndMin,
    SiteIds,
    StartsOn,
    EndsOn,
    ArchivedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

/// `patrol`: one patrol walked by one inspector in their grid.
#[derive(DeriveIden)]
enum Patrol {
    Table,
    Id,
    InspectorId,
    PlanId,
    RegionId,
    RegionPath,
    LocalDate,
    StartedAt,
    EndedAt,
    PointCount,
    DistanceM,
    FirstPointAt,
    LastPointAt,
    FlagSpeed,
    FlagFuture,
    FlagOutside,
    CreatedAt,
    UpdatedAt,
}

/// `patrol_track_batch`: one uploaded batch of track points, packed.
#[derive(DeriveIden)]
enum PatrolTrackBatch {
    Table,
    Id,
    PatrolId,
    BatchKey,
    ContentSha256,
    PointCount,
    FirstAt,
    LastAt,
    Data,
    ReceivedAt,
}

/// `patrol_checkin`: a check-in on patrol, at a site or anywhere.
#[derive(DeriveIden)]
enum PatrolCheckin {
    Table,
    Id,
    PatrolId,
    SiteId,
    Lat,
    Lng,
    AccuracyM,
    At,
    NothingFound,
    Note,
    DistanceToSiteM,
    CreatedAt,
}

/// `patrol_miss`: a plan that fell due on a local day and was not patrolled, recorded
/// once by the daily job that tells supervisors (unique per plan and day).
#[derive(DeriveIden)]
enum PatrolMiss {
    Table,
    Id,
    PlanId,
    LocalDate,
    NotifiedAt,
}

/// `patrol_case`: a case reported during a patrol.
#[derive(DeriveIden)]
enum PatrolCase {
    Table,
    CaseId,
    PatrolId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PatrolPlan::Table)
                    .col(id(PatrolPlan::Id))
                    .col(big_integer(PatrolPlan::InspectorId))
                    .col(big_integer(PatrolPlan::RegionId))
                    .col(string_len(PatrolPlan::RegionPath, 255))
                    .col(string_len(PatrolPlan::Name, 128))
                    .col(string_len(PatrolPlan::Frequency, 16))
                    .col(integer(PatrolPlan::TimesPerMonth))
                    .col(integer_null(PatrolPlan::Weekday))
                    .col(integer(PatrolPlan::WindowStartMin))
                    .col(integer(PatrolPlan::WindowEndMin))
                    .col(json_binary(PatrolPlan::SiteIds))
                    .col(date(PatrolPlan::StartsOn))
                    .col(date_null(PatrolPlan::EndsOn))
                    .col(timestamp_with_time_zone_null(PatrolPlan::ArchivedAt))
                    .col(big_integer(PatrolPlan::CreatedBy))
                    .col(timestamp_with_time_zone(PatrolPlan::CreatedAt))
                    .col(timestamp_with_time_zone(PatrolPlan::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_patrol_plan_inspector",
                        PatrolPlan::Table,
                        PatrolPlan::InspectorId,
                        AppUser::Table,
                        AppUser::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patrol_plan_region",
                        PatrolPlan::Table,
                        PatrolPlan::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "patrol_plan", "region_path").await?;
        manager
            .create_index(index(
                "idx_patrol_plan_inspector",
                PatrolPlan::Table,
                [PatrolPlan::InspectorId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_patrol_plan_region_path",
                PatrolPlan::Table,
                [PatrolPlan::RegionPath],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Patrol::Table)
                    .col(id(Patrol::Id))
                    .col(big_integer(Patrol::InspectorId))
                    .col(big_integer_null(Patrol::PlanId))
                    .col(big_integer(Patrol::RegionId))
                    .col(string_len(Patrol::RegionPath, 255))
                    .col(date(Patrol::LocalDate))
                    .col(timestamp_with_time_zone(Patrol::StartedAt))
                    .col(timestamp_with_time_zone_null(Patrol::EndedAt))
                    .col(integer(Patrol::PointCount))
                    .col(double(Patrol::DistanceM))
                    .col(timestamp_with_time_zone_null(Patrol::FirstPointAt))
                    .col(timestamp_with_time_zone_null(Patrol::LastPointAt))
                    .col(boolean(Patrol::FlagSpeed))
                    .col(boolean(Patrol::FlagFuture))
                    .col(boolean(Patrol::FlagOutside))
                    .col(timestamp_with_time_zone(Patrol::CreatedAt))
                    .col(timestamp_with_time_zone(Patrol::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_patrol_inspector",
                        Patrol::Table,
                        Patrol::InspectorId,
                        AppUser::Table,
                        AppUser::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patrol_plan",
                        Patrol::Table,
                        Patrol::PlanId,
                        PatrolPlan::Table,
                        PatrolPlan::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patrol_region",
                        Patrol::Table,
                        Patrol::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "patrol", "region_path").await?;
        manager
            .create_index(index(
                "idx_patrol_inspector_started",
                Patrol::Table,
                [Patrol::InspectorId, Patrol::StartedAt],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_patrol_region_path_date",
                Patrol::Table,
                [Patrol::RegionPath, Patrol::LocalDate],
            ))
            .await?;
        manager
            .create_index(index("idx_patrol_plan", Patrol::Table, [Patrol::PlanId]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PatrolTrackBatch::Table)
                    .col(id(PatrolTrackBatch::Id))
                    .col(big_integer(PatrolTrackBatch::PatrolId))
                    .col(string_len(PatrolTrackBatch::BatchKey, 140))
                    .col(string_len(PatrolTrackBatch::ContentSha256, 64))
                    .col(integer(PatrolTrackBatch::PointCount))
                    .col(timestamp_with_time_zone(PatrolTrackBatch::FirstAt))
                    .col(timestamp_with_time_zone(PatrolTrackBatch::LastAt))
                    .col(blob(PatrolTrackBatch::Data))
                    .col(timestamp_with_time_zone(PatrolTrackBatch::ReceivedAt))
                    .foreign_key(&mut fk(
                        "fk_patrol_track_batch_patrol",
                        PatrolTrackBatch::Table,
                        PatrolTrackBatch::PatrolId,
                        Patrol::Table,
                        Patrol::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_patrol_track_batch_key",
                PatrolTrackBatch::Table,
                [PatrolTrackBatch::PatrolId, PatrolTrackBatch::BatchKey],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PatrolCheckin::Table)
                    .col(id(PatrolCheckin::Id))
                    .col(big_integer(PatrolCheckin::PatrolId))
                    .col(big_integer_null(PatrolCheckin::SiteId))
                    .col(double(PatrolCheckin::Lat))
                    .col(double(PatrolCheckin::Lng))
                    .col(double_null(PatrolCheckin::AccuracyM))
                    .col(timestamp_with_time_zone(PatrolCheckin::At))
                    .col(boolean(PatrolCheckin::NothingFound))
                    .col(text_null(PatrolCheckin::Note))
                    .col(double_null(PatrolCheckin::DistanceToSiteM))
                    .col(timestamp_with_time_zone(PatrolCheckin::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_patrol_checkin_patrol",
                        PatrolCheckin::Table,
                        PatrolCheckin::PatrolId,
                        Patrol::Table,
                        Patrol::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patrol_checkin_site",
                        PatrolCheckin::Table,
                        PatrolCheckin::SiteId,
                        SupervisedSite::Table,
                        SupervisedSite::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_patrol_checkin_patrol",
                PatrolCheckin::Table,
                [PatrolCheckin::PatrolId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PatrolCase::Table)
                    .col(
                        ColumnDef::new(PatrolCase::CaseId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(big_integer(PatrolCase::PatrolId))
                    .foreign_key(&mut fk(
                        "fk_patrol_case_case",
                        PatrolCase::Table,
                        PatrolCase::CaseId,
                        Case::Table,
                        Case::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_patrol_case_patrol",
                        PatrolCase::Table,
                        PatrolCase::PatrolId,
                        Patrol::Table,
                        Patrol::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_patrol_case_patrol",
                PatrolCase::Table,
                [PatrolCase::PatrolId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PatrolMiss::Table)
                    .col(id(PatrolMiss::Id))
                    .col(big_integer(PatrolMiss::PlanId))
                    .col(date(PatrolMiss::LocalDate))
                    .col(timestamp_with_time_zone(PatrolMiss::NotifiedAt))
                    .foreign_key(&mut fk(
                        "fk_patrol_miss_plan",
                        PatrolMiss::Table,
                        PatrolMiss::PlanId,
                        PatrolPlan::Table,
                        PatrolPlan::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_patrol_miss_plan_date",
                PatrolMiss::Table,
                [PatrolMiss::PlanId, PatrolMiss::LocalDate],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                PatrolMiss::Table.into_iden(),
                PatrolCase::Table.into_iden(),
                PatrolCheckin::Table.into_iden(),
                PatrolTrackBatch::Table.into_iden(),
                Patrol::Table.into_iden(),
                PatrolPlan::Table.into_iden(),
            ],
        )
        .await
    }
}
