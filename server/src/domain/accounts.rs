//! Staff accounts and sessions: login with lockout, refresh-token rotation with reuse
//! detection, logout, and user management scoped by role and region.

use chrono::{DateTime, Duration, Utc};
use entity::{app_user, auth_attempt, refresh_token};
use sea_orm::Condition;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use super::access::{Role, StaffViewer, Viewer, parse_staff_role};
use super::grid::{GridSnapshot, path_is_within};
use super::page::{Page, PageRequest};
use crate::auth::password;
use crate::auth::token::{Subject, TokenKeys, hash_refresh_token, new_refresh_token};
use crate::config::AuthConfig;
use crate::error::{AppError, Msg};

/// Tokens handed to a client after login or refresh.
#[derive(Debug, Clone)]
pub struct Session {
    /// Short-lived JWT.
    pub access_token: String,
    /// Opaque refresh token (shown once, stored hashed).
    pub refresh_token: String,
    /// When the access token expires.
    pub expires_at: DateTime<Utc>,
    /// Who the tokens speak for.
    pub subject: Subject,
}

/// Creates a session for `subject`, continuing `family` when rotating.
pub async fn issue_session<C: ConnectionTrait>(
    conn: &C,
    keys: &TokenKeys,
    cfg: &AuthConfig,
    subject: Subject,
    family: Option<String>,
) -> Result<Session, AppError> {
    let (access_token, expires_at) = keys.issue(subject)?;
    let (refresh, hash) = new_refresh_token();
    let now = Utc::now();
    let (user_id, tipster_id) = match subject {
        Subject::User(id) => (Some(id), None),
        Subject::Tipster(id) => (None, Some(id)),
    };
    refresh_token::ActiveModel {
        family_id: Set(family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())),
        token_hash: Set(hash),
        user_id: Set(user_id),
        tipster_id: Set(tipster_id),
        issued_at: Set(now),
        expires_at: Set(now + Duration::days(i64::try_from(cfg.refresh_ttl_days).unwrap_or(30))),
        used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(Session {
        access_token,
        refresh_token: refresh,
        expires_at,
        subject,
    })
}

fn normalise_username(u: &str) -> String {
    u.trim().to_lowercase()
}

/// Staff login. Unknown user, wrong password and inactive user give the same answer in
/// similar time; repeated failures lock the username (known or not) for a while.
pub async fn login(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    cfg: &AuthConfig,
    username: &str,
    password_attempt: &str,
) -> Result<Session, AppError> {
    let username = normalise_username(username);
    if username.is_empty() || username.len() > 64 || password_attempt.len() > 1024 {
        // Same work as a real attempt, same answer.
        password::verify(password_attempt, None);
        return Err(AppError::BadCredentials);
    }
    let now = Utc::now();
    let key = format!("login:{username}");
    let attempt = auth_attempt::Entity::find()
        .filter(auth_attempt::Column::Key.eq(&key))
        .one(db)
        .await?;
    if let Some(locked) = attempt.as_ref().and_then(|a| a.locked_until)
        && locked > now
    {
        password::verify(password_attempt, None);
        let secs = u64::try_from(Ord::max((locked - now).num_seconds(), 1)).unwrap_or(1);
        return Err(AppError::RateLimited {
            retry_after_secs: secs,
        });
    }
    let user = app_user::Entity::find()
        .filter(app_user::Column::Username.eq(&username))
        .one(db)
        .await?;
    let ok = password::verify(
        password_attempt,
        user.as_ref().map(|u| u.password_hash.as_str()),
    );
    match user.filter(|u| ok && u.active) {
        Some(user) => {
            if let Some(a) = attempt {
                auth_attempt::Entity::delete_by_id(a.id).exec(db).await?;
            }
            issue_session(db, keys, cfg, Subject::User(user.id), None).await
        }
        None => {
            record_failure(db, cfg, &key, attempt, now).await?;
            Err(AppError::BadCredentials)
        }
    }
}

