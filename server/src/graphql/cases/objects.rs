//! A case as staff see it, its events, its category.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{case, case_event};

use super::super::fast::{Fast, Inline};
use super::super::grid::{CoordSystem, GeoPoint, Priority, Region};
use super::super::loaders::unshare;
use super::super::users::User;
use super::super::{services, state, viewer};
use super::types::{CaseSource, CaseStatus, TextCheck};
use super::{loaders, saturate_i32};
use crate::domain::cases::{self as dom, CaseColumns};
use crate::error::AppError;

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

/// A role on an inspection team.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum TeamRole {
    /// 主办: drawn first; the task's assignee when it was created.
    Lead,
    /// 检查组成员: drawn with the lead; sees the task and works it with them.
    Member,
}

impl From<entity::enums::TeamRole> for TeamRole {
    fn from(r: entity::enums::TeamRole) -> Self {
        match r {
            entity::enums::TeamRole::Lead => Self::Lead,
            entity::enums::TeamRole::Member => Self::Member,
        }
    }
}

/// An inspector on a case's team.
#[derive(SimpleObject)]
pub struct TeamMember {
    /// Lead or member.
    pub role: TeamRole,
    /// The inspector.
    pub user: Fast<User>,
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
        Ok(self.0.from_status.map(Into::into))
    }
    /// Status after.
    async fn to_status(&self) -> Result<Option<CaseStatus>, AppError> {
        Ok(self.0.to_status.map(Into::into))
    }
    /// The actor's role (`SYSTEM` for automatic steps).
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
    }
    /// The staff member who acted (null for the public and the system).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>, AppError> {
        match self.0.actor_id {
            Some(id) => User::by_id(ctx, id).await,
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

// Resolvers that query the database box their future: the engine moves the future of
// every field (an `id` as much as an `events`) into its own allocation, and unboxed
// each would be as large as the largest resolver's. perf of a page of a hundred cases
// put 7.5% of the server's CPU in memcpy under the engine's field sets.
//
// The fields the apps' lists ask for come first: the macro's `resolve_field` finds a
// field by comparing its name with each field's in turn, and with `dueAt` thirtieth
// that was ~4 % of an inspector's `myTasks` (perf, issue 14). The SDL is sorted, so the
// order shows only in introspection.
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
    /// Status.
    async fn status(&self) -> Result<CaseStatus, AppError> {
        Ok(self.0.status.into())
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
    /// Category.
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<Fast<CategorySummary>>, AppError> {
        let c = loaders(ctx)?
            .categories
            .load_one(self.0.category_id)
            .await
            .map_err(unshare)?;
        Ok(c.map(|c| {
            Fast(CategorySummary {
                id: ID(c.id.to_string()),
                code: c.code,
                name: c.name,
            })
        }))
    }
    /// The grid the case belongs to (a village grid, or a township when reported
    /// outside every grid).
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Fast<Region>>, AppError> {
        Ok(Region::by_id(&state(ctx)?.services.grid.snapshot(), self.0.region_id).map(Fast))
    }
    /// Short title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The inspector handling it.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<Option<Fast<User>>, AppError> {
        match self.0.assignee_id {
            Some(id) => Ok(User::by_id(ctx, id).await?.map(Fast)),
            None => Ok(None),
        }
    }
    /// The latest event.
    async fn last_event(&self, ctx: &Context<'_>) -> Result<Option<Fast<CaseEvent>>, AppError> {
        Ok(loaders(ctx)?
            .last_events
            .load_one(self.0.id)
            .await
            .map_err(unshare)?
            .map(|e| Fast(CaseEvent(e))))
    }
    /// When it came in.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Priority.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }
    /// Version for optimistic concurrency: send it back with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// How it came in.
    async fn source(&self) -> Option<CaseSource> {
        Some(self.0.source.into())
    }
    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// For a tip-off: what WeChat's text check made of the description (the public
    /// sees it only on `PASS`); null for staff's own cases.
    async fn text_check(&self) -> Option<TextCheck> {
        self.0.text_check.map(Into::into)
    }
    /// Where: WGS-84 unless `coord: GCJ02` (what WeChat and Chinese map SDKs draw).
    async fn location(&self, coord: Option<CoordSystem>) -> GeoPoint {
        GeoPoint::from_wgs84(self.0.lat, self.0.lng, coord)
    }
    /// The supervised site the case is about (see `site(id)`), if it names one.
    async fn site_id(&self) -> Option<ID> {
        self.0.site_id.map(|id| ID(id.to_string()))
    }
    /// The campaign (专项行动) whose time limits the case took when it came in; null for
    /// a case that came in under none.
    async fn campaign(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::super::campaigns::Campaign>, AppError> {
        match self.0.campaign_id {
            None => Ok(None),
            Some(id) => Ok(
                Box::pin(crate::domain::campaigns::of_case(services(ctx)?, id))
                    .await?
                    .map(super::super::campaigns::Campaign),
            ),
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
    /// The inspector who found it on patrol.
    async fn reporter(&self, ctx: &Context<'_>) -> Result<Option<Fast<User>>, AppError> {
        match self.0.reporter_id {
            Some(id) => Ok(User::by_id(ctx, id).await?.map(Fast)),
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
    async fn reject_reason(&self) -> Option<&'static str> {
        self.0.reject_reason.map(|r| r.as_str())
    }
    /// The case this one duplicates (possible duplicate on intake, or merged).
    async fn duplicate_of(&self, ctx: &Context<'_>) -> Result<Option<Case>, AppError> {
        let Some(id) = self.0.duplicate_of else {
            return Ok(None);
        };
        match Box::pin(dom::get_for_staff(
            &state(ctx)?.services.db,
            viewer(ctx)?,
            id,
        ))
        .await
        {
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
        Ok(Box::pin(dom::possible_duplicates(
            &state(ctx)?.services.db,
            viewer(ctx)?,
            self.0.id,
        ))
        .await?
        .into_iter()
        .map(Case)
        .collect())
    }
    /// The tipster's rating after closure (1–5).
    async fn rating(&self) -> Option<i32> {
        self.0.rating
    }
    /// The tipster's comment with the rating.
    async fn rating_comment(&self) -> Option<&str> {
        self.0.rating_comment.as_deref()
    }
    /// Photos (pending and confirmed; rejected ones are left out).
    async fn evidence(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::super::evidence::Evidence>, AppError> {
        Ok(Box::pin(crate::domain::evidence::list_for_case(
            &state(ctx)?.services.db,
            &self.0,
        ))
        .await?
        .into_iter()
        .map(super::super::evidence::Evidence)
        .collect())
    }
    /// The inspection team a 双随机 draw named for this task, the lead (the assignee
    /// when the task was created) first; empty for every other case.
    async fn team(&self, ctx: &Context<'_>) -> Result<Vec<TeamMember>, AppError> {
        Ok(Box::pin(dom::team(&state(ctx)?.services.db, &self.0))
            .await?
            .into_iter()
            .map(|m| TeamMember {
                role: m.role.into(),
                user: Fast(User::from(m.card)),
            })
            .collect())
    }
    /// The whole trail, in order.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Fast<CaseEvent>>, AppError> {
        Ok(Box::pin(dom::events(&state(ctx)?.services.db, self.0.id))
            .await?
            .into_iter()
            .map(|e| Fast(CaseEvent(e)))
            .collect())
    }
}

impl Case {
    /// The columns of the case row the field `name` of `Case` reads; `None` for a field
    /// that needs the whole row (it hands the row to the domain) or is not listed here,
    /// so a field added later reads the whole row until it is listed. Pages select only
    /// what their fields read (`cases::page_columns`); the test `cases::narrow_pages`
    /// asks every field of `Case` through a narrowed page and through `case(id)` and
    /// compares.
    pub(crate) fn columns(name: &str) -> Option<CaseColumns> {
        use case::Column as C;
        let of = |c: &[C]| Some(CaseColumns::of(c));
        match name {
            "__typename" => of(&[]),
            "id" | "possibleDuplicates" | "lastEvent" | "events" => of(&[C::Id]),
            "number" => of(&[C::Number]),
            "version" => of(&[C::Version]),
            "status" => of(&[C::Status]),
            "source" => of(&[C::Source]),
            "category" => of(&[C::CategoryId]),
            "title" => of(&[C::Title]),
            "description" => of(&[C::Description]),
            "textCheck" => of(&[C::TextCheck]),
            "priority" => of(&[C::Priority]),
            "region" => of(&[C::RegionId]),
            "location" => of(&[C::Lat, C::Lng]),
            "siteId" => of(&[C::SiteId]),
            "campaign" => of(&[C::CampaignId]),
            "accuracyM" => of(&[C::AccuracyM]),
            "outsideGrid" => of(&[C::OutsideGrid]),
            "address" => of(&[C::Address]),
            "tipster" => of(&[C::TipsterId]),
            "assignee" => of(&[C::AssigneeId]),
            "reporter" => of(&[C::ReporterId]),
            "reworkCount" => of(&[C::ReworkCount]),
            "escalationLevel" => of(&[C::EscalationLevel]),
            "createdAt" => of(&[C::CreatedAt]),
            "updatedAt" => of(&[C::UpdatedAt]),
            "acceptedAt" => of(&[C::AcceptedAt]),
            "startedAt" => of(&[C::StartedAt]),
            "submittedAt" => of(&[C::SubmittedAt]),
            "closedAt" => of(&[C::ClosedAt]),
            "dueAt" => of(&[C::DueAt]),
            // `dom::clock`: open or not, the deadline, the parking.
            "remainingSeconds" | "overdue" => of(&[C::Status, C::DueAt, C::ParkedAt]),
            "parked" | "parkedAt" => of(&[C::ParkedAt]),
            "parkedSeconds" => of(&[C::ParkedSeconds]),
            "extendedCount" => of(&[C::ExtendedCount]),
            "checkinDistanceM" => of(&[C::CheckinDistanceM]),
            "checkinFar" => of(&[C::CheckinFar]),
            "rejectReason" => of(&[C::RejectReason]),
            "duplicateOf" => of(&[C::DuplicateOf]),
            "mergedInto" => of(&[C::MergedInto]),
            "rating" => of(&[C::Rating]),
            "ratingComment" => of(&[C::RatingComment]),
            // `evidence` and `team` give the domain the row itself.
            _ => None,
        }
    }
}

/// Every field of an event but its actor reads the row alone.
impl Inline for CaseEvent {
    fn inline(name: &str) -> bool {
        name != "actor"
    }
}

/// A case's own columns, its region (the grid snapshot) and the relations a page
/// primes (`Loaders::prime_cases`: category, assignee, reporter, tipster, last event
/// and its actor, under `edges.node` or `nodes`)
/// resolve without waiting; the rest reads the database itself. `Fast<Case>` is for
/// primed pages only: unprimed, each inline relation would wait for its own batch.
impl Inline for Case {
    fn inline(name: &str) -> bool {
        !matches!(
            name,
            "duplicateOf" | "possibleDuplicates" | "evidence" | "events" | "campaign" | "team"
        )
    }
}

/// Read from the category cache entry the case's loader returned.
impl Inline for CategorySummary {
    fn inline(_: &str) -> bool {
        true
    }
}
