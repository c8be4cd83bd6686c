//! Supervision that runs by itself: on-site deadlines and warning times on cases,
//! escalation rules per category and step, marks that make each warning and
//! escalation happen once, staff notifications, delivery state of the outbox,
//! webhooks, WeChat subscription grants and the shared access token, the text
//! check of tip-offs, and the record of background jobs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{drop_tables, fk, id, index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Case {
    Table,
    Id,
    /// Deadline of the on-site check-in once the case is filed.
    OnsiteDueAt,
    /// When the warning of the current `due_at` goes out.
    WarnAt,
    /// When the warning of `onsite_due_at` goes out.
    OnsiteWarnAt,
    /// `PENDING`, `PASS`, `REVIEW` or `RISKY`: the text check of a tip-off's words.
    TextCheck,
}

#[derive(DeriveIden)]
enum Category {
    Table,
    Id,
}

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
enum Tipster {
    Table,
    Id,
}

/// `sla_mark`: one warning or escalation done for one deadline of one case.
#[derive(DeriveIden)]
enum SlaMark {
    Table,
    Id,
    CaseId,
    Step,
    Kind,
    DueAt,
    CreatedAt,
}

/// `escalation_rule`: per category (or for all, when `category_id` is null) and step,
/// when to warn and whether to escalate, and who is told.
#[derive(DeriveIden)]
enum EscalationRule {
    Table,
    Id,
    CategoryId,
    Step,
    WarnShare,
    Escalate,
    WarnNotify,
    EscalateNotify,
    UpdatedAt,
}

/// `notification`: an in-app message to a staff member.
#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    UserId,
    Kind,
    CaseId,
    Title,
    Body,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    DeadAt,
    DeliveryId,
}

/// `webhook`: a county system told about case events in a region, signed.
#[derive(DeriveIden)]
enum Webhook {
    Table,
    Id,
    RegionId,
    Url,
    SecretEnc,
    Active,
    CreatedBy,
    CreatedAt,
}

/// `tipster_subscription`: one-time WeChat subscribe-message grants left.
#[derive(DeriveIden)]
enum TipsterSubscription {
    Table,
    Id,
    TipsterId,
    TemplateId,
    Remaining,
    Blocked,
    UpdatedAt,
}

/// `wechat_token`: the mini-program's access token, shared by every process.
#[derive(DeriveIden)]
enum WechatToken {
    Table,
    Id,
    Appid,
    TokenEnc,
    ExpiresAt,
    UpdatedAt,
}

/// `job_run`: the last run of each background job.
#[derive(DeriveIden)]
enum JobRun {
    Table,
    Name,
    LastStartedAt,
    LastFinishedAt,
    LastOk,
    LastError,
    Items,
}

async fn add_case_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for col in [
        timestamp_with_time_zone_null(Case::OnsiteDueAt),
        timestamp_with_time_zone_null(Case::WarnAt),
        timestamp_with_time_zone_null(Case::OnsiteWarnAt),
        string_len_null(Case::TextCheck, 16),
    ] {
        let mut col = col;
        manager
            .alter_table(
                Table::alter()
                    .table(Case::Table)
                    .add_column(&mut col)
                    .take(),
            )
            .await?;
    }
    manager
        .create_index(index("idx_case_warn", Case::Table, [Case::WarnAt]))
        .await?;
    manager
        .create_index(index(
            "idx_case_onsite_due",
            Case::Table,
            [Case::OnsiteDueAt],
        ))
        .await?;
    manager
        .create_index(index("idx_case_text_check", Case::Table, [Case::TextCheck]))
        .await
}

