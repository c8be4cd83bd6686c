//! Webhooks: a county's own systems told of the case events of a region (and below),
//! each delivery signed. County staff manage them; the secret is shown once, at
//! creation, and kept encrypted.
//!
//! A delivery is a POST of JSON `{"deliveryId", "event": {...}}` with the headers
//! `X-Gridwatch-Delivery` (unique per message: a receiver drops a repeat),
//! `X-Gridwatch-Event` (the action) and `X-Gridwatch-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the body under the secret.

use base64::Engine as _;
use entity::webhook;
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use sha2::Sha256;

use super::Services;
use super::access::{Role, Viewer};
use super::grid::path_is_within;
use crate::auth::vault::aad::WEBHOOK_SECRET;
use crate::error::{AppError, Msg};

/// Most webhooks one county may have.
pub const MAX_WEBHOOKS: usize = 20;

fn not_found() -> AppError {
    AppError::not_found("推送地址", "webhook")
}

/// The signature header's value for `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn check_url(url: &str) -> Result<String, AppError> {
    let url = url.trim();
    let ok = url.len() <= 512
        && reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if ok {
        Ok(url.to_owned())
    } else {
        Err(AppError::bad_input(
            "INVALID_URL",
            Msg::new(
                "推送地址须为 http(s) 网址（最长 512 字符）",
                "url must be an http(s) URL of at most 512 characters",
            ),
        )
        .at("url"))
    }
}

/// Creates a webhook for a region within the county admin's scope; returns it and its
/// secret (shown this once).
pub async fn create(
    svc: &Services,
    viewer: &Viewer,
    region_id: i64,
    url: &str,
) -> Result<(webhook::Model, String), AppError> {
    let admin = viewer.staff_with(&[Role::CountyAdmin])?.clone();
    let url = check_url(url)?;
    let grid = svc.grid.snapshot();
    let region = grid
        .get(region_id)
        .filter(|r| admin.covers(&r.path))
        .ok_or_else(|| AppError::not_found("区域", "region"))?;
    if list(svc, viewer).await?.len() >= MAX_WEBHOOKS {
        return Err(AppError::bad_input(
            "TOO_MANY_WEBHOOKS",
            Msg::new(
                format!("推送地址最多 {MAX_WEBHOOKS} 个"),
                format!("at most {MAX_WEBHOOKS} webhooks"),
            ),
        ));
    }
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    );
    let row = webhook::ActiveModel {
        region_id: Set(region.id),
        url: Set(url),
        secret_enc: Set(svc.vault.encrypt(secret.as_bytes(), WEBHOOK_SECRET)?),
        active: Set(true),
        created_by: Set(admin.user_id),
        created_at: Set(svc.clock.now()),
        ..Default::default()
    };
    let hook = super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| Box::pin(async move { Ok(row.insert(txn).await?) })),
    )
    .await?;
    Ok((hook, secret))
}

/// The webhooks within the county admin's scope.
pub async fn list(svc: &Services, viewer: &Viewer) -> Result<Vec<webhook::Model>, AppError> {
    let admin = viewer.staff_with(&[Role::CountyAdmin])?;
    let grid = svc.grid.snapshot();
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(&svc.db)
        .await?
        .into_iter()
        .filter(|h| {
            grid.get(h.region_id)
                .is_some_and(|r| path_is_within(&r.path, &admin.region_path))
        })
        .collect())
}

/// Stops a webhook (its pending deliveries still go out).
pub async fn deactivate(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<webhook::Model, AppError> {
    let hook = list(svc, viewer)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(not_found)?;
    let mut am: webhook::ActiveModel = hook.into();
    am.active = Set(false);
    super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| Box::pin(async move { Ok(am.update(txn).await?) })),
    )
    .await
}

/// A webhook's URL and secret, for a delivery.
pub async fn target(svc: &Services, id: i64) -> Result<Option<(String, String)>, AppError> {
    let Some(h) = webhook::Entity::find()
        .filter(webhook::Column::Id.eq(id))
        .one(&svc.db)
        .await?
    else {
        return Ok(None);
    };
    let secret = String::from_utf8(svc.vault.decrypt(&h.secret_enc, WEBHOOK_SECRET)?)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("webhook secret: {e}")))?;
    Ok(Some((h.url, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
