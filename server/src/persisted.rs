//! Persisted GraphQL queries: Apollo's automatic persisted queries (APQ) and an
//! allowlist of operations registered from the app builds.
//!
//! A request may carry `extensions.persistedQuery = { version: 1, sha256Hash }`:
//! - with the hash alone, the text is looked up (this process's cache, then the
//!   registered operations); unknown → `PersistedQueryNotFound`, and the client sends
//!   hash and text together, which (hash checked) runs and is remembered;
//! - in `allowlist` mode (`limits.persisted_queries = "allowlist"`, for production) only
//!   registered operations run, whether sent by hash or as text; nothing is learnt from
//!   clients.
//!
//! Learnt texts live in a bounded cache per process (as in Apollo Server): behind a load
//! balancer a hash may be unknown to the other process once, and the client resends the
//! text — the protocol's normal path. Registered operations are in the database
//! (`gridwatch register-operations FILE`), known to every process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use entity::persisted_operation;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, Msg};

/// Which operations run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Any valid operation; hashes are learnt from clients (automatic persisted queries).
    #[default]
    Apq,
    /// Only registered operations.
    Allowlist,
}

/// Most texts remembered per process.
const CACHE_ENTRIES: usize = 1_000;
/// Longest text remembered (longer ones still run when sent in full).
const CACHE_TEXT_BYTES: usize = 32 * 1024;

/// Why a request cannot run as sent.
#[derive(Debug)]
pub enum Refusal {
    /// APQ: the hash is unknown here; send hash and text.
    NotFound,
    /// Allowlist: the operation is not registered.
    NotAllowed,
    /// The request is wrong (bad version, hash mismatch…).
    Bad(AppError),
    /// The database could not be asked.
    Failed(AppError),
}

/// The persisted queries of one process.
#[derive(Debug)]
pub struct PersistedQueries {
    mode: Mode,
    cache: Mutex<HashMap<String, Arc<str>>>,
}

/// The SHA-256 of a text, lowercase hex.
pub fn hash_of(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad(detail: &'static str, zh: &'static str, en: &'static str, field: &str) -> Refusal {
    Refusal::Bad(AppError::bad_input(detail, Msg::new(zh, en)).at(field))
}

impl PersistedQueries {
    /// Persisted queries in `mode`.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    fn cached(&self, hash: &str) -> Option<Arc<str>> {
        self.cache.lock().ok()?.get(hash).cloned()
    }

    fn remember(&self, hash: String, text: Arc<str>) {
        if text.len() > CACHE_TEXT_BYTES {
            return;
        }
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_ENTRIES
                && let Some(k) = c.keys().next().cloned()
            {
                c.remove(&k);
            }
            c.insert(hash, text);
        }
    }

    async fn registered(
        &self,
        db: &DatabaseConnection,
        hash: &str,
    ) -> Result<Option<Arc<str>>, Refusal> {
        if let Some(t) = self.cached(hash) {
            return Ok(Some(t));
        }
        let row = persisted_operation::Entity::find_by_id(hash.to_owned())
            .one(db)
            .await
            .map_err(|e| Refusal::Failed(e.into()))?;
        Ok(row.map(|r| {
            let text: Arc<str> = Arc::from(r.body);
            self.remember(hash.to_owned(), Arc::clone(&text));
            text
        }))
    }

    /// Fills in the query text of `req` from its persisted-query extension, or says why
    /// it cannot run.
    pub async fn resolve(
        &self,
        db: &DatabaseConnection,
        req: &mut async_graphql::Request,
    ) -> Result<(), Refusal> {
        let declared = match req.extensions.get("persistedQuery") {
            None => None,
            Some(v) => Some(declared_hash(v)?),
        };
        let text_sent = !req.query.trim().is_empty();
        match (declared, text_sent) {
            (None, false) => Ok(()), // the engine reports the empty query
            (None, true) => match self.mode {
                Mode::Apq => Ok(()),
                Mode::Allowlist => {
                    let hash = hash_of(&req.query);
                    match self.registered(db, &hash).await? {
                        Some(_) => Ok(()),
                        None => Err(Refusal::NotAllowed),
                    }
                }
            },
            (Some(hash), false) => match self.registered(db, &hash).await? {
                Some(text) => {
                    req.query = text.to_string();
                    Ok(())
                }
                None if self.mode == Mode::Allowlist => Err(Refusal::NotAllowed),
                None => Err(Refusal::NotFound),
            },
            (Some(hash), true) => {
                if hash_of(&req.query) != hash {
                    return Err(bad(
                        "HASH_MISMATCH",
                        "persistedQuery 的 sha256Hash 与查询文本不符",
                        "persistedQuery.sha256Hash does not match the query",
                        "extensions.persistedQuery.sha256Hash",
                    ));
                }
                match self.mode {
                    Mode::Apq => {
                        if self.cached(&hash).is_none() {
                            self.remember(hash, Arc::from(req.query.as_str()));
                        }
                        Ok(())
                    }
                    Mode::Allowlist => match self.registered(db, &hash).await? {
                        Some(_) => Ok(()),
                        None => Err(Refusal::NotAllowed),
                    },
                }
            }
        }
    }
}

