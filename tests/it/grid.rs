//! The grid over HTTP: the seeded tree, `locate` in both datums, bad coordinates,
//! unknown ids, categories.

use serde_json::{Value, json};

use crate::both;
use crate::helpers::{Backend, TestApp};

const TREE: &str = r#"query($id: ID) { regions(parentId: $id) { id code name level path synthetic syntheticName
    centroid { lat lng } parent { id } children { id } } }"#;

async fn county(app: &TestApp) -> Value {
    let roots = app.data(TREE, json!({})).await["regions"].clone();
    let roots = roots.as_array().unwrap();
    assert_eq!(roots.len(), 1, "{roots:?}");
    roots[0].clone()
}

async fn townships(app: &TestApp) -> Vec<Value> {
    let c = county(app).await;
    app.data(TREE, json!({ "id": c["id"] })).await["regions"]
        .as_array()
        .unwrap()
        .clone()
}

async fn seeded_tree_is_qinshui(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = county(&app).await;
    assert_eq!(c["code"], "140521");
    assert_eq!(c["name"], "沁水县");
    assert_eq!(c["level"], "COUNTY");
    assert_eq!(c["parent"], Value::Null);
    let ts = townships(&app).await;
    let names: Vec<&str> = ts.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut want = vec![
        "龙港镇",
        "中村镇",
        "郑庄镇",
        "端氏镇",
        "嘉峰镇",
        "郑村镇",
        "柿庄镇",
        "土沃乡",
        "张村乡",
        "胡底乡",
        "固县乡",
        "十里乡",
    ];
    let mut got = names.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    let longgang = ts.iter().find(|t| t["name"] == "龙港镇").unwrap();
    assert_eq!(longgang["code"], "140521100");
    assert_eq!(longgang["path"], "140521/140521100");
    let mut villages = 0;
    for t in &ts {
        assert_eq!(t["level"], "TOWNSHIP");
        assert_eq!(t["parent"]["id"], c["id"]);
        villages += t["children"].as_array().unwrap().len();
    }
    assert_eq!(villages, 183);
    let lg_villages = app.data(TREE, json!({ "id": longgang["id"] })).await["regions"].clone();
    let liuzhuang = lg_villages
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "柳庄社区")
        .unwrap_or_else(|| panic!("柳庄社区 missing: {lg_villages}"));
    assert_eq!(liuzhuang["level"], "VILLAGE");
    assert_eq!(liuzhuang["syntheticName"], false);
    assert_eq!(liuzhuang["synthetic"], true, "its boundary is synthetic");
    assert!(
        liuzhuang["path"]
            .as_str()
            .unwrap()
            .starts_with("140521/140521100/140521100")
    );
}
both!(seeded_tree, seeded_tree_is_qinshui);

const LOCATE: &str = r#"query($lat: Float!, $lng: Float!, $coord: CoordSystem) {
    locate(lat: $lat, lng: $lng, coord: $coord) { id level name parent { id name } } }"#;

async fn township_centroids_locate_to_their_villages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for t in townships(&app).await {
        let (lat, lng) = (
            t["centroid"]["lat"].as_f64().unwrap(),
            t["centroid"]["lng"].as_f64().unwrap(),
        );
        let wgs = app.data(LOCATE, json!({ "lat": lat, "lng": lng })).await["locate"].clone();
        assert_eq!(wgs["level"], "VILLAGE", "{} → {wgs}", t["name"]);
        assert_eq!(
            wgs["parent"]["id"], t["id"],
            "{} centroid located to {wgs}",
            t["name"]
        );
        // The same place as a WeChat client reports it (GCJ-02) lands in the same grid.
        let (glat, glng) = gridwatch::domain::geo::wgs84_to_gcj02(lat, lng);
        let gcj = app
            .data(
                LOCATE,
                json!({ "lat": glat, "lng": glng, "coord": "GCJ02" }),
            )
            .await["locate"]
            .clone();
        assert_eq!(gcj["id"], wgs["id"], "GCJ-02 of {} centroid", t["name"]);
    }
}
both!(
    township_centroids_locate,
    township_centroids_locate_to_their_villages
);

async fn outside_the_county_is_null(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (lat, lng) in [
        (39.915, 116.404),
        (35.39, 112.3),
        (35.7, 111.9),
        (36.07, 112.3),
        (0.0, 0.0),
    ] {
        let d = app.data(LOCATE, json!({ "lat": lat, "lng": lng })).await;
        assert_eq!(d["locate"], Value::Null, "({lat}, {lng})");
    }
    // Just inside the corners of the extent is inside a grid.
    let d = app
        .data(LOCATE, json!({ "lat": 35.4001, "lng": 111.9168 }))
        .await;
    assert_eq!(d["locate"]["level"], "VILLAGE");
}
both!(outside_is_null, outside_the_county_is_null);

async fn bad_coordinates_are_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (lat, lng) in [
        (91.0, 112.0),
        (-90.5, 112.0),
        (35.5, 180.5),
        (35.5, -181.0),
        (1e300, 0.0),
    ] {
        let code = app
            .error_code(LOCATE, json!({ "lat": lat, "lng": lng }))
            .await;
        assert_eq!(code, "BAD_INPUT", "({lat}, {lng})");
    }
    // NaN and infinities cannot be written in JSON; as GraphQL literals they are rejected too.
    for q in [
        "{ locate(lat: NaN, lng: 112) { id } }",
        "{ locate(lat: 35.5, lng: Infinity) { id } }",
        "{ locate(lat: 35.5) { id } }",
    ] {
        assert_eq!(app.error_code(q, json!({})).await, "BAD_INPUT", "{q}");
    }
    let r = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body(r#"{"query":"query($lat: Float!){ locate(lat: $lat, lng: 112) { id } }","variables":{"lat":1e999}}"#)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(crate::helpers::error_code(&body), "BAD_INPUT", "{body}");
}
both!(bad_coordinates, bad_coordinates_are_bad_input);

