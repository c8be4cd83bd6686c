//! Campaign seasons (专项行动): the campaign's limits apply only inside its dates, region
//! and categories (exact deadlines on the work calendar, 2026 National Day holiday and
//! its make-up Saturday included); overlapping campaigns are refused; scope; and the
//! campaign report through `stats(campaignId:)` and the stats export.

use chrono::{DateTime, NaiveDateTime, Utc};
use entity::case;
use gridwatch::domain::accounts::{NewUser, create_user_unscoped};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::village_centre;
use crate::helpers::{Backend, OTHER_COUNTY, TestApp, check_bad_input, error_code};

const COUNTY: &str = "140521";
/// 龙港镇, the campaign's township.
const TOWNSHIP: &str = "140521100";
const OTHER_TOWNSHIP: &str = "140521101";
const IN_A: &str = "140521100201";
const IN_B: &str = "140521100202";
const OUTSIDE: &str = "140521101201";

/// A local (Asia/Shanghai) time `YYYY-MM-DD HH:MM` in UTC.
fn t(local: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{local}: {e}"));
    (n - chrono::Duration::hours(8)).and_utc()
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

const CAMPAIGN_FIELDS: &str = "id name status startsOn endsOn endedAt patrolsPerGridPerDay \
    region { code } categories { code } timeLimits { priority step amount unit }";

const CREATE: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { \
    id name status startsOn endsOn endedAt patrolsPerGridPerDay \
    region { code } categories { code } timeLimits { priority step amount unit } } }";

/// The campaign of the tests: 龙港镇, open burning and dust, 10-08 to 10-20, handling in
/// 4 working hours and on site within 1 working day at normal priority, urgent
/// handling within 1 working day (looser than dust's 8 clock hours).
fn autumn(region: &str, app: &TestApp) -> Value {
    json!({
        "name": "2026年秋季秸秆禁烧专项行动",
        "regionId": app.region_id(region).to_string(),
        "categoryCodes": ["OPEN_BURNING", "DUST"],
        "startsOn": "2026-10-08",
        "endsOn": "2026-10-20",
        "timeLimits": [
            { "priority": "NORMAL", "step": "HANDLE", "amount": 4, "unit": "WORKING_HOURS" },
            { "priority": "NORMAL", "step": "ONSITE", "amount": 1, "unit": "WORKING_DAYS" },
            { "priority": "URGENT", "step": "HANDLE", "amount": 1, "unit": "WORKING_DAYS" },
        ],
        "patrolsPerGridPerDay": 2,
    })
}

async fn create(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), CREATE, json!({ "i": input })).await
}

async fn created(app: &TestApp, token: &str, input: Value) -> Value {
    let b = create(app, token, input).await;
    assert!(b.get("errors").is_none(), "{b}");
    b["data"]["createCampaign"].clone()
}

/// A task in `village`, created by county staff now: (dueAt, campaign id or null, id).
async fn task(app: &TestApp, admin: &str, village: &str, category: &str, priority: &str) -> Value {
    let b = app
        .gql(
            Some(admin),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id dueAt campaign { id name } } }",
            json!({ "i": { "categoryCode": category, "title": "专项检查", "description": "检查秸秆焚烧和扬尘", "regionId": app.region_id(village).to_string(), "priority": priority } }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    b["data"]["createTask"].clone()
}

