//! How cases come in: public tip-offs, patrol reports and supervisors' tasks; routing
//! a location to its grid; deadlines; possible duplicates; tracking codes.

use chrono::{DateTime, Duration, Utc};
use entity::enums::TextCheck;
use entity::{app_user, case, case_follower, category, supervised_site};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryIntoModel,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::workflow::append_event;
use super::{CaseSource, CaseStatus, Priority};
use crate::domain::Services;
use crate::domain::access::{Role, StaffViewer, Viewer};
use crate::domain::geo::{CoordSystem, WgsPoint, haversine_m};
use crate::domain::grid::{GridSnapshot, RegionLevel, RegionNode, path_is_within};
use crate::domain::idempotency::IdemKey;
use crate::domain::phone::Phone;
use crate::domain::sla;
use crate::domain::supervision::{Deadlines, Limits, plan};
use crate::domain::uow;
use crate::error::{AppError, Msg};

/// A reported location.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in `coord`.
    pub lat: f64,
    /// Longitude in `coord`.
    pub lng: f64,
    /// GCJ-02 from WeChat and Chinese map SDKs, or WGS-84.
    pub gcj02: bool,
    /// Horizontal accuracy in metres, when the device gives it.
    pub accuracy_m: Option<f64>,
}

impl Location {
    fn to_wgs(self) -> Result<WgsPoint, AppError> {
        if let Some(a) = self.accuracy_m
            && !(a.is_finite() && (0.0..=100_000.0).contains(&a))
        {
            return Err(AppError::bad_input(
                "INVALID_ACCURACY",
                Msg::new("定位精度无效", "invalid accuracyM"),
            )
            .at("accuracyM"));
        }
        let coord = if self.gcj02 {
            CoordSystem::Gcj02
        } else {
            CoordSystem::Wgs84
        };
        WgsPoint::from_client(self.lat, self.lng, coord)
    }

    /// [`Self::to_wgs`] for a location named `location` in its input.
    fn read(self) -> Result<WgsPoint, AppError> {
        self.to_wgs().map_err(|e| e.under("location"))
    }
}

/// How far outside every grid a report is still taken by the nearest township.
pub const OUTSIDE_GRID_TOLERANCE_M: f64 = 20_000.0;

/// Where a point belongs: its village grid, or — outside every grid but within
/// [`OUTSIDE_GRID_TOLERANCE_M`] — the nearest township, flagged.
pub fn route(grid: &GridSnapshot, p: WgsPoint) -> Result<(&RegionNode, bool), AppError> {
    if let Some(v) = grid.locate(p) {
        return Ok((v, false));
    }
    grid.nearest_township_within(p, OUTSIDE_GRID_TOLERANCE_M)
        .map(|t| (t, true))
        .ok_or_else(|| {
            AppError::bad_input(
                "OUTSIDE_SERVICE_AREA",
                Msg::new(
                    "该位置不在任何网格附近，无法受理",
                    "the location is not near any grid of this system",
                ),
            )
            .at("location")
        })
}

fn clean(
    text: &str,
    what_zh: &str,
    what_en: &str,
    min: usize,
    max: usize,
) -> Result<String, AppError> {
    let t = text.trim();
    let n = t.chars().count();
    if n < min || n > max {
        return Err(AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                format!("{what_zh}长度应为 {min} 到 {max} 个字"),
                format!("{what_en} must be {min}–{max} characters"),
            ),
        )
        .at(what_en));
    }
    Ok(t.to_owned())
}

async fn category_by_code<C: ConnectionTrait>(
    conn: &C,
    code: &str,
) -> Result<category::Model, AppError> {
    category::Entity::find()
        .filter(category::Column::Code.eq(code))
        .filter(category::Column::Active.eq(true))
        .one(conn)
        .await?
        .ok_or_else(|| {
            AppError::bad_input(
                "UNKNOWN_CATEGORY",
                Msg::new(
                    format!("未知的问题类别：{code}"),
                    format!("unknown category: {code}"),
                ),
            )
            .at("categoryCode")
        })
}

