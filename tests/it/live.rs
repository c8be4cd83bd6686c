//! Live case events (issue 10): `caseEvents` over `graphql-transport-ws`, authenticated
//! in `connection_init`, scoped like `cases`, and fanned out across processes through
//! PostgreSQL `LISTEN/NOTIFY`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::public_login;
use crate::helpers::server::ServerProcess;
use crate::helpers::ws::WsClient;
use crate::helpers::{Backend, FreshDb, TestApp};

const SUB: &str = "subscription($r: ID) { caseEvents(regionId: $r) { caseId caseNumber seq action status regionId at } }";
const CREATE_TASK: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id number } }";
const OWN: &str = "140521100201";
const SIBLING: &str = "140521100202";
/// Generous: the bound under test is "arrives", not how fast (see the closing note).
const WAIT: Duration = Duration::from_secs(10);

fn task(region: i64, title: &str) -> Value {
    json!({ "i": { "categoryCode": "DUST", "title": title, "description": "检查工地扬尘", "regionId": region.to_string() } })
}

/// The case number of the next notice (panics on an error or nothing in time).
async fn next_number(ws: &mut WsClient) -> String {
    let m = ws.next(WAIT).await.expect("a notice in time");
    assert_eq!(m["type"], "next", "{m}");
    let n = &m["payload"]["data"]["caseEvents"];
    assert!(n["caseId"].as_str().is_some(), "{m}");
    n["caseNumber"].as_str().unwrap().to_owned()
}

/// The error code a subscription answers with: a resolver's refusal comes as a
/// `next` carrying errors (then `complete`), a request that does not validate as
/// `error`.
async fn refused_with(ws: &mut WsClient) -> String {
    refusal(ws).await.0
}

/// [`refused_with`], with the error's `detail`.
async fn refusal(ws: &mut WsClient) -> (String, Value) {
    let m = ws.next(WAIT).await.expect("an answer");
    let errors = match m["type"].as_str() {
        Some("next") => &m["payload"]["errors"],
        Some("error") => &m["payload"],
        _ => panic!("not an error: {m}"),
    };
    let code = errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{m}"))
        .to_owned();
    let detail = errors[0]["extensions"]["detail"].clone();
    if m["type"] == "next" {
        let end = ws.next(WAIT).await.expect("complete");
        assert_eq!(end["type"], "complete", "{end}");
    }
    (code, detail)
}

async fn until_listening(app: &TestApp, n: usize) {
    for _ in 0..200 {
        if app.state.hub.subscribers() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} subscriptions never started");
}

async fn create(app: &TestApp, token: &str, village: &str, title: &str) -> String {
    let b = app
        .gql(
            Some(token),
            CREATE_TASK,
            task(app.region_id(village), title),
        )
        .await;
    b["data"]["createTask"]["number"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned()
}

async fn events_follow_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (insp, _) = app.login(&format!("demo-insp-{OWN}")).await;
    let (sibling, _) = app.login(&format!("demo-insp-{SIBLING}")).await;

    let mut county = WsClient::connect(&app.base, Some(&admin)).await.unwrap();
    county.subscribe("1", SUB, json!({})).await;
    let mut township = WsClient::connect(&app.base, Some(&sup)).await.unwrap();
    township.subscribe("1", SUB, json!({})).await;
    let mut own = WsClient::connect(&app.base, Some(&insp)).await.unwrap();
    own.subscribe("1", SUB, json!({})).await;
    let mut other = WsClient::connect(&app.base, Some(&sibling)).await.unwrap();
    other.subscribe("1", SUB, json!({})).await;
    // The county narrowed to the sibling village.
    let mut narrowed = WsClient::connect(&app.base, Some(&admin)).await.unwrap();
    narrowed
        .subscribe("n", SUB, json!({ "r": app.region_id(SIBLING).to_string() }))
        .await;
    until_listening(&app, 5).await;

    let first = create(&app, &sup, OWN, "工地一").await;
    let second = create(&app, &sup, SIBLING, "工地二").await;
    let third = create(&app, &sup, OWN, "工地三").await;

    for ws in [&mut county, &mut township] {
        assert_eq!(next_number(ws).await, first);
        assert_eq!(next_number(ws).await, second);
        assert_eq!(next_number(ws).await, third);
    }
    // Notices come in the order they were committed: what an inspector does not
    // receive would otherwise have come between the two it does.
    assert_eq!(next_number(&mut own).await, first);
    assert_eq!(
        next_number(&mut own).await,
        third,
        "the sibling village's case is not in the inspector's scope"
    );
    assert_eq!(next_number(&mut other).await, second);
    assert_eq!(next_number(&mut narrowed).await, second);
}
both!(events_follow_scope, events_follow_scope);

