//! Deadlines on the work calendar: when a step of a case falls due, how much
//! working time passed between two instants, and how parking (挂账) stops the clock.
//!
//! Instants are UTC everywhere else in gridwatch; here they are turned into
//! Asia/Shanghai wall-clock time, because office hours and holidays are local.
//! China has had no daylight saving time since 1991, so the zone is the fixed
//! offset UTC+8 and every local time maps to exactly one instant.
//!
//! Every calculation is pure and walks the calendar one day at a time, never more
//! than [`MAX_SCAN_DAYS`] days: a limit that cannot be met within that span (an
//! absurd amount, or working hours configured to zero) gives the start plus that
//! span instead of looping.

use std::collections::HashMap;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday,
};
use entity::work_calendar_day;
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::domain::category::{LimitUnit, Priority, Step, TimeLimit};
use crate::error::AppError;

/// Asia/Shanghai (China Standard Time): UTC+8 all year round.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// How far (in calendar days, about ten years) a calculation walks before it
/// gives up and answers with a date that far away.
pub const MAX_SCAN_DAYS: i64 = 3650;

/// A time of day, checked when the crate is compiled.
const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => panic!("invalid time of day"),
    }
}

const MORNING_OPEN: NaiveTime = hm(8, 30);
const MORNING_CLOSE: NaiveTime = hm(12, 0);
const AFTERNOON_OPEN: NaiveTime = hm(14, 30);
const AFTERNOON_CLOSE: NaiveTime = hm(17, 30);

/// Working hours of a local government office (Asia/Shanghai local time), as
/// `(opens, closes)` for the morning and the afternoon session.
///
/// The morning must end no later than the afternoon starts (an overlap is counted
/// once); a session that closes no later than it opens has no working time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// Morning session, e.g. 08:30–12:00.
    pub morning: (NaiveTime, NaiveTime),
    /// Afternoon session, e.g. 14:30–17:30.
    pub afternoon: (NaiveTime, NaiveTime),
}

impl Default for WorkingHours {
    /// 08:30–12:00 and 14:30–17:30, 6.5 hours a day: the common schedule of a
    /// county office, with the long midday break usual in northern China. It is
    /// configurable: counties that keep other hours, or summer and winter
    /// timetables, pass their own.
    fn default() -> Self {
        Self {
            morning: (MORNING_OPEN, MORNING_CLOSE),
            afternoon: (AFTERNOON_OPEN, AFTERNOON_CLOSE),
        }
    }
}

impl WorkingHours {
    /// The sessions in order, overlap removed, empty ones included (callers skip them).
    fn sessions(&self) -> [(NaiveTime, NaiveTime); 2] {
        let (m_open, m_close) = self.morning;
        let (a_open, a_close) = self.afternoon;
        [(m_open, m_close), (a_open.max(m_close), a_close)]
    }

    /// When the office closes for the day: the end of the last non-empty session.
    fn closing(&self) -> NaiveTime {
        self.sessions()
            .into_iter()
            .filter(|(open, close)| open < close)
            .map(|(_, close)| close)
            .max()
            .unwrap_or(self.afternoon.1)
    }
}

/// The work calendar: Monday to Friday are working days except listed public
/// holidays; listed make-up days (调休上班) are working days even on weekends.
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    /// Days that differ from the Monday–Friday rule (or restate it): date → worked.
    exceptions: HashMap<NaiveDate, bool>,
    hours: WorkingHours,
}

impl WorkCalendar {
    /// A calendar from its exceptions, `(date, worked)`, and the office hours.
    /// A date listed twice keeps the last entry.
    pub fn new(
        exceptions: impl IntoIterator<Item = (NaiveDate, bool)>,
        hours: WorkingHours,
    ) -> Self {
        Self {
            exceptions: exceptions.into_iter().collect(),
            hours,
        }
    }

    /// The calendar as county staff maintain it in `work_calendar_day`.
    pub async fn load<C: ConnectionTrait>(db: &C, hours: WorkingHours) -> Result<Self, AppError> {
        let rows = work_calendar_day::Entity::find().all(db).await?;
        Ok(Self::new(
            rows.into_iter().map(|r| (r.day, r.workday)),
            hours,
        ))
    }

