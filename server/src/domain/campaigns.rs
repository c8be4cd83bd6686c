//! Campaign seasons (专项行动): for a while, in a county or township, cases of some
//! categories are handled under tighter time limits — 秸秆禁烧 in autumn, dust control
//! in spring.
//!
//! # Rules
//! - County staff (`COUNTY_ADMIN`) create, change and end campaigns of their county or
//!   of one of its townships; township supervisors read the campaigns that reach their
//!   township (their own township's and county-wide ones); nobody else reads them. A
//!   campaign outside the viewer's reach answers like a missing one (`NOT_FOUND`).
//! - A campaign **runs** from `startsOn 00:00` to the day after `endsOn, 00:00`
//!   (Asia/Shanghai, both days included), or until `endedAt` when it was ended early.
//! - Two campaigns **overlap** when their running times intersect, one's region
//!   contains the other's (the same region, or a county and one of its townships), and
//!   they share a category. Creating or moving a campaign onto an overlapping one is
//!   refused (`CONFLICT`): a new case can then match at most one campaign.
//! - While a campaign runs, a **new** case of one of its categories located in its
//!   region takes its limits and records the campaign (`case.campaign_id`). Per
//!   priority and step the case gets **the tighter limit**: the one whose deadline,
//!   counted on the work calendar from the moment the deadline is planned, comes
//!   first (the campaign's when equal). A step the campaign does not limit keeps the
//!   category's limit; a step only the campaign limits takes the campaign's. A case
//!   recorded under a campaign keeps that rule for the deadlines planned later in its
//!   life (filing a tip-off, resuming a parked case), even after the campaign ended.
//!   Cases that came in before the start or after the end, outside the region, or of
//!   other categories are untouched; changing or ending a campaign changes no case.
//! - The daily patrol requirement (patrols per village grid per day) is only stored and
//!   shown here; patrols are counted elsewhere.
//! - A campaign may change (name, dates, limits, patrol requirement) until it has
//!   ended; an ended campaign is read-only (`INVALID_TRANSITION`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use entity::{campaign, campaign_category, campaign_time_limit, case, category};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::category::{Priority, Step, TimeLimit};
use super::grid::{GridSnapshot, RegionLevel, RegionNode};
use super::sla::{self, WorkCalendar};
use super::uow;
use crate::error::{AppError, Msg};

/// Longest campaign name, in characters.
pub const MAX_NAME: usize = 100;
/// Longest campaign, in days.
pub const MAX_DAYS: i64 = 366;
/// Most categories of one campaign.
pub const MAX_CATEGORIES: usize = 50;
/// Most campaigns `campaigns` lists.
pub const MAX_LISTED: u64 = 200;
/// Highest daily patrol requirement per grid.
pub const MAX_PATROLS_PER_DAY: i32 = 24;
/// Largest amount of one time limit.
pub const MAX_LIMIT_AMOUNT: i32 = 1000;

/// Who may create, change and end campaigns.
const MANAGERS: &[Role] = &[Role::CountyAdmin];
/// Who may read them.
const READERS: &[Role] = &[Role::CountyAdmin, Role::TownshipSupervisor];

fn campaign_not_found() -> AppError {
    AppError::not_found("专项行动", "campaign")
}

/// A campaign with its categories and limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignView {
    /// The row.
    pub campaign: campaign::Model,
    /// Its categories' ids, ascending.
    pub category_ids: Vec<i64>,
    /// Its time limits, by priority then step.
    pub limits: Vec<campaign_time_limit::Model>,
}

/// Where a campaign stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignStatus {
    /// Not started yet.
    Upcoming,
    /// Running.
    Running,
    /// Over (its last day passed, or it was ended early).
    Ended,
}

impl CampaignView {
    /// The first instant it runs.
    pub fn starts_at(&self) -> DateTime<Utc> {
        day_start(self.campaign.starts_on)
    }

    /// The first instant it no longer runs.
    pub fn ends_at(&self) -> DateTime<Utc> {
        running_end(&self.campaign)
    }

