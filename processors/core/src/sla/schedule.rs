//! A business-hours schedule as configured: weekly hours per weekday, an IANA time zone and
//! holidays, with the validation a person's configuration gets.
//!
//! [`Schedule::calendar`] checks a record against every rule and compiles it into the
//! [`BusinessCalendar`] that does the arithmetic.

use super::calendar::{BusinessCalendar, HORIZON_DAYS};
use crate::rfc3339::{format_date_days, parse_date_days};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Minutes in a day: an interval may end at 1440, midnight at the end of its day.
pub const MINUTES_PER_DAY: u16 = 1_440;

/// A day of the week, Monday first (ISO 8601).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Days since Monday: Monday 0 to Sunday 6.
    pub const fn days_from_monday(self) -> u8 {
        self as u8
    }

    /// The schema symbol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    /// Parses a schema symbol or its three-letter abbreviation (`mon`).
    pub fn parse(text: &str) -> Option<Weekday> {
        Weekday::ALL
            .into_iter()
            .find(|day| day.as_str() == text || day.as_str()[..3] == *text)
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stretch of business hours that starts on `day`, in local wall-clock minutes.
///
/// `end_minute` below `start_minute` runs past midnight into the next day (Friday 22:00 to
/// Saturday 02:00 is `{friday, 1320, 120}`); `end_minute` 1440 ends at midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessInterval {
    /// The weekday the interval starts on.
    pub day: Weekday,
    /// Minutes after local midnight at which it starts, 0 to 1439.
    pub start_minute: u16,
    /// Minutes after local midnight at which it ends, 0 to 1440; below `start_minute` it
    /// ends on the next day.
    pub end_minute: u16,
}

impl BusinessInterval {
    /// The interval as minutes of a week from Monday 00:00: one piece, or two when it
    /// runs past midnight (the second on the next day, Sunday wrapping to Monday).
    pub(crate) fn week_minutes(self) -> impl Iterator<Item = (u32, u32)> {
        let day = u32::from(self.day.days_from_monday()) * u32::from(MINUTES_PER_DAY);
        let (start, end) = (u32::from(self.start_minute), u32::from(self.end_minute));
        let week = 7 * u32::from(MINUTES_PER_DAY);
        let (first, second) = if end > start {
            ((day + start, day + end), None)
        } else {
            let next = (day + u32::from(MINUTES_PER_DAY)) % week;
            (
                (day + start, day + u32::from(MINUTES_PER_DAY)),
                (end > 0).then_some((next, next + end)),
            )
        };
        std::iter::once(first).chain(second)
    }
}

impl fmt::Display for BusinessInterval {
    /// `friday 22:00-02:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(
            f,
            "{} {}-{}",
            self.day,
            hm(self.start_minute),
            hm(self.end_minute)
        )
    }
}

/// A business-hours schedule: the record on the compacted `schedules` topic, key
/// `account/schedule_id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The tenant.
    pub account: String,
    /// The schedule's name within the account, named by SLA policies.
    pub schedule_id: String,
    /// An IANA time zone name (`Europe/Berlin`); business hours are wall-clock times there.
    pub time_zone: String,
    /// The weekly hours; a weekday with none has no business hours.
    pub intervals: Vec<BusinessInterval>,
    /// Local dates (`YYYY-MM-DD`) with no business hours at all.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// When the record was written.
    pub updated_at: Timestamp,
}

impl Schedule {
    /// Checks every rule and compiles the schedule into its calendar.
    pub fn calendar(&self) -> Result<BusinessCalendar, ScheduleError> {
        if self.account.is_empty() {
            return Err(ScheduleError::EmptyName { field: "account" });
        }
        if self.schedule_id.is_empty() {
            return Err(ScheduleError::EmptyName {
                field: "schedule_id",
            });
        }
        let zone =
            jiff::tz::db()
                .get(&self.time_zone)
                .map_err(|_| ScheduleError::UnknownTimeZone {
                    value: self.time_zone.clone(),
                })?;
        let mut week: Vec<(u32, u32, usize)> = Vec::new();
        for (index, interval) in self.intervals.iter().enumerate() {
            check_interval(index, interval)?;
            week.extend(interval.week_minutes().map(|(s, e)| (s, e, index)));
        }
        if week.is_empty() {
            return Err(ScheduleError::NoIntervals);
        }
        week.sort_unstable();
        for pair in week.windows(2) {
            let ((_, end, first), (start, _, second)) = (pair[0], pair[1]);
            if start < end {
                return Err(ScheduleError::Overlap {
                    first,
                    second,
                    first_value: self.intervals[first],
                    second_value: self.intervals[second],
                });
            }
        }
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for (index, text) in self.holidays.iter().enumerate() {
            let day = parse_date_days(text).ok_or_else(|| ScheduleError::BadHoliday {
                index,
                value: text.clone(),
            })?;
            holidays.push(day);
        }
        holidays.sort_unstable();
        holidays.dedup();
        let open_weekdays = week.iter().fold(0u8, |set, &(start, _, _)| {
            set | 1 << (start / u32::from(MINUTES_PER_DAY))
        });
        check_horizon(open_weekdays, &holidays)?;
        let week_ms = week
            .iter()
            .map(|&(s, e, _)| (i64::from(s) * 60_000, i64::from(e) * 60_000))
            .collect();
        Ok(BusinessCalendar::new(&zone, week_ms, holidays))
    }
}