    /// The office hours this calendar counts with.
    pub fn hours(&self) -> WorkingHours {
        self.hours
    }

    /// Whether the office works on this (local) date.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.exceptions.get(&d) {
            Some(&worked) => worked,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// Adds `amount` `unit`s to `start`:
    ///
    /// - `Hours`: clock hours, night and holidays included.
    /// - `WorkingHours`: only time inside office hours on working days counts; a
    ///   start outside them starts counting at the next opening. A limit used up
    ///   exactly at a closing time ends then (17:30), not at the next opening.
    /// - `WorkingDays`: the deadline is the closing time of the `amount`-th working
    ///   day after the start's local date. The start date itself never counts,
    ///   whatever the hour, so a start on a non-working day or after closing counts
    ///   from the next working day, and so does a start during office hours.
    ///
    /// Zero or negative amounts give `start`. A limit that cannot be met within
    /// [`MAX_SCAN_DAYS`] gives `start` plus that many days.
    pub fn add(&self, start: DateTime<Utc>, amount: i32, unit: LimitUnit) -> DateTime<Utc> {
        if amount <= 0 {
            return start;
        }
        match unit {
            LimitUnit::Hours => start
                .checked_add_signed(Duration::hours(i64::from(amount)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            LimitUnit::WorkingHours => {
                self.add_working_time(start, Duration::hours(i64::from(amount)))
            }
            LimitUnit::WorkingDays => self.add_working_days(start, amount),
        }
    }

    /// Working time (office hours on working days) between `from` and `to`, for
    /// statistics and for parking; zero when `to` is not after `from`. Counts at
    /// most [`MAX_SCAN_DAYS`] days from `from`.
    pub fn working_duration(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (from, to) = (to_local(from), to_local(to));
        let mut total = Duration::zero();
        let mut day = from.date();
        for _ in 0..=MAX_SCAN_DAYS {
            if day > to.date() {
                break;
            }
            for (open, close) in self.sessions_on(day) {
                let (s, e) = (open.max(from), close.min(to));
                if s < e {
                    total += e - s;
                }
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        total
    }

    /// The instant when `amount` of working time, counted from `start`, is used up.
    fn add_working_time(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount <= Duration::zero() {
            return start;
        }
        let from = to_local(start);
        let mut left = amount;
        let mut day = from.date();
        for _ in 0..=MAX_SCAN_DAYS {
            for (open, close) in self.sessions_on(day) {
                let s = open.max(from);
                if s >= close {
                    continue;
                }
                let available = close - s;
                if left <= available {
                    return to_utc(s + left);
                }
                left -= available;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        far_from(start)
    }

    fn add_working_days(&self, start: DateTime<Utc>, amount: i32) -> DateTime<Utc> {
        let mut day = to_local(start).date();
        let mut counted = 0;
        for _ in 0..MAX_SCAN_DAYS {
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
            if self.is_working_day(day) {
                counted += 1;
                if counted >= amount {
                    return to_utc(day.and_time(self.hours.closing()));
                }
            }
        }
        far_from(start)
    }

    /// The non-empty office sessions of a local date as local date-times; none on
    /// a non-working day.
    /// The office sessions of a (local) date as UTC instants, none on a day off.
    pub fn sessions_utc(&self, day: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.sessions_on(day)
            .map(|(open, close)| (to_utc(open), to_utc(close)))
            .collect()
    }

    fn sessions_on(&self, day: NaiveDate) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> {
        let working = self.is_working_day(day);
        self.hours
            .sessions()
            .into_iter()
            .filter(move |(open, close)| working && open < close)
            .map(move |(open, close)| (day.and_time(open), day.and_time(close)))
    }
}

/// When a step falls due for a case created or accepted at `start`: the category's
/// limit for this priority and step, added on the calendar. `None` when the
/// category sets no limit for that (priority, step).
pub fn due_at(
    calendar: &WorkCalendar,
    limits: &[TimeLimit],
    priority: Priority,
    step: Step,
    start: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    limits
        .iter()
        .find(|l| l.priority == priority && l.step == step)
        .map(|l| calendar.add(start, l.amount, l.unit))
}

/// The due time after a case was parked (挂账) from `parked_from` to `parked_to`:
/// parking stops the clock, so the deadline moves later by the time the clock
/// stood still. For `Hours` limits that is the wall-clock parked time; for working
/// units it is the working time inside the parked interval, added again on the
/// calendar from the old due time (parking over a weekend moves nothing; parking
/// for one full working day moves a 17:30 deadline to 17:30 of the next working day).
pub fn shift_for_parking(
    calendar: &WorkCalendar,
    due: DateTime<Utc>,
    parked_from: DateTime<Utc>,
    parked_to: DateTime<Utc>,
    unit: LimitUnit,
) -> DateTime<Utc> {
    if parked_to <= parked_from {
        return due;
    }
    match unit {
        LimitUnit::Hours => due
            .checked_add_signed(parked_to - parked_from)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        LimitUnit::WorkingHours | LimitUnit::WorkingDays => {
            calendar.add_working_time(due, calendar.working_duration(parked_from, parked_to))
        }
    }
}

/// Clock time left until `due` at `now` (negative once overdue) and whether the
/// step is overdue. A parked case's clock stands still at `parked_at`. Reaching the
/// due instant exactly is not yet overdue.
pub fn remaining(
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    parked_at: Option<DateTime<Utc>>,
) -> (Duration, bool) {
    let clock = parked_at.map_or(now, |p| p.min(now));
    let left = due - clock;
    (left, left < Duration::zero())
}

/// Asia/Shanghai wall-clock time of an instant (saturating at the end of time).
pub fn to_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
        .checked_add_offset(SHANGHAI)
        .unwrap_or(NaiveDateTime::MAX)
}

/// The instant of an Asia/Shanghai wall-clock time (saturating at either end of time).
pub fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match local.checked_sub_offset(SHANGHAI) {
        Some(utc) => utc.and_utc(),
        None if local.year() < 0 => DateTime::<Utc>::MIN_UTC,
        None => DateTime::<Utc>::MAX_UTC,
    }
}

/// The answer when a limit cannot be met within the scanned span.
fn far_from(start: DateTime<Utc>) -> DateTime<Utc> {
    start
        .checked_add_signed(Duration::days(MAX_SCAN_DAYS))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use LimitUnit::{Hours, WorkingDays, WorkingHours as Wh};

    /// The seeded 2026 calendar with the default office hours.
    fn cal() -> WorkCalendar {
        let days = seeds::calendar().expect("seed calendar parses");
        WorkCalendar::new(
            days.into_iter().map(|d| (d.date, d.workday)),
            WorkingHours::default(),
        )
    }

    /// An Asia/Shanghai wall-clock time, `YYYY-MM-DD HH:MM`, as a UTC instant.
    fn at(local: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M")
            .unwrap_or_else(|e| panic!("bad test time {local:?}: {e}"));
        naive.and_local_timezone(SHANGHAI).unwrap().to_utc()
    }

    fn show(t: DateTime<Utc>) -> String {
        t.with_timezone(&SHANGHAI)
            .format("%Y-%m-%d %H:%M %a")
            .to_string()
    }

    fn dur(h: i64, m: i64) -> Duration {
        Duration::hours(h) + Duration::minutes(m)
    }

    #[test]
    fn local_time_is_utc_plus_eight() {
        assert_eq!(
            at("2026-03-10 08:00").to_rfc3339(),
            "2026-03-10T00:00:00+00:00"
        );
        assert_eq!(
            at("2026-03-10 07:00").to_rfc3339(),
            "2026-03-09T23:00:00+00:00"
        );
    }

    #[test]
    fn default_office_day_is_six_and_a_half_hours() {
        let cal = WorkCalendar::new([], WorkingHours::default());
        let day = cal.working_duration(at("2026-03-10 00:00"), at("2026-03-11 00:00"));
        assert_eq!(day, dur(6, 30));
    }

    #[tokio::test]
    async fn load_reads_the_calendar_staff_maintain() {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectOptions, Database};
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1).sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        for (day, workday, name) in [
            ("2026-03-14", true, "调休上班"),
            ("2026-03-16", false, "假日"),
        ] {
            work_calendar_day::ActiveModel {
                day: Set(d(day)),
                workday: Set(workday),
                name: Set(name.into()),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        let cal = WorkCalendar::load(&db, WorkingHours::default())
            .await
            .unwrap();
        assert!(
            cal.is_working_day(d("2026-03-14")),
            "listed make-up Saturday"
        );
        assert!(!cal.is_working_day(d("2026-03-15")), "unlisted Sunday");
        assert!(
            !cal.is_working_day(d("2026-03-16")),
            "listed holiday Monday"
        );
        assert!(cal.is_working_day(d("2026-03-17")), "unlisted Tuesday");
        assert_eq!(cal.hours(), WorkingHours::default());
    }

    #[test]
    fn working_days_follow_the_2026_calendar() {
        let cal = cal();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        #[rustfmt::skip]
        let rows = [
            ("2026-03-10", true,  "ordinary Tuesday"),
            ("2026-03-14", false, "ordinary Saturday"),
            ("2026-03-15", false, "ordinary Sunday"),
            ("2026-01-01", false, "元旦"),
            ("2026-01-04", true,  "元旦调休 Sunday"),
            ("2026-02-13", true,  "Friday before 春节"),
            ("2026-02-14", true,  "春节调休 Saturday"),
            ("2026-02-16", false, "春节 Monday"),
            ("2026-02-23", false, "春节 last day, Monday"),
            ("2026-02-24", true,  "first day back after 春节"),
            ("2026-02-28", true,  "春节调休 Saturday"),
            ("2026-09-20", true,  "国庆调休 Sunday"),
            ("2026-09-25", false, "中秋节 Friday"),
            ("2026-10-07", false, "国庆 Wednesday"),
            ("2026-10-08", true,  "first day back after 国庆"),
            ("2026-10-10", true,  "国庆调休 Saturday"),
        ];
        for (date, expected, why) in rows {
            assert_eq!(cal.is_working_day(d(date)), expected, "{date} ({why})");
        }
    }

    #[test]
    fn add_follows_the_calendar() {
        let cal = cal();
        // (start, amount, unit, expected due, why) — local times; office hours
        // 08:30–12:00 and 14:30–17:30 (6.5 h a day).
        #[rustfmt::skip]
        let rows: &[(&str, i32, LimitUnit, &str, &str)] = &[
            // Clock hours run day and night, holidays included.
            ("2026-03-10 22:00",  5, Hours,       "2026-03-11 03:00", "hours across midnight"),
            ("2026-03-13 20:00", 48, Hours,       "2026-03-15 20:00", "hours over a weekend"),
            ("2026-10-01 10:00", 24, Hours,       "2026-10-02 10:00", "hours on a holiday"),
            // Working hours.
            ("2026-03-10 09:00",  2, Wh,          "2026-03-10 11:00", "inside the morning"),
            ("2026-03-10 11:00",  2, Wh,          "2026-03-10 15:30", "across lunch"),
            ("2026-03-10 12:30",  1, Wh,          "2026-03-10 15:30", "starting during lunch"),
            ("2026-03-10 07:00",  1, Wh,          "2026-03-10 09:30", "starting before opening"),
            ("2026-03-10 00:10",  1, Wh,          "2026-03-10 09:30", "starting after midnight"),
            ("2026-03-10 14:30",  3, Wh,          "2026-03-10 17:30", "used up exactly at closing"),
            ("2026-03-10 17:30",  1, Wh,          "2026-03-11 09:30", "starting exactly at closing"),
            ("2026-03-10 21:00",  1, Wh,          "2026-03-11 09:30", "starting in the evening"),
            ("2026-03-10 08:30",  8, Wh,          "2026-03-11 10:00", "8 h from opening: two days"),
            ("2026-03-10 10:00",  8, Wh,          "2026-03-11 11:30", "8 h mid-morning: two days"),
            ("2026-03-13 16:30",  2, Wh,          "2026-03-16 09:30", "Friday 16:30 → Monday"),
            ("2026-03-14 10:00",  1, Wh,          "2026-03-16 09:30", "starting on a Saturday"),
            ("2026-02-13 16:30",  2, Wh,          "2026-02-14 09:30", "into the make-up Saturday"),
            ("2026-02-14 16:30",  2, Wh,          "2026-02-24 09:30", "over 春节"),
            ("2026-09-30 16:30",  2, Wh,          "2026-10-08 09:30", "over 国庆"),
            // Working days: closing time of the N-th working day after the start date.
            ("2026-03-10 10:00",  1, WorkingDays, "2026-03-11 17:30", "next working day"),
            ("2026-03-10 07:00",  1, WorkingDays, "2026-03-11 17:30", "start before opening"),
            ("2026-03-10 17:30",  1, WorkingDays, "2026-03-11 17:30", "start exactly at closing"),
            ("2026-03-10 23:00",  1, WorkingDays, "2026-03-11 17:30", "start at night"),
            ("2026-03-13 15:00",  1, WorkingDays, "2026-03-16 17:30", "Friday afternoon"),
            ("2026-03-13 18:00",  1, WorkingDays, "2026-03-16 17:30", "Friday evening"),
            ("2026-03-14 10:00",  1, WorkingDays, "2026-03-16 17:30", "Saturday"),
            ("2026-03-10 10:00",  5, WorkingDays, "2026-03-17 17:30", "a working week"),
            ("2025-12-31 10:00",  1, WorkingDays, "2026-01-04 17:30", "元旦 make-up Sunday"),
            ("2026-02-13 10:00",  1, WorkingDays, "2026-02-14 17:30", "make-up Saturday"),
            ("2026-02-13 10:00",  2, WorkingDays, "2026-02-24 17:30", "over 春节"),
            ("2026-02-13 10:00",  6, WorkingDays, "2026-02-28 17:30", "to the 2nd make-up day"),
            ("2026-02-13 10:00",  7, WorkingDays, "2026-03-02 17:30", "past the 2nd make-up"),
            ("2026-02-16 10:00",  1, WorkingDays, "2026-02-24 17:30", "start during 春节"),
            ("2026-09-18 10:00",  1, WorkingDays, "2026-09-20 17:30", "国庆 make-up Sunday"),
            ("2026-09-24 10:00",  1, WorkingDays, "2026-09-28 17:30", "over 中秋节"),
            ("2026-09-30 10:00",  1, WorkingDays, "2026-10-08 17:30", "over 国庆"),
            ("2026-09-30 10:00",  3, WorkingDays, "2026-10-10 17:30", "make-up Saturday"),
            ("2026-09-30 10:00",  4, WorkingDays, "2026-10-12 17:30", "after 国庆 make-up"),
            // Nothing to add.
            ("2026-03-10 10:00",  0, Hours,       "2026-03-10 10:00", "zero hours"),
            ("2026-03-14 10:00",  0, Wh,          "2026-03-14 10:00", "zero working hours"),
            ("2026-03-14 10:00", -3, WorkingDays, "2026-03-14 10:00", "negative days"),
        ];
        for &(start, amount, unit, expected, why) in rows {
            let got = cal.add(at(start), amount, unit);
            assert_eq!(
                got,
                at(expected),
                "{why}: {start} + {amount} {unit:?} gave {}, expected {expected}",
                show(got)
            );
        }
    }

    #[test]
    fn working_duration_counts_office_hours_only() {
        let cal = cal();
        #[rustfmt::skip]
        let rows: &[(&str, &str, Duration, &str)] = &[
            ("2026-03-14 00:00", "2026-03-16 00:00", dur(0, 0),   "a weekend"),
            ("2026-03-13 17:30", "2026-03-16 08:30", dur(0, 0),   "Friday close to Monday open"),
            ("2026-03-13 16:00", "2026-03-16 09:00", dur(2, 0),   "Friday 16:00 to Monday 09:00"),
            ("2026-03-10 00:00", "2026-03-11 00:00", dur(6, 30),  "one working day"),
            ("2026-03-10 11:00", "2026-03-10 15:00", dur(1, 30),  "across lunch"),
            ("2026-03-10 12:10", "2026-03-10 14:20", dur(0, 0),   "inside lunch"),
            ("2026-03-09 00:00", "2026-03-16 00:00", dur(32, 30), "a working week"),
            ("2026-02-15 00:00", "2026-02-24 00:00", dur(0, 0),   "春节"),
            ("2026-02-13 00:00", "2026-02-25 00:00", dur(19, 30), "春节 with its make-up Saturday"),
            ("2026-10-01 00:00", "2026-10-11 00:00", dur(19, 30), "国庆 with its make-up Saturday"),
            ("2026-03-10 15:00", "2026-03-10 10:00", dur(0, 0),   "reversed interval"),
        ];
        for &(from, to, expected, why) in rows {
            assert_eq!(cal.working_duration(at(from), at(to)), expected, "{why}");
        }
    }

    #[test]
    fn adding_working_hours_uses_up_exactly_that_much_working_time() {
        let cal = cal();
        // Every 37 minutes through February and early March 2026 (春节 included).
        let mut start = at("2026-02-01 00:00");
        while start < at("2026-03-10 00:00") {
            for amount in [1, 2, 4, 7, 8, 16, 40] {
                let due = cal.add(start, amount, Wh);
                assert_eq!(
                    cal.working_duration(start, due),
                    Duration::hours(i64::from(amount)),
                    "{} + {amount} working hours gave {}",
                    show(start),
                    show(due)
                );
                assert!(due > start);
            }
            start += Duration::minutes(37);
        }
    }

    #[test]
    fn working_days_end_at_closing_of_the_nth_working_day() {
        let cal = cal();
        // Every 419 minutes through 2026, so every hour of every weekday comes up.
        let mut start = at("2026-01-01 00:00");
        while start < at("2027-01-01 00:00") {
            for amount in [1, 3, 10] {
                let due = cal.add(start, amount, WorkingDays).with_timezone(&SHANGHAI);
                assert_eq!(due.time(), AFTERNOON_CLOSE, "{}", show(start));
                assert!(cal.is_working_day(due.date_naive()), "{}", show(start));
                let start_day = start.with_timezone(&SHANGHAI).date_naive();
                let counted = start_day
                    .iter_days()
                    .skip(1)
                    .take_while(|d| *d <= due.date_naive())
                    .filter(|d| cal.is_working_day(*d))
                    .count();
                assert_eq!(counted, amount as usize, "{}", show(start));
            }
            start += Duration::minutes(419);
        }
    }

    #[test]
    fn loops_are_bounded() {
        let start = at("2026-03-10 10:00");
        let far = start + Duration::days(MAX_SCAN_DAYS);
        // Office hours configured to nothing: no working time ever comes.
        let closed = WorkCalendar::new(
            [],
            WorkingHours {
                morning: (MORNING_OPEN, MORNING_OPEN),
                afternoon: (AFTERNOON_OPEN, AFTERNOON_OPEN),
            },
        );
        assert_eq!(closed.add(start, 1, Wh), far);
        // Absurd amounts give up at the far date.
        let cal = cal();
        assert_eq!(cal.add(start, i32::MAX, Wh), far);
        assert_eq!(cal.add(start, i32::MAX, WorkingDays), far);
        // The ends of time saturate instead of panicking.
        let (first, last) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert_eq!(cal.add(last, 1, Hours), last);
        assert_eq!(cal.add(last, 1, Wh), last);
        assert_eq!(cal.add(last, 1, WorkingDays), last);
        assert_eq!(
            shift_for_parking(&cal, last, start, start + Duration::hours(1), Hours),
            last
        );
        // A huge interval counts only the first MAX_SCAN_DAYS + 1 days.
        let capped = first + Duration::days(MAX_SCAN_DAYS + 1);
        assert_eq!(
            cal.working_duration(first, last),
            cal.working_duration(first, capped)
        );
    }

    #[test]
    fn parking_stops_the_clock() {
        let cal = cal();
        // (due, parked from, parked to, unit, new due, why) — local times.
        #[rustfmt::skip]
        let rows: &[(&str, &str, &str, LimitUnit, &str, &str)] = &[
            ("2026-03-10 20:00", "2026-03-10 10:00", "2026-03-10 13:30", Hours,       "2026-03-10 23:30", "hours: wall clock"),
            ("2026-03-13 20:00", "2026-03-13 18:00", "2026-03-16 08:00", Hours,       "2026-03-16 10:00", "hours: over a weekend"),
            ("2026-03-10 16:00", "2026-03-10 09:00", "2026-03-10 10:00", Wh,          "2026-03-10 17:00", "working hours: one hour"),
            ("2026-03-10 16:00", "2026-03-10 11:00", "2026-03-10 15:30", Wh,          "2026-03-11 09:00", "working hours: past closing"),
            ("2026-03-10 16:00", "2026-03-10 18:00", "2026-03-11 08:00", Wh,          "2026-03-10 16:00", "working hours: overnight"),
            ("2026-03-16 17:30", "2026-03-12 08:00", "2026-03-13 08:00", WorkingDays, "2026-03-17 17:30", "working days: one full day"),
            ("2026-03-16 17:30", "2026-03-13 17:30", "2026-03-16 08:30", WorkingDays, "2026-03-16 17:30", "working days: a weekend"),
            ("2026-03-16 17:30", "2026-03-16 09:00", "2026-03-16 11:00", WorkingDays, "2026-03-17 10:30", "working days: two hours"),
            ("2026-02-24 17:30", "2026-02-13 17:30", "2026-02-24 08:30", WorkingDays, "2026-02-25 17:30", "working days: make-up day counts"),
            ("2026-03-10 16:00", "2026-03-10 10:00", "2026-03-10 10:00", Wh,          "2026-03-10 16:00", "empty interval"),
            ("2026-03-10 16:00", "2026-03-10 11:00", "2026-03-10 10:00", Hours,       "2026-03-10 16:00", "reversed interval"),
        ];
        for &(due, from, to, unit, expected, why) in rows {
            let got = shift_for_parking(&cal, at(due), at(from), at(to), unit);
            assert_eq!(got, at(expected), "{why}: gave {}", show(got));
        }
    }

    #[test]
    fn remaining_time_and_overdue() {
        let due = at("2026-03-10 17:30");
        // (now, parked at, remaining, overdue, why) — local times.
        #[rustfmt::skip]
        let rows: &[(&str, Option<&str>, Duration, bool, &str)] = &[
            ("2026-03-10 16:30", None,                     dur(1, 0),   false, "before due"),
            ("2026-03-10 17:30", None,                     dur(0, 0),   false, "exactly at due"),
            ("2026-03-10 18:00", None,                     dur(0, -30), true,  "after due"),
            ("2026-03-11 10:00", Some("2026-03-10 15:30"), dur(2, 0),   false, "frozen while parked"),
            ("2026-03-11 10:00", Some("2026-03-10 18:00"), dur(0, -30), true,  "parked while overdue"),
            ("2026-03-10 16:30", Some("2026-03-10 17:00"), dur(1, 0),   false, "parked in the future"),
        ];
        for &(now, parked, left, overdue, why) in rows {
            assert_eq!(
                remaining(due, at(now), parked.map(at)),
                (left, overdue),
                "{why}"
            );
        }
    }

    #[test]
    fn due_at_picks_the_limit_of_the_priority_and_step() {
        let cal = cal();
        let limit = |priority, step, amount, unit| TimeLimit {
            priority,
            step,
            amount,
            unit,
        };
        let limits = [
            limit(Priority::Urgent, Step::Accept, 1, Hours),
            limit(Priority::Urgent, Step::Handle, 4, Hours),
            limit(Priority::Normal, Step::Accept, 4, Wh),
            limit(Priority::Normal, Step::Handle, 3, WorkingDays),
        ];
        let start = at("2026-03-13 16:00"); // a Friday
        #[rustfmt::skip]
        let rows: &[(Priority, Step, Option<&str>)] = &[
            (Priority::Urgent, Step::Accept, Some("2026-03-13 17:00")),
            (Priority::Urgent, Step::Handle, Some("2026-03-13 20:00")),
            (Priority::Normal, Step::Accept, Some("2026-03-16 11:00")),
            (Priority::Normal, Step::Handle, Some("2026-03-18 17:30")),
            (Priority::Urgent, Step::Onsite, None),
            (Priority::High,   Step::Accept, None),
        ];
        for &(priority, step, expected) in rows {
            assert_eq!(
                due_at(&cal, &limits, priority, step, start),
                expected.map(at),
                "{priority:?} {step:?}"
            );
        }
        assert_eq!(
            due_at(&cal, &[], Priority::Normal, Step::Handle, start),
            None
        );
    }
}
