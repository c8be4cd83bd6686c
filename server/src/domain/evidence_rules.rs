//! What a submitted result must carry.

use entity::{case, evidence};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::{AppError, Msg};

/// Checks the evidence a submission cites: each id must be confirmed evidence of this
/// case. Returns the ids, sorted and de-duplicated.
///
/// The category's minimum number of confirmed photos per phase is checked too
/// ([`crate::domain::evidence::check_minimums`]).
pub async fn check_submission(
    db: &DatabaseConnection,
    c: &case::Model,
    evidence_ids: &[i64],
) -> Result<Vec<i64>, AppError> {
    let mut ids = evidence_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > 50 {
        return Err(AppError::bad_input(Msg::new(
            "引用的证据过多（最多 50 项）",
            "too many evidence ids (at most 50)",
        )));
    }
    crate::domain::evidence::check_minimums(db, c).await?;
    if ids.is_empty() {
        return Ok(ids);
    }
    let found = evidence::Entity::find()
        .filter(evidence::Column::Id.is_in(ids.clone()))
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.eq("CONFIRMED"))
        .all(db)
        .await?;
    if found.len() != ids.len() {
        return Err(AppError::bad_input(Msg::new(
            "引用的证据不存在、不属于本案件或尚未确认",
            "some evidence does not exist, belongs to another case or is not confirmed",
        )));
    }
    Ok(ids)
}
