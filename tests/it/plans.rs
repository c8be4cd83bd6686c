//! Query plans at scale (issue 14, P6): with 100,000 cases on PostgreSQL, every
//! statement the case lists run must reach the case table through an index. The
//! statements are the very ones the domain issues (captured from a connection that
//! records what it runs), explained with their bound values.

use std::sync::{Arc, Mutex};

use gridwatch::domain::cases::{self, CaseColumns, CaseFilter, CaseStatus};
use gridwatch::domain::page::PageRequest;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, Statement,
};

use crate::helpers::{Backend, TestApp};

const CASES: u32 = 100_000;

/// The county's cases: spread over every village, 30 % open, one in fifty assigned to
/// the demo inspector, one event each, a team of two on one in ten (and the demo
/// inspector on the team of one in a hundred) — one statement per table, then `ANALYZE`.
async fn load_cases(db: &DatabaseConnection) {
    db.execute_unprepared(&format!(
        r#"
WITH v AS (SELECT array_agg(id ORDER BY id) AS ids, array_agg(path ORDER BY id) AS paths
           FROM region WHERE level = 'VILLAGE'),
     insp AS (SELECT id FROM app_user WHERE username = 'demo-insp-140521100201'),
     cat AS (SELECT id FROM category WHERE code = 'DUST')
INSERT INTO "case" (number, source, category_id, title, description, status, priority, region_id,
  region_path, lat, lng, outside_grid, assignee_id, rework_count, escalation_level, version,
  accepted_at, due_at, parked_seconds, extended_count, checkin_far, created_at, updated_at)
SELECT 'P' || lpad(g::text, 12, '0'), 'TASK', cat.id, '工地扬尘 ' || g, '计划测试案件 ' || g,
  CASE WHEN g % 10 < 2 THEN 'ASSIGNED' WHEN g % 10 < 3 THEN 'IN_PROGRESS' ELSE 'CLOSED' END,
  'NORMAL', v.ids[1 + g % array_length(v.ids, 1)], v.paths[1 + g % array_length(v.ids, 1)],
  35.69, 112.27, false, CASE WHEN g % 50 = 0 THEN insp.id ELSE NULL END, 0, 0, 1,
  now() - interval '2 days', now() + (g % 72) * interval '1 hour', 0, 0, false,
  now() - (g % 1000) * interval '1 minute', now()
FROM generate_series(1, {CASES}) g, v, insp, cat;
INSERT INTO case_event (case_id, seq, actor_role, action, to_status, created_at)
SELECT id, 1, 'SYSTEM', 'CREATE_TASK', status, created_at FROM "case" WHERE number LIKE 'P%';
WITH i AS (SELECT array_agg(id ORDER BY id) AS ids FROM app_user WHERE role = 'INSPECTOR')
INSERT INTO case_team (case_id, user_id, role, created_at)
SELECT c.id, i.ids[1 + (c.id / 10 + k) % array_length(i.ids, 1)],
  CASE WHEN k = 0 THEN 'LEAD' ELSE 'MEMBER' END, now()
FROM "case" c, i, generate_series(0, 1) k WHERE c.number LIKE 'P%' AND c.id % 10 = 5;
INSERT INTO case_team (case_id, user_id, role, created_at)
SELECT c.id, u.id, 'MEMBER', now() FROM "case" c, app_user u
WHERE c.number LIKE 'P%' AND c.id % 100 = 7 AND u.username = 'demo-insp-140521100201';
ANALYZE;
"#
    ))
    .await
    .unwrap();
}

/// A connection to the same database that keeps every statement it runs.
async fn recording(url: &str) -> (DatabaseConnection, Arc<Mutex<Vec<Statement>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut db = Database::connect(url).await.unwrap();
    let sink = Arc::clone(&seen);
    db.set_metric_callback(move |info| sink.lock().unwrap().push(info.statement.clone()));
    (db, seen)
}

/// The viewer of a demo account.
async fn staff(app: &TestApp, username: &str) -> gridwatch::domain::access::Viewer {
    let user = entity::app_user::Entity::find()
        .filter(entity::app_user::Column::Username.eq(username))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    gridwatch::domain::access::staff_viewer(&user, &app.state.services.grid.snapshot()).unwrap()
}

