//! 双随机、一公开: random inspections. A township supervisor or county staff member draws
//! supervised sites at random from the register and, for each, a team of inspectors at
//! random from a pool; the draw creates one inspection task per site (source `RANDOM`);
//! once every task is closed the draw may be published for everyone.
//!
//! **Recorded and verifiable.** A draw stores its inputs and the frame it drew from
//! (candidate sites, sites already drawn in the period, the inspector pool) as the exact
//! canonical JSON it hashed, the seed, and the hash of the draw before it:
//!
//! - `seed = SHA-256("gridwatch-draw-seed-v1\n" ‖ prev_hash ‖ "\n" ‖ drawn_at ‖ "\n" ‖ inputs)`
//!   where `drawn_at` is the draw time in microseconds since the Unix epoch (decimal) and
//!   `prev_hash` the hash of the previous draw (64 zeros for the first) — a value nobody
//!   in the county controls in advance;
//! - `hash = SHA-256("gridwatch-draw-hash-v1\n" ‖ prev_hash ‖ "\n" ‖ seed ‖ "\n" ‖ drawn_at
//!   ‖ "\n" ‖ inputs ‖ "\n" ‖ frame ‖ "\n" ‖ selection)`, chaining every draw to the one
//!   before (one draw per predecessor: a unique index keeps the chain a line);
//! - the selection follows from the seed and the frame alone ([`select`]), so
//!   [`verify`] recomputes it and compares it with what is stored.
//!
//! **Teams.** Every drawn inspector goes on the task's team (`case_team`: the first
//! drawn is the lead and the task's assignee, the others members), in the draw's
//! transaction; the team sees the task, lists it in `myTasks` and does its field work
//! (see `cases` and `cases::workflow`).
//!
//! **Rules.** At least two inspectors per site; nobody inspects a site in their own
//! village grid (回避: an inspector's home grid is their `app_user.region_id`); no site
//! drawn twice in one period unless every candidate was drawn already (the draw then
//! says `poolExhausted`).
//!
//! **Scope.** County staff draw anywhere in their county, township supervisors in their
//! township; inspectors and the public cannot draw. A region, draw or inspector outside
//! the viewer's scope answers like a missing one.
//!
//! **Publishing.** `publish` is refused with `INVALID_TRANSITION` while any task of the
//! draw is still open (the draw's state does not allow it yet); publishing a published
//! draw answers it unchanged.

pub mod select;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::enums::{RiskLevel, SiteKind, TeamRole};
use entity::{app_user, case, case_team, category, random_draw, random_draw_site, supervised_site};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use self::select::{Candidate, Frame, Picked, SelectError, Selection};
use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::accounts::users::{StaffCard, cards};
use super::grid::subtree;
use super::idempotency::IdemKey;
use super::page::{Page, PageRequest};
use super::sla::{self, WorkCalendar};
use super::supervision::{Limits, Rules, plan};
use super::uow;
use crate::error::{AppError, Msg};

/// Who may draw, read and publish draws.
const MANAGERS: &[Role] = &[Role::CountyAdmin, Role::TownshipSupervisor];
/// Most sites one draw may pick (and list).
pub const MAX_SITES: u64 = 200;
/// Most inspectors per site.
pub const MAX_PER_SITE: u64 = 5;
/// Fewest inspectors per site (双随机: never one alone).
pub const MIN_PER_SITE: u32 = 2;
/// Most inspectors an explicit pool may name.
pub const MAX_POOL: usize = 500;
/// What `verify` may report wrong with a draw.
pub const MAX_PROBLEMS: u64 = 4;
/// The `prev_hash` of the first draw.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn draw_not_found() -> AppError {
    AppError::not_found("抽查记录", "draw")
}

/// Which sites a draw picks from (within its region, active ones only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteFilter {
    /// Only these kinds (all when empty).
    pub kinds: Vec<SiteKind>,
    /// Only these risk levels (all when empty).
    pub risk_levels: Vec<RiskLevel>,
}

/// A draw as asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrawInput {
    /// The region to draw in (county, township or village grid).
    pub region_id: i64,
    /// Which sites.
    pub site_filter: SiteFilter,
    /// How many sites …
    pub count: Option<i32>,
    /// … or what share of the candidates, in percent (rounded up).
    pub share_percent: Option<i32>,
    /// The inspectors to draw from (default: every active inspector in your scope).
    pub inspector_ids: Option<Vec<i64>>,
    /// Inspectors per site (default and minimum 2).
    pub per_site: Option<i32>,
    /// The inspection period: `2026`, `2026-H2`, `2026-Q4` or `2026-12`.
    pub period: String,
    /// The category of the tasks (default: by the site's kind).
    pub category_code: Option<String>,
}

