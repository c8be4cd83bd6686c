//! Offline delta sync: what changed for a staff member since a cursor.
//!
//! Every change of a case writes a `case_change` row in its own transaction (see
//! [`record`], called wherever case events are written), carrying the case's scope after
//! the change. [`since`] reads the rows after a cursor and answers, per case, its
//! current state when the viewer may see it, or a tombstone when it left their scope
//! (reassigned away, escalated above an inspector's grid).
//!
//! An inspector on a case's team (`case_team`) is in its scope for every change: the
//! row filter probes `case_team` by (case, user), and the answer uses the same
//! in-memory rule as `case(id)`, so a teammate gets the case, never its tombstone. A
//! tombstone only ever names a case one of the viewer's scope branches once covered.
//!
//! **The sequence-gap problem.** Ids are taken when a row is inserted, but transactions
//! commit in another order: a reader that saw id 11 may not yet see id 10, whose
//! transaction is still running; a cursor "after 11" would skip 10 forever.
//! - PostgreSQL: each row carries its transaction id (`pg_current_xact_id()`), and the
//!   log is read in `(tx, id)` order, only below the reading snapshot's `xmin` — the
//!   oldest transaction still running. Every transaction below it has ended, so every
//!   row below it is visible now and no row can appear there later; a late commit has
//!   a transaction id at or above the horizon and is read on a later call. A long
//!   transaction holds the horizon back (changes after it wait), it never loses one.
//! - SQLite: one writer at a time, holding the write lock from `BEGIN IMMEDIATE` to
//!   commit, so ids are committed in order; the log is read by id.
//!
//! Rows are kept [`KEPT_DAYS`] days; a cursor older than that (less a day of margin)
//! gets `resync`: fetch everything again and continue from the fresh cursor.
//! Categories, their time limits and the grid are reference data, answered in full
//! whenever their fingerprint differs from the one in the cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use entity::{case, case_change};
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement,
};
use sha2::{Digest, Sha256};

use super::Services;
use super::access::{Role, StaffViewer, Viewer};
use super::category::{self, CategoryView};
use super::events::EventNotice;
use crate::error::{AppError, Msg};

/// How long change rows are kept (days).
pub const KEPT_DAYS: i64 = 30;
/// Most changes answered at once.
pub const MAX_PAGE: u64 = 100;

/// Writes the change rows of freshly written events, in `conn`'s transaction.
pub async fn record<C: ConnectionTrait>(conn: &C, events: &[EventNotice]) -> Result<(), AppError> {
    if events.is_empty() {
        return Ok(());
    }
    let tx: SimpleExpr = match conn.get_database_backend() {
        DbBackend::Postgres => Expr::cust("pg_current_xact_id()::text::bigint"),
        _ => Expr::value(0i64),
    };
    let mut insert = Query::insert();
    insert.into_table(case_change::Entity).columns([
        case_change::Column::Tx,
        case_change::Column::CaseId,
        case_change::Column::RegionId,
        case_change::Column::RegionPath,
        case_change::Column::AssigneeId,
        case_change::Column::At,
    ]);
    for e in events {
        insert
            .values([
                tx.clone(),
                e.case_id.into(),
                e.region_id.into(),
                e.region_path.clone().into(),
                e.assignee_id.into(),
                e.at.into(),
            ])
            .map_err(|e| AppError::Internal(anyhow::anyhow!("case change: {e}")))?;
    }
    conn.execute(&insert).await?;
    Ok(())
}

/// Records that these cases changed without an event (e.g. a text check verdict), with
/// their scope as it is now, in `conn`'s transaction.
pub async fn touched<C: ConnectionTrait>(
    conn: &C,
    cases: &[case::Model],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let notices: Vec<EventNotice> = cases
        .iter()
        .map(|c| super::events::notice(c, 0, "TOUCH", None, now))
        .collect();
    record(conn, &notices).await
}

/// Deletes change rows older than the retention period; returns how many.
pub async fn purge<C: ConnectionTrait>(conn: &C, now: DateTime<Utc>) -> Result<u64, AppError> {
    let r = case_change::Entity::delete_many()
        .filter(case_change::Column::At.lt(now - Duration::days(KEPT_DAYS)))
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// A position in the change log, as handed to the client (opaque to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    tx: i64,
    id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    at: Position,
    issued: DateTime<Utc>,
    reference: u64,
}

const CURSOR_PREFIX: &str = "s1.";

