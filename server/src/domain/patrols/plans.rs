//! Patrol plans (巡查计划): which inspector patrols their grid — and which sites they
//! visit — how often and in which local time window (定点、定时、定人).
//!
//! County staff and township supervisors manage the plans of inspectors in their
//! region; an inspector reads their own. A plan outside the viewer's scope answers like
//! a missing one.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use entity::patrol_plan::{self, PatrolFrequency};
use entity::{app_user, patrol, supervised_site};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::domain::Services;
use crate::domain::access::{Role, StaffViewer, Viewer};
use crate::domain::grid::{path_is_within, subtree};
use crate::domain::idempotency::IdemKey;
use crate::domain::page::{Page, PageRequest};
use crate::domain::sla::SHANGHAI;
use crate::domain::uow;
use crate::error::{AppError, Msg};

/// Who may manage plans.
pub const MANAGERS: &[Role] = &[Role::CountyAdmin, Role::TownshipSupervisor];
/// Most active plans one inspector holds (also the bound of `myPatrolPlan`).
pub const MAX_PLANS_PER_INSPECTOR: u64 = 10;
/// Most active plans of one grid (also the bound of a coverage day's missed plans, which
/// keeps a township's month of coverage within the query cost limit).
pub const MAX_PLANS_PER_GRID: u64 = 10;
/// Most sites one plan lists.
pub const MAX_SITES_PER_PLAN: usize = 50;
/// Most times a month a `MONTHLY` plan falls due.
pub const MAX_TIMES_PER_MONTH: i32 = 28;

fn plan_not_found() -> AppError {
    AppError::not_found("巡查计划", "patrol plan")
}

/// A local (Asia/Shanghai) calendar day given as `YYYY-MM-DD`, between 2000 and 2099.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LocalDate(pub NaiveDate);

impl LocalDate {
    /// Parses `YYYY-MM-DD` for the input `field`.
    pub fn parse(s: &str, field: &str) -> Result<Self, AppError> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .filter(|d| crate::domain::dates::FILTER_YEARS.contains(&d.year()))
            .map(Self)
            .ok_or_else(|| {
                AppError::bad_input(
                    "INVALID_DATE",
                    Msg::new(
                        format!("日期应为 2000 到 2099 年间的 YYYY-MM-DD，收到 {}", clip(s)),
                        format!(
                            "a date must be YYYY-MM-DD between 2000 and 2099, got {}",
                            clip(s)
                        ),
                    ),
                )
                .at(field)
            })
    }

    /// The local day an instant falls on.
    pub fn of(t: DateTime<Utc>) -> Self {
        Self(t.with_timezone(&SHANGHAI).date_naive())
    }

    /// The instant `minutes` after this day's local midnight.
    pub fn at_minute(self, minutes: i32) -> DateTime<Utc> {
        let midnight = self.0.and_time(NaiveTime::MIN);
        let local = SHANGHAI
            .from_local_datetime(&midnight)
            .single()
            .unwrap_or_else(|| SHANGHAI.from_utc_datetime(&midnight));
        local.with_timezone(&Utc) + chrono::Duration::minutes(i64::from(minutes))
    }
}

impl std::fmt::Display for LocalDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

