//! The outbox and its deliverer (issue 10): every case event reaches the county's
//! webhooks, signed, once; failures retry with backoff and end as dead letters county
//! staff can see and send again; a process killed between commit and send loses
//! nothing and doubles nothing.

use std::time::Duration;

use entity::outbox;
use gridwatch::jobs::delivery::{Channels, deliver_due};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::receiver::Receiver;
use crate::helpers::server::ServerProcess;
use crate::helpers::{Backend, FreshDb, TestApp, error_code};

const CREATE_WEBHOOK: &str = "mutation($r: ID!, $u: String!) { createWebhook(regionId: $r, url: $u) { secret webhook { id url active } } }";
const CREATE_TASK: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id number } }";

fn task(region: i64, title: &str) -> Value {
    json!({ "i": { "categoryCode": "DUST", "title": title, "description": "检查工地扬尘", "regionId": region.to_string() } })
}

fn verify(secret: &str, r: &crate::helpers::receiver::Received) {
    assert_eq!(
        r.signature,
        gridwatch::domain::webhooks::signature(secret, &r.body),
        "the signature is the HMAC of the body"
    );
}

async fn webhooks_get_every_event_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.jobs.max_attempts = 2;
        c.jobs.retry_base_secs = 30;
    })
    .await;
    let (admin, _) = app.login("demo-admin").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let receiver = Receiver::start(1).await;
    let township = app.region_id("140521100");
    let b = app
        .gql(
            Some(&admin),
            CREATE_WEBHOOK,
            json!({ "r": township.to_string(), "u": receiver.url }),
        )
        .await;
    let secret = b["data"]["createWebhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{b}");
    // Inspectors and supervisors may not manage webhooks.
    let b = app
        .gql(
            Some(&sup),
            CREATE_WEBHOOK,
            json!({ "r": township.to_string(), "u": receiver.url }),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN");
    // A second webhook nobody answers: it will end as a dead letter.
    let b = app
        .gql(
            Some(&admin),
            CREATE_WEBHOOK,
            json!({ "r": township.to_string(), "u": "http://127.0.0.1:9/nobody" }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");

    let village = app.region_id("140521100001");
    for i in 0..3 {
        let b = app
            .gql(Some(&sup), CREATE_TASK, task(village, &format!("工地 {i}")))
            .await;
        assert!(b.get("errors").is_none(), "{b}");
    }
    // A case in another township is not this webhook's business.
    let (other, _) = app.login("demo-sup-140521101").await;
    let b = app
        .gql(
            Some(&other),
            CREATE_TASK,
            task(app.region_id("140521101203"), "别处"),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    let rows = outbox::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(rows, 6, "3 events × 2 webhooks, written with the events");

    let svc = &app.state.services;
    let http = Channels::new(&svc.config).unwrap();
    // First run: the receiver refuses each first attempt, nobody answers the other.
    assert_eq!(deliver_due(svc, &http).await.unwrap(), 0);
    // Too early for the retry: nothing is sent.
    assert_eq!(deliver_due(svc, &http).await.unwrap(), 0);
    assert_eq!(receiver.received().len(), 3);
    // After the backoff: the receiver takes them; the other webhook's are given up.
    app.advance(chrono::Duration::seconds(31));
    assert_eq!(deliver_due(svc, &http).await.unwrap(), 3);
    app.advance(chrono::Duration::minutes(10));
    assert_eq!(deliver_due(svc, &http).await.unwrap(), 0, "nothing twice");
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 3, "{accepted:?}");
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    for r in receiver.received() {
        verify(&secret, &r);
        assert_eq!(r.event, "CREATE_TASK");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["deliveryId"], r.delivery.as_str());
        assert!(body["event"]["caseNumber"].is_string(), "{body}");
        assert!(
            body.to_string().find("tipster").is_none(),
            "no personal data"
        );
    }
    // The dead letters are visible to county staff and can be sent again.
    let b = app
        .gql(
            Some(&admin),
            "{ deadLetters(first: 10) { edges { node { id topic attempts lastError } } } }",
            json!({}),
        )
        .await;
    let dead = b["data"]["deadLetters"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(dead.len(), 3, "{b}");
    assert_eq!(dead[0]["node"]["attempts"], 2);
    let b = app
        .gql(
            Some(&sup),
            "{ deadLetters(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN");
    let b = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { retryDeadLetter(id: $id) { attempts deadAt } }",
            json!({ "id": dead[0]["node"]["id"] }),
        )
        .await;
    assert_eq!(b["data"]["retryDeadLetter"]["attempts"], 0, "{b}");
    let pending = outbox::Entity::find()
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::DeadAt.is_null())
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(pending, 1);
}
both!(webhooks_once, webhooks_get_every_event_once);

/// Events written through a process that is then killed before it sends anything are
/// delivered by the next process, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_deliverer_loses_nothing_and_doubles_nothing() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let receiver = Receiver::start(0).await;
    let silent = ServerProcess::start(&fresh, &[("GRIDWATCH__JOBS__ENABLED", "false")]).await;
    let admin = silent.login("demo-admin").await;
    let sup = silent.login("demo-sup-140521100").await;
    let db = fresh.connect().await;
    let id_of = |code: &'static str| {
        let db = db.clone();
        async move {
            entity::region::Entity::find()
                .filter(entity::region::Column::Code.eq(code))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let b = silent
        .gql(
            Some(&admin),
            CREATE_WEBHOOK,
            json!({ "r": id_of("140521100").await.to_string(), "u": receiver.url }),
        )
        .await;
    let secret = b["data"]["createWebhook"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let village = id_of("140521100001").await;
    for i in 0..5 {
        let b = silent
            .gql(Some(&sup), CREATE_TASK, task(village, &format!("工地 {i}")))
            .await;
        assert!(b.get("errors").is_none(), "{b}");
    }
    // The process dies with five committed, unsent messages.
    drop(silent);
    assert!(receiver.received().is_empty());
    let next = ServerProcess::start(
        &fresh,
        &[
            ("GRIDWATCH__JOBS__ENABLED", "true"),
            ("GRIDWATCH__JOBS__OUTBOX_SECS", "1"),
        ],
    )
    .await;
    for _ in 0..100 {
        if receiver.accepted().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Another few runs of the deliverer send nothing again.
    crate::helpers::wait_for_job_passes(&db, "outbox_delivery", 3, Duration::from_secs(30)).await;
    drop(next);
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 5, "{accepted:?}");
    assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
    for r in receiver.received() {
        verify(&secret, &r);
    }
    let undelivered = outbox::Entity::find()
        .filter(outbox::Column::DeliveredAt.is_null())
        .count(&db)
        .await
        .unwrap();
    assert_eq!(undelivered, 0);
}