async fn record_failure(
    db: &DatabaseConnection,
    cfg: &AuthConfig,
    key: &str,
    attempt: Option<auth_attempt::Model>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let window = Duration::seconds(i64::try_from(cfg.lockout_secs).unwrap_or(900));
    let max = i32::try_from(Ord::max(cfg.max_failed_logins, 1)).unwrap_or(5);
    match attempt {
        Some(a) => {
            let (failures, start) = if now - a.window_start > window {
                (1, now)
            } else {
                (a.failures + 1, a.window_start)
            };
            let mut am: auth_attempt::ActiveModel = a.into();
            am.failures = Set(failures);
            am.window_start = Set(start);
            am.locked_until = Set((failures >= max).then_some(now + window));
            am.update(db).await?;
        }
        None => {
            let res = auth_attempt::ActiveModel {
                key: Set(key.to_owned()),
                failures: Set(1),
                window_start: Set(now),
                locked_until: Set((max <= 1).then_some(now + window)),
                ..Default::default()
            }
            .insert(db)
            .await;
            match res {
                Ok(_) => {}
                // A concurrent failure created the row first: count this one on it.
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    auth_attempt::Entity::update_many()
                        .col_expr(
                            auth_attempt::Column::Failures,
                            ExprTrait::add(Expr::col(auth_attempt::Column::Failures), 1),
                        )
                        .filter(auth_attempt::Column::Key.eq(key))
                        .exec(db)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Rotates a refresh token. A token that was already used (a replay, or a stolen copy)
/// revokes its whole family, so both holders must log in again.
pub async fn refresh(
    db: &DatabaseConnection,
    keys: &TokenKeys,
    cfg: &AuthConfig,
    token: &str,
) -> Result<Session, AppError> {
    let now = Utc::now();
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_refresh_token(token)))
        .one(db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::Unauthenticated);
    }
    // Claim the token: only one caller can flip used_at from NULL.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if claimed == 0 {
        tracing::warn!(token.family = %row.family_id, "refresh token reused; revoking its family");
        revoke_family(db, &row.family_id).await?;
        return Err(AppError::Unauthenticated);
    }
    let subject = match (row.user_id, row.tipster_id) {
        (Some(uid), _) => {
            let active = app_user::Entity::find_by_id(uid)
                .one(db)
                .await?
                .is_some_and(|u| u.active);
            if !active {
                revoke_family(db, &row.family_id).await?;
                return Err(AppError::Unauthenticated);
            }
            Subject::User(uid)
        }
        (None, Some(tid)) => Subject::Tipster(tid),
        (None, None) => return Err(AppError::Unauthenticated),
    };
    issue_session(db, keys, cfg, subject, Some(row.family_id)).await
}

/// Ends the session the refresh token belongs to (its whole family). Unknown tokens
/// are accepted silently: logging out twice is not an error.
pub async fn logout(db: &DatabaseConnection, token: &str) -> Result<bool, AppError> {
    if let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_refresh_token(token)))
        .one(db)
        .await?
    {
        revoke_family(db, &row.family_id).await?;
    }
    Ok(true)
}

async fn revoke_family<C: ConnectionTrait>(conn: &C, family: &str) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn revoke_user_sessions<C: ConnectionTrait>(conn: &C, user_id: i64) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- user management

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
    let role = Role::parse(&user.role).ok_or_else(user_not_found)?;
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
        return Err(AppError::bad_input(Msg::new(
            format!("{} 角色应绑定到{}级区域", role.as_str(), level_zh(role)),
            format!(
                "a {} must be bound to a {} region",
                role.as_str(),
                level_en(role)
            ),
        )));
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
        Err(AppError::bad_input(Msg::new(
            "用户名需 3 到 64 个字符，只能包含字母、数字和 . _ -",
            "username must be 3–64 characters of letters, digits, '.', '_' or '-'",
        )))
    }
}

fn check_name(n: &str) -> Result<String, AppError> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 64 {
        return Err(AppError::bad_input(Msg::new(
            "姓名需 1 到 64 个字",
            "name must be 1–64 characters",
        )));
    }
    Ok(n.to_owned())
}

/// Creates a staff user within the manager's scope.
pub async fn create_user(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    viewer: &Viewer,
    input: NewUser,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let role = parse_staff_role(&input.role)?;
    check_assignment(grid, manager, role, input.region_id)?;
    insert_user(db, grid, role, input).await
}

/// Creates a staff user with no manager: the bootstrap path of the CLI
/// (`gridwatch create-user`), run by whoever controls the server.
pub async fn create_user_unscoped(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    input: NewUser,
) -> Result<app_user::Model, AppError> {
    let role = parse_staff_role(&input.role)?;
    insert_user(db, grid, role, input).await
}

