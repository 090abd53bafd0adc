//! Business-hours arithmetic: the due time after a span of business time, and the business
//! time between two instants, through weekends, holidays and daylight-saving changes.
//!
//! An instant is *in business hours* when the wall clock of the schedule's time zone shows
//! a time inside an interval of that local weekday and the local date is not a holiday.
//! On a spring-forward day the skipped wall-clock hour does not exist, so it is never
//! business time; on a fall-back day the repeated hour is business time twice over when
//! its wall-clock time is. Everything follows from that definition.
//!
//! A [`BusinessCalendar`] is compiled once from a [`Schedule`](super::Schedule): the UTC
//! offsets of its zone as a table of transitions from 1970 to 2200 (taken from the bundled
//! IANA database), the week as sorted intervals with running sums, the holidays as sorted
//! day numbers. Between two offset transitions local time is UTC plus a constant, so the
//! business time of a stretch is a difference of a weekly running sum, minus the holidays
//! inside it: a due time is a few binary searches, with no date conversion and no
//! allocation.

use crate::time::{Millis, Timestamp};
use std::fmt;

/// A schedule must have business hours within every span of this many days.
pub const HORIZON_DAYS: i64 = 730;

const DAY: i64 = 86_400_000;
const WEEK: i64 = 7 * DAY;
/// 1970-01-01 was a Thursday: local ms + this = ms since a Monday 00:00.
const MONDAY_SHIFT: i64 = 3 * DAY;

/// The first instant a calendar answers for: 1970-01-01T00:00Z.
pub const RANGE_START: Timestamp = Timestamp(0);
/// The end of the span a calendar answers for: 2200-01-01T00:00Z.
pub const RANGE_END: Timestamp = Timestamp(7_258_118_400_000);

/// A compiled schedule: answers business-time questions for instants from
/// [`RANGE_START`] to [`RANGE_END`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessCalendar {
    week: Week,
    /// UTC ms from which `offsets[i]` is in force; `transitions[0]` is [`RANGE_START`].
    transitions: Vec<i64>,
    /// UTC offset in ms (local = UTC + offset).
    offsets: Vec<i64>,
    /// Local dates without business hours, as days from 1970-01-01, sorted and unique.
    holidays: Vec<i64>,
}

/// The weekly hours as sorted, disjoint intervals in ms since Monday 00:00 local.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Week {
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// Business ms in the week before interval `i` starts.
    before: Vec<i64>,
    /// Business ms in a whole week; above zero.
    total: i64,
}

/// An instant outside the span a calendar answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    /// The instant asked about, or the due time that would lie beyond the span.
    pub at: Timestamp,
}

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instant {} ms: business hours are computed from {} to {}",
            self.at.0,
            RANGE_START.to_rfc3339(),
            RANGE_END.to_rfc3339()
        )
    }
}

impl std::error::Error for OutOfRange {}

impl Week {
    /// `pieces`: sorted, disjoint, non-empty; adjacent pieces are merged here.
    fn new(pieces: Vec<(i64, i64)>) -> Week {
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(pieces.len());
        for (start, end) in pieces {
            match merged.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => merged.push((start, end)),
            }
        }
        let mut before = Vec::with_capacity(merged.len());
        let mut total = 0;
        for &(start, end) in &merged {
            before.push(total);
            total += end - start;
        }
        Week {
            starts: merged.iter().map(|p| p.0).collect(),
            ends: merged.iter().map(|p| p.1).collect(),
            before,
            total,
        }
    }

    /// Business ms in `[0, position)` of a week.
    #[inline]
    fn prefix(&self, position: i64) -> i64 {
        let i = self.ends.partition_point(|&end| end <= position);
        match self.starts.get(i) {
            Some(&start) => self.before[i] + (position - start).max(0),
            None => self.total,
        }
    }

    /// Business ms from the local epoch's Monday to local instant `local`, holidays ignored.
    #[inline]
    fn cumulative(&self, local: i64) -> i64 {
        let shifted = local + MONDAY_SHIFT;
        shifted.div_euclid(WEEK) * self.total + self.prefix(shifted.rem_euclid(WEEK))
    }

    /// The earliest local instant whose [`cumulative`](Self::cumulative) reaches `target`.
    #[inline]
    fn inverse(&self, target: i64) -> i64 {
        let weeks = (target - 1).div_euclid(self.total);
        let rest = target - weeks * self.total;
        let i = self.before.partition_point(|&b| b < rest) - 1;
        weeks * WEEK + self.starts[i] + (rest - self.before[i]) - MONDAY_SHIFT
    }

    /// Whether a position in the week is business time.
    fn contains(&self, position: i64) -> bool {
        let i = self.ends.partition_point(|&end| end <= position);
        self.starts.get(i).is_some_and(|&start| start <= position)
    }
}

/// A stretch of one offset period that has no holiday in it, in local ms.
#[derive(Clone, Copy, Debug)]
struct Stretch {
    start: i64,
    end: i64,
    offset: i64,
}

/// The holiday-free stretches from an instant on, in order, to [`RANGE_END`].
#[derive(Debug)]
struct Stretches<'a> {
    calendar: &'a BusinessCalendar,
    period: usize,
    offset: i64,
    /// Local position reached.
    at: i64,
    /// Local end of the current offset period.
    period_end: i64,
    /// The first holiday that ends after `at`.
    holiday: usize,
}

