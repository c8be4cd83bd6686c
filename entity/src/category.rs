//! `category`: a kind of environmental problem (burning straw, sewage
//! outfall, …) with its handling rules: duplicate detection, check-in radius
//! and the photos required in each phase.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `category`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "category")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub sort_order: i32,
    /// Reports within this distance (metres)…
    pub duplicate_radius_m: f64,
    /// …and this many hours of an open case are suspected duplicates.
    pub duplicate_window_hours: i32,
    /// An inspector's check-in farther than this (metres) is flagged.
    pub checkin_radius_m: f64,
    pub min_photos_before: i32,
    pub min_photos_during: i32,
    pub min_photos_after: i32,
    pub active: bool,
    /// Closed cases of the category are published (`publicCases`, 一公开).
    pub publishable: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::category_time_limit::Entity")]
    TimeLimit,
    #[sea_orm(has_many = "super::case::Entity")]
    Case,
}

impl Related<super::category_time_limit::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TimeLimit.def()
    }
}

impl Related<super::case::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Case.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