/// The inputs of a draw as recorded and hashed: checked, in canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    /// Format of this record.
    pub version: u32,
    /// Region drawn in.
    pub region_id: i64,
    /// Period.
    pub period: String,
    /// Site kinds (stored names, sorted; empty: all).
    pub kinds: Vec<String>,
    /// Risk levels (stored names, sorted; empty: all).
    pub risk_levels: Vec<String>,
    /// Sites asked for …
    pub count: Option<u32>,
    /// … or share of candidates in percent.
    pub share_percent: Option<u32>,
    /// Explicit inspector pool (sorted), or `None` for everyone in scope.
    pub inspector_ids: Option<Vec<i64>>,
    /// Inspectors per site.
    pub per_site: u32,
    /// Category of the tasks, if fixed.
    pub category_code: Option<String>,
}

impl Inputs {
    /// How many sites to draw from `candidates`.
    pub fn target(&self, candidates: usize) -> usize {
        match (self.count, self.share_percent) {
            (Some(c), _) => usize::try_from(c).unwrap_or(usize::MAX),
            (None, Some(p)) => {
                let p = usize::try_from(p).unwrap_or(100);
                (candidates * p).div_ceil(100).max(1)
            }
            (None, None) => 0,
        }
    }
}

fn bad(detail: &'static str, zh: String, en: String, field: &str) -> AppError {
    AppError::bad_input(detail, Msg::new(zh, en)).at(field)
}

/// A period label: `YYYY`, `YYYY-H1|H2`, `YYYY-Q1..Q4` or `YYYY-01..12`.
pub fn check_period(p: &str) -> Result<String, AppError> {
    let p = p.trim().to_ascii_uppercase();
    let ok = {
        let (year, rest) = p.split_at(p.len().min(4));
        let year_ok = year.len() == 4
            && year.chars().all(|c| c.is_ascii_digit())
            && ("2000".."2100").contains(&year);
        let rest_ok = match rest.strip_prefix('-') {
            None => rest.is_empty(),
            Some(r) => {
                matches!(r, "H1" | "H2" | "Q1" | "Q2" | "Q3" | "Q4")
                    || (r.len() == 2 && r.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)))
            }
        };
        year_ok && rest_ok
    };
    if ok {
        Ok(p)
    } else {
        Err(bad(
            "INVALID_PERIOD",
            format!("抽查周期 {p} 无效（应为 2026、2026-H2、2026-Q4 或 2026-12 的形式）"),
            format!("invalid period {p} (use 2026, 2026-H2, 2026-Q4 or 2026-12)"),
            "period",
        ))
    }
}

/// Checks a draw's input (everything that needs no database) into its record.
pub fn check_input(input: &DrawInput) -> Result<Inputs, AppError> {
    let period = check_period(&input.period)?;
    let (count, share_percent) = match (input.count, input.share_percent) {
        (Some(c), None) => {
            if c < 1 || u64::try_from(c).unwrap_or(0) > MAX_SITES {
                return Err(bad(
                    "INVALID_COUNT",
                    format!("抽取数量应为 1 到 {MAX_SITES}，收到 {c}"),
                    format!("count must be 1–{MAX_SITES}, got {c}"),
                    "count",
                ));
            }
            (u32::try_from(c).ok(), None)
        }
        (None, Some(p)) => {
            if !(1..=100).contains(&p) {
                return Err(bad(
                    "INVALID_SHARE",
                    format!("抽取比例应为 1 到 100（百分比），收到 {p}"),
                    format!("sharePercent must be 1–100, got {p}"),
                    "sharePercent",
                ));
            }
            (None, u32::try_from(p).ok())
        }
        _ => {
            return Err(bad(
                "COUNT_OR_SHARE",
                "请给出抽取数量（count）或抽取比例（sharePercent）之一".into(),
                "give exactly one of count and sharePercent".into(),
                "count",
            ));
        }
    };
    let per_site = input.per_site.unwrap_or(2);
    if per_site < 2 || u64::try_from(per_site).unwrap_or(0) > MAX_PER_SITE {
        return Err(bad(
            "INVALID_PER_SITE",
            format!("每个对象的检查人员应为 2 到 {MAX_PER_SITE} 人，收到 {per_site}"),
            format!("perSite must be 2–{MAX_PER_SITE}, got {per_site}"),
            "perSite",
        ));
    }
    let inspector_ids = match &input.inspector_ids {
        None => None,
        Some(ids) if ids.len() > MAX_POOL => {
            return Err(bad(
                "POOL_TOO_LARGE",
                format!("检查人员名单最多 {MAX_POOL} 人"),
                format!("the inspector pool may name at most {MAX_POOL} inspectors"),
                "inspectorIds",
            ));
        }
        Some(ids) => {
            let set: BTreeSet<i64> = ids.iter().copied().collect();
            Some(set.into_iter().collect())
        }
    };
    let category_code = input
        .category_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let kinds: BTreeSet<String> = input
        .site_filter
        .kinds
        .iter()
        .map(|k| k.to_value())
        .collect();
    let risk_levels: BTreeSet<String> = input
        .site_filter
        .risk_levels
        .iter()
        .map(|r| r.to_value())
        .collect();
    Ok(Inputs {
        version: 1,
        region_id: input.region_id,
        period,
        kinds: kinds.into_iter().collect(),
        risk_levels: risk_levels.into_iter().collect(),
        count,
        share_percent,
        inspector_ids,
        per_site: u32::try_from(per_site).unwrap_or(MIN_PER_SITE),
        category_code,
    })
}

