//! `campaign`: a campaign season (专项行动, e.g. 秸秆禁烧 in autumn) — a region, local
//! dates, its categories (`campaign_category`) and tighter time limits
//! (`campaign_time_limit`) that new cases of those categories in the region take while
//! it runs.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `campaign`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "campaign")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Name, e.g. 2026年秋季秸秆禁烧专项行动.
    pub name: String,
    /// The county or township it covers.
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    /// First local (Asia/Shanghai) day, included.
    pub starts_on: Date,
    /// Last local day, included.
    pub ends_on: Date,
    /// When it was ended early; it runs no longer from this instant.
    pub ended_at: Option<DateTimeUtc>,
    /// Patrols required per village grid per day, when the campaign asks for them.
    pub patrols_per_grid_per_day: Option<i32>,
    /// The county staff member who created it.
    pub created_by: i64,
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
    #[sea_orm(has_many = "super::campaign_category::Entity")]
    Categories,
}

impl Related<super::campaign_category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Categories.def()
    }
}

impl Related<super::region::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Region.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
