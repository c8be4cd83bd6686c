//! Offline delta sync over GraphQL: `changesSince`.

use async_graphql::{Context, ID, Object};

use super::super::fast::Fast;
use super::super::grid::Category;
use super::super::{state, viewer};
use super::loaders;
use super::objects::Case;
use crate::domain::changes::{self as dom, Changes as DomainChanges};
use crate::error::AppError;

/// What changed for the viewer since a cursor (see `changesSince`).
pub struct Changes(DomainChanges);

#[Object]
impl Changes {
    /// Cases that entered or changed within the viewer's scope, as they are now (store
    /// them over what the device holds), in the order of their latest change.
    async fn cases(&self, ctx: &Context<'_>) -> Result<Vec<Fast<Case>>, AppError> {
        loaders(ctx)?
            .prime_cases(&[ctx.look_ahead()], &self.0.cases)
            .await?;
        Ok(self
            .0
            .cases
            .iter()
            .cloned()
            .map(|c| Fast(Case(c)))
            .collect())
    }

    /// Cases that left the viewer's scope (reassigned away, escalated above the grid):
    /// remove them from the device.
    async fn removed(&self) -> Vec<ID> {
        self.0.removed.iter().map(|id| ID(id.to_string())).collect()
    }

    /// The active categories with their time limits when they changed since the cursor
    /// (or without a cursor); null when the device's copy is current.
    async fn categories(&self) -> Option<Vec<Category>> {
        self.0
            .categories
            .as_ref()
            .map(|c| c.iter().cloned().map(Category).collect())
    }

    /// The grid's version: refetch regions when it differs from the one the device holds.
    async fn grid_version(&self) -> &str {
        &self.0.grid_version
    }

    /// Where to continue next time (keep it with the device's data).
    async fn cursor(&self) -> &str {
        &self.0.cursor
    }

    /// More changes are waiting: call again with `cursor` right away.
    async fn has_more(&self) -> bool {
        self.0.has_more
    }

    /// The cursor was too old (changes are kept 30 days): drop the device's cases,
    /// fetch them again with `cases`/`myTasks`, and continue from `cursor`.
    async fn resync(&self) -> bool {
        self.0.resync
    }
}

/// The sync query.
#[derive(Default)]
pub struct SyncQuery;

#[Object]
impl SyncQuery {
    /// Offline delta sync for the staff apps: the cases that entered, changed in or left
    /// the viewer's scope since `cursor` (at most `first`, ≤ 100), and the reference
    /// data when it changed. Without a cursor: start now — the answer holds a cursor
    /// and the reference data; fetch the cases with `cases`/`myTasks` after taking it
    /// (a change in between comes again on the next call, which is harmless). The
    /// cursor never skips a change, even one whose transaction committed late.
    async fn changes_since(
        &self,
        ctx: &Context<'_>,
        cursor: Option<String>,
        first: Option<i32>,
    ) -> Result<Changes, AppError> {
        let st = state(ctx)?;
        let c = dom::since(&st.services, viewer(ctx)?, cursor.as_deref(), first).await?;
        Ok(Changes(c))
    }
}
