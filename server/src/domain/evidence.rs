//! Photo evidence: upload tickets, server-side verification, streaming upload, and the
//! rules a submission must meet.
//!
//! The bytes never pass through our memory whole on the direct path: the client sends
//! them straight to storage (an S3 POST policy, or the server's own signed route for
//! the folder store); `confirm` then streams the object once to hash it, keeping only a
//! bounded prefix for the type, dimension and EXIF checks. A confirmed original is
//! write-once: nothing in the API overwrites or deletes it.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use entity::{case, evidence};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::Services;
use super::access::{Role, Viewer};
use super::cases::{CaseStatus, case_not_found, staff_can_see};
use super::geo::haversine_m;
use super::idempotency::IdemKey;
use super::media::{self, ImageKind, MediaLimits};
use super::uow;
use crate::error::{AppError, Msg};
use crate::storage::{ObjectKey, UploadTicket, random_key};

pub use entity::enums::{EvidencePhase as Phase, EvidenceStatus};

/// Most photos one case holds (rejected ones aside). Enough for any real case; the
/// query cost model counts every evidence list at this size.
pub const MAX_PER_CASE: u64 = 100;

/// Bytes of an object read for type, dimension and EXIF checks (EXIF lives in the
/// first 64 KiB of a JPEG; a generous prefix also covers most PNG/WebP/HEIC headers).
const PREFIX_BYTES: usize = 512 * 1024;

/// A validated hex SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256Hex(String);

impl TryFrom<&str> for Sha256Hex {
    type Error = AppError;
    fn try_from(s: &str) -> Result<Self, AppError> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(s))
        } else {
            Err(AppError::bad_input(Msg::new(
                "sha256 应为 64 位十六进制",
                "sha256 must be 64 hex digits",
            )))
        }
    }
}

/// Who may add evidence to a case: its assignee, supervisors and county staff in scope,
/// and the tipster who reported it (photos of the problem only).
fn may_add(viewer: &Viewer, c: &case::Model, phase: Phase) -> Result<(), AppError> {
    match viewer {
        Viewer::Anonymous => Err(AppError::Unauthenticated),
        Viewer::Public(p) => {
            if c.tipster_id == Some(p.tipster_id) && phase == Phase::Before {
                Ok(())
            } else if c.tipster_id == Some(p.tipster_id) {
                Err(AppError::Forbidden)
            } else {
                Err(case_not_found())
            }
        }
        Viewer::Staff(s) => {
            if !staff_can_see(viewer, c) {
                return Err(case_not_found());
            }
            let ok = matches!(s.role, Role::CountyAdmin | Role::TownshipSupervisor)
                || c.assignee_id == Some(s.user_id);
            if ok { Ok(()) } else { Err(AppError::Forbidden) }
        }
    }
}

async fn load_case(db: &DatabaseConnection, id: i64) -> Result<case::Model, AppError> {
    case::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(case_not_found)
}

/// Refuses a new photo for a case that already holds [`MAX_PER_CASE`].
async fn check_room(db: &DatabaseConnection, c: &case::Model) -> Result<(), AppError> {
    let held = evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.ne(EvidenceStatus::Rejected))
        .count(db)
        .await?;
    if held >= MAX_PER_CASE {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("每个案件最多 {MAX_PER_CASE} 张照片"),
                format!("a case holds at most {MAX_PER_CASE} photos"),
            ),
            detail: Some("TOO_MANY_PHOTOS"),
        });
    }
    Ok(())
}

/// What a client asks to upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRequest {
    /// The case.
    pub case_id: i64,
    /// Phase.
    pub phase: Phase,
    /// Declared content type (image/jpeg, image/png, image/webp, image/heic).
    pub content_type: String,
    /// Exact size in bytes.
    pub byte_size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

/// A pending evidence row and where to send its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The evidence (PENDING until confirmed).
    pub evidence: evidence::Model,
    /// The upload ticket.
    pub ticket: UploadTicket,
}

fn check_size(size: u64, max: u64) -> Result<(), AppError> {
    if size == 0 || size > max {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("照片大小应为 1 到 {max} 字节"),
                format!("photo size must be 1–{max} bytes"),
            ),
            detail: Some("TOO_LARGE"),
        });
    }
    Ok(())
}

