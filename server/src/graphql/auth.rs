//! Login, tokens and the current viewer.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::grid::Region;
use super::{request, state, viewer};
use crate::auth::token::Subject;
use crate::domain::access::{self, Viewer as DomainViewer};
use crate::domain::accounts;
use crate::error::AppError;

/// A role in the grid system.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Role {
    /// County staff: everything in their county.
    CountyAdmin,
    /// Township supervisor: everything under their township.
    TownshipSupervisor,
    /// Grid inspector: their village grid and their own tasks.
    Inspector,
    /// A member of the public using the mini-program.
    Public,
}

impl From<access::Role> for Role {
    fn from(r: access::Role) -> Self {
        match r {
            access::Role::CountyAdmin => Self::CountyAdmin,
            access::Role::TownshipSupervisor => Self::TownshipSupervisor,
            access::Role::Inspector => Self::Inspector,
            access::Role::Public => Self::Public,
        }
    }
}

impl From<Role> for access::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::CountyAdmin => Self::CountyAdmin,
            Role::TownshipSupervisor => Self::TownshipSupervisor,
            Role::Inspector => Self::Inspector,
            Role::Public => Self::Public,
        }
    }
}

/// Whoever is logged in.
pub struct Viewer(DomainViewer);

#[Object]
impl Viewer {
    /// Opaque id: the staff user's or the public user's.
    async fn id(&self) -> ID {
        match &self.0 {
            DomainViewer::Staff(s) => ID(s.user_id.to_string()),
            DomainViewer::Public(p) => ID(format!("p{}", p.tipster_id)),
            DomainViewer::Anonymous => ID(String::new()),
        }
    }
    /// Display name; a public user's pseudonymous handle.
    async fn name(&self) -> &str {
        match &self.0 {
            DomainViewer::Staff(s) => &s.name,
            DomainViewer::Public(p) => &p.handle,
            DomainViewer::Anonymous => "",
        }
    }
    /// Role.
    async fn role(&self) -> Option<Role> {
        self.0.role().map(Role::from)
    }
    /// The region a staff member is bound to; null for the public.
    async fn region(&self, ctx: &Context<'_>) -> Result<Option<Region>, AppError> {
        match &self.0 {
            DomainViewer::Staff(s) => {
                let snap = state(ctx)?.services.grid.snapshot();
                Ok(Region::by_id(&snap, s.region_id))
            }
            _ => Ok(None),
        }
    }
}

/// Tokens after a login or refresh.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for `Authorization: Bearer …`, valid for at most 15 minutes.
    pub access_token: String,
    /// Single-use token for `refreshToken`; keep it secret, it is rotated on each use.
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Who is logged in.
    pub viewer: Viewer,
}

pub(super) async fn payload(
    ctx: &Context<'_>,
    session: accounts::Session,
) -> Result<AuthPayload, AppError> {
    let st = state(ctx)?;
    let viewer = match session.subject {
        Subject::User(_) | Subject::Tipster(_) => {
            access::resolve(
                &st.services.db,
                &st.services.cache,
                &st.services.keys,
                &st.services.grid.snapshot(),
                Some(&session.access_token),
                st.services.clock.now(),
            )
            .await?
        }
    };
    Ok(AuthPayload {
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        expires_at: session.expires_at,
        viewer: Viewer(viewer),
    })
}

/// Queries about the current viewer.
#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The logged-in user; `UNAUTHENTICATED` without a valid token.
    async fn me(&self, ctx: &Context<'_>) -> Result<Viewer, AppError> {
        match viewer(ctx)? {
            DomainViewer::Anonymous => Err(AppError::Unauthenticated),
            v => Ok(Viewer(v.clone())),
        }
    }
}

/// Login and token mutations.
#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Staff login with username and password. Wrong username or password give the
    /// same `UNAUTHENTICATED`; repeated failures lock the username for a while
    /// (`RATE_LIMITED` with `retryAfter`).
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        password: String,
    ) -> Result<AuthPayload, AppError> {
        let st = state(ctx)?;
        st.limits.check_login(request(ctx)?.client_ip).await?;
        let session = accounts::login(&st.services, &username, &password).await?;
        payload(ctx, session).await
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works once; using
    /// one again ends the whole session (all tokens descended from the same login).
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload, AppError> {
        let st = state(ctx)?;
        let session = accounts::refresh(&st.services, &refresh_token).await?;
        payload(ctx, session).await
    }

    /// Ends the session the refresh token belongs to. Always true.
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool, AppError> {
        accounts::logout(&state(ctx)?.services, &refresh_token).await
    }
}
