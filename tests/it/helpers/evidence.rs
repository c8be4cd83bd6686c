//! Photo evidence over HTTP: apps on either store, upload tickets, photos sent and
//! confirmed, cases ready for evidence.

use chrono::Utc;
use gridwatch::config::StorageBackend;
use gridwatch::storage::{Checksums, UploadMethod, UploadTicket};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::cases::{act, public_login, submit_tip, village_centre};
use super::s3::{fresh_bucket, s3_config_of, send};
use super::{Backend, Store, TestApp};

pub async fn spawn(store: Store, tweak: impl FnOnce(&mut gridwatch::config::Config)) -> TestApp {
    match store {
        Store::Fs => TestApp::spawn_with(Backend::Sqlite, tweak).await,
        Store::S3 | Store::Garage => {
            let (endpoint, bucket) = fresh_bucket(store).await;
            let app = TestApp::spawn_with(Backend::Postgres, |c| {
                c.storage.backend = StorageBackend::S3;
                c.storage.s3 = s3_config_of(store, &endpoint, &bucket);
                tweak(c);
            })
            .await;
            wait_for_probe(&app).await;
            app
        }
    }
}

/// Waits (at most 10 s) for the server's checksum probe of its S3 store, which runs in
/// the background from start: until it answers, tickets are not bound to declared
/// hashes, and tests that expect one behaviour or the other would race it.
pub async fn wait_for_probe(app: &TestApp) {
    let storage = &app.state.services.storage;
    for _ in 0..200 {
        if storage.checksums() != Checksums::Unknown {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the S3 checksum probe did not answer within 10 s");
}

pub const REQUEST: &str = "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id status } url method fields { name value } headers { name value } expiresAt } }";

pub const CONFIRM: &str = "mutation($id: ID!) { confirmEvidence(id: $id) { id status flags width height takenAt distanceM rejectReason url } }";

pub fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn ticket_of(v: &Value) -> UploadTicket {
    let pairs = |k: &str| {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    f["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    UploadTicket {
        url: v["url"].as_str().unwrap().to_owned(),
        method: if v["method"] == "POST" {
            UploadMethod::Post
        } else {
            UploadMethod::Put
        },
        fields: pairs("fields"),
        headers: pairs("headers"),
        expires_at: Utc::now(),
        put: v["putUrl"]
            .as_str()
            .map(|url| gridwatch::storage::PutTarget {
                url: url.to_owned(),
                headers: pairs("putHeaders"),
            }),
        sha256_bound: false,
    }
}

/// Requests an upload; returns the whole body.
pub async fn request(
    app: &TestApp,
    token: &str,
    case_id: &Value,
    phase: &str,
    content_type: &str,
    size: usize,
    sha: &str,
) -> Value {
    app.gql(
        Some(token),
        REQUEST,
        json!({ "i": { "caseId": case_id, "phase": phase, "contentType": content_type, "byteSize": size, "sha256": sha } }),
    )
    .await
}

/// The whole direct flow for `bytes`: request, send, confirm. Returns the confirm body.
pub async fn upload_photo(
    app: &TestApp,
    token: &str,
    case_id: &Value,
    phase: &str,
    bytes: &[u8],
) -> Value {
    let r = request(
        app,
        token,
        case_id,
        phase,
        "image/jpeg",
        bytes.len(),
        &sha_hex(bytes),
    )
    .await;
    let up = &r["data"]["requestEvidenceUpload"];
    assert!(up.is_object(), "{r}");
    let resp = send(&app.client, &ticket_of(up), "image/jpeg", bytes.to_vec()).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());
    app.gql(Some(token), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await
}

/// A tip-off in `village` by a fresh public user, dispatched and started by the
/// village inspector: (case id, version, public token, inspector token, supervisor token).
pub async fn case_in_progress(
    app: &TestApp,
    village: &str,
    category: &str,
) -> (Value, Value, String, String, String) {
    let public = public_login(app, &format!("o-ev-{}", uuid::Uuid::new_v4().simple())).await;
    let (lat, lng) = village_centre(app, village);
    let key = format!("ev-{}", uuid::Uuid::new_v4().simple());
    let b = submit_tip(app, &public, category, lat, lng, "WGS84", &key).await;
    assert!(b.get("errors").is_none(), "{b}");
    let township = &village[..9];
    let (sup, _) = app.login(&format!("demo-sup-{township}")).await;
    let (insp, _) = app.login(&format!("demo-insp-{village}")).await;
    let list = app
        .gql(
            Some(&sup),
            "{ cases(first: 1) { edges { node { id version } } } }",
            json!({}),
        )
        .await;
    let node = list["data"]["cases"]["edges"][0]["node"].clone();
    let me = app.gql(Some(&insp), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let c = act(
        app,
        &sup,
        "assignCase",
        &node["id"],
        &node["version"],
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": me }),
    )
    .await;
    let v = c["data"]["assignCase"]["version"].clone();
    let c = act(
        app,
        &insp,
        "startCase",
        &node["id"],
        &v,
        ", location: $location",
        json!({ "location": { "lat": lat, "lng": lng } }),
    )
    .await;
    let v = c["data"]["startCase"]["version"].clone();
    (node["id"].clone(), v, public, insp, sup)
}

/// Sends a photo through `uploadEvidence` (a GraphQL multipart request).
pub async fn multipart_upload(app: &TestApp, token: Option<&str>, case_id: &Value) -> Value {
    let photo = gridwatch::domain::media::fixtures::test_jpeg(64, 48, None);
    app.gql_upload(
        token,
        "mutation($c: ID!, $f: Upload!) { uploadEvidence(caseId: $c, phase: AFTER, file: $f) { status } }",
        json!({ "c": case_id }),
        ("a.jpg", "image/jpeg", photo),
    )
    .await
}
