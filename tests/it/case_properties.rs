//! Property test: random sequences of actions by random actors keep every invariant —
//! one event per accepted transition, version up by exactly one per change, CLOSED only
//! through a supervisor's approval, a case never leaves its region, nothing visible
//! outside scope.

use entity::case_event;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{act, get_case, public_login, village_centre};
use crate::helpers::cases::{seed_case, user_id};
use crate::helpers::{Backend, TestApp};

const OWN: &str = "140521100201";
const ACTORS: [&str; 5] = [
    "admin",
    "supervisor",
    "inspector",
    "other-inspector",
    "public",
];
const ACTIONS: [&str; 11] = [
    "acceptCase",
    "rejectCase",
    "assignCase",
    "startCase",
    "submitCase",
    "approve",
    "return",
    "escalateCase",
    "extendCase",
    "parkCase",
    "resumeCase",
];

struct World {
    tokens: Vec<String>,
    inspector_id: i64,
    admin: String,
}

async fn step(
    app: &TestApp,
    w: &World,
    actor: usize,
    action: &str,
    id: &Value,
    version: &Value,
) -> Value {
    let t = &w.tokens[actor];
    let (lat, lng) = village_centre(app, OWN);
    match action {
        "acceptCase" | "resumeCase" => act(app, t, action, id, version, "", json!({})).await,
        "rejectCase" => act(app, t, action, id, version, ", reason: $reason", json!({ "reason": "INVALID" })).await,
        "assignCase" => act(app, t, action, id, version, ", assigneeId: $assigneeId", json!({ "assigneeId": w.inspector_id.to_string() })).await,
        "startCase" => act(app, t, action, id, version, ", location: $location", json!({ "location": { "lat": lat, "lng": lng } })).await,
        "submitCase" => act(app, t, action, id, version, ", note: $note", json!({ "note": "已处置" })).await,
        "approve" => act(app, t, "verifyCase", id, version, ", approve: $approve", json!({ "approve": true })).await,
        "return" => act(app, t, "verifyCase", id, version, ", approve: $approve, note: $note", json!({ "approve": false, "note": "返工" })).await,
        "escalateCase" => act(app, t, action, id, version, ", reason: $reason", json!({ "reason": "协调" })).await,
        "extendCase" => act(app, t, action, id, version, ", until: $until, reason: $reason", json!({ "until": (chrono::Utc::now() + chrono::Duration::days(40)).to_rfc3339(), "reason": "延期" })).await,
        "parkCase" => act(app, t, action, id, version, ", reason: $reason", json!({ "reason": "挂账" })).await,
        other => panic!("{other}"),
    }
}

async fn check_sequence(
    app: &TestApp,
    w: &World,
    seq: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    let id = json!(seed_case(app, OWN, "PENDING").await.to_string());
    let mut before = get_case(app, &w.admin, &id).await;
    let region = before["region"]["code"].clone();
    for &(actor, a) in seq {
        let action = ACTIONS[a];
        let body = step(app, w, actor, action, &id, &before["version"]).await;
        let after = get_case(app, &w.admin, &id).await;
        let v0 = before["version"].as_i64().unwrap_or_default();
        let v1 = after["version"].as_i64().unwrap_or_default();
        let accepted = body.get("errors").is_none();
        let events: Vec<i32> = case_event::Entity::find()
            .filter(
                case_event::Column::CaseId.eq(id
                    .as_str()
                    .unwrap_or("0")
                    .parse::<i64>()
                    .unwrap_or(0)),
            )
            .all(&app.db)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .into_iter()
            .map(|e| e.seq)
            .collect();
        prop_assert_eq!(
            v1,
            v0 + i64::from(accepted),
            "{} by {}: version {} → {}: {}",
            action,
            ACTORS[actor],
            v0,
            v1,
            body
        );
        prop_assert_eq!(
            events.clone(),
            (1..=v1 as i32).collect::<Vec<_>>(),
            "events must be 1..=version"
        );
        prop_assert_eq!(
            &after["region"]["code"],
            &region,
            "a case never leaves its region"
        );
        if after["status"] == "CLOSED" && before["status"] != "CLOSED" {
            prop_assert!(
                action == "approve" && matches!(ACTORS[actor], "admin" | "supervisor"),
                "closed by {} {}",
                ACTORS[actor],
                action
            );
        }
        // Outside scope, nothing is visible.
        let peek = app
            .gql(
                Some(&w.tokens[3]),
                "query($id: ID!) { case(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        prop_assert!(
            peek["data"]["case"].is_null(),
            "other inspector saw the case: {}",
            peek
        );
        before = after;
    }
    Ok(())
}

async fn random_sequences_keep_the_invariants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.login("demo-admin").await.0;
    let w = World {
        tokens: vec![
            admin.clone(),
            app.login("demo-sup-140521100").await.0,
            app.login(&format!("demo-insp-{OWN}")).await.0,
            app.login("demo-insp-140521100202").await.0,
            public_login(&app, "o-prop").await,
        ],
        inspector_id: user_id(&app, &format!("demo-insp-{OWN}")).await,
        admin,
    };
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec((0..ACTORS.len(), 0..ACTIONS.len()), 1..14);
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |seq| {
            handle.block_on(check_sequence(&app, &w, &seq))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
both!(random_sequences, random_sequences_keep_the_invariants);