/// A local time of day `HH:MM` (`24:00` allowed as an end), in minutes after midnight.
pub fn parse_minute(s: &str, field: &str) -> Result<i32, AppError> {
    let bad = || {
        AppError::bad_input(
            "INVALID_TIME",
            Msg::new(
                format!("时间应为 HH:MM（00:00 到 24:00），收到 {}", clip(s)),
                format!("a time must be HH:MM (00:00 to 24:00), got {}", clip(s)),
            ),
        )
        .at(field)
    };
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=59).contains(&m) || !(0..=24).contains(&h) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// `HH:MM` of minutes after midnight.
pub fn format_minute(m: i32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The days of a month a plan due `n` times a month falls on: spread evenly from the
/// 1st (`n` = 4 in a 30-day month: the 1st, 8th, 16th and 23rd).
pub fn monthly_days(n: i32, days_in_month: i32) -> Vec<i32> {
    let n = n.clamp(1, days_in_month.max(1));
    (0..n).map(|k| k * days_in_month / n + 1).collect()
}

fn days_in_month(d: NaiveDate) -> i32 {
    let (y, m) = (d.year(), d.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt())
        .map_or(30, |l| l.day() as i32)
}

/// Whether `plan` falls due on local day `day` (within its dates, before it was
/// archived, on its schedule).
pub fn due_on(plan: &patrol_plan::Model, day: LocalDate) -> bool {
    let d = day.0;
    if d < plan.starts_on || plan.ends_on.is_some_and(|e| d > e) {
        return false;
    }
    if let Some(a) = plan.archived_at
        && d >= LocalDate::of(a).0
    {
        return false;
    }
    match plan.frequency {
        PatrolFrequency::Daily => true,
        PatrolFrequency::Weekly => plan.weekday == Some(d.weekday().number_from_monday() as i32),
        PatrolFrequency::Monthly => {
            monthly_days(plan.times_per_month, days_in_month(d)).contains(&(d.day() as i32))
        }
    }
}

/// The site ids a plan lists.
pub fn site_ids(plan: &patrol_plan::Model) -> Vec<i64> {
    serde_json::from_value(plan.site_ids.clone()).unwrap_or_default()
}

/// A plan as given by a client, not yet checked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanFields {
    /// The inspector.
    pub inspector_id: i64,
    /// Name.
    pub name: String,
    /// How often.
    pub frequency: PatrolFrequency,
    /// For `MONTHLY`.
    pub times_per_month: Option<i32>,
    /// For `WEEKLY`: 1 = Monday … 7 = Sunday.
    pub weekday: Option<i32>,
    /// `HH:MM`, local.
    pub window_start: String,
    /// `HH:MM`, local.
    pub window_end: String,
    /// Sites to visit.
    pub site_ids: Vec<i64>,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`.
    pub ends_on: Option<String>,
}

struct Checked {
    inspector: app_user::Model,
    region_id: i64,
    region_path: String,
    name: String,
    frequency: PatrolFrequency,
    times_per_month: i32,
    weekday: Option<i32>,
    window: (i32, i32),
    site_ids: Vec<i64>,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
}

/// An inspector the staff member may plan for, or `NOT_FOUND`.
async fn plannable_inspector<C: ConnectionTrait>(
    conn: &C,
    svc: &Services,
    staff: &StaffViewer,
    id: i64,
) -> Result<(app_user::Model, i64, String), AppError> {
    let not_found = || AppError::not_found("巡查员", "inspector");
    let u = app_user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|u| u.active && u.role == Role::Inspector)
        .ok_or_else(not_found)?;
    let grid = svc.grid.snapshot();
    let region = grid
        .get(u.region_id)
        .filter(|r| staff.covers(&r.path))
        .ok_or_else(not_found)?;
    let (rid, path) = (region.id, region.path.clone());
    Ok((u, rid, path))
}

async fn check(
    svc: &Services,
    staff: &StaffViewer,
    f: &PlanFields,
    keep_sites_of: Option<i64>,
) -> Result<Checked, AppError> {
    let (inspector, region_id, region_path) =
        plannable_inspector(&svc.db, svc, staff, f.inspector_id)
            .await
            .map_err(|e| e.at("inspectorId"))?;
    let name = f.name.trim();
    let n = name.chars().count();
    if !(2..=64).contains(&n) {
        return Err(AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                "计划名称长度应为 2 到 64 个字",
                "name must be 2–64 characters",
            ),
        )
        .at("name"));
    }
    let (times_per_month, weekday) = match f.frequency {
        PatrolFrequency::Daily => (1, None),
        PatrolFrequency::Weekly => match f.weekday {
            Some(w) if (1..=7).contains(&w) => (1, Some(w)),
            _ => {
                return Err(AppError::bad_input(
                    "INVALID_WEEKDAY",
                    Msg::new(
                        "每周巡查需指定星期几（1 = 周一 … 7 = 周日）",
                        "a weekly plan needs weekday 1 (Monday) to 7 (Sunday)",
                    ),
                )
                .at("weekday"));
            }
        },
        PatrolFrequency::Monthly => match f.times_per_month {
            Some(t) if (1..=MAX_TIMES_PER_MONTH).contains(&t) => (t, None),
            _ => {
                return Err(AppError::bad_input(
                    "INVALID_FREQUENCY",
                    Msg::new(
                        format!("每月巡查次数应为 1 到 {MAX_TIMES_PER_MONTH}"),
                        format!("timesPerMonth must be 1–{MAX_TIMES_PER_MONTH}"),
                    ),
                )
                .at("timesPerMonth"));
            }
        },
    };
    let start = parse_minute(&f.window_start, "windowStart")?;
    let end = parse_minute(&f.window_end, "windowEnd")?;
    if end <= start {
        return Err(AppError::bad_input(
            "INVALID_WINDOW",
            Msg::new(
                "结束时间应晚于开始时间",
                "windowEnd must be after windowStart",
            ),
        )
        .at("windowEnd"));
    }
    let starts_on = LocalDate::parse(&f.starts_on, "startsOn")?.0;
    let ends_on = f
        .ends_on
        .as_deref()
        .map(|e| LocalDate::parse(e, "endsOn"))
        .transpose()?
        .map(|d| d.0);
    if ends_on.is_some_and(|e| e < starts_on) {
        return Err(AppError::bad_input(
            "INVALID_DATE",
            Msg::new(
                "结束日期不能早于开始日期",
                "endsOn must not be before startsOn",
            ),
        )
        .at("endsOn"));
    }
    let mut site_ids = f.site_ids.clone();
    site_ids.sort_unstable();
    site_ids.dedup();
    if site_ids.len() > MAX_SITES_PER_PLAN {
        return Err(AppError::bad_input(
            "TOO_MANY_SITES",
            Msg::new(
                format!("一个计划最多 {MAX_SITES_PER_PLAN} 个监管对象"),
                format!("a plan lists at most {MAX_SITES_PER_PLAN} sites"),
            ),
        )
        .at("siteIds"));
    }
    if !site_ids.is_empty() {
        let sites = supervised_site::Entity::find()
            .filter(supervised_site::Column::Id.is_in(site_ids.clone()))
            .all(&svc.db)
            .await?;
        let kept: Vec<i64> = match keep_sites_of {
            Some(pid) => patrol_plan::Entity::find_by_id(pid)
                .one(&svc.db)
                .await?
                .map(|p| self::site_ids(&p))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        for id in &site_ids {
            let s = sites
                .iter()
                .find(|s| s.id == *id)
                .filter(|s| staff.covers(&s.region_path))
                .ok_or_else(|| AppError::not_found("监管对象", "site").at("siteIds"))?;
            if !path_is_within(&s.region_path, &region_path) {
                return Err(AppError::bad_input(
                    "SITE_OUTSIDE_GRID",
                    Msg::new(
                        format!("监管对象 {} 不在该巡查员的网格内", s.name),
                        format!("site {} is outside the inspector's grid", s.id),
                    ),
                )
                .at("siteIds"));
            }
            if s.archived_at.is_some() && !kept.contains(id) {
                return Err(AppError::bad_input(
                    "SITE_ARCHIVED",
                    Msg::new(
                        format!("监管对象 {} 已归档", s.name),
                        format!("site {} is archived", s.id),
                    ),
                )
                .at("siteIds"));
            }
        }
    }
    Ok(Checked {
        inspector,
        region_id,
        region_path,
        name: name.to_owned(),
        frequency: f.frequency,
        times_per_month,
        weekday,
        window: (start, end),
        site_ids,
        starts_on,
        ends_on,
    })
}

async fn check_capacity<C: ConnectionTrait>(
    conn: &C,
    inspector_id: i64,
    region_id: i64,
    except: Option<i64>,
) -> Result<(), AppError> {
    let active = |col: patrol_plan::Column, v: i64| {
        let mut q = patrol_plan::Entity::find()
            .filter(col.eq(v))
            .filter(patrol_plan::Column::ArchivedAt.is_null());
        if let Some(id) = except {
            q = q.filter(patrol_plan::Column::Id.ne(id));
        }
        q
    };
    let mine = active(patrol_plan::Column::InspectorId, inspector_id)
        .count(conn)
        .await?;
    let grid = active(patrol_plan::Column::RegionId, region_id)
        .count(conn)
        .await?;
    if mine >= MAX_PLANS_PER_INSPECTOR || grid >= MAX_PLANS_PER_GRID {
        return Err(AppError::bad_input(
            "TOO_MANY_PLANS",
            Msg::new(
                format!(
                    "每名巡查员最多 {MAX_PLANS_PER_INSPECTOR} 个、每个网格最多 {MAX_PLANS_PER_GRID} 个有效计划，请先归档旧计划"
                ),
                format!(
                    "at most {MAX_PLANS_PER_INSPECTOR} active plans per inspector and {MAX_PLANS_PER_GRID} per grid; archive old ones first"
                ),
            ),
        )
        .at("inspectorId"));
    }
    Ok(())
}

/// Makes a plan for an inspector in the viewer's region (idempotent with a key).
pub async fn create(
    svc: &Services,
    viewer: &Viewer,
    fields: PlanFields,
    idempotency_key: Option<&str>,
) -> Result<patrol_plan::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "CREATE_PATROL_PLAN", &fields))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let c = check(svc, &staff, &fields, None).await?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                check_capacity(txn, c.inspector.id, c.region_id, None).await?;
                let now = clock.now();
                Ok(patrol_plan::ActiveModel {
                    inspector_id: Set(c.inspector.id),
                    region_id: Set(c.region_id),
                    region_path: Set(c.region_path),
                    name: Set(c.name),
                    frequency: Set(c.frequency),
                    times_per_month: Set(c.times_per_month),
                    weekday: Set(c.weekday),
                    window_start_min: Set(c.window.0),
                    window_end_min: Set(c.window.1),
                    site_ids: Set(serde_json::json!(c.site_ids)),
                    starts_on: Set(c.starts_on),
                    ends_on: Set(c.ends_on),
                    archived_at: Set(None),
                    created_by: Set(staff.user_id),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?)
            })
        }),
    )
    .await
}

/// Changes to a plan; `None` leaves a field as it is. The inspector stays: to hand a
/// grid to someone else, archive the plan and make a new one.
#[derive(Debug, Clone, Default)]
pub struct PlanPatch {
    /// New name.
    pub name: Option<String>,
    /// New frequency.
    pub frequency: Option<PatrolFrequency>,
    /// New times a month.
    pub times_per_month: Option<i32>,
    /// New weekday.
    pub weekday: Option<i32>,
    /// New window start.
    pub window_start: Option<String>,
    /// New window end.
    pub window_end: Option<String>,
    /// New sites.
    pub site_ids: Option<Vec<i64>>,
    /// New first day.
    pub starts_on: Option<String>,
    /// New last day (empty: none).
    pub ends_on: Option<String>,
}

/// A plan the viewer may read (inspectors: their own), or `NOT_FOUND`.
async fn readable<C: ConnectionTrait>(
    conn: &C,
    staff: &StaffViewer,
    id: i64,
) -> Result<patrol_plan::Model, AppError> {
    patrol_plan::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|p| visible(staff, p))
        .ok_or_else(plan_not_found)
}

fn visible(staff: &StaffViewer, p: &patrol_plan::Model) -> bool {
    match staff.role {
        Role::Inspector => p.inspector_id == staff.user_id,
        _ => staff.covers(&p.region_path),
    }
}

/// One plan within the viewer's scope.
pub async fn get(svc: &Services, viewer: &Viewer, id: i64) -> Result<patrol_plan::Model, AppError> {
    readable(&svc.db, viewer.staff()?, id).await
}

/// Changes a plan in the viewer's region; archived plans are read-only.
pub async fn update(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
    patch: PlanPatch,
) -> Result<patrol_plan::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let plan = readable(&svc.db, &staff, id).await?;
    if plan.archived_at.is_some() {
        return Err(AppError::InvalidTransition(Msg::new(
            "该巡查计划已归档，不能修改",
            "the patrol plan is archived and cannot be changed",
        )));
    }
    let fields = PlanFields {
        inspector_id: plan.inspector_id,
        name: patch.name.unwrap_or_else(|| plan.name.clone()),
        frequency: patch.frequency.unwrap_or(plan.frequency),
        times_per_month: patch.times_per_month.or(Some(plan.times_per_month)),
        weekday: patch.weekday.or(plan.weekday),
        window_start: patch
            .window_start
            .unwrap_or_else(|| format_minute(plan.window_start_min)),
        window_end: patch
            .window_end
            .unwrap_or_else(|| format_minute(plan.window_end_min)),
        site_ids: patch.site_ids.unwrap_or_else(|| site_ids(&plan)),
        starts_on: patch
            .starts_on
            .unwrap_or_else(|| LocalDate(plan.starts_on).to_string()),
        ends_on: match patch.ends_on {
            Some(e) if e.trim().is_empty() => None,
            Some(e) => Some(e),
            None => plan.ends_on.map(|d| LocalDate(d).to_string()),
        },
    };
    let c = check(svc, &staff, &fields, Some(plan.id)).await?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let mut am: patrol_plan::ActiveModel = plan.into();
                am.name = Set(c.name);
                am.frequency = Set(c.frequency);
                am.times_per_month = Set(c.times_per_month);
                am.weekday = Set(c.weekday);
                am.window_start_min = Set(c.window.0);
                am.window_end_min = Set(c.window.1);
                am.site_ids = Set(serde_json::json!(c.site_ids));
                am.starts_on = Set(c.starts_on);
                am.ends_on = Set(c.ends_on);
                am.updated_at = Set(clock.now());
                Ok(am.update(txn).await?)
            })
        }),
    )
    .await
}

/// Archives a plan in the viewer's region: no longer due from today on, kept with its
/// patrols. Archiving an archived plan changes nothing.
pub async fn archive(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<patrol_plan::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let plan = readable(&svc.db, &staff, id).await?;
    if plan.archived_at.is_some() {
        return Ok(plan);
    }
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let mut am: patrol_plan::ActiveModel = plan.into();
                am.archived_at = Set(Some(now));
                am.updated_at = Set(now);
                Ok(am.update(txn).await?)
            })
        }),
    )
    .await
}

/// Filters of `patrolPlans`.
#[derive(Debug, Clone, Default)]
pub struct PlanFilter {
    /// Only plans of grids within this region.
    pub region_id: Option<i64>,
    /// Only this inspector's plans.
    pub inspector_id: Option<i64>,
    /// Archived plans too.
    pub include_archived: bool,
}

/// The plans within the viewer's scope (inspectors: their own), newest first.
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    filter: PlanFilter,
    page: PageRequest,
) -> Result<Page<patrol_plan::Model>, AppError> {
    let staff = viewer.staff()?;
    let mut q = patrol_plan::Entity::find()
        .filter(subtree(patrol_plan::Column::RegionPath, &staff.region_path));
    if staff.role == Role::Inspector {
        q = q.filter(patrol_plan::Column::InspectorId.eq(staff.user_id));
    }
    if let Some(rid) = filter.region_id {
        let path = super::region_in_scope(svc, staff, rid)?;
        q = q.filter(subtree(patrol_plan::Column::RegionPath, &path));
    }
    if let Some(i) = filter.inspector_id {
        q = q.filter(patrol_plan::Column::InspectorId.eq(i));
    }
    if !filter.include_archived {
        q = q.filter(patrol_plan::Column::ArchivedAt.is_null());
    }
    if let Some(after) = page.after {
        q = q.filter(patrol_plan::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(patrol_plan::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// One plan due on a day, for the inspector's app.
#[derive(Debug, Clone)]
pub struct DuePlan {
    /// The plan.
    pub plan: patrol_plan::Model,
    /// The day.
    pub date: LocalDate,
    /// Start of the window that day.
    pub window_start: DateTime<Utc>,
    /// End of the window that day.
    pub window_end: DateTime<Utc>,
    /// A patrol for this plan was started that day.
    pub done: bool,
}

/// What is due on `date` (local) for the viewer: their plans falling due that day, in
/// window order, each with whether a patrol for it was started that day.
pub async fn due_for_viewer(
    svc: &Services,
    viewer: &Viewer,
    date: &str,
) -> Result<Vec<DuePlan>, AppError> {
    let staff = viewer.staff()?;
    let day = LocalDate::parse(date, "date")?;
    let plans = patrol_plan::Entity::find()
        .filter(patrol_plan::Column::InspectorId.eq(staff.user_id))
        .filter(patrol_plan::Column::StartsOn.lte(day.0))
        .order_by_asc(patrol_plan::Column::Id)
        .all(&svc.db)
        .await?;
    let due: Vec<_> = plans.into_iter().filter(|p| due_on(p, day)).collect();
    let ids: Vec<i64> = due.iter().map(|p| p.id).collect();
    let done: Vec<Option<i64>> = if ids.is_empty() {
        Vec::new()
    } else {
        patrol::Entity::find()
            .select_only()
            .column(patrol::Column::PlanId)
            .filter(patrol::Column::PlanId.is_in(ids))
            .filter(patrol::Column::LocalDate.eq(day.0))
            .into_tuple()
            .all(&svc.db)
            .await?
    };
    let mut out: Vec<DuePlan> = due
        .into_iter()
        .map(|p| DuePlan {
            date: day,
            window_start: day.at_minute(p.window_start_min),
            window_end: day.at_minute(p.window_end_min),
            done: done.contains(&Some(p.id)),
            plan: p,
        })
        .collect();
    out.sort_by_key(|d| (d.window_start, d.plan.id));
    out.truncate(usize::try_from(MAX_PLANS_PER_INSPECTOR).unwrap_or(10));
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn monthly_days_spread_over_the_month() {
        assert_eq!(monthly_days(1, 31), vec![1]);
        assert_eq!(monthly_days(2, 30), vec![1, 16]);
        assert_eq!(monthly_days(4, 30), vec![1, 8, 16, 23]);
        assert_eq!(monthly_days(28, 28).len(), 28);
        assert_eq!(monthly_days(28, 28)[27], 28);
    }

    #[test]
    fn times_and_dates_parse_strictly() {
        assert_eq!(parse_minute("08:30", "t").unwrap(), 510);
        assert_eq!(parse_minute("24:00", "t").unwrap(), 1440);
        for bad in ["8", "24:01", "25:00", "12:60", "aa:bb", ""] {
            assert!(parse_minute(bad, "t").is_err(), "{bad}");
        }
        assert!(LocalDate::parse("2026-12-04", "d").is_ok());
        for bad in ["2026-13-01", "9999-12-31", "04/12/2026", ""] {
            assert!(LocalDate::parse(bad, "d").is_err(), "{bad}");
        }
        let d = LocalDate::parse("2026-12-04", "d").unwrap();
        assert_eq!(
            d.at_minute(8 * 60).to_rfc3339(),
            "2026-12-04T00:00:00+00:00"
        );
        assert_eq!(
            days_in_month(NaiveDate::from_ymd_opt(2028, 2, 3).unwrap()),
            29
        );
    }
}
