//! Campaign seasons (专项行动) over GraphQL: thin resolvers over `domain::campaigns`.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, NaiveDate, Utc};

use super::cases::CategorySummary;
use super::grid::{CaseStep, Priority, Region, TimeLimit, TimeUnit};
use super::loaders::{Loaders, unshare};
use super::{parse_id, state, viewer};
use crate::domain::campaigns::{self as dom, CampaignStatus as DomStatus, CampaignView};
use crate::domain::category::{self as cat};
use crate::error::AppError;

/// Where a campaign stands now.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CampaignStatus {
    /// Its first day has not come yet.
    Upcoming,
    /// Running: new cases of its categories in its region take its limits.
    Running,
    /// Over: its last day passed, or it was ended early.
    Ended,
}

/// A campaign season (专项行动, e.g. 秸秆禁烧 in autumn): while it runs, new cases of its
/// categories located in its region take the tighter of its time limits and the
/// category's, per priority and step (the limit that falls due first).
pub struct Campaign(pub CampaignView);

fn step_out(s: cat::Step) -> CaseStep {
    match s {
        cat::Step::Accept => CaseStep::Accept,
        cat::Step::Onsite => CaseStep::Onsite,
        cat::Step::Handle => CaseStep::Handle,
    }
}

fn step_in(s: CaseStep) -> cat::Step {
    match s {
        CaseStep::Accept => cat::Step::Accept,
        CaseStep::Onsite => cat::Step::Onsite,
        CaseStep::Handle => cat::Step::Handle,
    }
}

fn unit_out(u: cat::LimitUnit) -> TimeUnit {
    match u {
        cat::LimitUnit::Hours => TimeUnit::Hours,
        cat::LimitUnit::WorkingHours => TimeUnit::WorkingHours,
        cat::LimitUnit::WorkingDays => TimeUnit::WorkingDays,
    }
}

fn unit_in(u: TimeUnit) -> cat::LimitUnit {
    match u {
        TimeUnit::Hours => cat::LimitUnit::Hours,
        TimeUnit::WorkingHours => cat::LimitUnit::WorkingHours,
        TimeUnit::WorkingDays => cat::LimitUnit::WorkingDays,
    }
}

#[Object]
impl Campaign {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.campaign.id.to_string())
    }
    /// Name, e.g. 2026年秋季秸秆禁烧专项行动.
    async fn name(&self) -> &str {
        &self.0.campaign.name
    }
    /// The county or township it covers.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.campaign.region_id,
        ))
    }
    /// The categories it covers.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<CategorySummary>, AppError> {
        let loaders = ctx
            .data::<Loaders>()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("loaders missing")))?;
        let found = loaders
            .categories
            .load_many(self.0.category_ids.iter().copied())
            .await
            .map_err(unshare)?;
        Ok(self
            .0
            .category_ids
            .iter()
            .filter_map(|id| found.get(id))
            .map(|c| CategorySummary {
                id: ID(c.id.to_string()),
                code: c.code.clone(),
                name: c.name.clone(),
            })
            .collect())
    }
    /// First day (Asia/Shanghai), included.
    async fn starts_on(&self) -> NaiveDate {
        self.0.campaign.starts_on
    }
    /// Last day (Asia/Shanghai), included.
    async fn ends_on(&self) -> NaiveDate {
        self.0.campaign.ends_on
    }
    /// When it was ended early (`endCampaign`); null otherwise.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.campaign.ended_at
    }
    /// Where it stands now.
    async fn status(&self, ctx: &Context<'_>) -> Result<CampaignStatus, AppError> {
        Ok(match self.0.status(state(ctx)?.services.clock.now()) {
            DomStatus::Upcoming => CampaignStatus::Upcoming,
            DomStatus::Running => CampaignStatus::Running,
            DomStatus::Ended => CampaignStatus::Ended,
        })
    }
    /// Its time limits per priority and step (compared with the category's, the one
    /// that falls due first applies).
    async fn time_limits(&self) -> Vec<TimeLimit> {
        self.0
            .time_limits()
            .into_iter()
            .map(|l| TimeLimit {
                priority: l.priority.into(),
                step: step_out(l.step),
                amount: l.amount,
                unit: unit_out(l.unit),
            })
            .collect()
    }
    /// Patrols required per village grid per day during the campaign, if any.
    async fn patrols_per_grid_per_day(&self) -> Option<i32> {
        self.0.campaign.patrols_per_grid_per_day
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.campaign.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.campaign.updated_at
    }
}

