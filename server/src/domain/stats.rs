//! Evaluation indicators (the GB/T 30428 family) of a region and period.
//!
//! Every figure is counted in the database by a handful of aggregate statements
//! (never by loading cases), per group: the region's child regions, the assignee,
//! the category, or the local day. The definitions below are the ones the README's
//! "Indicators" section repeats for a county statistician.
//!
//! # Period
//! A period is a range of calendar days in Asia/Shanghai, both ends included:
//! `from 00:00` (inclusive) to the day after `to`, `00:00` (exclusive). A case
//! belongs to the period of the timestamp a counter names — never of its creation
//! unless the counter says so — so one case can count in different periods for
//! different counters (reported in March, handled in April).
//!
//! # Counters
//! Only cases in the viewer's scope and in the region's subtree count — and, for a
//! campaign report (`campaignId`), only those that came in under the campaign
//! (`case.campaign_id`, one extra condition shared by every statement). Rejected
//! cases (`REJECTED`, merges included) count only as reports. "Filed" means
//! `accepted_at` is set (立案: a tip-off filed by a supervisor, every staff case).
//!
//! - **上报数 `reports`**: cases from a report — tip-offs (`TIP`, `OPEN311`) and
//!   inspectors' patrol findings (`PATROL`) — *created* in the period. Tasks and
//!   random inspections are assignments, not reports.
//! - **有效上报数 `validReports`**: of those, all but the ones rejected as `INVALID`
//!   or `DUPLICATE` (merged cases are duplicates). `OUT_OF_SCOPE` reports were real
//!   problems outside our remit and stay valid.
//! - **应处置数 `dueToHandle`**: filed, not rejected cases whose *handling moment*
//!   falls in the period: the first submission (`first_submitted_at`, kept across
//!   rework) when there is one, otherwise the handling deadline (`due_at`) once it has
//!   passed. A case not submitted and not yet due is in no period yet.
//! - **处置数 `handled`**: of those, the ones first submitted in the period.
//! - **按期处置数 `handledOnTime`**: first submitted no later than `due_at` (which
//!   already has extensions applied and parked time added); a case without a deadline
//!   is on time.
//! - **返工数 `reworked` / 返工次数 `returns`**: handled cases returned at least once /
//!   the number of returns.
//! - **处置时长 `handlingHours`**: working hours (office hours on working days of the
//!   work calendar, holidays and make-up days included) from filing to first
//!   submission, summed over the handled cases. Parked time is not subtracted.
//! - **应结案数 `dueToClose`**: filed, not rejected cases closed in the period, plus
//!   open ones whose deadline fell in the period and has passed.
//! - **结案数 `closed` / 按期结案数 `closedOnTime`**: of those, closed in the period /
//!   closed no later than `due_at` (gridwatch has one deadline per case: verification
//!   must also happen within it).
//! - **评价数 `rated` / 满意数 `satisfied`**: cases closed in the period that the
//!   tipster rated / rated 4 or 5. **办结举报数 `closedTips`**: closed tip-offs, the
//!   base of rating coverage.
//! - **超期 `overdueNow` / 挂账 `parkedNow`**: open cases past their deadline and not
//!   parked / parked, *now* (not of the period).
//! - **上报升级 `escalations` / 延期 `extensions`**: escalation and extension events in
//!   the period (the sweeper's automatic escalations included).
//!
//! # Ratios (no data — a zero denominator — is `null`, never 0 % or 100 %)
//! 结案率 = closed / dueToClose; 按期结案率 = closedOnTime / dueToClose; 处置率 =
//! handled / dueToHandle; 按期处置率 = handledOnTime / dueToHandle; 返工率 = reworked /
//! handled; 有效上报率 = validReports / reports; 平均处置时长 = handlingHours / handled;
//! 公众满意度 = satisfied / rated; 评价覆盖率 = rated / closedTips.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryResult, Statement,
    Value,
};
use serde::{Deserialize, Serialize};

use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::grid::RegionNode;
use super::sla::{self, WorkCalendar};
use crate::error::{AppError, Msg};

/// The longest period `stats` counts over, in days.
pub const MAX_PERIOD_DAYS: i64 = 400;

/// The most rows a breakdown may have (a region with more inspectors is counted per
/// child region instead).
pub const MAX_ROWS: usize = 1000;

