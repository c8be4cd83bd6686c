//! The evidence store on both backends, against real servers: a local folder behind
//! gridwatch's own signed routes, and a real S3 server (s3s-fs by default) started by
//! `scripts/test.sh`, which exports `GRIDWATCH_TEST_S3_*`. Without those variables the S3
//! tests fail — a missing S3 server is never a skip.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gridwatch::config::{Config, StorageBackend};
use gridwatch::error::AppError;
use gridwatch::storage::{
    self, BlobReader, BlobStore, Checksums, ObjectKey, UploadMethod, UploadTicket,
    fs::DEV_SIGNING_KEY, random_key,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::both;
use crate::helpers::s3::{PrivateS3, fresh_bucket, s3_config_of, s3_kind, send};
use crate::helpers::{Backend, Store, TestApp};

/// A store under test, with whatever it needs running (for `fs`, a server on port 0
/// serving the store's signed routes).
struct TestStore {
    store: Arc<dyn BlobStore>,
    /// The store's clock: tests move it instead of waiting for URLs to expire.
    clock: gridwatch::clock::Clock,
    client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestStore {
    async fn new(kind: Store) -> Self {
        let mut config = Config::default();
        let clock = gridwatch::clock::Clock::adjustable();
        match kind {
            Store::Fs => {
                let dir = tempfile::tempdir().unwrap();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                config.storage.fs_root = dir.path().to_path_buf();
                config.server.public_url = Some(format!("http://{addr}"));
                let store = storage::build(&config.storage, &config.server, &clock).unwrap();
                let router =
                    gridwatch::http::file_routes(store.folder().expect("the fs store is a folder"));
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            rx.await.ok();
                        })
                        .await
                        .unwrap();
                });
                Self {
                    store,
                    clock,
                    client: reqwest::Client::new(),
                    _dir: Some(dir),
                    shutdown: Some(tx),
                }
            }
            Store::S3 | Store::Garage => {
                let (endpoint, bucket) = fresh_bucket(kind).await;
                config.storage.backend = StorageBackend::S3;
                config.storage.s3 = s3_config_of(kind, &endpoint, &bucket);
                let store = storage::build(&config.storage, &config.server, &clock).unwrap();
                Self {
                    store,
                    clock,
                    client: reqwest::Client::new(),
                    _dir: None,
                    shutdown: None,
                }
            }
        }
    }

    /// Sends `body` as a client would with `ticket`, claiming `content_type` (which may
    /// differ from the one the ticket was issued for).
    async fn upload(
        &self,
        ticket: &UploadTicket,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        send(&self.client, ticket, content_type, body).await
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A small JPEG-looking blob: SOI, a JFIF APP0 segment, filler, EOI.
fn jpeg_like(len: usize) -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    let mut x: u32 = 0x1234_5678;
    while v.len() < len - 2 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

async fn read_all(reader: BlobReader) -> Vec<u8> {
    let mut reader = reader;
    let mut buf = Vec::new();
    reader.read_to_end(&mut buf).await.unwrap();
    buf
}

fn is_storage_unavailable<T: std::fmt::Debug>(r: &Result<T, AppError>) -> bool {
    matches!(r, Err(AppError::StorageUnavailable(_)))
}

/// The status of a refused request, with the store's answer shown in the test log (it
/// documents what the S3 server under test does).
async fn rejected(kind: Store, what: &str, r: reqwest::Response) -> reqwest::StatusCode {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    eprintln!(
        "{kind:?} refused {what}: {status} {}",
        body.chars().take(300).collect::<String>()
    );
    status
}

const MINUTES: Duration = Duration::from_secs(600);

async fn upload_head_read_download(kind: Store) {
    let t = TestStore::new(kind).await;
    t.store.check().await.unwrap();
    let key = random_key("ev");
    let bytes = jpeg_like(2048);
    let ticket = t
        .store
        .presign_upload(&key, "image/jpeg", bytes.len() as u64, None, MINUTES)
        .await
        .unwrap();
    // One upload shape everywhere: a multipart POST form.
    assert_eq!(ticket.method, UploadMethod::Post);
    assert_eq!(
        ticket.put.is_some(),
        kind == Store::Fs,
        "the folder store also takes a PUT"
    );
    assert!(ticket.expires_at > chrono::Utc::now() + chrono::Duration::seconds(590));
    // Before the upload the object does not exist — and that is not an error.
    assert_eq!(t.store.head(&key).await.unwrap(), None);

    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    assert!(
        r.status().is_success(),
        "{kind:?}: {} {}",
        r.status(),
        r.text().await.unwrap()
    );

    let meta = t.store.head(&key).await.unwrap().expect("uploaded");
    assert_eq!(meta.size, bytes.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
    let read = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(read, bytes);
    let prefix = t.store.read_prefix(&key, 4).await.unwrap().unwrap();
    assert_eq!(prefix, [0xFF, 0xD8, 0xFF, 0xE0]);

    let url = t.store.presign_download(&key, MINUTES).await.unwrap();
    let r = t.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    t.store.delete(&key).await.unwrap();
    assert_eq!(t.store.head(&key).await.unwrap(), None);
    // Deleting again is fine.
    t.store.delete(&key).await.unwrap();
}
both!(
    upload_head_read_download_roundtrip,
    upload_head_read_download,
    stores
);

async fn uploads_outside_the_ticket_are_rejected(kind: Store) {
    let t = TestStore::new(kind).await;
    let bytes = jpeg_like(1000);
    let size = bytes.len() as u64;

    // Another content type than the one signed.
    let key = random_key("ev");
    let ticket = t
        .store
        .presign_upload(&key, "image/jpeg", size, None, MINUTES)
        .await
        .unwrap();
    let r = t.upload(&ticket, "image/png", bytes.clone()).await;
    let r = rejected(kind, "another content type", r).await;
    assert!(r.is_client_error(), "{kind:?} type: {r}");
    assert_eq!(t.store.head(&key).await.unwrap(), None);

    // One byte more, one byte less than declared.
    let mut longer = bytes.clone();
    longer.push(0);
    let r = t.upload(&ticket, "image/jpeg", longer).await;
    let r = rejected(kind, "one byte more", r).await;
    assert!(r.is_client_error(), "{kind:?} longer: {r}");
    if kind == Store::Fs {
        assert_eq!(r, 413);
    }
    let r = t
        .upload(&ticket, "image/jpeg", bytes[..bytes.len() - 1].to_vec())
        .await;
    let r = rejected(kind, "one byte less", r).await;
    assert!(r.is_client_error(), "{kind:?} shorter: {r}");
    assert_eq!(t.store.head(&key).await.unwrap(), None);

    // The exact upload still works with the same ticket afterwards.
    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    assert!(r.status().is_success(), "{kind:?}: {}", r.status());

    // The same key again, with other bytes of the same size.
    let mut replacement = bytes.clone();
    replacement[100] ^= 0xFF;
    let r = t.upload(&ticket, "image/jpeg", replacement.clone()).await;
    match kind {
        Store::Fs => {
            assert_eq!(r.status(), 409);
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["error"]["code"], "ALREADY_EXISTS");
        }
        Store::S3 | Store::Garage => {
            // S3 has no write-once for POST uploads: s3s-fs (like AWS) accepts the second
            // upload while the policy is valid and replaces the object. Evidence relies on
            // random keys, short expiry and the SHA-256 check at confirmation instead.
            let status = r.status();
            eprintln!(
                "{}: reusing an upload ticket answered {status}",
                s3_kind(kind)
            );
            if s3_kind(kind) == "s3s-fs" {
                assert!(status.is_success(), "{status}");
                let now = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
                assert_eq!(now, replacement, "s3s-fs replaced the object");
            }
        }
    }
    let meta = t.store.head(&key).await.unwrap().unwrap();
    assert_eq!(meta.size, size);
    if kind == Store::Fs {
        let now = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
        assert_eq!(now, bytes, "the fs store never overwrites");
    }
}
both!(
    uploads_outside_the_ticket,
    uploads_outside_the_ticket_are_rejected,
    stores
);

async fn urls_expire(kind: Store) {
    let t = TestStore::new(kind).await;
    let bytes = jpeg_like(500);
    let key = random_key("ev");
    let other = random_key("ev");
    t.store
        .put_stream(
            &other,
            "image/jpeg",
            Box::new(std::io::Cursor::new(bytes.clone())),
            10_000,
        )
        .await
        .unwrap();
    let (ticket, download) = if kind == Store::Fs {
        // Signed now, valid for ten minutes; eleven minutes later both are refused.
        let ticket = t
            .store
            .presign_upload(&key, "image/jpeg", bytes.len() as u64, None, MINUTES)
            .await
            .unwrap();
        let download = t.store.presign_download(&other, MINUTES).await.unwrap();
        t.clock.advance(chrono::Duration::minutes(11));
        assert!(ticket.expires_at < t.clock.now());
        (ticket, Some(download))
    } else {
        // The S3 server judges expiry by its own clock: a policy issued by a server
        // clock an hour behind has already expired. (Presigned downloads are signed by
        // rust-s3 at the system time; their validity is what we asked for.)
        let download = t.store.presign_download(&other, MINUTES).await.unwrap();
        assert!(download.contains("X-Amz-Expires=600"), "{download}");
        t.clock.advance(chrono::Duration::hours(-1));
        let ticket = t
            .store
            .presign_upload(&key, "image/jpeg", bytes.len() as u64, None, MINUTES)
            .await
            .unwrap();
        assert!(ticket.expires_at < chrono::Utc::now());
        (ticket, None)
    };

    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    if kind == Store::Fs {
        assert_eq!(r.status(), 403);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "URL_EXPIRED");
    } else {
        // s3s-fs answers 403 AccessDenied, Garage 400 (policy expired): refused either way.
        let r = rejected(kind, "an expired policy", r).await;
        assert!(r == 403 || r == 400, "{kind:?}: {r}");
    }
    assert_eq!(t.store.head(&key).await.unwrap(), None);
    if let Some(download) = download {
        let r = t.client.get(&download).send().await.unwrap();
        let r = rejected(kind, "an expired download URL", r).await;
        assert_eq!(r, 403, "{kind:?} download: {r}");
    }
}
both!(upload_and_download_urls_expire, urls_expire, stores);

