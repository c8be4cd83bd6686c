//! What a submitted result must carry: pure rules over facts loaded beforehand.

use entity::{case, category, evidence};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{EvidenceStatus, Phase};
use crate::error::{AppError, Msg};

/// Most evidence ids one submission may cite.
pub const MAX_CITED: usize = 50;

/// The photo facts of one case, as far as submitting is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionFacts {
    /// The category's minimum of confirmed photos: before, during, after.
    pub minimums: [i32; 3],
    /// The case's confirmed evidence: id and phase.
    pub confirmed: Vec<(i64, Phase)>,
}

/// Loads the facts of [`check_submission`] for a case.
pub async fn load_facts<C: ConnectionTrait>(
    conn: &C,
    c: &case::Model,
) -> Result<SubmissionFacts, AppError> {
    let minimums = category::Entity::find_by_id(c.category_id)
        .one(conn)
        .await?
        .map_or([0; 3], |k| {
            [k.min_photos_before, k.min_photos_during, k.min_photos_after]
        });
    let confirmed = evidence::Entity::find()
        .filter(evidence::Column::CaseId.eq(c.id))
        .filter(evidence::Column::Status.eq(EvidenceStatus::Confirmed))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e.phase))
        .collect();
    Ok(SubmissionFacts {
        minimums,
        confirmed,
    })
}

/// Checks the evidence a submission cites: each cited id is confirmed evidence of this
/// case, and the category's minimum of confirmed photos per phase is met. Returns the
/// ids, sorted and de-duplicated.
pub fn check_submission(facts: &SubmissionFacts, cited: &[i64]) -> Result<Vec<i64>, AppError> {
    let mut ids = cited.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_CITED {
        return Err(AppError::bad_input(
            "TOO_MANY_EVIDENCE_IDS",
            Msg::new(
                format!("引用的证据过多（最多 {MAX_CITED} 项）"),
                format!("too many evidence ids (at most {MAX_CITED})"),
            ),
        )
        .at("evidenceIds"));
    }
    if !ids
        .iter()
        .all(|id| facts.confirmed.iter().any(|(c, _)| c == id))
    {
        return Err(AppError::bad_input(
            "INVALID_EVIDENCE",
            Msg::new(
                "引用的证据不存在、不属于本案件或尚未确认",
                "some evidence does not exist, belongs to another case or is not confirmed",
            ),
        )
        .at("evidenceIds"));
    }
    check_minimums(facts)?;
    Ok(ids)
}

fn check_minimums(facts: &SubmissionFacts) -> Result<(), AppError> {
    let count = |p: Phase| {
        i32::try_from(facts.confirmed.iter().filter(|(_, q)| *q == p).count()).unwrap_or(i32::MAX)
    };
    let mut missing = Vec::new();
    for (i, (phase, zh)) in [
        (Phase::Before, "发现"),
        (Phase::During, "处置中"),
        (Phase::After, "整改后"),
    ]
    .into_iter()
    .enumerate()
    {
        let (need, have) = (facts.minimums[i], count(phase));
        if have < need {
            missing.push((phase, need, have, zh));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let zh: Vec<String> = missing
        .iter()
        .map(|(_, n, h, z)| format!("{z}照片需 {n} 张，已有 {h} 张"))
        .collect();
    let en: Vec<String> = missing
        .iter()
        .map(|(p, n, h, _)| format!("{} photos: {h} of {n}", p.as_str()))
        .collect();
    Err(AppError::BadInput {
        msg: Msg::new(
            format!("证据照片不足：{}", zh.join("；")),
            format!("not enough confirmed photos: {}", en.join("; ")),
        ),
        detail: Some("EVIDENCE_REQUIRED"),
        field: Some("evidenceIds".into()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn facts(minimums: [i32; 3], confirmed: &[(i64, Phase)]) -> SubmissionFacts {
        SubmissionFacts {
            minimums,
            confirmed: confirmed.to_vec(),
        }
    }

    #[test]
    fn minimums_are_counted_per_phase() {
        let f = facts([1, 0, 1], &[(1, Phase::Before), (2, Phase::During)]);
        let e = check_submission(&f, &[]).unwrap_err();
        assert_eq!(e.detail(), Some("EVIDENCE_REQUIRED"));
        assert!(
            e.message(crate::error::Lang::En)
                .contains("AFTER photos: 0 of 1")
        );
        let f = facts([1, 0, 1], &[(1, Phase::Before), (3, Phase::After)]);
        assert_eq!(check_submission(&f, &[3, 1, 3]).ok(), Some(vec![1, 3]));
    }

    #[test]
    fn cited_ids_must_be_confirmed_evidence_of_the_case() {
        let f = facts([0, 0, 0], &[(1, Phase::Before)]);
        assert_eq!(check_submission(&f, &[2]).unwrap_err().code(), "BAD_INPUT");
        let many: Vec<i64> = (1..=51).collect();
        assert_eq!(check_submission(&f, &many).unwrap_err().code(), "BAD_INPUT");
    }
}
