//! Open311 GeoReport v2: the second door for tip-offs, for civic-reporting apps.
//!
//! One domain path, two doors: a request POSTed by a client app becomes a tip-off
//! through [`intake::submit_tip_via`], with the same routing, duplicate linking,
//! on-duty dispatch, text check and idempotency as WeChat's `submitTip`. What is
//! Open311-specific lives here: the client apps and their keys, who the reporter is,
//! how a retry is recognised, and what the public may read of a request.
//!
//! - `service_code` is a category code; `service_request_id` is the tracking code.
//! - The reporter is a tipster per (client app, `account_id` | `device_id` | `email` |
//!   `phone`, the first given; else the app's anonymous reporter), looked up under a
//!   hash kind of its own so it never meets a WeChat openid.
//! - A retry is recognised by the `Idempotency-Key` the app sends, or, without one, by
//!   the request itself: the same reporter sending the same request again within the
//!   idempotency retention gets the first answer.
//! - The public reads requests at the village grid's level: the grid's centroid (to 3
//!   decimals) and its name, never the reported point, the address typed or anything of
//!   the reporter; the words only once the text check passed them (as `PublicCase`).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use entity::enums::CaseStatus;
use entity::{case, category, open311_client};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use super::Services;
use super::access::{PublicViewer, Role, Viewer};
use super::cases::intake::{self, Location, TipDoor, TipInput};
use super::cases::public::public_description;
use super::grid::{RegionLevel, path_is_within};
use crate::error::{AppError, Msg};

/// Most client apps one county may have.
pub const MAX_CLIENTS: usize = 100;
/// Most requests one query returns (the spec's default volume).
pub const MAX_REQUESTS: u64 = 1_000;
/// The longest `start_date`–`end_date` span, and the default window.
pub const MAX_WINDOW_DAYS: i64 = 90;
/// Most ids one `service_request_id` filter may list.
pub const MAX_IDS: usize = 200;
/// Decimals of the coordinates the public reads (~100 m; they are a grid's centroid).
const PUBLIC_DECIMALS: i32 = 3;

fn client_not_found() -> AppError {
    AppError::not_found("Open311 客户端", "Open311 client")
}

/// SHA-256 (hex) of an api_key: keys are 32 random bytes, so a plain hash is enough.
fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

/// Issues an api_key to a client app (county staff). Returns the client and the key,
/// shown this once.
pub async fn create_client(
    svc: &Services,
    viewer: &Viewer,
    name: &str,
) -> Result<(open311_client::Model, String), AppError> {
    let admin = viewer.staff_with(&[Role::CountyAdmin])?.clone();
    let name = name.trim();
    let n = name.chars().count();
    if !(2..=100).contains(&n) {
        return Err(AppError::bad_input(
            "INVALID_NAME",
            Msg::new(
                "客户端名称应为 2 到 100 个字",
                "the client name must be 2–100 characters",
            ),
        )
        .at("name"));
    }
    if list_clients(svc, viewer).await?.len() >= MAX_CLIENTS {
        return Err(AppError::bad_input(
            "TOO_MANY_CLIENTS",
            Msg::new(
                format!("Open311 客户端最多 {MAX_CLIENTS} 个，请先吊销不用的"),
                format!("at most {MAX_CLIENTS} Open311 clients; revoke unused ones first"),
            ),
        ));
    }
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    let key = format!("o311_{}", hex::encode(raw));
    let row = open311_client::ActiveModel {
        name: Set(name.to_owned()),
        key_hash: Set(key_hash(&key)),
        key_prefix: Set(key.chars().take(12).collect()),
        region_id: Set(admin.region_id),
        created_by: Set(admin.user_id),
        created_at: Set(svc.clock.now()),
        revoked_at: Set(None),
        ..Default::default()
    };
    let client = super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| Box::pin(async move { Ok(row.insert(txn).await?) })),
    )
    .await?;
    tracing::info!(
        open311.client = client.id,
        user.id = admin.user_id,
        "Open311 api_key issued"
    );
    Ok((client, key))
}

/// The client apps issued within the county admin's region, oldest first.
pub async fn list_clients(
    svc: &Services,
    viewer: &Viewer,
) -> Result<Vec<open311_client::Model>, AppError> {
    let admin = viewer.staff_with(&[Role::CountyAdmin])?;
    let grid = svc.grid.snapshot();
    Ok(open311_client::Entity::find()
        .order_by_asc(open311_client::Column::Id)
        .all(&svc.db)
        .await?
        .into_iter()
        .filter(|c| {
            grid.get(c.region_id)
                .is_some_and(|r| path_is_within(&r.path, &admin.region_path))
        })
        .collect())
}

