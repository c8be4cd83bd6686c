//! Rarely changed tables kept in memory between requests: the rules a new case's
//! deadlines are planned with (its category's time limits, the work calendar, the
//! escalation rules), the categories, and the viewer fields of accounts (name, role,
//! region, only while active).
//!
//! They change rarely (county staff, the seed, a DBA) and are read all the time: the
//! rules by every tip-off (three statements), the categories by every page of cases,
//! an account by every authenticated request. The cache is trusted only while this
//! process hears about every change: on PostgreSQL a statement trigger on each of those
//! tables (migrations 000019 and 000020) `pg_notify`s [`RULES_CHANNEL`] in the writer's
//! transaction, whichever process or tool writes, and the live listener calls
//! [`TableCache::invalidate`] on every notice. While that listener is not connected
//! (starting up, after a lost connection, and always on SQLite, which has no
//! notifications) nothing is cached and every call reads the database, so a change
//! committed by another process is never missed — it shows once its notice arrives, at
//! the latest (a process that changes an account forgets at once, without waiting).
//!
//! A read that raced an invalidation is not kept: every entry is stamped with the
//! generation it was read in, and [`TableCache::invalidate`] moves the generation on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sea_orm::ConnectionTrait;

use crate::domain::access::Role;
use crate::domain::category::TimeLimit;
use crate::domain::sla::{WorkCalendar, WorkingHours};
use crate::domain::supervision::Rules;
use crate::error::AppError;

/// The PostgreSQL channel the rule tables' trigger notifies.
pub const RULES_CHANNEL: &str = "gridwatch_rules";

#[derive(Default)]
struct Entries {
    generation: u64,
    calendar: Option<Arc<WorkCalendar>>,
    limits: HashMap<i64, Vec<TimeLimit>>,
    rules: HashMap<i64, Rules>,
    categories: Option<Arc<HashMap<i64, entity::category::Model>>>,
    viewers: HashMap<i64, ViewerFields>,
}

/// The fields of an active account that a request's viewer is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewerFields {
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The region the account is bound to.
    pub region_id: i64,
}

/// Most accounts whose viewer fields are kept; past it the set starts over (a county has
/// a few hundred staff, a province tens of thousands).
const MAX_VIEWERS: usize = 100_000;

/// Time limits per category, the work calendar and escalation rules, cached while
/// changes are heard (see the module documentation).
#[derive(Default)]
pub struct TableCache {
    listening: AtomicBool,
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for TableCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCache")
            .field("listening", &self.listening.load(Ordering::Relaxed))
            .finish()
    }
}

impl TableCache {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Forgets everything read so far (a rule table changed somewhere).
    pub fn invalidate(&self) {
        let mut e = self.entries();
        *e = Entries {
            generation: e.generation.wrapping_add(1),
            ..Entries::default()
        };
    }

    /// Whether changes are being heard; caching starts and stops with it (and starts
    /// empty: anything may have changed while nobody listened).
    pub fn set_listening(&self, on: bool) {
        self.invalidate();
        self.listening.store(on, Ordering::SeqCst);
        self.invalidate();
    }

