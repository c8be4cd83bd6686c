//! Offline delta sync (`changesSince`): an inspector's offline queue replayed out of
//! order, tombstones for a case reassigned away, resync for an old cursor, and a
//! reader paging while eight writers commit in random order (plus, on PostgreSQL, the
//! classic gap: a change that commits after a later one).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{act, seed_case, seed_case_of, user_id, village_centre};
use crate::helpers::{Backend, TestApp, error_code, settle};

const OWN: &str = "140521100201";
const SIBLING: &str = "140521100202";

const CHANGES: &str = "query($c: String, $n: Int) { changesSince(cursor: $c, first: $n) { \
    cases { id version status assignee { username } } removed categories { code timeLimits { step } } \
    gridVersion cursor hasMore resync } }";

async fn changes(app: &TestApp, token: &str, cursor: Option<&str>, first: Option<i32>) -> Value {
    let b = app
        .gql(Some(token), CHANGES, json!({ "c": cursor, "n": first }))
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    b["data"]["changesSince"].clone()
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().or(c.as_str()).unwrap().to_owned())
        .collect()
}

/// Pages `changesSince` from `cursor` until nothing more is waiting; returns every case
/// answered (in order, repeats kept), every tombstone, and the last cursor.
async fn drain(app: &TestApp, token: &str, cursor: &str) -> (Vec<Value>, Vec<String>, String) {
    settle(app).await;
    let (mut cases, mut removed, mut cursor) = (Vec::new(), Vec::new(), cursor.to_owned());
    loop {
        let page = changes(app, token, Some(&cursor), Some(3)).await;
        cases.extend(page["cases"].as_array().unwrap().iter().cloned());
        removed.extend(ids(&page["removed"]));
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if !page["hasMore"].as_bool().unwrap() {
            return (cases, removed, cursor);
        }
    }
}

