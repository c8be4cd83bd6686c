//! The `gridwatch` binary: import-grid (all or nothing), config errors, demo refusal,
//! schema export.

use entity::region;
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;

use crate::both;
use crate::helpers::{Backend, FreshDb, TestApp, gridwatch_cmd};

type RegionRow = (String, String, String, Option<String>, bool, bool, String);

async fn region_snapshot(db: &sea_orm::DatabaseConnection) -> Vec<RegionRow> {
    region::Entity::find()
        .order_by_asc(region::Column::Code)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.code,
                r.name,
                r.path,
                r.boundary,
                r.synthetic_name,
                r.synthetic_boundary,
                r.updated_at.to_rfc3339(),
            )
        })
        .collect()
}

fn feature(code: &str, name: &str, level: &str, parent: Option<&str>, geometry: &str) -> String {
    let parent = parent.map_or("null".to_owned(), |p| format!("\"{p}\""));
    format!(
        r#"{{"type":"Feature","properties":{{"code":"{code}","name":"{name}","level":"{level}","parent_code":{parent}}},"geometry":{geometry}}}"#
    )
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

/// A small square inside 龙港镇's extent (its exact place does not matter for validation).
const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[112.20,35.70],[112.21,35.70],[112.21,35.71],[112.20,35.71],[112.20,35.70]]]}"#;