async fn missing_objects_are_none(kind: Store) {
    let t = TestStore::new(kind).await;
    let key = random_key("ev");
    assert_eq!(t.store.head(&key).await.unwrap(), None);
    assert!(t.store.open_read(&key).await.unwrap().is_none());
    assert_eq!(t.store.read_prefix(&key, 16).await.unwrap(), None);
    t.store.delete(&key).await.unwrap();
    let url = t.store.presign_download(&key, MINUTES).await.unwrap();
    let r = t.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 404, "{kind:?}");
}
both!(
    missing_objects_are_none_not_errors,
    missing_objects_are_none,
    stores
);

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn put_stream_bounded(kind: Store) {
    let t = TestStore::new(kind).await;
    // ~5 MB: one PUT on S3.
    let data = pseudo_random(5_000_000, 7);
    let key = random_key("ev");
    let n = t
        .store
        .put_stream(
            &key,
            "image/jpeg",
            Box::new(std::io::Cursor::new(data.clone())),
            6_000_000,
        )
        .await
        .unwrap();
    assert_eq!(n, data.len() as u64);
    let meta = t.store.head(&key).await.unwrap().unwrap();
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(meta.content_type.as_deref(), Some("image/jpeg"));
    let read = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(Sha256::digest(&read), Sha256::digest(&data));

    // The same stream with a lower limit fails and leaves nothing.
    let key = random_key("ev");
    let err = t
        .store
        .put_stream(
            &key,
            "image/jpeg",
            Box::new(std::io::Cursor::new(data.clone())),
            1_000_000,
        )
        .await
        .unwrap_err();
    assert_eq!(err.detail(), Some("TOO_LARGE"), "{err:?}");
    assert_eq!(t.store.head(&key).await.unwrap(), None);

    // Larger than one part (8 MiB): a multipart upload on S3.
    let big = pseudo_random(9_500_000, 11);
    let key = random_key("ev");
    let n = t
        .store
        .put_stream(
            &key,
            "image/heic",
            Box::new(std::io::Cursor::new(big.clone())),
            20_000_000,
        )
        .await
        .unwrap();
    assert_eq!(n, big.len() as u64);
    let read = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(Sha256::digest(&read), Sha256::digest(&big));

    // Over the limit after the first part was sent: aborted, nothing left.
    let key = random_key("ev");
    let err = t
        .store
        .put_stream(
            &key,
            "image/heic",
            Box::new(std::io::Cursor::new(big)),
            9_000_000,
        )
        .await
        .unwrap_err();
    assert_eq!(err.detail(), Some("TOO_LARGE"), "{err:?}");
    assert_eq!(t.store.head(&key).await.unwrap(), None);
}
both!(put_stream_is_bounded, put_stream_bounded, stores);

