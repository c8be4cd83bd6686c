//! The case state machine (GB/T 30428-style: register → dispatch → handle → verify →
//! close → evaluate), who may take each step, optimistic concurrency and the audit
//! trail. Every accepted action raises `version` by exactly one and appends exactly
//! one `case_event`, in the same transaction.

use chrono::{DateTime, Utc};
use entity::{app_user, case, case_event, case_follower, category, category_time_limit};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CaseStatus, case_not_found, staff_can_see, status_of};
use crate::app::AppState;
use crate::domain::access::{Role, Viewer};
use crate::domain::category::{LimitUnit, Priority, Step, TimeLimit};
use crate::domain::geo::WgsPoint;
use crate::domain::grid::path_is_within;
use crate::domain::idempotency::IdemKey;
use crate::domain::sla::{self, WorkCalendar};
use crate::error::{AppError, Msg};

/// Why a tip-off is not a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// Not a real problem, or not enough to act on.
    Invalid,
    /// The same problem as another case.
    Duplicate,
    /// Not an environmental matter, or not this county's.
    OutOfScope,
}

impl RejectReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "INVALID",
            Self::Duplicate => "DUPLICATE",
            Self::OutOfScope => "OUT_OF_SCOPE",
        }
    }
}

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
}

impl Action {
    /// The stored event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Accept { .. } => "ACCEPT",
            Self::Reject { .. } => "REJECT",
            Self::Assign { .. } => "ASSIGN",
            Self::Start { .. } => "START",
            Self::Submit { .. } => "SUBMIT",
            Self::Verify { approve: true, .. } => "APPROVE",
            Self::Verify { approve: false, .. } => "RETURN",
            Self::Escalate { .. } => "ESCALATE",
            Self::Extend { .. } => "EXTEND",
            Self::Park { .. } => "PARK",
            Self::Resume { .. } => "RESUME",
            Self::Merge { .. } => "MERGE",
        }
    }
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
        Some(t) if t.chars().count() > max => Err(AppError::bad_input(Msg::new(
            format!("说明过长（最多 {max} 字）"),
            format!("note too long (at most {max} characters)"),
        ))),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn reason(v: &str) -> Result<String, AppError> {
    match text(&Some(v.to_owned()), 500)? {
        Some(r) => Ok(r),
        None => Err(AppError::bad_input(Msg::new(
            "请填写理由",
            "a reason is required",
        ))),
    }
}

/// What an accepted action changes.
pub(crate) struct Decision {
    to: CaseStatus,
    changes: case::ActiveModel,
    note: Option<String>,
    data: serde_json::Value,
    /// Merge: move followers to this case.
    merge_into: Option<i64>,
}

const SUPERVISORS: &[Role] = &[Role::TownshipSupervisor, Role::CountyAdmin];

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

pub(crate) fn parse_priority(s: &str) -> Priority {
    match s {
        "URGENT" => Priority::Urgent,
        "HIGH" => Priority::High,
        _ => Priority::Normal,
    }
}

fn limit_unit(limits: &[TimeLimit], priority: Priority, step: Step) -> LimitUnit {
    limits
        .iter()
        .find(|l| l.priority == priority && l.step == step)
        .map_or(LimitUnit::Hours, |l| l.unit)
}

/// The handling deadline of a case filed at `now` (its current one when the category
/// has no limit for the case's priority).
async fn handling_due(
    st: &AppState,
    c: &case::Model,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    let limits = limits_of(&st.db, c.category_id).await?;
    let cal = WorkCalendar::load(&st.db, sla::WorkingHours::default()).await?;
    Ok(sla::due_at(
        &cal,
        &limits,
        parse_priority(&c.priority),
        Step::Handle,
        now,
    )
    .or(c.due_at))
}

