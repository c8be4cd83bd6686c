//! A published monthly ranking (考核排名) of one region: the month's indicators per
//! township (or grid) and per inspector, frozen as JSON when published.

use sea_orm::entity::prelude::*;

/// A row of `ranking`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ranking")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The region ranked (its children and its inspectors are the entries).
    pub region_id: i64,
    /// The month, `YYYY-MM` (Asia/Shanghai).
    pub month: String,
    pub published_at: DateTimeUtc,
    /// The county staff member who published it.
    pub published_by: i64,
    /// The snapshot, as JSON; never rewritten.
    pub body: String,
}

/// No navigable relations: the snapshot stands alone.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
