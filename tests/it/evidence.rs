//! Photo evidence end to end, on the folder store (with SQLite) and on a real S3
//! server (with PostgreSQL): direct upload, verification, flags, the public
//! derivative, faults and bad input, and the multipart streaming path.

use chrono::{Duration, Utc};
use gridwatch::config::StorageBackend;
use gridwatch::domain::media;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::Store;
use crate::helpers::cases::{act, village_centre};
use crate::helpers::evidence::*;
use crate::helpers::s3::{PrivateS3, s3_config, send};
use crate::helpers::{Backend, TestApp, error_code};

async fn story_with_real_photos(store: Store) {
    let app = spawn(store, |_| {}).await;
    let village = "140521101203";
    let (lat, lng) = village_centre(&app, village);
    let (id, version, public, insp, sup) = case_in_progress(&app, village, "OPEN_BURNING").await;
    let now = Utc::now();
    // The tipster's photo of the problem, taken a little before reporting, on the spot.
    let before =
        media::fixtures::test_jpeg(800, 600, Some((now - Duration::minutes(20), lat, lng)));
    let c = upload_photo(&app, &public, &id, "BEFORE", &before).await;
    let e = &c["data"]["confirmEvidence"];
    assert_eq!(e["status"], "CONFIRMED", "{c}");
    assert_eq!(e["flags"], json!([]), "{c}");
    assert!(e["distanceM"].as_f64().unwrap() < 5.0);
    assert_eq!(
        (e["width"].as_i64(), e["height"].as_i64()),
        (Some(800), Some(600))
    );
    // Submitting without the AFTER photo open burning needs is refused.
    let b = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &version,
        ", note: $note",
        json!({ "note": "已处置" }),
    )
    .await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(b["errors"][0]["extensions"]["detail"], "EVIDENCE_REQUIRED");
    // The inspector's photo after the fix, on site.
    let after = media::fixtures::test_jpeg(1200, 900, Some((Utc::now(), lat + 0.0002, lng)));
    let c = upload_photo(&app, &insp, &id, "AFTER", &after).await;
    let after_id = c["data"]["confirmEvidence"]["id"].clone();
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    // The original downloads intact through its short-lived URL.
    let url = c["data"]["confirmEvidence"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha_hex(&got), sha_hex(&after));
    let b = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &version,
        ", note: $note, evidenceIds: $evidenceIds",
        json!({ "note": "已扑灭", "evidenceIds": [after_id] }),
    )
    .await;
    let v = b["data"]["submitCase"]["version"].clone();
    assert_eq!(b["data"]["submitCase"]["status"], "SUBMITTED", "{b}");
    let b = act(
        &app,
        &sup,
        "verifyCase",
        &id,
        &v,
        ", approve: $approve",
        json!({ "approve": true }),
    )
    .await;
    assert_eq!(b["data"]["verifyCase"]["status"], "CLOSED", "{b}");
    // The public sees derivatives only: resized, re-encoded, no EXIF.
    // Public copies are made in the background after confirmation.
    let mut tips = Value::Null;
    for _ in 0..100 {
        tips = app
            .gql(Some(&public), "{ myTips { status photos } }", json!({}))
            .await;
        if tips["data"]["myTips"][0]["photos"]
            .as_array()
            .is_some_and(|p| p.len() == 2)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let photos = tips["data"]["myTips"][0]["photos"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(photos.len(), 2, "{tips}");
    for p in photos {
        let bytes = app
            .client
            .get(p.as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(media::sniff(&bytes), Some(media::ImageKind::Jpeg));
        let exif = media::read_exif(&bytes);
        assert!(
            exif.gps.is_none() && exif.taken_at.is_none(),
            "EXIF survived in a public photo"
        );
        assert_ne!(sha_hex(&bytes), sha_hex(&before));
    }
    // Staff see both photos on the case.
    let c = app
        .gql(
            Some(&sup),
            "query($id: ID!) { case(id: $id) { evidence { phase status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        c["data"]["case"]["evidence"].as_array().unwrap().len(),
        2,
        "{c}"
    );
}
both!(story_with_photos, story_with_real_photos, stores);

async fn flags_and_idempotent_confirmation(store: Store) {
    let app = spawn(store, |_| {}).await;
    let village = "140521100205";
    let (lat, lng) = village_centre(&app, village);
    let (id, _, _, insp, _) = case_in_progress(&app, village, "DUST").await;
    let (id2, _, _, insp2, _) = case_in_progress(&app, "140521100206", "DUST").await;
    // Far away and long before the case.
    let far = media::fixtures::test_jpeg(
        400,
        300,
        Some((Utc::now() - Duration::days(30), lat + 0.05, lng)),
    );
    let c = upload_photo(&app, &insp, &id, "AFTER", &far).await;
    let flags = c["data"]["confirmEvidence"]["flags"].clone();
    assert_eq!(flags, json!(["FAR_FROM_CASE", "TAKEN_BEFORE_CASE"]), "{c}");
    // Confirming again is harmless.
    let again = app
        .gql(
            Some(&insp),
            CONFIRM,
            json!({ "id": c["data"]["confirmEvidence"]["id"] }),
        )
        .await;
    assert_eq!(again["data"]["confirmEvidence"]["status"], "CONFIRMED");
    assert_eq!(
        again["data"]["confirmEvidence"]["id"],
        c["data"]["confirmEvidence"]["id"]
    );
    // No EXIF at all.
    let plain = media::fixtures::test_jpeg(300, 200, None);
    let c = upload_photo(&app, &insp, &id, "DURING", &plain).await;
    assert_eq!(
        c["data"]["confirmEvidence"]["flags"],
        json!(["NO_EXIF"]),
        "{c}"
    );
    // The same photo on another case.
    let c = upload_photo(&app, &insp2, &id2, "AFTER", &far).await;
    let flags: Vec<String> =
        serde_json::from_value(c["data"]["confirmEvidence"]["flags"].clone()).unwrap();
    assert!(flags.contains(&"REUSED".to_owned()), "{c}");
}
both!(flags, flags_and_idempotent_confirmation, stores);

async fn bad_uploads_are_rejected_and_removed(store: Store) {
    let app = spawn(store, |_| {}).await;
    let village = "140521100207";
    let (id, version, _, insp, _) = case_in_progress(&app, village, "DUST").await;
    let photo = media::fixtures::test_jpeg(320, 240, None);
    // Declared limits first: too big, wrong type, malformed hash.
    let b = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        30 * 1024 * 1024,
        &sha_hex(&photo),
    )
    .await;
    assert_eq!(
        (
            error_code(&b),
            b["errors"][0]["extensions"]["detail"].clone()
        ),
        ("BAD_INPUT".into(), json!("TOO_LARGE")),
        "{b}"
    );
    let b = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "application/pdf",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    let b = request(&app, &insp, &id, "AFTER", "image/jpeg", photo.len(), "abc").await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    // Wrong hash: the bytes are not what was declared.
    let other = media::fixtures::test_jpeg(321, 240, None);
    if store == Store::Garage {
        // A store that verifies checksums refuses them at upload and keeps nothing: the
        // evidence waits for the declared bytes.
        let r = request(
            &app,
            &insp,
            &id,
            "AFTER",
            "image/jpeg",
            photo.len(),
            &sha_hex(&other),
        )
        .await;
        let up = r["data"]["requestEvidenceUpload"].clone();
        let status = send(&app.client, &ticket_of(&up), "image/jpeg", photo.clone())
            .await
            .status();
        assert!(status.is_client_error(), "upload: {status}");
        let c = app
            .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
            .await;
        assert_eq!(
            c["errors"][0]["extensions"]["detail"], "NOT_UPLOADED_YET",
            "{c}"
        );
    } else {
        // Elsewhere they arrive, and confirmation finds the difference.
        let (up, c) = send_and_confirm(
            &app,
            &insp,
            &id,
            "image/jpeg",
            &sha_hex(&other),
            photo.clone(),
        )
        .await;
        assert_eq!(
            c["errors"][0]["extensions"]["detail"], "HASH_MISMATCH",
            "{c}"
        );
        assert_is_rejected(&app, &insp, &id, &up["evidence"]["id"], "HASH_MISMATCH").await;
    }
    // A PNG claiming 50000×50000 (declared honestly as PNG) never gets decoded.
    let bomb = media::fixtures::png_claiming(50_000, 50_000);
    let (_, c) = send_and_confirm(&app, &insp, &id, "image/png", &sha_hex(&bomb), bomb).await;
    assert_eq!(
        c["errors"][0]["extensions"]["detail"], "DIMENSIONS_TOO_LARGE",
        "{c}"
    );
    // Text declared as a JPEG.
    let text = b"definitely not a photo, just text".repeat(10);
    let (_, c) = send_and_confirm(&app, &insp, &id, "image/jpeg", &sha_hex(&text), text).await;
    assert_eq!(
        c["errors"][0]["extensions"]["detail"], "NOT_AN_IMAGE",
        "{c}"
    );
    // A truncated upload is refused by the store; confirming finds nothing yet and the
    // evidence stays pending.
    let r = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    let cut = photo[..photo.len() - 100].to_vec();
    assert!(
        !send(&app.client, &ticket_of(&up), "image/jpeg", cut)
            .await
            .status()
            .is_success()
    );
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(
        c["errors"][0]["extensions"]["detail"], "NOT_UPLOADED_YET",
        "{c}"
    );
    // The case did not move through any of this.
    let after = app
        .gql(
            Some(&insp),
            "query($id: ID!) { case(id: $id) { version status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(after["data"]["case"]["version"], version);
    // A case outside the caller's scope, and someone else's evidence.
    let (other_case, _, _, other_insp, _) = case_in_progress(&app, "140521101201", "DUST").await;
    let b = request(
        &app,
        &insp,
        &other_case,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let theirs = request(
        &app,
        &other_insp,
        &other_case,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    let their_id = theirs["data"]["requestEvidenceUpload"]["evidence"]["id"].clone();
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": their_id }))
        .await;
    assert_eq!(error_code(&c), "NOT_FOUND", "{c}");
}
both!(bad_uploads, bad_uploads_are_rejected_and_removed, stores);

/// Declares `declared_sha` and the length of `bytes`, uploads `bytes` (which the store
/// must accept) and confirms: (the upload ticket's JSON, the confirm body).
async fn send_and_confirm(
    app: &TestApp,
    token: &str,
    case_id: &Value,
    content_type: &str,
    declared_sha: &str,
    bytes: Vec<u8>,
) -> (Value, Value) {
    let r = request(
        app,
        token,
        case_id,
        "AFTER",
        content_type,
        bytes.len(),
        declared_sha,
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    let status = send(&app.client, &ticket_of(&up), content_type, bytes)
        .await
        .status();
    assert!(status.is_success(), "upload: {status}");
    let c = app
        .gql(Some(token), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    (up, c)
}

async fn assert_is_rejected(
    app: &TestApp,
    token: &str,
    case_id: &Value,
    evidence_id: &Value,
    reason: &str,
) {
    let row =
        entity::evidence::Entity::find_by_id(evidence_id.as_str().unwrap().parse::<i64>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(row.status.to_string(), "REJECTED");
    assert_eq!(row.reject_reason.as_deref(), Some(reason));
    let key = gridwatch::storage::ObjectKey::try_from(row.object_key.as_str()).unwrap();
    assert_eq!(
        app.state.services.storage.head(&key).await.unwrap(),
        None,
        "a rejected object must be removed"
    );
    let c = app
        .gql(
            Some(token),
            "query($id: ID!) { case(id: $id) { evidence { id } } }",
            json!({ "id": case_id }),
        )
        .await;
    assert!(
        !c.to_string()
            .contains(&format!("\"{}\"", evidence_id.as_str().unwrap())),
        "rejected evidence listed"
    );
}

async fn expired_upload_urls_are_refused(store: Store) {
    let app = spawn(store, |_| {}).await;
    // The server runs an hour behind: an S3 server (which keeps real time) then sees
    // the ten-minute policy expire once the server's clock has moved eleven minutes.
    app.advance(Duration::hours(-1));
    let (id, _, _, insp, _) = case_in_progress(&app, "140521100208", "DUST").await;
    let photo = media::fixtures::test_jpeg(320, 240, None);
    let r = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    app.advance(Duration::minutes(11));
    assert!(
        !send(&app.client, &ticket_of(&up), "image/jpeg", photo)
            .await
            .status()
            .is_success()
    );
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(
        c["errors"][0]["extensions"]["detail"], "NOT_UPLOADED",
        "{c}"
    );
}
both!(expired_urls, expired_upload_urls_are_refused, stores);

async fn multipart_upload_streams_and_verifies(store: Store) {
    let app = spawn(store, |_| {}).await;
    let village = "140521100209";
    let (lat, lng) = village_centre(&app, village);
    let (id, _, _, insp, _) = case_in_progress(&app, village, "DUST").await;
    let photo = media::fixtures::test_jpeg(640, 480, Some((Utc::now(), lat, lng)));
    let body = app
        .gql_upload(
            Some(&insp),
            "mutation($c: ID!, $f: Upload!) { uploadEvidence(caseId: $c, phase: AFTER, file: $f) { status sha256 width flags } }",
            json!({ "c": id }),
            ("a.jpg", "image/jpeg", photo.clone()),
        )
        .await;
    let e = &body["data"]["uploadEvidence"];
    assert_eq!(e["status"], "CONFIRMED", "{body}");
    assert_eq!(e["sha256"], sha_hex(&photo));
    assert_eq!(e["width"], 640);
    // A PNG sent as a JPEG through the same path is rejected.
    let png = media::fixtures::png_claiming(10, 10);
    let body = app
        .gql_upload(
            Some(&insp),
            "mutation($c: ID!, $f: Upload!) { uploadEvidence(caseId: $c, phase: AFTER, file: $f) { status } }",
            json!({ "c": id }),
            ("b.jpg", "image/jpeg", png),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["detail"], "TYPE_MISMATCH",
        "{body}"
    );
}
both!(
    multipart_upload,
    multipart_upload_streams_and_verifies,
    stores
);

/// S3 stopped during confirm: STORAGE_UNAVAILABLE, the evidence stays pending, the case
/// is unchanged, and the same confirm succeeds once S3 is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_outage_during_confirm_recovers() {
    let s3 = PrivateS3::start(None);
    let endpoint = s3.vars["GRIDWATCH_TEST_S3_ENDPOINT"].clone();
    let bucket = s3.vars["GRIDWATCH_TEST_S3_BUCKET"].clone();
    let app = TestApp::spawn_with(Backend::Postgres, |c| {
        c.storage.backend = StorageBackend::S3;
        c.storage.s3 = s3_config(&endpoint, &bucket);
        c.storage.s3.timeout_secs = 2;
    })
    .await;
    let (id, version, _, insp, _) = case_in_progress(&app, "140521100203", "DUST").await;
    let photo = media::fixtures::test_jpeg(320, 240, None);
    let r = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    assert!(
        send(&app.client, &ticket_of(&up), "image/jpeg", photo)
            .await
            .status()
            .is_success()
    );
    s3.stop();
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(error_code(&c), "STORAGE_UNAVAILABLE", "{c}");
    let row = entity::evidence::Entity::find_by_id(
        up["evidence"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.status.to_string(), "PENDING");
    let case = app
        .gql(
            Some(&insp),
            "query($id: ID!) { case(id: $id) { version } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(case["data"]["case"]["version"], version);
    let back = PrivateS3::start(Some(&s3));
    std::mem::forget(s3); // already stopped; `back` owns the process now
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    drop(app);
    drop(back);
}

use sea_orm::EntityTrait;

/// Whoever still holds an upload URL cannot swap a confirmed photo: the folder store
/// refuses the second upload, and on S3 confirmation reads (and keeps) a sealed copy.
async fn confirmed_originals_are_write_once(store: Store) {
    let app = spawn(store, |_| {}).await;
    let (id, _, _, insp, _) = case_in_progress(&app, "140521100210", "DUST").await;
    let original = media::fixtures::test_jpeg(320, 240, None);
    let mut forged = original.clone();
    let mid = forged.len() / 2;
    forged[mid] ^= 0xFF; // same length, different bytes
    let r = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        original.len(),
        &sha_hex(&original),
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    let ticket = ticket_of(&up);
    assert!(
        send(&app.client, &ticket, "image/jpeg", original.clone())
            .await
            .status()
            .is_success()
    );
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    let again = send(&app.client, &ticket, "image/jpeg", forged)
        .await
        .status();
    if store == Store::Fs {
        assert_eq!(again, 409, "the folder store refuses to overwrite");
    }
    let url = c["data"]["confirmEvidence"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        sha_hex(&got),
        sha_hex(&original),
        "the confirmed photo changed (second upload: {again})"
    );
    let listed = app
        .gql(
            Some(&insp),
            "query($id: ID!) { case(id: $id) { evidence { sha256 url } } }",
            json!({ "id": id }),
        )
        .await;
    let url = listed["data"]["case"]["evidence"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = app
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha_hex(&got), sha_hex(&original));
}
both!(write_once, confirmed_originals_are_write_once, stores);

async fn evidence_row(app: &TestApp, id: &Value) -> entity::evidence::Model {
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    entity::evidence::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

/// How confirmation knows a photo's bytes, per store, as `/readyz` reports it:
/// - the folder store hashed them on upload;
/// - Garage verified the declared SHA-256 its ticket carried (it passed the server's
///   checksum probe), so the photo is neither copied nor read whole;
/// - s3s-fs verifies nothing, so the photo is copied away from its upload URL (the
///   `-sealed` key) and read whole.
///
/// Photos the server streams to the store itself (`uploadEvidence`) are bound to the
/// hash it computed, on every store, and never copied.
async fn what_confirmation_reads(store: Store) {
    let app = spawn(store, |_| {}).await;
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expect = match store {
        Store::Fs => "hashed-on-upload",
        Store::Garage => "store-verified",
        Store::S3 if crate::helpers::s3::s3_kind(store) == "garage" => "store-verified",
        Store::S3 => "full-read",
    };
    assert_eq!(ready["evidenceChecks"], expect, "{ready}");
    let bound = expect == "store-verified";
    let (id, _, _, insp, _) = case_in_progress(&app, "140521100210", "DUST").await;

    // A ticket for a declared hash: bound where the store verifies it.
    let photo = media::fixtures::test_jpeg(320, 240, None);
    let r = request(
        &app,
        &insp,
        &id,
        "AFTER",
        "image/jpeg",
        photo.len(),
        &sha_hex(&photo),
    )
    .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    let carries_hash = up["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "x-amz-checksum-sha256");
    assert_eq!(carries_hash, bound, "{up}");
    let status = send(&app.client, &ticket_of(&up), "image/jpeg", photo.clone())
        .await
        .status();
    assert!(status.is_success(), "upload: {status}");
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    let row = evidence_row(&app, &up["evidence"]["id"]).await;
    assert_eq!(row.sha256_bound, bound);
    assert_eq!(row.sha256, sha_hex(&photo));
    assert_eq!(
        row.object_key.ends_with("-sealed"),
        expect == "full-read",
        "{}",
        row.object_key
    );

    // Without a declared hash nothing can be bound: the server reads what it must.
    let other = media::fixtures::test_jpeg(330, 240, None);
    let r = app
        .gql(
            Some(&insp),
            REQUEST,
            json!({ "i": { "caseId": id, "phase": "AFTER", "contentType": "image/jpeg", "byteSize": other.len() } }),
        )
        .await;
    let up = r["data"]["requestEvidenceUpload"].clone();
    assert!(up.is_object(), "{r}");
    let status = send(&app.client, &ticket_of(&up), "image/jpeg", other.clone())
        .await
        .status();
    assert!(status.is_success(), "upload: {status}");
    let c = app
        .gql(Some(&insp), CONFIRM, json!({ "id": up["evidence"]["id"] }))
        .await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    let row = evidence_row(&app, &up["evidence"]["id"]).await;
    assert!(!row.sha256_bound);
    assert_eq!(row.sha256, sha_hex(&other), "computed at confirmation");
    assert_eq!(row.object_key.ends_with("-sealed"), store != Store::Fs);

    // Through the server: bound everywhere, never copied.
    let third = media::fixtures::test_jpeg(340, 240, None);
    let b = app
        .gql_upload(
            Some(&insp),
            "mutation($c: ID!, $f: Upload!) { uploadEvidence(caseId: $c, phase: AFTER, file: $f) { id status sha256 } }",
            json!({ "c": id }),
            ("a.jpg", "image/jpeg", third.clone()),
        )
        .await;
    let e = &b["data"]["uploadEvidence"];
    assert_eq!(e["status"], "CONFIRMED", "{b}");
    let row = evidence_row(&app, &e["id"]).await;
    assert!(row.sha256_bound);
    assert_eq!(row.sha256, sha_hex(&third));
    assert!(!row.object_key.ends_with("-sealed"), "{}", row.object_key);
}
both!(confirmation_reads, what_confirmation_reads, stores);
