//! `random_draw_site`: a site drawn by a `random_draw`, the inspectors drawn for it and
//! the inspection task (case, source `RANDOM`) created for them.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `random_draw_site`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "random_draw_site")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub draw_id: i64,
    /// Place in the draw's selection, from 0.
    pub seq: i32,
    pub site_id: i64,
    /// Copy of the draw's period (a site is drawn once per period).
    pub period: String,
    /// JSON array of the drawn inspectors' ids, the task's assignee first.
    #[sea_orm(column_type = "Text")]
    pub inspector_ids: String,
    /// The inspection task.
    pub case_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::random_draw::Entity",
        from = "Column::DrawId",
        to = "super::random_draw::Column::Id",
        on_delete = "Restrict"
    )]
    Draw,
}

impl Related<super::random_draw::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Draw.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