/// A 12-character tracking code from an alphabet without look-alikes (~60 bits).
fn new_tracking_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let chars: String = (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// The open case of the same category nearest to `p` within the category's radius and
/// time window, if any.
async fn find_duplicate<C: ConnectionTrait>(
    conn: &C,
    cat: &category::Model,
    p: WgsPoint,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    let radius = cat.duplicate_radius_m.max(0.0);
    let dlat = radius / 111_000.0;
    let dlng = radius / (111_000.0 * p.lat.degrees().to_radians().cos().max(0.01));
    let since = now - Duration::hours(i64::from(cat.duplicate_window_hours.max(0)));
    let (lat, lng) = (p.lat.degrees(), p.lng.degrees());
    // Bounded by place through `idx_case_duplicate_probe` (category, lat, lng,
    // created_at): only the cases in the box are read, and only what the choice needs.
    let candidates: Vec<(i64, f64, f64, Option<i64>)> = case::Entity::find()
        .select_only()
        .columns([
            case::Column::Id,
            case::Column::Lat,
            case::Column::Lng,
            case::Column::DuplicateOf,
        ])
        .filter(case::Column::CategoryId.eq(cat.id))
        .filter(case::Column::Lat.between(lat - dlat, lat + dlat))
        .filter(case::Column::Lng.between(lng - dlng, lng + dlng))
        .filter(case::Column::CreatedAt.gte(since))
        .filter(case::Column::Status.is_in(CaseStatus::OPEN))
        .filter(case::Column::MergedInto.is_null())
        .into_tuple()
        .all(conn)
        .await?;
    Ok(candidates
        .into_iter()
        .map(|(id, clat, clng, dup)| (haversine_m(lat, lng, clat, clng), id, dup))
        .filter(|(d, _, _)| *d <= radius)
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, id, dup)| dup.unwrap_or(id)))
}

struct NewCase {
    source: CaseSource,
    category: category::Model,
    title: String,
    description: String,
    priority: Priority,
    region: RegionNode,
    outside_grid: bool,
    point: WgsPoint,
    accuracy_m: Option<f64>,
    address: Option<String>,
    tipster_id: Option<i64>,
    reporter_id: Option<i64>,
    created_by: Option<i64>,
    assignee_id: Option<i64>,
    site_id: Option<i64>,
    status: CaseStatus,
    accepted: bool,
    started: bool,
    deadlines: Deadlines,
    duplicate_of: Option<i64>,
    tracking_code: Option<String>,
    text_check: Option<TextCheck>,
    /// The campaign whose limits the deadlines took.
    campaign_id: Option<i64>,
}

impl NewCase {
    /// A case of `source` at `point` in `region`, `status`, with nothing else set.
    fn base(
        source: CaseSource,
        category: category::Model,
        (title, description): (String, String),
        (region, point): (RegionNode, WgsPoint),
        status: CaseStatus,
    ) -> Self {
        Self {
            source,
            category,
            title,
            description,
            priority: Priority::Normal,
            region,
            outside_grid: false,
            point,
            accuracy_m: None,
            address: None,
            tipster_id: None,
            reporter_id: None,
            created_by: None,
            assignee_id: None,
            site_id: None,
            status,
            accepted: false,
            started: false,
            deadlines: Deadlines::default(),
            duplicate_of: None,
            tracking_code: None,
            text_check: None,
            campaign_id: None,
        }
    }
}

