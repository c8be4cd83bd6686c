//! The WeChat mini-program login: trades the one-use `code` from `wx.login()` for the
//! user's openid through `jscode2session`.
//!
//! WeChat answers `{"openid", "session_key", "unionid"?}` on success and
//! `{"errcode": N, "errmsg": "…"}` on failure, often as `text/plain`, so the body is
//! parsed as JSON whatever the content type. The `session_key` is never deserialized:
//! gridwatch does not decrypt WeChat's encrypted user data, so it has no use for it and
//! it never reaches memory we own, a log or the database. The code, the openid and the
//! AppSecret are never logged either, and transport errors are stripped of the request
//! URL (which carries the secret and the code in its query) before they can be.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::WechatConfig;
use crate::error::{AppError, Msg};

/// The longest login `code` accepted; WeChat's are 32 characters.
pub const MAX_CODE_LEN: usize = 128;

/// The largest `jscode2session` answer read; real ones are about 150 bytes.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The wait before the single retry after "system busy" (`errcode -1`).
const BUSY_BACKOFF: Duration = Duration::from_millis(200);

/// How long a user is told to wait after WeChat's frequency limit (`errcode 45011`).
const RATE_LIMIT_RETRY_SECS: u64 = 60;

/// Who a WeChat user is, as far as gridwatch needs to know.
///
/// `Debug` hides both ids: they are personal data and must not reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    /// The user's id within this mini-program.
    pub openid: String,
    /// The user's id across the operator's WeChat apps, when the mini-program is bound
    /// to an Open Platform account.
    pub unionid: Option<String>,
}

