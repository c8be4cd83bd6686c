//! `tipster_subscription`: one-time WeChat subscribe-message grants a tipster gave
//! for a template and not yet used; `blocked` once WeChat answered "no grant" (43101)
//! until the tipster grants again.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `tipster_subscription`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tipster_subscription")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tipster_id: i64,
    pub template_id: String,
    pub remaining: i32,
    pub blocked: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
