//! The rules of the case workflow: the (state × action × role) table, concurrency,
//! idempotency, routing, duplicates and merging, deadlines, the SQL cost of a page,
//! and a property test over random action sequences.

use std::sync::atomic::Ordering;

use chrono::Utc;
use entity::{case, case_event};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{
    act, public_login, seed_case, seed_case_of, submit_tip, user_id, village_centre,
};
use crate::helpers::{Backend, TestApp, error_code};

const OWN: &str = "140521100201";

const STATUSES: [&str; 6] = [
    "PENDING",
    "ASSIGNED",
    "IN_PROGRESS",
    "SUBMITTED",
    "CLOSED",
    "REJECTED",
];
const ACTIONS: [&str; 11] = [
    "acceptCase",
    "rejectCase",
    "assignCase",
    "startCase",
    "submitCase",
    "verifyCase",
    "escalateCase",
    "extendCase",
    "parkCase",
    "resumeCase",
    "mergeCase",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Actor {
    Admin,
    Supervisor,
    Inspector,
    Public,
}

/// The table: `None` = legal, otherwise the exact code.
fn rule(status: &str, action: &str, actor: Actor) -> Option<&'static str> {
    let open = !matches!(status, "CLOSED" | "REJECTED");
    let gate = |ok: bool| (!ok).then_some("INVALID_TRANSITION");
    match actor {
        Actor::Public => Some("FORBIDDEN"),
        Actor::Inspector => {
            // A pending case is nobody's yet: the inspector of the grid sees it but
            // cannot act on it.
            if status == "PENDING" {
                return Some("FORBIDDEN");
            }
            match action {
                "startCase" => gate(status == "ASSIGNED"),
                "submitCase" => gate(status == "IN_PROGRESS"),
                "escalateCase" => gate(open),
                _ => Some("FORBIDDEN"),
            }
        }
        Actor::Admin | Actor::Supervisor => match action {
            "startCase" | "submitCase" => Some("FORBIDDEN"),
            "acceptCase" | "rejectCase" => gate(status == "PENDING"),
            "assignCase" => gate(matches!(status, "PENDING" | "ASSIGNED")),
            "verifyCase" => gate(status == "SUBMITTED"),
            "escalateCase" | "extendCase" | "parkCase" | "mergeCase" => gate(open),
            "resumeCase" => Some("INVALID_TRANSITION"),
            other => panic!("no rule for {other}"),
        },
    }
}

async fn run_action(
    app: &TestApp,
    token: &str,
    action: &str,
    id: i64,
    other: i64,
    other_inspector: i64,
) -> Value {
    let id = json!(id.to_string());
    let v = json!(1);
    let (lat, lng) = village_centre(app, OWN);
    match action {
        "acceptCase" => act(app, token, action, &id, &v, "", json!({})).await,
        "rejectCase" => act(app, token, action, &id, &v, ", reason: $reason", json!({ "reason": "INVALID" })).await,
        "assignCase" => act(app, token, action, &id, &v, ", assigneeId: $assigneeId", json!({ "assigneeId": other_inspector.to_string() })).await,
        "startCase" => act(app, token, action, &id, &v, ", location: $location", json!({ "location": { "lat": lat, "lng": lng } })).await,
        "submitCase" => act(app, token, action, &id, &v, ", note: $note", json!({ "note": "已处置" })).await,
        "verifyCase" => act(app, token, action, &id, &v, ", approve: $approve", json!({ "approve": true })).await,
        "escalateCase" => act(app, token, action, &id, &v, ", reason: $reason", json!({ "reason": "需要乡镇协调" })).await,
        "extendCase" => act(app, token, action, &id, &v, ", until: $until, reason: $reason", json!({ "until": (Utc::now() + chrono::Duration::days(10)).to_rfc3339(), "reason": "等待检测" })).await,
        "parkCase" => act(app, token, action, &id, &v, ", reason: $reason", json!({ "reason": "等待认定" })).await,
        "resumeCase" => act(app, token, action, &id, &v, "", json!({})).await,
        "mergeCase" => act(app, token, action, &id, &v, ", into: $into", json!({ "into": other.to_string() })).await,
        other => panic!("{other}"),
    }
}

