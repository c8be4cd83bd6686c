//! The case state machine (GB/T 30428-style: register → dispatch → handle → verify →
//! close → evaluate): who may take each step, optimistic concurrency and the audit
//! trail. Every accepted action raises `version` by exactly one and appends exactly
//! one `case_event`, in the same transaction ([`crate::domain::uow`]).
//!
//! The rules are data plus small functions: [`TRANSITIONS`] says for every action
//! from which states it may be taken, where it leads and who may take it; one
//! function per action ([`decide`]) checks the rest over [`Facts`] loaded beforehand,
//! with no database in reach, so every rule is unit-tested without one.
//!
//! **Field work and teams.** On-site check-in (`Start`), evidence and the result
//! (`Submit`) are field work ([`Who::FieldTeam`]): the assignee may do it, and so may
//! every inspector on the case's team (a 双随机 inspection's drawn lead and members go
//! together; whoever is on site checks in, photographs and submits for the team).
//! Escalating stays with the assignee (the lead answers for the case) and the
//! supervisors; assignment, verification and the clock stay with the supervisors. A
//! team member sees the case by the scope rule of [`super`]; one who is not on site
//! simply does nothing.

use chrono::{DateTime, Utc};
use entity::{app_user, case, case_event, case_follower, category, category_time_limit};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CaseStatus, Teams, case_not_found, staff_can_see};
use crate::domain::Services;
use crate::domain::access::{Role, StaffViewer, Viewer};
use crate::domain::category::{LimitUnit, Priority, Step, TimeLimit};
use crate::domain::evidence::rules::{self, SubmissionFacts};
use crate::domain::geo::WgsPoint;
use crate::domain::grid::GridSnapshot;
use crate::domain::idempotency::IdemKey;
use crate::domain::sla::{self, WorkCalendar};
use crate::domain::supervision::{Limits, Rules, plan, warn_at};
use crate::domain::uow;
use crate::error::{AppError, Msg};

pub use entity::enums::RejectReason;

/// A step someone takes on an existing case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Action {
    /// File a pending tip-off (立案) without dispatching it.
    Accept { note: Option<String> },
    /// Turn a pending case down.
    Reject {
        reason: RejectReason,
        duplicate_of: Option<i64>,
        note: Option<String>,
    },
    /// Dispatch (or re-dispatch) to an inspector.
    Assign {
        assignee_id: i64,
        note: Option<String>,
    },
    /// On-site check-in by the assignee.
    Start { lat: f64, lng: f64 },
    /// The assignee reports the result.
    Submit {
        note: Option<String>,
        evidence_ids: Vec<i64>,
    },
    /// Verify the result: approve closes, otherwise back for rework.
    Verify { approve: bool, note: Option<String> },
    /// Raise to the next tier (village → township → county).
    Escalate { reason: String },
    /// Grant more time (延期).
    Extend {
        until: DateTime<Utc>,
        reason: String,
    },
    /// Stop the clock (挂账).
    Park { reason: String },
    /// Restart the clock.
    Resume { note: Option<String> },
    /// Fold this case into another one about the same problem.
    Merge { into: i64 },
    /// The tipster rates the closed case (1–5).
    Rate { score: i32, comment: Option<String> },
    /// A supervisor decides whether the tip-off's words may be shown to the public
    /// (after WeChat's check asked for a person, or for a text it could not check).
    ReviewText { publish: bool, note: Option<String> },
}

/// The kinds of [`Action`], one row each in [`TRANSITIONS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// 立案.
    Accept,
    /// 不予受理.
    Reject,
    /// 派发.
    Assign,
    /// 到场签到.
    Start,
    /// 提交结果.
    Submit,
    /// 核查通过.
    Approve,
    /// 退回重办.
    Return,
    /// 上报.
    Escalate,
    /// 延期.
    Extend,
    /// 挂账.
    Park,
    /// 恢复.
    Resume,
    /// 合并.
    Merge,
    /// 评价.
    Rate,
    /// 文字审核.
    ReviewText,
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Self::Accept { .. } => ActionKind::Accept,
            Self::Reject { .. } => ActionKind::Reject,
            Self::Assign { .. } => ActionKind::Assign,
            Self::Start { .. } => ActionKind::Start,
            Self::Submit { .. } => ActionKind::Submit,
            Self::Verify { approve: true, .. } => ActionKind::Approve,
            Self::Verify { approve: false, .. } => ActionKind::Return,
            Self::Escalate { .. } => ActionKind::Escalate,
            Self::Extend { .. } => ActionKind::Extend,
            Self::Park { .. } => ActionKind::Park,
            Self::Resume { .. } => ActionKind::Resume,
            Self::Merge { .. } => ActionKind::Merge,
            Self::Rate { .. } => ActionKind::Rate,
            Self::ReviewText { .. } => ActionKind::ReviewText,
        }
    }

    /// The stored event name.
    pub fn name(&self) -> &'static str {
        self.kind().event_name()
    }
}

impl ActionKind {
    /// The stored event name.
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
            Self::Assign => "ASSIGN",
            Self::Start => "START",
            Self::Submit => "SUBMIT",
            Self::Approve => "APPROVE",
            Self::Return => "RETURN",
            Self::Escalate => "ESCALATE",
            Self::Extend => "EXTEND",
            Self::Park => "PARK",
            Self::Resume => "RESUME",
            Self::Merge => "MERGE",
            Self::Rate => "RATE",
            Self::ReviewText => "REVIEW_TEXT",
        }
    }
}

/// Who may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A township supervisor or county staff member with the case in scope.
    Supervisor,
    /// Field work: the inspector the case is assigned to, or an inspector on the case's
    /// team.
    FieldTeam,
    /// Either of the above.
    SupervisorOrAssignee,
    /// The tipster who reported the case or follows it.
    Tipster,
}

/// Where an action leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leads {
    /// The status stays.
    Stays,
    /// To this status.
    To(CaseStatus),
}

/// One row of the state machine.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// The action.
    pub action: ActionKind,
    /// The states it may be taken from.
    pub from: &'static [CaseStatus],
    /// Where it leads.
    pub leads: Leads,
    /// Who may take it.
    pub who: Who,
    /// Why not, in other states (Chinese, English).
    pub refused: (&'static str, &'static str),
}

use CaseStatus::{Assigned, Closed, InProgress, Pending, Rejected, Submitted};
const OPEN: &[CaseStatus] = &[Pending, Assigned, InProgress, Submitted];

