//! Verification of an uploaded photo: checked for size, SHA-256, real type and
//! dimensions, its EXIF read for time and place, and the evidence confirmed with its
//! flags, or rejected and removed. Where the SHA-256 of the bytes is known without
//! reading them (the folder store hashes uploads on the way in; an S3 store that
//! verifies checksums refused any other bytes for the ticket; the server wrote them
//! itself) only the head of the object is read; otherwise (S3 without verified
//! checksums) the object is copied away from its upload URL and streamed once, hash and
//! a bounded prefix together.

use chrono::{DateTime, Utc};
use entity::{case, evidence};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{EvidenceStatus, Phase, load_case, may_add};
use crate::domain::Services;
use crate::domain::access::Viewer;
use crate::domain::geo::haversine_m;
use crate::domain::media::{self, ImageKind, MediaLimits};
use crate::domain::uow;
use crate::error::{AppError, Msg};
use crate::storage::ObjectKey;

/// Bytes of an object read for type, dimension and EXIF checks (EXIF lives in the
/// first 64 KiB of a JPEG; a generous prefix also covers most PNG/WebP/HEIC headers).
const PREFIX_BYTES: usize = 512 * 1024;

/// Reasons a photo is rejected at confirmation (stable codes).
fn rejection(code: &'static str, zh: String, en: String) -> (String, AppError) {
    (
        code.to_owned(),
        AppError::BadInput {
            msg: Msg::new(zh, en),
            detail: Some(code),
            field: None,
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
    if let Err(e) = may_add(&svc.db, viewer, &c, phase).await {
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
    /// SHA-256 of the bytes as read (equal to the declared one, when declared).
    sha256: String,
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

/// A photo that must be rejected: its stable code and the error for the client.
type Rejection = (String, AppError);

/// Streams the object once (hash + bounded prefix) and checks it. The outer `Result`
/// is for outages; the inner one for a photo that must be rejected.
async fn verify_object(
    svc: &Services,
    ev: &evidence::Model,
    key: &ObjectKey,
    c: &case::Model,
) -> Result<Result<Checked, Rejection>, AppError> {
    let Some(meta) = svc.storage.head(key).await? else {
        return not_uploaded(ev, svc.clock.now()).map(Err);
    };
    let declared = u64::try_from(ev.byte_size).unwrap_or(0);
    if meta.size != declared {
        return Ok(Err(rejection(
            "SIZE_MISMATCH",
            format!("文件大小 {} 与申报的 {declared} 不符", meta.size),
            format!("size {} differs from the declared {declared}", meta.size),
        )));
    }
    // The SHA-256 of the bytes, where it is known without reading them: the folder
    // store hashed them as they arrived, or the row is bound to its hash (the server
    // wrote the object itself, or the S3 store verified the hash its ticket carried).
    // Either way the key can hold no other bytes, and the checks below need only the
    // head of the object.
    let vouched = meta
        .sha256
        .or_else(|| (ev.sha256_bound && !ev.sha256.is_empty()).then(|| ev.sha256.clone()));
    let (read, sealed) = match vouched {
        Some(vouched) => (read_head(svc, key, vouched, &ev.sha256).await?, key.clone()),
        None => {
            // Everything below reads an immutable copy: whoever still holds the upload
            // URL cannot swap the bytes after they were checked.
            let sealed = svc.storage.seal(key).await?;
            (
                read_and_hash(svc, &sealed, declared, &ev.sha256).await?,
                sealed,
            )
        }
    };
    let (prefix, sha256) = match read {
        Ok(read) => read,
        Err(r) => return Ok(Err(r)),
    };
    let (kind, width, height) = match check_image(svc, ev, &prefix) {
        Ok(found) => found,
        Err(r) => return Ok(Err(r)),
    };
    // EXIF from the prefix; an object shorter than the prefix was read whole.
    let exif = media::read_exif(&prefix);
    let distance_m = exif
        .gps
        .map(|(lat, lng)| haversine_m(lat, lng, c.lat, c.lng));
    let flags = flags(svc, ev, &sha256, c, &exif, distance_m).await?;
    Ok(Ok(Checked {
        sha256,
        width,
        height,
        taken_at: exif.taken_at,
        gps: exif.gps,
        distance_m,
        flags,
        kind,
        sealed,
    }))
}

/// No object under the key: rejected once the upload URL has expired, otherwise the
/// client is told to upload first (`BAD_INPUT`, the evidence stays pending).
fn not_uploaded(ev: &evidence::Model, now: DateTime<Utc>) -> Result<Rejection, AppError> {
    if ev.expires_at < now {
        return Ok(rejection(
            "NOT_UPLOADED",
            "上传链接已过期且未收到文件".into(),
            "the upload URL expired and no file arrived".into(),
        ));
    }
    Err(AppError::BadInput {
        msg: Msg::new(
            "尚未收到文件，请先上传再确认",
            "no file received yet; upload before confirming",
        ),
        detail: Some("NOT_UPLOADED_YET"),
        field: None,
    })
}

/// Reads the whole object once: its length must be `declared` and its SHA-256 the
/// declared one (when the client declared one: `sha256` is empty otherwise). Returns the
/// first [`PREFIX_BYTES`] for the type and EXIF checks, and the SHA-256 as read.
async fn read_and_hash(
    svc: &Services,
    key: &ObjectKey,
    declared: u64,
    sha256: &str,
) -> Result<Result<(Vec<u8>, String), Rejection>, AppError> {
    let Some(mut reader) = svc.storage.open_read(key).await? else {
        return Err(AppError::StorageUnavailable(anyhow::anyhow!(
            "object vanished between head and read"
        )));
    };
    let mut hasher = Sha256::new();
    let cap = usize::try_from(declared).unwrap_or(PREFIX_BYTES);
    let mut prefix: Vec<u8> = Vec::with_capacity(PREFIX_BYTES.min(cap));
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
    let read = hex::encode(hasher.finalize());
    if !sha256.is_empty() && read != sha256 {
        return Ok(Err(hash_mismatch()));
    }
    Ok(Ok((prefix, read)))
}

/// The first [`PREFIX_BYTES`] of an object whose SHA-256 the store vouches for, which
/// must be the declared one (when the client declared one).
async fn read_head(
    svc: &Services,
    key: &ObjectKey,
    vouched: String,
    sha256: &str,
) -> Result<Result<(Vec<u8>, String), Rejection>, AppError> {
    if !sha256.is_empty() && vouched != sha256 {
        return Ok(Err(hash_mismatch()));
    }
    let Some(prefix) = svc.storage.read_prefix(key, PREFIX_BYTES).await? else {
        return Err(AppError::StorageUnavailable(anyhow::anyhow!(
            "object vanished between head and read"
        )));
    };
    Ok(Ok((prefix, vouched)))
}

fn hash_mismatch() -> Rejection {
    rejection(
        "HASH_MISMATCH",
        "文件校验值与申报的不符".into(),
        "SHA-256 differs from the declared one".into(),
    )
}

/// The real type (it must be the declared one) and the dimensions (within limits).
fn check_image(
    svc: &Services,
    ev: &evidence::Model,
    prefix: &[u8],
) -> Result<(ImageKind, u32, u32), Rejection> {
    let Some(kind) = media::sniff(prefix) else {
        return Err(rejection(
            "NOT_AN_IMAGE",
            "文件不是 JPEG、PNG、WebP 或 HEIC 照片".into(),
            "not a JPEG, PNG, WebP or HEIC photo".into(),
        ));
    };
    if ImageKind::from_content_type(&ev.content_type) != Some(kind) {
        return Err(rejection(
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
        ));
    }
    let limits = MediaLimits {
        max_bytes: svc.config.evidence.max_bytes,
        ..MediaLimits::default()
    };
    match media::dimensions(prefix, kind, &limits) {
        Ok((w, h)) => Ok((kind, w, h)),
        Err(e) => Err(rejection(e.code(), e.message_zh(), e.to_string())),
    }
}

/// What a supervisor should look at: no EXIF, taken far away or long before the case,
/// the same bytes confirmed on another case. Flagged photos still count.
async fn flags(
    svc: &Services,
    ev: &evidence::Model,
    sha256: &str,
    c: &case::Model,
    exif: &media::ExifInfo,
    distance_m: Option<f64>,
) -> Result<Vec<&'static str>, AppError> {
    let mut flags = Vec::new();
    if exif.taken_at.is_none() && exif.gps.is_none() {
        flags.push("NO_EXIF");
    }
    if distance_m.is_some_and(|d| d > svc.config.evidence.far_from_case_m) {
        flags.push("FAR_FROM_CASE");
    }
    // A photo of the problem may predate the report a little; results may not.
    let earliest = match ev.phase {
        Phase::Before => c.created_at - chrono::Duration::hours(72),
        Phase::During | Phase::After => c.created_at - chrono::Duration::minutes(10),
    };
    if exif.taken_at.is_some_and(|t| t < earliest) {
        flags.push("TAKEN_BEFORE_CASE");
    }
    let reused = evidence::Entity::find()
        .filter(evidence::Column::Sha256.eq(sha256))
        .filter(evidence::Column::CaseId.ne(ev.case_id))
        .filter(evidence::Column::Status.eq(EvidenceStatus::Confirmed))
        .one(&svc.db)
        .await?
        .is_some();
    if reused {
        flags.push("REUSED");
    }
    Ok(flags)
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
        sha256: Set(ck.sha256.clone()),
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