/// Decides whether `viewer` may take `action` on case `c` now, and what changes.
/// Pure apart from reading the assignee, the merge target and the category.
async fn decide(
    st: &AppState,
    viewer: &Viewer,
    c: &case::Model,
    action: &Action,
    now: DateTime<Utc>,
) -> Result<Decision, AppError> {
    let from = status_of(c)?;
    let mut ch = <case::ActiveModel as Default>::default();
    let staff = viewer.staff()?;
    let is_supervisor = SUPERVISORS.contains(&staff.role);
    let is_assignee = c.assignee_id == Some(staff.user_id);
    let parked = c.parked_at.is_some();
    let calendar = || WorkCalendar::load(&st.db, sla::WorkingHours::default());
    let (to, note, data, merge_into) = match action {
        Action::Accept { note } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if from != CaseStatus::Pending || c.accepted_at.is_some() {
                return Err(invalid(
                    "只能受理未立案的待受理案件",
                    "only an unfiled PENDING case can be accepted",
                ));
            }
            ch.accepted_at = Set(Some(now));
            ch.due_at = Set(handling_due(st, c, now).await?);
            (CaseStatus::Pending, text(note, 2000)?, json!({}), None)
        }
        Action::Reject {
            reason: r,
            duplicate_of,
            note,
        } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if from != CaseStatus::Pending {
                return Err(invalid(
                    "只能对待受理案件不予受理",
                    "only a PENDING case can be rejected",
                ));
            }
            if *r == RejectReason::Duplicate {
                let Some(dup) = duplicate_of else {
                    return Err(AppError::bad_input(Msg::new(
                        "以重复为由不予受理时须指明重复的案件",
                        "duplicateOf is required when the reason is DUPLICATE",
                    )));
                };
                let other = case::Entity::find_by_id(*dup).one(&st.db).await?;
                if *dup == c.id || !other.as_ref().is_some_and(|o| staff_can_see(viewer, o)) {
                    return Err(case_not_found());
                }
                ch.duplicate_of = Set(Some(*dup));
            }
            ch.reject_reason = Set(Some(r.as_str().to_owned()));
            ch.closed_at = Set(Some(now));
            (
                CaseStatus::Rejected,
                text(note, 2000)?,
                json!({ "reason": r.as_str(), "duplicateOf": duplicate_of }),
                None,
            )
        }
        Action::Assign { assignee_id, note } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if !matches!(from, CaseStatus::Pending | CaseStatus::Assigned) {
                return Err(invalid(
                    "只能派发待受理或已派发的案件",
                    "only a PENDING or ASSIGNED case can be (re)assigned",
                ));
            }
            let target = app_user::Entity::find_by_id(*assignee_id)
                .one(&st.db)
                .await?;
            let grid = st.grid.snapshot();
            let ok = target.as_ref().is_some_and(|u| {
                u.active
                    && u.role == Role::Inspector.as_str()
                    && grid
                        .get(u.region_id)
                        .is_some_and(|r| path_is_within(&r.path, &staff.region_path))
            });
            if !ok {
                return Err(AppError::not_found("网格员", "inspector"));
            }
            if c.assignee_id == Some(*assignee_id) && from == CaseStatus::Assigned {
                return Err(invalid(
                    "案件已派发给该网格员",
                    "the case is already assigned to this inspector",
                ));
            }
            ch.assignee_id = Set(Some(*assignee_id));
            if c.accepted_at.is_none() {
                ch.accepted_at = Set(Some(now));
                ch.due_at = Set(handling_due(st, c, now).await?);
            }
            (
                CaseStatus::Assigned,
                text(note, 2000)?,
                json!({ "assigneeId": assignee_id, "previousAssigneeId": c.assignee_id }),
                None,
            )
        }
        Action::Start { lat, lng } => {
            if !is_assignee {
                return Err(AppError::Forbidden);
            }
            if from != CaseStatus::Assigned {
                return Err(invalid(
                    "只能对已派发的案件签到处置",
                    "only an ASSIGNED case can be started",
                ));
            }
            let here = WgsPoint::from_client(*lat, *lng, crate::domain::geo::CoordSystem::Wgs84)?;
            let distance = crate::domain::geo::haversine_m(
                c.lat,
                c.lng,
                here.lat.degrees(),
                here.lng.degrees(),
            );
            let radius = category::Entity::find_by_id(c.category_id)
                .one(&st.db)
                .await?
                .map_or(500.0, |k| k.checkin_radius_m);
            let far = distance > radius;
            ch.started_at = Set(Some(now));
            ch.checkin_lat = Set(Some(here.lat.degrees()));
            ch.checkin_lng = Set(Some(here.lng.degrees()));
            ch.checkin_distance_m = Set(Some(distance));
            ch.checkin_far = Set(far);
            (
                CaseStatus::InProgress,
                None,
                json!({ "distanceM": distance.round(), "far": far, "radiusM": radius }),
                None,
            )
        }
        Action::Submit { note, evidence_ids } => {
            if !is_assignee {
                return Err(AppError::Forbidden);
            }
            if from != CaseStatus::InProgress {
                return Err(invalid(
                    "只能提交处置中的案件",
                    "only an IN_PROGRESS case can be submitted",
                ));
            }
            if parked {
                return Err(invalid(
                    "挂账中的案件需先恢复",
                    "resume the parked case first",
                ));
            }
            let evidence =
                crate::domain::evidence_rules::check_submission(&st.db, c, evidence_ids).await?;
            ch.submitted_at = Set(Some(now));
            (
                CaseStatus::Submitted,
                text(note, 2000)?,
                json!({ "evidenceIds": evidence }),
                None,
            )
        }
        Action::Verify { approve, note } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if from != CaseStatus::Submitted {
                return Err(invalid(
                    "只能核查待核查的案件",
                    "only a SUBMITTED case can be verified",
                ));
            }
            if *approve {
                ch.closed_at = Set(Some(now));
                (CaseStatus::Closed, text(note, 2000)?, json!({}), None)
            } else {
                let note = text(note, 2000)?;
                if note.is_none() {
                    return Err(AppError::bad_input(Msg::new(
                        "退回重办须说明原因",
                        "a note is required to return a case",
                    )));
                }
                ch.rework_count = Set(c.rework_count + 1);
                ch.submitted_at = Set(None);
                (
                    CaseStatus::InProgress,
                    note,
                    json!({ "reworkCount": c.rework_count + 1 }),
                    None,
                )
            }
        }
        Action::Escalate { reason: r } => {
            if !(is_supervisor || is_assignee) {
                return Err(AppError::Forbidden);
            }
            if !from.is_open() {
                return Err(invalid(
                    "已结束的案件不能上报",
                    "a finished case cannot be escalated",
                ));
            }
            if c.escalation_level >= 2 {
                return Err(invalid(
                    "案件已上报至县级",
                    "the case is already escalated to the county",
                ));
            }
            ch.escalation_level = Set(c.escalation_level + 1);
            (
                from,
                Some(reason(r)?),
                json!({ "level": c.escalation_level + 1 }),
                None,
            )
        }
        Action::Extend { until, reason: r } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if !from.is_open() {
                return Err(invalid(
                    "已结束的案件不能延期",
                    "a finished case cannot be extended",
                ));
            }
            if *until <= now || c.due_at.is_some_and(|d| *until <= d) {
                return Err(AppError::bad_input(Msg::new(
                    "延期后的期限须晚于现在和原期限",
                    "the new due time must be later than now and than the current one",
                )));
            }
            ch.due_at = Set(Some(*until));
            ch.extended_count = Set(c.extended_count + 1);
            (
                from,
                Some(reason(r)?),
                json!({ "previousDueAt": c.due_at, "dueAt": until }),
                None,
            )
        }
        Action::Park { reason: r } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if !from.is_open() || parked {
                return Err(invalid(
                    "只能挂账未结束且未挂账的案件",
                    "only an open, unparked case can be parked",
                ));
            }
            ch.parked_at = Set(Some(now));
            (from, Some(reason(r)?), json!({}), None)
        }
        Action::Resume { note } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            let Some(since) = c.parked_at else {
                return Err(invalid("案件未挂账", "the case is not parked"));
            };
            let parked_secs = Ord::max((now - since).num_seconds(), 0);
            ch.parked_at = Set(None);
            ch.parked_seconds = Set(c.parked_seconds + parked_secs);
            if let Some(due) = c.due_at {
                let limits = limits_of(&st.db, c.category_id).await?;
                let step = if c.accepted_at.is_some() {
                    Step::Handle
                } else {
                    Step::Accept
                };
                let unit = limit_unit(&limits, parse_priority(&c.priority), step);
                let cal = calendar().await?;
                ch.due_at = Set(Some(sla::shift_for_parking(&cal, due, since, now, unit)));
            }
            (
                from,
                text(note, 2000)?,
                json!({ "parkedSeconds": parked_secs }),
                None,
            )
        }
        Action::Merge { into } => {
            if !is_supervisor {
                return Err(AppError::Forbidden);
            }
            if !from.is_open() {
                return Err(invalid(
                    "已结束的案件不能合并",
                    "a finished case cannot be merged",
                ));
            }
            let target = case::Entity::find_by_id(*into).one(&st.db).await?;
            let Some(target) = target.filter(|t| t.id != c.id && staff_can_see(viewer, t)) else {
                return Err(case_not_found());
            };
            if !status_of(&target)?.is_open() || target.merged_into.is_some() {
                return Err(invalid(
                    "只能合并到未结束的案件",
                    "the surviving case must be open",
                ));
            }
            if target.category_id != c.category_id {
                return Err(AppError::bad_input(Msg::new(
                    "只能合并同类别的案件",
                    "only cases of the same category can be merged",
                )));
            }
            ch.merged_into = Set(Some(*into));
            ch.duplicate_of = Set(Some(*into));
            ch.reject_reason = Set(Some(RejectReason::Duplicate.as_str().to_owned()));
            ch.closed_at = Set(Some(now));
            (
                CaseStatus::Rejected,
                None,
                json!({ "into": into }),
                Some(*into),
            )
        }
    };
    if to != from {
        ch.status = Set(to.as_str().to_owned());
    }
    Ok(Decision {
        to,
        changes: ch,
        note,
        data,
        merge_into,
    })
}

