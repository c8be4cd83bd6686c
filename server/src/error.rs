//! The one error type of the API edge.
//!
//! Domain functions return [`AppError`]; each variant maps to one stable
//! `extensions.code`. Messages are Chinese first, English on `Accept-Language: en`.
//! Internal errors reach the client as a fixed message plus the request id and are
//! logged once, with their chain, where the response is finished.

use std::borrow::Cow;
use std::fmt;

/// A user-facing message in both languages the API speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Simplified Chinese, the default.
    pub zh: Cow<'static, str>,
    /// English, for `Accept-Language: en`.
    pub en: Cow<'static, str>,
}

impl Msg {
    /// A message in Chinese and English.
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text for `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// The language of the response's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese (default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Picks the language from an `Accept-Language` header: English only when the
    /// client's most preferred language is English, Chinese otherwise.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::Zh;
        };
        let mut best: Option<(f32, &str)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if !tag.is_empty() && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, tag));
            }
        }
        match best {
            Some((_, tag)) if tag.to_ascii_lowercase().starts_with("en") => Self::En,
            _ => Self::Zh,
        }
    }
}

/// Every way a request can fail, as the client sees it.
#[derive(Debug)]
pub enum AppError {
    /// No valid credentials.
    Unauthenticated,
    /// A login with a wrong username or password (one answer for both).
    BadCredentials,
    /// Logged in, but the role may never do this.
    Forbidden,
    /// The object does not exist or is outside the caller's scope (indistinguishable).
    NotFound(Msg),
    /// The input is malformed or breaks a rule; `detail` is a stable sub-code.
    BadInput {
        /// What is wrong, for a person.
        msg: Msg,
        /// A stable machine-readable sub-code (e.g. `IDEMPOTENCY_MISMATCH`).
        detail: Option<&'static str>,
        /// The input it is about, as a path of GraphQL names (`input.location.lat`);
        /// `None` for the request as a whole.
        field: Option<String>,
    },
    /// A `BAD_INPUT` about a whole file (an import) that lists every problem found, by
    /// row and column, in `extensions.problems`; nothing of the file was kept.
    InvalidFile(Box<FileRefusal>),
    /// Someone else changed the object first, or a uniqueness rule was hit.
    Conflict(Msg),
    /// The action is not allowed in the object's current state.
    InvalidTransition(Msg),
    /// Too many requests; retry after this many seconds.
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The database cannot be reached (down, restarting, pool exhausted): retry later.
    Unavailable(anyhow::Error),
    /// The request ran past its time budget; a write it started still completes on its
    /// own (retry with the same idempotency key to get its answer).
    TimedOut,
    /// The evidence store cannot be reached.
    StorageUnavailable(anyhow::Error),
    /// An upstream service (WeChat) failed or timed out.
    UpstreamUnavailable(anyhow::Error),
    /// A bug or an outage of our own; details are logged, never shown.
    Internal(anyhow::Error),
}

/// A refused file: the summary, its stable sub-code, the input that carried it and
/// every problem found.
#[derive(Debug)]
pub struct FileRefusal {
    /// The summary, for a person.
    pub msg: Msg,
    /// The stable sub-code (e.g. `INVALID_SITE_FILE`).
    pub detail: &'static str,
    /// The input that carried the file (`file`).
    pub field: String,
    /// Every problem, in file order.
    pub problems: Vec<FileProblem>,
}

/// One problem of an imported file: where (1-based row as a spreadsheet numbers it, the
/// header being row 1; the column's header as written in the file) and what.
#[derive(Debug, Clone)]
pub struct FileProblem {
    /// Row number as shown by a spreadsheet (the header row is 1).
    pub row: u32,
    /// The column's header, `None` for the row (or file) as a whole.
    pub column: Option<String>,
    /// A stable code of the problem (`REQUIRED`, `INVALID_LATITUDE`, …).
    pub detail: &'static str,
    /// What is wrong.
    pub message: Msg,
}

impl AppError {
    /// A `BAD_INPUT` error with its stable machine code (`extensions.detail`, listed in
    /// the README) and a message.
    pub fn bad_input(detail: &'static str, msg: Msg) -> Self {
        Self::BadInput {
            msg,
            detail: Some(detail),
            field: None,
        }
    }

    /// Names the input a `BAD_INPUT` is about (GraphQL names, relative to whoever
    /// passes the value on: a resolver puts it [`under`](Self::under) its argument).
    /// Other errors pass unchanged.
    #[must_use]
    pub fn at(mut self, name: &str) -> Self {
        match &mut self {
            Self::BadInput { field, .. } => {
                *field = Some(match field.take() {
                    Some(inner) => format!("{name}.{inner}"),
                    None => name.to_owned(),
                });
            }
            Self::InvalidFile(f) => f.field = format!("{name}.{}", f.field),
            _ => {}
        }
        self
    }

    /// Puts a `BAD_INPUT`'s field under `prefix`: `location.lat` under `input` is
    /// `input.location.lat`; one that named no field is about `prefix` as a whole.
    #[must_use]
    pub fn under(self, prefix: &str) -> Self {
        self.at(prefix)
    }

    /// The input path of a `BAD_INPUT`, if it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadInput { field, .. } => field.as_deref(),
            Self::InvalidFile(f) => Some(&f.field),
            _ => None,
        }
    }

    /// A `NOT_FOUND` error for a kind of object, e.g. `("区域", "region")`.
    pub fn not_found(what_zh: &'static str, what_en: &'static str) -> Self {
        Self::NotFound(Msg::new(
            format!("{what_zh}不存在或无权访问"),
            format!("{what_en} not found"),
        ))
    }

    /// The stable `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::BadCredentials => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadInput { .. } | Self::InvalidFile(_) => "BAD_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::InvalidTransition(_) => "INVALID_TRANSITION",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Unavailable(_) | Self::TimedOut => "UNAVAILABLE",
            Self::StorageUnavailable(_) => "STORAGE_UNAVAILABLE",
            Self::UpstreamUnavailable(_) => "UPSTREAM_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The stable sub-code, where there is one.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::BadInput { detail, .. } => *detail,
            Self::InvalidFile(f) => Some(f.detail),
            Self::TimedOut => Some("TIMEOUT"),
            _ => None,
        }
    }

    /// Whether this is our fault (logged with its chain) rather than the client's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Internal(_)
                | Self::Unavailable(_)
                | Self::StorageUnavailable(_)
                | Self::UpstreamUnavailable(_)
        )
    }

    /// The message for a person, in `lang`. Never contains internal details.
    pub fn message(&self, lang: Lang) -> Cow<'static, str> {
        let fixed = |zh: &'static str, en: &'static str| -> Cow<'static, str> {
            Cow::Borrowed(match lang {
                Lang::Zh => zh,
                Lang::En => en,
            })
        };
        match self {
            Self::Unauthenticated => fixed("请先登录，或登录已过期", "authentication required"),
            Self::BadCredentials => fixed("用户名或密码错误", "wrong username or password"),
            Self::Forbidden => fixed("无权执行此操作", "not allowed"),
            Self::NotFound(m)
            | Self::BadInput { msg: m, .. }
            | Self::Conflict(m)
            | Self::InvalidTransition(m) => Cow::Owned(m.get(lang).to_owned()),
            Self::InvalidFile(f) => Cow::Owned(f.msg.get(lang).to_owned()),
            Self::RateLimited { retry_after_secs } => Cow::Owned(match lang {
                Lang::Zh => format!("请求过于频繁，请 {retry_after_secs} 秒后重试"),
                Lang::En => format!("too many requests, retry in {retry_after_secs} s"),
            }),
            Self::Unavailable(_) => fixed(
                "服务暂时不可用（数据库无法连接），请稍后重试",
                "service temporarily unavailable (database unreachable), please retry later",
            ),
            Self::TimedOut => fixed(
                "请求处理超时，请稍后重试",
                "the request took too long, please retry later",
            ),
            Self::StorageUnavailable(_) => fixed(
                "证据存储暂时不可用，请稍后重试",
                "evidence storage unavailable, please retry later",
            ),
            Self::UpstreamUnavailable(_) => fixed(
                "上游服务暂时不可用，请稍后重试",
                "upstream service unavailable, please retry later",
            ),
            Self::Internal(_) => fixed("服务器内部错误", "internal server error"),
        }
    }

    /// The problems of a refused file, in file order (empty for other errors).
    pub fn problems(&self) -> &[FileProblem] {
        match self {
            Self::InvalidFile(f) => &f.problems,
            _ => &[],
        }
    }

    /// The underlying cause of an internal error, for the log.
    pub fn cause(&self) -> Option<&anyhow::Error> {
        match self {
            Self::Unavailable(e)
            | Self::StorageUnavailable(e)
            | Self::UpstreamUnavailable(e)
            | Self::Internal(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for AppError {
    /// The Chinese message; internal details never appear here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::Zh))
    }
}

impl std::error::Error for AppError {}

impl From<sea_orm::DbErr> for AppError {
    /// An outage of the database (unreachable, restarting, pool exhausted, busy) is
    /// `UNAVAILABLE`, which clients may retry; anything else is a bug of ours.
    fn from(e: sea_orm::DbErr) -> Self {
        if is_outage(&e) {
            // The pool checks the connections queued before this before reusing them.
            crate::db::note_outage();
            Self::Unavailable(anyhow::Error::new(e).context("database unavailable"))
        } else {
            Self::Internal(anyhow::Error::new(e).context("database"))
        }
    }
}

/// Whether a database error means "the database cannot serve us right now" rather than
/// "this statement is wrong": connection and pool failures, I/O, and the server-side
/// codes of a shutdown or a busy database.
pub fn is_outage(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return false,
    };
    match &**sqlx {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::Tls(_)
        | sea_orm::sqlx::Error::Protocol(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed => true,
        sea_orm::sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: 08 connection exception, 57P01-57P05 shutdown / cannot
            // connect now, 53 insufficient resources. SQLite: 5 BUSY, 6 LOCKED.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || matches!(code.as_ref(), "5" | "6" | "517" | "262")
        }
        _ => false,
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl<E: Into<AppError>> From<sea_orm::TransactionError<E>> for AppError
where
    E: std::error::Error,
{
    fn from(e: sea_orm::TransactionError<E>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_english_only_when_preferred() {
        let cases = [
            (None, Lang::Zh),
            (Some("en"), Lang::En),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh),
            (Some("zh;q=0.5,en;q=0.9"), Lang::En),
            (Some("fr"), Lang::Zh),
            (Some(""), Lang::Zh),
            (Some(";;;,,"), Lang::Zh),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn internal_error_never_shows_its_cause() {
        let e = AppError::Internal(anyhow::anyhow!("SELECT * FROM secret_table failed"));
        assert_eq!(e.code(), "INTERNAL");
        assert!(!e.message(Lang::En).contains("SELECT"));
        assert!(!e.to_string().contains("SELECT"));
    }
}
