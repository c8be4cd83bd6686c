//! Patrols (巡查): an inspector starts a patrol, uploads the GPS track in batches,
//! checks in at sites or anywhere (a "nothing found" check-in is a record too — 零报告),
//! may report cases on the way, and ends it. A patrol recorded offline is uploaded
//! afterwards with the client's timestamps.
//!
//! Tracks are kept compactly — one row per uploaded batch holding a packed blob
//! ([`track`]) — and the patrol row holds what the merged, time-ordered track adds up
//! to, recomputed from every batch whenever one arrives, so batches may come in any
//! order, late, or twice. Implausible data is flagged on the patrol, not refused and
//! not silently accepted: more than 120 km/h between consecutive points, client times
//! in the future, points far outside the inspector's grid.
//!
//! Only the inspector who walks a patrol writes to it; supervisors read the patrols of
//! their region, inspectors their own. Anything else answers like a missing patrol.

pub mod coverage;
pub mod plans;
pub mod track;

use chrono::{DateTime, Duration, Utc};
use entity::{
    patrol, patrol_case, patrol_checkin, patrol_plan, patrol_track_batch, supervised_site,
};
use geo::{Contains, Point};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use self::plans::LocalDate;
use self::track::{FUTURE_SKEW, TrackPoint};
use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::geo::{CoordSystem, WgsPoint};
use super::grid::{GridSnapshot, path_is_within, subtree};
use super::idempotency::IdemKey;
use super::page::{Page, PageRequest};
use super::uow;
use crate::error::{AppError, Msg};

/// Most points in one `appendTrack` call.
pub const MAX_BATCH_POINTS: usize = 5_000;
/// Most distinct points in one patrol (also the bound of `Patrol.track`).
pub const MAX_TRACK_POINTS: usize = 12_000;
/// Most check-ins in one patrol (also the bound of `Patrol.checkIns`).
pub const MAX_CHECKINS: u64 = 200;
/// How far outside the inspector's grid a point may lie before it is flagged.
pub const OUTSIDE_TOLERANCE_M: f64 = 2_000.0;
/// How long after the fact a patrol recorded offline may still be uploaded.
pub const MAX_UPLOAD_AGE: Duration = Duration::days(30);
/// Longest check-in note, in characters.
pub const MAX_NOTE: usize = 500;

fn patrol_not_found() -> AppError {
    AppError::not_found("巡查记录", "patrol")
}

/// The path of region `rid` if the viewer may narrow a list to it (a region above the
/// viewer's own narrows nothing; one beside it is `NOT_FOUND`).
pub fn region_in_scope(svc: &Services, staff: &StaffViewer, rid: i64) -> Result<String, AppError> {
    Ok(staff
        .narrowing_region(&svc.grid.snapshot(), rid)?
        .path
        .clone())
}

fn readable_by(staff: &StaffViewer, p: &patrol::Model) -> bool {
    match staff.role {
        Role::Inspector => p.inspector_id == staff.user_id,
        _ => staff.covers(&p.region_path),
    }
}

/// A patrol the viewer may read, or `NOT_FOUND`.
pub async fn get(svc: &Services, viewer: &Viewer, id: i64) -> Result<patrol::Model, AppError> {
    let staff = viewer.staff()?;
    patrol::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .filter(|p| readable_by(staff, p))
        .ok_or_else(patrol_not_found)
}

/// The viewer's own patrol (they are the inspector walking it), or `NOT_FOUND`.
async fn own<C: ConnectionTrait>(
    conn: &C,
    me: &StaffViewer,
    id: i64,
) -> Result<patrol::Model, AppError> {
    patrol::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|p| p.inspector_id == me.user_id)
        .ok_or_else(patrol_not_found)
}

