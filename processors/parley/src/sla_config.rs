//! `parley config set-schedule` and `set-sla`: one validated Schedule or SlaPolicy record
//! on the `schedules` or `sla-policies` topic.
//!
//! Business hours are written as `DAYS HH:MM-HH:MM` (`mon-fri 09:00-17:00`, `sat,sun
//! 10:00-14:00`, `fri 22:00-02:00` past midnight), targets as `METRIC:PRIORITY=DURATION`
//! (`first_reply_time:urgent=10m`). Every refusal names the flag, the value and the rule.

use crate::options::{parse_duration, Connection};
use crate::style::{now_ms, write_record};
use crate::usage::UsageError;
use parley_core::sla::{
    BusinessInterval, Schedule, ScheduleError, SlaConditions, SlaMetric, SlaPolicy, SlaPriority,
    SlaTarget, Weekday,
};
use parley_core::topics::{account_name_key, Topic};
use parley_core::{Channel, Millis};

/// The business hours one `--hours` flag gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hours(pub(crate) Vec<BusinessInterval>);

/// One `--target` or `--business-target` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    metric: SlaMetric,
    priority: SlaPriority,
    target: Millis,
}

const HOURS_RULE: &str =
    "expected DAYS HH:MM-HH:MM, e.g. mon-fri 09:00-17:00, sat,sun 10:00-14:00 or fri 22:00-02:00";

/// Parses `DAYS HH:MM-HH:MM`: days as `mon`, `mon-fri` (a range, which may wrap past
/// Sunday) or a comma list of either; an end below the start runs past midnight.
pub(crate) fn parse_hours(text: &str) -> Result<Hours, String> {
    let (days, times) = text.trim().split_once(' ').ok_or(HOURS_RULE)?;
    let (start, end) = times.trim().split_once('-').ok_or(HOURS_RULE)?;
    let (start, end) = (
        clock(start).ok_or(HOURS_RULE)?,
        clock(end).ok_or(HOURS_RULE)?,
    );
    let mut intervals = Vec::new();
    for part in days.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((first, last)) => (day(first)?, day(last)?),
            None => (day(part)?, day(part)?),
        };
        let (mut at, last) = (first.days_from_monday(), last.days_from_monday());
        loop {
            intervals.push(BusinessInterval {
                day: Weekday::ALL[usize::from(at)],
                start_minute: start,
                end_minute: end,
            });
            if at == last {
                break;
            }
            at = (at + 1) % 7;
        }
    }
    Ok(Hours(intervals))
}

fn day(text: &str) -> Result<Weekday, String> {
    Weekday::parse(text.trim())
        .ok_or_else(|| format!("day {text:?}: expected mon, tue, wed, thu, fri, sat or sun"))
}

/// `HH:MM` as minutes after midnight, `24:00` included.
fn clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 || hours == 24 && minutes == 0).then_some(hours * 60 + minutes)
}

/// Parses `METRIC:PRIORITY=DURATION`.
pub(crate) fn parse_target(text: &str) -> Result<Target, String> {
    const RULE: &str = "expected METRIC:PRIORITY=DURATION, e.g. first_reply_time:urgent=10m";
    let (what, duration) = text.split_once('=').ok_or(RULE)?;
    let (metric, priority) = what.split_once(':').ok_or(RULE)?;
    let metric = SlaMetric::parse(metric).ok_or_else(|| {
        let names: Vec<&str> = SlaMetric::ALL.iter().map(|m| m.as_str()).collect();
        format!("metric {metric:?}: expected one of {}", names.join(", "))
    })?;
    Ok(Target {
        metric,
        priority: parse_priority(priority)?,
        target: parse_duration(duration)?,
    })
}

/// Parses a priority name.
pub(crate) fn parse_priority(text: &str) -> Result<SlaPriority, String> {
    SlaPriority::parse(text)
        .ok_or_else(|| format!("priority {text:?}: expected low, normal, high or urgent"))
}

/// Refuses a `/` in a part of a record key.
fn no_slash(flag: &str, value: &str) -> Result<(), UsageError> {
    if value.contains('/') {
        return Err(UsageError(format!(
            "{flag} {value:?}: must not contain '/', which separates the parts of the record's key"
        )));
    }
    Ok(())
}

