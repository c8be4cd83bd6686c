//! A local stand-in for the WeChat server APIs the backend calls, following the
//! documented contract (`/work/shared/recipes/wechat-server-api.md`):
//!
//! - `GET /sns/jscode2session`: `{"openid","session_key","unionid"?}` on success,
//!   `{"errcode","errmsg"}` on failure, always HTTP 200 with `Content-Type: text/plain`
//!   like the real service. Codes are issued by the test (`issue_code`) and work once.
//!   `fail_next` queues failures (`-1` busy, `45011` frequency limit, `40226` high-risk
//!   user, …) answered to otherwise valid calls without using up the code, as a real
//!   retry would see.
//! - `POST /cgi-bin/stable_token`: stable access tokens (normal mode and
//!   `force_refresh`), with a configurable lifetime and [`WechatStub::invalidate_tokens`].
//! - `POST /cgi-bin/message/subscribe/send`: subscribe messages against templates and
//!   one-time grants registered by the test; successful sends are recorded.
//! - `POST /wxa/msg_sec_check`: content security check v2 with a word-list verdict;
//!   checks are recorded.
//!
//! The three `POST` endpoints answer HTTP 200 with `Content-Type: application/json`,
//! errors as `{"errcode":N,"errmsg":"<wording>, rid: stub-<n>"}`, and never panic on
//! malformed input. `set_delay` applies to every endpoint, `calls` counts them all.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{Method, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use gridwatch::config::WechatConfig;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

/// Every `session_key` the stub hands out starts with this, so tests can make sure it
/// never shows up anywhere.
pub const SESSION_KEY_PREFIX: &str = "SESSIONKEY-";

/// Default lifetime of a stable access token, as WeChat documents it.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(7200);
/// In normal mode a token is renewed when a call comes in its last 5 minutes.
const RENEW_WINDOW: Duration = Duration::from_secs(300);
/// Longest token lifetime the stub accepts (keeps `Instant` arithmetic in range).
const MAX_TOKEN_TTL_SECS: u64 = 10 * 365 * 24 * 3600;
/// Longest `content` `msg_sec_check` accepts, in characters.
const MAX_CHECK_CONTENT_CHARS: usize = 2500;
/// Longest `page` `subscribe/send` accepts, in characters.
const MAX_PAGE_CHARS: usize = 1024;

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
    token_calls: AtomicUsize,
    send_calls: AtomicUsize,
    check_calls: AtomicUsize,
    serial: AtomicU64,
    state: Mutex<StubState>,
}

#[derive(Default)]
struct StubState {
    codes: HashMap<String, Issued>,
    failures: VecDeque<i64>,
    delay: Duration,
    /// Every access token issued so far.
    tokens: HashMap<String, Token>,
    /// The latest token, handed out again in normal mode while it has life left.
    current_token: Option<String>,
    /// Lifetime of tokens issued from now on (`None`: [`DEFAULT_TOKEN_TTL`]).
    token_ttl: Option<Duration>,
    /// Template id → its data keys (`thing1`, `time2`, …).
    templates: HashMap<String, Vec<String>>,
    /// (openid, template id) → one-time grants left.
    grants: HashMap<(String, String), u64>,
    send_failures: VecDeque<i64>,
    sent: Vec<Value>,
    stale_openids: HashSet<String>,
    check_failures: VecDeque<i64>,
    checks: Vec<Value>,
    risky_words: Vec<String>,
    review_words: Vec<String>,
}

struct Issued {
    openid: String,
    unionid: Option<String>,
    used: bool,
}

struct Token {
    expires: Instant,
    revoked: bool,
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
            .route("/cgi-bin/stable_token", any(stable_token))
            .route("/cgi-bin/message/subscribe/send", any(subscribe_send))
            .route("/wxa/msg_sec_check", any(msg_sec_check))
            .layer(DefaultBodyLimit::disable())
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

