//! Builds the application (state + router) apart from running it: `main` serves it,
//! tests build it on port 0.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::token::TokenKeys;
use crate::auth::vault::Vault;
use crate::auth::wechat::WechatClient;
use crate::config::Config;
use crate::domain::grid::Grid;
use crate::domain::{Clock, Services, WriteGate};
use crate::graphql::{self, GuardedSchema};
use crate::jobs::Jobs;
use crate::ratelimit::RateLimits;
pub use crate::state::AppState;
use crate::storage;
use crate::{db, http, seed};

/// Options of a build that are not configuration.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Seed demo users too (refused in production).
    pub demo: bool,
    /// The clock (tests pass an adjustable one); the system clock by default.
    pub clock: Clock,
}

/// A built application, not yet listening.
pub struct App {
    /// The HTTP routes.
    pub router: Router,
    /// Its state.
    pub state: AppState,
    /// The GraphQL schema with its data, behind the request guard.
    pub schema: GuardedSchema,
    background: Vec<JoinHandle<()>>,
    jobs: Option<Jobs>,
}

impl Drop for App {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
        if let Some(jobs) = &self.jobs {
            jobs.token().cancel();
        }
    }
}

/// Connects, migrates, seeds an empty database, loads the grid and builds the router.
pub async fn build(config: Config, opts: BuildOptions) -> anyhow::Result<App> {
    if opts.demo && config.is_production() {
        anyhow::bail!(
            "拒绝在生产环境写入演示数据 / refusing to seed demo data when GRIDWATCH__ENV=production"
        );
    }
    crate::observe::init();
    let (db, sql_statements) = database(&config).await?;
    let vault =
        Arc::new(Vault::from_config(&config.vault, config.is_production()).context("vault key")?);
    if opts.demo {
        seed::seed_demo(&db, &vault)
            .await
            .context("seeding demo data")?;
    }
    let grid = Arc::new(Grid::load(db.clone()).await.context("loading the grid")?);
    let keys = Arc::new(TokenKeys::from_config(&config.auth).context("access-token keys")?);
    let wechat = Arc::new(WechatClient::new(&config.wechat).context("WeChat client")?);
    let storage =
        storage::build(&config.storage, &config.server, &opts.clock).context("evidence storage")?;
    let gate = WriteGate::for_backend(db.get_database_backend());
    let config = Arc::new(config);
    let services = Services {
        db,
        grid: Arc::clone(&grid),
        gate,
        clock: opts.clock.clone(),
        storage,
        vault,
        keys,
        cache: Arc::default(),
        config: Arc::clone(&config),
    };
    let limits = Arc::new(RateLimits::new(
        &config.limits,
        services.db.clone(),
        services.clock.clone(),
    ));
    let (hub, live) =
        crate::live::Hub::start(&services.db, Arc::clone(&grid), Arc::clone(&services.cache));
    let state = AppState {
        services,
        limits,
        wechat,
        sql_statements,
        hub,
    };
    let schema = schema(&config, &state);
    let router = http::router(state.clone(), schema.clone());
    let mut background = background(grid, &config);
    background.push(probe_storage(Arc::clone(&state.services.storage)));
    background.push(live);
    let jobs = Some(Jobs::start(&state.services));
    Ok(App {
        router,
        state,
        schema,
        background,
        jobs,
    })
}

/// For `scripts/bench.sh` only: `GRIDWATCH_BENCH_CAPTURE_SQL=FILE` appends every
/// statement the server runs, values inlined, to FILE, so the benchmark's PostgreSQL
/// baseline replays exactly what the server asked. Refused in production (values
/// include personal data).
fn sql_capture(config: &Config) -> anyhow::Result<Option<std::sync::Mutex<std::fs::File>>> {
    let Ok(path) = std::env::var("GRIDWATCH_BENCH_CAPTURE_SQL") else {
        return Ok(None);
    };
    anyhow::ensure!(
        !config.is_production(),
        "GRIDWATCH_BENCH_CAPTURE_SQL is for benchmarks and refused in production"
    );
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {path}"))?;
    Ok(Some(std::sync::Mutex::new(file)))
}