/// A client's time: within the years filters allow and not older than
/// [`MAX_UPLOAD_AGE`]; a time in the future is accepted and flagged by the caller.
fn client_time(
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    field: &'static str,
) -> Result<DateTime<Utc>, AppError> {
    let t = super::dates::filter_date(t, field)?;
    if t < now - MAX_UPLOAD_AGE {
        return Err(AppError::bad_input(
            "DATE_OUT_OF_RANGE",
            Msg::new(
                format!("{field} 早于 30 天前，不能再上传"),
                format!("{field} is more than 30 days ago and can no longer be uploaded"),
            ),
        )
        .at(field));
    }
    Ok(t)
}

fn in_future(t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    t > now + FUTURE_SKEW
}

/// Whether a point lies more than [`OUTSIDE_TOLERANCE_M`] outside grid `region_id`
/// (a grid without a boundary flags nothing).
fn far_outside(grid: &GridSnapshot, region_id: i64, lat: f64, lng: f64) -> bool {
    let Some(b) = grid.get(region_id).and_then(|r| r.boundary.as_ref()) else {
        return false;
    };
    let p = Point::new(lng, lat);
    if b.contains(&p) {
        return false;
    }
    match geo::ClosestPoint::closest_point(b, &p) {
        geo::Closest::Intersection(q) | geo::Closest::SinglePoint(q) => {
            super::geo::haversine_m(lat, lng, q.y(), q.x()) > OUTSIDE_TOLERANCE_M
        }
        geo::Closest::Indeterminate => false,
    }
}

/// Starting a patrol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartInput {
    /// The plan it fulfils (the viewer's own).
    pub plan_id: Option<i64>,
    /// When it started, for a patrol recorded offline (default: now).
    pub started_at: Option<DateTime<Utc>>,
}

/// Starts a patrol of the viewer's grid (inspectors; idempotent with a key).
pub async fn start(
    svc: &Services,
    viewer: &Viewer,
    input: StartInput,
    idempotency_key: Option<&str>,
) -> Result<patrol::Model, AppError> {
    let me = viewer.staff_with(&[Role::Inspector])?.clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "START_PATROL", &input))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let now = svc.clock.now();
    let started_at = match input.started_at {
        Some(t) => client_time(t, now, "startedAt")?,
        None => now,
    };
    if let Some(pid) = input.plan_id {
        patrol_plan::Entity::find_by_id(pid)
            .one(&svc.db)
            .await?
            .filter(|p| p.inspector_id == me.user_id && p.archived_at.is_none())
            .ok_or_else(|| AppError::not_found("巡查计划", "patrol plan").at("planId"))?;
    }
    let clock = svc.clock.clone();
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                Ok(patrol::ActiveModel {
                    inspector_id: Set(me.user_id),
                    plan_id: Set(input.plan_id),
                    region_id: Set(me.region_id),
                    region_path: Set(me.region_path.clone()),
                    local_date: Set(LocalDate::of(started_at).0),
                    started_at: Set(started_at),
                    ended_at: Set(None),
                    point_count: Set(0),
                    distance_m: Set(0.0),
                    first_point_at: Set(None),
                    last_point_at: Set(None),
                    flag_speed: Set(false),
                    flag_future: Set(in_future(started_at, now)),
                    flag_outside: Set(false),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?)
            })
        }),
    )
    .await
}

/// One point as sent by a client.
#[derive(Debug, Clone, Copy)]
pub struct PointIn {
    /// Client time of the fix.
    pub at: DateTime<Utc>,
    /// Latitude in the batch's datum.
    pub lat: f64,
    /// Longitude in the batch's datum.
    pub lng: f64,
    /// Horizontal accuracy in metres.
    pub accuracy_m: Option<f64>,
}

fn read_accuracy(a: Option<f64>) -> Result<Option<f64>, AppError> {
    match a {
        Some(a) if !(a.is_finite() && (0.0..=100_000.0).contains(&a)) => Err(AppError::bad_input(
            "INVALID_ACCURACY",
            Msg::new("定位精度无效", "invalid accuracyM"),
        )
        .at("accuracyM")),
        a => Ok(a),
    }
}

