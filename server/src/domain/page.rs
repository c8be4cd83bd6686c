//! Keyset pagination shared by every list: `first` capped, cursor = last id seen.

use sea_orm::{ColumnTrait, DbBackend, sea_query::Expr};

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

/// `column IN (ids)`, written so that PostgreSQL sees one statement whatever the list's
/// length: `column = ANY($1)` with the ids bound as one array (an `IN` list makes a new
/// prepared statement, and a new plan, per length). SQLite keeps the plain `IN (…)`;
/// an empty list matches nothing on both.
pub fn id_in<C: ColumnTrait>(backend: DbBackend, col: C, ids: &[i64]) -> Expr {
    match backend {
        DbBackend::Postgres => col.eq_any(ids.iter().copied()),
        _ => col.is_in(ids.iter().copied()),
    }
}

#[cfg(test)]
mod id_in_tests {
    use entity::case_event;
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};

    use super::*;

    fn sql(backend: DbBackend, ids: &[i64]) -> (String, Vec<sea_orm::Value>) {
        let st = case_event::Entity::find()
            .filter(id_in(backend, case_event::Column::CaseId, ids))
            .build(backend);
        let sql = st
            .sql
            .split(" WHERE ")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        (sql, st.values.map(|v| v.0).unwrap_or_default())
    }

    #[test]
    fn postgres_binds_one_array_whatever_the_length() {
        let (two, v2) = sql(DbBackend::Postgres, &[3, 5]);
        let (three, v3) = sql(DbBackend::Postgres, &[3, 5, 8]);
        assert_eq!(two, r#""case_event"."case_id" = ANY($1)"#);
        assert_eq!(two, three, "one statement text for any length");
        assert_eq!((v2.len(), v3.len()), (1, 1), "one bound value: {v2:?}");
        let (empty, _) = sql(DbBackend::Postgres, &[]);
        assert!(
            !empty.contains("ANY"),
            "an empty list matches nothing: {empty}"
        );
    }

    #[test]
    fn sqlite_keeps_in() {
        let (s, v) = sql(DbBackend::Sqlite, &[3, 5]);
        assert_eq!(s, r#""case_event"."case_id" IN (?, ?)"#);
        assert_eq!(v.len(), 2);
    }
}