async fn unknown_ids_are_null_or_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d = app
        .data("{ region(id: \"987654321\") { id } }", json!({}))
        .await;
    assert_eq!(d["region"], Value::Null);
    let code = app
        .error_code("{ regions(parentId: \"987654321\") { id } }", json!({}))
        .await;
    assert_eq!(code, "NOT_FOUND");
    for bad in ["abc", "-1", "0", "1.5", ""] {
        let code = app
            .error_code(
                "query($id: ID!) { region(id: $id) { id } }",
                json!({ "id": bad }),
            )
            .await;
        assert_eq!(code, "BAD_INPUT", "id {bad:?}");
    }
    // A real id round-trips.
    let c = county(&app).await;
    let d = app
        .data(
            "query($id: ID!) { region(id: $id) { code } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(d["region"]["code"], "140521");
}
both!(unknown_ids, unknown_ids_are_null_or_not_found);

async fn categories_are_seeded_with_limits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let d = app
        .data(
            "{ categories { id code name minPhotos { before after } timeLimits { priority step amount unit } } }",
            json!({}),
        )
        .await;
    let cats = d["categories"].as_array().unwrap();
    assert!(cats.len() >= 15, "{}", cats.len());
    for (code, name) in [
        ("OPEN_BURNING", "露天焚烧"),
        ("DUST", "扬尘"),
        ("LIVESTOCK_WASTE", "畜禽"),
    ] {
        let c = cats
            .iter()
            .find(|c| c["code"] == code)
            .unwrap_or_else(|| panic!("{code} missing"));
        assert!(c["name"].as_str().unwrap().contains(name), "{c}");
        assert_eq!(c["timeLimits"].as_array().unwrap().len(), 9, "{c}");
        assert!(c["minPhotos"]["before"].as_i64().unwrap() >= 1);
    }
    for code in ["OPEN_BURNING", "DUST"] {
        let c = cats.iter().find(|c| c["code"] == code).unwrap();
        assert!(
            c["minPhotos"]["after"].as_i64().unwrap() >= 1,
            "{code} needs an AFTER photo"
        );
    }
}
both!(categories, categories_are_seeded_with_limits);

/// Every location can be read in GCJ-02, the datum WeChat and Chinese map SDKs draw:
/// region centres and case locations, WGS-84 unless asked, each point saying its datum.
async fn locations_read_in_gcj02(backend: Backend) {
    use gridwatch::domain::geo::{gcj02_to_wgs84, wgs84_to_gcj02};
    let app = TestApp::spawn(backend).await;
    let q =
        "{ regions { centroid { lat lng coord } gcj: centroid(coord: GCJ02) { lat lng coord } } }";
    let r = app.data(q, json!({})).await;
    let county = &r["regions"][0];
    assert_eq!(county["centroid"]["coord"], "WGS84");
    assert_eq!(county["gcj"]["coord"], "GCJ02");
    let (lat, lng) = (
        county["centroid"]["lat"].as_f64().unwrap(),
        county["centroid"]["lng"].as_f64().unwrap(),
    );
    let (glat, glng) = wgs84_to_gcj02(lat, lng);
    assert!(
        (county["gcj"]["lat"].as_f64().unwrap() - glat).abs() < 1e-12,
        "{r}"
    );
    assert!(
        (county["gcj"]["lng"].as_f64().unwrap() - glng).abs() < 1e-12,
        "{r}"
    );
    assert!(
        (glng - lng).abs() > 1e-3,
        "in Shanxi the datums differ by hundreds of metres"
    );

    // A case reported from a GCJ-02 map reads back where it was put, in either datum.
    let (insp, _) = app.login("demo-insp-140521100201").await;
    let (wlat, wlng) = crate::helpers::cases::village_centre(&app, "140521100201");
    let (mlat, mlng) = wgs84_to_gcj02(wlat, wlng);
    let b = app
        .gql(
            Some(&insp),
            "mutation($i: ReportCaseInput!) { reportCase(input: $i) { location { lat lng coord } gcj: location(coord: GCJ02) { lat lng coord } } }",
            json!({ "i": { "categoryCode": "DUST", "description": "地图上点选的位置",
                "idempotencyKey": "gcj-read-0001", "location": { "lat": mlat, "lng": mlng, "coord": "GCJ02" } } }),
        )
        .await;
    let c = &b["data"]["reportCase"];
    assert_eq!(c["gcj"]["coord"], "GCJ02", "{b}");
    assert!(
        (c["gcj"]["lat"].as_f64().unwrap() - mlat).abs() < 1e-7,
        "{b}"
    );
    assert!(
        (c["gcj"]["lng"].as_f64().unwrap() - mlng).abs() < 1e-7,
        "{b}"
    );
    let (elat, elng) = gcj02_to_wgs84(mlat, mlng);
    assert!(
        (c["location"]["lat"].as_f64().unwrap() - elat).abs() < 1e-9,
        "{b}"
    );
    assert!(
        (c["location"]["lng"].as_f64().unwrap() - elng).abs() < 1e-9,
        "{b}"
    );
    assert!((elat - wlat).abs() < 1e-7 && (elng - wlng).abs() < 1e-7);
}
both!(gcj02_out, locations_read_in_gcj02);