/// The database, migrated and with its base data, counting the statements it runs.
async fn database(
    config: &Config,
) -> anyhow::Result<(DatabaseConnection, Arc<std::sync::atomic::AtomicU64>)> {
    let mut db = db::connect(&config.database).await?;
    let sql_statements = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let counter = Arc::clone(&sql_statements);
        let capture = sql_capture(config)?;
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(file) = &capture {
                use std::io::Write as _;
                let line = info.statement.to_string().replace(['\n', '\r'], " ");
                if let Ok(mut f) = file.lock() {
                    let _ = writeln!(f, "{line};");
                }
            }
        });
    }
    db::migrate(&db).await?;
    if seed::is_empty(&db)
        .await
        .context("checking for base data")?
    {
        seed::seed_base(&db).await.context("seeding base data")?;
    }
    // Deployments older than the rules get the defaults once.
    seed::seed_escalation_rules(&db)
        .await
        .context("seeding escalation rules")?;
    Ok((db, sql_statements))
}

/// The schema with its data, behind the request guard (limits from `[limits]`).
fn schema(config: &Config, state: &AppState) -> GuardedSchema {
    let limits = &config.limits;
    // First: the registry it is made from is freed before the engine builds its own, so
    // the start never holds two.
    let model = graphql::limits::CostModel::of_schema();
    let mut builder = graphql::schema()
        .data(state.clone())
        .limit_recursive_depth(graphql::limits::RECURSION_LIMIT);
    if config.is_production() {
        builder = builder.disable_introspection().disable_suggestions();
    }
    GuardedSchema::new(
        builder.finish(),
        model,
        graphql::RequestLimits {
            max_depth: limits.max_depth,
            max_cost: u64::try_from(limits.max_complexity).unwrap_or(u64::MAX),
            max_aliases: limits.max_aliases,
            max_page_size: limits.max_page_size,
            timeout: Duration::from_secs(limits.request_timeout_secs.max(1)),
        },
        Arc::clone(&state.services.grid),
    )
}

/// The check for grid changes made by other processes (every process keeps its own
/// copy of the tree).
fn background(grid: Arc<Grid>, config: &Config) -> Vec<JoinHandle<()>> {
    let refresh = Duration::from_secs(config.grid.refresh_secs.max(1));
    let refresh_grid = tokio::spawn(async move {
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match grid.refresh_if_changed().await {
                Ok(true) => tracing::info!("grid changed elsewhere; index reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = ?e, "grid refresh check failed"),
            }
        }
    });
    vec![refresh_grid]
}

/// Runs the S3 store's checksum probe (through its readiness check) soon after start
/// rather than at the first `/readyz`, so that upload tickets are bound to declared
/// hashes from the first minutes; while the store cannot be reached it asks again every
/// 30 s. Nothing to do on the folder store.
fn probe_storage(storage: Arc<dyn storage::BlobStore>) -> JoinHandle<()> {
    tokio::spawn(async move {
        while storage.checksums() == storage::Checksums::Unknown {
            match tokio::time::timeout(Duration::from_secs(10), storage.check()).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    tracing::info!(error = ?e.cause(), "evidence storage not ready; probing again in 30 s")
                }
                Err(_) => tracing::info!("evidence storage timed out; probing again in 30 s"),
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    })
}

impl App {
    /// Serves until `shutdown` resolves, then drains: the listener closes at once, jobs
    /// stop taking work, in-flight requests finish — for at most
    /// `server.shutdown_grace_secs`, after which the connections left (open
    /// WebSockets, stalled clients) are cut — and the database pool is closed.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router.clone();
        let jobs = self.jobs.take();
        let stop = jobs.as_ref().map(Jobs::token);
        let grace = Duration::from_secs(self.state.config().server.shutdown_grace_secs);
        let (draining_tx, draining) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: draining requests");
            // Jobs stop taking work at once; the server drains its requests.
            if let Some(stop) = stop {
                stop.cancel();
            }
            let _ = draining_tx.send(());
        })
        .into_future();
        tokio::select! {
            served = server => served.context("http server")?,
            () = async {
                if draining.await.is_ok() {
                    tokio::time::sleep(grace).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => tracing::warn!(grace_secs = grace.as_secs(), "connections still open after the grace period; cut"),
        }
        if let Some(jobs) = jobs {
            jobs.stop(Duration::from_secs(10)).await;
        }
        let db = self.state.services.db.clone();
        drop(self);
        if let Err(e) = db.close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}
