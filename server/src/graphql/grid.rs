//! Regions, locating a point, and case categories.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};

use crate::domain::category as cat;
use crate::domain::geo::{self, WgsPoint};
use crate::domain::grid::{GridSnapshot, RegionLevel as DomainLevel, RegionNode};
use crate::error::AppError;

use super::{parse_id, state};

/// Tier of a region in the grid.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RegionLevel {
    /// 县 — a county, the root of a tree.
    County,
    /// 乡镇 — a township.
    Township,
    /// 村/社区网格 — a village or community grid, the unit inspectors patrol.
    Village,
}

impl From<DomainLevel> for RegionLevel {
    fn from(l: DomainLevel) -> Self {
        match l {
            DomainLevel::County => Self::County,
            DomainLevel::Township => Self::Township,
            DomainLevel::Village => Self::Village,
        }
    }
}

/// The datum of coordinates a client sends or reads.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum CoordSystem {
    /// GPS coordinates (WGS-84), what the server stores.
    #[default]
    #[graphql(name = "WGS84")]
    Wgs84,
    /// GCJ-02, as returned by `wx.getLocation({type: 'gcj02'})` and Chinese map SDKs.
    #[graphql(name = "GCJ02")]
    Gcj02,
}

impl From<CoordSystem> for geo::CoordSystem {
    fn from(c: CoordSystem) -> Self {
        match c {
            CoordSystem::Wgs84 => Self::Wgs84,
            CoordSystem::Gcj02 => Self::Gcj02,
        }
    }
}

/// A point in degrees, in the datum `coord` says (WGS-84 unless the field was asked
/// for GCJ-02).
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct GeoPoint {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lng: f64,
    /// The datum of `lat`/`lng`.
    pub coord: CoordSystem,
}

impl GeoPoint {
    /// A stored (WGS-84) point, as the client asked to read it.
    pub fn from_wgs84(lat: f64, lng: f64, coord: Option<CoordSystem>) -> Self {
        let coord = coord.unwrap_or_default();
        let (lat, lng) = geo::wgs84_to(lat, lng, coord.into());
        Self { lat, lng, coord }
    }
}

/// A county, township or village grid.
pub struct Region {
    snap: Arc<GridSnapshot>,
    id: i64,
}

impl Region {
    fn new(snap: &Arc<GridSnapshot>, node: &RegionNode) -> Self {
        Self {
            snap: Arc::clone(snap),
            id: node.id,
        }
    }

    /// The region with `id` in the snapshot, if any.
    pub fn by_id(snap: &Arc<GridSnapshot>, id: i64) -> Option<Self> {
        snap.get(id).map(|n| Self::new(snap, n))
    }

    fn node(&self) -> Result<&RegionNode, AppError> {
        self.snap
            .get(self.id)
            .ok_or_else(|| AppError::not_found("区域", "region"))
    }
}

/// Every field reads the grid snapshot the region holds.
impl super::fast::Inline for Region {
    fn inline(_: &str) -> bool {
        true
    }
}

#[Object]
impl Region {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }
    /// Administrative code: 6 digits for a county, 9 for a township, 12 for a village.
    async fn code(&self) -> Result<&str, AppError> {
        Ok(&self.node()?.code)
    }
    /// Chinese name, e.g. 龙港镇.
    async fn name(&self) -> Result<&str, AppError> {
        Ok(&self.node()?.name)
    }
    /// Tier in the grid.
    async fn level(&self) -> Result<RegionLevel, AppError> {
        Ok(self.node()?.level.into())
    }
    /// Codes from the county down to this region, `/`-separated.
    async fn path(&self) -> Result<&str, AppError> {
        Ok(&self.node()?.path)
    }
    /// The region one tier up; null for a county.
    async fn parent(&self) -> Result<Option<Region>, AppError> {
        let node = self.node()?;
        Ok(node
            .parent_id
            .and_then(|p| self.snap.get(p))
            .map(|p| Region::new(&self.snap, p)))
    }
    /// The regions one tier down, ordered by code.
    async fn children(&self) -> Result<Vec<Region>, AppError> {
        let node = self.node()?;
        Ok(self
            .snap
            .children_of(Some(node.id))
            .into_iter()
            .map(|c| Region::new(&self.snap, c))
            .collect())
    }
    /// Centre of the boundary; null when the region has no boundary. WGS-84 unless
    /// `coord: GCJ02` (what WeChat and Chinese map SDKs draw).
    async fn centroid(&self, coord: Option<CoordSystem>) -> Result<Option<GeoPoint>, AppError> {
        Ok(self
            .node()?
            .centroid
            .map(|(lat, lng)| GeoPoint::from_wgs84(lat, lng, coord)))
    }
    /// True when the name or the boundary was generated rather than official;
    /// such regions are placeholders until the county imports its real grid.
    async fn synthetic(&self) -> Result<bool, AppError> {
        let n = self.node()?;
        Ok(n.synthetic_name || n.synthetic_boundary)
    }
    /// True when the name was generated (no official name was known).
    async fn synthetic_name(&self) -> Result<bool, AppError> {
        Ok(self.node()?.synthetic_name)
    }
    /// True when the boundary was generated (no surveyed boundary imported yet).
    async fn synthetic_boundary(&self) -> Result<bool, AppError> {
        Ok(self.node()?.synthetic_boundary)
    }
}