impl fmt::Debug for WechatIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatIdentity")
            .field("openid", &"<redacted>")
            .field("unionid", &self.unionid.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A client of WeChat's `jscode2session`, built once at start-up and shared.
#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    appid: Option<String>,
    secret: Option<SecretString>,
    timeout: Duration,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("appid", &self.appid)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WechatClient {
    /// A client for the configured WeChat API. A missing AppID or AppSecret is not an
    /// error here (development runs without WeChat); logins then fail with
    /// `UPSTREAM_UNAVAILABLE` and a log line naming the missing setting.
    pub fn new(cfg: &WechatConfig) -> anyhow::Result<Self> {
        if cfg.timeout_ms == 0 {
            bail!("`wechat.timeout_ms` (GRIDWATCH__WECHAT__TIMEOUT_MS): must be at least 1");
        }
        let base = cfg.api_base.trim().trim_end_matches('/');
        let endpoint = reqwest::Url::parse(&format!("{base}/sns/jscode2session"))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .with_context(|| {
                format!(
                    "`wechat.api_base` (GRIDWATCH__WECHAT__API_BASE): not an http(s) URL: `{}`",
                    cfg.api_base
                )
            })?;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // WeChat never redirects; following one would only widen what can go wrong.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gridwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the WeChat HTTP client")?;
        let appid = cfg
            .appid
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let secret = cfg
            .secret
            .clone()
            .filter(|s| !s.expose_secret().trim().is_empty());
        let client = Self {
            http,
            endpoint,
            appid,
            secret,
            timeout,
        };
        if let Some(missing) = client.missing_setting() {
            tracing::warn!(
                setting = missing,
                "WeChat login disabled until {missing} is set"
            );
        }
        Ok(client)
    }

    /// Trades a mini-program login `code` (one use, about five minutes) for the user's
    /// identity.
    ///
    /// Errors: `BAD_INPUT` for an empty, overlong or non-printable code (WeChat is not
    /// called); `UNAUTHENTICATED` for a code WeChat does not know or that was already
    /// used; `RATE_LIMITED` when WeChat throttles the user; `FORBIDDEN` for a user WeChat
    /// flags as high-risk; `UPSTREAM_UNAVAILABLE` when WeChat is busy twice in a row,
    /// times out, answers something unreadable or rejects our AppID/AppSecret, or when
    /// those are not configured.
    pub async fn code_to_session(&self, code: &str) -> Result<WechatIdentity, AppError> {
        check_code(code)?;
        let (appid, secret) = match (&self.appid, &self.secret) {
            (Some(appid), Some(secret)) => (appid.as_str(), secret),
            _ => {
                let missing = self.missing_setting().unwrap_or("WeChat settings");
                tracing::error!(
                    setting = missing,
                    "WeChat login attempted but {missing} is not set"
                );
                return Err(AppError::UpstreamUnavailable(anyhow!(
                    "WeChat login is not configured: {missing} is not set"
                )));
            }
        };
        match self.attempt(appid, secret, code).await {
            Attempt::Done(result) => result,
            Attempt::Busy => {
                tracing::info!(wechat.errcode = -1, "WeChat busy; retrying once");
                tokio::time::sleep(BUSY_BACKOFF).await;
                match self.attempt(appid, secret, code).await {
                    Attempt::Done(result) => result,
                    Attempt::Busy => Err(AppError::UpstreamUnavailable(anyhow!(
                        "WeChat jscode2session: system busy (errcode -1) twice in a row"
                    ))),
                }
            }
        }
    }

    /// The environment variable of the first missing credential, if any.
    fn missing_setting(&self) -> Option<&'static str> {
        if self.appid.is_none() {
            Some("GRIDWATCH__WECHAT__APPID")
        } else if self.secret.is_none() {
            Some("GRIDWATCH__WECHAT__SECRET")
        } else {
            None
        }
    }

    async fn attempt(&self, appid: &str, secret: &SecretString, code: &str) -> Attempt {
        match self.fetch(appid, secret, code).await {
            Ok((status, body)) => classify(parse_reply(status, &body)),
            Err(e) => Attempt::Done(Err(AppError::UpstreamUnavailable(e))),
        }
    }

    /// One `GET jscode2session`: the status and the (size-capped) body.
    async fn fetch(
        &self,
        appid: &str,
        secret: &SecretString,
        code: &str,
    ) -> anyhow::Result<(reqwest::StatusCode, Vec<u8>)> {
        let mut resp = self
            .http
            .get(self.endpoint.clone())
            .query(&[
                ("appid", appid),
                ("secret", secret.expose_secret()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(transport_error)?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                bail!("WeChat jscode2session: answer larger than {MAX_BODY_BYTES} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// A transport error without its URL, whose query holds the AppSecret and the code.
fn transport_error(e: reqwest::Error) -> anyhow::Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    anyhow::Error::new(e.without_url()).context(format!("WeChat jscode2session: {what}"))
}

/// Rejects codes that cannot be WeChat's before spending a call on them.
fn check_code(code: &str) -> Result<(), AppError> {
    let ok = !code.is_empty()
        && code.chars().count() <= MAX_CODE_LEN
        && code.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            "INVALID_CODE",
            Msg::new(
                "微信登录凭证（code）无效，请重新调用 wx.login 获取",
                "invalid WeChat login code; call wx.login again",
            ),
        )
        .at("code"))
    }
}

/// What WeChat answered, as far as it could be read.
#[derive(Debug)]
enum Reply {
    /// A session: the user's identity.
    Session(WechatIdentity),
    /// A documented failure.
    Failure { errcode: i64, errmsg: String },
}

/// The fields gridwatch reads; `session_key` and anything else are skipped unread.
#[derive(Deserialize)]
struct RawReply {
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    unionid: Option<String>,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

/// Reads an answer whatever its content type. Error messages never quote the body.
fn parse_reply(status: reqwest::StatusCode, body: &[u8]) -> anyhow::Result<Reply> {
    if !status.is_success() {
        bail!("WeChat jscode2session: HTTP {status}");
    }
    let raw: RawReply = serde_json::from_slice(body).map_err(|e| {
        anyhow!(
            "WeChat jscode2session: unreadable answer ({:?} at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    match raw.errcode {
        Some(errcode) if errcode != 0 => {
            let errmsg: String = raw.errmsg.unwrap_or_default().chars().take(200).collect();
            Ok(Reply::Failure { errcode, errmsg })
        }
        _ => {
            let openid = raw
                .openid
                .filter(|o| !o.is_empty() && o.len() <= 128)
                .context("WeChat jscode2session: answer without errcode or openid")?;
            let unionid = raw.unionid.filter(|u| !u.is_empty());
            Ok(Reply::Session(WechatIdentity { openid, unionid }))
        }
    }
}

/// The outcome of one call: final, or "busy" (worth one retry).
enum Attempt {
    Done(Result<WechatIdentity, AppError>),
    Busy,
}

/// Maps WeChat's documented error codes onto ours.
fn classify(reply: anyhow::Result<Reply>) -> Attempt {
    let (errcode, errmsg) = match reply {
        Ok(Reply::Session(identity)) => return Attempt::Done(Ok(identity)),
        Ok(Reply::Failure { errcode, errmsg }) => (errcode, errmsg),
        Err(e) => return Attempt::Done(Err(AppError::UpstreamUnavailable(e))),
    };
    let err = match errcode {
        -1 => return Attempt::Busy,
        // 40029 invalid code, 40163 code been used: the client must log in again.
        40029 | 40163 => {
            tracing::info!(wechat.errcode = errcode, "WeChat rejected the login code");
            AppError::Unauthenticated
        }
        45011 => {
            tracing::info!(wechat.errcode = errcode, "WeChat frequency limit reached");
            AppError::RateLimited {
                retry_after_secs: RATE_LIMIT_RETRY_SECS,
            }
        }
        40226 => {
            tracing::info!(
                wechat.errcode = errcode,
                "WeChat flags the user as high-risk"
            );
            AppError::Forbidden
        }
        // 40013 invalid appid, 40125 invalid secret and anything undocumented: ours to fix.
        _ => AppError::UpstreamUnavailable(anyhow!(
            "WeChat jscode2session: errcode {errcode} ({errmsg})"
        )),
    };
    Attempt::Done(Err(err))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn outcome(status: u16, body: &str) -> Result<&'static str, &'static str> {
        let status = StatusCode::from_u16(status).unwrap();
        match classify(parse_reply(status, body.as_bytes())) {
            Attempt::Busy => Err("BUSY"),
            Attempt::Done(Ok(_)) => Ok("OK"),
            Attempt::Done(Err(e)) => Err(e.code()),
        }
    }

    #[test]
    fn answers_map_onto_our_errors() {
        let cases = [
            (200, r#"{"openid":"o1","session_key":"SK"}"#, Ok("OK")),
            (
                200,
                r#"{"openid":"o1","session_key":"SK","unionid":"u1"}"#,
                Ok("OK"),
            ),
            (
                200,
                r#"{"errcode":0,"errmsg":"ok","openid":"o1","session_key":"SK"}"#,
                Ok("OK"),
            ),
            (
                200,
                r#"{"errcode":-1,"errmsg":"system error"}"#,
                Err("BUSY"),
            ),
            (
                200,
                r#"{"errcode":40029,"errmsg":"invalid code"}"#,
                Err("UNAUTHENTICATED"),
            ),
            (
                200,
                r#"{"errcode":40163,"errmsg":"code been used"}"#,
                Err("UNAUTHENTICATED"),
            ),
            (
                200,
                r#"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#,
                Err("RATE_LIMITED"),
            ),
            (
                200,
                r#"{"errcode":40226,"errmsg":"high risk user"}"#,
                Err("FORBIDDEN"),
            ),
            (
                200,
                r#"{"errcode":40013,"errmsg":"invalid appid"}"#,
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (
                200,
                r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#,
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (200, r#"{"errcode":99999}"#, Err("UPSTREAM_UNAVAILABLE")),
            (
                200,
                r#"{"errcode":0,"errmsg":"ok"}"#,
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (
                200,
                r#"{"openid":"","session_key":"SK"}"#,
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (200, r#"{"errcode":"40029"}"#, Err("UPSTREAM_UNAVAILABLE")),
            (
                200,
                "<html>502 Bad Gateway</html>",
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (200, "", Err("UPSTREAM_UNAVAILABLE")),
            (
                502,
                r#"{"openid":"o1","session_key":"SK"}"#,
                Err("UPSTREAM_UNAVAILABLE"),
            ),
            (503, "busy", Err("UPSTREAM_UNAVAILABLE")),
        ];
        for (status, body, want) in cases {
            assert_eq!(outcome(status, body), want, "{status} {body}");
        }
    }

    #[test]
    fn session_carries_openid_and_unionid_but_never_the_session_key() {
        let body = r#"{"openid":"oABC","session_key":"SESSIONKEY-xyz","unionid":"uDEF"}"#;
        let Reply::Session(id) = parse_reply(StatusCode::OK, body.as_bytes()).unwrap() else {
            panic!("not a session");
        };
        assert_eq!(id.openid, "oABC");
        assert_eq!(id.unionid.as_deref(), Some("uDEF"));
        let shown = format!("{id:?}");
        assert!(
            !shown.contains("SESSIONKEY") && !shown.contains("oABC") && !shown.contains("uDEF")
        );
    }

    #[test]
    fn unreadable_answers_are_not_quoted_in_errors() {
        let body = r#"{"openid": 5, "session_key": "SESSIONKEY-xyz"}"#;
        let err = parse_reply(StatusCode::OK, body.as_bytes()).unwrap_err();
        assert!(!format!("{err:?}").contains("SESSIONKEY"), "{err:?}");
        let err = parse_reply(StatusCode::OK, b"SESSIONKEY garbage").unwrap_err();
        assert!(!format!("{err:?}").contains("SESSIONKEY"), "{err:?}");
    }

    #[test]
    fn codes_are_checked_before_any_call() {
        let long = "a".repeat(MAX_CODE_LEN + 1);
        let max = "a".repeat(MAX_CODE_LEN);
        let cases = [
            ("", false),
            (long.as_str(), false),
            (max.as_str(), true),
            ("0a3Xyz-_.", true),
            ("has space", false),
            ("new\nline", false),
            ("代码", false),
            ("081xYz000abcDEF1g2H3i4J5k6L7m8N9", true),
        ];
        for (code, ok) in cases {
            assert_eq!(check_code(code).is_ok(), ok, "{code:?}");
            if !ok {
                assert_eq!(check_code(code).unwrap_err().code(), "BAD_INPUT");
            }
        }
    }

    fn config(appid: Option<&str>, secret: Option<&str>) -> WechatConfig {
        WechatConfig {
            api_base: "http://127.0.0.1:9".into(),
            appid: appid.map(str::to_owned),
            secret: secret.map(|s| SecretString::from(s.to_owned())),
            timeout_ms: 300,
            ..WechatConfig::default()
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let client = WechatClient::new(&config(Some("wxAPPID"), Some("TOPSECRET"))).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("TOPSECRET"), "{shown}");
        assert!(shown.contains("wxAPPID"), "{shown}");
    }

    #[test]
    fn bad_settings_name_their_variable() {
        let mut c = config(None, None);
        c.timeout_ms = 0;
        let err = WechatClient::new(&c).unwrap_err().to_string();
        assert!(err.contains("GRIDWATCH__WECHAT__TIMEOUT_MS"), "{err}");
        let mut c = config(None, None);
        c.api_base = "not a url".into();
        let err = WechatClient::new(&c).unwrap_err().to_string();
        assert!(err.contains("GRIDWATCH__WECHAT__API_BASE"), "{err}");
        c.api_base = "ftp://example.com".into();
        assert!(WechatClient::new(&c).is_err());
    }

    #[tokio::test]
    async fn missing_credentials_fail_without_calling_wechat() {
        // Port 9 (discard) is never called: the check comes first.
        let cases = [
            (None, Some("s"), "GRIDWATCH__WECHAT__APPID"),
            (Some("  "), Some("s"), "GRIDWATCH__WECHAT__APPID"),
            (Some("wx1"), None, "GRIDWATCH__WECHAT__SECRET"),
            (Some("wx1"), Some(""), "GRIDWATCH__WECHAT__SECRET"),
        ];
        for (appid, secret, var) in cases {
            let client = WechatClient::new(&config(appid, secret)).unwrap();
            let err = client.code_to_session("abc").await.unwrap_err();
            assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
            let cause = format!("{:?}", err.cause().unwrap());
            assert!(cause.contains(var), "{cause}");
        }
        // A bad code is reported as such even when WeChat is not configured.
        let client = WechatClient::new(&config(None, None)).unwrap();
        assert_eq!(
            client.code_to_session("").await.unwrap_err().code(),
            "BAD_INPUT"
        );
    }
}
