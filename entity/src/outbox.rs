//! `outbox`: messages (notifications, events) written in the same
//! transaction as the change they announce and delivered later by a worker,
//! with retries and a lease (`locked_until`).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub topic: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub created_at: DateTimeUtc,
    /// Not to be delivered before this time (retry back-off).
    pub available_at: DateTimeUtc,
    pub attempts: i32,
    /// A worker holds the message until then.
    pub locked_until: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Given up after too many attempts (a dead letter, shown to county staff).
    pub dead_at: Option<DateTimeUtc>,
    /// Sent with the message so a receiver can drop a repeat, unique.
    #[sea_orm(unique)]
    pub delivery_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
