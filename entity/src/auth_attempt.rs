//! `auth_attempt`: failed-login counter per throttling key (a username or
//! a client address), over a sliding window, with an optional lock-out.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `auth_attempt`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "auth_attempt")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The throttling key, unique.
    #[sea_orm(unique)]
    pub key: String,
    pub failures: i32,
    pub window_start: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