fn check_type(content_type: &str) -> Result<ImageKind, AppError> {
    ImageKind::from_content_type(content_type).ok_or_else(|| AppError::BadInput {
        msg: Msg::new(
            format!("不支持的文件类型 {content_type}（仅支持 JPEG、PNG、WebP、HEIC 照片）"),
            format!("unsupported type {content_type} (JPEG, PNG, WebP or HEIC photos only)"),
        ),
        detail: Some("UNSUPPORTED_TYPE"),
    })
}

/// Opens an upload: checks the caller may add evidence to the case and the declared
/// size and type against the limits, creates a PENDING evidence row under a random key
/// and presigns an upload bound to that key, type and exact size.
pub async fn request_upload(
    svc: &Services,
    viewer: &Viewer,
    req: UploadRequest,
    idempotency_key: Option<&str>,
) -> Result<Upload, AppError> {
    let cfg = &svc.config.evidence;
    let idem = idempotency_key
        .map(|k| {
            IdemKey::new(
                viewer.idempotency_scope(),
                k,
                "REQUEST_EVIDENCE_UPLOAD",
                &req,
            )
        })
        .transpose()?;
    let expires = StdDuration::from_secs(cfg.upload_url_secs);
    if let Some(k) = &idem
        && let Some(id) = k.replay::<_, i64>(&svc.db).await?
    {
        // A retry: the same evidence, with a fresh URL while it is still pending.
        let ev = evidence::Entity::find_by_id(id)
            .one(&svc.db)
            .await?
            .ok_or_else(|| AppError::not_found("证据", "evidence"))?;
        let key = ObjectKey::try_from(ev.object_key.as_str())?;
        let ticket = svc
            .storage
            .presign_upload(
                &key,
                &ev.content_type,
                u64::try_from(ev.byte_size).unwrap_or(0),
                expires,
            )
            .await?;
        return Ok(Upload {
            evidence: ev,
            ticket,
        });
    }
    check_type(&req.content_type)?;
    check_size(req.byte_size, cfg.max_bytes)?;
    let sha = Sha256Hex::try_from(req.sha256.as_str())?;
    let c = load_case(&svc.db, req.case_id).await?;
    may_add(viewer, &c, req.phase)?;
    if !c.status.is_open() {
        return Err(AppError::InvalidTransition(Msg::new(
            "已结束的案件不能再上传证据",
            "the case is finished",
        )));
    }
    check_room(&svc.db, &c).await?;
    let key = random_key("ev");
    let now = svc.clock.now();
    let ticket = svc
        .storage
        .presign_upload(&key, &req.content_type, req.byte_size, expires)
        .await?;
    let (uploader_id, uploader_tipster_id) = match viewer {
        Viewer::Staff(s) => (Some(s.user_id), None),
        Viewer::Public(p) => (None, Some(p.tipster_id)),
        Viewer::Anonymous => (None, None),
    };
    let row = evidence::ActiveModel {
        case_id: Set(c.id),
        phase: Set(req.phase),
        status: Set(EvidenceStatus::Pending),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(req.content_type.clone()),
        byte_size: Set(i64::try_from(req.byte_size).unwrap_or(i64::MAX)),
        sha256: Set(sha.0),
        uploader_id: Set(uploader_id),
        uploader_tipster_id: Set(uploader_tipster_id),
        created_at: Set(now),
        expires_at: Set(ticket.expires_at),
        ..Default::default()
    };
    // The answer recorded under the key is the evidence id (a retry re-signs its URL).
    let id = uow::write(
        svc,
        idem,
        uow::work(move |txn| Box::pin(async move { Ok(row.insert(txn).await?.id) })),
    )
    .await?;
    let ev = evidence::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .ok_or_else(|| AppError::not_found("证据", "evidence"))?;
    Ok(Upload {
        evidence: ev,
        ticket,
    })
}

/// Reasons a photo is rejected at confirmation (stable codes).
fn rejection(code: &'static str, zh: String, en: String) -> (String, AppError) {
    (
        code.to_owned(),
        AppError::BadInput {
            msg: Msg::new(zh, en),
            detail: Some(code),
        },
    )
}

