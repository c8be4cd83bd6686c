//! Idempotent mutations: a client retrying after a lost response (a village phone
//! back online hours later) gets the first answer again and nothing is written twice.
//!
//! The record is written in the same transaction as the change it answers for; a
//! concurrent duplicate loses on the unique (scope, key) index, rolls back, and
//! answers with the winner's response.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use entity::idempotency_record;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{AppError, Msg};

/// How long keys are kept: at least a week, for phones that were offline for days.
pub const RETENTION: Duration = Duration::days(8);

/// A validated idempotency key bound to who sent it, the operation and the payload.
#[derive(Debug)]
pub struct IdemKey {
    scope: String,
    key: String,
    operation: &'static str,
    request_hash: String,
    /// A [`Self::replay`] found no answer yet: the unit of work need not look again
    /// unless it had to wait for others first (see `uow::write`).
    unanswered: AtomicBool,
}

impl Clone for IdemKey {
    fn clone(&self) -> Self {
        Self {
            scope: self.scope.clone(),
            key: self.key.clone(),
            operation: self.operation,
            request_hash: self.request_hash.clone(),
            unanswered: AtomicBool::new(self.was_unanswered()),
        }
    }
}

impl IdemKey {
    /// Validates `key` (8–128 characters of letters, digits, `-`, `_`, `:`, `.`) and
    /// fingerprints the request payload.
    pub fn new(
        scope: String,
        key: &str,
        operation: &'static str,
        payload: &impl Serialize,
    ) -> Result<Self, AppError> {
        let ok = (8..=128).contains(&key.len())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
        if !ok {
            return Err(AppError::bad_input(
                "INVALID_IDEMPOTENCY_KEY",
                Msg::new(
                    "幂等键无效：需 8 到 128 个字母、数字或 - _ : .（建议使用 UUID）",
                    "invalid idempotencyKey: 8–128 letters, digits, '-', '_', ':' or '.' (a UUID works)",
                ),
            ).at("idempotencyKey"));
        }
        let json = serde_json::to_vec(payload)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("idempotency payload: {e}")))?;
        Ok(Self {
            scope,
            key: key.to_owned(),
            operation,
            request_hash: hex::encode(Sha256::digest(&json)),
            unanswered: AtomicBool::new(false),
        })
    }

    /// Whether a [`Self::replay`] already found no answer for this key.
    pub fn was_unanswered(&self) -> bool {
        self.unanswered.load(Ordering::Relaxed)
    }

    /// Returns the stored response of an earlier identical request; `BAD_INPUT`
    /// (`IDEMPOTENCY_MISMATCH`) when the key was used for something else.
    pub async fn replay<C: ConnectionTrait, T: DeserializeOwned>(
        &self,
        conn: &C,
    ) -> Result<Option<T>, AppError> {
        let Some(row) = idempotency_record::Entity::find()
            .filter(idempotency_record::Column::Scope.eq(&self.scope))
            .filter(idempotency_record::Column::IdemKey.eq(&self.key))
            .one(conn)
            .await?
        else {
            self.unanswered.store(true, Ordering::Relaxed);
            return Ok(None);
        };
        if row.operation != self.operation || row.request_hash != self.request_hash {
            return Err(AppError::BadInput {
                msg: Msg::new(
                    "该幂等键已用于另一个请求，请为新的操作生成新的键",
                    "this idempotencyKey was already used for a different request; use a new key",
                ),
                detail: Some("IDEMPOTENCY_MISMATCH"),
                field: Some("idempotencyKey".into()),
            });
        }
        let value = row.response.unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored idempotent response: {e}")))
    }

    /// Records the response, inside the transaction of the change.
    pub async fn record<C: ConnectionTrait, T: Serialize>(
        &self,
        conn: &C,
        response: &T,
        now: DateTime<Utc>,
    ) -> Result<(), sea_orm::DbErr> {
        let value = serde_json::to_value(response)
            .map_err(|e| sea_orm::DbErr::Custom(format!("idempotent response: {e}")))?;
        idempotency_record::Entity::insert(idempotency_record::ActiveModel {
            scope: Set(self.scope.clone()),
            idem_key: Set(self.key.clone()),
            operation: Set(self.operation.to_owned()),
            request_hash: Set(self.request_hash.clone()),
            response: Set(Some(value)),
            created_at: Set(now),
            expires_at: Set(now + RETENTION),
            ..Default::default()
        })
        .exec_without_returning(conn)
        .await?;
        Ok(())
    }
}

/// Deletes records past their retention; returns how many.
pub async fn purge_expired<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    Ok(idempotency_record::Entity::delete_many()
        .filter(idempotency_record::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?
        .rows_affected)
}
