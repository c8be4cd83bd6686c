//! The `fs` evidence store: objects in a local folder, uploaded and downloaded through
//! gridwatch's own routes (`/files/{key}`) with HMAC-signed, expiring URLs, so clients
//! follow the same flow as with S3.
//!
//! Layout under the root: the object `ev/ab/cd…` is the file `ev/ab/cd…`; its content type
//! is kept in `.meta/ev/ab/cd….json`; uploads are written to `.tmp/` first and then
//! hard-linked into place, which fails when the object exists, so an object is never
//! overwritten and never seen half-written. Keys cannot name `.tmp` or `.meta`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

use super::{
    BlobReader, BlobStore, ObjectKey, ObjectMeta, PutTarget, UploadMethod, UploadTicket,
    check_content_type, check_validity,
};
use crate::clock::Clock;
use crate::error::{AppError, Msg};

/// The signing key used in development when `storage.url_signing_key` is not set. Public,
/// so refused in production (see `Config::validate`).
pub const DEV_SIGNING_KEY: &str = "gridwatch-development-url-signing-key-not-a-secret";

const TMP_DIR: &str = ".tmp";
const META_DIR: &str = ".meta";

/// A local-folder evidence store. Cheap to clone.
#[derive(Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    signing_key: SecretString,
    public_url: String,
    /// Signed URLs expire by this clock (the server's, which tests move).
    clock: Clock,
}

/// Why writing an object failed.
#[derive(Debug)]
pub enum WriteError {
    /// The object already exists (objects are written once).
    Exists,
    /// The stream was longer than allowed.
    TooLarge,
    /// The stream ended before the declared size.
    TooShort {
        /// Bytes received.
        got: u64,
    },
    /// Reading the incoming stream failed (the client broke off).
    Read(std::io::Error),
    /// The folder could not be written.
    Store(anyhow::Error),
}

/// What a signed URL allows.
#[derive(Debug, Clone, Copy)]
pub enum Grant<'a> {
    /// PUT exactly `len` bytes of `content_type`.
    Upload { content_type: &'a str, len: u64 },
    /// GET the object.
    Download,
}

