//! Patrol plans, patrols and coverage over GraphQL: thin resolvers over
//! `domain::patrols`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{patrol, patrol_checkin, patrol_plan};

use super::cases::LocationInput;
use super::grid::{CoordSystem, GeoPoint, Region};
use super::pagination::{connection, page_request};
use super::users::User;
use super::{parse_id, services, state, viewer};
use crate::domain::patrols::{self as dom, coverage as cov, plans, track::TrackPoint};
use crate::error::AppError;

fn ids(v: &[ID], field: &str) -> Result<Vec<i64>, AppError> {
    v.iter()
        .map(|i| parse_id(i).map_err(|e| e.at(field)))
        .collect()
}

fn opt_id(v: Option<&ID>, field: &str) -> Result<Option<i64>, AppError> {
    v.map(parse_id).transpose().map_err(|e| e.at(field))
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// How often a patrol plan falls due.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::patrol_plan::PatrolFrequency")]
pub enum PatrolFrequency {
    /// Every day.
    Daily,
    /// Once a week, on `weekday`.
    Weekly,
    /// `timesPerMonth` times a month, on days spread evenly from the 1st.
    Monthly,
}

/// Implausible data found on a patrol (flagged, kept, shown to supervisors).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PatrolFlag {
    /// Two consecutive track points imply more than 120 km/h.
    TooFast,
    /// A client time lies in the future (beyond two minutes of clock skew).
    FutureTime,
    /// A point or check-in lies more than 2 km outside the inspector's grid.
    OutsideGrid,
}

/// A patrol plan (巡查计划): who patrols which grid and sites, how often, when.
pub struct PatrolPlan(pub patrol_plan::Model);

#[Object]
impl PatrolPlan {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The inspector who patrols.
    async fn inspector(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        User::by_id(ctx, self.0.inspector_id).await
    }
    /// The village grid patrolled.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// How often.
    async fn frequency(&self) -> PatrolFrequency {
        self.0.frequency.into()
    }
    /// For MONTHLY: times a month.
    async fn times_per_month(&self) -> i32 {
        self.0.times_per_month
    }
    /// For WEEKLY: 1 = Monday … 7 = Sunday.
    async fn weekday(&self) -> Option<i32> {
        self.0.weekday
    }
    /// Start of the window, local time `HH:MM` (Asia/Shanghai).
    async fn window_start(&self) -> String {
        plans::format_minute(self.0.window_start_min)
    }
    /// End of the window, local time `HH:MM`.
    async fn window_end(&self) -> String {
        plans::format_minute(self.0.window_end_min)
    }
    /// Ids of the sites to visit (empty: the grid at large).
    async fn site_ids(&self) -> Vec<ID> {
        plans::site_ids(&self.0)
            .into_iter()
            .map(|i| ID(i.to_string()))
            .collect()
    }
    /// First local day, `YYYY-MM-DD`.
    async fn starts_on(&self) -> String {
        plans::LocalDate(self.0.starts_on).to_string()
    }
    /// Last local day, if the plan ends.
    async fn ends_on(&self) -> Option<String> {
        self.0.ends_on.map(|d| plans::LocalDate(d).to_string())
    }
    /// Archived: no longer due.
    async fn archived(&self) -> bool {
        self.0.archived_at.is_some()
    }
    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A plan due on a day, for the inspector's app.
pub struct DuePlan(plans::DuePlan);

#[Object]
impl DuePlan {
    /// The plan.
    async fn plan(&self) -> PatrolPlan {
        PatrolPlan(self.0.plan.clone())
    }
    /// The day, `YYYY-MM-DD`.
    async fn date(&self) -> String {
        self.0.date.to_string()
    }
    /// When the window opens that day.
    async fn window_start(&self) -> DateTime<Utc> {
        self.0.window_start
    }
    /// When the window closes that day.
    async fn window_end(&self) -> DateTime<Utc> {
        self.0.window_end
    }
    /// A patrol for this plan was started that day.
    async fn done(&self) -> bool {
        self.0.done
    }
}

/// One point of a patrol's track.
pub struct TrackPointOut(TrackPoint);

#[Object(name = "TrackPoint")]
impl TrackPointOut {
    /// The client's time of the fix.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at()
    }
    /// Latitude (WGS-84, 1e-7°).
    async fn lat(&self) -> f64 {
        self.0.lat()
    }
    /// Longitude (WGS-84, 1e-7°).
    async fn lng(&self) -> f64 {
        self.0.lng()
    }
    /// Horizontal accuracy in metres.
    async fn accuracy_m(&self) -> Option<f64> {
        self.0.accuracy_m()
    }
}

