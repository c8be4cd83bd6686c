//! Cases over GraphQL: intake, the workflow, queries, and the public view.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{case, case_event};

use super::grid::{CoordSystem, GeoPoint, Priority, Region};
use super::loaders::{Loaders, unshare};
use super::pagination::{connection, page_request};
use super::users::User;
use super::{parse_id, request, services, state, viewer};

use crate::domain::cases::intake::{self, Location};
use crate::domain::cases::workflow::{self, Action, CaseRef};
use crate::domain::cases::{self as dom, CaseFilter as DomainFilter};
use crate::domain::grid::RegionLevel;
use crate::error::AppError;

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("loaders missing")))
}

/// Where a case is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseStatus {
    /// 待受理: reported, waiting to be filed and dispatched.
    Pending,
    /// 已派发: dispatched to an inspector.
    Assigned,
    /// 处置中: the inspector is on it.
    InProgress,
    /// 待核查: result submitted, waiting for verification.
    Submitted,
    /// 已办结: verified and closed.
    Closed,
    /// 不予受理: invalid, duplicate or out of scope.
    Rejected,
}

impl From<dom::CaseStatus> for CaseStatus {
    fn from(s: dom::CaseStatus) -> Self {
        match s {
            dom::CaseStatus::Pending => Self::Pending,
            dom::CaseStatus::Assigned => Self::Assigned,
            dom::CaseStatus::InProgress => Self::InProgress,
            dom::CaseStatus::Submitted => Self::Submitted,
            dom::CaseStatus::Closed => Self::Closed,
            dom::CaseStatus::Rejected => Self::Rejected,
        }
    }
}

impl From<CaseStatus> for dom::CaseStatus {
    fn from(s: CaseStatus) -> Self {
        match s {
            CaseStatus::Pending => Self::Pending,
            CaseStatus::Assigned => Self::Assigned,
            CaseStatus::InProgress => Self::InProgress,
            CaseStatus::Submitted => Self::Submitted,
            CaseStatus::Closed => Self::Closed,
            CaseStatus::Rejected => Self::Rejected,
        }
    }
}

/// How a case came in.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseSource {
    /// A public tip-off (举报).
    Tip,
    /// Found by an inspector on patrol.
    Patrol,
    /// A supervisor's inspection task.
    Task,
    /// A random inspection (双随机).
    Random,
}

impl From<CaseSource> for dom::CaseSource {
    fn from(s: CaseSource) -> Self {
        match s {
            CaseSource::Tip => Self::Tip,
            CaseSource::Patrol => Self::Patrol,
            CaseSource::Task => Self::Task,
            CaseSource::Random => Self::Random,
        }
    }
}

/// Why a case is turned down.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RejectReason {
    /// Not a real problem, or not enough to act on.
    Invalid,
    /// The same problem as another case (`duplicateOf`).
    Duplicate,
    /// Not an environmental matter, or not this county's.
    OutOfScope,
}

/// GraphQL's `Int` is 32 bits: durations beyond ±68 years are shown at the limit
/// (deadlines are at most a year ahead, so only a case forgotten for decades gets there).
fn saturate_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

fn parse_status(s: &str) -> Result<CaseStatus, AppError> {
    dom::CaseStatus::parse(s)
        .map(CaseStatus::from)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("unknown status {s}")))
}

/// A category as a case refers to it.
#[derive(SimpleObject, Clone)]
pub struct CategorySummary {
    /// Opaque id.
    pub id: ID,
    /// Stable code, e.g. `OPEN_BURNING`.
    pub code: String,
    /// Chinese name.
    pub name: String,
}

/// One entry of a case's audit trail. Events are never changed or deleted.
pub struct CaseEvent(case_event::Model);

