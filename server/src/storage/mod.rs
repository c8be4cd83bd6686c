//! Evidence storage: one [`BlobStore`] trait with two backends, a local folder served by
//! gridwatch itself ([`fs`], the default) and any S3-compatible store ([`s3`]).
//!
//! Clients see the same flow on both: ask for an upload ticket (a URL bound to one key,
//! one content type and one exact size, valid for minutes), send the bytes straight
//! there, then let the server inspect the object. Keys are random and written once.
//!
//! A missing object is never an outage: `head` and `open_read` answer `Ok(None)`. Only a
//! store that cannot be reached or misbehaves gives [`AppError::StorageUnavailable`].

pub mod fs;
pub mod s3;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::clock::Clock;
use crate::config::{ServerConfig, StorageBackend, StorageConfig};
use crate::error::{AppError, Msg};

pub use fs::FsStore;
pub use s3::S3Store;

/// A streaming reader over an object's bytes (or over bytes to store).
pub type BlobReader = Box<dyn AsyncRead + Send + Unpin>;

/// Longest validity of an upload or download URL (S3's own limit: one week).
pub const MAX_URL_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// The name of the form part that carries the file in a POST upload (both stores).
pub const FILE_FIELD: &str = "file";

/// How the client sends the bytes of an [`UploadTicket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadMethod {
    /// A `multipart/form-data` POST: the ticket's `fields` first, then the file as the
    /// last part named [`FILE_FIELD`] (an S3 POST policy, or the folder store's form
    /// route) — what `wx.uploadFile` sends.
    Post,
    /// A PUT of the raw bytes with the ticket's `headers`.
    Put,
}

impl UploadMethod {
    /// `"POST"` or `"PUT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }
}

/// Where and how a client uploads one object: bound to its key, content type and exact
/// size, and valid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTicket {
    /// The URL to send the bytes to.
    pub url: String,
    /// POST (form upload) or PUT (raw body).
    pub method: UploadMethod,
    /// Form fields to send before the file, in this order (POST only).
    pub fields: Vec<(String, String)>,
    /// Headers to send (PUT only).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
    /// The same upload as a raw PUT, where the store offers one (the folder store), for
    /// clients that prefer it.
    pub put: Option<PutTarget>,
    /// The ticket carries the declared SHA-256 and the store refuses other bytes (see
    /// [`Checksums::Verified`]): whatever the key holds has that hash, however often the
    /// URL is used before it expires.
    pub sha256_bound: bool,
}

/// How a store vouches for the bytes clients upload with its tickets, and so how much of
/// an object confirmation must read (reported by `/readyz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksums {
    /// The folder store hashes every upload on the way to disk and never lets it change:
    /// confirmation reads only the head of the object.
    Hashed,
    /// The S3 store passed the checksum probe: it refused bytes that did not match the
    /// `x-amz-checksum-sha256` of a POST policy and kept nothing of them. Tickets for a
    /// declared SHA-256 carry it, and confirmation reads only the head of the object.
    Verified,
    /// The S3 store failed the probe (it accepted or kept bytes that did not match):
    /// confirmation copies each object away from its upload URL and reads it whole.
    Unverified,
    /// The probe has not had an answer yet (the store was unreachable): as `Unverified`
    /// until it has.
    Unknown,
}

impl Checksums {
    /// The name `/readyz` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hashed => "hashed-on-upload",
            Self::Verified => "store-verified",
            Self::Unverified => "full-read",
            Self::Unknown => "probing",
        }
    }
}

/// A raw-body PUT upload: URL and the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutTarget {
    /// The URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
}

/// What the store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// The content type it was uploaded with, when the store kept it.
    pub content_type: Option<String>,
    /// The SHA-256 (lower-case hex) of the stored bytes, when the store itself vouches
    /// for it: the folder store hashes every upload on the way to disk and never lets
    /// the object change afterwards. `None` where the bytes must be read to know it (S3,
    /// whose uploads through a presigned POST can be repeated until the URL expires;
    /// objects written before the folder store recorded hashes).
    pub sha256: Option<String>,
}