    /// Whether the rules are being cached now (changes are heard).
    pub fn caching(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// The generation to stamp a read with, or `None` when nothing may be cached.
    fn generation(&self) -> Option<u64> {
        self.listening
            .load(Ordering::SeqCst)
            .then(|| self.entries().generation)
    }

    /// Keeps `value` if nothing was invalidated since `generation` was taken.
    fn keep(&self, generation: Option<u64>, put: impl FnOnce(&mut Entries)) {
        let mut e = self.entries();
        if generation == Some(e.generation) && self.listening.load(Ordering::SeqCst) {
            put(&mut e);
        }
    }

    /// The work calendar with the default office hours.
    pub async fn calendar<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Arc<WorkCalendar>, AppError> {
        let generation = self.generation();
        if generation.is_some()
            && let Some(c) = &self.entries().calendar
        {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(WorkCalendar::load(db, WorkingHours::default()).await?);
        self.keep(generation, |e| e.calendar = Some(Arc::clone(&c)));
        Ok(c)
    }

    /// The time limits of a category.
    pub async fn limits<C: ConnectionTrait>(
        &self,
        db: &C,
        category_id: i64,
    ) -> Result<Vec<TimeLimit>, AppError> {
        let generation = self.generation();
        if generation.is_some()
            && let Some(l) = self.entries().limits.get(&category_id)
        {
            return Ok(l.clone());
        }
        let l = crate::domain::cases::workflow::limits_of(db, category_id).await?;
        self.keep(generation, |e| {
            e.limits.insert(category_id, l.clone());
        });
        Ok(l)
    }

    /// Every category by id, active or not (a county has a few dozen; case pages name
    /// theirs on every request).
    pub async fn categories<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Arc<HashMap<i64, entity::category::Model>>, AppError> {
        use sea_orm::EntityTrait;
        let generation = self.generation();
        if generation.is_some()
            && let Some(c) = &self.entries().categories
        {
            return Ok(Arc::clone(c));
        }
        let all: HashMap<i64, entity::category::Model> = entity::category::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let all = Arc::new(all);
        self.keep(generation, |e| e.categories = Some(Arc::clone(&all)));
        Ok(all)
    }

    /// The viewer fields of an account, `None` when it does not exist or is inactive
    /// (only active accounts are kept: a token for anyone else is refused each time).
    pub async fn viewer_fields<C: ConnectionTrait>(
        &self,
        db: &C,
        user_id: i64,
    ) -> Result<Option<ViewerFields>, AppError> {
        use entity::app_user;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let generation = self.generation();
        if generation.is_some()
            && let Some(v) = self.entries().viewers.get(&user_id)
        {
            return Ok(Some(v.clone()));
        }
        let Some((name, role, region_id)) = app_user::Entity::find_by_id(user_id)
            .select_only()
            .columns([
                app_user::Column::Name,
                app_user::Column::Role,
                app_user::Column::RegionId,
            ])
            .filter(app_user::Column::Active.eq(true))
            .into_tuple::<(String, Role, i64)>()
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let v = ViewerFields {
            name,
            role,
            region_id,
        };
        self.keep(generation, |e| {
            if e.viewers.len() >= MAX_VIEWERS {
                e.viewers.clear();
            }
            e.viewers.insert(user_id, v.clone());
        });
        Ok(Some(v))
    }

    /// The escalation rules that apply to a category.
    pub async fn rules<C: ConnectionTrait>(
        &self,
        db: &C,
        category_id: i64,
    ) -> Result<Rules, AppError> {
        let generation = self.generation();
        if generation.is_some()
            && let Some(r) = self.entries().rules.get(&category_id)
        {
            return Ok(r.clone());
        }
        let r = Rules::for_category(db, category_id).await?;
        self.keep(generation, |e| {
            e.rules.insert(category_id, r.clone());
        });
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_while_not_listening_or_across_an_invalidation() {
        let cache = TableCache::default();
        let g = cache.generation();
        assert_eq!(g, None, "not listening: no generation");
        cache.keep(g, |e| {
            e.limits.insert(1, Vec::new()).map(drop).unwrap_or(())
        });
        assert!(cache.entries().limits.is_empty());

        cache.set_listening(true);
        let g = cache.generation();
        assert!(g.is_some());
        cache.invalidate(); // a notice arrived while the read was under way
        cache.keep(g, |e| {
            e.limits.insert(1, Vec::new()).map(drop).unwrap_or(())
        });
        assert!(cache.entries().limits.is_empty(), "a raced read is dropped");

        let g = cache.generation();
        cache.keep(g, |e| {
            e.limits.insert(1, Vec::new()).map(drop).unwrap_or(())
        });
        assert_eq!(cache.entries().limits.len(), 1, "a clean read is kept");
        cache.set_listening(false);
        assert!(
            cache.entries().limits.is_empty(),
            "losing the listener forgets"
        );
    }
}