    /// Where it stands at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> CampaignStatus {
        if now >= self.ends_at() {
            CampaignStatus::Ended
        } else if now < self.starts_at() {
            CampaignStatus::Upcoming
        } else {
            CampaignStatus::Running
        }
    }

    /// Its limits as time limits.
    pub fn time_limits(&self) -> Vec<TimeLimit> {
        self.limits.iter().map(time_limit).collect()
    }
}

fn time_limit(r: &campaign_time_limit::Model) -> TimeLimit {
    TimeLimit {
        priority: r.priority,
        step: r.step,
        amount: r.amount,
        unit: r.unit,
    }
}

/// `00:00` of a local day, in UTC.
fn day_start(d: NaiveDate) -> DateTime<Utc> {
    sla::to_utc(d.and_time(NaiveTime::MIN))
}

/// The first instant a campaign row no longer runs.
fn running_end(c: &campaign::Model) -> DateTime<Utc> {
    let end = day_start(c.ends_on) + Duration::days(1);
    c.ended_at.map_or(end, |e| e.min(end))
}

/// The local (Asia/Shanghai) date of an instant.
fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&sla::SHANGHAI).date_naive()
}

/// The paths of a region and of every region above it.
fn self_and_ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for part in path.split('/') {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(part);
        out.push(acc.clone());
    }
    out
}

/// Whether the viewer may see a campaign of region `path`: it lies in their region, or
/// their region lies in it (a county-wide campaign reaches a township).
fn reaches(staff: &StaffViewer, path: &str) -> bool {
    staff.meets(path)
}

/// The per-step tighter of two lists of limits, for deadlines planned at `now` (see
/// the module's rules): for each priority and step, the limit whose deadline from
/// `now` on `calendar` comes first, the campaign's when equal.
pub fn tighter(
    calendar: &WorkCalendar,
    category: &[TimeLimit],
    campaign: &[TimeLimit],
    now: DateTime<Utc>,
) -> Vec<TimeLimit> {
    let mut by_key: BTreeMap<(Priority, Step), TimeLimit> = BTreeMap::new();
    for l in category {
        by_key.insert((l.priority, l.step), *l);
    }
    for l in campaign {
        let key = (l.priority, l.step);
        let take = match by_key.get(&key) {
            None => true,
            Some(c) => calendar.add(now, l.amount, l.unit) <= calendar.add(now, c.amount, c.unit),
        };
        if take {
            by_key.insert(key, *l);
        }
    }
    by_key.into_values().collect()
}

/// The campaign that applies to a new case of `category_id` located at `region_path`
/// coming in at `now`, if any (at most one, since overlaps are refused; the oldest
/// when rows written otherwise overlap).
async fn applicable<C: ConnectionTrait>(
    conn: &C,
    category_id: i64,
    region_path: &str,
    now: DateTime<Utc>,
) -> Result<Option<campaign::Model>, AppError> {
    let today = local_date(now);
    let rows = campaign::Entity::find()
        .inner_join(campaign_category::Entity)
        .filter(campaign_category::Column::CategoryId.eq(category_id))
        .filter(campaign::Column::RegionPath.is_in(self_and_ancestors(region_path)))
        .filter(campaign::Column::StartsOn.lte(today))
        .filter(campaign::Column::EndsOn.gte(today))
        .filter(
            Condition::any()
                .add(campaign::Column::EndedAt.is_null())
                .add(campaign::Column::EndedAt.gt(now)),
        )
        .order_by_asc(campaign::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .find(|c| day_start(c.starts_on) <= now && now < running_end(c)))
}

async fn limits_of_campaign<C: ConnectionTrait>(
    conn: &C,
    campaign_id: i64,
) -> Result<Vec<TimeLimit>, AppError> {
    Ok(campaign_time_limit::Entity::find()
        .filter(campaign_time_limit::Column::CampaignId.eq(campaign_id))
        .all(conn)
        .await?
        .iter()
        .map(time_limit)
        .collect())
}