/// Revokes a client's api_key for good (county staff); revoking twice is harmless.
pub async fn revoke_client(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<open311_client::Model, AppError> {
    let client = list_clients(svc, viewer)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(client_not_found)?;
    if client.revoked_at.is_some() {
        return Ok(client);
    }
    let mut am: open311_client::ActiveModel = client.into();
    am.revoked_at = Set(Some(svc.clock.now()));
    super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| Box::pin(async move { Ok(am.update(txn).await?) })),
    )
    .await
}

/// The client app an api_key belongs to; `FORBIDDEN` for a missing, unknown or
/// revoked key.
pub async fn client_by_key(
    svc: &Services,
    api_key: Option<&str>,
) -> Result<open311_client::Model, AppError> {
    let key = api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(AppError::Forbidden)?;
    open311_client::Entity::find()
        .filter(open311_client::Column::KeyHash.eq(key_hash(key)))
        .one(&svc.db)
        .await?
        .filter(|c| c.revoked_at.is_none())
        .ok_or(AppError::Forbidden)
}

/// A request as a client app POSTs it (the form fields we use; the rest —
/// `first_name`, `last_name`, `attribute[…]`, `jurisdiction_id` — is not kept).
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    /// `service_code`: a category code.
    pub service_code: Option<String>,
    /// `lat` (WGS-84), as sent.
    pub lat: Option<String>,
    /// `long` (WGS-84), as sent.
    pub long: Option<String>,
    /// `address_string`: kept as the case's address, but not enough to route.
    pub address_string: Option<String>,
    /// `address_id`: not enough to route either.
    pub address_id: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `media_url`: not fetched.
    pub media_url: Option<String>,
    /// `account_id`, `device_id`, `email`: who the reporter is to the app.
    pub account_id: Option<String>,
    /// See `account_id`.
    pub device_id: Option<String>,
    /// See `account_id`.
    pub email: Option<String>,
    /// `phone`: kept encrypted, like every tipster's phone, never shown back.
    pub phone: Option<String>,
}

/// An empty optional argument behaves like an absent one (the spec's rule).
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn coordinate(
    v: &str,
    range: f64,
    detail: &'static str,
    name: &'static str,
) -> Result<f64, AppError> {
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && x.abs() <= range)
        .ok_or_else(|| {
            AppError::bad_input(
                detail,
                Msg::new(format!("{name} 无效：{v}"), format!("invalid {name}: {v}")),
            )
        })
}

/// Who the reporter is to the client app, as stored: the first of `account_id`,
/// `device_id`, `email`, `phone` given, else the app's anonymous reporter.
fn reporter(req: &NewRequest) -> Result<String, AppError> {
    let too_long = |what: &'static str| {
        AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                format!("{what} 最长 200 个字符"),
                format!("{what} must be at most 200 characters"),
            ),
        )
    };
    for (kind, v) in [
        ("account", given(&req.account_id)),
        ("device", given(&req.device_id)),
    ] {
        if let Some(v) = v {
            if v.chars().count() > 200 {
                return Err(too_long(if kind == "account" {
                    "account_id"
                } else {
                    "device_id"
                }));
            }
            return Ok(format!("{kind}:{v}"));
        }
    }
    if let Some(e) = given(&req.email) {
        let ok = e.len() <= 254
            && e.split_once('@')
                .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !e.contains(' '));
        if !ok {
            return Err(AppError::bad_input(
                "INVALID_EMAIL",
                Msg::new("email 格式不正确", "malformed email"),
            ));
        }
        return Ok(format!("email:{}", e.to_lowercase()));
    }
    if let Some(p) = given(&req.phone) {
        let p = super::phone::Phone::try_from(p)?;
        return Ok(format!("phone:{}", p.as_str()));
    }
    Ok("anonymous".into())
}

/// A checked request, its reporter resolved: ready for the rate limits and [`submit`].
#[derive(Debug)]
pub struct Prepared {
    viewer: Viewer,
    tip: TipInput,
    key: String,
    media_ignored: bool,
}

impl Prepared {
    /// The tipster the request is reported as (for the per-user rate limit).
    pub fn tipster_id(&self) -> Option<i64> {
        match &self.viewer {
            Viewer::Public(p) => Some(p.tipster_id),
            _ => None,
        }
    }
}