impl Cursor {
    fn encode(&self) -> String {
        let raw = format!(
            "{}:{}:{}:{:x}",
            self.at.tx,
            self.at.id,
            self.issued.timestamp(),
            self.reference
        );
        format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    fn decode(s: &str) -> Result<Self, AppError> {
        let bad = || {
            AppError::bad_input(
                "INVALID_CURSOR",
                Msg::new(
                    "同步游标无效，请不带游标重新同步",
                    "invalid sync cursor; sync again without a cursor",
                ),
            )
            .at("cursor")
        };
        let body = s.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.split(':');
        let mut next = || parts.next().ok_or_else(bad);
        let tx: i64 = next()?.parse().map_err(|_| bad())?;
        let id: i64 = next()?.parse().map_err(|_| bad())?;
        let issued: i64 = next()?.parse().map_err(|_| bad())?;
        let reference = u64::from_str_radix(next()?, 16).map_err(|_| bad())?;
        if tx < 0 || id < 0 {
            return Err(bad());
        }
        let issued = DateTime::from_timestamp(issued, 0).ok_or_else(bad)?;
        Ok(Self {
            at: Position { tx, id },
            issued,
            reference,
        })
    }
}

/// What changed for the viewer since their cursor.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Cases that entered or changed within the viewer's scope, as they are now, in the
    /// order of their latest change.
    pub cases: Vec<case::Model>,
    /// Cases that left the viewer's scope (tombstones: drop them from the device).
    pub removed: Vec<i64>,
    /// The active categories with their time limits, when they changed since the cursor
    /// (or there was no cursor).
    pub categories: Option<Vec<CategoryView>>,
    /// The grid's version (a fingerprint of the loaded region tree).
    pub grid_version: String,
    /// Where to continue.
    pub cursor: String,
    /// More changes are waiting: call again with `cursor` at once.
    pub has_more: bool,
    /// The cursor predates the kept log: refetch everything, then continue from `cursor`.
    pub resync: bool,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    horizon: i64,
    id: Option<i64>,
    tx: Option<i64>,
    case_id: Option<i64>,
}

/// The changes after `cursor` (none: start now — the answer is only a cursor and the
/// reference data; fetch the cases with `cases`/`myTasks` after taking it).
pub async fn since(
    svc: &Services,
    viewer: &Viewer,
    cursor: Option<&str>,
    first: Option<i32>,
) -> Result<Changes, AppError> {
    let staff = viewer.staff()?;
    let limit = match first {
        None => MAX_PAGE,
        Some(n) if n >= 1 && (n as u64) <= MAX_PAGE => n as u64,
        Some(_) => {
            return Err(AppError::bad_input(
                "INVALID_PAGE_SIZE",
                Msg::new(
                    format!("first 应在 1 到 {MAX_PAGE} 之间"),
                    format!("first must be between 1 and {MAX_PAGE}"),
                ),
            )
            .at("first"));
        }
    };
    let cursor = cursor.map(Cursor::decode).transpose()?;
    let now = svc.clock.now();
    let categories = category::list_active(&svc.db).await?;
    let grid_version = svc.grid.snapshot().version();
    let reference = fingerprint(&categories, &grid_version);
    let categories_if = |changed: bool| changed.then(|| categories.clone());
    let fresh_start = |resync: bool, at: Position| Changes {
        cases: Vec::new(),
        removed: Vec::new(),
        categories: Some(categories.clone()),
        grid_version: grid_version.clone(),
        cursor: Cursor {
            at,
            issued: now,
            reference,
        }
        .encode(),
        has_more: false,
        resync,
    };
    let too_old = |c: &Cursor| c.issued < now - Duration::days(KEPT_DAYS - 1);
    let (start, resync) = match cursor {
        Some(c) if !too_old(&c) => (Some(c), false),
        Some(_) => (None, true),
        None => (None, false),
    };
    let Some(start) = start else {
        // Start at the horizon: nothing to read.
        let rows = read(
            &svc.db,
            staff,
            Position {
                tx: i64::MAX,
                id: i64::MAX,
            },
            1,
        )
        .await?;
        let horizon = rows.first().map_or(0, |r| r.horizon);
        return Ok(fresh_start(resync, horizon_position(&svc.db, horizon)));
    };
    let rows = read(&svc.db, staff, start.at, limit + 1).await?;
    let horizon = rows.first().map_or(0, |r| r.horizon);
    let mut changed: Vec<(Position, i64)> = rows
        .iter()
        .filter_map(|r| {
            Some((
                Position {
                    tx: r.tx?,
                    id: r.id?,
                },
                r.case_id?,
            ))
        })
        .collect();
    let has_more = changed.len() as u64 > limit;
    changed.truncate(limit as usize);
    let next = match changed.last() {
        Some((p, _)) if has_more => *p,
        _ => start.at.max(horizon_position(&svc.db, horizon)),
    };
    // One entry per case, in the order of its latest change.
    let mut order: Vec<i64> = Vec::new();
    for (_, id) in changed.iter().rev() {
        if !order.contains(id) {
            order.push(*id);
        }
    }
    order.reverse();
    let rows = if order.is_empty() {
        Vec::new()
    } else {
        case::Entity::find()
            .filter(case::Column::Id.is_in(order.iter().copied()))
            .all(&svc.db)
            .await?
    };
    let teams =
        super::cases::Teams::beyond_scope(&svc.db, viewer, &rows.iter().collect::<Vec<_>>())
            .await?;
    let mut cases = Vec::new();
    let mut removed = Vec::new();
    for id in order {
        match rows.iter().find(|c| c.id == id) {
            Some(c) if super::cases::staff_can_see(viewer, c, &teams) => cases.push(c.clone()),
            _ => removed.push(id),
        }
    }
    Ok(Changes {
        cases,
        removed,
        categories: categories_if(start.reference != reference),
        grid_version,
        cursor: Cursor {
            at: next,
            issued: now,
            reference,
        }
        .encode(),
        has_more,
        resync: false,
    })
}

