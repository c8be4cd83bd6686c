//! `wechat_token`: the mini-program's access token from `stable_token`, kept
//! encrypted and shared by every server process, refreshed before it expires.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `wechat_token`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "wechat_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub appid: String,
    pub token_enc: Vec<u8>,
    pub expires_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