/// The state machine: state × action → next state, and who may. (Some actions carry
/// further conditions, checked in [`decide`]: a filed case cannot be filed again, a
/// parked case must be resumed before submitting, escalation stops at the county …)
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        action: ActionKind::Accept,
        from: &[Pending],
        leads: Leads::Stays,
        who: Who::Supervisor,
        refused: (
            "只能受理未立案的待受理案件",
            "only an unfiled PENDING case can be accepted",
        ),
    },
    Transition {
        action: ActionKind::Reject,
        from: &[Pending],
        leads: Leads::To(Rejected),
        who: Who::Supervisor,
        refused: (
            "只能对待受理案件不予受理",
            "only a PENDING case can be rejected",
        ),
    },
    Transition {
        action: ActionKind::Assign,
        from: &[Pending, Assigned],
        leads: Leads::To(Assigned),
        who: Who::Supervisor,
        refused: (
            "只能派发待受理或已派发的案件",
            "only a PENDING or ASSIGNED case can be (re)assigned",
        ),
    },
    Transition {
        action: ActionKind::Start,
        from: &[Assigned],
        leads: Leads::To(InProgress),
        who: Who::FieldTeam,
        refused: (
            "只能对已派发的案件签到处置",
            "only an ASSIGNED case can be started",
        ),
    },
    Transition {
        action: ActionKind::Submit,
        from: &[InProgress],
        leads: Leads::To(Submitted),
        who: Who::FieldTeam,
        refused: (
            "只能提交处置中的案件",
            "only an IN_PROGRESS case can be submitted",
        ),
    },
    Transition {
        action: ActionKind::Approve,
        from: &[Submitted],
        leads: Leads::To(Closed),
        who: Who::Supervisor,
        refused: (
            "只能核查待核查的案件",
            "only a SUBMITTED case can be verified",
        ),
    },
    Transition {
        action: ActionKind::Return,
        from: &[Submitted],
        leads: Leads::To(InProgress),
        who: Who::Supervisor,
        refused: (
            "只能核查待核查的案件",
            "only a SUBMITTED case can be verified",
        ),
    },
    Transition {
        action: ActionKind::Escalate,
        from: OPEN,
        leads: Leads::Stays,
        who: Who::SupervisorOrAssignee,
        refused: (
            "已结束的案件不能上报",
            "a finished case cannot be escalated",
        ),
    },
    Transition {
        action: ActionKind::Extend,
        from: OPEN,
        leads: Leads::Stays,
        who: Who::Supervisor,
        refused: ("已结束的案件不能延期", "a finished case cannot be extended"),
    },
    Transition {
        action: ActionKind::Park,
        from: OPEN,
        leads: Leads::Stays,
        who: Who::Supervisor,
        refused: (
            "只能挂账未结束且未挂账的案件",
            "only an open, unparked case can be parked",
        ),
    },
    Transition {
        action: ActionKind::Resume,
        from: OPEN,
        leads: Leads::Stays,
        who: Who::Supervisor,
        refused: ("案件未挂账", "the case is not parked"),
    },
    Transition {
        action: ActionKind::Merge,
        from: OPEN,
        leads: Leads::To(Rejected),
        who: Who::Supervisor,
        refused: ("已结束的案件不能合并", "a finished case cannot be merged"),
    },
    Transition {
        action: ActionKind::Rate,
        from: &[Closed],
        leads: Leads::Stays,
        who: Who::Tipster,
        refused: ("只能评价已办结的案件", "only a CLOSED case can be rated"),
    },
    Transition {
        action: ActionKind::ReviewText,
        from: &[Pending, Assigned, InProgress, Submitted, Closed, Rejected],
        leads: Leads::Stays,
        who: Who::Supervisor,
        refused: (
            "只有举报的文字需要审核",
            "only a tip-off's words are reviewed",
        ),
    },
];

/// The row of an action.
pub fn transition_of(kind: ActionKind) -> &'static Transition {
    // Every kind has exactly one row (a unit test checks it); Accept is the fallback
    // only to keep this total.
    TRANSITIONS
        .iter()
        .find(|t| t.action == kind)
        .unwrap_or(&TRANSITIONS[0])
}

fn invalid(zh: &str, en: &str) -> AppError {
    AppError::InvalidTransition(Msg::new(
        format!("当前状态下不能执行此操作：{zh}"),
        format!("not allowed in the case's current state: {en}"),
    ))
}

fn text(v: &Option<String>, max: usize) -> Result<Option<String>, AppError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() > max => Err(AppError::bad_input(
            "NOTE_TOO_LONG",
            Msg::new(
                format!("说明过长（最多 {max} 字）"),
                format!("note too long (at most {max} characters)"),
            ),
        )),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn reason(v: &str) -> Result<String, AppError> {
    match text(&Some(v.to_owned()), 500).map_err(|e| e.at("reason"))? {
        Some(r) => Ok(r),
        None => Err(AppError::bad_input(
            "REASON_REQUIRED",
            Msg::new("请填写理由", "a reason is required"),
        )
        .at("reason")),
    }
}

/// Everything the rules need, read before deciding.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The case as read.
    pub case: case::Model,
    /// Now, from the clock.
    pub now: DateTime<Utc>,
    /// The grid (for the scope of an assignee).
    pub grid: std::sync::Arc<GridSnapshot>,
    /// The work calendar (deadlines).
    pub calendar: WorkCalendar,
    /// The category's time limits.
    pub limits: Vec<TimeLimit>,
    /// The category's escalation rules (warning times).
    pub rules: Rules,
    /// The category's on-site check-in radius, metres.
    pub checkin_radius_m: f64,
    /// Assign: the user named as the new assignee.
    pub assignee: Option<app_user::Model>,
    /// Reject as duplicate / merge: the other case.
    pub other: Option<case::Model>,
    /// Submit: the photos of the case.
    pub evidence: SubmissionFacts,
    /// Rate: the viewer follows the case (a merged tip-off's tipster).
    pub follows: bool,
    /// Which of the case and `other` have the viewer on their team.
    pub teams: Teams,
}

