//! The site register (监管对象): what `supervised_site` lacked to be managed — the
//! site's own code, a contact (phone encrypted like staff phones), archiving, who
//! registered it — plus the index behind a site's case history.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::util::{index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SupervisedSite {
    Table,
    Code,
    ContactName,
    ContactPhoneEnc,
    ContactPhoneLast4,
    ArchivedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Case {
    Table,
    SiteId,
}

const KINDS: &str =
    "'FARM', 'CONSTRUCTION', 'ENTERPRISE', 'WELL_SITE', 'OUTFALL', 'STOCKPILE', 'OTHER'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE. `created_by` is a plain column: SQLite
        // cannot add a foreign key to an existing table, and users are never deleted.
        for col in [
            string_len_null(SupervisedSite::Code, 64),
            string_len_null(SupervisedSite::ContactName, 64),
            blob_null(SupervisedSite::ContactPhoneEnc),
            string_len_null(SupervisedSite::ContactPhoneLast4, 4),
            timestamp_with_time_zone_null(SupervisedSite::ArchivedAt),
            big_integer_null(SupervisedSite::CreatedBy),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisedSite::Table)
                        .add_column(&mut col)
                        .take(),
                )
                .await?;
        }
        // Kind and risk level are closed sets from now on: rows written before with a
        // value outside them are brought in rather than failing every read.
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "UPDATE supervised_site SET kind = 'OTHER' WHERE kind NOT IN ({KINDS})"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE supervised_site SET risk_level = 'MEDIUM' \
             WHERE risk_level NOT IN ('LOW', 'MEDIUM', 'HIGH')",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE supervised_site SET archived_at = updated_at WHERE active = false",
        )
        .await?;
        manager
            .create_index(unique_index(
                "uq_supervised_site_code",
                SupervisedSite::Table,
                [SupervisedSite::Code],
            ))
            .await?;
        manager
            .create_index(index("idx_case_site", Case::Table, [Case::SiteId]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_case_site")
                    .table(Case::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uq_supervised_site_code")
                    .table(SupervisedSite::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            SupervisedSite::CreatedBy,
            SupervisedSite::ArchivedAt,
            SupervisedSite::ContactPhoneLast4,
            SupervisedSite::ContactPhoneEnc,
            SupervisedSite::ContactName,
            SupervisedSite::Code,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SupervisedSite::Table)
                        .drop_column(col)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}
