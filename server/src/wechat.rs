//! WeChat's server-to-server APIs: the mini-program's access token
//! (`getStableAccessToken`), subscribe messages (`subscribeMessage.send`) and text
//! safety (`security.msgSecCheck`, v2). The login call lives in `auth::wechat`.
//!
//! Every call answers HTTP 200 with `{"errcode": N, "errmsg": "…"}` on failure; success
//! is an absent or zero `errcode`. Only `errcode` is matched (`errmsg` carries request
//! ids). The access token is shared by every process through the `wechat_token` row
//! (encrypted with the vault) and refreshed by one process at a time, five minutes
//! before it expires — `stable_token` itself renews in a token's last five minutes, and
//! old and new both work meanwhile.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use entity::wechat_token;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::config::WechatConfig;
use crate::domain::Services;
use crate::error::AppError;

/// The largest answer read.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A token with less life than this left is renewed.
const RENEW_BEFORE: chrono::Duration = chrono::Duration::seconds(330);

/// Associated data of the encrypted token.
const TOKEN_AAD: &str = "wechat_token";

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WxError {
    /// WeChat answered a documented failure.
    Code {
        /// `errcode`.
        errcode: i64,
        /// `errmsg`, cut to 200 characters.
        errmsg: String,
    },
    /// No answer that could be read: timeout, connection, HTTP error, bad JSON.
    Transport(String),
    /// AppID or AppSecret not configured.
    NotConfigured,
}

impl WxError {
    /// The token was refused (invalid or not the latest, expired, malformed, missing):
    /// get the current one and try once more.
    pub fn is_bad_token(&self) -> bool {
        matches!(
            self,
            Self::Code {
                errcode: 40001 | 40014 | 41001 | 42001,
                ..
            }
        )
    }

    /// The errcode, when WeChat answered one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Code { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

impl fmt::Display for WxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code { errcode, errmsg } => write!(f, "errcode {errcode} ({errmsg})"),
            Self::Transport(e) => write!(f, "{e}"),
            Self::NotConfigured => write!(f, "WeChat AppID/AppSecret not configured"),
        }
    }
}

/// What `msg_sec_check` thinks of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Pass,
    /// A person should look.
    Review,
    /// Risky.
    Risky,
}

/// The client of WeChat's server APIs, shared.
#[derive(Clone)]
pub struct WechatApi {
    http: reqwest::Client,
    base: String,
    appid: Option<String>,
    secret: Option<SecretString>,
}

impl fmt::Debug for WechatApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatApi")
            .field("base", &self.base)
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

impl WechatApi {
    /// A client for the configured API.
    pub fn new(cfg: &WechatConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gridwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the WeChat HTTP client")?;
        Ok(Self {
            http,
            base: cfg.api_base.trim().trim_end_matches('/').to_owned(),
            appid: cfg
                .appid
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
            secret: cfg
                .secret
                .clone()
                .filter(|s| !s.expose_secret().trim().is_empty()),
        })
    }

