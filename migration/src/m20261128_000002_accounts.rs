//! Who acts in the system: staff accounts, the tipster identity vault,
//! refresh tokens of both, and login throttling.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261128_000001_grid::Region;
use crate::util::{drop_tables, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `app_user`: a staff account (county admin, township supervisor, inspector).
#[derive(DeriveIden)]
pub(crate) enum AppUser {
    Table,
    Id,
    Username,
    PasswordHash,
    Name,
    PhoneEnc,
    PhoneLast4,
    Role,
    RegionId,
    Active,
    FailedLogins,
    LockedUntil,
    Demo,
    OnDuty,
    CreatedAt,
    UpdatedAt,
}

/// `tipster`: the identity vault of members of the public who report.
#[derive(DeriveIden)]
pub(crate) enum Tipster {
    Table,
    Id,
    Handle,
    OpenidHmac,
    OpenidEnc,
    PhoneEnc,
    CreatedAt,
    LastSeenAt,
}

/// `refresh_token`: one rotating refresh token of a staff user or tipster.
#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    FamilyId,
    TokenHash,
    UserId,
    TipsterId,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

/// `auth_attempt`: failed-login counter per throttling key.
#[derive(DeriveIden)]
enum AuthAttempt {
    Table,
    Id,
    Key,
    Failures,
    WindowStart,
    LockedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppUser::Table)
                    .col(id(AppUser::Id))
                    .col(string_len_uniq(AppUser::Username, 64))
                    .col(string_len(AppUser::PasswordHash, 255))
                    .col(string_len(AppUser::Name, 64))
                    .col(blob_null(AppUser::PhoneEnc))
                    .col(string_len_null(AppUser::PhoneLast4, 4))
                    .col(string_len(AppUser::Role, 32))
                    .col(big_integer(AppUser::RegionId))
                    .col(boolean(AppUser::Active).default(true))
                    .col(integer(AppUser::FailedLogins).default(0))
                    .col(timestamp_with_time_zone_null(AppUser::LockedUntil))
                    .col(boolean(AppUser::Demo).default(false))
                    .col(boolean(AppUser::OnDuty).default(false))
                    .col(timestamp_with_time_zone(AppUser::CreatedAt))
                    .col(timestamp_with_time_zone(AppUser::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_app_user_region",
                        AppUser::Table,
                        AppUser::RegionId,
                        Region::Table,
                        Region::Id,
                        ForeignKeyAction::Restrict,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_app_user_region_role",
                AppUser::Table,
                [AppUser::RegionId, AppUser::Role],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tipster::Table)
                    .col(id(Tipster::Id))
                    .col(string_len_uniq(Tipster::Handle, 32))
                    .col(string_len_uniq(Tipster::OpenidHmac, 64))
                    .col(blob(Tipster::OpenidEnc))
                    .col(blob_null(Tipster::PhoneEnc))
                    .col(timestamp_with_time_zone(Tipster::CreatedAt))
                    .col(timestamp_with_time_zone(Tipster::LastSeenAt))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(id(RefreshToken::Id))
                    .col(string_len(RefreshToken::FamilyId, 64))
                    .col(string_len_uniq(RefreshToken::TokenHash, 64))
                    .col(big_integer_null(RefreshToken::UserId))
                    .col(big_integer_null(RefreshToken::TipsterId))
                    .col(timestamp_with_time_zone(RefreshToken::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                    .foreign_key(&mut fk(
                        "fk_refresh_token_user",
                        RefreshToken::Table,
                        RefreshToken::UserId,
                        AppUser::Table,
                        AppUser::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_refresh_token_tipster",
                        RefreshToken::Table,
                        RefreshToken::TipsterId,
                        Tipster::Table,
                        Tipster::Id,
                        ForeignKeyAction::Cascade,
                    ))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_refresh_token_family",
                RefreshToken::Table,
                [RefreshToken::FamilyId],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthAttempt::Table)
                    .col(id(AuthAttempt::Id))
                    .col(string_len_uniq(AuthAttempt::Key, 128))
                    .col(integer(AuthAttempt::Failures))
                    .col(timestamp_with_time_zone(AuthAttempt::WindowStart))
                    .col(timestamp_with_time_zone_null(AuthAttempt::LockedUntil))
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                AuthAttempt::Table.into_iden(),
                RefreshToken::Table.into_iden(),
                Tipster::Table.into_iden(),
                AppUser::Table.into_iden(),
            ],
        )
        .await
    }
}
