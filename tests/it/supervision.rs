//! Supervision that runs by itself (issue 10): the deadline sweeper warns before a
//! deadline and escalates after it, once each, on the work calendar — moved by the
//! clock, never by sleeping — and two real server processes sweeping one PostgreSQL
//! escalate every overdue case exactly once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::enums::{CaseSource, CaseStatus, Priority};
use entity::{case, case_event, notification, sla_mark};
use gridwatch::domain::supervision::sweep::{SweepReport, sweep};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::both;
use crate::helpers::cases::{act, public_login, submit_tip, user_id, village_centre};
use crate::helpers::server::ServerProcess;
use crate::helpers::{Backend, FreshDb, TestApp};

const VILLAGE: &str = "140521100001";
const TOWNSHIP_SUP: &str = "demo-sup-140521100";

async fn row(app: &TestApp, id: i64) -> case::Model {
    case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn notes_of(app: &TestApp, user: i64, kind: &str) -> Vec<notification::Model> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::Kind.eq(kind))
        .order_by_asc(notification::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

async fn sweep_at(app: &TestApp, t: DateTime<Utc>) -> SweepReport {
    app.set_now(t);
    sweep(&app.state.services).await.unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A 畜禽养殖粪污 tip-off on the eve of the National Day holiday (Wednesday
/// 30 September 2026, 16:00 in Qinshui): eight working hours to accept it run through
/// the holiday to Thursday 8 October; then three working days to be on site and fifteen
/// to handle it.
async fn deadlines_across_a_holiday(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(at("2026-09-30T16:00:00+08:00"));
    let tipster = public_login(&app, "o-sla-holiday").await;
    let (lat, lng) = village_centre(&app, VILLAGE);
    let b = submit_tip(
        &app,
        &tipster,
        "LIVESTOCK_WASTE",
        lat,
        lng,
        "WGS84",
        "sla-holiday-1",
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let id = case::Entity::find()
        .filter(
            case::Column::TrackingCode.eq(b["data"]["submitTip"]["trackingCode"].as_str().unwrap()),
        )
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let c = row(&app, id).await;
    assert_eq!(c.status, CaseStatus::Pending);
    let due = c.due_at.unwrap();
    // Eight working hours end at the close of Thursday 8 October (the calendar gives the
    // same instant of working time as the next opening, Friday 08:30).
    assert!(
        due >= at("2026-10-08T17:30:00+08:00") && due <= at("2026-10-09T08:31:00+08:00"),
        "8 working hours across the holiday: {due}"
    );
    let warn = c.warn_at.unwrap();
    assert!(
        warn > at("2026-10-06T00:00:00+08:00") && warn < due,
        "{warn}"
    );

    let sup = user_id(&app, TOWNSHIP_SUP).await;
    // Nothing before the warning time; one warning after it, once.
    assert_eq!(
        sweep_at(&app, warn - chrono::Duration::minutes(1)).await,
        SweepReport {
            batches: 6,
            ..Default::default()
        }
    );
    let r = sweep_at(&app, warn + chrono::Duration::minutes(1)).await;
    assert_eq!((r.warned, r.escalated), (1, 0), "{r:?}");
    assert_eq!(
        sweep_at(&app, warn + chrono::Duration::minutes(5))
            .await
            .warned,
        0
    );
    assert_eq!(notes_of(&app, sup, "SLA_WARNING").await.len(), 1);
    // Not yet at the deadline itself; one escalation to the township just after it.
    assert_eq!(sweep_at(&app, due).await.escalated, 0);
    let r = sweep_at(&app, due + chrono::Duration::minutes(1)).await;
    assert_eq!(r.escalated, 1, "{r:?}");
    assert_eq!(
        sweep_at(&app, due + chrono::Duration::hours(3))
            .await
            .escalated,
        0,
        "once"
    );
    let c = row(&app, id).await;
    assert_eq!((c.escalation_level, c.version), (1, 2));
    let events = case_event::Entity::find()
        .filter(case_event::Column::CaseId.eq(id))
        .order_by_asc(case_event::Column::Seq)
        .all(&app.db)
        .await
        .unwrap();
    let e = events.last().unwrap();
    assert_eq!(
        (e.action.as_str(), e.actor_role.as_str(), e.seq),
        ("ESCALATE", "SYSTEM", 2)
    );
    assert_eq!(e.data.as_ref().unwrap()["deadline"], "ACCEPT");
    let escalated = notes_of(&app, sup, "ESCALATED").await;
    assert_eq!(escalated.len(), 1);
    assert!(
        escalated[0].title.contains("受理"),
        "{}",
        escalated[0].title
    );

    // The supervisor files and dispatches it on Friday 9 October: the on-site deadline
    // is three working days later — Saturday 10 October is a make-up working day.
    let filed_at = at("2026-10-09T09:00:00+08:00");
    app.set_now(filed_at);
    let (sup_token, _) = app.login(TOWNSHIP_SUP).await;
    let insp = user_id(&app, "demo-insp-140521100001").await;
    let b = act(
        &app,
        &sup_token,
        "assignCase",
        &json!(id.to_string()),
        &json!(c.version),
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": insp.to_string() }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let c = row(&app, id).await;
    let onsite = c.onsite_due_at.unwrap();
    assert_eq!(
        onsite,
        at("2026-10-13T17:30:00+08:00"),
        "three working days: Sat 10 (make-up day), Mon 12, Tue 13"
    );
    let handle_due = c.due_at.unwrap();
    assert!(handle_due > onsite);
    // The inspector never goes: the case goes to the county once the on-site deadline
    // passes, and the inspector is told.
    let r = sweep_at(&app, onsite + chrono::Duration::minutes(1)).await;
    assert_eq!(r.escalated, 1, "{r:?}");
    let c = row(&app, id).await;
    assert_eq!(c.escalation_level, 2);
    assert_eq!(notes_of(&app, insp, "ESCALATED").await.len(), 1);
    let county = user_id(&app, "demo-admin").await;
    assert_eq!(
        notes_of(&app, county, "ESCALATED").await.len(),
        1,
        "the new tier is told"
    );
    // Past the handling deadline at the top tier: told, not raised again.
    let r = sweep_at(&app, handle_due + chrono::Duration::minutes(1)).await;
    assert_eq!((r.escalated, r.missed_at_top), (0, 1), "{r:?}");
    assert_eq!(row(&app, id).await.escalation_level, 2);
    // An extension is a new deadline: warned and missed again, once.
    let (sup_token, _) = app.login(TOWNSHIP_SUP).await;
    let c = row(&app, id).await;
    let until = app.now() + chrono::Duration::days(2);
    let b = act(
        &app,
        &sup_token,
        "extendCase",
        &json!(id.to_string()),
        &json!(c.version),
        ", until: $until, reason: $reason",
        json!({ "until": until.to_rfc3339(), "reason": "需协调环保部门检测" }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let r = sweep_at(&app, until + chrono::Duration::minutes(1)).await;
    assert_eq!(r.missed_at_top, 1, "{r:?}");
    assert_eq!(
        sweep_at(&app, until + chrono::Duration::hours(1))
            .await
            .missed_at_top,
        0
    );
    let marks = sla_mark::Entity::find()
        .filter(sla_mark::Column::CaseId.eq(id))
        .count(&app.db)
        .await
        .unwrap();
    assert!(marks >= 5, "{marks} marks");
}
both!(holiday_deadlines, deadlines_across_a_holiday);

/// A parked case's clock stands still: nothing happens to it; resumed, its deadline has
/// moved on by the parked time and the sweeper acts on the new one.
async fn parked_cases_are_skipped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(at("2026-11-02T09:00:00+08:00"));
    let (sup, _) = app.login(TOWNSHIP_SUP).await;
    let village = app.region_id(VILLAGE).to_string();
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id version dueAt } }",
            json!({ "i": { "categoryCode": "FIREWORKS", "title": "禁放区燃放", "description": "核查燃放烟花", "regionId": village } }),
        )
        .await;
    let id: i64 = b["data"]["createTask"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let due = row(&app, id).await.due_at.unwrap();
    let b = act(
        &app,
        &sup,
        "parkCase",
        &json!(id.to_string()),
        &json!(1),
        ", reason: $reason",
        json!({ "reason": "等待公安协查" }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let r = sweep_at(&app, due + chrono::Duration::hours(5)).await;
    assert_eq!((r.warned, r.escalated), (0, 0), "parked: {r:?}");
    let (sup, _) = app.login(TOWNSHIP_SUP).await;
    let b = act(
        &app,
        &sup,
        "resumeCase",
        &json!(id.to_string()),
        &json!(2),
        "",
        json!({}),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let c = row(&app, id).await;
    let new_due = c.due_at.unwrap();
    assert!(
        new_due > due + chrono::Duration::hours(4),
        "{due} → {new_due}"
    );
    // Both the on-site and the handling deadline have passed by then: two tiers up.
    assert_eq!(
        sweep_at(&app, new_due + chrono::Duration::minutes(1))
            .await
            .escalated,
        2
    );
    assert_eq!(row(&app, id).await.escalation_level, 2);
}
both!(parked_skipped, parked_cases_are_skipped);

/// Overdue cases written straight into the database (fast), `n` of them.
async fn overdue_cases(
    db: &sea_orm::DatabaseConnection,
    region: (i64, String),
    category: i64,
    n: usize,
    now: DateTime<Utc>,
) {
    let rows: Vec<case::ActiveModel> = (0..n)
        .map(|i| case::ActiveModel {
            number: Set(format!("OVERDUE{i:06}")),
            source: Set(CaseSource::Task),
            category_id: Set(category),
            title: Set(format!("逾期 {i}")),
            description: Set("逾期未受理".into()),
            status: Set(CaseStatus::Pending),
            priority: Set(Priority::Normal),
            region_id: Set(region.0),
            region_path: Set(region.1.clone()),
            lat: Set(35.7),
            lng: Set(112.3),
            outside_grid: Set(false),
            rework_count: Set(0),
            escalation_level: Set(0),
            version: Set(1),
            due_at: Set(Some(now - chrono::Duration::hours(2))),
            parked_seconds: Set(0),
            extended_count: Set(0),
            checkin_far: Set(false),
            created_at: Set(now - chrono::Duration::hours(10)),
            updated_at: Set(now - chrono::Duration::hours(10)),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(100) {
        case::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
}

/// Two `gridwatch serve` processes sweep one PostgreSQL every second: 200 overdue
/// cases are each escalated exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_escalate_each_case_once() {
    let fresh = FreshDb::seeded(Backend::Postgres).await;
    let db = fresh.connect().await;
    let village = entity::region::Entity::find()
        .filter(entity::region::Column::Code.eq(VILLAGE))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let category = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("DUST"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    overdue_cases(
        &db,
        (village.id, village.path.clone()),
        category.id,
        200,
        Utc::now(),
    )
    .await;
    let env = [
        ("GRIDWATCH__JOBS__SLA_SWEEP_SECS", "1"),
        ("GRIDWATCH__JOBS__ENABLED", "true"),
    ];
    let a = ServerProcess::start(&fresh, &env).await;
    let b = ServerProcess::start(&fresh, &env).await;
    let mut done = 0;
    for _ in 0..100 {
        done = case::Entity::find()
            .filter(case::Column::EscalationLevel.gt(0))
            .count(&db)
            .await
            .unwrap();
        if done == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(done, 200, "every overdue case escalated");
    // A few more passes of both processes change nothing.
    crate::helpers::wait_for_job_passes(&db, "sla_sweep", 3, Duration::from_secs(30)).await;
    drop((a, b));
    let events = case_event::Entity::find()
        .filter(case_event::Column::Action.eq("ESCALATE"))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(events, 200, "one escalation event per case");
    let twice = case::Entity::find()
        .filter(case::Column::EscalationLevel.gt(1))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(twice, 0, "no case escalated twice");
    let marks = sla_mark::Entity::find().count(&db).await.unwrap();
    assert_eq!(marks, 200);
    let runs = entity::job_run::Entity::find_by_id("sla_sweep".to_owned())
        .one(&db)
        .await
        .unwrap()
        .expect("the sweeper recorded its runs");
    assert!(runs.last_ok, "{runs:?}");
}

/// A pass over many open cases costs a fixed number of statements per batch, not per
/// case.
async fn a_pass_costs_statements_per_batch(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let village = app
        .state
        .services
        .grid
        .snapshot()
        .by_code(VILLAGE)
        .unwrap()
        .clone();
    let category = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("DUST"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    overdue_cases(
        &app.db,
        (village.id, village.path.clone()),
        category.id,
        450,
        app.now(),
    )
    .await;
    let counter = &app.state.sql_statements;
    let before = counter.load(std::sync::atomic::Ordering::Relaxed);
    let r = sweep(&app.state.services).await.unwrap();
    let used = counter.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(r.escalated, 450);
    // 3 batches of escalations (200 + 200 + 50) and one empty batch for each other
    // (step, kind): rules and staff once, then per batch the claim, the raise, events,
    // marks, notifications, begin and commit.
    println!(
        "sweep of 450 overdue cases: {used} statements, {} batches",
        r.batches
    );
    assert!(
        used <= 2 + r.batches * 8,
        "{used} statements for {} batches",
        r.batches
    );
    assert!(r.batches <= 8, "{r:?}");
}
both!(statements_per_batch, a_pass_costs_statements_per_batch);
