//! `case`: anything that must be tracked to closure — a public tip-off, a
//! patrol finding, a scheduled or random inspection task, an Open311
//! request. Holds the current state; the history is in `case_event`.
//! `version` guards concurrent updates (conditional `UPDATE … WHERE version`).
//! Note that `case` is an SQL keyword: quote it in hand-written SQL.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `case`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "case")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Human case number, unique.
    #[sea_orm(unique)]
    pub number: String,
    /// Unguessable code a tipster uses to follow a tip-off, unique.
    #[sea_orm(unique)]
    pub tracking_code: Option<String>,
    /// `TIP`, `PATROL`, `TASK`, `RANDOM` or `OPEN311`.
    pub source: crate::enums::CaseSource,
    pub category_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// `PENDING`, `ASSIGNED`, `IN_PROGRESS`, `SUBMITTED`, `CLOSED` or `REJECTED`.
    pub status: crate::enums::CaseStatus,
    pub priority: crate::enums::Priority,
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    pub lat: f64,
    pub lng: f64,
    pub accuracy_m: Option<f64>,
    /// The location lies outside every village grid cell.
    pub outside_grid: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub address: Option<String>,
    /// The tipster who reported it (source `TIP`).
    pub tipster_id: Option<i64>,
    /// The staff member who reported it (e.g. on patrol).
    pub reporter_id: Option<i64>,
    pub created_by: Option<i64>,
    pub assignee_id: Option<i64>,
    pub site_id: Option<i64>,
    /// The case this one was judged a duplicate of.
    pub duplicate_of: Option<i64>,
    /// The case this one was merged into.
    pub merged_into: Option<i64>,
    pub reject_reason: Option<crate::enums::RejectReason>,
    pub rework_count: i32,
    pub escalation_level: i32,
    /// Optimistic-concurrency version, starting at 1.
    pub version: i32,
    pub accepted_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub submitted_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    /// When the case was first submitted for verification; kept when it is returned
    /// for rework (unlike `submitted_at`), for the on-time handling indicators.
    pub first_submitted_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    /// Deadline of the on-site check-in, once the case is filed.
    pub onsite_due_at: Option<DateTimeUtc>,
    /// When the warning about `due_at` goes out.
    pub warn_at: Option<DateTimeUtc>,
    /// When the warning about `onsite_due_at` goes out.
    pub onsite_warn_at: Option<DateTimeUtc>,
    /// The text check of a tip-off's words (null for staff's cases).
    pub text_check: Option<crate::enums::TextCheck>,
    /// When the deadline clock was paused, if it is.
    pub parked_at: Option<DateTimeUtc>,
    /// Total seconds the deadline clock has been paused.
    pub parked_seconds: i64,
    pub extended_count: i32,
    pub checkin_lat: Option<f64>,
    pub checkin_lng: Option<f64>,
    pub checkin_distance_m: Option<f64>,
    /// The check-in was farther than the category's radius.
    pub checkin_far: bool,
    /// The tipster's rating of the outcome.
    pub rating: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub rating_comment: Option<String>,
    pub rated_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The campaign (专项行动) whose time limits the case took when it came in.
    pub campaign_id: Option<i64>,
}

/// Relations of a case. It refers to `app_user` three times (reporter,
/// creator, assignee), so there is no `Related<app_user::Entity>`: join
/// through the named relation, e.g. `Relation::Assignee`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::category::Entity",
        from = "Column::CategoryId",
        to = "super::category::Column::Id",
        on_delete = "Restrict"
    )]
    Category,
    #[sea_orm(
        belongs_to = "super::region::Entity",
        from = "Column::RegionId",
        to = "super::region::Column::Id",
        on_delete = "Restrict"
    )]
    Region,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::TipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Restrict"
    )]
    Tipster,
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::ReporterId",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Reporter,
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::CreatedBy",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Creator,
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::AssigneeId",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Assignee,
    #[sea_orm(
        belongs_to = "super::supervised_site::Entity",
        from = "Column::SiteId",
        to = "super::supervised_site::Column::Id",
        on_delete = "Restrict"
    )]
    Site,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::DuplicateOf",
        to = "Column::Id",
        on_delete = "Restrict"
    )]
    DuplicateOf,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::MergedInto",
        to = "Column::Id",
        on_delete = "Restrict"
    )]
    MergedInto,
    #[sea_orm(has_many = "super::case_event::Entity")]
    Event,
    #[sea_orm(has_many = "super::evidence::Entity")]
    Evidence,
    #[sea_orm(has_many = "super::case_follower::Entity")]
    Follower,
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl Related<super::region::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Region.def()
    }
}

impl Related<super::tipster::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tipster.def()
    }
}

impl Related<super::supervised_site::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Site.def()
    }
}

impl Related<super::case_event::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Event.def()
    }
}

impl Related<super::evidence::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Evidence.def()
    }
}

impl Related<super::case_follower::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Follower.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