/// The key of one stored object: 1–512 characters of `[A-Za-z0-9/_.-]`, `/`-separated
/// segments that are neither empty nor start with a dot (so no `..`, no absolute paths,
/// and the `fs` store's own `.tmp`/`.meta` folders can never be named).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn valid_segment(segment: &str) -> bool {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = AppError;

    fn try_from(key: &str) -> Result<Self, AppError> {
        if key.is_empty() || key.len() > 512 || !key.split('/').all(Self::valid_segment) {
            return Err(AppError::BadInput {
                msg: Msg::new("存储对象键无效", "invalid object key"),
                detail: Some("INVALID_KEY"),
                field: None,
            });
        }
        Ok(Self(key.to_owned()))
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = AppError;

    fn from_str(s: &str) -> Result<Self, AppError> {
        Self::try_from(s)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A fresh, unguessable key under `prefix`: `{prefix}/{2 hex}/{30 hex}` from 128 random
/// bits (the two-character level keeps folders small on the `fs` store). It carries no
/// personal data. Segments of `prefix` that are not valid key segments are dropped.
pub fn random_key(prefix: &str) -> ObjectKey {
    let hex = format!("{:032x}", rand::random::<u128>());
    let (fan, rest) = hex.split_at(2);
    let prefix: Vec<&str> = prefix
        .split('/')
        .filter(|s| ObjectKey::valid_segment(s))
        .collect();
    if prefix.is_empty() {
        ObjectKey(format!("{fan}/{rest}"))
    } else {
        ObjectKey(format!("{}/{fan}/{rest}", prefix.join("/")))
    }
}

/// Checks a content type before it is bound into a URL or policy: `type/subtype` with
/// optional parameters, printable ASCII without quotes or backslashes, at most 127 bytes.
pub fn check_content_type(content_type: &str) -> Result<(), AppError> {
    let ok = !content_type.is_empty()
        && content_type.len() <= 127
        && content_type
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().split('/').count() == 2)
        && content_type
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\'));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadInput {
            msg: Msg::new("文件类型无效", "invalid content type"),
            detail: Some("INVALID_CONTENT_TYPE"),
            field: None,
        })
    }
}

/// Checks the validity of a presigned URL: at least a second, at most a week.
pub fn check_validity(expires: Duration) -> Result<(), AppError> {
    if expires < Duration::from_secs(1) || expires > MAX_URL_VALIDITY {
        return Err(AppError::Internal(anyhow::anyhow!(
            "presigned URL validity must be 1 s ..= 7 days, got {expires:?}"
        )));
    }
    Ok(())
}

/// The error of a stream longer than allowed.
pub fn too_large(max_bytes: u64) -> AppError {
    AppError::BadInput {
        msg: Msg::new(
            format!("文件过大，最多 {max_bytes} 字节"),
            format!("file too large, at most {max_bytes} bytes"),
        ),
        detail: Some("TOO_LARGE"),
        field: None,
    }
}

/// The error of a client stream that broke off while it was being stored.
pub fn read_interrupted(e: std::io::Error) -> AppError {
    tracing::info!(error = %e, "upload stream interrupted");
    AppError::BadInput {
        msg: Msg::new("上传中断，请重试", "upload interrupted, please retry"),
        detail: Some("UPLOAD_INTERRUPTED"),
        field: None,
    }
}

