//! `open311_client`: a client application (a civic-reporting app, a county hotline's
//! system) allowed to POST Open311 GeoReport v2 requests. County staff issue its
//! `api_key`; only the key's SHA-256 is stored, so a lost key is revoked and reissued,
//! never read back.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `open311_client`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "open311_client")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Who the key was issued to, as county staff name it.
    pub name: String,
    /// SHA-256 (hex) of the api_key; unique.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// The key's first characters, so staff can tell keys apart.
    pub key_prefix: String,
    /// The region (county) of the staff member who issued it: its scope of management.
    pub region_id: i64,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    /// Set once revoked; a revoked key is refused.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