impl Facts {
    /// Loads what `action` needs about case `c` (`teams`: whether the viewer is on its
    /// team, as [`find_case`] read it).
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        svc: &Services,
        viewer: &Viewer,
        (c, teams): (case::Model, Teams),
        action: &Action,
    ) -> Result<Self, AppError> {
        let kind = action.kind();
        let needs_calendar = matches!(
            kind,
            ActionKind::Accept | ActionKind::Assign | ActionKind::Resume | ActionKind::Extend
        );
        let now = svc.clock.now();
        let (calendar, limits, rules) = if needs_calendar {
            let calendar = WorkCalendar::load(conn, sla::WorkingHours::default()).await?;
            // The category's limits, made tighter by the campaign the case came in under.
            let limits = crate::domain::campaigns::limits_of_case(conn, &calendar, &c, now).await?;
            (
                calendar,
                limits,
                Rules::for_category(conn, c.category_id).await?,
            )
        } else {
            (
                WorkCalendar::new([], sla::WorkingHours::default()),
                Vec::new(),
                Rules::default(),
            )
        };
        let checkin_radius_m = if kind == ActionKind::Start {
            category::Entity::find_by_id(c.category_id)
                .one(conn)
                .await?
                .map_or(500.0, |k| k.checkin_radius_m)
        } else {
            500.0
        };
        let assignee = match action {
            Action::Assign { assignee_id, .. } => {
                app_user::Entity::find_by_id(*assignee_id).one(conn).await?
            }
            _ => None,
        };
        let other = match action {
            Action::Reject {
                duplicate_of: Some(id),
                ..
            }
            | Action::Merge { into: id } => case::Entity::find_by_id(*id).one(conn).await?,
            _ => None,
        };
        let teams = match &other {
            Some(o) => {
                let mut ids: Vec<i64> = vec![o.id];
                if teams.contains(c.id) {
                    ids.push(c.id);
                }
                Teams::of(conn, viewer, &ids).await?
            }
            None => teams,
        };
        let evidence = if kind == ActionKind::Submit {
            rules::load_facts(conn, &c).await?
        } else {
            SubmissionFacts::default()
        };
        let follows = match viewer {
            Viewer::Public(p) if kind == ActionKind::Rate => case_follower::Entity::find()
                .filter(case_follower::Column::CaseId.eq(c.id))
                .filter(case_follower::Column::TipsterId.eq(p.tipster_id))
                .one(conn)
                .await?
                .is_some(),
            _ => false,
        };
        Ok(Self {
            case: c,
            now,
            grid: svc.grid.snapshot(),
            calendar,
            limits,
            rules,
            checkin_radius_m,
            assignee,
            other,
            evidence,
            follows,
            teams,
        })
    }
}

/// What an accepted action changes.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The status after.
    pub to: CaseStatus,
    /// The changed columns.
    pub changes: case::ActiveModel,
    /// The note of the event.
    pub note: Option<String>,
    /// The data of the event.
    pub data: serde_json::Value,
    /// Merge: move followers to this case.
    pub merge_into: Option<i64>,
    /// In-app notices to staff: (user, kind, title, body).
    pub notices: Vec<(i64, &'static str, String, String)>,
}

/// The limits of a category, for deadlines.
pub(crate) async fn limits_of<C: ConnectionTrait>(
    conn: &C,
    category_id: i64,
) -> Result<Vec<TimeLimit>, AppError> {
    Ok(category_time_limit::Entity::find()
        .filter(category_time_limit::Column::CategoryId.eq(category_id))
        .all(conn)
        .await?
        .iter()
        .filter_map(TimeLimit::from_row_pub)
        .collect())
}

fn limit_unit(limits: &[TimeLimit], priority: Priority, step: Step) -> LimitUnit {
    limits
        .iter()
        .find(|l| l.priority == priority && l.step == step)
        .map_or(LimitUnit::Hours, |l| l.unit)
}

/// Files the case now: the handling deadline (its current one when the category has
/// no limit for the case's priority), the on-site deadline, and their warning times.
fn file_now(f: &Facts, d: &mut Decision) {
    let l = Limits {
        calendar: &f.calendar,
        limits: &f.limits,
        rules: &f.rules,
        category_id: f.case.category_id,
    };
    let p = plan(&l, f.case.priority, f.now, true, false, None);
    d.changes.accepted_at = Set(Some(f.now));
    if p.due_at.is_some() {
        d.changes.due_at = Set(p.due_at);
        d.changes.warn_at = Set(p.warn_at);
    }
    d.changes.onsite_due_at = Set(p.onsite_due_at);
    d.changes.onsite_warn_at = Set(p.onsite_warn_at);
}

/// Checks who the viewer is to this case against the row's `who`.
fn check_who(viewer: &Viewer, who: Who, f: &Facts) -> Result<(), AppError> {
    let c = &f.case;
    match who {
        Who::Tipster => {
            let me = viewer.public()?;
            if c.tipster_id == Some(me.tipster_id) || f.follows {
                Ok(())
            } else {
                Err(case_not_found())
            }
        }
        staff_only => {
            let s = viewer.staff()?;
            let supervisor = matches!(s.role, Role::TownshipSupervisor | Role::CountyAdmin);
            let assignee = c.assignee_id == Some(s.user_id);
            let on_team = s.role == Role::Inspector && f.teams.contains(c.id);
            let ok = match staff_only {
                Who::Supervisor => supervisor,
                Who::FieldTeam => assignee || on_team,
                Who::SupervisorOrAssignee => supervisor || assignee,
                Who::Tipster => false,
            };
            if ok { Ok(()) } else { Err(AppError::Forbidden) }
        }
    }
}

/// Decides whether `viewer` may take `action` given the facts, and what changes.
/// Pure: no database, no clock but `facts.now`.
pub fn decide(viewer: &Viewer, f: &Facts, action: &Action) -> Result<Decision, AppError> {
    let row = transition_of(action.kind());
    check_who(viewer, row.who, f)?;
    let from = f.case.status;
    if !row.from.contains(&from) {
        return Err(invalid(row.refused.0, row.refused.1));
    }
    let mut d = Decision {
        to: match row.leads {
            Leads::Stays => from,
            Leads::To(s) => s,
        },
        changes: Default::default(),
        note: None,
        data: json!({}),
        merge_into: None,
        notices: Vec::new(),
    };
    match action {
        Action::Accept { note } => accept(f, note, &mut d)?,
        Action::Reject {
            reason,
            duplicate_of,
            note,
        } => reject(viewer, f, *reason, *duplicate_of, note, &mut d)?,
        Action::Assign { assignee_id, note } => assign(viewer, f, *assignee_id, note, &mut d)?,
        Action::Start { lat, lng } => start(f, *lat, *lng, &mut d)?,
        Action::Submit { note, evidence_ids } => submit(f, note, evidence_ids, &mut d)?,
        Action::Verify { approve, note } => verify(f, *approve, note, &mut d)?,
        Action::Escalate { reason: r } => escalate(f, r, &mut d)?,
        Action::Extend { until, reason: r } => extend(f, *until, r, &mut d)?,
        Action::Park { reason: r } => park(f, r, &mut d)?,
        Action::Resume { note } => resume(f, note, &mut d)?,
        Action::Merge { into } => merge(viewer, f, *into, &mut d)?,
        Action::Rate { score, comment } => rate_rule(f, *score, comment, &mut d)?,
        Action::ReviewText { publish, note } => review_text(f, *publish, note, &mut d)?,
    }
    if d.to != from {
        d.changes.status = Set(d.to);
    }
    Ok(d)
}