/// `EXPLAIN` of a captured statement, with its values bound as the server binds them.
async fn plan(db: &DatabaseConnection, st: &Statement) -> String {
    let explain = Statement {
        sql: format!("EXPLAIN {}", st.sql),
        ..st.clone()
    };
    db.query_all_raw(explain)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_list_plans_use_indexes_at_100k_postgres() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let started = std::time::Instant::now();
    load_cases(&app.db).await;
    let loaded = started.elapsed();

    let (rec, seen) = recording(&app.fresh.url).await;
    let mut svc = app.state.services.clone();
    svc.db = rec.clone();
    let inspector = staff(&app, "demo-insp-140521100201").await;
    let supervisor = staff(&app, "demo-sup-140521100").await;
    let admin = staff(&app, "demo-admin").await;
    let open = || CaseFilter {
        status: vec![CaseStatus::Assigned, CaseStatus::InProgress],
        ..Default::default()
    };

    // What the lists run, page by page (relations: the last events of each page).
    let mut pages: Vec<(&str, Vec<i64>)> = Vec::new();
    let first = |n| PageRequest::new(Some(n), None, 100).unwrap();
    // A page narrowed to what P2's query reads (the plan must not change with it).
    let narrow = CaseColumns::of(&[
        entity::case::Column::Id,
        entity::case::Column::Number,
        entity::case::Column::Status,
        entity::case::Column::DueAt,
        entity::case::Column::CategoryId,
        entity::case::Column::RegionId,
        entity::case::Column::AssigneeId,
    ]);
    let tasks = cases::my_tasks(&rec, &inspector, first(20), CaseColumns::ALL)
        .await
        .unwrap();
    pages.push((
        "inspector myTasks",
        tasks.items.iter().map(|c| c.id).collect(),
    ));
    for (who, viewer) in [
        ("inspector", &inspector),
        ("supervisor", &supervisor),
        ("county admin", &admin),
    ] {
        let page = cases::list(&svc, viewer, CaseFilter::default(), first(100), narrow)
            .await
            .unwrap();
        let ids: Vec<i64> = page.items.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 100, "{who}: a full page at 100,000 cases");
        // The next page, by cursor, and the open cases only.
        let after = PageRequest::new(Some(100), ids.last().copied(), 100).unwrap();
        cases::list(&svc, viewer, CaseFilter::default(), after, CaseColumns::ALL)
            .await
            .unwrap();
        cases::list(&svc, viewer, open(), first(100), CaseColumns::ALL)
            .await
            .unwrap();
        pages.push((who, ids));
    }
    assert!(
        !pages[0].1.is_empty(),
        "the inspector has tasks in the dataset"
    );
    for (_, ids) in &pages {
        cases::last_events(&rec, ids).await.unwrap();
    }

    let statements = seen.lock().unwrap().clone();
    assert!(
        statements.len() >= 14,
        "captured {} statements",
        statements.len()
    );
    // myTasks reaches its rows from the inspector's side: both halves of "assigned to
    // me or on my team" by their own index, never by walking the case table's primary
    // key backwards and probing each case (what "assignee = me OR EXISTS team" did: 60
    // ms a page at a million cases). The assigned half walks the open tasks only
    // (`idx_case_open_tasks`), not the inspector's closed history (70 % here).
    let tasks_plan = plan(&app.db, &statements[0]).await;
    assert!(
        statements[0].sql.contains("case_team")
            && tasks_plan.contains("idx_case_team_user")
            && tasks_plan.contains("idx_case_open_tasks")
            && !tasks_plan.contains("Backward using case_pkey"),
        "myTasks must start from the assignee and team indexes:\n{}\n{tasks_plan}",
        statements[0].sql
    );
    let mut bad = Vec::new();
    for st in &statements {
        assert_eq!(st.db_backend, DbBackend::Postgres);
        let p = plan(&app.db, st).await;
        println!("{}\n{p}\n", st.sql);
        if p.contains(r#"Seq Scan on "case""#)
            || p.contains("Seq Scan on case_event")
            || p.contains("Seq Scan on case_team")
        {
            bad.push(format!("{}\n{p}", st.sql));
        }
    }
    assert!(
        bad.is_empty(),
        "sequential scans at {CASES} cases:\n\n{}",
        bad.join("\n\n")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the plan test took {:?} (loading {loaded:?}); keep it under 30 s",
        started.elapsed()
    );
}

/// `stats` of a period away from the bulk of the cases (a month a year back, while the
/// 100,000 cases are of the last day): each statement that counts the period must reach
/// the case table through the period's own timestamps, so that this year's figures do
/// not slow down as the years before it pile up. The "now" counters (open cases,
/// whatever the period) are exempt: the open cases are their own answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_plans_use_indexes_at_100k_postgres() {
    use gridwatch::domain::stats::{self, GroupBy, Period};
    let app = TestApp::spawn(Backend::Postgres).await;
    load_cases(&app.db).await;
    let (rec, seen) = recording(&app.fresh.url).await;
    let mut svc = app.state.services.clone();
    svc.db = rec.clone();
    let month = (app.now() - chrono::Duration::days(400))
        .format("%Y-%m")
        .to_string();
    let period = Period::month(&month).unwrap();
    let county = app.state.services.grid.snapshot().roots()[0].id;
    for (who, group_by) in [
        ("demo-admin", GroupBy::Region),
        ("demo-admin", GroupBy::Day),
        ("demo-insp-140521100201", GroupBy::Category),
    ] {
        let viewer = staff(&app, who).await;
        let region = match who {
            "demo-admin" => county,
            _ => viewer.staff().unwrap().region_id,
        };
        stats::compute(&svc, &viewer, region, period, group_by)
            .await
            .unwrap();
    }
    let statements = seen.lock().unwrap().clone();
    let mut bad = Vec::new();
    let mut counted = 0;
    for st in &statements {
        if !st.sql.contains(r#""case""#) || st.sql.contains("parked_at IS NOT NULL") {
            continue;
        }
        counted += 1;
        let p = plan(&app.db, st).await;
        // A scan of the case table or one of its indexes that costs as much as a walk of
        // a tenth of it: the whole table, or a whole index read for a column it does not
        // lead with (what the planner fell back to before `idx_case_created_at` and
        // `idx_case_due_at`: 1,690–5,044 here, against 4–22 with them).
        let worst = p
            .lines()
            .filter(|l| l.contains("Scan") && (l.contains(r#""case""#) || l.contains("idx_case_")))
            .filter_map(|l| {
                let cost = l.split("cost=").nth(1)?.split("..").nth(1)?;
                cost.split_whitespace().next()?.parse::<f64>().ok()
            })
            .fold(0.0, f64::max);
        println!("{worst:>9.1}  {}", &st.sql[..st.sql.len().min(100)]);
        if worst > 500.0 || p.contains("Seq Scan on case_event") {
            bad.push(format!("{}\n{p}", st.sql));
        }
    }
    assert!(counted >= 12, "{counted} period statements captured");
    assert!(
        bad.is_empty(),
        "sequential scans for a period of few cases among {CASES}:\n\n{}",
        bad.join("\n\n")
    );
}
