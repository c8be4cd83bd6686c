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

pub use inputs::LocationInput;
pub use mutation::CaseMutation;
pub use objects::Case;
pub use objects::CategorySummary;
pub use query::CaseQuery;
pub use sync::SyncQuery;
pub use types::CaseStatus;

use super::loaders::Loaders;
use crate::error::AppError;

fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::Internal(anyhow::anyhow!("loaders missing")))
}

/// GraphQL's `Int` is 32 bits: durations beyond ±68 years are shown at the limit
/// (deadlines are at most a year ahead, so only a case forgotten for decades gets there).
fn saturate_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}
