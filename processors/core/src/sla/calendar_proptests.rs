//! Property tests of business-hours arithmetic against a minute-by-minute oracle that reads
//! each minute's wall clock through the time-zone database directly.

use super::calendar_tests::schedule;
use super::*;
use crate::rfc3339::format_date_days;
use crate::time::{Millis, Timestamp};
use proptest::prelude::*;

const MINUTE: i64 = 60_000;
/// Zones with DST both ways, a half-hour shift, none at all, and the southern hemisphere.
const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
];
/// 2026-01-01T00:00Z.
const BASE: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;

/// Whether minute `at` is business time, by the definition: the local wall clock is inside
/// an interval of that local weekday (or the tail of yesterday's past midnight) and the
/// local date is not a holiday.
fn oracle_open(schedule: &Schedule, zone: &jiff::tz::TimeZone, at: i64) -> bool {
    let local = zone.to_datetime(jiff::Timestamp::from_millisecond(at).unwrap());
    let date = local.date().to_string();
    if schedule.holidays.contains(&date) {
        return false;
    }
    let weekday = local.date().weekday().to_monday_zero_offset() as u8;
    let minute = local.time().hour() as u16 * 60 + local.time().minute() as u16;
    schedule.intervals.iter().any(|interval| {
        let (day, start, end) = (
            interval.day.days_from_monday(),
            interval.start_minute,
            interval.end_minute,
        );
        if end > start {
            day == weekday && (start..end).contains(&minute)
        } else {
            (day == weekday && minute >= start) || ((day + 1) % 7 == weekday && minute < end)
        }
    })
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    let interval = (0usize..7, 0u16..96, 1u16..48).prop_map(|(day, start, len)| {
        let start = start * 15;
        (day, start, (start + len * 15) % 1_440)
    });
    (
        0..ZONES.len(),
        prop::collection::vec(interval, 1..6),
        prop::collection::vec(0i64..60, 0..6),
    )
        .prop_map(|(zone, intervals, holidays)| {
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let text: Vec<(String, String, String)> = intervals
                .iter()
                .map(|&(d, s, e)| (names[d].to_string(), hm(s), hm(e)))
                .collect();
            let hours: Vec<(&str, &str, &str)> = text
                .iter()
                .map(|(d, s, e)| (d.as_str(), s.as_str(), e.as_str()))
                .collect();
            let dates: Vec<String> = holidays
                .iter()
                .map(|d| format_date_days(BASE / DAY + 60 + d))
                .collect();
            let dates: Vec<&str> = dates.iter().map(String::as_str).collect();
            schedule(ZONES[zone], &hours, &dates)
        })
        .prop_filter("valid schedules", |s| s.calendar().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Around the DST changes of spring and autumn, the business time between two
    /// minutes is the count of business minutes between them.
    #[test]
    fn business_time_counts_the_business_minutes(
        schedule in arb_schedule(),
        season in 0i64..2,
        start in 0i64..(10 * 24 * 60),
        length in 0i64..(7 * 24 * 60),
    ) {
        let calendar = schedule.calendar().unwrap();
        let zone = jiff::tz::TimeZone::get(&schedule.time_zone).unwrap();
        // Mid-March or late October 2026, a few days before the changes.
        let from = BASE + (70 + season * 224) * DAY + start * MINUTE;
        let to = from + length * MINUTE;
        let expected = (0..length)
            .filter(|m| oracle_open(&schedule, &zone, from + m * MINUTE))
            .count() as i64;
        let got = calendar.business_time(Timestamp(from), Timestamp(to)).unwrap();
        prop_assert_eq!(got, Millis(expected * MINUTE));
    }

    /// The due time after `n` business minutes is the end of the `n`-th business minute.
    #[test]
    fn due_time_is_the_end_of_the_nth_business_minute(
        schedule in arb_schedule(),
        season in 0i64..2,
        start in 0i64..(10 * 24 * 60),
        minutes in 1i64..(3 * 24 * 60),
    ) {
        let calendar = schedule.calendar().unwrap();
        let zone = jiff::tz::TimeZone::get(&schedule.time_zone).unwrap();
        let from = BASE + (70 + season * 224) * DAY + start * MINUTE;
        let due = calendar.due_at(Timestamp(from), Millis(minutes * MINUTE)).unwrap();
        let mut seen = 0;
        let mut at = from;
        while seen < minutes {
            if oracle_open(&schedule, &zone, at) {
                seen += 1;
            }
            at += MINUTE;
        }
        prop_assert_eq!(due, Timestamp(at));
        prop_assert!(oracle_open(&schedule, &zone, at - MINUTE));
    }

    /// Spans add up: the due time after `a + b` is the due time after `b` from the due
    /// time after `a`, and business time inverts due time, at millisecond resolution.
    #[test]
    fn due_times_compose_and_invert(
        schedule in arb_schedule(),
        from in 0i64..(400 * DAY),
        a in 1i64..(200 * 3_600_000),
        b in 1i64..(200 * 3_600_000),
    ) {
        let calendar = schedule.calendar().unwrap();
        let from = Timestamp(BASE + from);
        let once = calendar.due_at(from, Millis(a + b)).unwrap();
        let first = calendar.due_at(from, Millis(a)).unwrap();
        let twice = calendar.due_at(first, Millis(b)).unwrap();
        prop_assert_eq!(once, twice);
        prop_assert_eq!(calendar.business_time(from, once).unwrap(), Millis(a + b));
        prop_assert!(calendar.business_time(from, Timestamp(once.0 - 1)).unwrap() < Millis(a + b));
    }
}
