//! Patrols (巡查): plans and `myPatrolPlan`, patrols uploaded in batches (shuffled,
//! replayed, late, offline), implausible data flagged, compact tracks in a bounded
//! number of statements, cases linked to patrols, coverage against a hand count, and
//! scope (inspectors their own, supervisors their township).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use entity::{patrol, patrol_case, patrol_plan, patrol_track_batch};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{user_id, village_centre};
use crate::helpers::{Backend, TestApp, error_code};

const OWN: &str = "140521100201";
const SIBLING: &str = "140521100202";
const INSP: &str = "demo-insp-140521100201";
const INSP_SIBLING: &str = "demo-insp-140521100202";
const SUP: &str = "demo-sup-140521100";
const SUP_OTHER: &str = "demo-sup-140521101";

const PATROL_FIELDS: &str =
    "id date pointCount distanceM flags firstPointAt lastPointAt startedAt endedAt casesReported";

/// `t` to the millisecond, the precision tracks keep.
fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

fn detail(b: &Value) -> &str {
    b["errors"][0]["extensions"]["detail"]
        .as_str()
        .unwrap_or("")
}

fn field(b: &Value) -> &str {
    b["errors"][0]["extensions"]["field"].as_str().unwrap_or("")
}

fn ok<'a>(b: &'a Value, name: &str) -> &'a Value {
    assert!(b.get("errors").is_none(), "{name}: {b}");
    &b["data"][name]
}

