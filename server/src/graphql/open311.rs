//! Open311 client apps and their api_keys (county staff).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::open311_client;

use super::{parse_id, services, viewer};
use crate::domain::open311;
use crate::error::AppError;

/// A client app allowed to POST Open311 GeoReport v2 requests with its api_key.
pub struct Open311Client(open311_client::Model);

/// A client app allowed to POST Open311 GeoReport v2 requests with its api_key.
#[Object]
impl Open311Client {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who the key was issued to.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The key's first characters, to tell keys apart (the key itself is never shown
    /// again).
    async fn key_prefix(&self) -> &str {
        &self.0.key_prefix
    }
    /// When it was issued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was revoked; a revoked key is refused (403).
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new client app and its api_key.
#[derive(SimpleObject)]
pub struct CreatedOpen311Client {
    /// The client.
    pub client: Open311Client,
    /// The `api_key` the app sends with every POST. Shown this once: store it now.
    pub api_key: String,
}

/// Open311 queries.
#[derive(Default)]
pub struct Open311Query;

#[Object]
impl Open311Query {
    /// The Open311 client apps issued within the viewer's county (county staff).
    async fn open311_clients(&self, ctx: &Context<'_>) -> Result<Vec<Open311Client>, AppError> {
        Ok(open311::list_clients(services(ctx)?, viewer(ctx)?)
            .await?
            .into_iter()
            .map(Open311Client)
            .collect())
    }
}

/// Open311 mutations.
#[derive(Default)]
pub struct Open311Mutation;

#[Object]
impl Open311Mutation {
    /// Issues an api_key to an Open311 client app (county staff); the key is shown once.
    async fn create_open311_client(
        &self,
        ctx: &Context<'_>,
        name: String,
    ) -> Result<CreatedOpen311Client, AppError> {
        let (client, api_key) = open311::create_client(services(ctx)?, viewer(ctx)?, &name).await?;
        Ok(CreatedOpen311Client {
            client: Open311Client(client),
            api_key,
        })
    }

    /// Revokes a client app's api_key for good (county staff).
    async fn revoke_open311_client(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Open311Client, AppError> {
        open311::revoke_client(
            services(ctx)?,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(Open311Client)
    }
}
