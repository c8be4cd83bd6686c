//! The WeChat login client against the local stand-in of `jscode2session`.

use std::time::{Duration, Instant};

use gridwatch::auth::wechat::WechatClient;
use gridwatch::error::AppError;

use crate::helpers::wechat_stub::{SESSION_KEY_PREFIX, WechatStub};

async fn setup() -> (WechatStub, WechatClient) {
    let stub = WechatStub::start().await;
    let client = WechatClient::new(&stub.config()).unwrap();
    (stub, client)
}

/// The error's code plus everything the boundary would log about it.
fn code_and_log(err: &AppError) -> (&'static str, String) {
    let log = err.cause().map(|c| format!("{c:?}")).unwrap_or_default();
    (err.code(), log)
}

#[tokio::test]
async fn a_valid_code_gives_the_openid() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-1");
    let id = client.code_to_session(&code).await.unwrap();
    assert_eq!(id.openid, "oUser-1");
    assert_eq!(id.unionid, None);
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn a_unionid_is_passed_on_when_issued() {
    let (stub, client) = setup().await;
    let code = stub.issue_code_with_unionid("oUser-2", "uUnion-2");
    let id = client.code_to_session(&code).await.unwrap();
    assert_eq!(id.openid, "oUser-2");
    assert_eq!(id.unionid.as_deref(), Some("uUnion-2"));
}

#[tokio::test]
async fn a_code_works_once() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-3");
    client.code_to_session(&code).await.unwrap();
    let err = client.code_to_session(&code).await.unwrap_err();
    assert_eq!(err.code(), "UNAUTHENTICATED");
    assert_eq!(stub.calls(), 2);
}

#[tokio::test]
async fn an_unknown_code_is_unauthenticated() {
    let (stub, client) = setup().await;
    let err = client
        .code_to_session("0000NeverIssuedByTheStub00000000")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "UNAUTHENTICATED");
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn malformed_codes_never_reach_wechat() {
    let (stub, client) = setup().await;
    for code in [String::new(), "x".repeat(129), "a b".into()] {
        let err = client.code_to_session(&code).await.unwrap_err();
        assert_eq!(err.code(), "BAD_INPUT", "{code:?}");
    }
    assert_eq!(stub.calls(), 0);
}

#[tokio::test]
async fn busy_once_is_retried() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-4");
    stub.fail_next(-1, 1);
    let id = client.code_to_session(&code).await.unwrap();
    assert_eq!(id.openid, "oUser-4");
    assert_eq!(stub.calls(), 2);
}

#[tokio::test]
async fn busy_twice_gives_up_after_one_retry() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-5");
    stub.fail_next(-1, 3);
    let err = client.code_to_session(&code).await.unwrap_err();
    let (code_str, log) = code_and_log(&err);
    assert_eq!(code_str, "UPSTREAM_UNAVAILABLE");
    assert!(log.contains("-1"), "{log}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stub.calls(), 2, "no third call");
}

#[tokio::test]
async fn frequency_limit_is_rate_limited() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-6");
    stub.fail_next(45011, 1);
    let err = client.code_to_session(&code).await.unwrap_err();
    assert!(
        matches!(
            err,
            AppError::RateLimited {
                retry_after_secs: 60
            }
        ),
        "{err:?}"
    );
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn high_risk_user_is_forbidden() {
    let (stub, client) = setup().await;
    let code = stub.issue_code("oUser-7");
    stub.fail_next(40226, 1);
    let err = client.code_to_session(&code).await.unwrap_err();
    assert_eq!(err.code(), "FORBIDDEN");
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn a_slow_wechat_times_out_quickly() {
    let stub = WechatStub::start().await;
    let mut config = stub.config();
    config.timeout_ms = 300;
    let client = WechatClient::new(&config).unwrap();
    stub.set_delay(Duration::from_secs(5));
    let code = stub.issue_code("oUser-8");
    let started = Instant::now();
    let err = client.code_to_session(&code).await.unwrap_err();
    let elapsed = started.elapsed();
    let (code_str, log) = code_and_log(&err);
    assert_eq!(code_str, "UPSTREAM_UNAVAILABLE");
    assert!(log.contains("timed out"), "{log}");
    assert!(elapsed < Duration::from_millis(1_500), "{elapsed:?}");
    // The transport error must not carry the request URL (secret and code in its query).
    assert!(
        !log.contains(&stub.secret) && !log.contains("s3%26c"),
        "{log}"
    );
    assert!(!log.contains(&code), "{log}");
    assert_eq!(stub.calls(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_our_problem_not_the_users() {
    let stub = WechatStub::start().await;
    let code = stub.issue_code("oUser-9");

    let mut config = stub.config();
    config.secret = Some("not-the-secret".to_owned().into());
    let err = WechatClient::new(&config)
        .unwrap()
        .code_to_session(&code)
        .await
        .unwrap_err();
    let (code_str, log) = code_and_log(&err);
    assert_eq!(code_str, "UPSTREAM_UNAVAILABLE");
    assert!(log.contains("40125"), "{log}");
    assert!(!log.contains("not-the-secret"), "{log}");

    let mut config = stub.config();
    config.appid = Some("wxWRONG".into());
    let err = WechatClient::new(&config)
        .unwrap()
        .code_to_session(&code)
        .await
        .unwrap_err();
    let (code_str, log) = code_and_log(&err);
    assert_eq!(code_str, "UPSTREAM_UNAVAILABLE");
    assert!(log.contains("40013"), "{log}");

    // Neither attempt used the code up.
    let client = WechatClient::new(&stub.config()).unwrap();
    assert_eq!(
        client.code_to_session(&code).await.unwrap().openid,
        "oUser-9"
    );
}

#[tokio::test]
async fn an_unreachable_wechat_is_upstream_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let stub = WechatStub::start().await;
    let mut config = stub.config();
    config.api_base = format!("http://{addr}");
    let client = WechatClient::new(&config).unwrap();
    let err = client.code_to_session("0abc").await.unwrap_err();
    let (code_str, log) = code_and_log(&err);
    assert_eq!(code_str, "UPSTREAM_UNAVAILABLE");
    assert!(
        !log.contains(&stub.secret) && !log.contains("0abc"),
        "{log}"
    );
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let (stub, client) = setup().await;
    let code = stub.issue_code_with_unionid("oSecretOpenid", "uSecretUnion");
    let id = client.code_to_session(&code).await.unwrap();
    let shown = format!("{id:?} {client:?}");
    for hidden in [
        SESSION_KEY_PREFIX,
        stub.secret.as_str(),
        "oSecretOpenid",
        "uSecretUnion",
    ] {
        assert!(!shown.contains(hidden), "{hidden} in {shown}");
    }
}

#[tokio::test]
async fn the_stub_stops_when_dropped() {
    let stub = WechatStub::start().await;
    let config = stub.config();
    drop(stub);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = WechatClient::new(&config)
        .unwrap()
        .code_to_session("0abc")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
}