/// How the figures are broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupBy {
    /// By the region's children (townships of a county, village grids of a township).
    Region,
    /// By the case's assignee.
    Inspector,
    /// By category.
    Category,
    /// By local day of each counter's own timestamp.
    Day,
}

/// A period of local (Asia/Shanghai) calendar days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Period {
    /// A checked period: `from` not after `to`, at most [`MAX_PERIOD_DAYS`] days.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, AppError> {
        if to < from {
            return Err(AppError::bad_input(
                "INVALID_PERIOD",
                Msg::new("结束日期不能早于开始日期", "`to` must not be before `from`"),
            )
            .at("to"));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(AppError::bad_input(
                "PERIOD_TOO_LONG",
                Msg::new(
                    format!("统计区间最长 {MAX_PERIOD_DAYS} 天"),
                    format!("a period spans at most {MAX_PERIOD_DAYS} days"),
                ),
            )
            .at("to"));
        }
        Ok(Self { from, to })
    }

    /// A calendar month, `YYYY-MM`.
    pub fn month(month: &str) -> Result<Self, AppError> {
        let bad = || {
            AppError::bad_input(
                "INVALID_MONTH",
                Msg::new("月份格式应为 YYYY-MM", "a month is written YYYY-MM"),
            )
            .at("month")
        };
        let from =
            NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        if month.len() != 7 {
            return Err(bad());
        }
        let next = from
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        Ok(Self {
            from,
            to: next.pred_opt().ok_or_else(bad)?,
        })
    }

    /// The first instant of the period.
    pub fn start(&self) -> DateTime<Utc> {
        sla::to_utc(self.from.and_time(NaiveTime::MIN))
    }

    /// The first instant after the period.
    pub fn end(&self) -> DateTime<Utc> {
        sla::to_utc(self.to.and_time(NaiveTime::MIN)) + Duration::days(1)
    }
}

/// The counters of one group; ratios follow from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub reports: i64,
    pub valid_reports: i64,
    pub due_to_handle: i64,
    pub handled: i64,
    pub handled_on_time: i64,
    pub reworked: i64,
    pub returns: i64,
    /// Working seconds from filing to first submission, summed over `handled`.
    pub handling_seconds: i64,
    pub due_to_close: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub closed_tips: i64,
    pub rated: i64,
    pub satisfied: i64,
    pub overdue_now: i64,
    pub parked_now: i64,
    pub escalations: i64,
    pub extensions: i64,
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.reports += o.reports;
        self.valid_reports += o.valid_reports;
        self.due_to_handle += o.due_to_handle;
        self.handled += o.handled;
        self.handled_on_time += o.handled_on_time;
        self.reworked += o.reworked;
        self.returns += o.returns;
        self.handling_seconds += o.handling_seconds;
        self.due_to_close += o.due_to_close;
        self.closed += o.closed;
        self.closed_on_time += o.closed_on_time;
        self.closed_tips += o.closed_tips;
        self.rated += o.rated;
        self.satisfied += o.satisfied;
        self.overdue_now += o.overdue_now;
        self.parked_now += o.parked_now;
        self.escalations += o.escalations;
        self.extensions += o.extensions;
    }

    /// 结案率.
    pub fn close_rate(&self) -> Option<f64> {
        ratio(self.closed, self.due_to_close)
    }
    /// 按期结案率.
    pub fn on_time_close_rate(&self) -> Option<f64> {
        ratio(self.closed_on_time, self.due_to_close)
    }
    /// 处置率.
    pub fn handle_rate(&self) -> Option<f64> {
        ratio(self.handled, self.due_to_handle)
    }
    /// 按期处置率.
    pub fn on_time_handle_rate(&self) -> Option<f64> {
        ratio(self.handled_on_time, self.due_to_handle)
    }
    /// 返工率.
    pub fn rework_rate(&self) -> Option<f64> {
        ratio(self.reworked, self.handled)
    }
    /// 有效上报率.
    pub fn valid_report_rate(&self) -> Option<f64> {
        ratio(self.valid_reports, self.reports)
    }
    /// 平均处置时长, in working hours.
    pub fn average_handling_hours(&self) -> Option<f64> {
        (self.handled > 0).then(|| self.handling_seconds as f64 / 3600.0 / self.handled as f64)
    }
    /// 公众满意度.
    pub fn satisfaction(&self) -> Option<f64> {
        ratio(self.satisfied, self.rated)
    }
    /// 评价覆盖率.
    pub fn rating_coverage(&self) -> Option<f64> {
        ratio(self.rated, self.closed_tips)
    }

    /// 综合指标值: the configured weighted mean of 按期处置率, 结案率, 公众满意度 and
    /// 1 − 返工率, on a 0–100 scale; ratios without data drop out and the other weights
    /// are rescaled. `None` when no ratio has data.
    pub fn score(&self, w: &crate::config::EvaluationConfig) -> Option<f64> {
        let parts = [
            (self.on_time_handle_rate(), w.on_time_handle_weight),
            (self.close_rate(), w.close_weight),
            (self.satisfaction(), w.satisfaction_weight),
            (self.rework_rate().map(|r| 1.0 - r), w.no_rework_weight),
        ];
        let (mut sum, mut weight) = (0.0, 0.0);
        for (value, wt) in parts {
            if let Some(v) = value
                && wt > 0.0
            {
                sum += v * wt;
                weight += wt;
            }
        }
        (weight > 0.0).then(|| (sum / weight * 100.0 * 100.0).round() / 100.0)
    }
}