/// Priority of a case; time limits differ per priority.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Priority {
    /// 紧急.
    Urgent,
    /// 较急.
    High,
    /// 一般.
    Normal,
}

impl From<cat::Priority> for Priority {
    fn from(p: cat::Priority) -> Self {
        match p {
            cat::Priority::Urgent => Self::Urgent,
            cat::Priority::High => Self::High,
            cat::Priority::Normal => Self::Normal,
        }
    }
}

impl From<Priority> for cat::Priority {
    fn from(p: Priority) -> Self {
        match p {
            Priority::Urgent => Self::Urgent,
            Priority::High => Self::High,
            Priority::Normal => Self::Normal,
        }
    }
}

/// A step of handling a case that has a time limit.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseStep {
    /// 受理: from report to acceptance.
    Accept,
    /// 到场: from acceptance to on-site check-in.
    Onsite,
    /// 处置办结: from acceptance to submitted result.
    Handle,
}

/// How a time limit is counted.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TimeUnit {
    /// Clock hours, around the clock (urgent matters such as open burning).
    Hours,
    /// Hours inside working hours on working days.
    WorkingHours,
    /// Working days on the work calendar (holidays and make-up days included).
    WorkingDays,
}

/// One time limit of a category.
#[derive(SimpleObject, Clone, Debug)]
pub struct TimeLimit {
    /// Priority it applies to.
    pub priority: Priority,
    /// Step it applies to.
    pub step: CaseStep,
    /// How many units.
    pub amount: i32,
    /// The unit.
    pub unit: TimeUnit,
}

/// Confirmed photos needed per phase before a case can be submitted.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct PhotoMinimums {
    /// Photos of the problem as found (发现).
    pub before: i32,
    /// Photos during handling.
    pub during: i32,
    /// Photos after the fix (整改后).
    pub after: i32,
}

/// A kind of environmental problem, with its rules.
pub struct Category(pub(crate) cat::CategoryView);

#[Object]
impl Category {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Stable code, e.g. `OPEN_BURNING`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// Chinese name, e.g. 露天焚烧.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What the category covers.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Position in pickers.
    async fn sort_order(&self) -> i32 {
        self.0.sort_order
    }
    /// A new tip-off this close (metres) to an open case of the category is a possible duplicate.
    async fn duplicate_radius_m(&self) -> f64 {
        self.0.duplicate_radius_m
    }
    /// The time window (hours) of that duplicate check.
    async fn duplicate_window_hours(&self) -> i32 {
        self.0.duplicate_window_hours
    }
    /// An on-site check-in farther than this (metres) from the case is flagged.
    async fn checkin_radius_m(&self) -> f64 {
        self.0.checkin_radius_m
    }
    /// Confirmed photos needed per phase to submit a case.
    async fn min_photos(&self) -> PhotoMinimums {
        PhotoMinimums {
            before: self.0.min_photos_before,
            during: self.0.min_photos_during,
            after: self.0.min_photos_after,
        }
    }
    /// Time limits per priority and step.
    async fn time_limits(&self) -> Vec<TimeLimit> {
        self.0
            .limits
            .iter()
            .map(|l| TimeLimit {
                priority: l.priority.into(),
                step: match l.step {
                    cat::Step::Accept => CaseStep::Accept,
                    cat::Step::Onsite => CaseStep::Onsite,
                    cat::Step::Handle => CaseStep::Handle,
                },
                amount: l.amount,
                unit: match l.unit {
                    cat::LimitUnit::Hours => TimeUnit::Hours,
                    cat::LimitUnit::WorkingHours => TimeUnit::WorkingHours,
                    cat::LimitUnit::WorkingDays => TimeUnit::WorkingDays,
                },
            })
            .collect()
    }
}

/// Queries about the grid and categories.
#[derive(Default)]
pub struct GridQuery;

#[Object]
impl GridQuery {
    /// The children of `parentId`, or the roots (counties) when it is null, ordered by
    /// code. An unknown `parentId` is `NOT_FOUND`.
    async fn regions(
        &self,
        ctx: &Context<'_>,
        parent_id: Option<ID>,
    ) -> Result<Vec<Region>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        let parent = parent_id
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("parentId"))?;
        let nodes = crate::domain::grid::regions(&snap, parent)?;
        Ok(nodes.into_iter().map(|n| Region::new(&snap, n)).collect())
    }

    /// One region; null when there is no such region.
    async fn region(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Region>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        let id = parse_id(&id).map_err(|e| e.at("id"))?;
        Ok(snap.get(id).map(|n| Region::new(&snap, n)))
    }

    /// The village grid containing a point, or null outside every grid. `coord` says
    /// which datum `lat`/`lng` are in (GCJ-02 from WeChat and Chinese map SDKs); null
    /// means WGS-84.
    async fn locate(
        &self,
        ctx: &Context<'_>,
        lat: f64,
        lng: f64,
        #[graphql(default_with = "Some(CoordSystem::Wgs84)")] coord: Option<CoordSystem>,
    ) -> Result<Option<Region>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        let point = WgsPoint::from_client(lat, lng, coord.unwrap_or_default().into())?;
        Ok(snap.locate(point).map(|n| Region::new(&snap, n)))
    }

    /// The active case categories, in picker order.
    async fn categories(&self, ctx: &Context<'_>) -> Result<Vec<Category>, AppError> {
        let state = state(ctx)?;
        Ok(cat::list_active(&state.services.db)
            .await?
            .into_iter()
            .map(Category)
            .collect())
    }
}
