//! `patrol`: one patrol walked by one inspector in their village grid, with what its
//! merged, time-ordered track adds up to (points, distance, flags of implausible data).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `patrol`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Who walked it.
    pub inspector_id: i64,
    /// The plan it fulfils, if any.
    pub plan_id: Option<i64>,
    /// The inspector's village grid.
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    /// The local (Asia/Shanghai) day it started.
    pub local_date: Date,
    /// When it started (the client's time when recorded offline).
    pub started_at: DateTimeUtc,
    /// When it ended; null while open.
    pub ended_at: Option<DateTimeUtc>,
    /// Distinct track points.
    pub point_count: i32,
    /// Metres walked along the merged, time-ordered track.
    pub distance_m: f64,
    /// Time of the first track point.
    pub first_point_at: Option<DateTimeUtc>,
    /// Time of the last track point.
    pub last_point_at: Option<DateTimeUtc>,
    /// Two consecutive points imply more than 120 km/h.
    pub flag_speed: bool,
    /// A client time lies in the future.
    pub flag_future: bool,
    /// A point lies far outside the inspector's grid.
    pub flag_outside: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