/// What one row of the breakdown is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id")]
pub enum GroupKey {
    /// A child region; `None` for cases placed on the region itself.
    Region(Option<i64>),
    /// An assignee; `None` for unassigned cases.
    Inspector(Option<i64>),
    /// A category.
    Category(i64),
    /// A local day.
    Day(NaiveDate),
}

/// One row of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsRow {
    /// What the row is about.
    pub key: GroupKey,
    /// Its name for a person (region, inspector or category name, or the date).
    pub label: String,
    /// The counters.
    pub counters: Counters,
}

/// The indicators of a region and period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The region.
    pub region_id: i64,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The breakdown.
    pub group_by: GroupBy,
    /// All groups together (for `DAY`, the `now` counters appear only here).
    pub total: Counters,
    /// One row per group.
    pub rows: Vec<StatsRow>,
    /// When the figures were counted.
    pub computed_at: DateTime<Utc>,
}

/// Counts the indicators of `region_id` over `period`, broken down by `group_by`.
pub async fn compute(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    period: Period,
    group_by: GroupBy,
) -> Result<Stats, AppError> {
    compute_for(svc, viewer, region_id, period, group_by, None).await
}

/// [`compute`], counting only the cases that came in under campaign `campaign_id`
/// when given (a campaign report: `DAY` gives it per day, `REGION` per township). A
/// campaign the viewer does not reach is `NOT_FOUND`.
pub async fn compute_for(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    period: Period,
    group_by: GroupBy,
    campaign_id: Option<i64>,
) -> Result<Stats, AppError> {
    let staff = viewer.staff()?;
    let grid = svc.grid.snapshot();
    let region = staff.narrowing_region(&grid, region_id)?;
    if let Some(id) = campaign_id {
        super::campaigns::reachable(&svc.db, staff, id)
            .await
            .map_err(|e| e.at("campaignId"))?;
    }
    let now = svc.clock.now();
    let counts = count(&svc.db, staff, region, period, group_by, now, campaign_id).await?;
    let mut total = Counters::default();
    for c in counts.values() {
        total.add(c);
    }
    if counts.len() > MAX_ROWS {
        return Err(AppError::bad_input(
            "TOO_MANY_GROUPS",
            Msg::new(
                format!("分组超过 {MAX_ROWS} 个，请缩小区域"),
                format!("more than {MAX_ROWS} groups: choose a smaller region"),
            ),
        )
        .at("groupBy"));
    }
    let rows = label(svc, region, &grid, group_by, counts).await?;
    Ok(Stats {
        region_id,
        from: period.from,
        to: period.to,
        group_by,
        total,
        rows,
        computed_at: now,
    })
}

/// Builds one statement's SQL with numbered parameters (`$n`, which both PostgreSQL
/// and SQLite accept).
struct Sql {
    pg: bool,
    values: Vec<Value>,
    /// Only the cases that came in under this campaign (`stats(campaignId:)`).
    campaign: Option<i64>,
}

