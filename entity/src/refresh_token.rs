//! `refresh_token`: one refresh token of a staff user or a tipster (exactly
//! one of the two is set). Tokens rotate within a family; reuse of a used
//! token revokes the whole family. Only the token's hash is stored.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `refresh_token`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "refresh_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// UUID (text) shared by every token of one login session.
    pub family_id: String,
    /// SHA-256 (hex) of the token, unique.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: Option<i64>,
    pub tipster_id: Option<i64>,
    pub issued_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// When it was exchanged for a new token.
    pub used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::UserId",
        to = "super::app_user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::TipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Cascade"
    )]
    Tipster,
}

impl Related<super::app_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::tipster::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tipster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
