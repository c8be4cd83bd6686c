//! The site register (监管对象): create, update, archive, list by scope, a site's case
//! history, and the all-or-nothing import from CSV and XLSX.

use std::io::Write;
use std::sync::atomic::Ordering;

use entity::supervised_site;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::village_centre;
use crate::helpers::{Backend, TestApp, check_bad_input, error_code};

const SITE_FIELDS: &str = "id name kind code riskLevel inspectEveryDays contactName contactPhone address archived region { code } location { lat lng }";

fn create_q() -> String {
    format!("mutation($i: CreateSiteInput!) {{ createSite(input: $i) {{ {SITE_FIELDS} }} }}")
}

/// A site row written straight to the database in a village (for probes).
pub async fn seed_site(app: &TestApp, village: &str) -> i64 {
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
        name: Set(format!("{village} 测试堆场")),
        kind: Set(entity::enums::SiteKind::Stockpile),
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        lat: Set(lat),
        lng: Set(lng),
        risk_level: Set(entity::enums::RiskLevel::High),
        inspect_every_days: Set(7),
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

/// Sends a file to `importSites` as a GraphQL multipart request.
pub async fn import_file(app: &TestApp, token: Option<&str>, name: &str, bytes: Vec<u8>) -> Value {
    let mime = if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv"
    };
    let body = app
        .gql_upload(
            token,
            "mutation($f: Upload!) { importSites(file: $f) { imported } }",
            json!({}),
            (name, mime, bytes),
        )
        .await;
    check_bad_input(&body);
    body
}

