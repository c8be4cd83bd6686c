//! Deadline-sweeper benchmark (release build; run through `scripts/bench-sweep.sh`).
//! Not a test: it prints figures.
//!
//! A fresh PostgreSQL database gets 100,000 open cases, 1,000 of them past their
//! deadline. Measured side by side on the same data:
//! - baseline: the bare SQL of the work (claim the overdue cases with `FOR UPDATE SKIP
//!   LOCKED`, raise them, write one event each), in one transaction rolled back;
//! - the sweeper's pass (escalation, events, marks, notifications, outbox, notify),
//!   with its statement count;
//! - a second, idle pass (nothing due): what every minute costs in steady state.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::case;
use entity::enums::{CaseSource, CaseStatus, Priority};
use gridwatch::app::{self, BuildOptions};
use gridwatch::config::Config;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, Statement,
    TransactionTrait,
};

const OPEN: usize = 100_000;
const OVERDUE: usize = 1_000;

fn admin_url() -> String {
    std::env::var("GRIDWATCH_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let mut base_ms = Vec::new();
    let mut sweep_ms = Vec::new();
    let mut idle_ms = Vec::new();
    let mut statements = (0, 0);
    for round in 0..rounds {
        let r = one_round(round).await;
        base_ms.push(r.baseline.as_secs_f64() * 1000.0);
        sweep_ms.push(r.sweep.as_secs_f64() * 1000.0);
        idle_ms.push(r.idle.as_secs_f64() * 1000.0);
        statements = (r.sweep_statements, r.idle_statements);
        println!(
            "round {round}: baseline {:.1} ms, sweep {:.1} ms ({} statements, {} escalated), idle pass {:.1} ms ({} statements)",
            base_ms[round],
            sweep_ms[round],
            r.sweep_statements,
            r.escalated,
            idle_ms[round],
            r.idle_statements
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (b, s, i) = (
        median(&mut base_ms),
        median(&mut sweep_ms),
        median(&mut idle_ms),
    );
    println!(
        "{OPEN} open cases, {OVERDUE} overdue, median of {rounds}: baseline SQL {b:.1} ms; sweep {s:.1} ms = {:.1}× baseline, {} statements; idle pass {i:.1} ms = {:.2}× baseline, {} statements",
        s / b,
        statements.0,
        i / b,
        statements.1
    );
}

struct Round {
    baseline: Duration,
    sweep: Duration,
    idle: Duration,
    sweep_statements: u64,
    idle_statements: u64,
    escalated: u64,
}

async fn one_round(round: usize) -> Round {
    let name = format!("gw_bench_sweep_{}_{round}", std::process::id());
    let admin = Database::connect(admin_url()).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = {
        let a = admin_url();
        format!("{}/{name}", &a[..a.rfind('/').unwrap()])
    };
    let mut config = Config::default();
    config.database.url = url;
    config.jobs.enabled = false;
    config.storage.fs_root = std::env::temp_dir().join(&name);
    config.log.filter = "warn".into();
    let built = app::build(
        config,
        BuildOptions {
            demo: false,
            clock: gridwatch::domain::Clock::adjustable(),
        },
    )
    .await
    .unwrap();
    let svc = built.state.services.clone();
    let counter = built.state.sql_statements.clone();
    fill(&svc.db).await;

    let baseline = baseline(&svc.db).await;

    let before = counter.load(Ordering::Relaxed);
    let t = Instant::now();
    let report = gridwatch::domain::supervision::sweep::sweep(&svc)
        .await
        .unwrap();
    let sweep = t.elapsed();
    let sweep_statements = counter.load(Ordering::Relaxed) - before;

    let before = counter.load(Ordering::Relaxed);
    let t = Instant::now();
    gridwatch::domain::supervision::sweep::sweep(&svc)
        .await
        .unwrap();
    let idle = t.elapsed();
    let idle_statements = counter.load(Ordering::Relaxed) - before;

    drop(built);
    drop(svc);
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    Round {
        baseline,
        sweep,
        idle,
        sweep_statements,
        idle_statements,
        escalated: report.escalated,
    }
}

/// 100,000 open cases in one village, 1,000 past their accept deadline, the rest due
/// in a week with no warning yet.
async fn fill(db: &sea_orm::DatabaseConnection) {
    let village = entity::region::Entity::find()
        .filter(entity::region::Column::Code.eq("140521100201"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let category = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("DUST"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let now = Utc::now();
    let rows: Vec<case::ActiveModel> = (0..OPEN)
        .map(|i| {
            let overdue = i % (OPEN / OVERDUE) == 0;
            let due = if overdue {
                now - chrono::Duration::hours(2)
            } else {
                now + chrono::Duration::days(7)
            };
            case::ActiveModel {
                number: Set(format!("BENCH{i:07}")),
                source: Set(CaseSource::Task),
                category_id: Set(category.id),
                title: Set(format!("基准 {i}")),
                description: Set("基准数据".into()),
                status: Set(CaseStatus::Pending),
                priority: Set(Priority::Normal),
                region_id: Set(village.id),
                region_path: Set(village.path.clone()),
                lat: Set(35.7),
                lng: Set(112.3),
                outside_grid: Set(false),
                rework_count: Set(0),
                escalation_level: Set(0),
                version: Set(1),
                due_at: Set(Some(due)),
                warn_at: Set(Some(due - chrono::Duration::hours(4))),
                parked_seconds: Set(0),
                extended_count: Set(0),
                checkin_far: Set(false),
                created_at: Set(now - chrono::Duration::hours(10)),
                updated_at: Set(now - chrono::Duration::hours(10)),
                ..Default::default()
            }
        })
        .collect();
    for chunk in rows.chunks(2_000) {
        case::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
    db.execute_unprepared("ANALYZE").await.unwrap();
}

/// The bare SQL of the pass, rolled back so the sweeper finds the same data.
async fn baseline(db: &sea_orm::DatabaseConnection) -> Duration {
    let t = Instant::now();
    let txn = db.begin().await.unwrap();
    txn.execute_raw(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "WITH due AS (SELECT id FROM \"case\" WHERE status IN ('PENDING','ASSIGNED','IN_PROGRESS','SUBMITTED') \
           AND parked_at IS NULL AND accepted_at IS NULL AND due_at <= now() \
           ORDER BY due_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED), \
         raised AS (UPDATE \"case\" c SET escalation_level = escalation_level + 1, version = version + 1 \
           FROM due WHERE c.id = due.id RETURNING c.id, c.version) \
         INSERT INTO case_event (case_id, seq, actor_role, action, from_status, to_status, data, created_at) \
           SELECT id, version, 'SYSTEM', 'ESCALATE', 'PENDING', 'PENDING', '{}', now() FROM raised",
    ))
    .await
    .unwrap();
    txn.rollback().await.unwrap();
    t.elapsed()
}
