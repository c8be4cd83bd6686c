//! Indexes on the two case timestamps a period is counted by that had none of their own:
//!
//! - `idx_case_created_at` (created_at): `stats`' reports (cases created in the
//!   period), and the lists' and exports' `createdFrom`/`createdTo`;
//! - `idx_case_due_at` (due_at): `stats`' handling and closing counters, whose second
//!   branch is "not yet submitted / not closed, and the deadline fell in the period".
//!
//! Without them each of those statements read the whole case table: this year's county
//! figures took 63 ms with 10,000 cases, and 620 ms once ten years of history (990,000
//! closed cases) sat beside the same year. With them the year is reached through its own
//! rows whatever the history (`scripts/bench-stats.sh`, `HISTORY=`). `(region_path,
//! created_at)` cannot serve: the scope is "the region or below it", an `OR` of two
//! conditions on its first column.

use sea_orm_migration::prelude::*;

use crate::util::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Case {
    Table,
    CreatedAt,
    DueAt,
}

const INDEXES: [(&str, Case); 2] = [
    ("idx_case_created_at", Case::CreatedAt),
    ("idx_case_due_at", Case::DueAt),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in INDEXES {
            manager
                .create_index(index(name, Case::Table, [column]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Case::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
