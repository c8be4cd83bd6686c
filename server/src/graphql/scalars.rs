//! Shared input helpers.

use async_graphql::ID;

use crate::error::{AppError, Msg};

/// Parses a GraphQL `ID` of our numeric objects; a malformed id is `BAD_INPUT`.
pub fn parse_id(id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        AppError::bad_input(Msg::new(
            format!("编号格式无效：{}", id.as_str()),
            format!("malformed id: {}", id.as_str()),
        ))
    })
}
