//! Monthly rankings (考核排名), frozen on publication.
//!
//! County staff publish a month's ranking of a region once the month is over: the
//! month's indicators ([`super::stats`]) per child region (townships of the county) and
//! per inspector, each with its composite score (综合指标值, weights from the
//! configuration) and rank. The snapshot is stored as it was computed and read back
//! unchanged forever: late events (a rating given in the next month, a case reopened
//! by rework) change the live `stats`, never a published ranking. A month is published
//! once; publishing it again is a `CONFLICT`.

use chrono::{DateTime, Utc};
use entity::ranking;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, SqlErr};
use serde::{Deserialize, Serialize};

use super::Services;
use super::access::{Role, Viewer};
use super::grid::path_is_within;
use super::stats::{self, Counters, GroupBy, GroupKey, Period};
use crate::config::EvaluationConfig;
use crate::error::{AppError, Msg};

/// One ranked unit (a region or an inspector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 1 for the best score; equal scores share a rank (1, 2, 2, 4). `None` when the
    /// unit had no data to score.
    pub rank: Option<u32>,
    /// The composite score, 0–100.
    pub score: Option<f64>,
    /// Who or what.
    pub key: GroupKey,
    /// Its name when published.
    pub label: String,
    /// The month's counters.
    pub counters: Counters,
}

/// What a published ranking holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The weights the scores were computed with.
    pub weights: [f64; 4],
    /// The whole region.
    pub total: Counters,
    /// Per child region, best first.
    pub regions: Vec<Entry>,
    /// Per inspector (assignee), best first.
    pub inspectors: Vec<Entry>,
}

/// A published ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Row id.
    pub id: i64,
    /// The region ranked.
    pub region_id: i64,
    /// `YYYY-MM`.
    pub month: String,
    /// When it was published.
    pub published_at: DateTime<Utc>,
    /// Who published it.
    pub published_by: i64,
    /// The frozen figures.
    pub snapshot: Snapshot,
}

impl TryFrom<ranking::Model> for Ranking {
    type Error = AppError;
    fn try_from(m: ranking::Model) -> Result<Self, AppError> {
        Ok(Self {
            id: m.id,
            region_id: m.region_id,
            month: m.month,
            published_at: m.published_at,
            published_by: m.published_by,
            snapshot: serde_json::from_str(&m.body)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("ranking {}: {e}", m.id)))?,
        })
    }
}

/// Ranks rows by score, best first; equal scores share a rank; no score, no rank.
fn rank(rows: Vec<stats::StatsRow>, w: &EvaluationConfig) -> Vec<Entry> {
    let mut entries: Vec<Entry> = rows
        .into_iter()
        .map(|r| Entry {
            rank: None,
            score: r.counters.score(w),
            key: r.key,
            label: r.label,
            counters: r.counters,
        })
        .collect();
    entries.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => y.total_cmp(&x).then_with(|| a.label.cmp(&b.label)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.label.cmp(&b.label),
    });
    let mut last: Option<(f64, u32)> = None;
    for (i, e) in entries.iter_mut().enumerate() {
        let Some(score) = e.score else { break };
        let place = match last {
            Some((s, r)) if s == score => r,
            _ => u32::try_from(i + 1).unwrap_or(u32::MAX),
        };
        e.rank = Some(place);
        last = Some((score, place));
    }
    entries
}

fn already() -> AppError {
    AppError::Conflict(Msg::new(
        "该区域本月排名已发布，不能重复发布",
        "this region's ranking for the month is already published",
    ))
}

