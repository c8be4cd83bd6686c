//! Orphan sweeping: objects in the store that no confirmed photo needs.
//!
//! - An upload ticket never confirmed: once its URL expired more than the grace period
//!   ago, the row becomes `REJECTED` (`EXPIRED`) — first, conditionally, so a late
//!   confirmation and the sweeper never both win — and its objects are deleted.
//! - A rejected upload whose objects survived the inline delete (store down then).
//! - The upload copy a confirmed photo was sealed from (S3 copies on sealing).
//!
//! A confirmed photo's own object and its public copy are never touched: only keys that
//! differ from them are deleted. Each row is done once (`purged_at`); deleting a missing
//! object is not an error, so two processes sweeping at once only repeat a delete.

use chrono::{DateTime, Duration, Utc};
use entity::evidence;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::EvidenceStatus;
use crate::domain::Services;
use crate::error::AppError;
use crate::storage::ObjectKey;

/// Rows handled per kind and run.
const BATCH: u64 = 500;

/// What a pass found (dry run) or did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrphanReport {
    /// Tickets expired beyond the grace period, now rejected.
    pub expired_tickets: u64,
    /// Rejected uploads cleaned up (expired tickets included).
    pub rejected_cleaned: u64,
    /// Confirmed photos whose upload copy was removed (or found to need none).
    pub upload_copies: u64,
    /// Objects deleted (dry run: that would be deleted, at most).
    pub objects_deleted: u64,
}

/// One pass. `dry_run` changes nothing and reports what a pass would do.
pub async fn sweep(
    svc: &Services,
    grace: Duration,
    dry_run: bool,
) -> Result<OrphanReport, AppError> {
    let now = svc.clock.now();
    let cutoff = now - grace;
    let mut report = OrphanReport::default();
    let expired = evidence::Entity::find()
        .filter(evidence::Column::Status.eq(EvidenceStatus::Pending))
        .filter(evidence::Column::ExpiresAt.lt(cutoff));
    if dry_run {
        report.expired_tickets = expired.clone().count(&svc.db).await?;
        for ev in expired.limit(BATCH).all(&svc.db).await? {
            report.objects_deleted += remove(svc, &keys_of(svc, &ev)?, true).await?;
        }
    } else {
        report.expired_tickets = evidence::Entity::update_many()
            .col_expr(
                evidence::Column::Status,
                Expr::value(EvidenceStatus::Rejected),
            )
            .col_expr(evidence::Column::RejectReason, Expr::value("EXPIRED"))
            .filter(evidence::Column::Status.eq(EvidenceStatus::Pending))
            .filter(evidence::Column::ExpiresAt.lt(cutoff))
            .exec(&svc.db)
            .await?
            .rows_affected;
    }
    let rejected = evidence::Entity::find()
        .filter(evidence::Column::Status.eq(EvidenceStatus::Rejected))
        .filter(evidence::Column::PurgedAt.is_null())
        .filter(evidence::Column::CreatedAt.lt(cutoff))
        .order_by_asc(evidence::Column::Id)
        .limit(BATCH)
        .all(&svc.db)
        .await?;
    for ev in rejected {
        report.objects_deleted += remove(svc, &keys_of(svc, &ev)?, dry_run).await?;
        report.rejected_cleaned += 1;
        if !dry_run {
            mark(svc, ev.id, now).await?;
        }
    }
    if dry_run {
        // The expired tickets are rejected rows of the next real pass.
        report.rejected_cleaned += report.expired_tickets;
    }
    let confirmed = evidence::Entity::find()
        .filter(evidence::Column::Status.eq(EvidenceStatus::Confirmed))
        .filter(evidence::Column::PurgedAt.is_null())
        .filter(evidence::Column::ConfirmedAt.lt(cutoff))
        .order_by_asc(evidence::Column::Id)
        .limit(BATCH)
        .all(&svc.db)
        .await?;
    for ev in confirmed {
        let key = ObjectKey::try_from(ev.object_key.as_str())?;
        let upload = svc
            .storage
            .upload_key_of(&key)
            .filter(|u| *u != key && Some(u.as_str()) != ev.derivative_key.as_deref());
        if let Some(upload) = upload {
            report.objects_deleted += remove(svc, &[upload], dry_run).await?;
        }
        report.upload_copies += 1;
        if !dry_run {
            mark(svc, ev.id, now).await?;
        }
    }
    Ok(report)
}

/// The objects an unconfirmed row may have left: its upload and a sealed copy.
fn keys_of(svc: &Services, ev: &evidence::Model) -> Result<Vec<ObjectKey>, AppError> {
    let key = ObjectKey::try_from(ev.object_key.as_str())?;
    let sealed = svc.storage.sealed_key(&key);
    Ok(if sealed == key {
        vec![key]
    } else {
        vec![key, sealed]
    })
}

/// Deletes the objects that exist; how many did.
async fn remove(svc: &Services, keys: &[ObjectKey], dry_run: bool) -> Result<u64, AppError> {
    let mut n = 0;
    for key in keys {
        if svc.storage.head(key).await?.is_none() {
            continue;
        }
        if !dry_run {
            svc.storage.delete(key).await?;
        }
        n += 1;
    }
    Ok(n)
}

async fn mark(svc: &Services, id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    evidence::Entity::update_many()
        .col_expr(evidence::Column::PurgedAt, Expr::value(Some(now)))
        .filter(evidence::Column::Id.eq(id))
        .exec(&svc.db)
        .await?;
    Ok(())
}
