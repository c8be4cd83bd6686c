//! Cases over GraphQL: the enums ([`types`]), the staff view ([`objects`]), the public
//! view ([`public`]), inputs, queries and mutations.

mod inputs;
mod mutation;
mod objects;
mod public;
mod query;
mod sync;
mod types;

use async_graphql::Context;
use async_graphql::connection::Connection;

pub use inputs::LocationInput;
pub use mutation::CaseMutation;
pub use objects::Case;
pub use objects::CategorySummary;
pub use query::CaseQuery;
pub use sync::SyncQuery;
pub use types::CaseStatus;

use super::fast::Fast;
use super::loaders::Loaders;
use super::pagination::connection;
use crate::domain::cases::CaseColumns;
use crate::domain::page::Page;
use crate::error::AppError;

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("loaders missing")))
}

/// A page of cases as a connection (`cases`, `myTasks`, a site's `cases`): the relations
/// the query selects under `edges.node` or `nodes` primed in one statement per kind, and
/// the whole page resolved fast (`graphql::fast`).
pub(crate) async fn case_page(
    ctx: &Context<'_>,
    page: Page<entity::case::Model>,
) -> Result<Fast<Connection<String, Fast<Case>>>, AppError> {
    let l = ctx.look_ahead();
    let nodes = [l.field("edges").field("node"), l.field("nodes")];
    loaders(ctx)?.prime_cases(&nodes, &page.items).await?;
    Ok(Fast(connection("case", page, |c| c.id, |c| Fast(Case(c)))))
}

/// The columns a page of cases must read for what the query selects under `edges.node`
/// and `nodes` (fragments included): the union of [`Case::columns`] of the fields, or
/// the whole row when one of them needs it.
pub(crate) fn page_columns(ctx: &Context<'_>) -> CaseColumns {
    let l = ctx.look_ahead();
    let mut columns = CaseColumns::ID;
    for nodes in [l.field("edges").field("node"), l.field("nodes")] {
        for node in nodes.selection_fields() {
            for field in node.selection_set() {
                match Case::columns(field.name()) {
                    Some(c) => columns = columns.with(c),
                    None => return CaseColumns::ALL,
                }
            }
        }
    }
    columns
}

/// GraphQL's `Int` is 32 bits: durations beyond ±68 years are shown at the limit
/// (deadlines are at most a year ahead, so only a case forgotten for decades gets there).
fn saturate_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}