/// An S3 server that goes away is `StorageUnavailable` at once (no hang), readiness
/// fails, and everything works again when it is back on the same port and data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_is_storage_unavailable_and_recovers() {
    let first = PrivateS3::start(None);
    let store = first.store(5);
    store.check().await.unwrap();
    let key = random_key("ev");
    let bytes = jpeg_like(3000);
    store
        .put_stream(
            &key,
            "image/jpeg",
            Box::new(std::io::Cursor::new(bytes.clone())),
            10_000,
        )
        .await
        .unwrap();

    // A server that accepts connections but never answers: the request timeout ends it.
    let impatient = first.store(1);
    first.signal("STOP");
    let started = Instant::now();
    let head = impatient.head(&key).await;
    let elapsed = started.elapsed();
    first.signal("CONT");
    assert!(is_storage_unavailable(&head), "{head:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "a frozen store took {elapsed:?}"
    );
    eprintln!("a frozen S3 failed after {elapsed:?} (timeout 1 s)");
    store.check().await.unwrap();

    first.stop();
    let started = Instant::now();
    let head = store.head(&key).await;
    assert!(is_storage_unavailable(&head), "{head:?}");
    let read = store.open_read(&key).await.map(|r| r.is_some());
    assert!(is_storage_unavailable(&read), "{read:?}");
    let check = store.check().await;
    assert!(is_storage_unavailable(&check), "{check:?}");
    let put = store
        .put_stream(
            &random_key("ev"),
            "image/jpeg",
            Box::new(std::io::Cursor::new(bytes.clone())),
            10_000,
        )
        .await;
    assert!(is_storage_unavailable(&put), "{put:?}");
    let delete = store.delete(&key).await;
    assert!(is_storage_unavailable(&delete), "{delete:?}");
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(3),
        "outage took {elapsed:?} to show"
    );
    eprintln!("5 calls against a stopped S3 failed in {elapsed:?}");
    // The error a client sees names no internals.
    let Err(e) = head else { unreachable!() };
    assert_eq!(e.code(), "STORAGE_UNAVAILABLE");

    let second = PrivateS3::start(Some(&first));
    std::mem::forget(first); // already stopped; `second` owns the process now
    store.check().await.unwrap();
    let meta = store
        .head(&key)
        .await
        .unwrap()
        .expect("data survived the restart");
    assert_eq!(meta.size, bytes.len() as u64);
    let read = read_all(store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(read, bytes);
    drop(second);
}

