//! Several `gridwatch serve` processes on one PostgreSQL are one server (issue 15):
//! rate limits and login lockouts are shared, an idempotency key makes one case
//! whichever processes receive it, and a grid import reaches every process at once
//! through `LISTEN/NOTIFY` (the periodic check set to an hour here).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::server::ServerProcess;
use crate::helpers::{Backend, FreshDb, error_code, gridwatch_cmd};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";

async fn login(p: &ServerProcess, user: &str, password: &str) -> Value {
    p.gql(None, LOGIN, json!({ "u": user, "p": password }))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_lockouts_hold_across_processes() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let env = [
        ("GRIDWATCH__LIMITS__LOGIN_PER_IP_PER_MINUTE", "6"),
        ("GRIDWATCH__AUTH__MAX_FAILED_LOGINS", "3"),
    ];
    let a = ServerProcess::start(&fresh, &env).await;
    let b = ServerProcess::start(&fresh, &env).await;
    // Three wrong passwords, spread over both processes, lock the account on both.
    for (p, n) in [(&a, 1), (&b, 2), (&a, 3)] {
        let r = login(p, "demo-insp-140521100201", "wrong-password").await;
        assert_eq!(error_code(&r), "UNAUTHENTICATED", "attempt {n}: {r}");
    }
    let r = login(&b, "demo-insp-140521100201", gridwatch::seed::DEMO_PASSWORD).await;
    assert_eq!(
        error_code(&r),
        "RATE_LIMITED",
        "locked on the other process: {r}"
    );
    // Six logins a minute from one address in all: three were spent above and one
    // just now; two more pass, whichever process takes them, then both refuse.
    let r = login(&a, "demo-admin", gridwatch::seed::DEMO_PASSWORD).await;
    assert!(r.get("errors").is_none(), "{r}");
    let r = login(&b, "demo-admin", gridwatch::seed::DEMO_PASSWORD).await;
    assert!(r.get("errors").is_none(), "{r}");
    for p in [&a, &b] {
        let r = login(p, "demo-admin", gridwatch::seed::DEMO_PASSWORD).await;
        assert_eq!(error_code(&r), "RATE_LIMITED", "{r}");
        let retry = r["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
        assert!((1..=60).contains(&retry), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_makes_one_case_on_any_process() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let a = ServerProcess::start(&fresh, &[]).await;
    let b = ServerProcess::start(&fresh, &[]).await;
    let token = a.login("demo-insp-140521100201").await;
    let db = fresh.connect().await;
    let village = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::region::Entity::find()
            .filter(entity::region::Column::Code.eq("140521100201"))
            .one(&db)
            .await
            .unwrap()
            .unwrap()
    };
    let (lat, lng) = (village.centroid_lat.unwrap(), village.centroid_lng.unwrap());
    let q = "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }";
    for i in 0..6 {
        let vars = json!({ "i": { "categoryCode": "DUST", "description": format!("工地扬尘 {i}"),
            "idempotencyKey": format!("twice-at-once-{i:04}"),
            "location": { "lat": lat, "lng": lng, "coord": "WGS84" } } });
        let (ra, rb) = tokio::join!(
            a.gql(Some(&token), q, vars.clone()),
            b.gql(Some(&token), q, vars.clone())
        );
        let (ia, ib) = (
            &ra["data"]["reportCase"]["id"],
            &rb["data"]["reportCase"]["id"],
        );
        assert!(ia.is_string(), "{ra}");
        assert_eq!(ia, ib, "both answers name the same case");
    }
    use sea_orm::{EntityTrait, PaginatorTrait};
    let cases = entity::case::Entity::find().count(&db).await.unwrap();
    assert_eq!(cases, 6, "one case per key");
    let events = entity::case_event::Entity::find().count(&db).await.unwrap();
    assert_eq!(events, 6, "one event per case");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_import_reaches_every_process_at_once() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    // The periodic check would take an hour: only the notice can explain a reload.
    let env = [("GRIDWATCH__GRID__REFRESH_SECS", "3600")];
    let a = ServerProcess::start(&fresh, &env).await;
    let b = ServerProcess::start(&fresh, &env).await;
    let locate = "query($lat: Float!, $lng: Float!) { locate(lat: $lat, lng: $lng) { name } }";
    let (lat, lng) = (35.7055, 112.2055);
    let before = a.gql(None, locate, json!({ "lat": lat, "lng": lng })).await;
    assert_ne!(before["data"]["locate"]["name"], "柳庄社区", "{before}");
    let square = r#"{"type":"Polygon","coordinates":[[[112.20,35.70],[112.21,35.70],[112.21,35.71],[112.20,35.71],[112.20,35.70]]]}"#;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"140521100001","name":"柳庄社区","level":"VILLAGE","parent_code":"140521100"}},"geometry":{square}}}]}}"#
        ),
    )
    .unwrap();
    let out = gridwatch_cmd(&fresh.url)
        .arg("import-grid")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for p in [&a, &b] {
        let mut name = Value::Null;
        for _ in 0..100 {
            let d = p.gql(None, locate, json!({ "lat": lat, "lng": lng })).await;
            name = d["data"]["locate"]["name"].clone();
            if name == "柳庄社区" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(name, "柳庄社区", "{} reloaded its grid", p.base);
    }
}

/// SIGTERM in the middle of a burst of writes: the process stops taking connections,
/// finishes what it started, exits cleanly in bounded time, and every write it
/// answered is in the database exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_loses_no_answered_write() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let mut p =
        ServerProcess::start(&fresh, &[("GRIDWATCH__SERVER__SHUTDOWN_GRACE_SECS", "10")]).await;
    let token = p.login("demo-insp-140521100201").await;
    let db = fresh.connect().await;
    let village = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::region::Entity::find()
            .filter(entity::region::Column::Code.eq("140521100201"))
            .one(&db)
            .await
            .unwrap()
            .unwrap()
    };
    let (lat, lng) = (village.centroid_lat.unwrap(), village.centroid_lng.unwrap());
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let first_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(first_tx)));
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..80 {
        let (client, url, token, first) = (
            p.client.clone(),
            format!("{}/graphql", p.base),
            token.clone(),
            first_tx.clone(),
        );
        writes.spawn(async move {
            // Spread over time, so some are in flight when the signal comes.
            tokio::time::sleep(Duration::from_millis(i * 15)).await;
            let body = json!({ "query": "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
                "variables": { "i": { "categoryCode": "DUST", "description": format!("工地扬尘 {i}"),
                "idempotencyKey": format!("sigterm-burst-{i:04}"),
                "location": { "lat": lat, "lng": lng, "coord": "WGS84" } } } });
            let answer: Option<Value> = match client.post(url).bearer_auth(token).json(&body).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            let id = answer
                .as_ref()
                .and_then(|a| a["data"]["reportCase"]["id"].as_str())
                .map(str::to_owned);
            if id.is_some()
                && let Some(tx) = first.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
            id
        });
    }
    first_rx.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = p.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "clean exit: {status:?}");
    let mut answered = Vec::new();
    while let Some(r) = writes.join_next().await {
        if let Some(id) = r.unwrap() {
            answered.push(id.parse::<i64>().unwrap());
        }
    }
    assert!(
        !answered.is_empty() && answered.len() < 80,
        "{}",
        answered.len()
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let found = entity::case::Entity::find()
        .filter(entity::case::Column::Id.is_in(answered.clone()))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(
        found as usize,
        answered.len(),
        "every answered write is committed"
    );
    let events = entity::case_event::Entity::find()
        .filter(entity::case_event::Column::CaseId.is_in(answered.clone()))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(events as usize, answered.len(), "with its one event");
}

