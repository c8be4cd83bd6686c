//! `case_event`: the append-only audit trail of a case. Events are numbered
//! 1, 2, 3… per case (`seq`, unique with `case_id`); each records who did
//! what, in which role, and the status change if any.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `case_event`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "case_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    /// Position of the event in its case's trail, from 1.
    pub seq: i32,
    /// The staff member who acted, if a staff member did.
    pub actor_id: Option<i64>,
    /// The tipster who acted, if a tipster did.
    pub actor_tipster_id: Option<i64>,
    /// Role of the actor at the time (`SYSTEM` for automatic actions).
    pub actor_role: String,
    pub action: String,
    pub from_status: Option<crate::enums::CaseStatus>,
    pub to_status: Option<crate::enums::CaseStatus>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    /// Action-specific details.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub data: Option<Json>,
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
        belongs_to = "super::app_user::Entity",
        from = "Column::ActorId",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Actor,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::ActorTipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Restrict"
    )]
    ActorTipster,
}

impl Related<super::case::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Case.def()
    }
}

impl Related<super::app_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl Related<super::tipster::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ActorTipster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
