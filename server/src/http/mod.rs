//! Non-GraphQL routes and the HTTP edge: health, readiness, GraphiQL, the GraphQL
//! endpoint with its error finishing, Open311 GeoReport v2, request ids and access
//! logs.

use async_graphql::ParseRequestError;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::Router;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

mod exports;
mod files;
mod open311;

pub use files::routes as file_routes;

use crate::domain::access::{self, Viewer};
use crate::error::{AppError, Lang};
use crate::graphql::GuardedSchema;
use crate::graphql::RequestContext;
use crate::graphql::errors::finish_errors;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the handlers share, behind one `Arc`: axum clones the state for every request,
/// and cloning (then dropping) the dozen `Arc`s inside `AppState` and the schema one by
/// one was ~2 % of the server's CPU for an inspector's `myTasks` (perf, issue 14).
#[derive(Clone)]
struct HttpState(std::sync::Arc<Shared>);

struct Shared {
    app: AppState,
    schema: GuardedSchema,
    persisted: std::sync::Arc<crate::persisted::PersistedQueries>,
    documents: std::sync::Arc<crate::graphql::documents::Documents>,
}

impl std::ops::Deref for HttpState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// All routes with their layers.
pub fn router(app: AppState, schema: GuardedSchema) -> Router {
    let body_limit = app.config().server.body_limit_bytes;
    // A multipart request carries a photo: the photo limit plus room for the operation.
    let upload_limit = usize::try_from(app.config().evidence.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(body_limit);
    // The fs evidence store's signed upload/download routes (stream their own bodies).
    let storage_routes = app
        .services
        .storage
        .folder()
        .map(files::routes)
        .unwrap_or_default();
    let open311_routes = open311::routes(app.clone());
    let export_routes = exports::routes(app.clone());
    let persisted = std::sync::Arc::new(crate::persisted::PersistedQueries::new(
        app.config().limits.persisted_queries,
    ));
    let state = HttpState(std::sync::Arc::new(Shared {
        app,
        schema,
        persisted,
        documents: std::sync::Arc::default(),
    }));
    Router::new()
        .route(
            "/graphql",
            get(graphql_get).post(graphql).layer(axum::middleware::from_fn_with_state(
                BodyLimits {
                    plain: body_limit,
                    multipart: upload_limit,
                },
                limit_body,
            )),
        )
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(storage_routes)
        .merge(open311_routes)
        .merge(export_routes)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        // gzip or brotli when the client asks (images and tiny bodies are left alone).
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
}

/// A request id for a request that came without one: a random (v4) UUID, as
/// `tower_http`'s `MakeRequestUuid` makes, but drawn from the thread's generator
/// (seeded once from the system) rather than with a `getrandom` system call per request.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        axum::http::HeaderValue::from_str(text)
            .ok()
            .map(RequestId::new)
    }
}

#[derive(Clone, Copy)]
struct BodyLimits {
    plain: usize,
    multipart: usize,
}

fn too_large(lang: Lang, limit: usize) -> Response {
    let message = match lang {
        Lang::Zh => format!("请求体过大（最多 {limit} 字节）"),
        Lang::En => format!("request body too large (at most {limit} bytes)"),
    };
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": "BAD_INPUT", "detail": "TOO_LARGE" } }]
        })),
    )
        .into_response()
}

/// Whether an error (or one of its causes) is a body cut off at its length limit.
fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_length_limit(inner)
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Caps request bodies: GraphQL JSON at `server.body_limit_bytes`, multipart uploads at
/// the photo limit. A declared length over the cap is 413 at once; a JSON body without a
/// length (chunked) is read up to the cap and 413 beyond it; a multipart body streams
/// and is cut off at the cap (413 as well).
async fn limit_body(
    State(limits): State<BodyLimits>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let limit = if multipart {
        limits.multipart
    } else {
        limits.plain
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let lang = lang(req.headers());
    if declared.is_some_and(|n| n > limit) {
        return too_large(lang, limit);
    }
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, limit);
    let body = if multipart {
        axum::body::Body::new(limited)
    } else {
        // A JSON request is parsed whole anyway: read it here (at most `limit` bytes) so
        // that a body without a declared length gets the same 413.
        match http_body_util::BodyExt::collect(limited).await {
            Ok(collected) => axum::body::Body::from(collected.to_bytes()),
            Err(e) if is_length_limit(e.as_ref()) => return too_large(lang, limit),
            Err(e) => {
                tracing::debug!(error = %e, "request body could not be read");
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({
                        "errors": [{ "message": match lang {
                            Lang::Zh => "请求体读取失败",
                            Lang::En => "the request body could not be read",
                        }, "extensions": { "code": "BAD_INPUT", "detail": "UNREADABLE_BODY" } }]
                    })),
                )
                    .into_response();
            }
        }
    };
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

