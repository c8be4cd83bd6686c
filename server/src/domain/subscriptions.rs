//! WeChat subscribe messages to tipsters: the grants they gave, and the messages queued
//! when their tip-off is accepted, closed or not accepted.
//!
//! A one-time grant is good for one message and WeChat offers no way to ask how many
//! are left, so they are counted here: the mini-program reports each
//! `wx.requestSubscribeMessage` acceptance (`record`), a message is queued in the
//! outbox with the event that causes it only while a grant is left, and the deliverer
//! takes one grant just before sending (`reserve`), gives it back when the send did not
//! happen (`give_back`), and stops the channel when WeChat answers 43101 (`block`) until
//! the tipster grants again.

use chrono::{DateTime, Utc};
use entity::{case, case_follower, category, outbox, tipster_subscription};
use sea_orm::sea_query::{Expr, ExprTrait as _, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::Services;
use super::access::Viewer;
use super::cases::CaseStatus;
use super::grid::{GridSnapshot, RegionLevel};
use crate::config::{SubscribeConfig, TemplateConfig};
use crate::error::{AppError, Msg};

/// The outbox topic of a subscribe message.
pub const TOPIC: &str = "WECHAT_SUBSCRIBE";

/// Most template ids one `wx.requestSubscribeMessage` call may carry.
pub const MAX_PER_GRANT: usize = 5;

/// Which message an event sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    /// The tip-off was accepted.
    Accepted,
    /// The case was closed after verification.
    Closed,
    /// The tip-off was not accepted.
    Rejected,
}

impl MessageKind {
    /// The message an event sends, if any.
    pub fn of_event(action: &str, status: CaseStatus) -> Option<Self> {
        match (action, status) {
            ("ACCEPT", _) => Some(Self::Accepted),
            ("APPROVE", CaseStatus::Closed) => Some(Self::Closed),
            ("REJECT", _) => Some(Self::Rejected),
            _ => None,
        }
    }

    /// Its template, when one is configured.
    pub fn template(self, cfg: &SubscribeConfig) -> Option<&TemplateConfig> {
        match self {
            Self::Accepted => cfg.accepted.as_ref(),
            Self::Closed => cfg.closed.as_ref(),
            Self::Rejected => cfg.rejected.as_ref(),
        }
    }

    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Accepted, Self::Closed, Self::Rejected];
}

/// What a queued message carries: the facts of the moment it was queued; the text is
/// made from the template's configuration when it is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePayload {
    /// The tipster to tell.
    pub tipster_id: i64,
    /// Which message.
    pub kind: MessageKind,
    /// The template id at queueing time.
    pub template_id: String,
    /// The case.
    pub case_id: i64,
    /// Its number.
    pub case_number: String,
    /// Its tracking code.
    pub tracking_code: Option<String>,
    /// Its title (the first words of the tip-off).
    pub title: String,
    /// Category name.
    pub category: String,
    /// Township name.
    pub township: String,
    /// Status words for the public.
    pub status: String,
    /// When the event happened.
    pub at: DateTime<Utc>,
}

/// A tipster's grants for one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The template id.
    pub template_id: String,
    /// Messages it may still receive.
    pub remaining: i32,
    /// WeChat said there is no grant (43101); cleared by a new grant.
    pub blocked: bool,
}

/// The template ids configured, by kind (for the mini-program to request).
pub fn templates(cfg: &SubscribeConfig) -> Vec<(MessageKind, String)> {
    MessageKind::ALL
        .iter()
        .filter_map(|k| k.template(cfg).map(|t| (*k, t.template_id.clone())))
        .collect()
}

/// Records grants the tipster just gave (the ids `wx.requestSubscribeMessage` answered
/// `accept` for): one more message each. Public viewers only; every id must be one
/// of the configured templates.
pub async fn record(
    svc: &Services,
    viewer: &Viewer,
    template_ids: &[String],
) -> Result<Vec<Grant>, AppError> {
    let me = viewer.public()?;
    if template_ids.is_empty() || template_ids.len() > MAX_PER_GRANT {
        return Err(AppError::bad_input(
            "INVALID_TEMPLATE_COUNT",
            Msg::new(
                format!("一次授权应包含 1 到 {MAX_PER_GRANT} 个模板"),
                format!("a grant names 1 to {MAX_PER_GRANT} templates"),
            ),
        )
        .at("templateIds"));
    }
    let known = templates(&svc.config.wechat.subscribe);
    let mut ids: Vec<String> = Vec::new();
    for id in template_ids {
        if !known.iter().any(|(_, t)| t == id) {
            return Err(AppError::bad_input(
                "UNKNOWN_TEMPLATE",
                Msg::new("订阅消息模板不存在", "unknown subscribe-message template"),
            )
            .at("templateIds"));
        }
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let now = svc.clock.now();
    let tipster_id = me.tipster_id;
    super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| {
            Box::pin(async move {
                for id in &ids {
                    add_grant(txn, tipster_id, id, now).await?;
                }
                let rows = tipster_subscription::Entity::find()
                    .filter(tipster_subscription::Column::TipsterId.eq(tipster_id))
                    .filter(tipster_subscription::Column::TemplateId.is_in(ids))
                    .all(txn)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| (r.template_id, r.remaining, r.blocked))
                    .collect::<Vec<_>>())
            })
        }),
    )
    .await
    .map(|rows| {
        rows.into_iter()
            .map(|(template_id, remaining, blocked)| Grant {
                template_id,
                remaining,
                blocked,
            })
            .collect()
    })
}

