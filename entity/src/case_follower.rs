//! `case_follower`: a tipster following a case, to be notified of its
//! progress. Unique per (case, tipster); merging a case moves its followers.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `case_follower`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "case_follower")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub tipster_id: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::case::Entity",
        from = "Column::CaseId",
        to = "super::case::Column::Id",
        on_delete = "Cascade"
    )]
    Case,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::TipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Restrict"
    )]
    Tipster,
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

impl ActiveModelBehavior for ActiveModel {}