impl FsStore {
    /// A store rooted at `root` (created if missing), signing URLs with `signing_key` for
    /// a server reachable at `public_url`.
    pub fn new(
        root: &Path,
        signing_key: SecretString,
        public_url: String,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(TMP_DIR)).context("creating the folder")?;
        std::fs::create_dir_all(root.join(META_DIR)).context("creating the folder")?;
        Ok(Self {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                signing_key,
                public_url: public_url.trim_end_matches('/').to_owned(),
                clock,
            }),
        })
    }

    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        // Safe: an ObjectKey is relative, without `..` and without dot-segments.
        self.inner.root.join(key.as_str())
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.inner
            .root
            .join(META_DIR)
            .join(format!("{}.json", key.as_str()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this never fails.
        <Hmac<Sha256> as Mac>::new_from_slice(self.inner.signing_key.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
    }

    fn signed_message(key: &ObjectKey, exp: i64, grant: Grant<'_>) -> String {
        // Content types never contain a newline (check_content_type), keys neither.
        match grant {
            Grant::Upload { content_type, len } => {
                format!("PUT\n{key}\n{exp}\n{content_type}\n{len}")
            }
            Grant::Download => format!("GET\n{key}\n{exp}"),
        }
    }

    /// The hex HMAC-SHA256 over what the URL allows.
    pub fn sign(&self, key: &ObjectKey, exp: i64, grant: Grant<'_>) -> String {
        let mut mac = self.mac();
        mac.update(Self::signed_message(key, exp, grant).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `sig` is the signature of exactly this grant (constant-time compare).
    pub fn verify(&self, key: &ObjectKey, exp: i64, grant: Grant<'_>, sig: &str) -> bool {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(Self::signed_message(key, exp, grant).as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    fn url(&self, key: &ObjectKey, params: &[(&str, &str)]) -> Result<String, AppError> {
        let mut url = reqwest::Url::parse(&format!("{}/files/{key}", self.inner.public_url))
            .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("server.public_url")))?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(url.into())
    }

    /// Now, on the store's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn expiry(&self, expires: Duration) -> Result<(i64, DateTime<Utc>), AppError> {
        check_validity(expires)?;
        let secs = i64::try_from(expires.as_secs()).unwrap_or(i64::MAX);
        let exp = self.now().timestamp().saturating_add(secs);
        let at = DateTime::from_timestamp(exp, 0)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("expiry out of range")))?;
        Ok((exp, at))
    }

    /// Whether the object exists (a plain file at its path).
    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, AppError> {
        match tokio::fs::metadata(self.object_path(key)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(unavailable(e, "stat")),
        }
    }

    /// Opens an object for reading, with its metadata; `None` when missing.
    pub async fn open(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(tokio::fs::File, ObjectMeta)>, AppError> {
        let file = match tokio::fs::File::open(self.object_path(key)).await {
            Ok(f) => f,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(unavailable(e, "open")),
        };
        let meta = file.metadata().await.map_err(|e| unavailable(e, "stat"))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let (content_type, sha256) = self.recorded(key).await;
        Ok(Some((
            file,
            ObjectMeta {
                size: meta.len(),
                content_type,
                sha256,
            },
        )))
    }

    /// The content type and SHA-256 recorded beside an object when it was written
    /// (either may be missing: objects from before hashes were recorded have none).
    async fn recorded(&self, key: &ObjectKey) -> (Option<String>, Option<String>) {
        let Ok(raw) = tokio::fs::read(self.meta_path(key)).await else {
            return (None, None);
        };
        let Ok(meta) = serde_json::from_slice::<serde_json::Value>(&raw) else {
            return (None, None);
        };
        let field = |name: &str| meta.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let sha256 =
            field("sha256").filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        (field("content_type"), sha256)
    }

    /// Streams `reader` into a new object: at most `max` bytes, exactly `exact` when given.
    /// Writes to a temporary file first; on any failure (or cancellation) nothing is left.
    /// The bytes are hashed on the way and the SHA-256 recorded beside the object, so
    /// confirming a photo needs only its first bytes, not a second full read.
    pub async fn write_object(
        &self,
        key: &ObjectKey,
        content_type: &str,
        reader: impl AsyncRead + Unpin,
        exact: Option<u64>,
        max: u64,
    ) -> Result<u64, WriteError> {
        let store = |e: std::io::Error, what: &'static str| {
            WriteError::Store(anyhow::Error::new(e).context(what))
        };
        let target = self.object_path(key);
        if tokio::fs::try_exists(&target)
            .await
            .map_err(|e| store(e, "stat"))?
        {
            return Err(WriteError::Exists);
        }
        let tmp_dir = self.inner.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(|e| store(e, "creating .tmp"))?;
        let tmp = TempPath(tmp_dir.join(format!("{:032x}", rand::random::<u128>())));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp.0)
            .await
            .map_err(|e| store(e, "creating a temporary file"))?;

        let mut limited = reader.take(max.saturating_add(1));
        let mut buf = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        let mut hasher = <Sha256 as sha2::Digest>::new();
        loop {
            let n = limited.read(&mut buf).await.map_err(WriteError::Read)?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > max {
                return Err(WriteError::TooLarge);
            }
            sha2::Digest::update(&mut hasher, &buf[..n]);
            file.write_all(&buf[..n])
                .await
                .map_err(|e| store(e, "writing"))?;
        }
        let sha256 = hex::encode(sha2::Digest::finalize(hasher));
        if let Some(exact) = exact
            && written != exact
        {
            return Err(if written > exact {
                WriteError::TooLarge
            } else {
                WriteError::TooShort { got: written }
            });
        }
        file.sync_all().await.map_err(|e| store(e, "syncing"))?;
        drop(file);

        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| store(e, "creating the object's folder"))?;
        }
        // A hard link fails when the target exists: write-once even against a racing upload.
        match tokio::fs::hard_link(&tmp.0, &target).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(WriteError::Exists);
            }
            Err(e) => return Err(store(e, "linking the object into place")),
        }
        if let Err(e) = self.write_meta(key, content_type, &sha256).await {
            let _ = tokio::fs::remove_file(&target).await;
            return Err(WriteError::Store(e));
        }
        Ok(written)
    }

    async fn write_meta(
        &self,
        key: &ObjectKey,
        content_type: &str,
        sha256: &str,
    ) -> anyhow::Result<()> {
        let path = self.meta_path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .context("creating the metadata folder")?;
        }
        let tmp = TempPath(
            self.inner
                .root
                .join(TMP_DIR)
                .join(format!("{:032x}.json", rand::random::<u128>())),
        );
        let body = serde_json::to_vec(&serde_json::json!({
            "content_type": content_type,
            "sha256": sha256,
        }))?;
        tokio::fs::write(&tmp.0, body)
            .await
            .context("writing metadata")?;
        tokio::fs::rename(&tmp.0, &path)
            .await
            .context("moving metadata into place")?;
        Ok(())
    }
}

