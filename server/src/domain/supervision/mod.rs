//! Supervision that runs by itself: the deadlines a case carries, the rules (data per
//! category and step) for warning before a deadline and escalating after it, and the
//! sweeper ([`sweep`]) that acts on them.
//!
//! A case carries at most two deadlines at a time, each with the moment its warning is
//! due: `due_at`/`warn_at` (accepting while the case is unfiled, handling once filed)
//! and `onsite_due_at`/`onsite_warn_at` (the on-site check-in, from filing until the
//! inspector checks in). They are computed wherever a deadline is set — intake,
//! filing, extension, resuming — with [`plan`], so the sweeper only compares times.

pub mod sweep;

use chrono::{DateTime, Utc};
use entity::escalation_rule;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter};

use super::category::{Priority, Step, TimeLimit};
use super::sla::{self, WorkCalendar};
use crate::error::AppError;

/// Who is told about a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// The inspector the case is assigned to.
    Assignee,
    /// Every active inspector of the case's village grid.
    GridInspectors,
    /// The supervisors of the case's township.
    TownshipSupervisors,
    /// The county's staff.
    CountyAdmins,
    /// The supervisors of the tier the case is escalated to (township, then county).
    NewTier,
}

impl Audience {
    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ASSIGNEE" => Self::Assignee,
            "GRID_INSPECTORS" => Self::GridInspectors,
            "TOWNSHIP_SUPERVISORS" => Self::TownshipSupervisors,
            "COUNTY_ADMINS" => Self::CountyAdmins,
            "NEW_TIER" => Self::NewTier,
            _ => return None,
        })
    }
}

/// The rule of one step for one category.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The step.
    pub step: Step,
    /// Warn when this share of the time allowed has passed (0: no warning).
    pub warn_share: f64,
    /// Escalate one tier when the deadline passes.
    pub escalate: bool,
    /// Who is told by the warning.
    pub warn_notify: Vec<Audience>,
    /// Who is told of the escalation (or of the missed deadline at the top tier).
    pub escalate_notify: Vec<Audience>,
}

fn audiences(v: &serde_json::Value) -> Result<Vec<Audience>, AppError> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    i.as_str().and_then(Audience::parse).ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!("escalation rule audience {i}"))
                    })
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

impl Rule {
    fn from_row(r: &escalation_rule::Model) -> Result<Self, AppError> {
        Ok(Self {
            step: r.step,
            warn_share: r.warn_share.clamp(0.0, 1.0),
            escalate: r.escalate,
            warn_notify: audiences(&r.warn_notify)?,
            escalate_notify: audiences(&r.escalate_notify)?,
        })
    }
}

/// The rules in force: per category and step, the category's own or the default.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rows: Vec<(Option<i64>, Rule)>,
}

impl Rules {
    /// Every rule (a few dozen rows at most).
    pub async fn load<C: ConnectionTrait>(conn: &C) -> Result<Self, AppError> {
        let rows = escalation_rule::Entity::find()
            .all(conn)
            .await?
            .iter()
            .map(|r| Rule::from_row(r).map(|rule| (r.category_id, rule)))
            .collect::<Result<_, _>>()?;
        Ok(Self { rows })
    }

    /// The rules of one category (its own and the defaults).
    pub async fn for_category<C: ConnectionTrait>(
        conn: &C,
        category_id: i64,
    ) -> Result<Self, AppError> {
        let rows = escalation_rule::Entity::find()
            .filter(
                Condition::any()
                    .add(escalation_rule::Column::CategoryId.eq(category_id))
                    .add(escalation_rule::Column::CategoryId.is_null()),
            )
            .all(conn)
            .await?
            .iter()
            .map(|r| Rule::from_row(r).map(|rule| (r.category_id, rule)))
            .collect::<Result<_, _>>()?;
        Ok(Self { rows })
    }

    /// The rule of `step` for `category_id`: the category's own, else the default.
    pub fn get(&self, category_id: i64, step: Step) -> Option<&Rule> {
        let own = self
            .rows
            .iter()
            .find(|(c, r)| *c == Some(category_id) && r.step == step);
        own.or_else(|| {
            self.rows
                .iter()
                .find(|(c, r)| c.is_none() && r.step == step)
        })
        .map(|(_, r)| r)
    }
}