fn canonical<T: Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(anyhow::anyhow!("draw record: {e}")))
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b"\n");
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The seed of a draw (see the module documentation).
pub fn seed_of(prev_hash: &str, drawn_at: DateTime<Utc>, inputs_json: &str) -> String {
    sha256_hex(&[
        "gridwatch-draw-seed-v1",
        prev_hash,
        &drawn_at.timestamp_micros().to_string(),
        inputs_json,
    ])
}

/// The hash of a draw (see the module documentation).
pub fn hash_of(
    prev_hash: &str,
    seed: &str,
    drawn_at: DateTime<Utc>,
    (inputs_json, frame_json, selection_json): (&str, &str, &str),
) -> String {
    sha256_hex(&[
        "gridwatch-draw-hash-v1",
        prev_hash,
        seed,
        &drawn_at.timestamp_micros().to_string(),
        inputs_json,
        frame_json,
        selection_json,
    ])
}

fn seed_bytes(hex_seed: &str) -> Result<[u8; 32], AppError> {
    let v = hex::decode(hex_seed)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("draw seed is not hex: {e}")))?;
    v.try_into()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("draw seed is not 32 bytes")))
}

/// The selection a draw's record gives: the pure computation `verify` repeats.
pub fn recompute(seed_hex: &str, inputs: &Inputs, frame: &Frame) -> Result<Selection, AppError> {
    let count = inputs.target(frame.sites.len());
    let per_site = usize::try_from(inputs.per_site).unwrap_or(2);
    select::select(seed_bytes(seed_hex)?, frame, count, per_site).map_err(refusal)
}

fn refusal(e: SelectError) -> AppError {
    match e {
        SelectError::NoSites => bad(
            "NO_SITES",
            "该区域内没有符合条件的在管监管对象".into(),
            "no active site in the region matches the filter".into(),
            "siteFilter",
        ),
        SelectError::TooMany { count, available } => bad(
            "COUNT_EXCEEDS_SITES",
            format!("要抽取 {count} 个对象，但符合条件的只有 {available} 个"),
            format!("{count} sites asked for, but only {available} match"),
            "count",
        ),
        SelectError::PoolTooSmall { site_id, eligible } => bad(
            "INSPECTOR_POOL_TOO_SMALL",
            format!(
                "检查人员名单不足：监管对象 {site_id} 只有 {eligible} 名可派人员（须回避本网格）"
            ),
            format!(
                "the inspector pool is too small: site {site_id} has only {eligible} inspectors from outside its grid"
            ),
            "inspectorIds",
        ),
    }
}

/// The category a drawn site's task gets when the draw names none.
pub fn category_for(kind: SiteKind) -> &'static str {
    match kind {
        SiteKind::Farm => "LIVESTOCK_WASTE",
        SiteKind::Construction | SiteKind::Stockpile => "DUST",
        SiteKind::WellSite => "CBM_WELL_SITE",
        SiteKind::Outfall => "ILLEGAL_DISCHARGE",
        SiteKind::Enterprise => "SCATTERED_POLLUTING",
        SiteKind::Other => "OTHER",
    }
}

async fn categories<C: ConnectionTrait>(
    conn: &C,
    codes: &BTreeSet<String>,
    named: bool,
) -> Result<HashMap<String, category::Model>, AppError> {
    let rows = category::Entity::find()
        .filter(category::Column::Code.is_in(codes.iter().cloned()))
        .filter(category::Column::Active.eq(true))
        .all(conn)
        .await?;
    let found: HashMap<String, category::Model> =
        rows.into_iter().map(|c| (c.code.clone(), c)).collect();
    if let Some(missing) = codes.iter().find(|c| !found.contains_key(*c)) {
        return Err(if named {
            bad(
                "UNKNOWN_CATEGORY",
                format!("未知的问题类别：{missing}"),
                format!("unknown category: {missing}"),
                "categoryCode",
            )
        } else {
            AppError::Internal(anyhow::anyhow!("draw default category {missing} missing"))
        });
    }
    Ok(found)
}

