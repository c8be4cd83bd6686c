//! The outbox deliverer: claims due messages and sends each on its channel (signed
//! webhooks; WeChat subscribe messages), marking it delivered, retrying it with
//! backoff, or making it a dead letter.

use std::sync::Arc;
use std::time::Duration;

use entity::outbox;

use crate::domain::events::{WEBHOOK, WebhookPayload};
use crate::domain::subscriptions::{self as subs, MessagePayload};
use crate::domain::{Services, outbox as queue, webhooks};
use crate::error::AppError;
use crate::wechat::{WechatApi, WxError};

/// Messages claimed per run.
const PER_RUN: u64 = 50;

/// The least wait after WeChat's daily limit (45009).
const DAILY_LIMIT_WAIT: chrono::Duration = chrono::Duration::hours(1);

/// What the deliverer sends with.
#[derive(Clone, Debug)]
pub struct Channels {
    /// Webhook client.
    pub http: reqwest::Client,
    /// WeChat's server API.
    pub wechat: Arc<WechatApi>,
}

impl Channels {
    /// The channels of a configuration.
    pub fn new(cfg: &crate::config::Config) -> anyhow::Result<Self> {
        Ok(Self {
            http: client(),
            wechat: Arc::new(WechatApi::new(&cfg.wechat)?),
        })
    }
}

/// How one attempt ended.
#[derive(Debug)]
enum Sent {
    /// Delivered.
    Done,
    /// Nothing to send any more (no grant, template removed): settled with a note.
    Dropped(String),
    /// Try again later (at the earliest after the wait, if given).
    Retry(String, Option<chrono::Duration>),
}

/// One run: every due message, once. Returns how many were delivered.
pub async fn deliver_due(svc: &Services, ch: &Channels) -> Result<u64, AppError> {
    let cfg = &svc.config.jobs;
    let base = chrono::Duration::seconds(i64::try_from(cfg.retry_base_secs.max(1)).unwrap_or(5));
    let mut sent = 0;
    loop {
        let rows = queue::claim(svc, PER_RUN).await?;
        let claimed = rows.len() as u64;
        for row in rows {
            match send(svc, ch, &row).await? {
                Sent::Done => {
                    queue::delivered(svc, row.id, None).await?;
                    sent += 1;
                }
                Sent::Dropped(note) => {
                    tracing::info!(outbox.id = row.id, topic = %row.topic, note, "message dropped");
                    queue::delivered(svc, row.id, Some(&note)).await?;
                }
                Sent::Retry(e, at_least) => {
                    let dead =
                        queue::failed(svc, &row, &e, base, cfg.max_attempts, at_least).await?;
                    tracing::warn!(
                        outbox.id = row.id,
                        topic = %row.topic,
                        attempts = row.attempts,
                        dead,
                        error = %e,
                        "delivery failed"
                    );
                }
            }
        }
        if claimed < PER_RUN {
            return Ok(sent);
        }
    }
}

/// Sends one message. `Err` only when the database fails (the run stops; the lease
/// brings the message back).
async fn send(svc: &Services, ch: &Channels, row: &outbox::Model) -> Result<Sent, AppError> {
    Ok(match row.topic.as_str() {
        WEBHOOK => match send_webhook(svc, &ch.http, row).await {
            Ok(()) => Sent::Done,
            Err(e) => Sent::Retry(e, None),
        },
        subs::TOPIC => send_wechat(svc, &ch.wechat, row).await?,
        other => Sent::Retry(format!("no channel for topic {other}"), None),
    })
}

/// A subscribe message: takes a grant, sends (once more with a fresh token if WeChat
/// refused the token), and gives the grant back unless the message went out or WeChat
/// said there was none (43101, which closes the channel until the tipster grants again).
async fn send_wechat(
    svc: &Services,
    api: &Arc<WechatApi>,
    row: &outbox::Model,
) -> Result<Sent, AppError> {
    let p: MessagePayload = match serde_json::from_value(row.payload.clone()) {
        Ok(p) => p,
        Err(e) => return Ok(Sent::Retry(format!("payload: {e}"), None)),
    };
    let Some(template) = p.kind.template(&svc.config.wechat.subscribe).cloned() else {
        return Ok(Sent::Dropped("no template configured any more".into()));
    };
    if !subs::reserve(svc, p.tipster_id, &p.template_id).await? {
        return Ok(Sent::Dropped("no grant left".into()));
    }
    let openid = match crate::domain::tipsters::openid(svc, p.tipster_id).await {
        Ok(Some(o)) => o,
        Ok(None) => return Ok(Sent::Dropped("the tipster is gone".into())),
        Err(e) => {
            subs::give_back(svc, p.tipster_id, &p.template_id).await?;
            return Ok(Sent::Retry(format!("openid: {}", e.code()), None));
        }
    };
    let cfg = &svc.config.wechat.subscribe;
    let mut body = serde_json::json!({
        "touser": openid,
        "template_id": p.template_id,
        "data": subs::render(&template, &p),
        "miniprogram_state": cfg.miniprogram_state,
        "lang": cfg.lang,
    });
    if let Some(page) = subs::page(&template, &p) {
        body["page"] = serde_json::Value::String(page);
    }
    let result = match crate::wechat::access_token(svc, api, None).await {
        Ok(token) => match api.send(&token, &body).await {
            Err(e) if e.is_bad_token() => {
                match crate::wechat::access_token(svc, api, Some(&token)).await {
                    Ok(fresh) => api.send(&fresh, &body).await,
                    Err(e) => Err(e),
                }
            }
            r => r,
        },
        Err(e) => Err(e),
    };
    let e = match result {
        Ok(()) => return Ok(Sent::Done),
        Err(WxError::Code { errcode: 43101, .. }) => {
            subs::block(svc, p.tipster_id, &p.template_id).await?;
            return Ok(Sent::Dropped("43101: the tipster has no grant".into()));
        }
        Err(e) => e,
    };
    subs::give_back(svc, p.tipster_id, &p.template_id).await?;
    let wait = (e.errcode() == Some(45009)).then_some(DAILY_LIMIT_WAIT);
    Ok(Sent::Retry(format!("WeChat: {e}"), wait))
}

async fn send_webhook(
    svc: &Services,
    http: &reqwest::Client,
    row: &outbox::Model,
) -> Result<(), String> {
    let payload: WebhookPayload =
        serde_json::from_value(row.payload.clone()).map_err(|e| format!("payload: {e}"))?;
    let Some((url, secret)) = webhooks::target(svc, payload.webhook_id)
        .await
        .map_err(|e| format!("webhook: {}", e.code()))?
    else {
        return Err("the webhook no longer exists".into());
    };
    let delivery = row
        .delivery_id
        .clone()
        .unwrap_or_else(|| row.id.to_string());
    let body = serde_json::to_vec(&serde_json::json!({
        "deliveryId": delivery,
        "event": payload.event,
    }))
    .map_err(|e| format!("body: {e}"))?;
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("x-gridwatch-delivery", &delivery)
        .header("x-gridwatch-event", &payload.event.action)
        .header("x-gridwatch-signature", webhooks::signature(&secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("sending: {}", e.without_url()))?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", r.status().as_u16()))
    }
}

/// The HTTP client of the deliverer.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gridwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
