//! User management, scoped by role and region: who may manage whom, creating,
//! changing, deactivating users, resetting passwords, listing.

use chrono::{DateTime, Utc};
use entity::{app_user, auth_attempt};
use sea_orm::Condition;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use super::sessions::{normalise_username, revoke_user_sessions};
use crate::auth::password;
use crate::domain::Services;
use crate::domain::access::{Role, StaffViewer, Viewer, parse_staff_role};
use crate::domain::grid::{GridSnapshot, path_is_within};
use crate::domain::page::{Page, PageRequest};
use crate::error::{AppError, Msg};

/// Whether `manager` may manage (see, create, change) a staff user with `role` bound to
/// a region at `path`: county admins anyone in their county; township supervisors the
/// inspectors of their township; nobody else anyone.
pub fn may_manage(manager: &StaffViewer, role: Role, path: &str) -> bool {
    match manager.role {
        Role::CountyAdmin => role != Role::Public && path_is_within(path, &manager.region_path),
        Role::TownshipSupervisor => {
            role == Role::Inspector && path_is_within(path, &manager.region_path)
        }
        Role::Inspector | Role::Public => false,
    }
}

/// What other parts of the system show of a staff account: everything but its
/// secrets (password hash, encrypted phone) and login bookkeeping. Relations such as a
/// case's assignee load these, so a page of cases never reads a password hash.
#[derive(Debug, Clone, PartialEq, Eq, sea_orm::FromQueryResult)]
pub struct StaffCard {
    /// Database id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Last four digits of the phone.
    pub phone_last4: Option<String>,
    /// Role.
    pub role: entity::enums::Role,
    /// The region the account is bound to.
    pub region_id: i64,
    /// False once deactivated.
    pub active: bool,
    /// A demonstration account.
    pub demo: bool,
    /// On duty.
    pub on_duty: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

impl StaffCard {
    /// The columns a card is read from.
    pub const COLUMNS: [app_user::Column; 10] = [
        app_user::Column::Id,
        app_user::Column::Username,
        app_user::Column::Name,
        app_user::Column::PhoneLast4,
        app_user::Column::Role,
        app_user::Column::RegionId,
        app_user::Column::Active,
        app_user::Column::Demo,
        app_user::Column::OnDuty,
        app_user::Column::CreatedAt,
    ];
}

/// The cards of the accounts `ids` (missing ids are left out), in one statement.
pub async fn cards<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, StaffCard>, AppError> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows = app_user::Entity::find()
        .select_only()
        .columns(StaffCard::COLUMNS)
        .filter(crate::domain::page::id_in(
            conn.get_database_backend(),
            app_user::Column::Id,
            ids,
        ))
        .into_model::<StaffCard>()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r)).collect())
}

impl From<app_user::Model> for StaffCard {
    fn from(m: app_user::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            name: m.name,
            phone_last4: m.phone_last4,
            role: m.role,
            region_id: m.region_id,
            active: m.active,
            demo: m.demo,
            on_duty: m.on_duty,
            created_at: m.created_at,
        }
    }
}

const MANAGERS: &[Role] = &[Role::CountyAdmin, Role::TownshipSupervisor];

fn user_not_found() -> AppError {
    AppError::not_found("用户", "user")
}

/// A user the manager may see, or `NOT_FOUND` (missing and out-of-scope look the same).
async fn managed_user<C: ConnectionTrait>(
    conn: &C,
    grid: &GridSnapshot,
    manager: &StaffViewer,
    id: i64,
) -> Result<app_user::Model, AppError> {
    let user = app_user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(user_not_found)?;
    let role = user.role;
    let path = grid
        .get(user.region_id)
        .map(|r| r.path.as_str())
        .unwrap_or("");
    if may_manage(manager, role, path) {
        Ok(user)
    } else {
        Err(user_not_found())
    }
}

/// Checks a role can be bound to a region the manager may assign, returning its path.
fn check_assignment<'g>(
    grid: &'g GridSnapshot,
    manager: &StaffViewer,
    role: Role,
    region_id: i64,
) -> Result<&'g str, AppError> {
    let region = grid
        .get(region_id)
        .ok_or_else(|| AppError::not_found("区域", "region"))?;
    if !path_is_within(&region.path, &manager.region_path) {
        return Err(AppError::not_found("区域", "region"));
    }
    if Some(region.level) != role.region_level() {
        return Err(AppError::bad_input(
            "WRONG_REGION_LEVEL",
            Msg::new(
                format!("{} 角色应绑定到{}级区域", role.as_str(), level_zh(role)),
                format!(
                    "a {} must be bound to a {} region",
                    role.as_str(),
                    level_en(role)
                ),
            ),
        )
        .at("regionId"));
    }
    if !may_manage(manager, role, &region.path) {
        return Err(AppError::Forbidden);
    }
    Ok(&region.path)
}

fn level_zh(role: Role) -> &'static str {
    match role {
        Role::CountyAdmin => "县",
        Role::TownshipSupervisor => "乡镇",
        _ => "村（网格）",
    }
}