/// The inspector pool: the named inspectors (each active and within the viewer's scope,
/// `NOT_FOUND` otherwise), or every active inspector within it.
async fn pool<C: ConnectionTrait>(
    conn: &C,
    svc: &Services,
    staff: &StaffViewer,
    ids: Option<&[i64]>,
) -> Result<Vec<Candidate>, AppError> {
    let grid = svc.grid.snapshot();
    let users = match ids {
        Some(ids) => {
            let rows = app_user::Entity::find()
                .filter(app_user::Column::Id.is_in(ids.iter().copied()))
                .all(conn)
                .await?;
            let ok: BTreeMap<i64, app_user::Model> = rows
                .into_iter()
                .filter(|u| crate::domain::cases::workflow::eligible_inspector(&grid, staff, u))
                .map(|u| (u.id, u))
                .collect();
            if ids.iter().any(|id| !ok.contains_key(id)) {
                return Err(AppError::not_found("网格员", "inspector").at("inspectorIds"));
            }
            ok.into_values().collect::<Vec<_>>()
        }
        None => app_user::Entity::find()
            .filter(app_user::Column::Role.eq(Role::Inspector))
            .filter(app_user::Column::Active.eq(true))
            .order_by_asc(app_user::Column::Id)
            .all(conn)
            .await?
            .into_iter()
            .filter(|u| crate::domain::cases::workflow::eligible_inspector(&grid, staff, u))
            .collect(),
    };
    Ok(users
        .into_iter()
        .map(|u| Candidate {
            id: u.id,
            region_id: u.region_id,
        })
        .collect())
}

/// The candidate sites of a draw and those of them drawn already in the period.
async fn candidates<C: ConnectionTrait>(
    conn: &C,
    region_path: &str,
    inputs: &Inputs,
) -> Result<(Vec<supervised_site::Model>, Vec<i64>), AppError> {
    let mut q = supervised_site::Entity::find()
        .filter(subtree(supervised_site::Column::RegionPath, region_path))
        .filter(supervised_site::Column::ArchivedAt.is_null())
        .filter(supervised_site::Column::Active.eq(true));
    if !inputs.kinds.is_empty() {
        q = q.filter(supervised_site::Column::Kind.is_in(inputs.kinds.iter().cloned()));
    }
    if !inputs.risk_levels.is_empty() {
        q = q.filter(supervised_site::Column::RiskLevel.is_in(inputs.risk_levels.iter().cloned()));
    }
    let sites = q
        .order_by_asc(supervised_site::Column::Id)
        .all(conn)
        .await?;
    let ids: BTreeSet<i64> = sites.iter().map(|s| s.id).collect();
    let before: BTreeSet<i64> = random_draw_site::Entity::find()
        .filter(random_draw_site::Column::Period.eq(&inputs.period))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.site_id)
        .filter(|id| ids.contains(id))
        .collect();
    Ok((sites, before.into_iter().collect()))
}

/// The region a draw is about, within the viewer's scope (`NOT_FOUND` otherwise).
fn region_in_scope(
    svc: &Services,
    staff: &StaffViewer,
    region_id: i64,
) -> Result<crate::domain::grid::RegionNode, AppError> {
    svc.grid
        .snapshot()
        .get(region_id)
        .filter(|r| staff.covers(&r.path))
        .cloned()
        .ok_or_else(|| AppError::not_found("区域", "region").at("regionId"))
}