impl Sql {
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }

    /// The local (Asia/Shanghai) day of a timestamp expression, as a day number (days
    /// since 1970-01-01), in integer arithmetic (cheaper than date formatting per row).
    fn local_day(&self, ts: &str) -> String {
        format!("(({}) + {LOCAL_OFFSET}) / 86400", self.epoch(ts))
    }

    /// Seconds since the epoch of a timestamp expression.
    fn epoch(&self, ts: &str) -> String {
        if self.pg {
            format!("CAST(floor(extract(epoch FROM {ts})) AS BIGINT)")
        } else {
            format!("CAST(strftime('%s', {ts}) AS INTEGER)")
        }
    }

    fn greatest(&self) -> &'static str {
        if self.pg { "GREATEST" } else { "max" }
    }

    fn least(&self) -> &'static str {
        if self.pg { "LEAST" } else { "min" }
    }

    /// The case conditions every statement shares: the viewer's scope and the region.
    fn scope(&mut self, staff: &StaffViewer, region: &RegionNode) -> String {
        let own = match staff.role {
            Role::CountyAdmin | Role::TownshipSupervisor => {
                let (a, b) = (
                    self.bind(staff.region_path.clone()),
                    self.bind(format!("{}/%", staff.region_path)),
                );
                format!("(c.region_path = {a} OR c.region_path LIKE {b})")
            }
            Role::Inspector | Role::Public => {
                // `cases::visible_to`: own grid, assigned, or on the case's team.
                let (a, b) = (self.bind(staff.region_id), self.bind(staff.user_id));
                format!(
                    "(c.region_id = {a} OR c.assignee_id = {b} OR EXISTS \
                     (SELECT 1 FROM case_team ct WHERE ct.case_id = c.id AND ct.user_id = {b}))"
                )
            }
        };
        let (a, b) = (
            self.bind(region.path.clone()),
            self.bind(format!("{}/%", region.path)),
        );
        let campaign = match self.campaign {
            Some(id) => format!(" AND c.campaign_id = {}", self.bind(id)),
            None => String::new(),
        };
        format!("{own} AND (c.region_path = {a} OR c.region_path LIKE {b}){campaign}")
    }

    /// The group key of a case (as text), `ts` being the counter's timestamp.
    fn key(&self, group_by: GroupBy, region: &RegionNode, ts: &str) -> String {
        match group_by {
            GroupBy::Region => {
                // The path segment after the region's own path: the child's code.
                let start = region.path.len() + 2;
                let rest = format!("substr(c.region_path, {start})");
                if self.pg {
                    format!("split_part({rest}, '/', 1)")
                } else {
                    format!(
                        "CASE WHEN instr({rest}, '/') > 0 \
                         THEN substr({rest}, 1, instr({rest}, '/') - 1) ELSE {rest} END"
                    )
                }
            }
            GroupBy::Inspector => "COALESCE(CAST(c.assignee_id AS TEXT), '')".to_owned(),
            GroupBy::Category => "CAST(c.category_id AS TEXT)".to_owned(),
            GroupBy::Day => format!("CAST({} AS TEXT)", self.local_day(ts)),
        }
    }

    fn statement(self, sql: String) -> Statement {
        let backend = if self.pg {
            DbBackend::Postgres
        } else {
            DbBackend::Sqlite
        };
        Statement::from_sql_and_values(backend, sql, self.values)
    }
}

const OPEN: &str = "('PENDING', 'ASSIGNED', 'IN_PROGRESS', 'SUBMITTED')";
const REPORTS: &str = "('TIP', 'OPEN311', 'PATROL')";
const TIPS: &str = "('TIP', 'OPEN311')";