    /// `POST {base}{path}` with the token in the query; the answer's JSON when its
    /// `errcode` is absent or zero.
    async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Result<Value, WxError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(t) = token {
            req = req.query(&[("access_token", t)]);
        }
        let read = async {
            let mut resp = req.send().await?;
            let status = resp.status();
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await? {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Ok((status, None));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, Some(bytes)))
        };
        let (status, bytes) = read.await.map_err(|e| {
            // The URL carries the token: never show it.
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            WxError::Transport(format!("WeChat {path}: {what}"))
        })?;
        if !status.is_success() {
            return Err(WxError::Transport(format!("WeChat {path}: HTTP {status}")));
        }
        let bytes =
            bytes.ok_or_else(|| WxError::Transport(format!("WeChat {path}: answer too large")))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| WxError::Transport(format!("WeChat {path}: unreadable answer")))?;
        match v.get("errcode").and_then(Value::as_i64) {
            None | Some(0) => Ok(v),
            Some(errcode) => Err(WxError::Code {
                errcode,
                errmsg: v
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            }),
        }
    }

    /// `getStableAccessToken` in normal mode: the current token and its life in seconds.
    pub async fn stable_token(&self) -> Result<(String, i64), WxError> {
        let (Some(appid), Some(secret)) = (&self.appid, &self.secret) else {
            return Err(WxError::NotConfigured);
        };
        let v = self
            .post(
                "/cgi-bin/stable_token",
                None,
                &json!({
                    "grant_type": "client_credential",
                    "appid": appid,
                    "secret": secret.expose_secret(),
                    "force_refresh": false,
                }),
            )
            .await?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| WxError::Transport("WeChat stable_token: no access_token".into()))?;
        let life = v
            .get("expires_in")
            .and_then(Value::as_i64)
            .filter(|n| *n > 0)
            .unwrap_or(300);
        Ok((token.to_owned(), life))
    }

    /// `subscribeMessage.send` of a prepared body.
    pub async fn send(&self, token: &str, body: &Value) -> Result<(), WxError> {
        self.post("/cgi-bin/message/subscribe/send", Some(token), body)
            .await
            .map(|_| ())
    }

    /// `msg_sec_check` v2 of a tip-off's text (scene 2, comment), as its author.
    pub async fn check_text(
        &self,
        token: &str,
        content: &str,
        openid: &str,
    ) -> Result<Verdict, WxError> {
        let v = self
            .post(
                "/wxa/msg_sec_check",
                Some(token),
                &json!({ "content": content, "version": 2, "scene": 2, "openid": openid }),
            )
            .await?;
        match v.pointer("/result/suggest").and_then(Value::as_str) {
            Some("pass") => Ok(Verdict::Pass),
            Some("review") => Ok(Verdict::Review),
            Some("risky") => Ok(Verdict::Risky),
            _ => Err(WxError::Transport(
                "WeChat msg_sec_check: no result.suggest".into(),
            )),
        }
    }

    fn appid(&self) -> Result<&str, WxError> {
        self.appid.as_deref().ok_or(WxError::NotConfigured)
    }
}

/// The access token every process shares. `refused` is a token WeChat just refused
/// (`40001` …): it is not handed out again. Only one process asks WeChat at a time
/// (an advisory lock on PostgreSQL, the write lock on SQLite); the others then read
/// what it stored.
pub async fn access_token(
    svc: &Services,
    api: &Arc<WechatApi>,
    refused: Option<&str>,
) -> Result<String, WxError> {
    let appid = api.appid()?.to_owned();
    if let Some(t) = cached(&svc.db, svc, &appid, refused, svc.clock.now())
        .await
        .map_err(db_error)?
    {
        return Ok(t);
    }
    let (api, svc2, refused) = (Arc::clone(api), svc.clone(), refused.map(str::to_owned));
    crate::domain::uow::write(
        svc,
        None,
        crate::domain::uow::work(move |txn| {
            Box::pin(async move {
                if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
                    txn.execute_unprepared(
                        "SELECT pg_advisory_xact_lock(hashtext('gridwatch.wechat_token'))",
                    )
                    .await?;
                }
                let now = svc2.clock.now();
                if let Some(t) = cached(txn, &svc2, &appid, refused.as_deref(), now).await? {
                    return Ok(Ok(t));
                }
                let (token, life) = match api.stable_token().await {
                    Ok(t) => t,
                    Err(e) => return Ok(Err(e)),
                };
                store(
                    txn,
                    &svc2,
                    &appid,
                    &token,
                    now + chrono::Duration::seconds(life),
                    now,
                )
                .await?;
                Ok(Ok(token))
            })
        }),
    )
    .await
    .map_err(db_error)?
}

/// A stored token still good for a while (and not the refused one).
async fn cached<C: ConnectionTrait>(
    conn: &C,
    svc: &Services,
    appid: &str,
    refused: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let Some(row) = wechat_token::Entity::find()
        .filter(wechat_token::Column::Appid.eq(appid))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if row.expires_at - now < RENEW_BEFORE {
        return Ok(None);
    }
    let token = String::from_utf8(svc.vault.decrypt(&row.token_enc, TOKEN_AAD)?)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored token not utf-8: {e}")))?;
    Ok(Some(token).filter(|t| Some(t.as_str()) != refused))
}

async fn store<C: ConnectionTrait>(
    conn: &C,
    svc: &Services,
    appid: &str,
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    wechat_token::Entity::insert(wechat_token::ActiveModel {
        appid: Set(appid.to_owned()),
        token_enc: Set(svc.vault.encrypt(token.as_bytes(), TOKEN_AAD)?),
        expires_at: Set(expires_at),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(wechat_token::Column::Appid)
            .update_columns([
                wechat_token::Column::TokenEnc,
                wechat_token::Column::ExpiresAt,
                wechat_token::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

fn db_error(e: AppError) -> WxError {
    WxError::Transport(format!("token cache: {}", e.code()))
}