/// Builds the schedule of `set-schedule` and checks every rule.
pub(crate) fn schedule(
    account: &str,
    schedule_id: &str,
    time_zone: &str,
    hours: &[Hours],
    holidays: &[String],
) -> Result<Schedule, UsageError> {
    no_slash("--account", account)?;
    no_slash("--schedule", schedule_id)?;
    let schedule = Schedule {
        account: account.to_owned(),
        schedule_id: schedule_id.to_owned(),
        time_zone: time_zone.to_owned(),
        intervals: hours.iter().flat_map(|h| h.0.iter().copied()).collect(),
        holidays: holidays.to_vec(),
        updated_at: now_ms(),
    };
    schedule.calendar().map_err(|error| {
        let flag = match &error {
            ScheduleError::EmptyName { field: "account" } => "--account",
            ScheduleError::EmptyName { .. } => "--schedule",
            ScheduleError::UnknownTimeZone { .. } => "--time-zone",
            ScheduleError::BadHoliday { .. } | ScheduleError::NoHoursWithinHorizon { .. } => {
                "--holiday"
            }
            _ => "--hours",
        };
        UsageError(format!("{flag}: {error}"))
    })?;
    Ok(schedule)
}

/// What `set-sla` says of a policy.
#[derive(Debug)]
pub(crate) struct PolicyFlags<'a> {
    pub(crate) account: &'a str,
    pub(crate) policy_id: &'a str,
    pub(crate) position: i32,
    pub(crate) priorities: &'a [SlaPriority],
    pub(crate) channels: &'a [Channel],
    pub(crate) brands: &'a [String],
    pub(crate) schedule_id: Option<&'a str>,
    pub(crate) targets: &'a [Target],
    pub(crate) business_targets: &'a [Target],
}

/// Builds the policy of `set-sla` and checks every rule.
pub(crate) fn policy(flags: &PolicyFlags<'_>) -> Result<SlaPolicy, UsageError> {
    no_slash("--account", flags.account)?;
    no_slash("--policy", flags.policy_id)?;
    let target = |business_hours: bool| {
        move |t: &Target| SlaTarget {
            metric: t.metric,
            priority: t.priority,
            target_ms: t.target,
            business_hours,
        }
    };
    let policy = SlaPolicy {
        account: flags.account.to_owned(),
        policy_id: flags.policy_id.to_owned(),
        position: flags.position,
        conditions: SlaConditions {
            priorities: flags.priorities.to_vec(),
            channels: flags.channels.to_vec(),
            brands: flags.brands.to_vec(),
        },
        schedule_id: flags.schedule_id.map(str::to_owned),
        targets: flags
            .targets
            .iter()
            .map(target(false))
            .chain(flags.business_targets.iter().map(target(true)))
            .collect(),
        updated_at: now_ms(),
    };
    policy
        .validate()
        .map_err(|error| UsageError(format!("--target/--business-target: {error}")))?;
    Ok(policy)
}

/// Writes `schedule` to `<prefix>schedules`, key `account/schedule_id`.
pub(crate) async fn write_schedule(
    connection: &Connection,
    schedule: &Schedule,
) -> anyhow::Result<()> {
    let topic = Topic::Schedules.with_prefix(&connection.topic_prefix);
    let key = account_name_key(&schedule.account, &schedule.schedule_id);
    write_record(connection, &topic, &key, schedule).await
}