/// The fs routes' error contract: JSON `{ error: { code, message } }`, Chinese by
/// default, 403 for anything not signed for exactly this request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_routes_refuse_unsigned_and_tampered_urls() {
    let t = TestStore::new(Store::Fs).await;
    let key = random_key("ev");
    let bytes = jpeg_like(100);
    let ticket = as_put(
        t.store
            .presign_upload(&key, "image/jpeg", 100, None, MINUTES)
            .await
            .unwrap(),
    );
    let tampered = |from: &str, to: &str| UploadTicket {
        url: ticket.url.replacen(from, to, 1),
        ..ticket.clone()
    };
    let len_pos = ticket.url.find("len=100").unwrap();
    assert!(len_pos > 0);
    let cases = [
        tampered("len=100", "len=101"),
        tampered("ct=image%2Fjpeg", "ct=image%2Fpng"),
        tampered("sig=", "sig=00"),
        tampered("/files/ev/", "/files/ew/"),
        tampered("exp=", "exp=9"),
        UploadTicket {
            url: ticket.url.split('?').next().unwrap().to_owned(),
            ..ticket.clone()
        },
    ];
    for bad in &cases {
        let r = t.upload(bad, "image/jpeg", bytes.clone()).await;
        assert_eq!(r.status(), 403, "{}", bad.url);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "SIGNATURE_INVALID", "{}", bad.url);
        assert!(
            body["error"]["message"].as_str().unwrap().contains("链接"),
            "{body}"
        );
    }
    // Keys outside the store's rules never reach the disk.
    let r = t
        .client
        .put(ticket.url.replacen("/files/ev/", "/files/../ev/", 1))
        .header("content-type", "image/jpeg")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());

    // English on request.
    let r = t
        .client
        .put(&cases[0].url)
        .header("content-type", "image/jpeg")
        .header("accept-language", "en")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "invalid or tampered URL");

    // An upload URL does not download, and a download URL does not upload.
    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    assert_eq!(r.status(), 201);
    let r = t.client.get(&ticket.url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let download = t.store.presign_download(&key, MINUTES).await.unwrap();
    let r = t
        .client
        .put(&download)
        .header("content-type", "image/jpeg")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Downloads never let the browser sniff or run what was uploaded.
    let r = t.client.get(&download).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

/// The whole app mounts the fs routes (behind its request ids and logs) and reports the
/// store in `/readyz`, 503 when the folder cannot be written.
async fn app_serves_fs_evidence_and_reports_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["storage"], "ok");
    assert_eq!(body["database"], "ok");

    // The test app signs with the development key; a store over the same folder issues
    // tickets the app's own routes accept.
    let store: Arc<dyn BlobStore> = Arc::new(
        storage::FsStore::new(
            app.evidence_dir.path(),
            DEV_SIGNING_KEY.into(),
            app.base.clone(),
            app.state.services.clock.clone(),
        )
        .unwrap(),
    );
    // Larger than the GraphQL body limit (1 MiB): the upload route streams its body.
    let key: ObjectKey = random_key("ev");
    let bytes = jpeg_like(2_500_000);
    let ticket = store
        .presign_upload(&key, "image/jpeg", bytes.len() as u64, None, MINUTES)
        .await
        .unwrap();
    assert!(ticket.url.starts_with(&app.base));
    let r = send(&app.client, &ticket, "image/jpeg", bytes.clone()).await;
    assert_eq!(r.status(), 201);
    assert!(!r.headers()["x-request-id"].is_empty());
    let url = store.presign_download(&key, MINUTES).await.unwrap();
    let got = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());

    // The evidence folder replaced by a file: storage unavailable, 503.
    let root = app.evidence_dir.path();
    std::fs::remove_dir_all(root).unwrap();
    std::fs::write(root, b"not a folder").unwrap();
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["storage"], "unavailable");
    assert_eq!(body["database"], "ok");
    std::fs::remove_file(root).unwrap();
    std::fs::create_dir(root).unwrap();
}
crate::both!(
    app_fs_evidence_and_readiness,
    app_serves_fs_evidence_and_reports_readiness
);