/// One more grant (and the channel open again).
async fn add_grant<C: ConnectionTrait>(
    conn: &C,
    tipster_id: i64,
    template_id: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    tipster_subscription::Entity::insert(tipster_subscription::ActiveModel {
        tipster_id: Set(tipster_id),
        template_id: Set(template_id.to_owned()),
        remaining: Set(1),
        blocked: Set(false),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            tipster_subscription::Column::TipsterId,
            tipster_subscription::Column::TemplateId,
        ])
        .value(
            tipster_subscription::Column::Remaining,
            Expr::col((
                tipster_subscription::Entity,
                tipster_subscription::Column::Remaining,
            ))
            .add(1),
        )
        .value(tipster_subscription::Column::Blocked, false)
        .value(tipster_subscription::Column::UpdatedAt, now)
        .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// Queues the message `action` sends to the tip-off's followers who have a grant left,
/// in the transaction of the event (`c` as it is after the event).
pub async fn queue<C: ConnectionTrait>(
    conn: &C,
    cfg: &SubscribeConfig,
    grid: &GridSnapshot,
    c: &case::Model,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(kind) = MessageKind::of_event(action, c.status) else {
        return Ok(());
    };
    let Some(template) = kind.template(cfg) else {
        return Ok(());
    };
    let followers: Vec<i64> = case_follower::Entity::find()
        .filter(case_follower::Column::CaseId.eq(c.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| f.tipster_id)
        .chain(c.tipster_id)
        .collect();
    if followers.is_empty() {
        return Ok(());
    }
    let granted = tipster_subscription::Entity::find()
        .filter(tipster_subscription::Column::TipsterId.is_in(followers))
        .filter(tipster_subscription::Column::TemplateId.eq(template.template_id.as_str()))
        .filter(tipster_subscription::Column::Remaining.gt(0))
        .filter(tipster_subscription::Column::Blocked.eq(false))
        .all(conn)
        .await?;
    if granted.is_empty() {
        return Ok(());
    }
    let category = category::Entity::find_by_id(c.category_id)
        .one(conn)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let township = grid
        .get(c.region_id)
        .and_then(|r| grid.ancestor_at(r, RegionLevel::Township))
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let status = match kind {
        MessageKind::Accepted => "已受理",
        MessageKind::Closed => "已办结",
        MessageKind::Rejected => "不予受理",
    };
    let mut rows = Vec::new();
    for g in granted {
        let payload = MessagePayload {
            tipster_id: g.tipster_id,
            kind,
            template_id: template.template_id.clone(),
            case_id: c.id,
            case_number: c.number.clone(),
            tracking_code: c.tracking_code.clone(),
            title: c.title.clone(),
            category: category.clone(),
            township: township.clone(),
            status: status.to_owned(),
            at: now,
        };
        rows.push(outbox::ActiveModel {
            topic: Set(TOPIC.to_owned()),
            payload: Set(serde_json::to_value(&payload)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("message payload: {e}")))?),
            created_at: Set(now),
            available_at: Set(now),
            attempts: Set(0),
            locked_until: Set(None),
            delivered_at: Set(None),
            last_error: Set(None),
            dead_at: Set(None),
            delivery_id: Set(Some(uuid::Uuid::new_v4().to_string())),
            ..Default::default()
        });
    }
    outbox::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// Takes one grant for a message about to go out; false when none is left.
pub async fn reserve(svc: &Services, tipster_id: i64, template_id: &str) -> Result<bool, AppError> {
    let r = tipster_subscription::Entity::update_many()
        .col_expr(
            tipster_subscription::Column::Remaining,
            Expr::col(tipster_subscription::Column::Remaining).sub(1),
        )
        .col_expr(
            tipster_subscription::Column::UpdatedAt,
            Expr::value(svc.clock.now()),
        )
        .filter(tipster_subscription::Column::TipsterId.eq(tipster_id))
        .filter(tipster_subscription::Column::TemplateId.eq(template_id))
        .filter(tipster_subscription::Column::Remaining.gt(0))
        .filter(tipster_subscription::Column::Blocked.eq(false))
        .exec(&svc.db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Returns a grant taken for a message that did not go out.
pub async fn give_back(svc: &Services, tipster_id: i64, template_id: &str) -> Result<(), AppError> {
    tipster_subscription::Entity::update_many()
        .col_expr(
            tipster_subscription::Column::Remaining,
            Expr::col(tipster_subscription::Column::Remaining).add(1),
        )
        .filter(tipster_subscription::Column::TipsterId.eq(tipster_id))
        .filter(tipster_subscription::Column::TemplateId.eq(template_id))
        .filter(tipster_subscription::Column::Blocked.eq(false))
        .exec(&svc.db)
        .await?;
    Ok(())
}

/// WeChat says the tipster has no grant (43101): no more messages until they grant
/// again.
pub async fn block(svc: &Services, tipster_id: i64, template_id: &str) -> Result<(), AppError> {
    tipster_subscription::Entity::update_many()
        .col_expr(tipster_subscription::Column::Remaining, Expr::value(0))
        .col_expr(tipster_subscription::Column::Blocked, Expr::value(true))
        .col_expr(
            tipster_subscription::Column::UpdatedAt,
            Expr::value(svc.clock.now()),
        )
        .filter(tipster_subscription::Column::TipsterId.eq(tipster_id))
        .filter(tipster_subscription::Column::TemplateId.eq(template_id))
        .exec(&svc.db)
        .await?;
    Ok(())
}

/// The `data` object of a message: each configured key's text with the placeholders
/// filled, cut to its type's limit (WeChat refuses longer values with 47003).
pub fn render(t: &TemplateConfig, p: &MessagePayload) -> serde_json::Value {
    let local =
        p.at.with_timezone(&super::sla::SHANGHAI)
            .format("%Y年%-m月%-d日 %H:%M")
            .to_string();
    let fill = |s: &str| {
        s.replace("{case_number}", &p.case_number)
            .replace("{tracking_code}", p.tracking_code.as_deref().unwrap_or(""))
            .replace("{title}", &p.title)
            .replace("{category}", &p.category)
            .replace("{township}", &p.township)
            .replace("{status}", &p.status)
            .replace("{time}", &local)
    };
    let mut data = serde_json::Map::new();
    for (key, text) in &t.data {
        let value = cut(key, &fill(text));
        data.insert(key.clone(), serde_json::json!({ "value": value }));
    }
    serde_json::Value::Object(data)
}

/// The page the message opens, placeholders filled.
pub fn page(t: &TemplateConfig, p: &MessagePayload) -> Option<String> {
    t.page.as_ref().map(|s| {
        s.replace("{case_id}", &p.case_id.to_string())
            .replace("{tracking_code}", p.tracking_code.as_deref().unwrap_or(""))
    })
}

/// A value cut to the limit of its key's type (`thing1` → thing …).
fn cut(key: &str, value: &str) -> String {
    let ty = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let max = match ty {
        "thing" => 20,
        "character_string" | "number" | "letter" => 32,
        "phrase" => 5,
        "name" => 10,
        "symbol" => 5,
        "car_number" => 8,
        "phone_number" => 17,
        _ => 40,
    };
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= max {
        return value.to_owned();
    }
    if ty == "thing" && max > 1 {
        // Show that it was cut.
        let mut s: String = chars[..max - 1].iter().collect();
        s.push('…');
        return s;
    }
    chars[..max].iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_fit_their_types() {
        assert_eq!(cut("thing1", "短"), "短");
        let long = "一".repeat(30);
        let c = cut("thing2", &long);
        assert_eq!(c.chars().count(), 20);
        assert!(c.ends_with('…'));
        assert_eq!(cut("phrase3", "已经受理完毕了").chars().count(), 5);
        assert_eq!(cut("character_string12", &"A".repeat(40)).len(), 32);
    }

    #[test]
    fn events_choose_their_message() {
        use CaseStatus as S;
        assert_eq!(
            MessageKind::of_event("ACCEPT", S::Pending),
            Some(MessageKind::Accepted)
        );
        assert_eq!(
            MessageKind::of_event("APPROVE", S::Closed),
            Some(MessageKind::Closed)
        );
        assert_eq!(MessageKind::of_event("ASSIGN", S::Assigned), None);
        assert_eq!(MessageKind::of_event("START", S::InProgress), None);
    }
}