/// The limits a new case of `category_id` at `region_path` takes at `now`, given its
/// category's limits, and the campaign that applied (if one runs there for it).
pub(crate) async fn limits_for_new_case<C: ConnectionTrait>(
    conn: &C,
    calendar: &WorkCalendar,
    category_limits: Vec<TimeLimit>,
    category_id: i64,
    region_path: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<TimeLimit>, Option<i64>), AppError> {
    match applicable(conn, category_id, region_path, now).await? {
        None => Ok((category_limits, None)),
        Some(c) => {
            let own = limits_of_campaign(conn, c.id).await?;
            Ok((tighter(calendar, &category_limits, &own, now), Some(c.id)))
        }
    }
}

/// The limits of an existing case for deadlines planned at `now`: its category's, made
/// tighter by the campaign it came in under, if any.
pub(crate) async fn limits_of_case<C: ConnectionTrait>(
    conn: &C,
    calendar: &WorkCalendar,
    c: &case::Model,
    now: DateTime<Utc>,
) -> Result<Vec<TimeLimit>, AppError> {
    let own = super::cases::workflow::limits_of(conn, c.category_id).await?;
    match c.campaign_id {
        None => Ok(own),
        Some(id) => {
            let campaign = limits_of_campaign(conn, id).await?;
            Ok(tighter(calendar, &own, &campaign, now))
        }
    }
}

/// A campaign as a client gives it, not yet checked.
#[derive(Debug, Clone)]
pub struct CampaignFields {
    /// Name.
    pub name: String,
    /// First local day.
    pub starts_on: NaiveDate,
    /// Last local day.
    pub ends_on: NaiveDate,
    /// Time limits per priority and step.
    pub limits: Vec<TimeLimit>,
    /// Patrols per village grid per day.
    pub patrols_per_grid_per_day: Option<i32>,
}

/// A new campaign.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// The county or township.
    pub region_id: i64,
    /// Codes of its categories.
    pub category_codes: Vec<String>,
    /// The rest.
    pub fields: CampaignFields,
}

fn check_name(name: &str) -> Result<String, AppError> {
    let t = name.trim();
    let n = t.chars().count();
    if !(2..=MAX_NAME).contains(&n) {
        return Err(AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                format!("名称长度应为 2 到 {MAX_NAME} 个字"),
                format!("name must be 2–{MAX_NAME} characters"),
            ),
        )
        .at("name"));
    }
    Ok(t.to_owned())
}

