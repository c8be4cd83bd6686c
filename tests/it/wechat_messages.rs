//! WeChat beyond login (issue 10): subscribe messages to tipsters counted against the
//! grants they gave, one access token shared by every process, and the text check
//! that keeps a tip-off's words from the public until WeChat passed them — all against
//! the stand-in, which follows the documented contract and error codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use entity::{case, outbox, tipster_subscription};
use gridwatch::config::TemplateConfig;
use gridwatch::jobs::delivery::{Channels, deliver_due};
use gridwatch::jobs::text_check::check_pending;
use gridwatch::wechat::WechatApi;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{public_login, seed_case, village_centre};
use crate::helpers::{Backend, TestApp, error_code};

const ACCEPTED: &str = "tplAccepted0001";
const CLOSED: &str = "tplClosed0001";
const ACCEPTED_KEYS: [&str; 4] = ["character_string1", "thing2", "phrase3", "time4"];
const CLOSED_KEYS: [&str; 3] = ["character_string1", "thing2", "phrase3"];
const OWN: &str = "140521100201";
const RECORD: &str = "mutation($t: [String!]!) { recordSubscription(templateIds: $t) { templateId remaining blocked } }";
const SUBMIT: &str =
    "mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode tip { status } } }";
const PUBLIC_VIEW: &str =
    "query($c: String!) { tipByTrackingCode(code: $c) { description status } }";