/// `gridwatch backup FILE` copies a serving SQLite database under a write load; the
/// copy is whole (integrity check), opens as a gridwatch database, and holds every case
/// acknowledged before the backup began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_under_writes_holds_every_acknowledged_case() {
    let fresh = FreshDb::seeded(Backend::Sqlite).await;
    let p = ServerProcess::start(&fresh, &[]).await;
    let token = p.login("demo-insp-140521100201").await;
    let db = fresh.connect().await;
    let village = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::region::Entity::find()
            .filter(entity::region::Column::Code.eq("140521100201"))
            .one(&db)
            .await
            .unwrap()
            .unwrap()
    };
    let (lat, lng) = (village.centroid_lat.unwrap(), village.centroid_lng.unwrap());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
    let writer = {
        let (client, url, token, stop, acked) = (
            p.client.clone(),
            format!("{}/graphql", p.base),
            token.clone(),
            stop.clone(),
            acked.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body = json!({ "query": "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
                    "variables": { "i": { "categoryCode": "DUST", "description": format!("工地扬尘 {i}"),
                    "idempotencyKey": format!("backup-load-{i:05}"),
                    "location": { "lat": lat, "lng": lng, "coord": "WGS84" } } } });
                let r: Value = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let id = r["data"]["reportCase"]["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{r}"));
                acked.lock().unwrap().push(id.parse().unwrap());
                i += 1;
            }
        })
    };
    while acked.lock().unwrap().len() < 20 {
        assert!(!writer.is_finished(), "the writer stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before: Vec<i64> = acked.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    let out = gridwatch_cmd(&fresh.url)
        .arg("backup")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.await.unwrap();
    let total = acked.lock().unwrap().len();
    assert!(total > before.len(), "writes went on during the backup");

    // Restore: the copy is a whole database gridwatch can open and migrate.
    let url = format!("sqlite://{}?mode=rw", copy.display());
    let out = gridwatch_cmd(&url).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let restored = sea_orm::Database::connect(&url).await.unwrap();
    let check = restored
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.try_get_by_index::<String>(0).unwrap(), "ok");
    let found = entity::case::Entity::find()
        .filter(entity::case::Column::Id.is_in(before.clone()))
        .count(&restored)
        .await
        .unwrap();
    assert_eq!(
        found as usize,
        before.len(),
        "every case acknowledged before the backup"
    );
    // Refusals: an existing file, and PostgreSQL (pg_dump's job).
    let out = gridwatch_cmd(&fresh.url)
        .arg("backup")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let pg = FreshDb::create(Backend::Postgres).await;
    let out = gridwatch_cmd(&pg.url)
        .arg("backup")
        .arg(dir.path().join("pg.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}
