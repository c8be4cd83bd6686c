//! Staff user management, scoped by role and region.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use entity::app_user;

use super::auth::Role;
use super::grid::Region;
use super::pagination::{connection, page_request};
use super::{parse_id, state, viewer};
use crate::domain::access;
use crate::domain::accounts::users::StaffCard;
use crate::domain::accounts::{self, NewUser, UserFilter as DomainFilter, UserPatch};
use crate::error::AppError;

/// A staff account.
pub struct User(pub StaffCard);

impl From<StaffCard> for User {
    fn from(card: StaffCard) -> Self {
        Self(card)
    }
}

impl User {
    /// A staff account by id through the request's loader (one query per kind of
    /// relation per request, never the password hash).
    pub(crate) async fn by_id(ctx: &Context<'_>, id: i64) -> Result<Option<Self>, AppError> {
        Ok(ctx
            .data::<super::loaders::Loaders>()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("loaders missing")))?
            .users
            .load_one(id)
            .await
            .map_err(super::loaders::unshare)?
            .map(Self))
    }
}

impl From<app_user::Model> for User {
    fn from(m: app_user::Model) -> Self {
        Self(m.into())
    }
}

/// Every field reads the account's card or the grid snapshot.
impl super::fast::Inline for User {
    fn inline(_: &str) -> bool {
        true
    }
}

#[Object]
impl User {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Login name.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Role.
    async fn role(&self) -> Option<Role> {
        Some(self.0.role.into())
    }
    /// The region the user is bound to.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        Ok(Region::by_id(
            &state(ctx)?.services.grid.snapshot(),
            self.0.region_id,
        ))
    }
    /// False once deactivated; a deactivated user cannot log in.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The phone number, masked to its last four digits (`*******5678`); the full number
    /// is stored encrypted.
    async fn phone(&self) -> Option<String> {
        self.0.phone_last4.as_ref().map(|l4| format!("*******{l4}"))
    }
    /// On duty: new tip-offs in the inspector's grid are dispatched to them at once.
    async fn on_duty(&self) -> bool {
        self.0.on_duty
    }
    /// A demo account (seeded by `serve --demo`).
    async fn demo(&self) -> bool {
        self.0.demo
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new staff account.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Login name: 3–64 letters, digits, `.`, `_`, `-` (stored in lower case).
    pub username: String,
    /// Initial password: 8–128 characters mixing at least two kinds.
    pub password: String,
    /// Role; must match the region's level (county / township / village).
    pub role: Role,
    /// The region the user is bound to.
    pub region_id: ID,
    /// Display name (defaults to the username).
    pub name: Option<String>,
    /// Mobile number (stored encrypted, shown masked).
    pub phone: Option<String>,
}

/// Changes to a staff account; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateUserInput {
    /// New role.
    pub role: Option<Role>,
    /// New region.
    pub region_id: Option<ID>,
    /// New display name.
    pub name: Option<String>,
    /// New mobile number.
    pub phone: Option<String>,
    /// Inspectors: on duty (new tip-offs in their grid are dispatched to them at once).
    pub on_duty: Option<bool>,
}

/// Filters of `users`.
#[derive(InputObject, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only users bound within this region's subtree.
    pub region_id: Option<ID>,
    /// Only active (true) or deactivated (false) users.
    pub active: Option<bool>,
    /// Username or name contains this text.
    pub text: Option<String>,
}

fn encrypt_phone(
    ctx: &Context<'_>,
    phone: Option<&str>,
) -> Result<Option<(Vec<u8>, String)>, AppError> {
    let Some(raw) = phone else { return Ok(None) };
    let st = state(ctx)?;
    crate::domain::accounts::seal_phone(&st.services.vault, raw).map(Some)
}

/// User queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Staff accounts the viewer may manage (county admins: their county; township
    /// supervisors: their township's inspectors), ordered by id.
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User>, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        let page = page_request(
            "user",
            first,
            after,
            st.services.config.limits.max_page_size,
        )?;
        let f = filter.unwrap_or_default();
        let filter = DomainFilter {
            role: f.role.map(|r| access::Role::from(r).as_str().to_owned()),
            region_id: f
                .region_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("filter.regionId"))?,
            active: f.active,
            text: f.text,
        };
        let page = accounts::list_users(&st.services, v, filter, page).await?;
        Ok(connection("user", page, |u| u.id, User::from))
    }
}

/// User management mutations.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a staff account within the viewer's scope.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<User, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let new = NewUser {
            username: input.username,
            password: input.password,
            role: access::Role::from(input.role).as_str().to_owned(),
            region_id: parse_id(&input.region_id).map_err(|e| e.at("input.regionId"))?,
            name: input.name,
            phone: encrypt_phone(ctx, input.phone.as_deref()).map_err(|e| e.under("input"))?,
        };
        accounts::create_user(&st.services, v, new)
            .await
            .map(User::from)
            .map_err(|e| e.under("input"))
    }

    /// Changes role, region, name or phone of an account within the viewer's scope;
    /// takes effect on the user's next request.
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> Result<User, AppError> {
        let st = state(ctx)?;
        let v = viewer(ctx)?;
        v.staff()?;
        let patch = UserPatch {
            role: input
                .role
                .map(|r| access::Role::from(r).as_str().to_owned()),
            region_id: input
                .region_id
                .as_ref()
                .map(parse_id)
                .transpose()
                .map_err(|e| e.at("input.regionId"))?,
            name: input.name,
            phone: encrypt_phone(ctx, input.phone.as_deref()).map_err(|e| e.under("input"))?,
            on_duty: input.on_duty,
        };
        accounts::update_user(
            &st.services,
            v,
            parse_id(&id).map_err(|e| e.at("id"))?,
            patch,
        )
        .await
        .map(User::from)
        .map_err(|e| e.under("input"))
    }

    /// Deactivates an account within the viewer's scope and ends its sessions.
    async fn deactivate_user(&self, ctx: &Context<'_>, id: ID) -> Result<User, AppError> {
        let st = state(ctx)?;
        accounts::deactivate_user(
            &st.services,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
        )
        .await
        .map(User::from)
    }

    /// Sets a new password for an account within the viewer's scope and ends its sessions.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        id: ID,
        password: String,
    ) -> Result<bool, AppError> {
        let st = state(ctx)?;
        accounts::reset_password(
            &st.services,
            viewer(ctx)?,
            parse_id(&id).map_err(|e| e.at("id"))?,
            &password,
        )
        .await
    }
}
