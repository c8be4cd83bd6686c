//! What outside fuzzing and load found (issue 8), each as a test on both databases:
//! list blow-ups refused before they run with the server's memory flat, every reference
//! in an input checked for existence and scope, control characters refused alike on
//! both databases, writes that survive clients hanging up, introspection outside
//! production, and the smaller points (413 for chunked bodies, aliases at every
//! fragment spread, answer keys in query order, bounded dates, 32-bit `Int`s).

use std::collections::BTreeSet;
use std::time::Duration;

use entity::{case, supervised_site};
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Statement,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{public_login, submit_tip, user_id, village_centre};
use crate::helpers::schema::schema;
use crate::helpers::server::ServerProcess;
use crate::helpers::{Backend, FreshDb, OTHER_COUNTY, TestApp, error_code};

const ATTACK: &str = "{ regions { children { children { parent { children { parent { children { parent { children { parent { children { code } } } } } } } } } } } }";
const ATTACK_TWO_LESS: &str = "{ regions { children { children { parent { children { parent { children { parent { children { code } } } } } } } } } }";

fn detail(body: &Value) -> &str {
    body["errors"][0]["extensions"]["detail"]
        .as_str()
        .unwrap_or("")
}

fn assert_too_complex(body: &Value, what: &str) {
    assert_eq!(error_code(body), "BAD_INPUT", "{what}: {body}");
    assert_eq!(detail(body), "TOO_COMPLEX", "{what}: {body}");
    assert!(body["data"].is_null(), "{what}: nothing may run: {body}");
}

/// Nested selections along the schema's cyclic and list edges.
fn cyclic_variants() -> Vec<String> {
    let mut out = Vec::new();
    // children/parent ping-pong of every length from 3 turns.
    for turns in 3..=8 {
        let mut inner = "code".to_owned();
        for i in 0..turns {
            let edge = if i % 2 == 0 { "children" } else { "parent" };
            inner = format!("{edge} {{ {inner} }}");
        }
        out.push(format!("{{ regions {{ children {{ {inner} }} }} }}"));
    }
    // A page of cases with nested duplicates and trails.
    out.push("{ cases(first: 100) { edges { node { possibleDuplicates { possibleDuplicates { possibleDuplicates { id } } } } } } }".into());
    out.push("{ cases(first: 100) { edges { node { events { actor { region { children { children { code } } } } } } } } }".into());
    out.push("{ myTasks(first: 100) { edges { node { duplicateOf { possibleDuplicates { events { note } evidence { flags } } } } } } }".into());
    out.push("{ regions { children { children { children { children { code } } } } } }".into());
    out.push("{ a: regions { children { children { id code name path level centroid { lat lng } parent { code } } } } b: regions { code } }".into());
    out.push("{ users(first: 100) { edges { node { region { children { children { children { code } } } } } } } }".into());
    out
}

async fn list_blowups_are_refused_before_they_run(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    for (q, what) in [
        (ATTACK, "the 142-byte query"),
        (ATTACK_TWO_LESS, "two levels less"),
    ] {
        assert_too_complex(&app.graphql(q, json!({})).await, what);
        assert_too_complex(&app.gql(Some(&sup), q, json!({})).await, what);
    }
    for q in cyclic_variants() {
        assert_too_complex(&app.gql(Some(&sup), &q, json!({})).await, &q);
    }
    // What a county's console asks stays allowed.
    for q in [
        "{ regions { name children { name code centroid { lat lng } } } }",
        "{ cases(first: 100) { edges { node { id number status title category { code name } assignee { name } lastEvent { action createdAt } region { name } } } } }",
        "{ a: regions { code } b: categories { code timeLimits { priority step amount unit } } }",
    ] {
        let b = app.gql(Some(&sup), q, json!({})).await;
        assert!(b.get("errors").is_none(), "{q}: {b}");
    }
    // Random walks over the schema: whatever is accepted answers without an internal
    // error and within the response cap; whatever is refused says why.
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);
    let fields = [
        "regions { ",
        "children { ",
        "parent { ",
        "code ",
        "name ",
        "centroid { lat lng } ",
    ];
    for _ in 0..60 {
        let depth = rng.random_range(2..10);
        let mut q = String::from("{ regions { ");
        let mut open = 2;
        for _ in 0..depth {
            let f = fields[rng.random_range(1..fields.len())];
            q.push_str(f);
            if f.ends_with("{ ") && !f.starts_with("centroid") {
                open += 1;
            }
        }
        q.push_str("code ");
        q.push_str(&"} ".repeat(open));
        let b = app.graphql(&q, json!({})).await;
        if let Some(errors) = b.get("errors") {
            let code = errors[0]["extensions"]["code"].as_str().unwrap_or("");
            assert_eq!(code, "BAD_INPUT", "{q}: {b}");
        }
    }
}
both!(list_blowups, list_blowups_are_refused_before_they_run);