async fn offline_queue_replayed_out_of_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (insp, _) = app.login(&format!("demo-insp-{OWN}")).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    // Five cases of the inspector's grid, and one of the sibling grid dispatched to them.
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(seed_case(&app, OWN, "ASSIGNED").await);
    }
    let away = seed_case_of(&app, SIBLING, "ASSIGNED", "DUST").await;
    let me = user_id(&app, &format!("demo-insp-{OWN}")).await;
    let b = act(
        &app,
        &sup,
        "assignCase",
        &json!(away.to_string()),
        &json!(1),
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": me.to_string() }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");

    // The app starts: a cursor and the reference data, then its full fetch.
    let start = changes(&app, &insp, None, None).await;
    assert_eq!(start["cases"], json!([]), "{start}");
    assert!(!start["resync"].as_bool().unwrap());
    let cats = start["categories"].as_array().unwrap();
    assert!(cats.iter().any(|c| c["code"] == "DUST"), "{start}");
    assert!(
        cats.iter()
            .all(|c| !c["timeLimits"].as_array().unwrap().is_empty())
    );
    let grid_version = start["gridVersion"].as_str().unwrap().to_owned();
    assert_eq!(grid_version.len(), 16);
    let c1 = start["cursor"].as_str().unwrap().to_owned();
    // Nothing happened since: an empty page, and the categories are not sent again.
    let again = changes(&app, &insp, Some(&c1), None).await;
    assert_eq!(again["cases"], json!([]), "{again}");
    assert_eq!(again["removed"], json!([]), "{again}");
    assert_eq!(again["categories"], Value::Null, "{again}");
    assert_eq!(again["gridVersion"], grid_version.as_str());

    // Offline, the inspector queues a start of each of the five cases (version 1, as
    // fetched). Meanwhile the supervisor extends one of them (so that queued action is
    // stale) and takes the sibling grid's case back to its own inspector.
    let until = (app.now() + chrono::Duration::days(6)).to_rfc3339();
    let b = act(
        &app,
        &sup,
        "extendCase",
        &json!(mine[3].to_string()),
        &json!(1),
        ", reason: $reason, until: $until",
        json!({ "reason": "等待环保部门联合执法", "until": until }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let sibling_inspector = user_id(&app, &format!("demo-insp-{SIBLING}")).await;
    let b = act(
        &app,
        &sup,
        "assignCase",
        &json!(away.to_string()),
        &json!(2),
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": sibling_inspector.to_string() }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");

    let (lat, lng) = village_centre(&app, OWN);
    let queued: Vec<(i64, String)> = mine
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, format!("offline-start-{i}-{backend:?}")))
        .collect();
    let start_case = |id: i64, key: String| {
        let app = &app;
        let insp = insp.clone();
        async move {
            act(
                app,
                &insp,
                "startCase",
                &json!(id.to_string()),
                &json!(1),
                ", location: $location, idempotencyKey: $key",
                json!({ "location": { "lat": lat, "lng": lng, "accuracyM": 8.0 }, "key": key }),
            )
            .await
        }
    };
    // Reconnected: the queue is sent twice, each time in another order.
    let mut answers: HashMap<i64, Vec<Value>> = HashMap::new();
    for order in [[4, 2, 0, 3, 1], [1, 3, 0, 4, 2]] {
        for i in order {
            let (id, key) = &queued[i];
            answers
                .entry(*id)
                .or_default()
                .push(start_case(*id, key.clone()).await);
        }
    }
    for (i, id) in mine.iter().enumerate() {
        let a = &answers[id];
        if i == 3 {
            // The stale one: refused both times, nothing written.
            assert_eq!(error_code(&a[0]), "CONFLICT", "{}", a[0]);
            assert_eq!(error_code(&a[1]), "CONFLICT", "{}", a[1]);
            continue;
        }
        let first = &a[0]["data"]["startCase"];
        assert_eq!(first["status"], "IN_PROGRESS", "{}", a[0]);
        assert_eq!(first["version"], 2, "{}", a[0]);
        // The replay is the same answer (only the countdown may have ticked)…
        assert_eq!(a[1]["data"]["startCase"]["version"], 2, "{}", a[1]);
        assert_eq!(a[1]["data"]["startCase"]["events"], first["events"]);
        // …and the case holds one start.
        let starts = first["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "START")
            .count();
        assert_eq!(starts, 1, "{first}");
    }

    // From the old cursor: exactly the five cases changed since (four started, one
    // extended), and a tombstone for the case reassigned away.
    let (cases, removed, c2) = drain(&app, &insp, &c1).await;
    let got: HashSet<String> = cases
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let want: HashSet<String> = mine.iter().map(i64::to_string).collect();
    assert_eq!(got, want, "{cases:?}");
    assert_eq!(cases.len(), 5, "one entry per case: {cases:?}");
    assert_eq!(removed, vec![away.to_string()]);
    for c in &cases {
        let id: i64 = c["id"].as_str().unwrap().parse().unwrap();
        let want = if id == mine[3] {
            "ASSIGNED"
        } else {
            "IN_PROGRESS"
        };
        assert_eq!(c["status"], want, "{c}");
    }
    // The supervisor saw all of it, the sibling grid's case as a change, not a tombstone.
    let sup_start = changes(&app, &sup, Some(&c1), Some(100)).await;
    assert!(
        ids(&sup_start["cases"]).contains(&away.to_string()),
        "{sup_start}"
    );
    assert_eq!(sup_start["removed"], json!([]));
    // The sibling grid's inspector did not hear of the five (not theirs).
    let (sib, _) = app.login(&format!("demo-insp-{SIBLING}")).await;
    let sib_start = changes(&app, &sib, Some(&c1), Some(100)).await;
    assert_eq!(
        ids(&sib_start["cases"]),
        vec![away.to_string()],
        "{sib_start}"
    );

    // Caught up: nothing more.
    let (cases, removed, _) = drain(&app, &insp, &c2).await;
    assert!(
        cases.is_empty() && removed.is_empty(),
        "{cases:?} {removed:?}"
    );

    // A cursor is opaque and checked.
    let b = app
        .gql(Some(&insp), CHANGES, json!({ "c": "s1.bm90IGEgY3Vyc29y" }))
        .await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_CURSOR",
        "{b}"
    );
    let b = app
        .gql(Some(&insp), CHANGES, json!({ "c": c2, "n": 0 }))
        .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_PAGE_SIZE",
        "{b}"
    );
    // The public has no staff sync.
    let public = crate::helpers::cases::public_login(&app, "o-sync").await;
    let b = app.gql(Some(&public), CHANGES, json!({})).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");

    // Six weeks offline: the log no longer reaches back; the answer says resync, with
    // a fresh cursor and the reference data.
    app.advance(chrono::Duration::days(42));
    let (insp, _) = app.login(&format!("demo-insp-{OWN}")).await;
    let old = changes(&app, &insp, Some(&c2), None).await;
    assert_eq!(old["resync"], true, "{old}");
    assert_eq!(old["cases"], json!([]));
    assert!(old["categories"].is_array());
    let fresh = changes(&app, &insp, old["cursor"].as_str(), None).await;
    assert_eq!(fresh["resync"], false, "{fresh}");
}
both!(offline_replay, offline_queue_replayed_out_of_order);

