//! The GraphQL API: thin resolvers over the domain layer.
//!
//! [`schema()`] returns the builder with no data or extensions; the server, the SDL
//! export and the tests all start from it.

mod auth;
mod campaigns;
mod cases;
mod context;
pub mod documents;
mod draws;
pub mod errors;
mod evidence;
pub mod fast;
mod grid;
pub mod limits;
pub mod live;
pub mod loaders;
mod notifications;
mod open311;
mod pagination;
mod patrols;
mod scalars;
mod sites;
mod stats;
mod supervision;
mod tipsters;
mod users;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

pub use limits::{GuardedSchema, RequestLimits};
pub use scalars::parse_id;

use crate::domain::access::Viewer;
use crate::error::AppError;
use crate::state::AppState;
pub use context::RequestContext;

/// Every query of the API.
#[derive(MergedObject, Default)]
pub struct Query(
    grid::GridQuery,
    auth::AuthQuery,
    users::UserQuery,
    cases::CaseQuery,
    cases::SyncQuery,
    notifications::NotificationQuery,
    supervision::SupervisionQuery,
    tipsters::TipsterQuery,
    open311::Open311Query,
    sites::SiteQuery,
    draws::DrawQuery,
    stats::StatsQuery,
    patrols::PatrolQuery,
    campaigns::CampaignQuery,
);

/// Every mutation of the API.
#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    tipsters::TipsterMutation,
    users::UserMutation,
    cases::CaseMutation,
    evidence::EvidenceMutation,
    notifications::NotificationMutation,
    supervision::SupervisionMutation,
    open311::Open311Mutation,
    sites::SiteMutation,
    draws::DrawMutation,
    stats::StatsMutation,
    patrols::PatrolMutation,
    campaigns::CampaignMutation,
);

/// The API's schema type.
pub type GridwatchSchema = Schema<Query, Mutation, live::Subscription>;

/// The schema builder, without data or extensions.
pub fn schema() -> SchemaBuilder<Query, Mutation, live::Subscription> {
    Schema::build(Query::default(), Mutation::default(), live::Subscription)
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

/// The application state the server put into the schema's data.
pub(crate) fn state<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a AppState, AppError> {
    ctx.data::<AppState>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("AppState missing from schema data")))
}

/// The domain's services.
pub(crate) fn services<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<&'a crate::domain::Services, AppError> {
    Ok(&state(ctx)?.services)
}

/// This request's context (request id, language, client address, viewer).
pub(crate) fn request<'a>(
    ctx: &async_graphql::Context<'a>,
) -> Result<&'a RequestContext, AppError> {
    ctx.data::<RequestContext>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("RequestContext missing")))
}

/// The viewer; `UNAUTHENTICATED` when the request carried a bad token.
pub(crate) fn viewer<'a>(ctx: &async_graphql::Context<'a>) -> Result<&'a Viewer, AppError> {
    let r = request(ctx)?;
    if r.bad_token {
        return Err(AppError::Unauthenticated);
    }
    Ok(&r.viewer)
}
