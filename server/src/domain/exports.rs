//! Exports (导出) of cases and indicators, as tables a county office opens in Excel.
//!
//! The domain gives rows of cells; the HTTP layer writes them as CSV or XLSX. Cases are
//! read a page at a time ([`CaseExport::next_page`], keyset on id), so an export of a
//! county-year never holds more than one page of cases in memory. Times are
//! Asia/Shanghai wall-clock times; names are the ones people use (category, township,
//! village, status in Chinese).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::case;
use entity::enums::{CaseSource, CaseStatus, Priority};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Services;
use super::access::{StaffViewer, Viewer};
use super::grid::{GridSnapshot, RegionLevel, subtree};
use super::stats::{Counters, GroupBy, Period, Stats};
use crate::error::AppError;

/// Cases read per statement.
pub const PAGE: u64 = 1000;

/// One cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A ratio (0–1), shown as a percentage.
    Ratio(f64),
    /// A number of hours.
    Hours(f64),
    /// Nothing.
    Empty,
}

impl Cell {
    fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }

    fn opt_time(t: Option<DateTime<Utc>>) -> Self {
        t.map_or(Self::Empty, |t| Self::Text(local_time(t)))
    }

    fn ratio(r: Option<f64>) -> Self {
        r.map_or(Self::Empty, Self::Ratio)
    }

    /// The cell as CSV text: ratios as percentages with one decimal, hours with one.
    pub fn to_csv(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Ratio(r) => format!("{:.1}%", r * 100.0),
            Self::Hours(h) => format!("{h:.1}"),
            Self::Empty => String::new(),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in Asia/Shanghai.
pub fn local_time(t: DateTime<Utc>) -> String {
    super::sla::to_local(t)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The columns of the case export.
pub const CASE_HEADERS: [&str; 18] = [
    "案件编号",
    "来源",
    "类别",
    "乡镇",
    "村（网格）",
    "状态",
    "紧急程度",
    "标题",
    "上报时间",
    "受理时间",
    "处置期限",
    "首次提交时间",
    "结案时间",
    "按期处置",
    "返工次数",
    "群众评价",
    "处置人",
    "挂账",
];

fn source_name(s: CaseSource) -> &'static str {
    match s {
        CaseSource::Tip => "群众举报",
        CaseSource::Patrol => "巡查发现",
        CaseSource::Task => "交办任务",
        CaseSource::Random => "双随机抽查",
        CaseSource::Open311 => "Open311 举报",
    }
}

fn status_name(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Pending => "待受理",
        CaseStatus::Assigned => "已派发",
        CaseStatus::InProgress => "处置中",
        CaseStatus::Submitted => "待核查",
        CaseStatus::Closed => "已办结",
        CaseStatus::Rejected => "不予受理",
    }
}

fn priority_name(p: Priority) -> &'static str {
    match p {
        Priority::Urgent => "紧急",
        Priority::High => "较急",
        Priority::Normal => "一般",
    }
}

/// 按期处置: 是 when first submitted by the deadline (or without one), 否 when
/// submitted late or the deadline passed unsubmitted, empty while not yet due.
fn on_time(c: &case::Model, now: DateTime<Utc>) -> Cell {
    if c.status == CaseStatus::Rejected || c.accepted_at.is_none() {
        return Cell::Empty;
    }
    match (c.first_submitted_at, c.due_at) {
        (Some(_), None) => Cell::text("是"),
        (Some(s), Some(d)) => Cell::text(if s <= d { "是" } else { "否" }),
        (None, Some(d)) if d <= now => Cell::text("否"),
        _ => Cell::Empty,
    }
}

/// An export of the cases of a region created in a period, read page by page.
pub struct CaseExport {
    db: DatabaseConnection,
    grid: Arc<GridSnapshot>,
    staff: StaffViewer,
    region_path: String,
    period: Period,
    now: DateTime<Utc>,
    after: i64,
    done: bool,
    categories: HashMap<i64, String>,
    names: HashMap<i64, String>,
}

impl CaseExport {
    /// Checks the viewer's scope over the region (as `stats` does) and prepares the read.
    pub async fn open(
        svc: &Services,
        viewer: &Viewer,
        region_id: i64,
        period: Period,
    ) -> Result<Self, AppError> {
        let staff = viewer.staff()?.clone();
        let grid = svc.grid.snapshot();
        let region_path = staff.narrowing_region(&grid, region_id)?.path.clone();
        let categories = entity::category::Entity::find()
            .all(&svc.db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        Ok(Self {
            db: svc.db.clone(),
            grid,
            staff,
            region_path,
            period,
            now: svc.clock.now(),
            after: 0,
            done: false,
            categories,
            names: HashMap::new(),
        })
    }

    /// The next page of rows (each [`CASE_HEADERS`] long), `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let cases = case::Entity::find()
            .filter(super::cases::visible_to(&self.staff))
            .filter(subtree(case::Column::RegionPath, &self.region_path))
            .filter(case::Column::CreatedAt.gte(self.period.start()))
            .filter(case::Column::CreatedAt.lt(self.period.end()))
            .filter(case::Column::Id.gt(self.after))
            .order_by_asc(case::Column::Id)
            .limit(PAGE)
            .all(&self.db)
            .await?;
        if (cases.len() as u64) < PAGE {
            self.done = true;
        }
        let Some(last) = cases.last() else {
            return Ok(None);
        };
        self.after = last.id;
        let missing: Vec<i64> = cases
            .iter()
            .filter_map(|c| c.assignee_id)
            .filter(|id| !self.names.contains_key(id))
            .collect();
        if !missing.is_empty() {
            let users = entity::app_user::Entity::find()
                .select_only()
                .column(entity::app_user::Column::Id)
                .column(entity::app_user::Column::Name)
                .filter(entity::app_user::Column::Id.is_in(missing))
                .into_tuple::<(i64, String)>()
                .all(&self.db)
                .await?;
            self.names.extend(users);
        }
        Ok(Some(cases.iter().map(|c| self.row(c)).collect()))
    }