/// A check-in on patrol (打卡); one that found nothing is a record too (零报告).
pub struct PatrolCheckIn(pub patrol_checkin::Model);

#[Object]
impl PatrolCheckIn {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The site checked, if any.
    async fn site_id(&self) -> Option<ID> {
        self.0.site_id.map(|i| ID(i.to_string()))
    }
    /// Where (WGS-84 unless `coord: GCJ02`).
    async fn location(&self, coord: Option<CoordSystem>) -> GeoPoint {
        GeoPoint::from_wgs84(self.0.lat, self.0.lng, coord)
    }
    /// Horizontal accuracy in metres.
    async fn accuracy_m(&self) -> Option<f64> {
        self.0.accuracy_m
    }
    /// The client's time.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Nothing wrong was found (零报告).
    async fn nothing_found(&self) -> bool {
        self.0.nothing_found
    }
    /// What was seen.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Metres from the site, when a site is named.
    async fn distance_to_site_m(&self) -> Option<f64> {
        self.0.distance_to_site_m
    }
}

/// A patrol (巡查) walked by an inspector in their grid. A page of patrols carries its
/// check-ins and case counts, fetched for the whole page at once when asked for.
pub struct Patrol(
    pub patrol::Model,
    Option<Vec<patrol_checkin::Model>>,
    Option<usize>,
);

impl Patrol {
    fn one(m: patrol::Model) -> Self {
        Self(m, None, None)
    }
}