fn check_dates(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Result<(), AppError> {
    if to < from {
        return Err(AppError::bad_input(
            "INVALID_PERIOD",
            Msg::new(
                "结束日期不能早于开始日期",
                "endsOn must not be before startsOn",
            ),
        )
        .at("endsOn"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(AppError::bad_input(
            "PERIOD_TOO_LONG",
            Msg::new(
                format!("专项行动最长 {MAX_DAYS} 天"),
                format!("a campaign lasts at most {MAX_DAYS} days"),
            ),
        )
        .at("endsOn"));
    }
    if to < today {
        return Err(AppError::bad_input(
            "CAMPAIGN_IN_PAST",
            Msg::new("结束日期已过", "endsOn is in the past"),
        )
        .at("endsOn"));
    }
    Ok(())
}

fn check_limits(limits: &[TimeLimit]) -> Result<(), AppError> {
    if limits.is_empty() || limits.len() > 9 {
        return Err(AppError::bad_input(
            "INVALID_TIME_LIMITS",
            Msg::new(
                "请给出 1 到 9 条时限",
                "give 1 to 9 time limits (one per priority and step)",
            ),
        )
        .at("timeLimits"));
    }
    for (i, l) in limits.iter().enumerate() {
        if !(1..=MAX_LIMIT_AMOUNT).contains(&l.amount) {
            return Err(AppError::bad_input(
                "INVALID_AMOUNT",
                Msg::new(
                    format!("时限应为 1 到 {MAX_LIMIT_AMOUNT}"),
                    format!("amount must be 1–{MAX_LIMIT_AMOUNT}"),
                ),
            )
            .at(&format!("timeLimits.{i}.amount")));
        }
        if limits[..i]
            .iter()
            .any(|o| o.priority == l.priority && o.step == l.step)
        {
            return Err(AppError::bad_input(
                "DUPLICATE_TIME_LIMIT",
                Msg::new(
                    "同一优先级和环节只能有一条时限",
                    "one time limit per priority and step",
                ),
            )
            .at(&format!("timeLimits.{i}")));
        }
    }
    Ok(())
}

fn check_patrols(n: Option<i32>) -> Result<Option<i32>, AppError> {
    match n {
        Some(p) if !(1..=MAX_PATROLS_PER_DAY).contains(&p) => Err(AppError::bad_input(
            "INVALID_PATROL_REQUIREMENT",
            Msg::new(
                format!("每日巡查次数应为 1 到 {MAX_PATROLS_PER_DAY}"),
                format!("patrolsPerGridPerDay must be 1–{MAX_PATROLS_PER_DAY}"),
            ),
        )
        .at("patrolsPerGridPerDay")),
        other => Ok(other),
    }
}

fn check_fields(f: &CampaignFields, today: NaiveDate) -> Result<CampaignFields, AppError> {
    let name = check_name(&f.name)?;
    check_dates(f.starts_on, f.ends_on, today)?;
    check_limits(&f.limits)?;
    let patrols = check_patrols(f.patrols_per_grid_per_day)?;
    Ok(CampaignFields {
        name,
        patrols_per_grid_per_day: patrols,
        ..f.clone()
    })
}

/// The county or township a manager may run a campaign in, or `NOT_FOUND` / `BAD_INPUT`.
fn campaign_region<'g>(
    grid: &'g GridSnapshot,
    staff: &StaffViewer,
    region_id: i64,
) -> Result<&'g RegionNode, AppError> {
    let r = grid
        .get(region_id)
        .filter(|r| staff.covers(&r.path))
        .ok_or_else(|| AppError::not_found("区域", "region").at("regionId"))?;
    if r.level == RegionLevel::Village {
        return Err(AppError::bad_input(
            "CAMPAIGN_REGION_LEVEL",
            Msg::new(
                "专项行动的范围应为县或乡镇",
                "a campaign covers a county or a township",
            ),
        )
        .at("regionId"));
    }
    Ok(r)
}

async fn category_ids<C: ConnectionTrait>(
    conn: &C,
    codes: &[String],
) -> Result<Vec<i64>, AppError> {
    let field = "categoryCodes";
    if codes.is_empty() || codes.len() > MAX_CATEGORIES {
        return Err(AppError::bad_input(
            "INVALID_CATEGORIES",
            Msg::new(
                format!("请选择 1 到 {MAX_CATEGORIES} 个问题类别"),
                format!("choose 1 to {MAX_CATEGORIES} categories"),
            ),
        )
        .at(field));
    }
    let rows = category::Entity::find()
        .filter(category::Column::Code.is_in(codes.iter().cloned()))
        .filter(category::Column::Active.eq(true))
        .all(conn)
        .await?;
    if let Some((i, code)) = codes
        .iter()
        .enumerate()
        .find(|(_, c)| !rows.iter().any(|r| &r.code == *c))
    {
        return Err(AppError::bad_input(
            "UNKNOWN_CATEGORY",
            Msg::new(
                format!("未知的问题类别：{code}"),
                format!("unknown category: {code}"),
            ),
        )
        .at(&format!("{field}.{i}")));
    }
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Refuses (`CONFLICT`) when another campaign (not `except`) overlaps the given one.
///
/// Called inside the writing transaction. On PostgreSQL the campaign table is locked
/// against other writers first (campaign writes are rare), so two overlapping
/// campaigns written at the same moment cannot both pass the check; SQLite's writes
/// are serialised by the write gate already.
async fn refuse_overlap<C: ConnectionTrait>(
    conn: &C,
    region_path: &str,
    category_ids: &[i64],
    (starts_at, ends_at): (DateTime<Utc>, DateTime<Utc>),
    except: Option<i64>,
) -> Result<(), AppError> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("LOCK TABLE campaign IN SHARE ROW EXCLUSIVE MODE")
            .await?;
    }
    let mut q = campaign::Entity::find()
        .inner_join(campaign_category::Entity)
        .filter(campaign_category::Column::CategoryId.is_in(category_ids.iter().copied()))
        .filter(
            Condition::any()
                .add(campaign::Column::RegionPath.is_in(self_and_ancestors(region_path)))
                .add(campaign::Column::RegionPath.like(format!("{region_path}/%"))),
        )
        .filter(campaign::Column::StartsOn.lt(local_date(ends_at) + Duration::days(1)));
    if let Some(id) = except {
        q = q.filter(campaign::Column::Id.ne(id));
    }
    let clash = q
        .all(conn)
        .await?
        .into_iter()
        .find(|c| day_start(c.starts_on) < ends_at && starts_at < running_end(c));
    match clash {
        None => Ok(()),
        Some(c) => Err(AppError::Conflict(Msg::new(
            format!(
                "与专项行动「{}」({} 至 {}) 的区域、类别和日期重叠",
                c.name, c.starts_on, c.ends_on
            ),
            format!(
                "overlaps campaign \"{}\" ({} to {}) in region, categories and dates",
                c.name, c.starts_on, c.ends_on
            ),
        ))),
    }
}

