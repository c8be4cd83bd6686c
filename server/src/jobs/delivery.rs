//! The outbox deliverer: claims due messages and sends each on its channel (signed
//! webhooks; WeChat subscribe messages), marking it delivered, retrying it with
//! backoff, or making it a dead letter.

use std::time::Duration;

use entity::outbox;

use crate::domain::events::{WEBHOOK, WebhookPayload};
use crate::domain::{Services, outbox as queue, webhooks};
use crate::error::AppError;

/// Messages claimed per run.
const PER_RUN: u64 = 50;

/// One run: every due message, once. Returns how many were delivered.
pub async fn deliver_due(svc: &Services, http: &reqwest::Client) -> Result<u64, AppError> {
    let cfg = &svc.config.jobs;
    let base = chrono::Duration::seconds(i64::try_from(cfg.retry_base_secs.max(1)).unwrap_or(5));
    let mut sent = 0;
    loop {
        let rows = queue::claim(svc, PER_RUN).await?;
        let claimed = rows.len() as u64;
        for row in rows {
            match send(svc, http, &row).await {
                Ok(()) => {
                    queue::delivered(svc, row.id).await?;
                    sent += 1;
                }
                Err(e) => {
                    let dead = queue::failed(svc, &row, &e, base, cfg.max_attempts).await?;
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

/// Sends one message; `Err` with a reason to record when it did not go through.
async fn send(svc: &Services, http: &reqwest::Client, row: &outbox::Model) -> Result<(), String> {
    match row.topic.as_str() {
        WEBHOOK => send_webhook(svc, http, row).await,
        other => Err(format!("no channel for topic {other}")),
    }
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