/// A temporary file removed when dropped (also when the upload future is cancelled).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        // Usually already moved or linked away; a missing file is fine.
        let _ = std::fs::remove_file(&self.0);
    }
}

fn is_missing(e: &std::io::Error) -> bool {
    // A path whose parent is a file reports NotADirectory: the object does not exist.
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

fn unavailable(e: std::io::Error, what: &'static str) -> AppError {
    AppError::StorageUnavailable(anyhow::Error::new(e).context(what))
}

impl WriteError {
    /// The API error of a failed server-side write.
    pub fn into_app_error(self, max: u64) -> AppError {
        match self {
            Self::Exists => AppError::Conflict(Msg::new("存储对象已存在", "object already exists")),
            Self::TooLarge => super::too_large(max),
            Self::TooShort { got } => AppError::BadInput {
                msg: Msg::new(
                    format!("文件不完整：只收到 {got} 字节"),
                    format!("incomplete file: only {got} bytes received"),
                ),
                detail: Some("SIZE_MISMATCH"),
                field: None,
            },
            Self::Read(e) => super::read_interrupted(e),
            Self::Store(e) => AppError::StorageUnavailable(e),
        }
    }
}

impl BlobStore for FsStore {
    fn kind(&self) -> &'static str {
        "fs"
    }

    fn presign_upload<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        byte_size: u64,
        // This store hashes every upload itself ([`Checksums::Hashed`]): a declared hash
        // is compared at confirmation.
        _sha256: Option<&'a [u8; 32]>,
        expires: Duration,
    ) -> BoxFuture<'a, Result<UploadTicket, AppError>> {
        Box::pin(async move {
            check_content_type(content_type)?;
            let (exp, expires_at) = self.expiry(expires)?;
            let grant = Grant::Upload {
                content_type,
                len: byte_size,
            };
            let sig = self.sign(key, exp, grant);
            let put_url = self.url(
                key,
                &[
                    ("exp", &exp.to_string()),
                    ("ct", content_type),
                    ("len", &byte_size.to_string()),
                    ("sig", &sig),
                ],
            )?;
            // The same grant as a form: what `wx.uploadFile` and S3's POST use.
            Ok(UploadTicket {
                url: self.url(key, &[])?,
                method: UploadMethod::Post,
                fields: vec![
                    ("exp".to_owned(), exp.to_string()),
                    ("len".to_owned(), byte_size.to_string()),
                    ("Content-Type".to_owned(), content_type.to_owned()),
                    ("sig".to_owned(), sig),
                ],
                headers: Vec::new(),
                expires_at,
                put: Some(PutTarget {
                    url: put_url,
                    headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
                }),
                sha256_bound: false,
            })
        })
    }

    fn head<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, AppError>> {
        Box::pin(async move {
            let meta = match tokio::fs::metadata(self.object_path(key)).await {
                Ok(m) if m.is_file() => m,
                Ok(_) => return Ok(None),
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(unavailable(e, "stat")),
            };
            let (content_type, sha256) = self.recorded(key).await;
            Ok(Some(ObjectMeta {
                size: meta.len(),
                content_type,
                sha256,
            }))
        })
    }

    fn open_read<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<BlobReader>, AppError>> {
        Box::pin(async move {
            Ok(self
                .open(key)
                .await?
                .map(|(file, _)| Box::new(file) as BlobReader))
        })
    }

    fn put_stream<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        reader: BlobReader,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<u64, AppError>> {
        Box::pin(async move {
            check_content_type(content_type)?;
            self.write_object(key, content_type, reader, None, max_bytes)
                .await
                .map_err(|e| e.into_app_error(max_bytes))
        })
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(async move {
            for path in [self.object_path(key), self.meta_path(key)] {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => {}
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(unavailable(e, "delete")),
                }
            }
            Ok(())
        })
    }

    fn presign_download<'a>(
        &'a self,
        key: &'a ObjectKey,
        expires: Duration,
    ) -> BoxFuture<'a, Result<String, AppError>> {
        Box::pin(async move {
            let (exp, _) = self.expiry(expires)?;
            let sig = self.sign(key, exp, Grant::Download);
            self.url(key, &[("exp", &exp.to_string()), ("sig", &sig)])
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            let tmp = self.inner.root.join(TMP_DIR);
            tokio::fs::create_dir_all(&tmp)
                .await
                .map_err(|e| unavailable(e, "creating .tmp"))?;
            let probe = TempPath(tmp.join(format!("ready-{:016x}", rand::random::<u64>())));
            tokio::fs::write(&probe.0, b"ok")
                .await
                .map_err(|e| unavailable(e, "writing a probe file"))?;
            tokio::fs::remove_file(&probe.0)
                .await
                .map_err(|e| unavailable(e, "removing the probe file"))?;
            Ok(())
        })
    }

    fn folder(&self) -> Option<FsStore> {
        Some(self.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> FsStore {
        FsStore::new(
            dir,
            DEV_SIGNING_KEY.into(),
            "http://127.0.0.1:9".into(),
            Clock::system(),
        )
        .unwrap()
    }

    #[test]
    fn signatures_bind_every_term() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = ObjectKey::try_from("ev/ab/cd").unwrap();
        let other = ObjectKey::try_from("ev/ab/ce").unwrap();
        let up = Grant::Upload {
            content_type: "image/jpeg",
            len: 10,
        };
        let sig = s.sign(&key, 100, up);
        assert!(s.verify(&key, 100, up, &sig));
        assert!(!s.verify(&other, 100, up, &sig));
        assert!(!s.verify(&key, 101, up, &sig));
        assert!(!s.verify(
            &key,
            100,
            Grant::Upload {
                content_type: "image/png",
                len: 10
            },
            &sig
        ));
        assert!(!s.verify(
            &key,
            100,
            Grant::Upload {
                content_type: "image/jpeg",
                len: 11
            },
            &sig
        ));
        // An upload signature is not a download signature, and vice versa.
        assert!(!s.verify(&key, 100, Grant::Download, &sig));
        let dl = s.sign(&key, 100, Grant::Download);
        assert!(s.verify(&key, 100, Grant::Download, &dl));
        assert!(!s.verify(&key, 100, up, &dl));
        assert!(!s.verify(&key, 100, Grant::Download, "zz"));
        // Another key signs differently.
        let other_store = FsStore::new(
            dir.path(),
            "another-key".into(),
            "http://x".into(),
            Clock::system(),
        )
        .unwrap();
        assert!(!other_store.verify(&key, 100, Grant::Download, &dl));
    }

    #[tokio::test]
    async fn write_once_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = ObjectKey::try_from("ev/ab/cd").unwrap();
        let n = s
            .write_object(&key, "image/jpeg", &b"hello"[..], Some(5), 5)
            .await
            .unwrap();
        assert_eq!(n, 5);
        assert!(matches!(
            s.write_object(&key, "image/jpeg", &b"other"[..], None, 5)
                .await,
            Err(WriteError::Exists)
        ));
        let key2 = ObjectKey::try_from("ev/ab/ce").unwrap();
        assert!(matches!(
            s.write_object(&key2, "image/jpeg", &b"toolong"[..], None, 5)
                .await,
            Err(WriteError::TooLarge)
        ));
        assert!(matches!(
            s.write_object(&key2, "image/jpeg", &b"abc"[..], Some(5), 5)
                .await,
            Err(WriteError::TooShort { got: 3 })
        ));
        assert!(!s.exists(&key2).await.unwrap());
        let leftovers = std::fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count();
        assert_eq!(leftovers, 0);
        let meta = s.head(&key).await.unwrap().unwrap();
        assert_eq!(meta.size, 5);
        assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
        // Hashed on the way in: SHA-256("hello").
        assert_eq!(
            meta.sha256.as_deref(),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        // A record without a hash (an object from before hashes were kept), or with a
        // malformed one, vouches for nothing: the bytes will be read.
        std::fs::write(s.meta_path(&key), br#"{"content_type":"image/jpeg"}"#).unwrap();
        assert_eq!(s.head(&key).await.unwrap().unwrap().sha256, None);
        std::fs::write(
            s.meta_path(&key),
            br#"{"content_type":"image/jpeg","sha256":"../etc"}"#,
        )
        .unwrap();
        assert_eq!(s.head(&key).await.unwrap().unwrap().sha256, None);
    }
}
