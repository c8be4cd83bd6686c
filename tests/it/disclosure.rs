//! 一公开: `publicCases` publishes closed cases to anyone — only closed ones, only of
//! publishable categories, within the region asked — and never a field from the
//! private list (checked by walking the whole answer), at a limited rate.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{SUBMIT_TIP, public_login, seed_case, seed_case_of};
use crate::helpers::{Backend, TestApp, error_code};

const OWN: &str = "140521100201";
const OTHER_TOWNSHIP_VILLAGE: &str = "140521101201";

const PUBLISHED: &str = "query($r: ID, $c: String, $n: Int, $a: String) { \
    publicCases(regionId: $r, categoryCode: $c, first: $n, after: $a) { \
    edges { cursor node { number category { code name } township village description outcome reportedAt closedAt photos } } \
    pageInfo { hasNextPage endCursor } } }";

fn numbers(b: &Value) -> Vec<String> {
    b["data"]["publicCases"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|e| e["node"]["number"].as_str().unwrap().to_owned())
        .collect()
}

/// Every string and number in the answer, as text.
fn leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}

async fn number_of(app: &TestApp, id: i64) -> String {
    entity::case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .number
}

async fn published_cases(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A tipster with a phone on record, whose tip-off was closed with a result.
    let token = public_login(&app, "o-disclosure-openid").await;
    let (lat, lng) = crate::helpers::cases::village_centre(&app, OWN);
    let b = app
        .gql(
            Some(&token),
            SUBMIT_TIP,
            json!({ "i": { "categoryCode": "DUST", "description": "河边焚烧秸秆", "phone": "13912345678",
                "location": { "lat": lat, "lng": lng }, "idempotencyKey": "disclosure-0001" } }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    let code = b["data"]["submitTip"]["trackingCode"].as_str().unwrap();
    let row = entity::case::Entity::find()
        .filter(entity::case::Column::TrackingCode.eq(code))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let closed = row.id;
    let tipster = entity::tipster::Entity::find_by_id(row.tipster_id.unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(tipster.phone_enc.is_some(), "the phone is on record");
    let mut am: entity::case::ActiveModel = entity::case::Entity::find_by_id(closed)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    am.status = Set(crate::helpers::closed("CLOSED"));
    am.tracking_code = Set(Some("GW-SECRET-CODE".into()));
    am.description = Set("河边焚烧秸秆".into());
    am.text_check = Set(Some(crate::helpers::closed("PASS")));
    am.closed_at = Set(Some(chrono::Utc::now()));
    am.lat = Set(35.123_456);
    am.lng = Set(112.654_321);
    am.update(&app.db).await.unwrap();
    entity::case_event::ActiveModel {
        case_id: Set(closed),
        seq: Set(50),
        actor_role: Set("INSPECTOR".into()),
        action: Set("SUBMIT".into()),
        note: Set(Some("已清理焚烧残留并宣传禁烧政策".into())),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    // Not published: an open case, a closed case of a category marked not
    // publishable; elsewhere: a closed case in another township.
    let open = seed_case(&app, OWN, "ASSIGNED").await;
    let hidden = seed_case_of(&app, OWN, "CLOSED", "OPEN_BURNING").await;
    let cat = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("OPEN_BURNING"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut cat: entity::category::ActiveModel = cat.into();
    cat.publishable = Set(false);
    cat.update(&app.db).await.unwrap();
    let elsewhere = seed_case(&app, OTHER_TOWNSHIP_VILLAGE, "CLOSED").await;

    let all = app.gql(None, PUBLISHED, json!({})).await;
    assert!(all.get("errors").is_none(), "{all}");
    let listed = numbers(&all);
    assert_eq!(
        listed,
        vec![
            number_of(&app, elsewhere).await,
            number_of(&app, closed).await
        ],
        "{all}"
    );
    assert!(!listed.contains(&number_of(&app, open).await));
    assert!(!listed.contains(&number_of(&app, hidden).await));
    let node = &all["data"]["publicCases"]["edges"][1]["node"];
    assert_eq!(node["description"], "河边焚烧秸秆");
    assert_eq!(node["outcome"], "已清理焚烧残留并宣传禁烧政策");
    assert_eq!(node["category"]["code"], "DUST");
    assert!(
        node["village"].is_string() && node["township"].is_string(),
        "{node}"
    );

    // Nothing from the private list anywhere in the answer.
    let mut texts = Vec::new();
    leaves(&all, &mut texts);
    let insp = format!("demo-insp-{OWN}");
    for secret in [
        "13912345678",
        "o-disclosure-openid",
        tipster.handle.as_str(),
        "GW-SECRET-CODE",
        insp.as_str(),
        "35.123",
        "112.654",
    ] {
        assert!(
            !texts.iter().any(|t| t.contains(secret)),
            "`{secret}` is published: {all}"
        );
    }

    // Within a region; of a category; pages.
    let township = app.region_id("140521100");
    let b = app
        .gql(None, PUBLISHED, json!({ "r": township.to_string() }))
        .await;
    assert_eq!(numbers(&b), vec![number_of(&app, closed).await]);
    let b = app
        .gql(None, PUBLISHED, json!({ "c": "OPEN_BURNING" }))
        .await;
    assert_eq!(numbers(&b), Vec::<String>::new());
    let page1 = app.gql(None, PUBLISHED, json!({ "n": 1 })).await;
    assert_eq!(
        page1["data"]["publicCases"]["pageInfo"]["hasNextPage"],
        true
    );
    let after = page1["data"]["publicCases"]["pageInfo"]["endCursor"].clone();
    let page2 = app
        .gql(None, PUBLISHED, json!({ "n": 1, "a": after }))
        .await;
    assert_eq!(numbers(&page2), vec![number_of(&app, closed).await]);
    // An unknown region is not found, a malformed one names its field.
    let b = app.gql(None, PUBLISHED, json!({ "r": "999999" })).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app.gql(None, PUBLISHED, json!({ "r": "x" })).await;
    assert_eq!(b["errors"][0]["extensions"]["field"], "regionId", "{b}");
}
both!(published, published_cases);

async fn reads_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.public_reads_per_ip_per_minute = 3;
    })
    .await;
    for _ in 0..3 {
        let b = app.gql(None, PUBLISHED, json!({})).await;
        assert!(b.get("errors").is_none(), "{b}");
    }
    let b = app.gql(None, PUBLISHED, json!({})).await;
    assert_eq!(error_code(&b), "RATE_LIMITED", "{b}");
    assert!(b["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1);
    // A minute later the address may read again.
    app.advance(chrono::Duration::seconds(61));
    let b = app.gql(None, PUBLISHED, json!({})).await;
    assert!(b.get("errors").is_none(), "{b}");
}
both!(read_limits, reads_are_rate_limited);
