//! `app_user`: a staff account — county administrator, township
//! supervisor or inspector — bound to the region it works in.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `app_user`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "app_user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    /// Password hash in PHC string format.
    pub password_hash: String,
    pub name: String,
    /// Phone number, AES-GCM encrypted.
    #[sea_orm(column_type = "Blob", nullable)]
    pub phone_enc: Option<Vec<u8>>,
    /// Last four digits of the phone, for display.
    pub phone_last4: Option<String>,
    /// `COUNTY_ADMIN`, `TOWNSHIP_SUPERVISOR` or `INSPECTOR`.
    pub role: crate::enums::Role,
    /// The region the account's authority covers.
    pub region_id: i64,
    pub active: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTimeUtc>,
    /// A demonstration account.
    pub demo: bool,
    /// On duty, hence eligible for automatic assignment.
    pub on_duty: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
