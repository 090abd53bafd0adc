//! Unit tests of schedules and business-hours arithmetic: weekends, holidays, daylight
//! saving in both directions, intervals past midnight, and the refusals.

use super::*;
use crate::time::{Millis, Timestamp};

/// A schedule in `zone` with `hours` as `(day, "HH:MM", "HH:MM")`.
pub(super) fn schedule(zone: &str, hours: &[(&str, &str, &str)], holidays: &[&str]) -> Schedule {
    let minute = |text: &str| {
        let (h, m) = text.split_once(':').unwrap();
        h.parse::<u16>().unwrap() * 60 + m.parse::<u16>().unwrap()
    };
    Schedule {
        account: "acme".into(),
        schedule_id: "support".into(),
        time_zone: zone.into(),
        intervals: hours
            .iter()
            .map(|&(day, start, end)| BusinessInterval {
                day: Weekday::parse(day).unwrap(),
                start_minute: minute(start),
                end_minute: minute(end),
            })
            .collect(),
        holidays: holidays.iter().map(|h| h.to_string()).collect(),
        updated_at: Timestamp(0),
    }
}

/// Monday to Friday, 09:00 to 17:00.
pub(super) fn office(zone: &str, holidays: &[&str]) -> Schedule {
    let days = ["mon", "tue", "wed", "thu", "fri"];
    let hours: Vec<_> = days.iter().map(|d| (*d, "09:00", "17:00")).collect();
    schedule(zone, &hours, holidays)
}

/// Every day, all day.
fn all_week(zone: &str) -> Schedule {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let hours: Vec<_> = days.iter().map(|d| (*d, "00:00", "24:00")).collect();
    schedule(zone, &hours, &[])
}

/// The instant the wall clock of `zone` shows `local` (`2026-03-27T16:00`); the earlier one
/// when it shows it twice.
pub(super) fn at(zone: &str, local: &str) -> Timestamp {
    let datetime: jiff::civil::DateTime = local.parse().unwrap();
    let zone = jiff::tz::TimeZone::get(zone).unwrap();
    Timestamp(zone.to_timestamp(datetime).unwrap().as_millisecond())
}

const BERLIN: &str = "Europe/Berlin";
const NEW_YORK: &str = "America/New_York";

#[test]
fn a_reply_target_runs_across_the_weekend() {
    let calendar = office(BERLIN, &[]).calendar().unwrap();
    // Friday 2026-03-20 16:00 + 2 business hours: one on Friday, one on Monday.
    let due = calendar
        .due_at(at(BERLIN, "2026-03-20T16:00"), Millis::hours(2))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-23T10:00"));
    // Started on a Saturday, the clock waits for Monday morning.
    let due = calendar
        .due_at(at(BERLIN, "2026-03-21T11:00"), Millis::hours(1))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-23T10:00"));
}

#[test]
fn a_target_that_uses_the_whole_day_is_due_at_closing_time() {
    let calendar = office(BERLIN, &[]).calendar().unwrap();
    let due = calendar
        .due_at(at(BERLIN, "2026-03-23T09:00"), Millis::hours(8))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-23T17:00"));
    let due = calendar
        .due_at(at(BERLIN, "2026-03-23T09:00"), Millis::hours(40))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-27T17:00"));
}

#[test]
fn a_zero_span_is_due_at_once_even_outside_business_hours() {
    let calendar = office(BERLIN, &[]).calendar().unwrap();
    let saturday = at(BERLIN, "2026-03-21T11:00");
    assert_eq!(calendar.due_at(saturday, Millis::ZERO).unwrap(), saturday);
}

#[test]
fn holidays_have_no_business_hours() {
    // Easter Monday 2026-04-06 is a holiday: Friday's (Good Friday too) 16:00 + 2 hours
    // lands on Tuesday.
    let calendar = office(BERLIN, &["2026-04-03", "2026-04-06"])
        .calendar()
        .unwrap();
    let due = calendar
        .due_at(at(BERLIN, "2026-04-02T16:00"), Millis::hours(2))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-04-07T10:00"));
    let spent = calendar
        .business_time(
            at(BERLIN, "2026-04-02T00:00"),
            at(BERLIN, "2026-04-08T00:00"),
        )
        .unwrap();
    // Thursday and Tuesday.
    assert_eq!(spent, Millis::hours(8 * 2));
    assert!(!calendar.is_open(at(BERLIN, "2026-04-06T10:00")).unwrap());
    assert!(calendar.is_open(at(BERLIN, "2026-04-07T10:00")).unwrap());
}

