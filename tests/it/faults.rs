//! Faults (issue 15): the database restarted under a write load. Clients retry with
//! their idempotency keys, as the apps do; in the end every acknowledged write is there
//! exactly once, `/readyz` reported the outage, and the server recovered by itself.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::gridwatch_cmd;
use crate::helpers::pgcluster::PgCluster;
use crate::helpers::server::ServerProcess;

const WRITERS: usize = 4;
const PER_WRITER: usize = 12;

/// Sends one report until it is answered (retrying while the answer is a retryable
/// error or no answer); the case id.
async fn report_until_answered(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    key: &str,
    (lat, lng): (f64, f64),
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
    let village = entity::region::Entity::find()
        .filter(entity::region::Column::Code.eq("140521100201"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    drop(db);
    let at = (village.centroid_lat.unwrap(), village.centroid_lng.unwrap());
    let gql = format!("{}/graphql", server.base);
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (client, gql, token) = (server.client.clone(), gql.clone(), token.clone());
        writers.spawn(async move {
            let mut done = Vec::new();
            for i in 0..PER_WRITER {
                let key = format!("fault-{w}-{i:03}");
                let (id, retries) = report_until_answered(&client, &gql, &token, &key, at).await;
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
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