async fn state_action_role_table(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tokens = [
        (Actor::Admin, app.login("demo-admin").await.0),
        (Actor::Supervisor, app.login("demo-sup-140521100").await.0),
        (
            Actor::Inspector,
            app.login(&format!("demo-insp-{OWN}")).await.0,
        ),
        (Actor::Public, public_login(&app, "o-table").await),
    ];
    let other_inspector = user_id(&app, "demo-insp-140521100202").await;
    let mut failures = Vec::new();
    let mut rows = 0;
    for status in STATUSES {
        for action in ACTIONS {
            for (actor, token) in &tokens {
                let id = seed_case(&app, OWN, status).await;
                let other = seed_case(&app, OWN, "PENDING").await;
                let body = run_action(&app, token, action, id, other, other_inspector).await;
                let want = rule(status, action, *actor);
                let got = body["errors"][0]["extensions"]["code"].as_str();
                let events = case_event::Entity::find()
                    .filter(case_event::Column::CaseId.eq(id))
                    .all(&app.db)
                    .await
                    .unwrap()
                    .len();
                let ok = match want {
                    None => got.is_none() && body["data"][action]["version"] == 2 && events == 2,
                    Some(code) => got == Some(code) && events == 1,
                };
                rows += 1;
                if !ok {
                    failures.push(format!("{status} × {action} × {actor:?}: want {want:?}, got {body} ({events} events)"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Resume is legal on a parked case only.
    let (_, sup) = &tokens[1];
    let id = seed_case(&app, OWN, "ASSIGNED").await;
    let parked = act(
        &app,
        sup,
        "parkCase",
        &json!(id.to_string()),
        &json!(1),
        ", reason: $reason",
        json!({ "reason": "等待" }),
    )
    .await;
    assert_eq!(parked["data"]["parkCase"]["parked"], true, "{parked}");
    let resumed = act(
        &app,
        sup,
        "resumeCase",
        &json!(id.to_string()),
        &json!(2),
        "",
        json!({}),
    )
    .await;
    assert_eq!(resumed["data"]["resumeCase"]["parked"], false, "{resumed}");
}
both!(state_action_role, state_action_role_table);

async fn parallel_verifications_let_exactly_one_win(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let id = seed_case(&app, OWN, "SUBMITTED").await;
    let idv = json!(id.to_string());
    let one = json!(1);
    let futs = (0..20).map(|_| {
        act(
            &app,
            &sup,
            "verifyCase",
            &idv,
            &one,
            ", approve: $approve",
            json!({ "approve": true }),
        )
    });
    let results = futures_util::future::join_all(futs).await;
    let ok = results.iter().filter(|b| b.get("errors").is_none()).count();
    let conflicts = results
        .iter()
        .filter(|b| b["errors"][0]["extensions"]["code"] == "CONFLICT")
        .count();
    assert_eq!((ok, conflicts), (1, 19), "{results:?}");
    let seqs: Vec<i32> = case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2], "no gap, no duplicate");
    // A stale version afterwards is a CONFLICT too.
    let b = act(
        &app,
        &sup,
        "escalateCase",
        &idv,
        &json!(1),
        ", reason: $reason",
        json!({ "reason": "x" }),
    )
    .await;
    assert_eq!(error_code(&b), "CONFLICT");
}
both!(parallel_verify, parallel_verifications_let_exactly_one_win);

async fn submit_tip_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let public = public_login(&app, "o-idem").await;
    let (lat, lng) = village_centre(&app, "140521102201");
    let mut bodies = Vec::new();
    for _ in 0..10 {
        bodies.push(submit_tip(&app, &public, "DUST", lat, lng, "WGS84", "idem-key-000001").await);
    }
    let concurrent =
        (0..10).map(|_| submit_tip(&app, &public, "DUST", lat, lng, "WGS84", "idem-key-000002"));
    let concurrent = futures_util::future::join_all(concurrent).await;
    for set in [&bodies, &concurrent] {
        assert!(set[0].get("errors").is_none(), "{}", set[0]);
        for b in set.iter() {
            assert_eq!(b, &set[0], "replays must answer identically");
        }
    }
    assert_ne!(bodies[0], concurrent[0]);
    let tips = app
        .gql(Some(&public), "{ myTips { trackingCode } }", json!({}))
        .await;
    assert_eq!(
        tips["data"]["myTips"].as_array().unwrap().len(),
        2,
        "{tips}"
    );
    // The same key with another payload.
    let b = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        lat,
        lng,
        "WGS84",
        "idem-key-000001",
    )
    .await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    assert_eq!(
        b["errors"][0]["extensions"]["detail"],
        "IDEMPOTENCY_MISMATCH"
    );
    // A malformed key.
    assert_eq!(
        error_code(&submit_tip(&app, &public, "DUST", lat, lng, "WGS84", "short").await),
        "BAD_INPUT"
    );
    // Workflow replays write nothing.
    let (sup, _) = app.login("demo-sup-140521102").await;
    let list = app
        .gql(
            Some(&sup),
            "{ cases { edges { node { id version } } } }",
            json!({}),
        )
        .await;
    let node = list["data"]["cases"]["edges"][0]["node"].clone();
    let a = act(
        &app,
        &sup,
        "acceptCase",
        &node["id"],
        &node["version"],
        ", idempotencyKey: $key",
        json!({ "key": "accept-key-0001" }),
    )
    .await;
    let b = act(
        &app,
        &sup,
        "acceptCase",
        &node["id"],
        &node["version"],
        ", idempotencyKey: $key",
        json!({ "key": "accept-key-0001" }),
    )
    .await;
    // The replay is the same case; only the clock-derived countdown may have ticked.
    let strip = |mut v: Value| {
        v["data"]["acceptCase"]
            .as_object_mut()
            .map(|o| o.remove("remainingSeconds"));
        v
    };
    assert_eq!(strip(a.clone()), strip(b));
    assert_eq!(a["data"]["acceptCase"]["version"], 2, "{a}");
    assert_eq!(
        a["data"]["acceptCase"]["events"].as_array().unwrap().len(),
        2
    );
}
both!(idempotency, submit_tip_is_idempotent);

async fn routing_outside_grids_and_on_duty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let public = public_login(&app, "o-route").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    // Just south of the county: the nearest township takes it, flagged.
    let b = submit_tip(
        &app,
        &public,
        "DUST",
        35.395,
        112.30,
        "WGS84",
        "route-key-00001",
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let (admin, _) = app.login("demo-admin").await;
    let c = app.gql(Some(&admin), "{ cases(filter: { source: TIP }) { edges { node { outsideGrid status region { level } } } } }", json!({})).await;
    let n = &c["data"]["cases"]["edges"][0]["node"];
    assert_eq!(n["outsideGrid"], true, "{c}");
    assert_eq!(n["region"]["level"], "TOWNSHIP");
    // Far away from everything: refused.
    let b = submit_tip(
        &app,
        &public,
        "DUST",
        39.9,
        116.4,
        "WGS84",
        "route-key-00002",
    )
    .await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    // An on-duty inspector gets tips of their grid at once.
    let insp = user_id(&app, "demo-insp-140521100003").await;
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { updateUser(id: $id, input: { onDuty: true }) { onDuty } }",
            json!({ "id": insp.to_string() }),
        )
        .await;
    assert_eq!(b["data"]["updateUser"]["onDuty"], true, "{b}");
    let (lat, lng) = village_centre(&app, "140521100003");
    let b = submit_tip(
        &app,
        &public,
        "LIVESTOCK_WASTE",
        lat,
        lng,
        "WGS84",
        "route-key-00003",
    )
    .await;
    assert_eq!(b["data"]["submitTip"]["tip"]["status"], "ASSIGNED", "{b}");
}
both!(routing, routing_outside_grids_and_on_duty);

async fn duplicates_are_linked_and_merged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = public_login(&app, "o-dup-a").await;
    let b_tok = public_login(&app, "o-dup-b").await;
    let (lat, lng) = village_centre(&app, "140521100204");
    let first = submit_tip(
        &app,
        &a,
        "OPEN_BURNING",
        lat,
        lng,
        "WGS84",
        "dup-key-000001",
    )
    .await;
    let second = submit_tip(
        &app,
        &b_tok,
        "OPEN_BURNING",
        lat + 0.001,
        lng,
        "WGS84",
        "dup-key-000002",
    )
    .await;
    let far = submit_tip(
        &app,
        &b_tok,
        "OPEN_BURNING",
        lat + 0.05,
        lng,
        "WGS84",
        "dup-key-000003",
    )
    .await;
    let other_cat = submit_tip(&app, &b_tok, "DUST", lat, lng, "WGS84", "dup-key-000004").await;
    for x in [&first, &second, &far, &other_cat] {
        assert!(x.get("errors").is_none(), "{x}");
    }
    let (sup, _) = app.login("demo-admin").await;
    let list = app
        .gql(Some(&sup), "{ cases(filter: { categoryCode: \"OPEN_BURNING\" }) { edges { node { id version duplicateOf { id } possibleDuplicates { id } } } } }", json!({}))
        .await;
    let nodes: Vec<Value> = list["data"]["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    // Newest first: far, second, first.
    let (far_n, second_n, first_n) = (&nodes[0], &nodes[1], &nodes[2]);
    assert_eq!(second_n["duplicateOf"]["id"], first_n["id"], "{list}");
    assert!(far_n["duplicateOf"].is_null());
    assert_eq!(first_n["possibleDuplicates"][0]["id"], second_n["id"]);
    let m = act(
        &app,
        &sup,
        "mergeCase",
        &second_n["id"],
        &second_n["version"],
        ", into: $into",
        json!({ "into": first_n["id"] }),
    )
    .await;
    assert_eq!(m["data"]["mergeCase"]["status"], "REJECTED", "{m}");
    // The second tipster now follows the surviving case.
    let code2 = second["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap();
    let code1 = first["data"]["submitTip"]["trackingCode"].as_str().unwrap();
    let view = app
        .gql(
            None,
            "query($c: String!) { tipByTrackingCode(code: $c) { trackingCode } }",
            json!({ "c": code2 }),
        )
        .await;
    assert_eq!(
        view["data"]["tipByTrackingCode"]["trackingCode"], code1,
        "{view}"
    );
    let tips = app
        .gql(Some(&b_tok), "{ myTips { trackingCode } }", json!({}))
        .await;
    let codes: Vec<&str> = tips["data"]["myTips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trackingCode"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&code1), "{codes:?}");
}
both!(duplicates, duplicates_are_linked_and_merged);

async fn deadlines_extend_and_parking(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    // Open burning is timed in clock hours, so parked seconds move the deadline.
    let id = json!(
        seed_case_of(&app, OWN, "ASSIGNED", "OPEN_BURNING")
            .await
            .to_string()
    );
    let c = crate::helpers::cases::get_case(&app, &sup, &id).await;
    let due0 = chrono::DateTime::parse_from_rfc3339(c["dueAt"].as_str().unwrap()).unwrap();
    assert!(c["remainingSeconds"].as_i64().unwrap() > 0);
    assert_eq!(c["overdue"], false);
    // Extension moves dueAt; an earlier time is refused.
    let until = (Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    let bad = act(
        &app,
        &sup,
        "extendCase",
        &id,
        &c["version"],
        ", until: $until, reason: $reason",
        json!({ "until": Utc::now().to_rfc3339(), "reason": "x" }),
    )
    .await;
    assert_eq!(error_code(&bad), "BAD_INPUT");
    let e = act(
        &app,
        &sup,
        "extendCase",
        &id,
        &c["version"],
        ", until: $until, reason: $reason",
        json!({ "until": until, "reason": "等待检测报告" }),
    )
    .await;
    let e = &e["data"]["extendCase"];
    let due1 = chrono::DateTime::parse_from_rfc3339(e["dueAt"].as_str().unwrap()).unwrap();
    assert!(due1 > due0);
    assert_eq!(e["extendedCount"], 1);
    // Parking freezes the clock.
    let p = act(
        &app,
        &sup,
        "parkCase",
        &id,
        &e["version"],
        ", reason: $reason",
        json!({ "reason": "等待上级认定" }),
    )
    .await;
    let p = &p["data"]["parkCase"];
    let r1 = p["remainingSeconds"].as_i64().unwrap();
    // Ten minutes later (within the access token's life) the clock has not moved.
    app.advance(chrono::Duration::minutes(10));
    let again = crate::helpers::cases::get_case(&app, &sup, &id).await;
    assert_eq!(
        again["remainingSeconds"].as_i64().unwrap(),
        r1,
        "clock must stop while parked"
    );
    let r = act(&app, &sup, "resumeCase", &id, &p["version"], "", json!({})).await;
    let r = &r["data"]["resumeCase"];
    let due2 = chrono::DateTime::parse_from_rfc3339(r["dueAt"].as_str().unwrap()).unwrap();
    assert!(
        due2 > due1,
        "resuming moves the deadline by the parked time: {due1} → {due2}"
    );
    // An overdue case shows up in the overdue filter.
    let late = seed_case(&app, OWN, "ASSIGNED").await;
    let mut am: case::ActiveModel = case::Entity::find_by_id(late)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    am.due_at = Set(Some(Utc::now() - chrono::Duration::hours(1)));
    am.update(&app.db).await.unwrap();
    let list = app
        .gql(
            Some(&sup),
            "{ cases(filter: { overdue: true }) { edges { node { id overdue } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&Value> = list["data"]["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(ids, vec![&json!(late.to_string())], "{list}");
}
both!(deadlines, deadlines_extend_and_parking);

async fn a_page_of_cases_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.grid.refresh_secs = 3600).await;
    app.wait_for_cache(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    for i in 0..50 {
        let code = format!("1405211002{:02}", 1 + i % 9);
        seed_case(&app, &code, if i % 2 == 0 { "ASSIGNED" } else { "PENDING" }).await;
    }
    let q = "query($n: Int!) { cases(first: $n) { edges { node { id category { code } region { name } assignee { name } lastEvent { action } } } } }";
    // A first request fills what the process keeps in memory (PostgreSQL).
    app.gql(Some(&sup), q, json!({ "n": 1 })).await;
    let mut counts = Vec::new();
    for n in [5, 50] {
        let before = app.state.sql_statements.load(Ordering::SeqCst);
        let b = app.gql(Some(&sup), q, json!({ "n": n })).await;
        let after = app.state.sql_statements.load(Ordering::SeqCst);
        assert_eq!(
            b["data"]["cases"]["edges"].as_array().unwrap().len(),
            n as usize,
            "{b}"
        );
        counts.push(after - before);
    }
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the page: {counts:?}"
    );
    // The viewer, the page, categories, assignees, last events (viewer and categories
    // from memory on PostgreSQL).
    let most = if backend == Backend::Postgres { 3 } else { 5 };
    assert!(
        counts[1] <= most,
        "a 50-case page took {} statements",
        counts[1]
    );
    println!(
        "a 50-case page with category, region, assignee and last event: {} SQL statements",
        counts[1]
    );
    // The same page asked through `nodes`, with the actor of each last event: primed as
    // well (the actors come in the one statement for people), so nothing inline waits.
    let sup_id = crate::helpers::cases::user_id(&app, "demo-sup-140521100").await;
    entity::case_event::Entity::update_many()
        .col_expr(
            entity::case_event::Column::ActorId,
            sea_orm::sea_query::Expr::value(sup_id),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let q = "query($n: Int!) { cases(first: $n) { nodes { id category { code } assignee { name } \
             lastEvent { action actor { username } } } } }";
    app.gql(Some(&sup), q, json!({ "n": 1 })).await;
    let before = app.state.sql_statements.load(Ordering::SeqCst);
    let b = app.gql(Some(&sup), q, json!({ "n": 50 })).await;
    let after = app.state.sql_statements.load(Ordering::SeqCst);
    let nodes = b["data"]["cases"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 50, "{b}");
    assert_eq!(
        nodes[0]["lastEvent"]["actor"]["username"], "demo-sup-140521100",
        "{b}"
    );
    assert!(
        after - before <= most,
        "a 50-case page through `nodes` with the events' actors took {} statements",
        after - before
    );
}
both!(
    page_statement_count,
    a_page_of_cases_costs_a_fixed_number_of_statements
);

async fn a_tip_costs_a_fixed_number_of_statements_and_is_written_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.grid.refresh_secs = 3600).await;
    let public = public_login(&app, "o-count-tipster").await;
    let (lat, lng) = village_centre(&app, "140521101203");
    app.wait_for_cache(backend).await;
    // The first tip of a tipster may create rows later ones only read; count the second.
    let first = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        lat,
        lng,
        "WGS84",
        "count-tip-0001",
    )
    .await;
    assert!(first.get("errors").is_none(), "{first}");
    let before = app.state.sql_statements.load(Ordering::SeqCst);
    let b = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        lat + 0.001,
        lng,
        "WGS84",
        "count-tip-0002",
    )
    .await;
    let statements = app.state.sql_statements.load(Ordering::SeqCst) - before;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    println!("a submitTip: {statements} SQL statements");
    // Rate limits (2), the viewer, one idempotency look-up (two on SQLite: again behind
    // the write gate), category, campaign, on-duty inspector, duplicate check, the case
    // in one INSERT, its event, its change row, webhooks, notify (PostgreSQL), follower,
    // idempotency record; on SQLite also time limits, calendar and escalation rules
    // (cached on PostgreSQL, where changes are notified).
    let bound = match backend {
        Backend::Postgres => 16,
        Backend::Sqlite => 19,
    };
    assert!(
        statements <= bound,
        "a submitTip took {statements} statements"
    );
    // The case is written once, with its readable number: local date + id (6+ digits).
    let row = case::Entity::find()
        .filter(case::Column::TrackingCode.eq(code.as_str()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let day = Utc::now()
        .with_timezone(&gridwatch::domain::sla::SHANGHAI)
        .format("%Y%m%d")
        .to_string();
    assert_eq!(row.number, format!("{day}{:06}", row.id), "{row:?}");
    // The answer the idempotency record keeps is the row as written.
    let again = app.state.sql_statements.load(Ordering::SeqCst);
    let replay = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        lat + 0.001,
        lng,
        "WGS84",
        "count-tip-0002",
    )
    .await;
    let replay_statements = app.state.sql_statements.load(Ordering::SeqCst) - again;
    assert_eq!(
        replay["data"]["submitTip"], b["data"]["submitTip"],
        "{replay}"
    );
    assert!(
        replay_statements <= 5,
        "a replayed submitTip took {replay_statements} statements"
    );
    let n = case::Entity::find()
        .filter(case::Column::TipsterId.is_not_null())
        .all(&app.db)
        .await
        .unwrap()
        .len();
    assert_eq!(n, 2, "two tips, two cases");
}
both!(
    tip_statement_count,
    a_tip_costs_a_fixed_number_of_statements_and_is_written_once
);

