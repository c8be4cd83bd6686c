//! Background work started by `serve`: the deadline sweeper, outbox delivery, the text
//! check of tip-offs, missed patrol plans told to supervisors, and the purge of expired idempotency keys and full rate-limit
//! buckets. Every process may
//! run them: the work itself is claimed row by row (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; on SQLite one process serves the file). Each run is recorded in
//! `job_run` (last start, finish, outcome, items), which `/metrics` reads for the lag.
//!
//! Stopping is cooperative: on SIGTERM the token is cancelled, a job finishes the run
//! it is in (each write is a unit of work that commits or rolls back whole) and stops.

pub mod delivery;
pub mod text_check;

use std::future::Future;
use std::time::Duration;

use entity::job_run;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::Services;
use crate::error::AppError;

/// The running jobs of this process.
pub struct Jobs {
    token: CancellationToken,
    handles: Vec<JoinHandle<()>>,
}

impl Jobs {
    /// Starts the configured jobs (none when `jobs.enabled` is false).
    pub fn start(svc: &Services) -> Self {
        let token = CancellationToken::new();
        let cfg = svc.config.jobs.clone();
        let mut handles = Vec::new();
        if cfg.enabled {
            let every = |secs: u64| Duration::from_secs(secs.max(1));
            handles.push(spawn(
                "sla_sweep",
                every(cfg.sla_sweep_secs),
                svc,
                &token,
                |svc| async move {
                    let r = crate::domain::supervision::sweep::sweep(&svc).await?;
                    Ok(r.warned + r.escalated + r.missed_at_top)
                },
            ));
            match delivery::Channels::new(&svc.config) {
                Ok(ch) => {
                    let api = std::sync::Arc::clone(&ch.wechat);
                    handles.push(spawn(
                        "outbox_delivery",
                        every(cfg.outbox_secs),
                        svc,
                        &token,
                        move |svc| {
                            let ch = ch.clone();
                            async move { delivery::deliver_due(&svc, &ch).await }
                        },
                    ));
                    handles.push(spawn(
                        "text_check",
                        every(cfg.text_check_secs),
                        svc,
                        &token,
                        move |svc| {
                            let api = std::sync::Arc::clone(&api);
                            async move { text_check::check_pending(&svc, &api).await }
                        },
                    ));
                }
                Err(e) => tracing::error!(error = ?e, "outbox delivery and text check not started"),
            }
            let (grace, dry_run) = (
                chrono::Duration::seconds(i64::try_from(cfg.orphan_grace_secs).unwrap_or(86_400)),
                cfg.orphan_dry_run,
            );
            handles.push(spawn(
                "orphan_sweep",
                every(cfg.orphan_sweep_secs),
                svc,
                &token,
                move |svc| async move {
                    let r = crate::domain::evidence::orphans::sweep(&svc, grace, dry_run).await?;
                    if dry_run || r.objects_deleted > 0 {
                        tracing::info!(dry_run, report = ?r, "orphan sweep");
                    }
                    Ok(r.objects_deleted)
                },
            ));
            handles.push(spawn(
                "patrol_misses",
                Duration::from_secs(900),
                svc,
                &token,
                |svc| async move { crate::domain::patrols::coverage::notify_missed(&svc).await },
            ));
            handles.push(spawn(
                "idempotency_purge",
                Duration::from_secs(3600),
                svc,
                &token,
                |svc| async move {
                    let now = svc.clock.now();
                    let keys = crate::domain::idempotency::purge_expired(&svc.db, now).await?;
                    let limits = crate::ratelimit::purge(&svc.db, now).await?;
                    let changes = crate::domain::changes::purge(&svc.db, now).await?;
                    Ok(keys + limits + changes)
                },
            ));
        }
        Self { token, handles }
    }

    /// A token that stops every job when cancelled.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Stops the jobs and waits (at most `grace`) for the runs in progress to end.
    pub async fn stop(self, grace: Duration) {
        self.token.cancel();
        let all = futures_util::future::join_all(self.handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("background jobs did not stop in time");
        }
    }
}

/// Runs `run` every `every` until the token is cancelled, recording each run.
fn spawn<F, Fut>(
    name: &'static str,
    every: Duration,
    svc: &Services,
    token: &CancellationToken,
    run: F,
) -> JoinHandle<()>
where
    F: Fn(Services) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, AppError>> + Send + 'static,
{
    let (svc, token) = (svc.clone(), token.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = token.cancelled() => break,
                _ = tick.tick() => {}
            }
            run_once(name, &svc, &run).await;
        }
        tracing::info!(job = name, "job stopped");
    })
}

/// One recorded run.
pub async fn run_once<F, Fut>(name: &'static str, svc: &Services, run: &F)
where
    F: Fn(Services) -> Fut,
    Fut: Future<Output = Result<u64, AppError>>,
{
    let started = svc.clock.now();
    let result = run(svc.clone()).await;
    let finished = svc.clock.now();
    let (ok, error, items) = match &result {
        Ok(n) => (true, None, i64::try_from(*n).unwrap_or(i64::MAX)),
        Err(e) => {
            tracing::warn!(job = name, code = e.code(), error = ?e.cause(), "job run failed");
            (false, Some(e.code().to_owned()), 0)
        }
    };
    if items > 0 {
        tracing::info!(job = name, items, "job run");
    }
    let row = job_run::ActiveModel {
        name: Set(name.to_owned()),
        last_started_at: Set(Some(started)),
        last_finished_at: Set(Some(finished)),
        last_ok: Set(ok),
        last_error: Set(error),
        items: Set(items),
    };
    let upsert = job_run::Entity::insert(row)
        .on_conflict(
            OnConflict::column(job_run::Column::Name)
                .update_columns([
                    job_run::Column::LastStartedAt,
                    job_run::Column::LastFinishedAt,
                    job_run::Column::LastOk,
                    job_run::Column::LastError,
                    job_run::Column::Items,
                ])
                .to_owned(),
        )
        .exec(&svc.db)
        .await;
    if let Err(e) = upsert {
        tracing::warn!(job = name, error = %e, "recording the job run failed");
    }
}