fn get(row: &QueryResult, col: &str) -> Result<i64, AppError> {
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

/// Runs the aggregate statements; counters by group key (text as the SQL gives it).
async fn count<C: ConnectionTrait>(
    db: &C,
    staff: &StaffViewer,
    region: &RegionNode,
    period: Period,
    group_by: GroupBy,
    now: DateTime<Utc>,
    campaign: Option<i64>,
) -> Result<BTreeMap<String, Counters>, AppError> {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    let new = || Sql {
        pg,
        values: Vec::new(),
        campaign,
    };
    let mut out: BTreeMap<String, Counters> = BTreeMap::new();

    // Reports, by creation.
    let mut q = new();
    let scope = q.scope(staff, region);
    let (s, e) = (q.bind(period.start()), q.bind(period.end()));
    let key = q.key(group_by, region, "c.created_at");
    let sql = format!(
        "SELECT {key} AS k, COUNT(*) AS reports, \
         SUM(CASE WHEN c.status = 'REJECTED' AND c.reject_reason IN ('INVALID', 'DUPLICATE') \
             THEN 0 ELSE 1 END) AS valid \
         FROM \"case\" c WHERE {scope} AND c.source IN {REPORTS} \
         AND c.created_at >= {s} AND c.created_at < {e} GROUP BY 1"
    );
    for row in db.query_all_raw(q.statement(sql)).await? {
        let c = out.entry(row.try_get("", "k")?).or_default();
        c.reports += get(&row, "reports")?;
        c.valid_reports += get(&row, "valid")?;
    }

    // Handling, by first submission (or the passed deadline), with working time from
    // filing to first submission on the work calendar.
    let calendar = WorkCalendar::load(db, sla::WorkingHours::default()).await?;
    let earliest = earliest_filing(db, staff, region, period).await?;
    let cal_from = earliest.map_or(period.from, |t| sla::to_local(t).date().min(period.from));
    let mut q = new();
    let scope = q.scope(staff, region);
    let (s, e, n) = (q.bind(period.start()), q.bind(period.end()), q.bind(now));
    let cal = q.bind(calendar_json(&calendar, cal_from, period.to)?);
    let key = q.key(group_by, region, "COALESCE(c.first_submitted_at, c.due_at)");
    // The calendar as a table of day numbers (an inline subquery, so PostgreSQL may scan
    // the cases in parallel; a CTE would not let it).
    let cal_table = if pg {
        format!(
            "(SELECT * FROM json_to_recordset(CAST({cal} AS json)) \
             AS x(n bigint, c bigint, s1 bigint, e1 bigint, s2 bigint, e2 bigint))"
        )
    } else {
        format!(
            "(SELECT json_extract(value, '$.n') AS n, json_extract(value, '$.c') AS c, \
             json_extract(value, '$.s1') AS s1, json_extract(value, '$.e1') AS e1, \
             json_extract(value, '$.s2') AS s2, json_extract(value, '$.e2') AS e2 \
             FROM json_each({cal}))"
        )
    };
    let (g, l) = (q.greatest(), q.least());
    // W(t): working seconds from the calendar's first day to epoch second `t`.
    let work = |alias: &str, t: &str| {
        format!(
            "({alias}.c + {g}(0, {l}({t}, {alias}.e1) - {alias}.s1) \
             + {g}(0, {l}({t}, {alias}.e2) - {alias}.s2))"
        )
    };
    let (w_end, w_start) = (work("ce", "c.te"), work("cs", "c.ta"));
    let (te, ta) = (q.epoch("c.first_submitted_at"), q.epoch("c.accepted_at"));
    // Each row's key and epochs are computed once, in the inner select.
    let sql = format!(
        "SELECT c.k AS k, COUNT(*) AS due, COUNT(c.te) AS handled, \
         SUM(CASE WHEN c.te IS NOT NULL AND (c.due_at IS NULL OR c.fs <= c.due_at) \
             THEN 1 ELSE 0 END) AS on_time, \
         SUM(CASE WHEN c.te IS NOT NULL AND c.rework_count > 0 THEN 1 ELSE 0 END) AS reworked, \
         SUM(CASE WHEN c.te IS NOT NULL THEN c.rework_count ELSE 0 END) AS returns, \
         CAST(SUM(CASE WHEN c.te IS NOT NULL THEN {w_end} - {w_start} ELSE 0 END) AS BIGINT) \
             AS secs \
         FROM (SELECT {key} AS k, c.first_submitted_at AS fs, c.due_at, c.rework_count, \
                 {te} AS te, {ta} AS ta \
               FROM \"case\" c \
               WHERE {scope} AND c.status <> 'REJECTED' AND c.accepted_at IS NOT NULL AND ( \
                 (c.first_submitted_at >= {s} AND c.first_submitted_at < {e}) \
                 OR (c.first_submitted_at IS NULL AND c.due_at >= {s} AND c.due_at < {e} \
                     AND c.due_at <= {n}))) c \
         LEFT JOIN {cal_table} ce ON ce.n = (c.te + {LOCAL_OFFSET}) / 86400 \
         LEFT JOIN {cal_table} cs ON cs.n = (c.ta + {LOCAL_OFFSET}) / 86400 \
         GROUP BY c.k"
    );
    for row in db.query_all_raw(q.statement(sql)).await? {
        let c = out.entry(row.try_get("", "k")?).or_default();
        c.due_to_handle += get(&row, "due")?;
        c.handled += get(&row, "handled")?;
        c.handled_on_time += get(&row, "on_time")?;
        c.reworked += get(&row, "reworked")?;
        c.returns += get(&row, "returns")?;
        c.handling_seconds += get(&row, "secs")?;
    }

    // Closing, by closure (or the passed deadline), with the ratings of closed cases.
    let mut q = new();
    let scope = q.scope(staff, region);
    let (s, e, n) = (q.bind(period.start()), q.bind(period.end()), q.bind(now));
    let key = q.key(
        group_by,
        region,
        "CASE WHEN c.status = 'CLOSED' THEN c.closed_at ELSE c.due_at END",
    );
    let closed = "c.status = 'CLOSED'";
    let sql = format!(
        "SELECT {key} AS k, COUNT(*) AS due, \
         SUM(CASE WHEN {closed} THEN 1 ELSE 0 END) AS closed, \
         SUM(CASE WHEN {closed} AND (c.due_at IS NULL OR c.closed_at <= c.due_at) \
             THEN 1 ELSE 0 END) AS on_time, \
         SUM(CASE WHEN {closed} AND c.source IN {TIPS} THEN 1 ELSE 0 END) AS tips, \
         SUM(CASE WHEN {closed} AND c.rating IS NOT NULL THEN 1 ELSE 0 END) AS rated, \
         SUM(CASE WHEN {closed} AND c.rating >= 4 THEN 1 ELSE 0 END) AS satisfied \
         FROM \"case\" c \
         WHERE {scope} AND c.status <> 'REJECTED' AND c.accepted_at IS NOT NULL AND ( \
           ({closed} AND c.closed_at >= {s} AND c.closed_at < {e}) \
           OR (c.status <> 'CLOSED' AND c.due_at >= {s} AND c.due_at < {e} \
               AND c.due_at <= {n})) \
         GROUP BY 1"
    );
    for row in db.query_all_raw(q.statement(sql)).await? {
        let c = out.entry(row.try_get("", "k")?).or_default();
        c.due_to_close += get(&row, "due")?;
        c.closed += get(&row, "closed")?;
        c.closed_on_time += get(&row, "on_time")?;
        c.closed_tips += get(&row, "tips")?;
        c.rated += get(&row, "rated")?;
        c.satisfied += get(&row, "satisfied")?;
    }

    // Now: overdue and parked open cases (not of the period; for DAY only in the total).
    let mut q = new();
    let scope = q.scope(staff, region);
    let n = q.bind(now);
    let key = match group_by {
        GroupBy::Day => "''".to_owned(),
        g => q.key(g, region, ""),
    };
    let sql = format!(
        "SELECT {key} AS k, \
         SUM(CASE WHEN c.parked_at IS NULL AND c.due_at < {n} THEN 1 ELSE 0 END) AS overdue, \
         SUM(CASE WHEN c.parked_at IS NOT NULL THEN 1 ELSE 0 END) AS parked \
         FROM \"case\" c WHERE {scope} AND c.status IN {OPEN} GROUP BY 1"
    );
    for row in db.query_all_raw(q.statement(sql)).await? {
        let (overdue, parked) = (get(&row, "overdue")?, get(&row, "parked")?);
        if overdue > 0 || parked > 0 {
            let c = out.entry(row.try_get("", "k")?).or_default();
            c.overdue_now += overdue;
            c.parked_now += parked;
        }
    }

    // Escalations and extensions, by the event's time.
    let mut q = new();
    let scope = q.scope(staff, region);
    let (s, e) = (q.bind(period.start()), q.bind(period.end()));
    let key = q.key(group_by, region, "ev.created_at");
    let sql = format!(
        "SELECT {key} AS k, \
         SUM(CASE WHEN ev.action = 'ESCALATE' THEN 1 ELSE 0 END) AS escalations, \
         SUM(CASE WHEN ev.action = 'EXTEND' THEN 1 ELSE 0 END) AS extensions \
         FROM case_event ev JOIN \"case\" c ON c.id = ev.case_id \
         WHERE {scope} AND ev.action IN ('ESCALATE', 'EXTEND') \
         AND ev.created_at >= {s} AND ev.created_at < {e} GROUP BY 1"
    );
    for row in db.query_all_raw(q.statement(sql)).await? {
        let c = out.entry(row.try_get("", "k")?).or_default();
        c.escalations += get(&row, "escalations")?;
        c.extensions += get(&row, "extensions")?;
    }
    Ok(out)
}

/// The earliest filing among the cases first submitted in the period: where the work
/// calendar handed to the handling statement must start.
async fn earliest_filing<C: ConnectionTrait>(
    db: &C,
    staff: &StaffViewer,
    region: &RegionNode,
    period: Period,
) -> Result<Option<DateTime<Utc>>, AppError> {
    // Every case of the scope: a wider calendar than a campaign's cases need is harmless.
    let mut q = Sql {
        pg: db.get_database_backend() == DbBackend::Postgres,
        values: Vec::new(),
        campaign: None,
    };
    let scope = q.scope(staff, region);
    let (s, e) = (q.bind(period.start()), q.bind(period.end()));
    let sql = format!(
        "SELECT MIN(c.accepted_at) AS t FROM \"case\" c WHERE {scope} \
         AND c.first_submitted_at >= {s} AND c.first_submitted_at < {e}"
    );
    match db.query_one_raw(q.statement(sql)).await? {
        Some(row) => Ok(row.try_get::<Option<DateTime<Utc>>>("", "t")?),
        None => Ok(None),
    }
}

/// Seconds added to UTC for Asia/Shanghai.
const LOCAL_OFFSET: i64 = 8 * 3600;

/// Days since 1970-01-01 of a date (the SQL's day numbers).
fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days()
}