    fn row(&self, c: &case::Model) -> Vec<Cell> {
        let node = self.grid.get(c.region_id);
        let name_at = |level| {
            node.and_then(|n| self.grid.ancestor_at(n, level))
                .map_or(Cell::Empty, |r| Cell::text(r.name.clone()))
        };
        vec![
            Cell::text(c.number.clone()),
            Cell::text(source_name(c.source)),
            self.categories
                .get(&c.category_id)
                .map_or(Cell::Empty, |n| Cell::text(n.clone())),
            name_at(RegionLevel::Township),
            name_at(RegionLevel::Village),
            Cell::text(status_name(c.status)),
            Cell::text(priority_name(c.priority)),
            Cell::text(c.title.clone()),
            Cell::text(local_time(c.created_at)),
            Cell::opt_time(c.accepted_at),
            Cell::opt_time(c.due_at),
            Cell::opt_time(c.first_submitted_at),
            if c.status == CaseStatus::Closed {
                Cell::opt_time(c.closed_at)
            } else {
                Cell::Empty
            },
            on_time(c, self.now),
            Cell::Int(i64::from(c.rework_count)),
            c.rating.map_or(Cell::Empty, |r| Cell::Int(i64::from(r))),
            c.assignee_id
                .and_then(|id| self.names.get(&id))
                .map_or(Cell::Empty, |n| Cell::text(n.clone())),
            Cell::text(if c.parked_at.is_some() { "是" } else { "" }),
        ]
    }
}

/// The columns of the indicator export, after the group's name.
pub const STATS_HEADERS: [&str; 26] = [
    "上报数",
    "有效上报数",
    "有效上报率",
    "应处置数",
    "处置数",
    "按期处置数",
    "处置率",
    "按期处置率",
    "返工数",
    "返工次数",
    "返工率",
    "平均处置时长（工作小时）",
    "应结案数",
    "结案数",
    "按期结案数",
    "结案率",
    "按期结案率",
    "办结举报数",
    "评价数",
    "满意数",
    "公众满意度",
    "评价覆盖率",
    "当前超期",
    "当前挂账",
    "上报升级",
    "延期",
];

fn indicator_cells(c: &Counters) -> Vec<Cell> {
    vec![
        Cell::Int(c.reports),
        Cell::Int(c.valid_reports),
        Cell::ratio(c.valid_report_rate()),
        Cell::Int(c.due_to_handle),
        Cell::Int(c.handled),
        Cell::Int(c.handled_on_time),
        Cell::ratio(c.handle_rate()),
        Cell::ratio(c.on_time_handle_rate()),
        Cell::Int(c.reworked),
        Cell::Int(c.returns),
        Cell::ratio(c.rework_rate()),
        c.average_handling_hours().map_or(Cell::Empty, Cell::Hours),
        Cell::Int(c.due_to_close),
        Cell::Int(c.closed),
        Cell::Int(c.closed_on_time),
        Cell::ratio(c.close_rate()),
        Cell::ratio(c.on_time_close_rate()),
        Cell::Int(c.closed_tips),
        Cell::Int(c.rated),
        Cell::Int(c.satisfied),
        Cell::ratio(c.satisfaction()),
        Cell::ratio(c.rating_coverage()),
        Cell::Int(c.overdue_now),
        Cell::Int(c.parked_now),
        Cell::Int(c.escalations),
        Cell::Int(c.extensions),
    ]
}

/// The indicator table: a header row, one row per group, then 合计.
pub fn stats_table(s: &Stats) -> Vec<Vec<Cell>> {
    let first = match s.group_by {
        GroupBy::Region => "区域",
        GroupBy::Inspector => "网格员",
        GroupBy::Category => "类别",
        GroupBy::Day => "日期",
    };
    let mut rows = Vec::with_capacity(s.rows.len() + 2);
    rows.push(
        std::iter::once(first)
            .chain(STATS_HEADERS)
            .map(Cell::text)
            .collect(),
    );
    for r in &s.rows {
        let mut row = vec![Cell::text(r.label.clone())];
        row.extend(indicator_cells(&r.counters));
        rows.push(row);
    }
    let mut total = vec![Cell::text("合计")];
    total.extend(indicator_cells(&s.total));
    rows.push(total);
    rows
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shanghai_wall_clock() {
        let t = DateTime::parse_from_rfc3339("2026-10-31T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_time(t), "2026-11-01 00:30:00");
    }

    #[test]
    fn the_indicator_table_has_a_header_per_cell() {
        let s = Stats {
            region_id: 1,
            from: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            to: chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            group_by: GroupBy::Category,
            total: Counters {
                reports: 2,
                valid_reports: 1,
                ..Counters::default()
            },
            rows: vec![],
            computed_at: Utc::now(),
        };
        let t = stats_table(&s);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].len(), t[1].len());
        assert_eq!(t[0][0], Cell::text("类别"));
        assert_eq!(t[1][3].to_csv(), "50.0%");
        assert_eq!(t[1][4], Cell::Int(0));
    }
}