fn accept(f: &Facts, note: &Option<String>, d: &mut Decision) -> Result<(), AppError> {
    if f.case.accepted_at.is_some() {
        let row = transition_of(ActionKind::Accept);
        return Err(invalid(row.refused.0, row.refused.1));
    }
    file_now(f, d);
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    Ok(())
}

fn reject(
    viewer: &Viewer,
    f: &Facts,
    reason: RejectReason,
    duplicate_of: Option<i64>,
    note: &Option<String>,
    d: &mut Decision,
) -> Result<(), AppError> {
    if reason == RejectReason::Duplicate {
        let Some(dup) = duplicate_of else {
            return Err(AppError::bad_input(
                "DUPLICATE_OF_REQUIRED",
                Msg::new(
                    "以重复为由不予受理时须指明重复的案件",
                    "duplicateOf is required when the reason is DUPLICATE",
                ),
            )
            .at("duplicateOf"));
        };
        let visible = f
            .other
            .as_ref()
            .is_some_and(|o| o.id == dup && staff_can_see(viewer, o, &f.teams));
        if dup == f.case.id || !visible {
            return Err(case_not_found());
        }
        d.changes.duplicate_of = Set(Some(dup));
    }
    d.changes.reject_reason = Set(Some(reason));
    d.changes.closed_at = Set(Some(f.now));
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    d.data = json!({ "reason": reason.as_str(), "duplicateOf": duplicate_of });
    Ok(())
}

/// Whether a user may be dispatched work by `me`: an active inspector bound to a grid
/// inside `me`'s region.
pub fn eligible_inspector(grid: &GridSnapshot, me: &StaffViewer, u: &app_user::Model) -> bool {
    u.active
        && u.role == Role::Inspector
        && grid.get(u.region_id).is_some_and(|r| me.covers(&r.path))
}

fn assign(
    viewer: &Viewer,
    f: &Facts,
    assignee_id: i64,
    note: &Option<String>,
    d: &mut Decision,
) -> Result<(), AppError> {
    let me = viewer.staff()?;
    let ok = f
        .assignee
        .as_ref()
        .is_some_and(|u| u.id == assignee_id && eligible_inspector(&f.grid, me, u));
    if !ok {
        return Err(AppError::not_found("网格员", "inspector"));
    }
    let c = &f.case;
    if c.assignee_id == Some(assignee_id) && c.status == CaseStatus::Assigned {
        return Err(invalid(
            "案件已派发给该网格员",
            "the case is already assigned to this inspector",
        ));
    }
    d.changes.assignee_id = Set(Some(assignee_id));
    d.notices.push((
        assignee_id,
        "ASSIGNED",
        format!("新案件 {} 派发给您", c.number),
        format!("「{}」已派发给您处理，请尽快到场。", c.title),
    ));
    if c.accepted_at.is_none() {
        file_now(f, d);
    }
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    d.data = json!({ "assigneeId": assignee_id, "previousAssigneeId": c.assignee_id });
    Ok(())
}

fn start(f: &Facts, lat: f64, lng: f64, d: &mut Decision) -> Result<(), AppError> {
    let here = WgsPoint::from_client(lat, lng, crate::domain::geo::CoordSystem::Wgs84)?;
    let distance = crate::domain::geo::haversine_m(
        f.case.lat,
        f.case.lng,
        here.lat.degrees(),
        here.lng.degrees(),
    );
    let radius = f.checkin_radius_m;
    let far = distance > radius;
    d.changes.started_at = Set(Some(f.now));
    d.changes.checkin_lat = Set(Some(here.lat.degrees()));
    d.changes.checkin_lng = Set(Some(here.lng.degrees()));
    d.changes.checkin_distance_m = Set(Some(distance));
    d.changes.checkin_far = Set(far);
    d.data = json!({ "distanceM": distance.round(), "far": far, "radiusM": radius });
    Ok(())
}

fn submit(
    f: &Facts,
    note: &Option<String>,
    evidence_ids: &[i64],
    d: &mut Decision,
) -> Result<(), AppError> {
    if f.case.parked_at.is_some() {
        return Err(invalid(
            "挂账中的案件需先恢复",
            "resume the parked case first",
        ));
    }
    let evidence = rules::check_submission(&f.evidence, evidence_ids)?;
    d.changes.submitted_at = Set(Some(f.now));
    if f.case.first_submitted_at.is_none() {
        d.changes.first_submitted_at = Set(Some(f.now));
    }
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    d.data = json!({ "evidenceIds": evidence });
    Ok(())
}

fn verify(
    f: &Facts,
    approve: bool,
    note: &Option<String>,
    d: &mut Decision,
) -> Result<(), AppError> {
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    if approve {
        d.changes.closed_at = Set(Some(f.now));
        return Ok(());
    }
    if d.note.is_none() {
        return Err(AppError::bad_input(
            "NOTE_REQUIRED",
            Msg::new("退回重办须说明原因", "a note is required to return a case"),
        )
        .at("note"));
    }
    let rework = f.case.rework_count + 1;
    d.changes.rework_count = Set(rework);
    if let Some(assignee) = f.case.assignee_id {
        d.notices.push((
            assignee,
            "RETURNED",
            format!("案件 {} 被退回重办", f.case.number),
            format!(
                "「{}」核查未通过：{}",
                f.case.title,
                d.note.as_deref().unwrap_or("")
            ),
        ));
    }
    d.changes.submitted_at = Set(None);
    d.data = json!({ "reworkCount": rework });
    Ok(())
}

fn escalate(f: &Facts, r: &str, d: &mut Decision) -> Result<(), AppError> {
    if f.case.escalation_level >= 2 {
        return Err(invalid(
            "案件已上报至县级",
            "the case is already escalated to the county",
        ));
    }
    let level = f.case.escalation_level + 1;
    d.changes.escalation_level = Set(level);
    d.note = Some(reason(r)?);
    d.data = json!({ "level": level });
    Ok(())
}

