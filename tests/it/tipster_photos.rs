//! A tipster's photos (issue 13): attached to their own tip-off by its tracking code,
//! sent the way `wx.uploadFile` sends (a multipart form: the ticket's fields, then the
//! file) on both stores, with or without a declared SHA-256; the same checks as staff
//! photos; limits per tip-off; nobody else can.

use entity::evidence;
use gridwatch::domain::media::fixtures::test_jpeg;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{public_login, submit_tip, village_centre};
use crate::helpers::evidence::{CONFIRM, sha_hex, spawn};
use crate::helpers::{Store, TestApp, error_code};

const REQUEST_BY_CODE: &str = "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id status phase } url method fields { name value } fileField putUrl } }";

async fn request(app: &TestApp, token: Option<&str>, input: Value) -> Value {
    app.gql(token, REQUEST_BY_CODE, json!({ "i": input })).await
}

/// What `wx.uploadFile({ url, filePath, name: fileField, formData })` sends: the form
/// data fields, then the file (its part typed by the file name only).
async fn wx_upload_file(app: &TestApp, ticket: &Value, photo: &[u8]) -> reqwest::StatusCode {
    let (status, body) = wx_send(app, ticket, photo).await;
    assert!(status.is_success(), "{status}: {body}");
    status
}

/// [`wx_upload_file`] without judging the answer: its status and body.
async fn wx_send(app: &TestApp, ticket: &Value, photo: &[u8]) -> (reqwest::StatusCode, String) {
    assert_eq!(ticket["method"], "POST", "{ticket}");
    let mut form = reqwest::multipart::Form::new();
    for f in ticket["fields"].as_array().unwrap() {
        form = form.text(
            f["name"].as_str().unwrap().to_owned(),
            f["value"].as_str().unwrap().to_owned(),
        );
    }
    form = form.part(
        ticket["fileField"].as_str().unwrap().to_owned(),
        reqwest::multipart::Part::bytes(photo.to_vec()).file_name("wxfile://tmp_8a2c.jpg"),
    );
    let r = app
        .client
        .post(ticket["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap_or_default())
}

/// Sends the photo of a ticket the way `wx.uploadFile` does, then confirms it; the
/// confirmation's body.
async fn upload_and_confirm(app: &TestApp, token: &str, ticket: &Value, photo: &[u8]) -> Value {
    wx_upload_file(app, ticket, photo).await;
    app.gql(
        Some(token),
        CONFIRM,
        json!({ "id": ticket["evidence"]["id"] }),
    )
    .await
}

async fn tipster_photos(store: Store) {
    let app = spawn(store, |c| {
        c.evidence.tipster_max_photos = 3;
        c.evidence.tipster_max_bytes = 200_000;
    })
    .await;
    let tipster = public_login(&app, "o-tipster-photos-1").await;
    let (lat, lng) = village_centre(&app, "140521100201");
    let b = submit_tip(
        &app,
        &tipster,
        "OPEN_BURNING",
        lat,
        lng,
        "WGS84",
        "tp-photos-0001",
    )
    .await;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    let photo = |seed: u32| test_jpeg(64 + seed, 48, None);
    let input = |p: &[u8], sha: Option<String>| {
        json!({ "trackingCode": code, "phase": "BEFORE", "contentType": "image/jpeg",
            "byteSize": p.len(), "sha256": sha })
    };

    // 1. No declared hash (older WeChat base libraries cannot compute one).
    let p1 = photo(1);
    let r = request(&app, Some(&tipster), input(&p1, None)).await;
    let up = &r["data"]["requestEvidenceUpload"];
    assert_eq!(up["evidence"]["status"], "PENDING", "{r}");
    assert_eq!(up["fileField"], "file");
    assert_eq!(up["putUrl"].is_string(), store == Store::Fs, "{r}");
    let c = upload_and_confirm(&app, &tipster, up, &p1).await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");

    // 2. A declared hash that does not match: rejected like a staff photo.
    let p2 = photo(2);
    let r = request(&app, Some(&tipster), input(&p2, Some("ab".repeat(32)))).await;
    let up = &r["data"]["requestEvidenceUpload"];
    if store == Store::Garage {
        // A store that verifies checksums refuses the bytes at upload and keeps nothing;
        // confirming finds no file, and once the URL has expired the photo is rejected.
        let (status, body) = wx_send(&app, up, &p2).await;
        assert_eq!(status, 400, "{body}");
        let confirm = json!({ "id": up["evidence"]["id"] });
        let c = app.gql(Some(&tipster), CONFIRM, confirm.clone()).await;
        assert_eq!(
            c["errors"][0]["extensions"]["detail"], "NOT_UPLOADED_YET",
            "{c}"
        );
        app.advance(chrono::Duration::seconds(601));
        let c = app.gql(Some(&tipster), CONFIRM, confirm).await;
        assert_eq!(
            c["errors"][0]["extensions"]["detail"], "NOT_UPLOADED",
            "{c}"
        );
    } else {
        let c = upload_and_confirm(&app, &tipster, up, &p2).await;
        assert_eq!(
            c["errors"][0]["extensions"]["detail"], "HASH_MISMATCH",
            "{c}"
        );
    }

    // 3. The right hash.
    let p3 = photo(3);
    let r = request(&app, Some(&tipster), input(&p3, Some(sha_hex(&p3)))).await;
    let up = &r["data"]["requestEvidenceUpload"];
    let c = upload_and_confirm(&app, &tipster, up, &p3).await;
    assert_eq!(c["data"]["confirmEvidence"]["status"], "CONFIRMED", "{c}");

    // 4. Through the streaming path, by tracking code.
    let p4 = photo(4);
    let b = app
        .gql_upload(
            Some(&tipster),
            "mutation($t: String!, $f: Upload!) { uploadEvidence(trackingCode: $t, phase: BEFORE, file: $f) { status } }",
            json!({ "t": code }),
            ("a.jpg", "image/jpeg", p4.clone()),
        )
        .await;
    assert_eq!(b["data"]["uploadEvidence"]["status"], "CONFIRMED", "{b}");

    // Stored with the hash the server computed, as the tipster's, on the tip's case.
    let rows = evidence::Entity::find()
        .filter(evidence::Column::UploaderTipsterId.is_not_null())
        .order_by_asc(evidence::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    let expected = [sha_hex(&p1), sha_hex(&p2), sha_hex(&p3), sha_hex(&p4)];
    for (row, sha) in rows.iter().zip(&expected) {
        if row.status == entity::enums::EvidenceStatus::Confirmed {
            assert_eq!(&row.sha256, sha, "confirmed with the hash of the bytes");
        }
        assert_eq!(row.phase, entity::enums::EvidencePhase::Before);
        assert!(row.uploader_id.is_none());
    }
    assert_eq!(
        rows.iter()
            .filter(|r| r.status == entity::enums::EvidenceStatus::Confirmed)
            .count(),
        3
    );

    // Three photos held (the rejected one does not count): the limit is reached.
    let p5 = photo(5);
    let r = request(&app, Some(&tipster), input(&p5, None)).await;
    assert_eq!(
        r["errors"][0]["extensions"]["detail"], "TOO_MANY_PHOTOS",
        "{r}"
    );

    // Nobody else: another tipster, anonymous, a staff member's phases for the tipster.
    let other = public_login(&app, "o-tipster-photos-2").await;
    let r = request(&app, Some(&other), input(&p5, None)).await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    let r = request(&app, None, input(&p5, None)).await;
    assert_eq!(error_code(&r), "UNAUTHENTICATED", "{r}");
    let mut after = input(&p5, None);
    after["phase"] = json!("AFTER");
    let r = request(&app, Some(&tipster), after).await;
    assert_eq!(error_code(&r), "FORBIDDEN", "{r}");
    let r = request(
        &app,
        Some(&tipster),
        json!({ "trackingCode": "NO-SUCH-CODE", "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 10 }),
    )
    .await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    // Exactly one of caseId and trackingCode.
    let r = request(
        &app,
        Some(&tipster),
        json!({ "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 10 }),
    )
    .await;
    assert_eq!(
        r["errors"][0]["extensions"]["detail"], "CASE_REQUIRED",
        "{r}"
    );
}
both!(tipster_attaches_photos, tipster_photos, stores);

/// A tipster's photo is held to the tipster's size limit, before any URL is issued.
async fn tipster_size_limit(store: Store) {
    let app = spawn(store, |c| c.evidence.tipster_max_bytes = 1000).await;
    let tipster = public_login(&app, "o-tipster-photos-3").await;
    let (lat, lng) = village_centre(&app, "140521100201");
    let b = submit_tip(
        &app,
        &tipster,
        "OPEN_BURNING",
        lat,
        lng,
        "WGS84",
        "tp-photos-0002",
    )
    .await;
    let code = b["data"]["submitTip"]["trackingCode"].as_str().unwrap();
    let r = request(
        &app,
        Some(&tipster),
        json!({ "trackingCode": code, "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 1001 }),
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["detail"], "TOO_LARGE", "{r}");
    // byteSize is a whole number of bytes (a Float, as Evidence.byteSize).
    for bad in [json!(10.5), json!(-1), json!(1e20)] {
        let r = request(
            &app,
            Some(&tipster),
            json!({ "trackingCode": code, "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": bad }),
        )
        .await;
        assert_eq!(
            r["errors"][0]["extensions"]["detail"], "INVALID_SIZE",
            "{r}"
        );
    }
    let r = request(
        &app,
        Some(&tipster),
        json!({ "trackingCode": code, "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 1000 }),
    )
    .await;
    assert_eq!(
        r["data"]["requestEvidenceUpload"]["evidence"]["status"], "PENDING",
        "{r}"
    );
}
both!(tipster_photo_size_limit, tipster_size_limit, stores);