/// Who the idempotency records of a viewer belong to.
pub(crate) fn idem_scope(viewer: &Viewer) -> String {
    match viewer {
        Viewer::Staff(s) => format!("user:{}", s.user_id),
        Viewer::Public(p) => format!("tipster:{}", p.tipster_id),
        Viewer::Anonymous => "anonymous".into(),
    }
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
    case_event::ActiveModel {
        case_id: Set(case_id),
        seq: Set(seq),
        actor_id: Set(actor_id),
        actor_tipster_id: Set(actor_tipster_id),
        actor_role: Set(role.to_owned()),
        action: Set(action.to_owned()),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.map(|s| s.as_str().to_owned())),
        note: Set(note),
        data: Set(Some(data)),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Applies `action` to case `id` as read at `version`. A stale version is `CONFLICT`;
/// a replayed idempotency key returns the first result and writes nothing.
pub async fn transition(
    st: &AppState,
    viewer: &Viewer,
    id: i64,
    version: i32,
    action: Action,
    idempotency_key: Option<&str>,
) -> Result<case::Model, AppError> {
    viewer.staff()?;
    let idem = idempotency_key
        .map(|k| {
            IdemKey::new(
                idem_scope(viewer),
                k,
                action.name(),
                &(id, version, &action),
            )
        })
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&st.db).await?
    {
        return Ok(done);
    }
    let _gate = st.write_gate.enter().await;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&st.db).await?
    {
        return Ok(done);
    }
    let c = super::get_for_staff(&st.db, viewer, id).await?;
    if c.version != version {
        return Err(conflict());
    }
    let now = Utc::now();
    let from = status_of(&c)?;
    let d = decide(st, viewer, &c, &action, now).await?;
    let result = apply(
        &st.db,
        viewer,
        &c,
        version,
        from,
        action.name(),
        d,
        now,
        idem.as_ref(),
    )
    .await;
    match (result, &idem) {
        (Err(e), Some(k)) => match k.replay(&st.db).await? {
            Some(done) => Ok(done),
            None => Err(e),
        },
        (r, _) => r,
    }
}

