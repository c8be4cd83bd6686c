//! An alias limit on top of async-graphql's depth and complexity limits: aliases let
//! one request repeat an expensive field many times (OWASP GraphQL cheat sheet).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

use crate::error::{AppError, Msg};

/// Rejects documents with more than `max` aliased fields (fragments included).
pub struct AliasLimit {
    /// The most aliases one request may use.
    pub max: usize,
}

struct AliasLimitExt {
    max: usize,
}

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExt { max: self.max })
    }
}

fn count(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => count(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[async_trait::async_trait]
impl Extension for AliasLimitExt {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let in_ops: usize = doc
            .operations
            .iter()
            .map(|(_, op)| count(&op.node.selection_set.node))
            .sum();
        let in_fragments: usize = doc
            .fragments
            .values()
            .map(|f| count(&f.node.selection_set.node))
            .sum();
        if in_ops + in_fragments > self.max {
            let mut err = ServerError::new("too many aliases", None);
            err.source = Some(Arc::new(AppError::BadInput {
                msg: Msg::new(
                    format!("查询使用的别名过多（最多 {} 个）", self.max),
                    format!("too many aliases in one request (at most {})", self.max),
                ),
                detail: Some("QUERY_TOO_COMPLEX"),
            }));
            return Err(err);
        }
        Ok(doc)
    }
}
