//! Live case events over `graphql-transport-ws` (and the older `graphql-ws`).
//!
//! The socket authenticates once, in `connection_init` (see `http::ws`); each
//! `caseEvents` subscription then filters this process's broadcast of events (fed by
//! PostgreSQL `LISTEN` or, on SQLite, by reading new events) through the viewer's
//! scope. The viewer is re-read every minute: a deactivated account, a changed region
//! or an expired token ends the stream.

use std::time::Duration;

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::cases::CaseStatus;
use super::{parse_id, request, state};
use crate::domain::access;
use crate::domain::events::{EventNotice, EventScope};
use crate::error::{AppError, Lang};

/// How often an open subscription re-reads its viewer.
const RECHECK: Duration = Duration::from_secs(60);

/// What happened to a case, as it happens. Carries no personal data; ask `case(id)`
/// for the rest.
pub struct CaseEventNotice(EventNotice);

#[Object]
impl CaseEventNotice {
    /// The case's id (for `case(id)`).
    async fn case_id(&self) -> ID {
        ID(self.0.case_id.to_string())
    }
    /// The case's number, e.g. `QS-20261203-0007`.
    async fn case_number(&self) -> &str {
        &self.0.case_number
    }
    /// The event's place in the case's trail (the case's version after it).
    async fn seq(&self) -> i32 {
        self.0.seq
    }
    /// What happened: the actions of `CaseEvent.action`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The case's status after the event.
    async fn status(&self) -> Option<CaseStatus> {
        self.0.status.map(Into::into)
    }
    /// The case's region (village grid).
    async fn region_id(&self) -> ID {
        ID(self.0.region_id.to_string())
    }
    /// When the event was written.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// The connection's credentials, kept to re-check the viewer while streams run.
#[derive(Debug, Clone)]
pub struct SocketToken(pub Option<String>);

/// Every subscription of the API.
#[derive(Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Case events as they are committed, in any server process, for the cases the
    /// viewer may read (an inspector: their grid, what is assigned to them and the open
    /// cases whose team they are on, as of the last minute),
    /// optionally only within `regionId`'s subtree. Staff only. A subscriber that
    /// falls more than a thousand events behind skips the missed ones (refetch to catch
    /// up).
    async fn case_events(
        &self,
        ctx: &Context<'_>,
        region_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = CaseEventNotice> + use<>> {
        let lang = request(ctx).map(|r| r.lang).unwrap_or_default();
        open(ctx, region_id.as_ref())
            .await
            .map_err(|e| to_graphql(&e, lang))
    }
}

async fn open(
    ctx: &Context<'_>,
    region_id: Option<&ID>,
) -> Result<impl Stream<Item = CaseEventNotice> + use<>, AppError> {
    let app = state(ctx)?.clone();
    let req = request(ctx)?;
    if req.bad_token {
        return Err(AppError::Unauthenticated);
    }
    let region = region_id
        .map(parse_id)
        .transpose()
        .map_err(|e| e.at("regionId"))?;
    let teams = crate::domain::cases::open_team_cases(&app.services.db, &req.viewer).await?;
    let scope =
        EventScope::new(&req.viewer, &app.services.grid.snapshot(), region)?.with_teams(teams);
    let token = ctx.data_opt::<SocketToken>().and_then(|t| t.0.clone());
    let rx = app.hub.subscribe().await?;
    let state = Watch {
        rx,
        scope,
        region,
        token,
        app,
        next_check: tokio::time::Instant::now() + RECHECK,
    };
    Ok(futures_util::stream::unfold(state, Watch::next))
}

struct Watch {
    rx: tokio::sync::broadcast::Receiver<EventNotice>,
    scope: EventScope,
    region: Option<i64>,
    token: Option<String>,
    app: crate::state::AppState,
    next_check: tokio::time::Instant,
}

impl Watch {
    /// The next notice in scope; `None` ends the stream (viewer gone, hub closed).
    async fn next(mut self) -> Option<(CaseEventNotice, Self)> {
        loop {
            tokio::select! {
                got = self.rx.recv() => match got {
                    Ok(n) if self.scope.admits(&n) => return Some((CaseEventNotice(n), self)),
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "live events: a subscriber fell behind");
                    }
                    Err(RecvError::Closed) => return None,
                },
                () = tokio::time::sleep_until(self.next_check) => {
                    self.next_check = tokio::time::Instant::now() + RECHECK;
                    if !self.recheck().await {
                        return None;
                    }
                }
            }
        }
    }

    /// Re-reads the viewer; false when the token no longer stands. A database outage
    /// keeps the stream (it is read-only and the viewer was valid).
    async fn recheck(&mut self) -> bool {
        let svc = &self.app.services;
        let viewer = access::resolve(
            &svc.db,
            &svc.cache,
            &svc.keys,
            &svc.grid.snapshot(),
            self.token.as_deref(),
            svc.clock.now(),
        )
        .await;
        match viewer {
            Ok(v) => match EventScope::new(&v, &svc.grid.snapshot(), self.region) {
                Ok(scope) => {
                    // A team drawn since the last check joins; an outage keeps the old.
                    let teams = crate::domain::cases::open_team_cases(&svc.db, &v)
                        .await
                        .unwrap_or_else(|_| self.scope.teams().clone());
                    self.scope = scope.with_teams(teams);
                    true
                }
                Err(_) => false,
            },
            Err(AppError::Unauthenticated) => false,
            Err(_) => true,
        }
    }
}

/// An error with its stable code and message in place: subscription errors do not
/// pass through the HTTP edge's finishing.
pub fn to_graphql(e: &AppError, lang: Lang) -> async_graphql::Error {
    let mut err = async_graphql::Error::new(e.message(lang));
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", e.code());
    if let Some(d) = e.detail() {
        ext.set("detail", d);
    }
    err.extensions = Some(ext);
    err
}