/// Checks a request and resolves its reporter's tipster (created on first use).
/// `idempotency_key` is the app's `Idempotency-Key`, if it sent one.
pub async fn prepare(
    svc: &Services,
    client: &open311_client::Model,
    req: NewRequest,
    idempotency_key: Option<&str>,
) -> Result<Prepared, AppError> {
    let code = given(&req.service_code).ok_or_else(|| {
        AppError::bad_input(
            "SERVICE_CODE_REQUIRED",
            Msg::new("缺少 service_code", "service_code is required"),
        )
    })?;
    // An unknown service is an unknown resource (404 in the spec).
    let cat = category::Entity::find()
        .filter(category::Column::Code.eq(code))
        .filter(category::Column::Active.eq(true))
        .one(&svc.db)
        .await?
        .ok_or_else(|| AppError::not_found("服务类别（service_code）", "service_code"))?;
    let (lat, long) = match (given(&req.lat), given(&req.long)) {
        (Some(lat), Some(long)) => (
            coordinate(lat, 90.0, "INVALID_LATITUDE", "lat")?,
            coordinate(long, 180.0, "INVALID_LONGITUDE", "long")?,
        ),
        _ => {
            return Err(AppError::bad_input(
                "LOCATION_REQUIRED",
                Msg::new(
                    "请提供经纬度 lat 和 long（WGS-84）：举报按坐标分派到网格，仅有 address_string 或 address_id 无法受理",
                    "lat and long (WGS-84) are required: requests are routed to their grid by coordinates, an address_string or address_id alone cannot be routed",
                ),
            ));
        }
    };
    let who = reporter(&req)?;
    let description = match given(&req.description) {
        Some(d) => d.to_owned(),
        None => format!("{}（Open311 上报，未附描述）", cat.name),
    };
    let tip = TipInput {
        category_code: cat.code,
        description,
        location: Location {
            lat,
            lng: long,
            gcj02: false,
            accuracy_m: None,
        },
        address: given(&req.address_string).map(str::to_owned),
        phone: given(&req.phone).map(str::to_owned),
    };
    // Without a key of the app's own, the request is its own key: the same reporter
    // sending the same request again is a retry.
    let key = match idempotency_key.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => k.to_owned(),
        None => {
            let json = serde_json::to_vec(&tip)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("open311 fingerprint: {e}")))?;
            format!("o311-{}", &hex::encode(Sha256::digest(&json))[..40])
        }
    };
    let t = super::tipsters::find_or_create_open311(svc, client.id, &who).await?;
    Ok(Prepared {
        viewer: Viewer::Public(PublicViewer {
            tipster_id: t.id,
            handle: t.handle,
        }),
        tip,
        key,
        media_ignored: given(&req.media_url).is_some(),
    })
}

/// The answer to a POST: the tracking code, and a notice for the reporter.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// `service_request_id`: the tracking code.
    pub service_request_id: String,
    /// `service_notice`.
    pub service_notice: String,
}

/// Submits a prepared request as a tip-off (the one domain path of `submitTip`).
pub async fn submit(svc: &Services, p: Prepared) -> Result<Receipt, AppError> {
    let c = intake::submit_tip_via(svc, &p.viewer, p.tip, &p.key, TipDoor::Open311).await?;
    let mut notice = String::from(
        "已收到您的举报，请凭 service_request_id 查询办理进度 / received; follow it by its service_request_id",
    );
    if p.media_ignored {
        notice.push_str(
            "。media_url 中的照片不会被下载，请通过微信小程序补充照片 / photos at media_url are not fetched",
        );
    }
    Ok(Receipt {
        service_request_id: c.tracking_code.unwrap_or_default(),
        service_notice: notice,
    })
}

/// A service: an active category.
#[derive(Debug, Clone)]
pub struct Service {
    /// `service_code`.
    pub code: String,
    /// `service_name`.
    pub name: String,
    /// `description`.
    pub description: String,
}

/// The services (active categories), in picker order.
pub async fn services(svc: &Services) -> Result<Vec<Service>, AppError> {
    Ok(super::category::list_active(&svc.db)
        .await?
        .into_iter()
        .map(|c| Service {
            code: c.code,
            name: c.name,
            description: c.description,
        })
        .collect())
}