async fn import_errors_leave_the_database_unchanged(backend: Backend) {
    let fresh = FreshDb::seeded(backend).await;
    let db = fresh.connect().await;
    gridwatch::db::migrate(&db).await.unwrap();
    let before = region_snapshot(&db).await;
    assert_eq!(before.len(), 196);

    let good_new = feature(
        "140521100299",
        "新网格",
        "VILLAGE",
        Some("140521100"),
        SQUARE,
    );
    let table: Vec<(&str, String, &str)> = vec![
        (
            "non-polygon",
            collection(&[
                good_new.clone(),
                feature(
                    "140521100298",
                    "点",
                    "VILLAGE",
                    Some("140521100"),
                    r#"{"type":"Point","coordinates":[112.2,35.7]}"#,
                ),
            ]),
            "Point",
        ),
        (
            "unclosed ring",
            collection(&[feature(
                "140521100298",
                "开口",
                "VILLAGE",
                Some("140521100"),
                r#"{"type":"Polygon","coordinates":[[[112.2,35.7],[112.21,35.7],[112.21,35.71],[112.2,35.71]]]}"#,
            )]),
            "not closed",
        ),
        (
            "self-intersecting ring",
            collection(&[feature(
                "140521100298",
                "蝴蝶",
                "VILLAGE",
                Some("140521100"),
                r#"{"type":"Polygon","coordinates":[[[112.2,35.7],[112.21,35.71],[112.21,35.7],[112.2,35.71],[112.2,35.7]]]}"#,
            )]),
            "self-intersect",
        ),
        (
            "unknown parent (found only against the database, after valid rows were written)",
            collection(&[
                good_new.clone(),
                feature("140521999201", "孤儿", "VILLAGE", Some("140521999"), SQUARE),
            ]),
            "unknown parent_code 140521999",
        ),
        (
            "duplicate codes",
            collection(&[good_new.clone(), good_new.clone()]),
            "duplicate code",
        ),
        (
            "moving an existing village to another township",
            collection(&[feature(
                "140521100001",
                "柳庄社区",
                "VILLAGE",
                Some("140521101"),
                SQUARE,
            )]),
            "must start with its parent's code",
        ),
        ("not GeoJSON", "{\"hello\": ".to_owned(), "GeoJSON"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (label, text, want) in table {
        let file = dir.path().join("grid.geojson");
        std::fs::write(&file, &text).unwrap();
        let out = gridwatch_cmd(&fresh.url)
            .arg("import-grid")
            .arg(&file)
            .env("GRIDWATCH__LOG__FILTER", "error")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{label}: import succeeded");
        assert!(
            stderr.contains(want),
            "{label}: stderr lacks {want:?}:\n{stderr}"
        );
        assert!(stderr.contains("BAD_INPUT"), "{label}: {stderr}");
        assert_eq!(
            region_snapshot(&db).await,
            before,
            "{label}: database changed"
        );
    }
    db.close().await.unwrap();
}
both!(
    import_errors_change_nothing,
    import_errors_leave_the_database_unchanged
);

async fn import_replaces_boundaries_and_the_server_notices(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Give 柳庄社区 a surveyed boundary: a square around a point far from its synthetic cell
    // but inside 龙港镇 is not required; any valid polygon will do for the lookup.
    let (lat, lng) = (35.7055, 112.2055);
    let before = app
        .data(
            "query($lat: Float!, $lng: Float!) { locate(lat: $lat, lng: $lng) { name } }",
            json!({"lat": lat, "lng": lng}),
        )
        .await;
    let file = app.evidence_dir.path().join("real.geojson");
    std::fs::write(
        &file,
        collection(&[feature(
            "140521100001",
            "柳庄社区",
            "VILLAGE",
            Some("140521100"),
            SQUARE,
        )]),
    )
    .unwrap();
    let out = gridwatch_cmd(&app.fresh.url)
        .arg("import-grid")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 updated"));
    let rows = region::Entity::find().all(&app.db).await.unwrap();
    let liuzhuang = rows.iter().find(|r| r.code == "140521100001").unwrap();
    assert!(!liuzhuang.synthetic_boundary);
    // The server's index picks the change up (it checks every second in tests).
    let mut located = String::new();
    for _ in 0..50 {
        let d = app
            .data(
                "query($lat: Float!, $lng: Float!) { locate(lat: $lat, lng: $lng) { name } }",
                json!({"lat": lat, "lng": lng}),
            )
            .await;
        located = d["locate"]["name"].as_str().unwrap_or_default().to_owned();
        if located == "柳庄社区" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        located, "柳庄社区",
        "before the import the point was in {before}"
    );
    // Importing the same file again changes nothing.
    let out = gridwatch_cmd(&app.fresh.url)
        .arg("import-grid")
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 unchanged"));
}
both!(
    import_replaces_boundaries,
    import_replaces_boundaries_and_the_server_notices
);

#[test]
fn bad_config_value_names_the_variable() {
    for (var, value) in [
        ("GRIDWATCH__SERVER__ADDR", "not-an-address"),
        ("GRIDWATCH__ENV", "staging"),
        ("GRIDWATCH__STORAGE__BACKEND", "ftp"),
    ] {
        let out = gridwatch_cmd("sqlite::memory:")
            .arg("serve")
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}

#[test]
fn production_refuses_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let out = gridwatch_cmd(&url)
        .args(["serve", "--demo"])
        .env("GRIDWATCH__ENV", "production")
        .env("GRIDWATCH__SERVER__ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("production"));
}

#[test]
fn export_schema_prints_the_committed_sdl() {
    let out = gridwatch_cmd("sqlite::memory:")
        .arg("export-schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        gridwatch::graphql::sdl()
    );
}

async fn create_user_from_the_cli_while_serving(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let out = gridwatch_cmd(&app.fresh.url)
        .args([
            "create-user",
            "--username",
            "first.admin",
            "--role",
            "COUNTY_ADMIN",
            "--region",
            "140521",
        ])
        .env("GRIDWATCH_NEW_USER_PASSWORD", "Bootstrap-2026")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Bootstrap-2026"));
    let (token, _) = app.login_with("first.admin", "Bootstrap-2026").await;
    let me = app
        .gql(Some(&token), "{ me { role region { code } } }", json!({}))
        .await;
    assert_eq!(me["data"]["me"]["role"], "COUNTY_ADMIN");
    // Wrong level, unknown region, duplicate name: refused with a clear message.
    for (args, want) in [
        (
            [
                "--username",
                "x.y",
                "--role",
                "INSPECTOR",
                "--region",
                "140521",
            ],
            "VILLAGE",
        ),
        (
            [
                "--username",
                "x.y",
                "--role",
                "INSPECTOR",
                "--region",
                "999999999999",
            ],
            "NOT_FOUND",
        ),
        (
            [
                "--username",
                "first.admin",
                "--role",
                "COUNTY_ADMIN",
                "--region",
                "140521",
            ],
            "CONFLICT",
        ),
    ] {
        let out = gridwatch_cmd(&app.fresh.url)
            .arg("create-user")
            .args(args)
            .env("GRIDWATCH_NEW_USER_PASSWORD", "Bootstrap-2026")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
both!(create_user_cli, create_user_from_the_cli_while_serving);

/// `sweep-orphans --dry-run` reports and changes nothing; a negative grace is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_orphans_reports_first() {
    let fresh = FreshDb::seeded(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let out = gridwatch_cmd(&fresh.url)
        .env("GRIDWATCH__STORAGE__FS_ROOT", dir.path())
        .args(["sweep-orphans", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("would delete 0 objects"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = gridwatch_cmd(&fresh.url)
        .env("GRIDWATCH__STORAGE__FS_ROOT", dir.path())
        .args(["sweep-orphans", "--grace-hours", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
