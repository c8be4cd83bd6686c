//! `supervised_site`: a place inspected on a schedule — a farm, a building
//! site, an enterprise, a well site, an outfall — inside one region.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `supervised_site`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "supervised_site")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `FARM`, `CONSTRUCTION`, `ENTERPRISE`, `WELL_SITE`, `OUTFALL` or `OTHER`.
    pub kind: String,
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    pub lat: f64,
    pub lng: f64,
    #[sea_orm(column_type = "Text", nullable)]
    pub address: Option<String>,
    pub risk_level: String,
    pub inspect_every_days: i32,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::region::Entity",
        from = "Column::RegionId",
        to = "super::region::Column::Id",
        on_delete = "Restrict"
    )]
    Region,
}

impl Related<super::region::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Region.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
