//! `region`: one node of the administrative grid, a tree of
//! COUNTY → TOWNSHIP → VILLAGE. `path` is the materialised chain of codes
//! from the county down (e.g. `140521/140521100/140521100201`), compared
//! bytewise, so "everything under X" is a prefix query on `path`.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `region`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "region")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Statistical division code (统计用区划代码), unique.
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// `COUNTY`, `TOWNSHIP` or `VILLAGE`.
    pub level: crate::enums::RegionLevel,
    /// The enclosing region; `None` only for the county.
    pub parent_id: Option<i64>,
    /// Materialised path of codes joined by `/`, unique.
    #[sea_orm(unique)]
    pub path: String,
    /// GeoJSON geometry (WGS-84) of the grid cell's boundary.
    #[sea_orm(column_type = "Text", nullable)]
    pub boundary: Option<String>,
    pub centroid_lat: Option<f64>,
    pub centroid_lng: Option<f64>,
    /// The name is a placeholder, not an official one.
    pub synthetic_name: bool,
    /// The boundary was generated, not surveyed.
    pub synthetic_boundary: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The enclosing region.
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ParentId",
        to = "Column::Id",
        on_delete = "Restrict"
    )]
    Parent,
}

impl ActiveModelBehavior for ActiveModel {}