/// Inserts a case and its first event (version 1) in `conn`'s transaction.
async fn insert_case<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    n: NewCase,
    action: &str,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<case::Model, AppError> {
    let am = case::ActiveModel {
        id: NotSet,
        number: NotSet,
        tracking_code: Set(n.tracking_code),
        source: Set(n.source),
        category_id: Set(n.category.id),
        title: Set(n.title),
        description: Set(n.description),
        status: Set(n.status),
        priority: Set(n.priority),
        region_id: Set(n.region.id),
        region_path: Set(n.region.path.clone()),
        lat: Set(n.point.lat.degrees()),
        lng: Set(n.point.lng.degrees()),
        accuracy_m: Set(n.accuracy_m),
        outside_grid: Set(n.outside_grid),
        address: Set(n.address),
        tipster_id: Set(n.tipster_id),
        reporter_id: Set(n.reporter_id),
        created_by: Set(n.created_by),
        assignee_id: Set(n.assignee_id),
        site_id: Set(n.site_id),
        duplicate_of: Set(n.duplicate_of),
        merged_into: Set(None),
        reject_reason: Set(None),
        rework_count: Set(0),
        escalation_level: Set(0),
        version: Set(1),
        accepted_at: Set(n.accepted.then_some(now)),
        started_at: Set(n.started.then_some(now)),
        submitted_at: Set(None),
        closed_at: Set(None),
        first_submitted_at: Set(None),
        due_at: Set(n.deadlines.due_at),
        onsite_due_at: Set(n.deadlines.onsite_due_at),
        warn_at: Set(n.deadlines.warn_at),
        onsite_warn_at: Set(n.deadlines.onsite_warn_at),
        text_check: Set(n.text_check),
        parked_at: Set(None),
        parked_seconds: Set(0),
        extended_count: Set(0),
        checkin_lat: Set(None),
        checkin_lng: Set(None),
        checkin_distance_m: Set(None),
        checkin_far: Set(false),
        rating: Set(None),
        rating_comment: Set(None),
        rated_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        campaign_id: Set(n.campaign_id),
    };
    let (id, number) = insert_numbered(conn, &am, now).await?;
    let mut am = am;
    am.id = Set(id);
    am.number = Set(number);
    let row = am
        .try_into_model()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("new case: {e}")))?;
    append_event(
        conn,
        row.id,
        1,
        viewer,
        action,
        None,
        Some(n.status),
        None,
        data,
        now,
    )
    .await?;
    let notice = crate::domain::events::notice(&row, 1, action, Some(n.status), now);
    crate::domain::events::emitted(conn, &[notice], now).await?;
    Ok(row)
}

/// Writes the case `am` (every column but `id` and `number` set) in one statement, its
/// readable number derived from the id it gets there — local date + id, at least six
/// digits: `20261204000123` — and returns (id, number). The id is drawn first (the
/// identity's sequence on PostgreSQL; on SQLite the next AUTOINCREMENT value — past both
/// the recorded sequence and the largest id — safe since a write transaction holds the
/// database's write lock from BEGIN IMMEDIATE), so the row is never written twice.
async fn insert_numbered<C: ConnectionTrait>(
    conn: &C,
    am: &case::ActiveModel,
    now: DateTime<Utc>,
) -> Result<(i64, String), AppError> {
    use sea_orm::{DbBackend, Iterable, Statement, Value};
    let backend = conn.get_database_backend();
    let mut columns = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for col in case::Column::iter() {
        if let sea_orm::ActiveValue::Set(v) = am.get(col) {
            columns.push(format!("\"{}\"", sea_orm::IdenStatic::as_str(&col)));
            values.push(v);
        }
    }
    let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
    let day = now
        .with_timezone(&sla::SHANGHAI)
        .format("%Y%m%d")
        .to_string();
    values.push(day.into());
    let day_param = values.len();
    let (next_id, padded) = match backend {
        DbBackend::Postgres => (
            "SELECT nextval(pg_get_serial_sequence('\"case\"', 'id')) AS id",
            "CASE WHEN n.id < 1000000 THEN lpad(n.id::text, 6, '0') ELSE n.id::text END",
        ),
        _ => (
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'case'), 0), \
             COALESCE((SELECT MAX(id) FROM \"case\"), 0)) + 1 AS id",
            "printf('%06d', n.id)",
        ),
    };
    let sql = format!(
        "WITH n AS ({next_id}) INSERT INTO \"case\" (\"id\", \"number\", {}) \
         SELECT n.id, ${day_param} || {padded}, {} FROM n RETURNING \"id\", \"number\"",
        columns.join(", "),
        placeholders.join(", "),
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("case insert returned no row")))?;
    Ok((row.try_get("", "id")?, row.try_get("", "number")?))
}

/// The public's tip-off (举报).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TipInput {
    /// Category code, e.g. `OPEN_BURNING`.
    pub category_code: String,
    /// What the tipster saw.
    pub description: String,
    /// Where.
    pub location: Location,
    /// Address as the tipster describes it.
    pub address: Option<String>,
    /// A phone number for a call-back (stored encrypted in the vault).
    pub phone: Option<String>,
}

