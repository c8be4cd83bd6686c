//! Cases: everything that must be tracked to closure — public tip-offs, problems found
//! on patrol, tasks from supervisors — with an append-only event trail.
//!
//! - [`intake`]: how cases come in (tip-off, patrol report, task), routing and duplicates.
//! - [`workflow`]: the state machine, who may do what, conflicts and idempotency.
//! - this module: the vocabulary, scope rules and queries.
//!
//! **Scope** (one rule, stated three ways that must agree: [`staff_can_see`] in memory,
//! [`visible_to`] as a query condition, and the raw SQL of `stats` and `changes`):
//! county and township staff see everything under their region; an inspector sees the
//! cases of their own grid, the cases assigned to them, and the cases whose team they
//! are on (`case_team`: the team a 双随机 draw named, lead and members alike). The
//! team branch is an `EXISTS` probe of `case_team`'s primary key (case, user); in
//! memory it is a [`Teams`] set read beforehand, one statement for any number of cases.
//!
//! **Teams and reassignment.** A team is the record of who was drawn and never
//! changes: reassigning the case moves the lead's role (the assignee) to someone
//! else but removes nobody from the team and adds nobody to it (the new assignee sees
//! and works the case as its assignee). So the team of a case always equals the
//! inspectors of its `random_draw_site` row.

pub mod intake;
pub mod public;
pub mod rows;
pub mod workflow;

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use entity::{case, case_event, case_follower, case_team};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use super::access::{Role, Viewer};
use super::grid::{path_is_within, subtree};
use super::page::{Page, PageRequest};
use crate::error::{AppError, Msg};
pub use rows::CaseColumns;

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

/// The cases, among some in hand, whose team the viewer is on: the one fact the
/// in-memory scope rule ([`staff_can_see`]) and the field-work rights need beyond the
/// case row. Empty for anyone but an inspector (the only role a team widens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Teams(BTreeSet<i64>);

impl Teams {
    /// No team known (nothing asked, or a viewer a team does not concern).
    pub fn none() -> Self {
        Self::default()
    }

    /// Which of `case_ids` have the viewer on their team: one statement on
    /// `case_team`'s primary key, none when the viewer is not an inspector or there is
    /// nothing to ask.
    pub async fn of<C: ConnectionTrait>(
        conn: &C,
        viewer: &Viewer,
        case_ids: &[i64],
    ) -> Result<Self, AppError> {
        let Viewer::Staff(s) = viewer else {
            return Ok(Self::none());
        };
        if s.role != Role::Inspector || case_ids.is_empty() {
            return Ok(Self::none());
        }
        let backend = conn.get_database_backend();
        let ids: Vec<i64> = case_team::Entity::find()
            .select_only()
            .column(case_team::Column::CaseId)
            .filter(case_team::Column::UserId.eq(s.user_id))
            .filter(super::page::id_in(
                backend,
                case_team::Column::CaseId,
                case_ids,
            ))
            .into_tuple()
            .all(conn)
            .await?;
        Ok(Self(ids.into_iter().collect()))
    }

    /// [`Teams::of`] the cases the viewer's grid and assignments do not already show
    /// (for visibility alone: no statement when every case is in scope anyway).
    pub async fn beyond_scope<C: ConnectionTrait>(
        conn: &C,
        viewer: &Viewer,
        cases: &[&case::Model],
    ) -> Result<Self, AppError> {
        let none = Self::none();
        let unseen: Vec<i64> = cases
            .iter()
            .filter(|c| !staff_can_see(viewer, c, &none))
            .map(|c| c.id)
            .collect();
        Self::of(conn, viewer, &unseen).await
    }

    /// Whether the viewer is on the team of `c`, for its scope and its field-work
    /// rights together: asked only of an inspector who is not its assignee.
    pub async fn for_work<C: ConnectionTrait>(
        conn: &C,
        viewer: &Viewer,
        c: &case::Model,
    ) -> Result<Self, AppError> {
        match viewer {
            Viewer::Staff(s) if c.assignee_id != Some(s.user_id) => {
                Self::of(conn, viewer, &[c.id]).await
            }
            _ => Ok(Self::none()),
        }
    }

