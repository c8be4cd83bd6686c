//! Keyset pagination shared by every list: `first` capped, cursor = last id seen.

use crate::error::{AppError, Msg};

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    /// How many items (1..=cap).
    pub first: u64,
    /// Only items after this id (exclusive).
    pub after: Option<i64>,
}

impl PageRequest {
    /// Validates `first` against `cap` (default 20 when absent).
    pub fn new(first: Option<i32>, after: Option<i64>, cap: usize) -> Result<Self, AppError> {
        let cap = u64::try_from(cap).unwrap_or(100);
        let first = match first {
            None => 20.min(cap),
            Some(n) if n >= 1 && u64::try_from(n).unwrap_or(u64::MAX) <= cap => {
                u64::try_from(n).unwrap_or(cap)
            }
            Some(n) => {
                return Err(AppError::bad_input(
                    "INVALID_PAGE_SIZE",
                    Msg::new(
                        format!("first 应在 1 到 {cap} 之间，收到 {n}"),
                        format!("first must be between 1 and {cap}, got {n}"),
                    ),
                )
                .at("first"));
            }
        };
        Ok(Self { first, after })
    }

    /// Rows to fetch: one more than asked, to know whether another page exists.
    pub fn fetch_limit(&self) -> u64 {
        self.first + 1
    }
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, at most `first`.
    pub items: Vec<T>,
    /// Whether more items follow.
    pub has_next: bool,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, req: PageRequest) -> Self {
        let want = usize::try_from(req.first).unwrap_or(usize::MAX);
        let has_next = rows.len() > want;
        rows.truncate(want);
        Self {
            items: rows,
            has_next,
        }
    }
}

/// A search text safe inside `LIKE '%…%'`: trimmed, wildcard and escape characters
/// removed, at most 64 characters; `None` when nothing is left.
pub fn like_fragment(text: Option<&str>) -> Option<String> {
    let t: String = text?
        .trim()
        .chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .take(64)
        .collect();
    (!t.is_empty()).then_some(t)
}
