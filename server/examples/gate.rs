//! The instruction-count regression gate's workload (run through `scripts/gate.sh` under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='gate::measured_*'`).
//! Not a test: it sets up, warms up, then runs one hot path many times inside a
//! function named `measured_…`, so the count covers that path only — not start-up,
//! migrations, seeding or warm-up. Collection is per thread: the runtime is
//! single-threaded, so every task of a request is counted, and SQLite's own worker
//! thread (the database engine, not our code) is not.
//!
//!     gate <path> [iterations]      path: locate | token | sla | graphql | cases
//!
//! - `locate`: 2,000 points over the seeded county through `GridSnapshot::locate`;
//! - `token`: verifying access tokens the server has not seen yet (HS256, claims, clock
//!   checks; a token seen before is a lookup);
//! - `sla`: working-time deadlines and durations across holidays and make-up days;
//! - `graphql`: an inspector's `myTasks(first: 20)` with category, region and deadline
//!   (bench P1's question) through the real router — JWT, viewer, limits, schema,
//!   loaders — on a warm SQLite database holding 200 of that inspector's cases;
//! - `cases`: the township supervisor's `cases(first: 100)` with category, region,
//!   assignee and last event (bench P2's question) on the same data.
//!
//! Counts are deterministic up to hash seeds (well under 1%), so a +5% change is a
//! real change. Outside valgrind the program simply runs the workload.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;

use axum::body::Body;
use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::case;
use entity::enums::{CaseSource, CaseStatus, LimitUnit, Priority};
use gridwatch::app::{self, BuildOptions};
use gridwatch::auth::token::{Subject, TokenKeys};
use gridwatch::config::Config;
use gridwatch::domain::geo::{CoordSystem, WgsPoint};
use gridwatch::domain::grid::GridSnapshot;
use gridwatch::domain::sla::{WorkCalendar, WorkingHours};
use http_body_util::BodyExt;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tower::Service;

/// A fixed pseudo-random sequence (SplitMix64), so every run asks the same questions.
struct Seq(u64);

impl Seq {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_default();
    let iterations: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    match path.as_str() {
        "locate" => locate(iterations.max(1) * 2_000).await,
        "token" => token(iterations.max(1) * 200).await,
        "sla" => sla(iterations.max(1) * 500),
        "graphql" => graphql(P1, "demo-insp-140521100201", iterations.max(1) * 20).await,
        "cases" => graphql(P2, "demo-sup-140521100", iterations.max(1) * 5).await,
        _ => {
            eprintln!("usage: gate locate|token|sla|graphql|cases [iterations]");
            std::process::exit(2);
        }
    }
}

async fn built() -> (app::App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}?mode=rwc", dir.path().join("gate.db").display());
    config.jobs.enabled = false;
    config.storage.fs_root = dir.path().join("evidence");
    config.log.filter = "off".into();
    config.limits.login_per_ip_per_minute = 1_000_000;
    let app = app::build(
        config,
        BuildOptions {
            demo: true,
            clock: gridwatch::domain::Clock::adjustable(),
        },
    )
    .await
    .unwrap();
    (app, dir)
}

async fn locate(n: usize) {
    let (app, _dir) = built().await;
    let snap = app.state.services.grid.snapshot();
    // The seeded county spans roughly 35.5–35.95 N, 111.95–112.6 E; a margin around it
    // puts some points outside every grid.
    let mut seq = Seq(7);
    let points: Vec<WgsPoint> = (0..n)
        .map(|_| {
            let lat = 35.45 + seq.next_f64() * 0.55;
            let lng = 111.9 + seq.next_f64() * 0.75;
            WgsPoint::from_client(lat, lng, CoordSystem::Wgs84).unwrap()
        })
        .collect();
    let warm = points.iter().filter(|p| snap.locate(**p).is_some()).count();
    let found = measured_locate(&snap, &points);
    assert_eq!(found, warm);
    println!("locate: {n} points, {found} inside a grid");
}

#[inline(never)]
fn measured_locate(snap: &GridSnapshot, points: &[WgsPoint]) -> usize {
    let mut found = 0usize;
    for p in points {
        found += usize::from(black_box(snap.locate(black_box(*p))).is_some());
    }
    found
}

async fn token(n: usize) {
    let (app, _dir) = built().await;
    let keys = &app.state.services.keys;
    let now = app.state.services.clock.now();
    let (warm, _) = keys.issue(Subject::User(42), now).unwrap();
    keys.verify(&warm, now).unwrap();
    // Each token is new to the keys: a token seen before is only looked up, and the
    // check itself is what this path holds.
    let tokens: Vec<String> = (0..n)
        .map(|i| keys.issue(Subject::User(1_000 + i as i64), now).unwrap().0)
        .collect();
    let ok = measured_token(keys, &tokens, now);
    assert_eq!(ok, n);
    println!("token: {n} verifications");
}

