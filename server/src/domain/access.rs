//! Who is asking, and what their role and region let them reach.
//!
//! Every domain function takes a [`Viewer`] and checks scope itself; resolvers only
//! guard "logged in" and coarse role. Objects outside the viewer's scope answer
//! exactly like missing ones.

use entity::{app_user, tipster};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use super::cache::TableCache;
use super::grid::{GridSnapshot, path_is_within};
use crate::auth::token::{Subject, TokenKeys};
use crate::error::{AppError, Msg};

pub use entity::enums::Role;

/// A logged-in staff member, as of this request (re-read from the database each time,
/// so deactivation or a new role/region takes effect on the next request).
#[derive(Debug, Clone)]
pub struct StaffViewer {
    /// `app_user.id`.
    pub user_id: i64,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The region the user is bound to.
    pub region_id: i64,
    /// That region's materialised path.
    pub region_path: String,
}

impl StaffViewer {
    /// Whether a region path lies within this staff member's region.
    pub fn covers(&self, path: &str) -> bool {
        path_is_within(path, &self.region_path)
    }

    /// Whether a region path meets this staff member's region: lies within it, or above
    /// it (a county asked by a township supervisor narrows to their township).
    pub fn meets(&self, path: &str) -> bool {
        self.covers(path) || path_is_within(&self.region_path, path)
    }

    /// The region a list or a figure may be narrowed to: one that meets the viewer's
    /// region (the query keeps its own scope condition); one beside it, or none, is
    /// `NOT_FOUND`.
    pub fn narrowing_region<'g>(
        &self,
        grid: &'g GridSnapshot,
        region_id: i64,
    ) -> Result<&'g super::grid::RegionNode, AppError> {
        grid.get(region_id)
            .filter(|r| self.meets(&r.path))
            .ok_or_else(|| AppError::not_found("区域", "region"))
    }
}

/// A logged-in member of the public.
#[derive(Debug, Clone)]
pub struct PublicViewer {
    /// `tipster.id`.
    pub tipster_id: i64,
    /// The pseudonymous handle staff see.
    pub handle: String,
}

/// Whoever sent the request.
#[derive(Debug, Clone)]
pub enum Viewer {
    /// No credentials.
    Anonymous,
    /// A staff member.
    Staff(StaffViewer),
    /// A member of the public.
    Public(PublicViewer),
}

impl Viewer {
    /// The staff member, or `UNAUTHENTICATED` / `FORBIDDEN`.
    pub fn staff(&self) -> Result<&StaffViewer, AppError> {
        match self {
            Self::Staff(s) => Ok(s),
            Self::Anonymous => Err(AppError::Unauthenticated),
            Self::Public(_) => Err(AppError::Forbidden),
        }
    }

    /// The staff member if their role is one of `roles`.
    pub fn staff_with(&self, roles: &[Role]) -> Result<&StaffViewer, AppError> {
        let s = self.staff()?;
        if roles.contains(&s.role) {
            Ok(s)
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The member of the public, or `UNAUTHENTICATED` / `FORBIDDEN`.
    pub fn public(&self) -> Result<&PublicViewer, AppError> {
        match self {
            Self::Public(p) => Ok(p),
            Self::Anonymous => Err(AppError::Unauthenticated),
            Self::Staff(_) => Err(AppError::Forbidden),
        }
    }

    /// Who the idempotency records of this viewer belong to: a key is only ever matched
    /// against the same sender's earlier requests.
    pub fn idempotency_scope(&self) -> String {
        match self {
            Self::Staff(s) => format!("user:{}", s.user_id),
            Self::Public(p) => format!("tipster:{}", p.tipster_id),
            Self::Anonymous => "anonymous".into(),
        }
    }

    /// The role, `None` when anonymous.
    pub fn role(&self) -> Option<Role> {
        match self {
            Self::Anonymous => None,
            Self::Staff(s) => Some(s.role),
            Self::Public(_) => Some(Role::Public),
        }
    }
}

/// Resolves a bearer token to a viewer, with the account as it is now, so that
/// deactivation and role or region changes apply at once: read each time, or kept by
/// [`TableCache`] only while this process hears of every change to accounts. Any flaw
/// in the token is `UNAUTHENTICATED`.
pub async fn resolve(
    db: &DatabaseConnection,
    cache: &TableCache,
    keys: &TokenKeys,
    grid: &GridSnapshot,
    bearer: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Viewer, AppError> {
    let Some(token) = bearer else {
        return Ok(Viewer::Anonymous);
    };
    match keys.verify(token, now)? {
        Subject::User(id) => {
            // Only what a viewer is made of (this runs on every request), from the
            // process's cache while changes to accounts are heard.
            let v = cache
                .viewer_fields(db, id)
                .await?
                .ok_or(AppError::Unauthenticated)?;
            viewer_of(id, v.name, v.role, v.region_id, grid).ok_or(AppError::Unauthenticated)
        }
        Subject::Tipster(id) => {
            let (tipster_id, handle) = tipster::Entity::find_by_id(id)
                .select_only()
                .columns([tipster::Column::Id, tipster::Column::Handle])
                .into_tuple::<(i64, String)>()
                .one(db)
                .await?
                .ok_or(AppError::Unauthenticated)?;
            Ok(Viewer::Public(PublicViewer { tipster_id, handle }))
        }
    }
}

/// The viewer a user row stands for, if its role and region are readable.
pub fn staff_viewer(user: &app_user::Model, grid: &GridSnapshot) -> Option<Viewer> {
    viewer_of(user.id, user.name.clone(), user.role, user.region_id, grid)
}

/// The staff viewer of these user fields, if the role is a staff one and the region
/// is in the grid.
fn viewer_of(
    user_id: i64,
    name: String,
    role: Role,
    region_id: i64,
    grid: &GridSnapshot,
) -> Option<Viewer> {
    let role = Some(role).filter(|r| *r != Role::Public)?;
    let region = grid.get(region_id)?;
    Some(Viewer::Staff(StaffViewer {
        user_id,
        name,
        role,
        region_id: region.id,
        region_path: region.path.clone(),
    }))
}

/// Parses a role name from input (`BAD_INPUT` when unknown or not a staff role).
pub fn parse_staff_role(s: &str) -> Result<Role, AppError> {
    Role::parse(s)
        .filter(|r| *r != Role::Public)
        .ok_or_else(|| {
            AppError::bad_input(
                "INVALID_ROLE",
                Msg::new(
                    format!("角色 {s} 无效（应为 COUNTY_ADMIN、TOWNSHIP_SUPERVISOR 或 INSPECTOR）"),
                    format!("invalid role {s} (COUNTY_ADMIN, TOWNSHIP_SUPERVISOR or INSPECTOR)"),
                ),
            )
            .at("role")
        })
}
