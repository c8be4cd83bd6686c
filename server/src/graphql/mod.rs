//! The GraphQL API: thin resolvers over the domain layer.
//!
//! [`schema()`] returns the builder with no data or extensions; the server, the SDL
//! export and the tests all start from it.

mod grid;
mod scalars;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};

pub use scalars::parse_id;

use crate::app::AppState;
use crate::error::AppError;

/// The application state the server put into the schema's data.
pub(crate) fn state<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a AppState, AppError> {
    ctx.data::<AppState>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("AppState missing from schema data")))
}

/// Every query of the API.
#[derive(MergedObject, Default)]
pub struct Query(grid::GridQuery);

/// The API's schema type.
pub type GridwatchSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema builder, without data or extensions.
pub fn schema() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
}

/// The SDL as committed in `schema.graphql`: sorted, so diffs show real changes only.
pub fn sdl() -> String {
    schema().finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
