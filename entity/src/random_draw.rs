//! `random_draw`: one 双随机 draw — the inputs and the frame it drew from (as the exact
//! canonical JSON that was hashed), the seed, and the hash chaining it to the draw
//! before. The drawn sites are in `random_draw_site`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `random_draw`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "random_draw")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The region drawn in (a township or village grid, or the county).
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    /// The inspection period (`2026`, `2026-H2`, `2026-Q4` or `2026-12`).
    pub period: String,
    /// When the draw was made (microsecond precision; part of the seed).
    pub drawn_at: DateTimeUtc,
    /// Who made it.
    pub drawn_by: i64,
    /// The hash of the draw before (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 seed of the generator.
    pub seed: String,
    /// Hex SHA-256 over everything of the draw; the next draw's `prev_hash`.
    pub hash: String,
    /// The canonical JSON of the inputs.
    #[sea_orm(column_type = "Text")]
    pub inputs: String,
    /// The canonical JSON of the frame: candidate sites, sites already drawn in the
    /// period, the inspector pool.
    #[sea_orm(column_type = "Text")]
    pub frame: String,
    /// Every candidate had been drawn in the period already, so some were drawn again.
    pub pool_exhausted: bool,
    /// How many sites were drawn.
    pub site_count: i32,
    /// When targets and results were published (一公开).
    pub published_at: Option<DateTimeUtc>,
    /// Who published them.
    pub published_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::random_draw_site::Entity")]
    Site,
}

impl Related<super::random_draw_site::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Site.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