/// The folder store's PUT alternative of a ticket, as a PUT ticket.
fn as_put(ticket: UploadTicket) -> UploadTicket {
    let put = ticket.put.clone().expect("the folder store offers a PUT");
    UploadTicket {
        url: put.url,
        method: UploadMethod::Put,
        fields: Vec::new(),
        headers: put.headers,
        ..ticket
    }
}

/// The folder store's form route holds the same line as its PUT: every signed field
/// must match, the file is the part named `file`, and nothing lands otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_form_uploads_refuse_tampered_fields() {
    let t = TestStore::new(Store::Fs).await;
    let key = random_key("ev");
    let bytes = jpeg_like(100);
    let ticket = t
        .store
        .presign_upload(&key, "image/jpeg", 100, None, MINUTES)
        .await
        .unwrap();
    let with = |name: &str, value: &str| UploadTicket {
        fields: ticket
            .fields
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == name {
                        value.to_owned()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect(),
        ..ticket.clone()
    };
    for bad in [
        with("len", "101"),
        with("exp", "1"),
        with("sig", "00"),
        UploadTicket {
            url: ticket.url.replacen("/files/ev/", "/files/ew/", 1),
            ..ticket.clone()
        },
    ] {
        let r = t.upload(&bad, "image/jpeg", bytes.clone()).await;
        assert_eq!(r.status(), 403, "{:?}", bad.fields);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "SIGNATURE_INVALID", "{body}");
    }
    // The file under another part name is no file.
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in &ticket.fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part("photo", reqwest::multipart::Part::bytes(bytes.clone()));
    let r = t
        .client
        .post(&ticket.url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NO_FILE", "{body}");
    assert_eq!(t.store.head(&key).await.unwrap(), None);
    // The right form works once, with extra fields a client adds before the file.
    let mut form = reqwest::multipart::Form::new().text("appVersion", "1.2.3");
    for (k, v) in &ticket.fields {
        form = form.text(k.clone(), v.clone());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(bytes.clone())
            .file_name("tmp_1.jpg")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    let r = t
        .client
        .post(&ticket.url)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    assert_eq!(r.status(), 409, "objects are written once");
    let read = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(read, bytes);
}

/// The checksum probe tells the stores apart. Garage refuses bytes that do not match a
/// POST policy's `x-amz-checksum-sha256` and keeps nothing of them, even over an object
/// already stored; s3s-fs 0.14 answers BadDigest but stores them. The folder store hashes
/// every upload itself and needs no probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_probe_tells_stores_apart() {
    let fs = TestStore::new(Store::Fs).await;
    assert_eq!(fs.store.checksums(), Checksums::Hashed);
    for kind in [Store::S3, Store::Garage] {
        let t = TestStore::new(kind).await;
        assert_eq!(t.store.checksums(), Checksums::Unknown, "{kind:?} before");
        t.store.check().await.unwrap();
        let want = if s3_kind(kind) == "garage" {
            Checksums::Verified
        } else {
            Checksums::Unverified
        };
        assert_eq!(t.store.checksums(), want, "{}", s3_kind(kind));
    }
}

