//! Business-hours due times per second on one core: `BusinessCalendar::due_at` from random
//! instants over two years, through weekends, holidays and daylight-saving changes.
//!
//! `cargo bench -p parley-benches --bench business_hours`. Two schedules in zones with
//! daylight saving: an office week (Monday to Friday, 09:00-12:30 and 13:30-18:00, ten
//! holidays a year in Europe/Berlin) and a round-the-clock desk with a night shift past
//! midnight (America/New_York). Spans are typical SLA targets, 15 minutes to 3 business
//! days. `business_time` between an instant and a day later is measured too.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use parley_core::rng::SeededRng;
use parley_core::sla::{BusinessCalendar, BusinessInterval, Schedule, Weekday};
use parley_core::{Millis, Timestamp};
use std::hint::black_box;

/// The allocator the `parley` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-01-01T00:00Z.
const START: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;
const QUERIES: usize = 100_000;

fn interval(day: Weekday, start: u16, end: u16) -> BusinessInterval {
    BusinessInterval {
        day,
        start_minute: start,
        end_minute: end,
    }
}

fn office() -> BusinessCalendar {
    let mut intervals = Vec::new();
    for day in &Weekday::ALL[..5] {
        intervals.push(interval(*day, 9 * 60, 12 * 60 + 30));
        intervals.push(interval(*day, 13 * 60 + 30, 18 * 60));
    }
    let mut holidays = Vec::new();
    for year in [2026, 2027, 2028] {
        for date in [
            "01-01", "04-03", "04-06", "05-01", "05-14", "05-25", "10-03", "12-24", "12-25",
            "12-26",
        ] {
            holidays.push(format!("{year}-{date}"));
        }
    }
    calendar("Europe/Berlin", intervals, holidays)
}

fn night_desk() -> BusinessCalendar {
    let intervals = Weekday::ALL
        .iter()
        .map(|day| interval(*day, 20 * 60, 4 * 60))
        .chain(
            Weekday::ALL[..5]
                .iter()
                .map(|day| interval(*day, 8 * 60, 17 * 60)),
        )
        .collect();
    calendar("America/New_York", intervals, Vec::new())
}

fn calendar(
    zone: &str,
    intervals: Vec<BusinessInterval>,
    holidays: Vec<String>,
) -> BusinessCalendar {
    Schedule {
        account: "acme".into(),
        schedule_id: zone.into(),
        time_zone: zone.into(),
        intervals,
        holidays,
        updated_at: Timestamp(0),
    }
    .calendar()
    .expect("a valid schedule")
}

/// Random instants over two years and spans from 15 minutes to 3 business days.
fn queries() -> Vec<(Timestamp, Millis)> {
    let mut rng = SeededRng::new(14);
    (0..QUERIES)
        .map(|_| {
            let from = Timestamp(START + (rng.next_u64() % (730 * DAY as u64)) as i64);
            let span = Millis::minutes(15 + (rng.next_u64() % (3 * 24 * 60)) as i64);
            (from, span)
        })
        .collect()
}

fn business_hours(c: &mut Criterion) {
    let queries = queries();
    let mut group = c.benchmark_group("business_hours");
    group.throughput(Throughput::Elements(QUERIES as u64));
    for (name, calendar) in [
        ("office_berlin", office()),
        ("night_desk_new_york", night_desk()),
    ] {
        group.bench_function(format!("due_at/{name}"), |b| {
            b.iter(|| {
                let mut last = Timestamp(0);
                for &(from, span) in &queries {
                    last = last.max(calendar.due_at(black_box(from), black_box(span)).unwrap());
                }
                last
            })
        });
        group.bench_function(format!("business_time/{name}"), |b| {
            b.iter(|| {
                let mut total = Millis::ZERO;
                for &(from, _) in &queries {
                    let to = Timestamp(from.0 + DAY);
                    total = total + calendar.business_time(black_box(from), to).unwrap();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, business_hours);
criterion_main!(benches);
