//! Cases: everything that must be tracked to closure — public tip-offs, problems found
//! on patrol, tasks from supervisors — with an append-only event trail.
//!
//! - [`intake`]: how cases come in (tip-off, patrol report, task), routing and duplicates.
//! - [`workflow`]: the state machine, who may do what, conflicts and idempotency.
//! - this module: the vocabulary, scope rules and queries.

pub mod intake;
pub mod public;
pub mod workflow;

use chrono::{DateTime, Utc};
use entity::{case, case_event, case_follower};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::access::{Role, Viewer};
use super::grid::{path_is_within, subtree};
use super::page::{Page, PageRequest};
use crate::error::{AppError, Msg};

pub use entity::enums::{CaseSource, CaseStatus, Priority, RejectReason};

/// Most events `events` returns (the latest ones); a case with more is anomalous, and
/// the query cost model counts every event list at this size.
pub const MAX_EVENTS_LISTED: u64 = 500;
/// Most tip-offs `myTips` returns (newest first).
pub const MY_TIPS_LISTED: u64 = 200;
/// Most possible duplicates listed under one case.
pub const MAX_DUPLICATES_LISTED: u64 = 100;

/// The clock of an open case with a deadline at `now`: time left (negative when
/// overdue, frozen while parked) and whether it is overdue; `None` when the case is
/// finished or has no deadline.
pub fn clock(c: &case::Model, now: DateTime<Utc>) -> Option<(chrono::Duration, bool)> {
    let open = c.status.is_open();
    let due = c.due_at.filter(|_| open)?;
    Some(crate::domain::sla::remaining(due, now, c.parked_at))
}

pub(crate) fn case_not_found() -> AppError {
    AppError::not_found("案件", "case")
}

/// Whether a staff viewer may see a case: county and township staff everything under
/// their region; an inspector their own grid and whatever is assigned to them.
pub fn staff_can_see(viewer: &Viewer, c: &case::Model) -> bool {
    match viewer {
        Viewer::Staff(s) => match s.role {
            Role::CountyAdmin | Role::TownshipSupervisor => {
                path_is_within(&c.region_path, &s.region_path)
            }
            Role::Inspector => c.region_id == s.region_id || c.assignee_id == Some(s.user_id),
            Role::Public => false,
        },
        _ => false,
    }
}

/// A case the staff viewer may see, or `NOT_FOUND` (missing and out of scope look alike).
pub async fn get_for_staff(
    db: &DatabaseConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<case::Model, AppError> {
    viewer.staff()?;
    let c = case::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(case_not_found)?;
    if staff_can_see(viewer, &c) {
        Ok(c)
    } else {
        Err(case_not_found())
    }
}

/// Filters of `cases`.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only these statuses.
    pub status: Vec<CaseStatus>,
    /// Only this category.
    pub category_code: Option<String>,
    /// Only cases within this region's subtree.
    pub region_id: Option<i64>,
    /// Only cases assigned to this user.
    pub assignee_id: Option<i64>,
    /// Only this source.
    pub source: Option<CaseSource>,
    /// Only overdue (true) or not overdue (false) open cases.
    pub overdue: Option<bool>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Number, title or description contains this text.
    pub text: Option<String>,
}

/// The cases a staff member may see, as a query condition (the rule of
/// [`staff_can_see`]): county and township staff their region's subtree, an inspector
/// their grid and what is assigned to them.
pub(crate) fn visible_to(staff: &crate::domain::access::StaffViewer) -> Condition {
    match staff.role {
        Role::CountyAdmin | Role::TownshipSupervisor => {
            subtree(case::Column::RegionPath, &staff.region_path)
        }
        Role::Inspector | Role::Public => Condition::any()
            .add(case::Column::RegionId.eq(staff.region_id))
            .add(case::Column::AssigneeId.eq(staff.user_id)),
    }
}

/// Open cases past their deadline and not parked (`true`), or all others (`false`).
fn overdue_condition(overdue: bool, now: DateTime<Utc>) -> Condition {
    if overdue {
        Condition::all()
            .add(case::Column::Status.is_in(CaseStatus::OPEN))
            .add(case::Column::DueAt.lt(now))
            .add(case::Column::ParkedAt.is_null())
    } else {
        Condition::any()
            .add(case::Column::Status.is_not_in(CaseStatus::OPEN))
            .add(case::Column::DueAt.is_null())
            .add(case::Column::DueAt.gte(now))
            .add(case::Column::ParkedAt.is_not_null())
    }
}

