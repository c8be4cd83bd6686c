//! Photo evidence: who may add photos to a case ([`may_add`]), the photos of a case and
//! their URLs; upload tickets and the streaming upload ([`upload`]); verification of
//! the bytes ([`verify`]); the rules a submission must meet ([`rules`]).
//!
//! The bytes never pass through our memory whole on the direct path: the client sends
//! them straight to storage (an S3 POST policy, or the server's own signed route for
//! the folder store); `confirm` then streams the object once to hash it, keeping only a
//! bounded prefix for the type, dimension and EXIF checks. A confirmed original is
//! write-once: nothing in the API overwrites or deletes it.

use std::time::Duration as StdDuration;

use entity::{case, evidence};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

pub mod audit;
pub mod orphans;
pub mod rules;
mod upload;
mod verify;

pub use upload::{Upload, UploadRequest, request_upload, upload_stream};
pub use verify::confirm;

use super::Services;
use super::access::{Role, Viewer};
use super::cases::{CaseStatus, Teams, case_not_found, staff_can_see};
use crate::error::{AppError, Msg};
use crate::storage::ObjectKey;

pub use entity::enums::{EvidencePhase as Phase, EvidenceStatus};

/// Most photos one case holds (rejected ones aside). Enough for any real case; the
/// query cost model counts every evidence list at this size.
pub const MAX_PER_CASE: u64 = 100;

/// A validated hex SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256Hex(String);

impl TryFrom<&str> for Sha256Hex {
    type Error = AppError;
    fn try_from(s: &str) -> Result<Self, AppError> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(s))
        } else {
            Err(AppError::BadInput {
                msg: Msg::new("sha256 应为 64 位十六进制", "sha256 must be 64 hex digits"),
                detail: Some("INVALID_HASH"),
                field: Some("sha256".into()),
            })
        }
    }
}

impl Sha256Hex {
    /// The 32 bytes the hex spells.
    pub fn bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // Checked on construction: 64 hex digits.
        if hex::decode_to_slice(&self.0, &mut out).is_err() {
            tracing::error!("Sha256Hex holds no hex");
        }
        out
    }
}

/// Who may add evidence to a case: its assignee and the inspectors on its team (field
/// work, see `cases::workflow`), supervisors and county staff in scope, and the tipster
/// who reported it (photos of the problem only).
async fn may_add<C: sea_orm::ConnectionTrait>(
    conn: &C,
    viewer: &Viewer,
    c: &case::Model,
    phase: Phase,
) -> Result<(), AppError> {
    let teams = Teams::for_work(conn, viewer, c).await?;
    may_add_given(viewer, c, phase, &teams)
}

fn may_add_given(
    viewer: &Viewer,
    c: &case::Model,
    phase: Phase,
    teams: &Teams,
) -> Result<(), AppError> {
    match viewer {
        Viewer::Anonymous => Err(AppError::Unauthenticated),
        Viewer::Public(p) => {
            if c.tipster_id == Some(p.tipster_id) && phase == Phase::Before {
                Ok(())
            } else if c.tipster_id == Some(p.tipster_id) {
                Err(AppError::Forbidden)
            } else {
                Err(case_not_found())
            }
        }
        Viewer::Staff(s) => {
            if !staff_can_see(viewer, c, teams) {
                return Err(case_not_found());
            }
            let ok = matches!(s.role, Role::CountyAdmin | Role::TownshipSupervisor)
                || c.assignee_id == Some(s.user_id)
                || (s.role == Role::Inspector && teams.contains(c.id));
            if ok { Ok(()) } else { Err(AppError::Forbidden) }
        }
    }
}

/// How a client names the case a photo belongs to: staff by id, a tipster by the
/// tracking code of their tip-off (or the id, when they have it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CaseRef {
    /// The case id.
    Id(i64),
    /// The tracking code given to the tipster.
    TrackingCode(String),
}

