//! Open311 GeoReport v2: a second door for tip-offs, on both databases.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{act, village_centre};
use crate::helpers::{Backend, TestApp};

/// The fields the spec lists for a service request (starred ones included: we send
/// them all, null where we have nothing to say).
const REQUEST_FIELDS: &[&str] = &[
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(format!("{}/open311/v2/{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

async fn post(app: &TestApp, form: &[(&str, &str)], headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/open311/v2/requests.json", app.base))
        .form(form);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn send(app: &TestApp, form: &[(&'static str, String)]) -> (u16, Value) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post(app, &pairs, &[]).await
}

/// A spec error body: one `{code, description}` whose code is the HTTP status.
fn assert_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    let e = &body[0];
    assert_eq!(e["code"], want, "{body}");
    assert!(
        e["description"].as_str().is_some_and(|d| d.contains(" / ")),
        "description Chinese / English: {body}"
    );
}

fn assert_request_fields(r: &Value) {
    for f in REQUEST_FIELDS {
        assert!(r.get(*f).is_some(), "{f} missing in {r}");
    }
    for f in [
        "service_request_id",
        "status",
        "service_name",
        "service_code",
        "requested_datetime",
        "updated_datetime",
    ] {
        assert!(r[f].is_string(), "{f} must be a string: {r}");
    }
    assert!(r["lat"].is_f64() && r["long"].is_f64(), "{r}");
    let requested = r["requested_datetime"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(requested).is_ok() && requested.ends_with('Z'),
        "W3C datetime with zone: {requested}"
    );
}

async fn issue_key(app: &TestApp) -> String {
    let (admin, _) = app.login("demo-admin").await;
    let b = app
        .gql(
            Some(&admin),
            "mutation { createOpen311Client(name: \"城市随手拍\") { apiKey client { id name keyPrefix revokedAt } } }",
            json!({}),
        )
        .await;
    let created = &b["data"]["createOpen311Client"];
    let key = created["apiKey"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    assert!(key.starts_with(created["client"]["keyPrefix"].as_str().unwrap()));
    let list = app
        .gql(
            Some(&admin),
            "{ open311Clients { id name revokedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(
        list["data"]["open311Clients"][0]["name"], "城市随手拍",
        "{list}"
    );
    // Stored as a hash only.
    let row = entity::open311_client::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.key_hash, key);
    assert!(!row.key_hash.contains(&key));
    key
}

async fn request_follows_its_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let village = "140521101203";
    let township = "140521101";
    let key = issue_key(&app).await;

    // Discovery, services and a service definition carry the spec's fields.
    let (s, d) = get(&app, "discovery.json").await;
    assert_eq!(s, 200, "{d}");
    for f in ["changeset", "contact", "key_service", "endpoints"] {
        assert!(d.get(f).is_some(), "{f} missing in {d}");
    }
    let ep = &d["endpoints"][0];
    assert_eq!(ep["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(ep["formats"], json!(["application/json"]));
    assert!(ep["url"].as_str().unwrap().ends_with("/open311/v2"), "{d}");
    assert!(ep["type"] == "test" || ep["type"] == "production");
    let (s, services) = get(&app, "services.json").await;
    assert_eq!(s, 200);
    let burning = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "OPEN_BURNING")
        .unwrap_or_else(|| panic!("{services}"))
        .clone();
    for f in [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ] {
        assert!(burning.get(f).is_some(), "{f} missing in {burning}");
    }
    assert_eq!(burning["metadata"], false);
    assert_eq!(burning["type"], "realtime");
    let (s, def) = get(&app, "services/OPEN_BURNING.json").await;
    assert_eq!(s, 200);
    assert_eq!(
        def,
        json!({ "service_code": "OPEN_BURNING", "attributes": [] })
    );
    let (s, b) = get(&app, "services/NO_SUCH_THING.json").await;
    assert_error(s, &b, 404);

    // Without a valid key: 403; without coordinates: 400, saying why.
    let (lat, lng) = village_centre(&app, village);
    let (plat, plng) = (lat + 0.0004, lng - 0.0003);
    let (plat_s, plng_s) = (plat.to_string(), plng.to_string());
    let form = |k: &str| -> Vec<(&'static str, String)> {
        vec![
            ("api_key", k.to_owned()),
            ("service_code", "OPEN_BURNING".into()),
            ("lat", plat_s.clone()),
            ("long", plng_s.clone()),
            ("description", "村口有人焚烧垃圾，黑烟很大".into()),
            ("device_id", "device-42".into()),
            ("phone", "13800138000".into()),
            ("first_name", "李".into()),
        ]
    };
    let mut no_key = form("");
    no_key.remove(0);
    let (s, b) = send(&app, &no_key).await;
    assert_error(s, &b, 403);
    let (s, b) = send(&app, &form("o311_not-a-key")).await;
    assert_error(s, &b, 403);
    let (s, b) = post(
        &app,
        &[
            ("api_key", &key),
            ("service_code", "OPEN_BURNING"),
            ("address_string", "沁水县中村镇村口"),
            ("description", "村口有人焚烧垃圾"),
        ],
        &[],
    )
    .await;
    assert_error(s, &b, 400);
    assert!(b[0]["description"].as_str().unwrap().contains("lat"), "{b}");

    // A request is taken, and a retry of it is the same request.
    let good = form(&key);
    let (s, b) = send(&app, &good).await;
    assert_eq!(s, 200, "{b}");
    let id = b[0]["service_request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{b}"))
        .to_owned();
    assert!(b[0].get("token").is_none(), "never both id and token: {b}");
    assert!(b[0]["service_notice"].is_string());
    assert!(!b.to_string().contains("13800138000"), "phone echoed: {b}");
    let (s, again) = send(&app, &good).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        again[0]["service_request_id"], id,
        "a retry is the same request"
    );
    let cases = entity::case::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(cases.len(), 1, "a retried POST makes no second case");

    // It was routed to its village grid and appears to the supervisor.
    let (sup, _) = app.login(&format!("demo-sup-{township}")).await;
    let list = app
        .gql(
            Some(&sup),
            "{ cases(filter: { status: [PENDING] }) { edges { node { id version source region { code } tipster textCheck } } } }",
            json!({}),
        )
        .await;
    let node = list["data"]["cases"]["edges"][0]["node"].clone();
    assert_eq!(node["region"]["code"], village, "{list}");
    assert_eq!(node["source"], "OPEN311", "{list}");
    assert!(node["tipster"].as_str().unwrap().starts_with("举报人-"));
    let case_id = node["id"].clone();

    // The public reads it at the grid's level, without the reporter.
    let (s, one) = get(&app, &format!("requests/{id}.json")).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    let r = &one[0];
    assert_request_fields(r);
    assert_eq!(r["service_request_id"], id);
    assert_eq!(r["status"], "open");
    assert_eq!(r["service_code"], "OPEN_BURNING");
    let round = |x: f64| (x * 1000.0).round() / 1000.0;
    assert_eq!(r["lat"].as_f64().unwrap(), round(lat), "grid centroid: {r}");
    assert_eq!(
        r["long"].as_f64().unwrap(),
        round(lng),
        "grid centroid: {r}"
    );
    assert!(r["address"].as_str().unwrap().starts_with("中村镇"), "{r}");
    let text = one.to_string();
    for secret in ["13800138000", "device-42", "李", &plat_s, &plng_s] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // The words wait for the text check, as on PublicCase.
    assert_eq!(node["textCheck"], "PENDING", "{node}");
    assert!(r["description"].is_null(), "{r}");

    // Filters.
    let ids_of = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, open) = get(
        &app,
        "requests.json?status=open&service_code=OPEN_BURNING,DUST",
    )
    .await;
    assert_eq!(ids_of(&open), [id.as_str()]);
    let (_, closed) = get(&app, "requests.json?status=closed").await;
    assert!(ids_of(&closed).is_empty(), "{closed}");
    let (_, other) = get(&app, "requests.json?service_code=DUST").await;
    assert!(ids_of(&other).is_empty(), "{other}");
    let (_, by_id) = get(
        &app,
        &format!("requests.json?service_request_id={id},AAAA-BBBB-CCCC&status=closed"),
    )
    .await;
    assert_eq!(ids_of(&by_id), [id.as_str()], "ids override other filters");
    let (s, b) = get(&app, "requests.json?status=pending").await;
    assert_error(s, &b, 400);
    let (s, b) = get(
        &app,
        "requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-12-01T00:00:00Z",
    )
    .await;
    assert_error(s, &b, 400);
    let (s, b) = get(&app, "requests/ZZZZ-ZZZZ-ZZZZ.json").await;
    assert_error(s, &b, 404);
    let (s, b) = get(&app, "requests.xml").await;
    assert_eq!(s, 400);
    assert!(
        b.as_str()
            .unwrap()
            .contains("<errors><error><code>400</code>"),
        "{b}"
    );

    // The case is worked to closure; the request's status follows it.
    let (insp, _) = app.login(&format!("demo-insp-{village}")).await;
    let me = app.gql(Some(&insp), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    let c = act(
        &app,
        &sup,
        "assignCase",
        &case_id,
        &node["version"],
        ", assigneeId: $assigneeId",
        json!({ "assigneeId": me }),
    )
    .await;
    let c = c["data"]["assignCase"].clone();
    assert_eq!(c["status"], "ASSIGNED", "{c}");
    let (_, one) = get(&app, &format!("requests/{id}.json")).await;
    assert_eq!(one[0]["status"], "open");
    let due = chrono::DateTime::parse_from_rfc3339(c["dueAt"].as_str().unwrap()).unwrap();
    let expected =
        chrono::DateTime::parse_from_rfc3339(one[0]["expected_datetime"].as_str().unwrap())
            .unwrap();
    assert_eq!(
        expected.timestamp(),
        due.timestamp(),
        "expected_datetime is dueAt"
    );
    let c = act(
        &app,
        &insp,
        "startCase",
        &case_id,
        &c["version"],
        ", location: $location",
        json!({ "location": { "lat": lat, "lng": lng } }),
    )
    .await;
    let c = c["data"]["startCase"].clone();
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    let now = chrono::Utc::now();
    let shot = |dlat: f64| {
        gridwatch::domain::media::fixtures::test_jpeg(640, 480, Some((now, lat + dlat, lng)))
    };
    for (phase, bytes) in [("BEFORE", shot(0.0)), ("AFTER", shot(0.0001))] {
        let e = crate::helpers::evidence::upload_photo(&app, &insp, &case_id, phase, &bytes).await;
        assert_eq!(e["data"]["confirmEvidence"]["status"], "CONFIRMED", "{e}");
    }
    let c = act(
        &app,
        &insp,
        "submitCase",
        &case_id,
        &c["version"],
        ", note: $note",
        json!({ "note": "已扑灭" }),
    )
    .await;
    let c = c["data"]["submitCase"].clone();
    assert_eq!(c["status"], "SUBMITTED", "{c}");
    let (_, one) = get(&app, &format!("requests/{id}.json")).await;
    assert_eq!(one[0]["status"], "open", "submitted is not yet closed");
    let c = act(
        &app,
        &sup,
        "verifyCase",
        &case_id,
        &c["version"],
        ", approve: $approve",
        json!({ "approve": true }),
    )
    .await;
    assert_eq!(c["data"]["verifyCase"]["status"], "CLOSED", "{c}");
    let closed_at = app
        .gql(
            Some(&sup),
            "query($id: ID!) { case(id: $id) { closedAt } }",
            json!({ "id": case_id }),
        )
        .await["data"]["case"]["closedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, one) = get(&app, &format!("requests/{id}.json")).await;
    let r = &one[0];
    assert_request_fields(r);
    assert_eq!(r["status"], "closed", "{r}");
    let updated =
        chrono::DateTime::parse_from_rfc3339(r["updated_datetime"].as_str().unwrap()).unwrap();
    let closed = chrono::DateTime::parse_from_rfc3339(&closed_at).unwrap();
    assert_eq!(
        updated.timestamp(),
        closed.timestamp(),
        "updated = closed for closed"
    );
    let (_, closed) = get(&app, "requests.json?status=closed").await;
    assert_eq!(ids_of(&closed), [id.as_str()]);
    let (_, open) = get(&app, "requests.json?status=open").await;
    assert!(ids_of(&open).is_empty(), "{open}");
}
both!(request_follows_its_case, request_follows_its_case);

async fn keys_are_for_county_staff_and_revocable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (sup, _) = app.login("demo-sup-140521100").await;
    let b = app
        .gql(
            Some(&sup),
            "mutation { createOpen311Client(name: \"某应用\") { apiKey } }",
            json!({}),
        )
        .await;
    assert_eq!(crate::helpers::error_code(&b), "FORBIDDEN", "{b}");
    let key = issue_key(&app).await;
    let (lat, lng) = village_centre(&app, "140521100001");
    let (lat, lng) = (lat.to_string(), lng.to_string());
    let form = [
        ("api_key", key.as_str()),
        ("service_code", "DUST"),
        ("lat", lat.as_str()),
        ("long", lng.as_str()),
        ("description", "工地扬尘严重，没有覆盖"),
    ];
    // Two POSTs with one Idempotency-Key are one request; without a key and with the
    // same body a retry is recognised too.
    let (s, a) = post(&app, &form, &[("idempotency-key", "retry-key-0001")]).await;
    assert_eq!(s, 200, "{a}");
    let (_, b) = post(&app, &form, &[("idempotency-key", "retry-key-0001")]).await;
    assert_eq!(a[0]["service_request_id"], b[0]["service_request_id"]);
    let (s, c) = post(&app, &form, &[("idempotency-key", "retry-key-0002")]).await;
    assert_eq!(s, 200, "{c}");
    assert_ne!(a[0]["service_request_id"], c[0]["service_request_id"]);
    // The second report of the same problem is linked to the first, as through WeChat;
    // once merged, it follows the surviving case.
    let row = |code: Value| {
        let db = app.db.clone();
        async move {
            entity::case::Entity::find()
                .filter(entity::case::Column::TrackingCode.eq(code.as_str().unwrap()))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let first = row(a[0]["service_request_id"].clone()).await;
    let second = row(c[0]["service_request_id"].clone()).await;
    assert_eq!(second.duplicate_of, Some(first.id), "duplicate linking");
    let (sup, _) = app.login("demo-sup-140521100").await;
    let m = act(
        &app,
        &sup,
        "mergeCase",
        &json!(second.id.to_string()),
        &json!(second.version),
        ", into: $into",
        json!({ "into": first.id.to_string() }),
    )
    .await;
    assert!(m.get("errors").is_none(), "{m}");
    let second_id = c[0]["service_request_id"].as_str().unwrap();
    let (_, merged) = get(&app, &format!("requests/{second_id}.json")).await;
    assert_eq!(merged[0]["service_request_id"], second_id);
    assert_eq!(
        merged[0]["status"], "open",
        "follows the open survivor: {merged}"
    );
    assert!(
        merged[0]["status_notes"].as_str().unwrap().contains("合并"),
        "{merged}"
    );
    let (_, open) = get(&app, "requests.json?status=open").await;
    assert!(open.to_string().contains(second_id), "{open}");
    let (_, closed) = get(&app, "requests.json?status=closed").await;
    assert!(!closed.to_string().contains(second_id), "{closed}");
    // An unknown service is an unknown resource.
    let mut unknown = form;
    unknown[1] = ("service_code", "NO_SUCH_SERVICE");
    let (s, b) = post(&app, &unknown, &[]).await;
    assert_error(s, &b, 404);
    // Revoked: 403.
    let (admin, _) = app.login("demo-admin").await;
    let list = app
        .gql(Some(&admin), "{ open311Clients { id } }", json!({}))
        .await;
    let cid = list["data"]["open311Clients"][0]["id"].clone();
    let r = app
        .gql(
            Some(&admin),
            "mutation($id: ID!) { revokeOpen311Client(id: $id) { revokedAt } }",
            json!({ "id": cid }),
        )
        .await;
    assert!(
        r["data"]["revokeOpen311Client"]["revokedAt"].is_string(),
        "{r}"
    );
    let (s, b) = post(&app, &form, &[("idempotency-key", "retry-key-0003")]).await;
    assert_error(s, &b, 403);
}
both!(
    keys_are_for_county_staff_and_revocable,
    keys_are_for_county_staff_and_revocable
);

/// A database that is gone is a retryable 503 in the spec's format, never a 500 or a
/// client error, and shows nothing of the cause.
async fn an_outage_is_retryable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = issue_key(&app).await;
    app.db.clone().close().await.unwrap();
    for (method, path) in [
        ("GET", "services.json"),
        ("GET", "requests.json"),
        ("POST", "requests.json"),
    ] {
        let url = format!("{}/open311/v2/{path}", app.base);
        let req = match method {
            "GET" => app.client.get(url),
            _ => app.client.post(url).form(&[
                ("api_key", key.as_str()),
                ("service_code", "DUST"),
                ("lat", "35.7"),
                ("long", "112.2"),
            ]),
        };
        let r = req
            .header("x-request-id", "req-o311-outage")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(r.headers().get("retry-after").is_some(), "{method} {path}");
        let body: Value = r.json().await.unwrap();
        assert_error(status, &body, 503);
        let d = body[0]["description"].as_str().unwrap();
        assert!(d.contains("req-o311-outage"), "{d}");
        for leak in ["select", "pool", "sqlx", "closed"] {
            assert!(!d.to_lowercase().contains(leak), "`{leak}` leaked: {d}");
        }
    }
}
both!(an_outage_is_retryable, an_outage_is_retryable);

/// The limits of `submitTip` hold at this door too: per reporter, and per address.
async fn limits_are_those_of_submit_tip(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.limits.public_per_user_per_minute = 1;
        c.limits.public_per_ip_per_minute = 3;
    })
    .await;
    let key = issue_key(&app).await;
    let (lat, lng) = village_centre(&app, "140521100001");
    let (lat, lng) = (lat.to_string(), lng.to_string());
    let report = |device: &'static str, text: &'static str| {
        vec![
            ("api_key", key.clone()),
            ("service_code", "DUST".to_owned()),
            ("lat", lat.clone()),
            ("long", lng.clone()),
            ("device_id", device.to_owned()),
            ("description", text.to_owned()),
        ]
    };
    let (s, b) = send(&app, &report("phone-a", "工地扬尘严重，没有覆盖")).await;
    assert_eq!(s, 200, "{b}");
    let r = app
        .client
        .post(format!("{}/open311/v2/requests.json", app.base))
        .form(&report("phone-a", "道路扬尘很大，车辆经过尘土飞扬"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let b: Value = r.json().await.unwrap();
    assert_eq!(b[0]["code"], 429, "{b}");
    // Another reporter of the same app is not held back by the first one's limit …
    let (s, b) = send(&app, &report("phone-b", "道路扬尘很大，车辆经过尘土飞扬")).await;
    assert_eq!(s, 200, "{b}");
    // … but the address's limit (3 a minute, one spent on the refused request) holds.
    let (s, b) = send(&app, &report("phone-c", "堆场没有苫盖，风一吹全是灰")).await;
    assert_eq!(s, 429, "{b}");
}
both!(
    limits_are_those_of_submit_tip,
    limits_are_those_of_submit_tip
);