/// A plan row written straight to the database (for probes).
pub async fn seed_plan(app: &TestApp, inspector_id: i64, village: &str) -> i64 {
    let r = app
        .state
        .services
        .grid
        .snapshot()
        .by_code(village)
        .unwrap()
        .clone();
    let now = app.now();
    patrol_plan::ActiveModel {
        inspector_id: Set(inspector_id),
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        name: Set("测试日巡".into()),
        frequency: Set(patrol_plan::PatrolFrequency::Daily),
        times_per_month: Set(1),
        weekday: Set(None),
        window_start_min: Set(8 * 60),
        window_end_min: Set(12 * 60),
        site_ids: Set(json!([])),
        starts_on: Set(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
        ends_on: Set(None),
        archived_at: Set(None),
        created_by: Set(inspector_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

/// An open patrol row written straight to the database (for probes).
pub async fn seed_patrol(app: &TestApp, inspector_id: i64, village: &str) -> i64 {
    let r = app
        .state
        .services
        .grid
        .snapshot()
        .by_code(village)
        .unwrap()
        .clone();
    let now = app.now();
    patrol::ActiveModel {
        inspector_id: Set(inspector_id),
        plan_id: Set(None),
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        local_date: Set(now
            .with_timezone(&gridwatch::domain::sla::SHANGHAI)
            .date_naive()),
        started_at: Set(now),
        ended_at: Set(None),
        point_count: Set(0),
        distance_m: Set(0.0),
        first_point_at: Set(None),
        last_point_at: Set(None),
        flag_speed: Set(false),
        flag_future: Set(false),
        flag_outside: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

async fn start(app: &TestApp, token: &str, input: Value) -> String {
    let b = app
        .gql(
            Some(token),
            &format!(
                "mutation($i: StartPatrolInput) {{ startPatrol(input: $i) {{ {PATROL_FIELDS} }} }}"
            ),
            json!({ "i": input }),
        )
        .await;
    ok(&b, "startPatrol")["id"].as_str().unwrap().to_owned()
}

async fn append(
    app: &TestApp,
    token: &str,
    patrol: &str,
    points: &[Value],
    key: Option<&str>,
) -> Value {
    app.gql(
        Some(token),
        &format!(
            "mutation($p: ID!, $pts: [TrackPointInput!]!, $k: String) {{ appendTrack(patrolId: $p, points: $pts, batchKey: $k) {{ {PATROL_FIELDS} }} }}"
        ),
        json!({ "p": patrol, "pts": points, "k": key }),
    )
    .await
}

async fn read_patrol(app: &TestApp, token: &str, id: &str) -> Value {
    let b = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ patrol(id: $id) {{ {PATROL_FIELDS} track {{ at lat lng accuracyM }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    ok(&b, "patrol").clone()
}

/// A walk from the grid's centre: `n` fixes three seconds apart, a few metres each.
fn walk(app: &TestApp, village: &str, n: usize, start: DateTime<Utc>) -> Vec<Value> {
    let (lat, lng) = village_centre(app, village);
    (0..n)
        .map(|i| {
            let f = i as f64;
            json!({
                "at": (start + Duration::seconds(3 * i as i64)).to_rfc3339(),
                "lat": lat + 0.00004 * f.sin() + 0.00002 * (i % 50) as f64,
                "lng": lng + 0.00003 * (i / 50) as f64,
                "accuracyM": 5.0 + (i % 7) as f64,
            })
        })
        .collect()
}

async fn shuffled_batches_equal_an_ordered_upload(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (insp, _) = app.login(INSP).await;
    let t0 = ms(app.now() - Duration::hours(3));
    let points = walk(&app, OWN, 300, t0);

    // In order, in one batch, recorded offline and uploaded afterwards.
    let a = start(&app, &insp, json!({ "startedAt": t0.to_rfc3339() })).await;
    ok(
        &append(&app, &insp, &a, &points, Some("batch-in-order")).await,
        "appendTrack",
    );
    let b = app
        .gql(
            Some(&insp),
            "mutation($p: ID!, $e: DateTime) { endPatrol(patrolId: $p, endedAt: $e) { endedAt } }",
            json!({ "p": a, "e": (t0 + Duration::minutes(20)).to_rfc3339() }),
        )
        .await;
    assert!(ok(&b, "endPatrol")["endedAt"].is_string(), "{b}");

    // The same points in three batches, each shuffled, sent last-first, one replayed,
    // and the last one arriving after the patrol ended.
    let s = start(&app, &insp, json!({ "startedAt": t0.to_rfc3339() })).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut batches: Vec<Vec<Value>> = points.chunks(100).map(<[Value]>::to_vec).collect();
    for b in &mut batches {
        b.shuffle(&mut rng);
    }
    ok(
        &append(&app, &insp, &s, &batches[2], Some("batch-three")).await,
        "appendTrack",
    );
    let after_one = append(&app, &insp, &s, &batches[0], Some("batch-one")).await;
    assert_eq!(
        ok(&after_one, "appendTrack")["pointCount"],
        200,
        "{after_one}"
    );
    // Replayed: same key, same points (reshuffled) — nothing changes.
    let mut again = batches[0].clone();
    again.reverse();
    let replay = append(&app, &insp, &s, &again, Some("batch-one")).await;
    assert_eq!(ok(&replay, "appendTrack")["pointCount"], 200, "{replay}");
    // The same key for other points is refused, naming the key.
    let reused = append(&app, &insp, &s, &batches[1], Some("batch-one")).await;
    assert_eq!(detail(&reused), "BATCH_KEY_REUSED", "{reused}");
    assert_eq!(field(&reused), "batchKey", "{reused}");
    app.gql(
        Some(&insp),
        "mutation($p: ID!) { endPatrol(patrolId: $p) { id } }",
        json!({ "p": s }),
    )
    .await;
    // Late, and without a key: keyed by its content, so a second copy is kept once.
    ok(
        &append(&app, &insp, &s, &batches[1], None).await,
        "appendTrack",
    );
    ok(
        &append(&app, &insp, &s, &batches[1], None).await,
        "appendTrack",
    );

    let ordered = read_patrol(&app, &insp, &a).await;
    let shuffled = read_patrol(&app, &insp, &s).await;
    for k in [
        "pointCount",
        "distanceM",
        "flags",
        "firstPointAt",
        "lastPointAt",
        "track",
    ] {
        assert_eq!(ordered[k], shuffled[k], "{k} differs");
    }
    assert_eq!(ordered["pointCount"], 300);
    assert_eq!(ordered["flags"], json!([]), "{ordered}");
    let d = ordered["distanceM"].as_f64().unwrap();
    assert!(d > 300.0 && d < 5_000.0, "distance {d}");
    assert_eq!(ordered["track"].as_array().unwrap().len(), 300);
    // Time order, whatever the upload order.
    let times: Vec<DateTime<Utc>> = shuffled["track"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(times[0], t0);
    // One row per distinct batch, not per point.
    let rows = patrol_track_batch::Entity::find()
        .filter(patrol_track_batch::Column::PatrolId.eq(s.parse::<i64>().unwrap()))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 3);
}
both!(shuffled_batches, shuffled_batches_equal_an_ordered_upload);

async fn implausible_data_is_flagged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (insp, _) = app.login(INSP).await;
    let (lat, lng) = village_centre(&app, OWN);
    let t0 = app.now() - Duration::hours(1);
    let pt = |secs: i64, la: f64, lo: f64| json!({ "at": (t0 + Duration::seconds(secs)).to_rfc3339(), "lat": la, "lng": lo, "accuracyM": 5.0 });
    let flags = |b: &Value| b["data"]["appendTrack"]["flags"].clone();

    // Walking pace: nothing flagged.
    let p = start(&app, &insp, json!({})).await;
    let b = append(
        &app,
        &insp,
        &p,
        &[pt(0, lat, lng), pt(60, lat + 0.0005, lng)],
        None,
    )
    .await;
    assert_eq!(flags(&b), json!([]), "{b}");
    // Two kilometres in ten seconds: 720 km/h.
    let p = start(&app, &insp, json!({})).await;
    let b = append(
        &app,
        &insp,
        &p,
        &[pt(0, lat, lng), pt(10, lat + 0.018, lng)],
        None,
    )
    .await;
    assert_eq!(flags(&b), json!(["TOO_FAST"]), "{b}");
    // A fix ten minutes in the future.
    let p = start(&app, &insp, json!({})).await;
    let future =
        json!({ "at": (app.now() + Duration::minutes(10)).to_rfc3339(), "lat": lat, "lng": lng });
    let b = append(&app, &insp, &p, &[pt(0, lat, lng), future], None).await;
    assert_eq!(flags(&b), json!(["FUTURE_TIME"]), "{b}");
    // It stays flagged when, later, that time is no longer ahead and another batch comes.
    app.advance(Duration::minutes(30));
    let (insp, _) = app.login(INSP).await;
    let b = append(&app, &insp, &p, &[pt(30, lat, lng)], None).await;
    assert_eq!(flags(&b), json!(["FUTURE_TIME"]), "{b}");
    // Thirty kilometres from the grid, reached at a plausible pace over hours.
    let p = start(
        &app,
        &insp,
        json!({ "startedAt": (t0 - Duration::hours(5)).to_rfc3339() }),
    )
    .await;
    let far =
        json!({ "at": (t0 - Duration::hours(5)).to_rfc3339(), "lat": lat + 0.27, "lng": lng });
    let b = append(&app, &insp, &p, &[far, pt(0, lat, lng)], None).await;
    assert_eq!(flags(&b), json!(["OUTSIDE_GRID"]), "{b}");
    // A check-in far away flags the patrol too; it is still recorded.
    let p = start(&app, &insp, json!({})).await;
    let b = app
        .gql(
            Some(&insp),
            "mutation($i: CheckInInput!) { checkIn(input: $i) { id nothingFound } }",
            json!({ "i": { "patrolId": p, "location": { "lat": lat - 0.3, "lng": lng }, "nothingFound": true } }),
        )
        .await;
    ok(&b, "checkIn");
    assert_eq!(
        read_patrol(&app, &insp, &p).await["flags"],
        json!(["OUTSIDE_GRID"])
    );
    // A started time in the future.
    let p = start(
        &app,
        &insp,
        json!({ "startedAt": (app.now() + Duration::hours(2)).to_rfc3339() }),
    )
    .await;
    assert_eq!(
        read_patrol(&app, &insp, &p).await["flags"],
        json!(["FUTURE_TIME"])
    );

    // Malformed input is refused, naming the point.
    let p = start(&app, &insp, json!({})).await;
    let b = append(&app, &insp, &p, &[pt(0, lat, lng), pt(3, 95.0, lng)], None).await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(field(&b), "points.1.lat", "{b}");
    let b = append(&app, &insp, &p, &[], None).await;
    assert_eq!(detail(&b), "INVALID_BATCH_SIZE", "{b}");
    let old =
        json!({ "at": (app.now() - Duration::days(40)).to_rfc3339(), "lat": lat, "lng": lng });
    let b = append(&app, &insp, &p, &[old], None).await;
    assert_eq!(field(&b), "points.0.at", "{b}");
    let b = append(&app, &insp, &p, &[pt(0, lat, lng)], Some("bad key!")).await;
    assert_eq!(field(&b), "batchKey", "{b}");
    // Something found needs a note.
    let b = app
        .gql(
            Some(&insp),
            "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }",
            json!({ "i": { "patrolId": p, "location": { "lat": lat, "lng": lng }, "nothingFound": false } }),
        )
        .await;
    assert_eq!(field(&b), "input.note", "{b}");
}
both!(flags, implausible_data_is_flagged);

async fn ten_thousand_points_in_bounded_statements(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.grid.refresh_secs = 3600).await;
    let (insp, _) = app.login(INSP).await;
    let t0 = ms(app.now() - Duration::hours(9));
    let p = start(&app, &insp, json!({ "startedAt": t0.to_rfc3339() })).await;
    let points = walk(&app, OWN, 10_000, t0);
    let mut counts = Vec::new();
    for (i, chunk) in points.chunks(5_000).rev().enumerate() {
        let before = app.state.sql_statements.load(Ordering::SeqCst);
        let b = append(&app, &insp, &p, chunk, Some(&format!("big-batch-{i}"))).await;
        counts.push(app.state.sql_statements.load(Ordering::SeqCst) - before);
        ok(&b, "appendTrack");
    }
    let before = app.state.sql_statements.load(Ordering::SeqCst);
    let back = read_patrol(&app, &insp, &p).await;
    let read = app.state.sql_statements.load(Ordering::SeqCst) - before;
    assert_eq!(back["pointCount"], 10_000);
    let track = back["track"].as_array().unwrap();
    assert_eq!(track.len(), 10_000);
    assert_eq!(
        track[0]["at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        t0
    );
    let last = &track[9_999];
    assert_eq!(
        last["at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        t0 + Duration::seconds(3 * 9_999)
    );
    for k in ["lat", "lng", "accuracyM"] {
        let (got, sent) = (
            last[k].as_f64().unwrap(),
            points[9_999][k].as_f64().unwrap(),
        );
        assert!((got - sent).abs() < 1e-6, "{k}: {got} vs {sent}");
    }
    println!("10,000 points: appends took {counts:?} statements, reading back {read}");
    assert!(counts.iter().all(|c| *c <= 12), "appends: {counts:?}");
    assert!(read <= 5, "reading back took {read} statements");
    // Stored compactly: two rows, a few bytes a point.
    let rows = patrol_track_batch::Entity::find()
        .filter(patrol_track_batch::Column::PatrolId.eq(p.parse::<i64>().unwrap()))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let bytes: usize = rows.iter().map(|r| r.data.len()).sum();
    assert!(bytes < 10_000 * 12, "{bytes} bytes for 10,000 points");
}
both!(big_track, ten_thousand_points_in_bounded_statements);

fn local_today(app: &TestApp) -> NaiveDate {
    app.now()
        .with_timezone(&gridwatch::domain::sla::SHANGHAI)
        .date_naive()
}

/// `day` at `hour`:00 Asia/Shanghai, as RFC 3339.
fn local_at(day: NaiveDate, hour: u32) -> String {
    gridwatch::domain::sla::SHANGHAI
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
        .to_rfc3339()
}

const CREATE_PLAN: &str = "mutation($i: CreatePatrolPlanInput!) { createPatrolPlan(input: $i) { id name frequency weekday windowStart windowEnd siteIds startsOn inspector { id } region { code } } }";

async fn create_plan(app: &TestApp, token: &str, input: Value) -> String {
    let b = app
        .gql(Some(token), CREATE_PLAN, json!({ "i": input }))
        .await;
    ok(&b, "createPatrolPlan")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn plans_patrols_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(SUP).await;
    let (sup_other, _) = app.login(SUP_OTHER).await;
    let (insp, _) = app.login(INSP).await;
    let (insp_sib, _) = app.login(INSP_SIBLING).await;
    let insp_id = user_id(&app, INSP).await.to_string();
    let sib_id = user_id(&app, INSP_SIBLING).await.to_string();
    let site = crate::sites::seed_site(&app, OWN).await.to_string();
    let sib_site = crate::sites::seed_site(&app, SIBLING).await.to_string();
    let today = local_today(&app);
    let plan = |who: &str, sites: Vec<&str>| {
        json!({ "inspectorId": who, "name": "秸秆禁烧日巡", "frequency": "DAILY",
            "windowStart": "08:00", "windowEnd": "10:30", "siteIds": sites,
            "startsOn": today.to_string(), "idempotencyKey": format!("plan-{who}-{}", sites.len()) })
    };
    let mine = create_plan(&app, &sup, plan(&insp_id, vec![&site])).await;
    let theirs = create_plan(&app, &sup, plan(&sib_id, vec![])).await;
    // A retry with the same key answers the same plan.
    assert_eq!(
        create_plan(&app, &sup, plan(&insp_id, vec![&site])).await,
        mine
    );

    // Rules, each naming its input.
    for (over, want_detail, want_field) in [
        (
            json!({ "siteIds": [sib_site.clone()] }),
            "SITE_OUTSIDE_GRID",
            "input.siteIds",
        ),
        (
            json!({ "frequency": "WEEKLY" }),
            "INVALID_WEEKDAY",
            "input.weekday",
        ),
        (
            json!({ "frequency": "MONTHLY", "timesPerMonth": 40 }),
            "INVALID_FREQUENCY",
            "input.timesPerMonth",
        ),
        (
            json!({ "windowEnd": "07:00" }),
            "INVALID_WINDOW",
            "input.windowEnd",
        ),
        (
            json!({ "windowStart": "8点" }),
            "INVALID_TIME",
            "input.windowStart",
        ),
        (
            json!({ "startsOn": "2026-02-30" }),
            "INVALID_DATE",
            "input.startsOn",
        ),
    ] {
        let mut i = plan(&insp_id, vec![]);
        i.as_object_mut().unwrap().remove("idempotencyKey");
        for (k, v) in over.as_object().unwrap() {
            i[k] = v.clone();
        }
        let b = app.gql(Some(&sup), CREATE_PLAN, json!({ "i": i })).await;
        assert_eq!(detail(&b), want_detail, "{over}: {b}");
        assert_eq!(field(&b), want_field, "{over}: {b}");
    }
    // Inspectors read plans, never make them; another township's supervisor cannot
    // plan for this township's inspectors.
    let b = app
        .gql(
            Some(&insp),
            CREATE_PLAN,
            json!({ "i": plan(&insp_id, vec![]) }),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let b = app
        .gql(
            Some(&sup_other),
            CREATE_PLAN,
            json!({ "i": plan(&insp_id, vec![]) }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");

    // Scope of plans: inspectors their own, supervisors their township.
    let list = "{ patrolPlans { edges { node { id } } } }";
    let ids = |b: &Value| -> Vec<String> {
        ok(b, "patrolPlans")["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&app.gql(Some(&insp), list, json!({})).await),
        vec![mine.clone()]
    );
    assert_eq!(
        ids(&app.gql(Some(&insp_sib), list, json!({})).await),
        vec![theirs.clone()]
    );
    assert_eq!(
        ids(&app.gql(Some(&sup), list, json!({})).await),
        vec![theirs.clone(), mine.clone()]
    );
    assert!(ids(&app.gql(Some(&sup_other), list, json!({})).await).is_empty());
    let one = "query($id: ID!) { patrolPlan(id: $id) { id } }";
    let b = app.gql(Some(&insp), one, json!({ "id": theirs })).await;
    assert!(ok(&b, "patrolPlan").is_null(), "{b}");
    let b = app.gql(Some(&sup_other), one, json!({ "id": mine })).await;
    assert!(ok(&b, "patrolPlan").is_null(), "{b}");
    let b = app
        .gql(
            Some(&sup_other),
            "mutation($id: ID!) { archivePatrolPlan(id: $id) { id } }",
            json!({ "id": mine }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { updatePatrolPlan(id: $id, input: { windowEnd: \"11:00\", name: \"禁烧日巡\" }) { name windowStart windowEnd siteIds } }",
            json!({ "id": mine }),
        )
        .await;
    assert_eq!(
        ok(&b, "updatePatrolPlan"),
        &json!({ "name": "禁烧日巡", "windowStart": "08:00", "windowEnd": "11:00", "siteIds": [site] })
    );

    // What is due today for the inspector, and done once a patrol for it started.
    let due = "query($d: String!) { myPatrolPlan(date: $d) { plan { id } date windowStart windowEnd done } }";
    let b = app
        .gql(Some(&insp), due, json!({ "d": today.to_string() }))
        .await;
    let entries = ok(&b, "myPatrolPlan").as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{b}");
    assert_eq!(entries[0]["plan"]["id"], json!(mine));
    assert_eq!(entries[0]["done"], false);
    let ws: DateTime<Utc> = entries[0]["windowStart"].as_str().unwrap().parse().unwrap();
    assert_eq!(ws.to_rfc3339(), local_at(today, 8));
    let yesterday = today.pred_opt().unwrap();
    let b = app
        .gql(Some(&insp), due, json!({ "d": yesterday.to_string() }))
        .await;
    assert!(
        ok(&b, "myPatrolPlan").as_array().unwrap().is_empty(),
        "before startsOn: {b}"
    );
    let b = app
        .gql(Some(&insp), due, json!({ "d": "2026/12/04" }))
        .await;
    assert_eq!(field(&b), "date", "{b}");

    // Someone else's plan cannot be patrolled.
    let b = app
        .gql(
            Some(&insp),
            "mutation($i: StartPatrolInput) { startPatrol(input: $i) { id } }",
            json!({ "i": { "planId": theirs } }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let p = start(
        &app,
        &insp,
        json!({ "planId": mine, "idempotencyKey": "patrol-start-1" }),
    )
    .await;
    assert_eq!(
        start(
            &app,
            &insp,
            json!({ "planId": mine, "idempotencyKey": "patrol-start-1" })
        )
        .await,
        p,
        "a retried start is the same patrol"
    );
    let b = app
        .gql(Some(&insp), due, json!({ "d": today.to_string() }))
        .await;
    assert_eq!(ok(&b, "myPatrolPlan")[0]["done"], true, "{b}");

    // Scope of patrols.
    let one = "query($id: ID!) { patrol(id: $id) { id } }";
    for (token, visible) in [
        (&insp, true),
        (&sup, true),
        (&insp_sib, false),
        (&sup_other, false),
    ] {
        let b = app.gql(Some(token), one, json!({ "id": p })).await;
        assert_eq!(!ok(&b, "patrol").is_null(), visible, "{b}");
    }
    let (lat, lng) = village_centre(&app, OWN);
    let pts = [json!({ "at": app.now().to_rfc3339(), "lat": lat, "lng": lng })];
    let b = append(&app, &insp_sib, &p, &pts, None).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = append(&app, &sup, &p, &pts, None).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let list = "{ patrols { edges { node { id } } } }";
    let n = |b: &Value| ok(b, "patrols")["edges"].as_array().unwrap().len();
    assert_eq!(n(&app.gql(Some(&insp), list, json!({})).await), 1);
    assert_eq!(n(&app.gql(Some(&insp_sib), list, json!({})).await), 0);
    assert_eq!(n(&app.gql(Some(&sup), list, json!({})).await), 1);
    assert_eq!(n(&app.gql(Some(&sup_other), list, json!({})).await), 0);

    // Check-ins: at a site of the grid (distance recorded), and 零报告.
    let ci = "mutation($i: CheckInInput!) { checkIn(input: $i) { id siteId nothingFound note distanceToSiteM } }";
    let b = app
        .gql(Some(&insp), ci, json!({ "i": { "patrolId": p, "siteId": site, "location": { "lat": lat, "lng": lng }, "nothingFound": true, "idempotencyKey": "checkin-0001" } }))
        .await;
    let c = ok(&b, "checkIn").clone();
    assert_eq!(c["nothingFound"], true);
    assert!(c["distanceToSiteM"].as_f64().unwrap() < 1.0, "{c}");
    let again = app
        .gql(Some(&insp), ci, json!({ "i": { "patrolId": p, "siteId": site, "location": { "lat": lat, "lng": lng }, "nothingFound": true, "idempotencyKey": "checkin-0001" } }))
        .await;
    assert_eq!(
        ok(&again, "checkIn")["id"],
        c["id"],
        "a retried check-in is the same"
    );
    let b = app
        .gql(Some(&insp), ci, json!({ "i": { "patrolId": p, "siteId": sib_site, "location": { "lat": lat, "lng": lng }, "nothingFound": true } }))
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "a site of another grid: {b}");

    // A case reported on the patrol links to it; only one's own open patrol will do.
    let report = "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }";
    let case = |key: &str, patrol: &str| json!({ "i": { "categoryCode": "DUST", "description": "巡查发现工地裸土未覆盖", "location": { "lat": lat, "lng": lng }, "idempotencyKey": key, "patrolId": patrol } });
    let b = app
        .gql(Some(&insp), report, case("patrol-case-0001", &p))
        .await;
    let case_id: i64 = ok(&b, "reportCase")["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let link = patrol_case::Entity::find_by_id(case_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.patrol_id.to_string(), p);
    let other = seed_patrol(&app, user_id(&app, INSP_SIBLING).await, SIBLING).await;
    let b = app
        .gql(
            Some(&insp),
            report,
            case("patrol-case-0002", &other.to_string()),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    app.gql(
        Some(&insp),
        "mutation($p: ID!) { endPatrol(patrolId: $p) { id } }",
        json!({ "p": p }),
    )
    .await;
    let b = app
        .gql(Some(&insp), report, case("patrol-case-0003", &p))
        .await;
    assert_eq!(detail(&b), "PATROL_ENDED", "{b}");
    assert_eq!(field(&b), "input.patrolId", "{b}");
    let back = read_patrol(&app, &sup, &p).await;
    assert_eq!(back["casesReported"], 1, "{back}");

    // Archived: no longer due, read-only.
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { archivePatrolPlan(id: $id) { archived } }",
            json!({ "id": mine }),
        )
        .await;
    assert_eq!(ok(&b, "archivePatrolPlan")["archived"], true);
    let tomorrow = today.succ_opt().unwrap();
    let b = app
        .gql(Some(&insp), due, json!({ "d": tomorrow.to_string() }))
        .await;
    assert!(ok(&b, "myPatrolPlan").as_array().unwrap().is_empty(), "{b}");
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { updatePatrolPlan(id: $id, input: { name: \"改名\" }) { id } }",
            json!({ "id": mine }),
        )
        .await;
    assert_eq!(error_code(&b), "INVALID_TRANSITION", "{b}");
}
both!(plans_and_scope, plans_patrols_and_scope);

/// An offline patrol of `day`, uploaded whole: started at 09:00 local, for `plan`.
async fn offline_patrol(
    app: &TestApp,
    token: &str,
    plan: Option<&str>,
    day: NaiveDate,
    village: &str,
) -> String {
    let t = local_at(day, 9);
    let p = start(app, token, json!({ "planId": plan, "startedAt": t })).await;
    let (lat, lng) = village_centre(app, village);
    let t: DateTime<Utc> = t.parse().unwrap();
    let pts = [
        json!({ "at": t.to_rfc3339(), "lat": lat, "lng": lng }),
        json!({ "at": (t + Duration::minutes(2)).to_rfc3339(), "lat": lat + 0.001, "lng": lng }),
    ];
    ok(&append(app, token, &p, &pts, None).await, "appendTrack");
    let b = app
        .gql(
            Some(token),
            "mutation($p: ID!, $e: DateTime) { endPatrol(patrolId: $p, endedAt: $e) { id } }",
            json!({ "p": p, "e": (t + Duration::hours(1)).to_rfc3339() }),
        )
        .await;
    ok(&b, "endPatrol");
    p
}

async fn check_in(
    app: &TestApp,
    token: &str,
    patrol: &str,
    site: Option<&str>,
    nothing: bool,
    village: &str,
) {
    let (lat, lng) = village_centre(app, village);
    let b = app
        .gql(
            Some(token),
            "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }",
            json!({ "i": { "patrolId": patrol, "siteId": site, "location": { "lat": lat, "lng": lng }, "nothingFound": nothing, "note": if nothing { Value::Null } else { json!("秸秆堆放点有焚烧痕迹") } } }),
        )
        .await;
    ok(&b, "checkIn");
}

async fn coverage_of_a_fixture_week_matches_a_hand_count(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(SUP).await;
    let (insp, _) = app.login(INSP).await;
    let (insp_sib, _) = app.login(INSP_SIBLING).await;
    let today = local_today(&app);
    // The fixture week: D1 … D7 = nine to three days ago.
    let d: Vec<NaiveDate> = (0..7).map(|i| today - Duration::days(9 - i)).collect();
    let site = crate::sites::seed_site(&app, OWN).await.to_string();
    let base = |who: i64, name: &str| {
        json!({ "inspectorId": who.to_string(), "name": name, "frequency": "DAILY",
        "windowStart": "08:00", "windowEnd": "12:00", "startsOn": d[0].to_string() })
    };
    let insp_id = user_id(&app, INSP).await;
    let sib_id = user_id(&app, INSP_SIBLING).await;
    // P1: daily in grid 201. P2: weekly, on D3's weekday, in grid 201. P3: daily in grid
    // 202, ending with D4.
    let p1 = create_plan(&app, &sup, base(insp_id, "每日巡查")).await;
    let mut i = base(insp_id, "每周巡查养殖场");
    i["frequency"] = json!("WEEKLY");
    i["weekday"] = json!(d[2].weekday().number_from_monday());
    i["siteIds"] = json!([site]);
    let p2 = create_plan(&app, &sup, i).await;
    let mut i = base(sib_id, "秸秆禁烧巡查");
    i["endsOn"] = json!(d[3].to_string());
    let p3 = create_plan(&app, &sup, i).await;

    // 201 patrols P1 on D1, D2, D3 and D5, P2 on D3, and walks an unplanned patrol on D6.
    let mut patrols_201 = Vec::new();
    for day in [d[0], d[1], d[2], d[4]] {
        patrols_201.push(offline_patrol(&app, &insp, Some(&p1), day, OWN).await);
    }
    let p2_patrol = offline_patrol(&app, &insp, Some(&p2), d[2], OWN).await;
    offline_patrol(&app, &insp, None, d[5], OWN).await;
    // Check-ins: two on D1 (at the site, nothing found; elsewhere, something found), one
    // on D3 at the site on the weekly patrol (nothing found).
    check_in(&app, &insp, &patrols_201[0], Some(&site), true, OWN).await;
    check_in(&app, &insp, &patrols_201[0], None, false, OWN).await;
    check_in(&app, &insp, &p2_patrol, Some(&site), true, OWN).await;
    // 202 patrols P3 on D2 only.
    offline_patrol(&app, &insp_sib, Some(&p3), d[1], SIBLING).await;

    let q = "query($r: ID!, $f: String!, $t: String!) { patrolCoverage(regionId: $r, from: $f, to: $t) { region { code } days { date planned done missed patrols distanceM sitesVisited checkIns nothingFound flaggedPatrols missedPlans { planId planName inspectorId inspectorName } } } }";
    let township = app.region_id("140521100").to_string();
    let vars = json!({ "r": township, "f": d[0].to_string(), "t": d[6].to_string() });
    let b = app.gql(Some(&sup), q, vars.clone()).await;
    let grids = ok(&b, "patrolCoverage").as_array().unwrap().clone();
    let snap = app.state.services.grid.snapshot();
    let township_node = snap.by_code("140521100").unwrap();
    assert_eq!(grids.len(), snap.children_of(Some(township_node.id)).len());
    let grid =
        |code: &str| grids.iter().find(|g| g["region"]["code"] == code).unwrap()["days"].clone();

    // The hand count: (planned, done, missed, patrols, sites visited, check-ins, 零报告).
    let want_201 = [
        (1, 1, 0, 1, 1, 2, 1), // D1
        (1, 1, 0, 1, 0, 0, 0), // D2
        (2, 2, 0, 2, 1, 1, 1), // D3: P1 and P2
        (1, 0, 1, 0, 0, 0, 0), // D4: P1 missed
        (1, 1, 0, 1, 0, 0, 0), // D5
        (1, 0, 1, 1, 0, 0, 0), // D6: P1 missed, an unplanned patrol
        (1, 0, 1, 0, 0, 0, 0), // D7: P1 missed
    ];
    let want_202 = [
        (1, 0, 1, 0, 0, 0, 0),
        (1, 1, 0, 1, 0, 0, 0),
        (1, 0, 1, 0, 0, 0, 0),
        (1, 0, 1, 0, 0, 0, 0),
        (0, 0, 0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0, 0, 0),
    ];
    for (code, want) in [(OWN, want_201), (SIBLING, want_202)] {
        let days = grid(code);
        for (i, w) in want.iter().enumerate() {
            let day = &days[i];
            assert_eq!(day["date"], json!(d[i].to_string()));
            let got = (
                day["planned"].as_i64().unwrap(),
                day["done"].as_i64().unwrap(),
                day["missed"].as_i64().unwrap(),
                day["patrols"].as_i64().unwrap(),
                day["sitesVisited"].as_i64().unwrap(),
                day["checkIns"].as_i64().unwrap(),
                day["nothingFound"].as_i64().unwrap(),
            );
            assert_eq!(got, *w, "{code} D{}: {day}", i + 1);
            // Each patrol walked 111 m.
            let dist = day["distanceM"].as_f64().unwrap();
            assert!(
                (dist - 111.2 * w.3 as f64).abs() < 1.0,
                "{code} D{}: {dist}",
                i + 1
            );
            assert_eq!(day["flaggedPatrols"], 0);
        }
    }
    // The missed plans say which plan and whose.
    let d4 = &grid(OWN)[3]["missedPlans"];
    assert_eq!(d4.as_array().unwrap().len(), 1);
    assert_eq!(d4[0]["planId"], json!(p1));
    assert_eq!(d4[0]["inspectorId"], json!(insp_id.to_string()));
    assert_eq!(grid(SIBLING)[0]["missedPlans"][0]["planId"], json!(p3));
    // A grid without plans or patrols counts nothing.
    let quiet = grids
        .iter()
        .find(|g| g["region"]["code"] == "140521100203")
        .unwrap();
    assert!(
        quiet["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["planned"] == 0 && d["patrols"] == 0)
    );

    // Who may ask.
    let b = app.gql(Some(&insp), q, vars.clone()).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let (sup_other, _) = app.login(SUP_OTHER).await;
    let b = app.gql(Some(&sup_other), q, vars).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(Some(&sup), q, json!({ "r": township, "f": d[0].to_string(), "t": (d[0] + Duration::days(40)).to_string() }))
        .await;
    assert_eq!(field(&b), "to", "{b}");
}
both!(coverage, coverage_of_a_fixture_week_matches_a_hand_count);

async fn missed_plans_are_told_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(SUP).await;
    let (sup_other, _) = app.login(SUP_OTHER).await;
    let (insp, _) = app.login(INSP).await;
    let today = local_today(&app);
    let (d1, d2) = (today - Duration::days(2), today - Duration::days(1));
    // Due the day before yesterday and yesterday; patrolled only yesterday.
    let plan = create_plan(
        &app,
        &sup,
        json!({ "inspectorId": user_id(&app, INSP).await.to_string(), "name": "秸秆禁烧巡查",
            "frequency": "DAILY", "windowStart": "08:00", "windowEnd": "12:00",
            "startsOn": d1.to_string(), "endsOn": d2.to_string() }),
    )
    .await;
    offline_patrol(&app, &insp, Some(&plan), d2, OWN).await;
    // Two passes at once (as two processes would run them), then a third later.
    let svc = &app.state.services;
    let (a, b) = tokio::join!(
        gridwatch::domain::patrols::coverage::notify_missed(svc),
        gridwatch::domain::patrols::coverage::notify_missed(svc)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one miss, recorded once");
    assert_eq!(
        gridwatch::domain::patrols::coverage::notify_missed(svc)
            .await
            .unwrap(),
        0
    );
    let misses = entity::patrol_miss::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(misses.len(), 1);
    assert_eq!(misses[0].local_date, d1);
    let q = "{ notifications(first: 20) { edges { node { kind title body } } } }";
    let told = |b: &Value| -> Vec<Value> {
        ok(b, "notifications")["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .filter(|n| n["kind"] == "PATROL_MISSED")
            .collect()
    };
    let sup_notes = told(&app.gql(Some(&sup), q, json!({})).await);
    assert_eq!(sup_notes.len(), 1, "{sup_notes:?}");
    assert!(
        sup_notes[0]["body"]
            .as_str()
            .unwrap()
            .contains(&d1.to_string()),
        "{sup_notes:?}"
    );
    assert_eq!(told(&app.gql(Some(&insp), q, json!({})).await).len(), 1);
    assert!(told(&app.gql(Some(&sup_other), q, json!({})).await).is_empty());
}
both!(missed_plans, missed_plans_are_told_once);

async fn a_page_of_patrols_costs_a_fixed_number_of_statements(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.grid.refresh_secs = 3600).await;
    let (sup, _) = app.login(SUP).await;
    let (insp, _) = app.login(INSP).await;
    let (lat, lng) = village_centre(&app, OWN);
    for i in 0..12 {
        let p = start(&app, &insp, json!({})).await;
        for nothing in [true, false] {
            let b = app
                .gql(
                    Some(&insp),
                    "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }",
                    json!({ "i": { "patrolId": p, "location": { "lat": lat, "lng": lng }, "nothingFound": nothing, "note": format!("第 {i} 次巡查") } }),
                )
                .await;
            ok(&b, "checkIn");
        }
    }
    let q = "query($n: Int!) { patrols(first: $n) { edges { node { id inspector { name } region { code } casesReported checkIns { nothingFound note } } } } }";
    let mut counts = Vec::new();
    for n in [3, 12] {
        let before = app.state.sql_statements.load(Ordering::SeqCst);
        let b = app.gql(Some(&sup), q, json!({ "n": n })).await;
        counts.push(app.state.sql_statements.load(Ordering::SeqCst) - before);
        let edges = ok(&b, "patrols")["edges"].as_array().unwrap().clone();
        assert_eq!(edges.len(), n as usize);
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["checkIns"].as_array().unwrap().len() == 2)
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "statements must not grow with the page: {counts:?}"
    );
    println!(
        "a page of patrols with inspector, check-ins and case counts: {} SQL statements",
        counts[1]
    );
}
both!(
    patrol_page_statements,
    a_page_of_patrols_costs_a_fixed_number_of_statements
);
