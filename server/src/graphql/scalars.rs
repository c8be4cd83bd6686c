//! Shared input helpers.

use async_graphql::ID;

use crate::error::{AppError, Msg};

/// Parses a GraphQL `ID` of our numeric objects; a malformed id is `BAD_INPUT` with
/// detail `INVALID_ID` (the message shows at most 32 characters of what was sent).
pub fn parse_id(id: &ID) -> Result<i64, AppError> {
    id.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
        let sent: String = id.as_str().chars().take(32).collect();
        let (zh, en) = if sent.trim().is_empty() {
            ("编号为空".to_owned(), "empty id".to_owned())
        } else {
            (
                format!("编号格式无效：{sent}"),
                format!("malformed id: {sent}"),
            )
        };
        AppError::BadInput {
            msg: Msg::new(zh, en),
            detail: Some("INVALID_ID"),
            field: None,
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_say_what_was_wrong() {
        assert_eq!(parse_id(&ID::from("42")).unwrap(), 42);
        for (bad, zh) in [
            ("", "编号为空"),
            ("  ", "编号为空"),
            ("0", "编号格式无效：0"),
            ("-3", "编号格式无效：-3"),
            ("abc", "编号格式无效：abc"),
        ] {
            let e = parse_id(&ID::from(bad)).unwrap_err();
            let AppError::BadInput { msg, detail, .. } = e else {
                panic!("{bad:?}: not BAD_INPUT");
            };
            assert_eq!(detail, Some("INVALID_ID"), "{bad:?}");
            assert_eq!(msg.zh, zh, "{bad:?}");
        }
        let long = "x".repeat(500);
        let AppError::BadInput { msg, .. } = parse_id(&ID::from(long)).unwrap_err() else {
            panic!("not BAD_INPUT");
        };
        assert!(msg.zh.chars().count() < 60, "{}", msg.zh);
    }
}
