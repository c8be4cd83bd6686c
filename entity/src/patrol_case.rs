//! `patrol_case`: a case reported during a patrol (a case links to at most one).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `patrol_case`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol_case")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub case_id: i64,
    pub patrol_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
