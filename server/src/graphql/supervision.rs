//! Webhooks for a county's own systems and the dead letters of the outbox (county
//! staff).

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{outbox, webhook};

use super::grid::Region;
use super::pagination::{connection, page_request};
use super::{parse_id, services, viewer};
use crate::domain::{outbox as queue, webhooks};
use crate::error::AppError;

/// A county system told of the case events of a region and below.
pub struct Webhook(webhook::Model);

#[Object]
impl Webhook {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The region whose events (and those below it) are sent.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &services(ctx)?.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// False once deactivated.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new webhook and its signing secret.
#[derive(SimpleObject)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: Webhook,
    /// The HMAC-SHA256 key of `X-Gridwatch-Signature`. Shown this once: store it now.
    pub secret: String,
}

/// A message of the outbox that could not be delivered.
pub struct OutboxMessage(outbox::Model);

#[Object]
impl OutboxMessage {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The channel: `WEBHOOK`, `WECHAT_SUBSCRIBE`.
    async fn topic(&self) -> &str {
        &self.0.topic
    }
    /// The id receivers use to drop a repeat.
    async fn delivery_id(&self) -> Option<&str> {
        self.0.delivery_id.as_deref()
    }
    /// Attempts made.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the message was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was given up.
    async fn dead_at(&self) -> Option<DateTime<Utc>> {
        self.0.dead_at
    }
}

/// Supervision queries.
#[derive(Default)]
pub struct SupervisionQuery;

#[Object]
impl SupervisionQuery {
    /// The webhooks within the viewer's county (county staff).
    async fn webhooks(&self, ctx: &Context<'_>) -> Result<Vec<Webhook>, AppError> {
        Ok(webhooks::list(services(ctx)?, viewer(ctx)?)
            .await?
            .into_iter()
            .map(Webhook)
            .collect())
    }

    /// Messages given up after too many attempts, newest first (county staff).
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, OutboxMessage>, AppError> {
        let svc = services(ctx)?;
        let page = page_request("dead", first, after, svc.config.limits.max_page_size)?;
        let page = queue::dead_letters(svc, viewer(ctx)?, page).await?;
        Ok(connection("dead", page, |m| m.id, OutboxMessage))
    }
}

/// Supervision mutations.
#[derive(Default)]
pub struct SupervisionMutation;

#[Object]
impl SupervisionMutation {
    /// Sends the case events of a region (and below) to a county system (county staff).
    /// Every delivery is signed: `X-Gridwatch-Signature: sha256=<hex HMAC of the body>`.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        region_id: ID,
        url: String,
    ) -> Result<CreatedWebhook, AppError> {
        let (hook, secret) = webhooks::create(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&region_id).map_err(|e| e.at("regionId"))?,
            &url,
        )
        .await?;
        Ok(CreatedWebhook {
            webhook: Webhook(hook),
            secret,
        })
    }

    /// Stops a webhook (county staff).
    async fn deactivate_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<Webhook, AppError> {
        webhooks::deactivate(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(Webhook)
    }

    /// Sends a dead letter again, from a first attempt (county staff).
    async fn retry_dead_letter(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<OutboxMessage, AppError> {
        queue::retry_dead_letter(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(OutboxMessage)
    }
}