/// A ticket bound to a SHA-256 on a store that verifies it: other bytes of the right
/// size are refused before and after the right ones arrive, and never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_tickets_take_only_the_declared_bytes() {
    use base64::Engine as _;
    let t = TestStore::new(Store::Garage).await;
    t.store.check().await.unwrap();
    assert_eq!(t.store.checksums(), Checksums::Verified);
    let key = random_key("ev");
    let bytes = jpeg_like(5000);
    let mut forged = bytes.clone();
    forged[2500] ^= 0xFF;
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    let ticket = t
        .store
        .presign_upload(&key, "image/jpeg", 5000, Some(&sha), MINUTES)
        .await
        .unwrap();
    assert!(ticket.sha256_bound);
    let declared = base64::engine::general_purpose::STANDARD.encode(sha);
    assert!(
        ticket
            .fields
            .iter()
            .any(|(k, v)| k == "x-amz-checksum-sha256" && *v == declared),
        "{:?}",
        ticket.fields
    );
    let r = t.upload(&ticket, "image/jpeg", forged.clone()).await;
    assert!(r.status().is_client_error(), "forged first: {}", r.status());
    assert_eq!(t.store.head(&key).await.unwrap(), None);
    let r = t.upload(&ticket, "image/jpeg", bytes.clone()).await;
    assert!(r.status().is_success(), "declared bytes: {}", r.status());
    let r = t.upload(&ticket, "image/jpeg", forged).await;
    assert!(r.status().is_client_error(), "forged after: {}", r.status());
    let now = read_all(t.store.open_read(&key).await.unwrap().unwrap()).await;
    assert_eq!(now, bytes, "the declared bytes stay");
    // The folder store ignores a hash (it computes its own) and binds nothing.
    let fs = TestStore::new(Store::Fs).await;
    let ticket = fs
        .store
        .presign_upload(&key, "image/jpeg", 5000, Some(&sha), MINUTES)
        .await
        .unwrap();
    assert!(!ticket.sha256_bound);
}