async fn graphiql(State(s): State<HttpState>) -> Response {
    if s.app.services.config.is_production() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
    .into_response()
}

/// The answer to a request that is not a GraphQL request: 413 for a body cut off at
/// its limit, 400 otherwise.
fn malformed(rejection: GraphQLRejection, lang: Lang, app: &AppState) -> Response {
    if let ParseRequestError::Io(io) = &rejection.0
        && is_length_limit(io)
    {
        return too_large(lang, app.config().evidence.max_bytes as usize);
    }
    let (status, zh, en) = match rejection.0 {
        ParseRequestError::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "请求体过大".to_owned(),
            "request body too large".to_owned(),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            format!("请求格式无效：{other}"),
            format!("malformed GraphQL request: {other}"),
        ),
    };
    let message = if lang == Lang::En { en } else { zh };
    (
        status,
        Json(serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": "BAD_INPUT", "detail": "MALFORMED_REQUEST" } }]
        })),
    )
        .into_response()
}

/// The bearer token of an `Authorization` value (`Bearer …`, either case).
fn bearer_of(v: &str) -> &str {
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .unwrap_or(v)
        .trim()
}

/// The WebSocket endpoint of subscriptions (`graphql-transport-ws`, or the older
/// `graphql-ws`). The client authenticates in `connection_init` with a payload
/// `{"authorization": "Bearer …"}` (or `{"token": "…"}`); an `Authorization` header on
/// the upgrade request is taken when the payload has none. A bad token closes the
/// socket (code 1002, reason starting with `UNAUTHENTICATED`).
async fn graphql_ws(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: async_graphql_axum::GraphQLProtocol,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Response {
    let lang = lang(&headers);
    let request_id = request_id(&headers);
    let client_ip = crate::ratelimit::client_ip(
        peer.ip(),
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &s.app.services.config.limits.trusted_proxies,
    );
    let header_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| bearer_of(v).to_owned());
    let app = s.app.clone();
    let schema = s.schema.clone();
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            async_graphql_axum::GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = ws_token(&payload).or(header_token);
                    let viewer = {
                        let svc = &app.services;
                        access::resolve(
                            &svc.db,
                            &svc.cache,
                            &svc.keys,
                            &svc.grid.snapshot(),
                            token.as_deref(),
                            svc.clock.now(),
                        )
                        .await
                    };
                    let viewer = viewer.map_err(|e| {
                        let msg = format!("{}: {}", e.code(), e.message(lang));
                        async_graphql::Error::new(msg)
                    })?;
                    let mut data = async_graphql::Data::default();
                    data.insert(RequestContext {
                        request_id,
                        lang,
                        client_ip,
                        viewer,
                        bad_token: false,
                    });
                    data.insert(crate::graphql::live::SocketToken(token));
                    Ok(data)
                })
                .serve()
        })
}

/// The token of a `connection_init` payload: `authorization` / `Authorization`
/// (`Bearer …`) or `token`.
fn ws_token(payload: &serde_json::Value) -> Option<String> {
    ["authorization", "Authorization", "token"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| bearer_of(v).to_owned())
        .filter(|v| !v.is_empty())
}

/// Who sent the request, from its bearer token: (viewer, token present but bad).
/// Errors only when the database cannot be asked.
pub(crate) async fn viewer_of(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<(Viewer, bool), AppError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let svc = &app.services;
    match access::resolve(
        &svc.db,
        &svc.cache,
        &svc.keys,
        &svc.grid.snapshot(),
        bearer,
        svc.clock.now(),
    )
    .await
    {
        Ok(v) => Ok((v, false)),
        Err(AppError::Unauthenticated) => Ok((Viewer::Anonymous, true)),
        Err(e) => Err(e),
    }
}

async fn graphql(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let req = match req {
        Ok(r) => r.into_inner(),
        Err(rejection) => return malformed(rejection, lang(&headers), &s.app),
    };
    execute(s, peer, headers, req, false).await
}

