//! Sessions: staff login with lockout, refresh-token rotation with reuse detection,
//! logout.

use chrono::{DateTime, Duration, Utc};
use entity::{app_user, auth_attempt, refresh_token};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};

use crate::auth::password;
use crate::auth::token::{Subject, TokenKeys, hash_refresh_token, new_refresh_token};
use crate::config::AuthConfig;
use crate::domain::Services;
use crate::error::AppError;

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
    now: DateTime<Utc>,
) -> Result<Session, AppError> {
    let (access_token, expires_at) = keys.issue(subject, now)?;
    let (refresh, hash) = new_refresh_token();
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

pub(super) fn normalise_username(u: &str) -> String {
    u.trim().to_lowercase()
}

/// Staff login. Unknown user, wrong password and inactive user give the same answer in
/// similar time; repeated failures lock the username (known or not) for a while.
pub async fn login(
    svc: &Services,
    username: &str,
    password_attempt: &str,
) -> Result<Session, AppError> {
    let (db, keys, cfg) = (&svc.db, &svc.keys, &svc.config.auth);
    let username = normalise_username(username);
    if username.is_empty() || username.len() > 64 || password_attempt.len() > 1024 {
        // Same work as a real attempt, same answer.
        password::verify(password_attempt, None);
        return Err(AppError::BadCredentials);
    }
    let now = svc.clock.now();
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
            issue_session(db, keys, cfg, Subject::User(user.id), None, now).await
        }
        None => {
            record_failure(db, cfg, &key, now).await?;
            Err(AppError::BadCredentials)
        }
    }
}

/// Counts a failed login on `key` in one atomic upsert (so failures arriving at
/// several processes at once all count): a new window after the old one expired,
/// locked once the window holds `max` failures.
async fn record_failure(
    db: &DatabaseConnection,
    cfg: &AuthConfig,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    use auth_attempt::{Column as A, Entity as T};
    let window = Duration::seconds(i64::try_from(cfg.lockout_secs).unwrap_or(900));
    let max = i32::try_from(Ord::max(cfg.max_failed_logins, 1)).unwrap_or(5);
    let expired = Expr::col((T, A::WindowStart)).lt(now - window);
    let failures: Expr = Expr::case(expired.clone(), Expr::val(1))
        .finally(ExprTrait::add(Expr::col((T, A::Failures)), 1))
        .into();
    let start: Expr = Expr::case(expired, Expr::val(now))
        .finally(Expr::col((T, A::WindowStart)))
        .into();
    let locked: Expr = Expr::case(failures.clone().gte(max), Expr::val(Some(now + window)))
        .finally(Expr::val(Option::<DateTime<Utc>>::None))
        .into();
    T::insert(auth_attempt::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(1),
        window_start: Set(now),
        locked_until: Set((max <= 1).then_some(now + window)),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(A::Key)
            .value(A::Failures, failures)
            .value(A::WindowStart, start)
            .value(A::LockedUntil, locked)
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Rotates a refresh token. A token that was already used (a replay, or a stolen copy)
/// revokes its whole family, so both holders must log in again.
pub async fn refresh(svc: &Services, token: &str) -> Result<Session, AppError> {
    let (db, keys, cfg) = (&svc.db, &svc.keys, &svc.config.auth);
    let now = svc.clock.now();
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
        revoke_family(db, &row.family_id, now).await?;
        return Err(AppError::Unauthenticated);
    }
    let subject = match (row.user_id, row.tipster_id) {
        (Some(uid), _) => {
            let active = app_user::Entity::find_by_id(uid)
                .one(db)
                .await?
                .is_some_and(|u| u.active);
            if !active {
                revoke_family(db, &row.family_id, now).await?;
                return Err(AppError::Unauthenticated);
            }
            Subject::User(uid)
        }
        (None, Some(tid)) => Subject::Tipster(tid),
        (None, None) => return Err(AppError::Unauthenticated),
    };
    issue_session(db, keys, cfg, subject, Some(row.family_id), now).await
}

/// Ends the session the refresh token belongs to (its whole family). Unknown tokens
/// are accepted silently: logging out twice is not an error.
pub async fn logout(svc: &Services, token: &str) -> Result<bool, AppError> {
    if let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_refresh_token(token)))
        .one(&svc.db)
        .await?
    {
        revoke_family(&svc.db, &row.family_id, svc.clock.now()).await?;
    }
    Ok(true)
}

async fn revoke_family<C: ConnectionTrait>(
    conn: &C,
    family: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every session of a user (deactivation, new password).
pub(super) async fn revoke_user_sessions<C: ConnectionTrait>(
    conn: &C,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}
