//! Persisted queries (Apollo APQ and the production allowlist), queries over GET, and
//! compressed answers.

use std::io::Read;

use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, FreshDb, TestApp, error_code, gridwatch_cmd};

const CATEGORIES: &str = "query Cats { categories { code name } }";

fn apq(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> Value {
    app.client
        .post(format!("{}/graphql", app.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn get(app: &TestApp, params: &[(&str, String)]) -> (u16, Value) {
    get_as(app, None, params).await
}

async fn get_as(app: &TestApp, token: Option<&str>, params: &[(&str, String)]) -> (u16, Value) {
    let url = reqwest::Url::parse_with_params(&format!("{}/graphql", app.base), params).unwrap();
    let mut r = app.client.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn automatic_persisted_queries_and_get(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hash = gridwatch::persisted::hash_of(CATEGORIES);
    // Unknown hash: the exact answer Apollo clients react to.
    let b = post(&app, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(b["errors"][0]["message"], "PersistedQueryNotFound", "{b}");
    assert_eq!(error_code(&b), "PERSISTED_QUERY_NOT_FOUND", "{b}");
    assert!(b.get("data").is_none_or(Value::is_null), "{b}");
    // Hash and text: served (and learnt).
    let full = post(
        &app,
        json!({ "query": CATEGORIES, "extensions": apq(&hash) }),
    )
    .await;
    assert!(full.get("errors").is_none(), "{full}");
    assert!(
        full["data"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "DUST")
    );
    // Hash alone: served, the same answer.
    let short = post(&app, json!({ "extensions": apq(&hash) })).await;
    assert_eq!(short, full);
    // Over GET too, by hash and by text.
    let (status, b) = get(&app, &[("extensions", apq(&hash).to_string())]).await;
    assert_eq!((status, &b), (200, &full));
    let (status, b) = get(&app, &[("query", CATEGORIES.to_owned())]).await;
    assert_eq!((status, &b), (200, &full));
    // A hash that is not the text's, a version we do not know.
    let other = gridwatch::persisted::hash_of("{ categories { code } }");
    let b = post(
        &app,
        json!({ "query": CATEGORIES, "extensions": apq(&other) }),
    )
    .await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "HASH_MISMATCH",
        "{b}"
    );
    let b = post(
        &app,
        json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } }),
    )
    .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_PERSISTED_QUERY",
        "{b}"
    );
    // GET never changes anything: a mutation is 405 and writes nothing.
    let (admin, _) = app.login("demo-admin").await;
    let (status, b) = get_as(
        &app,
        Some(&admin),
        &[(
            "query",
            "mutation { createWebhook(regionId: \"1\", url: \"https://example.org/h\") { webhook { id } } }"
                .to_owned(),
        )],
    )
    .await;
    assert_eq!(status, 405, "{b}");
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "MUTATION_OVER_GET",
        "{b}"
    );
    let hooks = app
        .gql(Some(&admin), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(hooks["data"]["webhooks"], json!([]), "{hooks}");
    // Without parameters GET is still GraphiQL (outside production).
    let r = app
        .client
        .get(format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("graphiql"));
}
both!(apq_and_get, automatic_persisted_queries_and_get);

/// Production mode: only the operations registered from the app build run.
async fn allowlist_mode(backend: Backend) {
    let fresh = FreshDb::seeded(backend).await;
    let registered = "query Regions { regions { code name } }";
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [
                { "id": gridwatch::persisted::hash_of(registered), "name": "Regions", "type": "query", "body": registered },
                { "id": gridwatch::persisted::hash_of(CATEGORIES), "name": "Cats", "type": "query", "body": CATEGORIES }
            ]
        })
        .to_string(),
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        gridwatch_cmd(&fresh.url)
            .arg("register-operations")
            .arg(file)
            .output()
            .unwrap()
    };
    let out = run(&manifest);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 operations, 2 newly registered"),
        "{out:?}"
    );
    // Idempotent.
    let out = run(&manifest);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("0 newly registered"),
        "{out:?}"
    );
    // A manifest whose id is not its text's hash is refused whole.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        json!({ gridwatch::persisted::hash_of("{ me { __typename } }"): "{ categories { code } }" })
            .to_string(),
    )
    .unwrap();
    let out = run(&bad);
    assert!(!out.status.success(), "{out:?}");

    let app = TestApp::spawn_on_with(fresh, |c| {
        c.limits.persisted_queries = gridwatch::persisted::Mode::Allowlist;
    })
    .await;
    // Registered: by hash alone (POST and GET) and as text.
    let hash = gridwatch::persisted::hash_of(registered);
    let b = post(&app, json!({ "extensions": apq(&hash) })).await;
    assert!(
        b["data"]["regions"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{b}"
    );
    let (status, g) = get(&app, &[("extensions", apq(&hash).to_string())]).await;
    assert_eq!((status, &g), (200, &b));
    let b = post(&app, json!({ "query": registered })).await;
    assert!(b.get("errors").is_none(), "{b}");
    // Anything else is refused, however it is sent.
    let refused = |b: &Value| {
        assert_eq!(error_code(b), "FORBIDDEN", "{b}");
        assert_eq!(
            b["errors"][0]["extensions"]["detail"], "OPERATION_NOT_ALLOWED",
            "{b}"
        );
        assert!(b.get("data").is_none_or(Value::is_null), "{b}");
    };
    let unregistered = "query { regions { code } }";
    refused(&post(&app, json!({ "query": unregistered })).await);
    let h = gridwatch::persisted::hash_of(unregistered);
    refused(&post(&app, json!({ "extensions": apq(&h) })).await);
    refused(
        &post(
            &app,
            json!({ "query": unregistered, "extensions": apq(&h) }),
        )
        .await,
    );
    refused(&post(&app, json!({ "query": "{ __schema { types { name } } }" })).await);
    // Learning is off: a refused text is still refused by its hash afterwards.
    refused(&post(&app, json!({ "extensions": apq(&h) })).await);
}
both!(allowlist, allowlist_mode);

/// Answers are compressed when the client asks, with gzip or brotli, and decode to the
/// same JSON.
async fn compressed_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({ "query": "{ categories { code name description } regions { code name } }" });
    let fetch = |encoding: Option<&'static str>| {
        let mut r = app.client.post(format!("{}/graphql", app.base)).json(&body);
        if let Some(e) = encoding {
            r = r.header("accept-encoding", e);
        }
        async move {
            let resp = r.send().await.unwrap();
            let enc = resp
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            (enc, resp.bytes().await.unwrap().to_vec())
        }
    };
    let (enc, plain) = fetch(None).await;
    assert_eq!(enc, None);
    let plain: Value = serde_json::from_slice(&plain).unwrap();
    assert!(plain.get("errors").is_none(), "{plain}");
    let plain_len = serde_json::to_vec(&plain).unwrap().len();

    let (enc, gz) = fetch(Some("gzip")).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert!(gz.len() < plain_len, "{} vs {plain_len}", gz.len());
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), plain);

    let (enc, br) = fetch(Some("br")).await;
    assert_eq!(enc.as_deref(), Some("br"));
    let mut text = String::new();
    brotli_decompressor::Decompressor::new(&br[..], 4096)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), plain);
}
both!(compression, compressed_answers);
