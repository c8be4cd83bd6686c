//! `escalation_rule`: for a category (or every category, when `category_id` is null)
//! and a step with a time limit, when the warning goes out (a share of the time
//! allowed), whether a missed deadline escalates the case one tier, and who is told.
//! Audiences are names: `ASSIGNEE`, `GRID_INSPECTORS`, `TOWNSHIP_SUPERVISORS`,
//! `COUNTY_ADMINS`, `NEW_TIER` (the supervisors of the tier escalated to).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Step;

/// A row of `escalation_rule`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "escalation_rule")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub category_id: Option<i64>,
    pub step: Step,
    /// 0.8: warn when 80% of the time allowed has passed; 0: no warning.
    pub warn_share: f64,
    pub escalate: bool,
    #[sea_orm(column_type = "JsonBinary")]
    pub warn_notify: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub escalate_notify: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