#[Object]
impl Patrol {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The inspector.
    async fn inspector(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        User::by_id(ctx, self.0.inspector_id).await
    }
    /// The plan it fulfils, if any.
    async fn plan_id(&self) -> Option<ID> {
        self.0.plan_id.map(|i| ID(i.to_string()))
    }
    /// The inspector's village grid.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// The local day it started, `YYYY-MM-DD`.
    async fn date(&self) -> String {
        plans::LocalDate(self.0.local_date).to_string()
    }
    /// When it started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When it ended; null while open.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// Distinct track points.
    async fn point_count(&self) -> i32 {
        self.0.point_count
    }
    /// Metres walked along the merged, time-ordered track.
    async fn distance_m(&self) -> f64 {
        self.0.distance_m
    }
    /// Time of the first track point.
    async fn first_point_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_point_at
    }
    /// Time of the last track point.
    async fn last_point_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_point_at
    }
    /// Implausible data found (empty when none).
    async fn flags(&self) -> Vec<PatrolFlag> {
        let mut f = Vec::new();
        if self.0.flag_speed {
            f.push(PatrolFlag::TooFast);
        }
        if self.0.flag_future {
            f.push(PatrolFlag::FutureTime);
        }
        if self.0.flag_outside {
            f.push(PatrolFlag::OutsideGrid);
        }
        f
    }
    /// The whole track, merged from every batch in time order.
    async fn track(&self, ctx: &Context<'_>) -> Result<Vec<TrackPointOut>, AppError> {
        Ok(dom::merged_track(&services(ctx)?.db, self.0.id)
            .await?
            .into_iter()
            .map(TrackPointOut)
            .collect())
    }
    /// Check-ins, in time order.
    async fn check_ins(&self, ctx: &Context<'_>) -> Result<Vec<PatrolCheckIn>, AppError> {
        let rows = match &self.1 {
            Some(rows) => rows.clone(),
            None => dom::check_ins(services(ctx)?, self.0.id).await?,
        };
        Ok(rows.into_iter().map(PatrolCheckIn).collect())
    }
    /// How many cases were reported during it.
    async fn cases_reported(&self, ctx: &Context<'_>) -> Result<i32, AppError> {
        let n = match self.2 {
            Some(n) => n,
            None => dom::case_ids(services(ctx)?, self.0.id).await?.len(),
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// A plan that fell due and was not patrolled before its window closed.
#[derive(SimpleObject)]
pub struct MissedPlan {
    /// The plan.
    pub plan_id: ID,
    /// Its name.
    pub plan_name: String,
    /// Its inspector.
    pub inspector_id: ID,
    /// The inspector's name.
    pub inspector_name: String,
    /// When the window closed.
    pub window_end: DateTime<Utc>,
}

/// One grid on one local day.
#[derive(SimpleObject)]
pub struct DayCoverage {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Plans due.
    pub planned: i32,
    /// Plans due with a patrol for them that day.
    pub done: i32,
    /// Plans due whose window closed without a patrol.
    pub missed: i32,
    /// Patrols started that day (planned or not).
    pub patrols: i32,
    /// Metres walked.
    pub distance_m: f64,
    /// Distinct sites checked in at.
    pub sites_visited: i32,
    /// Check-ins.
    pub check_ins: i32,
    /// Check-ins that found nothing wrong (零报告).
    pub nothing_found: i32,
    /// Patrols with implausible data flagged.
    pub flagged_patrols: i32,
    /// The plans missed.
    pub missed_plans: Vec<MissedPlan>,
}

/// One village grid over the span asked.
pub struct GridCoverage(cov::GridCoverage);

#[Object]
impl GridCoverage {
    /// The village grid.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// One entry per local day, in order.
    async fn days(&self) -> Vec<DayCoverage> {
        self.0
            .days
            .iter()
            .map(|d| DayCoverage {
                date: d.date.map(|x| x.to_string()).unwrap_or_default(),
                planned: count(d.planned),
                done: count(d.done),
                missed: count(d.missed),
                patrols: count(d.patrols),
                distance_m: d.distance_m,
                sites_visited: count(d.sites_visited),
                check_ins: count(d.check_ins),
                nothing_found: count(d.nothing_found),
                flagged_patrols: count(d.flagged_patrols),
                missed_plans: d
                    .missed_plans
                    .iter()
                    .map(|m| MissedPlan {
                        plan_id: ID(m.plan_id.to_string()),
                        plan_name: m.plan_name.clone(),
                        inspector_id: ID(m.inspector_id.to_string()),
                        inspector_name: m.inspector_name.clone(),
                        window_end: m.window_end,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Filters of `patrolPlans`.
#[derive(InputObject, Default)]
pub struct PatrolPlanFilter {
    /// Only plans of grids within this region.
    pub region_id: Option<ID>,
    /// Only this inspector's plans.
    pub inspector_id: Option<ID>,
    /// Archived plans too (default: only active ones).
    pub include_archived: Option<bool>,
}

/// Filters of `patrols`.
#[derive(InputObject, Default)]
pub struct PatrolFilter {
    /// Only patrols of grids within this region.
    pub region_id: Option<ID>,
    /// Only this inspector's.
    pub inspector_id: Option<ID>,
    /// Only from this local day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Only up to this local day (`YYYY-MM-DD`).
    pub to: Option<String>,
}

/// A new patrol plan.
#[derive(InputObject)]
pub struct CreatePatrolPlanInput {
    /// The inspector (their grid is the plan's grid).
    pub inspector_id: ID,
    /// Name (2–64 characters), e.g. 秸秆禁烧日巡.
    pub name: String,
    /// How often.
    pub frequency: PatrolFrequency,
    /// For MONTHLY: times a month (1–28).
    pub times_per_month: Option<i32>,
    /// For WEEKLY: 1 = Monday … 7 = Sunday.
    pub weekday: Option<i32>,
    /// Start of the window, local `HH:MM`.
    pub window_start: String,
    /// End of the window, local `HH:MM` (`24:00` allowed).
    pub window_end: String,
    /// Sites to visit, in the inspector's grid (empty: the grid at large).
    pub site_ids: Option<Vec<ID>>,
    /// First local day, `YYYY-MM-DD`.
    pub starts_on: String,
    /// Last local day, if the plan ends.
    pub ends_on: Option<String>,
    /// A fresh key per plan: a retry with the same key returns the first answer.
    pub idempotency_key: Option<String>,
}

/// Changes to a patrol plan; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdatePatrolPlanInput {
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
    pub site_ids: Option<Vec<ID>>,
    /// New first day.
    pub starts_on: Option<String>,
    /// New last day (empty: none).
    pub ends_on: Option<String>,
}

/// Starting a patrol.
#[derive(InputObject, Default)]
pub struct StartPatrolInput {
    /// The plan it fulfils (one of your own).
    pub plan_id: Option<ID>,
    /// When it started, for a patrol recorded offline (default: now).
    pub started_at: Option<DateTime<Utc>>,
    /// A fresh key per patrol: a retry with the same key returns the first answer.
    pub idempotency_key: Option<String>,
}

/// One GPS fix.
#[derive(InputObject)]
pub struct TrackPointInput {
    /// The device's time of the fix.
    pub at: DateTime<Utc>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Horizontal accuracy in metres.
    pub accuracy_m: Option<f64>,
}

/// A check-in.
#[derive(InputObject)]
pub struct CheckInInput {
    /// Your patrol.
    pub patrol_id: ID,
    /// The site checked (in your grid), if any.
    pub site_id: Option<ID>,
    /// Where you are.
    pub location: LocationInput,
    /// The device's time (default: now), for check-ins recorded offline.
    pub at: Option<DateTime<Utc>>,
    /// Nothing wrong was found (零报告).
    pub nothing_found: bool,
    /// What was seen (required when something was found).
    pub note: Option<String>,
    /// A fresh key per check-in: a retry with the same key returns the first answer.
    pub idempotency_key: Option<String>,
}

/// Patrol queries.
#[derive(Default)]
pub struct PatrolQuery;

#[Object]
impl PatrolQuery {
    /// Patrol plans in your scope (supervisors: their region; inspectors: their own),
    /// newest first (keyset pages).
    async fn patrol_plans(
        &self,
        ctx: &Context<'_>,
        filter: Option<PatrolPlanFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, PatrolPlan>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let page = page_request(
            "patrolPlan",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = plans::PlanFilter {
            region_id: opt_id(f.region_id.as_ref(), "filter.regionId")?,
            inspector_id: opt_id(f.inspector_id.as_ref(), "filter.inspectorId")?,
            include_archived: f.include_archived.unwrap_or(false),
        };
        let page = plans::list(&st.services, v, filter, page)
            .await
            .map_err(|e| e.under("filter"))?;
        Ok(connection("patrolPlan", page, |p| p.id, PatrolPlan))
    }

    /// One patrol plan; null when it does not exist or is outside your scope.
    async fn patrol_plan(&self, ctx: &Context<'_>, id: ID) -> Result<Option<PatrolPlan>, AppError> {
        let v = viewer(ctx)?;
        v.staff()?;
        match plans::get(services(ctx)?, v, parse_id(&id).map_err(|e| e.at("id"))?).await {
            Ok(p) => Ok(Some(PatrolPlan(p))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What is due for you on a local day (`YYYY-MM-DD`, Asia/Shanghai): your plans
    /// falling due that day, in window order, each saying whether you patrolled it.
    async fn my_patrol_plan(
        &self,
        ctx: &Context<'_>,
        date: String,
    ) -> Result<Vec<DuePlan>, AppError> {
        Ok(plans::due_for_viewer(services(ctx)?, viewer(ctx)?, &date)
            .await?
            .into_iter()
            .map(DuePlan)
            .collect())
    }

    /// Patrols in your scope (supervisors: their region; inspectors: their own), newest
    /// first (keyset pages).
    async fn patrols(
        &self,
        ctx: &Context<'_>,
        filter: Option<PatrolFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Patrol>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let page = page_request(
            "patrol",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = dom::PatrolFilter {
            region_id: opt_id(f.region_id.as_ref(), "filter.regionId")?,
            inspector_id: opt_id(f.inspector_id.as_ref(), "filter.inspectorId")?,
            from: f.from,
            to: f.to,
        };
        let page = dom::list(&st.services, v, filter, page)
            .await
            .map_err(|e| e.under("filter"))?;
        // What the page asks for is fetched for the whole page: one statement each.
        let node = ctx.look_ahead().field("edges").field("node");
        let ids: Vec<i64> = page.items.iter().map(|p| p.id).collect();
        let checkins = if node.field("checkIns").exists() {
            Some(dom::check_ins_of(&st.services, &ids).await?)
        } else {
            None
        };
        let cases = if node.field("casesReported").exists() {
            Some(dom::case_counts_of(&st.services, &ids).await?)
        } else {
            None
        };
        Ok(connection(
            "patrol",
            page,
            |p| p.id,
            |p| {
                let c = checkins
                    .as_ref()
                    .map(|m| m.get(&p.id).cloned().unwrap_or_default());
                let n = cases.as_ref().map(|m| m.get(&p.id).copied().unwrap_or(0));
                Patrol(p, c, n)
            },
        ))
    }

    /// One patrol; null when it does not exist or is outside your scope.
    async fn patrol(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Patrol>, AppError> {
        let v = viewer(ctx)?;
        v.staff()?;
        match dom::get(services(ctx)?, v, parse_id(&id).map_err(|e| e.at("id"))?).await {
            Ok(p) => Ok(Some(Patrol::one(p))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Patrol coverage per village grid and local day (`YYYY-MM-DD`, at most 31 days)
    /// within a township or grid of your region: planned vs done, missed plans,
    /// distance walked, sites visited, check-ins (county staff and supervisors).
    async fn patrol_coverage(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
        from: String,
        to: String,
    ) -> Result<Vec<GridCoverage>, AppError> {
        let rid = parse_id(&region_id).map_err(|e| e.at("regionId"))?;
        Ok(cov::coverage(services(ctx)?, viewer(ctx)?, rid, &from, &to)
            .await?
            .into_iter()
            .map(GridCoverage)
            .collect())
    }
}

/// Patrol mutations.
#[derive(Default)]
pub struct PatrolMutation;

#[Object]
impl PatrolMutation {
    /// Makes a patrol plan for an inspector of your region (county staff, supervisors).
    async fn create_patrol_plan(
        &self,
        ctx: &Context<'_>,
        input: CreatePatrolPlanInput,
    ) -> Result<PatrolPlan, AppError> {
        let fields = plans::PlanFields {
            inspector_id: parse_id(&input.inspector_id).map_err(|e| e.at("input.inspectorId"))?,
            name: input.name,
            frequency: input.frequency.into(),
            times_per_month: input.times_per_month,
            weekday: input.weekday,
            window_start: input.window_start,
            window_end: input.window_end,
            site_ids: ids(
                input.site_ids.as_deref().unwrap_or_default(),
                "input.siteIds",
            )?,
            starts_on: input.starts_on,
            ends_on: input.ends_on,
        };
        plans::create(
            services(ctx)?,
            viewer(ctx)?,
            fields,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(PatrolPlan)
        .map_err(|e| e.under("input"))
    }

    /// Changes a patrol plan of your region; archived plans cannot change.
    async fn update_patrol_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePatrolPlanInput,
    ) -> Result<PatrolPlan, AppError> {
        let patch = plans::PlanPatch {
            name: input.name,
            frequency: input.frequency.map(Into::into),
            times_per_month: input.times_per_month,
            weekday: input.weekday,
            window_start: input.window_start,
            window_end: input.window_end,
            site_ids: input
                .site_ids
                .as_deref()
                .map(|s| ids(s, "input.siteIds"))
                .transpose()?,
            starts_on: input.starts_on,
            ends_on: input.ends_on,
        };
        plans::update(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
            patch,
        )
        .await
        .map(PatrolPlan)
        .map_err(|e| e.under("input"))
    }

    /// Archives a patrol plan of your region: no longer due from today on.
    async fn archive_patrol_plan(&self, ctx: &Context<'_>, id: ID) -> Result<PatrolPlan, AppError> {
        plans::archive(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(PatrolPlan)
    }

    /// Starts a patrol of your grid (inspectors), optionally for one of your plans and,
    /// for a patrol recorded offline, at the time it really started.
    async fn start_patrol(
        &self,
        ctx: &Context<'_>,
        input: Option<StartPatrolInput>,
    ) -> Result<Patrol, AppError> {
        let input = input.unwrap_or_default();
        let start = dom::StartInput {
            plan_id: opt_id(input.plan_id.as_ref(), "input.planId")?,
            started_at: input.started_at,
        };
        dom::start(
            services(ctx)?,
            viewer(ctx)?,
            start,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(Patrol::one)
        .map_err(|e| e.under("input"))
    }

    /// Adds a batch of GPS fixes (at most 5,000) to your patrol, open or ended.
    /// Batches may arrive in any order, late, or twice: the same `batchKey` (or, without
    /// one, the same points) is kept once. Implausible data is flagged on the patrol.
    async fn append_track(
        &self,
        ctx: &Context<'_>,
        patrol_id: ID,
        points: Vec<TrackPointInput>,
        coord: Option<CoordSystem>,
        batch_key: Option<String>,
    ) -> Result<Patrol, AppError> {
        let pid = parse_id(&patrol_id).map_err(|e| e.at("patrolId"))?;
        let pts: Vec<dom::PointIn> = points
            .into_iter()
            .map(|p| dom::PointIn {
                at: p.at,
                lat: p.lat,
                lng: p.lng,
                accuracy_m: p.accuracy_m,
            })
            .collect();
        dom::append_track(
            services(ctx)?,
            viewer(ctx)?,
            pid,
            pts,
            coord == Some(CoordSystem::Gcj02),
            batch_key.as_deref(),
        )
        .await
        .map(Patrol::one)
    }

    /// Checks in on your patrol, at a site or anywhere; `nothingFound: true` records
    /// that all was in order (零报告).
    async fn check_in(
        &self,
        ctx: &Context<'_>,
        input: CheckInInput,
    ) -> Result<PatrolCheckIn, AppError> {
        let loc: crate::domain::cases::intake::Location = input.location.into();
        let ci = dom::CheckInInput {
            patrol_id: parse_id(&input.patrol_id).map_err(|e| e.at("input.patrolId"))?,
            site_id: opt_id(input.site_id.as_ref(), "input.siteId")?,
            lat: loc.lat,
            lng: loc.lng,
            gcj02: loc.gcj02,
            accuracy_m: loc.accuracy_m,
            at: input.at,
            nothing_found: input.nothing_found,
            note: input.note,
        };
        dom::check_in(
            services(ctx)?,
            viewer(ctx)?,
            ci,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(PatrolCheckIn)
        .map_err(|e| e.under("input"))
    }

    /// Ends your patrol (at `endedAt`, for one recorded offline).
    async fn end_patrol(
        &self,
        ctx: &Context<'_>,
        patrol_id: ID,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<Patrol, AppError> {
        dom::end(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&patrol_id).map_err(|e| e.at("patrolId"))?,
            ended_at,
        )
        .await
        .map(Patrol::one)
    }
}