/// The work calendar from `from` to `to` (local dates) as a JSON table for the
/// handling statement: per day, the working seconds before it (`c`, counted from
/// `from`) and its office sessions as epoch seconds (`s1`–`e2`; empty on days off).
/// Working time between two instants is then `W(b) − W(a)` with
/// `W(t) = c + clamp(t, s1, e1) − s1 + clamp(t, s2, e2) − s2`.
fn calendar_json(cal: &WorkCalendar, from: NaiveDate, to: NaiveDate) -> Result<String, AppError> {
    let days = (to - from).num_days().clamp(0, sla::MAX_SCAN_DAYS);
    let mut out = Vec::with_capacity(days as usize + 1);
    let mut cum: i64 = 0;
    for i in 0..=days {
        let day = from + Duration::days(i);
        let sessions = cal.sessions_utc(day);
        let mut s = [(0i64, 0i64); 2];
        for (slot, (open, close)) in s.iter_mut().zip(sessions.iter()) {
            *slot = (open.timestamp(), close.timestamp());
        }
        out.push(serde_json::json!({
            "n": day_number(day),
            "c": cum,
            "s1": s[0].0, "e1": s[0].1, "s2": s[1].0, "e2": s[1].1,
        }));
        cum += s.iter().map(|(a, b)| b - a).sum::<i64>();
    }
    serde_json::to_string(&out).map_err(|e| AppError::Internal(e.into()))
}