/// What a tip-off says, checked: description, address, call-back phone, place.
fn read_tip(
    input: &TipInput,
) -> Result<(String, Option<String>, Option<Phone>, WgsPoint), AppError> {
    let description = clean(&input.description, "问题描述", "description", 5, 2000)?;
    let address = input
        .address
        .as_deref()
        .map(|a| clean(a, "地址", "address", 1, 200))
        .transpose()?;
    let phone = input.phone.as_deref().map(Phone::try_from).transpose()?;
    Ok((description, address, phone, input.location.read()?))
}

/// The tipster follows the case (sees it in `myTips`, may rate it).
async fn follow<C: ConnectionTrait>(
    conn: &C,
    case_id: i64,
    tipster_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    case_follower::Entity::insert(case_follower::ActiveModel {
        case_id: Set(case_id),
        tipster_id: Set(tipster_id),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The first on-duty inspector of a village grid, if any.
async fn on_duty_inspector<C: ConnectionTrait>(
    conn: &C,
    region: &RegionNode,
) -> Result<Option<app_user::Model>, AppError> {
    if region.level != RegionLevel::Village {
        return Ok(None);
    }
    Ok(app_user::Entity::find()
        .filter(app_user::Column::RegionId.eq(region.id))
        .filter(app_user::Column::Role.eq(Role::Inspector.as_str()))
        .filter(app_user::Column::Active.eq(true))
        .filter(app_user::Column::OnDuty.eq(true))
        .order_by_asc(app_user::Column::Id)
        .one(conn)
        .await?)
}

/// The door a tip-off came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipDoor {
    /// The WeChat mini-program (GraphQL `submitTip`).
    Wechat,
    /// An Open311 GeoReport v2 client app.
    Open311,
}

impl TipDoor {
    fn source(self) -> CaseSource {
        match self {
            Self::Wechat => CaseSource::Tip,
            Self::Open311 => CaseSource::Open311,
        }
    }
}

/// Submits a tip-off: routed to the village grid of its location (nearest township,
/// flagged, outside every grid), dispatched at once to the grid's on-duty inspector
/// when there is one, linked to an open case nearby as a possible duplicate.
pub async fn submit_tip(
    svc: &Services,
    viewer: &Viewer,
    input: TipInput,
    idempotency_key: &str,
) -> Result<case::Model, AppError> {
    submit_tip_via(svc, viewer, input, idempotency_key, TipDoor::Wechat).await
}

/// [`submit_tip`] through a given door: the same rules whichever way a tip-off comes
/// in; only the case's `source` tells the doors apart.
pub async fn submit_tip_via(
    svc: &Services,
    viewer: &Viewer,
    input: TipInput,
    idempotency_key: &str,
    door: TipDoor,
) -> Result<case::Model, AppError> {
    let me = viewer.public()?.clone();
    let idem = IdemKey::new(
        viewer.idempotency_scope(),
        idempotency_key,
        "SUBMIT_TIP",
        &input,
    )?;
    if let Some(done) = idem.replay(&svc.db).await? {
        return Ok(done);
    }
    let (description, address, phone, point) = read_tip(&input)?;
    let cat = category_by_code(&svc.db, &input.category_code).await?;
    let grid = svc.grid.snapshot();
    let (region, outside) = route(&grid, point)?;
    let region = region.clone();
    let limits = svc.cache.limits(&svc.db, cat.id).await?;
    let calendar = svc.cache.calendar(&svc.db).await?;
    let rules = svc.cache.rules(&svc.db, cat.id).await?;
    let title: String = description.chars().take(30).collect();
    let accuracy_m = input.location.accuracy_m;
    let (vault, clock, viewer) = (svc.vault.clone(), svc.clock.clone(), viewer.clone());
    // The public may see the words only once WeChat's text check passed them (or when
    // the county runs without the check).
    let text_check = if svc.config.wechat.checks_text() {
        TextCheck::Pending
    } else {
        TextCheck::Pass
    };
    uow::write(
        svc,
        Some(idem),
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let (limits, campaign_id) = crate::domain::campaigns::limits_for_new_case(
                    txn, &calendar, limits, cat.id, &region.path, now,
                )
                .await?;
                let on_duty = on_duty_inspector(txn, &region).await?;
                let status = match on_duty {
                    Some(_) => CaseStatus::Assigned,
                    None => CaseStatus::Pending,
                };
                let l = Limits {
                    calendar: &calendar,
                    limits: &limits,
                    rules: &rules,
                    category_id: cat.id,
                };
                let deadlines = plan(&l, Priority::Normal, now, on_duty.is_some(), false, None);
                let duplicate_of = find_duplicate(txn, &cat, point, now).await?;
                if let Some(p) = &phone {
                    crate::domain::tipsters::set_phone(txn, &vault, me.tipster_id, p).await?;
                }
                let auto = on_duty.as_ref().map(|u| u.id);
                let row = insert_case(
                    txn,
                    &viewer,
                    NewCase {
                        outside_grid: outside,
                        accuracy_m,
                        address,
                        tipster_id: Some(me.tipster_id),
                        assignee_id: auto,
                        accepted: on_duty.is_some(),
                        deadlines,
                        campaign_id,
                        duplicate_of,
                        tracking_code: Some(new_tracking_code()),
                        text_check: Some(text_check),
                        ..NewCase::base(
                            door.source(),
                            cat,
                            (title, description),
                            (region, point),
                            status,
                        )
                    },
                    "SUBMIT_TIP",
                    json!({ "outsideGrid": outside, "autoAssignedTo": auto, "possibleDuplicateOf": duplicate_of }),
                    now,
                )
                .await?;
                follow(txn, row.id, me.tipster_id, now).await?;
                Ok(row)
            })
        }),
    )
    .await
}