#[Object]
impl CaseEvent {
    /// 1, 2, 3 … in order; equals the case's version after this event.
    async fn seq(&self) -> i32 {
        self.0.seq
    }
    /// What happened: SUBMIT_TIP, REPORT, CREATE_TASK, ACCEPT, REJECT, ASSIGN, START,
    /// SUBMIT, APPROVE, RETURN, ESCALATE, EXTEND, PARK, RESUME, MERGE, RATE.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Status before.
    #[graphql(name = "fromStatus")]
    async fn status_before(&self) -> Result<Option<CaseStatus>, AppError> {
        self.0.from_status.as_deref().map(parse_status).transpose()
    }
    /// Status after.
    async fn to_status(&self) -> Result<Option<CaseStatus>, AppError> {
        self.0.to_status.as_deref().map(parse_status).transpose()
    }
    /// The actor's role (`SYSTEM` for automatic steps).
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
    }
    /// The staff member who acted (null for the public and the system).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.actor_id {
            Some(id) => Ok(loaders(ctx)?
                .users
                .load_one(id)
                .await
                .map_err(unshare)?
                .map(User)),
            None => Ok(None),
        }
    }
    /// The note given with the step.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Details (distance of a check-in, previous due time of an extension …).
    async fn data(&self) -> Option<Json<serde_json::Value>> {
        self.0.data.clone().map(Json)
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A case as staff see it (scoped: out-of-scope cases are never returned).
pub struct Case(pub case::Model);

#[Object]
impl Case {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Human case number, e.g. 20261128000042.
    async fn number(&self) -> &str {
        &self.0.number
    }
    /// Version for optimistic concurrency: send it back with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Status.
    async fn status(&self) -> Result<CaseStatus, AppError> {
        parse_status(&self.0.status)
    }
    /// How it came in.
    async fn source(&self) -> Option<CaseSource> {
        match dom::CaseSource::parse(&self.0.source)? {
            dom::CaseSource::Tip => Some(CaseSource::Tip),
            dom::CaseSource::Patrol => Some(CaseSource::Patrol),
            dom::CaseSource::Task => Some(CaseSource::Task),
            dom::CaseSource::Random => Some(CaseSource::Random),
        }
    }
    /// Category.
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<CategorySummary>, AppError> {
        let c = loaders(ctx)?
            .categories
            .load_one(self.0.category_id)
            .await
            .map_err(unshare)?;
        Ok(c.map(|c| CategorySummary {
            id: ID(c.id.to_string()),
            code: c.code,
            name: c.name,
        }))
    }
    /// Short title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Priority.
    async fn priority(&self) -> Priority {
        match self.0.priority.as_str() {
            "URGENT" => Priority::Urgent,
            "HIGH" => Priority::High,
            _ => Priority::Normal,
        }
    }
    /// The grid the case belongs to (a village grid, or a township when reported
    /// outside every grid).
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// Where, in WGS-84.
    async fn location(&self) -> GeoPoint {
        GeoPoint {
            lat: self.0.lat,
            lng: self.0.lng,
        }
    }
    /// Accuracy of the reported location in metres.
    async fn accuracy_m(&self) -> Option<f64> {
        self.0.accuracy_m
    }
    /// Reported outside every village grid and routed to the nearest township.
    async fn outside_grid(&self) -> bool {
        self.0.outside_grid
    }
    /// Address as reported.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// The tipster's pseudonymous handle (their identity stays in the vault).
    async fn tipster(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        match self.0.tipster_id {
            Some(id) => Ok(loaders(ctx)?
                .tipsters
                .load_one(id)
                .await
                .map_err(unshare)?
                .map(|t| t.handle)),
            None => Ok(None),
        }
    }
    /// The inspector handling it.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.assignee_id {
            Some(id) => Ok(loaders(ctx)?
                .users
                .load_one(id)
                .await
                .map_err(unshare)?
                .map(User)),
            None => Ok(None),
        }
    }
    /// The inspector who found it on patrol.
    async fn reporter(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.reporter_id {
            Some(id) => Ok(loaders(ctx)?
                .users
                .load_one(id)
                .await
                .map_err(unshare)?
                .map(User)),
            None => Ok(None),
        }
    }
    /// Times the result was returned for rework.
    async fn rework_count(&self) -> i32 {
        self.0.rework_count
    }
    /// 0 at the grid, 1 escalated to the township, 2 to the county.
    async fn escalation_level(&self) -> i32 {
        self.0.escalation_level
    }
    /// When it came in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Filed (立案).
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_at
    }
    /// On-site check-in.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// Result submitted.
    async fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.0.submitted_at
    }
    /// Closed or rejected.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Deadline of the current step (accepting while pending, handling after).
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// Seconds left until `dueAt` (negative when overdue; frozen while parked); null
    /// when finished or without a deadline. Shown within the 32-bit range of `Int`.
    async fn remaining_seconds(&self, ctx: &Context<'_>) -> Result<Option<i32>, AppError> {
        let now = services(ctx)?.clock.now();
        Ok(dom::clock(&self.0, now).map(|(left, _)| saturate_i32(left.num_seconds())))
    }
    /// Past its deadline and still open (a parked case's clock is stopped).
    async fn overdue(&self, ctx: &Context<'_>) -> Result<bool, AppError> {
        let now = services(ctx)?.clock.now();
        Ok(dom::clock(&self.0, now).is_some_and(|(_, overdue)| overdue))
    }
    /// Parked (挂账): the clock is stopped.
    async fn parked(&self) -> bool {
        self.0.parked_at.is_some()
    }
    /// Since when it is parked.
    async fn parked_at(&self) -> Option<DateTime<Utc>> {
        self.0.parked_at
    }
    /// Seconds spent parked so far (excluding a current parking).
    async fn parked_seconds(&self) -> i32 {
        saturate_i32(self.0.parked_seconds)
    }
    /// Extensions granted.
    async fn extended_count(&self) -> i32 {
        self.0.extended_count
    }
    /// Distance in metres of the on-site check-in from the case location.
    async fn checkin_distance_m(&self) -> Option<f64> {
        self.0.checkin_distance_m
    }
    /// The check-in was farther than the category's radius.
    async fn checkin_far(&self) -> bool {
        self.0.checkin_far
    }
    /// Why it was turned down: INVALID, DUPLICATE or OUT_OF_SCOPE.
    async fn reject_reason(&self) -> Option<&str> {
        self.0.reject_reason.as_deref()
    }
    /// The case this one duplicates (possible duplicate on intake, or merged).
    async fn duplicate_of(&self, ctx: &Context<'_>) -> Result<Option<Case>, AppError> {
        let Some(id) = self.0.duplicate_of else {
            return Ok(None);
        };
        match dom::get_for_staff(&state(ctx)?.services.db, viewer(ctx)?, id).await {
            Ok(c) => Ok(Some(Case(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// The case this one was merged into.
    async fn merged_into(&self) -> Option<ID> {
        self.0.merged_into.map(|i| ID(i.to_string()))
    }
    /// Newer tip-offs linked to this case as possible duplicates (for the supervisor to
    /// merge or keep).
    async fn possible_duplicates(&self, ctx: &Context<'_>) -> Result<Vec<Case>, AppError> {
        Ok(
            dom::possible_duplicates(&state(ctx)?.services.db, viewer(ctx)?, self.0.id)
                .await?
                .into_iter()
                .map(Case)
                .collect(),
        )
    }
    /// The tipster's rating after closure (1–5).
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// The tipster's comment with the rating.
    async fn rating_comment(&self) -> Option<&str> {
        self.0.rating_comment.as_deref()
    }
    /// The latest event.
    async fn last_event(&self, ctx: &Context<'_>) -> Result<Option<CaseEvent>, AppError> {
        Ok(loaders(ctx)?
            .last_events
            .load_one(self.0.id)
            .await
            .map_err(unshare)?
            .map(CaseEvent))
    }
    /// Photos (pending and confirmed; rejected ones are left out).
    async fn evidence(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::evidence::Evidence>, AppError> {
        Ok(
            crate::domain::evidence::list_for_case(&state(ctx)?.services.db, &self.0)
                .await?
                .into_iter()
                .map(super::evidence::Evidence)
                .collect(),
        )
    }
    /// The whole trail, in order.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<CaseEvent>, AppError> {
        Ok(dom::events(&state(ctx)?.services.db, self.0.id)
            .await?
            .into_iter()
            .map(CaseEvent)
            .collect())
    }
}

/// One step of a tip-off as its tipster sees it.
#[derive(SimpleObject)]
pub struct PublicNote {
    /// When.
    pub at: DateTime<Utc>,
    /// Status after the step.
    pub status: CaseStatus,
    /// What happened, in words for the public (no staff names).
    pub text: String,
}

/// A tip-off as the public sees it: no staff names, no other people's data, nothing
/// finer than the township.
pub struct PublicCase(case::Model);

fn public_text(e: &case_event::Model) -> Option<&'static str> {
    Some(match e.action.as_str() {
        "SUBMIT_TIP" => "已收到您的举报",
        "ACCEPT" => "已受理立案",
        "ASSIGN" => "已派发网格员处理",
        "START" => "网格员已到达现场处置",
        "SUBMIT" => "处置结果已提交，等待核查",
        "APPROVE" => "经核查已办结",
        "RETURN" => "核查未通过，正在重新处置",
        "EXTEND" => "处置期限已依规延长",
        "REJECT" => "经核实不予受理",
        "MERGE" => "与同一问题的其他举报合并办理",
        "RATE" => "您已评价",
        _ => return None,
    })
}

#[Object]
impl PublicCase {
    /// The tracking code (the tipster's receipt).
    async fn tracking_code(&self) -> Option<&str> {
        self.0.tracking_code.as_deref()
    }
    /// Status.
    async fn status(&self) -> Result<CaseStatus, AppError> {
        parse_status(&self.0.status)
    }
    /// Category.
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<CategorySummary>, AppError> {
        let c = loaders(ctx)?
            .categories
            .load_one(self.0.category_id)
            .await
            .map_err(unshare)?;
        Ok(c.map(|c| CategorySummary {
            id: ID(c.id.to_string()),
            code: c.code,
            name: c.name,
        }))
    }
    /// The township handling it (never the village or a coordinate).
    async fn township(&self, ctx: &Context<'_>) -> Result<Option<String>, AppError> {
        let snap = state(ctx)?.services.grid.snapshot();
        Ok(snap
            .get(self.0.region_id)
            .and_then(|r| snap.ancestor_at(r, RegionLevel::Township))
            .map(|t| t.name.clone()))
    }
    /// When it was submitted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When it was closed.
    async fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.0.closed_at
    }
    /// Progress, in words for the public.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<PublicNote>, AppError> {
        let events = dom::events(&state(ctx)?.services.db, self.0.id).await?;
        Ok(events
            .iter()
            .filter_map(|e| {
                let text = public_text(e)?;
                let status = parse_status(e.to_status.as_deref()?).ok()?;
                Some(PublicNote {
                    at: e.created_at,
                    status,
                    text: text.to_owned(),
                })
            })
            .collect())
    }
    /// The rating given (1–5).
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// Photos of the problem and of the fix once the case is closed: resized,
    /// re-encoded copies without EXIF (no location, no device data), as short-lived URLs.
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<String>, AppError> {
        let st = state(ctx)?;
        let mut urls = Vec::new();
        for key in crate::domain::evidence::public_photo_keys(&st.services.db, &self.0).await? {
            urls.push(crate::domain::evidence::download_url(&st.services, &key).await?);
        }
        Ok(urls)
    }
    /// Whether the tipster can still rate it.
    async fn can_rate(&self) -> bool {
        workflow::can_rate(&self.0)
    }
}

/// A reported location.
#[derive(InputObject, Clone, Copy)]
pub struct LocationInput {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Datum of `lat`/`lng` (WGS84 when omitted).
    pub coord: Option<CoordSystem>,
    /// Horizontal accuracy in metres.
    pub accuracy_m: Option<f64>,
}

impl From<LocationInput> for Location {
    fn from(l: LocationInput) -> Self {
        Location {
            lat: l.lat,
            lng: l.lng,
            gcj02: l.coord == Some(CoordSystem::Gcj02),
            accuracy_m: l.accuracy_m,
        }
    }
}

/// A public tip-off.
#[derive(InputObject)]
pub struct SubmitTipInput {
    /// Category code, e.g. `OPEN_BURNING`.
    pub category_code: String,
    /// What you saw (5–2000 characters).
    pub description: String,
    /// Where (GCJ-02 from `wx.getLocation({type: 'gcj02'})` is fine: say so in `coord`).
    pub location: LocationInput,
    /// Address in words.
    pub address: Option<String>,
    /// A mobile number for a call-back (kept confidential).
    pub phone: Option<String>,
    /// A fresh key per tip-off (e.g. a UUID); resending with the same key after a lost
    /// answer returns the first answer and never creates a second case.
    pub idempotency_key: String,
}

/// The answer to a tip-off.
#[derive(SimpleObject)]
pub struct TipReceipt {
    /// Keep this code to follow the case (`tipByTrackingCode`).
    pub tracking_code: String,
    /// The tip-off as you can see it.
    pub tip: PublicCase,
}

/// A problem found on patrol.
#[derive(InputObject)]
pub struct ReportCaseInput {
    /// Category code.
    pub category_code: String,
    /// What was found.
    pub description: String,
    /// Where (inside your own grid).
    pub location: LocationInput,
    /// A fresh key per report (retries return the first answer).
    pub idempotency_key: String,
}

/// An inspection task.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// Category code.
    pub category_code: String,
    /// Short title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// Where, if a point is known; otherwise the site's location; otherwise the grid's
    /// centre.
    pub location: Option<LocationInput>,
    /// The grid, when neither a location nor a site is given.
    pub region_id: Option<ID>,
    /// Inspector to dispatch to at once.
    pub assignee_id: Option<ID>,
    /// Deadline, at most a year ahead (default: the category's handling limit on the
    /// work calendar).
    pub due_at: Option<DateTime<Utc>>,
    /// The supervised site concerned; it must lie within your region.
    pub site_id: Option<ID>,
    /// Priority (NORMAL when omitted).
    pub priority: Option<Priority>,
    /// Optional key making retries safe.
    pub idempotency_key: Option<String>,
}

