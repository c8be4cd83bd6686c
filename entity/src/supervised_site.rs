//! `supervised_site`: a place inspected on a schedule (监管对象) — a farm, a building
//! site, an enterprise, a well site, an outfall, a stockpile — inside one village grid.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::{RiskLevel, SiteKind};

/// A row of `supervised_site`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "supervised_site")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: SiteKind,
    /// The village grid the location routes to.
    pub region_id: i64,
    /// Copy of the region's `path`, for scoped queries.
    pub region_path: String,
    /// WGS-84.
    pub lat: f64,
    pub lng: f64,
    #[sea_orm(column_type = "Text", nullable)]
    pub address: Option<String>,
    pub risk_level: RiskLevel,
    pub inspect_every_days: i32,
    /// False once archived.
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The site's own code (统一社会信用代码, permit or well number), unique when given.
    pub code: Option<String>,
    pub contact_name: Option<String>,
    /// The contact's phone, encrypted with the vault (AAD `supervised_site.contact_phone_enc`).
    pub contact_phone_enc: Option<Vec<u8>>,
    /// Last four digits of the contact's phone, for masked display.
    pub contact_phone_last4: Option<String>,
    /// When the site was archived (no longer supervised); null while active.
    pub archived_at: Option<DateTimeUtc>,
    /// The staff member who registered it (null for rows older than the register).
    pub created_by: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::region::Entity",
        from = "Column::RegionId",
        to = "super::region::Column::Id",
        on_delete = "Restrict"
    )]
    Region,
}

impl Related<super::region::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Region.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
