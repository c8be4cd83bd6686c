//! What the public sees of a tip-off: a privacy rule, kept here so no resolver can
//! widen it. The tipster follows progress as fixed sentences, one per step that
//! matters to them; staff names, notes, places finer than the township and every
//! internal step (escalations, parking, reassignments) stay hidden.

use chrono::{DateTime, Utc};
use entity::case_event;

use super::CaseStatus;

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
