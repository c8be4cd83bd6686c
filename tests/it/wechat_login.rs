//! The public's login through the mini-program, over GraphQL against the stand-in.

use serde_json::json;

use crate::both;
use crate::helpers::{Backend, TestApp, error_code};

const LOGIN: &str = "mutation($c: String!) { loginWithWechat(code: $c) { accessToken refreshToken viewer { role name } } }";

async fn wechat_login_over_graphql(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let code = app.wechat_code("o-public-1");
    let b = app.graphql(LOGIN, json!({ "c": code })).await;
    let p = &b["data"]["loginWithWechat"];
    assert_eq!(p["viewer"]["role"], "PUBLIC", "{b}");
    let handle = p["viewer"]["name"].as_str().unwrap().to_owned();
    assert!(handle.starts_with("举报人-"), "{handle}");
    assert!(
        !b.to_string().contains("o-public-1"),
        "openid leaked to the client"
    );
    assert!(!b.to_string().to_lowercase().contains("session_key"));
    // The same code again: WeChat says it was used.
    assert_eq!(
        error_code(&app.graphql(LOGIN, json!({ "c": code })).await),
        "UNAUTHENTICATED"
    );
    // The same person logging in again is the same tipster (same handle).
    let b = app
        .graphql(LOGIN, json!({ "c": app.wechat_code("o-public-1") }))
        .await;
    assert_eq!(
        b["data"]["loginWithWechat"]["viewer"]["name"],
        handle.as_str()
    );
    // A public user is not staff.
    let token = b["data"]["loginWithWechat"]["accessToken"]
        .as_str()
        .unwrap();
    let users = app
        .gql(
            Some(token),
            "{ users { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&users), "FORBIDDEN");
    // The openid is stored only encrypted and hashed.
    let rows = entity::tipster::Entity::find().all(&app.db).await.unwrap();
    for t in rows {
        assert!(!String::from_utf8_lossy(&t.openid_enc).contains("o-public-1"));
        assert_ne!(t.openid_hmac, "o-public-1");
    }
}
both!(wechat_login, wechat_login_over_graphql);

async fn wechat_errors_map_to_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let table = [
        (-1i64, 2usize, "UPSTREAM_UNAVAILABLE"),
        (45011, 1, "RATE_LIMITED"),
        (40226, 1, "FORBIDDEN"),
        (40029, 1, "UNAUTHENTICATED"),
    ];
    for (errcode, times, want) in table {
        let code = app.wechat_code("o-public-2");
        app.wechat.fail_next(errcode, times);
        let b = app.graphql(LOGIN, json!({ "c": code })).await;
        assert_eq!(error_code(&b), want, "errcode {errcode}: {b}");
    }
    // Busy once is retried and succeeds.
    let code = app.wechat_code("o-public-2");
    app.wechat.fail_next(-1, 1);
    let b = app.graphql(LOGIN, json!({ "c": code })).await;
    assert!(b.get("errors").is_none(), "{b}");
    // An unknown code.
    assert_eq!(
        error_code(&app.graphql(LOGIN, json!({ "c": "never-issued" })).await),
        "UNAUTHENTICATED"
    );
    // Slow WeChat: a timeout is UPSTREAM_UNAVAILABLE, not a hang.
    app.wechat.set_delay(std::time::Duration::from_secs(3));
    let code = app.wechat_code("o-public-3");
    let started = std::time::Instant::now();
    let b = app.graphql(LOGIN, json!({ "c": code })).await;
    assert_eq!(error_code(&b), "UPSTREAM_UNAVAILABLE", "{b}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
both!(wechat_errors, wechat_errors_map_to_codes);

use sea_orm::EntityTrait;