/// Verifies an uploaded object and confirms or rejects the evidence. Confirming twice
/// is harmless; a storage outage leaves the evidence pending and the case untouched.
pub async fn confirm(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<evidence::Model, AppError> {
    let ev = evidence::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .ok_or_else(|| AppError::not_found("证据", "evidence"))?;
    let c = load_case(&svc.db, ev.case_id).await?;
    let phase = ev.phase;
    if let Err(e) = may_add(viewer, &c, phase) {
        return Err(match e {
            AppError::NotFound(_) => AppError::not_found("证据", "evidence"),
            other => other,
        });
    }
    if ev.status != EvidenceStatus::Pending {
        return Ok(ev);
    }
    let key = ObjectKey::try_from(ev.object_key.as_str())?;
    match verify_object(svc, &ev, &key, &c).await? {
        Ok(checked) => {
            let kind = checked.kind;
            let sealed = checked.sealed.clone();
            let confirmed = finish_confirmed(svc, ev, checked).await?;
            if sealed != key
                && let Err(e) = svc.storage.delete(&key).await
            {
                tracing::warn!(evidence.id = confirmed.id, error = ?e, "could not remove the upload copy");
            }
            let key = sealed;
            // The public copy is only needed once the case closes: make it in the
            // background so confirmation stays as fast as reading the object once.
            let svc = svc.clone();
            let (id, size) = (
                confirmed.id,
                u64::try_from(confirmed.byte_size).unwrap_or(0),
            );
            tokio::spawn(async move {
                if let Some(dkey) = make_derivative(&svc, &key, kind, size).await {
                    let work = uow::work(move |txn| {
                        Box::pin(async move {
                            evidence::Entity::update_many()
                                .set(evidence::ActiveModel {
                                    derivative_key: Set(Some(dkey)),
                                    ..Default::default()
                                })
                                .filter(evidence::Column::Id.eq(id))
                                .exec(txn)
                                .await?;
                            Ok(())
                        })
                    });
                    if let Err(e) = uow::write(&svc, None, work).await {
                        tracing::warn!(evidence.id = id, error = ?e, "recording the public derivative failed");
                    }
                }
            });
            Ok(confirmed)
        }
        Err((code, err)) => {
            reject(svc, &ev, &key, &code).await?;
            Err(err)
        }
    }
}

/// The facts established about a confirmed photo.
struct Checked {
    width: u32,
    height: u32,
    taken_at: Option<DateTime<Utc>>,
    gps: Option<(f64, f64)>,
    distance_m: Option<f64>,
    flags: Vec<&'static str>,
    kind: ImageKind,
    /// The immutable copy the checks read (the upload key itself on the folder store).
    sealed: ObjectKey,
}

/// Streams the object once (hash + bounded prefix) and checks it. The outer `Result`
/// is for outages; the inner one for a photo that must be rejected.
async fn verify_object(
    svc: &Services,
    ev: &evidence::Model,
    key: &ObjectKey,
    c: &case::Model,
) -> Result<Result<Checked, (String, AppError)>, AppError> {
    let now = svc.clock.now();
    let Some(meta) = svc.storage.head(key).await? else {
        if ev.expires_at < now {
            return Ok(Err(rejection(
                "NOT_UPLOADED",
                "上传链接已过期且未收到文件".into(),
                "the upload URL expired and no file arrived".into(),
            )));
        }
        return Err(AppError::BadInput {
            msg: Msg::new(
                "尚未收到文件，请先上传再确认",
                "no file received yet; upload before confirming",
            ),
            detail: Some("NOT_UPLOADED_YET"),
        });
    };
    let declared = u64::try_from(ev.byte_size).unwrap_or(0);
    if meta.size != declared {
        return Ok(Err(rejection(
            "SIZE_MISMATCH",
            format!("文件大小 {} 与申报的 {declared} 不符", meta.size),
            format!("size {} differs from the declared {declared}", meta.size),
        )));
    }
    // Everything below reads an immutable copy: whoever still holds the upload URL
    // cannot swap the bytes after they were checked.
    let sealed = svc.storage.seal(key).await?;
    let key = &sealed;
    let Some(mut reader) = svc.storage.open_read(key).await? else {
        return Err(AppError::StorageUnavailable(anyhow::anyhow!(
            "object vanished between head and read"
        )));
    };
    let mut hasher = Sha256::new();
    let mut prefix: Vec<u8> = Vec::with_capacity(PREFIX_BYTES.min(meta.size as usize));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| {
            AppError::StorageUnavailable(anyhow::Error::new(e).context("reading evidence"))
        })?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > declared {
            return Ok(Err(rejection(
                "SIZE_MISMATCH",
                "文件比申报的大".into(),
                "the file is larger than declared".into(),
            )));
        }
        hasher.update(&buf[..n]);
        if prefix.len() < PREFIX_BYTES {
            let take = (PREFIX_BYTES - prefix.len()).min(n);
            prefix.extend_from_slice(&buf[..take]);
        }
    }
    if total != declared {
        return Ok(Err(rejection(
            "SIZE_MISMATCH",
            "文件不完整".into(),
            "the file is truncated".into(),
        )));
    }
    let actual = hex::encode(hasher.finalize());
    if actual != ev.sha256 {
        return Ok(Err(rejection(
            "HASH_MISMATCH",
            "文件校验值与申报的不符".into(),
            "SHA-256 differs from the declared one".into(),
        )));
    }
    let Some(kind) = media::sniff(&prefix) else {
        return Ok(Err(rejection(
            "NOT_AN_IMAGE",
            "文件不是 JPEG、PNG、WebP 或 HEIC 照片".into(),
            "not a JPEG, PNG, WebP or HEIC photo".into(),
        )));
    };
    if ImageKind::from_content_type(&ev.content_type) != Some(kind) {
        return Ok(Err(rejection(
            "TYPE_MISMATCH",
            format!(
                "文件实际类型为 {}，与申报的 {} 不符",
                kind.as_str(),
                ev.content_type
            ),
            format!(
                "the file is {}, not the declared {}",
                kind.as_str(),
                ev.content_type
            ),
        )));
    }
    let limits = MediaLimits {
        max_bytes: svc.config.evidence.max_bytes,
        ..MediaLimits::default()
    };
    let (width, height) = match media::dimensions(&prefix, kind, &limits) {
        Ok(d) => d,
        Err(e) => return Ok(Err(rejection(e.code(), e.message_zh(), e.to_string()))),
    };
    // EXIF from the prefix; an object shorter than the prefix was read whole.
    let exif = media::read_exif(&prefix);
    let mut flags = Vec::new();
    if exif.taken_at.is_none() && exif.gps.is_none() {
        flags.push("NO_EXIF");
    }
    let distance_m = exif
        .gps
        .map(|(lat, lng)| haversine_m(lat, lng, c.lat, c.lng));
    if distance_m.is_some_and(|d| d > svc.config.evidence.far_from_case_m) {
        flags.push("FAR_FROM_CASE");
    }
    let phase = ev.phase;
    // A photo of the problem may predate the report a little; results may not.
    let earliest = match phase {
        Phase::Before => c.created_at - chrono::Duration::hours(72),
        Phase::During | Phase::After => c.created_at - chrono::Duration::minutes(10),
    };
    if exif.taken_at.is_some_and(|t| t < earliest) {
        flags.push("TAKEN_BEFORE_CASE");
    }
    let reused = evidence::Entity::find()
        .filter(evidence::Column::Sha256.eq(&ev.sha256))
        .filter(evidence::Column::CaseId.ne(ev.case_id))
        .filter(evidence::Column::Status.eq(EvidenceStatus::Confirmed))
        .one(&svc.db)
        .await?
        .is_some();
    if reused {
        flags.push("REUSED");
    }
    Ok(Ok(Checked {
        width,
        height,
        taken_at: exif.taken_at,
        gps: exif.gps,
        distance_m,
        flags,
        kind,
        sealed: key.clone(),
    }))
}

