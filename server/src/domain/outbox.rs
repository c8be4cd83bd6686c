//! The outbox: messages written with the change they announce, delivered later.
//!
//! A deliverer claims due messages with a lease (`locked_until`) and one more attempt
//! counted — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two processes never hold
//! the same message — sends them, then marks each delivered, or schedules a retry with
//! exponential backoff, or after too many attempts makes it a dead letter that county
//! staff can see and send again. A message is marked delivered only after its receiver
//! accepted it; a process that dies between the two leaves it to be sent again after
//! the lease, with the same delivery id, which receivers use to drop the repeat.

use chrono::{DateTime, Duration, Utc};
use entity::outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};

use super::Services;
use super::access::{Role, Viewer};
use super::page::{Page, PageRequest};
use crate::error::AppError;

/// How long a claim holds a message.
pub const LEASE: Duration = Duration::seconds(60);

/// Claims up to `limit` due messages.
pub async fn claim(svc: &Services, limit: u64) -> Result<Vec<outbox::Model>, AppError> {
    let now = svc.clock.now();
    let backend = svc.db.get_database_backend();
    // The same statement on both databases, numbered parameters ($n / ?n); only
    // PostgreSQL locks (SQLite serialises writers anyway).
    let (p, lock) = if backend == DbBackend::Postgres {
        ('$', " FOR UPDATE SKIP LOCKED")
    } else {
        ('?', "")
    };
    let sql = format!(
        "UPDATE outbox SET locked_until = {p}1, attempts = attempts + 1 WHERE id IN ( \
         SELECT id FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL \
         AND available_at <= {p}2 AND (locked_until IS NULL OR locked_until < {p}2) \
         ORDER BY id LIMIT {p}3{lock}) RETURNING *"
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        sql,
        [
            (now + LEASE).into(),
            now.into(),
            i64::try_from(limit).unwrap_or(100).into(),
        ],
    );
    super::uow::write(
        svc,
        None,
        super::uow::work(move |txn| {
            Box::pin(async move {
                let mut rows = outbox::Model::find_by_statement(stmt).all(txn).await?;
                rows.sort_by_key(|r| r.id);
                Ok(rows)
            })
        }),
    )
    .await
}

/// Marks a message settled: delivered, or (with a `note`) dropped because there is
/// nothing to send any more (a tipster without a grant, a template removed).
pub async fn delivered(svc: &Services, id: i64, note: Option<&str>) -> Result<(), AppError> {
    let now = svc.clock.now();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DeliveredAt, Expr::value(now))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            outbox::Column::LastError,
            Expr::value(note.map(str::to_owned)),
        )
        .filter(outbox::Column::Id.eq(id))
        .exec(&svc.db)
        .await?;
    Ok(())
}

/// Records a failed attempt: a retry after `base × 2^(attempts−1)` (at most an hour;
/// at least `at_least` when the receiver asked for a longer pause), or a dead letter
/// once `max_attempts` were made.
pub async fn failed(
    svc: &Services,
    row: &outbox::Model,
    error: &str,
    base: Duration,
    max_attempts: i32,
    at_least: Option<Duration>,
) -> Result<bool, AppError> {
    let now = svc.clock.now();
    let dead = row.attempts >= max_attempts;
    let shift = u32::try_from(row.attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    let wait = (base * 2i32.saturating_pow(shift))
        .min(Duration::hours(1))
        .max(at_least.unwrap_or(Duration::zero()));
    let error: String = error.chars().take(500).collect();
    let mut q = outbox::Entity::update_many()
        .col_expr(outbox::Column::LastError, Expr::value(Some(error)))
        .col_expr(
            outbox::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Id.eq(row.id));
    q = if dead {
        q.col_expr(outbox::Column::DeadAt, Expr::value(Some(now)))
    } else {
        q.col_expr(outbox::Column::AvailableAt, Expr::value(now + wait))
    };
    q.exec(&svc.db).await?;
    Ok(dead)
}

/// Dead letters, newest first: county staff only.
pub async fn dead_letters(
    svc: &Services,
    viewer: &Viewer,
    page: PageRequest,
) -> Result<Page<outbox::Model>, AppError> {
    viewer.staff_with(&[Role::CountyAdmin])?;
    let mut q = outbox::Entity::find().filter(outbox::Column::DeadAt.is_not_null());
    if let Some(after) = page.after {
        q = q.filter(outbox::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(outbox::Column::Id)
        .limit(page.fetch_limit())
        .all(&svc.db)
        .await?;
    Ok(Page::from_rows(rows, page))
}

/// Sends a dead letter again (from a first attempt): county staff only.
pub async fn retry_dead_letter(
    svc: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<outbox::Model, AppError> {
    viewer.staff_with(&[Role::CountyAdmin])?;
    let now = svc.clock.now();
    let n = outbox::Entity::update_many()
        .col_expr(
            outbox::Column::DeadAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::AvailableAt, Expr::value(now))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::DeadAt.is_not_null())
        .exec(&svc.db)
        .await?
        .rows_affected;
    if n == 0 {
        return Err(AppError::not_found("失败消息", "dead letter"));
    }
    outbox::Entity::find_by_id(id)
        .one(&svc.db)
        .await?
        .ok_or_else(|| AppError::not_found("失败消息", "dead letter"))
}
