//! `persisted_operation`: a GraphQL operation registered from an app build, by the
//! SHA-256 (hex) of its text.

use sea_orm::entity::prelude::*;

/// A row of `persisted_operation`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_operation")]
pub struct Model {
    /// SHA-256 of `body`, lowercase hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    /// The operation's name, when the manifest gives one.
    pub name: Option<String>,
    /// The operation text.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