fn extend(f: &Facts, until: DateTime<Utc>, r: &str, d: &mut Decision) -> Result<(), AppError> {
    crate::domain::dates::deadline(until, f.now, "until")?;
    if f.case.due_at.is_some_and(|due| until <= due) {
        return Err(AppError::bad_input(
            "INVALID_DUE_TIME",
            Msg::new(
                "延期后的期限须晚于现在和原期限",
                "the new due time must be later than now and than the current one",
            ),
        )
        .at("until"));
    }
    let step = if f.case.accepted_at.is_some() {
        Step::Handle
    } else {
        Step::Accept
    };
    d.changes.due_at = Set(Some(until));
    d.changes.warn_at = Set(warn_at(f.now, until, f.rules.get(f.case.category_id, step)));
    d.changes.extended_count = Set(f.case.extended_count + 1);
    d.note = Some(reason(r)?);
    d.data = json!({ "previousDueAt": f.case.due_at, "dueAt": until });
    Ok(())
}

/// A person's verdict on a tip-off's words: shown to the public (`PASS`) or kept for
/// staff (`RISKY`). Only texts a check holds back or has not passed can be reviewed —
/// `PENDING`, `REVIEW`, `RISKY` — or a passed one withdrawn; the verdict and the one
/// before it are in the event.
fn review_text(
    f: &Facts,
    publish: bool,
    note: &Option<String>,
    d: &mut Decision,
) -> Result<(), AppError> {
    use entity::enums::TextCheck;
    let Some(before) = f.case.text_check else {
        let row = transition_of(ActionKind::ReviewText);
        return Err(invalid(row.refused.0, row.refused.1));
    };
    let after = if publish {
        TextCheck::Pass
    } else {
        TextCheck::Risky
    };
    if before == after {
        return Err(invalid(
            "文字已是该审核结果",
            "the words already have that verdict",
        ));
    }
    d.changes.text_check = Set(Some(after));
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    d.data = json!({ "from": before, "to": after });
    Ok(())
}

fn park(f: &Facts, r: &str, d: &mut Decision) -> Result<(), AppError> {
    if f.case.parked_at.is_some() {
        let row = transition_of(ActionKind::Park);
        return Err(invalid(row.refused.0, row.refused.1));
    }
    d.changes.parked_at = Set(Some(f.now));
    d.note = Some(reason(r)?);
    Ok(())
}

fn resume(f: &Facts, note: &Option<String>, d: &mut Decision) -> Result<(), AppError> {
    let c = &f.case;
    let Some(since) = c.parked_at else {
        let row = transition_of(ActionKind::Resume);
        return Err(invalid(row.refused.0, row.refused.1));
    };
    let parked_secs = Ord::max((f.now - since).num_seconds(), 0);
    d.changes.parked_at = Set(None);
    d.changes.parked_seconds = Set(c.parked_seconds + parked_secs);
    if let Some(due) = c.due_at {
        let step = if c.accepted_at.is_some() {
            Step::Handle
        } else {
            Step::Accept
        };
        let unit = limit_unit(&f.limits, c.priority, step);
        let shifted = sla::shift_for_parking(&f.calendar, due, since, f.now, unit);
        let by = shifted - due;
        d.changes.due_at = Set(Some(shifted));
        d.changes.warn_at = Set(c.warn_at.map(|w| w + by));
        d.changes.onsite_due_at = Set(c.onsite_due_at.map(|o| o + by));
        d.changes.onsite_warn_at = Set(c.onsite_warn_at.map(|o| o + by));
    }
    d.note = text(note, 2000).map_err(|e| e.at("note"))?;
    d.data = json!({ "parkedSeconds": parked_secs });
    Ok(())
}

fn merge(viewer: &Viewer, f: &Facts, into: i64, d: &mut Decision) -> Result<(), AppError> {
    let c = &f.case;
    let Some(target) = f
        .other
        .as_ref()
        .filter(|t| t.id == into && t.id != c.id && staff_can_see(viewer, t, &f.teams))
    else {
        return Err(case_not_found());
    };
    if !target.status.is_open() || target.merged_into.is_some() {
        return Err(invalid(
            "只能合并到未结束的案件",
            "the surviving case must be open",
        ));
    }
    if target.category_id != c.category_id {
        return Err(AppError::bad_input(
            "CATEGORY_MISMATCH",
            Msg::new(
                "只能合并同类别的案件",
                "only cases of the same category can be merged",
            ),
        )
        .at("into"));
    }
    d.changes.merged_into = Set(Some(into));
    d.changes.duplicate_of = Set(Some(into));
    d.changes.reject_reason = Set(Some(RejectReason::Duplicate));
    d.changes.closed_at = Set(Some(f.now));
    d.data = json!({ "into": into });
    d.merge_into = Some(into);
    Ok(())
}

/// Whether a case can still be rated: closed and not rated yet.
pub fn can_rate(c: &case::Model) -> bool {
    c.status == CaseStatus::Closed && c.rating.is_none()
}

fn rate_rule(
    f: &Facts,
    score: i32,
    comment: &Option<String>,
    d: &mut Decision,
) -> Result<(), AppError> {
    if !(1..=5).contains(&score) {
        return Err(AppError::bad_input(
            "INVALID_SCORE",
            Msg::new("评分应为 1 到 5", "score must be 1–5"),
        )
        .at("score"));
    }
    if f.case.rating.is_some() {
        return Err(already_rated());
    }
    let comment = text(comment, 500).map_err(|e| e.at("comment"))?;
    d.changes.rating = Set(Some(score));
    d.changes.rating_comment = Set(comment.clone());
    d.changes.rated_at = Set(Some(f.now));
    d.note = comment;
    d.data = json!({ "score": score });
    Ok(())
}

fn already_rated() -> AppError {
    AppError::Conflict(Msg::new("该案件已评价过", "the case was already rated"))
}

