//! Cases and what hangs off them: categories with their time limits, the
//! work calendar, the `case` table itself, followers, the audit trail,
//! evidence photos and audited identity reveals.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261128_000001_grid::{Region, SupervisedSite};
use crate::m20261128_000002_accounts::{AppUser, Tipster};
use crate::util::{
    bytewise_path_column, clear_self_references, drop_tables, fk, id, index, unique_index,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `category`: a kind of problem and its handling rules.
#[derive(DeriveIden)]
enum Category {
    Table,
    Id,
    Code,
    Name,
    Description,
    SortOrder,
    DuplicateRadiusM,
    DuplicateWindowHours,
    CheckinRadiusM,
    MinPhotosBefore,
    MinPhotosDuring,
    MinPhotosAfter,
    Active,
    CreatedAt,
    UpdatedAt,
}

/// `category_time_limit`: deadline of one step of a category at a priority.
#[derive(DeriveIden)]
enum CategoryTimeLimit {
    Table,
    Id,
    CategoryId,
    Priority,
    Step,
    Amount,
    Unit,
}

/// `work_calendar_day`: an exception to the Monday–Friday working week.
#[derive(DeriveIden)]
enum WorkCalendarDay {
    Table,
    Id,
    Day,
    Workday,
    Name,
    UpdatedAt,
}

/// `case`: anything that must be tracked to closure.
#[derive(DeriveIden)]
enum Case {
    Table,
    Id,
    Number,
    TrackingCode,
    Source,
    CategoryId,
    Title,
    Description,
    Status,
    Priority,
    RegionId,
    RegionPath,
    Lat,
    Lng,
    AccuracyM,
    OutsideGrid,
    Address,
    TipsterId,
    ReporterId,
    CreatedBy,
    AssigneeId,
    SiteId,
    DuplicateOf,
    MergedInto,
    RejectReason,
    ReworkCount,
    EscalationLevel,
    Version,
    AcceptedAt,
    StartedAt,
    SubmittedAt,
    ClosedAt,
    DueAt,
    ParkedAt,
    ParkedSeconds,
    ExtendedCount,
    CheckinLat,
    CheckinLng,
    CheckinDistanceM,
    CheckinFar,
    Rating,
    RatingComment,
    RatedAt,
    CreatedAt,
    UpdatedAt,
}

/// `case_follower`: a tipster following a case.
#[derive(DeriveIden)]
enum CaseFollower {
    Table,
    Id,
    CaseId,
    TipsterId,
    CreatedAt,
}

/// `case_event`: append-only audit trail of a case.
#[derive(DeriveIden)]
enum CaseEvent {
    Table,
    Id,
    CaseId,
    Seq,
    ActorId,
    ActorTipsterId,
    ActorRole,
    Action,
    FromStatus,
    ToStatus,
    Note,
    Data,
    CreatedAt,
}

/// `evidence`: one photo (or its pending upload) attached to a case.
#[derive(DeriveIden)]
enum Evidence {
    Table,
    Id,
    CaseId,
    Phase,
    Status,
    ObjectKey,
    ContentType,
    ByteSize,
    Sha256,
    UploaderId,
    UploaderTipsterId,
    RejectReason,
    Width,
    Height,
    TakenAt,
    ExifLat,
    ExifLng,
    DistanceM,
    Flags,
    DerivativeKey,
    CreatedAt,
    ExpiresAt,
    ConfirmedAt,
}

/// `tipster_reveal`: audit record of a staff member revealing a tipster.
#[derive(DeriveIden)]
enum TipsterReveal {
    Table,
    Id,
    CaseId,
    TipsterId,
    ActorId,
    Reason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict};

        manager
            .create_table(
                Table::create()
                    .table(Category::Table)
                    .col(id(Category::Id))
                    .col(string_len_uniq(Category::Code, 64))
                    .col(string_len(Category::Name, 64))
                    .col(text(Category::Description))
                    .col(integer(Category::SortOrder))
                    .col(double(Category::DuplicateRadiusM))
                    .col(integer(Category::DuplicateWindowHours))
                    .col(double(Category::CheckinRadiusM))
                    .col(integer(Category::MinPhotosBefore))
                    .col(integer(Category::MinPhotosDuring))
                    .col(integer(Category::MinPhotosAfter))
                    .col(boolean(Category::Active).default(true))
                    .col(timestamp_with_time_zone(Category::CreatedAt))
                    .col(timestamp_with_time_zone(Category::UpdatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CategoryTimeLimit::Table)
                    .col(id(CategoryTimeLimit::Id))
                    .col(big_integer(CategoryTimeLimit::CategoryId))
                    .col(string_len(CategoryTimeLimit::Priority, 16))
                    .col(string_len(CategoryTimeLimit::Step, 16))
                    .col(integer(CategoryTimeLimit::Amount))
                    .col(string_len(CategoryTimeLimit::Unit, 16))
                    .foreign_key(&mut fk(
                        "fk_category_time_limit_category",
                        CategoryTimeLimit::Table,
                        CategoryTimeLimit::CategoryId,
                        Category::Table,
                        Category::Id,
                        Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_category_time_limit_category_priority_step",
                CategoryTimeLimit::Table,
                [
                    CategoryTimeLimit::CategoryId,
                    CategoryTimeLimit::Priority,
                    CategoryTimeLimit::Step,
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WorkCalendarDay::Table)
                    .col(id(WorkCalendarDay::Id))
                    .col(date_uniq(WorkCalendarDay::Day))
                    .col(boolean(WorkCalendarDay::Workday))
                    .col(string_len(WorkCalendarDay::Name, 64))
                    .col(timestamp_with_time_zone(WorkCalendarDay::UpdatedAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Case::Table)
                    .col(id(Case::Id))
                    .col(string_len_uniq(Case::Number, 32))
                    .col(string_len_null(Case::TrackingCode, 32).unique_key())
                    .col(string_len(Case::Source, 16))
                    .col(big_integer(Case::CategoryId))
                    .col(string_len(Case::Title, 200))
                    .col(text(Case::Description))
                    .col(string_len(Case::Status, 16))
                    .col(string_len(Case::Priority, 16))
                    .col(big_integer(Case::RegionId))
                    .col(string_len(Case::RegionPath, 255))
                    .col(double(Case::Lat))
                    .col(double(Case::Lng))
                    .col(double_null(Case::AccuracyM))
                    .col(boolean(Case::OutsideGrid).default(false))
                    .col(text_null(Case::Address))
                    .col(big_integer_null(Case::TipsterId))
                    .col(big_integer_null(Case::ReporterId))
                    .col(big_integer_null(Case::CreatedBy))
                    .col(big_integer_null(Case::AssigneeId))
                    .col(big_integer_null(Case::SiteId))
                    .col(big_integer_null(Case::DuplicateOf))
                    .col(big_integer_null(Case::MergedInto))
                    .col(string_len_null(Case::RejectReason, 32))
                    .col(integer(Case::ReworkCount).default(0))
                    .col(integer(Case::EscalationLevel).default(0))
                    .col(integer(Case::Version).default(1))
                    .col(timestamp_with_time_zone_null(Case::AcceptedAt))
                    .col(timestamp_with_time_zone_null(Case::StartedAt))
                    .col(timestamp_with_time_zone_null(Case::SubmittedAt))
                    .col(timestamp_with_time_zone_null(Case::ClosedAt))
                    .col(timestamp_with_time_zone_null(Case::DueAt))
                    .col(timestamp_with_time_zone_null(Case::ParkedAt))
                    .col(big_integer(Case::ParkedSeconds).default(0))
                    .col(integer(Case::ExtendedCount).default(0))
                    .col(double_null(Case::CheckinLat))
                    .col(double_null(Case::CheckinLng))
                    .col(double_null(Case::CheckinDistanceM))
                    .col(boolean(Case::CheckinFar).default(false))
                    .col(integer_null(Case::Rating))
                    .col(text_null(Case::RatingComment))
                    .col(timestamp_with_time_zone_null(Case::RatedAt))
                    .col(timestamp_with_time_zone(Case::CreatedAt))
                    .col(timestamp_with_time_zone(Case::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_case_category",
                        Case::Table,
                        Case::CategoryId,
                        Category::Table,
                        Category::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_region",
                        Case::Table,
                        Case::RegionId,
                        Region::Table,
                        Region::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_tipster",
                        Case::Table,
                        Case::TipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_reporter",
                        Case::Table,
                        Case::ReporterId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_created_by",
                        Case::Table,
                        Case::CreatedBy,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_assignee",
                        Case::Table,
                        Case::AssigneeId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_site",
                        Case::Table,
                        Case::SiteId,
                        SupervisedSite::Table,
                        SupervisedSite::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_duplicate_of",
                        Case::Table,
                        Case::DuplicateOf,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_merged_into",
                        Case::Table,
                        Case::MergedInto,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        bytewise_path_column(manager, "case", "region_path").await?;
        for stmt in [
            index(
                "idx_case_assignee_status",
                Case::Table,
                [Case::AssigneeId, Case::Status],
            ),
            index(
                "idx_case_status_due",
                Case::Table,
                [Case::Status, Case::DueAt],
            ),
            index(
                "idx_case_region_path_created",
                Case::Table,
                [Case::RegionPath, Case::CreatedAt],
            ),
            index(
                "idx_case_category_status",
                Case::Table,
                [Case::CategoryId, Case::Status],
            ),
            index("idx_case_tipster", Case::Table, [Case::TipsterId]),
        ] {
            manager.create_index(stmt).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CaseFollower::Table)
                    .col(id(CaseFollower::Id))
                    .col(big_integer(CaseFollower::CaseId))
                    .col(big_integer(CaseFollower::TipsterId))
                    .col(timestamp_with_time_zone(CaseFollower::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_case_follower_case",
                        CaseFollower::Table,
                        CaseFollower::CaseId,
                        Case::Table,
                        Case::Id,
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_follower_tipster",
                        CaseFollower::Table,
                        CaseFollower::TipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_case_follower_case_tipster",
                CaseFollower::Table,
                [CaseFollower::CaseId, CaseFollower::TipsterId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseEvent::Table)
                    .col(id(CaseEvent::Id))
                    .col(big_integer(CaseEvent::CaseId))
                    .col(integer(CaseEvent::Seq))
                    .col(big_integer_null(CaseEvent::ActorId))
                    .col(big_integer_null(CaseEvent::ActorTipsterId))
                    .col(string_len(CaseEvent::ActorRole, 32))
                    .col(string_len(CaseEvent::Action, 32))
                    .col(string_len_null(CaseEvent::FromStatus, 16))
                    .col(string_len_null(CaseEvent::ToStatus, 16))
                    .col(text_null(CaseEvent::Note))
                    .col(json_binary_null(CaseEvent::Data))
                    .col(timestamp_with_time_zone(CaseEvent::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_case_event_case",
                        CaseEvent::Table,
                        CaseEvent::CaseId,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_event_actor",
                        CaseEvent::Table,
                        CaseEvent::ActorId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_case_event_actor_tipster",
                        CaseEvent::Table,
                        CaseEvent::ActorTipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "uq_case_event_case_seq",
                CaseEvent::Table,
                [CaseEvent::CaseId, CaseEvent::Seq],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Evidence::Table)
                    .col(id(Evidence::Id))
                    .col(big_integer(Evidence::CaseId))
                    .col(string_len(Evidence::Phase, 16))
                    .col(string_len(Evidence::Status, 16))
                    .col(string_len_uniq(Evidence::ObjectKey, 255))
                    .col(string_len(Evidence::ContentType, 64))
                    .col(big_integer(Evidence::ByteSize))
                    .col(string_len(Evidence::Sha256, 64))
                    .col(big_integer_null(Evidence::UploaderId))
                    .col(big_integer_null(Evidence::UploaderTipsterId))
                    .col(string_len_null(Evidence::RejectReason, 64))
                    .col(integer_null(Evidence::Width))
                    .col(integer_null(Evidence::Height))
                    .col(timestamp_with_time_zone_null(Evidence::TakenAt))
                    .col(double_null(Evidence::ExifLat))
                    .col(double_null(Evidence::ExifLng))
                    .col(double_null(Evidence::DistanceM))
                    .col(json_binary_null(Evidence::Flags))
                    .col(string_len_null(Evidence::DerivativeKey, 255))
                    .col(timestamp_with_time_zone(Evidence::CreatedAt))
                    .col(timestamp_with_time_zone(Evidence::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Evidence::ConfirmedAt))
                    .foreign_key(&mut fk(
                        "fk_evidence_case",
                        Evidence::Table,
                        Evidence::CaseId,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_evidence_uploader",
                        Evidence::Table,
                        Evidence::UploaderId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_evidence_uploader_tipster",
                        Evidence::Table,
                        Evidence::UploaderTipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_evidence_case",
                Evidence::Table,
                [Evidence::CaseId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_evidence_sha256",
                Evidence::Table,
                [Evidence::Sha256],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TipsterReveal::Table)
                    .col(id(TipsterReveal::Id))
                    .col(big_integer(TipsterReveal::CaseId))
                    .col(big_integer(TipsterReveal::TipsterId))
                    .col(big_integer(TipsterReveal::ActorId))
                    .col(text(TipsterReveal::Reason))
                    .col(timestamp_with_time_zone(TipsterReveal::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_tipster_reveal_case",
                        TipsterReveal::Table,
                        TipsterReveal::CaseId,
                        Case::Table,
                        Case::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_tipster_reveal_tipster",
                        TipsterReveal::Table,
                        TipsterReveal::TipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_tipster_reveal_actor",
                        TipsterReveal::Table,
                        TipsterReveal::ActorId,
                        AppUser::Table,
                        AppUser::Id,
                        Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_tipster_reveal_case",
                TipsterReveal::Table,
                [TipsterReveal::CaseId],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        clear_self_references(manager, "case", &["duplicate_of", "merged_into"]).await?;
        drop_tables(
            manager,
            vec![
                TipsterReveal::Table.into_iden(),
                Evidence::Table.into_iden(),
                CaseEvent::Table.into_iden(),
                CaseFollower::Table.into_iden(),
                Case::Table.into_iden(),
                WorkCalendarDay::Table.into_iden(),
                CategoryTimeLimit::Table.into_iden(),
                Category::Table.into_iden(),
            ],
        )
        .await
    }
}
