//! `tipster_reveal`: the audit record of a staff member revealing a
//! tipster's identity for a case, with the stated reason.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `tipster_reveal`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tipster_reveal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub tipster_id: i64,
    /// The staff member who looked.
    pub actor_id: i64,
    #[sea_orm(column_type = "Text")]
    pub reason: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::case::Entity",
        from = "Column::CaseId",
        to = "super::case::Column::Id",
        on_delete = "Restrict"
    )]
    Case,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::TipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Restrict"
    )]
    Tipster,
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::ActorId",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Actor,
}

impl Related<super::case::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Case.def()
    }
}

impl Related<super::tipster::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tipster.def()
    }
}

impl Related<super::app_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