    /// The `wechat` settings pointing at this stand-in (generous 2 s timeout; every other
    /// setting at its default).
    pub fn config(&self) -> WechatConfig {
        WechatConfig {
            api_base: self.base_url.clone(),
            appid: Some(self.appid.clone()),
            secret: Some(SecretString::from(self.secret.clone())),
            timeout_ms: 2_000,
            ..WechatConfig::default()
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

    /// The next `times` valid `jscode2session` calls answer `errcode` instead (the code
    /// stays unused).
    pub fn fail_next(&self, errcode: i64, times: usize) {
        let mut state = self.shared.state.lock().unwrap();
        state.failures.extend(std::iter::repeat_n(errcode, times));
    }

    /// Every later call, to any endpoint, waits this long before answering (zero to
    /// stop).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.state.lock().unwrap().delay = delay;
    }

    /// How many calls reached the stand-in so far, all endpoints together.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Lifetime in seconds of access tokens issued from now on (default 7200). Tokens
    /// already issued keep theirs. With 300 s or less every normal-mode call gets a new
    /// token, since a token is then always in its renewal window.
    pub fn set_token_ttl(&self, secs: u64) {
        let ttl = Duration::from_secs(secs.min(MAX_TOKEN_TTL_SECS));
        self.shared.state.lock().unwrap().token_ttl = Some(ttl);
    }

    /// Every access token issued so far becomes invalid (`40001`), as if rotated
    /// elsewhere; the next `stable_token` call issues a fresh one even in normal mode.
    pub fn invalidate_tokens(&self) {
        let mut state = self.shared.state.lock().unwrap();
        for token in state.tokens.values_mut() {
            token.revoked = true;
        }
        state.current_token = None;
    }

    /// How many calls reached `POST /cgi-bin/stable_token` so far, failed ones included.
    pub fn token_calls(&self) -> usize {
        self.shared.token_calls.load(Ordering::SeqCst)
    }

    /// Registers a subscribe-message template with its data keys (`thing1`, `time2`,
    /// `character_string3`, `phrase4`, …); the part before the trailing digits is the
    /// type whose limits apply. Registering an id again replaces its keys.
    pub fn add_template(&self, template_id: &str, keys: &[&str]) {
        let keys = keys.iter().map(|k| (*k).to_owned()).collect();
        let mut state = self.shared.state.lock().unwrap();
        state.templates.insert(template_id.to_owned(), keys);
    }

    /// Adds `n` one-time grants for `openid` and `template_id` (they pile up, like
    /// repeated `accept`s of `wx.requestSubscribeMessage`).
    pub fn grant(&self, openid: &str, template_id: &str, n: u32) {
        let mut state = self.shared.state.lock().unwrap();
        let left = state
            .grants
            .entry((openid.to_owned(), template_id.to_owned()))
            .or_default();
        *left = left.saturating_add(u64::from(n));
    }

    /// The next `times` otherwise valid sends (valid token and body) answer `errcode`
    /// instead, without using a grant.
    pub fn fail_next_send(&self, errcode: i64, times: usize) {
        let mut state = self.shared.state.lock().unwrap();
        state
            .send_failures
            .extend(std::iter::repeat_n(errcode, times));
    }

    /// The request bodies of the successful sends so far, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().sent.clone()
    }

    /// How many calls reached `POST /cgi-bin/message/subscribe/send` so far, failed
    /// ones included.
    pub fn send_calls(&self) -> usize {
        self.shared.send_calls.load(Ordering::SeqCst)
    }

    /// `msg_sec_check` answers `61010` "code is expired" for this openid (the user has
    /// not opened the app in the last 2 hours).
    pub fn stale_openid(&self, openid: &str) {
        let mut state = self.shared.state.lock().unwrap();
        state.stale_openids.insert(openid.to_owned());
    }

    /// The next `times` otherwise valid checks (valid token and body) answer `errcode`
    /// instead.
    pub fn fail_next_check(&self, errcode: i64, times: usize) {
        let mut state = self.shared.state.lock().unwrap();
        state
            .check_failures
            .extend(std::iter::repeat_n(errcode, times));
    }

    /// The words `msg_sec_check` reacts to: content containing a `risky` word gets
    /// `suggest: "risky"` (label 20006), else one containing a `review` word gets
    /// `"review"` (label 21000), else `"pass"` (label 100). Replaces earlier lists;
    /// empty words are ignored.
    pub fn set_words(&self, risky: &[&str], review: &[&str]) {
        let words = |list: &[&str]| -> Vec<String> {
            list.iter()
                .filter(|w| !w.is_empty())
                .map(|w| (*w).to_owned())
                .collect()
        };
        let mut state = self.shared.state.lock().unwrap();
        state.risky_words = words(risky);
        state.review_words = words(review);
    }

