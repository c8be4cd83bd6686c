//! The one pagination helper: Relay connections with opaque keyset cursors.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::page::{Page, PageRequest};
use crate::error::{AppError, Msg};

/// Encodes a cursor for an item of `kind` with id `id`.
pub fn encode_cursor(kind: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// Decodes a cursor that must be of `kind`.
pub fn decode_cursor(kind: &str, cursor: &str) -> Result<i64, AppError> {
    let bad = || {
        AppError::bad_input(
            "INVALID_CURSOR",
            Msg::new("分页游标无效", "invalid pagination cursor"),
        )
        .at("after")
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (k, id) = text.split_once(':').ok_or_else(bad)?;
    if k != kind {
        return Err(bad());
    }
    id.parse().map_err(|_| bad())
}

/// Parses `first`/`after` for a list of `kind`, capped at `cap`.
pub fn page_request(
    kind: &str,
    first: Option<i32>,
    after: Option<String>,
    cap: usize,
) -> Result<PageRequest, AppError> {
    let after = after
        .as_deref()
        .map(|c| decode_cursor(kind, c))
        .transpose()?;
    PageRequest::new(first, after, cap)
}

/// Builds a connection from a page, with each node's id as its cursor.
pub fn connection<M, T: OutputType>(
    kind: &str,
    page: Page<M>,
    id_of: impl Fn(&M) -> i64,
    to_node: impl Fn(M) -> T,
) -> Connection<String, T> {
    let mut c = Connection::new(false, page.has_next);
    c.edges.extend(page.items.into_iter().map(|m| {
        let cursor = encode_cursor(kind, id_of(&m));
        Edge::new(cursor, to_node(m))
    }));
    c
}
