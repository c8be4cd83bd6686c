//! Cases from discovery to closure, over HTTP on both databases.

use sea_orm::EntityTrait;
use serde_json::json;

use crate::both;
use crate::helpers::cases::{act, get_case, public_login, submit_tip, village_centre};
use crate::helpers::{Backend, TestApp, error_code};

async fn full_story(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let village = "140521101203";
    let township = "140521101";
    // The public reports through WeChat, with a GCJ-02 location from wx.getLocation.
    let public = public_login(&app, "o-story-tipster").await;
    let (lat, lng) = village_centre(&app, village);
    let (glat, glng) = gridwatch::domain::geo::wgs84_to_gcj02(lat, lng);
    let b = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        glat,
        glng,
        "GCJ02",
        "story-tip-0001",
    )
    .await;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    assert_eq!(b["data"]["submitTip"]["tip"]["status"], "PENDING");
    assert_eq!(b["data"]["submitTip"]["tip"]["township"], "中村镇");
    // The supervisor sees it routed to the right village and dispatches it.
    let (sup, _) = app.login(&format!("demo-sup-{township}")).await;
    let list = app.gql(Some(&sup), "{ cases(filter: { status: [PENDING] }) { edges { node { id version region { code } } } } }", json!({})).await;
    let node = list["data"]["cases"]["edges"][0]["node"].clone();
    assert_eq!(node["region"]["code"], village, "{list}");
    let id = node["id"].clone();
    let (insp, _) = app.login(&format!("demo-insp-{village}")).await;
    let me = app.gql(Some(&insp), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let c = act(
        &app,
        &sup,
        "assignCase",
        &id,
        &node["version"],
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": me }),
    )
    .await;
    let c = &c["data"]["assignCase"];
    assert_eq!(c["status"], "ASSIGNED", "{c}");
    assert!(c["dueAt"].is_string());
    // The inspector sees it in their tasks, checks in on site and submits.
    let tasks = app
        .gql(
            Some(&insp),
            "{ myTasks { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(tasks["data"]["myTasks"]["edges"][0]["node"]["id"], id);
    let c = act(
        &app,
        &insp,
        "startCase",
        &id,
        &c["version"],
        ", location: $location",
        json!({ "location": { "lat": lat + 0.0003, "lng": lng } }),
    )
    .await;
    let c = &c["data"]["startCase"];
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    assert!(c["checkinDistanceM"].as_f64().unwrap() < 50.0);
    assert_eq!(c["checkinFar"], false);
    // Open burning needs a photo of the problem and one after the fix.
    let now = chrono::Utc::now();
    let shot = |dlat: f64| {
        gridwatch::domain::media::fixtures::test_jpeg(640, 480, Some((now, lat + dlat, lng)))
    };
    for (phase, bytes) in [("BEFORE", shot(0.0)), ("AFTER", shot(0.0001))] {
        let e = crate::helpers::evidence::upload_photo(&app, &insp, &id, phase, &bytes).await;
        assert_eq!(e["data"]["confirmEvidence"]["status"], "CONFIRMED", "{e}");
    }
    let c = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &c["version"],
        ", note: $note",
        json!({ "note": "已扑灭，已教育当事人" }),
    )
    .await;
    let c = &c["data"]["submitCase"];
    assert_eq!(c["status"], "SUBMITTED", "{c}");
    // The supervisor returns it once …
    let c = act(
        &app,
        &sup,
        "verifyCase",
        &id,
        &c["version"],
        ", approve: $approve, note: $note",
        json!({ "approve": false, "note": "需补充整改后照片" }),
    )
    .await;
    let c = &c["data"]["verifyCase"];
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    assert_eq!(c["reworkCount"], 1);
    // The first submission stays on record for the on-time indicators.
    let row = |app: &TestApp| {
        let db = app.db.clone();
        let case_id: i64 = id.as_str().unwrap().parse().unwrap();
        async move {
            entity::case::Entity::find_by_id(case_id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let returned = row(&app).await;
    let first = returned.first_submitted_at.expect("first submission kept");
    assert_eq!(returned.submitted_at, None);
    app.advance(chrono::Duration::minutes(5));
    let c = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &c["version"],
        ", note: $note",
        json!({ "note": "已补充" }),
    )
    .await;
    assert!(c.get("errors").is_none(), "{c}");
    let again = row(&app).await;
    assert_eq!(again.first_submitted_at, Some(first));
    assert!(again.submitted_at.unwrap() > first, "{again:?}");
    let c = &c["data"]["submitCase"];
    // … then approves.
    let c = act(
        &app,
        &sup,
        "verifyCase",
        &id,
        &c["version"],
        ", approve: $approve",
        json!({ "approve": true }),
    )
    .await;
    let c = &c["data"]["verifyCase"];
    assert_eq!(c["status"], "CLOSED", "{c}");
    // The tipster follows by tracking code and rates.
    let view = app
        .gql(None, "query($c: String!) { tipByTrackingCode(code: $c) { status township canRate notes { text status } } }", json!({ "c": code.to_lowercase() }))
        .await;
    let v = &view["data"]["tipByTrackingCode"];
    assert_eq!(v["status"], "CLOSED", "{view}");
    assert_eq!(v["canRate"], true);
    let text = view.to_string();
    assert!(
        !text.contains("demo-insp") && !text.contains("演示网格员"),
        "staff name leaked: {text}"
    );
    let r = app
        .gql(Some(&public), "mutation($c: String!) { rateCase(trackingCode: $c, score: 5, comment: \"处理很及时\") { rating canRate } }", json!({ "c": code }))
        .await;
    assert_eq!(r["data"]["rateCase"]["rating"], 5, "{r}");
    let again = app
        .gql(
            Some(&public),
            "mutation($c: String!) { rateCase(trackingCode: $c, score: 1) { rating } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    // The event log tells the whole story, in order, one event per version.
    let c = get_case(&app, &sup, &id).await;
    let actions: Vec<&str> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "SUBMIT_TIP",
            "ASSIGN",
            "START",
            "SUBMIT",
            "RETURN",
            "SUBMIT",
            "APPROVE",
            "RATE"
        ]
    );
    let seqs: Vec<i64> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(c["version"], 8);
    assert_eq!(c["lastEvent"]["action"], "RATE");
    assert!(c["tipster"].as_str().unwrap().starts_with("举报人-"));
}
both!(story, full_story);
