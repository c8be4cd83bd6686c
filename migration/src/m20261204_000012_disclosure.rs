//! 一公开: whether closed cases of a category are published (`publicCases`). Every
//! category is by default; a county marks sensitive ones not publishable.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Category {
    Table,
    Publishable,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Category::Table)
                    .add_column(
                        ColumnDef::new(Category::Publishable)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Category::Table)
                    .drop_column(Category::Publishable)
                    .take(),
            )
            .await
    }
}
