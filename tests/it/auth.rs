//! Staff login, tokens, refresh rotation, logout, lockout, and immediate effect of
//! deactivation and role/region changes.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp, error_code};

const ME: &str = "{ me { id name role region { code level } } }";
const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken expiresAt viewer { role } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }";

async fn login_and_me(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app
        .graphql(
            LOGIN,
            json!({ "u": "demo-admin", "p": gridwatch::seed::DEMO_PASSWORD }),
        )
        .await;
    let p = &body["data"]["login"];
    assert_eq!(p["viewer"]["role"], "COUNTY_ADMIN", "{body}");
    let exp = chrono::DateTime::parse_from_rfc3339(p["expiresAt"].as_str().unwrap()).unwrap();
    let ttl = exp.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((1..=900).contains(&ttl), "access token lives {ttl} s");
    let me = app.gql(p["accessToken"].as_str(), ME, json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "COUNTY_ADMIN");
    assert_eq!(me["data"]["me"]["region"]["code"], "140521");
    // Username is case-insensitive.
    app.login("DEMO-SUP-140521100").await;
    // Anonymous `me` is UNAUTHENTICATED.
    assert_eq!(
        error_code(&app.gql(None, ME, json!({})).await),
        "UNAUTHENTICATED"
    );
}
both!(login_and_me_works, login_and_me);

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let wrong = app
        .graphql(LOGIN, json!({ "u": "demo-admin", "p": "Wrong-password-1" }))
        .await;
    let unknown = app
        .graphql(
            LOGIN,
            json!({ "u": "nobody-here", "p": "Wrong-password-1" }),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert!(
        wrong["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("用户名或密码错误")
    );
}
both!(
    login_failures_are_indistinguishable,
    wrong_password_and_unknown_user_look_the_same
);

async fn repeated_failures_lock_the_username(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..5 {
        let b = app
            .graphql(
                LOGIN,
                json!({ "u": "demo-sup-140521101", "p": "Wrong-password-1" }),
            )
            .await;
        assert_eq!(error_code(&b), "UNAUTHENTICATED");
    }
    // Locked now, even with the right password; other users are unaffected.
    let b = app
        .graphql(
            LOGIN,
            json!({ "u": "demo-sup-140521101", "p": gridwatch::seed::DEMO_PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&b), "RATE_LIMITED", "{b}");
    assert!(b["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap() > 0);
    app.login("demo-sup-140521102").await;
    // Unknown usernames lock the same way (no way to tell which exist).
    for _ in 0..5 {
        app.graphql(LOGIN, json!({ "u": "ghost-user", "p": "Wrong-password-1" }))
            .await;
    }
    let b = app
        .graphql(LOGIN, json!({ "u": "ghost-user", "p": "Wrong-password-1" }))
        .await;
    assert_eq!(error_code(&b), "RATE_LIMITED");
    // An admin's password reset lifts the lock.
    let (admin, _) = app.login("demo-admin").await;
    let users = app
        .gql(
            Some(&admin),
            "{ users(filter: { text: \"demo-sup-140521101\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = users["data"]["users"]["edges"][0]["node"]["id"].clone();
    let r = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { resetPassword(id: $id, password: \"New-pass-2026\") }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["data"]["resetPassword"], true, "{r}");
    app.login_with("demo-sup-140521101", "New-pass-2026").await;
}
both!(lockout, repeated_failures_lock_the_username);

fn forge(claims: Value, key: &[u8], alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(key).unwrap(),
    )
    .unwrap()
}

async fn bad_tokens_are_unauthenticated(backend: Backend) {
    use base64::Engine as _;
    let app = TestApp::spawn(backend).await;
    let (good, refresh) = app.login("demo-admin").await;
    assert!(app.gql(Some(&good), ME, json!({})).await["data"]["me"].is_object());
    let user_id = app.gql(Some(&good), ME, json!({})).await["data"]["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let dev_key = b"gridwatch-development-only-jwt-key-not-secret";
    let claims = |iss: &str, aud: &str, nbf: i64, exp: i64| json!({ "sub": format!("user:{user_id}"), "iss": iss, "aud": aud, "nbf": nbf, "exp": exp, "iat": now, "typ": "access" });
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT" })),
        b64(claims("gridwatch", "gridwatch-api", now, now + 600))
    );
    // Sanity: a token we forge with the right key and claims is accepted.
    let forged_ok = forge(
        claims("gridwatch", "gridwatch-api", now, now + 600),
        dev_key,
        Algorithm::HS256,
    );
    assert!(app.gql(Some(&forged_ok), ME, json!({})).await["data"]["me"].is_object());
    let bad = [
        ("alg none", alg_none),
        (
            "another key",
            forge(
                claims("gridwatch", "gridwatch-api", now, now + 600),
                b"another-key-entirely-0123456789abc",
                Algorithm::HS256,
            ),
        ),
        (
            "HS512 with the right key",
            forge(
                claims("gridwatch", "gridwatch-api", now, now + 600),
                dev_key,
                Algorithm::HS512,
            ),
        ),
        (
            "wrong aud",
            forge(
                claims("gridwatch", "someone-else", now, now + 600),
                dev_key,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong iss",
            forge(
                claims("evil", "gridwatch-api", now, now + 600),
                dev_key,
                Algorithm::HS256,
            ),
        ),
        (
            "expired",
            forge(
                claims("gridwatch", "gridwatch-api", now - 3600, now - 120),
                dev_key,
                Algorithm::HS256,
            ),
        ),
        (
            "not yet valid",
            forge(
                claims("gridwatch", "gridwatch-api", now + 300, now + 900),
                dev_key,
                Algorithm::HS256,
            ),
        ),
        (
            "missing aud",
            forge(
                json!({ "sub": format!("user:{user_id}"), "iss": "gridwatch", "nbf": now, "exp": now + 600, "typ": "access" }),
                dev_key,
                Algorithm::HS256,
            ),
        ),
        ("refresh token as access token", refresh.clone()),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (label, token) in bad {
        let b = app.gql(Some(&token), ME, json!({})).await;
        assert_eq!(error_code(&b), "UNAUTHENTICATED", "{label}: {b}");
    }
    // A bad token does not block public operations such as locate or login.
    let b = app
        .gql(Some("garbage"), "{ categories { code } }", json!({}))
        .await;
    assert!(b.get("errors").is_none(), "{b}");
}
both!(bad_tokens, bad_tokens_are_unauthenticated);

async fn refresh_rotation_and_reuse_detection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, r1) = app.login("demo-sup-140521100").await;
    let b = app.graphql(REFRESH, json!({ "t": r1 })).await;
    let r2 = b["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = b["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    assert!(app.gql(Some(&a2), ME, json!({})).await["data"]["me"].is_object());
    // r1 again: a replay. The whole family dies, r2 included.
    assert_eq!(
        error_code(&app.graphql(REFRESH, json!({ "t": r1 })).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.graphql(REFRESH, json!({ "t": r2 })).await),
        "UNAUTHENTICATED"
    );
    // Another session of the same user is untouched.
    let (_, other) = app.login("demo-sup-140521100").await;
    assert!(
        app.graphql(REFRESH, json!({ "t": other }))
            .await
            .get("errors")
            .is_none()
    );
    // Garbage refresh tokens.
    assert_eq!(
        error_code(&app.graphql(REFRESH, json!({ "t": "rt_nope" })).await),
        "UNAUTHENTICATED"
    );
}
both!(refresh_rotation, refresh_rotation_and_reuse_detection);

async fn concurrent_refresh_lets_one_win(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, r) = app.login("demo-sup-140521100").await;
    let futs = (0..8).map(|_| app.graphql(REFRESH, json!({ "t": r })));
    let results = futures_util::future::join_all(futs).await;
    let ok = results.iter().filter(|b| b.get("errors").is_none()).count();
    assert!(ok <= 1, "{ok} concurrent refreshes succeeded");
}
both!(concurrent_refresh, concurrent_refresh_lets_one_win);

async fn logout_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, r) = app.login("demo-admin").await;
    let b = app
        .graphql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": r }),
        )
        .await;
    assert_eq!(b["data"]["logout"], true);
    assert_eq!(
        error_code(&app.graphql(REFRESH, json!({ "t": r })).await),
        "UNAUTHENTICATED"
    );
    // Logging out twice is fine.
    let b = app
        .graphql(
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({ "t": r }),
        )
        .await;
    assert_eq!(b["data"]["logout"], true);
}
both!(logout, logout_ends_the_session);

async fn deactivation_and_region_change_apply_on_the_next_request(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let (insp, insp_refresh) = app.login("demo-insp-140521100201").await;
    let me = app.gql(Some(&insp), ME, json!({})).await;
    assert_eq!(me["data"]["me"]["region"]["code"], "140521100201");
    let id = me["data"]["me"]["id"].clone();
    let other_village = app.region_id("140521100202").to_string();
    let b = app
        .gql(
            Some(&admin),
            "mutation($id: ID!, $r: ID!) { updateUser(id: $id, input: { regionId: $r }) { region { code } } }",
            json!({ "id": id, "r": other_village }),
        )
        .await;
    assert_eq!(
        b["data"]["updateUser"]["region"]["code"], "140521100202",
        "{b}"
    );
    let me = app.gql(Some(&insp), ME, json!({})).await;
    assert_eq!(
        me["data"]["me"]["region"]["code"], "140521100202",
        "same token, new region"
    );
    let b = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { deactivateUser(id: $id) { active } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(b["data"]["deactivateUser"]["active"], false, "{b}");
    assert_eq!(
        error_code(&app.gql(Some(&insp), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        error_code(&app.graphql(REFRESH, json!({ "t": insp_refresh })).await),
        "UNAUTHENTICATED"
    );
    let b = app
        .graphql(
            LOGIN,
            json!({ "u": "demo-insp-140521100201", "p": gridwatch::seed::DEMO_PASSWORD }),
        )
        .await;
    assert_eq!(error_code(&b), "UNAUTHENTICATED");
}
both!(
    changes_apply_immediately,
    deactivation_and_region_change_apply_on_the_next_request
);

/// A server keeps accounts' viewer fields and the categories in memory only while it
/// hears of their changes (PostgreSQL): then a repeated page of tasks costs one
/// statement, and a change written by anyone else — here raw SQL
/// on another connection, as a DBA or a second process would — applies once its
/// notice arrives. On SQLite both are read on every request.
async fn accounts_and_categories_changed_elsewhere_apply(backend: Backend) {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use sea_orm::ConnectionTrait;

    use crate::helpers::cases::seed_case;

    let app = TestApp::spawn(backend).await;
    app.wait_for_cache(backend).await;
    seed_case(&app, "140521100201", "ASSIGNED").await;
    let (insp, _) = app.login("demo-insp-140521100201").await;
    const TASKS: &str = "{ myTasks(first: 5) { edges { node { id category { code name } } } } }";
    let statements = || app.state.sql_statements.load(Ordering::SeqCst);
    let before = statements();
    let first = app.gql(Some(&insp), TASKS, json!({})).await;
    let (middle, second) = (statements(), app.gql(Some(&insp), TASKS, json!({})).await);
    let after = statements();
    assert_eq!(first, second);
    let node = &second["data"]["myTasks"]["edges"][0]["node"];
    assert_eq!(node["category"]["code"], "DUST", "{second}");
    let (cold, warm) = (middle - before, after - middle);
    // The viewer, the page, its categories; only the page once they are kept.
    match backend {
        Backend::Postgres => assert_eq!((cold, warm), (cold, 1), "viewer and categories kept"),
        Backend::Sqlite => assert_eq!((cold, warm), (3, 3), "nothing kept without notices"),
    }

    // Another connection renames the category and deactivates the account.
    let run = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            let n = db.execute_unprepared(sql).await.unwrap().rows_affected();
            assert_eq!(n, 1, "{sql}");
        }
    };
    run("UPDATE category SET name = '扬尘（改名）' WHERE code = 'DUST'").await;
    let mut seen = Value::Null;
    for _ in 0..100 {
        seen = app.gql(Some(&insp), TASKS, json!({})).await;
        if seen["data"]["myTasks"]["edges"][0]["node"]["category"]["name"] == "扬尘（改名）" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen["data"]["myTasks"]["edges"][0]["node"]["category"]["name"], "扬尘（改名）",
        "the rename never reached the server: {seen}"
    );
    run("UPDATE app_user SET active = false WHERE username = 'demo-insp-140521100201'").await;
    let mut code = String::new();
    for _ in 0..100 {
        let b = app.gql(Some(&insp), TASKS, json!({})).await;
        code = b["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if code == "UNAUTHENTICATED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        code, "UNAUTHENTICATED",
        "the deactivation never reached the server"
    );
}
both!(
    changes_elsewhere_apply,
    accounts_and_categories_changed_elsewhere_apply
);

async fn user_management_validates_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let village = app.region_id("140521100201").to_string();
    let township = app.region_id("140521100").to_string();
    let create = "mutation($i: CreateUserInput!) { createUser(input: $i) { id username role phone region { code } } }";
    let ok = app
        .gql(Some(&admin), create, json!({ "i": { "username": "Zhang.San", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": village, "name": "张三", "phone": "+86 138-0013-8000" } }))
        .await;
    let u = &ok["data"]["createUser"];
    assert_eq!(u["username"], "zhang.san", "{ok}");
    assert_eq!(u["phone"], "*******8000");
    let table = [
        (
            "duplicate username",
            json!({ "username": "zhang.san", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": village }),
            "CONFLICT",
        ),
        (
            "weak password",
            json!({ "username": "li.si", "password": "short", "role": "INSPECTOR", "regionId": village }),
            "BAD_INPUT",
        ),
        (
            "role/level mismatch",
            json!({ "username": "li.si", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": township }),
            "BAD_INPUT",
        ),
        (
            "bad username",
            json!({ "username": "李四", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": village }),
            "BAD_INPUT",
        ),
        (
            "bad phone",
            json!({ "username": "li.si", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": village, "phone": "12345" }),
            "BAD_INPUT",
        ),
        (
            "PUBLIC is not a staff role",
            json!({ "username": "li.si", "password": "Grid-2026-pass", "role": "PUBLIC", "regionId": village }),
            "BAD_INPUT",
        ),
        (
            "unknown region",
            json!({ "username": "li.si", "password": "Grid-2026-pass", "role": "INSPECTOR", "regionId": "99999999" }),
            "NOT_FOUND",
        ),
    ];
    for (label, input, code) in table {
        let b = app.gql(Some(&admin), create, json!({ "i": input })).await;
        assert_eq!(error_code(&b), code, "{label}: {b}");
    }
    // A supervisor cannot create another supervisor, even in their own township.
    let b = app
        .gql(Some(&sup), create, json!({ "i": { "username": "wang.wu", "password": "Grid-2026-pass", "role": "TOWNSHIP_SUPERVISOR", "regionId": township } }))
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // Paging: first is capped, cursors are opaque and checked.
    let b = app
        .gql(
            Some(&admin),
            "{ users(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    let b = app
        .gql(
            Some(&admin),
            "{ users(after: \"bogus\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&b), "BAD_INPUT");
    let p1 = app.gql(Some(&admin), "{ users(first: 2) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }", json!({})).await;
    assert_eq!(p1["data"]["users"]["pageInfo"]["hasNextPage"], true, "{p1}");
    let cursor = p1["data"]["users"]["pageInfo"]["endCursor"].clone();
    let p2 = app
        .gql(
            Some(&admin),
            "query($c: String) { users(first: 2, after: $c) { edges { node { id } } } }",
            json!({ "c": cursor }),
        )
        .await;
    let first_ids: Vec<&Value> = p1["data"]["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    for e in p2["data"]["users"]["edges"].as_array().unwrap() {
        assert!(
            !first_ids.contains(&&e["node"]["id"]),
            "page 2 repeats page 1"
        );
    }
}
both!(user_management_input, user_management_validates_input);