/// One service; `NOT_FOUND` for an unknown or retired code.
pub async fn service(svc: &Services, code: &str) -> Result<Service, AppError> {
    services(svc)
        .await?
        .into_iter()
        .find(|s| s.code == code)
        .ok_or_else(|| AppError::not_found("服务类别（service_code）", "service_code"))
}

/// A request as the public reads it.
#[derive(Debug, Clone)]
pub struct PublicRequest {
    /// `service_request_id`: the tracking code.
    pub service_request_id: String,
    /// `open` unless the case is closed or turned down.
    pub open: bool,
    /// What is happening, in words for the public.
    pub status_notes: &'static str,
    /// `service_code`.
    pub service_code: String,
    /// `service_name`.
    pub service_name: String,
    /// The words, once the text check passed them.
    pub description: Option<String>,
    /// The township handling it.
    pub agency_responsible: Option<String>,
    /// When it came in.
    pub requested: DateTime<Utc>,
    /// Last change (for a closed request: when it was closed).
    pub updated: DateTime<Utc>,
    /// The handling deadline.
    pub expected: Option<DateTime<Utc>>,
    /// The grid's name (township and village), never the address typed.
    pub address: Option<String>,
    /// The grid's centroid (rounded), never the reported point.
    pub lat: f64,
    /// See `lat`.
    pub long: f64,
}

/// The public's words for a tip-off merged into an open case.
const MERGED_NOTES: &str =
    "与同一问题的其他举报合并办理 / handled together with another report of the same problem";

/// The public's words for a status.
fn status_notes(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Pending => "已收到，等待受理 / received, awaiting acceptance",
        CaseStatus::Assigned => "已派发网格员处理 / dispatched to a grid inspector",
        CaseStatus::InProgress => "网格员正在现场处置 / being handled on site",
        CaseStatus::Submitted => "处置结果等待核查 / result awaiting verification",
        CaseStatus::Closed => "经核查已办结 / resolved and verified",
        CaseStatus::Rejected => "经核实不予受理 / not accepted after review",
    }
}

fn round(x: f64) -> f64 {
    let f = 10f64.powi(PUBLIC_DECIMALS);
    (x * f).round() / f
}

/// The public view of `c`; a merged tip-off follows the case it was merged into
/// (`survivor`), as `tipByTrackingCode` does, but keeps its own id, words and place.
fn public_request(
    grid: &super::grid::GridSnapshot,
    categories: &[category::Model],
    c: case::Model,
    survivor: Option<&case::Model>,
) -> PublicRequest {
    let cat = categories.iter().find(|k| k.id == c.category_id);
    let region = grid.get(c.region_id);
    let township = region.and_then(|r| grid.ancestor_at(r, RegionLevel::Township));
    // Without a boundary (no centroid) the point is cut to ~1 km instead.
    let (lat, long) = match region.and_then(|r| r.centroid) {
        Some((la, lo)) => (round(la), round(lo)),
        None => (
            (c.lat * 100.0).round() / 100.0,
            (c.lng * 100.0).round() / 100.0,
        ),
    };
    let address = match (township, region) {
        (Some(t), Some(r)) if t.id != r.id => Some(format!("{}{}", t.name, r.name)),
        (_, Some(r)) => Some(r.name.clone()),
        _ => None,
    };
    let state = survivor.unwrap_or(&c);
    let open = CaseStatus::OPEN.contains(&state.status);
    let notes = match survivor {
        Some(_) if open => MERGED_NOTES,
        _ => status_notes(state.status),
    };
    PublicRequest {
        service_request_id: c.tracking_code.clone().unwrap_or_default(),
        open,
        status_notes: notes,
        service_code: cat.map(|k| k.code.clone()).unwrap_or_default(),
        service_name: cat.map(|k| k.name.clone()).unwrap_or_default(),
        description: public_description(&c).map(str::to_owned),
        agency_responsible: township.map(|t| t.name.clone()),
        requested: c.created_at,
        updated: if open {
            state.updated_at
        } else {
            state.closed_at.unwrap_or(state.updated_at)
        },
        expected: state.due_at,
        address,
        lat,
        long,
    }
}

/// The query of `GET requests`, as sent (every field optional).
#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    /// Comma list; overrides every other filter.
    pub service_request_id: Option<String>,
    /// Comma list of category codes.
    pub service_code: Option<String>,
    /// `open`, `closed` or both, comma-separated.
    pub status: Option<String>,
    /// Earliest `requested_datetime`.
    pub start_date: Option<String>,
    /// Latest `requested_datetime`.
    pub end_date: Option<String>,
}