/// Draws sites and inspectors, records the draw and creates one `RANDOM` task per site,
/// all in one unit of work (idempotent with a key). See the module documentation.
pub async fn draw(
    svc: &Services,
    viewer: &Viewer,
    input: DrawInput,
    idempotency_key: Option<&str>,
) -> Result<random_draw::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "RANDOM_DRAW", &input))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let inputs = check_input(&input)?;
    let region = region_in_scope(svc, &staff, inputs.region_id)?;
    // Checked before the transaction, read again inside it.
    let pool_now = pool(&svc.db, svc, &staff, inputs.inspector_ids.as_deref()).await?;
    if pool_now.len() < usize::try_from(inputs.per_site).unwrap_or(2) {
        return Err(bad(
            "INSPECTOR_POOL_TOO_SMALL",
            format!(
                "检查人员名单只有 {} 人，每个对象需要 {} 人",
                pool_now.len(),
                inputs.per_site
            ),
            format!(
                "the inspector pool has {} inspectors; each site needs {}",
                pool_now.len(),
                inputs.per_site
            ),
            "inspectorIds",
        ));
    }
    if let Some(code) = &inputs.category_code {
        categories(&svc.db, &BTreeSet::from([code.clone()]), true).await?;
    }
    let calendar = WorkCalendar::load(&svc.db, sla::WorkingHours::default()).await?;
    let rules = Rules::load(&svc.db).await?;
    // Two draws racing for the same predecessor: one wins the unique `prev_hash`, the
    // other starts again from the winner (new predecessor, time, frame and seed).
    let mut attempt = 1;
    loop {
        let work = draw_work(
            svc.clone(),
            viewer.clone(),
            staff.clone(),
            inputs.clone(),
            region.clone(),
            (calendar.clone(), rules.clone()),
        );
        match uow::write(svc, idem.clone(), work).await {
            // Only the race for the predecessor answers CONFLICT inside a draw.
            Err(AppError::Conflict(_)) if attempt < MAX_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

/// How often a draw that lost a race for its predecessor starts again.
const MAX_ATTEMPTS: u32 = 5;

/// The unit of work of one draw attempt.
fn draw_work(
    svc: Services,
    viewer: Viewer,
    staff: StaffViewer,
    inputs: Inputs,
    region: crate::domain::grid::RegionNode,
    (calendar, rules): (WorkCalendar, Rules),
) -> uow::Work<random_draw::Model> {
    uow::work(move |txn| {
        Box::pin(async move {
            let inputs_json = canonical(&inputs)?;
            // The predecessor first, the frame after: a draw committed after this read
            // holds the same predecessor, so this one loses the unique `prev_hash` and
            // starts again — it can never pair a frame that missed a newer draw's sites
            // (read in a later statement, hence a later snapshot) with that draw's hash.
            let prev_hash = random_draw::Entity::find()
                .order_by_desc(random_draw::Column::Id)
                .one(txn)
                .await?
                .map_or_else(|| GENESIS.to_owned(), |d| d.hash);
            let (sites, drawn_before) = candidates(txn, &region.path, &inputs).await?;
            let frame = Frame {
                sites: sites
                    .iter()
                    .map(|s| Candidate {
                        id: s.id,
                        region_id: s.region_id,
                    })
                    .collect(),
                drawn_before,
                inspectors: pool(txn, &svc, &staff, inputs.inspector_ids.as_deref()).await?,
            }
            .normalised();
            let frame_json = canonical(&frame)?;
            let now = svc.clock.now();
            let drawn_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
            let seed = seed_of(&prev_hash, drawn_at, &inputs_json);
            let selection = recompute(&seed, &inputs, &frame)?;
            let selection_json = canonical(&selection)?;
            let hash = hash_of(
                &prev_hash,
                &seed,
                drawn_at,
                (&inputs_json, &frame_json, &selection_json),
            );
            let row = random_draw::ActiveModel {
                region_id: Set(region.id),
                region_path: Set(region.path.clone()),
                period: Set(inputs.period.clone()),
                drawn_at: Set(drawn_at),
                drawn_by: Set(staff.user_id),
                prev_hash: Set(prev_hash),
                seed: Set(seed),
                hash: Set(hash),
                inputs: Set(inputs_json),
                frame: Set(frame_json),
                pool_exhausted: Set(selection.pool_exhausted),
                site_count: Set(i32::try_from(selection.sites.len()).unwrap_or(i32::MAX)),
                published_at: Set(None),
                published_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => AppError::Conflict(Msg::new(
                    "另一次抽取同时进行，请重试",
                    "another draw was made at the same moment; try again",
                )),
                _ => e.into(),
            })?;
            create_tasks(
                txn,
                &svc,
                &viewer,
                &staff,
                &row,
                &sites,
                &selection,
                (&calendar, &rules),
                &inputs,
            )
            .await?;
            Ok(row)
        })
    })
}

/// One task per drawn site, and the draw's site rows, in the draw's transaction.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one unit of work, each from a different place"
)]
async fn create_tasks<C: ConnectionTrait>(
    txn: &C,
    svc: &Services,
    viewer: &Viewer,
    staff: &StaffViewer,
    draw: &random_draw::Model,
    sites: &[supervised_site::Model],
    selection: &Selection,
    (calendar, rules): (&WorkCalendar, &Rules),
    inputs: &Inputs,
) -> Result<(), AppError> {
    let by_id: HashMap<i64, &supervised_site::Model> = sites.iter().map(|s| (s.id, s)).collect();
    let code_of = |s: &supervised_site::Model| {
        inputs
            .category_code
            .clone()
            .unwrap_or_else(|| category_for(s.kind).to_owned())
    };
    let codes: BTreeSet<String> = selection
        .sites
        .iter()
        .filter_map(|p| by_id.get(&p.site_id).map(|s| code_of(s)))
        .collect();
    let cats = categories(txn, &codes, inputs.category_code.is_some()).await?;
    let mut limits = HashMap::new();
    for c in cats.values() {
        limits.insert(
            c.id,
            crate::domain::cases::workflow::limits_of(txn, c.id).await?,
        );
    }
    let grid = svc.grid.snapshot();
    let now = draw.created_at;
    for (
        seq,
        Picked {
            site_id,
            inspector_ids,
        },
    ) in selection.sites.iter().enumerate()
    {
        let site = by_id
            .get(site_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("drawn site {site_id} vanished")))?;
        let region = grid
            .get(site.region_id)
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("site grid missing")))?;
        let cat = cats
            .get(&code_of(site))
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("draw category missing")))?;
        let no_limits = Vec::new();
        let l = Limits {
            calendar,
            limits: limits.get(&cat.id).unwrap_or(&no_limits),
            rules,
            category_id: cat.id,
        };
        let deadlines = plan(&l, entity::enums::Priority::Normal, now, true, false, None);
        let lead = *inspector_ids
            .first()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("empty team")))?;
        let c = crate::domain::cases::intake::insert_random_task(
            txn,
            viewer,
            cat,
            (
                format!("双随机抽查：{}", site.name),
                format!(
                    "{} 双随机抽查（抽取记录 {}），检查组 {} 人，须回避本网格。",
                    draw.period,
                    draw.id,
                    inspector_ids.len()
                ),
            ),
            site,
            region,
            (staff.user_id, lead),
            deadlines,
            json!({ "drawId": draw.id, "period": draw.period, "inspectorIds": inspector_ids }),
            now,
        )
        .await?;
        // The team, then a notice to each of its members, in the draw's transaction.
        let team: Vec<case_team::ActiveModel> = inspector_ids
            .iter()
            .map(|&uid| case_team::ActiveModel {
                case_id: Set(c.id),
                user_id: Set(uid),
                role: Set(if uid == lead {
                    TeamRole::Lead
                } else {
                    TeamRole::Member
                }),
                created_at: Set(now),
            })
            .collect();
        case_team::Entity::insert_many(team).exec(txn).await?;
        let team_size = inspector_ids.len();
        let notices = inspector_ids
            .iter()
            .map(|&uid| {
                let lead_is_me = uid == lead;
                crate::domain::notifications::new(
                    uid,
                    "RANDOM_INSPECTION",
                    Some(c.id),
                    format!("双随机抽查：{}", site.name),
                    format!(
                        "案件 {}，检查组 {team_size} 人，{}。",
                        c.number,
                        if lead_is_me {
                            "您为主办，请组织检查组按期完成"
                        } else {
                            "您为检查组成员，请与主办共同完成"
                        }
                    ),
                    now,
                )
            })
            .collect();
        crate::domain::notifications::insert(txn, notices).await?;
        random_draw_site::ActiveModel {
            draw_id: Set(draw.id),
            seq: Set(i32::try_from(seq).unwrap_or(i32::MAX)),
            site_id: Set(site.id),
            period: Set(draw.period.clone()),
            inspector_ids: Set(canonical(inspector_ids)?),
            case_id: Set(c.id),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// A draw the viewer may read (county staff and supervisors, within their region), or
/// `NOT_FOUND`.
pub async fn get(svc: &Services, viewer: &Viewer, id: i64) -> Result<random_draw::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?;
    random_draw::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .filter(|d| staff.covers(&d.region_path))
        .ok_or_else(draw_not_found)
}