async fn row(app: &TestApp, id: &Value) -> case::Model {
    case::Entity::find_by_id(id.as_str().unwrap().parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn limits_apply_only_inside_dates_region_and_categories(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let c = created(&app, &admin, autumn(TOWNSHIP, &app)).await;
    assert_eq!(c["status"], "UPCOMING", "{c}");
    assert_eq!(c["region"]["code"], TOWNSHIP);
    assert_eq!(c["patrolsPerGridPerDay"], 2);
    assert_eq!(
        c["categories"],
        json!([{ "code": "OPEN_BURNING" }, { "code": "DUST" }])
    );
    assert_eq!(c["timeLimits"].as_array().unwrap().len(), 3);

    // A minute before the start (07 Oct, a holiday): dust's 2 working days, 08–09 Oct.
    app.set_now(t("2026-10-07 23:59"));
    let (admin, _) = app.login("demo-admin").await;
    let before = task(&app, &admin, IN_A, "DUST", "NORMAL").await;
    assert_eq!(instant(&before["dueAt"]), t("2026-10-09 17:30"), "{before}");
    assert!(before["campaign"].is_null(), "{before}");

    // Inside: Friday 9 Oct after closing. The campaign's 4 working hours count from the
    // make-up Saturday's opening (08:30–12:00, then 14:30–15:00) and beat dust's 2
    // working days (Saturday, Monday 17:30).
    app.set_now(t("2026-10-09 20:00"));
    let (admin, _) = app.login("demo-admin").await;
    let inside = task(&app, &admin, IN_A, "DUST", "NORMAL").await;
    assert_eq!(instant(&inside["dueAt"]), t("2026-10-10 15:00"), "{inside}");
    assert_eq!(inside["campaign"]["id"], c["id"], "{inside}");
    // On site: 1 working day (Saturday 17:30) beats dust's 24 clock hours (Saturday 20:00).
    let r = row(&app, &inside["id"]).await;
    assert_eq!(r.onsite_due_at, Some(t("2026-10-10 17:30")));
    assert_eq!(
        r.campaign_id.map(|i| i.to_string()),
        c["id"].as_str().map(str::to_owned)
    );

    // The same moment, a township away: dust's own 2 working days.
    let outside = task(&app, &admin, OUTSIDE, "DUST", "NORMAL").await;
    assert_eq!(
        instant(&outside["dueAt"]),
        t("2026-10-12 17:30"),
        "{outside}"
    );
    assert!(outside["campaign"].is_null(), "{outside}");

    // Another village of the township: the campaign again.
    let inside_b = task(&app, &admin, IN_B, "DUST", "NORMAL").await;
    assert_eq!(
        instant(&inside_b["dueAt"]),
        t("2026-10-10 15:00"),
        "{inside_b}"
    );
    assert_eq!(inside_b["campaign"]["id"], c["id"]);

    // Inside the region, another category: livestock waste's 15 working days.
    let other = task(&app, &admin, IN_A, "LIVESTOCK_WASTE", "NORMAL").await;
    assert_eq!(instant(&other["dueAt"]), t("2026-10-29 17:30"), "{other}");
    assert!(other["campaign"].is_null(), "{other}");

    // Urgent: dust's 8 clock hours are tighter than the campaign's working day, so the
    // category's limit stays — but the case came in under the campaign.
    let urgent = task(&app, &admin, IN_A, "DUST", "URGENT").await;
    let due = instant(&urgent["dueAt"]);
    let want = t("2026-10-10 04:00");
    assert!((due - want).num_seconds().abs() < 60, "{urgent}");
    assert_eq!(urgent["campaign"]["id"], c["id"]);

    // Ended early on Monday 09:00: a case at 10:00 keeps dust's limits (Tue, Wed 17:30),
    // while the case already in keeps the campaign's deadline.
    app.set_now(t("2026-10-12 09:00"));
    let (admin, _) = app.login("demo-admin").await;
    let end = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { endCampaign(id: $id) { status endedAt } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(end["data"]["endCampaign"]["status"], "ENDED", "{end}");
    app.set_now(t("2026-10-12 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let after = task(&app, &admin, IN_A, "DUST", "NORMAL").await;
    assert_eq!(instant(&after["dueAt"]), t("2026-10-14 17:30"), "{after}");
    assert!(after["campaign"].is_null(), "{after}");
    assert_eq!(
        row(&app, &inside["id"]).await.due_at,
        Some(t("2026-10-10 15:00"))
    );
    // Ending twice is refused; an ended campaign cannot change.
    let again = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { endCampaign(id: $id) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&again), "INVALID_TRANSITION", "{again}");
    let upd = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateCampaign(id: $id, input: { name: \"改名\" }) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&upd), "INVALID_TRANSITION", "{upd}");
}
both!(
    limits_apply_inside_only,
    limits_apply_only_inside_dates_region_and_categories
);

async fn a_campaign_past_its_last_day_applies_no_more(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let c = created(&app, &admin, autumn(TOWNSHIP, &app)).await;
    // The last day, 23:59: still the campaign (Wednesday 21 Oct: 08:30–12:00, 14:30–15:00).
    app.set_now(t("2026-10-20 23:59"));
    let (admin, _) = app.login("demo-admin").await;
    let last = task(&app, &admin, IN_A, "OPEN_BURNING", "NORMAL").await;
    assert_eq!(last["campaign"]["id"], c["id"], "{last}");
    assert_eq!(instant(&last["dueAt"]), t("2026-10-21 15:00"), "{last}");
    // The next day: open burning's own 24 clock hours.
    app.set_now(t("2026-10-21 00:01"));
    let (admin, _) = app.login("demo-admin").await;
    let next = task(&app, &admin, IN_A, "OPEN_BURNING", "NORMAL").await;
    assert!(next["campaign"].is_null(), "{next}");
    let due = instant(&next["dueAt"]);
    assert!(
        (due - t("2026-10-22 00:01")).num_seconds().abs() < 60,
        "{next}"
    );
    // The list by day.
    let on = |d: &str| json!({ "r": app.region_id(IN_A).to_string(), "d": d });
    let q = "query($r: ID!, $d: NaiveDate) { campaigns(regionId: $r, activeOn: $d) { id status } }";
    let b = app.gql(Some(&admin), q, on("2026-10-20")).await;
    assert_eq!(b["data"]["campaigns"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["data"]["campaigns"][0]["status"], "ENDED", "{b}");
    let b = app.gql(Some(&admin), q, on("2026-10-21")).await;
    assert_eq!(b["data"]["campaigns"], json!([]), "{b}");
    let b = app.gql(Some(&admin), q, on("2026-10-07")).await;
    assert_eq!(b["data"]["campaigns"], json!([]), "{b}");
}
both!(past_last_day, a_campaign_past_its_last_day_applies_no_more);

async fn overlapping_campaigns_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let first = created(&app, &admin, autumn(TOWNSHIP, &app)).await;

    // The county, dust, dates overlapping: the township lies in the county.
    let mut county = autumn(COUNTY, &app);
    county["categoryCodes"] = json!(["DUST"]);
    county["startsOn"] = json!("2026-10-15");
    county["endsOn"] = json!("2026-10-30");
    let b = create(&app, &admin, county.clone()).await;
    assert_eq!(error_code(&b), "CONFLICT", "{b}");
    // The same township, a different category: fine.
    let mut other_cat = autumn(TOWNSHIP, &app);
    other_cat["categoryCodes"] = json!(["LIVESTOCK_WASTE"]);
    created(&app, &admin, other_cat).await;
    // Another township, the same dates and categories: fine.
    created(&app, &admin, autumn(OTHER_TOWNSHIP, &app)).await;
    // The same township after the first one: fine; moving it onto the first: refused.
    let mut later = autumn(TOWNSHIP, &app);
    later["startsOn"] = json!("2026-10-21");
    later["endsOn"] = json!("2026-10-31");
    let later = created(&app, &admin, later).await;
    let moved = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { updateCampaign(id: $id, input: { startsOn: \"2026-10-20\" }) { id } }",
            json!({ "id": later["id"] }),
        )
        .await;
    assert_eq!(error_code(&moved), "CONFLICT", "{moved}");
    // Changing its name and limits is fine.
    let renamed = app
        .gql(
            Some(&admin),
            &format!("mutation($id: ID!) {{ updateCampaign(id: $id, input: {{ name: \"冬季扬尘专项行动\", timeLimits: [{{ priority: NORMAL, step: HANDLE, amount: 2, unit: WORKING_HOURS }}] }}) {{ {CAMPAIGN_FIELDS} }} }}"),
            json!({ "id": later["id"] }),
        )
        .await;
    let r = &renamed["data"]["updateCampaign"];
    assert_eq!(r["name"], "冬季扬尘专项行动", "{renamed}");
    assert_eq!(
        r["timeLimits"],
        json!([{ "priority": "NORMAL", "step": "HANDLE", "amount": 2, "unit": "WORKING_HOURS" }])
    );
    // Once the first one is ended early, the county's no longer overlaps it in time
    // from the day after... but still overlaps the later one: refused.
    app.set_now(t("2026-10-12 09:00"));
    let (admin, _) = app.login("demo-admin").await;
    app.gql(
        Some(&admin),
        "mutation($id: ID!) { endCampaign(id: $id) { id } }",
        json!({ "id": first["id"] }),
    )
    .await;
    let b = create(&app, &admin, county).await;
    assert_eq!(error_code(&b), "CONFLICT", "{b}");
    // A dust campaign of the township from 13 to 20 Oct no longer overlaps the first.
    let mut resumed = autumn(TOWNSHIP, &app);
    resumed["categoryCodes"] = json!(["DUST"]);
    resumed["startsOn"] = json!("2026-10-13");
    created(&app, &admin, resumed).await;

    // Bad input carries the field.
    for (field, value, detail) in [
        ("endsOn", json!("2026-10-01"), "INVALID_PERIOD"),
        (
            "regionId",
            json!(app.region_id(IN_A).to_string()),
            "CAMPAIGN_REGION_LEVEL",
        ),
        ("categoryCodes", json!(["NO_SUCH"]), "UNKNOWN_CATEGORY"),
        ("name", json!("x"), "INVALID_LENGTH"),
        (
            "patrolsPerGridPerDay",
            json!(0),
            "INVALID_PATROL_REQUIREMENT",
        ),
        (
            "timeLimits",
            json!([
                { "priority": "NORMAL", "step": "HANDLE", "amount": 4, "unit": "HOURS" },
                { "priority": "NORMAL", "step": "HANDLE", "amount": 5, "unit": "HOURS" }
            ]),
            "DUPLICATE_TIME_LIMIT",
        ),
    ] {
        let mut i = autumn(OTHER_TOWNSHIP, &app);
        i["startsOn"] = json!("2026-11-01");
        i["endsOn"] = json!("2026-11-10");
        i[field] = value;
        let b = create(&app, &admin, i).await;
        assert_eq!(error_code(&b), "BAD_INPUT", "{field}: {b}");
        check_bad_input(&b);
        assert_eq!(
            b["errors"][0]["extensions"]["detail"], detail,
            "{field}: {b}"
        );
        assert!(
            b["errors"][0]["extensions"]["field"]
                .as_str()
                .unwrap()
                .starts_with(&format!("input.{field}")),
            "{b}"
        );
    }
}
both!(overlap_refused, overlapping_campaigns_are_refused);

async fn overlapping_campaigns_created_at_once_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let mut county = autumn(COUNTY, &app);
    county["categoryCodes"] = json!(["DUST"]);
    // Eight at once, all on dust in the county or the township: exactly one is made.
    let bodies = futures_util::future::join_all((0..8).map(|i| {
        let input = if i % 2 == 0 {
            autumn(TOWNSHIP, &app)
        } else {
            county.clone()
        };
        let admin = admin.clone();
        let app = &app;
        async move { create(app, &admin, input).await }
    }))
    .await;
    let made = bodies.iter().filter(|b| b.get("errors").is_none()).count();
    let refused = bodies
        .iter()
        .filter(|b| b.get("errors").is_some() && error_code(b) == "CONFLICT")
        .count();
    assert_eq!((made, refused), (1, 7), "{bodies:?}");
}
both!(
    overlap_refused_at_once,
    overlapping_campaigns_created_at_once_are_refused
);

async fn campaigns_are_scoped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state
        .services
        .grid
        .import(OTHER_COUNTY, app.now())
        .await
        .unwrap();
    let snap = app.state.services.grid.snapshot();
    create_user_unscoped(
        &app.db,
        &snap,
        NewUser {
            username: "admin-140522".into(),
            password: "Other-county-2026".into(),
            role: "COUNTY_ADMIN".into(),
            region_id: app.region_id("140522"),
            name: None,
            phone: None,
        },
        app.now(),
    )
    .await
    .unwrap();
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let (other_admin, _) = app.login_with("admin-140522", "Other-county-2026").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (sup_b, _) = app.login("demo-sup-140521101").await;
    let (insp, _) = app.login("demo-insp-140521100201").await;

    // A supervisor cannot create one, even in their own township.
    let b = create(&app, &sup, autumn(TOWNSHIP, &app)).await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // Another county's admin cannot create one here.
    let b = create(&app, &other_admin, autumn(TOWNSHIP, &app)).await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let c = created(&app, &admin, autumn(TOWNSHIP, &app)).await;
    let county_wide = {
        let mut i = autumn(COUNTY, &app);
        i["categoryCodes"] = json!(["LIVESTOCK_WASTE"]);
        created(&app, &admin, i).await
    };

    let one = "query($id: ID!) { campaign(id: $id) { id name } }";
    let list = "query($r: ID!) { campaigns(regionId: $r) { id } }";
    // The township's supervisor reads it and the county-wide one.
    let b = app.gql(Some(&sup), one, json!({ "id": c["id"] })).await;
    assert_eq!(b["data"]["campaign"]["id"], c["id"], "{b}");
    let b = app
        .gql(
            Some(&sup),
            list,
            json!({ "r": app.region_id(TOWNSHIP).to_string() }),
        )
        .await;
    let ids: Vec<&Value> = b["data"]["campaigns"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&county_wide["id"], &c["id"]], "{b}");
    // …but the other township's supervisor sees only the county-wide one.
    let b = app.gql(Some(&sup_b), one, json!({ "id": c["id"] })).await;
    assert!(b["data"]["campaign"].is_null(), "{b}");
    let b = app
        .gql(
            Some(&sup_b),
            list,
            json!({ "r": app.region_id(OTHER_TOWNSHIP).to_string() }),
        )
        .await;
    assert_eq!(
        b["data"]["campaigns"],
        json!([{ "id": county_wide["id"] }]),
        "{b}"
    );
    // Supervisors change nothing.
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { endCampaign(id: $id) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // Inspectors do not read campaigns.
    let b = app
        .gql(
            Some(&insp),
            list,
            json!({ "r": app.region_id(IN_A).to_string() }),
        )
        .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    // Another county's admin sees nothing of it, and cannot end or count it.
    let b = app
        .gql(Some(&other_admin), one, json!({ "id": c["id"] }))
        .await;
    assert!(b["data"]["campaign"].is_null(), "{b}");
    let b = app
        .gql(
            Some(&other_admin),
            list,
            json!({ "r": app.region_id(TOWNSHIP).to_string() }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(
            Some(&other_admin),
            list,
            json!({ "r": app.region_id("140522").to_string() }),
        )
        .await;
    assert_eq!(b["data"]["campaigns"], json!([]), "{b}");
    let b = app
        .gql(
            Some(&other_admin),
            "mutation($id: ID!) { endCampaign(id: $id) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    let b = app
        .gql(
            Some(&other_admin),
            "query($r: ID!, $c: ID) { stats(regionId: $r, from: \"2026-10-01\", to: \"2026-10-31\", campaignId: $c) { total { reports } } }",
            json!({ "r": app.region_id("140522").to_string(), "c": c["id"] }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
}
both!(scoped, campaigns_are_scoped);

/// A patrol finding by the demo inspector of `village`, now.
async fn report(app: &TestApp, village: &str) -> i64 {
    let (token, _) = app.login(&format!("demo-insp-{village}")).await;
    let (lat, lng) = village_centre(app, village);
    let b = app
        .gql(
            Some(&token),
            "mutation($i: ReportCaseInput!) { reportCase(input: $i) { id } }",
            json!({ "i": { "categoryCode": "DUST", "description": "巡查发现工地扬尘", "location": { "lat": lat, "lng": lng }, "idempotencyKey": uuid::Uuid::new_v4().to_string() } }),
        )
        .await;
    b["data"]["reportCase"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .parse()
        .unwrap()
}

/// Marks a case handled at `at` (first submission) and closed an hour later, as the
/// workflow would.
async fn handled(app: &TestApp, id: i64, at: DateTime<Utc>) {
    let c = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: case::ActiveModel = c.into();
    am.status = Set(entity::enums::CaseStatus::Closed);
    am.submitted_at = Set(Some(at));
    am.first_submitted_at = Set(Some(at));
    am.closed_at = Set(Some(at + chrono::Duration::hours(1)));
    am.update(&app.db).await.unwrap();
}

fn cell(rows: &[Vec<String>], label: &str, header: &str) -> String {
    let col = rows[0].iter().position(|h| h == header).unwrap();
    let row = rows
        .iter()
        .find(|r| r[0] == label)
        .unwrap_or_else(|| panic!("no row {label}: {rows:?}"));
    row[col].clone()
}

async fn the_campaign_report_matches_a_hand_count(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_now(t("2026-10-01 10:00"));
    let (admin, _) = app.login("demo-admin").await;
    let mut i = autumn(TOWNSHIP, &app);
    i["categoryCodes"] = json!(["DUST"]);
    i["timeLimits"] =
        json!([{ "priority": "NORMAL", "step": "HANDLE", "amount": 1, "unit": "WORKING_DAYS" }]);
    let c = created(&app, &admin, i).await;

    // Before the start, in the township: not the campaign's.
    app.set_now(t("2026-10-07 10:00"));
    report(&app, IN_A).await;
    // Thursday 8 Oct: two in village A, one in village B, one a township away.
    app.set_now(t("2026-10-08 10:00"));
    let a1 = report(&app, IN_A).await;
    let _a2 = report(&app, IN_A).await;
    let _b1 = report(&app, IN_B).await;
    report(&app, OUTSIDE).await;
    // Friday 9 Oct: one more in village A.
    app.set_now(t("2026-10-09 10:00"));
    let a3 = report(&app, IN_A).await;
    handled(&app, a1, t("2026-10-08 15:00")).await;
    handled(&app, a3, t("2026-10-09 11:00")).await;
    // Tuesday 13 Oct: A2 and B1 (due Friday 17:30) are overdue; so are the two cases
    // outside the campaign, which the report does not count.
    app.set_now(t("2026-10-13 10:00"));
    let (admin, _) = app.login("demo-admin").await;

    // Hand count of the campaign: new (上报数) 4, handled 2, overdue now 2 — all in 龙港镇.
    let q = "query($r: ID!, $c: ID, $g: StatsGroupBy) { stats(regionId: $r, from: \"2026-10-01\", to: \"2026-10-13\", groupBy: $g, campaignId: $c) { \
             total { reports handled dueToHandle overdueNow } rows { group { label day regionId } indicators { reports handled dueToHandle overdueNow } } } }";
    let county = app.region_id(COUNTY).to_string();
    let b = app
        .gql(
            Some(&admin),
            q,
            json!({ "r": county, "c": c["id"], "g": "REGION" }),
        )
        .await;
    let s = &b["data"]["stats"];
    assert_eq!(
        s["total"],
        json!({ "reports": 4, "handled": 2, "dueToHandle": 4, "overdueNow": 2 }),
        "{b}"
    );
    let rows = s["rows"].as_array().unwrap();
    let township_id = app.region_id(TOWNSHIP).to_string();
    let township = rows
        .iter()
        .find(|r| r["group"]["regionId"].as_str() == Some(township_id.as_str()))
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(
        township["indicators"],
        json!({ "reports": 4, "handled": 2, "dueToHandle": 4, "overdueNow": 2 })
    );
    for r in rows {
        if r["group"]["regionId"] != township["group"]["regionId"] {
            assert_eq!(r["indicators"]["reports"], 0, "{b}");
            assert_eq!(r["indicators"]["overdueNow"], 0, "{b}");
        }
    }
    // Without the campaign, the county counts all six reports and four overdue cases.
    let b = app
        .gql(
            Some(&admin),
            q,
            json!({ "r": county, "c": null, "g": "REGION" }),
        )
        .await;
    assert_eq!(b["data"]["stats"]["total"]["reports"], 6, "{b}");
    assert_eq!(b["data"]["stats"]["total"]["overdueNow"], 4, "{b}");

    // Per day: 8 Oct 3 new, 1 handled; 9 Oct 1 new, 1 handled, and A2 and B1 fell due.
    let b = app
        .gql(
            Some(&admin),
            q,
            json!({ "r": county, "c": c["id"], "g": "DAY" }),
        )
        .await;
    let days: Vec<(String, Value)> = b["data"]["stats"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .filter(|r| r["indicators"]["reports"] != 0 || r["indicators"]["dueToHandle"] != 0)
        .map(|r| {
            (
                r["group"]["day"].as_str().unwrap().to_owned(),
                r["indicators"].clone(),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            (
                "2026-10-08".to_owned(),
                json!({ "reports": 3, "handled": 1, "dueToHandle": 1, "overdueNow": 0 })
            ),
            (
                "2026-10-09".to_owned(),
                json!({ "reports": 1, "handled": 1, "dueToHandle": 3, "overdueNow": 0 })
            ),
        ],
        "{b}"
    );

    // The same report as an export.
    let path = format!(
        "{}/exports/stats.csv?regionId={county}&from=2026-10-01&to=2026-10-13&groupBy=REGION&campaignId={}",
        app.base,
        c["id"].as_str().unwrap()
    );
    let resp = app
        .client
        .get(&path)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.bytes().await.unwrap();
    let text = std::str::from_utf8(&body)
        .unwrap()
        .trim_start_matches('\u{feff}');
    let all: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(cell(&all, "龙港镇", "上报数"), "4", "{all:?}");
    assert_eq!(cell(&all, "龙港镇", "处置数"), "2", "{all:?}");
    assert_eq!(cell(&all, "龙港镇", "当前超期"), "2", "{all:?}");
    assert_eq!(cell(&all, "合计", "上报数"), "4", "{all:?}");
    // A campaign out of reach is refused by the export too.
    let resp = app
        .client
        .get(format!(
            "{}/exports/stats.csv?regionId={county}&from=2026-10-01&to=2026-10-13&campaignId=987654",
            app.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
both!(campaign_report, the_campaign_report_matches_a_hand_count);

/// A campaign row written straight to the database for the township of `village`, on
/// dust, for two days from 2030 on (each after the last), handling within 4 hours (for
/// probes).
pub async fn seed_campaign(app: &TestApp, village: &str) -> i64 {
    let snap = app.state.services.grid.snapshot();
    let v = snap.by_code(village).unwrap();
    let township = snap
        .ancestor_at(v, gridwatch::domain::grid::RegionLevel::Township)
        .unwrap()
        .clone();
    let dust = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq("DUST"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let admin = crate::helpers::cases::user_id(app, "demo-admin").await;
    let now = app.now();
    // Two days each, one after the other.
    let n = entity::campaign::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    let start =
        chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap() + chrono::Duration::days(3 * n as i64);
    let id = entity::campaign::ActiveModel {
        name: Set(format!("{} 扬尘专项行动", township.name)),
        region_id: Set(township.id),
        region_path: Set(township.path.clone()),
        starts_on: Set(start),
        ends_on: Set(start + chrono::Duration::days(1)),
        ended_at: Set(None),
        patrols_per_grid_per_day: Set(None),
        created_by: Set(admin),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
    .id;
    entity::campaign_category::ActiveModel {
        campaign_id: Set(id),
        category_id: Set(dust.id),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    entity::campaign_time_limit::ActiveModel {
        campaign_id: Set(id),
        priority: Set(entity::enums::Priority::Normal),
        step: Set(entity::enums::Step::Handle),
        amount: Set(4),
        unit: Set(entity::enums::LimitUnit::Hours),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    id
}