pub(crate) fn conflict() -> AppError {
    AppError::Conflict(Msg::new(
        "案件已被他人修改，请刷新后重试",
        "the case was changed by someone else; reload and retry",
    ))
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    db: &DatabaseConnection,
    viewer: &Viewer,
    c: &case::Model,
    version: i32,
    from: CaseStatus,
    action: &str,
    d: Decision,
    now: DateTime<Utc>,
    idem: Option<&IdemKey>,
) -> Result<case::Model, AppError> {
    let txn = db.begin().await?;
    let mut changes = d.changes;
    changes.updated_at = Set(now);
    let updated = case::Entity::update_many()
        .set(changes)
        .col_expr(
            case::Column::Version,
            ExprTrait::add(Expr::col(case::Column::Version), 1),
        )
        .filter(case::Column::Id.eq(c.id))
        .filter(case::Column::Version.eq(version))
        .exec(&txn)
        .await?
        .rows_affected;
    if updated == 0 {
        return Err(conflict());
    }
    let to = (d.to != from).then_some(d.to);
    append_event(
        &txn,
        c.id,
        version + 1,
        viewer,
        action,
        Some(from),
        to.or(Some(from)),
        d.note,
        d.data,
        now,
    )
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => conflict(),
        _ => e.into(),
    })?;
    if let Some(target) = d.merge_into {
        merge_followers(&txn, c, target, now).await?;
    }
    let fresh = case::Entity::find_by_id(c.id)
        .one(&txn)
        .await?
        .ok_or_else(case_not_found)?;
    if let Some(k) = idem {
        k.record(&txn, &fresh).await?;
    }
    txn.commit().await?;
    Ok(fresh)
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

