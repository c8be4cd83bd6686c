//! 双随机、一公开: random inspection draws — recorded, reproducible and verifiable, with
//! 回避 and two inspectors per site, no site twice in a period until the pool is
//! exhausted, one `RANDOM` task per drawn site, publishing only after every task is
//! closed, and scope.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::enums::TeamRole;
use entity::{case, random_draw, random_draw_site};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::act;
use crate::helpers::{Backend, TestApp, error_code};
use crate::sites::seed_site;

const TOWNSHIP: &str = "140521100";

const DRAW_FIELDS: &str = "id period seed prevHash hash inputs frame poolExhausted siteCount published region { code } \
    sites { seq site { id name region { code } } inspectors { id region { code } } task { id number source status siteId assignee { id } } }";

fn draw_q() -> String {
    format!(
        "mutation($i: DrawRandomInspectionInput!) {{ drawRandomInspection(input: $i) {{ {DRAW_FIELDS} }} }}"
    )
}

const VERIFY_Q: &str = "query($id: ID!) { verifyDraw(id: $id) { matches seedMatches selectionMatches hashMatches chainMatches problems } }";
const PUBLISH_Q: &str = "mutation($id: ID!) { publishDraw(id: $id) { id published } }";

/// `n` sites in the first `n` villages of the demo township (201, 202, …).
async fn sites_in_township(app: &TestApp, n: usize) -> Vec<i64> {
    let mut out = Vec::new();
    for v in 0..n {
        out.push(seed_site(app, &format!("{TOWNSHIP}{}", 201 + v)).await);
    }
    out
}

async fn draw(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), &draw_q(), json!({ "i": input })).await
}

async fn draw_ok(app: &TestApp, token: &str, input: Value) -> Value {
    let b = draw(app, token, input).await;
    assert!(b.get("errors").is_none(), "draw failed: {b:#}");
    b["data"]["drawRandomInspection"].clone()
}

