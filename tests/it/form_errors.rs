//! Errors a form can use: a `BAD_INPUT` names the exact input path it is about, for
//! domain refusals as for the engine's own (every answer read through the harness also
//! passes `helpers::check_bad_input`).

use serde_json::{Value, json};

use crate::both;
use crate::helpers::cases::{SUBMIT_TIP, public_login, seed_case, village_centre};
use crate::helpers::{Backend, TestApp};

fn detail_and_field(b: &Value) -> (String, String) {
    let ext = &b["errors"][0]["extensions"];
    assert_eq!(ext["code"], "BAD_INPUT", "{b}");
    (
        ext["detail"].as_str().unwrap_or_default().to_owned(),
        ext["field"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn fields_name_the_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let public = public_login(&app, "o-form").await;
    let (lat, lng) = village_centre(&app, "140521100201");
    let tip = |over: Value| {
        let mut i = json!({ "categoryCode": "DUST", "description": "河边有人焚烧秸秆，浓烟很大",
            "location": { "lat": lat, "lng": lng, "coord": "WGS84" }, "idempotencyKey": "form-errors-0001" });
        for (k, v) in over.as_object().unwrap() {
            i[k] = v.clone();
        }
        i
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            tip(json!({ "location": { "lat": 999.0, "lng": lng } })),
            "INVALID_LATITUDE",
            "input.location.lat",
        ),
        (
            tip(json!({ "location": { "lat": lat, "lng": lng, "accuracyM": -1.0 } })),
            "INVALID_ACCURACY",
            "input.location.accuracyM",
        ),
        (
            tip(json!({ "categoryCode": "NO_SUCH" })),
            "UNKNOWN_CATEGORY",
            "input.categoryCode",
        ),
        (
            tip(json!({ "description": "短" })),
            "INVALID_LENGTH",
            "input.description",
        ),
        (
            tip(json!({ "phone": "12" })),
            "INVALID_PHONE",
            "input.phone",
        ),
        (
            tip(json!({ "idempotencyKey": "x" })),
            "INVALID_IDEMPOTENCY_KEY",
            "input.idempotencyKey",
        ),
        (
            tip(json!({ "location": { "lat": 10.0, "lng": 10.0 } })),
            "OUTSIDE_SERVICE_AREA",
            "input.location",
        ),
    ];
    for (input, detail, field) in cases {
        let b = app
            .gql(Some(&public), SUBMIT_TIP, json!({ "i": input }))
            .await;
        assert_eq!(detail_and_field(&b), (detail.to_owned(), field.to_owned()));
    }
    // The engine's own refusal of a wrong type names the path too.
    let b = app
        .gql(
            Some(&public),
            SUBMIT_TIP,
            json!({ "i": tip(json!({ "location": { "lat": "north", "lng": lng } })) }),
        )
        .await;
    let (detail, field) = detail_and_field(&b);
    assert_eq!(detail, "INVALID_VALUE");
    assert!(field.starts_with("input"), "{b}");

    // Photos: the declared hash and size.
    let b = app
        .gql(
            Some(&public),
            "mutation($i: RequestEvidenceUploadInput!) { requestEvidenceUpload(input: $i) { url } }",
            json!({ "i": { "trackingCode": "GW-NOPE", "phase": "BEFORE", "contentType": "image/jpeg", "byteSize": 1.5, "sha256": "zz" } }),
        )
        .await;
    assert_eq!(
        detail_and_field(&b),
        ("INVALID_SIZE".to_owned(), "input.byteSize".to_owned())
    );

    // Staff: a malformed id, a note too long, a filter date out of range, a page size.
    let (sup, _) = app.login("demo-sup-140521100").await;
    let id = seed_case(&app, "140521100201", "ASSIGNED").await;
    let b = app
        .gql(
            Some(&sup),
            "mutation { parkCase(id: \"abc\", version: 1, reason: \"等待\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        detail_and_field(&b),
        ("INVALID_ID".to_owned(), "id".to_owned())
    );
    let b = app
        .gql(
            Some(&sup),
            "mutation($id: ID!, $r: String!) { parkCase(id: $id, version: 1, reason: $r) { id } }",
            json!({ "id": id.to_string(), "r": "长".repeat(501) }),
        )
        .await;
    assert_eq!(
        detail_and_field(&b),
        ("NOTE_TOO_LONG".to_owned(), "reason".to_owned())
    );
    let b = app
        .gql(
            Some(&sup),
            "{ cases(filter: { createdFrom: \"1970-01-01T00:00:00Z\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        detail_and_field(&b),
        (
            "DATE_OUT_OF_RANGE".to_owned(),
            "filter.createdFrom".to_owned()
        )
    );
    let b = app
        .gql(
            Some(&sup),
            "{ cases(first: 0) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        detail_and_field(&b),
        ("INVALID_PAGE_SIZE".to_owned(), "first".to_owned())
    );
}
both!(form_fields, fields_name_the_input);