async fn who_may_subscribe(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    // A bad token closes the socket at once, with the code in the reason.
    let refused = WsClient::connect(&app.base, Some("not-a-token"))
        .await
        .err()
        .expect("a bad token is refused");
    assert!(refused.reason.starts_with("UNAUTHENTICATED"), "{refused:?}");
    assert_eq!(refused.code, 1002, "a protocol error close");
    // Anonymous sockets may open but not subscribe.
    let mut anon = WsClient::connect(&app.base, None).await.unwrap();
    anon.subscribe("1", SUB, json!({})).await;
    assert_eq!(refused_with(&mut anon).await, "UNAUTHENTICATED");
    // The public follow their own tips through the mini-program, not the case stream.
    let tipster = public_login(&app, "openid-live-1").await;
    let mut public = WsClient::connect(&app.base, Some(&tipster)).await.unwrap();
    public.subscribe("1", SUB, json!({})).await;
    assert_eq!(refused_with(&mut public).await, "FORBIDDEN");
    // Unknown and malformed regions.
    let mut staff = WsClient::connect(&app.base, Some(&admin)).await.unwrap();
    staff.subscribe("1", SUB, json!({ "r": "999999" })).await;
    assert_eq!(refused_with(&mut staff).await, "NOT_FOUND");
    staff.subscribe("2", SUB, json!({ "r": "abc" })).await;
    assert_eq!(refused_with(&mut staff).await, "BAD_INPUT");
    // The socket answers to the same request guard as HTTP: text and cost.
    staff.subscribe("4", SUB, json!({ "r": "1\u{0}" })).await;
    assert_eq!(
        refusal(&mut staff).await,
        ("BAD_INPUT".to_owned(), json!("CONTROL_CHARACTER"))
    );
    let costly = "{ regions { children { children { parent { children { parent { children { parent { children { code } } } } } } } } } }";
    staff.subscribe("5", costly, json!({})).await;
    assert_eq!(
        refusal(&mut staff).await,
        ("BAD_INPUT".to_owned(), json!("TOO_COMPLEX"))
    );
    // The socket still serves a good subscription afterwards.
    staff.subscribe("3", SUB, json!({})).await;
    until_listening(&app, 1).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let n = create(&app, &sup, OWN, "工地").await;
    assert_eq!(next_number(&mut staff).await, n);
}
both!(who_may_subscribe, who_may_subscribe);

/// `gridwatch_live_subscribers` of a process's `/metrics`.
async fn live_subscribers(p: &ServerProcess) -> f64 {
    let text = p
        .client
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("gridwatch_live_subscribers "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_written_in_one_process_reaches_a_subscriber_of_another() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let a = ServerProcess::start(&fresh, &[]).await;
    let b = ServerProcess::start(&fresh, &[]).await;
    let on_b = b.login("demo-admin").await;
    let mut ws = WsClient::connect(&b.base, Some(&on_b)).await.unwrap();
    ws.subscribe("1", SUB, json!({})).await;
    for _ in 0..200 {
        if live_subscribers(&b).await >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(live_subscribers(&b).await, 1.0);

    let sup = a.login("demo-sup-140521100").await;
    let mut latencies = Vec::new();
    for i in 0..3 {
        let body = a
            .gql(
                Some(&sup),
                CREATE_TASK,
                task(region_id(&fresh, OWN).await, &format!("跨进程 {i}")),
            )
            .await;
        let sent = Instant::now();
        let number = body["data"]["createTask"]["number"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        assert_eq!(next_number(&mut ws).await, number);
        latencies.push(sent.elapsed());
    }
    eprintln!("A→B notice after commit: {latencies:?}");
}

async fn region_id(fresh: &FreshDb, code: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let db = fresh.connect().await;
    entity::region::Entity::find()
        .filter(entity::region::Column::Code.eq(code))
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .id
}
