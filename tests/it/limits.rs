//! API limits (OWASP GraphQL): depth, aliases, batching, body size, rate limits with
//! Retry-After, X-Forwarded-For only from trusted proxies; production hides the schema.

use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, error_code};

fn nested_parents(region_id: i64, depth: usize) -> String {
    // region { parent { parent { ... { id } } } } has `depth` levels of fields; each
    // level is one object, so only the depth limit can refuse it.
    let mut q = "id".to_owned();
    for _ in 0..depth.saturating_sub(2) {
        q = format!("parent {{ {q} }}");
    }
    format!("{{ region(id: \"{region_id}\") {{ {q} }} }}")
}

async fn depth_and_alias_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let max = app.state.config().limits.max_depth;
    let village = app.region_id("140521100001");
    let ok = app.graphql(&nested_parents(village, max), json!({})).await;
    assert!(ok.get("errors").is_none(), "depth {max} must pass: {ok}");
    let too_deep = app
        .graphql(&nested_parents(village, max + 1), json!({}))
        .await;
    assert_eq!(error_code(&too_deep), "BAD_INPUT", "{too_deep}");
    assert_eq!(too_deep["errors"][0]["extensions"]["detail"], "TOO_COMPLEX");
    // 50 aliases of one field.
    let aliases: Vec<String> = (0..50)
        .map(|i| format!("a{i}: categories {{ id }}"))
        .collect();
    let b = app
        .graphql(&format!("{{ {} }}", aliases.join(" ")), json!({}))
        .await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert!(b["data"].is_null());
    // A few aliases are fine.
    let b = app
        .graphql("{ a: categories { id } b: categories { code } }", json!({}))
        .await;
    assert!(b.get("errors").is_none(), "{b}");
}
both!(depth_and_aliases, depth_and_alias_limits);

async fn batches_and_big_bodies_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!([{ "query": "{ categories { id } }" }, { "query": "{ categories { id } }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_INPUT");
    let limit = app.state.config().server.body_limit_bytes;
    let big = format!("{{ categories {{ id }} }} # {}", "x".repeat(limit + 10));
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": big }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}
both!(batches_and_big_bodies, batches_and_big_bodies_are_refused);

async fn public_bursts_are_rate_limited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.login_per_ip_per_minute = 5;
    })
    .await;
    let login =
        "mutation { login(username: \"nobody\", password: \"Wrong-pass-1\") { accessToken } }";
    let mut codes = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let r = app
            .client
            .post(format!("{}/graphql", app.base))
            // Forged, from an untrusted peer: must not give each request a fresh budget.
            .header("x-forwarded-for", format!("203.0.113.{}", codes.len()))
            .json(&json!({ "query": login }))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
        }
        let body: Value = r.json().await.unwrap();
        codes.push(error_code(&body));
    }
    assert_eq!(&codes[..5], &["UNAUTHENTICATED"; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    let secs: u64 = retry_after.expect("Retry-After header").parse().unwrap();
    assert!(secs >= 1);
}
both!(public_rate_limits, public_bursts_are_rate_limited);

async fn forwarded_for_is_honoured_from_trusted_proxies(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.login_per_ip_per_minute = 2;
        c.limits.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let login =
        "mutation { login(username: \"nobody\", password: \"Wrong-pass-1\") { accessToken } }";
    let send = |xff: &'static str| {
        app.client
            .post(format!("{}/graphql", app.base))
            .header("x-forwarded-for", xff)
            .json(&json!({ "query": login }))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(send("198.51.100.7").await.unwrap().status(), 200);
    }
    assert_eq!(
        send("198.51.100.7").await.unwrap().status(),
        429,
        "same client limited"
    );
    // Behind the trusted proxy a different client has its own budget.
    assert_eq!(send("198.51.100.8").await.unwrap().status(), 200);
    // A client cannot escape by prepending a forged hop: the proxy's view wins.
    assert_eq!(send("10.9.9.9, 198.51.100.7").await.unwrap().status(), 429);
}
both!(
    trusted_proxies,
    forwarded_for_is_honoured_from_trusted_proxies
);

async fn production_hides_the_schema(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.env = gridwatch::config::Environment::Production;
        c.auth.jwt_secret = Some("k7Qm2vX9pL4sR8tY1wZ3nB6cD0fG5hJ2-test-only".into());
        c.vault.key = Some("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMi1ieXQ=".into());
    })
    .await;
    let b = app
        .graphql("{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        b.get("errors").is_some() || b["data"]["__schema"].is_null(),
        "introspection answered: {b}"
    );
    let b = app.graphql("{ categorie { id } }", json!({})).await;
    let msg = b["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!msg.contains("Did you mean"), "suggestion leaked: {msg}");
    let r = app
        .client
        .get(format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no GraphiQL in production");
}
both!(production_schema, production_hides_the_schema);

/// A database that is gone is an outage the client may retry (`UNAVAILABLE`), with the
/// request id and nothing of the cause.
async fn outages_show_only_a_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db.clone().close().await.unwrap();
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("x-request-id", "req-internal-1")
        .json(&json!({ "query": "{ categories { id } }" }))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "UNAVAILABLE", "{body}");
    let msg = body["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("req-internal-1"), "{msg}");
    let text = body.to_string().to_lowercase();
    for leak in ["select", "pool", "sqlx", "database", "category"] {
        assert!(
            !text.contains(leak),
            "internal detail `{leak}` leaked: {body}"
        );
    }
}
both!(outages, outages_show_only_a_request_id);