/// The public derivative (resized, re-encoded, no EXIF), stored beside the original.
/// Failing to make one never fails a confirmation: the public view then shows no photo.
async fn make_derivative(
    svc: &Services,
    key: &ObjectKey,
    kind: ImageKind,
    size: u64,
) -> Option<String> {
    if kind == ImageKind::Heic || size > 32 * 1024 * 1024 {
        return None;
    }
    let mut reader = svc.storage.open_read(key).await.ok()??;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    reader.read_to_end(&mut bytes).await.ok()?;
    let max_side = svc.config.evidence.derivative_max_side;
    let out = tokio::task::spawn_blocking(move || media::public_derivative(&bytes, kind, max_side))
        .await
        .ok()?
        .map_err(|e| tracing::warn!(error = %e, "no public derivative"))
        .ok()?;
    let dkey = ObjectKey::try_from(format!("{}-pub.jpg", key.as_str()).as_str()).ok()?;
    let len = out.len() as u64;
    let reader: crate::storage::BlobReader = Box::new(std::io::Cursor::new(out));
    match svc
        .storage
        .put_stream(&dkey, "image/jpeg", reader, len)
        .await
    {
        Ok(_) => Some(dkey.as_str().to_owned()),
        Err(e) => {
            tracing::warn!(error = ?e, "storing the public derivative failed");
            None
        }
    }
}

