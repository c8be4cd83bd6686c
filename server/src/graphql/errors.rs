//! The errors of a GraphQL answer, completed for the client: a stable code, the message
//! in the client's language, and for internal errors a request id instead of the cause.
//! Used by the HTTP edge and by the WebSocket guard alike.

use crate::error::{AppError, Lang};

/// Gives every error its stable code and the message in the client's language; logs
/// internal errors once, with their chain, and shows only a fixed text and request id.
/// Returns the longest `Retry-After` among rate-limit errors.
pub fn finish_errors(
    errors: &mut [async_graphql::ServerError],
    lang: Lang,
    request_id: &str,
) -> Option<u64> {
    let mut retry_after: Option<u64> = None;
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
                if let Some(field) = app.field() {
                    ext.set("field", field);
                }
                if !app.problems().is_empty() {
                    ext.set("problems", problems_value(app.problems(), lang));
                }
                if let AppError::RateLimited { retry_after_secs } = app {
                    ext.set("retryAfter", *retry_after_secs);
                    retry_after = Some(retry_after.unwrap_or(0).max(*retry_after_secs));
                }
                err.message = message;
            }
            None => {
                // Parse, validation and input-coercion errors from the GraphQL engine.
                if ext.get("code").is_none() {
                    ext.set("code", "BAD_INPUT");
                    match engine_input_field(&err.message) {
                        Some(field) => {
                            ext.set("detail", "INVALID_VALUE");
                            ext.set("field", field);
                        }
                        None => ext.set("detail", "INVALID_QUERY"),
                    }
                }
            }
        }
    }
    retry_after
}

/// `extensions.problems` of a refused file: `[{ row, column, detail, message }]`.
fn problems_value(problems: &[crate::error::FileProblem], lang: Lang) -> async_graphql::Value {
    async_graphql::Value::List(
        problems
            .iter()
            .map(|p| {
                let mut o = async_graphql::indexmap::IndexMap::new();
                o.insert(
                    async_graphql::Name::new("row"),
                    async_graphql::Value::from(p.row),
                );
                o.insert(
                    async_graphql::Name::new("column"),
                    p.column
                        .clone()
                        .map_or(async_graphql::Value::Null, async_graphql::Value::from),
                );
                o.insert(
                    async_graphql::Name::new("detail"),
                    async_graphql::Value::from(p.detail),
                );
                o.insert(
                    async_graphql::Name::new("message"),
                    async_graphql::Value::from(p.message.get(lang)),
                );
                async_graphql::Value::Object(o)
            })
            .collect(),
    )
}

/// The input path an engine coercion error names, e.g. `input.sha256` from
/// `Invalid value for argument "input", field "sha256" of type …`; `None` for other
/// engine errors (syntax, unknown fields, validation).
fn engine_input_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Invalid value for argument \"")?;
    let (argument, mut rest) = rest.split_once('"')?;
    let mut path = vec![argument.to_owned()];
    while let Some(after) = rest.strip_prefix(", field \"") {
        let (field, tail) = after.split_once('"')?;
        path.push(field.to_owned());
        rest = tail;
    }
    Some(path.join("."))
}