fn level_en(role: Role) -> &'static str {
    match role {
        Role::CountyAdmin => "COUNTY",
        Role::TownshipSupervisor => "TOWNSHIP",
        _ => "VILLAGE",
    }
}

/// Input of `createUser`, already parsed.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (normalised to lower case).
    pub username: String,
    /// Initial password.
    pub password: String,
    /// Role name.
    pub role: String,
    /// Region id.
    pub region_id: i64,
    /// Display name (defaults to the username).
    pub name: Option<String>,
    /// Encrypted phone and its last four digits.
    pub phone: Option<(Vec<u8>, String)>,
}

fn check_username(u: &str) -> Result<String, AppError> {
    let u = normalise_username(u);
    let ok = (3..=64).contains(&u.len())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(u)
    } else {
        Err(AppError::bad_input(
            "INVALID_USERNAME",
            Msg::new(
                "用户名需 3 到 64 个字符，只能包含字母、数字和 . _ -",
                "username must be 3–64 characters of letters, digits, '.', '_' or '-'",
            ),
        )
        .at("username"))
    }
}

fn check_name(n: &str) -> Result<String, AppError> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(AppError::bad_input(
            "INVALID_NAME",
            Msg::new("姓名需 1 到 64 个字", "name must be 1–64 characters"),
        )
        .at("name"));
    }
    Ok(n.to_owned())
}

/// Creates a staff user within the manager's scope.
pub async fn create_user(
    svc: &Services,
    viewer: &Viewer,
    input: NewUser,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let role = parse_staff_role(&input.role)?;
    let grid = svc.grid.snapshot();
    check_assignment(&grid, manager, role, input.region_id)?;
    insert_user(&svc.db, &grid, role, input, svc.clock.now()).await
}

/// Creates a staff user with no manager: the bootstrap path of the CLI
/// (`gridwatch create-user`), run by whoever controls the server.
pub async fn create_user_unscoped(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    input: NewUser,
    now: DateTime<Utc>,
) -> Result<app_user::Model, AppError> {
    let role = parse_staff_role(&input.role)?;
    insert_user(db, grid, role, input, now).await
}

