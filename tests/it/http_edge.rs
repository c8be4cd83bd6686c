//! The HTTP edge: health, readiness, GraphiQL, request ids, error shapes and languages.

use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp, error_code};

/// A plain GET of `path` on the test server.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
}

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status(), 200);
    let r = get(&app, "/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    // Every response carries a request id; a client-sent one is kept.
    let r = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    // One made here is a random (v4) UUID, a new one for every request.
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let r = get(&app, "/healthz").await;
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        assert_eq!(
            parsed.hyphenated().to_string(),
            id,
            "lower-case, hyphenated"
        );
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    // GraphiQL outside production.
    let r = get(&app, "/graphql").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().to_lowercase().contains("graphiql"));
    // Readiness reports an unreachable database as 503.
    app.db.clone().close().await.unwrap();
    let r = get(&app, "/readyz").await;
    assert_eq!(r.status(), 503);
}
both!(health_readiness_request_id, health_and_readiness);

async fn malformed_requests_are_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Not JSON at all.
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_INPUT");
    // A syntax error, an unknown field, a wrong argument type.
    for q in [
        "{ regions { id ",
        "{ nope }",
        "{ locate(lat: \"x\", lng: 1) { id } }",
    ] {
        assert_eq!(app.error_code(q, json!({})).await, "BAD_INPUT", "{q}");
    }
}
both!(malformed_requests, malformed_requests_are_bad_input);

async fn messages_follow_accept_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let q = "{ locate(lat: 95, lng: 112) { id } }";
    let zh = app.graphql(q, json!({})).await;
    assert_eq!(error_code(&zh), "BAD_INPUT");
    assert!(
        zh["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("纬度"),
        "{zh}"
    );
    let en = app
        .graphql_with(q, json!({}), &[("accept-language", "en-US,en;q=0.9")])
        .await;
    assert_eq!(error_code(&en), "BAD_INPUT");
    assert!(
        en["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("latitude"),
        "{en}"
    );
}
both!(accept_language, messages_follow_accept_language);

/// Every BAD_INPUT carries a stable `detail`; the engine's own coercion errors also
/// name the offending input path in `field`, so a form can highlight it.
async fn bad_input_has_detail_and_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (insp, _) = app.login("demo-insp-140521100201").await;
    let q = "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }";
    // A required field missing.
    let b = app
        .gql(
            Some(&insp),
            q,
            json!({ "i": { "description": "缺少类别", "idempotencyKey": "field-test-0001",
                "location": { "lat": 35.7, "lng": 112.2 } } }),
        )
        .await;
    let ext = &b["errors"][0]["extensions"];
    assert_eq!(ext["code"], "BAD_INPUT", "{b}");
    assert_eq!(ext["detail"], "INVALID_VALUE", "{b}");
    assert_eq!(ext["field"], "input.categoryCode", "{b}");
    // A nested value of the wrong type.
    let b = app
        .gql(
            Some(&insp),
            q,
            json!({ "i": { "categoryCode": "DUST", "description": "纬度写成了文字",
                "idempotencyKey": "field-test-0002", "location": { "lat": "北纬", "lng": 112.2 } } }),
        )
        .await;
    let ext = &b["errors"][0]["extensions"];
    assert_eq!(ext["detail"], "INVALID_VALUE", "{b}");
    assert!(
        ext["field"].as_str().unwrap().starts_with("input.location"),
        "{b}"
    );
    // A query the schema does not have.
    let b = app.gql(Some(&insp), "{ noSuchField }", json!({})).await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_QUERY",
        "{b}"
    );
    // A domain refusal.
    let b = app
        .gql(
            Some(&insp),
            q,
            json!({ "i": { "categoryCode": "DUST", "description": "纬度超出范围",
                "idempotencyKey": "field-test-0003", "location": { "lat": 999.0, "lng": 112.2 } } }),
        )
        .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_LATITUDE",
        "{b}"
    );
}
both!(bad_input_details, bad_input_has_detail_and_field);

/// An answer is serialised once and sent as `application/graphql-response+json`; one
/// larger than `max_response_bytes` is replaced by `BAD_INPUT` / `RESPONSE_TOO_LARGE`,
/// with the size in the message.
async fn answers_are_typed_and_capped(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.limits.max_response_bytes = 600).await;
    let post = |query: &'static str| {
        app.client
            .post(format!("{}/graphql", app.base))
            .header("content-type", "application/json")
            .json(&json!({ "query": query }))
            .send()
    };
    let r = post("{ __typename }").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body, json!({ "data": { "__typename": "Query" } }));

    let r = post("{ categories { code name description } }")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "BAD_INPUT", "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["detail"],
        "RESPONSE_TOO_LARGE"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("最多 600 字节"), "{message}");
    assert!(body.get("data").is_none_or(|d| d.is_null()), "{body}");
}
both!(answers_capped, answers_are_typed_and_capped);