impl Iterator for Stretches<'_> {
    type Item = Stretch;

    #[inline]
    fn next(&mut self) -> Option<Stretch> {
        let holidays = &self.calendar.holidays;
        loop {
            if self.at >= self.period_end {
                let utc = self.period_end - self.offset;
                self.period += 1;
                self.offset = *self.calendar.offsets.get(self.period)?;
                self.at = utc + self.offset;
                self.period_end = self.calendar.period_end(self.period) + self.offset;
                self.holiday = first_holiday_after(holidays, self.at);
                continue;
            }
            let next_holiday = holidays.get(self.holiday).map(|&day| day * DAY);
            if let Some(start) = next_holiday.filter(|&start| start <= self.at) {
                self.at = start + DAY;
                self.holiday += 1;
                continue;
            }
            let end = next_holiday.map_or(self.period_end, |start| start.min(self.period_end));
            let stretch = Stretch {
                start: self.at,
                end,
                offset: self.offset,
            };
            self.at = end;
            return Some(stretch);
        }
    }
}

/// The index of the first holiday that ends after local instant `local`.
#[inline]
fn first_holiday_after(holidays: &[i64], local: i64) -> usize {
    holidays.partition_point(|&day| (day + 1) * DAY <= local)
}

impl BusinessCalendar {
    /// Compiles a calendar; `week` holds sorted, disjoint, non-empty intervals in ms since
    /// Monday 00:00 local, `holidays` sorted unique day numbers. Only
    /// [`Schedule::calendar`](super::Schedule::calendar) calls this, after validation.
    pub(super) fn new(
        zone: &jiff::tz::TimeZone,
        week: Vec<(i64, i64)>,
        holidays: Vec<i64>,
    ) -> BusinessCalendar {
        let start = jiff::Timestamp::from_millisecond(RANGE_START.0).expect("1970 is in range");
        let offset_ms = |offset: jiff::tz::Offset| i64::from(offset.seconds()) * 1_000;
        let mut transitions = vec![RANGE_START.0];
        let mut offsets = vec![offset_ms(zone.to_offset(start))];
        for transition in zone.following(start) {
            let at = transition.timestamp().as_millisecond();
            if at >= RANGE_END.0 {
                break;
            }
            let offset = offset_ms(transition.offset());
            if offsets.last() != Some(&offset) {
                transitions.push(at);
                offsets.push(offset);
            }
        }
        BusinessCalendar {
            week: Week::new(week),
            transitions,
            offsets,
            holidays,
        }
    }

    /// The instant at which `span` of business time has passed since `from`: the earliest
    /// instant `t` with `business_time(from, t) == span`. A zero span is due at `from`.
    #[inline]
    pub fn due_at(&self, from: Timestamp, span: Millis) -> Result<Timestamp, OutOfRange> {
        self.check(from)?;
        let mut rest = span.0;
        if rest <= 0 {
            return Ok(from);
        }
        for stretch in self.stretches(from) {
            let reached = self.week.cumulative(stretch.start);
            let available = self.week.cumulative(stretch.end) - reached;
            if rest <= available {
                return Ok(Timestamp(
                    self.week.inverse(reached + rest) - stretch.offset,
                ));
            }
            rest -= available;
        }
        Err(OutOfRange { at: RANGE_END })
    }

    /// The business time from `from` to `to`; zero if `to` is not after `from`.
    pub fn business_time(&self, from: Timestamp, to: Timestamp) -> Result<Millis, OutOfRange> {
        self.check(from)?;
        self.check(to)?;
        let mut total = 0;
        if to <= from {
            return Ok(Millis::ZERO);
        }
        for stretch in self.stretches(from) {
            let end_local = to.0 + stretch.offset;
            if stretch.start >= end_local {
                break;
            }
            let end = stretch.end.min(end_local);
            total += self.week.cumulative(end) - self.week.cumulative(stretch.start);
            if stretch.end >= end_local {
                break;
            }
        }
        Ok(Millis(total))
    }

    /// Whether `at` is in business hours.
    pub fn is_open(&self, at: Timestamp) -> Result<bool, OutOfRange> {
        self.check(at)?;
        let local = at.0 + self.offsets[self.period_of(at.0)];
        let holiday = self.holidays.binary_search(&local.div_euclid(DAY)).is_ok();
        Ok(!holiday && self.week.contains((local + MONDAY_SHIFT).rem_euclid(WEEK)))
    }

    /// Business hours in a week without holidays.
    pub fn weekly_hours(&self) -> Millis {
        Millis(self.week.total)
    }

    fn check(&self, at: Timestamp) -> Result<(), OutOfRange> {
        if (RANGE_START..RANGE_END).contains(&at) {
            Ok(())
        } else {
            Err(OutOfRange { at })
        }
    }

    #[inline]
    fn period_of(&self, utc: i64) -> usize {
        self.transitions.partition_point(|&at| at <= utc) - 1
    }

    #[inline]
    fn period_end(&self, period: usize) -> i64 {
        self.transitions
            .get(period + 1)
            .copied()
            .unwrap_or(RANGE_END.0)
    }

    #[inline]
    fn stretches(&self, from: Timestamp) -> Stretches<'_> {
        let period = self.period_of(from.0);
        let offset = self.offsets[period];
        let at = from.0 + offset;
        Stretches {
            calendar: self,
            period,
            offset,
            at,
            period_end: self.period_end(period) + offset,
            holiday: first_holiday_after(&self.holidays, at),
        }
    }
}
