//! Faults (issue 15): the database restarted under a write load, and a slow, lossy link
//! between the app and the server and between the server and the database. Clients
//! retry with their idempotency keys, as the apps do; in the end every acknowledged
//! write is there exactly once, and the server recovered by itself.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::pgcluster::PgCluster;
use crate::helpers::proxy::{Faults, Proxy};
use crate::helpers::server::{ServerProcess, free_port};
use crate::helpers::{Backend, FreshDb, gridwatch_cmd};

const WRITERS: usize = 4;

/// The centre of the demo inspector's village grid, read from the database.
async fn village_centre(db: &sea_orm::DatabaseConnection) -> (f64, f64) {
    let village = entity::region::Entity::find()
        .filter(entity::region::Column::Code.eq("140521100201"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (village.centroid_lat.unwrap(), village.centroid_lng.unwrap())
}
const PER_WRITER: usize = 12;

/// Sends one report until it is answered (retrying while the answer is a retryable
/// error or no answer); the case id.
async fn report_until_answered(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    (lat, lng): (f64, f64),
    felt: &std::sync::atomic::AtomicU32,
) -> (i64, u32) {
    let body = json!({ "query": "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
        "variables": { "i": { "categoryCode": "DUST", "description": format!("故障测试 {key}"),
        "idempotencyKey": key, "location": { "lat": lat, "lng": lng, "coord": "WGS84" } } } });
    for retries in 0..600u32 {
        let answer: Option<Value> =
            match client.post(url).bearer_auth(token).json(&body).send().await {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
        if let Some(a) = &answer {
            if let Some(id) = a["data"]["reportCase"]["id"].as_str() {
                return (id.parse().unwrap(), retries);
            }
            let code = a["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
            assert_eq!(
                code, "UNAVAILABLE",
                "only a retryable error while the database is away: {a}"
            );
        }
        felt.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_writes() {
    let pg = PgCluster::start();
    let admin = sea_orm::Database::connect(pg.url("postgres"))
        .await
        .unwrap();
    admin
        .execute_unprepared("CREATE DATABASE gw")
        .await
        .unwrap();
    drop(admin);
    let url = pg.url("gw");
    let out = gridwatch_cmd(&url)
        .args(["seed", "--demo"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = ServerProcess::start_url(&url, &[]).await;
    let token = server.login("demo-insp-140521100201").await;
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let at = village_centre(&db).await;
    drop(db);
    let gql = format!("{}/graphql", server.base);
    let felt = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (client, gql, token) = (server.client.clone(), gql.clone(), token.clone());
        let felt = std::sync::Arc::clone(&felt);
        writers.spawn(async move {
            let mut done = Vec::new();
            for i in 0..PER_WRITER {
                let key = format!("fault-{w}-{i:03}");
                let (id, retries) =
                    report_until_answered(&client, &gql, &token, &key, at, &felt).await;
                done.push((key, id, retries));
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            done
        });
    }
    // Let some writes land, then restart the database under the load.
    tokio::time::sleep(Duration::from_millis(400)).await;
    pg.down();
    let ready = server
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503, "/readyz reports the outage");
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "unreachable", "{body}");
    // The outage lasts until the writers have felt it a few times.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while felt.load(std::sync::atomic::Ordering::Relaxed) < 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "no writer felt the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pg.up();

    let mut acked = Vec::new();
    while let Some(r) = writers.join_next().await {
        acked.extend(r.unwrap());
    }
    assert_eq!(acked.len(), WRITERS * PER_WRITER);
    let retried: u32 = acked.iter().map(|(_, _, r)| r).sum();
    assert!(retried > 0, "the outage was felt by the writers");
    let db = sea_orm::Database::connect(&url).await.unwrap();
    for (key, id, _) in &acked {
        let n = entity::case::Entity::find()
            .filter(entity::case::Column::Description.eq(format!("故障测试 {key}")))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(n, 1, "{key}: exactly one case");
        let c = entity::case::Entity::find_by_id(*id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            c.description,
            format!("故障测试 {key}"),
            "the answer names the case"
        );
        let events = entity::case_event::Entity::find()
            .filter(entity::case_event::Column::CaseId.eq(*id))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(events, 1, "{key}: one event");
    }
    // Recovered without a restart.
    let ready = server
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

/// What one GraphQL call through a bad link came to.
enum Outcome {
    Answer(Value),
    Retry,
}

/// One attempt: an answer with data, or a reason to retry (no answer, a cut answer, a
/// retryable error). Any other error fails the test.
async fn attempt(client: &reqwest::Client, url: &str, token: &str, body: &Value) -> Outcome {
    let Ok(r) = client.post(url).bearer_auth(token).json(body).send().await else {
        return Outcome::Retry;
    };
    let Ok(a) = r.json::<Value>().await else {
        return Outcome::Retry;
    };
    if a.get("errors").is_none() {
        return Outcome::Answer(a);
    }
    let code = a["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
    assert!(
        ["UNAVAILABLE", "STORAGE_UNAVAILABLE"].contains(&code),
        "only retryable errors on a bad link: {a}"
    );
    Outcome::Retry
}

/// Sends `body` until it is answered; the answer and how many retries it took.
async fn until_answered(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> (Value, u32) {
    for retries in 0..400u32 {
        if let Outcome::Answer(a) = attempt(client, url, token, body).await {
            return (a, retries);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never answered: {body}");
}

/// Sends the photo as `wx.uploadFile` does (a multipart form, the ticket's fields then
/// the file) until the store has it (201, or 409 when an earlier try landed but its
/// answer was lost); retries taken.
async fn put_until_stored(client: &reqwest::Client, ticket: &Value, photo: &[u8]) -> u32 {
    assert_eq!(ticket["method"], "POST", "one upload shape: a form");
    for retries in 0..400u32 {
        let mut form = reqwest::multipart::Form::new();
        for f in ticket["fields"].as_array().unwrap() {
            form = form.text(
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_str().unwrap().to_owned(),
            );
        }
        let file = reqwest::multipart::Part::bytes(photo.to_vec()).file_name("wx-tmp.jpg");
        form = form.part(ticket["fileField"].as_str().unwrap().to_owned(), file);
        let req = client.post(ticket["url"].as_str().unwrap()).multipart(form);
        if let Ok(r) = req.send().await {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            match status {
                201 | 409 => return retries,
                // The body was cut on the way: nothing was stored, send again.
                400 if ["UPLOAD_INTERRUPTED", "SIZE_MISMATCH", "BAD_FORM", "NO_FILE"]
                    .iter()
                    .any(|c| body.contains(c)) => {}
                503 => {}
                _ => panic!("upload answered {status}: {body}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the photo never arrived");
}

const REPORT: &str = "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }";
const REQUEST_UPLOAD: &str = "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id } url method fields { name value } fileField } }";
const CONFIRM: &str = "mutation($id: ID!) { confirmEvidence(id: $id) { id status } }";

/// Inspectors on a bad link — 20 ms a chunk, one chunk in nine cut or stalled part-way —
/// to a server whose own database link drops or stalls connections: each reports a
/// case and sends one photo, retrying every step with its idempotency key. In the end
/// there is one case and one confirmed photo per key, nothing else, and the server
/// answers normally once the links are clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lossy_link_makes_one_case_and_one_photo_per_key() {
    const INSPECTORS: usize = 3;
    const REPORTS: usize = 5;
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let db_proxy = Proxy::start("127.0.0.1:5432".parse().unwrap(), Faults::CLEAN, 7).await;
    let proxied_url = fresh
        .url
        .replacen("127.0.0.1:5432", &db_proxy.host_port(), 1);
    assert_ne!(
        proxied_url, fresh.url,
        "the server reaches the database through the proxy"
    );
    let port = free_port();
    let app_proxy = Proxy::start(
        format!("127.0.0.1:{port}").parse().unwrap(),
        Faults::CLEAN,
        11,
    )
    .await;
    let public_url = format!("http://{}", app_proxy.host_port());
    let server = ServerProcess::start_on(
        &proxied_url,
        port,
        &[("GRIDWATCH__SERVER__PUBLIC_URL", public_url.as_str())],
    )
    .await;
    let token = server.login("demo-insp-140521100201").await;
    let db = fresh.connect().await;
    let (lat, lng) = village_centre(&db).await;

    db_proxy.set(Faults {
        latency: Duration::from_millis(1),
        cut: 0.01,
        stall: 0.005,
        stall_for: Duration::from_secs(2),
    });
    app_proxy.set(Faults {
        latency: Duration::from_millis(20),
        cut: 0.08,
        stall: 0.03,
        stall_for: Duration::from_secs(3),
    });
    let photo = gridwatch::domain::media::fixtures::test_jpeg(320, 240, None);
    let gql = format!("{public_url}/graphql");
    let mut inspectors = tokio::task::JoinSet::new();
    for w in 0..INSPECTORS {
        let (gql, token, photo) = (gql.clone(), token.clone(), photo.clone());
        inspectors.spawn(async move {
            // A phone gives up on an answer after a few seconds and tries again.
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(4))
                .build()
                .unwrap();
            let mut done = Vec::new();
            let mut retries = 0;
            for i in 0..REPORTS {
                let key = format!("lossy-{w}-{i:02}");
                let report = json!({ "query": REPORT, "variables": { "i": {
                    "categoryCode": "DUST", "description": format!("弱网测试 {key}"),
                    "idempotencyKey": key, "location": { "lat": lat, "lng": lng, "coord": "WGS84" } } } });
                let (a, r) = until_answered(&client, &gql, &token, &report).await;
                retries += r;
                let case_id = a["data"]["reportCase"]["id"].clone();
                let request = json!({ "query": REQUEST_UPLOAD, "variables": { "i": {
                    "caseId": case_id, "phase": "BEFORE", "contentType": "image/jpeg",
                    "byteSize": photo.len(), "sha256": crate::helpers::evidence::sha_hex(&photo), "idempotencyKey": format!("{key}-photo") } } });
                let (a, r) = until_answered(&client, &gql, &token, &request).await;
                retries += r;
                let ticket = &a["data"]["requestEvidenceUpload"];
                retries += put_until_stored(&client, ticket, &photo).await;
                let confirm = json!({ "query": CONFIRM, "variables": { "id": ticket["evidence"]["id"] } });
                let (a, r) = until_answered(&client, &gql, &token, &confirm).await;
                retries += r;
                assert_eq!(a["data"]["confirmEvidence"]["status"], "CONFIRMED", "{a}");
                done.push((key, case_id.as_str().unwrap().parse::<i64>().unwrap()));
            }
            (done, retries)
        });
    }
    let mut acked = Vec::new();
    let mut retries = 0;
    while let Some(r) = inspectors.join_next().await {
        let (done, r) = r.unwrap();
        acked.extend(done);
        retries += r;
    }
    let (app_conns, app_cut, app_stalled) = app_proxy.summary();
    let (db_conns, db_cut, db_stalled) = db_proxy.summary();
    println!(
        "app link: {app_conns} connections, {app_cut} cut, {app_stalled} stalled; \
         database link: {db_conns} connections, {db_cut} cut, {db_stalled} stalled; \
         {retries} client retries"
    );
    assert!(retries > 0, "the bad link was felt");
    assert!(
        app_cut + app_stalled > 0 && db_cut + db_stalled > 0,
        "both links misbehaved"
    );

    assert_eq!(acked.len(), INSPECTORS * REPORTS);
    let cases = entity::case::Entity::find()
        .filter(entity::case::Column::Description.starts_with("弱网测试 "))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(cases.len(), acked.len(), "one case per key, nothing more");
    for (key, id) in &acked {
        let c = cases
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("{key}: case {id}"));
        assert_eq!(
            c.description,
            format!("弱网测试 {key}"),
            "the answer names the case"
        );
        let photos = entity::evidence::Entity::find()
            .filter(entity::evidence::Column::CaseId.eq(*id))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(photos.len(), 1, "{key}: one photo: {photos:?}");
        assert_eq!(
            photos[0].status,
            entity::enums::EvidenceStatus::Confirmed,
            "{key}"
        );
    }
    // The server recovered by itself: clean links, normal answers.
    db_proxy.set(Faults::CLEAN);
    app_proxy.set(Faults::CLEAN);
    let ready = server
        .client
        .get(format!("{public_url}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let b = server.gql(Some(&token), "{ me { id } }", json!({})).await;
    assert!(b["data"]["me"]["id"].is_string(), "{b}");
}