async fn insert_user(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    role: Role,
    input: NewUser,
) -> Result<app_user::Model, AppError> {
    let username = check_username(&input.username)?;
    let region = grid
        .get(input.region_id)
        .ok_or_else(|| AppError::not_found("区域", "region"))?;
    if Some(region.level) != role.region_level() {
        return Err(AppError::bad_input(Msg::new(
            format!("{} 角色应绑定到{}级区域", role.as_str(), level_zh(role)),
            format!(
                "a {} must be bound to a {} region",
                role.as_str(),
                level_en(role)
            ),
        )));
    }
    password::check_strength(&input.password)?;
    let name = check_name(input.name.as_deref().unwrap_or(&username))?;
    let hash = password::hash(&input.password)?;
    let now = Utc::now();
    let (phone_enc, phone_last4) = input
        .phone
        .map_or((None, None), |(e, l)| (Some(e), Some(l)));
    let res = app_user::ActiveModel {
        username: Set(username),
        password_hash: Set(hash),
        name: Set(name),
        phone_enc: Set(phone_enc),
        phone_last4: Set(phone_last4),
        role: Set(role.as_str().to_owned()),
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
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    viewer: &Viewer,
    id: i64,
    patch: UserPatch,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let user = managed_user(db, grid, manager, id).await?;
    let role = match &patch.role {
        Some(r) => parse_staff_role(r)?,
        None => Role::parse(&user.role).ok_or_else(user_not_found)?,
    };
    let region_id = patch.region_id.unwrap_or(user.region_id);
    if patch.role.is_some() || patch.region_id.is_some() {
        check_assignment(grid, manager, role, region_id)?;
        if manager.user_id == user.id {
            return Err(AppError::bad_input(Msg::new(
                "不能修改自己的角色或区域",
                "you cannot change your own role or region",
            )));
        }
    }
    let mut am: app_user::ActiveModel = user.into();
    am.role = Set(role.as_str().to_owned());
    am.region_id = Set(region_id);
    if let Some(n) = &patch.name {
        am.name = Set(check_name(n)?);
    }
    if let Some(d) = patch.on_duty {
        if role != Role::Inspector && d {
            return Err(AppError::bad_input(Msg::new(
                "只有网格员可以设为值班",
                "only inspectors can be on duty",
            )));
        }
        am.on_duty = Set(d);
    }
    if let Some((enc, last4)) = patch.phone {
        am.phone_enc = Set(Some(enc));
        am.phone_last4 = Set(Some(last4));
    }
    am.updated_at = Set(Utc::now());
    Ok(am.update(db).await?)
}

/// Deactivates a user within scope and ends their sessions; their access token stops
/// working on the next request.
pub async fn deactivate_user(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    viewer: &Viewer,
    id: i64,
) -> Result<app_user::Model, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    if manager.user_id == id {
        return Err(AppError::bad_input(Msg::new(
            "不能停用自己的账号",
            "you cannot deactivate yourself",
        )));
    }
    let user = managed_user(db, grid, manager, id).await?;
    let mut am: app_user::ActiveModel = user.into();
    am.active = Set(false);
    am.updated_at = Set(Utc::now());
    let user = am.update(db).await?;
    revoke_user_sessions(db, id).await?;
    Ok(user)
}

/// Sets a new password for a user within scope, ends their sessions and clears a lockout.
pub async fn reset_password(
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    viewer: &Viewer,
    id: i64,
    new_password: &str,
) -> Result<bool, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
    let user = managed_user(db, grid, manager, id).await?;
    password::check_strength(new_password)?;
    let hash = password::hash(new_password)?;
    let key = format!("login:{}", user.username);
    let mut am: app_user::ActiveModel = user.into();
    am.password_hash = Set(hash);
    am.updated_at = Set(Utc::now());
    am.update(db).await?;
    revoke_user_sessions(db, id).await?;
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
    db: &DatabaseConnection,
    grid: &GridSnapshot,
    viewer: &Viewer,
    filter: UserFilter,
    page: PageRequest,
) -> Result<Page<app_user::Model>, AppError> {
    let manager = viewer.staff_with(MANAGERS)?;
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
    if let Some(t) = super::page::like_fragment(filter.text.as_deref()) {
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
    let phone = super::phone::Phone::try_from(raw)?;
    let enc = vault.encrypt(
        phone.as_str().as_bytes(),
        crate::auth::vault::aad::APP_USER_PHONE,
    )?;
    Ok((enc, phone.last4().to_owned()))
}