    /// A set known otherwise (tests, and callers that read `case_team` themselves).
    pub fn from_ids(case_ids: impl IntoIterator<Item = i64>) -> Self {
        Self(case_ids.into_iter().collect())
    }

    /// Whether the viewer is on the team of this case.
    pub fn contains(&self, case_id: i64) -> bool {
        self.0.contains(&case_id)
    }
}

/// Whether a staff viewer may see a case: county and township staff everything under
/// their region; an inspector their own grid, whatever is assigned to them and the
/// cases whose team they are on (`teams`, read beforehand).
pub fn staff_can_see(viewer: &Viewer, c: &case::Model, teams: &Teams) -> bool {
    match viewer {
        Viewer::Staff(s) => match s.role {
            Role::CountyAdmin | Role::TownshipSupervisor => {
                path_is_within(&c.region_path, &s.region_path)
            }
            Role::Inspector => {
                c.region_id == s.region_id
                    || c.assignee_id == Some(s.user_id)
                    || teams.contains(c.id)
            }
            Role::Public => false,
        },
        _ => false,
    }
}

/// Whether a staff viewer may see one case, asking `case_team` only when the grid and
/// the assignment do not already say yes.
pub async fn can_see<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    c: &case::Model,
) -> Result<bool, AppError> {
    let teams = Teams::beyond_scope(conn, viewer, &[c]).await?;
    Ok(staff_can_see(viewer, c, &teams))
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
    if can_see(db, viewer, &c).await? {
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
/// their grid, what is assigned to them and the cases whose team they are on.
pub(crate) fn visible_to(staff: &crate::domain::access::StaffViewer) -> Condition {
    match staff.role {
        Role::CountyAdmin | Role::TownshipSupervisor => {
            subtree(case::Column::RegionPath, &staff.region_path)
        }
        Role::Inspector | Role::Public => Condition::any()
            .add(case::Column::RegionId.eq(staff.region_id))
            .add(case::Column::AssigneeId.eq(staff.user_id))
            .add(on_team(staff.user_id)),
    }
}

/// `EXISTS (SELECT 1 FROM case_team WHERE case_id = "case".id AND user_id = ?)`: the
/// team branch of the scope rule, a probe of `case_team`'s primary key.
pub(crate) fn on_team(user_id: i64) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(case_team::Entity)
            .and_where(
                Expr::col((case_team::Entity, case_team::Column::CaseId))
                    .equals((case::Entity, case::Column::Id)),
            )
            .and_where(Expr::col((case_team::Entity, case_team::Column::UserId)).eq(user_id))
            .to_owned(),
    )
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
    columns: CaseColumns,
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
    let columns = columns.with(CaseColumns::ID);
    let statement = columns
        .select(q)
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .build(db.get_database_backend());
    let rows = rows::read(db, statement, columns).await?;
    Ok(Page::from_rows(rows, page))
}

/// The inspector's open work: cases assigned to them and cases whose team they are on
/// (a drawn member works the task with its lead), newest first.
pub async fn my_tasks(
    db: &DatabaseConnection,
    viewer: &Viewer,
    page: PageRequest,
    columns: CaseColumns,
) -> Result<Page<case::Model>, AppError> {
    let staff = viewer.staff()?;
    let columns = columns.with(CaseColumns::ID);
    let statement = my_tasks_statement(db.get_database_backend(), staff.user_id, &page, columns);
    Ok(Page::from_rows(
        rows::read(db, statement, columns).await?,
        page,
    ))
}

