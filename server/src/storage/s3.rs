//! The `s3` evidence store: any S3-compatible object store through rust-s3 (AWS S3,
//! Aliyun OSS, Tencent COS, MinIO, Garage, Ceph), path-style or virtual-host.
//!
//! Uploads are presigned POST policies bound to the exact key, the exact content type
//! and a `content-length-range` of exactly the declared size. Downloads are presigned
//! GETs.
//!
//! Where the store verifies checksums, a policy also carries the client's declared
//! SHA-256 (`x-amz-checksum-sha256`), so the object can only ever hold those bytes and
//! confirmation need not read it whole. Whether it does is not taken on trust: the
//! first readiness check runs a probe ([`S3Store::probe_checksums`]) that sends bytes
//! which do not match a policy's checksum and requires the store to refuse them and
//! keep nothing, also over an object already stored. s3s-fs 0.14 fails it (it answers
//! 400 BadDigest but stores the bytes); Garage 2.5 passes. rust-s3 is built with `fail-on-err`, so every non-2xx answer is an error: a 404
//! means "no such object" (`Ok(None)`), anything else — refused connections, timeouts,
//! 5xx, 403 from wrong credentials — is `StorageUnavailable`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use futures_util::future::BoxFuture;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::post_policy::{PostPolicy, PostPolicyExpiration, PostPolicyField, PostPolicyValue};
use s3::{Bucket, Region};
use secrecy::ExposeSecret as _;
use sha2::Digest as _;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio_util::io::StreamReader;

use super::{
    BlobReader, BlobStore, Checksums, ObjectKey, ObjectMeta, UploadMethod, UploadTicket,
    check_content_type, check_validity,
};
use crate::clock::Clock;
use crate::config::S3Config;
use crate::error::{AppError, Msg};

/// Size of one part of a multipart upload, and so the memory one `put_stream` holds.
/// S3 requires parts of at least 5 MiB (except the last).
/// Multipart part size: S3's minimum for all but the last part, so that a streamed
/// upload holds as little as possible in memory.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// An S3-compatible evidence store.
pub struct S3Store {
    bucket: Box<Bucket>,
    /// Upload policies expire by this clock (the server's, which tests move). Presigned
    /// downloads are signed by rust-s3 at the system time.
    clock: Clock,
    /// What the checksum probe found ([`Checksums`] as a number: see `checksums_from`).
    checksums: AtomicU8,
    /// Sends the probe's form uploads, as a client would.
    http: reqwest::Client,
}

const UNKNOWN: u8 = 0;
const VERIFIED: u8 = 1;
const UNVERIFIED: u8 = 2;

fn checksums_from(v: u8) -> Checksums {
    match v {
        VERIFIED => Checksums::Verified,
        UNVERIFIED => Checksums::Unverified,
        _ => Checksums::Unknown,
    }
}

impl S3Store {
    /// A store for the configured bucket. Contacts nothing (readiness does).
    pub fn new(config: &S3Config, clock: Clock) -> anyhow::Result<Self> {
        let (Some(access_key), Some(secret_key)) = (&config.access_key, &config.secret_key) else {
            anyhow::bail!(
                "`storage.s3.access_key` and `storage.s3.secret_key` (GRIDWATCH__STORAGE__S3__ACCESS_KEY / __SECRET_KEY) are required when storage.backend = s3"
            );
        };
        let credentials = Credentials::new(
            Some(access_key.expose_secret()),
            Some(secret_key.expose_secret()),
            None,
            None,
            None,
        )
        .context("S3 credentials")?;
        let region = Region::Custom {
            region: config.region.clone(),
            endpoint: config.endpoint.trim_end_matches('/').to_owned(),
        };
        let mut bucket = Bucket::new(&config.bucket, region, credentials).context("S3 bucket")?;
        if config.path_style {
            bucket = bucket.with_path_style();
        }
        bucket.set_request_timeout(Some(Duration::from_secs(config.timeout_secs)));
        // rust-s3 retries idempotent reads after a failure, sleeping a second first. Our
        // callers are user requests that can retry themselves; an outage must show at once.
        s3::set_retries(0);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .build()
            .context("HTTP client for the checksum probe")?;
        Ok(Self {
            bucket,
            clock,
            checksums: AtomicU8::new(UNKNOWN),
            http,
        })
    }

    /// The bucket handle (tests use it to create their own buckets).
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }
}

fn is_not_found(e: &S3Error) -> bool {
    matches!(e, S3Error::HttpFailWithBody(404, _))
}

fn unavailable(e: S3Error, what: &'static str) -> AppError {
    AppError::StorageUnavailable(anyhow::Error::new(e).context(what))
}

