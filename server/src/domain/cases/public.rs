//! What the public sees of a tip-off: a privacy rule, kept here so no resolver can
//! widen it. The tipster follows progress as fixed sentences, one per step that
//! matters to them; staff names, notes, places finer than the township and every
//! internal step (escalations, parking, reassignments) stay hidden.

use chrono::{DateTime, Utc};
use entity::{case, case_event, category};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::CaseStatus;
use crate::domain::Services;
use crate::domain::page::{Page, PageRequest};
use crate::error::AppError;

/// One step of a tip-off as its tipster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStep {
    /// When.
    pub at: DateTime<Utc>,
    /// The status after the step.
    pub status: CaseStatus,
    /// What happened, in words for the public.
    pub text: &'static str,
}

/// The words for the public of an event, if the public sees it at all.
fn public_text(action: &str) -> Option<&'static str> {
    Some(match action {
        "SUBMIT_TIP" => "已收到您的举报",
        "ACCEPT" => "已受理立案",
        "ASSIGN" => "已派发网格员处理",
        "START" => "网格员已到达现场处置",
        "SUBMIT" => "处置结果已提交，等待核查",
        "APPROVE" => "经核查已办结",
        "RETURN" => "核查未通过，正在重新处置",
        "EXTEND" => "处置期限已依规延长",
        "REJECT" => "经核实不予受理",
        "MERGE" => "与同一问题的其他举报合并办理",
        "RATE" => "您已评价",
        _ => return None,
    })
}

/// The words of a tip-off the public may read: only what WeChat's text check passed.
pub fn public_description(c: &entity::case::Model) -> Option<&str> {
    (c.text_check == Some(entity::enums::TextCheck::Pass)).then_some(c.description.as_str())
}

/// The steps of a case's trail the public may see, in order.
pub fn public_steps(events: &[case_event::Model]) -> Vec<PublicStep> {
    events
        .iter()
        .filter_map(|e| {
            Some(PublicStep {
                at: e.created_at,
                status: e.to_status?,
                text: public_text(&e.action)?,
            })
        })
        .collect()
}

/// 一公开: the closed cases anyone may read, newest first — in a region's subtree,
/// optionally of one category, never of a category marked not publishable, never a
/// case merged into another (its survivor is listed). What of each is shown is decided
/// by the public view: names of the category, township and village, dates, the
/// checked description, the handling result and the photos without EXIF; never a
/// person, a phone, a coordinate or a tracking code.
pub async fn disclosed(
    svc: &Services,
    region_id: Option<i64>,
    category_code: Option<&str>,
    page: PageRequest,
) -> Result<Page<case::Model>, AppError> {
    let grid = svc.grid.snapshot();
    let mut q = case::Entity::find()
        .filter(case::Column::Status.eq(CaseStatus::Closed.as_str()))
        .filter(case::Column::MergedInto.is_null())
        .filter(
            case::Column::CategoryId.in_subquery(
                Query::select()
                    .column(category::Column::Id)
                    .from(category::Entity)
                    .and_where(category::Column::Publishable.eq(true))
                    .to_owned(),
            ),
        );
    if let Some(rid) = region_id {
        let r = grid
            .get(rid)
            .ok_or_else(|| AppError::not_found("区域", "region"))?;
        q = q.filter(crate::domain::grid::subtree(
            case::Column::RegionPath,
            &r.path,
        ));
    }
    if let Some(code) = category_code {
        let cat = category::Entity::find()
            .filter(category::Column::Code.eq(code))
            .one(&svc.db)
            .await?
            .ok_or_else(|| AppError::not_found("案件类别", "category"))?;
        q = q.filter(case::Column::CategoryId.eq(cat.id));
    }
    if let Some(after) = page.after {
        q = q.filter(case::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(case::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// The handling result published with a closed case: the note of its last accepted
/// submission (staff write it for the record), if any.
pub async fn outcome(
    db: &sea_orm::DatabaseConnection,
    case_id: i64,
) -> Result<Option<String>, AppError> {
    Ok(case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(case_id))
        .filter(case_event::Column::Action.eq("SUBMIT"))
        .order_by_desc(case_event::Column::Seq)
        .one(db)
        .await?
        .and_then(|e| e.note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_steps_stay_hidden() {
        for hidden in [
            "ESCALATE",
            "PARK",
            "RESUME",
            "CREATE_TASK",
            "REPORT",
            "SOMETHING_NEW",
        ] {
            assert_eq!(public_text(hidden), None, "{hidden}");
        }
        for shown in ["SUBMIT_TIP", "ASSIGN", "APPROVE", "REJECT", "MERGE"] {
            assert!(public_text(shown).is_some(), "{shown}");
        }
    }
}