/// The first position not yet readable: PostgreSQL's horizon is a transaction id (every
/// later row has `tx` at or above it); SQLite's the highest id read.
fn horizon_position<C: ConnectionTrait>(conn: &C, horizon: i64) -> Position {
    match conn.get_database_backend() {
        DbBackend::Postgres => Position {
            tx: horizon.saturating_sub(1).max(0),
            id: i64::MAX,
        },
        _ => Position { tx: 0, id: horizon },
    }
}

/// One statement: the horizon, and up to `limit` change rows after `after` that concern
/// the viewer (the case is in their scope after the change, or was by another change,
/// or the viewer is on its team).
async fn read<C: ConnectionTrait>(
    conn: &C,
    staff: &StaffViewer,
    after: Position,
    limit: u64,
) -> Result<Vec<Row>, AppError> {
    let backend = conn.get_database_backend();
    let pg = backend == DbBackend::Postgres;
    let p = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
    // The scope condition on an alias, with its parameters (numbered from `from`).
    let scope = |alias: &str, from: usize| -> (String, Vec<sea_orm::Value>) {
        match staff.role {
            Role::CountyAdmin | Role::TownshipSupervisor => (
                format!(
                    "({alias}.region_path = {} OR {alias}.region_path LIKE {})",
                    p(from),
                    p(from + 1)
                ),
                vec![
                    staff.region_path.clone().into(),
                    format!("{}/%", staff.region_path).into(),
                ],
            ),
            Role::Inspector | Role::Public => (
                format!(
                    "({alias}.region_id = {} OR {alias}.assignee_id = {})",
                    p(from),
                    p(from + 1)
                ),
                vec![staff.region_id.into(), staff.user_id.into()],
            ),
        }
    };
    // The team branch: a probe of case_team's primary key (inspectors only; a team
    // widens no other role's scope).
    let team = |n: usize| -> (String, Vec<sea_orm::Value>) {
        match staff.role {
            Role::Inspector => (
                format!(
                    " OR EXISTS (SELECT 1 FROM case_team ct \
                     WHERE ct.case_id = c.case_id AND ct.user_id = {})",
                    p(n)
                ),
                vec![staff.user_id.into()],
            ),
            _ => (String::new(), Vec::new()),
        }
    };
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let (sql, values) = if pg {
        values.push(after.tx.into());
        values.push(after.id.into());
        let (s1, v1) = scope("c", 3);
        let (s2, v2) = scope("e", 5);
        let (t, vt) = team(8);
        values.extend(v1);
        values.extend(v2);
        values.push((limit as i64).into());
        values.extend(vt);
        (
            format!(
                "SELECT h.horizon, c.id, c.tx, c.case_id \
                 FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS horizon) h \
                 LEFT JOIN LATERAL (SELECT c.id, c.tx, c.case_id FROM case_change c \
                   WHERE (c.tx, c.id) > ($1, $2) AND c.tx < h.horizon \
                   AND ({s1} OR EXISTS (SELECT 1 FROM case_change e \
                        WHERE e.case_id = c.case_id AND {s2}){t}) \
                   ORDER BY c.tx, c.id LIMIT $7) c ON true"
            ),
            values,
        )
    } else {
        values.push(after.id.into());
        let (s1, v1) = scope("c", 0);
        let (s2, v2) = scope("e", 0);
        let (t, vt) = team(0);
        values.extend(v1);
        values.extend(v2);
        values.extend(vt);
        values.push((limit as i64).into());
        (
            format!(
                "SELECT h.horizon, c.id, c.tx, c.case_id \
                 FROM (SELECT COALESCE(MAX(id), 0) AS horizon FROM case_change) h \
                 LEFT JOIN (SELECT c.id, c.tx, c.case_id FROM case_change c \
                   WHERE c.id > ? AND ({s1} OR EXISTS (SELECT 1 FROM case_change e \
                        WHERE e.case_id = c.case_id AND {s2}){t}) \
                   ORDER BY c.id LIMIT ?) c ON 1 = 1"
            ),
            values,
        )
    };
    Ok(
        Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(conn)
            .await?,
    )
}

/// A fingerprint of the reference data a client caches: categories with their limits
/// and the grid version.
fn fingerprint(categories: &[CategoryView], grid_version: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(format!("{categories:?}").as_bytes());
    h.update(grid_version.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let c = Cursor {
            at: Position { tx: 7, id: 42 },
            issued: DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
            reference: 0xdead_beef,
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "s1.", "s1.!!", "x1.MTox", "s1.LTE6MjowOmE"] {
            let e = Cursor::decode(bad).unwrap_err();
            assert_eq!(e.code(), "BAD_INPUT", "{bad}");
        }
    }
}