/// Writes `policy` to `<prefix>sla-policies`, key `account/policy_id`.
pub(crate) async fn write_policy(
    connection: &Connection,
    policy: &SlaPolicy,
) -> anyhow::Result<()> {
    let topic = Topic::SlaPolicies.with_prefix(&connection.topic_prefix);
    let key = account_name_key(&policy.account, &policy.policy_id);
    write_record(connection, &topic, &key, policy).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_ranges_lists_and_nights() {
        let Hours(week) = parse_hours("mon-fri 09:00-17:00").unwrap();
        assert_eq!(week.len(), 5);
        assert_eq!(
            (week[4].day, week[4].start_minute, week[4].end_minute),
            (Weekday::Friday, 540, 1_020)
        );
        let Hours(weekend) = parse_hours("sat,sun 10:00-24:00").unwrap();
        assert_eq!(
            weekend.iter().map(|i| i.day).collect::<Vec<_>>(),
            [Weekday::Saturday, Weekday::Sunday]
        );
        assert_eq!(weekend[0].end_minute, 1_440);
        let Hours(wrap) = parse_hours("fri-mon 22:00-02:00").unwrap();
        assert_eq!(wrap.len(), 4);
        assert_eq!(wrap[3].day, Weekday::Monday);
        for bad in [
            "mon 9:00-17:00",
            "mon",
            "mon 09:00",
            "mon 09:00-25:00",
            "mon 09:60-10:00",
        ] {
            assert_eq!(parse_hours(bad), Err(HOURS_RULE.to_owned()), "{bad}");
        }
        assert_eq!(
            parse_hours("mo-fr 09:00-17:00").unwrap_err(),
            "day \"mo\": expected mon, tue, wed, thu, fri, sat or sun"
        );
    }

    #[test]
    fn targets_parse_metric_priority_and_duration() {
        let target = parse_target("next_reply_time:high=2h").unwrap();
        assert_eq!(
            (target.metric, target.priority, target.target),
            (
                SlaMetric::NextReplyTime,
                SlaPriority::High,
                Millis::hours(2)
            )
        );
        assert!(parse_target("reply:high=2h")
            .unwrap_err()
            .starts_with("metric \"reply\": expected one of first_reply_time"));
        assert_eq!(
            parse_target("first_reply_time:asap=2h").unwrap_err(),
            "priority \"asap\": expected low, normal, high or urgent"
        );
        assert!(parse_target("first_reply_time=2h")
            .unwrap_err()
            .starts_with("expected METRIC:PRIORITY=DURATION"));
    }

    #[test]
    fn a_schedule_is_checked_before_it_is_written() {
        let hours = [parse_hours("mon-fri 09:00-17:00").unwrap()];
        assert!(schedule(
            "acme",
            "office",
            "Europe/Berlin",
            &hours,
            &["2026-12-25".into()]
        )
        .is_ok());
        let error = schedule("acme", "office", "Mars/Olympus", &hours, &[])
            .unwrap_err()
            .0;
        assert!(
            error.starts_with("--time-zone: time_zone = \"Mars/Olympus\": must be a zone name"),
            "{error}"
        );
        let overlapping = [hours[0].clone(), parse_hours("fri 16:00-18:00").unwrap()];
        let error = schedule("acme", "office", "Europe/Berlin", &overlapping, &[])
            .unwrap_err()
            .0;
        assert_eq!(error, "--hours: intervals[4] = friday 09:00-17:00 and intervals[5] = friday 16:00-18:00: intervals must not overlap");
        let error = schedule(
            "acme",
            "office",
            "Europe/Berlin",
            &hours,
            &["25.12.2026".into()],
        )
        .unwrap_err()
        .0;
        assert_eq!(
            error,
            "--holiday: holidays[0] = \"25.12.2026\": must be a date written YYYY-MM-DD"
        );
        let error = schedule("acme", "a/b", "Europe/Berlin", &hours, &[])
            .unwrap_err()
            .0;
        assert!(
            error.starts_with("--schedule \"a/b\": must not contain '/'"),
            "{error}"
        );
        assert_eq!(
            schedule("acme", "office", "UTC", &[], &[]).unwrap_err().0,
            "--hours: intervals = []: a schedule needs business hours on at least one weekday"
        );
    }

    #[test]
    fn a_policy_is_checked_before_it_is_written() {
        let targets = [parse_target("first_reply_time:urgent=10m").unwrap()];
        let flags = PolicyFlags {
            account: "acme",
            policy_id: "vip",
            position: 1,
            priorities: &[SlaPriority::Urgent],
            channels: &[Channel::Whatsapp],
            brands: &[],
            schedule_id: None,
            targets: &targets,
            business_targets: &[],
        };
        let policy = policy(&flags).unwrap();
        assert_eq!(policy.targets.len(), 1);
        assert_eq!(policy.conditions.channels, [Channel::Whatsapp]);
        let business = PolicyFlags {
            business_targets: &targets,
            targets: &[],
            ..flags
        };
        assert_eq!(
            super::policy(&business).unwrap_err().0,
            "--target/--business-target: targets[0].business_hours = true: needs the policy's schedule_id, the schedule whose business hours count"
        );
        let short = [parse_target("first_reply_time:urgent=5s").unwrap()];
        let error = super::policy(&PolicyFlags {
            targets: &short,
            ..flags
        })
        .unwrap_err()
        .0;
        assert_eq!(
            error,
            "--target/--business-target: targets[0].target_ms = 5000: must be at least 15000 (15s)"
        );
    }
}
