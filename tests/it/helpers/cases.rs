//! Steps of the case workflow over HTTP, shared by the test modules.

use chrono::Utc;
use entity::{case, case_event};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::TestApp;

pub const CASE_FIELDS: &str = "id number version status source reworkCount escalationLevel dueAt remainingSeconds overdue parked outsideGrid \
    checkinDistanceM checkinFar extendedCount region { code } assignee { username } category { code } tipster duplicateOf { id } \
    possibleDuplicates { id } lastEvent { seq action } events { seq action fromStatus toStatus actorRole note }";

pub const SUBMIT_TIP: &str = "mutation($i: SubmitTipInput!) { submitTip(input: $i) { trackingCode tip { status township notes { text } } } }";

/// A WeChat user logged in through the stand-in: (access token, tracking helper).
pub async fn public_login(app: &TestApp, openid: &str) -> String {
    let b = app
        .graphql(
            "mutation($c: String!) { loginWithWechat(code: $c) { accessToken } }",
            json!({ "c": app.wechat_code(openid) }),
        )
        .await;
    b["data"]["loginWithWechat"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned()
}

pub fn village_centre(app: &TestApp, code: &str) -> (f64, f64) {
    app.state
        .services
        .grid
        .snapshot()
        .by_code(code)
        .unwrap()
        .centroid
        .unwrap()
}

pub async fn submit_tip(
    app: &TestApp,
    token: &str,
    category: &str,
    lat: f64,
    lng: f64,
    coord: &str,
    key: &str,
) -> Value {
    app.gql(
        Some(token),
        SUBMIT_TIP,
        json!({ "i": { "categoryCode": category, "description": "河边有人焚烧秸秆，浓烟很大", "location": { "lat": lat, "lng": lng, "coord": coord, "accuracyM": 12.0 }, "idempotencyKey": key } }),
    )
    .await
}

pub async fn get_case(app: &TestApp, token: &str, id: &Value) -> Value {
    let b = app
        .gql(
            Some(token),
            &format!("query($id: ID!) {{ case(id: $id) {{ {CASE_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    assert!(b.get("errors").is_none(), "{b}");
    b["data"]["case"].clone()
}

/// Runs a workflow mutation `name(id, version, …args)` and returns the body.
pub async fn act(
    app: &TestApp,
    token: &str,
    name: &str,
    id: &Value,
    version: &Value,
    args: &str,
    vars: Value,
) -> Value {
    let mut v = vars;
    v["id"] = id.clone();
    v["version"] = version.clone();
    let decls: String = v
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "id" && *k != "version")
        .map(|(k, val)| format!(", ${k}: {}", gql_type(k, val)))
        .collect();
    let q = format!(
        "mutation($id: ID!, $version: Int!{decls}) {{ {name}(id: $id, version: $version{args}) {{ {CASE_FIELDS} }} }}"
    );
    app.gql(Some(token), &q, v).await
}

pub fn gql_type(name: &str, v: &Value) -> &'static str {
    match (name, v) {
        ("assigneeId" | "into" | "duplicateOf", _) => "ID!",
        ("evidenceIds", _) => "[ID!]",
        ("location", _) => "LocationInput!",
        ("approve", _) => "Boolean!",
        ("reason", Value::String(s)) if s.chars().all(|c| c.is_ascii_uppercase() || c == '_') => {
            "RejectReason!"
        }
        ("until", _) => "DateTime!",
        _ => "String",
    }
}

pub async fn user_id(app: &TestApp, username: &str) -> i64 {
    entity::app_user::Entity::find()
        .filter(entity::app_user::Column::Username.eq(username))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Inserts a case in `status` in village `code` (assigned to its demo inspector unless
/// pending), with its first event, as if it had got there through the workflow.
pub async fn seed_case(app: &TestApp, code: &str, status: &str) -> i64 {
    seed_case_of(app, code, status, "DUST").await
}

/// Like [`seed_case`] in a given category.
pub async fn seed_case_of(app: &TestApp, code: &str, status: &str, category: &str) -> i64 {
    let snap = app.state.services.grid.snapshot();
    let r = snap.by_code(code).unwrap();
    let (lat, lng) = r.centroid.unwrap();
    let cat = entity::category::Entity::find()
        .filter(entity::category::Column::Code.eq(category))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let assignee = if status == "PENDING" {
        None
    } else {
        Some(user_id(app, &format!("demo-insp-{code}")).await)
    };
    let now = Utc::now();
    let c = case::ActiveModel {
        number: Set(format!(
            "R-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..20]
        )),
        source: Set(crate::helpers::closed("TASK")),
        category_id: Set(cat.id),
        title: Set("规则测试".into()),
        description: Set("规则测试案件".into()),
        status: Set(crate::helpers::closed(status)),
        priority: Set(crate::helpers::closed("NORMAL")),
        region_id: Set(r.id),
        region_path: Set(r.path.clone()),
        lat: Set(lat),
        lng: Set(lng),
        outside_grid: Set(false),
        assignee_id: Set(assignee),
        accepted_at: Set((status != "PENDING").then_some(now)),
        due_at: Set(Some(now + chrono::Duration::days(3))),
        rework_count: Set(0),
        escalation_level: Set(0),
        version: Set(1),
        parked_seconds: Set(0),
        extended_count: Set(0),
        checkin_far: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    // Confirmed photos for every phase, so the rules under test here are the workflow's
    // (the photo minimums are tested with real uploads in `evidence`).
    for phase in ["BEFORE", "DURING", "AFTER"] {
        entity::evidence::ActiveModel {
            case_id: Set(c.id),
            phase: Set(crate::helpers::closed(phase)),
            status: Set(crate::helpers::closed("CONFIRMED")),
            object_key: Set(format!("ev/seed/{}", uuid::Uuid::new_v4().simple())),
            content_type: Set("image/jpeg".into()),
            byte_size: Set(1),
            sha256: Set("0".repeat(64)),
            created_at: Set(now),
            expires_at: Set(now),
            confirmed_at: Set(Some(now)),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    case_event::ActiveModel {
        case_id: Set(c.id),
        seq: Set(1),
        actor_role: Set("SYSTEM".into()),
        action: Set("CREATE_TASK".into()),
        to_status: Set(Some(crate::helpers::closed(status))),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    c.id
}
