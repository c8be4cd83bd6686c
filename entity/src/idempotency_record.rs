//! `idempotency_record`: the stored outcome of one idempotent mutation, so a
//! retried request with the same key gets the same response. Unique per
//! (scope, key); `scope` names the caller (`user:12`, `tipster:5`), and a
//! different `request_hash` under the same key is a conflict.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `idempotency_record`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "idempotency_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scope: String,
    pub idem_key: String,
    pub operation: String,
    /// SHA-256 (hex) of the request.
    pub request_hash: String,
    /// The response, once the mutation has completed.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub response: Option<Json>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
