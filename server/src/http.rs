//! Non-GraphQL routes and the HTTP edge: health, readiness, GraphiQL, the GraphQL
//! endpoint with its error finishing, request ids and access logs.

use async_graphql::ParseRequestError;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::{AppError, Lang};
use crate::graphql::GridwatchSchema;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone)]
struct HttpState {
    app: AppState,
    schema: GridwatchSchema,
}

/// Per-request facts the resolvers may read from the GraphQL context.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id echoed in `x-request-id` and in internal error messages.
    pub request_id: String,
    /// The language of messages.
    pub lang: Lang,
}

/// All routes with their layers.
pub fn router(app: AppState, schema: GridwatchSchema) -> Router {
    let body_limit = app.config.server.body_limit_bytes;
    // The fs evidence store's signed upload/download routes (stream their own bodies).
    let storage_routes = app.storage.routes().unwrap_or_default();
    let state = HttpState { app, schema };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(storage_routes)
        .layer(DefaultBodyLimit::max(body_limit))
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
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
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
    if s.app.config.is_production() {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response()
}

async fn graphql(
    State(s): State<HttpState>,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let lang = lang(&headers);
    let request_id = request_id(&headers);
    let req = match req {
        Ok(r) => r.into_inner(),
        Err(rejection) => {
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
            return (
                status,
                Json(serde_json::json!({
                    "errors": [{ "message": message, "extensions": { "code": "BAD_INPUT" } }]
                })),
            )
                .into_response();
        }
    };
    let ctx = RequestContext {
        request_id: request_id.clone(),
        lang,
    };
    let mut resp = s.schema.execute(req.data(ctx)).await;
    finish_errors(&mut resp.errors, lang, &request_id);
    GraphQLResponse::from(resp).into_response()
}

/// Gives every error its stable code and the message in the client's language; logs
/// internal errors once, with their chain, and shows only a fixed text and request id.
pub fn finish_errors(errors: &mut [async_graphql::ServerError], lang: Lang, request_id: &str) {
    for err in errors {
        let app = err.source.clone();
        let ext = err.extensions.get_or_insert_with(Default::default);
        match app.as_deref().and_then(|s| s.downcast_ref::<AppError>()) {
            Some(app) => {
                let mut message = app.message(lang).into_owned();
                if let Some(cause) = app.cause() {
                    tracing::error!(request_id, code = app.code(), error = ?cause, "request failed");
                    message = match lang {
                        Lang::Zh => format!("{message}（请求编号 {request_id}）"),
                        Lang::En => format!("{message} (request id {request_id})"),
                    };
                    ext.set("requestId", request_id);
                }
                ext.set("code", app.code());
                if let Some(detail) = app.detail() {
                    ext.set("detail", detail);
                }
                if let AppError::RateLimited { retry_after_secs } = app {
                    ext.set("retryAfter", *retry_after_secs);
                }
                err.message = message;
            }
            None => {
                // Parse, validation and input-coercion errors from the GraphQL engine.
                if ext.get("code").is_none() {
                    ext.set("code", "BAD_INPUT");
                }
            }
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<HttpState>) -> Response {
    // Both probes at once; a hanging store must not hold the probe past its own timeout.
    let (db, storage) = tokio::join!(
        s.app.db.ping(),
        tokio::time::timeout(std::time::Duration::from_secs(5), s.app.storage.check())
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
            tracing::warn!(storage.kind = s.app.storage.kind(), error = ?e.cause(), "readiness: evidence storage unavailable");
            false
        }
        Err(_) => {
            tracing::warn!(
                storage.kind = s.app.storage.kind(),
                "readiness: evidence storage timed out"
            );
            false
        }
    };
    let body = serde_json::json!({
        "status": if db_ok && storage_ok { "ok" } else { "unavailable" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "storage": if storage_ok { "ok" } else { "unavailable" },
    });
    if db_ok && storage_ok {
        Json(body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