/// When the warning of a deadline running from `start` to `due` goes out, under `rule`.
pub fn warn_at(
    start: DateTime<Utc>,
    due: DateTime<Utc>,
    rule: Option<&Rule>,
) -> Option<DateTime<Utc>> {
    let share = rule.map_or(0.0, |r| r.warn_share);
    if share <= 0.0 || due <= start {
        return None;
    }
    let span = (due - start).num_seconds() as f64;
    Some(start + chrono::Duration::seconds((span * share).round() as i64))
}

/// The deadlines of a case at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// Accepting (unfiled) or handling (filed).
    pub due_at: Option<DateTime<Utc>>,
    /// When its warning goes out.
    pub warn_at: Option<DateTime<Utc>>,
    /// The on-site check-in (filed, not yet on site).
    pub onsite_due_at: Option<DateTime<Utc>>,
    /// When its warning goes out.
    pub onsite_warn_at: Option<DateTime<Utc>>,
}

/// What [`plan`] needs to know about a category.
pub struct Limits<'a> {
    /// The work calendar.
    pub calendar: &'a WorkCalendar,
    /// The category's time limits.
    pub limits: &'a [TimeLimit],
    /// The category's escalation rules.
    pub rules: &'a Rules,
    /// The category.
    pub category_id: i64,
}

/// The deadlines of a case at `now`: unfiled, the accepting deadline from `now`;
/// filed now, the handling deadline (or `handle_due`, when a person set one) and, unless
/// the inspector is already on site, the on-site deadline.
pub fn plan(
    l: &Limits<'_>,
    priority: Priority,
    now: DateTime<Utc>,
    filed: bool,
    on_site: bool,
    handle_due: Option<DateTime<Utc>>,
) -> Deadlines {
    let rule = |step| l.rules.get(l.category_id, step);
    if !filed {
        let due = sla::due_at(l.calendar, l.limits, priority, Step::Accept, now);
        return Deadlines {
            due_at: due,
            warn_at: due.and_then(|d| warn_at(now, d, rule(Step::Accept))),
            ..Deadlines::default()
        };
    }
    let due = handle_due.or_else(|| sla::due_at(l.calendar, l.limits, priority, Step::Handle, now));
    let onsite = (!on_site)
        .then(|| sla::due_at(l.calendar, l.limits, priority, Step::Onsite, now))
        .flatten();
    Deadlines {
        due_at: due,
        warn_at: due.and_then(|d| warn_at(now, d, rule(Step::Handle))),
        onsite_due_at: onsite,
        onsite_warn_at: onsite.and_then(|d| warn_at(now, d, rule(Step::Onsite))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rule(step: Step, share: f64) -> Rule {
        Rule {
            step,
            warn_share: share,
            escalate: true,
            warn_notify: vec![Audience::Assignee],
            escalate_notify: vec![Audience::NewTier],
        }
    }

    #[test]
    fn warnings_fall_at_the_share_of_the_time_allowed() {
        let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let due = start + chrono::Duration::hours(10);
        let r = rule(Step::Handle, 0.8);
        assert_eq!(
            warn_at(start, due, Some(&r)),
            Some(start + chrono::Duration::hours(8))
        );
        assert_eq!(warn_at(start, due, Some(&rule(Step::Handle, 0.0))), None);
        assert_eq!(warn_at(start, due, None), None);
        assert_eq!(warn_at(due, start, Some(&r)), None);
    }

    #[test]
    fn a_categorys_own_rule_wins_over_the_default() {
        let rules = Rules {
            rows: vec![
                (None, rule(Step::Handle, 0.8)),
                (Some(7), rule(Step::Handle, 0.5)),
                (None, rule(Step::Accept, 0.9)),
            ],
        };
        assert_eq!(rules.get(7, Step::Handle).unwrap().warn_share, 0.5);
        assert_eq!(rules.get(8, Step::Handle).unwrap().warn_share, 0.8);
        assert_eq!(rules.get(7, Step::Accept).unwrap().warn_share, 0.9);
        assert!(rules.get(7, Step::Onsite).is_none());
    }

    #[test]
    fn audiences_are_closed() {
        for (s, a) in [
            ("ASSIGNEE", Audience::Assignee),
            ("NEW_TIER", Audience::NewTier),
            ("COUNTY_ADMINS", Audience::CountyAdmins),
        ] {
            assert_eq!(Audience::parse(s), Some(a));
        }
        assert!(audiences(&serde_json::json!(["ASSIGNEE", "SOMEONE"])).is_err());
    }
}