fn check_batch_key(key: &str) -> Result<String, AppError> {
    let ok = (8..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if ok {
        Ok(format!("k:{key}"))
    } else {
        Err(AppError::bad_input(
            "INVALID_BATCH_KEY",
            Msg::new(
                "批次键无效：需 8 到 128 个字母、数字或 - _ : .",
                "invalid batchKey: 8–128 letters, digits, '-', '_', ':' or '.'",
            ),
        )
        .at("batchKey"))
    }
}

/// Reads, converts and quantises a batch; every problem names its point
/// (`points.3.lat`).
fn read_points(
    points: &[PointIn],
    gcj02: bool,
    now: DateTime<Utc>,
) -> Result<Vec<TrackPoint>, AppError> {
    if points.is_empty() || points.len() > MAX_BATCH_POINTS {
        return Err(AppError::bad_input(
            "INVALID_BATCH_SIZE",
            Msg::new(
                format!("每批应有 1 到 {MAX_BATCH_POINTS} 个轨迹点"),
                format!("a batch holds 1–{MAX_BATCH_POINTS} points"),
            ),
        )
        .at("points"));
    }
    let coord = if gcj02 {
        CoordSystem::Gcj02
    } else {
        CoordSystem::Wgs84
    };
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let here = format!("points.{i}");
            let at = client_time(p.at, now, "at").map_err(|e| e.under(&here))?;
            let acc = read_accuracy(p.accuracy_m).map_err(|e| e.under(&here))?;
            let w = WgsPoint::from_client(p.lat, p.lng, coord).map_err(|e| e.under(&here))?;
            Ok(TrackPoint::new(at, w.lat.degrees(), w.lng.degrees(), acc))
        })
        .collect()
}

/// Appends a batch of track points to the viewer's patrol (open or ended: batches may
/// arrive late). Idempotent per batch: the same `batch_key` (or, without one, the same
/// points) is stored once; a key reused for other points is `BAD_INPUT`.
pub async fn append_track(
    svc: &Services,
    viewer: &Viewer,
    patrol_id: i64,
    points: Vec<PointIn>,
    gcj02: bool,
    batch_key: Option<&str>,
) -> Result<patrol::Model, AppError> {
    let me = viewer.staff_with(&[Role::Inspector])?.clone();
    let now = svc.clock.now();
    let key = batch_key.map(check_batch_key).transpose()?;
    let p = own(&svc.db, &me, patrol_id)
        .await
        .map_err(|e| e.at("patrolId"))?;
    let pts = track::normalise(read_points(&points, gcj02, now)?);
    let blob = track::encode(&pts);
    let sha = hex::encode(Sha256::digest(&blob));
    let key = key.unwrap_or_else(|| format!("sha256:{sha}"));
    let (first, last) = match (pts.first(), pts.last()) {
        (Some(f), Some(l)) => (f.at(), l.at()),
        _ => {
            return Err(AppError::bad_input(
                "INVALID_BATCH_SIZE",
                Msg::new("批次为空", "empty batch"),
            )
            .at("points"));
        }
    };
    let grid = svc.grid.snapshot();
    let clock = svc.clock.clone();
    let count = i32::try_from(pts.len()).unwrap_or(i32::MAX);
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                // Take the patrol's row first, so concurrent batches of one patrol
                // summarise one after the other and the last sees every batch.
                let now = clock.now();
                patrol::Entity::update_many()
                    .col_expr(
                        patrol::Column::UpdatedAt,
                        sea_orm::sea_query::Expr::value(now),
                    )
                    .filter(patrol::Column::Id.eq(p.id))
                    .exec(txn)
                    .await?;
                let p = patrol::Entity::find_by_id(p.id)
                    .one(txn)
                    .await?
                    .ok_or_else(patrol_not_found)?;
                let existing = patrol_track_batch::Entity::find()
                    .select_only()
                    .column(patrol_track_batch::Column::ContentSha256)
                    .filter(patrol_track_batch::Column::PatrolId.eq(p.id))
                    .filter(patrol_track_batch::Column::BatchKey.eq(&key))
                    .into_tuple::<String>()
                    .one(txn)
                    .await?;
                match existing {
                    Some(s) if s == sha => return Ok(p),
                    Some(_) => {
                        return Err(AppError::bad_input(
                            "BATCH_KEY_REUSED",
                            Msg::new(
                                "该批次键已用于另一批轨迹点，请为新批次生成新的键",
                                "this batchKey was already used for other points; use a new key",
                            ),
                        )
                        .at("batchKey"));
                    }
                    None => {}
                }
                let inserted = patrol_track_batch::ActiveModel {
                    patrol_id: Set(p.id),
                    batch_key: Set(key),
                    content_sha256: Set(sha),
                    point_count: Set(count),
                    first_at: Set(first),
                    last_at: Set(last),
                    data: Set(blob),
                    received_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                        return Err(AppError::Conflict(Msg::new(
                            "同一批次正在上传，请重试",
                            "the same batch is being uploaded concurrently; retry",
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
                resummarise(txn, &grid, p, now).await
            })
        }),
    )
    .await
}

