//! Whether an evidence's recorded SHA-256 is bound to its object: the object under its
//! key can only ever hold bytes with that hash. True when the server wrote the bytes
//! itself and hashed them on the way (`uploadEvidence`), or when the S3 store verifies
//! checksums and the upload policy carried the declared one (`x-amz-checksum-sha256`).
//! Confirmation then reads only the head of the object, and need not copy it away
//! from whoever still holds the upload URL. Rows written before stay `false`: they are
//! read whole, as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Evidence {
    Table,
    Sha256Bound,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .add_column(
                        ColumnDef::new(Evidence::Sha256Bound)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Evidence::Table)
                    .drop_column(Evidence::Sha256Bound)
                    .take(),
            )
            .await
    }
}