fn site_ids(d: &Value) -> Vec<i64> {
    d["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["site"]["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn township_input(app: &TestApp, count: i64, period: &str) -> Value {
    json!({
        "regionId": app.region_id(TOWNSHIP).to_string(),
        "count": count,
        "period": period,
    })
}

async fn verify(app: &TestApp, token: &str, id: &Value) -> Value {
    let b = app.gql(Some(token), VERIFY_Q, json!({ "id": id })).await;
    assert!(b.get("errors").is_none(), "{b:#}");
    b["data"]["verifyDraw"].clone()
}

async fn random_tasks(app: &TestApp) -> u64 {
    case::Entity::find()
        .filter(case::Column::Source.eq("RANDOM"))
        .count(&app.db)
        .await
        .unwrap()
}

async fn a_draw_is_recorded_reproducible_and_makes_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    let sites = sites_in_township(&app, 6).await;
    let mut input = township_input(&app, 3, "2026-q4");
    input["perSite"] = json!(3);
    input["idempotencyKey"] = json!("draw-key-1");
    let d = draw_ok(&app, &sup, input.clone()).await;
    assert_eq!(d["siteCount"], 3);
    assert_eq!(d["period"], "2026-Q4");
    assert_eq!(d["poolExhausted"], false);
    assert_eq!(d["published"], false);
    assert_eq!(
        d["prevHash"],
        "0".repeat(64),
        "the first draw starts the chain"
    );
    let drawn = site_ids(&d);
    assert_eq!(drawn.len(), 3);
    assert!(drawn.iter().all(|s| sites.contains(s)), "{drawn:?}");
    for s in d["sites"].as_array().unwrap() {
        let team = s["inspectors"].as_array().unwrap();
        assert_eq!(team.len(), 3, "perSite inspectors: {s}");
        let distinct: BTreeSet<&str> = team.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(distinct.len(), 3, "nobody twice on one site");
        for i in team {
            assert_ne!(
                i["region"]["code"], s["site"]["region"]["code"],
                "回避: nobody inspects their own grid: {s}"
            );
            assert!(
                i["region"]["code"].as_str().unwrap().starts_with(TOWNSHIP),
                "the default pool is the supervisor's township"
            );
        }
        assert_eq!(s["task"]["source"], "RANDOM");
        assert_eq!(s["task"]["status"], "ASSIGNED");
        assert_eq!(s["task"]["siteId"], s["site"]["id"]);
        assert_eq!(
            s["task"]["assignee"]["id"], team[0]["id"],
            "the lead is the assignee"
        );
    }
    assert_eq!(random_tasks(&app).await, 3);
    // Every member of every team is told, each with a link to the task they may open.
    let notices = entity::notification::Entity::find()
        .filter(entity::notification::Column::Kind.eq("RANDOM_INSPECTION"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(notices.len(), 9, "3 sites × 3 inspectors");
    for s in d["sites"].as_array().unwrap() {
        let task_number = s["task"]["number"].as_str().unwrap();
        for (k, i) in s["inspectors"].as_array().unwrap().iter().enumerate() {
            let uid: i64 = i["id"].as_str().unwrap().parse().unwrap();
            let n = notices
                .iter()
                .find(|n| n.user_id == uid && n.body.contains(task_number))
                .unwrap_or_else(|| panic!("no notice for {uid} about {task_number}"));
            let task: i64 = s["task"]["id"].as_str().unwrap().parse().unwrap();
            assert_eq!(n.case_id, Some(task), "every notice links the task");
            // And the team is recorded: the first drawn leads, the others are members.
            let row = entity::case_team::Entity::find_by_id((task, uid))
                .one(&app.db)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{uid} is not on the team of {task}"));
            let lead = if k == 0 {
                TeamRole::Lead
            } else {
                TeamRole::Member
            };
            assert_eq!(row.role, lead);
        }
    }
    assert_eq!(
        entity::case_team::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        9,
        "nobody else is on a team"
    );
    let events = entity::case_event::Entity::find()
        .filter(entity::case_event::Column::Action.eq("RANDOM_DRAW"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "one audit event per task");
    assert!(
        events
            .iter()
            .all(|e| e.data.as_ref().unwrap()["drawId"].as_i64()
                == d["id"].as_str().unwrap().parse::<i64>().ok()),
        "{events:?}"
    );

    // Same seed and inputs: the same selection, recomputed outside the server.
    let inputs: gridwatch::domain::draws::Inputs =
        serde_json::from_str(d["inputs"].as_str().unwrap()).unwrap();
    let frame: gridwatch::domain::draws::select::Frame =
        serde_json::from_str(d["frame"].as_str().unwrap()).unwrap();
    assert_eq!(frame.sites.len(), 6, "the frame holds every candidate");
    let again =
        gridwatch::domain::draws::recompute(d["seed"].as_str().unwrap(), &inputs, &frame).unwrap();
    assert_eq!(
        again.sites.iter().map(|p| p.site_id).collect::<Vec<_>>(),
        drawn
    );
    let v = verify(&app, &sup, &d["id"]).await;
    assert_eq!(v["matches"], true, "{v}");
    assert_eq!(v["problems"], json!([]));

    // A retry with the same key answers the first draw and draws nothing new.
    let replay = draw_ok(&app, &sup, input).await;
    assert_eq!(replay["id"], d["id"]);
    assert_eq!(random_tasks(&app).await, 3);

    // The next draw chains to this one, and both verify.
    let d2 = draw_ok(&app, &sup, township_input(&app, 1, "2026-12")).await;
    assert_eq!(d2["prevHash"], d["hash"]);
    assert_ne!(d2["seed"], d["seed"]);
    assert_eq!(verify(&app, &sup, &d2["id"]).await["matches"], true);
    assert_eq!(verify(&app, &sup, &d["id"]).await["matches"], true);

    // Staff lists and reads.
    let list = app
        .gql(
            Some(&sup),
            "{ draws(first: 10) { edges { node { id siteCount } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&Value> = list["data"]["draws"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(ids, vec![&d2["id"], &d["id"]], "newest first");
}
both!(
    recorded_reproducible_tasks,
    a_draw_is_recorded_reproducible_and_makes_tasks
);

async fn no_site_twice_in_a_period_until_exhausted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    sites_in_township(&app, 4).await;
    let a = draw_ok(&app, &sup, township_input(&app, 2, "2026-Q4")).await;
    let b = draw_ok(&app, &sup, township_input(&app, 2, "2026-Q4")).await;
    let (a_ids, b_ids) = (site_ids(&a), site_ids(&b));
    assert!(
        a_ids.iter().all(|s| !b_ids.contains(s)),
        "no site twice in one period: {a_ids:?} {b_ids:?}"
    );
    assert_eq!(b["poolExhausted"], false);
    // Every site was drawn in 2026-Q4: the next draw must repeat and says so.
    let c = draw_ok(&app, &sup, township_input(&app, 1, "2026-Q4")).await;
    assert_eq!(c["poolExhausted"], true);
    // Another period starts afresh.
    let d = draw_ok(&app, &sup, township_input(&app, 4, "2027-Q1")).await;
    assert_eq!(d["poolExhausted"], false);
    for x in [&a, &b, &c, &d] {
        assert_eq!(verify(&app, &sup, &x["id"]).await["matches"], true);
    }
}
both!(period_rule, no_site_twice_in_a_period_until_exhausted);

async fn refusals_are_clear_and_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    seed_site(&app, &format!("{TOWNSHIP}201")).await;
    let field = |b: &Value| {
        (
            error_code(b),
            b["errors"][0]["extensions"]["detail"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            b["errors"][0]["extensions"]["field"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let base = township_input(&app, 1, "2026-Q4");
    let with = |k: &str, v: Value| {
        let mut i = base.clone();
        i[k] = v;
        i
    };
    let cases = [
        (
            with("perSite", json!(1)),
            "INVALID_PER_SITE",
            "input.perSite",
        ),
        (with("count", json!(0)), "INVALID_COUNT", "input.count"),
        (
            with("sharePercent", json!(50)),
            "COUNT_OR_SHARE",
            "input.count",
        ),
        (
            with("period", json!("2026-Q5")),
            "INVALID_PERIOD",
            "input.period",
        ),
        (
            with("count", json!(2)),
            "COUNT_EXCEEDS_SITES",
            "input.count",
        ),
        (
            with("siteFilter", json!({ "kinds": ["FARM"] })),
            "NO_SITES",
            "input.siteFilter",
        ),
        (
            with("categoryCode", json!("NO_SUCH_CATEGORY")),
            "UNKNOWN_CATEGORY",
            "input.categoryCode",
        ),
    ];
    for (input, detail, at) in cases {
        let b = draw(&app, &sup, input.clone()).await;
        assert_eq!(
            field(&b),
            ("BAD_INPUT".into(), detail.into(), at.into()),
            "{input}: {b}"
        );
    }
    // A pool of two where one lives in the site's own grid cannot staff it (回避).
    let own = crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}201")).await;
    let other = crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}202")).await;
    let b = draw(
        &app,
        &sup,
        with("inspectorIds", json!([own.to_string(), other.to_string()])),
    )
    .await;
    assert_eq!(
        field(&b),
        (
            "BAD_INPUT".into(),
            "INSPECTOR_POOL_TOO_SMALL".into(),
            "input.inspectorIds".into()
        ),
        "{b}"
    );
    // A pool of one is refused before anything is read.
    let b = draw(&app, &sup, with("inspectorIds", json!([other.to_string()]))).await;
    assert_eq!(field(&b).1, "INSPECTOR_POOL_TOO_SMALL", "{b}");
    assert_eq!(random_draw::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(random_tasks(&app).await, 0);
}
both!(refusals, refusals_are_clear_and_write_nothing);

async fn draws_follow_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    let (insp, _) = app.login(&format!("demo-insp-{TOWNSHIP}201")).await;
    let (admin, _) = app.login("demo-admin").await;
    sites_in_township(&app, 2).await;
    seed_site(&app, "140521101201").await;
    seed_site(&app, "140521101202").await;
    // An inspector cannot draw (nor read draws).
    let b = draw(&app, &insp, township_input(&app, 1, "2026-Q4")).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let b = app
        .gql(
            Some(&insp),
            "{ draws { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // A supervisor cannot draw outside their township, nor name its inspectors.
    let mut other = township_input(&app, 1, "2026-Q4");
    other["regionId"] = json!(app.region_id("140521101").to_string());
    let b = draw(&app, &sup, other.clone()).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let outsider = crate::helpers::cases::user_id(&app, "demo-insp-140521101201").await;
    let own = crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}205")).await;
    let mut pool = township_input(&app, 1, "2026-Q4");
    pool["inspectorIds"] = json!([own.to_string(), outsider.to_string()]);
    let b = draw(&app, &sup, pool).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    assert_eq!(random_tasks(&app).await, 0, "refusals write nothing");
    // County staff draw there; the supervisor of another township does not see it.
    let d = draw_ok(&app, &admin, other).await;
    let b = app
        .gql(
            Some(&sup),
            "query($id: ID!) { draw(id: $id) { id } }",
            json!({ "id": d["id"] }),
        )
        .await;
    assert!(b["data"]["draw"].is_null(), "{b}");
    let b = app
        .gql(Some(&sup), VERIFY_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(Some(&sup), PUBLISH_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(Some(&sup), "{ draws { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(b["data"]["draws"]["edges"], json!([]), "{b}");
    let b = app
        .gql(
            Some(&admin),
            "{ draws { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["draws"]["edges"][0]["node"]["id"], d["id"]);
}
both!(scope, draws_follow_scope);

async fn verify_detects_tampering(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    let sites = sites_in_township(&app, 5).await;
    let d = draw_ok(&app, &sup, township_input(&app, 2, "2026-Q4")).await;
    let d2 = draw_ok(&app, &sup, township_input(&app, 1, "2026-Q4")).await;
    assert_eq!(verify(&app, &sup, &d["id"]).await["matches"], true);
    let id: i64 = d["id"].as_str().unwrap().parse().unwrap();
    let drawn = site_ids(&d);
    let undrawn = *sites.iter().find(|s| !drawn.contains(s)).unwrap();
    let row = random_draw_site::Entity::find()
        .filter(random_draw_site::Column::DrawId.eq(id))
        .filter(random_draw_site::Column::Seq.eq(0))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let original = row.clone();
    // Someone swaps the drawn site for a friendlier one.
    let mut am: random_draw_site::ActiveModel = row.into();
    am.site_id = Set(undrawn);
    am.update(&app.db).await.unwrap();
    let v = verify(&app, &sup, &d["id"]).await;
    assert_eq!(v["matches"], false, "{v}");
    assert_eq!(v["selectionMatches"], false, "{v}");
    assert_eq!(v["hashMatches"], false, "{v}");
    assert_eq!(v["seedMatches"], true, "{v}");
    // Put back, then swap the team instead.
    let restore = |m: &random_draw_site::Model| {
        let mut am: random_draw_site::ActiveModel = m.clone().into();
        am.site_id = Set(m.site_id);
        am.inspector_ids = Set(m.inspector_ids.clone());
        am
    };
    restore(&original).update(&app.db).await.unwrap();
    assert_eq!(verify(&app, &sup, &d["id"]).await["matches"], true);
    let mut team: Vec<i64> = serde_json::from_str(&original.inspector_ids).unwrap();
    team.reverse();
    let mut am: random_draw_site::ActiveModel = original.clone().into();
    am.inspector_ids = Set(serde_json::to_string(&team).unwrap());
    am.update(&app.db).await.unwrap();
    let v = verify(&app, &sup, &d["id"]).await;
    assert_eq!(v["selectionMatches"], false, "{v}");
    restore(&original).update(&app.db).await.unwrap();
    assert_eq!(verify(&app, &sup, &d["id"]).await["matches"], true);
    // Rewriting the seed (to one that gives the wanted selection) breaks the seed and
    // the hash; rewriting the first draw's hash breaks the chain of the second.
    let row = random_draw::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: random_draw::ActiveModel = row.clone().into();
    am.seed = Set("ab".repeat(32));
    am.update(&app.db).await.unwrap();
    let v = verify(&app, &sup, &d["id"]).await;
    assert_eq!(v["seedMatches"], false, "{v}");
    assert_eq!(v["hashMatches"], false, "{v}");
    let mut am: random_draw::ActiveModel = row.clone().into();
    am.seed = Set(row.seed.clone());
    am.hash = Set("cd".repeat(32));
    am.update(&app.db).await.unwrap();
    let v = verify(&app, &sup, &d2["id"]).await;
    assert_eq!(v["chainMatches"], false, "{v}");
    assert_eq!(v["problems"], json!(["chain"]), "{v}");
}
both!(tampering, verify_detects_tampering);

async fn publish_waits_for_closed_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    sites_in_township(&app, 3).await;
    let d = draw_ok(&app, &sup, township_input(&app, 2, "2026-Q4")).await;
    let public_q = "query($r: ID) { publicDraws(regionId: $r) { edges { node { id period region drawnAt hash sites { name kind village status closedAt outcome } } } } }";
    let b = app
        .gql(Some(&sup), PUBLISH_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(error_code(&b), "INVALID_TRANSITION", "open tasks: {b}");
    // Close one task: still refused.
    let task_ids: Vec<i64> = d["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["task"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let close = |id: i64| {
        let db = app.db.clone();
        async move {
            let c = case::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            let mut am: case::ActiveModel = c.into();
            am.status = Set(crate::helpers::closed("CLOSED"));
            am.closed_at = Set(Some(Utc::now()));
            am.update(&db).await.unwrap();
        }
    };
    close(task_ids[0]).await;
    let b = app
        .gql(Some(&sup), PUBLISH_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(error_code(&b), "INVALID_TRANSITION", "one task open: {b}");
    let b = app.gql(None, public_q, json!({})).await;
    assert_eq!(b["data"]["publicDraws"]["edges"], json!([]), "{b}");
    close(task_ids[1]).await;
    // Both tasks recorded a result; the second's category is not publishable.
    for (id, note) in [
        (task_ids[0], "已整改：堆场已全部苫盖"),
        (task_ids[1], "不公开的结果"),
    ] {
        entity::case_event::ActiveModel {
            case_id: Set(id),
            seq: Set(2),
            actor_role: Set("INSPECTOR".into()),
            action: Set("SUBMIT".into()),
            note: Set(Some(note.into())),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    let cat = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("OTHER"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let task = case::Entity::find_by_id(task_ids[1])
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: case::ActiveModel = task.into();
    am.category_id = Set(cat.id);
    am.update(&app.db).await.unwrap();
    let mut am: entity::category::ActiveModel = cat.into();
    am.publishable = Set(false);
    am.update(&app.db).await.unwrap();
    let b = app
        .gql(Some(&sup), PUBLISH_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(b["data"]["publishDraw"]["published"], true, "{b}");
    // Publishing again changes nothing.
    let b = app
        .gql(Some(&sup), PUBLISH_Q, json!({ "id": d["id"] }))
        .await;
    assert_eq!(b["data"]["publishDraw"]["published"], true, "{b}");
    // Everyone sees it, without a person in it.
    let b = app
        .gql(
            None,
            public_q,
            json!({ "r": app.region_id(TOWNSHIP).to_string() }),
        )
        .await;
    let node = &b["data"]["publicDraws"]["edges"][0]["node"];
    assert_eq!(node["id"], d["id"], "{b}");
    assert_eq!(node["hash"], d["hash"]);
    let sites = node["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["outcome"], "已整改：堆场已全部苫盖", "{b}");
    assert!(sites[1]["outcome"].is_null(), "not publishable: {b}");
    for (s, drawn) in sites.iter().zip(d["sites"].as_array().unwrap()) {
        assert_eq!(s["name"], drawn["site"]["name"]);
        assert_eq!(s["kind"], "STOCKPILE");
        assert_eq!(s["status"], "CLOSED");
        assert!(s["village"].is_string(), "{s}");
    }
    let text = b.to_string();
    assert!(
        !text.contains("网格员") && !text.contains("demo-insp"),
        "no inspector in the public view: {text}"
    );
    // Another region's public list does not show it.
    let b = app
        .gql(
            None,
            public_q,
            json!({ "r": app.region_id("140521101").to_string() }),
        )
        .await;
    assert_eq!(b["data"]["publicDraws"]["edges"], json!([]), "{b}");
}
both!(publishing, publish_waits_for_closed_tasks);

async fn racing_draws_keep_one_chain_and_the_period_rule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    sites_in_township(&app, 4).await;
    let input = township_input(&app, 1, "2026-Q4");
    let (a, b, c, d) = tokio::join!(
        draw(&app, &sup, input.clone()),
        draw(&app, &sup, input.clone()),
        draw(&app, &sup, input.clone()),
        draw(&app, &sup, input.clone()),
    );
    let mut drawn = BTreeSet::new();
    for x in [&a, &b, &c, &d] {
        assert!(
            x.get("errors").is_none(),
            "a racing draw starts again: {x:#}"
        );
        drawn.extend(site_ids(&x["data"]["drawRandomInspection"]));
    }
    assert_eq!(drawn.len(), 4, "no site twice in one period, even racing");
    let rows = random_draw::Entity::find().all(&app.db).await.unwrap();
    let mut rows = rows;
    rows.sort_by_key(|r| r.id);
    assert_eq!(rows[0].prev_hash, "0".repeat(64));
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash, "one chain");
    }
    for r in &rows {
        let v = verify(&app, &sup, &json!(r.id.to_string())).await;
        assert_eq!(v["matches"], true, "{v}");
    }
}
both!(racing, racing_draws_keep_one_chain_and_the_period_rule);

/// A draw row written straight to the database in `region` (for probes): no sites, so
/// it may be published at once.
pub async fn seed_draw(app: &TestApp, region: &str) -> i64 {
    let r = app
        .state
        .services
        .grid
        .snapshot()
        .by_code(region)
        .unwrap()
        .clone();
    let admin = crate::helpers::cases::user_id(app, "demo-admin").await;
    let now = app.now();
    let salt = uuid::Uuid::new_v4().simple().to_string();
    random_draw::ActiveModel {
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        period: Set("2026-Q4".into()),
        drawn_at: Set(now),
        drawn_by: Set(admin),
        prev_hash: Set(format!("{salt}{salt}")),
        seed: Set("0".repeat(64)),
        hash: Set(format!("{salt}{}{}", &salt[..16], "f".repeat(16))),
        inputs: Set("{}".into()),
        frame: Set("{}".into()),
        pool_exhausted: Set(false),
        site_count: Set(0),
        published_at: Set(None),
        published_by: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id
}

/// Ids of a connection's nodes.
fn node_ids(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {conn}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn username_of(app: &TestApp, id: &Value) -> String {
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    entity::app_user::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .username
}

const SYNC_Q: &str = "query($c: String) { changesSince(cursor: $c, first: 100) { cases { id } removed cursor hasMore } }";

async fn sync_from(app: &TestApp, token: &str, cursor: Option<&str>) -> Value {
    // The log is read below the cluster's oldest open transaction: wait for it (see
    // `settle`), or another test's long transaction holds this test's changes back.
    crate::helpers::settle(app).await;
    let b = app.gql(Some(token), SYNC_Q, json!({ "c": cursor })).await;
    assert!(b.get("errors").is_none(), "{b}");
    b["data"]["changesSince"].clone()
}

/// A drawn member who is not the lead (the assignee) sees the task in `myTasks`, opens
/// it, receives it through sync, and does its field work: checks in, adds photos and
/// submits; escalating stays with the lead. An inspector of another grid who is not on
/// the team still gets `NOT_FOUND` and no tombstone. Reassigning keeps the team.
async fn drawn_teammates_work_their_task(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login(&format!("demo-sup-{TOWNSHIP}")).await;
    // Two sites (villages 201 and 205), a pool of two inspectors from neither grid: both
    // go to both sites, in a drawn order.
    for v in ["201", "205"] {
        seed_site(&app, &format!("{TOWNSHIP}{v}")).await;
    }
    let pool = [
        crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}202")).await,
        crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}203")).await,
    ];
    let (outsider, _) = app.login(&format!("demo-insp-{TOWNSHIP}204")).await;
    // Both inspectors of the pool, and the outsider, take a sync cursor before the draw.
    let mut tokens = std::collections::HashMap::new();
    let mut cursors = std::collections::HashMap::new();
    for id in pool {
        let name = username_of(&app, &json!(id.to_string())).await;
        let (t, _) = app.login(&name).await;
        let c = sync_from(&app, &t, None).await["cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        cursors.insert(id.to_string(), c);
        tokens.insert(id.to_string(), t);
    }
    let outsider_cursor = sync_from(&app, &outsider, None).await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut input = township_input(&app, 2, "2026-Q4");
    input["inspectorIds"] = json!(pool.map(|i| i.to_string()));
    let d = draw_ok(&app, &sup, input).await;
    let site = &d["sites"][0];
    let task = site["task"]["id"].clone();
    let team = site["inspectors"].as_array().unwrap();
    assert_eq!(team.len(), 2, "{d}");
    let (lead_id, member_id) = (team[0]["id"].clone(), team[1]["id"].clone());
    assert_eq!(
        site["task"]["assignee"]["id"], lead_id,
        "the lead is the assignee"
    );
    let member = tokens[member_id.as_str().unwrap()].clone();
    let lead = tokens[lead_id.as_str().unwrap()].clone();
    // The task shows its team, lead first, to the team and to the supervisor.
    for token in [&member, &lead, &sup] {
        let b = app
            .gql(
                Some(token),
                "query($id: ID!) { case(id: $id) { team { role user { id } } } }",
                json!({ "id": task }),
            )
            .await;
        assert_eq!(
            b["data"]["case"]["team"],
            json!([
                { "role": "LEAD", "user": { "id": lead_id } },
                { "role": "MEMBER", "user": { "id": member_id } },
            ]),
            "{b}"
        );
    }

    // The member: myTasks lists it, case(id) opens it, sync delivers it (no tombstone).
    let b = app
        .gql(
            Some(&member),
            "{ myTasks(first: 20) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let mine = node_ids(&b["data"]["myTasks"]);
    assert!(mine.contains(&task.as_str().unwrap().to_owned()), "{b}");
    assert_eq!(mine.len(), 2, "both drawn tasks: {b}");
    let c = crate::helpers::cases::get_case(&app, &member, &task).await;
    assert_eq!((&c["id"], &c["status"]), (&task, &json!("ASSIGNED")), "{c}");
    let s = sync_from(&app, &member, Some(&cursors[member_id.as_str().unwrap()])).await;
    let synced: Vec<&Value> = s["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert!(
        synced.contains(&&task),
        "the member's sync has the task: {s}"
    );
    assert_eq!(s["removed"], json!([]), "{s}");
    // And `cases` lists it (the same scope rule as a query condition).
    let list = app
        .gql(
            Some(&member),
            "{ cases(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(
        node_ids(&list["data"]["cases"]).contains(&task.as_str().unwrap().to_owned()),
        "{list}"
    );

    // The outsider (another grid, not on the team): missing everywhere, no tombstone.
    let b = app
        .gql(
            Some(&outsider),
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": task }),
        )
        .await;
    // `case(id)` answers a case out of scope like a missing one: null.
    assert!(
        b.get("errors").is_none() && b["data"]["case"].is_null(),
        "{b}"
    );
    let b = app
        .gql(
            Some(&outsider),
            "{ myTasks(first: 20) { edges { node { id } } } cases(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(node_ids(&b["data"]["myTasks"]), Vec::<String>::new(), "{b}");
    assert!(
        !node_ids(&b["data"]["cases"]).contains(&task.as_str().unwrap().to_owned()),
        "{b}"
    );
    let s = sync_from(&app, &outsider, Some(&outsider_cursor)).await;
    assert_eq!(
        (&s["cases"], &s["removed"]),
        (&json!([]), &json!([])),
        "nothing of the draw reaches the outsider: {s}"
    );
    let b = act(
        &app,
        &outsider,
        "startCase",
        &task,
        &json!(1),
        ", location: $location",
        json!({ "location": { "lat": 35.69, "lng": 112.27 } }),
    )
    .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");

    // Field work by the member: check in on site, photos, submit.
    let site_row = entity::supervised_site::Entity::find_by_id(
        site["site"]["id"].as_str().unwrap().parse::<i64>().unwrap(),
    )
    .one(&app.db)
    .await
    .unwrap()
    .unwrap();
    let (lat, lng) = (site_row.lat, site_row.lng);
    let b = act(
        &app,
        &member,
        "startCase",
        &task,
        &c["version"],
        ", location: $location",
        json!({ "location": { "lat": lat, "lng": lng } }),
    )
    .await;
    assert_eq!(b["data"]["startCase"]["status"], "IN_PROGRESS", "{b}");
    let v = b["data"]["startCase"]["version"].clone();
    let b = act(
        &app,
        &member,
        "escalateCase",
        &task,
        &v,
        ", reason: $reason",
        json!({ "reason": "需要县局支援" }),
    )
    .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "escalating is the lead's: {b}");
    let mut photos = Vec::new();
    for phase in ["BEFORE", "AFTER"] {
        let jpeg = gridwatch::domain::media::fixtures::test_jpeg(
            640,
            480,
            Some((Utc::now(), lat + 0.0001, lng)),
        );
        let b = crate::helpers::evidence::upload_photo(&app, &member, &task, phase, &jpeg).await;
        assert_eq!(b["data"]["confirmEvidence"]["status"], "CONFIRMED", "{b}");
        photos.push(b["data"]["confirmEvidence"]["id"].clone());
    }
    let b = act(
        &app,
        &member,
        "submitCase",
        &task,
        &v,
        ", note: $note, evidenceIds: $evidenceIds",
        json!({ "note": "检查组已完成检查", "evidenceIds": photos }),
    )
    .await;
    assert_eq!(b["data"]["submitCase"]["status"], "SUBMITTED", "{b}");
    let member_uid: i64 = member_id.as_str().unwrap().parse().unwrap();
    let submit = entity::case_event::Entity::find()
        .filter(
            entity::case_event::Column::CaseId.eq(task.as_str().unwrap().parse::<i64>().unwrap()),
        )
        .filter(entity::case_event::Column::Action.eq("SUBMIT"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        submit.actor_id,
        Some(member_uid),
        "the trail names who submitted"
    );
    // The lead still sees it as its assignee.
    let c = crate::helpers::cases::get_case(&app, &lead, &task).await;
    assert_eq!(c["status"], "SUBMITTED");

    // Reassigning the other task away from its lead keeps the whole team on it.
    let other = d["sites"][1]["task"]["id"].clone();
    let other_lead = d["sites"][1]["inspectors"][0]["id"].clone();
    let other_member = d["sites"][1]["inspectors"][1]["id"].clone();
    let newcomer = crate::helpers::cases::user_id(&app, &format!("demo-insp-{TOWNSHIP}206")).await;
    let b = act(
        &app,
        &sup,
        "assignCase",
        &other,
        &json!(1),
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": newcomer.to_string() }),
    )
    .await;
    assert!(b.get("errors").is_none(), "{b}");
    let other_id: i64 = other.as_str().unwrap().parse().unwrap();
    let rows = entity::case_team::Entity::find()
        .filter(entity::case_team::Column::CaseId.eq(other_id))
        .all(&app.db)
        .await
        .unwrap();
    let on_team: BTreeSet<String> = rows.iter().map(|r| r.user_id.to_string()).collect();
    let drawn: BTreeSet<String> = [&other_lead, &other_member]
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(on_team, drawn, "the team is who was drawn");
    for id in [&other_lead, &other_member] {
        let t = &tokens[id.as_str().unwrap()];
        let c = crate::helpers::cases::get_case(&app, t, &other).await;
        assert_eq!(c["id"], other, "still on the team after the reassignment");
    }
}
both!(team_work, drawn_teammates_work_their_task);
