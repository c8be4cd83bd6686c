//! Patrol coverage (巡查覆盖): per village grid and local day, what was planned and
//! what was done — plans due, plans with a patrol that day, plans missed (their window
//! has passed without a patrol), distance walked, sites visited, check-ins — so a
//! township supervisor sees which grids went unwatched (定点、定时、定人、定责).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::{app_user, patrol, patrol_checkin, patrol_plan};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

use super::plans::{LocalDate, MANAGERS, due_on};
use crate::domain::Services;
use crate::domain::access::Viewer;
use crate::domain::grid::{RegionLevel, subtree};
use crate::error::{AppError, Msg};

/// Longest span of one coverage question, in days (also the bound of `days`).
pub const MAX_DAYS: i64 = 31;

/// A plan that fell due and was not patrolled before its window closed.
#[derive(Debug, Clone)]
pub struct MissedPlan {
    /// The plan.
    pub plan_id: i64,
    /// Its name.
    pub plan_name: String,
    /// Its inspector.
    pub inspector_id: i64,
    /// The inspector's name.
    pub inspector_name: String,
    /// When the window closed.
    pub window_end: DateTime<Utc>,
}

/// One grid on one local day.
#[derive(Debug, Clone, Default)]
pub struct DayCoverage {
    /// The day.
    pub date: Option<LocalDate>,
    /// Plans due.
    pub planned: u32,
    /// Plans due with a patrol for them that day.
    pub done: u32,
    /// Plans due whose window closed without a patrol.
    pub missed: u32,
    /// Patrols started that day (planned or not).
    pub patrols: u32,
    /// Metres walked on those patrols.
    pub distance_m: f64,
    /// Distinct sites checked in at.
    pub sites_visited: u32,
    /// Check-ins.
    pub check_ins: u32,
    /// Check-ins that found nothing wrong (零报告).
    pub nothing_found: u32,
    /// Patrols with implausible data flagged.
    pub flagged_patrols: u32,
    /// The missed plans.
    pub missed_plans: Vec<MissedPlan>,
}

/// One grid over the span.
#[derive(Debug, Clone)]
pub struct GridCoverage {
    /// The village grid.
    pub region_id: i64,
    /// One entry per day of the span, in order.
    pub days: Vec<DayCoverage>,
}