/// The statement of one `myTasks` page: the SQL of [`build_my_tasks`], built once per
/// shape (backend, with a cursor or not, page size, columns — the apps ask a handful
/// of selections, so a few hundred shapes at most) and kept, with this request's values
/// in the order the builder binds them. Building the 50-column select and tokenizing
/// [`task_ids`]' condition was ~4 % of the server's CPU per `myTasks` request (perf,
/// issue 14); a test holds the two equal.
fn my_tasks_statement(
    backend: sea_orm::DbBackend,
    user_id: i64,
    page: &PageRequest,
    columns: CaseColumns,
) -> sea_orm::Statement {
    type Shape = (bool, bool, u64, u64);
    static SQL: std::sync::LazyLock<std::sync::RwLock<std::collections::HashMap<Shape, String>>> =
        std::sync::LazyLock::new(Default::default);
    let limit = page.fetch_limit();
    let shape = (
        backend == sea_orm::DbBackend::Postgres,
        page.after.is_some(),
        limit,
        columns.bits(),
    );
    let cached = SQL
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&shape)
        .cloned();
    let sql = match cached {
        Some(sql) => sql,
        None => {
            let sql = build_my_tasks(backend, user_id, page, columns).sql;
            SQL.write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(shape, sql.clone());
            sql
        }
    };
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(5);
    for _ in 0..2 {
        values.push(user_id.into());
        if let Some(after) = page.after {
            values.push(after.into());
        }
    }
    values.push(limit.into());
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

/// One `myTasks` page as sea-orm builds it: the case row's `columns`, [`task_ids`],
/// newest first.
fn build_my_tasks(
    backend: sea_orm::DbBackend,
    user_id: i64,
    page: &PageRequest,
    columns: CaseColumns,
) -> sea_orm::Statement {
    columns
        .select(case::Entity::find())
        .filter(task_ids(backend, user_id, page))
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .build(backend)
}

/// The statuses of a case an inspector still has to work on. The partial index
/// `idx_case_open_tasks` (migration 000022) is over exactly these, in this order: keep
/// them together.
const TASK_STATUSES: [&str; 3] = ["ASSIGNED", "IN_PROGRESS", "SUBMITTED"];