#[test]
fn spring_forward_makes_a_23_hour_day() {
    let calendar = all_week(BERLIN).calendar().unwrap();
    // 2026-03-29: 02:00 CET becomes 03:00 CEST.
    let (sunday, monday) = (
        at(BERLIN, "2026-03-29T00:00"),
        at(BERLIN, "2026-03-30T00:00"),
    );
    assert_eq!(
        calendar.business_time(sunday, monday).unwrap(),
        Millis::hours(23)
    );
    assert_eq!(
        calendar.due_at(sunday, Millis::hours(24)).unwrap(),
        at(BERLIN, "2026-03-30T01:00")
    );
    // An interval inside the skipped hour has no business time that day.
    let night = schedule(BERLIN, &[("sun", "02:00", "03:00")], &[])
        .calendar()
        .unwrap();
    let week = |from, to| {
        night
            .business_time(at(BERLIN, from), at(BERLIN, to))
            .unwrap()
    };
    assert_eq!(week("2026-03-23T00:00", "2026-03-30T00:00"), Millis::ZERO);
    assert_eq!(
        week("2026-03-30T00:00", "2026-04-06T00:00"),
        Millis::hours(1)
    );
}

#[test]
fn fall_back_makes_a_25_hour_day() {
    let calendar = all_week(BERLIN).calendar().unwrap();
    // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:00-03:00 happens twice.
    let (sunday, monday) = (
        at(BERLIN, "2026-10-25T00:00"),
        at(BERLIN, "2026-10-26T00:00"),
    );
    assert_eq!(
        calendar.business_time(sunday, monday).unwrap(),
        Millis::hours(25)
    );
    assert_eq!(
        calendar.due_at(sunday, Millis::hours(24)).unwrap(),
        at(BERLIN, "2026-10-25T23:00")
    );
    let night = schedule(BERLIN, &[("sun", "02:00", "03:00")], &[])
        .calendar()
        .unwrap();
    assert_eq!(
        night.business_time(sunday, monday).unwrap(),
        Millis::hours(2)
    );
}

#[test]
fn office_hours_keep_their_wall_clock_across_a_dst_change() {
    // New York springs forward on Sunday 2026-03-08: Friday 16:00 EST + 2 hours is
    // Monday 10:00 EDT, 65 hours of real time later rather than 66.
    let calendar = office(NEW_YORK, &[]).calendar().unwrap();
    let from = at(NEW_YORK, "2026-03-06T16:00");
    let due = calendar.due_at(from, Millis::hours(2)).unwrap();
    assert_eq!(due, at(NEW_YORK, "2026-03-09T10:00"));
    assert_eq!(due - from, Millis::hours(65));
}

#[test]
fn an_interval_runs_past_midnight_into_the_next_day() {
    // Friday 22:00 to Saturday 02:00.
    let calendar = schedule(BERLIN, &[("fri", "22:00", "02:00")], &[])
        .calendar()
        .unwrap();
    let due = calendar
        .due_at(at(BERLIN, "2026-03-20T23:00"), Millis::hours(2))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-21T01:00"));
    assert_eq!(calendar.weekly_hours(), Millis::hours(4));
    // Sunday 22:00 wraps into Monday.
    let sunday = schedule(BERLIN, &[("sun", "22:00", "02:00")], &[])
        .calendar()
        .unwrap();
    assert!(sunday.is_open(at(BERLIN, "2026-03-23T01:30")).unwrap());
    assert!(!sunday.is_open(at(BERLIN, "2026-03-23T02:00")).unwrap());
}

#[test]
fn a_holiday_closes_the_small_hours_of_an_interval_begun_the_evening_before() {
    let calendar = schedule(BERLIN, &[("fri", "22:00", "02:00")], &["2026-03-21"])
        .calendar()
        .unwrap();
    let due = calendar
        .due_at(at(BERLIN, "2026-03-20T23:00"), Millis::hours(2))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-27T23:00"));
}

#[test]
fn several_intervals_a_day_and_days_without_hours() {
    let calendar = schedule(
        BERLIN,
        &[
            ("mon", "08:00", "12:00"),
            ("mon", "13:00", "17:00"),
            ("wed", "10:00", "12:00"),
        ],
        &[],
    )
    .calendar()
    .unwrap();
    assert_eq!(calendar.weekly_hours(), Millis::hours(10));
    // Monday 11:00 + 3h: 1h before lunch, 2h after.
    let due = calendar
        .due_at(at(BERLIN, "2026-03-23T11:00"), Millis::hours(3))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-23T15:00"));
    // Monday 16:00 + 3h: 1h Monday, 2h Wednesday; Tuesday has no hours.
    let due = calendar
        .due_at(at(BERLIN, "2026-03-23T16:00"), Millis::hours(3))
        .unwrap();
    assert_eq!(due, at(BERLIN, "2026-03-25T12:00"));
}

#[test]
fn half_hour_daylight_saving_is_right() {
    // Lord Howe Island moves its clocks by 30 minutes (2026-04-05 02:00 -> 01:30).
    let zone = "Australia/Lord_Howe";
    let calendar = all_week(zone).calendar().unwrap();
    let spent = calendar
        .business_time(at(zone, "2026-04-05T00:00"), at(zone, "2026-04-06T00:00"))
        .unwrap();
    assert_eq!(spent, Millis::minutes(24 * 60 + 30));
}

