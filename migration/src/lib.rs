//! Schema migrations of gridwatch.
//!
//! Every migration is written with sea-orm-migration's schema builder so it
//! runs unchanged on SQLite and PostgreSQL, and every `up` has a `down` that
//! drops what it created in reverse order. Conventions shared by all tables:
//! `id` is a BIGINT identity (SQLite: `INTEGER PRIMARY KEY AUTOINCREMENT`, the
//! rowid alias), timestamps are `timestamp with time zone` in UTC (SQLite:
//! RFC 3339 text), JSON is `jsonb` (SQLite: text), binary is `bytea` (SQLite:
//! blob), and every foreign key and secondary index has an explicit name.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261128_000001_grid;
mod m20261128_000002_accounts;
mod m20261128_000003_cases;
mod m20261128_000004_infra;
mod m20261203_000005_supervision;
mod m20261203_000006_rate_limit;
mod m20261203_000007_evidence_purge;
mod m20261204_000008_case_change;
mod m20261204_000009_open311;
mod m20261204_000010_persisted_operation;
mod m20261204_000011_site_register;
mod m20261204_000012_disclosure;
mod m20261204_000013_patrols;
mod m20261204_000014_random_draws;
mod m20261204_000015_evaluation;
mod m20261204_000016_campaigns;
mod m20261204_000017_case_team;
mod m20261204_000019_case_probes;
mod m20261204_000020_cache_notices;
mod m20261205_000021_evidence_sha256_bound;
mod m20261206_000022_open_tasks_index;
mod m20261207_000023_case_period_indexes;
mod util;

/// All migrations of gridwatch, in the order they are applied.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_grid::Migration),
            Box::new(m20261128_000002_accounts::Migration),
            Box::new(m20261128_000003_cases::Migration),
            Box::new(m20261128_000004_infra::Migration),
            Box::new(m20261203_000005_supervision::Migration),
            Box::new(m20261203_000006_rate_limit::Migration),
            Box::new(m20261203_000007_evidence_purge::Migration),
            Box::new(m20261204_000008_case_change::Migration),
            Box::new(m20261204_000009_open311::Migration),
            Box::new(m20261204_000010_persisted_operation::Migration),
            Box::new(m20261204_000011_site_register::Migration),
            Box::new(m20261204_000012_disclosure::Migration),
            Box::new(m20261204_000013_patrols::Migration),
            Box::new(m20261204_000014_random_draws::Migration),
            Box::new(m20261204_000015_evaluation::Migration),
            Box::new(m20261204_000016_campaigns::Migration),
            Box::new(m20261204_000017_case_team::Migration),
            Box::new(m20261204_000019_case_probes::Migration),
            Box::new(m20261204_000020_cache_notices::Migration),
            Box::new(m20261205_000021_evidence_sha256_bound::Migration),
            Box::new(m20261206_000022_open_tasks_index::Migration),
            Box::new(m20261207_000023_case_period_indexes::Migration),
        ]
    }
}
