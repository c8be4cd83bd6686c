//! A person's verdict on a tip-off's words (`reviewTipText`): what WeChat's check held
//! for review, or could not check, is shown to the public only once a supervisor says
//! so; the verdict is an event of the case.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{act, public_login, submit_tip, village_centre};
use crate::helpers::{Backend, TestApp, error_code};

const OWN: &str = "140521100201";

/// What the public reads of the tip-off's words.
async fn public_view(app: &TestApp, code: &str) -> Value {
    let b = app
        .gql(
            None,
            "query($c: String!) { tipByTrackingCode(code: $c) { description } }",
            json!({ "c": code }),
        )
        .await;
    b["data"]["tipByTrackingCode"]["description"].clone()
}

async fn supervisor_releases_held_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let public = public_login(&app, "o-review").await;
    let (lat, lng) = village_centre(&app, OWN);
    let b = submit_tip(&app, &public, "DUST", lat, lng, "WGS84", "review-key-0001").await;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    let c = entity::case::Entity::find()
        .filter(entity::case::Column::TrackingCode.eq(code.clone()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    // WeChat asked for a person to look.
    let mut am: entity::case::ActiveModel = c.clone().into();
    am.text_check = Set(Some(crate::helpers::closed("REVIEW")));
    am.update(&app.db).await.unwrap();
    assert_eq!(public_view(&app, &code).await, Value::Null);

    let (insp, _) = app.login(&format!("demo-insp-{OWN}")).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let id = json!(c.id.to_string());
    let version = json!(c.version);
    // Inspectors do not decide what the public reads.
    let b = act(
        &app,
        &insp,
        "reviewTipText",
        &id,
        &version,
        ", publish: true",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // The supervisor releases the words, with a note; the verdict is an event.
    let b = act(
        &app,
        &sup,
        "reviewTipText",
        &id,
        &version,
        ", publish: true, note: $note",
        json!({ "note": "内容属实，无敏感信息" }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let case = &b["data"]["reviewTipText"];
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "REVIEW_TEXT", "{case}");
    assert_eq!(last["note"], "内容属实，无敏感信息");
    assert_eq!(public_view(&app, &code).await, "河边有人焚烧秸秆，浓烟很大");
    // The same verdict again is refused; a stale version is a conflict.
    let b = act(
        &app,
        &sup,
        "reviewTipText",
        &id,
        &case["version"],
        ", publish: true",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&b), "INVALID_TRANSITION", "{b}");
    let b = act(
        &app,
        &sup,
        "reviewTipText",
        &id,
        &version,
        ", publish: false",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&b), "CONFLICT", "{b}");
    // Withdrawn: hidden from the public again; the status never moved.
    let b = act(
        &app,
        &sup,
        "reviewTipText",
        &id,
        &case["version"],
        ", publish: false",
        json!({}),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    assert_eq!(b["data"]["reviewTipText"]["status"], case["status"]);
    assert_eq!(public_view(&app, &code).await, Value::Null);
    let row = entity::case::Entity::find_by_id(c.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.text_check, Some(crate::helpers::closed("RISKY")));
}
both!(review, supervisor_releases_held_words);
