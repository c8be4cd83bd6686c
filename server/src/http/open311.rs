//! Open311 GeoReport v2 at `/open311/v2/…`: the HTTP door of `domain::open311`.
//!
//! JSON only (`.json`); `.xml` answers 400 in the spec's XML error format, and
//! discovery announces JSON alone. Errors are the spec's `[{"code", "description"}]`,
//! description Chinese first then English: 404 for an unknown resource, 403 for a
//! missing or bad `api_key`, 429 (with `Retry-After`) when rate-limited, 503 (with
//! `Retry-After`) while a dependency is down, 400 for everything else the client sent.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::domain::open311::{self as dom, NewRequest, PublicRequest, RequestQuery};
use crate::error::{AppError, Lang};
use crate::state::AppState;

/// When the contract below last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-12-04T00:00:00Z";
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// The Open311 routes, under `/open311/v2`.
pub fn routes(app: AppState) -> Router {
    let v2 = Router::new()
        .route("/{file}", get(root_get).post(create_request))
        .route("/services/{file}", get(service_definition))
        .route("/requests/{file}", get(one_request))
        .route("/tokens/{file}", get(token))
        .fallback(unknown)
        .with_state(app);
    Router::new().nest("/open311/v2", v2)
}

/// The format a path asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `name.json` → (`name`, JSON); `None` for any other suffix.
fn split(file: &str) -> Option<(&str, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    let f = match ext.to_ascii_lowercase().as_str() {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return None,
    };
    Some((stem, f))
}

/// One error in the spec's format.
fn error_body(status: StatusCode, description: &str, format: Format) -> Response {
    let code = status.as_u16();
    match format {
        Format::Json => (
            status,
            axum::Json(json!([{ "code": code, "description": description }])),
        )
            .into_response(),
        Format::Xml => {
            let d = description
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                format!(
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<errors><error><code>{code}</code><description>{d}</description></error></errors>\n"
                ),
            )
                .into_response()
        }
    }
}

fn both(e: &AppError) -> String {
    format!("{} / {}", e.message(Lang::Zh), e.message(Lang::En))
}

fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
}

/// An [`AppError`] in the spec's format; our own failures are logged once here.
fn failure(e: &AppError, headers: &HeaderMap) -> Response {
    let mut retry_after = None;
    let (status, description) = match e {
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, both(e)),
        AppError::Forbidden | AppError::Unauthenticated | AppError::BadCredentials => (
            StatusCode::FORBIDDEN,
            "api_key 缺失、无效或已吊销，无法创建请求 / invalid api_key received -- can't proceed with create_request"
                .to_owned(),
        ),
        AppError::BadInput { .. }
        | AppError::InvalidFile(_)
        | AppError::Conflict(_)
        | AppError::InvalidTransition(_) => {
            (StatusCode::BAD_REQUEST, both(e))
        }
        AppError::RateLimited { retry_after_secs } => {
            retry_after = Some(*retry_after_secs);
            (StatusCode::TOO_MANY_REQUESTS, both(e))
        }
        AppError::Unavailable(_)
        | AppError::TimedOut
        | AppError::StorageUnavailable(_)
        | AppError::UpstreamUnavailable(_)
        | AppError::Internal(_) => {
            let rid = request_id(headers);
            tracing::error!(request_id = rid, code = e.code(), error = ?e.cause(), "open311 request failed");
            let status = if matches!(e, AppError::Internal(_)) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                retry_after = Some(5);
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, format!("{}（请求编号 {rid}）", both(e)))
        }
    };
    let mut r = error_body(status, &description, Format::Json);
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn not_json(format: Option<Format>) -> Response {
    match format {
        Some(Format::Xml) => error_body(
            StatusCode::BAD_REQUEST,
            "本接口只提供 JSON 格式，请使用 .json / only JSON is offered here: use .json",
            Format::Xml,
        ),
        _ => error_body(
            StatusCode::NOT_FOUND,
            "没有这个资源 / no such resource (GeoReport v2: discovery, services, requests; .json)",
            Format::Json,
        ),
    }
}

async fn unknown() -> Response {
    not_json(None)
}

