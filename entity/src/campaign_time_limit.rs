//! `campaign_time_limit`: a campaign's time limit for one step at a priority — the same
//! shape as `category_time_limit`. Unique per (campaign, priority, step).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `campaign_time_limit`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "campaign_time_limit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub priority: crate::enums::Priority,
    pub step: crate::enums::Step,
    pub amount: i32,
    pub unit: crate::enums::LimitUnit,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::campaign::Entity",
        from = "Column::CampaignId",
        to = "super::campaign::Column::Id",
        on_delete = "Cascade"
    )]
    Campaign,
}

impl Related<super::campaign::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Campaign.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
