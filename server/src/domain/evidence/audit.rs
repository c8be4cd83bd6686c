//! The evidence audit: every confirmed photo's object exists in the store with the
//! size and SHA-256 recorded at confirmation. A report, no changes — for after a
//! restore, a bucket migration, or a suspicion.

use entity::evidence;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt as _;

use super::EvidenceStatus;
use crate::domain::Services;
use crate::error::AppError;
use crate::storage::ObjectKey;

/// Rows read per page.
const PAGE: u64 = 500;

/// What the audit found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Confirmed photos checked.
    pub checked: u64,
    /// Ids whose object is missing.
    pub missing: Vec<i64>,
    /// Ids whose object differs (size or SHA-256) from the record.
    pub altered: Vec<i64>,
}

impl AuditReport {
    /// Whether every photo is as recorded.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.altered.is_empty()
    }
}

/// Reads every confirmed photo once, streaming (memory stays at one buffer).
pub async fn verify_all(svc: &Services) -> Result<AuditReport, AppError> {
    let mut report = AuditReport::default();
    let mut after = 0i64;
    loop {
        let rows = evidence::Entity::find()
            .filter(evidence::Column::Status.eq(EvidenceStatus::Confirmed))
            .filter(evidence::Column::Id.gt(after))
            .order_by_asc(evidence::Column::Id)
            .limit(PAGE)
            .all(&svc.db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(report);
        };
        after = last.id;
        for ev in rows {
            report.checked += 1;
            let key = ObjectKey::try_from(ev.object_key.as_str())?;
            match digest(svc, &key).await? {
                None => report.missing.push(ev.id),
                Some((size, sha)) => {
                    if u64::try_from(ev.byte_size).ok() != Some(size) || sha != ev.sha256 {
                        report.altered.push(ev.id);
                    }
                }
            }
        }
    }
}

/// Size and hex SHA-256 of an object, `None` when it does not exist.
async fn digest(svc: &Services, key: &ObjectKey) -> Result<Option<(u64, String)>, AppError> {
    let Some(mut reader) = svc.storage.open_read(key).await? else {
        return Ok(None);
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| {
            AppError::StorageUnavailable(anyhow::Error::new(e).context("reading evidence"))
        })?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(Some((size, hex::encode(hasher.finalize()))))
}
