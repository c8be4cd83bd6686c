//! The SLA sweeper: deadlines near (a warning to those responsible) and passed (the
//! case goes one tier up — village grid → township → county — by the system, with an
//! event that says which deadline passed, and the new tier is told).
//!
//! One pass works through (step × warn/escalate) in batches of [`BATCH`] cases, each
//! batch one transaction of a fixed number of statements: claim the cases (on
//! PostgreSQL `FOR UPDATE SKIP LOCKED`, so two processes sweeping at once never take
//! the same case), raise the escalated ones in one `UPDATE`, then one multi-row insert
//! each for their events, the marks and the notifications. A mark (unique per case,
//! step, kind and deadline) makes every warning and escalation happen once; an
//! extended or resumed case has a new deadline and so gets its own. Parked cases are
//! skipped.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::enums::SlaKind;
use entity::{app_user, case, case_event, notification, sla_mark};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;

use super::{Audience, Rule, Rules};
use crate::domain::Services;
use crate::domain::access::Role;
use crate::domain::cases::CaseStatus;
use crate::domain::category::Step;
use crate::domain::grid::{GridSnapshot, RegionLevel};
use crate::domain::sla::SHANGHAI;
use crate::domain::uow;
use crate::error::AppError;

/// Cases handled per transaction.
pub const BATCH: u64 = 200;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Warnings sent (one per case and deadline).
    pub warned: u64,
    /// Cases raised one tier.
    pub escalated: u64,
    /// Deadlines missed by cases already at the top tier (told, not raised).
    pub missed_at_top: u64,
    /// Transactions run (each a fixed number of statements).
    pub batches: u64,
}

/// The staff who may be told, by region: loaded once per pass.
#[derive(Debug, Default)]
struct Staff {
    by_region: HashMap<i64, Vec<(i64, Role)>>,
}

impl Staff {
    async fn load<C: ConnectionTrait>(conn: &C) -> Result<Self, AppError> {
        let users = app_user::Entity::find()
            .filter(app_user::Column::Active.eq(true))
            .filter(app_user::Column::Role.ne(Role::Public))
            .all(conn)
            .await?;
        let mut by_region: HashMap<i64, Vec<(i64, Role)>> = HashMap::new();
        for u in users {
            by_region
                .entry(u.region_id)
                .or_default()
                .push((u.id, u.role));
        }
        Ok(Self { by_region })
    }

    fn in_region(&self, region: Option<i64>, role: Role) -> impl Iterator<Item = i64> + '_ {
        region
            .and_then(|r| self.by_region.get(&r))
            .into_iter()
            .flatten()
            .filter(move |(_, r)| *r == role)
            .map(|(id, _)| *id)
    }
}

