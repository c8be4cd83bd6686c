//! Cases from discovery to closure, over HTTP on both databases.

use sea_orm::EntityTrait;
use serde_json::json;

use crate::both;
use crate::helpers::cases::{act, get_case, public_login, submit_tip, village_centre};
use crate::helpers::{Backend, TestApp, error_code};

async fn full_story(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let village = "140521101203";
    let township = "140521101";
    // The public reports through WeChat, with a GCJ-02 location from wx.getLocation.
    let public = public_login(&app, "o-story-tipster").await;
    let (lat, lng) = village_centre(&app, village);
    let (glat, glng) = gridwatch::domain::geo::wgs84_to_gcj02(lat, lng);
    let b = submit_tip(
        &app,
        &public,
        "OPEN_BURNING",
        glat,
        glng,
        "GCJ02",
        "story-tip-0001",
    )
    .await;
    let code = b["data"]["submitTip"]["trackingCode"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    assert_eq!(b["data"]["submitTip"]["tip"]["status"], "PENDING");
    assert_eq!(b["data"]["submitTip"]["tip"]["township"], "中村镇");
    // The supervisor sees it routed to the right village and dispatches it.
    let (sup, _) = app.login(&format!("demo-sup-{township}")).await;
    let list = app.gql(Some(&sup), "{ cases(filter: { status: [PENDING] }) { edges { node { id version region { code } } } } }", json!({})).await;
    let node = list["data"]["cases"]["edges"][0]["node"].clone();
    assert_eq!(node["region"]["code"], village, "{list}");
    let id = node["id"].clone();
    let (insp, _) = app.login(&format!("demo-insp-{village}")).await;
    let me = app.gql(Some(&insp), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let c = act(
        &app,
        &sup,
        "assignCase",
        &id,
        &node["version"],
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": me }),
    )
    .await;
    let c = &c["data"]["assignCase"];
    assert_eq!(c["status"], "ASSIGNED", "{c}");
    assert!(c["dueAt"].is_string());
    // The inspector sees it in their tasks, checks in on site and submits.
    let tasks = app
        .gql(
            Some(&insp),
            "{ myTasks { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(tasks["data"]["myTasks"]["edges"][0]["node"]["id"], id);
    let c = act(
        &app,
        &insp,
        "startCase",
        &id,
        &c["version"],
        ", location: $location",
        json!({ "location": { "lat": lat + 0.0003, "lng": lng } }),
    )
    .await;
    let c = &c["data"]["startCase"];
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    assert!(c["checkinDistanceM"].as_f64().unwrap() < 50.0);
    assert_eq!(c["checkinFar"], false);
    // Open burning needs a photo of the problem and one after the fix.
    let now = chrono::Utc::now();
    let shot = |dlat: f64| {
        gridwatch::domain::media::fixtures::test_jpeg(640, 480, Some((now, lat + dlat, lng)))
    };
    for (phase, bytes) in [("BEFORE", shot(0.0)), ("AFTER", shot(0.0001))] {
        let e = crate::helpers::evidence::upload_photo(&app, &insp, &id, phase, &bytes).await;
        assert_eq!(e["data"]["confirmEvidence"]["status"], "CONFIRMED", "{e}");
    }
    let c = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &c["version"],
        ", note: $note",
        json!({ "note": "已扑灭，已教育当事人" }),
    )
    .await;
    let c = &c["data"]["submitCase"];
    assert_eq!(c["status"], "SUBMITTED", "{c}");
    // The supervisor returns it once …
    let c = act(
        &app,
        &sup,
        "verifyCase",
        &id,
        &c["version"],
        ", approve: $approve, note: $note",
        json!({ "approve": false, "note": "需补充整改后照片" }),
    )
    .await;
    let c = &c["data"]["verifyCase"];
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    assert_eq!(c["reworkCount"], 1);
    // The first submission stays on record for the on-time indicators.
    let row = |app: &TestApp| {
        let db = app.db.clone();
        let case_id: i64 = id.as_str().unwrap().parse().unwrap();
        async move {
            entity::case::Entity::find_by_id(case_id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let returned = row(&app).await;
    let first = returned.first_submitted_at.expect("first submission kept");
    assert_eq!(returned.submitted_at, None);
    app.advance(chrono::Duration::minutes(5));
    let c = act(
        &app,
        &insp,
        "submitCase",
        &id,
        &c["version"],
        ", note: $note",
        json!({ "note": "已补充" }),
    )
    .await;
    assert!(c.get("errors").is_none(), "{c}");
    let again = row(&app).await;
    assert_eq!(again.first_submitted_at, Some(first));
    assert!(again.submitted_at.unwrap() > first, "{again:?}");
    let c = &c["data"]["submitCase"];
    // … then approves.
    let c = act(
        &app,
        &sup,
        "verifyCase",
        &id,
        &c["version"],
        ", approve: $approve",
        json!({ "approve": true }),
    )
    .await;
    let c = &c["data"]["verifyCase"];
    assert_eq!(c["status"], "CLOSED", "{c}");
    // The tipster follows by tracking code and rates.
    let view = app
        .gql(None, "query($c: String!) { tipByTrackingCode(code: $c) { status township canRate notes { text status } } }", json!({ "c": code.to_lowercase() }))
        .await;
    let v = &view["data"]["tipByTrackingCode"];
    assert_eq!(v["status"], "CLOSED", "{view}");
    assert_eq!(v["canRate"], true);
    let text = view.to_string();
    assert!(
        !text.contains("demo-insp") && !text.contains("演示网格员"),
        "staff name leaked: {text}"
    );
    let r = app
        .gql(Some(&public), "mutation($c: String!) { rateCase(trackingCode: $c, score: 5, comment: \"处理很及时\") { rating canRate } }", json!({ "c": code }))
        .await;
    assert_eq!(r["data"]["rateCase"]["rating"], 5, "{r}");
    let again = app
        .gql(
            Some(&public),
            "mutation($c: String!) { rateCase(trackingCode: $c, score: 1) { rating } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT");
    // The event log tells the whole story, in order, one event per version.
    let c = get_case(&app, &sup, &id).await;
    let actions: Vec<&str> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "SUBMIT_TIP",
            "ASSIGN",
            "START",
            "SUBMIT",
            "RETURN",
            "SUBMIT",
            "APPROVE",
            "RATE"
        ]
    );
    let seqs: Vec<i64> = c["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(c["version"], 8);
    assert_eq!(c["lastEvent"]["action"], "RATE");
    assert!(c["tipster"].as_str().unwrap().starts_with("举报人-"));
}
both!(story, full_story);

/// A transaction whose foreign keys are not checked (the row tests write distinct
/// values, not real references, and roll back).
async fn unchecked_txn(app: &TestApp, backend: Backend) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let txn = app.db.begin().await.unwrap();
    txn.execute_unprepared(match backend {
        Backend::Postgres => "SET LOCAL session_replication_role = replica",
        Backend::Sqlite => "PRAGMA defer_foreign_keys = ON",
    })
    .await
    .unwrap();
    txn
}

/// Case pages are read by position (`cases::rows::read`, for speed); it must read
/// exactly what sea-orm's derived decoder reads, column for column: on a row with every
/// column set to a value no other column has, and on one with every optional column
/// NULL, written by sea-orm itself. Inside a transaction that is rolled back, with the
/// foreign keys not checked (the values are distinct, not real).
async fn case_rows_read_by_position_match_the_derived_decoder(backend: Backend) {
    use chrono::{Duration, TimeZone, Utc};
    use entity::case;
    use entity::enums::{CaseSource, CaseStatus, Priority, RejectReason, TextCheck};
    use gridwatch::domain::cases::rows::{self, COLUMNS, CaseColumns};
    use sea_orm::{ActiveModelTrait, ConnectionTrait, Iterable, ModelTrait, QueryTrait};

    assert_eq!(case::Column::iter().count(), COLUMNS, "a column was added");
    for (i, c) in case::Column::iter().enumerate() {
        assert_eq!(
            c as usize, i,
            "`CaseColumns` numbers the columns in their order"
        );
    }
    let app = TestApp::spawn(backend).await;
    let id = crate::helpers::cases::seed_case(&app, "140521100201", "ASSIGNED").await;
    let txn = unchecked_txn(&app, backend).await;
    let t = |n: i64| Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + Duration::seconds(n);
    let full = case::Model {
        id,
        number: "N-0001".into(),
        tracking_code: Some("T-0002".into()),
        source: CaseSource::Patrol,
        category_id: 1003,
        title: "标题".into(),
        description: "描述".into(),
        status: CaseStatus::Submitted,
        priority: Priority::High,
        region_id: 1004,
        region_path: "/1/2/".into(),
        lat: 35.5,
        lng: 112.25,
        accuracy_m: Some(7.5),
        outside_grid: true,
        address: Some("地址".into()),
        tipster_id: Some(1005),
        reporter_id: Some(1006),
        created_by: Some(1007),
        assignee_id: Some(1008),
        site_id: Some(1009),
        duplicate_of: Some(1010),
        merged_into: Some(1011),
        reject_reason: Some(RejectReason::Duplicate),
        rework_count: 12,
        escalation_level: 13,
        version: 14,
        accepted_at: Some(t(15)),
        started_at: Some(t(16)),
        submitted_at: Some(t(17)),
        closed_at: Some(t(18)),
        first_submitted_at: Some(t(19)),
        due_at: Some(t(20)),
        onsite_due_at: Some(t(21)),
        warn_at: Some(t(22)),
        onsite_warn_at: Some(t(23)),
        text_check: Some(TextCheck::Risky),
        parked_at: Some(t(24)),
        parked_seconds: 25,
        extended_count: 26,
        checkin_lat: Some(35.25),
        checkin_lng: Some(112.125),
        checkin_distance_m: Some(29.5),
        checkin_far: true,
        rating: Some(4),
        rating_comment: Some("满意".into()),
        rated_at: Some(t(31)),
        created_at: t(32),
        updated_at: t(33),
        campaign_id: Some(1034),
    };
    let empty = case::Model {
        tracking_code: None,
        accuracy_m: None,
        address: None,
        tipster_id: None,
        reporter_id: None,
        created_by: None,
        assignee_id: None,
        site_id: None,
        duplicate_of: None,
        merged_into: None,
        reject_reason: None,
        accepted_at: None,
        started_at: None,
        submitted_at: None,
        closed_at: None,
        first_submitted_at: None,
        due_at: None,
        onsite_due_at: None,
        warn_at: None,
        onsite_warn_at: None,
        text_check: None,
        parked_at: None,
        checkin_lat: None,
        checkin_lng: None,
        checkin_distance_m: None,
        rating: None,
        rating_comment: None,
        rated_at: None,
        campaign_id: None,
        outside_grid: false,
        checkin_far: false,
        ..full.clone()
    };
    for written in [full, empty] {
        case::ActiveModel::from(written.clone())
            .reset_all()
            .update(&txn)
            .await
            .unwrap();
        let derived = case::Entity::find_by_id(id)
            .one(&txn)
            .await
            .unwrap()
            .unwrap();
        let whole = CaseColumns::ALL.select(case::Entity::find_by_id(id));
        let by_position = rows::read(
            &txn,
            whole.build(txn.get_database_backend()),
            CaseColumns::ALL,
        )
        .await
        .unwrap()
        .remove(0);
        assert_eq!(by_position, derived);
        assert_eq!(by_position, written);
        // Narrowed rows (`CaseColumns`): each selected column read from its place.
        let all: Vec<case::Column> = case::Column::iter().collect();
        let mut sets = vec![
            CaseColumns::ALL,
            CaseColumns::ID,
            CaseColumns::of(&all.iter().step_by(2).copied().collect::<Vec<_>>()),
            CaseColumns::of(&all.iter().skip(1).step_by(3).copied().collect::<Vec<_>>()),
        ];
        sets.extend(all.iter().map(|c| CaseColumns::of(&[*c])));
        for set in sets {
            let statement = set
                .select(case::Entity::find_by_id(id))
                .build(txn.get_database_backend());
            let read = rows::read(&txn, statement, set).await.unwrap();
            assert_eq!(read.len(), 1);
            for (i, c) in all.iter().enumerate() {
                assert_eq!(set.has(i), set.is_all() || set.bits() & (1 << i) != 0);
                if set.has(i) {
                    assert_eq!(read[0].get(*c), written.get(*c), "{c:?} of {set:?}");
                }
            }
        }
    }
    txn.rollback().await.unwrap();
}
both!(
    case_rows_by_position,
    case_rows_read_by_position_match_the_derived_decoder
);

/// Like [`case_rows_read_by_position_match_the_derived_decoder`], for the events
/// (`cases::rows::EventRow`, the last event of each case of a page).
async fn event_rows_read_by_position_match_the_derived_decoder(backend: Backend) {
    use chrono::{TimeZone, Utc};
    use entity::case_event;
    use entity::enums::CaseStatus;
    use gridwatch::domain::cases::rows::{EVENT_COLUMNS, EventRow};
    use sea_orm::{ActiveModelTrait, ColumnTrait, Iterable, QueryFilter};

    assert_eq!(
        case_event::Column::iter().count(),
        EVENT_COLUMNS,
        "a column was added"
    );
    let app = TestApp::spawn(backend).await;
    let case_id = crate::helpers::cases::seed_case(&app, "140521100201", "ASSIGNED").await;
    let txn = unchecked_txn(&app, backend).await;
    let full = case_event::Model {
        id: 0,
        case_id,
        seq: 7,
        actor_id: Some(1003),
        actor_tipster_id: Some(1004),
        actor_role: "INSPECTOR".into(),
        action: "SUBMIT".into(),
        from_status: Some(CaseStatus::InProgress),
        to_status: Some(CaseStatus::Submitted),
        note: Some("备注".into()),
        data: Some(serde_json::json!({ "photos": [1, 2], "far": true, "by": "检查" })),
        created_at: Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 9).unwrap(),
    };
    let empty = case_event::Model {
        seq: 8,
        actor_id: None,
        actor_tipster_id: None,
        from_status: None,
        to_status: None,
        note: None,
        data: None,
        ..full.clone()
    };
    for mut written in [full, empty] {
        let mut am = case_event::ActiveModel::from(written.clone()).reset_all();
        am.id = sea_orm::ActiveValue::NotSet;
        written.id = am.insert(&txn).await.unwrap().id;
        let find = || {
            case_event::Entity::find()
                .filter(case_event::Column::CaseId.eq(case_id))
                .filter(case_event::Column::Seq.eq(written.seq))
        };
        let derived = find().one(&txn).await.unwrap().unwrap();
        let by_position = find()
            .into_model::<EventRow>()
            .one(&txn)
            .await
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(by_position, derived);
        assert_eq!(by_position, written);
    }
    txn.rollback().await.unwrap();
}
both!(
    event_rows_by_position,
    event_rows_read_by_position_match_the_derived_decoder
);

/// Lists resolve their cases (and the cases' region, category, people and events)
/// without the engine's future per field (`graphql::fast`). The same selection, with
/// fragments, type conditions, aliases, a response key asked twice, arguments and
/// `__typename`, must answer exactly as the engine answers it for `case(id)`, and keep
/// the query's key order.
async fn fast_lists_answer_as_the_engine_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = crate::helpers::cases::seed_case(&app, "140521100001", "IN_PROGRESS").await;
    let (admin, _) = app.login("demo-admin").await;
    let sel = "...C zNumber: number ... on Case { title status } ... { version } \
               r: region { code } r: region { name level __typename } \
               location(coord: GCJ02) { lat lng } remainingSeconds overdue \
               assignee { ...U } reporter { username } tipster \
               lastEvent { seq action actor { username } __typename } \
               events { seq toStatus } evidence { id } campaign { id } team { role }";
    let q = format!(
        "fragment C on Case {{ id number __typename category {{ code name __typename }} }} \
         fragment U on User {{ username name role region {{ code }} __typename }} \
         query($id: ID!) {{ list: cases(first: 5) {{ __typename pageInfo {{ hasNextPage }} \
         edges {{ __typename cursor node {{ {sel} }} }} ... on CaseConnection {{ edges {{ c2: cursor }} }} \
         nodes {{ id }} }} \
         one: case(id: $id) {{ {sel} }} }}"
    );
    let b = app
        .gql(Some(&admin), &q, json!({ "id": id.to_string() }))
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    let listed = &b["data"]["list"]["edges"][0]["node"];
    assert_eq!(listed["id"], id.to_string(), "{b}");
    assert_eq!(listed, &b["data"]["one"], "{b}");
    assert_eq!(listed["r"]["code"], "140521100001");
    assert_eq!(listed["r"]["level"], "VILLAGE");
    assert_eq!(listed["r"]["__typename"], "Region");
    assert_eq!(listed["assignee"]["username"], "demo-insp-140521100001");
    assert_eq!(listed["lastEvent"]["__typename"], "CaseEvent");
    assert_eq!(listed["team"], json!([]), "only a drawn task has a team");
    // The connection and its edges (resolved by `fast` too) answer as the engine would.
    let list = &b["data"]["list"];
    assert_eq!(list["__typename"], "CaseConnection");
    assert_eq!(list["pageInfo"]["hasNextPage"], false);
    let edge = &list["edges"][0];
    assert_eq!(edge["__typename"], "CaseEdge");
    assert!(
        edge["cursor"].is_string() && edge["cursor"] == edge["c2"],
        "{edge}"
    );
    assert_eq!(list["nodes"][0]["id"], id.to_string());

    // Key order: as asked, in the list as in the single case.
    let text = app
        .gql_text(
            Some(&admin),
            "{ cases(first: 1) { edges { node { \
             zz: number events { toStatus seq } category { name code } id } } } }",
        )
        .await;
    let at = |k: &str| text.find(k).unwrap_or_else(|| panic!("{k} in {text}"));
    assert!(at("\"zz\"") < at("\"events\"") && at("\"events\"") < at("\"category\""));
    assert!(at("\"category\"") < at("\"id\""), "{text}");
    assert!(at("\"toStatus\"") < at("\"seq\"") && at("\"name\"") < at("\"code\""));
}
both!(fast_lists, fast_lists_answer_as_the_engine_does);

/// A page reads only the columns its fields need (`Case::columns`, the rest of the row
/// left at a placeholder). Every field of `Case`, found by introspection and asked alone
/// (objects with their scalar fields), must answer through a page (`cases` as the county
/// admin, `myTasks` as the inspector) exactly as through `case(id)`, which reads the
/// whole row. The case has every column set, each to a value its placeholder is not
/// (zero, empty, null, false, the epoch, the first value of an enum), and relations
/// that exist, so a field that reads a column its page did not select answers
/// differently.
async fn narrow_pages_answer_as_the_whole_row(backend: Backend) {
    use chrono::Duration;
    use entity::case;
    use entity::enums::{CaseSource, CaseStatus, Priority, RejectReason, TextCheck};
    use sea_orm::{ActiveModelTrait, QueryOrder};
    use serde_json::Value;

    const VILLAGE: &str = "140521100201";
    let app = TestApp::spawn(backend).await;
    let other = crate::helpers::cases::seed_case(&app, VILLAGE, "ASSIGNED").await;
    let id = crate::helpers::cases::seed_case(&app, VILLAGE, "IN_PROGRESS").await;
    crate::helpers::cases::public_login(&app, "narrow-pages").await;
    let tipster = entity::tipster::Entity::find()
        .order_by_desc(entity::tipster::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let site = crate::sites::seed_site(&app, VILLAGE).await;
    let campaign = crate::campaigns::seed_campaign(&app, VILLAGE).await;
    let supervisor = crate::helpers::cases::user_id(&app, "demo-sup-140521100").await;
    let admin_id = crate::helpers::cases::user_id(&app, "demo-admin").await;
    let now = app.now();
    let t = |h: i64| now - Duration::hours(h);
    let row = case::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let set = case::Model {
        number: "N-NARROW".into(),
        tracking_code: Some("T-NARROW".into()),
        source: CaseSource::Patrol,
        title: "窄页标题".into(),
        description: "窄页描述".into(),
        status: CaseStatus::InProgress,
        priority: Priority::High,
        accuracy_m: Some(7.5),
        outside_grid: true,
        address: Some("窄页地址".into()),
        tipster_id: Some(tipster),
        reporter_id: Some(supervisor),
        created_by: Some(admin_id),
        site_id: Some(site),
        duplicate_of: Some(other),
        merged_into: Some(other),
        reject_reason: Some(RejectReason::Duplicate),
        rework_count: 2,
        escalation_level: 1,
        version: 9,
        accepted_at: Some(t(30)),
        started_at: Some(t(29)),
        submitted_at: Some(t(28)),
        closed_at: Some(t(27)),
        first_submitted_at: Some(t(26)),
        // Parked: its clock is stopped, so `remainingSeconds` does not move between the
        // two readings.
        due_at: Some(now + Duration::hours(50)),
        onsite_due_at: Some(now + Duration::hours(20)),
        warn_at: Some(now + Duration::hours(40)),
        onsite_warn_at: Some(now + Duration::hours(10)),
        text_check: Some(TextCheck::Risky),
        parked_at: Some(t(2)),
        parked_seconds: 25,
        extended_count: 3,
        checkin_lat: Some(row.lat + 0.001),
        checkin_lng: Some(row.lng + 0.001),
        checkin_distance_m: Some(29.5),
        checkin_far: true,
        rating: Some(4),
        rating_comment: Some("满意".into()),
        rated_at: Some(t(25)),
        created_at: t(40),
        updated_at: t(1),
        campaign_id: Some(campaign),
        ..row
    };
    case::ActiveModel::from(set)
        .reset_all()
        .update(&app.db)
        .await
        .unwrap();

    // The fields of `Case`, each with what to select under it.
    let (admin, _) = app.login("demo-admin").await;
    let (inspector, _) = app.login(&format!("demo-insp-{VILLAGE}")).await;
    let intro = |name: &str| {
        format!(
            "{{ __type(name: \"{name}\") {{ fields {{ name args {{ type {{ kind }} }} \
             type {{ kind name ofType {{ kind name ofType {{ kind name ofType {{ kind name }} }} }} }} }} }} }}"
        )
    };
    let named = |ty: &Value| {
        let mut ty = ty;
        while ty["name"].is_null() {
            ty = &ty["ofType"];
        }
        (
            ty["kind"].as_str().unwrap().to_owned(),
            ty["name"].as_str().unwrap().to_owned(),
        )
    };
    let required_args = |f: &Value| {
        f["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"]["kind"] == "NON_NULL")
    };
    let fields = app.gql(Some(&admin), &intro("Case"), json!({})).await;
    let fields = fields["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .clone();
    assert!(fields.len() > 40, "{fields:?}");
    let id_text = id.to_string();
    let mut asked = 0;
    for f in &fields {
        let name = f["name"].as_str().unwrap();
        assert!(!required_args(f), "{name} takes a required argument");
        let (kind, ty) = named(&f["type"]);
        let selection = if kind == "OBJECT" {
            let sub = app.gql(Some(&admin), &intro(&ty), json!({})).await;
            // Scalars of the related object; not the ones that read the wall clock or
            // sign a link (they could differ between two readings).
            let leaves: Vec<String> = sub["data"]["__type"]["fields"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| !required_args(g))
                .filter(|g| matches!(named(&g["type"]).0.as_str(), "SCALAR" | "ENUM"))
                .map(|g| g["name"].as_str().unwrap().to_owned())
                .filter(|g| !matches!(g.as_str(), "remainingSeconds" | "overdue" | "url"))
                .collect();
            assert!(!leaves.is_empty(), "{ty}");
            format!("{name} {{ __typename {} }}", leaves.join(" "))
        } else {
            name.to_owned()
        };
        for (who, token, page) in [
            ("admin", &admin, "cases(first: 10) { nodes { id SEL } }"),
            (
                "inspector",
                &inspector,
                "myTasks(first: 10) { edges { node { id SEL } } }",
            ),
        ] {
            let q = format!(
                "query($id: ID!) {{ list: {} one: case(id: $id) {{ {selection} }} }}",
                page.replace("SEL", &selection)
            );
            let b = app
                .gql(Some(token), &q, json!({ "id": id.to_string() }))
                .await;
            assert!(b.get("errors").is_none(), "{who} {name}: {b}");
            let list = &b["data"]["list"];
            let nodes: Vec<&Value> = match list["nodes"].as_array() {
                Some(n) => n.iter().collect(),
                None => list["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| &e["node"])
                    .collect(),
            };
            let node = nodes
                .iter()
                .find(|n| n["id"].as_str() == Some(id_text.as_str()))
                .unwrap_or_else(|| panic!("{who} {name}: the case is on the page: {b}"));
            let one = &b["data"]["one"];
            assert!(one.is_object(), "{who} {name}: {b}");
            assert_eq!(node[name], one[name], "{who}: {name} through a page");
            asked += 1;
        }
    }
    assert_eq!(asked, 2 * fields.len());
    // The values are the row's, not placeholders (a few, read back as the app sees them).
    let b = app
        .gql(
            Some(&admin),
            "{ cases(first: 10) { nodes { number source priority outsideGrid parkedSeconds \
             category { code } tipster campaign { id } siteId } } }",
            json!({}),
        )
        .await;
    let node = b["data"]["cases"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["number"] == "N-NARROW")
        .unwrap_or_else(|| panic!("{b}"))
        .clone();
    assert_eq!(node["source"], "PATROL");
    assert_eq!(node["priority"], "HIGH");
    assert_eq!(node["outsideGrid"], true);
    assert_eq!(node["parkedSeconds"], 25);
    assert_eq!(node["category"]["code"], "DUST");
    assert!(node["tipster"].is_string(), "{node}");
    assert_eq!(node["campaign"]["id"], campaign.to_string());
    assert_eq!(node["siteId"], site.to_string());
}
both!(narrow_pages, narrow_pages_answer_as_the_whole_row);