/// GET `/graphql`: a query in the URL (`query`, `variables`, `operationName`,
/// `extensions` — persisted queries send only the hash), or GraphiQL for a browser.
async fn graphql_get(
    State(s): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let q = uri.query().unwrap_or("");
    let asks = q
        .split('&')
        .any(|kv| matches!(kv.split('=').next().unwrap_or(""), "query" | "extensions"));
    if !asks {
        return graphiql(State(s)).await;
    }
    match async_graphql::http::parse_query_string(q) {
        Ok(req) => execute(s, peer, headers, req, true).await,
        Err(e) => malformed(GraphQLRejection(e), lang(&headers), &s.app),
    }
}

/// Whether the operation a request selects is a query (GET may not change anything).
/// An unparsable document passes: the engine reports it.
fn selects_a_query(req: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return true;
    };
    let op = match (&doc.operations, &req.operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    op.is_none_or(|op| op.node.ty == OperationType::Query)
}

/// An answer made only of errors, finished like any other.
fn error_answer(
    status: StatusCode,
    errors: Vec<async_graphql::ServerError>,
    lang: Lang,
    request_id: &str,
) -> Response {
    let mut errors = errors;
    finish_errors(&mut errors, lang, request_id);
    let mut http =
        GraphQLResponse::from(async_graphql::Response::from_errors(errors)).into_response();
    *http.status_mut() = status;
    http
}

fn app_error(e: AppError) -> async_graphql::ServerError {
    let mut err = async_graphql::ServerError::new("", None);
    err.source = Some(std::sync::Arc::new(e));
    err
}

