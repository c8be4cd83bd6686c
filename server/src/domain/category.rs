//! Case categories and their time limits (data seeded from the plan, edited by county staff).

use entity::{category, category_time_limit};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::AppError;

pub use entity::enums::{LimitUnit, Priority, Step};

/// One time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLimit {
    /// Priority.
    pub priority: Priority,
    /// Step.
    pub step: Step,
    /// Number of units.
    pub amount: i32,
    /// Unit.
    pub unit: LimitUnit,
}

impl TimeLimit {
    /// Reads a stored limit; `None` when a value is not one we know.
    pub fn from_row_pub(r: &category_time_limit::Model) -> Option<Self> {
        Self::from_row(r)
    }

    fn from_row(r: &category_time_limit::Model) -> Option<Self> {
        let priority = match r.priority.as_str() {
            "URGENT" => Priority::Urgent,
            "HIGH" => Priority::High,
            "NORMAL" => Priority::Normal,
            _ => return None,
        };
        let step = match r.step.as_str() {
            "ACCEPT" => Step::Accept,
            "ONSITE" => Step::Onsite,
            "HANDLE" => Step::Handle,
            _ => return None,
        };
        let unit = match r.unit.as_str() {
            "HOURS" => LimitUnit::Hours,
            "WORKING_HOURS" => LimitUnit::WorkingHours,
            "WORKING_DAYS" => LimitUnit::WorkingDays,
            _ => return None,
        };
        Some(Self {
            priority,
            step,
            amount: r.amount,
            unit,
        })
    }
}

/// A category with its limits.
#[derive(Debug, Clone)]
pub struct CategoryView {
    /// Database id.
    pub id: i64,
    /// Stable code.
    pub code: String,
    /// Chinese name.
    pub name: String,
    /// What it covers.
    pub description: String,
    /// Picker order.
    pub sort_order: i32,
    /// Duplicate radius in metres.
    pub duplicate_radius_m: f64,
    /// Duplicate time window in hours.
    pub duplicate_window_hours: i32,
    /// Check-in radius in metres.
    pub checkin_radius_m: f64,
    /// Photos needed before.
    pub min_photos_before: i32,
    /// Photos needed during.
    pub min_photos_during: i32,
    /// Photos needed after.
    pub min_photos_after: i32,
    /// Time limits, ordered by priority then step.
    pub limits: Vec<TimeLimit>,
}

/// Most active categories listed (a county has a few dozen at most).
pub const MAX_ACTIVE: u64 = 100;
/// Time limits of one category: one per priority and step (unique in the table).
pub const MAX_TIME_LIMITS: u64 = 9;

/// Active categories in picker order, each with its limits (two queries in all).
pub async fn list_active(db: &DatabaseConnection) -> Result<Vec<CategoryView>, AppError> {
    let cats = category::Entity::find()
        .filter(category::Column::Active.eq(true))
        .order_by_asc(category::Column::SortOrder)
        .order_by_asc(category::Column::Code)
        .limit(MAX_ACTIVE)
        .all(db)
        .await?;
    let ids: Vec<i64> = cats.iter().map(|c| c.id).collect();
    let rows = category_time_limit::Entity::find()
        .filter(category_time_limit::Column::CategoryId.is_in(ids))
        .all(db)
        .await?;
    Ok(cats
        .into_iter()
        .map(|c| {
            let mut limits: Vec<TimeLimit> = rows
                .iter()
                .filter(|r| r.category_id == c.id)
                .filter_map(TimeLimit::from_row)
                .collect();
            limits.sort_by_key(|l| (l.priority, l.step));
            CategoryView {
                id: c.id,
                code: c.code,
                name: c.name,
                description: c.description,
                sort_order: c.sort_order,
                duplicate_radius_m: c.duplicate_radius_m,
                duplicate_window_hours: c.duplicate_window_hours,
                checkin_radius_m: c.checkin_radius_m,
                min_photos_before: c.min_photos_before,
                min_photos_during: c.min_photos_during,
                min_photos_after: c.min_photos_after,
                limits,
            }
        })
        .collect())
}