async fn insert_user(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    role: Role,
    input: NewUser,
    now: DateTime<Utc>,
) -> Result<app_user::Model, AppError> {
    let username = check_username(&input.username)?;
    let region = grid
        .get(input.region_id)
        .ok_or_else(|| AppError::not_found("区域", "region"))?;
    if Some(region.level) != role.region_level() {
        return Err(AppError::bad_input(
            "WRONG_REGION_LEVEL",
            Msg::new(
                format!("{} 角色应绑定到{}级区域", role.as_str(), level_zh(role)),
                format!(
                    "a {} must be bound to a {} region",
                    role.as_str(),
                    level_en(role)
                ),
            ),
        )
        .at("regionId"));
    }
    password::check_strength(&input.password)?;
    let name = check_name(input.name.as_deref().unwrap_or(&username))?;
    let hash = password::hash(&input.password)?;
    let (phone_enc, phone_last4) = input
        .phone
        .map_or((None, None), |(e, l)| (Some(e), Some(l)));
    let res = app_user::ActiveModel {
        username: Set(username),
        password_hash: Set(hash),
        name: Set(name),
        phone_enc: Set(phone_enc),
        phone_last4: Set(phone_last4),
        role: Set(role),
        region_id: Set(input.region_id),
        active: Set(true),
        failed_logins: Set(0),
        locked_until: Set(None),
        demo: Set(false),
        on_duty: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    match res {
        Ok(u) => Ok(u),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(
            AppError::Conflict(Msg::new("用户名已被使用", "username already taken")),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New role.
    pub role: Option<String>,
    /// New region.
    pub region_id: Option<i64>,
    /// New display name.
    pub name: Option<String>,
    /// New phone (encrypted, last four).
    pub phone: Option<(Vec<u8>, String)>,
    /// Inspectors only: on duty, so new tip-offs in their grid are dispatched to them
    /// at once.
    pub on_duty: Option<bool>,
}

/// Updates role, region, name or phone of a user within scope. The user's next request
/// already sees the new role and region.
pub async fn update_user(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
    patch: UserPatch,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let snapshot = svc.grid.snapshot();
    let (db, grid) = (&svc.db, &*snapshot);
    let user = managed_user(db, grid, manager, id).await?;
    let role = match &patch.role {
        Some(r) => parse_staff_role(r)?,
        None => user.role,
    };
    let region_id = patch.region_id.unwrap_or(user.region_id);
    if patch.role.is_some() || patch.region_id.is_some() {
        check_assignment(grid, manager, role, region_id)?;
        if manager.user_id == user.id {
            return Err(AppError::bad_input(
                "OWN_ROLE_FIXED",
                Msg::new(
                    "不能修改自己的角色或区域",
                    "you cannot change your own role or region",
                ),
            )
            .at("role"));
        }
    }
    let mut am: app_user::ActiveModel = user.into();
    am.role = Set(role);
    am.region_id = Set(region_id);
    if let Some(n) = &patch.name {
        am.name = Set(check_name(n)?);
    }
    if let Some(d) = patch.on_duty {
        if role != Role::Inspector && d {
            return Err(AppError::bad_input(
                "NOT_AN_INSPECTOR",
                Msg::new("只有网格员可以设为值班", "only inspectors can be on duty"),
            )
            .at("onDuty"));
        }
        am.on_duty = Set(d);
    }
    if let Some((enc, last4)) = patch.phone {
        am.phone_enc = Set(Some(enc));
        am.phone_last4 = Set(Some(last4));
    }
    am.updated_at = Set(svc.clock.now());
    let user = am.update(db).await?;
    // This process need not wait for its own notice (other processes get theirs).
    svc.cache.invalidate();
    Ok(user)
}

/// Deactivates a user within scope and ends their sessions; their access token stops
/// working on the next request.
pub async fn deactivate_user(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let snapshot = svc.grid.snapshot();
    let (db, grid, now) = (&svc.db, &*snapshot, svc.clock.now());
    if manager.user_id == id {
        return Err(AppError::bad_input(
            "CANNOT_DEACTIVATE_SELF",
            Msg::new("不能停用自己的账号", "you cannot deactivate yourself"),
        )
        .at("id"));
    }
    let user = managed_user(db, grid, manager, id).await?;
    let mut am: app_user::ActiveModel = user.into();
    am.active = Set(false);
    am.updated_at = Set(now);
    let user = am.update(db).await?;
    svc.cache.invalidate();
    revoke_user_sessions(db, id, now).await?;
    Ok(user)
}

/// Sets a new password for a user within scope, ends their sessions and clears a lockout.
pub async fn reset_password(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
    new_password: &str,
) -> Result<bool, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let snapshot = svc.grid.snapshot();
    let (db, grid, now) = (&svc.db, &*snapshot, svc.clock.now());
    let user = managed_user(db, grid, manager, id).await?;
    password::check_strength(new_password)?;
    let hash = password::hash(new_password)?;
    let key = format!("login:{}", user.username);
    let mut am: app_user::ActiveModel = user.into();
    am.password_hash = Set(hash);
    am.updated_at = Set(now);
    am.update(db).await?;
    revoke_user_sessions(db, id, now).await?;
    auth_attempt::Entity::delete_many()
        .filter(auth_attempt::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(true)
}

/// Filters of `users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<String>,
    /// Only users bound within this region's subtree.
    pub region_id: Option<i64>,
    /// Only active (true) or inactive (false) users.
    pub active: Option<bool>,
    /// Username or name contains this text.
    pub text: Option<String>,
}

/// The users the viewer may manage, filtered, ordered by id, one page.
pub async fn list_users(
    svc: &Services,
    viewer: &Viewer,
    filter: UserFilter,
    page: PageRequest,
) -> Result<Page<app_user::Model>, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let snapshot = svc.grid.snapshot();
    let (db, grid) = (&svc.db, &*snapshot);
    // Region ids within scope (and within the filter's subtree).
    let root_path = match filter.region_id {
        Some(rid) => {
            let r = grid
                .get(rid)
                .ok_or_else(|| AppError::not_found("区域", "region"))?;
            if !path_is_within(&r.path, &manager.region_path) {
                return Err(AppError::not_found("区域", "region"));
            }
            r.path.clone()
        }
        None => manager.region_path.clone(),
    };
    let region_ids: Vec<i64> = grid
        .all()
        .iter()
        .filter(|r| path_is_within(&r.path, &root_path))
        .map(|r| r.id)
        .collect();
    let mut q = app_user::Entity::find().filter(app_user::Column::RegionId.is_in(region_ids));
    if manager.role == Role::TownshipSupervisor {
        q = q.filter(app_user::Column::Role.eq(Role::Inspector.as_str()));
    }
    if let Some(r) = &filter.role {
        q = q.filter(app_user::Column::Role.eq(parse_staff_role(r)?.as_str()));
    }
    if let Some(a) = filter.active {
        q = q.filter(app_user::Column::Active.eq(a));
    }
    if let Some(t) = crate::domain::page::like_fragment(filter.text.as_deref()) {
        q = q.filter(
            Condition::any()
                .add(app_user::Column::Username.contains(t.to_lowercase()))
                .add(app_user::Column::Name.contains(&t)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(app_user::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(app_user::Column::Id)
        .limit(page.fetch_limit())
        .all(db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// Validates a phone number and encrypts it for `app_user.phone_enc`, returning the
/// ciphertext and the last four digits (kept in clear for masked display).
pub fn seal_phone(
    vault: &crate::auth::vault::Vault,
    raw: &str,
) -> Result<(Vec<u8>, String), AppError> {
    let phone = crate::domain::phone::Phone::try_from(raw)?;
    let enc = vault.encrypt(
        phone.as_str().as_bytes(),
        crate::auth::vault::aad::APP_USER_PHONE,
    )?;
    Ok((enc, phone.last4().to_owned()))
}