/// The draws within the viewer's scope (optionally one region's subtree), newest first.
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    region_id: Option<i64>,
    page: PageRequest,
) -> Result<Page<random_draw::Model>, AppError> {
    let staff = viewer.staff_with(MANAGERS)?;
    let mut q = random_draw::Entity::find()
        .filter(subtree(random_draw::Column::RegionPath, &staff.region_path));
    if let Some(rid) = region_id {
        let grid = svc.grid.snapshot();
        let r = staff.narrowing_region(&grid, rid)?;
        q = q.filter(subtree(random_draw::Column::RegionPath, &r.path));
    }
    if let Some(after) = page.after {
        q = q.filter(random_draw::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(random_draw::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// A drawn site with what the draw made of it.
#[derive(Debug, Clone)]
pub struct DrawnSite {
    /// The draw's row for it.
    pub row: random_draw_site::Model,
    /// The site.
    pub site: supervised_site::Model,
    /// Its inspection task.
    pub task: case::Model,
    /// The drawn inspectors, the assignee first.
    pub inspector_ids: Vec<i64>,
}

/// The drawn sites of a draw, in draw order (three statements).
pub async fn drawn_sites<C: ConnectionTrait>(
    conn: &C,
    draw_id: i64,
) -> Result<Vec<DrawnSite>, AppError> {
    let rows = random_draw_site::Entity::find()
        .filter(random_draw_site::Column::DrawId.eq(draw_id))
        .order_by_asc(random_draw_site::Column::Seq)
        .all(conn)
        .await?;
    let sites: HashMap<i64, supervised_site::Model> = supervised_site::Entity::find()
        .filter(supervised_site::Column::Id.is_in(rows.iter().map(|r| r.site_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let cases: HashMap<i64, case::Model> = case::Entity::find()
        .filter(case::Column::Id.is_in(rows.iter().map(|r| r.case_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    rows.into_iter()
        .map(|row| {
            let site = sites.get(&row.site_id).cloned();
            let task = cases.get(&row.case_id).cloned();
            let inspector_ids: Vec<i64> = serde_json::from_str(&row.inspector_ids)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("draw team: {e}")))?;
            match (site, task) {
                (Some(site), Some(task)) => Ok(DrawnSite {
                    row,
                    site,
                    task,
                    inspector_ids,
                }),
                _ => Err(AppError::Internal(anyhow::anyhow!(
                    "draw {draw_id}: a site or task is missing"
                ))),
            }
        })
        .collect()
}

/// The cards of every inspector drawn for `drawn` (one statement), by id.
pub async fn team_cards<C: ConnectionTrait>(
    conn: &C,
    drawn: &[DrawnSite],
) -> Result<HashMap<i64, StaffCard>, AppError> {
    let mut ids: Vec<i64> = drawn
        .iter()
        .flat_map(|d| d.inspector_ids.iter().copied())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    cards(conn, &ids).await
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The seed follows from the previous hash, the time and the inputs.
    pub seed_matches: bool,
    /// The stored selection is what the seed and the frame give.
    pub selection_matches: bool,
    /// The stored hash covers exactly what is stored.
    pub hash_matches: bool,
    /// The previous hash is the hash of the draw before.
    pub chain_matches: bool,
    /// What did not match, in words (empty when all did).
    pub problems: Vec<String>,
}

impl Verification {
    /// Everything matched.
    pub fn matches(&self) -> bool {
        self.seed_matches && self.selection_matches && self.hash_matches && self.chain_matches
    }
}

/// Recomputes a draw from its stored seed, inputs and frame and compares: the seed, the
/// selection, the hash and the link to the draw before.
pub async fn verify(svc: &Services, viewer: &Viewer, id: i64) -> Result<Verification, AppError> {
    let d = get(svc, viewer, id).await?;
    let rows = random_draw_site::Entity::find()
        .filter(random_draw_site::Column::DrawId.eq(d.id))
        .order_by_asc(random_draw_site::Column::Seq)
        .all(&svc.db)
        .await?;
    let stored = Selection {
        sites: rows
            .iter()
            .map(|r| Picked {
                site_id: r.site_id,
                inspector_ids: serde_json::from_str(&r.inspector_ids).unwrap_or_default(),
            })
            .collect(),
        pool_exhausted: d.pool_exhausted,
    };
    let mut problems = Vec::new();
    let seed_matches = seed_of(&d.prev_hash, d.drawn_at, &d.inputs) == d.seed;
    if !seed_matches {
        problems.push("seed".to_owned());
    }
    let parsed: Option<(Inputs, Frame)> = serde_json::from_str(&d.inputs)
        .ok()
        .zip(serde_json::from_str(&d.frame).ok());
    let selection_matches = match &parsed {
        Some((inputs, frame)) => recompute(&d.seed, inputs, frame).is_ok_and(|s| s == stored),
        None => false,
    };
    if !selection_matches {
        problems.push("selection".to_owned());
    }
    let hash_matches = canonical(&stored).is_ok_and(|sel| {
        hash_of(
            &d.prev_hash,
            &d.seed,
            d.drawn_at,
            (&d.inputs, &d.frame, &sel),
        ) == d.hash
    });
    if !hash_matches {
        problems.push("hash".to_owned());
    }
    let prev = random_draw::Entity::find()
        .filter(random_draw::Column::Id.lt(d.id))
        .order_by_desc(random_draw::Column::Id)
        .one(&svc.db)
        .await?;
    let chain_matches = match prev {
        Some(p) => p.hash == d.prev_hash,
        None => d.prev_hash == GENESIS,
    };
    if !chain_matches {
        problems.push("chain".to_owned());
    }
    Ok(Verification {
        seed_matches,
        selection_matches,
        hash_matches,
        chain_matches,
        problems,
    })
}

/// Publishes a draw's targets and results (一公开) once every task is closed or
/// rejected; `INVALID_TRANSITION` while any is open. Publishing twice changes nothing.
pub async fn publish(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<random_draw::Model, AppError> {
    let staff = viewer.staff_with(MANAGERS)?.clone();
    let d = get(svc, viewer, id).await?;
    if d.published_at.is_some() {
        return Ok(d);
    }
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let case_ids: Vec<i64> = random_draw_site::Entity::find()
                    .filter(random_draw_site::Column::DrawId.eq(d.id))
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|r| r.case_id)
                    .collect();
                let open = case::Entity::find()
                    .filter(case::Column::Id.is_in(case_ids))
                    .filter(case::Column::Status.is_in(entity::enums::CaseStatus::OPEN))
                    .all(txn)
                    .await?
                    .len();
                if open > 0 {
                    return Err(AppError::InvalidTransition(Msg::new(
                        format!("该次抽查还有 {open} 项检查任务未办结，不能公开"),
                        format!(
                            "{open} tasks of the draw are still open; it cannot be published yet"
                        ),
                    )));
                }
                let now = clock.now();
                let mut am: random_draw::ActiveModel = d.into();
                am.published_at = Set(Some(now));
                am.published_by = Set(Some(staff.user_id));
                Ok(am.update(txn).await?)
            })
        }),
    )
    .await
}

/// 一公开: the published draws anyone may read, newest first, optionally in one region's
/// subtree. What of each is shown is decided by the public view: the date, the region,
/// the period, the sites' names and kinds with their village, and each task's status and
/// recorded result — never an inspector, a phone or a coordinate.
pub async fn published(
    svc: &Services,
    region_id: Option<i64>,
    page: PageRequest,
) -> Result<Page<random_draw::Model>, AppError> {
    let mut q = random_draw::Entity::find().filter(random_draw::Column::PublishedAt.is_not_null());
    if let Some(rid) = region_id {
        let grid = svc.grid.snapshot();
        let r = grid
            .get(rid)
            .ok_or_else(|| AppError::not_found("区域", "region").at("regionId"))?;
        q = q.filter(subtree(random_draw::Column::RegionPath, &r.path));
    }
    if let Some(after) = page.after {
        q = q.filter(random_draw::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(random_draw::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// A drawn site of a published draw as everyone sees it: the site's name, kind and
/// grid, and how its inspection ended — never an inspector, a phone or a coordinate.
#[derive(Debug, Clone)]
pub struct PublicSite {
    /// The site's name.
    pub name: String,
    /// Its kind.
    pub kind: SiteKind,
    /// Its village grid.
    pub region_id: i64,
    /// Where its task ended.
    pub status: entity::enums::CaseStatus,
    /// When the task was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// The result recorded with the last submission, unless the task's category is
    /// not publishable (the rule of `publicCases`).
    pub outcome: Option<String>,
}

/// The drawn sites of a published draw, in draw order (five statements whatever the
/// number of sites); nothing for a draw that is not published.
pub async fn public_sites<C: ConnectionTrait>(
    conn: &C,
    draw: &random_draw::Model,
) -> Result<Vec<PublicSite>, AppError> {
    if draw.published_at.is_none() {
        return Ok(Vec::new());
    }
    let drawn = drawn_sites(conn, draw.id).await?;
    let publishable: BTreeSet<i64> = category::Entity::find()
        .filter(category::Column::Id.is_in(drawn.iter().map(|d| d.task.category_id)))
        .filter(category::Column::Publishable.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    // The newest submission note of each task.
    let mut outcomes: HashMap<i64, String> = HashMap::new();
    for e in entity::case_event::Entity::find()
        .filter(entity::case_event::Column::CaseId.is_in(drawn.iter().map(|d| d.task.id)))
        .filter(entity::case_event::Column::Action.eq("SUBMIT"))
        .order_by_asc(entity::case_event::Column::Seq)
        .all(conn)
        .await?
    {
        if let Some(n) = e.note {
            outcomes.insert(e.case_id, n);
        }
    }
    Ok(drawn
        .into_iter()
        .map(|d| PublicSite {
            outcome: publishable
                .contains(&d.task.category_id)
                .then(|| outcomes.remove(&d.task.id))
                .flatten(),
            name: d.site.name,
            kind: d.site.kind,
            region_id: d.site.region_id,
            status: d.task.status,
            closed_at: d.task.closed_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn input() -> DrawInput {
        DrawInput {
            region_id: 1,
            site_filter: SiteFilter::default(),
            count: Some(3),
            share_percent: None,
            inspector_ids: None,
            per_site: None,
            period: "2026-q4".into(),
            category_code: None,
        }
    }

    #[test]
    fn periods() {
        for ok in ["2026", "2026-H2", "2026-q4", "2026-12", "2026-01"] {
            assert!(check_period(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "26", "2026-13", "2026-00", "2026-Q5", "2026-", "2026-1", "abcd", "2026-12x",
        ] {
            assert!(check_period(bad).is_err(), "{bad}");
        }
        assert_eq!(check_period(" 2026-q4 ").unwrap(), "2026-Q4");
    }

    #[test]
    fn inputs_are_checked() {
        let i = check_input(&input()).unwrap();
        assert_eq!(i.per_site, 2);
        assert_eq!(i.period, "2026-Q4");
        let field = |f: fn(&mut DrawInput)| {
            let mut d = input();
            f(&mut d);
            check_input(&d).unwrap_err().field().map(str::to_owned)
        };
        assert_eq!(field(|d| d.per_site = Some(1)).as_deref(), Some("perSite"));
        assert_eq!(field(|d| d.count = Some(0)).as_deref(), Some("count"));
        assert_eq!(
            field(|d| d.share_percent = Some(10)).as_deref(),
            Some("count")
        );
        assert_eq!(
            field(|d| {
                d.count = None;
                d.share_percent = Some(101);
            })
            .as_deref(),
            Some("sharePercent")
        );
    }

    #[test]
    fn share_rounds_up() {
        let mut d = input();
        d.count = None;
        d.share_percent = Some(10);
        let i = check_input(&d).unwrap();
        assert_eq!(i.target(25), 3);
        assert_eq!(i.target(1), 1);
        assert_eq!(i.target(100), 10);
    }

    #[test]
    fn the_record_is_canonical_and_the_seed_moves_with_every_part() {
        let i = check_input(&input()).unwrap();
        let j = canonical(&i).unwrap();
        let back: Inputs = serde_json::from_str(&j).unwrap();
        assert_eq!(canonical(&back).unwrap(), j);
        let t = DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap();
        let s = seed_of(GENESIS, t, &j);
        assert_eq!(s.len(), 64);
        assert_ne!(s, seed_of(&"1".repeat(64), t, &j));
        assert_ne!(
            s,
            seed_of(GENESIS, t + chrono::Duration::microseconds(1), &j)
        );
        assert_ne!(s, seed_of(GENESIS, t, &j.replace("2026-Q4", "2026-Q3")));
    }
}
