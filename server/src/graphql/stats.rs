//! Evaluation over GraphQL: `stats`, `rankings`, `publishRanking` — thin resolvers over
//! `domain::stats` and `domain::rankings`. Every formula is documented there and in the
//! README ("Indicators").

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use super::grid::Region;
use super::{parse_id, state, viewer};
use crate::domain::rankings::{self, Entry};
use crate::domain::stats::{self as dom, Counters, GroupKey, Period};
use crate::error::AppError;

/// How `stats` breaks the figures down.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "crate::domain::stats::GroupBy")]
pub enum StatsGroupBy {
    /// By the region's children (the townships of a county, the grids of a township).
    Region,
    /// By the case's assignee.
    Inspector,
    /// By category.
    Category,
    /// By local day of each counter's own timestamp.
    Day,
}

/// The GB/T 30428 family of indicators of one group. Counts are cases; ratios are
/// 0–1, `null` when their denominator is zero (no data).
pub struct Indicators(pub Counters);

#[Object]
impl Indicators {
    /// 上报数: tip-offs and patrol findings created in the period.
    async fn reports(&self) -> i64 {
        self.0.reports
    }
    /// 有效上报数: reports not rejected as INVALID or DUPLICATE.
    async fn valid_reports(&self) -> i64 {
        self.0.valid_reports
    }
    /// 有效上报率 = validReports / reports.
    async fn valid_report_rate(&self) -> Option<f64> {
        self.0.valid_report_rate()
    }
    /// 应处置数: filed cases first submitted in the period, or due in it and not submitted.
    async fn due_to_handle(&self) -> i64 {
        self.0.due_to_handle
    }
    /// 处置数: of those, first submitted in the period.
    async fn handled(&self) -> i64 {
        self.0.handled
    }
    /// 按期处置数: first submitted no later than the deadline.
    async fn handled_on_time(&self) -> i64 {
        self.0.handled_on_time
    }
    /// 处置率 = handled / dueToHandle.
    async fn handle_rate(&self) -> Option<f64> {
        self.0.handle_rate()
    }
    /// 按期处置率 = handledOnTime / dueToHandle.
    async fn on_time_handle_rate(&self) -> Option<f64> {
        self.0.on_time_handle_rate()
    }
    /// 返工数: handled cases returned at least once.
    async fn reworked(&self) -> i64 {
        self.0.reworked
    }
    /// 返工次数: returns of the handled cases.
    async fn returns(&self) -> i64 {
        self.0.returns
    }
    /// 返工率 = reworked / handled.
    async fn rework_rate(&self) -> Option<f64> {
        self.0.rework_rate()
    }
    /// 平均处置时长: working hours from filing to first submission, per handled case.
    async fn average_handling_hours(&self) -> Option<f64> {
        self.0.average_handling_hours()
    }
    /// 应结案数: closed in the period, or due in it and still open.
    async fn due_to_close(&self) -> i64 {
        self.0.due_to_close
    }
    /// 结案数.
    async fn closed(&self) -> i64 {
        self.0.closed
    }
    /// 按期结案数: closed no later than the deadline.
    async fn closed_on_time(&self) -> i64 {
        self.0.closed_on_time
    }
    /// 结案率 = closed / dueToClose.
    async fn close_rate(&self) -> Option<f64> {
        self.0.close_rate()
    }
    /// 按期结案率 = closedOnTime / dueToClose.
    async fn on_time_close_rate(&self) -> Option<f64> {
        self.0.on_time_close_rate()
    }
    /// Tip-offs closed in the period (the base of rating coverage).
    async fn closed_tips(&self) -> i64 {
        self.0.closed_tips
    }
    /// Cases closed in the period that the tipster rated.
    async fn rated(&self) -> i64 {
        self.0.rated
    }
    /// Of those, rated 4 or 5.
    async fn satisfied(&self) -> i64 {
        self.0.satisfied
    }
    /// 公众满意度 = satisfied / rated (the plan's target: ≥ 0.8).
    async fn satisfaction(&self) -> Option<f64> {
        self.0.satisfaction()
    }
    /// 评价覆盖率 = rated / closedTips.
    async fn rating_coverage(&self) -> Option<f64> {
        self.0.rating_coverage()
    }
    /// Open cases past their deadline and not parked, now.
    async fn overdue_now(&self) -> i64 {
        self.0.overdue_now
    }
    /// 挂账: parked open cases, now.
    async fn parked_now(&self) -> i64 {
        self.0.parked_now
    }
    /// Escalations in the period (automatic ones included).
    async fn escalations(&self) -> i64 {
        self.0.escalations
    }
    /// 延期: extensions granted in the period.
    async fn extensions(&self) -> i64 {
        self.0.extensions
    }
}

/// Who or what a row is about.
#[derive(SimpleObject)]
pub struct GroupRef {
    /// A person's name for it: region, inspector or category name, or the date.
    label: String,
    /// The child region (`REGION`; null for cases placed on the region itself).
    region_id: Option<ID>,
    /// The assignee (`INSPECTOR`; null for unassigned cases).
    inspector_id: Option<ID>,
    /// The category (`CATEGORY`).
    category_id: Option<ID>,
    /// The local day (`DAY`).
    day: Option<NaiveDate>,
}

impl GroupRef {
    fn new(key: &GroupKey, label: &str) -> Self {
        let mut g = GroupRef {
            label: label.to_owned(),
            region_id: None,
            inspector_id: None,
            category_id: None,
            day: None,
        };
        let id = |v: &i64| ID(v.to_string());
        match key {
            GroupKey::Region(r) => g.region_id = r.as_ref().map(id),
            GroupKey::Inspector(u) => g.inspector_id = u.as_ref().map(id),
            GroupKey::Category(c) => g.category_id = Some(id(c)),
            GroupKey::Day(d) => g.day = Some(*d),
        }
        g
    }
}

