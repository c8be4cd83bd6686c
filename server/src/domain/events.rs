//! What happens after a case event is written, in the same transaction: the change is
//! logged for offline sync (see `changes`), the event is fanned out to the outbox (one row per webhook whose region covers the case), and
//! announced to live subscribers (see `live`). Whoever writes events calls [`emitted`]
//! with them, so the outbox row exists exactly when the event does.

use chrono::{DateTime, Utc};
use entity::{outbox, region, webhook};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::access::{Role, Viewer};
use super::cases::CaseStatus;
use super::grid::{GridSnapshot, path_is_within};
use crate::error::AppError;

/// The outbox topic of a webhook delivery.
pub const WEBHOOK: &str = "WEBHOOK";

/// A case event as the world outside hears of it (no personal data: no tipster, no
/// notes, no staff names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNotice {
    /// The case.
    pub case_id: i64,
    /// Its human number.
    pub case_number: String,
    /// The event's place in the case's trail.
    pub seq: i32,
    /// What happened (`ASSIGN`, `ESCALATE` …).
    pub action: String,
    /// The case's status after it.
    pub status: Option<CaseStatus>,
    /// The case's region path (for scope).
    pub region_path: String,
    /// The case's region.
    pub region_id: i64,
    /// The staff member the case is assigned to, after the event (for an inspector's
    /// scope: their grid and what is assigned to them).
    #[serde(default)]
    pub assignee_id: Option<i64>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a webhook delivery carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// The webhook to send to.
    pub webhook_id: i64,
    /// The event.
    pub event: EventNotice,
}

/// Fans freshly written events out, in `conn`'s transaction: outbox rows for the
/// webhooks that cover them (one query for the webhooks, one insert for the rows).
pub async fn emitted<C: ConnectionTrait>(
    conn: &C,
    events: &[EventNotice],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    super::changes::record(conn, events).await?;
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Active.eq(true))
        .all(conn)
        .await?;
    if !hooks.is_empty() {
        let grid_paths: std::collections::HashMap<i64, String> = region::Entity::find()
            .filter(region::Column::Id.is_in(hooks.iter().map(|h| h.region_id)))
            .all(conn)
            .await?
            .into_iter()
            .map(|r| (r.id, r.path))
            .collect();
        let mut rows = Vec::new();
        for e in events {
            for h in &hooks {
                let covers = grid_paths
                    .get(&h.region_id)
                    .is_some_and(|p| path_is_within(&e.region_path, p));
                if !covers {
                    continue;
                }
                let payload = WebhookPayload {
                    webhook_id: h.id,
                    event: e.clone(),
                };
                rows.push(outbox::ActiveModel {
                    topic: Set(WEBHOOK.to_owned()),
                    payload: Set(serde_json::to_value(&payload).map_err(|e| {
                        AppError::Internal(anyhow::anyhow!("webhook payload: {e}"))
                    })?),
                    created_at: Set(now),
                    available_at: Set(now),
                    attempts: Set(0),
                    locked_until: Set(None),
                    delivered_at: Set(None),
                    last_error: Set(None),
                    dead_at: Set(None),
                    delivery_id: Set(Some(uuid::Uuid::new_v4().to_string())),
                    ..Default::default()
                });
            }
        }
        if !rows.is_empty() {
            outbox::Entity::insert_many(rows).exec(conn).await?;
        }
    }
    announce(conn, events).await
}

/// The channel live subscribers listen on (PostgreSQL `LISTEN`).
pub const CHANNEL: &str = "gridwatch_case_events";

/// Tells every process about the events: on PostgreSQL one `pg_notify` per event, in
/// one statement, delivered when (and only if) the transaction commits. SQLite has no
/// such channel: the processes read new events from the table instead.
async fn announce<C: ConnectionTrait>(conn: &C, events: &[EventNotice]) -> Result<(), AppError> {
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let payloads: Vec<String> = events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect();
    let array = serde_json::to_string(&payloads)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("event notice: {e}")))?;
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT pg_notify($1, e) FROM jsonb_array_elements_text($2::jsonb) AS e",
        [CHANNEL.into(), array.into()],
    ))
    .await?;
    Ok(())
}

/// The notice of an event just written for case `c`.
pub fn notice(
    c: &entity::case::Model,
    seq: i32,
    action: &str,
    status: Option<CaseStatus>,
    at: DateTime<Utc>,
) -> EventNotice {
    EventNotice {
        case_id: c.id,
        case_number: c.number.clone(),
        seq,
        action: action.to_owned(),
        status,
        region_path: c.region_path.clone(),
        region_id: c.region_id,
        assignee_id: c.assignee_id,
        at,
    }
}

/// Which live events a subscriber receives: the cases it could read through `cases`,
/// narrowed to one region's subtree when it asked for one.
#[derive(Debug, Clone)]
pub struct EventScope {
    staff: super::access::StaffViewer,
    within: Option<String>,
    teams: super::cases::Teams,
}

impl EventScope {
    /// The scope of `viewer` asking for `region_id` (all it may see when `None`).
    /// Staff only (`UNAUTHENTICATED` / `FORBIDDEN` otherwise); an unknown region is
    /// `NOT_FOUND`. A region outside the viewer's own is allowed and simply yields
    /// nothing, exactly as the `cases` filter does.
    pub fn new(
        viewer: &Viewer,
        grid: &GridSnapshot,
        region_id: Option<i64>,
    ) -> Result<Self, AppError> {
        let staff = viewer.staff()?.clone();
        let within = match region_id {
            None => None,
            Some(id) => Some(
                grid.get(id)
                    .ok_or_else(|| AppError::not_found("区域", "region"))?
                    .path
                    .clone(),
            ),
        };
        Ok(Self {
            staff,
            within,
            teams: super::cases::Teams::none(),
        })
    }

    /// With the open cases whose team the subscriber is on (`cases::open_team_cases`,
    /// read when the stream opens and at every re-check of the viewer).
    pub fn with_teams(mut self, teams: super::cases::Teams) -> Self {
        self.teams = teams;
        self
    }

    /// The team cases this scope knows.
    pub fn teams(&self) -> &super::cases::Teams {
        &self.teams
    }

    /// Whether the subscriber hears of this event (the rule of
    /// `cases::staff_can_see`, applied to the notice).
    pub fn admits(&self, n: &EventNotice) -> bool {
        if let Some(w) = &self.within
            && !path_is_within(&n.region_path, w)
        {
            return false;
        }
        let s = &self.staff;
        match s.role {
            Role::CountyAdmin | Role::TownshipSupervisor => s.covers(&n.region_path),
            Role::Inspector => {
                n.region_id == s.region_id
                    || n.assignee_id == Some(s.user_id)
                    || self.teams.contains(n.case_id)
            }
            Role::Public => false,
        }
    }
}