async fn load_view<C: ConnectionTrait>(
    conn: &C,
    c: campaign::Model,
) -> Result<CampaignView, AppError> {
    let mut category_ids: Vec<i64> = campaign_category::Entity::find()
        .filter(campaign_category::Column::CampaignId.eq(c.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.category_id)
        .collect();
    category_ids.sort_unstable();
    let mut limits = campaign_time_limit::Entity::find()
        .filter(campaign_time_limit::Column::CampaignId.eq(c.id))
        .all(conn)
        .await?;
    limits.sort_by_key(|l| (l.priority, l.step));
    Ok(CampaignView {
        campaign: c,
        category_ids,
        limits,
    })
}

async fn write_limits<C: ConnectionTrait>(
    conn: &C,
    campaign_id: i64,
    limits: &[TimeLimit],
) -> Result<(), AppError> {
    campaign_time_limit::Entity::delete_many()
        .filter(campaign_time_limit::Column::CampaignId.eq(campaign_id))
        .exec(conn)
        .await?;
    for l in limits {
        campaign_time_limit::ActiveModel {
            campaign_id: Set(campaign_id),
            priority: Set(l.priority),
            step: Set(l.step),
            amount: Set(l.amount),
            unit: Set(l.unit),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// A campaign row the viewer reaches, or `NOT_FOUND`.
pub(crate) async fn reachable<C: ConnectionTrait>(
    conn: &C,
    staff: &StaffViewer,
    id: i64,
) -> Result<campaign::Model, AppError> {
    campaign::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|c| reaches(staff, &c.region_path))
        .ok_or_else(campaign_not_found)
}

/// One campaign the viewer may read (county staff, township supervisors), or
/// `NOT_FOUND`.
pub async fn get(svc: &Services, viewer: &Viewer, id: i64) -> Result<CampaignView, AppError> {
    let staff = viewer.staff_with(READERS)?;
    let c = reachable(&svc.db, staff, id).await?;
    load_view(&svc.db, c).await
}

/// A campaign by id for a case that names it (the case's own scope was checked).
pub async fn of_case(svc: &Services, id: i64) -> Result<Option<CampaignView>, AppError> {
    match campaign::Entity::find_by_id(id).one(&svc.db).await? {
        Some(c) => Ok(Some(load_view(&svc.db, c).await?)),
        None => Ok(None),
    }
}

/// Creates a campaign in the viewer's county or one of its townships.
pub async fn create(
    svc: &Services,
    viewer: &Viewer,
    input: NewCampaign,
) -> Result<CampaignView, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let grid = svc.grid.snapshot();
    let region = campaign_region(&grid, &staff, input.region_id)?.clone();
    let fields = check_fields(&input.fields, local_date(svc.clock.now()))?;
    let categories = category_ids(&svc.db, &input.category_codes).await?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let span = (
                    day_start(fields.starts_on),
                    day_start(fields.ends_on) + Duration::days(1),
                );
                refuse_overlap(txn, &region.path, &categories, span, None).await?;
                let c = campaign::ActiveModel {
                    name: Set(fields.name.clone()),
                    region_id: Set(region.id),
                    region_path: Set(region.path.clone()),
                    starts_on: Set(fields.starts_on),
                    ends_on: Set(fields.ends_on),
                    ended_at: Set(None),
                    patrols_per_grid_per_day: Set(fields.patrols_per_grid_per_day),
                    created_by: Set(staff.user_id),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                for id in &categories {
                    campaign_category::ActiveModel {
                        campaign_id: Set(c.id),
                        category_id: Set(*id),
                        ..Default::default()
                    }
                    .insert(txn)
                    .await?;
                }
                write_limits(txn, c.id, &fields.limits).await?;
                load_view(txn, c).await
            })
        }),
    )
    .await
}