/// One row of a `stats` breakdown.
pub struct StatsRow(dom::StatsRow);

#[Object]
impl StatsRow {
    /// What the row is about.
    async fn group(&self) -> GroupRef {
        GroupRef::new(&self.0.key, &self.0.label)
    }
    /// Its indicators.
    async fn indicators(&self) -> Indicators {
        Indicators(self.0.counters)
    }
}

/// The indicators of a region and period.
pub struct Stats(dom::Stats);

#[Object]
impl Stats {
    /// The region counted.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// First day (Asia/Shanghai), included.
    async fn from(&self) -> NaiveDate {
        self.0.from
    }
    /// Last day (Asia/Shanghai), included.
    async fn to(&self) -> NaiveDate {
        self.0.to
    }
    /// The breakdown.
    async fn group_by(&self) -> StatsGroupBy {
        self.0.group_by.into()
    }
    /// All groups together.
    async fn total(&self) -> Indicators {
        Indicators(self.0.total)
    }
    /// One row per group: every child region for `REGION`; groups with figures otherwise.
    async fn rows(&self) -> Vec<StatsRow> {
        self.0.rows.iter().cloned().map(StatsRow).collect()
    }
    /// When the figures were counted.
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
}

/// One ranked region or inspector of a published ranking.
pub struct RankingEntry(Entry);

#[Object]
impl RankingEntry {
    /// 1 for the best score; equal scores share a rank. Null without data to score.
    async fn rank(&self) -> Option<u32> {
        self.0.rank
    }
    /// 综合指标值, 0–100: the configured weighted mean of 按期处置率, 结案率, 公众满意度
    /// and 1 − 返工率 (ratios without data drop out).
    async fn score(&self) -> Option<f64> {
        self.0.score
    }
    /// Who or what.
    async fn group(&self) -> GroupRef {
        GroupRef::new(&self.0.key, &self.0.label)
    }
    /// The month's indicators as published.
    async fn indicators(&self) -> Indicators {
        Indicators(self.0.counters)
    }
}

/// A published monthly ranking (考核排名): frozen, never recomputed.
pub struct Ranking(rankings::Ranking);

#[Object]
impl Ranking {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The region ranked.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// `YYYY-MM`.
    async fn month(&self) -> &str {
        &self.0.month
    }
    /// When it was published.
    async fn published_at(&self) -> DateTime<Utc> {
        self.0.published_at
    }
    /// The score weights: 按期处置率, 结案率, 公众满意度, 1 − 返工率.
    async fn weights(&self) -> Vec<f64> {
        self.0.snapshot.weights.to_vec()
    }
    /// The whole region's indicators for the month.
    async fn total(&self) -> Indicators {
        Indicators(self.0.snapshot.total)
    }
    /// The child regions, best first.
    async fn regions(&self) -> Vec<RankingEntry> {
        self.0
            .snapshot
            .regions
            .iter()
            .cloned()
            .map(RankingEntry)
            .collect()
    }
    /// The inspectors (by assignee), best first.
    async fn inspectors(&self) -> Vec<RankingEntry> {
        self.0
            .snapshot
            .inspectors
            .iter()
            .cloned()
            .map(RankingEntry)
            .collect()
    }
}

/// Evaluation queries.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// The indicators of a region over local days `from`–`to` (both included, at most
    /// 400 days), broken down by `groupBy` (default `REGION`). Staff only, scoped like
    /// `cases`: a region outside the viewer's scope is `NOT_FOUND`.
    async fn stats(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
        from: NaiveDate,
        to: NaiveDate,
        group_by: Option<StatsGroupBy>,
        #[graphql(
            desc = "Count only the cases that came in under this campaign (专项行动): with `DAY`, the campaign's daily report; with `REGION`, per township."
        )]
        campaign_id: Option<ID>,
    ) -> Result<Stats, AppError> {
        let region_id = parse_id(&region_id).map_err(|e| e.at("regionId"))?;
        let campaign_id = campaign_id
            .as_ref()
            .map(parse_id)
            .transpose()
            .map_err(|e| e.at("campaignId"))?;
        let period = Period::new(from, to)?;
        let group_by = group_by.unwrap_or(StatsGroupBy::Region).into();
        Ok(Stats(
            dom::compute_for(
                &state(ctx)?.services,
                viewer(ctx)?,
                region_id,
                period,
                group_by,
                campaign_id,
            )
            .await?,
        ))
    }

    /// The published ranking of a region for a month (`YYYY-MM`), null until published.
    async fn rankings(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
        month: String,
    ) -> Result<Option<Ranking>, AppError> {
        let region_id = parse_id(&region_id).map_err(|e| e.at("regionId"))?;
        Ok(
            rankings::get(&state(ctx)?.services, viewer(ctx)?, region_id, &month)
                .await?
                .map(Ranking),
        )
    }
}

/// Evaluation mutations.
#[derive(Default)]
pub struct StatsMutation;

#[Object]
impl StatsMutation {
    /// Publishes (freezes) a region's ranking for a month that is over: county staff
    /// only; a month is published once (`CONFLICT` after).
    async fn publish_ranking(
        &self,
        ctx: &Context<'_>,
        month: String,
        region_id: ID,
    ) -> Result<Ranking, AppError> {
        let region_id = parse_id(&region_id).map_err(|e| e.at("regionId"))?;
        Ok(Ranking(
            rankings::publish(&state(ctx)?.services, viewer(ctx)?, region_id, &month).await?,
        ))
    }
}