/// Filters of `cases`.
#[derive(InputObject, Default)]
pub struct CaseFilter {
    /// Only these statuses.
    pub status: Option<Vec<CaseStatus>>,
    /// Only this category.
    pub category_code: Option<String>,
    /// Only within this region's subtree.
    pub region_id: Option<ID>,
    /// Only assigned to this user.
    pub assignee_id: Option<ID>,
    /// Only this source.
    pub source: Option<CaseSource>,
    /// Only overdue (true) or not overdue (false).
    pub overdue: Option<bool>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Number, title or description contains this text.
    pub text: Option<String>,
}

/// Case queries.
#[derive(Default)]
pub struct CaseQuery;

#[Object]
impl CaseQuery {
    /// Cases in the viewer's scope, newest first (keyset pages, `first` ≤ 100).
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Case>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let page = page_request(
            "case",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = DomainFilter {
            status: f
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            category_code: f.category_code,
            region_id: f.region_id.as_ref().map(parse_id).transpose()?,
            assignee_id: f.assignee_id.as_ref().map(parse_id).transpose()?,
            source: f.source.map(Into::into),
            overdue: f.overdue,
            created_from: f.created_from,
            created_to: f.created_to,
            text: f.text,
        };
        let page = dom::list(&st.services, v, filter, page).await?;
        let node = ctx.look_ahead().field("edges").field("node");
        loaders(ctx)?.prime_cases(node, &page.items).await?;
        Ok(connection("case", page, |c| c.id, Case))
    }

