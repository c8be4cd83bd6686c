//! `patrol_plan`: one inspector's standing duty to patrol their village grid — and,
//! when `site_ids` is not empty, to visit those sites — on a schedule, inside a local
//! (Asia/Shanghai) time window (定点、定时、定人).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// How often a plan falls due.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatrolFrequency {
    /// Every day.
    #[sea_orm(string_value = "DAILY")]
    Daily,
    /// Once a week, on `weekday`.
    #[sea_orm(string_value = "WEEKLY")]
    Weekly,
    /// `times_per_month` times a month, on days spread evenly over the month.
    #[sea_orm(string_value = "MONTHLY")]
    Monthly,
}

/// A row of `patrol_plan`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol_plan")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The inspector who patrols.
    pub inspector_id: i64,
    /// The village grid patrolled (the inspector's grid).
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    /// A name for people, e.g. 秸秆禁烧日巡.
    pub name: String,
    /// How often.
    pub frequency: PatrolFrequency,
    /// For `MONTHLY`: how many times a month (1 otherwise).
    pub times_per_month: i32,
    /// For `WEEKLY`: ISO weekday, 1 = Monday … 7 = Sunday.
    pub weekday: Option<i32>,
    /// Start of the window, minutes after local midnight.
    pub window_start_min: i32,
    /// End of the window, minutes after local midnight (after the start).
    pub window_end_min: i32,
    /// Sites to visit, a JSON array of `supervised_site.id`.
    #[sea_orm(column_type = "JsonBinary")]
    pub site_ids: Json,
    /// First local day the plan applies.
    pub starts_on: Date,
    /// Last local day the plan applies, if it ends.
    pub ends_on: Option<Date>,
    /// When the plan was archived (no longer due); null while active.
    pub archived_at: Option<DateTimeUtc>,
    /// The supervisor who made it.
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