#[inline(never)]
fn measured_token(keys: &TokenKeys, tokens: &[String], now: DateTime<Utc>) -> usize {
    let mut ok = 0usize;
    for token in tokens {
        ok += usize::from(black_box(keys.verify(black_box(token), now)).is_ok());
    }
    ok
}

fn sla(n: usize) {
    let calendar = WorkCalendar::new(
        seeds::calendar()
            .unwrap()
            .into_iter()
            .map(|d| (d.date, d.workday)),
        WorkingHours::default(),
    );
    let start = Utc.with_ymd_and_hms(2026, 9, 20, 1, 0, 0).unwrap();
    let mut seq = Seq(11);
    let inputs: Vec<_> = (0..n)
        .map(|_| {
            let from = start + Duration::minutes((seq.next_f64() * 60.0 * 24.0 * 40.0) as i64);
            let amount = 1 + (seq.next_f64() * 72.0) as i32;
            let unit = if amount % 4 == 0 {
                LimitUnit::WorkingDays
            } else {
                LimitUnit::WorkingHours
            };
            (from, amount % 10 + 1, unit)
        })
        .collect();
    let total = measured_sla(&calendar, &inputs);
    assert!(total > 0);
    println!("sla: {n} deadlines and durations");
}

#[inline(never)]
fn measured_sla(calendar: &WorkCalendar, inputs: &[(DateTime<Utc>, i32, LimitUnit)]) -> i64 {
    let mut total = 0i64;
    for (from, amount, unit) in inputs {
        let due = calendar.add(black_box(*from), *amount, *unit);
        total += calendar.working_duration(*from, due).num_seconds();
    }
    total
}

const P1: &str = "{ myTasks(first: 20) { edges { node { id number status dueAt remainingSeconds overdue category { code name } region { code name } } } } }";
const P2: &str = "{ cases(first: 100) { edges { node { id number status dueAt category { code name } region { code name } assignee { username name } lastEvent { seq action createdAt } } } } }";

async fn graphql(query: &str, username: &str, n: usize) {
    let (app, _dir) = built().await;
    let db = &app.state.services.db;
    let inspector = user(db, "demo-insp-140521100201").await;
    let viewer = user(db, username).await;
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
    let now = app.state.services.clock.now();
    let rows: Vec<case::ActiveModel> = (0..200)
        .map(|i| case::ActiveModel {
            number: Set(format!("GATE{i:07}")),
            source: Set(CaseSource::Task),
            category_id: Set(category.id),
            title: Set(format!("扬尘 {i}")),
            description: Set("门禁数据".into()),
            status: Set(if i % 3 == 0 {
                CaseStatus::InProgress
            } else {
                CaseStatus::Assigned
            }),
            priority: Set(Priority::Normal),
            region_id: Set(village.id),
            region_path: Set(village.path.clone()),
            lat: Set(35.7),
            lng: Set(112.3),
            outside_grid: Set(false),
            assignee_id: Set(Some(inspector.id)),
            rework_count: Set(0),
            escalation_level: Set(0),
            version: Set(1),
            accepted_at: Set(Some(now - Duration::hours(30))),
            due_at: Set(Some(now + Duration::hours(i64::from(i % 72) - 10))),
            parked_seconds: Set(0),
            extended_count: Set(0),
            checkin_far: Set(false),
            created_at: Set(now - Duration::hours(40)),
            updated_at: Set(now - Duration::hours(40)),
            ..Default::default()
        })
        .collect();
    case::Entity::insert_many(rows).exec(db).await.unwrap();
    let (token, _) = app
        .state
        .services
        .keys
        .issue(Subject::User(viewer.id), now)
        .unwrap();
    let body = serde_json::json!({ "query": query }).to_string();
    let rows = if query == P1 { 20 } else { 100 };
    let mut router = app.router.clone();
    // Warm: statement caches, loaders' first use, the schema's lazily built parts.
    for _ in 0..5 {
        let out = ask(&mut router, &body, &token).await;
        let text = std::str::from_utf8(&out).unwrap();
        assert!(!text.contains("\"errors\""), "{text}");
        assert_eq!(text.matches("\"number\"").count(), rows, "{text}");
    }
    let bytes = measured_graphql(&mut router, &body, &token, n).await;
    println!("graphql: {n} requests, {bytes} bytes answered");
}

async fn user(db: &sea_orm::DatabaseConnection, username: &str) -> entity::app_user::Model {
    entity::app_user::Entity::find()
        .filter(entity::app_user::Column::Username.eq(username))
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

#[inline(never)]
async fn measured_graphql(router: &mut axum::Router, body: &str, token: &str, n: usize) -> usize {
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += ask(router, body, token).await.len();
    }
    bytes
}

async fn ask(router: &mut axum::Router, body: &str, token: &str) -> bytes::Bytes {
    let mut req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_owned()))
        .unwrap();
    // What `into_make_service_with_connect_info` adds for a real connection.
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    let res = router.call(req).await.unwrap();
    let status = res.status();
    let out = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    out
}
