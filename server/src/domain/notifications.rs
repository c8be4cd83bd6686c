//! In-app notifications for staff: a deadline near or missed, a case escalated to
//! them, a case dispatched or returned to them. Each is written in the transaction of
//! the event that causes it, so it exists exactly when the event does.

use chrono::{DateTime, Utc};
use entity::notification;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::Services;
use super::access::Viewer;
use super::page::{Page, PageRequest};
use crate::error::{AppError, Msg};

/// Most ids one `markNotificationsRead` takes.
pub const MAX_MARK: usize = 200;

/// A notification to write.
pub fn new(
    user_id: i64,
    kind: &str,
    case_id: Option<i64>,
    title: String,
    body: String,
    now: DateTime<Utc>,
) -> notification::ActiveModel {
    notification::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        case_id: Set(case_id),
        title: Set(title),
        body: Set(body),
        created_at: Set(now),
        read_at: Set(None),
        ..Default::default()
    }
}

/// Writes notifications in `conn`'s transaction.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<notification::ActiveModel>,
) -> Result<(), AppError> {
    if !rows.is_empty() {
        notification::Entity::insert_many(rows).exec(conn).await?;
    }
    Ok(())
}

/// The viewer's notifications, newest first (keyset on id), optionally only unread.
pub async fn list(
    svc: &Services,
    viewer: &Viewer,
    unread_only: bool,
    page: PageRequest,
) -> Result<Page<notification::Model>, AppError> {
    let me = viewer.staff()?;
    let mut q = notification::Entity::find().filter(notification::Column::UserId.eq(me.user_id));
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(after) = page.after {
        q = q.filter(notification::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(notification::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// How many unread notifications the viewer has.
pub async fn unread_count(svc: &Services, viewer: &Viewer) -> Result<u64, AppError> {
    let me = viewer.staff()?;
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(me.user_id))
        .filter(notification::Column::ReadAt.is_null())
        .count(&svc.db)
        .await?)
}

/// Marks the viewer's notifications read; `NOT_FOUND` when an id is not theirs (and
/// then nothing is marked). Marking twice is harmless. Returns how many were unread.
pub async fn mark_read(svc: &Services, viewer: &Viewer, ids: Vec<i64>) -> Result<u64, AppError> {
    let me = viewer.staff()?.clone();
    let mut ids = ids;
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > MAX_MARK {
        return Err(AppError::bad_input(
            "TOO_MANY_IDS",
            Msg::new(
                format!("一次最多标记 {MAX_MARK} 条"),
                format!("at most {MAX_MARK} ids at once"),
            ),
        )
        .at("ids"));
    }
    let mine = notification::Entity::find()
        .filter(notification::Column::UserId.eq(me.user_id))
        .filter(notification::Column::Id.is_in(ids.clone()))
        .count(&svc.db)
        .await?;
    if mine != ids.len() as u64 {
        return Err(AppError::not_found("通知", "notification"));
    }
    let now = svc.clock.now();
    super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| {
            Box::pin(async move {
                let r = notification::Entity::update_many()
                    .col_expr(notification::Column::ReadAt, Expr::value(now))
                    .filter(notification::Column::UserId.eq(me.user_id))
                    .filter(notification::Column::Id.is_in(ids))
                    .filter(notification::Column::ReadAt.is_null())
                    .exec(txn)
                    .await?;
                Ok(r.rows_affected)
            })
        }),
    )
    .await
}