/// Every batch of a patrol, merged in time order.
pub async fn merged_track<C: ConnectionTrait>(
    conn: &C,
    patrol_id: i64,
) -> Result<Vec<TrackPoint>, AppError> {
    let blobs: Vec<Vec<u8>> = patrol_track_batch::Entity::find()
        .select_only()
        .column(patrol_track_batch::Column::Data)
        .filter(patrol_track_batch::Column::PatrolId.eq(patrol_id))
        .into_tuple()
        .all(conn)
        .await?;
    let mut all = Vec::new();
    for b in blobs {
        all.extend(
            track::decode(&b)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("patrol {patrol_id}: {e}")))?,
        );
    }
    Ok(track::normalise(all))
}

/// Recomputes what the merged track adds up to, with the flags of the check-ins.
async fn resummarise<C: ConnectionTrait>(
    conn: &C,
    grid: &GridSnapshot,
    p: patrol::Model,
    now: DateTime<Utc>,
) -> Result<patrol::Model, AppError> {
    let merged = merged_track(conn, p.id).await?;
    if merged.len() > MAX_TRACK_POINTS {
        return Err(AppError::bad_input(
            "TRACK_TOO_LONG",
            Msg::new(
                format!("一次巡查最多 {MAX_TRACK_POINTS} 个轨迹点"),
                format!("a patrol holds at most {MAX_TRACK_POINTS} points"),
            ),
        )
        .at("points"));
    }
    let s = track::summarise(&merged, now);
    let outside = merged
        .iter()
        .any(|q| far_outside(grid, p.region_id, q.lat(), q.lng()));
    let checkins = patrol_checkin::Entity::find()
        .filter(patrol_checkin::Column::PatrolId.eq(p.id))
        .all(conn)
        .await?;
    let ci_future = checkins.iter().any(|c| in_future(c.at, now));
    let ci_outside = checkins
        .iter()
        .any(|c| far_outside(grid, p.region_id, c.lat, c.lng));
    // Once in the future, always flagged: the time was implausible when it arrived,
    // however much later the next batch is summed up.
    let times_future = p.flag_future
        || in_future(p.started_at, now)
        || p.ended_at.is_some_and(|e| in_future(e, now));
    let mut am: patrol::ActiveModel = p.into();
    am.point_count = Set(i32::try_from(s.points).unwrap_or(i32::MAX));
    am.distance_m = Set(s.distance_m);
    am.first_point_at = Set(s.first);
    am.last_point_at = Set(s.last);
    am.flag_speed = Set(s.too_fast);
    am.flag_future = Set(s.in_future || ci_future || times_future);
    am.flag_outside = Set(outside || ci_outside);
    am.updated_at = Set(now);
    Ok(am.update(conn).await?)
}

