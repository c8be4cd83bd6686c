//! `/metrics` (issue 10): a scrape parses as Prometheus text and carries requests by
//! operation and outcome, their latency, open and overdue cases, the outbox backlog
//! and dead letters, job lag and the pool; production hides it unless configured.

use prometheus_parse::{Scrape, Value as Sample};
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp};

async fn scrape(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut r = app.client.get(format!("{}/metrics", app.base));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

fn value(s: &Scrape, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .find(|x| label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
        .map(|x| match &x.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            Sample::Summary(_) => 0.0,
        })
}

async fn metrics_parse_and_carry_the_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let village = app.region_id("140521100001").to_string();
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "categoryCode": "DUST", "title": "巡查", "description": "检查工地", "regionId": village, "dueAt": (app.now() + chrono::Duration::hours(1)).to_rfc3339() } }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    let b = app
        .gql(
            None,
            "{ cases(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(b.get("errors").is_some());
    // A job run, so the lag has a series.
    let svc = app.state.services.clone();
    gridwatch::jobs::run_once(
        "sla_sweep",
        &svc,
        &|svc: gridwatch::domain::Services| async move {
            let r = gridwatch::domain::supervision::sweep::sweep(&svc).await?;
            Ok(r.escalated)
        },
    )
    .await;
    app.advance(chrono::Duration::hours(2));
    let r = scrape(&app, None).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        r.headers()
    );
    let s = parse(&r.text().await.unwrap());
    assert!(
        value(
            &s,
            "gridwatch_graphql_requests_total",
            Some(("operation", "createTask"))
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &s,
            "gridwatch_graphql_requests_total",
            Some(("code", "UNAUTHENTICATED"))
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        s.samples
            .iter()
            .any(|x| x.metric == "gridwatch_graphql_request_duration_seconds"),
        "latency histogram"
    );
    assert_eq!(
        value(&s, "gridwatch_cases_open", Some(("status", "PENDING"))),
        Some(1.0)
    );
    assert_eq!(value(&s, "gridwatch_cases_overdue", None), Some(1.0));
    assert!(value(&s, "gridwatch_outbox_backlog", None).is_some());
    assert!(value(&s, "gridwatch_outbox_oldest_age_seconds", None).is_some());
    assert_eq!(value(&s, "gridwatch_outbox_dead_letters", None), Some(0.0));
    assert!(value(&s, "gridwatch_job_lag_seconds", Some(("job", "sla_sweep"))).unwrap() >= 7000.0);
    assert_eq!(
        value(&s, "gridwatch_job_last_ok", Some(("job", "sla_sweep"))),
        Some(1.0)
    );
    assert!(
        value(
            &s,
            "gridwatch_db_pool_connections",
            Some(("state", "in_use"))
        )
        .is_some()
    );
}
both!(metrics_series, metrics_parse_and_carry_the_series);

async fn production_hides_metrics_unless_configured(backend: Backend) {
    let prod = |c: &mut gridwatch::config::Config| {
        c.env = gridwatch::config::Environment::Production;
        c.auth.jwt_secret = Some("k7Qm2vX9pL4sR8tY1wZ3nB6cD0fG5hJ2-test-only".into());
        c.vault.key = Some("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMi1ieXQ=".into());
    };
    let app = TestApp::spawn_with(backend, prod).await;
    assert_eq!(scrape(&app, None).await.status(), 404);
    let app = TestApp::spawn_with(backend, |c| {
        prod(c);
        c.metrics.enabled = Some(true);
        c.metrics.bearer_token = Some("scrape-secret-for-tests".into());
    })
    .await;
    assert_eq!(scrape(&app, None).await.status(), 401);
    assert_eq!(scrape(&app, Some("wrong")).await.status(), 401);
    assert_eq!(
        scrape(&app, Some("scrape-secret-for-tests")).await.status(),
        200
    );
}
both!(
    production_metrics,
    production_hides_metrics_unless_configured
);