/// An inspector's report of a problem found on patrol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportInput {
    /// Category code.
    pub category_code: String,
    /// What was found.
    pub description: String,
    /// Where (must be inside the inspector's own grid).
    pub location: Location,
    /// The reporter's own open patrol it was found on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patrol_id: Option<i64>,
}

/// Reports a problem found on patrol: starts `IN_PROGRESS`, assigned to the reporter,
/// who must be standing in their own grid.
pub async fn report_case(
    svc: &Services,
    viewer: &Viewer,
    input: ReportInput,
    idempotency_key: &str,
) -> Result<case::Model, AppError> {
    let me = viewer.staff_with(&[Role::Inspector])?.clone();
    let idem = IdemKey::new(
        viewer.idempotency_scope(),
        idempotency_key,
        "REPORT_CASE",
        &input,
    )?;
    if let Some(done) = idem.replay(&svc.db).await? {
        return Ok(done);
    }
    let description = clean(&input.description, "问题描述", "description", 5, 2000)?;
    let point = input.location.read()?;
    let cat = category_by_code(&svc.db, &input.category_code).await?;
    let patrol_id = match input.patrol_id {
        Some(id) => Some(crate::domain::patrols::open_patrol_of(&svc.db, &me, id).await?),
        None => None,
    };
    let grid = svc.grid.snapshot();
    let region = grid
        .locate(point)
        .filter(|r| r.id == me.region_id)
        .ok_or_else(|| {
            AppError::bad_input(
                "OUTSIDE_OWN_GRID",
                Msg::new(
                    "上报位置不在你负责的网格内",
                    "the location is outside your own grid",
                ),
            )
            .at("location")
        })?
        .clone();
    let limits = svc.cache.limits(&svc.db, cat.id).await?;
    let calendar = svc.cache.calendar(&svc.db).await?;
    let rules = svc.cache.rules(&svc.db, cat.id).await?;
    let title: String = description.chars().take(30).collect();
    let accuracy_m = input.location.accuracy_m;
    let (clock, viewer) = (svc.clock.clone(), viewer.clone());
    uow::write(
        svc,
        Some(idem),
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let (limits, campaign_id) = crate::domain::campaigns::limits_for_new_case(
                    txn,
                    &calendar,
                    limits,
                    cat.id,
                    &region.path,
                    now,
                )
                .await?;
                let l = Limits {
                    calendar: &calendar,
                    limits: &limits,
                    rules: &rules,
                    category_id: cat.id,
                };
                let deadlines = plan(&l, Priority::Normal, now, true, true, None);
                let row = insert_case(
                    txn,
                    &viewer,
                    NewCase {
                        accuracy_m,
                        reporter_id: Some(me.user_id),
                        created_by: Some(me.user_id),
                        assignee_id: Some(me.user_id),
                        accepted: true,
                        started: true,
                        deadlines,
                        campaign_id,
                        ..NewCase::base(
                            CaseSource::Patrol,
                            cat,
                            (title, description),
                            (region, point),
                            CaseStatus::InProgress,
                        )
                    },
                    "REPORT",
                    json!({}),
                    now,
                )
                .await?;
                if let Some(pid) = patrol_id {
                    crate::domain::patrols::link_case(txn, pid, row.id).await?;
                }
                Ok(row)
            })
        }),
    )
    .await
}

