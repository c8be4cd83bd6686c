//! Case and event rows read by position.
//!
//! sea-orm's derived decoder finds each of a row's 50 columns by name and, for every
//! NULL in an optional column, formats the column's name into an error that it then
//! drops. On a page of cases that was 17 % of the server's CPU for an inspector's
//! `myTasks` (perf, release build, issue 14), most of it in `format!` and `<str as
//! Debug>`. [`CaseRow`] reads the same columns by position straight from the driver's
//! row, for selects of the whole `case` row (`case::Entity::find()`, which lists the
//! columns in `case::Column` order); anything else falls back to the derived decoder.
//! [`EventRow`] does the same for `case_event` (the last events of a page). A test
//! compares both decoders on rows with every column set and with every optional column
//! NULL, on both databases.

use chrono::{DateTime, Utc};
use entity::{case, case_event};
use sea_orm::sqlx::{self, ColumnIndex, Decode, Row, Type};
use sea_orm::{ActiveEnum, DbErr, FromQueryResult, QueryResult};

/// Columns of a whole `case` row.
pub const COLUMNS: usize = 50;

/// A whole `case` row, read by position when the row has exactly its columns.
pub struct CaseRow(pub case::Model);

impl FromQueryResult for CaseRow {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        by_position(res, pre, COLUMNS, |r| decode(r), |r| decode(r)).map(CaseRow)
    }
}

/// A whole row of `columns` read by position (`pg` or `sqlite`, the same decoder at
/// either driver's row type), or by the derived decoder for anything else.
fn by_position<M: FromQueryResult>(
    res: &QueryResult,
    pre: &str,
    columns: usize,
    pg: impl FnOnce(&sqlx::postgres::PgRow) -> Result<M, DbErr>,
    sqlite: impl FnOnce(&sqlx::sqlite::SqliteRow) -> Result<M, DbErr>,
) -> Result<M, DbErr> {
    if pre.is_empty() {
        if let Some(row) = res.try_as_pg_row().filter(|r| r.len() == columns) {
            return pg(row);
        }
        if let Some(row) = res.try_as_sqlite_row().filter(|r| r.len() == columns) {
            return sqlite(row);
        }
    }
    M::from_query_result(res, pre)
}

fn type_error(i: usize, e: sqlx::Error) -> DbErr {
    DbErr::Type(format!("case column {i}: {e}"))
}

fn get<'r, R, T>(row: &'r R, i: usize) -> Result<T, DbErr>
where
    R: Row,
    usize: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    // Unchecked: the driver's check clones and compares the column's SQL type for every
    // value (perf: 1.5 % of a page of 100 cases on PostgreSQL). The columns are the
    // entity's own, in its order,
    // and a value of another type still fails to decode; the tests below the entity
    // (`cases::case_rows_by_position`) read every column back on both databases.
    row.try_get_unchecked(i).map_err(|e| type_error(i, e))
}

fn en<'r, R, E>(row: &'r R, i: usize) -> Result<E, DbErr>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    E: ActiveEnum<Value = String>,
{
    let s: String = get(row, i)?;
    E::try_from_value(&s)
}

fn opt_en<'r, R, E>(row: &'r R, i: usize) -> Result<Option<E>, DbErr>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    E: ActiveEnum<Value = String>,
{
    let s: Option<String> = get(row, i)?;
    s.map(|s| E::try_from_value(&s)).transpose()
}

fn decode<'r, R>(row: &'r R) -> Result<case::Model, DbErr>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(case::Model {
        id: get(row, 0)?,
        number: get(row, 1)?,
        tracking_code: get(row, 2)?,
        source: en(row, 3)?,
        category_id: get(row, 4)?,
        title: get(row, 5)?,
        description: get(row, 6)?,
        status: en(row, 7)?,
        priority: en(row, 8)?,
        region_id: get(row, 9)?,
        region_path: get(row, 10)?,
        lat: get(row, 11)?,
        lng: get(row, 12)?,
        accuracy_m: get(row, 13)?,
        outside_grid: get(row, 14)?,
        address: get(row, 15)?,
        tipster_id: get(row, 16)?,
        reporter_id: get(row, 17)?,
        created_by: get(row, 18)?,
        assignee_id: get(row, 19)?,
        site_id: get(row, 20)?,
        duplicate_of: get(row, 21)?,
        merged_into: get(row, 22)?,
        reject_reason: opt_en(row, 23)?,
        rework_count: get(row, 24)?,
        escalation_level: get(row, 25)?,
        version: get(row, 26)?,
        accepted_at: get(row, 27)?,
        started_at: get(row, 28)?,
        submitted_at: get(row, 29)?,
        closed_at: get(row, 30)?,
        first_submitted_at: get(row, 31)?,
        due_at: get(row, 32)?,
        onsite_due_at: get(row, 33)?,
        warn_at: get(row, 34)?,
        onsite_warn_at: get(row, 35)?,
        text_check: opt_en(row, 36)?,
        parked_at: get(row, 37)?,
        parked_seconds: get(row, 38)?,
        extended_count: get(row, 39)?,
        checkin_lat: get(row, 40)?,
        checkin_lng: get(row, 41)?,
        checkin_distance_m: get(row, 42)?,
        checkin_far: get(row, 43)?,
        rating: get(row, 44)?,
        rating_comment: get(row, 45)?,
        rated_at: get(row, 46)?,
        created_at: get(row, 47)?,
        updated_at: get(row, 48)?,
        campaign_id: get(row, 49)?,
    })
}

/// Columns of a whole `case_event` row.
pub const EVENT_COLUMNS: usize = 12;

/// A whole `case_event` row, read by position when the row has exactly its columns.
pub struct EventRow(pub case_event::Model);

impl FromQueryResult for EventRow {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        by_position(
            res,
            pre,
            EVENT_COLUMNS,
            |r| decode_event(r),
            |r| decode_event(r),
        )
        .map(EventRow)
    }
}

fn decode_event<'r, R>(row: &'r R) -> Result<case_event::Model, DbErr>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    serde_json::Value: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(case_event::Model {
        id: get(row, 0)?,
        case_id: get(row, 1)?,
        seq: get(row, 2)?,
        actor_id: get(row, 3)?,
        actor_tipster_id: get(row, 4)?,
        actor_role: get(row, 5)?,
        action: get(row, 6)?,
        from_status: opt_en(row, 7)?,
        to_status: opt_en(row, 8)?,
        note: get(row, 9)?,
        data: get(row, 10)?,
        created_at: get(row, 11)?,
    })
}