fn template(id: &str, data: &[(&str, &str)], page: Option<&str>) -> TemplateConfig {
    TemplateConfig {
        template_id: id.to_owned(),
        page: page.map(str::to_owned),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

async fn app_with_templates(backend: Backend) -> TestApp {
    let app = TestApp::spawn_with(backend, |c| {
        c.wechat.subscribe.accepted = Some(template(
            ACCEPTED,
            &[
                ("character_string1", "{case_number}"),
                ("thing2", "{title}"),
                ("phrase3", "{status}"),
                ("time4", "{time}"),
            ],
            Some("pages/tip/detail?code={tracking_code}"),
        ));
        c.wechat.subscribe.closed = Some(template(
            CLOSED,
            &[
                ("character_string1", "{case_number}"),
                ("thing2", "{category}已处理完毕，请您评价"),
                ("phrase3", "{status}"),
            ],
            None,
        ));
    })
    .await;
    app.wechat.add_template(ACCEPTED, &ACCEPTED_KEYS);
    app.wechat.add_template(CLOSED, &CLOSED_KEYS);
    app
}

/// The village's inspector goes off duty, so tip-offs wait to be accepted.
async fn off_duty(app: &TestApp, village: &str) {
    let u = entity::app_user::Entity::find()
        .filter(entity::app_user::Column::Username.eq(format!("demo-insp-{village}")))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut u: entity::app_user::ActiveModel = u.into();
    u.on_duty = Set(false);
    u.update(&app.db).await.unwrap();
}

/// Submits a tip-off with these words in village `OWN`; (case id, tracking code).
async fn tip(app: &TestApp, token: &str, words: &str, key: &str) -> (i64, String) {
    let (lat, lng) = village_centre(app, OWN);
    let b = app
        .gql(
            Some(token),
            SUBMIT,
            json!({ "i": { "categoryCode": "DUST", "description": words,
                "location": { "lat": lat, "lng": lng, "coord": "WGS84" }, "idempotencyKey": key } }),
        )
        .await;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    let c = case::Entity::find()
        .filter(case::Column::TrackingCode.eq(code.as_str()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (c.id, code)
}

async fn grant_of(app: &TestApp, template: &str) -> (i32, bool) {
    let g = tipster_subscription::Entity::find()
        .filter(tipster_subscription::Column::TemplateId.eq(template))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    (g.remaining, g.blocked)
}

async fn messages_queued(app: &TestApp) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::Topic.eq("WECHAT_SUBSCRIBE"))
        .count(&app.db)
        .await
        .unwrap()
}

async fn accept(app: &TestApp, sup: &str, id: i64) {
    let c = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let b = app
        .gql(
            Some(sup),
            "mutation($id: ID!, $v: Int!) { acceptCase(id: $id, version: $v) { status } }",
            json!({ "id": id.to_string(), "v": c.version }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
}

/// A case of `OWN` waiting for verification, reported by the tipster `tipster_id`.
async fn submitted_tip_of(app: &TestApp, tipster_id: i64) -> case::Model {
    let id = seed_case(app, OWN, "SUBMITTED").await;
    let c = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut m: case::ActiveModel = c.into();
    m.tipster_id = Set(Some(tipster_id));
    m.source = Set(gridwatch::domain::cases::CaseSource::Tip);
    m.update(&app.db).await.unwrap()
}

async fn approve(app: &TestApp, sup: &str, c: &case::Model) {
    let b = app
        .gql(
            Some(sup),
            "mutation($id: ID!, $v: Int!) { verifyCase(id: $id, version: $v, approve: true) { status } }",
            json!({ "id": c.id.to_string(), "v": c.version }),
        )
        .await;
    assert_eq!(b["data"]["verifyCase"]["status"], "CLOSED", "{b}");
}

async fn subscribe_messages_follow_grants(backend: Backend) {
    let app = app_with_templates(backend).await;
    let svc = &app.state.services;
    let ch = Channels::new(&svc.config).unwrap();
    let (sup, _) = app.login("demo-sup-140521100").await;
    off_duty(&app, OWN).await;

    // The mini-program learns which templates to ask for.
    let b = app
        .gql(None, "{ messageTemplates { kind templateId } }", json!({}))
        .await;
    assert_eq!(
        b["data"]["messageTemplates"],
        json!([{ "kind": "ACCEPTED", "templateId": ACCEPTED }, { "kind": "CLOSED", "templateId": CLOSED }])
    );
    let openid = "openid-subscriber-1";
    let tipster = public_login(&app, openid).await;
    // Grants are recorded by the tipster only, for known templates, at most five a time.
    let b = app
        .gql(Some(&sup), RECORD, json!({ "t": [ACCEPTED] }))
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN");
    for bad in [json!(["tplUnknown"]), json!([]), json!(vec![ACCEPTED; 6])] {
        let b = app.gql(Some(&tipster), RECORD, json!({ "t": bad })).await;
        assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    }
    app.wechat.grant(openid, ACCEPTED, 1);
    let b = app
        .gql(Some(&tipster), RECORD, json!({ "t": [ACCEPTED, CLOSED] }))
        .await;
    let grants = &b["data"]["recordSubscription"];
    assert_eq!(grants.as_array().map(Vec::len), Some(2), "{b}");
    assert!(
        grants
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["remaining"] == 1 && g["blocked"] == false),
        "{b}"
    );

    // Accepting the tip-off queues one message with the event, sent once.
    let (id, code) = tip(
        &app,
        &tipster,
        "工地扬尘很大，没有覆盖防尘网",
        "sub-tip-000001",
    )
    .await;
    accept(&app, &sup, id).await;
    assert_eq!(messages_queued(&app).await, 1);
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 1);
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 0, "nothing twice");
    let sent = app.wechat.sent();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    let number = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .number;
    assert_eq!(m["touser"], openid);
    assert_eq!(m["template_id"], ACCEPTED);
    assert_eq!(m["data"]["character_string1"]["value"], number.as_str());
    assert_eq!(m["data"]["phrase3"]["value"], "已受理");
    assert_eq!(m["page"], format!("pages/tip/detail?code={code}"));
    assert_eq!(m["miniprogram_state"], "formal");
    assert_eq!(
        grant_of(&app, ACCEPTED).await,
        (0, false),
        "the grant is used"
    );

    // Without a grant left, the next acceptance queues nothing.
    let (id2, _) = tip(&app, &tipster, "另一处工地也有扬尘问题", "sub-tip-000002").await;
    accept(&app, &sup, id2).await;
    assert_eq!(messages_queued(&app).await, 1);

    // Closing: WeChat has no grant for it (the user turned messages off): 43101 closes
    // the channel, the message is settled (not a dead letter), nothing is retried.
    let tipster_id = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .tipster_id
        .unwrap();
    approve(&app, &sup, &submitted_tip_of(&app, tipster_id).await).await;
    assert_eq!(messages_queued(&app).await, 2);
    deliver_due(svc, &ch).await.unwrap();
    assert_eq!(grant_of(&app, CLOSED).await, (0, true));
    let row = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq("WECHAT_SUBSCRIBE"))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|r| r.id)
        .unwrap();
    assert!(
        row.delivered_at.is_some() && row.dead_at.is_none(),
        "{row:?}"
    );
    assert!(row.last_error.as_deref().unwrap_or("").contains("43101"));
    assert_eq!(app.wechat.sent().len(), 1);

    // Granting again reopens it. A stale token (40001) is refreshed once and the send
    // retried; the daily limit (45009) puts the message back for an hour, grant kept.
    app.wechat.grant(openid, CLOSED, 2);
    let b = app
        .gql(Some(&tipster), RECORD, json!({ "t": [CLOSED, CLOSED] }))
        .await;
    assert_eq!(b["data"]["recordSubscription"][0]["remaining"], 1, "{b}");
    let tokens = app.wechat.token_calls();
    let sends = app.wechat.send_calls();
    app.wechat.invalidate_tokens();
    approve(&app, &sup, &submitted_tip_of(&app, tipster_id).await).await;
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 1);
    assert_eq!(app.wechat.token_calls(), tokens + 1, "one refresh");
    assert_eq!(app.wechat.send_calls(), sends + 2, "refused, then sent");
    let last = app.wechat.sent().pop().unwrap();
    assert_eq!(last["template_id"], CLOSED);
    assert_eq!(
        last["data"]["thing2"]["value"],
        "扬尘污染已处理完毕，请您评价"
    );
    assert_eq!(grant_of(&app, CLOSED).await, (0, false));

    app.gql(Some(&tipster), RECORD, json!({ "t": [CLOSED] }))
        .await;
    app.wechat.fail_next_send(45009, 1);
    approve(&app, &sup, &submitted_tip_of(&app, tipster_id).await).await;
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 0);
    assert_eq!(grant_of(&app, CLOSED).await, (1, false), "grant given back");
    app.advance(chrono::Duration::minutes(30));
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 0, "still waiting");
    app.advance(chrono::Duration::minutes(31));
    assert_eq!(deliver_due(svc, &ch).await.unwrap(), 1);
    assert_eq!(app.wechat.sent().len(), 3);
    let dead = outbox::Entity::find()
        .filter(outbox::Column::DeadAt.is_not_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(dead, 0);
}
both!(
    subscribe_messages_follow_grants,
    subscribe_messages_follow_grants
);