/// Appends one event (seq = the case's new version).
#[expect(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only rename them"
)]
pub(crate) async fn append_event<C: ConnectionTrait>(
    conn: &C,
    case_id: i64,
    seq: i32,
    viewer: &Viewer,
    action: &str,
    from: Option<CaseStatus>,
    to: Option<CaseStatus>,
    note: Option<String>,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let (actor_id, actor_tipster_id, role) = match viewer {
        Viewer::Staff(s) => (Some(s.user_id), None, s.role.as_str()),
        Viewer::Public(p) => (None, Some(p.tipster_id), Role::Public.as_str()),
        Viewer::Anonymous => (None, None, "SYSTEM"),
    };
    // Nothing is read back: an event is written and never returned from here.
    case_event::Entity::insert(case_event::ActiveModel {
        case_id: Set(case_id),
        seq: Set(seq),
        actor_id: Set(actor_id),
        actor_tipster_id: Set(actor_tipster_id),
        actor_role: Set(role.to_owned()),
        action: Set(action.to_owned()),
        from_status: Set(from),
        to_status: Set(to),
        note: Set(note),
        data: Set(Some(data)),
        created_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub(crate) fn conflict() -> AppError {
    AppError::Conflict(Msg::new(
        "案件已被他人修改，请刷新后重试",
        "the case was changed by someone else; reload and retry",
    ))
}

/// How the case of a step is found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CaseRef {
    /// By id (staff, or a tipster from `myTips`).
    Id(i64),
    /// By tracking code (the tipster's receipt).
    TrackingCode(String),
}

/// Finds the case a viewer names, or `NOT_FOUND`: staff see their scope; the public
/// finds any case by id or code and is checked against the row's `who` (their own).
/// With it, whether the viewer is on its team (asked only of an inspector who is not
/// its assignee: it decides both the scope and the field-work rights).
async fn find_case<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    target: &CaseRef,
) -> Result<(case::Model, Teams), AppError> {
    let c = match target {
        CaseRef::Id(id) => case::Entity::find_by_id(*id)
            .one(conn)
            .await?
            .ok_or_else(case_not_found)?,
        CaseRef::TrackingCode(code) => super::by_tracking_code(conn, code).await?,
    };
    let teams = Teams::for_work(conn, viewer, &c).await?;
    match viewer {
        Viewer::Staff(_) if !staff_can_see(viewer, &c, &teams) => Err(case_not_found()),
        _ => Ok((c, teams)),
    }
}

/// Applies `action` to a case as read at `version` (`None`: as it is now). A stale
/// version is `CONFLICT`; a replayed idempotency key returns the first result and
/// writes nothing.
pub async fn transition(
    svc: &Services,
    viewer: &Viewer,
    target: CaseRef,
    version: Option<i32>,
    action: Action,
    idempotency_key: Option<&str>,
) -> Result<case::Model, AppError> {
    match transition_of(action.kind()).who {
        Who::Tipster => {
            viewer.public()?;
        }
        _ => {
            viewer.staff()?;
        }
    }
    let idem = idempotency_key
        .map(|k| {
            IdemKey::new(
                viewer.idempotency_scope(),
                k,
                action.name(),
                &(&target, version, &action),
            )
        })
        .transpose()?;
    let (svc2, viewer) = (svc.clone(), viewer.clone());
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                let (c, teams) = find_case(txn, &viewer, &target).await?;
                let version = version.unwrap_or(c.version);
                if c.version != version {
                    return Err(conflict());
                }
                let facts = Facts::load(txn, &svc2, &viewer, (c, teams), &action).await?;
                let d = decide(&viewer, &facts, &action)?;
                let kind = action.kind();
                let after = apply(txn, &viewer, &facts, version, kind, d).await?;
                crate::domain::subscriptions::queue(
                    txn,
                    &svc2.config.wechat.subscribe,
                    &svc2.grid.snapshot(),
                    &after,
                    kind.event_name(),
                    facts.now,
                )
                .await?;
                Ok(after)
            })
        }),
    )
    .await
}

/// Writes a decision: the conditional update (version + 1), its event, the followers of
/// a merge; returns the case as it now is.
async fn apply<C: ConnectionTrait>(
    txn: &C,
    viewer: &Viewer,
    f: &Facts,
    version: i32,
    kind: ActionKind,
    d: Decision,
) -> Result<case::Model, AppError> {
    let c = &f.case;
    let from = c.status;
    let mut changes = d.changes;
    changes.updated_at = Set(f.now);
    let mut update = case::Entity::update_many()
        .set(changes)
        .col_expr(
            case::Column::Version,
            ExprTrait::add(Expr::col(case::Column::Version), 1),
        )
        .filter(case::Column::Id.eq(c.id))
        .filter(case::Column::Version.eq(version));
    if kind == ActionKind::Rate {
        update = update.filter(case::Column::Rating.is_null());
    }
    let updated = update.exec(txn).await?.rows_affected;
    if updated == 0 {
        return Err(if kind == ActionKind::Rate {
            already_rated()
        } else {
            conflict()
        });
    }
    append_event(
        txn,
        c.id,
        version + 1,
        viewer,
        kind.event_name(),
        Some(from),
        Some(d.to),
        d.note,
        d.data,
        f.now,
    )
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => conflict(),
        _ => e.into(),
    })?;
    if let Some(target) = d.merge_into {
        merge_followers(txn, c, target, f.now).await?;
    }
    let notices = d
        .notices
        .into_iter()
        .map(|(user, kind, title, body)| {
            crate::domain::notifications::new(user, kind, Some(c.id), title, body, f.now)
        })
        .collect();
    crate::domain::notifications::insert(txn, notices).await?;
    let after = case::Entity::find_by_id(c.id)
        .one(txn)
        .await?
        .ok_or_else(case_not_found)?;
    // The notice carries the case as it is now (a new assignee hears of the assignment).
    let notice =
        crate::domain::events::notice(&after, version + 1, kind.event_name(), Some(d.to), f.now);
    crate::domain::events::emitted(txn, &[notice], f.now).await?;
    Ok(after)
}