fn bad_request(zh: &str, en: &str) -> Response {
    error_body(
        StatusCode::BAD_REQUEST,
        &format!("{zh} / {en}"),
        Format::Json,
    )
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn request_json(r: PublicRequest) -> Value {
    json!({
        "service_request_id": r.service_request_id,
        "status": if r.open { "open" } else { "closed" },
        "status_notes": r.status_notes,
        "service_name": r.service_name,
        "service_code": r.service_code,
        "description": r.description,
        "agency_responsible": r.agency_responsible,
        "service_notice": Value::Null,
        "requested_datetime": time(r.requested),
        "updated_datetime": time(r.updated),
        "expected_datetime": r.expected.map(time),
        "address": r.address,
        "address_id": Value::Null,
        "zipcode": Value::Null,
        "lat": r.lat,
        "long": r.long,
        "media_url": Value::Null,
    })
}

/// The value of the last occurrence of `name` (an empty one counts as absent later).
fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `GET discovery.json | services.json | requests.json`.
async fn root_get(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some((stem, format)) = split(&file) else {
        return not_json(None);
    };
    if !matches!(stem, "discovery" | "services" | "requests") {
        return not_json(None);
    }
    if format != Format::Json {
        return not_json(Some(format));
    }
    let Ok(Query(pairs)) = query else {
        return bad_request("查询参数无法解析", "the query string cannot be read");
    };
    match stem {
        "discovery" => discovery(&app),
        "services" => match dom::services(&app.services).await {
            Ok(list) => axum::Json(
                list.into_iter()
                    .map(|s| {
                        json!({
                            "service_code": s.code,
                            "service_name": s.name,
                            "description": s.description,
                            "metadata": false,
                            "type": "realtime",
                            "keywords": "",
                            "group": "生态环境",
                        })
                    })
                    .collect::<Vec<_>>(),
            )
            .into_response(),
            Err(e) => failure(&e, &headers),
        },
        _ => {
            let q = RequestQuery {
                service_request_id: field(&pairs, "service_request_id"),
                service_code: field(&pairs, "service_code"),
                status: field(&pairs, "status"),
                start_date: field(&pairs, "start_date"),
                end_date: field(&pairs, "end_date"),
            };
            match dom::requests(&app.services, &q).await {
                Ok(list) => axum::Json(list.into_iter().map(request_json).collect::<Vec<_>>())
                    .into_response(),
                Err(e) => failure(&e, &headers),
            }
        }
    }
}

fn discovery(app: &AppState) -> Response {
    let cfg = app.config();
    axum::Json(json!({
        "changeset": CHANGESET,
        "contact": "县生态环境局网格化监管平台 / the county's environmental grid supervision office",
        "key_service": "api_key 由县级管理员（COUNTY_ADMIN）通过 createOpen311Client 签发 / api_keys are issued by county staff (COUNTY_ADMIN) with createOpen311Client",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": format!("{}/open311/v2", cfg.server.public_url()),
            "changeset": CHANGESET,
            "type": if cfg.is_production() { "production" } else { "test" },
            "formats": ["application/json"],
        }],
    }))
    .into_response()
}

/// `GET services/{code}.json`: the definition (no attributes) of a known service.
async fn service_definition(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    match split(&file) {
        Some((code, Format::Json)) => match dom::service(&app.services, code).await {
            Ok(s) => {
                axum::Json(json!({ "service_code": s.code, "attributes": [] })).into_response()
            }
            Err(e) => failure(&e, &headers),
        },
        other => not_json(other.map(|(_, f)| f)),
    }
}

/// `GET requests/{id}.json`: one request, as a one-element array.
async fn one_request(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    match split(&file) {
        Some((id, Format::Json)) => match dom::request(&app.services, id).await {
            Ok(r) => axum::Json(json!([request_json(r)])).into_response(),
            Err(e) => failure(&e, &headers),
        },
        other => not_json(other.map(|(_, f)| f)),
    }
}

/// `GET tokens/{token}.json`: every service is `realtime`, so no token is ever issued.
async fn token(Path(file): Path<String>) -> Response {
    match split(&file) {
        Some((_, Format::Json)) => error_body(
            StatusCode::NOT_FOUND,
            "没有这个 token：所有服务都即时返回 service_request_id / no such token: every service is realtime and answers with a service_request_id",
            Format::Json,
        ),
        other => not_json(other.map(|(_, f)| f)),
    }
}

/// `POST requests.json`: a tip-off through a client app.
async fn create_request(
    State(app): State<AppState>,
    Path(file): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match split(&file) {
        Some(("requests", Format::Json)) => {}
        Some(("requests", f)) => return not_json(Some(f)),
        _ => {
            return error_body(
                StatusCode::NOT_FOUND,
                "只能向 requests.json 提交 / only requests.json takes a POST",
                Format::Json,
            );
        }
    }
    let pairs = match form {
        Ok(Form(p)) => p,
        Err(_) => {
            return bad_request(
                "请求体须为 application/x-www-form-urlencoded 表单",
                "the body must be an application/x-www-form-urlencoded form",
            );
        }
    };
    // The key belongs in the form; some clients put it in the URL: both are taken.
    let api_key =
        field(&pairs, "api_key").or_else(|| query.ok().and_then(|Query(q)| field(&q, "api_key")));
    let svc = &app.services;
    let client = match dom::client_by_key(svc, api_key.as_deref()).await {
        Ok(c) => c,
        Err(e) => return failure(&e, &headers),
    };
    let req = NewRequest {
        service_code: field(&pairs, "service_code"),
        lat: field(&pairs, "lat"),
        long: field(&pairs, "long"),
        address_string: field(&pairs, "address_string"),
        address_id: field(&pairs, "address_id"),
        description: field(&pairs, "description"),
        media_url: field(&pairs, "media_url"),
        account_id: field(&pairs, "account_id"),
        device_id: field(&pairs, "device_id"),
        email: field(&pairs, "email"),
        phone: field(&pairs, "phone"),
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let client_ip = crate::ratelimit::client_ip(
        peer.ip(),
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &app.config().limits.trusted_proxies,
    );
    let result = async {
        let prepared = dom::prepare(svc, &client, req, key.as_deref()).await?;
        app.limits
            .check_public(client_ip, prepared.tipster_id())
            .await?;
        dom::submit(svc, prepared).await
    }
    .await;
    match result {
        Ok(r) => (
            StatusCode::OK,
            axum::Json(json!([{
                "service_request_id": r.service_request_id,
                "service_notice": r.service_notice,
            }])),
        )
            .into_response(),
        Err(e) => failure(&e, &headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_format() {
        assert_eq!(split("requests.json"), Some(("requests", Format::Json)));
        assert_eq!(
            split("ABCD-EFGH-JKLM.XML"),
            Some(("ABCD-EFGH-JKLM", Format::Xml))
        );
        assert_eq!(split("services.html"), None);
        assert_eq!(split("services"), None);
    }
}
