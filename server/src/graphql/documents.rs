//! Parsed GraphQL documents by query text. The apps send the same few dozen queries all
//! day; parsing one is about a tenth of a small request's work, so each text is parsed
//! once and the request gets a copy of the tree. Everything after parsing — the
//! guard's cost and control-character checks, validation — still runs per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Texts kept at most; when full the cache starts over (a flood of one-off queries
/// costs what it cost before the cache, never memory).
const ENTRIES: usize = 256;
/// Longer texts are not kept (the apps' queries are a few hundred bytes).
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The cache (one per server, shared by every request).
#[derive(Default)]
pub struct Documents {
    docs: Mutex<HashMap<String, Arc<ExecutableDocument>>>,
}

impl Documents {
    /// Gives `req` its parsed document when its text parses, and returns it (the guard
    /// checks it and orders the answer by it); a text that does not parse is left for
    /// the engine, which reports the error as before.
    pub fn prepare(&self, req: &mut async_graphql::Request) -> Option<Arc<ExecutableDocument>> {
        if req.query.len() > MAX_QUERY_BYTES {
            return None;
        }
        let hit = self
            .docs
            .lock()
            .ok()
            .and_then(|d| d.get(&req.query).cloned());
        let doc = match hit {
            Some(doc) => doc,
            None => {
                let Ok(parsed) = async_graphql::parser::parse_query(&req.query) else {
                    return None;
                };
                let doc = Arc::new(parsed);
                if let Ok(mut d) = self.docs.lock() {
                    if d.len() >= ENTRIES {
                        d.clear();
                    }
                    d.insert(req.query.clone(), Arc::clone(&doc));
                }
                doc
            }
        };
        req.set_parsed_query((*doc).clone());
        Some(doc)
    }

    /// Texts held now.
    pub fn len(&self) -> usize {
        self.docs.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// Whether no text is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_once_and_bounds_itself() {
        let docs = Documents::default();
        let mut a = async_graphql::Request::new("{ categories { code } }");
        docs.prepare(&mut a);
        assert_eq!(docs.len(), 1);
        let mut b = async_graphql::Request::new("{ categories { code } }");
        docs.prepare(&mut b);
        assert_eq!(docs.len(), 1);
        assert_eq!(
            format!("{:?}", a.parsed_query().unwrap()),
            format!("{:?}", b.parsed_query().unwrap())
        );
        // Unparsable text: left to the engine, not kept.
        let mut bad = async_graphql::Request::new("{ categories {");
        docs.prepare(&mut bad);
        assert_eq!(docs.len(), 1);
        assert!(bad.parsed_query().is_err());
        // Full: starts over rather than grow.
        for i in 0..ENTRIES + 10 {
            let mut r = async_graphql::Request::new(format!("{{ a{i}: categories {{ code }} }}"));
            docs.prepare(&mut r);
        }
        assert!(docs.len() <= ENTRIES);
        // Too long to keep.
        let long = format!(
            "{{ categories {{ code }} }} #{}",
            "x".repeat(MAX_QUERY_BYTES)
        );
        let before = docs.len();
        docs.prepare(&mut async_graphql::Request::new(long));
        assert_eq!(docs.len(), before);
    }
}