    /// One case; null when it does not exist or is outside the viewer's scope.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Case>, AppError> {
        let v = viewer(ctx)?;
        v.staff()?;
        match dom::get_for_staff(&state(ctx)?.services.db, v, parse_id(&id)?).await {
            Ok(c) => Ok(Some(Case(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The viewer's open work (cases assigned to them).
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Case>, AppError> {
        let st = state(ctx)?;
        let page = page_request(
            "case",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let page = dom::my_tasks(&st.services.db, viewer(ctx)?, page).await?;
        let node = ctx.look_ahead().field("edges").field("node");
        loaders(ctx)?.prime_cases(node, &page.items).await?;
        Ok(connection("case", page, |c| c.id, Case))
    }

    /// The public user's own tip-offs (and those merged with them), newest first.
    async fn my_tips(&self, ctx: &Context<'_>) -> Result<Vec<PublicCase>, AppError> {
        Ok(dom::my_tips(&state(ctx)?.services.db, viewer(ctx)?)
            .await?
            .into_iter()
            .map(PublicCase)
            .collect())
    }

    /// A tip-off by its tracking code, as the public sees it; null for an unknown code.
    async fn tip_by_tracking_code(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> Result<Option<PublicCase>, AppError> {
        match dom::by_tracking_code(&state(ctx)?.services.db, &code).await {
            Ok(c) => Ok(Some(PublicCase(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn act(
    ctx: &Context<'_>,
    id: &ID,
    version: i32,
    action: Action,
    key: Option<String>,
) -> Result<Case, AppError> {
    workflow::transition(
        services(ctx)?,
        viewer(ctx)?,
        CaseRef::Id(parse_id(id)?),
        Some(version),
        action,
        key.as_deref(),
    )
    .await
    .map(Case)
}

/// Case mutations.
#[derive(Default)]
pub struct CaseMutation;

#[Object]
impl CaseMutation {
    /// A public tip-off (logged in through WeChat). Routed to the village grid of the
    /// location; returns a tracking code.
    async fn submit_tip(
        &self,
        ctx: &Context<'_>,
        input: SubmitTipInput,
    ) -> Result<TipReceipt, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        let tipster = v.public()?.tipster_id;
        st.limits
            .check_public(request(ctx)?.client_ip, Some(tipster))?;
        let tip = intake::TipInput {
            category_code: input.category_code,
            description: input.description,
            location: input.location.into(),
            address: input.address,
            phone: input.phone,
        };
        let c = intake::submit_tip(&st.services, v, tip, &input.idempotency_key).await?;
        Ok(TipReceipt {
            tracking_code: c.tracking_code.clone().unwrap_or_default(),
            tip: PublicCase(c),
        })
    }

    /// An inspector reports a problem found on patrol in their own grid; it starts
    /// IN_PROGRESS, assigned to them.
    async fn report_case(
        &self,
        ctx: &Context<'_>,
        input: ReportCaseInput,
    ) -> Result<Case, AppError> {
        let st = state(ctx)?;
        let r = intake::ReportInput {
            category_code: input.category_code,
            description: input.description,
            location: input.location.into(),
        };
        intake::report_case(&st.services, viewer(ctx)?, r, &input.idempotency_key)
            .await
            .map(Case)
    }

    /// A supervisor creates an inspection task: ASSIGNED with an assignee, else PENDING.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> Result<Case, AppError> {
        let st = state(ctx)?;
        let t = intake::TaskInput {
            category_code: input.category_code,
            title: input.title,
            description: input.description,
            location: input.location.map(Into::into),
            region_id: input.region_id.as_ref().map(parse_id).transpose()?,
            assignee_id: input.assignee_id.as_ref().map(parse_id).transpose()?,
            due_at: input.due_at,
            site_id: input.site_id.as_ref().map(parse_id).transpose()?,
            priority: input.priority.map(|p| match p {
                Priority::Urgent => "URGENT".to_owned(),
                Priority::High => "HIGH".to_owned(),
                Priority::Normal => "NORMAL".to_owned(),
            }),
        };
        intake::create_task(
            &st.services,
            viewer(ctx)?,
            t,
            input.idempotency_key.as_deref(),
        )
        .await
        .map(Case)
    }

    /// Files a pending tip-off (立案) without dispatching it yet.
    async fn accept_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Accept { note }, idempotency_key).await
    }

    /// Turns a pending case down.
    #[expect(
        clippy::too_many_arguments,
        reason = "GraphQL arguments are the client contract"
    )]
    async fn reject_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: RejectReason,
        duplicate_of: Option<ID>,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let reason = match reason {
            RejectReason::Invalid => workflow::RejectReason::Invalid,
            RejectReason::Duplicate => workflow::RejectReason::Duplicate,
            RejectReason::OutOfScope => workflow::RejectReason::OutOfScope,
        };
        let duplicate_of = duplicate_of.as_ref().map(parse_id).transpose()?;
        act(
            ctx,
            &id,
            version,
            Action::Reject {
                reason,
                duplicate_of,
                note,
            },
            idempotency_key,
        )
        .await
    }

    /// Dispatches (or re-dispatches) a case to an inspector.
    async fn assign_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        assignee_id: ID,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let assignee_id = parse_id(&assignee_id)?;
        act(
            ctx,
            &id,
            version,
            Action::Assign { assignee_id, note },
            idempotency_key,
        )
        .await
    }

    /// On-site check-in by the assignee; the distance to the case is recorded and
    /// flagged beyond the category's radius.
    async fn start_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        location: LocationInput,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let p = Location::from(location);
        let coord = if p.gcj02 {
            crate::domain::geo::CoordSystem::Gcj02
        } else {
            crate::domain::geo::CoordSystem::Wgs84
        };
        let w = crate::domain::geo::WgsPoint::from_client(p.lat, p.lng, coord)?;
        act(
            ctx,
            &id,
            version,
            Action::Start {
                lat: w.lat.degrees(),
                lng: w.lng.degrees(),
            },
            idempotency_key,
        )
        .await
    }

    /// The assignee submits the result, citing confirmed evidence.
    async fn submit_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        evidence_ids: Option<Vec<ID>>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let evidence_ids = evidence_ids
            .unwrap_or_default()
            .iter()
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()?;
        act(
            ctx,
            &id,
            version,
            Action::Submit { note, evidence_ids },
            idempotency_key,
        )
        .await
    }

    /// A supervisor verifies the result: approve closes the case; otherwise it goes back
    /// to the inspector (rework count + 1) with the note.
    async fn verify_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        approve: bool,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Verify { approve, note },
            idempotency_key,
        )
        .await
    }