    /// The request bodies of the checks answered with a verdict so far, in order.
    pub fn checks(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().checks.clone()
    }

    /// How many calls reached `POST /wxa/msg_sec_check` so far, failed ones included.
    pub fn check_calls(&self) -> usize {
        self.shared.check_calls.load(Ordering::SeqCst)
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
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40029 => "invalid code",
        40037 => "invalid template_id",
        40125 => "invalid appsecret",
        40129 => "invalid scene",
        40163 => "code been used",
        40164 => "invalid ip, not in whitelist",
        40226 => "high risk user",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41008 => "missing code",
        41030 => "invalid page",
        42001 => "access_token expired",
        43002 => "require POST method",
        43101 => "user refuse to accept the msg",
        43104 => "appid not match openid",
        43107 => "subscribe message capability banned",
        43108 => "concurrent limit, please try again later",
        44002 => "empty post data",
        44991 => "api minute-quota reach limit",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        45168 => "keyword blocked",
        47001 => "data format error",
        47003 => "argument invalid!",
        61010 => "code is expired",
        _ => "stub error",
    }
}

/// `{"errcode","errmsg"}` with WeChat's wording for `errcode`.
fn fail(errcode: i64, n: usize) -> Value {
    fail_with(errcode, errmsg(errcode), n)
}

/// `{"errcode","errmsg"}` with a specific wording (`47003` names the field).
fn fail_with(errcode: i64, msg: &str, n: usize) -> Value {
    json!({ "errcode": errcode, "errmsg": format!("{msg}, rid: stub-{n}") })
}

/// Counts a call (in `calls` and `counter`); returns the call's number, used in `rid`s
/// and `trace_id`s, and the configured delay. Handlers settle their answer first and
/// wait the delay after it, as a slow WeChat does: a call the client has given up on
/// then cannot take state (a queued failure, a login code) meant for a later call,
/// however long the test takes between the two.
fn begin(shared: &Shared, counter: Option<&AtomicUsize>) -> (usize, Duration) {
    let n = shared.calls.fetch_add(1, Ordering::SeqCst);
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    (n, shared.state.lock().unwrap().delay)
}

/// Waits a call's delay (see [`begin`]).
async fn slow(delay: Duration) {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

fn json_reply(body: &Value) -> impl IntoResponse + use<> {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// A POST body as a JSON object: `44002` if empty, `47001` if anything but an object.
fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, i64> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(44002);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(47001),
    }
}

/// A non-empty string field; `None` if missing, `null`, empty or not a string.
fn non_empty_str<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

async fn jscode2session(
    State(ctx): State<Ctx>,
    Query(q): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let (n, delay) = begin(&ctx.shared, None);
    let body = answer(&ctx, &q, n);
    slow(delay).await;
    ([(header::CONTENT_TYPE, "text/plain")], body.to_string())
}

fn answer(ctx: &Ctx, q: &HashMap<String, String>, n: usize) -> Value {
    let fail = |errcode: i64| fail(errcode, n);
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

async fn stable_token(State(ctx): State<Ctx>, method: Method, body: Bytes) -> impl IntoResponse {
    let (n, delay) = begin(&ctx.shared, Some(&ctx.shared.token_calls));
    let answer = token_answer(&ctx, &method, &body, n);
    slow(delay).await;
    json_reply(&answer)
}

fn token_answer(ctx: &Ctx, method: &Method, bytes: &[u8], n: usize) -> Value {
    if *method != Method::POST {
        return fail(43002, n);
    }
    let body = match parse_body(bytes) {
        Ok(body) => body,
        Err(errcode) => return fail(errcode, n),
    };
    if body.get("grant_type").and_then(Value::as_str) != Some("client_credential") {
        return fail(40002, n);
    }
    match body.get("appid") {
        None | Some(Value::Null) => return fail(41002, n),
        Some(Value::String(a)) if a.is_empty() => return fail(41002, n),
        Some(a) if a.as_str() != Some(ctx.appid.as_str()) => return fail(40013, n),
        _ => {}
    }
    match body.get("secret") {
        None | Some(Value::Null) => return fail(41004, n),
        Some(Value::String(s)) if s.is_empty() => return fail(41004, n),
        Some(s) if s.as_str() != Some(ctx.secret.as_str()) => return fail(40125, n),
        _ => {}
    }
    let force_refresh = body.get("force_refresh").and_then(Value::as_bool) == Some(true);
    let now = Instant::now();
    let mut state = ctx.shared.state.lock().unwrap();
    if force_refresh {
        for token in state.tokens.values_mut() {
            token.revoked = true;
        }
    } else if let Some(current) = state
        .current_token
        .as_ref()
        .and_then(|t| state.tokens.get(t))
        && !current.revoked
    {
        let left = current.expires.saturating_duration_since(now);
        if left > RENEW_WINDOW {
            let token = state.current_token.clone();
            return json!({ "access_token": token, "expires_in": left.as_secs() });
        }
    }
    let ttl = state.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL);
    let serial = ctx.shared.serial.fetch_add(1, Ordering::Relaxed);
    let mut token = format!("STUBTOKEN-{serial:06}-");
    while token.len() < 512 {
        token.push_str(&format!("{:032x}", rand::random::<u128>()));
    }
    let expires = now.checked_add(ttl).unwrap_or(now);
    state.tokens.insert(
        token.clone(),
        Token {
            expires,
            revoked: false,
        },
    );
    state.current_token = Some(token.clone());
    json!({ "access_token": token, "expires_in": ttl.as_secs() })
}

