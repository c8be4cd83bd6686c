//! The `gridwatch` command: serve, migrate, seed, import-grid, export-schema.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use gridwatch::app::{self, BuildOptions};
use gridwatch::config::Config;
use gridwatch::domain::grid::Grid;
use gridwatch::error::{AppError, Lang};
use gridwatch::{db, graphql, seed, telemetry};

/// mimalloc instead of glibc's malloc: a request allocates and frees thousands of
/// small objects across the runtime's threads, where glibc spent a quarter of the CPU
/// and waited on its arena locks (scripts/bench.sh, perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// gridwatch — environmental grid supervision backend (生态环境网格化监管).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (default: ./gridwatch.toml when present);
    /// GRIDWATCH__SECTION__KEY variables override it.
    #[arg(long, global = true, env = "GRIDWATCH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server; an empty database is migrated and seeded first.
    Serve {
        /// Also seed demo users (refused when GRIDWATCH__ENV=production).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Seed base data (regions, categories, calendar); idempotent.
    Seed {
        /// Also seed demo users (refused in production).
        #[arg(long)]
        demo: bool,
    },
    /// Import real grid boundaries from a GeoJSON FeatureCollection, all or nothing.
    ImportGrid {
        /// The GeoJSON file (properties: code, name, level, parent_code).
        file: PathBuf,
    },
    /// Create a staff account (e.g. the first county admin of a deployment). Works
    /// while the server runs.
    CreateUser {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Password (8–128 characters, at least two kinds of characters).
        #[arg(long, env = "GRIDWATCH_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// COUNTY_ADMIN, TOWNSHIP_SUPERVISOR or INSPECTOR.
        #[arg(long)]
        role: String,
        /// Code of the region the user is bound to (county / township / village).
        #[arg(long)]
        region: String,
        /// Display name (defaults to the username).
        #[arg(long)]
        name: Option<String>,
    },
    /// Write a consistent copy of the SQLite database to FILE while the server runs
    /// (PostgreSQL: use pg_dump, see README "Operating it").
    Backup {
        /// The new file (must not exist).
        file: PathBuf,
    },
    /// Check that every confirmed photo's object exists with its recorded size and
    /// SHA-256 (a report; exit status 1 when something is missing or altered).
    VerifyEvidence,
    /// Delete evidence objects no confirmed photo needs (expired tickets, rejected
    /// uploads, sealed-from upload copies) older than the grace period.
    SweepOrphans {
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Grace period in hours (default: `jobs.orphan_grace_secs`).
        #[arg(long)]
        grace_hours: Option<i64>,
    },
    /// Register the GraphQL operations of an app build (Apollo persisted-query manifest
    /// or a `{ "<sha256>": "<text>" }` map): with `limits.persisted_queries = "allowlist"`
    /// only registered operations run. Idempotent; works while the server runs.
    RegisterOperations {
        /// The manifest (JSON).
        file: PathBuf,
    },
    /// Print the GraphQL schema (SDL, sorted) to stdout or a file.
    ExportSchema {
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::ExportSchema { out } = &cli.command {
        return match export_schema(out.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<AppError>() {
                Some(app) => eprintln!(
                    "{} [{}]\n{}",
                    app.message(Lang::Zh),
                    app.code(),
                    app.message(Lang::En)
                ),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn export_schema(out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let sdl = graphql::sdl();
    match out {
        Some(path) => {
            std::fs::write(path, sdl).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            print!("{sdl}");
            Ok(())
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => migrate(config).await,
        Command::Seed { demo } => seed_data(config, demo).await,
        Command::ImportGrid { file } => import_grid(config, &file).await,
        Command::RegisterOperations { file } => register_operations(config, &file).await,
        Command::Backup { file } => backup(config, &file).await,
        Command::VerifyEvidence => verify_evidence(config).await,
        Command::SweepOrphans {
            dry_run,
            grace_hours,
        } => sweep_orphans(config, dry_run, grace_hours).await,
        Command::CreateUser {
            username,
            password,
            role,
            region,
            name,
        } => create_user(config, username, password, role, region, name).await,
        Command::ExportSchema { .. } => Ok(()),
    }
}

/// `serve`: builds the app and serves until SIGTERM or Ctrl-C.
async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let addr = config.server.addr;
    let app = app::build(
        config,
        BuildOptions {
            demo,
            ..BuildOptions::default()
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (GRIDWATCH__SERVER__ADDR)"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "gridwatch listening; GraphiQL at http://{local}/graphql");
    app.serve(listener, shutdown_signal()).await
}

/// `migrate`.
async fn migrate(config: Config) -> anyhow::Result<()> {
    let db = db::connect(&config.database).await?;
    db::migrate(&db).await?;
    println!("migrations applied");
    Ok(())
}

/// `seed [--demo]`.
async fn seed_data(config: Config, demo: bool) -> anyhow::Result<()> {
    if demo && config.is_production() {
        anyhow::bail!("拒绝在生产环境写入演示数据 / refusing to seed demo data in production");
    }
    let db = db::connect(&config.database).await?;
    db::migrate(&db).await?;
    let report = if demo {
        let vault = gridwatch::auth::vault::Vault::from_config(&config.vault, false)?;
        seed::seed_demo(&db, &vault).await?
    } else {
        seed::seed_base(&db).await?
    };
    println!(
        "seeded: {} regions, {} categories, {} time limits, {} calendar days",
        report.regions, report.categories, report.time_limits, report.calendar_days
    );
    Ok(())
}

/// `import-grid FILE`.
async fn import_grid(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let db = db::connect(&config.database).await?;
    db::migrate(&db).await?;
    let grid = Grid::load(db).await?;
    let summary = grid.import(&text, chrono::Utc::now()).await?;
    println!(
        "imported {}: {} inserted, {} updated, {} unchanged",
        file.display(),
        summary.inserted,
        summary.updated,
        summary.unchanged
    );
    Ok(())
}

/// `register-operations`.
async fn register_operations(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ops = gridwatch::persisted::read_manifest(&text)
        .with_context(|| format!("{} is not a usable manifest", file.display()))?;
    let db = db::connect(&config.database).await?;
    db::migrate(&db).await?;
    let new = gridwatch::persisted::register(&db, &ops, chrono::Utc::now()).await?;
    println!(
        "{}: {} operations, {new} newly registered",
        file.display(),
        ops.len()
    );
    Ok(())
}

/// `verify-evidence`.
async fn verify_evidence(mut config: Config) -> anyhow::Result<()> {
    config.jobs.enabled = false;
    let app = gridwatch::app::build(config, gridwatch::app::BuildOptions::default()).await?;
    let r = gridwatch::domain::evidence::audit::verify_all(&app.state.services).await?;
    println!(
        "checked {} confirmed photos: {} missing, {} altered",
        r.checked,
        r.missing.len(),
        r.altered.len()
    );
    for id in &r.missing {
        println!("missing: evidence {id}");
    }
    for id in &r.altered {
        println!("altered: evidence {id}");
    }
    if !r.is_clean() {
        anyhow::bail!("evidence does not match its records");
    }
    Ok(())
}

/// `sweep-orphans [--dry-run] [--grace-hours N]`.
async fn sweep_orphans(
    mut config: Config,
    dry_run: bool,
    grace_hours: Option<i64>,
) -> anyhow::Result<()> {
    config.jobs.enabled = false;
    let grace = match grace_hours {
        Some(h) if h >= 0 => chrono::Duration::hours(h),
        Some(_) => anyhow::bail!("--grace-hours must not be negative"),
        None => chrono::Duration::seconds(
            i64::try_from(config.jobs.orphan_grace_secs).unwrap_or(86_400),
        ),
    };
    let app = gridwatch::app::build(config, gridwatch::app::BuildOptions::default()).await?;
    let r =
        gridwatch::domain::evidence::orphans::sweep(&app.state.services, grace, dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    println!(
        "{verb} {} objects: {} expired tickets, {} rejected uploads, {} confirmed photos checked for upload copies",
        r.objects_deleted, r.expired_tickets, r.rejected_cleaned, r.upload_copies
    );
    Ok(())
}

/// `backup FILE`.
async fn backup(config: Config, file: &std::path::Path) -> anyhow::Result<()> {
    let db = db::connect(&config.database).await?;
    db::backup(&db, file).await?;
    println!("backed up to {}", file.display());
    Ok(())
}

/// `create-user`: the first county admin of a deployment.
async fn create_user(
    config: Config,
    username: String,
    password: String,
    role: String,
    region: String,
    name: Option<String>,
) -> anyhow::Result<()> {
    let db = db::connect(&config.database).await?;
    db::migrate(&db).await?;
    let grid = Grid::load(db.clone()).await?;
    let snap = grid.snapshot();
    let region_id = snap
        .by_code(&region)
        .map(|r| r.id)
        .ok_or_else(|| AppError::not_found("区域", "region"))?;
    let user = gridwatch::domain::accounts::create_user_unscoped(
        &db,
        &snap,
        gridwatch::domain::accounts::NewUser {
            username,
            password,
            role,
            region_id,
            name,
            phone: None,
        },
        chrono::Utc::now(),
    )
    .await?;
    println!(
        "created user {} (id {}, {})",
        user.username, user.id, user.role
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