async fn a_time_limit_changed_elsewhere_applies_to_the_next_tip(backend: Backend) {
    use entity::category_time_limit as ctl;
    use sea_orm::sea_query::Expr;
    let app = TestApp::spawn(backend).await;
    app.wait_for_cache(backend).await;
    let public = public_login(&app, "o-rules-tipster").await;
    let (lat, lng) = village_centre(&app, "140521101203");
    let burning = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("OPEN_BURNING"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    // Another process (here: a connection of the test's own) sets the accept limit.
    let set_accept_hours = |hours: i32| {
        let db = app.db.clone();
        async move {
            let n = ctl::Entity::update_many()
                .col_expr(ctl::Column::Amount, Expr::value(hours))
                .col_expr(ctl::Column::Unit, Expr::value("HOURS"))
                .filter(ctl::Column::CategoryId.eq(burning.id))
                .filter(ctl::Column::Step.eq("ACCEPT"))
                .exec(&db)
                .await
                .unwrap()
                .rows_affected;
            assert!(n >= 1, "OPEN_BURNING has an accept limit");
            // The notice travels asynchronously.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    };
    let accept_hours = |key: &'static str, dlat: f64| {
        let (app, public) = (&app, &public);
        async move {
            let b = submit_tip(app, public, "OPEN_BURNING", lat + dlat, lng, "WGS84", key).await;
            let code = b["data"]["submitTip"]["trackingCode"]
                .as_str()
                .unwrap_or_else(|| panic!("{b}"))
                .to_owned();
            let row = case::Entity::find()
                .filter(case::Column::TrackingCode.eq(code))
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            (row.due_at.unwrap() - row.created_at).num_minutes()
        }
    };
    set_accept_hours(1).await;
    assert_eq!(accept_hours("rules-tip-0001", 0.0).await, 60);
    // The rules are cached now (on PostgreSQL); a change elsewhere must still show.
    assert_eq!(accept_hours("rules-tip-0002", 0.001).await, 60);
    set_accept_hours(5).await;
    assert_eq!(accept_hours("rules-tip-0003", 0.002).await, 300);
}
both!(
    rules_changed_elsewhere,
    a_time_limit_changed_elsewhere_applies_to_the_next_tip
);

async fn expired_idempotency_keys_are_purged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let now = Utc::now();
    for (key, age_days) in [("old-key-00001", 9), ("new-key-00001", 1)] {
        entity::idempotency_record::ActiveModel {
            scope: Set("user:1".into()),
            idem_key: Set(key.into()),
            operation: Set("TEST".into()),
            request_hash: Set("0".repeat(64)),
            response: Set(Some(json!(1))),
            created_at: Set(now - chrono::Duration::days(age_days)),
            expires_at: Set(
                now - chrono::Duration::days(age_days) + gridwatch::domain::idempotency::RETENTION
            ),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let removed = gridwatch::domain::idempotency::purge_expired(&app.db, app.now())
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let left: Vec<String> = entity::idempotency_record::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.idem_key)
        .collect();
    assert_eq!(
        left,
        vec!["new-key-00001".to_owned()],
        "a key younger than a week must stay"
    );
}
both!(idempotency_purge, expired_idempotency_keys_are_purged);

/// A unit of work that fails after it wrote ends its transaction before the error is
/// answered: no session of the database is left idle in a transaction, holding the
/// rows it wrote, until the pool next touches its connection (a dropped transaction's
/// ROLLBACK waits for that). Another writer of the same row does not wait at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_unit_of_work_leaves_no_lock_postgres() {
    use gridwatch::domain::uow::{work, write};
    use gridwatch::error::{AppError, Msg};
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let app = TestApp::spawn(Backend::Postgres).await;
    let id = seed_case(&app, OWN, "ASSIGNED").await;
    let version = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            case::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .version
        }
    };
    let before = version(&app).await;
    let svc = app.state.services.clone();
    for _ in 0..5 {
        let failed = write(
            &svc,
            None,
            work(move |txn| {
                Box::pin(async move {
                    txn.execute_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        r#"UPDATE "case" SET version = version + 1 WHERE id = $1"#,
                        [id.into()],
                    ))
                    .await?;
                    Err::<(), _>(AppError::bad_input(
                        "TEST_REFUSAL",
                        Msg::new("测试拒绝", "refused by the test"),
                    ))
                })
            }),
        )
        .await;
        assert!(failed.is_err());
        let idle = app
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(idle, 0, "a session is still in the failed transaction");
        let other = app.db.begin().await.unwrap();
        other
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                r#"SELECT id FROM "case" WHERE id = $1 FOR UPDATE NOWAIT"#,
                [id.into()],
            ))
            .await
            .expect("the failed write's row lock is gone");
        other.rollback().await.unwrap();
    }
    assert_eq!(
        version(&app).await,
        before,
        "nothing of the failed writes was kept"
    );
}