/// How a tipster finds the case to rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RateTarget {
    /// By case id (from `myTips`).
    Id(i64),
    /// By tracking code.
    TrackingCode(String),
}

/// Whether a case can still be rated: closed and not rated yet.
pub fn can_rate(c: &case::Model) -> bool {
    status_of(c).is_ok_and(|s| s == CaseStatus::Closed) && c.rating.is_none()
}

/// The tipster rates a closed case (1–5), once.
pub async fn rate(
    st: &AppState,
    viewer: &Viewer,
    target: RateTarget,
    score: i32,
    comment: Option<String>,
) -> Result<case::Model, AppError> {
    let me = viewer.public()?;
    if !(1..=5).contains(&score) {
        return Err(AppError::bad_input(Msg::new(
            "评分应为 1 到 5",
            "score must be 1–5",
        )));
    }
    let comment = text(&comment, 500)?;
    let c = match &target {
        RateTarget::Id(id) => case::Entity::find_by_id(*id)
            .one(&st.db)
            .await?
            .ok_or_else(case_not_found)?,
        RateTarget::TrackingCode(code) => super::by_tracking_code(&st.db, code).await?,
    };
    let follows = case_follower::Entity::find()
        .filter(case_follower::Column::CaseId.eq(c.id))
        .filter(case_follower::Column::TipsterId.eq(me.tipster_id))
        .one(&st.db)
        .await?
        .is_some();
    if c.tipster_id != Some(me.tipster_id) && !follows {
        return Err(case_not_found());
    }
    if status_of(&c)? != CaseStatus::Closed {
        return Err(invalid(
            "只能评价已办结的案件",
            "only a CLOSED case can be rated",
        ));
    }
    if c.rating.is_some() {
        return Err(AppError::Conflict(Msg::new(
            "该案件已评价过",
            "the case was already rated",
        )));
    }
    let _gate = st.write_gate.enter().await;
    let now = Utc::now();
    let ch = case::ActiveModel {
        rating: Set(Some(score)),
        rating_comment: Set(comment.clone()),
        rated_at: Set(Some(now)),
        updated_at: Set(now),
        ..Default::default()
    };
    let txn = st.db.begin().await?;
    let n = case::Entity::update_many()
        .set(ch)
        .col_expr(
            case::Column::Version,
            ExprTrait::add(Expr::col(case::Column::Version), 1),
        )
        .filter(case::Column::Id.eq(c.id))
        .filter(case::Column::Version.eq(c.version))
        .filter(case::Column::Rating.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if n == 0 {
        return Err(AppError::Conflict(Msg::new(
            "该案件已评价过",
            "the case was already rated",
        )));
    }
    append_event(
        &txn,
        c.id,
        c.version + 1,
        viewer,
        "RATE",
        Some(CaseStatus::Closed),
        Some(CaseStatus::Closed),
        comment,
        json!({ "score": score }),
        now,
    )
    .await?;
    let fresh = case::Entity::find_by_id(c.id)
        .one(&txn)
        .await?
        .ok_or_else(case_not_found)?;
    txn.commit().await?;
    Ok(fresh)
}