/// The hash of a `persistedQuery` extension (`version` 1, lowercase hex SHA-256).
fn declared_hash(v: &async_graphql::Value) -> Result<String, Refusal> {
    let invalid = || {
        bad(
            "INVALID_PERSISTED_QUERY",
            "persistedQuery 应为 { version: 1, sha256Hash: 64 位十六进制 }",
            "persistedQuery must be { version: 1, sha256Hash: 64 hex digits }",
            "extensions.persistedQuery",
        )
    };
    let async_graphql::Value::Object(o) = v else {
        return Err(invalid());
    };
    let version_ok =
        matches!(o.get("version"), Some(async_graphql::Value::Number(n)) if n.as_u64() == Some(1));
    if !version_ok {
        return Err(invalid());
    }
    match o.get("sha256Hash") {
        Some(async_graphql::Value::String(h))
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(h.to_ascii_lowercase())
        }
        _ => Err(invalid()),
    }
}

/// One operation of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Its name, if given.
    pub name: Option<String>,
    /// Its text.
    pub body: String,
}

/// Reads a manifest of operations: Apollo's persisted-query manifest (`{ "format":
/// "apollo-persisted-query-manifest", "operations": [{ "id", "name", "body" }] }`) or a
/// plain map `{ "<sha256>": "<text>" }` (Relay, graphql-codegen). Every id or key must
/// be the SHA-256 of its text.
pub fn read_manifest(json: &str) -> anyhow::Result<Vec<Operation>> {
    #[derive(Deserialize)]
    struct Entry {
        id: String,
        name: Option<String>,
        body: String,
    }
    #[derive(Deserialize)]
    struct Apollo {
        operations: Vec<Entry>,
    }
    let value: serde_json::Value = serde_json::from_str(json)?;
    let pairs: Vec<(String, Option<String>, String)> = if value.get("operations").is_some() {
        let m: Apollo = serde_json::from_value(value)?;
        m.operations
            .into_iter()
            .map(|e| (e.id, e.name, e.body))
            .collect()
    } else {
        let m: HashMap<String, String> = serde_json::from_value(value)?;
        m.into_iter().map(|(k, v)| (k, None, v)).collect()
    };
    let mut ops = Vec::with_capacity(pairs.len());
    for (id, name, body) in pairs {
        let hash = hash_of(&body);
        anyhow::ensure!(
            id.eq_ignore_ascii_case(&hash),
            "operation {id}: its text has SHA-256 {hash}"
        );
        async_graphql::parser::parse_query(&body)
            .map_err(|e| anyhow::anyhow!("operation {id}: {e}"))?;
        ops.push(Operation { name, body });
    }
    Ok(ops)
}

/// Registers operations (idempotent: a known hash is left as it is); returns how many
/// were new.
pub async fn register(
    db: &DatabaseConnection,
    ops: &[Operation],
    now: DateTime<Utc>,
) -> Result<u64, AppError> {
    let mut new = 0;
    for op in ops {
        let r = persisted_operation::Entity::insert(persisted_operation::ActiveModel {
            hash: Set(hash_of(&op.body)),
            name: Set(op.name.clone()),
            body: Set(op.body.clone()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(persisted_operation::Column::Hash)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        new += r;
    }
    Ok(new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn manifests_in_both_shapes_are_read_and_checked() {
        let q = "query Me { me { __typename } }";
        let h = hash_of(q);
        let apollo = serde_json::json!({
            "format": "apollo-persisted-query-manifest", "version": 1,
            "operations": [{ "id": h, "name": "Me", "type": "query", "body": q }]
        })
        .to_string();
        assert_eq!(
            read_manifest(&apollo).unwrap(),
            vec![Operation {
                name: Some("Me".into()),
                body: q.into()
            }]
        );
        let plain = serde_json::json!({ h.clone(): q }).to_string();
        assert_eq!(read_manifest(&plain).unwrap().len(), 1);
        let wrong = serde_json::json!({ "0".repeat(64): q }).to_string();
        assert!(read_manifest(&wrong).is_err());
        let broken = serde_json::json!({ hash_of("query {"): "query {" }).to_string();
        assert!(read_manifest(&broken).is_err());
    }
}
