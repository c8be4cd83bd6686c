//! In-app notifications of the logged-in staff member.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::notification;

use super::cases::Case;
use super::pagination::{connection, page_request};
use super::{parse_id, services, viewer};
use crate::domain::{cases as dom, notifications as dom_notes};
use crate::error::AppError;

/// A message to a staff member: a deadline near or missed, a case escalated,
/// dispatched or returned.
pub struct Notification(notification::Model);

#[Object]
impl Notification {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What it is about: `SLA_WARNING`, `ESCALATED`, `DEADLINE_MISSED`, `ASSIGNED`,
    /// `RETURNED`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The case concerned, when the viewer may still see it.
    async fn case(&self, ctx: &Context<'_>) -> Result<Option<Case>, AppError> {
        let Some(id) = self.0.case_id else {
            return Ok(None);
        };
        match dom::get_for_staff(&services(ctx)?.db, viewer(ctx)?, id).await {
            Ok(c) => Ok(Some(Case(c))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// One line, Chinese.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The message.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was marked read; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
}

/// Notification queries.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The viewer's notifications, newest first (keyset pages); only unread ones with
    /// `unreadOnly`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        unread_only: Option<bool>,
    ) -> Result<Connection<String, Notification>, AppError> {
        let svc = services(ctx)?;
        let page = page_request("ntf", first, after, svc.config.limits.max_page_size)?;
        let page = dom_notes::list(svc, viewer(ctx)?, unread_only.unwrap_or(false), page).await?;
        Ok(connection("ntf", page, |n| n.id, Notification))
    }

    /// How many notifications the viewer has not read.
    async fn unread_notifications(&self, ctx: &Context<'_>) -> Result<i32, AppError> {
        let n = dom_notes::unread_count(services(ctx)?, viewer(ctx)?).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Notification mutations.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the viewer's notifications read (at most 200 at once); `NOT_FOUND` when an
    /// id is not theirs. Returns how many were unread.
    async fn mark_notifications_read(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> Result<i32, AppError> {
        let ids = ids
            .iter()
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.at("ids"))?;
        let n = dom_notes::mark_read(services(ctx)?, viewer(ctx)?, ids).await?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}