fn expiry_secs(expires: Duration) -> Result<u32, AppError> {
    check_validity(expires)?;
    u32::try_from(expires.as_secs())
        .map_err(|_| AppError::Internal(anyhow::anyhow!("validity out of range")))
}

/// Fills `buf` from `reader` until it is full or the stream ends.
async fn read_part(
    reader: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<()> {
    buf.clear();
    // One allocation of the part's size: growing by doubling would briefly hold
    // one and a half parts.
    buf.reserve_exact(limit);
    let mut chunk = reader.take(limit as u64);
    while chunk.read_buf(buf).await? > 0 {}
    Ok(())
}

impl S3Store {
    async fn put_multipart(
        &self,
        key: &str,
        content_type: &str,
        first: Vec<u8>,
        reader: &mut (impl AsyncRead + Unpin),
        max_bytes: u64,
    ) -> Result<u64, AppError> {
        let upload = self
            .bucket
            .initiate_multipart_upload(key, content_type)
            .await
            .map_err(|e| unavailable(e, "initiating a multipart upload"))?;
        let result: Result<u64, AppError> = async {
            let mut parts = Vec::new();
            let mut total = first.len() as u64;
            let mut buf = first;
            let mut number = 1u32;
            loop {
                let part = self
                    .bucket
                    .put_multipart_chunk(
                        std::mem::take(&mut buf),
                        key,
                        number,
                        &upload.upload_id,
                        content_type,
                    )
                    .await
                    .map_err(|e| unavailable(e, "uploading a part"))?;
                parts.push(part);
                read_part(reader, &mut buf, PART_SIZE)
                    .await
                    .map_err(super::read_interrupted)?;
                if buf.is_empty() {
                    break;
                }
                total += buf.len() as u64;
                if total > max_bytes {
                    return Err(super::too_large(max_bytes));
                }
                number += 1;
            }
            self.bucket
                .complete_multipart_upload(key, &upload.upload_id, parts)
                .await
                .map_err(|e| unavailable(e, "completing a multipart upload"))?;
            Ok(total)
        }
        .await;
        if result.is_err()
            && let Err(e) = self.bucket.abort_upload(key, &upload.upload_id).await
        {
            tracing::warn!(error = %e, storage.key = key, "aborting a failed multipart upload failed");
        }
        result
    }
}

/// Bytes the probe stores, and other bytes of the same length it sends under their
/// checksum.
const PROBE_GOOD: &[u8] = b"gridwatch checksum probe: the bytes the policy names";
const PROBE_BAD: &[u8] = b"gridwatch checksum probe: other bytes, same length!!";

impl S3Store {
    /// A POST policy for exactly this key, type and size, and with `sha256` also for
    /// exactly those bytes (the store must verify it: see [`Checksums::Verified`]).
    async fn post_ticket(
        &self,
        key: &ObjectKey,
        content_type: &str,
        byte_size: u64,
        sha256: Option<&[u8; 32]>,
        expires: Duration,
    ) -> Result<UploadTicket, AppError> {
        use base64::Engine as _;
        check_content_type(content_type)?;
        let secs = expiry_secs(expires)?;
        let size = u32::try_from(byte_size).map_err(|_| {
            AppError::bad_input(
                "TOO_LARGE",
                Msg::new("文件过大", "file too large for a form upload"),
            )
        })?;
        let expires_at = self.clock.now() + chrono::Duration::seconds(i64::from(secs));
        let at = s3::creds::time::OffsetDateTime::from_unix_timestamp(expires_at.timestamp())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("policy expiry: {e}")))?;
        let mut policy = PostPolicy::new(PostPolicyExpiration::ExpiresAt(
            s3::creds::Rfc3339OffsetDateTime(at),
        ))
        .condition(
            PostPolicyField::Key,
            PostPolicyValue::Exact(Cow::Borrowed(key.as_str())),
        )
        .and_then(|p| {
            p.condition(
                PostPolicyField::ContentType,
                PostPolicyValue::Exact(Cow::Borrowed(content_type)),
            )
        })
        .and_then(|p| {
            p.condition(
                PostPolicyField::ContentLengthRange,
                PostPolicyValue::Range(size, size),
            )
        })
        .map_err(|e| unavailable(e, "building the POST policy"))?;
        if let Some(sha) = sha256 {
            // Both as exact conditions, so both are form fields too. (rust-s3's own
            // `AmzChecksumAlgorithm` puts the algorithm in the policy but not among the
            // fields, and a store that checks policies then refuses the form.)
            let b64 = base64::engine::general_purpose::STANDARD.encode(sha);
            policy = policy
                .condition(
                    PostPolicyField::Custom(Cow::Borrowed("x-amz-checksum-algorithm")),
                    PostPolicyValue::Exact(Cow::Borrowed("SHA256")),
                )
                .and_then(|p| {
                    p.condition(
                        PostPolicyField::Custom(Cow::Borrowed("x-amz-checksum-sha256")),
                        PostPolicyValue::Exact(Cow::Owned(b64)),
                    )
                })
                .map_err(|e| unavailable(e, "building the POST policy"))?;
        }
        let post = self
            .bucket
            .presign_post(policy)
            .await
            .map_err(|e| unavailable(e, "signing the POST policy"))?;
        // `key` first (some stores want it before the file), the rest in a stable order.
        // `dynamic_fields` only holds the content-length-range, which is no form field.
        let mut fields: Vec<(String, String)> = post.fields.into_iter().collect();
        fields.sort_by(|a, b| (a.0 != "key", &a.0).cmp(&(b.0 != "key", &b.0)));
        Ok(UploadTicket {
            url: post.url,
            method: UploadMethod::Post,
            fields,
            headers: Vec::new(),
            expires_at,
            put: None,
            sha256_bound: sha256.is_some(),
        })
    }

    /// Sends `body` to `ticket` as a client's form upload would; true when the store
    /// took it (2xx), false when it refused it (4xx). Anything else is an outage.
    async fn probe_send(
        &self,
        ticket: &UploadTicket,
        body: &'static [u8],
    ) -> Result<bool, AppError> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in &ticket.fields {
            form = form.text(k.clone(), v.clone());
        }
        let file = reqwest::multipart::Part::bytes(body)
            .file_name("probe.bin")
            .mime_str("application/octet-stream")
            .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
        let res = self
            .http
            .post(&ticket.url)
            .multipart(form.part(super::FILE_FIELD, file))
            .send()
            .await
            .map_err(|e| {
                AppError::StorageUnavailable(anyhow::Error::new(e).context("checksum probe"))
            })?;
        let status = res.status();
        if status.is_success() {
            Ok(true)
        } else if status.is_client_error() {
            Ok(false)
        } else {
            Err(AppError::StorageUnavailable(anyhow::anyhow!(
                "checksum probe: HTTP {status}"
            )))
        }
    }

    /// The bytes under `key`, `None` when it does not exist.
    async fn probe_read(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, AppError> {
        match self.bucket.get_object(key.as_str()).await {
            Ok(r) => Ok(Some(r.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(unavailable(e, "GET object")),
        }
    }

    /// Finds out whether the store verifies the checksum of a POST policy, with the
    /// very kind of upload clients send, on a fresh key under `gridwatch-probe/`:
    ///
    /// 1. bytes that do not match the policy's SHA-256 must be refused, and nothing kept;
    /// 2. the right bytes must be taken;
    /// 3. the wrong bytes sent again over them must be refused, and the right ones kept.
    ///
    /// `Ok(Verified)` or `Ok(Unverified)` when the store answered all of it; an error when
    /// it could not be reached (the result stays unknown, and the next readiness check
    /// asks again). The probe object is removed either way.
    pub async fn probe_checksums(&self) -> Result<Checksums, AppError> {
        let key = super::random_key("gridwatch-probe");
        let sha: [u8; 32] = sha2::Sha256::digest(PROBE_GOOD).into();
        let ticket = self
            .post_ticket(
                &key,
                "application/octet-stream",
                PROBE_GOOD.len() as u64,
                Some(&sha),
                Duration::from_secs(60),
            )
            .await?;
        let verdict = async {
            if self.probe_send(&ticket, PROBE_BAD).await? {
                return Ok(Err("took bytes that do not match the policy's checksum"));
            }
            if self.probe_read(&key).await?.is_some() {
                return Ok(Err(
                    "refused bytes that do not match the checksum, but stored them",
                ));
            }
            if !self.probe_send(&ticket, PROBE_GOOD).await? {
                return Ok(Err("refused a POST policy that carries a checksum"));
            }
            if self.probe_send(&ticket, PROBE_BAD).await? {
                return Ok(Err(
                    "took bytes that do not match the checksum over stored ones",
                ));
            }
            if self.probe_read(&key).await?.as_deref() != Some(PROBE_GOOD) {
                return Ok(Err("replaced verified bytes with refused ones"));
            }
            Ok::<_, AppError>(Ok(()))
        }
        .await;
        if let Err(e) = self.bucket.delete_object(key.as_str()).await
            && !is_not_found(&e)
        {
            tracing::warn!(error = %e, storage.key = %key, "could not remove the checksum probe");
        }
        Ok(match verdict? {
            Ok(()) => {
                tracing::info!(
                    "S3 store verifies upload checksums: confirmation reads only the head of photos"
                );
                Checksums::Verified
            }
            Err(why) => {
                tracing::warn!(
                    why,
                    "S3 store does not verify upload checksums: confirmation copies and reads every photo whole"
                );
                Checksums::Unverified
            }
        })
    }
}

impl BlobStore for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn presign_upload<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        byte_size: u64,
        sha256: Option<&'a [u8; 32]>,
        expires: Duration,
    ) -> BoxFuture<'a, Result<UploadTicket, AppError>> {
        Box::pin(async move {
            self.post_ticket(key, content_type, byte_size, sha256, expires)
                .await
        })
    }

    fn checksums(&self) -> Checksums {
        checksums_from(self.checksums.load(Ordering::Relaxed))
    }

    fn head<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<ObjectMeta>, AppError>> {
        Box::pin(async move {
            match self.bucket.head_object(key.as_str()).await {
                Ok((head, _)) => Ok(Some(ObjectMeta {
                    size: head
                        .content_length
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    content_type: head.content_type,
                    sha256: None,
                })),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(unavailable(e, "HEAD object")),
            }
        })
    }

    fn open_read<'a>(
        &'a self,
        key: &'a ObjectKey,
    ) -> BoxFuture<'a, Result<Option<BlobReader>, AppError>> {
        Box::pin(async move {
            match self.bucket.get_object_stream(key.as_str()).await {
                Ok(stream) => {
                    let bytes = stream.bytes.map_err(std::io::Error::other);
                    Ok(Some(Box::new(StreamReader::new(bytes)) as BlobReader))
                }
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(unavailable(e, "GET object")),
            }
        })
    }

    fn put_stream<'a>(
        &'a self,
        key: &'a ObjectKey,
        content_type: &'a str,
        mut reader: BlobReader,
        max_bytes: u64,
    ) -> BoxFuture<'a, Result<u64, AppError>> {
        Box::pin(async move {
            check_content_type(content_type)?;
            // Read one part (or max_bytes + 1, when smaller) before deciding: a small
            // stream is one PUT, a large one a sequential multipart upload, and memory
            // never holds more than one part.
            let first_limit = usize::try_from(max_bytes.saturating_add(1))
                .unwrap_or(usize::MAX)
                .min(PART_SIZE);
            let mut first = Vec::new();
            read_part(&mut reader, &mut first, first_limit)
                .await
                .map_err(super::read_interrupted)?;
            if first.len() as u64 > max_bytes {
                return Err(super::too_large(max_bytes));
            }
            if first.len() < PART_SIZE {
                self.bucket
                    .put_object_with_content_type(key.as_str(), &first, content_type)
                    .await
                    .map_err(|e| unavailable(e, "PUT object"))?;
                return Ok(first.len() as u64);
            }
            self.put_multipart(key.as_str(), content_type, first, &mut reader, max_bytes)
                .await
        })
    }

    fn sealed_key(&self, key: &ObjectKey) -> ObjectKey {
        // Keys are at most 512 characters of a safe alphabet; random evidence keys are
        // far shorter, so the suffix always fits.
        ObjectKey::try_from(format!("{}-sealed", key.as_str()).as_str())
            .unwrap_or_else(|_| key.clone())
    }

    fn upload_key_of(&self, sealed: &ObjectKey) -> Option<ObjectKey> {
        sealed
            .as_str()
            .strip_suffix("-sealed")
            .and_then(|k| ObjectKey::try_from(k).ok())
    }

    fn seal<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectKey, AppError>> {
        Box::pin(async move {
            let sealed = self.sealed_key(key);
            self.bucket
                .copy_object_internal(key.as_str(), sealed.as_str())
                .await
                .map_err(|e| unavailable(e, "copying to the sealed key"))?;
            Ok(sealed)
        })
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(async move {
            match self.bucket.delete_object(key.as_str()).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(unavailable(e, "DELETE object")),
            }
        })
    }

    fn presign_download<'a>(
        &'a self,
        key: &'a ObjectKey,
        expires: Duration,
    ) -> BoxFuture<'a, Result<String, AppError>> {
        Box::pin(async move {
            let secs = expiry_secs(expires)?;
            self.bucket
                .presign_get(key.as_str(), secs, None)
                .await
                .map_err(|e| unavailable(e, "presigning a GET"))
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), AppError>> {
        Box::pin(async move {
            // A one-key listing proves the endpoint, the credentials and the bucket.
            self.bucket
                .list_page(String::new(), None, None, None, Some(1))
                .await
                .map_err(|e| unavailable(e, "listing the bucket"))?;
            if self.checksums() == Checksums::Unknown {
                let found = self.probe_checksums().await?;
                let v = if found == Checksums::Verified {
                    VERIFIED
                } else {
                    UNVERIFIED
                };
                self.checksums.store(v, Ordering::Relaxed);
            }
            Ok(())
        })
    }
}