/// Publishes the ranking of `region_id` for `month` (`YYYY-MM`, over): county staff only.
pub async fn publish(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    month: &str,
) -> Result<Ranking, AppError> {
    let staff = viewer.staff_with(&[Role::CountyAdmin])?;
    let period = Period::month(month)?;
    let grid = svc.grid.snapshot();
    let region = staff.narrowing_region(&grid, region_id)?;
    if !path_is_within(&region.path, &staff.region_path) {
        return Err(AppError::not_found("区域", "region"));
    }
    let now = svc.clock.now();
    if period.end() > now {
        return Err(AppError::bad_input(
            "MONTH_NOT_OVER",
            Msg::new(
                "当月结束后才能发布排名",
                "a month's ranking is published once the month is over",
            ),
        )
        .at("month"));
    }
    let exists = ranking::Entity::find()
        .filter(ranking::Column::RegionId.eq(region_id))
        .filter(ranking::Column::Month.eq(month))
        .one(&svc.db)
        .await?;
    if exists.is_some() {
        return Err(already());
    }
    let w = &svc.config.evaluation;
    let by_region = stats::compute(svc, viewer, region_id, period, GroupBy::Region).await?;
    let by_inspector = stats::compute(svc, viewer, region_id, period, GroupBy::Inspector).await?;
    let snapshot = Snapshot {
        weights: [
            w.on_time_handle_weight,
            w.close_weight,
            w.satisfaction_weight,
            w.no_rework_weight,
        ],
        total: by_region.total,
        regions: rank(by_region.rows, w),
        inspectors: rank(
            by_inspector
                .rows
                .into_iter()
                .filter(|r| r.key != GroupKey::Inspector(None))
                .collect(),
            w,
        ),
    };
    let body =
        serde_json::to_string(&snapshot).map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    let row = ranking::ActiveModel {
        region_id: Set(region_id),
        month: Set(month.to_owned()),
        published_at: Set(now),
        published_by: Set(staff.user_id),
        body: Set(body),
        ..Default::default()
    };
    let id = super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| {
            Box::pin(async move {
                match row.insert(txn).await {
                    Ok(m) => Ok(m.id),
                    // Another process published the same month first.
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                        Err(already())
                    }
                    Err(e) => Err(e.into()),
                }
            })
        }),
    )
    .await?;
    Ok(Ranking {
        id,
        region_id,
        month: month.to_owned(),
        published_at: now,
        published_by: staff.user_id,
        snapshot,
    })
}

/// The published ranking of `region_id` for `month`, if any: staff whose scope meets the
/// region read it whole (rankings are published to every township).
pub async fn get(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    month: &str,
) -> Result<Option<Ranking>, AppError> {
    let staff = viewer.staff()?;
    Period::month(month)?;
    staff.narrowing_region(&svc.grid.snapshot(), region_id)?;
    ranking::Entity::find()
        .filter(ranking::Column::RegionId.eq(region_id))
        .filter(ranking::Column::Month.eq(month))
        .one(&svc.db)
        .await?
        .map(Ranking::try_from)
        .transpose()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(label: &str, on_time: i64) -> stats::StatsRow {
        stats::StatsRow {
            key: GroupKey::Region(Some(on_time)),
            label: label.to_owned(),
            counters: Counters {
                due_to_handle: if on_time < 0 { 0 } else { 4 },
                handled_on_time: on_time.max(0),
                ..Counters::default()
            },
        }
    }

    #[test]
    fn equal_scores_share_a_rank_and_no_data_is_unranked() {
        let w = EvaluationConfig {
            on_time_handle_weight: 1.0,
            close_weight: 0.0,
            satisfaction_weight: 0.0,
            no_rework_weight: 0.0,
        };
        let ranked = rank(
            vec![
                row("甲", 2),
                row("乙", 4),
                row("丙", -1),
                row("丁", 2),
                row("戊", 1),
            ],
            &w,
        );
        let got: Vec<(&str, Option<u32>)> =
            ranked.iter().map(|e| (e.label.as_str(), e.rank)).collect();
        assert_eq!(
            got,
            vec![
                ("乙", Some(1)),
                ("丁", Some(2)),
                ("甲", Some(2)),
                ("戊", Some(4)),
                ("丙", None)
            ]
        );
    }
}