#[test]
fn business_time_and_due_time_agree() {
    let calendar = office(NEW_YORK, &["2026-11-26"]).calendar().unwrap();
    let from = at(NEW_YORK, "2026-10-30T15:17");
    for hours in [0, 1, 7, 8, 9, 30, 100] {
        let due = calendar.due_at(from, Millis::hours(hours)).unwrap();
        assert_eq!(
            calendar.business_time(from, due).unwrap(),
            Millis::hours(hours)
        );
    }
}

#[test]
fn instants_outside_the_range_are_refused() {
    let calendar = office(BERLIN, &[]).calendar().unwrap();
    let error = calendar
        .due_at(Timestamp(-1), Millis::hours(1))
        .unwrap_err();
    assert_eq!(error.at, Timestamp(-1));
    assert!(error.to_string().contains("1970-01-01"));
    assert!(calendar
        .due_at(Timestamp(7_258_000_000_000), Millis::days(365))
        .is_err());
}

#[test]
fn a_schedule_without_hours_is_refused() {
    let error = schedule(BERLIN, &[], &[]).calendar().unwrap_err();
    assert_eq!(error, ScheduleError::NoIntervals);
    assert!(error.to_string().starts_with("intervals = []"));
}

#[test]
fn holidays_that_close_every_business_day_for_two_years_are_refused() {
    // Open on Mondays only, and every Monday of 2027 to 2029 is a holiday.
    let mut mondays = Vec::new();
    let mut day = at("UTC", "2027-01-04T00:00").0 / 86_400_000;
    while day < at("UTC", "2030-01-01T00:00").0 / 86_400_000 {
        mondays.push(crate::rfc3339::format_date_days(day));
        day += 7;
    }
    let refs: Vec<&str> = mondays.iter().map(String::as_str).collect();
    let error = schedule(BERLIN, &[("mon", "09:00", "17:00")], &refs)
        .calendar()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "holidays: every business day from 2026-12-29 to 2030-01-06 is a holiday: a schedule must have business hours within every 730 days"
    );
    // One Monday less on the list leaves business hours within the horizon.
    let fewer: Vec<&str> = refs
        .iter()
        .copied()
        .filter(|d| *d != "2028-06-05")
        .collect();
    assert!(schedule(BERLIN, &[("mon", "09:00", "17:00")], &fewer)
        .calendar()
        .is_ok());
}

#[test]
fn errors_name_the_field_the_value_and_the_rule() {
    let cases = [
        (
            schedule("Europe/Berln", &[("mon", "09:00", "17:00")], &[]),
            "time_zone = \"Europe/Berln\": must be a zone name of the IANA time zone database, such as Europe/Berlin",
        ),
        (
            schedule(BERLIN, &[("mon", "09:00", "09:00")], &[]),
            "intervals[0]: start_minute = end_minute = 540: an interval needs a length; a whole day is 0 to 1440",
        ),
        (
            schedule(BERLIN, &[("mon", "09:00", "17:00"), ("mon", "16:00", "18:00")], &[]),
            "intervals[0] = monday 09:00-17:00 and intervals[1] = monday 16:00-18:00: intervals must not overlap",
        ),
        (
            schedule(BERLIN, &[("sun", "22:00", "02:00"), ("mon", "01:00", "05:00")], &[]),
            "intervals[0] = sunday 22:00-02:00 and intervals[1] = monday 01:00-05:00: intervals must not overlap",
        ),
        (
            schedule(BERLIN, &[("mon", "09:00", "17:00")], &["2026-02-30"]),
            "holidays[0] = \"2026-02-30\": must be a date written YYYY-MM-DD",
        ),
    ];
    for (schedule, message) in cases {
        assert_eq!(schedule.calendar().unwrap_err().to_string(), message);
    }
    let mut late = schedule(BERLIN, &[("mon", "09:00", "17:00")], &[]);
    late.intervals[0].start_minute = 1_440;
    assert_eq!(
        late.calendar().unwrap_err().to_string(),
        "intervals[0].start_minute = 1440: must be below 1440 (24:00)"
    );
    late.intervals[0].start_minute = 0;
    late.intervals[0].end_minute = 1_441;
    assert_eq!(
        late.calendar().unwrap_err().to_string(),
        "intervals[0].end_minute = 1441: must be at most 1440 (24:00)"
    );
}

#[test]
fn adjacent_intervals_merge() {
    let calendar = schedule(
        BERLIN,
        &[("mon", "09:00", "12:00"), ("mon", "12:00", "17:00")],
        &[],
    )
    .calendar()
    .unwrap();
    assert_eq!(calendar, office_monday());
}

fn office_monday() -> BusinessCalendar {
    schedule(BERLIN, &[("mon", "09:00", "17:00")], &[])
        .calendar()
        .unwrap()
}