/// Changes to a campaign; `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct CampaignPatch {
    /// New name.
    pub name: Option<String>,
    /// New first day.
    pub starts_on: Option<NaiveDate>,
    /// New last day.
    pub ends_on: Option<NaiveDate>,
    /// New limits (replace all).
    pub limits: Option<Vec<TimeLimit>>,
    /// New patrol requirement.
    pub patrols_per_grid_per_day: Option<i32>,
}

fn ended() -> AppError {
    AppError::InvalidTransition(Msg::new(
        "该专项行动已结束，不能修改",
        "the campaign has ended and cannot change",
    ))
}

/// Changes a campaign that has not ended. Cases already in keep their deadlines.
pub async fn update(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
    patch: CampaignPatch,
) -> Result<CampaignView, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let row = reachable(&svc.db, &staff, id).await?;
    if !staff.covers(&row.region_path) {
        // A township's own staff never manage; county staff reach only their county.
        return Err(campaign_not_found());
    }
    let view = load_view(&svc.db, row).await?;
    let now = svc.clock.now();
    if view.status(now) == CampaignStatus::Ended {
        return Err(ended());
    }
    let c = &view.campaign;
    let starts_on = patch.starts_on.unwrap_or(c.starts_on);
    if view.status(now) == CampaignStatus::Running && starts_on != c.starts_on {
        return Err(AppError::bad_input(
            "CAMPAIGN_STARTED",
            Msg::new(
                "专项行动已开始，不能修改开始日期",
                "the campaign has started: its start cannot move",
            ),
        )
        .at("startsOn"));
    }
    let fields = check_fields(
        &CampaignFields {
            name: patch.name.unwrap_or_else(|| c.name.clone()),
            starts_on,
            ends_on: patch.ends_on.unwrap_or(c.ends_on),
            limits: patch.limits.unwrap_or_else(|| view.time_limits()),
            patrols_per_grid_per_day: patch
                .patrols_per_grid_per_day
                .or(c.patrols_per_grid_per_day),
        },
        local_date(now),
    )?;
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let span = (
                    day_start(fields.starts_on),
                    day_start(fields.ends_on) + Duration::days(1),
                );
                let moved = (fields.starts_on, fields.ends_on)
                    != (view.campaign.starts_on, view.campaign.ends_on);
                if moved {
                    refuse_overlap(
                        txn,
                        &view.campaign.region_path,
                        &view.category_ids,
                        span,
                        Some(view.campaign.id),
                    )
                    .await?;
                }
                let mut am: campaign::ActiveModel = view.campaign.clone().into();
                am.name = Set(fields.name.clone());
                am.starts_on = Set(fields.starts_on);
                am.ends_on = Set(fields.ends_on);
                am.patrols_per_grid_per_day = Set(fields.patrols_per_grid_per_day);
                am.updated_at = Set(now);
                let c = am.update(txn).await?;
                write_limits(txn, c.id, &fields.limits).await?;
                load_view(txn, c).await
            })
        }),
    )
    .await
}

/// Ends a campaign now (it stops applying to new cases at once). Ending an ended
/// campaign is `INVALID_TRANSITION`.
pub async fn end(svc: &Services, viewer: &Viewer, id: i64) -> Result<CampaignView, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let row = reachable(&svc.db, &staff, id).await?;
    if !staff.covers(&row.region_path) {
        return Err(campaign_not_found());
    }
    let view = load_view(&svc.db, row).await?;
    if view.status(svc.clock.now()) == CampaignStatus::Ended {
        return Err(AppError::InvalidTransition(Msg::new(
            "该专项行动已结束",
            "the campaign has already ended",
        )));
    }
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let mut am: campaign::ActiveModel = view.campaign.clone().into();
                am.ended_at = Set(Some(now));
                am.updated_at = Set(now);
                let c = am.update(txn).await?;
                load_view(txn, c).await
            })
        }),
    )
    .await
}

