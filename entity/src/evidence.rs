//! `evidence`: one photo attached to a case in a phase (before, during or
//! after handling). A row is created `PENDING` when an upload URL is issued
//! and becomes `CONFIRMED` (or `REJECTED`) once the object has been checked.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A row of `evidence`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    /// `BEFORE`, `DURING` or `AFTER`.
    pub phase: crate::enums::EvidencePhase,
    /// `PENDING`, `CONFIRMED` or `REJECTED`.
    pub status: crate::enums::EvidenceStatus,
    /// Key of the object in the bucket, unique.
    #[sea_orm(unique)]
    pub object_key: String,
    pub content_type: String,
    pub byte_size: i64,
    /// SHA-256 (hex) of the content, to spot reused photos.
    pub sha256: String,
    pub uploader_id: Option<i64>,
    pub uploader_tipster_id: Option<i64>,
    pub reject_reason: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// Capture time from EXIF.
    pub taken_at: Option<DateTimeUtc>,
    pub exif_lat: Option<f64>,
    pub exif_lng: Option<f64>,
    /// Distance (metres) from the EXIF position to the case.
    pub distance_m: Option<f64>,
    /// Warnings found on checking, a JSON array of strings.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub flags: Option<Json>,
    /// Key of the re-encoded, metadata-stripped copy.
    pub derivative_key: Option<String>,
    pub created_at: DateTimeUtc,
    /// When the upload URL expires.
    pub expires_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    /// When the orphan sweeper cleaned up after this row (see `jobs`).
    pub purged_at: Option<DateTimeUtc>,
    /// The object under `object_key` can only ever hold bytes whose SHA-256 is `sha256`:
    /// the server wrote and hashed them itself, or the S3 store verified the checksum
    /// its upload policy carried. Confirmation then reads only the head of the object.
    pub sha256_bound: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::case::Entity",
        from = "Column::CaseId",
        to = "super::case::Column::Id",
        on_delete = "Restrict"
    )]
    Case,
    #[sea_orm(
        belongs_to = "super::app_user::Entity",
        from = "Column::UploaderId",
        to = "super::app_user::Column::Id",
        on_delete = "Restrict"
    )]
    Uploader,
    #[sea_orm(
        belongs_to = "super::tipster::Entity",
        from = "Column::UploaderTipsterId",
        to = "super::tipster::Column::Id",
        on_delete = "Restrict"
    )]
    UploaderTipster,
}

impl Related<super::case::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Case.def()
    }
}

impl Related<super::app_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Uploader.def()
    }
}

impl Related<super::tipster::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UploaderTipster.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