/// A check-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInInput {
    /// The viewer's patrol.
    pub patrol_id: i64,
    /// The site checked, if any (in the viewer's grid).
    pub site_id: Option<i64>,
    /// Where.
    pub lat: f64,
    /// Where.
    pub lng: f64,
    /// GCJ-02 rather than WGS-84.
    pub gcj02: bool,
    /// Accuracy in metres.
    pub accuracy_m: Option<f64>,
    /// Client time (default: now).
    pub at: Option<DateTime<Utc>>,
    /// Nothing wrong was found (零报告).
    pub nothing_found: bool,
    /// What was seen (required when something was found).
    pub note: Option<String>,
}

/// Records a check-in on the viewer's patrol (idempotent with a key).
pub async fn check_in(
    svc: &Services,
    viewer: &Viewer,
    input: CheckInInput,
    idempotency_key: Option<&str>,
) -> Result<patrol_checkin::Model, AppError> {
    let me = viewer.staff_with(&[Role::Inspector])?.clone();
    let idem = idempotency_key
        .map(|k| IdemKey::new(viewer.idempotency_scope(), k, "PATROL_CHECK_IN", &input))
        .transpose()?;
    if let Some(k) = &idem
        && let Some(done) = k.replay(&svc.db).await?
    {
        return Ok(done);
    }
    let now = svc.clock.now();
    let p = own(&svc.db, &me, input.patrol_id)
        .await
        .map_err(|e| e.at("patrolId"))?;
    let coord = if input.gcj02 {
        CoordSystem::Gcj02
    } else {
        CoordSystem::Wgs84
    };
    let w = WgsPoint::from_client(input.lat, input.lng, coord).map_err(|e| e.under("location"))?;
    let acc = read_accuracy(input.accuracy_m).map_err(|e| e.under("location"))?;
    let at = match input.at {
        Some(t) => client_time(t, now, "at")?,
        None => now,
    };
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(AppError::bad_input(
            "INVALID_LENGTH",
            Msg::new(
                format!("备注最多 {MAX_NOTE} 个字"),
                format!("note is at most {MAX_NOTE} characters"),
            ),
        )
        .at("note"));
    }
    if !input.nothing_found && note.is_none() {
        return Err(AppError::bad_input(
            "NOTE_REQUIRED",
            Msg::new(
                "发现问题时请写明情况（或上报案件）",
                "say what was found in the note (or report a case)",
            ),
        )
        .at("note"));
    }
    let site = match input.site_id {
        Some(sid) => Some(
            supervised_site::Entity::find_by_id(sid)
                .one(&svc.db)
                .await?
                .filter(|s| {
                    s.archived_at.is_none() && path_is_within(&s.region_path, &p.region_path)
                })
                .ok_or_else(|| AppError::not_found("监管对象", "site").at("siteId"))?,
        ),
        None => None,
    };
    let distance = site
        .as_ref()
        .map(|s| super::geo::haversine_m(w.lat.degrees(), w.lng.degrees(), s.lat, s.lng));
    let outside = far_outside(
        &svc.grid.snapshot(),
        p.region_id,
        w.lat.degrees(),
        w.lng.degrees(),
    );
    let future = in_future(at, now);
    let clock = svc.clock.clone();
    uow::write(
        svc,
        idem,
        uow::work(move |txn| {
            Box::pin(async move {
                let now = clock.now();
                let n = patrol_checkin::Entity::find()
                    .filter(patrol_checkin::Column::PatrolId.eq(p.id))
                    .count(txn)
                    .await?;
                if n >= MAX_CHECKINS {
                    return Err(AppError::bad_input(
                        "TOO_MANY_CHECKINS",
                        Msg::new(
                            format!("一次巡查最多 {MAX_CHECKINS} 次打卡"),
                            format!("a patrol holds at most {MAX_CHECKINS} check-ins"),
                        ),
                    )
                    .at("patrolId"));
                }
                let row = patrol_checkin::ActiveModel {
                    patrol_id: Set(p.id),
                    site_id: Set(site.map(|s| s.id)),
                    lat: Set(w.lat.degrees()),
                    lng: Set(w.lng.degrees()),
                    accuracy_m: Set(acc),
                    at: Set(at),
                    nothing_found: Set(input.nothing_found),
                    note: Set(note),
                    distance_to_site_m: Set(distance),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                // Only ever raise a flag here: a concurrent batch may have summed the
                // patrol up since it was read.
                if future || outside {
                    let mut up = patrol::Entity::update_many()
                        .col_expr(patrol::Column::UpdatedAt, Expr::value(now))
                        .filter(patrol::Column::Id.eq(p.id));
                    if future {
                        up = up.col_expr(patrol::Column::FlagFuture, Expr::value(true));
                    }
                    if outside {
                        up = up.col_expr(patrol::Column::FlagOutside, Expr::value(true));
                    }
                    up.exec(txn).await?;
                }
                Ok(row)
            })
        }),
    )
    .await
}