    /// Raises the case one tier (village → township → county).
    async fn escalate_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Escalate { reason },
            idempotency_key,
        )
        .await
    }

    /// Grants more time (延期): `dueAt` moves to `until` (later than the current
    /// deadline, at most a year ahead).
    async fn extend_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        until: DateTime<Utc>,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(
            ctx,
            &id,
            version,
            Action::Extend { until, reason },
            idempotency_key,
        )
        .await
    }

    /// Parks the case (挂账): its clock stops until resumed.
    async fn park_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Park { reason }, idempotency_key).await
    }

    /// Resumes a parked case; its deadline moves by the parked time.
    async fn resume_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        note: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        act(ctx, &id, version, Action::Resume { note }, idempotency_key).await
    }

    /// Folds this case into `into` (same problem); every tipster follows the survivor.
    async fn merge_case(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        into: ID,
        idempotency_key: Option<String>,
    ) -> Result<Case, AppError> {
        let into = parse_id(&into)?;
        act(ctx, &id, version, Action::Merge { into }, idempotency_key).await
    }

    /// The tipster rates a closed case once (1–5), by id or tracking code.
    async fn rate_case(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        tracking_code: Option<String>,
        score: i32,
        comment: Option<String>,
    ) -> Result<PublicCase, AppError> {
        let target = match (id, tracking_code) {
            (Some(id), _) => CaseRef::Id(parse_id(&id)?),
            (None, Some(code)) => CaseRef::TrackingCode(code),
            (None, None) => {
                return Err(AppError::bad_input(crate::error::Msg::new(
                    "请给出案件编号或查询码",
                    "give id or trackingCode",
                )));
            }
        };
        workflow::rate(services(ctx)?, viewer(ctx)?, target, score, comment)
            .await
            .map(PublicCase)
    }
}