/// A supervisor's inspection task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskInput {
    /// Category code.
    pub category_code: String,
    /// Short title.
    pub title: String,
    /// What to do.
    pub description: String,
    /// Where, if a point is known …
    pub location: Option<Location>,
    /// … otherwise the grid (its centre is used as the location).
    pub region_id: Option<i64>,
    /// Inspector to dispatch to at once.
    pub assignee_id: Option<i64>,
    /// An explicit deadline (default: the category's handling limit).
    pub due_at: Option<DateTime<Utc>>,
    /// The supervised site the task is about.
    pub site_id: Option<i64>,
    /// Priority (`NORMAL` when omitted).
    pub priority: Option<Priority>,
}

/// An active supervised site within the supervisor's region, or `NOT_FOUND` (a missing
/// site and one outside scope look alike).
async fn site_in_scope<C: ConnectionTrait>(
    conn: &C,
    me: &StaffViewer,
    id: i64,
) -> Result<supervised_site::Model, AppError> {
    supervised_site::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|s| s.active && me.covers(&s.region_path))
        .ok_or_else(|| AppError::not_found("监管对象", "site"))
}

/// Where a task is: the given location, else the site's, else the grid's centre.
fn task_place(
    grid: &GridSnapshot,
    location: Option<Location>,
    site: Option<&supervised_site::Model>,
    region_id: Option<i64>,
) -> Result<(RegionNode, WgsPoint), AppError> {
    match (location, site, region_id) {
        (Some(loc), _, _) => {
            let p = loc.read()?;
            let (r, _) = route(grid, p)?;
            Ok((r.clone(), p))
        }
        (None, Some(s), _) => {
            let r = grid
                .get(s.region_id)
                .ok_or_else(|| AppError::not_found("监管对象", "site"))?;
            Ok((
                r.clone(),
                WgsPoint::from_client(s.lat, s.lng, CoordSystem::Wgs84)?,
            ))
        }
        (None, None, Some(rid)) => {
            let r = grid
                .get(rid)
                .ok_or_else(|| AppError::not_found("区域", "region"))?;
            let (lat, lng) = r.centroid.ok_or_else(|| {
                AppError::bad_input(
                    "REGION_WITHOUT_BOUNDARY",
                    Msg::new(
                        "该区域没有边界，请给出位置",
                        "the region has no boundary; give a location",
                    ),
                )
                .at("location")
            })?;
            Ok((
                r.clone(),
                WgsPoint::from_client(lat, lng, CoordSystem::Wgs84)?,
            ))
        }
        (None, None, None) => Err(AppError::bad_input(
            "LOCATION_REQUIRED",
            Msg::new(
                "请给出位置、监管对象或网格",
                "give a location, a siteId or a regionId",
            ),
        )
        .at("location")),
    }
}

/// Checks what a task names — its site, its place, its assignee — for existence and
/// scope: `NOT_FOUND` for anything missing or outside the supervisor's region.
async fn task_references(
    svc: &Services,
    me: &StaffViewer,
    input: &TaskInput,
) -> Result<(Option<supervised_site::Model>, RegionNode, WgsPoint), AppError> {
    let grid = svc.grid.snapshot();
    let site = match input.site_id {
        Some(id) => Some(site_in_scope(&svc.db, me, id).await?),
        None => None,
    };
    let (region, point) = task_place(&grid, input.location, site.as_ref(), input.region_id)?;
    if !path_is_within(&region.path, &me.region_path) {
        return Err(AppError::not_found("区域", "region"));
    }
    if let Some(a) = input.assignee_id {
        let u = app_user::Entity::find_by_id(a).one(&svc.db).await?;
        if !u.is_some_and(|u| super::workflow::eligible_inspector(&grid, me, &u)) {
            return Err(AppError::not_found("网格员", "inspector"));
        }
    }
    Ok((site, region, point))
}