/// A one-sheet XLSX file with inline strings (what calamine reads from Excel and WPS).
pub fn xlsx(rows: &[Vec<&str>]) -> Vec<u8> {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, v) in row.iter().enumerate() {
            let col = char::from(b'A' + u8::try_from(c).unwrap());
            let at = format!("{col}{}", r + 1);
            if !v.is_empty() && v.parse::<f64>().is_ok() {
                sheet.push_str(&format!(r#"<c r="{at}"><v>{v}</v></c>"#));
            } else {
                sheet.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#,
                    esc(v)
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="监管对象" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned(),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn site_count(app: &TestApp) -> u64 {
    supervised_site::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

fn ids_of(b: &Value, field: &str) -> Vec<String> {
    b["data"][field]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(app: &TestApp, token: &str, village: &str, name: &str) -> Value {
    let (lat, lng) = village_centre(app, village);
    app.gql(
        Some(token),
        &create_q(),
        json!({ "i": { "name": name, "kind": "FARM", "location": { "lat": lat, "lng": lng }, "riskLevel": "HIGH", "inspectEveryDays": 14, "contactName": "王师傅", "contactPhone": "138 1234 5678" } }),
    )
    .await
}

async fn register_and_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (insp, _) = app.login("demo-insp-140521100201").await;

    // A supervisor registers sites in two villages of the township; the county admin one
    // in another township.
    let own = create(&app, &sup, "140521100201", "柳庄养殖场").await;
    let s = &own["data"]["createSite"];
    assert_eq!(s["region"]["code"], "140521100201", "{own}");
    assert_eq!(s["kind"], "FARM");
    assert_eq!(
        s["contactPhone"], "*******5678",
        "the phone is shown masked"
    );
    let own_id = s["id"].as_str().unwrap().to_owned();
    let sibling = create(&app, &sup, "140521100202", "邻村工地").await;
    let sibling_id = sibling["data"]["createSite"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let far = create(&app, &admin, "140521101201", "中村镇井场").await;
    let far_id = far["data"]["createSite"]["id"].as_str().unwrap().to_owned();

    // The phone is stored encrypted: its digits appear nowhere in the row.
    let row = supervised_site::Entity::find_by_id(own_id.parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let enc = row.contact_phone_enc.clone().unwrap();
    assert!(!enc.windows(11).any(|w| w == b"13812345678"));
    assert_eq!(row.contact_phone_last4.as_deref(), Some("5678"));
    let clear = app
        .state
        .services
        .vault
        .decrypt(&enc, gridwatch::auth::vault::aad::SITE_CONTACT_PHONE)
        .unwrap();
    assert_eq!(clear, b"13812345678");

    // Scope: the inspector sees their grid's site only, the supervisor the township's,
    // the admin the county's.
    let list = "{ sites(first: 50) { edges { node { id } } } }";
    let seen = |b: Value| ids_of(&b, "sites");
    assert_eq!(
        seen(app.gql(Some(&insp), list, json!({})).await),
        vec![own_id.clone()]
    );
    let sup_sees = seen(app.gql(Some(&sup), list, json!({})).await);
    assert_eq!(
        sup_sees,
        vec![sibling_id.clone(), own_id.clone()],
        "newest first"
    );
    let admin_sees = seen(app.gql(Some(&admin), list, json!({})).await);
    assert_eq!(
        admin_sees,
        vec![far_id.clone(), sibling_id.clone(), own_id.clone()]
    );

    let one = "query($id: ID!) { site(id: $id) { id } }";
    for (token, id, visible) in [
        (&insp, &own_id, true),
        (&insp, &sibling_id, false),
        (&sup, &far_id, false),
        (&admin, &far_id, true),
    ] {
        let b = app.gql(Some(token), one, json!({ "id": id })).await;
        assert_eq!(b["data"]["site"].is_null(), !visible, "{b}");
    }
    // Filters: kind, risk level and text; an out-of-scope region is NOT_FOUND.
    let f = "query($f: SiteFilter) { sites(filter: $f) { edges { node { id } } } }";
    let b = app
        .gql(
            Some(&admin),
            f,
            json!({ "f": { "text": "井场", "riskLevel": "HIGH" } }),
        )
        .await;
    assert_eq!(seen(b), vec![far_id.clone()]);
    let b = app
        .gql(Some(&admin), f, json!({ "f": { "kind": "OUTFALL" } }))
        .await;
    assert!(seen(b).is_empty());
    let b = app
        .gql(
            Some(&sup),
            f,
            json!({ "f": { "regionId": app.region_id("140521101201").to_string() } }),
        )
        .await;
    assert_eq!(error_code(&b), "NOT_FOUND", "{b}");
    // Keyset pages.
    let b = app
        .gql(
            Some(&admin),
            "{ sites(first: 2) { edges { cursor } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(b["data"]["sites"]["pageInfo"]["hasNextPage"], true, "{b}");
    let cursor = b["data"]["sites"]["edges"][1]["cursor"].clone();
    let b = app
        .gql(
            Some(&admin),
            "query($a: String) { sites(first: 2, after: $a) { edges { node { id } } } }",
            json!({ "a": cursor }),
        )
        .await;
    assert_eq!(seen(b), vec![own_id.clone()]);

    // Writes: inspectors read only; a supervisor cannot place a site in another
    // township; nobody outside the county.
    let b = create(&app, &insp, "140521100201", "巡查员登记").await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
    let b = create(&app, &sup, "140521101201", "越界登记").await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    assert_eq!(b["errors"][0]["extensions"]["detail"], "OUTSIDE_OWN_REGION");
    assert_eq!(b["errors"][0]["extensions"]["field"], "input.location");
    let b = app
        .gql(
            Some(&admin),
            &create_q(),
            json!({ "i": { "name": "北京某厂", "kind": "ENTERPRISE", "location": { "lat": 39.9, "lng": 116.4 }, "riskLevel": "LOW", "inspectEveryDays": 30 } }),
        )
        .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "OUTSIDE_SERVICE_AREA",
        "{b}"
    );
    assert_eq!(b["errors"][0]["extensions"]["field"], "input.location");
    let (lat, lng) = village_centre(&app, "140521100201");
    let b = app
        .gql(
            Some(&sup),
            &create_q(),
            json!({ "i": { "name": "频次有误", "kind": "FARM", "location": { "lat": lat, "lng": lng }, "riskLevel": "LOW", "inspectEveryDays": 0 } }),
        )
        .await;
    assert_eq!(
        b["errors"][0]["extensions"]["detail"], "INVALID_FREQUENCY",
        "{b}"
    );
    assert_eq!(
        b["errors"][0]["extensions"]["field"],
        "input.inspectEveryDays"
    );
    assert_eq!(
        site_count(&app).await,
        3,
        "refused writes left nothing behind"
    );
}
both!(register_and_scope_hold, register_and_scope);

async fn update_archive_and_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (insp, _) = app.login("demo-insp-140521100201").await;

    // Idempotent registration with a code.
    let (lat, lng) = village_centre(&app, "140521100201");
    let input = json!({ "i": { "name": "龙港煤场", "kind": "STOCKPILE", "code": "91140521ma0abc1234", "location": { "lat": lat, "lng": lng }, "riskLevel": "MEDIUM", "inspectEveryDays": 30, "idempotencyKey": "site-create-0001" } });
    let a = app.gql(Some(&sup), &create_q(), input.clone()).await;
    let b = app.gql(Some(&sup), &create_q(), input).await;
    let id = a["data"]["createSite"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{a}"))
        .to_owned();
    assert_eq!(
        b["data"]["createSite"]["id"], a["data"]["createSite"]["id"],
        "a retry makes no second site"
    );
    assert_eq!(a["data"]["createSite"]["code"], "91140521MA0ABC1234");
    assert_eq!(site_count(&app).await, 1);
    // The same code again is a conflict.
    let dup = app
        .gql(Some(&sup), &create_q(), json!({ "i": { "name": "另一煤场", "kind": "STOCKPILE", "code": "91140521MA0ABC1234", "location": { "lat": lat, "lng": lng }, "riskLevel": "LOW", "inspectEveryDays": 30 } }))
        .await;
    assert_eq!(error_code(&dup), "CONFLICT", "{dup}");

    // A task names the site; the site shows it in its history, and the case its site.
    let task = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id siteId } }",
            json!({ "i": { "categoryCode": "DUST", "title": "检查煤场苫盖", "description": "检查煤场是否全部苫盖", "siteId": id } }),
        )
        .await;
    let case_id = task["data"]["createTask"]["id"].clone();
    assert_eq!(task["data"]["createTask"]["siteId"], json!(id), "{task}");
    let hist = "query($id: ID!) { site(id: $id) { cases(first: 10) { edges { node { id siteId category { code } } } } } }";
    for token in [&sup, &insp] {
        let h = app.gql(Some(token), hist, json!({ "id": id })).await;
        let edges = h["data"]["site"]["cases"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{h}"));
        assert_eq!(edges.len(), 1, "{h}");
        assert_eq!(edges[0]["node"]["id"], case_id);
        assert_eq!(edges[0]["node"]["category"]["code"], "DUST");
    }

    // Update: a new location is routed again; a bad phone names its field.
    let (lat2, lng2) = village_centre(&app, "140521100202");
    let upd = "mutation($id: ID!, $i: UpdateSiteInput!) { updateSite(id: $id, input: $i) { riskLevel inspectEveryDays region { code } contactPhone name } }";
    let u = app
        .gql(Some(&sup), upd, json!({ "id": id, "i": { "riskLevel": "HIGH", "location": { "lat": lat2, "lng": lng2 }, "contactPhone": "13900001111" } }))
        .await;
    let s = &u["data"]["updateSite"];
    assert_eq!(s["riskLevel"], "HIGH", "{u}");
    assert_eq!(s["region"]["code"], "140521100202");
    assert_eq!(s["contactPhone"], "*******1111");
    assert_eq!(s["name"], "龙港煤场", "untouched fields stay");
    let u = app
        .gql(
            Some(&sup),
            upd,
            json!({ "id": id, "i": { "contactPhone": "12345" } }),
        )
        .await;
    assert_eq!(
        u["errors"][0]["extensions"]["field"], "input.contactPhone",
        "{u}"
    );
    assert_eq!(u["errors"][0]["extensions"]["detail"], "INVALID_PHONE");
    let u = app
        .gql(
            Some(&insp),
            upd,
            json!({ "id": id, "i": { "name": "改名" } }),
        )
        .await;
    assert_eq!(error_code(&u), "FORBIDDEN", "{u}");

    // Archive: gone from lists unless asked for, read-only, and no new tasks name it.
    let arch = app
        .gql(
            Some(&sup),
            "mutation($id: ID!) { archiveSite(id: $id) { archived archivedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(arch["data"]["archiveSite"]["archived"], true, "{arch}");
    let list = "query($a: Boolean) { sites(filter: { includeArchived: $a }) { edges { node { id archived } } } }";
    assert!(
        ids_of(
            &app.gql(Some(&sup), list, json!({ "a": false })).await,
            "sites"
        )
        .is_empty()
    );
    assert_eq!(
        ids_of(
            &app.gql(Some(&sup), list, json!({ "a": true })).await,
            "sites"
        ),
        vec![id.clone()]
    );
    let u = app
        .gql(
            Some(&sup),
            upd,
            json!({ "id": id, "i": { "name": "改名" } }),
        )
        .await;
    assert_eq!(error_code(&u), "INVALID_TRANSITION", "{u}");
    let t = app
        .gql(
            Some(&sup),
            "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
            json!({ "i": { "categoryCode": "DUST", "title": "再查煤场", "description": "再查煤场苫盖情况", "siteId": id } }),
        )
        .await;
    assert_eq!(error_code(&t), "NOT_FOUND", "{t}");
    // Its history stays readable.
    let h = app.gql(Some(&sup), hist, json!({ "id": id })).await;
    assert_eq!(
        h["data"]["site"]["cases"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{h}"
    );
}
both!(update_archive_and_history_hold, update_archive_and_history);

const HEADER: &str = "名称,类型,经度,纬度,风险等级,巡查频次(天),联系人,联系电话,地址";

async fn import_with_five_errors_is_refused_whole(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (lat, lng) = village_centre(&app, "140521100201");
    let good = |name: &str| format!("{name},养殖场,{lng},{lat},中,30,张三,13812345678,柳庄村东");
    let csv = [
        HEADER.to_owned(),
        good("甲养殖场"),                                     // row 2: fine
        format!("乙加油站,加油站,{lng},{lat},中,30,,,"),      // row 3: kind
        format!("丙工地,建筑工地,{lng},abc,高,7,,,"),         // row 4: latitude
        format!("丁井场,井场,{lng},{lat},极高,7,,,"),         // row 5: risk level
        format!("戊企业,企业,{lng},{lat},低,90,李四,12345,"), // row 6: phone
        good("己养殖场"),                                     // row 7: fine
        "庚排污口,排污口,116.4,39.9,高,7,,,".to_owned(),      // row 8: outside
    ]
    .join("\n");
    let b = import_file(&app, Some(&sup), "sites.csv", csv.into_bytes()).await;
    assert_eq!(error_code(&b), "BAD_INPUT", "{b}");
    let ext = &b["errors"][0]["extensions"];
    assert_eq!(ext["detail"], "INVALID_SITE_FILE");
    assert_eq!(ext["field"], "file");
    let problems = ext["problems"].as_array().unwrap_or_else(|| panic!("{b}"));
    let got: Vec<(u64, &str, &str)> = problems
        .iter()
        .map(|p| {
            (
                p["row"].as_u64().unwrap(),
                p["column"].as_str().unwrap_or(""),
                p["detail"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "类型", "UNKNOWN_SITE_KIND"),
            (4, "纬度", "INVALID_LATITUDE"),
            (5, "风险等级", "INVALID_RISK_LEVEL"),
            (6, "联系电话", "INVALID_PHONE"),
            (8, "经度/纬度", "OUTSIDE_SERVICE_AREA"),
        ],
        "{b}"
    );
    assert!(
        problems
            .iter()
            .all(|p| p["message"].as_str().is_some_and(|m| !m.is_empty()))
    );
    assert_eq!(
        site_count(&app).await,
        0,
        "nothing of a refused file is kept"
    );

    // Header problems are reported once, not on every row; English headers work.
    let b = import_file(
        &app,
        Some(&sup),
        "sites.csv",
        "name,kind,lng,面积\n甲,FARM,112.2,9\n".into(),
    )
    .await;
    let problems = b["errors"][0]["extensions"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"));
    let details: Vec<&str> = problems
        .iter()
        .map(|p| p["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        vec![
            "UNKNOWN_COLUMN",
            "MISSING_COLUMN",
            "MISSING_COLUMN",
            "MISSING_COLUMN"
        ],
        "{b}"
    );
    assert!(problems.iter().all(|p| p["row"] == 1));

    // Files that are not a table at all say so.
    for (name, bytes) in [
        ("empty.csv", Vec::new()),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest".to_vec()),
        ("broken.xlsx", b"PK\x03\x04not really a zip".to_vec()),
    ] {
        let b = import_file(&app, Some(&sup), name, bytes).await;
        let p = &b["errors"][0]["extensions"]["problems"];
        assert_eq!(p[0]["detail"], "UNREADABLE_FILE", "{name}: {b}");
    }

    // Inspectors may not import.
    let b = import_file(
        &app,
        Some(&app.login("demo-insp-140521100201").await.0),
        "s.csv",
        csv_of(&[good("甲")]),
    )
    .await;
    assert_eq!(error_code(&b), "FORBIDDEN", "{b}");
}
both!(
    import_refuses_bad_files,
    import_with_five_errors_is_refused_whole
);

fn csv_of(rows: &[String]) -> Vec<u8> {
    let mut s = HEADER.to_owned();
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.into_bytes()
}

async fn a_thousand_sites_load(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.grid.refresh_secs = 3600).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let (insp, _) = app.login("demo-insp-140521100201").await;
    // Points inside the township's village grids (their centres, where they route home).
    let snap = app.state.services.grid.snapshot();
    let villages: Vec<(String, f64, f64)> = snap
        .all()
        .iter()
        .filter(|r| r.path.starts_with("140521/140521100/") && r.centroid.is_some())
        .filter_map(|r| {
            let (lat, lng) = r.centroid?;
            let p = gridwatch::domain::geo::WgsPoint::from_client(
                lat,
                lng,
                gridwatch::domain::geo::CoordSystem::Wgs84,
            )
            .ok()?;
            (snap.locate(p)?.id == r.id).then(|| (r.code.clone(), lat, lng))
        })
        .collect();
    assert!(villages.len() >= 3, "{villages:?}");
    let kinds = ["养殖场", "建筑工地", "企业", "井场", "排污口", "堆场"];
    let rows: Vec<String> = (0..1000)
        .map(|i| {
            let (_, lat, lng) = &villages[i % villages.len()];
            format!(
                "监管对象{i:04},{},{lng},{lat},{},{},联系人{i},1390000{i:04},地址{i},91140521MA{i:08}",
                kinds[i % kinds.len()],
                ["低", "中", "高"][i % 3],
                [7, 30, 90][i % 3],
            )
        })
        .collect();
    let mut csv = format!("{HEADER},编码").into_bytes();
    for r in &rows {
        csv.push(b'\n');
        csv.extend_from_slice(r.as_bytes());
    }
    let before = app.state.sql_statements.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let b = import_file(&app, Some(&sup), "sites.csv", csv.clone()).await;
    let took = started.elapsed();
    let statements = app.state.sql_statements.load(Ordering::SeqCst) - before;
    assert_eq!(b["data"]["importSites"]["imported"], 1000, "{b}");
    assert_eq!(site_count(&app).await, 1000);
    println!("imported 1,000 sites in {took:?} with {statements} SQL statements ({backend:?})");
    assert!(statements <= 30, "1,000 rows took {statements} statements");

    // Every row landed in its village with its phone sealed; the inspector sees exactly
    // their grid's share.
    let own = app.region_id("140521100201");
    let in_own = supervised_site::Entity::find()
        .filter(supervised_site::Column::RegionId.eq(own))
        .count(&app.db)
        .await
        .unwrap();
    let expected = villages
        .iter()
        .enumerate()
        .filter(|(_, v)| v.0 == "140521100201")
        .map(|(i, _)| (0..1000).filter(|k| k % villages.len() == i).count() as u64)
        .sum::<u64>();
    assert_eq!(in_own, expected);
    let mut seen = 0u64;
    let mut after: Option<String> = None;
    loop {
        let b = app
            .gql(Some(&insp), "query($a: String) { sites(first: 100, after: $a) { edges { cursor node { region { code } } } pageInfo { hasNextPage } } }", json!({ "a": after }))
            .await;
        let edges = b["data"]["sites"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{b}"));
        assert!(
            edges
                .iter()
                .all(|e| e["node"]["region"]["code"] == "140521100201"),
            "{b}"
        );
        seen += edges.len() as u64;
        if b["data"]["sites"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = edges
            .last()
            .map(|e| e["cursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, in_own);
    let one = supervised_site::Entity::find()
        .filter(supervised_site::Column::Code.eq("91140521MA00000042"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.name, "监管对象0042");
    assert_eq!(one.contact_phone_last4.as_deref(), Some("0042"));
    assert_eq!(
        one.kind,
        entity::enums::SiteKind::Farm,
        "row 42 of six kinds in turn"
    );

    // The same file again: every code is taken now, and the file is refused whole.
    let b = import_file(&app, Some(&sup), "sites.csv", csv).await;
    let problems = b["errors"][0]["extensions"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(problems.len(), 1000);
    assert!(
        problems
            .iter()
            .all(|p| p["detail"] == "DUPLICATE_SITE_CODE" && p["column"] == "编码")
    );
    assert_eq!(site_count(&app).await, 1000);
}
both!(import_loads_a_thousand_sites, a_thousand_sites_load);

async fn xlsx_files_load_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (admin, _) = app.login("demo-admin").await;
    let (lat, lng) = village_centre(&app, "140521101201");
    let (lat, lng) = (lat.to_string(), lng.to_string());
    let header = vec![
        "name",
        "kind",
        "lng",
        "lat",
        "risk_level",
        "inspect_every_days",
        "contact_phone",
        "coord",
    ];
    let file = xlsx(&[
        header.clone(),
        vec![
            "中村镇某养殖场",
            "FARM",
            &lng,
            &lat,
            "HIGH",
            "7",
            "13812345678",
            "WGS84",
        ],
        vec!["中村镇某井场", "WELL_SITE", &lng, &lat, "LOW", "90", "", ""],
    ]);
    let b = import_file(&app, Some(&admin), "sites.xlsx", file).await;
    assert_eq!(b["data"]["importSites"]["imported"], 2, "{b}");
    let b = app
        .gql(Some(&admin), "{ sites(filter: { kind: WELL_SITE }) { edges { node { name region { code } riskLevel } } } }", json!({}))
        .await;
    assert_eq!(
        b["data"]["sites"]["edges"][0]["node"]["region"]["code"], "140521101201",
        "{b}"
    );
    // A bad cell in a spreadsheet is reported with its row as the sheet numbers it.
    let file = xlsx(&[
        header,
        vec!["好的", "FARM", &lng, &lat, "HIGH", "7", "", ""],
        vec!["坏的", "FARM", &lng, &lat, "HIGH", "七", "", ""],
    ]);
    let b = import_file(&app, Some(&admin), "sites.xlsx", file).await;
    let p = &b["errors"][0]["extensions"]["problems"];
    assert_eq!(p.as_array().map(Vec::len), Some(1), "{b}");
    assert_eq!(p[0]["row"], 3);
    assert_eq!(p[0]["column"], "inspect_every_days");
    assert_eq!(site_count(&app).await, 2);
}
both!(xlsx_import, xlsx_files_load_too);
