//! A local stand-in for WeChat's `GET /sns/jscode2session`, following the documented
//! contract: `{"openid","session_key","unionid"?}` on success, `{"errcode","errmsg"}`
//! on failure, always HTTP 200 with `Content-Type: text/plain` like the real service.
//!
//! Codes are issued by the test (`issue_code`) and work once. `fail_next` queues
//! failures (`-1` busy, `45011` frequency limit, `40226` high-risk user, …) answered to
//! otherwise valid calls without using up the code, as a real retry would see.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use gridwatch::config::WechatConfig;
use secrecy::SecretString;
use serde_json::{Value, json};

/// Every `session_key` the stub hands out starts with this, so tests can make sure it
/// never shows up anywhere.
pub const SESSION_KEY_PREFIX: &str = "SESSIONKEY-";

/// A running stand-in; stops when dropped.
pub struct WechatStub {
    /// Base URL to configure as `wechat.api_base`.
    pub base_url: String,
    /// The AppID it accepts.
    pub appid: String,
    /// The AppSecret it accepts. It contains `&`, `=`, `+`, `%` and `/` on purpose, so
    /// every test also checks that the client URL-encodes its query.
    pub secret: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    calls: AtomicUsize,
    serial: AtomicU64,
    state: Mutex<StubState>,
}

#[derive(Default)]
struct StubState {
    codes: HashMap<String, Issued>,
    failures: VecDeque<i64>,
    delay: Duration,
}

struct Issued {
    openid: String,
    unionid: Option<String>,
    used: bool,
}

impl WechatStub {
    /// Starts a stand-in on `127.0.0.1` and a free port.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let tag: u32 = rand::random();
        let appid = format!("wxstub{tag:08x}");
        let secret = format!("s3&c=r+e%t/{tag:08x}");
        let app = axum::Router::new()
            .route("/sns/jscode2session", get(jscode2session))
            .with_state(Ctx {
                shared: shared.clone(),
                appid: appid.clone(),
                secret: secret.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url: format!("http://{addr}"),
            appid,
            secret,
            shared,
            task,
        }
    }

    /// The `wechat` settings pointing at this stand-in (generous 2 s timeout).
    pub fn config(&self) -> WechatConfig {
        WechatConfig {
            api_base: self.base_url.clone(),
            appid: Some(self.appid.clone()),
            secret: Some(SecretString::from(self.secret.clone())),
            timeout_ms: 2_000,
        }
    }

    /// A fresh one-use login code for `openid`, as `wx.login()` would give the client.
    pub fn issue_code(&self, openid: &str) -> String {
        self.issue(openid, None)
    }

    /// Like [`WechatStub::issue_code`], for a user who also has a `unionid`.
    pub fn issue_code_with_unionid(&self, openid: &str, unionid: &str) -> String {
        self.issue(openid, Some(unionid))
    }

    fn issue(&self, openid: &str, unionid: Option<&str>) -> String {
        let n = self.shared.serial.fetch_add(1, Ordering::Relaxed);
        let code = format!("0{n:04}{:027x}", rand::random::<u128>() >> 20);
        self.shared.state.lock().unwrap().codes.insert(
            code.clone(),
            Issued {
                openid: openid.to_owned(),
                unionid: unionid.map(str::to_owned),
                used: false,
            },
        );
        code
    }

    /// The next `times` valid calls answer `errcode` instead (the code stays unused).
    pub fn fail_next(&self, errcode: i64, times: usize) {
        let mut state = self.shared.state.lock().unwrap();
        state.failures.extend(std::iter::repeat_n(errcode, times));
    }

    /// Every later call waits this long before answering (zero to stop).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state.lock().unwrap().delay = delay;
    }

    /// How many calls reached the stand-in so far.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }
}

impl Drop for WechatStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    appid: String,
    secret: String,
}

/// WeChat's wording for the codes the stand-in can answer.
fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        40002 => "invalid grant_type",
        40013 => "invalid appid",
        40029 => "invalid code",
        40125 => "invalid appsecret",
        40163 => "code been used",
        40226 => "high risk user",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41008 => "missing code",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        _ => "stub error",
    }
}

async fn jscode2session(
    State(ctx): State<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let n = ctx.shared.calls.fetch_add(1, Ordering::SeqCst);
    let delay = ctx.shared.state.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let body = answer(&ctx, &q, n);
    ([(header::CONTENT_TYPE, "text/plain")], body.to_string())
}

fn answer(ctx: &Ctx, q: &HashMap<String, String>, n: usize) -> Value {
    let fail = |errcode: i64| json!({ "errcode": errcode, "errmsg": format!("{}, rid: stub-{n}", errmsg(errcode)) });
    if q.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return fail(40002);
    }
    match q.get("appid") {
        None => return fail(41002),
        Some(a) if *a != ctx.appid => return fail(40013),
        _ => {}
    }
    match q.get("secret") {
        None => return fail(41004),
        Some(s) if *s != ctx.secret => return fail(40125),
        _ => {}
    }
    let Some(code) = q.get("js_code") else {
        return fail(41008);
    };
    let mut state = ctx.shared.state.lock().unwrap();
    if let Some(errcode) = state.failures.pop_front() {
        return fail(errcode);
    }
    let Some(issued) = state.codes.get_mut(code) else {
        return fail(40029);
    };
    if issued.used {
        return fail(40163);
    }
    issued.used = true;
    let mut body = json!({
        "session_key": format!("{SESSION_KEY_PREFIX}{n:04}AbCdEfGhIjKlMnOp=="),
        "openid": issued.openid,
    });
    if let Some(unionid) = &issued.unionid {
        body["unionid"] = json!(unionid);
    }
    body
}