/// Coverage of every village grid within `region_id` (a township or a grid in the
/// viewer's scope) for each local day from `from` to `to` (at most [`MAX_DAYS`]).
/// County staff and township supervisors only.
pub async fn coverage(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<GridCoverage>, AppError> {
    let staff = viewer.staff_with(MANAGERS)?;
    let from = LocalDate::parse(from, "from")?;
    let to = LocalDate::parse(to, "to")?;
    let span = (to.0 - from.0).num_days() + 1;
    if !(1..=MAX_DAYS).contains(&span) {
        return Err(AppError::bad_input(
            "DATE_OUT_OF_RANGE",
            Msg::new(
                format!("统计区间应为 1 到 {MAX_DAYS} 天，且 to 不早于 from"),
                format!("the span must be 1–{MAX_DAYS} days with to not before from"),
            ),
        )
        .at("to"));
    }
    let grid = svc.grid.snapshot();
    let region = grid
        .get(region_id)
        .filter(|r| staff.covers(&r.path))
        .ok_or_else(|| AppError::not_found("区域", "region"))?
        .clone();
    let villages: Vec<i64> = match region.level {
        RegionLevel::Village => vec![region.id],
        RegionLevel::Township => grid
            .children_of(Some(region.id))
            .into_iter()
            .filter(|r| r.level == RegionLevel::Village)
            .map(|r| r.id)
            .collect(),
        RegionLevel::County => {
            return Err(AppError::bad_input(
                "REGION_TOO_LARGE",
                Msg::new(
                    "请按乡镇或网格查询巡查覆盖",
                    "ask for the coverage of a township or a grid",
                ),
            )
            .at("regionId"));
        }
    };
    let now = svc.clock.now();
    let plans = patrol_plan::Entity::find()
        .filter(subtree(patrol_plan::Column::RegionPath, &region.path))
        .filter(patrol_plan::Column::StartsOn.lte(to.0))
        .order_by_asc(patrol_plan::Column::Id)
        .all(&svc.db)
        .await?;
    let in_span = patrol::Entity::find()
        .filter(subtree(patrol::Column::RegionPath, &region.path))
        .filter(patrol::Column::LocalDate.gte(from.0))
        .filter(patrol::Column::LocalDate.lte(to.0));
    let patrols = in_span.clone().all(&svc.db).await?;
    let checkins = patrol_checkin::Entity::find()
        .filter(
            patrol_checkin::Column::PatrolId.in_subquery(
                in_span
                    .select_only()
                    .column(patrol::Column::Id)
                    .into_query(),
            ),
        )
        .all(&svc.db)
        .await?;
    let inspector_ids: BTreeSet<i64> = plans.iter().map(|p| p.inspector_id).collect();
    let names: HashMap<i64, String> = if inspector_ids.is_empty() {
        HashMap::new()
    } else {
        app_user::Entity::find()
            .filter(app_user::Column::Id.is_in(inspector_ids))
            .all(&svc.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect()
    };

    let patrol_of: HashMap<i64, &patrol::Model> = patrols.iter().map(|p| (p.id, p)).collect();
    let mut done: BTreeSet<(i64, chrono::NaiveDate)> = BTreeSet::new();
    let mut out: BTreeMap<(i64, chrono::NaiveDate), DayCoverage> = BTreeMap::new();
    for p in &patrols {
        if let Some(pid) = p.plan_id {
            done.insert((pid, p.local_date));
        }
        let d = out.entry((p.region_id, p.local_date)).or_default();
        d.patrols += 1;
        d.distance_m += p.distance_m;
        if p.flag_speed || p.flag_future || p.flag_outside {
            d.flagged_patrols += 1;
        }
    }
    let mut sites: BTreeMap<(i64, chrono::NaiveDate), BTreeSet<i64>> = BTreeMap::new();
    for c in &checkins {
        let Some(p) = patrol_of.get(&c.patrol_id) else {
            continue;
        };
        let key = (p.region_id, p.local_date);
        let d = out.entry(key).or_default();
        d.check_ins += 1;
        if c.nothing_found {
            d.nothing_found += 1;
        }
        if let Some(s) = c.site_id {
            sites.entry(key).or_default().insert(s);
        }
    }
    for (key, s) in sites {
        out.entry(key).or_default().sites_visited = u32::try_from(s.len()).unwrap_or(u32::MAX);
    }
    let mut day = from.0;
    while day <= to.0 {
        let local = LocalDate(day);
        for plan in plans.iter().filter(|p| due_on(p, local)) {
            let d = out.entry((plan.region_id, day)).or_default();
            d.planned += 1;
            let window_end = local.at_minute(plan.window_end_min);
            if done.contains(&(plan.id, day)) {
                d.done += 1;
            } else if window_end < now {
                d.missed += 1;
                d.missed_plans.push(MissedPlan {
                    plan_id: plan.id,
                    plan_name: plan.name.clone(),
                    inspector_id: plan.inspector_id,
                    inspector_name: names.get(&plan.inspector_id).cloned().unwrap_or_default(),
                    window_end,
                });
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    let limit = usize::try_from(super::plans::MAX_PLANS_PER_GRID).unwrap_or(10);
    Ok(villages
        .into_iter()
        .map(|vid| GridCoverage {
            region_id: vid,
            days: (0..span)
                .filter_map(|i| from.0.checked_add_signed(chrono::Duration::days(i)))
                .map(|day| {
                    let mut d = out.remove(&(vid, day)).unwrap_or_default();
                    d.date = Some(LocalDate(day));
                    d.missed_plans.truncate(limit);
                    d
                })
                .collect(),
        })
        .collect())
}

/// How many local days back the missed-plan job looks (today included), so a pass
/// that did not run for a while still tells of yesterday's misses.
pub const MISS_LOOKBACK_DAYS: i64 = 3;

/// The missed-plan job: every plan that fell due in the last [`MISS_LOOKBACK_DAYS`]
/// local days and whose window closed without a patrol for it is recorded once in
/// `patrol_miss` and its inspector and the township's supervisors get a notification.
/// Safe with several processes: the (plan, day) row is inserted with `ON CONFLICT DO
/// NOTHING` in the transaction of its notifications, so only the process whose insert
/// took the row tells anyone. Returns how many misses were recorded.
pub async fn notify_missed(svc: &Services) -> Result<u64, AppError> {
    use entity::{notification, patrol_miss};
    use sea_orm::ActiveValue::Set;
    use sea_orm::sea_query::OnConflict;

    let now = svc.clock.now();
    let today = LocalDate::of(now);
    let first = LocalDate(today.0 - chrono::Duration::days(MISS_LOOKBACK_DAYS - 1));
    let plans = patrol_plan::Entity::find()
        .filter(patrol_plan::Column::StartsOn.lte(today.0))
        .filter(
            sea_orm::Condition::any()
                .add(patrol_plan::Column::EndsOn.is_null())
                .add(patrol_plan::Column::EndsOn.gte(first.0)),
        )
        .filter(
            sea_orm::Condition::any()
                .add(patrol_plan::Column::ArchivedAt.is_null())
                .add(patrol_plan::Column::ArchivedAt.gte(first.at_minute(0))),
        )
        .all(&svc.db)
        .await?;
    let mut candidates = Vec::new();
    let mut day = first.0;
    while day <= today.0 {
        for p in &plans {
            let local = LocalDate(day);
            if due_on(p, local) && local.at_minute(p.window_end_min) < now {
                candidates.push((p, day));
            }
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    if candidates.is_empty() {
        return Ok(0);
    }
    let plan_ids: BTreeSet<i64> = candidates.iter().map(|(p, _)| p.id).collect();
    let done: BTreeSet<(Option<i64>, chrono::NaiveDate)> = patrol::Entity::find()
        .select_only()
        .column(patrol::Column::PlanId)
        .column(patrol::Column::LocalDate)
        .filter(patrol::Column::PlanId.is_in(plan_ids))
        .filter(patrol::Column::LocalDate.gte(first.0))
        .into_tuple::<(Option<i64>, chrono::NaiveDate)>()
        .all(&svc.db)
        .await?
        .into_iter()
        .collect();
    let missed: Vec<(patrol_plan::Model, chrono::NaiveDate)> = candidates
        .into_iter()
        .filter(|(p, d)| !done.contains(&(Some(p.id), *d)))
        .map(|(p, d)| (p.clone(), d))
        .collect();
    if missed.is_empty() {
        return Ok(0);
    }
    // Who is told: the inspector and the supervisors of the plan's township.
    let grid = svc.grid.snapshot();
    let supervisors: Vec<(i64, i64)> = app_user::Entity::find()
        .select_only()
        .column(app_user::Column::Id)
        .column(app_user::Column::RegionId)
        .filter(app_user::Column::Active.eq(true))
        .filter(app_user::Column::Role.eq(crate::domain::access::Role::TownshipSupervisor))
        .into_tuple()
        .all(&svc.db)
        .await?;
    let clock = svc.clock.clone();
    crate::domain::uow::write(
        svc,
        None,
        crate::domain::uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let mut recorded = 0u64;
                let mut notes = Vec::new();
                for (plan, day) in missed {
                    let inserted = patrol_miss::Entity::insert(patrol_miss::ActiveModel {
                        plan_id: Set(plan.id),
                        local_date: Set(day),
                        notified_at: Set(now),
                        ..Default::default()
                    })
                    .on_conflict(
                        OnConflict::columns([
                            patrol_miss::Column::PlanId,
                            patrol_miss::Column::LocalDate,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(txn)
                    .await?;
                    if inserted == 0 {
                        continue;
                    }
                    recorded += 1;
                    let township = grid
                        .get(plan.region_id)
                        .and_then(|r| grid.ancestor_at(r, RegionLevel::Township).map(|t| t.id));
                    let village = grid
                        .get(plan.region_id)
                        .map_or_else(String::new, |r| r.name.clone());
                    let title = format!("巡查计划未完成：{}", plan.name);
                    let body = format!(
                        "{village} {} 的巡查计划「{}」（{}–{}）未见巡查记录",
                        LocalDate(day),
                        plan.name,
                        super::plans::format_minute(plan.window_start_min),
                        super::plans::format_minute(plan.window_end_min),
                    );
                    let to = std::iter::once(plan.inspector_id).chain(
                        supervisors
                            .iter()
                            .filter(|(_, r)| Some(*r) == township)
                            .map(|(u, _)| *u),
                    );
                    for user in to {
                        notes.push(crate::domain::notifications::new(
                            user,
                            "PATROL_MISSED",
                            None,
                            title.clone(),
                            body.clone(),
                            now,
                        ));
                    }
                }
                for chunk in notes.chunks(500) {
                    notification::Entity::insert_many(chunk.to_vec())
                        .exec(txn)
                        .await?;
                }
                Ok(recorded)
            })
        }),
    )
    .await
}
