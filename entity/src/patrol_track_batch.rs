//! `patrol_track_batch`: one uploaded batch of a patrol's GPS track, packed into a
//! delta-encoded blob (one row per batch, never one per point).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `patrol_track_batch`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "patrol_track_batch")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub patrol_id: i64,
    /// The client's key of the batch, or `sha256:` and the hash of its points; unique
    /// per patrol, so a replayed batch is stored once.
    pub batch_key: String,
    /// SHA-256 (hex) of the packed points.
    pub content_sha256: String,
    pub point_count: i32,
    pub first_at: DateTimeUtc,
    pub last_at: DateTimeUtc,
    /// The packed points (see `domain::patrols::track`).
    pub data: Vec<u8>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
