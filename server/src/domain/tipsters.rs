//! The tipster vault: a public user's WeChat identity and phone live in their own
//! table, encrypted; staff only ever see a stable pseudonymous handle, and only county
//! staff can reveal an identity, each reveal leaving an audit row.

use chrono::{DateTime, Utc};
use entity::{case, tipster, tipster_reveal};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::access::{Role, Viewer};
use super::grid::path_is_within;
use super::{Services, uow};
use crate::auth::vault::Vault;
use crate::error::{AppError, Msg};

use crate::auth::vault::aad::{TIPSTER_OPENID as OPENID_AAD, TIPSTER_PHONE as PHONE_AAD};
use crate::auth::vault::{LOOKUP_OPEN311_REPORTER, LOOKUP_WECHAT_OPENID, PSEUDONYM_TIPSTER};

/// Creates a tipster for an openid (the caller checked none exists).
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    openid: &str,
    now: DateTime<Utc>,
) -> Result<tipster::Model, AppError> {
    insert(
        conn,
        vault,
        Identity {
            lookup: vault.lookup_hash(LOOKUP_WECHAT_OPENID, openid),
            plain: openid,
            open311_client_id: None,
        },
        now,
    )
    .await
}

/// Who a tipster is, as stored: the lookup hash, the identity itself (kept
/// encrypted) and, for an Open311 reporter, their client app.
struct Identity<'a> {
    lookup: String,
    plain: &'a str,
    open311_client_id: Option<i64>,
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    who: Identity<'_>,
    now: DateTime<Utc>,
) -> Result<tipster::Model, AppError> {
    // The handle is derived from the id, known only after insert: insert with a
    // temporary unique handle, then set the real one.
    let temp = format!("tmp-{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
    let row = tipster::ActiveModel {
        handle: Set(temp),
        openid_hmac: Set(who.lookup),
        openid_enc: Set(vault.encrypt(who.plain.as_bytes(), OPENID_AAD)?),
        phone_enc: Set(None),
        created_at: Set(now),
        last_seen_at: Set(now),
        open311_client_id: Set(who.open311_client_id),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let handle = vault.pseudonym(PSEUDONYM_TIPSTER, row.id);
    let mut am: tipster::ActiveModel = row.clone().into();
    am.handle = Set(handle.clone());
    match am.update(conn).await {
        Ok(t) => Ok(t),
        // Six characters collide now and then: the id makes the handle unique.
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            let mut am: tipster::ActiveModel = row.clone().into();
            am.handle = Set(format!("{handle}-{}", row.id));
            Ok(am.update(conn).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Finds or creates the tipster of a WeChat openid, touching `last_seen_at`.
pub async fn find_or_create(svc: &Services, openid: &str) -> Result<tipster::Model, AppError> {
    let lookup = svc.vault.lookup_hash(LOOKUP_WECHAT_OPENID, openid);
    find_or_insert(svc, lookup, openid.to_owned(), None).await
}

/// Finds or creates the tipster an Open311 client app reports for: one per (app,
/// `reporter`), where `reporter` is the app's own identity of the person (e.g.
/// `device:…`, `account:…`, `email:…`, or `anonymous`). Looked up under a different
/// kind of hash from WeChat openids, so the two never collide.
pub async fn find_or_create_open311(
    svc: &Services,
    client_id: i64,
    reporter: &str,
) -> Result<tipster::Model, AppError> {
    let plain = format!("open311:{client_id}:{reporter}");
    let lookup = svc.vault.lookup_hash(LOOKUP_OPEN311_REPORTER, &plain);
    find_or_insert(svc, lookup, plain, Some(client_id)).await
}

async fn find_or_insert(
    svc: &Services,
    lookup: String,
    plain: String,
    open311_client_id: Option<i64>,
) -> Result<tipster::Model, AppError> {
    let (db, vault, now) = (&svc.db, &svc.vault, svc.clock.now());
    if let Some(t) = tipster::Entity::find()
        .filter(tipster::Column::OpenidHmac.eq(&lookup))
        .one(db)
        .await?
    {
        let mut am: tipster::ActiveModel = t.into();
        am.last_seen_at = Set(now);
        return Ok(am.update(db).await?);
    }
    let (vault2, lookup2) = (vault.clone(), lookup.clone());
    let created = uow::write(
        svc,
        None,
        uow::work(move |txn| {
            Box::pin(async move {
                let who = Identity {
                    lookup: lookup2,
                    plain: &plain,
                    open311_client_id,
                };
                insert(txn, &vault2, who, now).await
            })
        }),
    )
    .await;
    match created {
        Ok(t) => Ok(t),
        // A concurrent first request of the same person won the race: use its row.
        Err(e) => tipster::Entity::find()
            .filter(tipster::Column::OpenidHmac.eq(&lookup))
            .one(db)
            .await?
            .ok_or(e),
    }
}

/// Stores (encrypted) the phone number a tipster gave.
pub async fn set_phone<C: ConnectionTrait>(
    conn: &C,
    vault: &Vault,
    tipster_id: i64,
    phone: &super::phone::Phone,
) -> Result<(), AppError> {
    tipster::ActiveModel {
        id: Set(tipster_id),
        phone_enc: Set(Some(vault.encrypt(phone.as_str().as_bytes(), PHONE_AAD)?)),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// A revealed identity.
#[derive(Debug, Clone)]
pub struct RevealedTipster {
    /// The pseudonymous handle staff normally see.
    pub handle: String,
    /// The WeChat openid; for an Open311 reporter `open311:<client id>:<who>`, the
    /// identity that client app gave (`account:…`, `device:…`, `email:…`, `anonymous`).
    pub openid: String,
    /// The phone number, if the tipster gave one.
    pub phone: Option<String>,
}

/// Reveals the identity of the tipster of a case: county admins only, for cases in
/// their county, with a reason; writes one audit row per reveal in the same
/// transaction. A case outside scope, or without a tipster, is `NOT_FOUND`.
pub async fn reveal(
    svc: &Services,
    viewer: &Viewer,
    case_id: i64,
    reason: &str,
) -> Result<RevealedTipster, AppError> {
    let admin = viewer.staff_with(&[Role::CountyAdmin])?;
    let (db, vault, grid) = (&svc.db, &svc.vault, svc.grid.snapshot());
    let reason = reason.trim();
    if reason.chars().count() < 4 || reason.chars().count() > 500 {
        return Err(AppError::bad_input(
            "REASON_REQUIRED",
            Msg::new(
                "请填写查看举报人身份的理由（4 到 500 字）",
                "give a reason for revealing the tipster (4–500 characters)",
            ),
        )
        .at("reason"));
    }
    let not_found = || AppError::not_found("案件", "case");
    let c = case::Entity::find_by_id(case_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let in_scope = grid
        .get(c.region_id)
        .is_some_and(|r| path_is_within(&r.path, &admin.region_path));
    if !in_scope {
        return Err(not_found());
    }
    let tipster_id = c.tipster_id.ok_or_else(not_found)?;
    let t = tipster::Entity::find_by_id(tipster_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let openid = String::from_utf8(vault.decrypt(&t.openid_enc, OPENID_AAD)?)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("openid not utf-8: {e}")))?;
    let phone = match &t.phone_enc {
        Some(p) => Some(
            String::from_utf8(vault.decrypt(p, PHONE_AAD)?)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("phone not utf-8: {e}")))?,
        ),
        None => None,
    };
    tipster_reveal::ActiveModel {
        case_id: Set(c.id),
        tipster_id: Set(t.id),
        actor_id: Set(admin.user_id),
        reason: Set(reason.to_owned()),
        created_at: Set(svc.clock.now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    tracing::info!(
        case.id = c.id,
        user.id = admin.user_id,
        "tipster identity revealed"
    );
    Ok(RevealedTipster {
        handle: t.handle,
        openid,
        phone,
    })
}

/// A tipster's openid (to message them through WeChat, or check their words as
/// them); `None` when the tipster is gone or reported through an Open311 app (no
/// WeChat identity: nothing is sent, and their words wait for a person's review).
pub async fn openid(svc: &super::Services, tipster_id: i64) -> Result<Option<String>, AppError> {
    let Some(t) = tipster::Entity::find_by_id(tipster_id).one(&svc.db).await? else {
        return Ok(None);
    };
    if t.open311_client_id.is_some() {
        return Ok(None);
    }
    String::from_utf8(svc.vault.decrypt(&t.openid_enc, OPENID_AAD)?)
        .map(Some)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("openid not utf-8: {e}")))
}