async fn finish_confirmed(
    svc: &Services,
    ev: evidence::Model,
    ck: Checked,
) -> Result<evidence::Model, AppError> {
    let now = svc.clock.now();
    let changes = evidence::ActiveModel {
        status: Set(EvidenceStatus::Confirmed),
        width: Set(i32::try_from(ck.width).ok()),
        height: Set(i32::try_from(ck.height).ok()),
        taken_at: Set(ck.taken_at),
        exif_lat: Set(ck.gps.map(|g| g.0)),
        exif_lng: Set(ck.gps.map(|g| g.1)),
        distance_m: Set(ck.distance_m),
        flags: Set(Some(serde_json::json!(ck.flags))),
        object_key: Set(ck.sealed.as_str().to_owned()),
        confirmed_at: Set(Some(now)),
        ..Default::default()
    };
    let id = ev.id;
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                evidence::Entity::update_many()
                    .set(changes)
                    .filter(evidence::Column::Id.eq(id))
                    .filter(evidence::Column::Status.eq(EvidenceStatus::Pending))
                    .exec(txn)
                    .await?;
                evidence::Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| AppError::not_found("证据", "evidence"))
            })
        }),
    )
    .await
}

async fn reject(
    svc: &Services,
    ev: &evidence::Model,
    key: &ObjectKey,
    code: &str,
) -> Result<(), AppError> {
    let (id, reason) = (ev.id, code.to_owned());
    uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                evidence::Entity::update_many()
                    .set(evidence::ActiveModel {
                        status: Set(EvidenceStatus::Rejected),
                        reject_reason: Set(Some(reason)),
                        ..Default::default()
                    })
                    .filter(evidence::Column::Id.eq(id))
                    .filter(evidence::Column::Status.eq(EvidenceStatus::Pending))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        }),
    )
    .await?;
    let sealed = svc.storage.sealed_key(key);
    if sealed != *key
        && let Err(e) = svc.storage.delete(&sealed).await
    {
        tracing::warn!(evidence.id = ev.id, error = ?e, "could not remove a rejected sealed copy");
    }
    if let Err(e) = svc.storage.delete(key).await {
        tracing::warn!(evidence.id = ev.id, error = ?e, "could not remove a rejected upload");
    }
    tracing::info!(evidence.id = ev.id, reason = code, "evidence rejected");
    Ok(())
}

