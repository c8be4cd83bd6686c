//! `patrol_miss`: a plan that fell due on a local day and was not patrolled before its
//! window closed, recorded once (unique per plan and day) when supervisors are told.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `patrol_miss`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol_miss")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: i64,
    /// The local (Asia/Shanghai) day the plan was due.
    pub local_date: Date,
    /// When the supervisors were told.
    pub notified_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
