//! `category_time_limit`: how long one step (e.g. accept, finish) of a case
//! of a category may take at a priority, in working hours/days or calendar
//! units. Unique per (category, priority, step).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `category_time_limit`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "category_time_limit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub category_id: i64,
    pub priority: crate::enums::Priority,
    pub step: crate::enums::Step,
    pub amount: i32,
    pub unit: crate::enums::LimitUnit,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::category::Entity",
        from = "Column::CategoryId",
        to = "super::category::Column::Id",
        on_delete = "Cascade"
    )]
    Category,
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