/// Names the groups and orders the rows.
async fn label(
    svc: &Services,
    region: &RegionNode,
    grid: &super::grid::GridSnapshot,
    group_by: GroupBy,
    counts: BTreeMap<String, Counters>,
) -> Result<Vec<StatsRow>, AppError> {
    let mut rows = Vec::new();
    match group_by {
        GroupBy::Region => {
            // Every child, with or without cases, then the region itself if it has any.
            let mut counts = counts;
            let mut children = grid.children_of(Some(region.id));
            children.sort_by(|a, b| a.code.cmp(&b.code));
            for child in children {
                let code = child.path.rsplit('/').next().unwrap_or(&child.code);
                rows.push(StatsRow {
                    key: GroupKey::Region(Some(child.id)),
                    label: child.name.clone(),
                    counters: counts.remove(code).unwrap_or_default(),
                });
            }
            let own: Counters = counts.into_values().fold(Counters::default(), |mut a, c| {
                a.add(&c);
                a
            });
            if own != Counters::default() {
                rows.push(StatsRow {
                    key: GroupKey::Region(None),
                    label: format!("{}（本级）", region.name),
                    counters: own,
                });
            }
        }
        GroupBy::Inspector => {
            let ids: Vec<i64> = counts.keys().filter_map(|k| k.parse().ok()).collect();
            let names: HashMap<i64, String> = entity::app_user::Entity::find()
                .filter(ColumnTrait::is_in(&entity::app_user::Column::Id, ids))
                .all(&svc.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect();
            for (k, c) in counts {
                let id = k.parse::<i64>().ok();
                let label = match id {
                    Some(id) => names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                    None => "未派发".to_owned(),
                };
                rows.push(StatsRow {
                    key: GroupKey::Inspector(id),
                    label,
                    counters: c,
                });
            }
            rows.sort_by(|a, b| {
                (a.key == GroupKey::Inspector(None), &a.label)
                    .cmp(&(b.key == GroupKey::Inspector(None), &b.label))
            });
        }
        GroupBy::Category => {
            let cats: HashMap<i64, (i32, String)> = entity::category::Entity::find()
                .all(&svc.db)
                .await?
                .into_iter()
                .map(|c| (c.id, (c.sort_order, c.name)))
                .collect();
            let mut keyed: Vec<_> = counts
                .into_iter()
                .filter_map(|(k, c)| k.parse::<i64>().ok().map(|id| (id, c)))
                .collect();
            keyed.sort_by_key(|(id, _)| cats.get(id).map_or((i32::MAX, *id), |(s, _)| (*s, *id)));
            for (id, c) in keyed {
                rows.push(StatsRow {
                    key: GroupKey::Category(id),
                    label: cats
                        .get(&id)
                        .map_or_else(|| id.to_string(), |(_, n)| n.clone()),
                    counters: c,
                });
            }
        }
        GroupBy::Day => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            for (k, c) in counts {
                if let Some(day) = k
                    .parse::<i64>()
                    .ok()
                    .and_then(|n| epoch.checked_add_signed(Duration::days(n)))
                {
                    rows.push(StatsRow {
                        key: GroupKey::Day(day),
                        label: format!("{}月{}日", day.month(), day.day()),
                        counters: c,
                    });
                }
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_local_days_both_ends_included() {
        let p = Period::new(
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        )
        .unwrap();
        assert_eq!(p.start().to_rfc3339(), "2026-09-30T16:00:00+00:00");
        assert_eq!(p.end().to_rfc3339(), "2026-10-31T16:00:00+00:00");
        assert_eq!(Period::month("2026-10").unwrap(), p);
        assert_eq!(Period::month("2026-02").unwrap().to.day(), 28);
        for bad in ["2026-13", "2026-1", "202610", "2026-10-01", ""] {
            assert!(Period::month(bad).is_err(), "{bad}");
        }
        let d = |m, dd| NaiveDate::from_ymd_opt(2026, m, dd).unwrap();
        assert!(Period::new(d(10, 2), d(10, 1)).is_err());
        assert!(Period::new(d(1, 1), d(12, 31)).is_ok());
    }

    #[test]
    fn ratios_without_data_are_none_and_the_score_rescales() {
        let w = crate::config::EvaluationConfig::default();
        let empty = Counters::default();
        assert_eq!(empty.close_rate(), None);
        assert_eq!(empty.score(&w), None);
        let c = Counters {
            due_to_handle: 4,
            handled: 4,
            handled_on_time: 3,
            due_to_close: 4,
            closed: 2,
            ..Counters::default()
        };
        // (0.75 × 40 + 0.5 × 30 + (1 − 0) × 10) / 80: satisfaction has no data.
        assert_eq!(c.score(&w), Some(68.75));
    }

    #[test]
    fn the_calendar_table_counts_working_seconds_before_each_day() {
        let cal = WorkCalendar::new(
            [(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), false)],
            sla::WorkingHours::default(),
        );
        let from = NaiveDate::from_ymd_opt(2026, 9, 30).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 10, 2).unwrap();
        let v: Vec<serde_json::Value> =
            serde_json::from_str(&calendar_json(&cal, from, to).unwrap()).unwrap();
        assert_eq!(v.len(), 3);
        // 08:30–12:00 and 14:30–17:30: 6.5 h on a working day, none on the holiday.
        assert_eq!(v[1]["c"], 23_400);
        assert_eq!(v[2]["c"], 23_400);
        assert_eq!(v[1]["s1"], 0);
        assert_eq!(v[0]["s1"], 1_790_728_200); // 2026-09-30 08:30 +08:00
    }
}
