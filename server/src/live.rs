//! Live case events for subscribers of this process, whichever process wrote them.
//!
//! On PostgreSQL every process `LISTEN`s on one channel; events are `pg_notify`ed in
//! the transaction that writes them, so a notice arrives exactly when the event is
//! committed, in every process (sqlx's listener reconnects by itself after an outage).
//! On SQLite — one machine, possibly a CLI beside the server — the hub reads new
//! events from `case_event` a few times a second instead, and only while this process
//! has a subscriber: the first subscriber fixes the starting point (the newest event
//! id, read after its receiver exists), so nothing committed after it subscribed is
//! missed, and an idle server runs no statements for it.
//! Either way the notices go into one in-process broadcast channel that each
//! subscription filters by its viewer's scope.
//!
//! The same PostgreSQL listener hears grid imports (`GRID_CHANNEL`) and reloads this
//! process's region tree at once; the periodic fingerprint check stays as a fallback
//! (and is all SQLite has). Rule-table notices (`RULES_CHANNEL`) empty the rule cache;
//! it caches only while this listener is connected.

use std::sync::Arc;
use std::time::Duration;

use entity::{case, case_event};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tokio::sync::{Mutex, broadcast};
use tokio::task::JoinHandle;

use crate::domain::cache::{RULES_CHANNEL, TableCache};
use crate::domain::events::{CHANNEL, EventNotice};
use crate::domain::grid::{GRID_CHANNEL, Grid};

/// How many notices a slow subscriber may fall behind before it misses some.
const BUFFER: usize = 1024;

/// The broadcast of case events in this process.
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<EventNotice>,
    /// SQLite only: the database and the id of the last event read, `None` while
    /// nobody listens.
    polling: Option<(DatabaseConnection, Mutex<Option<i64>>)>,
}

impl Hub {
    /// Starts listening (PostgreSQL) or reading new events (SQLite); returns the hub and
    /// its task.
    pub fn start(
        db: &DatabaseConnection,
        grid: Arc<Grid>,
        cache: Arc<TableCache>,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let (tx, _) = broadcast::channel(BUFFER);
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let hub = Arc::new(Self {
            tx,
            polling: (!postgres).then(|| (db.clone(), Mutex::new(None))),
        });
        let task = if postgres {
            tokio::spawn(listen(db.clone(), Arc::clone(&hub), grid, cache))
        } else {
            tokio::spawn(poll(Arc::clone(&hub)))
        };
        (hub, task)
    }

    /// A receiver of every notice committed from now on.
    pub async fn subscribe(&self) -> Result<broadcast::Receiver<EventNotice>, DbErr> {
        let rx = self.tx.subscribe();
        if let Some((db, cursor)) = &self.polling {
            let mut cursor = cursor.lock().await;
            if cursor.is_none() {
                *cursor = Some(latest_event(db).await?);
            }
        }
        Ok(rx)
    }

    /// How many subscriptions of this process are listening.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    fn publish(&self, n: EventNotice) {
        // No subscriber is not an error.
        let _ = self.tx.send(n);
    }
}

async fn listen(db: DatabaseConnection, hub: Arc<Hub>, grid: Arc<Grid>, cache: Arc<TableCache>) {
    let pool = db.get_postgres_connection_pool().clone();
    loop {
        let mut listener = match sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "live events: cannot listen yet");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(e) = listener
            .listen_all([CHANNEL, GRID_CHANNEL, RULES_CHANNEL])
            .await
        {
            tracing::warn!(error = %e, "live events: LISTEN failed");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        // Rule changes are heard from now on: the cache may start (empty).
        cache.set_listening(true);
        // A grid notice sent while the connection was down is caught up here.
        if let Err(e) = grid.refresh_if_changed().await {
            tracing::warn!(error = ?e, "grid check after (re)connecting failed");
        }
        loop {
            match listener.recv().await {
                Ok(n) if n.channel() == RULES_CHANNEL => cache.invalidate(),
                Ok(n) if n.channel() == GRID_CHANNEL => match grid.refresh_if_changed().await {
                    Ok(true) => tracing::info!("grid imported elsewhere; index reloaded"),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = ?e, "grid reload after notice failed"),
                },
                Ok(n) => match serde_json::from_str::<EventNotice>(n.payload()) {
                    Ok(notice) => hub.publish(notice),
                    Err(e) => tracing::warn!(error = %e, "live events: unreadable notice"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "live events: connection lost");
                    // Changes would go unheard: stop caching until reconnected.
                    cache.set_listening(false);
                    break;
                }
            }
        }
    }
}

async fn latest_event(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let id = case_event::Entity::find()
        .select_only()
        .column(case_event::Column::Id)
        .order_by_desc(case_event::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(id.unwrap_or(0))
}

async fn poll(hub: Arc<Hub>) {
    let Some((db, cursor)) = &hub.polling else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let mut cursor = cursor.lock().await;
        if hub.subscribers() == 0 {
            // The next first subscriber starts from its own moment.
            *cursor = None;
            continue;
        }
        let Some(last) = *cursor else { continue };
        let rows = case_event::Entity::find()
            .filter(case_event::Column::Id.gt(last))
            .order_by_asc(case_event::Column::Id)
            .limit(500)
            .find_also_related(case::Entity)
            .all(db)
            .await;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "live events: reading new events failed");
                continue;
            }
        };
        for (e, c) in rows {
            *cursor = Some(e.id);
            if let Some(c) = c {
                hub.publish(crate::domain::events::notice(
                    &c,
                    e.seq,
                    &e.action,
                    e.to_status,
                    e.created_at,
                ));
            }
        }
    }
}