/// A time limit of one step at one priority.
#[derive(InputObject, Clone, Copy)]
pub struct TimeLimitInput {
    /// Priority it applies to.
    pub priority: Priority,
    /// Step it applies to.
    pub step: CaseStep,
    /// How many units (1–1000).
    pub amount: i32,
    /// The unit.
    pub unit: TimeUnit,
}

fn limits_in(v: Vec<TimeLimitInput>) -> Vec<cat::TimeLimit> {
    v.into_iter()
        .map(|l| cat::TimeLimit {
            priority: l.priority.into(),
            step: step_in(l.step),
            amount: l.amount,
            unit: unit_in(l.unit),
        })
        .collect()
}

/// A new campaign.
#[derive(InputObject)]
pub struct CreateCampaignInput {
    /// Name (2–100 characters).
    pub name: String,
    /// The county or township it covers (within your county).
    pub region_id: ID,
    /// Codes of the categories it covers (1–50).
    pub category_codes: Vec<String>,
    /// First day (Asia/Shanghai), included.
    pub starts_on: NaiveDate,
    /// Last day, included (at most 366 days after the first; not in the past).
    pub ends_on: NaiveDate,
    /// Its time limits, one per priority and step (1–9).
    pub time_limits: Vec<TimeLimitInput>,
    /// Patrols required per village grid per day (1–24), if any.
    pub patrols_per_grid_per_day: Option<i32>,
}

/// Changes to a campaign that has not ended; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateCampaignInput {
    /// New name.
    pub name: Option<String>,
    /// New first day (only before the campaign started).
    pub starts_on: Option<NaiveDate>,
    /// New last day.
    pub ends_on: Option<NaiveDate>,
    /// New time limits (replace all).
    pub time_limits: Option<Vec<TimeLimitInput>>,
    /// New patrol requirement.
    pub patrols_per_grid_per_day: Option<i32>,
}

/// Campaign queries.
#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// The campaigns that reach a region (in it, or county-wide above it) and you
    /// (county staff; township supervisors read), latest start first, at most 200;
    /// with `activeOn`, only those running at some moment of that local day.
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
        active_on: Option<NaiveDate>,
    ) -> Result<Vec<Campaign>, AppError> {
        let region_id = parse_id(&region_id).map_err(|e| e.at("regionId"))?;
        Ok(
            dom::list(&state(ctx)?.services, viewer(ctx)?, region_id, active_on)
                .await?
                .into_iter()
                .map(Campaign)
                .collect(),
        )
    }

    /// One campaign; null when it does not exist or does not reach you.
    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Campaign>, AppError> {
        let id = parse_id(&id).map_err(|e| e.at("id"))?;
        match dom::get(&state(ctx)?.services, viewer(ctx)?, id).await {
            Ok(c) => Ok(Some(Campaign(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Campaign mutations (county staff).
#[derive(Default)]
pub struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Creates a campaign for your county or one of its townships. A campaign that
    /// overlaps another in dates, region (one containing the other) and a category is
    /// refused (`CONFLICT`).
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignInput,
    ) -> Result<Campaign, AppError> {
        let region_id = parse_id(&input.region_id)
            .map_err(|e| e.at("regionId"))
            .map_err(|e| e.under("input"))?;
        let new = dom::NewCampaign {
            region_id,
            category_codes: input.category_codes,
            fields: dom::CampaignFields {
                name: input.name,
                starts_on: input.starts_on,
                ends_on: input.ends_on,
                limits: limits_in(input.time_limits),
                patrols_per_grid_per_day: input.patrols_per_grid_per_day,
            },
        };
        dom::create(&state(ctx)?.services, viewer(ctx)?, new)
            .await
            .map(Campaign)
            .map_err(|e| e.under("input"))
    }

    /// Changes a campaign that has not ended (name, dates, limits, patrol requirement).
    /// Cases already in keep their deadlines.
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCampaignInput,
    ) -> Result<Campaign, AppError> {
        let id = parse_id(&id).map_err(|e| e.at("id"))?;
        let patch = dom::CampaignPatch {
            name: input.name,
            starts_on: input.starts_on,
            ends_on: input.ends_on,
            limits: input.time_limits.map(limits_in),
            patrols_per_grid_per_day: input.patrols_per_grid_per_day,
        };
        dom::update(&state(ctx)?.services, viewer(ctx)?, id, patch)
            .await
            .map(Campaign)
            .map_err(|e| e.under("input"))
    }

    /// Ends a campaign now: from this moment new cases no longer take its limits.
    async fn end_campaign(&self, ctx: &Context<'_>, id: ID) -> Result<Campaign, AppError> {
        let id = parse_id(&id).map_err(|e| e.at("id"))?;
        dom::end(&state(ctx)?.services, viewer(ctx)?, id)
            .await
            .map(Campaign)
    }
}
