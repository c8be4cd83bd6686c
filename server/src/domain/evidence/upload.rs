//! Upload tickets (the client sends the bytes straight to storage) and the streaming
//! multipart upload (the bytes pass through, never held whole).

use std::time::Duration as StdDuration;

use entity::evidence;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    CaseRef, EvidenceStatus, Phase, Sha256Hex, check_room, check_tipster_limits, confirm,
    load_case_ref, may_add,
};
use crate::domain::Services;
use crate::domain::access::Viewer;
use crate::domain::idempotency::IdemKey;
use crate::domain::media::ImageKind;
use crate::domain::uow;
use crate::error::{AppError, Msg};
use crate::storage::{Checksums, ObjectKey, UploadTicket, random_key};

/// What a client asks to upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRequest {
    /// The case, by id or (a tipster's) tracking code.
    pub case: CaseRef,
    /// Phase.
    pub phase: Phase,
    /// Declared content type (image/jpeg, image/png, image/webp, image/heic).
    pub content_type: String,
    /// Exact size in bytes.
    pub byte_size: u64,
    /// SHA-256 of the bytes, hex, when the client computed it (checked on confirmation;
    /// the server computes it there either way).
    pub sha256: Option<String>,
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
            field: Some("byteSize".into()),
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
        field: Some("contentType".into()),
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
        return reissued(svc, id, expires).await;
    }
    check_type(&req.content_type)?;
    check_size(req.byte_size, cfg.max_bytes)?;
    let sha = req.sha256.as_deref().map(Sha256Hex::try_from).transpose()?;
    let c = load_case_ref(&svc.db, &req.case).await?;
    may_add(&svc.db, viewer, &c, req.phase).await?;
    if !c.status.is_open() {
        return Err(AppError::InvalidTransition(Msg::new(
            "已结束的案件不能再上传证据",
            "the case is finished",
        )));
    }
    check_room(&svc.db, &c).await?;
    check_tipster_limits(svc, viewer, &c, Some(req.byte_size)).await?;
    let key = random_key("ev");
    let now = svc.clock.now();
    // Where the store verifies checksums, the ticket carries the declared hash: the key
    // can then only ever hold those bytes, and confirmation reads only their head.
    let bind = sha
        .as_ref()
        .filter(|_| svc.storage.checksums() == Checksums::Verified)
        .map(Sha256Hex::bytes);
    let ticket = svc
        .storage
        .presign_upload(
            &key,
            &req.content_type,
            req.byte_size,
            bind.as_ref(),
            expires,
        )
        .await?;
    let sha256_bound = ticket.sha256_bound;
    let (uploader_id, uploader_tipster_id) = uploader(viewer);
    let row = evidence::ActiveModel {
        case_id: Set(c.id),
        phase: Set(req.phase),
        status: Set(EvidenceStatus::Pending),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(req.content_type.clone()),
        byte_size: Set(i64::try_from(req.byte_size).unwrap_or(i64::MAX)),
        // Empty until confirmation computes it, when the client declared none.
        sha256: Set(sha.map(|s| s.0).unwrap_or_default()),
        sha256_bound: Set(sha256_bound),
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
    if ev.object_key != key.as_str() {
        // A concurrent request with the same key won: answer with its evidence.
        return reissued(svc, id, expires).await;
    }
    Ok(Upload {
        evidence: ev,
        ticket,
    })
}

/// The answer to a retried request: the same evidence, with a fresh URL.
async fn reissued(svc: &Services, id: i64, expires: StdDuration) -> Result<Upload, AppError> {
    let ev = evidence::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .ok_or_else(|| AppError::not_found("证据", "evidence"))?;
    let key = ObjectKey::try_from(ev.object_key.as_str())?;
    let size = u64::try_from(ev.byte_size).unwrap_or(0);
    // A bound row stays bound: its new ticket carries the same hash, whatever this
    // process's probe found, or confirmation would trust bytes nobody verified.
    let bind = if ev.sha256_bound {
        Some(Sha256Hex::try_from(ev.sha256.as_str())?.bytes())
    } else {
        None
    };
    let ticket = svc
        .storage
        .presign_upload(&key, &ev.content_type, size, bind.as_ref(), expires)
        .await?;
    Ok(Upload {
        evidence: ev,
        ticket,
    })
}

/// Who uploads: a staff member or a tipster.
fn uploader(viewer: &Viewer) -> (Option<i64>, Option<i64>) {
    match viewer {
        Viewer::Staff(s) => (Some(s.user_id), None),
        Viewer::Public(p) => (None, Some(p.tipster_id)),
        Viewer::Anonymous => (None, None),
    }
}

/// Streams a multipart upload to storage (bounded memory), then verifies it like a
/// direct upload. The declared hash is the one computed while streaming.
pub async fn upload_stream(
    svc: &Services,
    viewer: &Viewer,
    case: &CaseRef,
    phase: Phase,
    content_type: &str,
    reader: crate::storage::BlobReader,
) -> Result<evidence::Model, AppError> {
    check_type(content_type)?;
    let c = load_case_ref(&svc.db, case).await?;
    may_add(&svc.db, viewer, &c, phase).await?;
    if !c.status.is_open() {
        return Err(AppError::InvalidTransition(Msg::new(
            "已结束的案件不能再上传证据",
            "the case is finished",
        )));
    }
    check_room(&svc.db, &c).await?;
    check_tipster_limits(svc, viewer, &c, None).await?;
    let max_bytes = match viewer {
        Viewer::Public(_) => svc.config.evidence.tipster_max_bytes,
        _ => svc.config.evidence.max_bytes,
    };
    let key = random_key("ev");
    let hashed = HashingReader::new(reader);
    let digest = hashed.digest_handle();
    let written = svc
        .storage
        .put_stream(&key, content_type, Box::new(hashed), max_bytes)
        .await?;
    let sha = digest.finish();
    let (uploader_id, uploader_tipster_id) = uploader(viewer);
    let now = svc.clock.now();
    let row = evidence::ActiveModel {
        case_id: Set(c.id),
        phase: Set(phase),
        status: Set(EvidenceStatus::Pending),
        object_key: Set(key.as_str().to_owned()),
        content_type: Set(content_type.to_owned()),
        byte_size: Set(i64::try_from(written).unwrap_or(i64::MAX)),
        sha256: Set(sha),
        // The server wrote these bytes and hashed them on the way; no upload URL exists.
        sha256_bound: Set(true),
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
