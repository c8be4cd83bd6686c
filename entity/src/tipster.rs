//! `tipster`: the identity vault of members of the public who report
//! problems. Staff see only the pseudonymous `handle`; the WeChat openid (or, for
//! an Open311 reporter, the client app's identity of them) and phone are stored
//! encrypted, and looked up through a keyed hash.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `tipster`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "tipster")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Pseudonym shown to staff, unique.
    #[sea_orm(unique)]
    pub handle: String,
    /// Keyed hash (HMAC) of the openid, for lookup; unique.
    #[sea_orm(unique)]
    pub openid_hmac: String,
    /// The openid, AES-GCM encrypted.
    #[sea_orm(column_type = "Blob")]
    pub openid_enc: Vec<u8>,
    /// The phone number, AES-GCM encrypted.
    #[sea_orm(column_type = "Blob", nullable)]
    pub phone_enc: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// Set for a tipster who reported through an Open311 client app (then `openid_*`
    /// hold that app's identity of the reporter, not a WeChat openid).
    pub open311_client_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