/// The case a [`CaseRef`] names; unknown ones are `NOT_FOUND` (as are cases the viewer
/// may not add to: [`may_add`] answers that).
async fn load_case_ref(db: &DatabaseConnection, r: &CaseRef) -> Result<case::Model, AppError> {
    match r {
        CaseRef::Id(id) => load_case(db, *id).await,
        CaseRef::TrackingCode(code) => {
            let code = code.trim();
            if code.is_empty() || code.len() > 64 {
                return Err(case_not_found());
            }
            case::Entity::find()
                .filter(case::Column::TrackingCode.eq(code))
                .one(db)
                .await?
                .ok_or_else(case_not_found)
        }
    }
}

/// A tipster's own limits on their tip-off: `tipster_max_photos` photos (rejected ones
/// do not count) of at most `tipster_max_bytes` each. Staff are not limited here.
async fn check_tipster_limits(
    svc: &Services,
    viewer: &Viewer,
    c: &case::Model,
    byte_size: Option<u64>,
) -> Result<(), AppError> {
    let Viewer::Public(p) = viewer else {
        return Ok(());
    };
    let cfg = &svc.config.evidence;
    if let Some(size) = byte_size
        && size > cfg.tipster_max_bytes
    {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("照片最大 {} 字节", cfg.tipster_max_bytes),
                format!("a photo may have at most {} bytes", cfg.tipster_max_bytes),
            ),
            detail: Some("TOO_LARGE"),
            field: Some("byteSize".into()),
        });
    }
    let held = evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::UploaderTipsterId.eq(p.tipster_id))
        .filter(evidence::Column::Status.ne(EvidenceStatus::Rejected))
        .count(&svc.db)
        .await?;
    if held >= cfg.tipster_max_photos {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("每条举报最多附 {} 张照片", cfg.tipster_max_photos),
                format!("a tip-off takes at most {} photos", cfg.tipster_max_photos),
            ),
            detail: Some("TOO_MANY_PHOTOS"),
            field: None,
        });
    }
    Ok(())
}

async fn load_case(db: &DatabaseConnection, id: i64) -> Result<case::Model, AppError> {
    case::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(case_not_found)
}

/// Refuses a new photo for a case that already holds [`MAX_PER_CASE`].
async fn check_room(db: &DatabaseConnection, c: &case::Model) -> Result<(), AppError> {
    let held = evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.ne(EvidenceStatus::Rejected))
        .count(db)
        .await?;
    if held >= MAX_PER_CASE {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("每个案件最多 {MAX_PER_CASE} 张照片"),
                format!("a case holds at most {MAX_PER_CASE} photos"),
            ),
            detail: Some("TOO_MANY_PHOTOS"),
            field: None,
        });
    }
    Ok(())
}

/// The evidence of a case the viewer may see (staff in scope), newest first.
pub async fn list_for_case(
    db: &DatabaseConnection,
    c: &case::Model,
) -> Result<Vec<evidence::Model>, AppError> {
    Ok(evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.ne(EvidenceStatus::Rejected))
        .order_by_asc(evidence::Column::Id)
        .limit(MAX_PER_CASE)
        .all(db)
        .await?)
}

/// A short-lived download URL of a photo's original, for staff who may see the case;
/// `None` until it is confirmed (an unconfirmed upload may be anything).
pub async fn original_url(
    svc: &Services,
    ev: &evidence::Model,
) -> Result<Option<String>, AppError> {
    if ev.status != EvidenceStatus::Confirmed {
        return Ok(None);
    }
    download_url(svc, &ev.object_key).await.map(Some)
}

/// A short-lived download URL of an object.
pub async fn download_url(svc: &Services, key: &str) -> Result<String, AppError> {
    let key = ObjectKey::try_from(key)?;
    svc.storage
        .presign_download(
            &key,
            StdDuration::from_secs(svc.config.evidence.download_url_secs),
        )
        .await
}

/// The keys of the public copies a tipster may see: none before the case is closed;
/// after, the re-encoded copies of the confirmed photos of the problem and of the fix.
pub async fn public_photo_keys(
    db: &DatabaseConnection,
    c: &case::Model,
) -> Result<Vec<String>, AppError> {
    if c.status != CaseStatus::Closed {
        return Ok(Vec::new());
    }
    Ok(list_for_case(db, c)
        .await?
        .into_iter()
        .filter(|e| e.status == EvidenceStatus::Confirmed && e.phase != Phase::During)
        .filter_map(|e| e.derivative_key)
        .collect())
}