fn parse_date(v: &str, field: &'static str) -> Result<DateTime<Utc>, AppError> {
    let t = DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        // Tolerated: no zone (read as UTC), or a bare date (its start, UTC).
        .or_else(|| {
            NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
        .ok_or_else(|| {
            AppError::bad_input(
                "INVALID_DATE",
                Msg::new(
                    format!("{field} 不是有效的 ISO 8601 时间（如 2026-12-01T00:00:00+08:00）"),
                    format!("{field} is not a valid ISO 8601 datetime (e.g. 2026-12-01T00:00:00Z)"),
                ),
            )
        })?;
    super::dates::filter_date(t, field)
}

/// The window of a query: the given dates, at most 90 days apart; by default the last
/// 90 days.
fn window(
    q: &RequestQuery,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let span = Duration::days(MAX_WINDOW_DAYS);
    let start = given(&q.start_date)
        .map(|v| parse_date(v, "start_date"))
        .transpose()?;
    let end = given(&q.end_date)
        .map(|v| parse_date(v, "end_date"))
        .transpose()?;
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, (s + span).min(now.max(s))),
        (None, Some(e)) => (e - span, e),
        (None, None) => (now - span, now),
    };
    if end < start || end - start > span {
        return Err(AppError::bad_input(
            "INVALID_DATE_RANGE",
            Msg::new(
                format!("start_date 须早于 end_date，且相隔不超过 {MAX_WINDOW_DAYS} 天"),
                format!("start_date must precede end_date by at most {MAX_WINDOW_DAYS} days"),
            ),
        ));
    }
    Ok((start, end))
}

