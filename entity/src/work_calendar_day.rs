//! `work_calendar_day`: an exception to the Monday–Friday working week —
//! a public holiday, or a make-up working day (调休) — used for
//! working-time deadlines.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `work_calendar_day`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "work_calendar_day")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The calendar day (Asia/Shanghai), unique.
    #[sea_orm(unique)]
    pub day: Date,
    /// Whether the day is worked.
    pub workday: bool,
    /// Why (e.g. 国庆节).
    pub name: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
