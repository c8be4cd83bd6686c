//! Per-request DataLoaders: relations of a page of cases load in one query per kind,
//! whatever the page size. Created for each request (never in the schema), so caches
//! never leak between users.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{app_user, case_event, category, tipster};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::AppError;

/// Why a batch failed (shared by every key of the batch).
pub type LoadError = Arc<AppError>;

/// Categories by id.
pub struct CategoryLoader(pub DatabaseConnection);
/// Staff users by id.
pub struct UserLoader(pub DatabaseConnection);
/// Tipsters (for their pseudonymous handle) by id.
pub struct TipsterLoader(pub DatabaseConnection);
/// The latest event of each case, by case id.
pub struct LastEventLoader(pub DatabaseConnection);

impl Loader<i64> for CategoryLoader {
    type Value = category::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = category::Entity::find()
            .filter(category::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<i64> for UserLoader {
    type Value = app_user::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = app_user::Entity::find()
            .filter(app_user::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<i64> for TipsterLoader {
    type Value = tipster::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = tipster::Entity::find()
            .filter(tipster::Column::Id.is_in(keys.to_vec()))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<i64> for LastEventLoader {
    type Value = case_event::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        crate::domain::cases::last_events(&self.0, keys)
            .await
            .map_err(Arc::new)
    }
}

/// The loaders of one request.
pub struct Loaders {
    /// Categories.
    pub categories: DataLoader<CategoryLoader>,
    /// Staff users.
    pub users: DataLoader<UserLoader>,
    /// Tipsters.
    pub tipsters: DataLoader<TipsterLoader>,
    /// Last events.
    pub last_events: DataLoader<LastEventLoader>,
}

impl Loaders {
    /// Fresh loaders for one request.
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            categories: DataLoader::new(CategoryLoader(db.clone()), tokio::spawn),
            users: DataLoader::new(UserLoader(db.clone()), tokio::spawn),
            tipsters: DataLoader::new(TipsterLoader(db.clone()), tokio::spawn),
            last_events: DataLoader::new(LastEventLoader(db.clone()), tokio::spawn),
        }
    }
}

/// Turns a shared batch error back into one error of ours.
pub fn unshare(e: LoadError) -> AppError {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => AppError::Internal(anyhow::anyhow!("{shared:?}")),
    }
}