/// The answer to a request that cannot run as sent (see `persisted`).
fn refused(r: crate::persisted::Refusal, lang: Lang, request_id: &str) -> Response {
    use crate::persisted::Refusal;
    let coded = |message: String, code: &str, detail: Option<&str>| {
        let mut err = async_graphql::ServerError::new(message, None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", code);
        if let Some(d) = detail {
            ext.set("detail", d);
        }
        err.extensions = Some(ext);
        err
    };
    let err = match r {
        // The exact message and code Apollo clients look for to resend with the text.
        Refusal::NotFound => coded(
            "PersistedQueryNotFound".into(),
            "PERSISTED_QUERY_NOT_FOUND",
            None,
        ),
        Refusal::NotAllowed => coded(
            match lang {
                Lang::Zh => "此操作未在应用版本中登记，服务器不执行未登记的操作".into(),
                Lang::En => {
                    "this operation is not registered; the server runs registered operations only"
                        .into()
                }
            },
            "FORBIDDEN",
            Some("OPERATION_NOT_ALLOWED"),
        ),
        Refusal::Bad(e) | Refusal::Failed(e) => app_error(e),
    };
    error_answer(StatusCode::OK, vec![err], lang, request_id)
}

/// Runs one GraphQL request: persisted queries, viewer, limits, errors, metrics.
async fn execute(
    s: HttpState,
    peer: SocketAddr,
    headers: HeaderMap,
    mut req: async_graphql::Request,
    over_get: bool,
) -> Response {
    let lang = lang(&headers);
    let request_id = request_id(&headers);
    if let Err(r) = s.persisted.resolve(&s.app.services.db, &mut req).await {
        return refused(r, lang, &request_id);
    }
    if over_get && !selects_a_query(&req) {
        let e = AppError::bad_input(
            "MUTATION_OVER_GET",
            crate::error::Msg::new(
                "GET 请求只能执行查询，变更请用 POST",
                "GET runs queries only; send mutations with POST",
            ),
        );
        let mut http = error_answer(
            StatusCode::METHOD_NOT_ALLOWED,
            vec![app_error(e)],
            lang,
            &request_id,
        );
        http.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
        return http;
    }
    let client_ip = crate::ratelimit::client_ip(
        peer.ip(),
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        &s.app.services.config.limits.trusted_proxies,
    );
    let (viewer, bad_token) = match viewer_of(&s.app, &headers).await {
        Ok(v) => v,
        Err(e) => return error_answer(StatusCode::OK, vec![app_error(e)], lang, &request_id),
    };
    let ctx = RequestContext {
        request_id: request_id.clone(),
        lang,
        client_ip,
        viewer,
        bad_token,
    };
    let loaders = crate::graphql::loaders::Loaders::new(&s.app.services.db, &s.app.services.cache);
    let operation = operation_label(&req);
    let doc = s.documents.prepare(&mut req);
    let started = std::time::Instant::now();
    let mut resp = s.schema.run(req.data(ctx).data(loaders), doc).await;
    let retry_after = finish_errors(&mut resp.errors, lang, &request_id);
    let code = resp
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .and_then(|c| match c {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "OK".to_owned());
    crate::observe::graphql_request(&operation, &code, started.elapsed());
    let mut http = answer(resp, s.app.services.config.limits.max_response_bytes, lang);
    if let Some(secs) = retry_after {
        *http.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
            http.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    http
}

/// The HTTP answer of a GraphQL response, serialised once (as `GraphQLResponse` would:
/// same body, content type and headers). An answer whose JSON is larger than `max`
/// bytes is replaced by a `BAD_INPUT` (`RESPONSE_TOO_LARGE`) error: the cost model
/// refuses such queries before they run; this is the second line of defence.
fn answer(resp: async_graphql::Response, max: usize, lang: Lang) -> Response {
    let body = match serde_json::to_vec(&resp) {
        Ok(bytes) if bytes.len() <= max => bytes,
        Ok(bytes) => {
            let size = bytes.len();
            tracing::warn!(
                size_bytes = size,
                limit_bytes = max,
                "answer too large; refused"
            );
            return GraphQLResponse::from(answer_too_large(size, max, lang)).into_response();
        }
        // Not reachable for values the engine builds; answered like the engine would.
        Err(_) => return GraphQLResponse::from(resp).into_response(),
    };
    let mut http = Response::new(axum::body::Body::from(body));
    http.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/graphql-response+json"),
    );
    if resp.is_ok()
        && let Some(cache_control) = resp.cache_control.value()
        && let Ok(value) = header::HeaderValue::from_str(&cache_control)
    {
        http.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    http.headers_mut().extend(resp.http_headers);
    http
}

/// The error that replaces an answer of `size` bytes, over `max`.
fn answer_too_large(size: usize, max: usize, lang: Lang) -> async_graphql::Response {
    let (zh, en) = (
        format!("查询结果过大（{size} 字节，最多 {max} 字节），请减少字段或条数"),
        format!(
            "the answer is too large ({size} bytes, at most {max}); ask for fewer fields or items"
        ),
    );
    let mut err = async_graphql::ServerError::new(if lang == Lang::En { &en } else { &zh }, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", "BAD_INPUT");
    ext.set("detail", "RESPONSE_TOO_LARGE");
    err.extensions = Some(ext);
    async_graphql::Response::from_errors(vec![err])
}

/// Prometheus text; 404 when not enabled, 401 without the configured bearer token.
async fn metrics(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    let cfg = &s.app.config().metrics;
    if !cfg.enabled.unwrap_or(!s.app.config().is_production()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(token) = &cfg.bearer_token {
        use secrecy::ExposeSecret as _;
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(token.expose_secret()) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    match crate::observe::render(&s.app.services, s.app.hub.subscribers()).await {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(code = e.code(), error = ?e.cause(), "metrics unavailable");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// The operation a request names, or its first root field (for metrics labels).
fn operation_label(req: &async_graphql::Request) -> String {
    if let Some(name) = &req.operation_name {
        return name.chars().take(64).collect();
    }
    let q = &req.query;
    let Some(open) = q.find('{') else {
        return "unknown".into();
    };
    let name: String = q[open + 1..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<HttpState>) -> Response {
    // Both probes at once; a hanging store must not hold the probe past its own timeout.
    // A failed ping marks the pool's older connections suspect (`db::note_outage`), so
    // a second try tells a database that is down from one dead pooled connection.
    let db_ping = async {
        match s.app.services.db.ping().await {
            Ok(()) => Ok(()),
            Err(_) => {
                crate::db::note_outage();
                s.app.services.db.ping().await
            }
        }
    };
    let (db, storage) = tokio::join!(
        db_ping,
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            s.app.services.storage.check()
        )
    );
    let db_ok = match db {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            false
        }
    };
    let storage_ok = match storage {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(storage.kind = s.app.services.storage.kind(), error = ?e.cause(), "readiness: evidence storage unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(
                storage.kind = s.app.services.storage.kind(),
                "readiness: evidence storage timed out"
            );
            false
        }
    };
    let body = serde_json::json!({
        "status": if db_ok && storage_ok { "ok" } else { "unavailable" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "storage": if storage_ok { "ok" } else { "unavailable" },
        // How confirmation knows a photo's bytes: hashed on upload (folder store), verified
        // by the store (S3 that passed the checksum probe), or read whole (the others).
        "evidenceChecks": s.app.services.storage.checksums().as_str(),
    });
    if db_ok && storage_ok {
        Json(body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
