//! `/metrics` in Prometheus text, through the `metrics` facade and its Prometheus
//! exporter: requests by GraphQL operation and outcome code, a latency histogram, and,
//! read from the database at each scrape, open cases by status, overdue cases, the
//! outbox backlog and the age of its oldest message, dead letters, each job's lag and
//! last outcome, and the connection pool in use.
//!
//! The recorder is process-wide (the `metrics` facade has one); it is installed once.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use entity::{case, job_run, outbox};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use crate::domain::Services;
use crate::domain::cases::CaseStatus;
use crate::error::AppError;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Seconds of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("gridwatch_graphql_request_duration_seconds".into()),
                    &BUCKETS,
                )
                .ok()?;
            builder
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// Installs the recorder (idempotent); call at start-up.
pub fn init() {
    let _ = handle();
}

/// Counts one GraphQL request: its operation (name, or first field), outcome code
/// (`OK` or the first error's `extensions.code`) and how long it took.
pub fn graphql_request(operation: &str, code: &str, took: Duration) {
    let labels = [
        ("operation", operation.to_owned()),
        ("code", code.to_owned()),
    ];
    metrics::counter!("gridwatch_graphql_requests_total", &labels).increment(1);
    metrics::histogram!(
        "gridwatch_graphql_request_duration_seconds",
        "operation" => operation.to_owned()
    )
    .record(took.as_secs_f64());
}

/// The state read from the database at a scrape.
struct Gauges {
    open: Vec<(CaseStatus, u64)>,
    overdue: u64,
    backlog: u64,
    oldest_age: f64,
    dead: u64,
    jobs: Vec<(String, f64, bool)>,
    pool: (u32, u32),
}

async fn read(svc: &Services) -> Result<Gauges, AppError> {
    let now = svc.clock.now();
    let mut open = Vec::new();
    for status in CaseStatus::OPEN {
        let n = case::Entity::find()
            .filter(case::Column::Status.eq(status))
            .count(&svc.db)
            .await?;
        open.push((status, n));
    }
    let overdue = case::Entity::find()
        .filter(case::Column::Status.is_in(CaseStatus::OPEN))
        .filter(case::Column::ParkedAt.is_null())
        .filter(case::Column::DueAt.lt(now))
        .count(&svc.db)
        .await?;
    let pending = outbox::Entity::find()
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::DeadAt.is_null());
    let backlog = pending.clone().count(&svc.db).await?;
    let oldest: Option<chrono::DateTime<Utc>> = pending
        .select_only()
        .column_as(
            Expr::expr(Func::min(Expr::col(outbox::Column::CreatedAt))),
            "oldest",
        )
        .into_tuple()
        .one(&svc.db)
        .await?
        .flatten();
    let dead = outbox::Entity::find()
        .filter(outbox::Column::DeadAt.is_not_null())
        .count(&svc.db)
        .await?;
    let seconds = |t: chrono::DateTime<Utc>| (now - t).num_milliseconds() as f64 / 1000.0;
    let jobs = job_run::Entity::find()
        .all(&svc.db)
        .await?
        .into_iter()
        .map(|r| (r.name, r.last_finished_at.map_or(0.0, seconds), r.last_ok))
        .collect();
    Ok(Gauges {
        open,
        overdue,
        backlog,
        oldest_age: oldest.map_or(0.0, seconds),
        dead,
        jobs,
        pool: pool_usage(&svc.db),
    })
}

/// Reads the gauges from the database and renders every series: the process's
/// request counters and latencies, then this scrape's gauges (kept in a recorder of
/// their own, so concurrent scrapes never mix their readings).
/// `live_subscribers` is the number of open `caseEvents` streams of this process.
pub async fn render(svc: &Services, live_subscribers: usize) -> Result<String, AppError> {
    let g = read(svc).await?;
    let local = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&local, || {
        for (status, n) in &g.open {
            metrics::gauge!("gridwatch_cases_open", "status" => status.as_str()).set(*n as f64);
        }
        metrics::gauge!("gridwatch_cases_overdue").set(g.overdue as f64);
        metrics::gauge!("gridwatch_outbox_backlog").set(g.backlog as f64);
        metrics::gauge!("gridwatch_outbox_oldest_age_seconds").set(g.oldest_age);
        metrics::gauge!("gridwatch_outbox_dead_letters").set(g.dead as f64);
        for (job, lag, ok) in &g.jobs {
            metrics::gauge!("gridwatch_job_lag_seconds", "job" => job.clone()).set(*lag);
            metrics::gauge!("gridwatch_job_last_ok", "job" => job.clone()).set(if *ok {
                1.0
            } else {
                0.0
            });
        }
        let (size, idle) = g.pool;
        metrics::gauge!("gridwatch_db_pool_connections", "state" => "in_use")
            .set(size.saturating_sub(idle) as f64);
        metrics::gauge!("gridwatch_db_pool_connections", "state" => "idle").set(idle as f64);
        metrics::gauge!("gridwatch_live_subscribers").set(live_subscribers as f64);
    });
    let mut text = handle().map(PrometheusHandle::render).unwrap_or_default();
    text.push_str(&local.handle().render());
    Ok(text)
}

/// (open connections, idle ones) of the pool.
fn pool_usage(db: &sea_orm::DatabaseConnection) -> (u32, u32) {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let p = db.get_postgres_connection_pool();
            (p.size(), u32::try_from(p.num_idle()).unwrap_or(0))
        }
        _ => {
            let p = db.get_sqlite_connection_pool();
            (p.size(), u32::try_from(p.num_idle()).unwrap_or(0))
        }
    }
}