/// Every tipster of the merged case follows the surviving one.
async fn merge_followers<C: ConnectionTrait>(
    conn: &C,
    merged: &case::Model,
    target: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut tipsters: Vec<i64> = case_follower::Entity::find()
        .filter(case_follower::Column::CaseId.eq(merged.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.tipster_id)
        .collect();
    tipsters.extend(merged.tipster_id);
    let existing: Vec<i64> = case_follower::Entity::find()
        .filter(case_follower::Column::CaseId.eq(target))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.tipster_id)
        .collect();
    let target_tipster = case::Entity::find_by_id(target)
        .one(conn)
        .await?
        .and_then(|t| t.tipster_id);
    tipsters.sort_unstable();
    tipsters.dedup();
    for t in tipsters {
        if existing.contains(&t) || target_tipster == Some(t) {
            continue;
        }
        case_follower::ActiveModel {
            case_id: Set(target),
            tipster_id: Set(t),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// The tipster rates a closed case (1–5), once: the `Rate` row of the state machine.
pub async fn rate(
    svc: &Services,
    viewer: &Viewer,
    target: CaseRef,
    score: i32,
    comment: Option<String>,
) -> Result<case::Model, AppError> {
    transition(
        svc,
        viewer,
        target,
        None,
        Action::Rate { score, comment },
        None,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::domain::access::{PublicViewer, StaffViewer};
    use crate::domain::evidence::Phase;

    const TOWNSHIP: &str = "140521/140521100";
    const VILLAGE: &str = "140521/140521100/140521100001";

    fn staff(id: i64, role: Role, path: &str) -> Viewer {
        Viewer::Staff(StaffViewer {
            user_id: id,
            name: format!("user {id}"),
            role,
            region_id: 1,
            region_path: path.into(),
        })
    }

    fn supervisor() -> Viewer {
        staff(10, Role::TownshipSupervisor, TOWNSHIP)
    }

    fn inspector() -> Viewer {
        staff(20, Role::Inspector, VILLAGE)
    }

    fn tipster() -> Viewer {
        Viewer::Public(PublicViewer {
            tipster_id: 30,
            handle: "h".into(),
        })
    }

    fn case_in(status: CaseStatus) -> case::Model {
        let t: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
        case::Model {
            id: 1,
            number: "20261201000001".into(),
            tracking_code: None,
            source: super::super::CaseSource::Tip,
            category_id: 1,
            title: "t".into(),
            description: "d".into(),
            status,
            priority: Priority::Normal,
            region_id: 1,
            region_path: VILLAGE.into(),
            lat: 35.69,
            lng: 112.27,
            accuracy_m: None,
            outside_grid: false,
            address: None,
            tipster_id: Some(30),
            reporter_id: None,
            created_by: None,
            assignee_id: Some(20),
            site_id: None,
            duplicate_of: None,
            merged_into: None,
            reject_reason: None,
            rework_count: 0,
            escalation_level: 0,
            version: 3,
            accepted_at: (status != Pending).then_some(t),
            started_at: None,
            submitted_at: None,
            first_submitted_at: None,
            closed_at: None,
            due_at: Some(t + chrono::Duration::days(3)),
            onsite_due_at: None,
            warn_at: None,
            onsite_warn_at: None,
            text_check: None,
            parked_at: None,
            parked_seconds: 0,
            extended_count: 0,
            checkin_lat: None,
            checkin_lng: None,
            checkin_distance_m: None,
            checkin_far: false,
            rating: None,
            rating_comment: None,
            rated_at: None,
            created_at: t,
            updated_at: t,
            campaign_id: None,
        }
    }

    fn facts(c: case::Model) -> Facts {
        Facts {
            case: c,
            now: "2026-12-02T02:00:00Z".parse().unwrap(),
            grid: Arc::new(GridSnapshot::default()),
            calendar: WorkCalendar::new([], sla::WorkingHours::default()),
            limits: Vec::new(),
            rules: Rules::default(),
            checkin_radius_m: 500.0,
            assignee: None,
            other: None,
            evidence: SubmissionFacts::default(),
            follows: false,
            teams: Teams::none(),
        }
    }

    fn one_of_each() -> Vec<Action> {
        vec![
            Action::Accept { note: None },
            Action::Reject {
                reason: RejectReason::Invalid,
                duplicate_of: None,
                note: None,
            },
            Action::Assign {
                assignee_id: 20,
                note: None,
            },
            Action::Start {
                lat: 35.69,
                lng: 112.27,
            },
            Action::Submit {
                note: None,
                evidence_ids: vec![],
            },
            Action::Verify {
                approve: true,
                note: None,
            },
            Action::Verify {
                approve: false,
                note: Some("重拍".into()),
            },
            Action::Escalate { reason: "r".into() },
            Action::Extend {
                until: "2026-12-20T00:00:00Z".parse().unwrap(),
                reason: "r".into(),
            },
            Action::Park { reason: "r".into() },
            Action::Resume { note: None },
            Action::Merge { into: 2 },
            Action::Rate {
                score: 5,
                comment: None,
            },
            Action::ReviewText {
                publish: true,
                note: None,
            },
        ]
    }

    #[test]
    fn every_action_has_exactly_one_row() {
        let kinds: Vec<ActionKind> = one_of_each().iter().map(Action::kind).collect();
        let unique: HashSet<ActionKind> = kinds.iter().copied().collect();
        assert_eq!(unique.len(), kinds.len());
        for k in kinds {
            assert_eq!(
                TRANSITIONS.iter().filter(|t| t.action == k).count(),
                1,
                "{k:?}"
            );
        }
        assert_eq!(TRANSITIONS.len(), 14);
    }

    #[test]
    fn states_outside_a_row_are_invalid_transitions() {
        for action in one_of_each() {
            let row = transition_of(action.kind());
            for status in CaseStatus::ALL {
                if row.from.contains(&status) {
                    continue;
                }
                let viewer = match row.who {
                    Who::Supervisor | Who::SupervisorOrAssignee => supervisor(),
                    Who::FieldTeam => inspector(),
                    Who::Tipster => tipster(),
                };
                let e = decide(&viewer, &facts(case_in(status)), &action).unwrap_err();
                assert_eq!(e.code(), "INVALID_TRANSITION", "{action:?} from {status:?}");
            }
        }
    }

    #[test]
    fn a_team_member_does_field_work_and_nothing_else() {
        // Inspector 21 is on the team of case 1 (assigned to 20), from another grid.
        let member = staff(21, Role::Inspector, "140521/140521100/140521100002");
        let outsider = staff(22, Role::Inspector, "140521/140521100/140521100002");
        let on_team = |status| {
            let mut f = facts(case_in(status));
            f.teams = Teams::from_ids([1]);
            f
        };
        let start = Action::Start {
            lat: 35.69,
            lng: 112.27,
        };
        assert_eq!(
            decide(&member, &on_team(Assigned), &start).unwrap().to,
            InProgress
        );
        assert_eq!(
            decide(&outsider, &facts(case_in(Assigned)), &start)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        let escalate = Action::Escalate { reason: "r".into() };
        assert_eq!(
            decide(&member, &on_team(InProgress), &escalate)
                .unwrap_err()
                .code(),
            "FORBIDDEN",
            "escalating stays with the lead"
        );
        // A supervisor's team rows (there are none) give no field-work rights.
        let mut f = on_team(Assigned);
        f.teams = Teams::from_ids([1]);
        assert_eq!(
            decide(&supervisor(), &f, &start).unwrap_err().code(),
            "FORBIDDEN"
        );
    }

    #[test]
    fn only_the_rows_who_may_act() {
        let c = case_in(Submitted);
        let verify = Action::Verify {
            approve: true,
            note: None,
        };
        assert_eq!(
            decide(&inspector(), &facts(c.clone()), &verify)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert_eq!(
            decide(&tipster(), &facts(c.clone()), &verify)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        let d = decide(&supervisor(), &facts(c), &verify).unwrap();
        assert_eq!(d.to, Closed);
        // Starting is the assignee's alone, even for a supervisor.
        let start = Action::Start {
            lat: 35.69,
            lng: 112.27,
        };
        let c = case_in(Assigned);
        assert_eq!(
            decide(&supervisor(), &facts(c.clone()), &start)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        assert_eq!(
            decide(&inspector(), &facts(c), &start).unwrap().to,
            InProgress
        );
        // Rating: someone else's tip-off looks missing.
        let mut c = case_in(Closed);
        c.tipster_id = Some(99);
        let rate = Action::Rate {
            score: 4,
            comment: None,
        };
        assert_eq!(
            decide(&tipster(), &facts(c.clone()), &rate)
                .unwrap_err()
                .code(),
            "NOT_FOUND"
        );
        let mut f = facts(c);
        f.follows = true;
        assert_eq!(decide(&tipster(), &f, &rate).unwrap().to, Closed);
    }

    #[test]
    fn the_extra_conditions_of_some_actions() {
        // A filed case is not filed again.
        let mut c = case_in(Pending);
        c.accepted_at = Some(c.created_at);
        let e = decide(&supervisor(), &facts(c), &Action::Accept { note: None }).unwrap_err();
        assert_eq!(e.code(), "INVALID_TRANSITION");
        // A parked case must be resumed before submitting.
        let mut c = case_in(InProgress);
        c.parked_at = Some(c.created_at);
        let submit = Action::Submit {
            note: None,
            evidence_ids: vec![],
        };
        let e = decide(&inspector(), &facts(c), &submit).unwrap_err();
        assert_eq!(e.code(), "INVALID_TRANSITION");
        // Photos are counted.
        let mut f = facts(case_in(InProgress));
        f.evidence = SubmissionFacts {
            minimums: [1, 0, 1],
            confirmed: vec![(7, Phase::Before)],
        };
        let e = decide(&inspector(), &f, &submit).unwrap_err();
        assert_eq!(e.detail(), Some("EVIDENCE_REQUIRED"));
        f.evidence.confirmed.push((8, Phase::After));
        let d = decide(&inspector(), &f, &submit).unwrap();
        assert_eq!(d.to, Submitted);
        // Escalation stops at the county.
        let mut c = case_in(Assigned);
        c.escalation_level = 2;
        let e = decide(
            &supervisor(),
            &facts(c),
            &Action::Escalate { reason: "r".into() },
        )
        .unwrap_err();
        assert_eq!(e.code(), "INVALID_TRANSITION");
        // A return needs a note.
        let e = decide(
            &supervisor(),
            &facts(case_in(Submitted)),
            &Action::Verify {
                approve: false,
                note: None,
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "BAD_INPUT");
        // An extension is later than the deadline and at most a year ahead.
        for until in ["2026-12-03T00:00:00Z", "2028-01-01T00:00:00Z"] {
            let e = decide(
                &supervisor(),
                &facts(case_in(Assigned)),
                &Action::Extend {
                    until: until.parse().unwrap(),
                    reason: "r".into(),
                },
            )
            .unwrap_err();
            assert_eq!(e.code(), "BAD_INPUT", "{until}");
        }
        // Resuming an unparked case is refused; parking a parked one too.
        let e = decide(
            &supervisor(),
            &facts(case_in(Assigned)),
            &Action::Resume { note: None },
        )
        .unwrap_err();
        assert_eq!(e.code(), "INVALID_TRANSITION");
    }

    #[test]
    fn references_must_exist_and_be_in_scope() {
        let assign = Action::Assign {
            assignee_id: 20,
            note: None,
        };
        // Unknown assignee.
        let e = decide(&supervisor(), &facts(case_in(Pending)), &assign).unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND");
        // The merge target must be visible, open and of the same category.
        let merge = Action::Merge { into: 2 };
        let e = decide(&supervisor(), &facts(case_in(Assigned)), &merge).unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND");
        let mut f = facts(case_in(Assigned));
        let mut other = case_in(Assigned);
        other.id = 2;
        other.region_path = "140521/140521101/140521101001".into();
        f.other = Some(other.clone());
        let e = decide(&supervisor(), &f, &merge).unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND", "another township's case");
        other.region_path = VILLAGE.into();
        other.category_id = 9;
        f.other = Some(other.clone());
        assert_eq!(
            decide(&supervisor(), &f, &merge).unwrap_err().code(),
            "BAD_INPUT"
        );
        other.category_id = 1;
        f.other = Some(other);
        let d = decide(&supervisor(), &f, &merge).unwrap();
        assert_eq!((d.to, d.merge_into), (Rejected, Some(2)));
    }

    #[test]
    fn every_accepted_action_changes_what_its_row_says() {
        for action in one_of_each() {
            let row = transition_of(action.kind());
            let from = row.from[0];
            let viewer = match row.who {
                Who::Supervisor | Who::SupervisorOrAssignee => supervisor(),
                Who::FieldTeam => inspector(),
                Who::Tipster => tipster(),
            };
            let mut c = case_in(from);
            if action.kind() == ActionKind::Resume {
                c.parked_at = Some(c.created_at);
            }
            let mut f = facts(c);
            let mut u = app_user::Model {
                id: 20,
                username: "i".into(),
                password_hash: String::new(),
                name: "i".into(),
                phone_enc: None,
                phone_last4: None,
                role: Role::Inspector,
                region_id: 1,
                active: true,
                failed_logins: 0,
                locked_until: None,
                demo: false,
                on_duty: false,
                created_at: f.now,
                updated_at: f.now,
            };
            u.id = 21;
            if let Action::Assign { .. } = action {
                let grid_rows = vec![entity::region::Model {
                    id: 1,
                    code: "140521100001".into(),
                    name: "村".into(),
                    level: crate::domain::grid::RegionLevel::Village,
                    parent_id: None,
                    path: VILLAGE.into(),
                    boundary: None,
                    centroid_lat: None,
                    centroid_lng: None,
                    synthetic_name: false,
                    synthetic_boundary: false,
                    created_at: f.now,
                    updated_at: f.now,
                }];
                f.grid = Arc::new(GridSnapshot::build(grid_rows));
                f.assignee = Some(u.clone());
            }
            let action = match action {
                Action::Assign { note, .. } => Action::Assign {
                    assignee_id: 21,
                    note,
                },
                a => a,
            };
            if let Action::Merge { .. } = action {
                let mut other = case_in(Assigned);
                other.id = 2;
                f.other = Some(other);
            }
            if let Action::ReviewText { .. } = action {
                f.case.text_check = Some(entity::enums::TextCheck::Review);
            }
            let d = decide(&viewer, &f, &action).unwrap_or_else(|e| panic!("{action:?}: {e:?}"));
            let want = match row.leads {
                Leads::Stays => from,
                Leads::To(s) => s,
            };
            assert_eq!(d.to, want, "{action:?}");
        }
    }
}
