//! Per-request DataLoaders: relations of a page of cases load in one query per kind,
//! whatever the page size. Created for each request (never in the schema), so caches
//! never leak between users.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{case_event, category, tipster};
use sea_orm::{DatabaseConnection, EntityTrait, QueryFilter};

use crate::domain::accounts::users::StaffCard;
use crate::domain::cache::TableCache;
use crate::domain::page::id_in;
use crate::error::AppError;

/// Why a batch failed (shared by every key of the batch).
pub type LoadError = Arc<AppError>;

/// Categories by id: from the process's category cache while it is kept (see
/// `domain::cache`), otherwise one statement for the keys.
pub struct CategoryLoader(pub DatabaseConnection, pub Arc<TableCache>);
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
        if self.1.caching() {
            let all = self.1.categories(&self.0).await.map_err(Arc::new)?;
            return Ok(keys
                .iter()
                .filter_map(|k| all.get(k).map(|c| (*k, c.clone())))
                .collect());
        }
        let rows = category::Entity::find()
            .filter(id_in(
                self.0.get_database_backend(),
                category::Column::Id,
                keys,
            ))
            .all(&self.0)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

impl Loader<i64> for UserLoader {
    type Value = StaffCard;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        crate::domain::accounts::users::cards(&self.0, keys)
            .await
            .map_err(Arc::new)
    }
}

impl Loader<i64> for TipsterLoader {
    type Value = tipster::Model;
    type Error = LoadError;
    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = tipster::Entity::find()
            .filter(id_in(
                self.0.get_database_backend(),
                tipster::Column::Id,
                keys,
            ))
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

/// The loaders of one request. They cache for the request's lifetime, so a page can
/// be primed with all its relations up front (see `cases`) and every field is then a
/// cache hit: the statement count of a page does not depend on how the executor
/// happens to group the fields into batches.
pub struct Loaders {
    /// Categories.
    pub categories: DataLoader<CategoryLoader, HashMapCache>,
    /// Staff users.
    pub users: DataLoader<UserLoader, HashMapCache>,
    /// Tipsters.
    pub tipsters: DataLoader<TipsterLoader, HashMapCache>,
    /// Last events.
    pub last_events: DataLoader<LastEventLoader, HashMapCache>,
}

impl Loaders {
    /// Fresh loaders for one request.
    pub fn new(db: &DatabaseConnection, cache: &Arc<TableCache>) -> Self {
        Self {
            categories: DataLoader::with_cache(
                CategoryLoader(db.clone(), Arc::clone(cache)),
                tokio::spawn,
                HashMapCache::default(),
            ),
            users: DataLoader::with_cache(
                UserLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            tipsters: DataLoader::with_cache(
                TipsterLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
            last_events: DataLoader::with_cache(
                LastEventLoader(db.clone()),
                tokio::spawn,
                HashMapCache::default(),
            ),
        }
    }

    /// Loads every relation of `cases` that the query selects under any of `nodes`
    /// (a connection's `edges.node` and `nodes`, or a plain list), one query per kind,
    /// into the caches. Relations a page resolves inline (`graphql::fast`) must be here:
    /// unprimed, each would wait for a batch of its own.
    pub async fn prime_cases(
        &self,
        nodes: &[async_graphql::Lookahead<'_>],
        cases: &[entity::case::Model],
    ) -> Result<(), AppError> {
        fn ids(it: impl Iterator<Item = i64>) -> Vec<i64> {
            let mut v: Vec<i64> = it.collect();
            v.sort_unstable();
            v.dedup();
            v
        }
        let wants = |path: &[&str]| {
            nodes.iter().any(|n| {
                let mut at = n.field(path[0]);
                for f in &path[1..] {
                    at = at.field(f);
                }
                at.exists()
            })
        };
        if cases.is_empty() {
            return Ok(());
        }
        if wants(&["category"]) {
            let keys = ids(cases.iter().map(|c| c.category_id));
            let rows = self
                .categories
                .loader()
                .load(&keys)
                .await
                .map_err(unshare)?;
            self.categories.feed_many(rows).await;
        }
        if wants(&["tipster"]) {
            let keys = ids(cases.iter().filter_map(|c| c.tipster_id));
            let rows = self.tipsters.loader().load(&keys).await.map_err(unshare)?;
            self.tipsters.feed_many(rows).await;
        }
        // The people: assignees and reporters, and the actors of the last events, in
        // one statement.
        let mut people: Vec<i64> = Vec::new();
        if wants(&["assignee"]) || wants(&["reporter"]) {
            people.extend(
                cases
                    .iter()
                    .flat_map(|c| [c.assignee_id, c.reporter_id])
                    .flatten(),
            );
        }
        if wants(&["lastEvent"]) {
            let keys = ids(cases.iter().map(|c| c.id));
            let rows = self
                .last_events
                .loader()
                .load(&keys)
                .await
                .map_err(unshare)?;
            if wants(&["lastEvent", "actor"]) {
                people.extend(rows.values().filter_map(|e| e.actor_id));
            }
            self.last_events.feed_many(rows).await;
        }
        if !people.is_empty() {
            let keys = ids(people.into_iter());
            let rows = self.users.loader().load(&keys).await.map_err(unshare)?;
            self.users.feed_many(rows).await;
        }
        Ok(())
    }
}

/// Turns a shared batch error back into one error of ours.
pub fn unshare(e: LoadError) -> AppError {
    match Arc::try_unwrap(e) {
        Ok(e) => e,
        Err(shared) => AppError::Internal(anyhow::anyhow!("{shared:?}")),
    }
}