/// `case.id IN (…)`: the ids of one page of `user_id`'s tasks, as a union of two
/// bounded halves: the newest open cases assigned to them (`idx_case_open_tasks`, over
/// open tasks only, so the walk does not grow with their closed history) and the
/// newest open cases whose team they are on (`case_team (user_id, case_id)`), each at
/// most a page. "Assigned OR on the team" as one condition keeps PostgreSQL off both
/// indexes: at a million cases it walked the primary key backwards probing
/// `case_team` for every row (60 ms instead of 6). Each half is a derived table so that
/// its `ORDER BY … LIMIT` is legal in a SQLite compound select too.
///
/// Written out rather than built, for one reason: the halves' page size and the
/// statuses are literals, not bound values. With `LIMIT $n` PostgreSQL's generic plan
/// assumes a tenth of the inspector's cases per half; at a million cases that estimate
/// loses to the custom plan every time, so the statement was planned afresh on every
/// request (0.5 ms of planning for 0.2 ms of work, three times the database CPU of the
/// same request at 10,000 cases). With literals the generic plan is kept. The page
/// size is an integer we computed (at most the page cap plus one), never client text.
fn task_ids(backend: sea_orm::DbBackend, user_id: i64, page: &PageRequest) -> SimpleExpr {
    // Bound values: `$n` on PostgreSQL, `?` on SQLite (as sea-query expects them).
    let mut n = 0;
    let mut bind = || {
        n += 1;
        match backend {
            sea_orm::DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    };
    let limit = page.fetch_limit();
    let open = TASK_STATUSES
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let me = bind();
    let assigned_after = match page.after {
        Some(_) => format!(r#" AND "id" < {}"#, bind()),
        None => String::new(),
    };
    let me_again = bind();
    let team_after = match page.after {
        Some(_) => format!(r#" AND "case_team"."case_id" < {}"#, bind()),
        None => String::new(),
    };
    let sql = format!(
        r#""case"."id" IN (SELECT "id" FROM (SELECT "id" FROM "case" WHERE "assignee_id" = {me} AND "status" IN ({open}){assigned_after} ORDER BY "id" DESC LIMIT {limit}) AS "assigned" UNION ALL SELECT "case_id" FROM (SELECT "case_team"."case_id" FROM "case_team" INNER JOIN "case" ON "case"."id" = "case_team"."case_id" WHERE "case_team"."user_id" = {me_again} AND "case"."status" IN ({open}){team_after} ORDER BY "case_team"."case_id" DESC LIMIT {limit}) AS "team")"#
    );
    let values: Vec<sea_orm::Value> = match page.after {
        Some(after) => vec![user_id.into(), after.into(), user_id.into(), after.into()],
        None => vec![user_id.into(), user_id.into()],
    };
    Expr::cust_with_values(sql, values)
}

/// Most open cases [`open_team_cases`] reads (an inspector is on a handful at a time).
pub const MAX_OPEN_TEAM_CASES: u64 = 1000;

/// The open cases whose team the viewer is on (a live subscriber hears of their
/// events): from `case_team`'s user index, one statement, none for other roles.
pub async fn open_team_cases<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
) -> Result<Teams, AppError> {
    let Viewer::Staff(s) = viewer else {
        return Ok(Teams::none());
    };
    if s.role != Role::Inspector {
        return Ok(Teams::none());
    }
    let ids: Vec<i64> = case_team::Entity::find()
        .select_only()
        .column(case_team::Column::CaseId)
        .inner_join(case::Entity)
        .filter(case_team::Column::UserId.eq(s.user_id))
        .filter(case::Column::Status.is_in(CaseStatus::OPEN))
        .limit(MAX_OPEN_TEAM_CASES)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(Teams::from_ids(ids))
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

/// A member of a case's inspection team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// Lead (主办) or member.
    pub role: entity::enums::TeamRole,
    /// The inspector.
    pub card: super::accounts::users::StaffCard,
}

/// The inspection team of `case` (the team a 双随机 draw named; empty for every other
/// case): the lead first, then the members by id. The caller has already shown the
/// viewer may see the case; the team is part of it. Two statements.
pub async fn team<C: ConnectionTrait>(
    conn: &C,
    case: &case::Model,
) -> Result<Vec<TeamMember>, AppError> {
    let rows = case_team::Entity::find()
        .filter(case_team::Column::CaseId.eq(case.id))
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    let mut cards = super::accounts::users::cards(conn, &ids).await?;
    let mut team: Vec<TeamMember> = rows
        .into_iter()
        .filter_map(|r| {
            cards
                .remove(&r.user_id)
                .map(|card| TeamMember { role: r.role, card })
        })
        .collect();
    team.sort_by_key(|m| (m.role != entity::enums::TeamRole::Lead, m.card.id));
    Ok(team)
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
    let teams = Teams::beyond_scope(db, viewer, &rows.iter().collect::<Vec<_>>()).await?;
    Ok(rows
        .into_iter()
        .filter(|c| staff_can_see(viewer, c, &teams))
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
        .into_model::<rows::EventRow>()
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.0.case_id, e.0))
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The kept SQL with this request's values is the statement sea-orm builds, for
    /// every shape: both backends, with and without a cursor, several page sizes, and a
    /// second request of a shape (served from the cache) with other values.
    #[test]
    fn my_tasks_statement_is_the_built_one() {
        for backend in [sea_orm::DbBackend::Postgres, sea_orm::DbBackend::Sqlite] {
            for after in [None, Some(4_242)] {
                for first in [1, 20, 100] {
                    let page = PageRequest::new(Some(first), after, 100).unwrap();
                    for (user, columns) in [
                        (7, CaseColumns::ALL),
                        (1_000_001, CaseColumns::ALL),
                        (8, CaseColumns::ID),
                        (9, CaseColumns::of(&[case::Column::Id, case::Column::DueAt])),
                        (
                            1_000_002,
                            CaseColumns::of(&[case::Column::Id, case::Column::DueAt]),
                        ),
                    ] {
                        let kept = my_tasks_statement(backend, user, &page, columns);
                        let built = build_my_tasks(backend, user, &page, columns);
                        assert_eq!(kept.sql, built.sql, "{backend:?} {after:?} {first}");
                        assert_eq!(kept.values, built.values, "{backend:?} {after:?} {first}");
                        assert_eq!(kept.db_backend, built.db_backend);
                    }
                }
            }
        }
    }
}