/// The `access_token` query parameter: `41001` missing, `40001` unknown or invalidated,
/// `42001` expired.
fn check_token(state: &StubState, q: &HashMap<String, String>) -> Result<(), i64> {
    let Some(token) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return Err(41001);
    };
    match state.tokens.get(token) {
        None => Err(40001),
        Some(t) if t.revoked => Err(40001),
        Some(t) if Instant::now() >= t.expires => Err(42001),
        Some(_) => Ok(()),
    }
}

async fn subscribe_send(
    State(ctx): State<Ctx>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> impl IntoResponse {
    let (n, delay) = begin(&ctx.shared, Some(&ctx.shared.send_calls));
    let answer = send_answer(&ctx, &method, &q, &body, n);
    slow(delay).await;
    json_reply(&answer)
}

fn send_answer(
    ctx: &Ctx,
    method: &Method,
    q: &HashMap<String, String>,
    bytes: &[u8],
    n: usize,
) -> Value {
    if *method != Method::POST {
        return fail(43002, n);
    }
    let mut guard = ctx.shared.state.lock().unwrap();
    let state = &mut *guard;
    if let Err(errcode) = check_token(state, q) {
        return fail(errcode, n);
    }
    let body = match parse_body(bytes) {
        Ok(body) => body,
        Err(errcode) => return fail(errcode, n),
    };
    let Some(touser) = non_empty_str(&body, "touser") else {
        return fail(40003, n);
    };
    let template_id = body.get("template_id").and_then(Value::as_str);
    let Some((template_id, keys)) = template_id.and_then(|t| state.templates.get_key_value(t))
    else {
        return fail(40037, n);
    };
    let Some(data) = body.get("data").and_then(Value::as_object) else {
        return fail_with(47003, "argument invalid! data is not an object", n);
    };
    for key in keys {
        let value = match data.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(item)) => match item.get("value") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(v) => Some(v),
            },
            Some(_) => Some(&Value::Null),
        };
        let Some(value) = value else {
            let msg = format!("argument invalid! data.{key}.value is empty");
            return fail_with(47003, &msg, n);
        };
        if !value.as_str().is_some_and(|v| value_fits(key, v)) {
            let msg = format!("argument invalid! data.{key}.value invalid");
            return fail_with(47003, &msg, n);
        }
    }
    match body.get("page") {
        None | Some(Value::Null) => {}
        Some(Value::String(page))
            if !page.starts_with('/') && page.chars().count() <= MAX_PAGE_CHARS => {}
        Some(_) => return fail(41030, n),
    }
    let allowed = |key: &str, values: &[&str]| match body.get(key) {
        None | Some(Value::Null) => true,
        Some(v) => v.as_str().is_some_and(|v| values.contains(&v)),
    };
    if !allowed("miniprogram_state", &["developer", "trial", "formal"]) {
        return fail_with(47003, "argument invalid! miniprogram_state invalid", n);
    }
    if !allowed("lang", &["zh_CN", "en_US", "zh_HK", "zh_TW"]) {
        return fail_with(47003, "argument invalid! lang invalid", n);
    }
    if let Some(errcode) = state.send_failures.pop_front() {
        return fail(errcode, n);
    }
    let grant_key = (touser.to_owned(), template_id.clone());
    match state.grants.get_mut(&grant_key) {
        Some(left) if *left > 0 => *left -= 1,
        _ => return fail(43101, n),
    }
    state.sent.push(Value::Object(body));
    json!({ "errcode": 0, "errmsg": "ok" })
}