/// Ends the viewer's patrol (at `ended_at`, for one recorded offline). Ending an ended
/// patrol changes nothing.
pub async fn end(
    svc: &Services,
    viewer: &Viewer,
    patrol_id: i64,
    ended_at: Option<DateTime<Utc>>,
) -> Result<patrol::Model, AppError> {
    let me = viewer.staff_with(&[Role::Inspector])?.clone();
    let p = own(&svc.db, &me, patrol_id)
        .await
        .map_err(|e| e.at("patrolId"))?;
    if p.ended_at.is_some() {
        return Ok(p);
    }
    let now = svc.clock.now();
    let ended = match ended_at {
        Some(t) => client_time(t, now, "endedAt")?,
        None => now,
    };
    if ended < p.started_at {
        return Err(AppError::bad_input(
            "DATE_OUT_OF_RANGE",
            Msg::new(
                "结束时间早于开始时间",
                "endedAt is before the patrol started",
            ),
        )
        .at("endedAt"));
    }
    let future = in_future(ended, now);
    let clock = svc.clock.clone();
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let mut am: patrol::ActiveModel = p.into();
                am.ended_at = Set(Some(ended));
                if future {
                    am.flag_future = Set(true);
                }
                am.updated_at = Set(clock.now());
                Ok(am.update(txn).await?)
            })
        }),
    )
    .await
}

/// Checks that `patrol_id` is the reporter's own open patrol, for a case reported on
/// it: `NOT_FOUND` for someone else's, `BAD_INPUT` (`PATROL_ENDED`) once it ended.
pub async fn open_patrol_of<C: ConnectionTrait>(
    conn: &C,
    me: &StaffViewer,
    patrol_id: i64,
) -> Result<i64, AppError> {
    let p = own(conn, me, patrol_id)
        .await
        .map_err(|e| e.at("patrolId"))?;
    if p.ended_at.is_some() {
        return Err(AppError::bad_input(
            "PATROL_ENDED",
            Msg::new("该巡查已结束", "the patrol has ended"),
        )
        .at("patrolId"));
    }
    Ok(p.id)
}