/// The cases the staff viewer may see, filtered, newest first, one page (keyset on id).
pub async fn list(
    svc: &crate::domain::Services,
    viewer: &Viewer,
    filter: CaseFilter,
    page: PageRequest,
) -> Result<Page<case::Model>, AppError> {
    let staff = viewer.staff()?;
    let (db, grid) = (&svc.db, &*svc.grid.snapshot());
    let mut q = case::Entity::find().filter(visible_to(staff));
    if let Some(rid) = filter.region_id {
        let r = staff.narrowing_region(grid, rid)?;
        q = q.filter(subtree(case::Column::RegionPath, &r.path));
    }
    if !filter.status.is_empty() {
        q = q.filter(case::Column::Status.is_in(filter.status.iter().map(|s| s.as_str())));
    }
    if let Some(code) = &filter.category_code {
        let cat = entity::category::Entity::find()
            .filter(entity::category::Column::Code.eq(code))
            .one(db)
            .await?
            .ok_or_else(|| AppError::not_found("案件类别", "category"))?;
        q = q.filter(case::Column::CategoryId.eq(cat.id));
    }
    if let Some(a) = filter.assignee_id {
        q = q.filter(case::Column::AssigneeId.eq(a));
    }
    if let Some(s) = filter.source {
        q = q.filter(case::Column::Source.eq(s.as_str()));
    }
    if let Some(overdue) = filter.overdue {
        q = q.filter(overdue_condition(overdue, svc.clock.now()));
    }
    if let Some(f) = filter.created_from {
        let f = crate::domain::dates::filter_date(f, "createdFrom")?;
        q = q.filter(case::Column::CreatedAt.gte(f));
    }
    if let Some(t) = filter.created_to {
        let t = crate::domain::dates::filter_date(t, "createdTo")?;
        q = q.filter(case::Column::CreatedAt.lt(t));
    }
    if let Some(t) = crate::domain::page::like_fragment(filter.text.as_deref()) {
        q = q.filter(
            Condition::any()
                .add(case::Column::Number.contains(&t))
                .add(case::Column::Title.contains(&t))
                .add(case::Column::Description.contains(&t)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(case::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// The inspector's open work: cases assigned to them, most urgent first.
pub async fn my_tasks(
    db: &DatabaseConnection,
    viewer: &Viewer,
    page: PageRequest,
) -> Result<Page<case::Model>, AppError> {
    let staff = viewer.staff()?;
    let mut q = case::Entity::find()
        .filter(case::Column::AssigneeId.eq(staff.user_id))
        .filter(case::Column::Status.is_in(["ASSIGNED", "IN_PROGRESS", "SUBMITTED"]));
    if let Some(after) = page.after {
        q = q.filter(case::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// The tip-offs a member of the public submitted or follows, newest first.
pub async fn my_tips(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> Result<Vec<case::Model>, AppError> {
    let me = viewer.public()?;
    // One statement: the followed cases as a subquery rather than a list read first.
    let followed = sea_orm::sea_query::Query::select()
        .column(case_follower::Column::CaseId)
        .from(case_follower::Entity)
        .and_where(Expr::col(case_follower::Column::TipsterId).eq(me.tipster_id))
        .to_owned();
    Ok(case::Entity::find()
        .filter(
            Condition::any()
                .add(case::Column::TipsterId.eq(me.tipster_id))
                .add(case::Column::Id.in_subquery(followed)),
        )
        .order_by_desc(case::Column::Id)
        .limit(MY_TIPS_LISTED)
        .all(db)
        .await?)
}

/// A case by its tracking code (the tipster's receipt). Anyone holding the code may
/// see the public view; an unknown code is `NOT_FOUND`.
pub async fn by_tracking_code<C: sea_orm::ConnectionTrait>(
    db: &C,
    code: &str,
) -> Result<case::Model, AppError> {
    let code = normalise_tracking_code(code)?;
    let c = case::Entity::find()
        .filter(case::Column::TrackingCode.eq(code))
        .one(db)
        .await?
        .ok_or_else(case_not_found)?;
    // A merged tip-off is followed on the surviving case.
    match c.merged_into {
        Some(target) => case::Entity::find_by_id(target)
            .one(db)
            .await?
            .ok_or_else(case_not_found),
        None => Ok(c),
    }
}

/// Upper-cases and strips separators; `BAD_INPUT` for anything that cannot be a code.
pub fn normalise_tracking_code(code: &str) -> Result<String, AppError> {
    let c: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if c.len() == 12 && c.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(format!("{}-{}-{}", &c[0..4], &c[4..8], &c[8..12]))
    } else {
        Err(AppError::bad_input(
            "INVALID_TRACKING_CODE",
            Msg::new("查询码格式不正确", "malformed tracking code"),
        )
        .at("trackingCode"))
    }
}

/// The events of a case in order (the latest [`MAX_EVENTS_LISTED`]).
pub async fn events(
    db: &DatabaseConnection,
    case_id: i64,
) -> Result<Vec<case_event::Model>, AppError> {
    let mut rows = case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(case_id))
        .order_by_desc(case_event::Column::Seq)
        .limit(MAX_EVENTS_LISTED)
        .all(db)
        .await?;
    rows.reverse();
    Ok(rows)
}

/// Open cases linked to `case_id` as possible duplicates that the viewer may see.
pub async fn possible_duplicates(
    db: &DatabaseConnection,
    viewer: &Viewer,
    case_id: i64,
) -> Result<Vec<case::Model>, AppError> {
    let rows = case::Entity::find()
        .filter(case::Column::DuplicateOf.eq(case_id))
        .filter(case::Column::MergedInto.is_null())
        .order_by_asc(case::Column::Id)
        .limit(MAX_DUPLICATES_LISTED)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|c| staff_can_see(viewer, c))
        .collect())
}

/// The latest event of each case, in one query (for list pages).
pub async fn last_events(
    db: &DatabaseConnection,
    case_ids: &[i64],
) -> Result<std::collections::HashMap<i64, case_event::Model>, AppError> {
    // One statement: the event whose seq is the highest of its case (a correlated
    // subquery on the unique (case_id, seq) index), on both databases.
    if case_ids.is_empty() {
        return Ok(Default::default());
    }
    let m = sea_orm::sea_query::Alias::new("m");
    let latest = sea_orm::sea_query::Query::select()
        .expr(Func::max(Expr::col((m.clone(), case_event::Column::Seq))))
        .from_as(case_event::Entity, m.clone())
        .and_where(
            Expr::col((m, case_event::Column::CaseId))
                .equals((case_event::Entity, case_event::Column::CaseId)),
        )
        .to_owned();
    let backend = db.get_database_backend();
    Ok(case_event::Entity::find()
        .filter(super::page::id_in(
            backend,
            case_event::Column::CaseId,
            case_ids,
        ))
        .filter(case_event::Column::Seq.in_subquery(latest))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.case_id, e))
        .collect())
}
