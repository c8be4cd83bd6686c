//! The live grid: the current [`GridSnapshot`], rebuilt from the database after an
//! import here and whenever another process (the CLI, another server) changes the
//! region table.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use entity::region;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, QueryOrder};

use super::{GridSnapshot, ImportMode, ImportSummary, apply_import, parse_grid_file};
use crate::error::AppError;

/// The live grid: the current snapshot and the database it comes from.
pub struct Grid {
    db: DatabaseConnection,
    snapshot: RwLock<Arc<GridSnapshot>>,
    fingerprint: tokio::sync::Mutex<Option<Fingerprint>>,
}

/// What the region table looked like when the snapshot was built: enough to notice
/// that another process has imported since.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    count: u64,
    last_update: Option<chrono::DateTime<Utc>>,
}

impl Grid {
    /// Loads the grid from the database.
    pub async fn load(db: DatabaseConnection) -> Result<Self, AppError> {
        let grid = Self {
            db,
            snapshot: RwLock::new(Arc::new(GridSnapshot::default())),
            fingerprint: tokio::sync::Mutex::new(None),
        };
        grid.reload().await?;
        Ok(grid)
    }

    /// The current snapshot; cheap, and consistent for as long as it is held.
    pub fn snapshot(&self) -> Arc<GridSnapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Rebuilds the snapshot from the database.
    pub async fn reload(&self) -> Result<(), AppError> {
        let mut fp = self.fingerprint.lock().await;
        let now = fingerprint(&self.db).await?;
        let rows = region::Entity::find().all(&self.db).await?;
        let snap = Arc::new(GridSnapshot::build(rows));
        tracing::info!(regions = snap.all().len(), "grid index rebuilt");
        match self.snapshot.write() {
            Ok(mut s) => *s = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
        *fp = Some(now);
        Ok(())
    }

    /// Rebuilds the snapshot if another process changed the grid; returns whether it did.
    pub async fn refresh_if_changed(&self) -> Result<bool, AppError> {
        let current = fingerprint(&self.db).await?;
        let known = self.fingerprint.lock().await.clone();
        if known.as_ref() == Some(&current) {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Imports a GeoJSON FeatureCollection (see [`parse_grid_file`]) in one transaction:
    /// new codes are inserted, existing ones get the file's name and boundary. Any
    /// problem rejects the whole file and leaves the database as it was.
    pub async fn import(&self, text: &str, now: DateTime<Utc>) -> Result<ImportSummary, AppError> {
        let items = parse_grid_file(text)?;
        let summary = apply_import(&self.db, &items, ImportMode::Upsert, now).await?;
        self.reload().await?;
        Ok(summary)
    }
}

async fn fingerprint(db: &DatabaseConnection) -> Result<Fingerprint, AppError> {
    let count = region::Entity::find().count(db).await?;
    let last_update = region::Entity::find()
        .order_by_desc(region::Column::UpdatedAt)
        .one(db)
        .await?
        .map(|r| r.updated_at);
    Ok(Fingerprint { count, last_update })
}