/// The evidence store. Every method names objects by [`ObjectKey`]; errors are
/// [`AppError`]s (a missing object is `Ok(None)`, an unreachable store
/// `StorageUnavailable`). Held by the app as `Arc<dyn BlobStore>`.
pub trait BlobStore: Send + Sync + 'static {
    /// `"fs"` or `"s3"`, for logs and readiness.
    fn kind(&self) -> &'static str;

    /// A ticket to upload exactly `byte_size` bytes of `content_type` to `key`, valid for
    /// `expires`. Anything else sent there is rejected by the store. With `sha256` an S3
    /// store binds the ticket to those bytes too ([`UploadTicket::sha256_bound`]): pass
    /// it only when [`BlobStore::checksums`] is `Verified`, or to re-issue a ticket that
    /// was bound. The folder store hashes uploads itself and ignores it.
    fn presign_upload<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        byte_size: u64,
        sha256: Option<&'a [u8; 32]>,
        expires: Duration,
    ) -> BoxFuture<'a, Result<UploadTicket, AppError>>;

    /// How this store vouches for uploaded bytes (see [`Checksums`]).
    fn checksums(&self) -> Checksums {
        Checksums::Hashed
    }

    /// Size and content type of an object, `None` when it does not exist.
    fn head<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, AppError>>;

    /// A streaming reader over an object, `None` when it does not exist.
    fn open_read<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<BlobReader>, AppError>>;

    /// The first `n` bytes of an object (fewer when it is shorter), `None` when it does not
    /// exist. For magic-byte checks.
    fn read_prefix<'a>(
        &'a self,
        key: &'a ObjectKey,
        n: usize,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, AppError>> {
        Box::pin(async move {
            let Some(reader) = self.open_read(key).await? else {
                return Ok(None);
            };
            let mut buf = Vec::with_capacity(n.min(64 * 1024));
            reader
                .take(n as u64)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| AppError::StorageUnavailable(anyhow::Error::new(e).context("read")))?;
            Ok(Some(buf))
        })
    }

    /// Stores `reader` under `key` with bounded memory and returns the bytes written. A
    /// stream longer than `max_bytes` fails with `BAD_INPUT`/`TOO_LARGE` and leaves no object.
    fn put_stream<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        reader: BlobReader,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<u64, AppError>>;

    /// Makes the object at `key` immune to anyone still holding its upload URL and
    /// returns the key of the immutable copy. Stores whose upload route already refuses
    /// an existing key (the folder store) return `key` itself; S3 stores copy the object
    /// server-side, since a presigned POST policy stays usable until it expires.
    fn seal<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectKey, AppError>> {
        Box::pin(async move { Ok(key.clone()) })
    }

    /// The key [`BlobStore::seal`] copies `key` to (`key` itself where nothing is copied).
    fn sealed_key(&self, key: &ObjectKey) -> ObjectKey {
        key.clone()
    }

    /// The upload copy a sealed key was made from, where sealing copies (S3); `None`
    /// where the upload itself is the sealed object (the folder store).
    fn upload_key_of(&self, sealed: &ObjectKey) -> Option<ObjectKey> {
        let _ = sealed;
        None
    }

    /// Removes an object; removing a missing object is not an error.
    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), AppError>>;

    /// A URL that downloads the object until `expires` has passed.
    fn presign_download<'a>(
        &'a self,
        key: &'a ObjectKey,
        expires: Duration,
    ) -> BoxFuture<'a, Result<String, AppError>>;

    /// Readiness: the bucket answers, or the folder is writable. An S3 store whose
    /// checksum probe has not answered yet runs it here.
    fn check(&self) -> BoxFuture<'_, Result<(), AppError>>;

    /// The folder store, whose signed URLs the server itself answers (the HTTP layer
    /// mounts its routes); `None` for a store that serves its own URLs.
    fn folder(&self) -> Option<FsStore> {
        None
    }
}

/// Builds the configured store. Nothing is contacted yet (readiness does that), so a
/// store that is down does not stop the server from starting; a folder that cannot be
/// created or credentials that are missing do.
pub fn build(
    storage: &StorageConfig,
    server: &ServerConfig,
    clock: &Clock,
) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match storage.backend {
        StorageBackend::Fs => {
            let key = storage.url_signing_key.clone().unwrap_or_else(|| {
                tracing::warn!(
                    "storage.url_signing_key not set: using the public development key (never in production)"
                );
                fs::DEV_SIGNING_KEY.into()
            });
            Arc::new(
                FsStore::new(&storage.fs_root, key, server.public_url(), clock.clone())
                    .with_context(|| format!("evidence folder {}", storage.fs_root.display()))?,
            )
        }
        StorageBackend::S3 => {
            Arc::new(S3Store::new(&storage.s3, clock.clone()).context("S3 evidence store")?)
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_are_safe_relative_paths() {
        let good = ["ev/ab/cdef0123", "a", "ev/2026-01/x_y.jpg", "A/B/C"];
        for k in good {
            assert!(ObjectKey::try_from(k).is_ok(), "{k}");
        }
        let long = "a".repeat(513);
        let bad = [
            "",
            "/abs",
            "ev/../etc",
            "..",
            "ev/./x",
            "ev//x",
            "ev/",
            ".tmp/x",
            "ev/.meta",
            "ev/a b",
            "ev/ä",
            "ev\\x",
            "ev/x?y",
            "ev/%2e%2e",
            long.as_str(),
        ];
        for k in bad {
            assert!(ObjectKey::try_from(k).is_err(), "{k:?}");
        }
    }

    #[test]
    fn random_keys_are_valid_and_distinct() {
        let a = random_key("ev");
        let b = random_key("ev");
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("ev/"));
        assert_eq!(a.as_str().len(), "ev/".len() + 2 + 1 + 30);
        assert_eq!(ObjectKey::try_from(a.as_str()).unwrap(), a);
        // Bad prefix segments are dropped, never smuggled into the key.
        let c = random_key("../ev//.x/y");
        assert!(c.as_str().starts_with("ev/y/"), "{c}");
        assert!(ObjectKey::try_from(random_key("").as_str()).is_ok());
    }

    #[test]
    fn content_types_are_checked() {
        for ok in ["image/jpeg", "image/heic", "text/plain; charset=utf-8"] {
            assert!(check_content_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "jpeg", "image/jpeg\nx: y", "a/b/c", "image/\"x\""] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
