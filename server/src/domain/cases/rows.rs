//! Case and event rows read by position.
//!
//! sea-orm's derived decoder finds each of a row's 50 columns by name and, for every
//! NULL in an optional column, formats the column's name into an error that it then
//! drops. On a page of cases that was 17 % of the server's CPU for an inspector's
//! `myTasks` (perf, release build, issue 14), most of it in `format!` and `<str as
//! Debug>`. [`read`] reads a page's cases by position straight from the driver's rows,
//! and only the columns the page asks for ([`CaseColumns`], selected in `case::Column`
//! order). [`EventRow`] reads `case_event` by position (the last events of a page),
//! falling back to the derived decoder for anything but a whole row. A test compares
//! both with the derived decoder on rows with every column set and with every optional
//! column NULL, on both databases, and reads every single case column, and sets of
//! them, back from their places.

use chrono::{DateTime, Utc};
use entity::enums::{CaseSource, CaseStatus, Priority};
use entity::{case, case_event};
use sea_orm::sqlx::{self, ColumnIndex, Decode, Row, Type};
use sea_orm::{ActiveEnum, DbErr, FromQueryResult, QueryResult};

/// Columns of a whole `case` row.
pub const COLUMNS: usize = 50;

/// Some columns of `case`: what a page needs of each case. A list selects only these
/// ([`CaseColumns::select`]) and [`read`] leaves the others at a placeholder (zero, empty,
/// `None`, the epoch, the enums' first values), so a caller must ask for every column it
/// then reads: the GraphQL pages derive the set from the fields the query selects, and
/// a field they do not know takes the whole row. On an inspector's page of 20 cases the
/// whole row was 50 columns for the 8 the app shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CaseColumns(u64);

impl CaseColumns {
    /// The whole row.
    pub const ALL: Self = Self((1 << COLUMNS) - 1);
    /// Only the id (every page needs it for its cursors).
    pub const ID: Self = Self::of(&[case::Column::Id]);

    /// These columns.
    pub const fn of(columns: &[case::Column]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < columns.len() {
            bits |= 1 << (columns[i] as u32);
            i += 1;
        }
        Self(bits)
    }

    /// Both sets.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the `i`th column (in `case::Column` order) is in the set.
    pub const fn has(self, i: usize) -> bool {
        i < COLUMNS && self.0 & (1 << i) != 0
    }

    /// Whether this is the whole row.
    pub const fn is_all(self) -> bool {
        self.0 == Self::ALL.0
    }

    /// The set as bits (bit `i` for the `i`th column), e.g. to key a statement cache.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// `select` narrowed to these columns, in `case::Column` order (what [`read`]
    /// expects); the whole row as `Entity::find()` selects it for [`Self::ALL`].
    pub fn select(self, select: sea_orm::Select<case::Entity>) -> sea_orm::Select<case::Entity> {
        use sea_orm::{Iterable, QuerySelect};
        if self.is_all() {
            return select;
        }
        let mut select = select.select_only();
        for (i, column) in case::Column::iter().enumerate() {
            if self.has(i) {
                select = select.column(column);
            }
        }
        select
    }
}

/// Cases of a statement that selects `columns` in `case::Column` order (see
/// [`CaseColumns::select`]), the others at their placeholder.
pub async fn read<C: sea_orm::ConnectionTrait>(
    conn: &C,
    statement: sea_orm::Statement,
    columns: CaseColumns,
) -> Result<Vec<case::Model>, DbErr> {
    conn.query_all_raw(statement)
        .await?
        .iter()
        .map(|res| {
            if let Some(row) = res.try_as_pg_row() {
                decode(row, columns)
            } else if let Some(row) = res.try_as_sqlite_row() {
                decode(row, columns)
            } else {
                Err(DbErr::Type(
                    "case rows come from PostgreSQL or SQLite".into(),
                ))
            }
        })
        .collect()
}

/// Where the columns of a [`CaseColumns`] row are: the `i`th column of the entity is at
/// the next position when the set has it.
struct Positions {
    columns: CaseColumns,
    next: usize,
}