/// Whether a subscribe-message value (non-empty) fits the limits of its key's type
/// (the key without its trailing digits). Lengths count characters, not bytes.
fn value_fits(key: &str, value: &str) -> bool {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let len = value.chars().count();
    let all = |f: fn(char) -> bool| value.chars().all(f);
    match kind {
        "thing" => len <= 20,
        "number" => len <= 32 && all(|c| c.is_ascii_digit() || c == '.'),
        "letter" => len <= 32 && all(|c| c.is_ascii_alphabetic()),
        "symbol" => len <= 5 && all(|c| c.is_ascii_punctuation()),
        "character_string" => {
            len <= 32 && all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        }
        "phone_number" => len <= 17 && all(|c| c.is_ascii_digit() || c.is_ascii_punctuation()),
        "car_number" => len <= 8,
        "name" if value.chars().any(is_cjk) => len <= 10,
        "name" => len <= 20,
        "phrase" => len <= 5 && all(is_cjk),
        "time" | "date" => len <= 40,
        // amount, enum and unknown types: any non-empty value.
        _ => true,
    }
}

/// A CJK Unified Ideograph (the main block and extensions A–H).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{323AF}')
}

async fn msg_sec_check(
    State(ctx): State<Ctx>,
    method: Method,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> impl IntoResponse {
    let (n, delay) = begin(&ctx.shared, Some(&ctx.shared.check_calls));
    let answer = check_answer(&ctx, &method, &q, &body, n);
    slow(delay).await;
    json_reply(&answer)
}

fn check_answer(
    ctx: &Ctx,
    method: &Method,
    q: &HashMap<String, String>,
    bytes: &[u8],
    n: usize,
) -> Value {
    if *method != Method::POST {
        return fail(43002, n);
    }
    let mut guard = ctx.shared.state.lock().unwrap();
    let state = &mut *guard;
    if let Err(errcode) = check_token(state, q) {
        return fail(errcode, n);
    }
    let body = match parse_body(bytes) {
        Ok(body) => body,
        Err(errcode) => return fail(errcode, n),
    };
    if body.get("version").and_then(Value::as_i64) != Some(2) {
        return fail(47001, n);
    }
    if !body
        .get("scene")
        .and_then(Value::as_i64)
        .is_some_and(|s| (1..=4).contains(&s))
    {
        return fail(40129, n);
    }
    let Some(openid) = non_empty_str(&body, "openid") else {
        return fail(40003, n);
    };
    let content = match body.get("content") {
        None | Some(Value::Null) => return fail(44002, n),
        Some(Value::String(c)) if c.is_empty() => return fail(44002, n),
        Some(Value::String(c)) if c.chars().count() <= MAX_CHECK_CONTENT_CHARS => c,
        Some(_) => return fail(47001, n),
    };
    if let Some(errcode) = state.check_failures.pop_front() {
        return fail(errcode, n);
    }
    if state.stale_openids.contains(openid) {
        return fail(61010, n);
    }
    let found = |words: &[String]| words.iter().find(|w| content.contains(w.as_str())).cloned();
    let (suggest, label, keyword) = if let Some(word) = found(&state.risky_words) {
        ("risky", 20006, Some(word))
    } else if let Some(word) = found(&state.review_words) {
        ("review", 21000, Some(word))
    } else {
        ("pass", 100, None)
    };
    let mut keyword_detail = json!({
        "strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label, "prob": 90,
    });
    if let Some(word) = keyword {
        keyword_detail["keyword"] = json!(word);
    }
    let answer = json!({
        "errcode": 0,
        "errmsg": "ok",
        "trace_id": format!("stub-{n}"),
        "result": { "suggest": suggest, "label": label },
        "detail": [
            keyword_detail,
            {
                "strategy": "content_model", "errcode": 0, "suggest": suggest,
                "label": label, "prob": 90,
            },
        ],
    });
    state.checks.push(Value::Object(body));
    answer
}