/// Streams a multipart upload to storage (bounded memory), then verifies it like a
/// direct upload. The declared hash is the one computed while streaming.
pub async fn upload_stream(
    svc: &Services,
    viewer: &Viewer,
    case_id: i64,
    phase: Phase,
    content_type: &str,
    reader: crate::storage::BlobReader,
) -> Result<evidence::Model, AppError> {
    check_type(content_type)?;
    let c = load_case(&svc.db, case_id).await?;
    may_add(viewer, &c, phase)?;
    if !c.status.is_open() {
        return Err(AppError::InvalidTransition(Msg::new(
            "已结束的案件不能再上传证据",
            "the case is finished",
        )));
    }
    check_room(&svc.db, &c).await?;
    let key = random_key("ev");
    let hashed = HashingReader::new(reader);
    let digest = hashed.digest_handle();
    let written = svc
        .storage
        .put_stream(
            &key,
            content_type,
            Box::new(hashed),
            svc.config.evidence.max_bytes,
        )
        .await?;
    let sha = digest.finish();
    let (uploader_id, uploader_tipster_id) = match viewer {
        Viewer::Staff(s) => (Some(s.user_id), None),
        Viewer::Public(p) => (None, Some(p.tipster_id)),
        Viewer::Anonymous => (None, None),
    };
    let now = svc.clock.now();
    let row = evidence::ActiveModel {
        case_id: Set(c.id),
        phase: Set(phase),
        status: Set(EvidenceStatus::Pending),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(content_type.to_owned()),
        byte_size: Set(i64::try_from(written).unwrap_or(i64::MAX)),
        sha256: Set(sha),
        uploader_id: Set(uploader_id),
        uploader_tipster_id: Set(uploader_tipster_id),
        created_at: Set(now),
        expires_at: Set(now),
        ..Default::default()
    };
    let id = uow::write(
        svc,
        None,
        uow::work(move |txn| Box::pin(async move { Ok(row.insert(txn).await?.id) })),
    )
    .await?;
    confirm(svc, viewer, id).await
}

/// An `AsyncRead` that hashes what passes through it.
struct HashingReader {
    inner: crate::storage::BlobReader,
    state: std::sync::Arc<std::sync::Mutex<Sha256>>,
}

/// The digest of a [`HashingReader`], readable after the stream was consumed.
struct DigestHandle(std::sync::Arc<std::sync::Mutex<Sha256>>);

impl DigestHandle {
    fn finish(self) -> String {
        let h = match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        hex::encode(h.finalize())
    }
}

impl HashingReader {
    fn new(inner: crate::storage::BlobReader) -> Self {
        Self {
            inner,
            state: Default::default(),
        }
    }
    fn digest_handle(&self) -> DigestHandle {
        DigestHandle(std::sync::Arc::clone(&self.state))
    }
}

impl tokio::io::AsyncRead for HashingReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                match self.state.lock() {
                    Ok(mut h) => h.update(new),
                    Err(p) => p.into_inner().update(new),
                }
            }
        }
        poll
    }
}

/// The evidence of a case the viewer may see (staff in scope), newest first.
pub async fn list_for_case(
    db: &DatabaseConnection,
    c: &case::Model,
) -> Result<Vec<evidence::Model>, AppError> {
    Ok(evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.ne(EvidenceStatus::Rejected))
        .order_by_asc(evidence::Column::Id)
        .limit(MAX_PER_CASE)
        .all(db)
        .await?)
}

/// A short-lived download URL of a photo's original, for staff who may see the case;
/// `None` until it is confirmed (an unconfirmed upload may be anything).
pub async fn original_url(
    svc: &Services,
    ev: &evidence::Model,
) -> Result<Option<String>, AppError> {
    if ev.status != EvidenceStatus::Confirmed {
        return Ok(None);
    }
    download_url(svc, &ev.object_key).await.map(Some)
}

/// A short-lived download URL of an object.
pub async fn download_url(svc: &Services, key: &str) -> Result<String, AppError> {
    let key = ObjectKey::try_from(key)?;
    svc.storage
        .presign_download(
            &key,
            StdDuration::from_secs(svc.config.evidence.download_url_secs),
        )
        .await
}

/// The keys of the public copies a tipster may see: none before the case is closed;
/// after, the re-encoded copies of the confirmed photos of the problem and of the fix.
pub async fn public_photo_keys(
    db: &DatabaseConnection,
    c: &case::Model,
) -> Result<Vec<String>, AppError> {
    if c.status != CaseStatus::Closed {
        return Ok(Vec::new());
    }
    Ok(list_for_case(db, c)
        .await?
        .into_iter()
        .filter(|e| e.status == EvidenceStatus::Confirmed && e.phase != Phase::During)
        .filter_map(|e| e.derivative_key)
        .collect())
}