async fn create_sla_tables(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(SlaMark::Table)
                .col(id(SlaMark::Id))
                .col(big_integer(SlaMark::CaseId))
                .col(string_len(SlaMark::Step, 16))
                .col(string_len(SlaMark::Kind, 16))
                .col(timestamp_with_time_zone(SlaMark::DueAt))
                .col(timestamp_with_time_zone(SlaMark::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_sla_mark_case",
                    SlaMark::Table,
                    SlaMark::CaseId,
                    Case::Table,
                    Case::Id,
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_sla_mark_case_step_kind_due",
            SlaMark::Table,
            [
                SlaMark::CaseId,
                SlaMark::Step,
                SlaMark::Kind,
                SlaMark::DueAt,
            ],
        ))
        .await?;
    manager
        .create_table(
            Table::create()
                .table(EscalationRule::Table)
                .col(id(EscalationRule::Id))
                .col(big_integer_null(EscalationRule::CategoryId))
                .col(string_len(EscalationRule::Step, 16))
                .col(double(EscalationRule::WarnShare))
                .col(boolean(EscalationRule::Escalate))
                .col(json_binary(EscalationRule::WarnNotify))
                .col(json_binary(EscalationRule::EscalateNotify))
                .col(timestamp_with_time_zone(EscalationRule::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_escalation_rule_category",
                    EscalationRule::Table,
                    EscalationRule::CategoryId,
                    Category::Table,
                    Category::Id,
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_escalation_rule_category_step",
            EscalationRule::Table,
            [EscalationRule::CategoryId, EscalationRule::Step],
        ))
        .await
}

async fn create_notification_tables(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Notification::Table)
                .col(id(Notification::Id))
                .col(big_integer(Notification::UserId))
                .col(string_len(Notification::Kind, 32))
                .col(big_integer_null(Notification::CaseId))
                .col(string_len(Notification::Title, 200))
                .col(text(Notification::Body))
                .col(timestamp_with_time_zone(Notification::CreatedAt))
                .col(timestamp_with_time_zone_null(Notification::ReadAt))
                .foreign_key(&mut fk(
                    "fk_notification_user",
                    Notification::Table,
                    Notification::UserId,
                    AppUser::Table,
                    AppUser::Id,
                    ForeignKeyAction::Cascade,
                ))
                .foreign_key(&mut fk(
                    "fk_notification_case",
                    Notification::Table,
                    Notification::CaseId,
                    Case::Table,
                    Case::Id,
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
    manager
        .create_index(index(
            "idx_notification_user_id",
            Notification::Table,
            [Notification::UserId, Notification::Id],
        ))
        .await?;
    for col in [
        timestamp_with_time_zone_null(Outbox::DeadAt),
        string_len_null(Outbox::DeliveryId, 64),
    ] {
        let mut col = col;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(&mut col)
                    .take(),
            )
            .await?;
    }
    manager
        .create_index(unique_index(
            "uq_outbox_delivery_id",
            Outbox::Table,
            [Outbox::DeliveryId],
        ))
        .await?;
    manager
        .create_table(
            Table::create()
                .table(Webhook::Table)
                .col(id(Webhook::Id))
                .col(big_integer(Webhook::RegionId))
                .col(string_len(Webhook::Url, 512))
                .col(blob(Webhook::SecretEnc))
                .col(boolean(Webhook::Active).default(true))
                .col(big_integer(Webhook::CreatedBy))
                .col(timestamp_with_time_zone(Webhook::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_webhook_region",
                    Webhook::Table,
                    Webhook::RegionId,
                    Region::Table,
                    Region::Id,
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk(
                    "fk_webhook_creator",
                    Webhook::Table,
                    Webhook::CreatedBy,
                    AppUser::Table,
                    AppUser::Id,
                    ForeignKeyAction::Restrict,
                ))
                .take(),
        )
        .await
}

async fn create_wechat_tables(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(TipsterSubscription::Table)
                .col(id(TipsterSubscription::Id))
                .col(big_integer(TipsterSubscription::TipsterId))
                .col(string_len(TipsterSubscription::TemplateId, 128))
                .col(integer(TipsterSubscription::Remaining).default(0))
                .col(boolean(TipsterSubscription::Blocked).default(false))
                .col(timestamp_with_time_zone(TipsterSubscription::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_tipster_subscription_tipster",
                    TipsterSubscription::Table,
                    TipsterSubscription::TipsterId,
                    Tipster::Table,
                    Tipster::Id,
                    ForeignKeyAction::Cascade,
                ))
                .take(),
        )
        .await?;
    manager
        .create_index(unique_index(
            "uq_tipster_subscription_template",
            TipsterSubscription::Table,
            [
                TipsterSubscription::TipsterId,
                TipsterSubscription::TemplateId,
            ],
        ))
        .await?;
    manager
        .create_table(
            Table::create()
                .table(WechatToken::Table)
                .col(id(WechatToken::Id))
                .col(string_len_uniq(WechatToken::Appid, 64))
                .col(blob(WechatToken::TokenEnc))
                .col(timestamp_with_time_zone(WechatToken::ExpiresAt))
                .col(timestamp_with_time_zone(WechatToken::UpdatedAt))
                .take(),
        )
        .await?;
    manager
        .create_table(
            Table::create()
                .table(JobRun::Table)
                .col(string_len(JobRun::Name, 64).primary_key())
                .col(timestamp_with_time_zone_null(JobRun::LastStartedAt))
                .col(timestamp_with_time_zone_null(JobRun::LastFinishedAt))
                .col(boolean(JobRun::LastOk).default(true))
                .col(text_null(JobRun::LastError))
                .col(big_integer(JobRun::Items).default(0))
                .take(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_case_columns(manager).await?;
        create_sla_tables(manager).await?;
        create_notification_tables(manager).await?;
        create_wechat_tables(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            vec![
                JobRun::Table.into_iden(),
                WechatToken::Table.into_iden(),
                TipsterSubscription::Table.into_iden(),
                Webhook::Table.into_iden(),
                Notification::Table.into_iden(),
                EscalationRule::Table.into_iden(),
                SlaMark::Table.into_iden(),
            ],
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uq_outbox_delivery_id")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await?;
        for col in [Outbox::DeliveryId, Outbox::DeadAt] {
            manager
                .alter_table(Table::alter().table(Outbox::Table).drop_column(col).take())
                .await?;
        }
        for name in [
            "idx_case_text_check",
            "idx_case_onsite_due",
            "idx_case_warn",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Case::Table).to_owned())
                .await?;
        }
        for col in [
            Case::TextCheck,
            Case::OnsiteWarnAt,
            Case::WarnAt,
            Case::OnsiteDueAt,
        ] {
            manager
                .alter_table(Table::alter().table(Case::Table).drop_column(col).take())
                .await?;
        }
        Ok(())
    }
}