/// The campaigns that reach region `region_id` (in its subtree or above it) and the
/// viewer, running at some moment of local day `active_on` when given; latest start
/// first, at most [`MAX_LISTED`].
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    active_on: Option<NaiveDate>,
) -> Result<Vec<CampaignView>, AppError> {
    let staff = viewer.staff_with(READERS)?;
    let grid = svc.grid.snapshot();
    let region = staff
        .narrowing_region(&grid, region_id)
        .map_err(|e| e.at("regionId"))?;
    let mut q = campaign::Entity::find().filter(
        Condition::any()
            .add(campaign::Column::RegionPath.is_in(self_and_ancestors(&region.path)))
            .add(campaign::Column::RegionPath.like(format!("{}/%", region.path))),
    );
    if let Some(d) = active_on {
        q = q
            .filter(campaign::Column::StartsOn.lte(d))
            .filter(campaign::Column::EndsOn.gte(d))
            .filter(
                Condition::any()
                    .add(campaign::Column::EndedAt.is_null())
                    .add(campaign::Column::EndedAt.gt(day_start(d))),
            );
    }
    let rows = q
        .order_by_desc(campaign::Column::StartsOn)
        .order_by_desc(campaign::Column::Id)
        .limit(MAX_LISTED)
        .all(&svc.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for c in rows.into_iter().filter(|c| reaches(staff, &c.region_path)) {
        out.push(load_view(&svc.db, c).await?);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::category::LimitUnit;
    use crate::domain::sla::WorkingHours;

    fn limit(amount: i32, unit: LimitUnit) -> TimeLimit {
        TimeLimit {
            priority: Priority::Normal,
            step: Step::Handle,
            amount,
            unit,
        }
    }

    #[test]
    fn the_tighter_limit_is_the_one_that_falls_due_first() {
        let cal = WorkCalendar::new([], WorkingHours::default());
        // A Friday, 10:00 local.
        let now = sla::to_utc(
            NaiveDate::from_ymd_opt(2026, 10, 9)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
        );
        let accept = TimeLimit {
            step: Step::Accept,
            ..limit(2, LimitUnit::Hours)
        };
        // 3 working days (next Wednesday) against 48 clock hours (Sunday): hours win.
        let m = tighter(
            &cal,
            &[limit(3, LimitUnit::WorkingDays), accept],
            &[limit(48, LimitUnit::Hours)],
            now,
        );
        assert_eq!(m, vec![accept, limit(48, LimitUnit::Hours)]);
        // 1 working day (Monday 17:30) against 96 clock hours (Tuesday 10:00): the
        // working day wins; against 72 (Monday 10:00) the hours do.
        let m = tighter(
            &cal,
            &[limit(1, LimitUnit::WorkingDays)],
            &[limit(72, LimitUnit::Hours)],
            now,
        );
        assert_eq!(m, vec![limit(72, LimitUnit::Hours)]);
        let m = tighter(
            &cal,
            &[limit(1, LimitUnit::WorkingDays)],
            &[limit(96, LimitUnit::Hours)],
            now,
        );
        assert_eq!(m, vec![limit(1, LimitUnit::WorkingDays)]);
        // A step only the campaign limits is taken.
        let onsite = TimeLimit {
            step: Step::Onsite,
            ..limit(4, LimitUnit::Hours)
        };
        assert_eq!(tighter(&cal, &[], &[onsite], now), vec![onsite]);
    }

    #[test]
    fn ancestors_of_a_path() {
        assert_eq!(
            self_and_ancestors("140521/140521100/140521100201"),
            vec![
                "140521",
                "140521/140521100",
                "140521/140521100/140521100201"
            ]
        );
    }
}