/// Links a case to the patrol it was reported on (inside the case's transaction).
pub async fn link_case<C: ConnectionTrait>(
    conn: &C,
    patrol_id: i64,
    case_id: i64,
) -> Result<(), AppError> {
    patrol_case::ActiveModel {
        case_id: Set(case_id),
        patrol_id: Set(patrol_id),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The check-ins of a patrol the viewer has read, in time order.
pub async fn check_ins(
    svc: &Services,
    patrol_id: i64,
) -> Result<Vec<patrol_checkin::Model>, AppError> {
    Ok(patrol_checkin::Entity::find()
        .filter(patrol_checkin::Column::PatrolId.eq(patrol_id))
        .order_by_asc(patrol_checkin::Column::At)
        .order_by_asc(patrol_checkin::Column::Id)
        .limit(MAX_CHECKINS)
        .all(&svc.db)
        .await?)
}

/// The check-ins of several patrols the viewer has read, in one statement, each
/// patrol's in time order (at most [`MAX_CHECKINS`] each, by construction).
pub async fn check_ins_of(
    svc: &Services,
    patrol_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<patrol_checkin::Model>>, AppError> {
    let mut out: std::collections::HashMap<i64, Vec<patrol_checkin::Model>> =
        patrol_ids.iter().map(|id| (*id, Vec::new())).collect();
    if patrol_ids.is_empty() {
        return Ok(out);
    }
    let rows = patrol_checkin::Entity::find()
        .filter(patrol_checkin::Column::PatrolId.is_in(patrol_ids.to_vec()))
        .order_by_asc(patrol_checkin::Column::At)
        .order_by_asc(patrol_checkin::Column::Id)
        .all(&svc.db)
        .await?;
    for r in rows {
        out.entry(r.patrol_id).or_default().push(r);
    }
    Ok(out)
}

/// How many cases were reported on each of several patrols, in one statement.
pub async fn case_counts_of(
    svc: &Services,
    patrol_ids: &[i64],
) -> Result<std::collections::HashMap<i64, usize>, AppError> {
    let mut out: std::collections::HashMap<i64, usize> =
        patrol_ids.iter().map(|id| (*id, 0)).collect();
    if patrol_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<i64> = patrol_case::Entity::find()
        .select_only()
        .column(patrol_case::Column::PatrolId)
        .filter(patrol_case::Column::PatrolId.is_in(patrol_ids.to_vec()))
        .into_tuple()
        .all(&svc.db)
        .await?;
    for pid in rows {
        *out.entry(pid).or_default() += 1;
    }
    Ok(out)
}

/// The ids of the cases reported on a patrol the viewer has read.
pub async fn case_ids(svc: &Services, patrol_id: i64) -> Result<Vec<i64>, AppError> {
    Ok(patrol_case::Entity::find()
        .select_only()
        .column(patrol_case::Column::CaseId)
        .filter(patrol_case::Column::PatrolId.eq(patrol_id))
        .order_by_asc(patrol_case::Column::CaseId)
        .into_tuple()
        .all(&svc.db)
        .await?)
}

/// Filters of `patrols`.
#[derive(Debug, Clone, Default)]
pub struct PatrolFilter {
    /// Only patrols of grids within this region.
    pub region_id: Option<i64>,
    /// Only this inspector's.
    pub inspector_id: Option<i64>,
    /// Only from this local day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Only up to this local day.
    pub to: Option<String>,
}

/// The patrols within the viewer's scope (inspectors: their own), newest first.
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    filter: PatrolFilter,
    page: PageRequest,
) -> Result<Page<patrol::Model>, AppError> {
    let staff = viewer.staff()?;
    let mut q =
        patrol::Entity::find().filter(subtree(patrol::Column::RegionPath, &staff.region_path));
    if staff.role == Role::Inspector {
        q = q.filter(patrol::Column::InspectorId.eq(staff.user_id));
    }
    if let Some(rid) = filter.region_id {
        let path = region_in_scope(svc, staff, rid)?;
        q = q.filter(subtree(patrol::Column::RegionPath, &path));
    }
    if let Some(i) = filter.inspector_id {
        q = q.filter(patrol::Column::InspectorId.eq(i));
    }
    if let Some(f) = filter.from.as_deref() {
        q = q.filter(patrol::Column::LocalDate.gte(LocalDate::parse(f, "from")?.0));
    }
    if let Some(t) = filter.to.as_deref() {
        q = q.filter(patrol::Column::LocalDate.lte(LocalDate::parse(t, "to")?.0));
    }
    if let Some(after) = page.after {
        q = q.filter(patrol::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(patrol::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}