async fn one_token_for_every_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let svc = app.state.services.clone();
    let api = Arc::new(WechatApi::new(&svc.config.wechat).unwrap());
    app.wechat.set_token_ttl(7200);
    // Eight callers at once with nothing cached: WeChat is asked once.
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (svc, api) = (svc.clone(), Arc::clone(&api));
            tokio::spawn(async move { gridwatch::wechat::access_token(&svc, &api, None).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().unwrap());
    }
    assert_eq!(app.wechat.token_calls(), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0] && t.len() >= 512));
    // Stored encrypted, never in clear.
    let row = entity::wechat_token::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&row.token_enc).contains(&tokens[0][..40]),
        "the token is encrypted at rest"
    );
    // Until five minutes before it expires, the stored one serves.
    app.advance(chrono::Duration::seconds(7200 - 400));
    gridwatch::wechat::access_token(&svc, &api, None)
        .await
        .unwrap();
    assert_eq!(app.wechat.token_calls(), 1);
    app.advance(chrono::Duration::seconds(100));
    gridwatch::wechat::access_token(&svc, &api, None)
        .await
        .unwrap();
    assert_eq!(app.wechat.token_calls(), 2, "renewed before expiry");
    // A refused token is never handed out again; while WeChat cannot be reached the
    // caller gets a transport error (retried later), not a stale token.
    let current = gridwatch::wechat::access_token(&svc, &api, None)
        .await
        .unwrap();
    app.wechat.set_delay(Duration::from_secs(3));
    let err = gridwatch::wechat::access_token(&svc, &api, Some(&current)).await;
    assert!(
        matches!(err, Err(gridwatch::wechat::WxError::Transport(_))),
        "{err:?}"
    );
    app.wechat.set_delay(Duration::ZERO);
    app.wechat.invalidate_tokens();
    let fresh = gridwatch::wechat::access_token(&svc, &api, Some(&current))
        .await
        .unwrap();
    assert_ne!(fresh, current);
}
both!(one_token_for_every_caller, one_token_for_every_caller);

async fn text_state(app: &TestApp, id: i64) -> Option<&'static str> {
    case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .text_check
        .map(|t| t.as_str())
}

/// Advisory locks held in the test's database (none on SQLite).
async fn advisory_locks(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait;
    if app.db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return 0;
    }
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn public_words(app: &TestApp, code: &str) -> Value {
    let b = app.gql(None, PUBLIC_VIEW, json!({ "c": code })).await;
    b["data"]["tipByTrackingCode"]["description"].clone()
}