fn list(v: &Option<String>) -> Vec<String> {
    given(v)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Public tip-offs (both doors) matching the query, newest first, at most
/// [`MAX_REQUESTS`].
pub async fn requests(svc: &Services, q: &RequestQuery) -> Result<Vec<PublicRequest>, AppError> {
    let mut cond = Condition::all()
        .add(case::Column::Source.is_in([
            entity::enums::CaseSource::Tip,
            entity::enums::CaseSource::Open311,
        ]))
        .add(case::Column::TrackingCode.is_not_null());
    let mut want_open = None;
    let ids = list(&q.service_request_id);
    if !ids.is_empty() {
        if ids.len() > MAX_IDS {
            return Err(AppError::bad_input(
                "TOO_MANY_IDS",
                Msg::new(
                    format!("service_request_id 最多 {MAX_IDS} 个"),
                    format!("at most {MAX_IDS} service_request_id values"),
                ),
            ));
        }
        // A malformed id cannot match anything: it is left out, like an unknown one.
        let codes: Vec<String> = ids
            .iter()
            .filter_map(|i| super::cases::normalise_tracking_code(i).ok())
            .collect();
        cond = cond.add(case::Column::TrackingCode.is_in(codes));
    } else {
        let (start, end) = window(q, svc.clock.now())?;
        cond = cond
            .add(case::Column::CreatedAt.gte(start))
            .add(case::Column::CreatedAt.lte(end));
        let codes = list(&q.service_code);
        if !codes.is_empty() {
            let cat_ids: Vec<i64> = category::Entity::find()
                .filter(category::Column::Code.is_in(codes))
                .all(&svc.db)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            cond = cond.add(case::Column::CategoryId.is_in(cat_ids));
        }
        let statuses = list(&q.status);
        let (mut open, mut closed) = (statuses.is_empty(), statuses.is_empty());
        for s in &statuses {
            match s.to_ascii_lowercase().as_str() {
                "open" => open = true,
                "closed" => closed = true,
                _ => {
                    return Err(AppError::bad_input(
                        "INVALID_STATUS",
                        Msg::new(
                            format!("status 应为 open 或 closed，而不是 {s}"),
                            format!("status must be open or closed, not {s}"),
                        ),
                    ));
                }
            }
        }
        // A merged tip-off is as open as the case it was merged into: the database
        // narrows, the answer below decides.
        match (open, closed) {
            (true, false) => {
                want_open = Some(true);
                cond = cond.add(
                    Condition::any()
                        .add(case::Column::Status.is_in(CaseStatus::OPEN))
                        .add(case::Column::MergedInto.is_not_null()),
                );
            }
            (false, true) => {
                want_open = Some(false);
                cond = cond.add(case::Column::Status.is_not_in(CaseStatus::OPEN));
            }
            _ => {}
        }
    }
    let rows = case::Entity::find()
        .filter(cond)
        .order_by_desc(case::Column::CreatedAt)
        .order_by_desc(case::Column::Id)
        .limit(MAX_REQUESTS)
        .all(&svc.db)
        .await?;
    let merged: Vec<i64> = rows.iter().filter_map(|c| c.merged_into).collect();
    let survivors = if merged.is_empty() {
        Vec::new()
    } else {
        case::Entity::find()
            .filter(case::Column::Id.is_in(merged))
            .all(&svc.db)
            .await?
    };
    let categories = category::Entity::find().all(&svc.db).await?;
    let grid = svc.grid.snapshot();
    Ok(rows
        .into_iter()
        .map(|c| {
            let survivor = c
                .merged_into
                .and_then(|id| survivors.iter().find(|s| s.id == id));
            public_request(&grid, &categories, c, survivor)
        })
        .filter(|r| want_open.is_none_or(|o| r.open == o))
        .collect())
}

/// One request by its id (tracking code); `NOT_FOUND` when there is none (a malformed
/// id included).
pub async fn request(svc: &Services, id: &str) -> Result<PublicRequest, AppError> {
    let not_found = || AppError::not_found("请求（service_request_id）", "service request");
    let code = super::cases::normalise_tracking_code(id).map_err(|_| not_found())?;
    let q = RequestQuery {
        service_request_id: Some(code),
        ..Default::default()
    };
    requests(svc, &q)
        .await?
        .into_iter()
        .next()
        .ok_or_else(not_found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn req(f: impl FnOnce(&mut NewRequest)) -> NewRequest {
        let mut r = NewRequest::default();
        f(&mut r);
        r
    }

    #[test]
    fn the_reporter_is_the_first_identity_given() {
        let cases: [(NewRequest, &str); 6] = [
            (req(|_| {}), "anonymous"),
            (req(|r| r.device_id = Some("  ".into())), "anonymous"),
            (
                req(|r| {
                    r.device_id = Some("dev-1".into());
                    r.account_id = Some("acc-9".into());
                }),
                "account:acc-9",
            ),
            (
                req(|r| {
                    r.device_id = Some("dev-1".into());
                    r.email = Some("a@b.cn".into());
                }),
                "device:dev-1",
            ),
            (
                req(|r| r.email = Some(" Li@Example.CN ".into())),
                "email:li@example.cn",
            ),
            (
                req(|r| r.phone = Some("13800138000".into())),
                "phone:13800138000",
            ),
        ];
        for (r, want) in cases {
            assert_eq!(reporter(&r).unwrap(), want, "{r:?}");
        }
        let bad = req(|r| r.email = Some("not-an-email".into()));
        assert_eq!(reporter(&bad).unwrap_err().detail(), Some("INVALID_EMAIL"));
    }

    #[test]
    fn windows_are_at_most_ninety_days() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let q = |s: Option<&str>, e: Option<&str>| RequestQuery {
            start_date: s.map(str::to_owned),
            end_date: e.map(str::to_owned),
            ..Default::default()
        };
        let (s, e) = window(&q(None, None), now).unwrap();
        assert_eq!((e - s).num_days(), 90);
        assert_eq!(e, now);
        let (s, _) = window(&q(Some("2026-11-01"), None), now).unwrap();
        assert_eq!(s.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert!(
            window(
                &q(Some("2026-12-01T00:00:00+08:00"), Some("2026-12-02")),
                now
            )
            .is_ok()
        );
        for (s, e, detail) in [
            (Some("2026-01-01"), Some("2026-12-01"), "INVALID_DATE_RANGE"),
            (Some("2026-12-02"), Some("2026-12-01"), "INVALID_DATE_RANGE"),
            (Some("yesterday"), None, "INVALID_DATE"),
            (Some("1900-01-01"), None, "DATE_OUT_OF_RANGE"),
        ] {
            assert_eq!(
                window(&q(s, e), now).unwrap_err().detail(),
                Some(detail),
                "{s:?} {e:?}"
            );
        }
    }

    #[test]
    fn keys_are_stored_as_hashes() {
        let h = key_hash("o311_abc");
        assert_eq!(h.len(), 64);
        assert_eq!(h, key_hash(" o311_abc "));
        assert_ne!(h, key_hash("o311_abd"));
    }
}