/// Runs one pass at the services' clock.
pub async fn sweep(svc: &Services) -> Result<SweepReport, AppError> {
    let now = svc.clock.now();
    let rules = Arc::new(Rules::load(&svc.db).await?);
    let staff = Arc::new(Staff::load(&svc.db).await?);
    let mut report = SweepReport::default();
    for step in [Step::Accept, Step::Onsite, Step::Handle] {
        // Escalations first: a case past its deadline is no longer warned about.
        for kind in [SlaKind::Escalate, SlaKind::Warn] {
            loop {
                let job = Batch {
                    step,
                    kind,
                    now,
                    rules: Arc::clone(&rules),
                    staff: Arc::clone(&staff),
                    grid: svc.grid.snapshot(),
                };
                let done =
                    uow::write(svc, None, uow::work(move |txn| Box::pin(job.run(txn)))).await?;
                report.batches += 1;
                report.warned += done.warned;
                report.escalated += done.escalated;
                report.missed_at_top += done.missed_at_top;
                if done.claimed < BATCH {
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// One batch: which step, warning or escalation, and what it needs to know.
struct Batch {
    step: Step,
    kind: SlaKind,
    now: DateTime<Utc>,
    rules: Arc<Rules>,
    staff: Arc<Staff>,
    grid: Arc<GridSnapshot>,
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
struct Done {
    claimed: u64,
    warned: u64,
    escalated: u64,
    missed_at_top: u64,
}

/// The rows a batch writes.
#[derive(Default)]
struct Writes {
    raise: Vec<i64>,
    events: Vec<case_event::ActiveModel>,
    marks: Vec<sla_mark::ActiveModel>,
    notes: Vec<notification::ActiveModel>,
    notices: Vec<crate::domain::events::EventNotice>,
}

fn due_column(step: Step) -> case::Column {
    match step {
        Step::Onsite => case::Column::OnsiteDueAt,
        Step::Accept | Step::Handle => case::Column::DueAt,
    }
}

fn due_of(c: &case::Model, step: Step) -> Option<DateTime<Utc>> {
    match step {
        Step::Onsite => c.onsite_due_at,
        Step::Accept | Step::Handle => c.due_at,
    }
}

fn step_label(step: Step) -> &'static str {
    match step {
        Step::Accept => "受理",
        Step::Onsite => "到场",
        Step::Handle => "处置办结",
    }
}

impl Batch {
    /// Claims up to [`BATCH`] cases due for this (step, kind) and not yet marked for
    /// their current deadline.
    async fn candidates<C: ConnectionTrait>(&self, txn: &C) -> Result<Vec<case::Model>, AppError> {
        let due = due_column(self.step);
        let mut q = case::Entity::find()
            .filter(case::Column::Status.is_in(CaseStatus::OPEN))
            .filter(case::Column::ParkedAt.is_null());
        q = match self.step {
            Step::Accept => q.filter(case::Column::AcceptedAt.is_null()),
            Step::Onsite => q
                .filter(case::Column::AcceptedAt.is_not_null())
                .filter(case::Column::StartedAt.is_null()),
            Step::Handle => q.filter(case::Column::AcceptedAt.is_not_null()),
        };
        q = match self.kind {
            SlaKind::Escalate => q.filter(due.lte(self.now)),
            SlaKind::Warn => {
                let warn = match self.step {
                    Step::Onsite => case::Column::OnsiteWarnAt,
                    Step::Accept | Step::Handle => case::Column::WarnAt,
                };
                q.filter(warn.lte(self.now)).filter(due.gt(self.now))
            }
        };
        let marked = Query::select()
            .expr(Expr::val(1))
            .from(sla_mark::Entity)
            .and_where(
                Expr::col((sla_mark::Entity, sla_mark::Column::CaseId))
                    .equals((case::Entity, case::Column::Id)),
            )
            .and_where(Expr::col((sla_mark::Entity, sla_mark::Column::Step)).eq(self.step.as_str()))
            .and_where(Expr::col((sla_mark::Entity, sla_mark::Column::Kind)).eq(self.kind.as_str()))
            .and_where(
                Expr::col((sla_mark::Entity, sla_mark::Column::DueAt)).equals((case::Entity, due)),
            )
            .to_owned();
        q = q
            .filter(Expr::exists(marked).not())
            .order_by_asc(due)
            .order_by_asc(case::Column::Id)
            .limit(BATCH);
        if txn.get_database_backend() == DbBackend::Postgres {
            q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        Ok(q.all(txn).await?)
    }

    async fn run<C: ConnectionTrait>(self, txn: &C) -> Result<Done, AppError> {
        let cases = self.candidates(txn).await?;
        let mut done = Done {
            claimed: cases.len() as u64,
            ..Done::default()
        };
        let mut w = Writes::default();
        for c in &cases {
            self.decide(c, &mut w, &mut done);
        }
        write(txn, w, self.now).await?;
        Ok(done)
    }

    /// What happens to one claimed case.
    fn decide(&self, c: &case::Model, w: &mut Writes, done: &mut Done) {
        let Some(due) = due_of(c, self.step) else {
            return;
        };
        let rule = self.rules.get(c.category_id, self.step);
        w.marks.push(sla_mark::ActiveModel {
            case_id: Set(c.id),
            step: Set(self.step),
            kind: Set(self.kind),
            due_at: Set(due),
            created_at: Set(self.now),
            ..Default::default()
        });
        let local = due.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M");
        let label = step_label(self.step);
        let (kind, title, body, audience) = match self.kind {
            SlaKind::Warn => {
                done.warned += 1;
                (
                    "SLA_WARNING",
                    format!("案件 {} 即将超过{label}时限", c.number),
                    format!("「{}」的{label}期限为 {local}，请及时处理。", c.title),
                    rule.map(|r| r.warn_notify.clone()).unwrap_or_default(),
                )
            }
            SlaKind::Escalate => self.escalate(c, rule, w, done, &local.to_string()),
        };
        let level = if w.raise.last() == Some(&c.id) {
            c.escalation_level + 1
        } else {
            c.escalation_level
        };
        for user in self.recipients(c, &audience, level) {
            w.notes.push(notification::ActiveModel {
                user_id: Set(user),
                kind: Set(kind.to_owned()),
                case_id: Set(Some(c.id)),
                title: Set(title.clone()),
                body: Set(body.clone()),
                created_at: Set(self.now),
                read_at: Set(None),
                ..Default::default()
            });
        }
    }

    /// A missed deadline: one tier up with a system event, or, at the county already,
    /// a notice only.
    fn escalate(
        &self,
        c: &case::Model,
        rule: Option<&Rule>,
        w: &mut Writes,
        done: &mut Done,
        local: &str,
    ) -> (&'static str, String, String, Vec<Audience>) {
        let label = step_label(self.step);
        let audience = rule.map(|r| r.escalate_notify.clone()).unwrap_or_default();
        let raise = rule.is_some_and(|r| r.escalate) && c.escalation_level < 2;
        if !raise {
            done.missed_at_top += 1;
            return (
                "DEADLINE_MISSED",
                format!("案件 {} 已超过{label}时限", c.number),
                format!("「{}」的{label}期限 {local} 已过。", c.title),
                audience,
            );
        }
        done.escalated += 1;
        let level = c.escalation_level + 1;
        let tier = if level == 1 { "乡镇" } else { "县级" };
        w.raise.push(c.id);
        w.notices.push(crate::domain::events::notice(
            c,
            c.version + 1,
            "ESCALATE",
            Some(c.status),
            self.now,
        ));
        w.events.push(case_event::ActiveModel {
            case_id: Set(c.id),
            seq: Set(c.version + 1),
            actor_id: Set(None),
            actor_tipster_id: Set(None),
            actor_role: Set("SYSTEM".to_owned()),
            action: Set("ESCALATE".to_owned()),
            from_status: Set(Some(c.status)),
            to_status: Set(Some(c.status)),
            note: Set(Some(format!("超过{label}时限，自动上报至{tier}"))),
            data: Set(Some(json!({
                "level": level,
                "deadline": self.step.as_str(),
                "dueAt": due_of(c, self.step),
                "automatic": true,
            }))),
            created_at: Set(self.now),
            ..Default::default()
        });
        (
            "ESCALATED",
            format!("案件 {} 已超过{label}时限，已上报{tier}", c.number),
            format!(
                "「{}」的{label}期限 {local} 已过，系统已自动上报至{tier}。",
                c.title
            ),
            audience,
        )
    }

    /// The staff members an audience names for a case at escalation `level`.
    fn recipients(&self, c: &case::Model, audience: &[Audience], level: i32) -> Vec<i64> {
        let node = self.grid.get(c.region_id);
        let township = node
            .and_then(|n| self.grid.ancestor_at(n, RegionLevel::Township))
            .map(|t| t.id);
        let county = node
            .and_then(|n| self.grid.ancestor_at(n, RegionLevel::County))
            .map(|t| t.id);
        let mut out = Vec::new();
        for a in audience {
            match a {
                Audience::Assignee => out.extend(c.assignee_id),
                Audience::GridInspectors => {
                    out.extend(self.staff.in_region(Some(c.region_id), Role::Inspector))
                }
                Audience::TownshipSupervisors => {
                    out.extend(self.staff.in_region(township, Role::TownshipSupervisor))
                }
                Audience::CountyAdmins => {
                    out.extend(self.staff.in_region(county, Role::CountyAdmin));
                }
                Audience::NewTier if level >= 2 => {
                    out.extend(self.staff.in_region(county, Role::CountyAdmin));
                }
                Audience::NewTier => {
                    out.extend(self.staff.in_region(township, Role::TownshipSupervisor))
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Writes a batch: one statement per kind of row.
async fn write<C: ConnectionTrait>(txn: &C, w: Writes, now: DateTime<Utc>) -> Result<(), AppError> {
    if !w.raise.is_empty() {
        case::Entity::update_many()
            .col_expr(
                case::Column::EscalationLevel,
                Expr::col(case::Column::EscalationLevel).add(1),
            )
            .col_expr(
                case::Column::Version,
                Expr::col(case::Column::Version).add(1),
            )
            .col_expr(case::Column::UpdatedAt, Expr::value(now))
            .filter(case::Column::Id.is_in(w.raise))
            .exec(txn)
            .await?;
    }
    if !w.events.is_empty() {
        case_event::Entity::insert_many(w.events).exec(txn).await?;
    }
    if !w.marks.is_empty() {
        sla_mark::Entity::insert_many(w.marks).exec(txn).await?;
    }
    if !w.notes.is_empty() {
        notification::Entity::insert_many(w.notes).exec(txn).await?;
    }
    crate::domain::events::emitted(txn, &w.notices, now).await
}
