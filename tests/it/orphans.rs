//! Orphan sweeping (issue 15): objects of expired tickets, rejected uploads and the
//! upload copies confirmed photos were sealed from go after a grace period; a dry run
//! reports first; a confirmed photo is never touched. On both stores.

use entity::evidence;
use gridwatch::domain::evidence::orphans::{OrphanReport, sweep};
use gridwatch::storage::ObjectKey;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::Store;
use crate::helpers::TestApp;
use crate::helpers::cases::village_centre;
use crate::helpers::evidence::{
    CONFIRM, case_in_progress, request, sha_hex, spawn, ticket_of, upload_photo,
};
use crate::helpers::s3::send;

const VILLAGE: &str = "140521100201";

async fn row(app: &TestApp, id: &Value) -> evidence::Model {
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    evidence::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn exists(app: &TestApp, key: &str) -> bool {
    let key = ObjectKey::try_from(key).unwrap();
    app.state
        .services
        .storage
        .head(&key)
        .await
        .unwrap()
        .is_some()
}

/// Puts `bytes` at `key` directly, as if a delete had failed.
async fn put_back(app: &TestApp, key: &str, bytes: &[u8]) {
    let key = ObjectKey::try_from(key).unwrap();
    let reader: gridwatch::storage::BlobReader = Box::new(std::io::Cursor::new(bytes.to_vec()));
    app.state
        .services
        .storage
        .put_stream(&key, "image/jpeg", reader, bytes.len() as u64)
        .await
        .unwrap();
}

/// Requests an upload and sends the bytes; `sha` is what the client declares.
async fn sent_ticket(app: &TestApp, token: &str, case: &Value, bytes: &[u8], sha: &str) -> Value {
    let r = request(app, token, case, "BEFORE", "image/jpeg", bytes.len(), sha).await;
    let up = &r["data"]["requestEvidenceUpload"];
    assert!(up.is_object(), "{r}");
    let resp = send(&app.client, &ticket_of(up), "image/jpeg", bytes.to_vec()).await;
    assert!(resp.status().is_success(), "upload: {}", resp.status());
    up["evidence"]["id"].clone()
}

async fn leftovers_go_confirmed_photos_stay(store: Store) {
    let app = spawn(store, |_| {}).await;
    let svc = &app.state.services;
    let (case, _, _, insp, _) = case_in_progress(&app, VILLAGE, "DUST").await;
    let (lat, lng) = village_centre(&app, VILLAGE);
    let photo = |n: u32| {
        gridwatch::domain::media::fixtures::test_jpeg(320 + n, 240, Some((app.now(), lat, lng)))
    };
    // A confirmed photo (on S3 its upload copy is put back, as if its delete had failed).
    let kept_bytes = photo(0);
    let c = upload_photo(&app, &insp, &case, "BEFORE", &kept_bytes).await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");
    let kept = row(&app, &c["data"]["confirmEvidence"]["id"]).await;
    let copy = svc
        .storage
        .upload_key_of(&ObjectKey::try_from(kept.object_key.as_str()).unwrap());
    if let Some(copy) = &copy {
        put_back(&app, copy.as_str(), &kept_bytes).await;
    }
    // A ticket whose photo was sent but never confirmed.
    // One copy of the bytes: the photo's EXIF time is the test clock's, which runs, so
    // two renderings a second apart differ (Garage then refuses the upload: the
    // declared hash is of other bytes).
    let sent = photo(1);
    let unconfirmed = sent_ticket(&app, &insp, &case, &sent, &sha_hex(&sent)).await;
    // A rejected upload (no photo) whose object survived. (Not a wrong hash: a store
    // that verifies checksums refuses those bytes at upload.)
    let bad = b"a text file, not a photo; ".repeat(40);
    let rejected = sent_ticket(&app, &insp, &case, &bad, &sha_hex(&bad)).await;
    let r = app
        .gql(Some(&insp), CONFIRM, json!({ "id": rejected }))
        .await;
    assert_eq!(
        r["errors"][0]["extensions"]["detail"], "NOT_AN_IMAGE",
        "{r}"
    );
    let rejected_row = row(&app, &rejected).await;
    assert_eq!(rejected_row.status.as_str(), "REJECTED");
    put_back(&app, &rejected_row.object_key, &bad).await;
    let unconfirmed_row = row(&app, &unconfirmed).await;
    assert!(exists(&app, &unconfirmed_row.object_key).await);

    // Within the grace period nothing is an orphan yet.
    let grace = chrono::Duration::hours(24);
    let r = sweep(svc, grace, false).await.unwrap();
    assert_eq!(r.objects_deleted, 0, "{r:?}");
    app.advance(chrono::Duration::hours(25));
    let (insp, _) = app.login(&format!("demo-insp-{VILLAGE}")).await;
    // A ticket issued now is not expired.
    let fresh = request(
        &app,
        &insp,
        &case,
        "AFTER",
        "image/jpeg",
        1000,
        &sha_hex(b"x"),
    )
    .await;
    let fresh = fresh["data"]["requestEvidenceUpload"]["evidence"]["id"].clone();

    let extra = u64::from(copy.is_some());
    let dry = sweep(svc, grace, true).await.unwrap();
    assert_eq!(
        dry,
        OrphanReport {
            expired_tickets: 1,
            rejected_cleaned: 2,
            upload_copies: 1,
            objects_deleted: 2 + extra,
        },
        "dry run"
    );
    assert!(
        exists(&app, &unconfirmed_row.object_key).await,
        "a dry run deletes nothing"
    );
    assert_eq!(row(&app, &unconfirmed).await.status.as_str(), "PENDING");

    let done = sweep(svc, grace, false).await.unwrap();
    assert_eq!(done, dry, "the pass does what the dry run said");
    assert!(!exists(&app, &unconfirmed_row.object_key).await);
    assert!(!exists(&app, &rejected_row.object_key).await);
    if let Some(copy) = &copy {
        assert!(
            !exists(&app, copy.as_str()).await,
            "the upload copy is gone"
        );
    }
    let expired = row(&app, &unconfirmed).await;
    assert_eq!(expired.status.as_str(), "REJECTED");
    assert_eq!(expired.reject_reason.as_deref(), Some("EXPIRED"));
    // The confirmed photo is whole, and a late confirmation of the expired ticket
    // cannot bring it back.
    assert!(exists(&app, &kept.object_key).await);
    let r = app
        .gql(Some(&insp), CONFIRM, json!({ "id": unconfirmed }))
        .await;
    assert_eq!(r["data"]["confirmEvidence"]["status"], "REJECTED", "{r}");
    let url = r["data"]["confirmEvidence"]["url"].clone();
    assert_eq!(url, Value::Null);
    assert_eq!(row(&app, &fresh).await.status.as_str(), "PENDING");
    // Nothing twice.
    let again = sweep(svc, grace, false).await.unwrap();
    assert_eq!(again, OrphanReport::default(), "{again:?}");
}
both!(orphans, leftovers_go_confirmed_photos_stay, stores);

/// `verify-evidence` finds a confirmed photo whose object vanished and one whose bytes
/// changed, and nothing when all is well.
async fn the_audit_finds_missing_and_altered_photos(store: Store) {
    let app = spawn(store, |_| {}).await;
    let svc = &app.state.services;
    let (case, _, _, insp, _) = case_in_progress(&app, VILLAGE, "DUST").await;
    let (lat, lng) = village_centre(&app, VILLAGE);
    let mut rows = Vec::new();
    for n in 0..3 {
        let bytes = gridwatch::domain::media::fixtures::test_jpeg(
            300 + n,
            200,
            Some((app.now(), lat, lng)),
        );
        let c = upload_photo(&app, &insp, &case, "BEFORE", &bytes).await;
        rows.push(row(&app, &c["data"]["confirmEvidence"]["id"]).await);
    }
    use gridwatch::domain::evidence::audit::verify_all;
    let clean = verify_all(svc).await.unwrap();
    assert_eq!(clean.checked, 3);
    assert!(clean.is_clean(), "{clean:?}");
    let gone = ObjectKey::try_from(rows[0].object_key.as_str()).unwrap();
    svc.storage.delete(&gone).await.unwrap();
    let changed = ObjectKey::try_from(rows[1].object_key.as_str()).unwrap();
    svc.storage.delete(&changed).await.unwrap();
    put_back(&app, changed.as_str(), b"not the photo that was confirmed").await;
    let r = verify_all(svc).await.unwrap();
    assert_eq!(r.checked, 3);
    assert_eq!(r.missing, vec![rows[0].id]);
    assert_eq!(r.altered, vec![rows[1].id]);
    if store == Store::Fs {
        // The command says so and fails, for scripts.
        let out = crate::helpers::gridwatch_cmd(&app.fresh.url)
            .env("GRIDWATCH__STORAGE__FS_ROOT", app.evidence_dir.path())
            .arg("verify-evidence")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("1 missing, 1 altered"), "{stdout}");
        assert!(
            stdout.contains(&format!("missing: evidence {}", rows[0].id)),
            "{stdout}"
        );
    }
}
both!(
    evidence_audit,
    the_audit_finds_missing_and_altered_photos,
    stores
);