/// A real server process: its memory is the same after a storm of refused blow-ups and
/// the heaviest accepted questions as before (allowing for warm-up).
async fn memory_stays_flat(backend: Backend) {
    let db = FreshDb::seeded(backend).await;
    let server = ServerProcess::start(&db, &[]).await;
    let sup = server.login("demo-sup-140521100").await;
    // Near the budget: the whole tree, every township with its villages.
    let heavy = "{ regions { id code name children { id code name path level synthetic centroid { lat lng } parent { code } children { code name level } } } }";
    // Warm up: allocators, prepared statements, the schema's caches.
    for _ in 0..5 {
        server.gql(Some(&sup), heavy, json!({})).await;
        server.gql(None, ATTACK, json!({})).await;
    }
    let before = server.rss_kib();
    for _ in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (base, client) = (server.base.clone(), server.client.clone());
            let q = if i % 2 == 0 { ATTACK } else { ATTACK_TWO_LESS };
            tasks.push(tokio::spawn(async move {
                let b: Value = client
                    .post(format!("{base}/graphql"))
                    .json(&json!({ "query": q }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(detail(&b), "TOO_COMPLEX", "{b}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let b = server.gql(Some(&sup), heavy, json!({})).await;
        assert!(b.get("errors").is_none(), "{b}");
    }
    let after = server.rss_kib();
    let grown = after.saturating_sub(before);
    println!("memory_stays_flat/{backend:?}: RSS {before} KiB → {after} KiB");
    assert!(
        grown < 32 * 1024,
        "RSS grew by {grown} KiB ({before} → {after})"
    );
}
both!(memory_flat, memory_stays_flat);

/// Objects of the test, in scope of 龙港镇 (A) or out of it (中村镇, B; 阳城县).
struct Refs {
    sup_a: String,
    insp_a: String,
    admin: String,
    tipster: String,
    pending_a: i64,
    pending_a2: i64,
    progress_a: i64,
    case_b: i64,
    case_other_county: i64,
    evidence_b: i64,
    note_b: i64,
    village_other_county: i64,
    /// An Open311 client issued in the other county.
    client_other_county: i64,
    insp_a_id: i64,
    insp_b_id: i64,
    village_a: i64,
    village_b: i64,
    site_b: i64,
    /// A random inspection draw in the other township.
    draw_b: i64,
    /// The centre of 龙港镇's village A (140521100001).
    centre_a: (f64, f64),
    /// Patrol plans and open patrols of 龙港镇's inspector (A) and 中村镇's (B).
    plan_a: i64,
    plan_b: i64,
    patrol_a: i64,
    patrol_b: i64,
    /// A campaign in the other county.
    campaign_other_county: i64,
}

const CREATE_TASK: &str = "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }";

async fn task(app: &TestApp, token: &str, region: i64) -> i64 {
    let b = app
        .gql(
            Some(token),
            CREATE_TASK,
            json!({ "i": { "categoryCode": "DUST", "title": "巡查工地", "description": "检查工地扬尘", "regionId": region.to_string() } }),
        )
        .await;
    b["data"]["createTask"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .parse()
        .unwrap()
}

async fn site(app: &TestApp, village: &str) -> i64 {
    let r = app
        .state
        .services
        .grid
        .snapshot()
        .by_code(village)
        .unwrap()
        .clone();
    let (lat, lng) = r.centroid.unwrap();
    let now = app.now();
    supervised_site::ActiveModel {
        name: Set(format!("{village} 养殖场")),
        kind: Set(entity::enums::SiteKind::Farm),
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        lat: Set(lat),
        lng: Set(lng),
        address: Set(None),
        risk_level: Set(entity::enums::RiskLevel::Medium),
        inspect_every_days: Set(30),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

async fn refs(app: &TestApp) -> Refs {
    app.state
        .services
        .grid
        .import(OTHER_COUNTY, app.now())
        .await
        .unwrap();
    let (sup_a, _) = app.login("demo-sup-140521100").await;
    let (sup_b, _) = app.login("demo-sup-140521101").await;
    let (insp_a, _) = app.login("demo-insp-140521100001").await;
    let (admin, _) = app.login("demo-admin").await;
    let tipster = public_login(app, "o-hardening-refs").await;
    let village_a = app.region_id("140521100001");
    let village_b = app.region_id("140521101203");
    let pending_a = task(app, &sup_a, village_a).await;
    let pending_a2 = task(app, &sup_a, village_a).await;
    let case_b = task(app, &sup_b, village_b).await;
    let (lat, lng) = village_centre(app, "140521100001");
    let b = app
        .gql(
            Some(&insp_a),
            "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
            json!({ "i": { "categoryCode": "DUST", "description": "工地未覆盖的土堆", "location": { "lat": lat, "lng": lng }, "idempotencyKey": "hardening-report-1" } }),
        )
        .await;
    let progress_a = b["data"]["reportCase"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .parse()
        .unwrap();
    let b = app
        .gql(
            Some(&sup_b),
            "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { evidence { id } } }",
            json!({ "i": { "caseId": case_b.to_string(), "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 1000, "sha256": "a".repeat(64) } }),
        )
        .await;
    let evidence_b = b["data"]["requestEvidenceUpload"]["evidence"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .parse()
        .unwrap();
    // A tip-off in the other county (its only village spans 112.9–113.1, 35.3–35.5).
    let t = submit_tip(
        app,
        &tipster,
        "OPEN_BURNING",
        35.4,
        113.0,
        "WGS84",
        "hardening-tip-oc",
    )
    .await;
    let code = t["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_owned();
    let case_other_county = case::Entity::find()
        .filter(case::Column::TrackingCode.eq(code))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let sup_b_id = user_id(app, "demo-sup-140521101").await;
    let note_b = entity::notification::Entity::insert(gridwatch::domain::notifications::new(
        sup_b_id,
        "ASSIGNED",
        Some(case_b),
        "别人的通知".into(),
        "不属于你".into(),
        app.now(),
    ))
    .exec(&app.db)
    .await
    .unwrap()
    .last_insert_id;
    let other_county = app.region_id("140522");
    let client_other_county =
        entity::open311_client::Entity::insert(entity::open311_client::ActiveModel {
            name: Set("邻县应用".into()),
            key_hash: Set("f".repeat(64)),
            key_prefix: Set("o311_other".into()),
            region_id: Set(other_county),
            created_by: Set(sup_b_id),
            created_at: Set(app.now()),
            ..Default::default()
        })
        .exec(&app.db)
        .await
        .unwrap()
        .last_insert_id;
    Refs {
        note_b,
        client_other_county,
        village_other_county: app.region_id("140522100201"),
        insp_a_id: user_id(app, "demo-insp-140521100001").await,
        insp_b_id: user_id(app, "demo-insp-140521101203").await,
        site_b: site(app, "140521101203").await,
        draw_b: crate::draws::seed_draw(app, "140521101203").await,
        centre_a: village_centre(app, "140521100001"),
        plan_a: crate::patrols::seed_plan(
            app,
            user_id(app, "demo-insp-140521100001").await,
            "140521100001",
        )
        .await,
        plan_b: crate::patrols::seed_plan(
            app,
            user_id(app, "demo-insp-140521101203").await,
            "140521101203",
        )
        .await,
        patrol_a: crate::patrols::seed_patrol(
            app,
            user_id(app, "demo-insp-140521100001").await,
            "140521100001",
        )
        .await,
        patrol_b: crate::patrols::seed_patrol(
            app,
            user_id(app, "demo-insp-140521101203").await,
            "140521101203",
        )
        .await,
        campaign_other_county: crate::campaigns::seed_campaign(app, "140522100201").await,
        sup_a,
        insp_a,
        admin,
        tipster,
        pending_a,
        pending_a2,
        progress_a,
        case_b,
        case_other_county,
        evidence_b,
        village_a,
        village_b,
    }
}

/// The request that probes argument `path` of mutation `op` with `id`, everything else
/// valid: (token, query, variables). Panics for an argument without a probe, so a new
/// reference in the schema cannot go untested.
fn probe(r: &Refs, op: &str, path: &str, id: &str) -> (String, String, Value) {
    let s = |v: i64| v.to_string();
    let until = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let task = |field: &str| {
        let mut i = json!({ "categoryCode": "DUST", "title": "巡查工地", "description": "检查工地扬尘", "regionId": s(r.village_a) });
        if field == "siteId" {
            i.as_object_mut().unwrap().remove("regionId");
        }
        i[field] = json!(id);
        (r.sup_a.clone(), CREATE_TASK.to_owned(), json!({ "i": i }))
    };
    let case_op = |token: &String, name: &str, args: &str, vars: Value| {
        let mut v = vars;
        v["id"] = json!(id);
        let q = format!(
            "mutation($id: ID!{}) {{ {name}(id: $id, version: 1{args}) {{ id }} }}",
            decls(&v)
        );
        (token.clone(), q, v)
    };
    match (op, path) {
        ("acceptCase", "id") => case_op(&r.sup_a, op, "", json!({})),
        ("assignCase", "id") => case_op(&r.sup_a, op, ", assigneeId: $a", json!({ "a": s(r.insp_a_id) })),
        ("assignCase", "assigneeId") => (
            r.sup_a.clone(),
            "mutation($id: ID!, $a: ID!) { assignCase(id: $id, version: 1, assigneeId: $a) { id } }".into(),
            json!({ "id": s(r.pending_a), "a": id }),
        ),
        ("confirmEvidence", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { confirmEvidence(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("createTask", "input.assigneeId") => task("assigneeId"),
        ("createTask", "input.regionId") => task("regionId"),
        ("createTask", "input.siteId") => task("siteId"),
        ("createUser", "input.regionId") => (
            r.sup_a.clone(),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }".into(),
            json!({ "i": { "username": "probe-user", "password": "Probe-2026-pass", "role": "INSPECTOR", "regionId": id } }),
        ),
        ("deactivateUser", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { deactivateUser(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("resetPassword", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { resetPassword(id: $id, password: \"Probe-2026-pass\") }".into(),
            json!({ "id": id }),
        ),
        ("escalateCase" | "parkCase", "id") => case_op(&r.sup_a, op, ", reason: $r", json!({ "r": "理由" })),
        ("extendCase", "id") => case_op(&r.sup_a, op, ", until: $u, reason: $r", json!({ "u": until, "r": "理由" })),
        ("resumeCase", "id") => case_op(&r.sup_a, op, "", json!({})),
        ("reviewTipText", "id") => case_op(&r.sup_a, op, ", publish: true", json!({})),
        ("verifyCase", "id") => case_op(&r.sup_a, op, ", approve: true", json!({})),
        ("mergeCase", "id") => case_op(&r.sup_a, op, ", into: $into", json!({ "into": s(r.pending_a2) })),
        ("mergeCase", "into") => (
            r.sup_a.clone(),
            "mutation($id: ID!, $into: ID!) { mergeCase(id: $id, version: 1, into: $into) { id } }".into(),
            json!({ "id": s(r.pending_a), "into": id }),
        ),
        ("rateCase", "id") => (
            r.tipster.clone(),
            "mutation($id: ID!) { rateCase(id: $id, score: 5) { status } }".into(),
            json!({ "id": id }),
        ),
        ("rejectCase", "id") => case_op(&r.sup_a, op, ", reason: INVALID", json!({})),
        ("rejectCase", "duplicateOf") => (
            r.sup_a.clone(),
            "mutation($id: ID!, $d: ID!) { rejectCase(id: $id, version: 1, reason: DUPLICATE, duplicateOf: $d) { id } }".into(),
            json!({ "id": s(r.pending_a), "d": id }),
        ),
        ("requestEvidenceUpload", "input.caseId") => (
            r.sup_a.clone(),
            "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { url } }".into(),
            json!({ "i": { "caseId": id, "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 1000, "sha256": "a".repeat(64) } }),
        ),
        ("revealTipster", "caseId") => (
            r.admin.clone(),
            "mutation($id: ID!) { revealTipster(caseId: $id, reason: \"核实举报内容需要联系举报人\") { handle } }".into(),
            json!({ "id": id }),
        ),
        ("startCase", "id") => case_op(&r.insp_a, op, ", location: { lat: 35.7, lng: 112.3 }", json!({})),
        ("submitCase", "id") => case_op(&r.insp_a, op, "", json!({})),
        ("submitCase", "evidenceIds") => (
            r.insp_a.clone(),
            "mutation($id: ID!, $e: [ID!]) { submitCase(id: $id, version: 1, evidenceIds: $e) { id } }".into(),
            json!({ "id": s(r.progress_a), "e": [id] }),
        ),
        ("updateUser", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { updateUser(id: $id, input: { name: \"新名字\" }) { id } }".into(),
            json!({ "id": id }),
        ),
        ("updateUser", "input.regionId") => (
            r.sup_a.clone(),
            "mutation($id: ID!, $r: ID!) { updateUser(id: $id, input: { regionId: $r }) { id } }".into(),
            json!({ "id": s(r.insp_a_id), "r": id }),
        ),
        ("uploadEvidence", "caseId") => (r.sup_a.clone(), "multipart".into(), json!({ "c": id })),
        ("createWebhook", "regionId") => (
            r.admin.clone(),
            "mutation($r: ID!) { createWebhook(regionId: $r, url: \"http://127.0.0.1:9/h\") { secret } }".into(),
            json!({ "r": id }),
        ),
        ("deactivateWebhook", "id") => (
            r.admin.clone(),
            "mutation($id: ID!) { deactivateWebhook(id: $id) { active } }".into(),
            json!({ "id": id }),
        ),
        ("revokeOpen311Client", "id") => (
            r.admin.clone(),
            "mutation($id: ID!) { revokeOpen311Client(id: $id) { revokedAt } }".into(),
            json!({ "id": id }),
        ),
        ("retryDeadLetter", "id") => (
            r.admin.clone(),
            "mutation($id: ID!) { retryDeadLetter(id: $id) { attempts } }".into(),
            json!({ "id": id }),
        ),
        ("markNotificationsRead", "ids") => (
            r.sup_a.clone(),
            "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) }".into(),
            json!({ "ids": [id] }),
        ),
        ("updateSite", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { updateSite(id: $id, input: { riskLevel: LOW }) { id } }".into(),
            json!({ "id": id }),
        ),
        ("archiveSite", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { archiveSite(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("publishRanking", "regionId") => (
            r.admin.clone(),
            "mutation($id: ID!) { publishRanking(regionId: $id, month: \"2026-10\") { month } }"
                .into(),
            json!({ "id": id }),
        ),
        ("drawRandomInspection", "input.regionId") => (
            r.sup_a.clone(),
            "mutation($i: DrawRandomInspectionInput!) { drawRandomInspection(input: $i) { id } }".into(),
            json!({ "i": { "regionId": id, "count": 1, "period": "2026-Q4" } }),
        ),
        ("drawRandomInspection", "input.inspectorIds") => (
            r.sup_a.clone(),
            "mutation($i: DrawRandomInspectionInput!) { drawRandomInspection(input: $i) { id } }".into(),
            json!({ "i": { "regionId": s(r.village_a), "count": 1, "period": "2026-Q4", "inspectorIds": [s(r.insp_a_id), id] } }),
        ),
        ("publishDraw", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { publishDraw(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("createPatrolPlan", "input.inspectorId" | "input.siteIds") => {
            let mut i = json!({ "inspectorId": s(r.insp_a_id), "name": "巡查计划", "frequency": "DAILY", "windowStart": "08:00", "windowEnd": "10:00", "startsOn": "2026-12-01" });
            if path == "input.siteIds" {
                i["siteIds"] = json!([id]);
            } else {
                i["inspectorId"] = json!(id);
            }
            (
                r.sup_a.clone(),
                "mutation($i: CreatePatrolPlanInput!) { createPatrolPlan(input: $i) { id } }".into(),
                json!({ "i": i }),
            )
        }
        ("updatePatrolPlan", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { updatePatrolPlan(id: $id, input: { name: \"新计划名\" }) { id } }".into(),
            json!({ "id": id }),
        ),
        ("updatePatrolPlan", "input.siteIds") => (
            r.sup_a.clone(),
            "mutation($id: ID!, $s: [ID!]) { updatePatrolPlan(id: $id, input: { siteIds: $s }) { id } }".into(),
            json!({ "id": s(r.plan_a), "s": [id] }),
        ),
        ("archivePatrolPlan", "id") => (
            r.sup_a.clone(),
            "mutation($id: ID!) { archivePatrolPlan(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("startPatrol", "input.planId") => (
            r.insp_a.clone(),
            "mutation($id: ID!) { startPatrol(input: { planId: $id }) { id } }".into(),
            json!({ "id": id }),
        ),
        ("appendTrack", "patrolId") => (
            r.insp_a.clone(),
            "mutation($id: ID!, $t: DateTime!) { appendTrack(patrolId: $id, points: [{ at: $t, lat: 35.7, lng: 112.3 }]) { id } }".into(),
            json!({ "id": id, "t": chrono::Utc::now().to_rfc3339() }),
        ),
        ("endPatrol", "patrolId") => (
            r.insp_a.clone(),
            "mutation($id: ID!) { endPatrol(patrolId: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        ("checkIn", "input.patrolId" | "input.siteId") => {
            let (patrol, site) = if path == "input.siteId" {
                (s(r.patrol_a), json!(id))
            } else {
                (id.to_owned(), Value::Null)
            };
            (
                r.insp_a.clone(),
                "mutation($i: CheckInInput!) { checkIn(input: $i) { id } }".into(),
                json!({ "i": { "patrolId": patrol, "siteId": site, "location": { "lat": 35.7, "lng": 112.3 }, "nothingFound": true } }),
            )
        }
        ("reportCase", "input.patrolId") => {
            let (lat, lng) = r.centre_a;
            (
                r.insp_a.clone(),
                "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }".into(),
                json!({ "i": { "categoryCode": "DUST", "description": "巡查发现工地裸土", "location": { "lat": lat, "lng": lng }, "idempotencyKey": format!("hardening-patrol-{id}"), "patrolId": id } }),
            )
        }
        ("createCampaign", "input.regionId") => (
            r.admin.clone(),
            "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }".into(),
            json!({ "i": { "name": "探测专项行动", "regionId": id, "categoryCodes": ["DUST"], "startsOn": "2030-02-01", "endsOn": "2030-02-10", "timeLimits": [{ "priority": "NORMAL", "step": "HANDLE", "amount": 4, "unit": "HOURS" }] } }),
        ),
        ("updateCampaign", "id") => (
            r.admin.clone(),
            "mutation($id: ID!) { updateCampaign(id: $id, input: { name: \"探测改名\" }) { id } }".into(),
            json!({ "id": id }),
        ),
        ("endCampaign", "id") => (
            r.admin.clone(),
            "mutation($id: ID!) { endCampaign(id: $id) { id } }".into(),
            json!({ "id": id }),
        ),
        other => panic!("no probe for the reference {other:?}: add one"),
    }
}

fn decls(v: &Value) -> String {
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "id")
        .map(|(k, _)| match k.as_str() {
            "a" | "into" => format!(", ${k}: ID!"),
            "u" => format!(", ${k}: DateTime!"),
            _ => format!(", ${k}: String!"),
        })
        .collect()
}

/// The out-of-scope object for a reference: one that exists but the actor may not reach.
fn out_of_scope(r: &Refs, op: &str, path: &str) -> i64 {
    match (op, path) {
        // The admin's county covers every seeded township: the other county's.
        ("createCampaign", _) => r.village_other_county,
        ("updateCampaign" | "endCampaign", _) => r.campaign_other_county,
        (_, "assigneeId" | "input.assigneeId") => r.insp_b_id,
        (_, "input.regionId") => r.village_b,
        (_, "input.siteId") => r.site_b,
        (_, "input.inspectorIds") => r.insp_b_id,
        ("publishDraw", "id") => r.draw_b,
        ("deactivateUser" | "resetPassword" | "updateUser", "id") => r.insp_b_id,
        ("updateSite" | "archiveSite", "id") => r.site_b,
        (_, "input.inspectorId") => r.insp_b_id,
        (_, "input.siteIds") => r.site_b,
        ("updatePatrolPlan" | "archivePatrolPlan", "id") | (_, "input.planId") => r.plan_b,
        (_, "patrolId" | "input.patrolId") => r.patrol_b,
        ("confirmEvidence", "id") | ("submitCase", "evidenceIds") => r.evidence_b,
        ("revealTipster", _) => r.case_other_county,
        // The admin's county covers every seeded region: the other county's village.
        ("createWebhook" | "publishRanking", _) => r.village_other_county,
        // Not a dead letter: an outbox message that was delivered.
        ("deactivateWebhook" | "retryDeadLetter", _) => r.note_b,
        ("markNotificationsRead", _) => r.note_b,
        ("revokeOpen311Client", _) => r.client_other_county,
        _ => r.case_b,
    }
}

async fn every_reference_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = refs(&app).await;
    let references = schema().paths_of("Mutation", "ID");
    assert!(references.len() >= 25, "{references:?}");
    let cases_before = case::Entity::find().count(&app.db).await.unwrap();
    let mut failures = Vec::new();
    for (op, path) in &references {
        let oos = out_of_scope(&r, op, path).to_string();
        for id in ["987654321", oos.as_str()] {
            let (token, query, vars) = probe(&r, op, path, id);
            let body = if query == "multipart" {
                crate::helpers::evidence::multipart_upload(&app, Some(&token), &vars["c"]).await
            } else {
                app.gql(Some(&token), &query, vars).await
            };
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("(none)")
                .to_owned();
            if code != "NOT_FOUND" && code != "BAD_INPUT" {
                failures.push(format!("{op}({path} = {id}): {code}: {body}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        case::Entity::find().count(&app.db).await.unwrap(),
        cases_before,
        "a refused reference wrote nothing"
    );
}
both!(references, every_reference_is_checked);

/// `a.b.c` → `a: { b: { c: $v } }`.
fn nest(path: &str) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    let mut inner = "$v".to_owned();
    for p in parts.iter().skip(1).rev() {
        inner = format!("{{ {p}: {inner} }}");
    }
    format!("{}: {inner}", parts[0])
}

async fn control_characters_are_refused_alike(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let s = schema();
    let mut paths: Vec<(String, String, String)> = Vec::new();
    for root in ["Query", "Mutation"] {
        for (op, path) in s.paths_of(root, "String") {
            paths.push((root.to_owned(), op, path));
        }
    }
    assert!(paths.len() >= 30, "{paths:?}");
    let ops: BTreeSet<&str> = paths.iter().map(|(_, op, _)| op.as_str()).collect();
    for must in [
        "submitTip",
        "createUser",
        "login",
        "cases",
        "users",
        "reportCase",
    ] {
        assert!(ops.contains(must), "{must} has text inputs");
    }
    for (root, op, path) in &paths {
        for bad in [
            "demo\u{0000}admin",
            "a\u{0007}b",
            "x\u{001b}[31m",
            "del\u{007f}",
            "c1\u{0085}",
        ] {
            let kw = if root == "Query" { "query" } else { "mutation" };
            let q = format!(
                "{kw}($v: String!) {{ {op}({}) {{ __typename }} }}",
                nest(path)
            );
            let b = app.gql(Some(&admin), &q, json!({ "v": bad })).await;
            assert_eq!(error_code(&b), "BAD_INPUT", "{op}.{path} {bad:?}: {b}");
            assert_eq!(detail(&b), "CONTROL_CHARACTER", "{op}.{path}: {b}");
        }
    }
    // The same in a literal, anonymously, as the fuzzer sent it.
    let b = app
        .graphql(
            "mutation { login(username: \"demo\\u0000admin\", password: \"x\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(detail(&b), "CONTROL_CHARACTER", "{b}");
    // Tabs and line breaks are text, and both databases keep them the same way.
    let tipster = public_login(&app, "o-hardening-text").await;
    let (lat, lng) = village_centre(&app, "140521100001");
    let text = "河边有人焚烧秸秆\n浓烟很大\t已持续一小时";
    let b = app
        .gql(
            Some(&tipster),
            "mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode } }",
            json!({ "i": { "categoryCode": "OPEN_BURNING", "description": text, "location": { "lat": lat, "lng": lng }, "idempotencyKey": "hardening-text-1" } }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    let stored = case::Entity::find()
        .filter(
            case::Column::TrackingCode.eq(b["data"]["submitTip"]["trackingCode"].as_str().unwrap()),
        )
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.description, text);
}
both!(control_characters, control_characters_are_refused_alike);

/// Many clients write while some hang up at random moments: every answered write is
/// there exactly once, and no connection of ours is left inside a transaction.
async fn writes_survive_clients_that_hang_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tipster = public_login(&app, "o-hardening-cancel").await;
    let (lat, lng) = village_centre(&app, "140521100001");
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let (base, token) = (app.base.clone(), tipster.clone());
        tasks.push(tokio::spawn(async move {
            // A client of its own: dropping the request closes its connection.
            let client = reqwest::Client::new();
            let description = format!("第 {i} 条举报：河边焚烧秸秆");
            let body = json!({
                "query": "mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode } }",
                "variables": { "i": { "categoryCode": "OPEN_BURNING", "description": description, "location": { "lat": lat, "lng": lng }, "idempotencyKey": format!("hang-up-{i:04}") } }
            });
            let send = async {
                let r = client
                    .post(format!("{base}/graphql"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .ok()?;
                r.json::<Value>().await.ok()
            };
            let hang_up = rand::rng().random_bool(0.6);
            let answer = if hang_up {
                let after = Duration::from_micros(rand::rng().random_range(0..40_000));
                tokio::time::timeout(after, send).await.ok().flatten()
            } else {
                send.await
            };
            let code = answer
                .as_ref()
                .and_then(|a| a["data"]["submitTip"]["trackingCode"].as_str())
                .map(str::to_owned);
            (description, code)
        }));
    }
    let mut answered = 0;
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    for (description, code) in &outcomes {
        let rows = case::Entity::find()
            .filter(case::Column::Description.eq(description.as_str()))
            .all(&app.db)
            .await
            .unwrap();
        assert!(rows.len() <= 1, "{description}: {} cases", rows.len());
        if let Some(code) = code {
            answered += 1;
            assert_eq!(
                rows.len(),
                1,
                "an answered tip-off is stored: {description}"
            );
            assert_eq!(rows[0].tracking_code.as_deref(), Some(code.as_str()));
            assert_eq!(
                entity::case_event::Entity::find()
                    .filter(entity::case_event::Column::CaseId.eq(rows[0].id))
                    .count(&app.db)
                    .await
                    .unwrap(),
                1,
                "the case and its first event commit together"
            );
        }
    }
    assert!(answered > 0, "some clients waited for their answers");
    if backend == Backend::Postgres {
        // Connections go back to the pool outside any transaction (give the detached
        // writes of the clients that hung up a moment to finish).
        let mut stuck = i64::MAX;
        for _ in 0..40 {
            let row = app
                .db
                .query_one_raw(Statement::from_string(
                    app.db.get_database_backend(),
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                     AND state LIKE 'idle in transaction%'"
                        .to_owned(),
                ))
                .await
                .unwrap()
                .unwrap();
            stuck = row.try_get::<i64>("", "n").unwrap();
            if stuck == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(stuck, 0, "connections left idle in transaction");
    }
}
both!(hang_ups, writes_survive_clients_that_hang_up);

/// The query GraphiQL (graphql-js `getIntrospectionQuery`) sends to load the docs.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations isRepeatable args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) {
    name description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

fn count_fields(v: &Value) -> u64 {
    match v {
        Value::Object(m) => m.values().map(|x| 1 + count_fields(x)).sum(),
        Value::Array(a) => a.iter().map(count_fields).sum(),
        _ => 0,
    }
}

async fn introspection_outside_production(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let b = app.graphql(INTROSPECTION, json!({})).await;
    assert!(b.get("errors").is_none(), "{b}");
    let types = b["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Case"));
    // The cost model's bound for `__schema` holds for the real answer.
    let fields = count_fields(&b["data"]);
    assert!(
        fields <= gridwatch::graphql::limits::INTROSPECTION_SCHEMA_COST,
        "introspection answer has {fields} fields"
    );
    let prod = TestApp::spawn_with(backend, |c| {
        c.env = gridwatch::config::Environment::Production;
        c.auth.jwt_secret = Some("k7Qm2vX9pL4sR8tY1wZ3nB6cD0fG5hJ2-test-only".into());
        c.vault.key = Some("c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMi1ieXQ=".into());
    })
    .await;
    let b = prod.graphql(INTROSPECTION, json!({})).await;
    // Production answers as if the schema had no `__schema` to show.
    assert!(b["data"]["__schema"].is_null(), "{b}");
    assert!(!b.to_string().contains("CaseConnection"), "{b}");
}
both!(introspection, introspection_outside_production);

async fn the_smaller_points(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A chunked body (no length) over the limit is 413, like a declared one.
    let limit = app.state.config().server.body_limit_bytes;
    let chunk = format!(
        "{{\"query\": \"{{ __typename }}\", \"x\": \"{}\"}}",
        "y".repeat(limit + 100)
    );
    let stream = futures_util::stream::iter(
        chunk
            .into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A fragment's aliases count at every spread: 8 aliases × 5 spreads.
    let aliases: String = (0..8).map(|i| format!("a{i}: __typename ")).collect();
    let q = format!("fragment F on Query {{ {aliases} }} {{ ...F ...F ...F ...F ...F }}");
    assert_eq!(detail(&app.graphql(&q, json!({})).await), "TOO_COMPLEX");
    // A fragment bomb within the depth limit (2^30 fields once expanded) is refused
    // after a bounded walk, before the engine's own depth check would expand it all.
    let mut bomb = String::from("fragment F0 on Query { __typename }\n");
    for i in 1..=30 {
        bomb.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    bomb.push_str("{ ...F30 }");
    assert_eq!(detail(&app.graphql(&bomb, json!({})).await), "TOO_COMPLEX");
    // Keys come back in the order the query asked (the executor finishes fields in
    // another order: the database answers `categories` last).
    let text = app
        .gql_text(
            None,
            "{ categories { code id } regions { code } zz: __typename }",
        )
        .await;
    let (c, r, z) = (
        text.find("\"categories\"").unwrap(),
        text.find("\"regions\"").unwrap(),
        text.find("\"zz\"").unwrap(),
    );
    assert!(c < r && r < z, "{text}");
    assert!(text.find("\"code\"").unwrap() < text.find("\"id\"").unwrap());
    // Dates are bounded and Ints fit in 32 bits.
    let (sup, _) = app.login("demo-sup-140521100").await;
    let village = app.region_id("140521100001").to_string();
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { remainingSeconds } }",
            json!({ "i": { "categoryCode": "DUST", "title": "巡查", "description": "检查工地", "regionId": village, "dueAt": "9999-12-31T00:00:00Z" } }),
        )
        .await;
    assert_eq!(detail(&b), "DATE_OUT_OF_RANGE", "{b}");
    let due = (app.now() + chrono::Duration::days(360)).to_rfc3339();
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id version remainingSeconds parkedSeconds } }",
            json!({ "i": { "categoryCode": "DUST", "title": "巡查", "description": "检查工地", "regionId": village, "dueAt": due } }),
        )
        .await;
    let left = b["data"]["createTask"]["remainingSeconds"]
        .as_i64()
        .unwrap();
    assert!(left > 0 && left <= i64::from(i32::MAX), "{b}");
    let id = b["data"]["createTask"]["id"].clone();
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { extendCase(id: $id, version: 1, until: \"9999-12-31T00:00:00Z\", reason: \"等待\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(detail(&b), "DATE_OUT_OF_RANGE", "{b}");
    let b = app
        .gql(
            Some(&sup),
            "{ cases(filter: { createdFrom: \"0001-01-01T00:00:00Z\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(detail(&b), "DATE_OUT_OF_RANGE", "{b}");
    // A task about a site of one's own township takes the site's place.
    let own_site = site(&app, "140521100001").await;
    let b = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id region { code } location { lat lng } } }",
            json!({ "i": { "categoryCode": "LIVESTOCK_WASTE", "title": "检查养殖场", "description": "粪污处理设施", "siteId": own_site.to_string() } }),
        )
        .await;
    assert_eq!(
        b["data"]["createTask"]["region"]["code"], "140521100001",
        "{b}"
    );
    let row = case::Entity::find_by_id(
        b["data"]["createTask"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(row.site_id, Some(own_site));
}
both!(smaller_points, the_smaller_points);
