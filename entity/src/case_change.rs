//! `case_change`: one row per change of a case, read by offline delta sync. Holds the
//! case's scope after the change; `tx` is the writing transaction (PostgreSQL) or 0.

use sea_orm::entity::prelude::*;

/// A row of `case_change`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The writing transaction's id on PostgreSQL (`pg_current_xact_id()`), 0 on SQLite.
    pub tx: i64,
    pub case_id: i64,
    /// The case's region after the change.
    pub region_id: i64,
    /// That region's path.
    pub region_path: String,
    /// The case's assignee after the change.
    pub assignee_id: Option<i64>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