/// Eight writers touch 40 cases, each in a transaction held open for a random while (so
/// on PostgreSQL they commit in another order than they logged), while the supervisor
/// pages `changesSince`: every case is answered exactly once.
async fn concurrent_writers_and_a_paging_reader(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let mut all = Vec::new();
    for i in 0..40 {
        let code = if i % 2 == 0 { OWN } else { SIBLING };
        all.push(seed_case(&app, code, "ASSIGNED").await);
    }
    let c0 = changes(&app, &sup, None, None).await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    if backend == Backend::Postgres {
        // The classic gap, step by step: a change logged first but committed last.
        use sea_orm::TransactionTrait;
        let svc = &app.state.services;
        let early = entity::case::Entity::find_by_id(all[0])
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let late = entity::case::Entity::find_by_id(all[1])
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let held = svc.db.begin().await.unwrap();
        gridwatch::domain::changes::touched(&held, &[early], app.now())
            .await
            .unwrap();
        let quick = svc.db.begin().await.unwrap();
        gridwatch::domain::changes::touched(&quick, &[late], app.now())
            .await
            .unwrap();
        quick.commit().await.unwrap();
        // The later change is committed, but an earlier one may still come: not yet.
        let page = changes(&app, &sup, Some(&c0), None).await;
        assert_eq!(page["cases"], json!([]), "{page}");
        held.commit().await.unwrap();
        let (cases, _, _) = drain(&app, &sup, &c0).await;
        assert_eq!(
            ids(&Value::Array(cases)),
            vec![all[0].to_string(), all[1].to_string()]
        );
    }
    let c0 = changes(&app, &sup, None, None).await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let writers: Vec<_> = all
        .chunks(5)
        .enumerate()
        .map(|(w, chunk)| {
            let svc = app.state.services.clone();
            let chunk = chunk.to_vec();
            tokio::spawn(async move {
                for (i, id) in chunk.into_iter().enumerate() {
                    // A spread of hold times, different per writer and step.
                    let hold = Duration::from_millis(((w * 7 + i * 13) % 40) as u64);
                    let now = svc.clock.now();
                    gridwatch::domain::uow::write(
                        &svc,
                        None,
                        gridwatch::domain::uow::work(move |txn| {
                            Box::pin(async move {
                                let c = entity::case::Entity::find_by_id(id)
                                    .one(txn)
                                    .await?
                                    .ok_or_else(|| {
                                        gridwatch::error::AppError::Internal(anyhow::anyhow!(
                                            "gone"
                                        ))
                                    })?;
                                gridwatch::domain::changes::touched(txn, &[c], now).await?;
                                tokio::time::sleep(hold).await;
                                Ok(())
                            })
                        }),
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    assert_eq!(writers.len(), 8);
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = c0;
    // Page until every writer is done and the reader has caught up with all 40. The
    // horizon is the oldest transaction running anywhere in the cluster (other tests'
    // too), so the last changes may take a moment to become readable — never longer
    // than the transactions in front of them.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page = changes(&app, &sup, Some(&cursor), Some(4)).await;
        seen.extend(ids(&page["cases"]));
        assert_eq!(page["removed"], json!([]), "{page}");
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["hasMore"] == true {
            continue;
        }
        let finished = writers.iter().all(|w| w.is_finished());
        let distinct: HashSet<&String> = seen.iter().collect();
        if finished && distinct.len() >= all.len() {
            // One more call: nothing may come twice.
            let page = changes(&app, &sup, Some(&cursor), None).await;
            seen.extend(ids(&page["cases"]));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let want: HashSet<String> = all.iter().map(i64::to_string).collect();
    let got: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(got, want, "every change seen");
    assert!(
        counts.values().all(|&n| n == 1),
        "each change seen once: {counts:?}"
    );
}
both!(concurrent_writers, concurrent_writers_and_a_paging_reader);
