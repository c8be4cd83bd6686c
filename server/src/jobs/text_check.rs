//! The text check of tip-offs: every description waits as `PENDING` (hidden from the
//! public) until WeChat's `msg_sec_check` v2, asked as its author, says `pass`
//! (shown), `review` or `risky` (kept for staff, hidden from the public). Intake never
//! waits for WeChat: an outage only leaves texts pending until a later run.
//!
//! On PostgreSQL one process checks at a time (a transaction-scoped advisory lock held
//! for the run, no row locks); the verdict is written only over `PENDING`, so a verdict
//! is never overwritten.

use std::sync::Arc;

use entity::case;
use entity::enums::TextCheck;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait,
};

use crate::domain::Services;
use crate::error::AppError;
use crate::wechat::{Verdict, WechatApi, WxError};

/// Texts checked per run.
const PER_RUN: u64 = 50;

/// The longest content `msg_sec_check` takes, in characters.
const MAX_CHARS: usize = 2500;

/// One run; returns how many texts got a verdict.
pub async fn check_pending(svc: &Services, api: &Arc<WechatApi>) -> Result<u64, AppError> {
    if !svc.config.wechat.checks_text() {
        return Ok(0);
    }
    let lock = if svc.db.get_database_backend() == DbBackend::Postgres {
        let txn = svc.db.begin().await?;
        let got = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock(hashtext('gridwatch.text_check')) AS got",
            ))
            .await?
            .and_then(|r| r.try_get::<bool>("", "got").ok())
            .unwrap_or(false);
        if !got {
            txn.rollback().await?;
            return Ok(0);
        }
        Some(txn)
    } else {
        None
    };
    let run = checks(svc, api).await;
    // End the lock's transaction here: dropped, its rollback would wait until the pool
    // next used that connection, and until then every other run (the next tick, another
    // process) would find the lock taken and check nothing.
    if let Some(txn) = lock {
        txn.rollback().await?;
    }
    run
}

/// The checks of one run, under its lock.
async fn checks(svc: &Services, api: &Arc<WechatApi>) -> Result<u64, AppError> {
    let pending = case::Entity::find()
        .filter(case::Column::TextCheck.eq(TextCheck::Pending))
        .order_by_asc(case::Column::Id)
        .limit(PER_RUN)
        .all(&svc.db)
        .await?;
    let mut done = 0;
    for c in pending {
        let verdict = match verdict(svc, api, &c).await? {
            Ok(v) => v,
            Err(e) => {
                // WeChat is down or refuses us: the rest waits for the next run.
                tracing::warn!(case.id = c.id, error = %e, "text check postponed");
                break;
            }
        };
        // The verdict changes what the case shows: log it for offline sync with it.
        let now = svc.clock.now();
        done += crate::domain::uow::write(
            svc,
            None,
            crate::domain::uow::work(move |txn| {
                Box::pin(async move {
                    let r = case::Entity::update_many()
                        .col_expr(case::Column::TextCheck, Expr::value(verdict))
                        .filter(case::Column::Id.eq(c.id))
                        .filter(case::Column::TextCheck.eq(TextCheck::Pending))
                        .exec(txn)
                        .await?;
                    if r.rows_affected > 0 {
                        crate::domain::changes::touched(txn, &[c], now).await?;
                    }
                    Ok(r.rows_affected)
                })
            }),
        )
        .await?;
    }
    Ok(done)
}

/// The verdict on one case's description; `Err` (inner) when WeChat could not say.
async fn verdict(
    svc: &Services,
    api: &Arc<WechatApi>,
    c: &case::Model,
) -> Result<Result<TextCheck, WxError>, AppError> {
    if c.description.trim().is_empty() {
        return Ok(Ok(TextCheck::Pass));
    }
    let openid = match c.tipster_id {
        Some(t) => crate::domain::tipsters::openid(svc, t).await?,
        None => None,
    };
    let Some(openid) = openid else {
        // Nobody to check as: a person decides.
        return Ok(Ok(TextCheck::Review));
    };
    let chars: Vec<char> = c.description.chars().collect();
    let mut worst = TextCheck::Pass;
    for chunk in chars.chunks(MAX_CHARS) {
        let text: String = chunk.iter().collect();
        let v = match check(svc, api, &text, &openid).await {
            Ok(v) => v,
            // The author has not opened the mini-program for two hours (61010), or the
            // openid is not this app's (40003, 43104): WeChat will not check as them.
            Err(WxError::Code {
                errcode: 61010 | 40003 | 43104,
                ..
            }) => return Ok(Ok(TextCheck::Review)),
            Err(e) => return Ok(Err(e)),
        };
        worst = match (worst, v) {
            (_, Verdict::Risky) | (TextCheck::Risky, _) => TextCheck::Risky,
            (_, Verdict::Review) | (TextCheck::Review, _) => TextCheck::Review,
            _ => TextCheck::Pass,
        };
    }
    Ok(Ok(worst))
}

/// One check, once more with a fresh token if WeChat refused the token.
async fn check(
    svc: &Services,
    api: &Arc<WechatApi>,
    text: &str,
    openid: &str,
) -> Result<Verdict, WxError> {
    let token = crate::wechat::access_token(svc, api, None).await?;
    match api.check_text(&token, text, openid).await {
        Err(e) if e.is_bad_token() => {
            let fresh = crate::wechat::access_token(svc, api, Some(&token)).await?;
            api.check_text(&fresh, text, openid).await
        }
        r => r,
    }
}