async fn words_wait_for_the_text_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let svc = &app.state.services;
    let api = Arc::new(WechatApi::new(&svc.config.wechat).unwrap());
    app.wechat.set_words(&["代开发票"], &["请人工审核"]);
    let openid = "openid-words-1";
    let tipster = public_login(&app, openid).await;
    let (clean, clean_code) = tip(
        &app,
        &tipster,
        "河边有人焚烧秸秆，浓烟很大",
        "words-tip-0001",
    )
    .await;
    let (risky, risky_code) = tip(
        &app,
        &tipster,
        "河边焚烧秸秆 代开发票 联系我",
        "words-tip-0002",
    )
    .await;
    let (review, _) = tip(
        &app,
        &tipster,
        "请人工审核这段话，工地扬尘",
        "words-tip-0003",
    )
    .await;
    // Nothing is public before the check.
    assert_eq!(public_words(&app, &clean_code).await, Value::Null);
    assert_eq!(check_pending(svc, &api).await.unwrap(), 3);
    assert_eq!(text_state(&app, clean).await, Some("PASS"));
    assert_eq!(text_state(&app, risky).await, Some("RISKY"));
    assert_eq!(text_state(&app, review).await, Some("REVIEW"));
    assert_eq!(
        public_words(&app, &clean_code).await,
        "河边有人焚烧秸秆，浓烟很大"
    );
    assert_eq!(
        public_words(&app, &risky_code).await,
        Value::Null,
        "risky words stay hidden"
    );
    // Staff still read everything, with the verdict.
    let (admin, _) = app.login("demo-admin").await;
    let b = app
        .gql(
            Some(&admin),
            "query($id: ID!) { case(id: $id) { description textCheck } }",
            json!({ "id": risky.to_string() }),
        )
        .await;
    assert_eq!(b["data"]["case"]["textCheck"], "RISKY", "{b}");
    assert_eq!(
        b["data"]["case"]["description"],
        "河边焚烧秸秆 代开发票 联系我"
    );
    // Asked as the author, v2, scene 2.
    let check = &app.wechat.checks()[0];
    assert_eq!(check["openid"], openid);
    assert_eq!(check["version"], 2);
    assert_eq!(check["scene"], 2);

    // WeChat slow past the timeout: intake does not wait, the text stays pending and
    // is checked by a later run.
    app.wechat.set_delay(Duration::from_secs(3));
    let (late, late_code) = tip(&app, &tipster, "村口垃圾堆放很久没人清理", "words-tip-0004").await;
    assert_eq!(check_pending(svc, &api).await.unwrap(), 0);
    assert_eq!(text_state(&app, late).await, Some("PENDING"));
    app.wechat.set_delay(Duration::ZERO);
    app.wechat.fail_next_check(-1, 1);
    let before = app.wechat.check_calls();
    assert_eq!(check_pending(svc, &api).await.unwrap(), 0, "busy: later");
    assert_eq!(
        app.wechat.check_calls(),
        before + 1,
        "one try, then the run stops"
    );
    // The run's lock ends with the run, not when the pool next uses its connection
    // (the next run, at once, must not find it taken).
    assert_eq!(advisory_locks(&app).await, 0, "lock released on return");
    assert_eq!(check_pending(svc, &api).await.unwrap(), 1);
    assert_eq!(
        public_words(&app, &late_code).await,
        "村口垃圾堆放很久没人清理"
    );
    // An author WeChat has not seen for two hours cannot be checked as: a person decides.
    let (stale, _) = tip(&app, &tipster, "工地夜间施工噪音扰民", "words-tip-0005").await;
    app.wechat.stale_openid(openid);
    assert_eq!(check_pending(svc, &api).await.unwrap(), 1);
    assert_eq!(text_state(&app, stale).await, Some("REVIEW"));
}
both!(words_wait_for_the_text_check, words_wait_for_the_text_check);

async fn without_wechat_words_are_public_at_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.wechat.text_check = Some(false)).await;
    let tipster = public_login(&app, "openid-nocheck").await;
    let (id, code) = tip(
        &app,
        &tipster,
        "河边有人焚烧秸秆，浓烟很大",
        "nocheck-tip-01",
    )
    .await;
    let b = app.gql(None, PUBLIC_VIEW, json!({ "c": code })).await;
    assert_eq!(
        b["data"]["tipByTrackingCode"]["description"],
        "河边有人焚烧秸秆，浓烟很大"
    );
    let c = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.text_check.map(|t| t.as_str()), Some("PASS"));
}
both!(
    without_wechat_words_are_public_at_once,
    without_wechat_words_are_public_at_once
);