/// Creates an inspection task: `ASSIGNED` with an assignee, else `PENDING`. The place is
/// the given location, else the site's, else the grid's centre. Every reference (category,
/// region, site, assignee) must exist and lie within the supervisor's region.
pub async fn create_task(
    svc: &Services,
    viewer: &Viewer,
    input: TaskInput,
    idempotency_key: Option<&str>,
) -> Result<case::Model, AppError> {
    let me = viewer
        .staff_with(&[Role::TownshipSupervisor, Role::CountyAdmin])?
        .clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "CREATE_TASK", &input))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let title = clean(&input.title, "标题", "title", 2, 200)?;
    let description = clean(&input.description, "任务说明", "description", 2, 2000)?;
    let cat = category_by_code(&svc.db, &input.category_code).await?;
    let priority = input.priority.unwrap_or(Priority::Normal);
    let (site, region, point) = task_references(svc, &me, &input).await?;
    let now = svc.clock.now();
    if let Some(d) = input.due_at {
        crate::domain::dates::deadline(d, now, "dueAt")?;
    }
    let limits = svc.cache.limits(&svc.db, cat.id).await?;
    let calendar = svc.cache.calendar(&svc.db).await?;
    let rules = svc.cache.rules(&svc.db, cat.id).await?;
    let status = if input.assignee_id.is_some() {
        CaseStatus::Assigned
    } else {
        CaseStatus::Pending
    };
    let accuracy_m = input.location.and_then(|l| l.accuracy_m);
    let (clock, viewer) = (svc.clock.clone(), viewer.clone());
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let (limits, campaign_id) = crate::domain::campaigns::limits_for_new_case(
                    txn,
                    &calendar,
                    limits,
                    cat.id,
                    &region.path,
                    now,
                )
                .await?;
                let l = Limits {
                    calendar: &calendar,
                    limits: &limits,
                    rules: &rules,
                    category_id: cat.id,
                };
                let deadlines = plan(&l, priority, now, true, false, input.due_at);
                insert_case(
                    txn,
                    &viewer,
                    NewCase {
                        priority,
                        accuracy_m,
                        created_by: Some(me.user_id),
                        assignee_id: input.assignee_id,
                        site_id: site.map(|s| s.id),
                        accepted: true,
                        deadlines,
                        campaign_id,
                        ..NewCase::base(
                            CaseSource::Task,
                            cat,
                            (title, description),
                            (region, point),
                            status,
                        )
                    },
                    "CREATE_TASK",
                    json!({ "assigneeId": input.assignee_id, "siteId": input.site_id }),
                    now,
                )
                .await
            })
        }),
    )
    .await
}

/// A 双随机 inspection task (source `RANDOM`) for a drawn site, `ASSIGNED` to the first
/// inspector of its team, written in `conn`'s transaction with its first event
/// (`RANDOM_DRAW`, carrying `data`: the draw and the whole team). Called by
/// `domain::draws` inside the draw's own unit of work.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one task, each from a different place"
)]
pub(crate) async fn insert_random_task<C: ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    category: category::Model,
    (title, description): (String, String),
    site: &supervised_site::Model,
    region: RegionNode,
    (created_by, assignee_id): (i64, i64),
    deadlines: Deadlines,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<case::Model, AppError> {
    let point = WgsPoint::from_client(site.lat, site.lng, CoordSystem::Wgs84)?;
    insert_case(
        conn,
        viewer,
        NewCase {
            created_by: Some(created_by),
            assignee_id: Some(assignee_id),
            site_id: Some(site.id),
            address: site.address.clone(),
            accepted: true,
            deadlines,
            ..NewCase::base(
                CaseSource::Random,
                category,
                (title, description),
                (region, point),
                CaseStatus::Assigned,
            )
        },
        "RANDOM_DRAW",
        data,
        now,
    )
    .await
}