impl Positions {
    fn at(&mut self, i: usize) -> Option<usize> {
        self.columns.has(i).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn read<T: Default>(
        &mut self,
        i: usize,
        read: impl FnOnce(usize) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        self.read_or(i, read, T::default())
    }

    /// [`Self::read`] with the placeholder given (the enums have no default).
    fn read_or<T>(
        &mut self,
        i: usize,
        read: impl FnOnce(usize) -> Result<T, DbErr>,
        placeholder: T,
    ) -> Result<T, DbErr> {
        match self.at(i) {
            Some(k) => read(k),
            None => Ok(placeholder),
        }
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

fn decode<'r, R>(row: &'r R, columns: CaseColumns) -> Result<case::Model, DbErr>
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
    let mut c = Positions { columns, next: 0 };
    Ok(case::Model {
        id: c.read(0, |k| get(row, k))?,
        number: c.read(1, |k| get(row, k))?,
        tracking_code: c.read(2, |k| get(row, k))?,
        source: c.read_or(3, |k| en(row, k), CaseSource::Tip)?,
        category_id: c.read(4, |k| get(row, k))?,
        title: c.read(5, |k| get(row, k))?,
        description: c.read(6, |k| get(row, k))?,
        status: c.read_or(7, |k| en(row, k), CaseStatus::Pending)?,
        priority: c.read_or(8, |k| en(row, k), Priority::Normal)?,
        region_id: c.read(9, |k| get(row, k))?,
        region_path: c.read(10, |k| get(row, k))?,
        lat: c.read(11, |k| get(row, k))?,
        lng: c.read(12, |k| get(row, k))?,
        accuracy_m: c.read(13, |k| get(row, k))?,
        outside_grid: c.read(14, |k| get(row, k))?,
        address: c.read(15, |k| get(row, k))?,
        tipster_id: c.read(16, |k| get(row, k))?,
        reporter_id: c.read(17, |k| get(row, k))?,
        created_by: c.read(18, |k| get(row, k))?,
        assignee_id: c.read(19, |k| get(row, k))?,
        site_id: c.read(20, |k| get(row, k))?,
        duplicate_of: c.read(21, |k| get(row, k))?,
        merged_into: c.read(22, |k| get(row, k))?,
        reject_reason: c.read(23, |k| opt_en(row, k))?,
        rework_count: c.read(24, |k| get(row, k))?,
        escalation_level: c.read(25, |k| get(row, k))?,
        version: c.read(26, |k| get(row, k))?,
        accepted_at: c.read(27, |k| get(row, k))?,
        started_at: c.read(28, |k| get(row, k))?,
        submitted_at: c.read(29, |k| get(row, k))?,
        closed_at: c.read(30, |k| get(row, k))?,
        first_submitted_at: c.read(31, |k| get(row, k))?,
        due_at: c.read(32, |k| get(row, k))?,
        onsite_due_at: c.read(33, |k| get(row, k))?,
        warn_at: c.read(34, |k| get(row, k))?,
        onsite_warn_at: c.read(35, |k| get(row, k))?,
        text_check: c.read(36, |k| opt_en(row, k))?,
        parked_at: c.read(37, |k| get(row, k))?,
        parked_seconds: c.read(38, |k| get(row, k))?,
        extended_count: c.read(39, |k| get(row, k))?,
        checkin_lat: c.read(40, |k| get(row, k))?,
        checkin_lng: c.read(41, |k| get(row, k))?,
        checkin_distance_m: c.read(42, |k| get(row, k))?,
        checkin_far: c.read(43, |k| get(row, k))?,
        rating: c.read(44, |k| get(row, k))?,
        rating_comment: c.read(45, |k| get(row, k))?,
        rated_at: c.read(46, |k| get(row, k))?,
        created_at: c.read(47, |k| get(row, k))?,
        updated_at: c.read(48, |k| get(row, k))?,
        campaign_id: c.read(49, |k| get(row, k))?,
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