fn check_interval(index: usize, interval: &BusinessInterval) -> Result<(), ScheduleError> {
    if interval.start_minute >= MINUTES_PER_DAY {
        return Err(ScheduleError::StartOutOfDay {
            index,
            value: interval.start_minute,
        });
    }
    if interval.end_minute > MINUTES_PER_DAY {
        return Err(ScheduleError::EndOutOfDay {
            index,
            value: interval.end_minute,
        });
    }
    if interval.start_minute == interval.end_minute {
        return Err(ScheduleError::EmptyInterval {
            index,
            value: interval.start_minute,
        });
    }
    Ok(())
}

/// Refuses holidays that leave a stretch of [`HORIZON_DAYS`] without business hours.
fn check_horizon(open_weekdays: u8, holidays: &[i64]) -> Result<(), ScheduleError> {
    let (Some(&first), Some(&last)) = (holidays.first(), holidays.last()) else {
        return Ok(());
    };
    // 1970-01-01 was a Thursday: Monday-based weekday of day `d` is (d + 3) mod 7.
    let is_open = |day: i64| open_weekdays & (1 << (day + 3).rem_euclid(7)) != 0;
    let mut last_open = first - 8;
    let mut next_holiday = holidays.iter().peekable();
    for day in first - 7..=last + 8 {
        let holiday = next_holiday.next_if_eq(&&day).is_some();
        if !is_open(day) || holiday {
            continue;
        }
        if day - last_open > HORIZON_DAYS {
            return Err(ScheduleError::NoHoursWithinHorizon {
                from: format_date_days(last_open + 1),
                until: format_date_days(day - 1),
            });
        }
        last_open = day;
    }
    Ok(())
}

/// A schedule that breaks a rule. Each message names the field, the value and the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// `account` or `schedule_id` is empty.
    EmptyName {
        /// The empty field.
        field: &'static str,
    },
    /// `time_zone` is not in the bundled IANA database.
    UnknownTimeZone {
        /// The configured name.
        value: String,
    },
    /// An interval starts at or after 24:00.
    StartOutOfDay {
        /// The interval's position in `intervals`.
        index: usize,
        /// The configured start.
        value: u16,
    },
    /// An interval ends after 24:00.
    EndOutOfDay {
        /// The interval's position in `intervals`.
        index: usize,
        /// The configured end.
        value: u16,
    },
    /// An interval starts and ends at the same minute.
    EmptyInterval {
        /// The interval's position in `intervals`.
        index: usize,
        /// Its start and end.
        value: u16,
    },
    /// Two intervals cover the same time.
    Overlap {
        /// The position in `intervals` of the earlier one.
        first: usize,
        /// The position in `intervals` of the later one.
        second: usize,
        /// The earlier interval.
        first_value: BusinessInterval,
        /// The later interval.
        second_value: BusinessInterval,
    },
    /// A holiday is not a `YYYY-MM-DD` date.
    BadHoliday {
        /// The holiday's position in `holidays`.
        index: usize,
        /// The configured text.
        value: String,
    },
    /// No interval at all: the schedule would never open.
    NoIntervals,
    /// Holidays close every business day of a stretch longer than the horizon.
    NoHoursWithinHorizon {
        /// The first date of the stretch.
        from: String,
        /// The last date of the stretch.
        until: String,
    },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::EmptyName { field } => write!(f, "{field} = \"\": must not be empty"),
            ScheduleError::UnknownTimeZone { value } => write!(
                f,
                "time_zone = {value:?}: must be a zone name of the IANA time zone database, such as Europe/Berlin"
            ),
            ScheduleError::StartOutOfDay { index, value } => write!(
                f,
                "intervals[{index}].start_minute = {value}: must be below 1440 (24:00)"
            ),
            ScheduleError::EndOutOfDay { index, value } => write!(
                f,
                "intervals[{index}].end_minute = {value}: must be at most 1440 (24:00)"
            ),
            ScheduleError::EmptyInterval { index, value } => write!(
                f,
                "intervals[{index}]: start_minute = end_minute = {value}: an interval needs a length; a whole day is 0 to 1440"
            ),
            ScheduleError::Overlap {
                first,
                second,
                first_value,
                second_value,
            } => write!(
                f,
                "intervals[{first}] = {first_value} and intervals[{second}] = {second_value}: intervals must not overlap"
            ),
            ScheduleError::BadHoliday { index, value } => write!(
                f,
                "holidays[{index}] = {value:?}: must be a date written YYYY-MM-DD"
            ),
            ScheduleError::NoIntervals => write!(
                f,
                "intervals = []: a schedule needs business hours on at least one weekday"
            ),
            ScheduleError::NoHoursWithinHorizon { from, until } => write!(
                f,
                "holidays: every business day from {from} to {until} is a holiday: a schedule must have business hours within every {HORIZON_DAYS} days"
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}
