//! Date inputs, bounded: a deadline is in the future and at most a year ahead; a date
//! in a filter lies between 2000 and 2100. Anything else is a client's slip
//! (`9999-12-31`) and answers `BAD_INPUT` naming the field, instead of reaching the
//! database or overflowing a 32-bit `Int` later.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::error::{AppError, Msg};

/// How far ahead a deadline may be set.
pub const MAX_DEADLINE_AHEAD: Duration = Duration::days(366);

/// Earliest and latest year a filter date may name.
pub const FILTER_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

/// A deadline set by a person: after `now`, at most [`MAX_DEADLINE_AHEAD`] later.
pub fn deadline(
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    field: &'static str,
) -> Result<DateTime<Utc>, AppError> {
    if t <= now {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("{field} 须晚于现在"),
                format!("{field} must be in the future"),
            ),
            detail: Some("DATE_OUT_OF_RANGE"),
            field: Some(field.to_owned()),
        });
    }
    if t > now + MAX_DEADLINE_AHEAD {
        return Err(AppError::BadInput {
            msg: Msg::new(
                format!("{field} 最多可设在一年之后"),
                format!("{field} may be at most one year ahead"),
            ),
            detail: Some("DATE_OUT_OF_RANGE"),
            field: Some(field.to_owned()),
        });
    }
    Ok(t)
}

/// A date in a filter: between the years 2000 and 2099.
pub fn filter_date(t: DateTime<Utc>, field: &'static str) -> Result<DateTime<Utc>, AppError> {
    if FILTER_YEARS.contains(&t.year()) {
        Ok(t)
    } else {
        Err(AppError::BadInput {
            msg: Msg::new(
                format!("{field} 应在 2000 年到 2099 年之间"),
                format!("{field} must lie between the years 2000 and 2099"),
            ),
            detail: Some("DATE_OUT_OF_RANGE"),
            field: Some(field.to_owned()),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_future_and_within_a_year() {
        let now: DateTime<Utc> = "2026-12-03T08:00:00Z".parse().unwrap();
        let cases = [
            ("2026-12-03T08:00:00Z", false),
            ("2026-12-03T08:00:01Z", true),
            ("2027-12-04T08:00:00Z", true),
            ("2027-12-04T08:00:01Z", false),
            ("9999-12-31T00:00:00Z", false),
            ("1970-01-01T00:00:00Z", false),
        ];
        for (t, ok) in cases {
            let t: DateTime<Utc> = t.parse().unwrap();
            assert_eq!(deadline(t, now, "dueAt").is_ok(), ok, "{t}");
        }
    }

    #[test]
    fn filter_dates_are_this_century() {
        for (t, ok) in [
            ("1999-12-31T23:59:59Z", false),
            ("2000-01-01T00:00:00Z", true),
            ("2099-12-31T23:59:59Z", true),
            ("2100-01-01T00:00:00Z", false),
        ] {
            let t: DateTime<Utc> = t.parse().unwrap();
            assert_eq!(filter_date(t, "createdFrom").is_ok(), ok, "{t}");
        }
    }
}
