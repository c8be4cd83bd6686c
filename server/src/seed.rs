//! Loads the data files of `seeds/` into the database. Idempotent: only what is
//! missing is inserted, so seeding twice changes nothing and never overwrites what a
//! county edited or imported since.

use chrono::Utc;
use entity::{category, category_time_limit, region, work_calendar_day};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, TransactionTrait,
};

use crate::domain::access::Role;
use crate::domain::grid::{self, ImportMode};
use crate::error::AppError;

/// A closed-set value named in the seed files.
fn closed<T: sea_orm::ActiveEnum<Value = String>>(name: &str) -> Result<T, AppError> {
    T::try_from_value(&name.to_owned())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("seed data: {e}")))
}

/// What a seeding run inserted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Regions inserted.
    pub regions: usize,
    /// Categories inserted.
    pub categories: usize,
    /// Time-limit rows inserted.
    pub time_limits: usize,
    /// Calendar days inserted.
    pub calendar_days: usize,
    /// Demo accounts inserted.
    pub demo_users: usize,
}

impl SeedReport {
    /// Whether nothing was inserted.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Seeds the warning-and-escalation rules when there are none (a new deployment, or
/// one that predates them). Returns how many were inserted.
pub async fn seed_escalation_rules(db: &DatabaseConnection) -> Result<usize, AppError> {
    use entity::escalation_rule;
    if escalation_rule::Entity::find().count(db).await? > 0 {
        return Ok(0);
    }
    let seeds = seeds::escalation_rules().map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let categories = category::Entity::find().all(db).await?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for r in seeds {
        let category_id = match &r.category {
            None => None,
            Some(code) => match categories.iter().find(|c| &c.code == code) {
                Some(c) => Some(c.id),
                None => continue,
            },
        };
        rows.push(escalation_rule::ActiveModel {
            category_id: Set(category_id),
            step: Set(closed(&r.step)?),
            warn_share: Set(r.warn_share),
            escalate: Set(r.escalate),
            warn_notify: Set(serde_json::json!(r.warn_notify)),
            escalate_notify: Set(serde_json::json!(r.escalate_notify)),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    let n = rows.len();
    if n > 0 {
        escalation_rule::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(n)
}

/// Whether the database has no regions yet (a brand-new deployment).
pub async fn is_empty(db: &DatabaseConnection) -> Result<bool, AppError> {
    Ok(region::Entity::find().count(db).await? == 0)
}

/// Seeds the base data: the Qinshui region tree, categories with time limits, and the
/// work calendar. Each part runs in its own transaction.
pub async fn seed_base(db: &DatabaseConnection) -> Result<SeedReport, AppError> {
    let mut report = SeedReport::default();
    let items = grid::parse_grid_file(seeds::QINSHUI_GRID_GEOJSON)?;
    report.regions = grid::apply_import(db, &items, ImportMode::InsertMissing, Utc::now())
        .await?
        .inserted;

    let txn = db.begin().await?;
    let (c, l) = seed_categories(&txn).await?;
    report.categories = c;
    report.time_limits = l;
    report.calendar_days = seed_calendar(&txn).await?;
    txn.commit().await?;
    seed_escalation_rules(db).await?;
    tracing::info!(
        regions = report.regions,
        categories = report.categories,
        time_limits = report.time_limits,
        calendar_days = report.calendar_days,
        "base data seeded"
    );
    Ok(report)
}

async fn seed_categories<C: ConnectionTrait>(conn: &C) -> Result<(usize, usize), AppError> {
    let seeds = seeds::categories().map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let existing = category::Entity::find().all(conn).await?;
    let limits = category_time_limit::Entity::find().all(conn).await?;
    let now = Utc::now();
    let (mut inserted, mut limit_rows) = (0, 0);
    for s in seeds {
        let id = match existing.iter().find(|c| c.code == s.code) {
            Some(c) => c.id,
            None => {
                let row = category::ActiveModel {
                    code: Set(s.code.clone()),
                    name: Set(s.name.clone()),
                    description: Set(s.description.clone()),
                    sort_order: Set(s.sort_order),
                    duplicate_radius_m: Set(s.duplicate_radius_m),
                    duplicate_window_hours: Set(s.duplicate_window_hours),
                    checkin_radius_m: Set(s.checkin_radius_m),
                    min_photos_before: Set(s.min_photos.before),
                    min_photos_during: Set(s.min_photos.during),
                    min_photos_after: Set(s.min_photos.after),
                    active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(conn)
                .await?;
                inserted += 1;
                row.id
            }
        };
        for l in &s.limits {
            let (priority, step, unit) = (closed(&l.priority)?, closed(&l.step)?, closed(&l.unit)?);
            let present = limits
                .iter()
                .any(|x| x.category_id == id && x.priority == priority && x.step == step);
            if !present {
                category_time_limit::ActiveModel {
                    category_id: Set(id),
                    priority: Set(priority),
                    step: Set(step),
                    amount: Set(l.amount),
                    unit: Set(unit),
                    ..Default::default()
                }
                .insert(conn)
                .await?;
                limit_rows += 1;
            }
        }
    }
    Ok((inserted, limit_rows))
}

async fn seed_calendar<C: ConnectionTrait>(conn: &C) -> Result<usize, AppError> {
    let days = seeds::calendar().map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let existing: std::collections::HashSet<chrono::NaiveDate> = work_calendar_day::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|d| d.day)
        .collect();
    let now = Utc::now();
    let mut inserted = 0;
    for d in days.into_iter().filter(|d| !existing.contains(&d.date)) {
        work_calendar_day::ActiveModel {
            day: Set(d.date),
            workday: Set(d.workday),
            name: Set(d.name),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        inserted += 1;
    }
    Ok(inserted)
}

/// The password of every demo account. Demo data only: `serve --demo` and
/// `seed --demo` are refused in production.
pub const DEMO_PASSWORD: &str = "Demo-2026-gridwatch";

/// The openid of the demo public tester (a WeChat user; log in through a WeChat
/// stand-in that maps a code to this openid).
pub const DEMO_TESTER_OPENID: &str = "demo-openid-public-tester";

/// Seeds demo accounts for a local trial, after the base data: one county admin
/// (`demo-admin`), one supervisor per township (`demo-sup-<township code>`), one
/// inspector per village grid (`demo-insp-<village code>`) and one public
/// tester. All staff share [`DEMO_PASSWORD`] and are flagged `demo`. Idempotent.
pub async fn seed_demo(
    db: &DatabaseConnection,
    vault: &crate::auth::vault::Vault,
) -> Result<SeedReport, AppError> {
    use crate::domain::grid::RegionLevel;
    use entity::{app_user, tipster};
    use sea_orm::{ColumnTrait, QueryFilter};

    let mut report = seed_base(db).await?;
    let regions = region::Entity::find().all(db).await?;
    let existing: std::collections::HashSet<String> = app_user::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    // One hash for all demo accounts (hashing ~200 times would only slow start-up), made
    // only when an account is missing: a restart on a seeded database hashes nothing
    // (Argon2's 19 MiB working memory would otherwise stay in the allocator's arena).
    let mut hash: Option<String> = None;
    let now = Utc::now();
    let txn = db.begin().await?;
    let mut users = 0;
    for r in regions
        .iter()
        .filter(|r| r.code.starts_with(seeds::COUNTY_CODE))
    {
        let (username, name, role) = match r.level {
            RegionLevel::County => (
                "demo-admin".to_owned(),
                format!("{}演示管理员", r.name),
                Role::CountyAdmin,
            ),
            RegionLevel::Township => (
                format!("demo-sup-{}", r.code),
                format!("{}演示督办员", r.name),
                Role::TownshipSupervisor,
            ),
            RegionLevel::Village => (
                format!("demo-insp-{}", r.code),
                format!("{}演示网格员", r.name),
                Role::Inspector,
            ),
        };
        if existing.contains(&username) {
            continue;
        }
        if hash.is_none() {
            hash = Some(crate::auth::password::hash(DEMO_PASSWORD)?);
        }
        app_user::ActiveModel {
            username: Set(username),
            password_hash: Set(hash.clone().unwrap_or_default()),
            name: Set(name),
            phone_enc: Set(None),
            phone_last4: Set(None),
            role: Set(role),
            region_id: Set(r.id),
            active: Set(true),
            failed_logins: Set(0),
            locked_until: Set(None),
            demo: Set(true),
            on_duty: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        users += 1;
    }
    let lookup = vault.lookup_hash(crate::auth::vault::LOOKUP_WECHAT_OPENID, DEMO_TESTER_OPENID);
    let has_tester = tipster::Entity::find()
        .filter(tipster::Column::OpenidHmac.eq(&lookup))
        .one(&txn)
        .await?
        .is_some();
    if !has_tester {
        crate::domain::tipsters::create(&txn, vault, DEMO_TESTER_OPENID, Utc::now()).await?;
        users += 1;
    }
    txn.commit().await?;
    report.demo_users = users;
    tracing::info!(demo_users = users, "demo accounts seeded");
    Ok(report)
}
