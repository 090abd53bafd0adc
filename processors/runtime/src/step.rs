//! One input or timer through a partition's processor: the part of a batch that touches no
//! Kafka, shared by the host's coordinator and the synchronous [`driver`](crate::driver).

use crate::config::{TimeConfig, TimeSource};
use crate::dlq::{dead_letter, DlqStage};
use crate::processor::{Effects, InputRecord, KeyedProcessor, StateWrite, TimerCommand};
use crate::state::changelog::ChangelogOp;
use crate::timers::{split_timer_key, timer_key, TimerWheel};
use parley_core::timer_id::TimerId;
use parley_core::Timestamp;
use prometheus::IntCounter;

/// The `now` a record with `timestamp` is handled at when the clock reads `clock`, and whether
/// the timestamp lay too far ahead of the clock and was pulled back.
///
/// With [`TimeSource::Event`] that is the record's timestamp, so that a replay handles it at
/// the same time and re-emits identical records; a record without one is handled at the
/// clock. A timestamp more than `max_ahead_ms` past the clock (a producer with a wrong clock)
/// is handled at `clock + max_ahead_ms`, so that one record cannot push a key's times and
/// timers far into the future. A timestamp behind earlier ones is taken as it is: durations
/// are measured with [`Timestamp::since`], which is never negative, and the ticket lifecycle
/// keeps each conversation's time monotonic in its state.
pub(crate) fn record_time(
    config: &TimeConfig,
    timestamp: Option<Timestamp>,
    clock: Timestamp,
) -> (Timestamp, bool) {
    match (config.source, timestamp) {
        (TimeSource::Event, Some(at)) => {
            let ahead = i64::try_from(config.max_ahead_ms).unwrap_or(i64::MAX);
            let limit = Timestamp(clock.0.saturating_add(ahead));
            if at > limit {
                (limit, true)
            } else {
                (at, false)
            }
        }
        _ => (clock, false),
    }
}

/// Why a record went to the DLQ: its stage and reason (the metric labels).
pub(crate) type Refusal = (DlqStage, &'static str);

/// Runs `record` through `processor` at `now`, leaving its effects in `effects` (cleared
/// first). A record the processor cannot decode or refuses, or a keyed record on a partition
/// its key does not belong to among `partition_count`, leaves only its dead letter to
/// `dlq_topic`; the refusal is returned.
pub(crate) fn handle_record<P: KeyedProcessor>(
    processor: &mut P,
    record: &InputRecord<'_>,
    now: Timestamp,
    partition_count: Option<i32>,
    dlq_topic: &str,
    effects: &mut Effects,
) -> Option<Refusal> {
    effects.clear();
    let misplaced = partition_count
        .map(|count| (count, crate::partitions::partition_of(record.key, count)))
        .filter(|(_, home)| !record.key.is_empty() && *home != record.partition);
    let dead = if let Some((count, home)) = misplaced {
        Some((
            DlqStage::Decode,
            "wrong_partition",
            format!(
                "key {:?} belongs to partition {home} of {count} under murmur2, not {}: \
                 produce keyed records with the murmur2 partitioner (the Java client's \
                 default; librdkafka: partitioner=murmur2_random), or this key's state is \
                 on another instance",
                String::from_utf8_lossy(record.key),
                record.partition
            ),
        ))
    } else {
        match processor.decode(record) {
            Err(error) => Some((DlqStage::Decode, error.code(), error.to_string())),
            Ok(input) => {
                match effects.with_typed(|typed| processor.handle(record.key, input, now, typed)) {
                    Ok(()) => None,
                    Err(rejection) => {
                        effects.clear();
                        Some((DlqStage::Process, rejection.reason, rejection.detail))
                    }
                }
            }
        }
    };
    let (stage, reason, error) = dead?;
    effects.outputs.push(dead_letter(
        dlq_topic,
        record,
        stage.as_str(),
        reason,
        &error,
    ));
    Some((stage, reason))
}

/// Fires the timer `timer` (a timer key) that was due at `due`: its effects (cleared first)
/// are its own removal and what `processor.on_timer` pushed. A timer whose id no longer
/// decodes as the processor's timer is logged, counted in `dropped` and only removed.
/// `false` for a malformed timer key, which is skipped.
pub(crate) fn fire_timer<P: KeyedProcessor>(
    processor: &mut P,
    timer: &[u8],
    due: Timestamp,
    effects: &mut Effects,
    dropped: &IntCounter,
) -> bool {
    effects.clear();
    let Some((key, timer_id)) = split_timer_key(timer) else {
        return false;
    };
    effects.timers.push(TimerCommand::Cancel {
        key: key.to_vec(),
        timer: timer_id.to_vec(),
    });
    match P::Timer::decode(timer_id) {
        Ok(timer) => effects.with_typed(|typed| processor.on_timer(key, timer, due, typed)),
        Err(error) => {
            dropped.inc();
            tracing::warn!(
                key = %String::from_utf8_lossy(key),
                timer = %String::from_utf8_lossy(timer_id),
                due = due.0,
                %error,
                "stored timer does not decode, dropped"
            );
        }
    }
    true
}

/// The time a step's outputs are stamped with: the processor's own time when it is later
/// than `now`.
pub(crate) fn output_time(effects: &Effects, now: Timestamp) -> Timestamp {
    effects.at.map_or(now, |at| at.max(now))
}

/// Hands the state and timer writes of `effects` to `write`, in order, for the changelog and
/// sled. Timers due up to `loaded_until` go into `wheel`; later ones wait in the index for a
/// refill.
pub(crate) fn changelog_writes(
    effects: &Effects,
    wheel: &mut TimerWheel<Vec<u8>>,
    loaded_until: Timestamp,
    mut write: impl FnMut(ChangelogOp),
) {
    for StateWrite { state_key, value } in &effects.state {
        write(ChangelogOp::State {
            key: state_key.clone(),
            value: value.clone(),
        });
    }
    for command in &effects.timers {
        match command {
            TimerCommand::Set { key, timer, due } => {
                let timer = timer_key(key, timer);
                if *due <= loaded_until {
                    let _ = wheel.insert(timer.clone(), *due);
                } else {
                    let _ = wheel.cancel(&timer);
                }
                write(ChangelogOp::Timer {
                    timer_key: timer,
                    due: Some(*due),
                });
            }
            TimerCommand::Cancel { key, timer } => {
                let timer = timer_key(key, timer);
                let _ = wheel.cancel(&timer);
                write(ChangelogOp::Timer {
                    timer_key: timer,
                    due: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(max_ahead_ms: u64) -> TimeConfig {
        TimeConfig {
            source: TimeSource::Event,
            max_ahead_ms,
        }
    }

    #[test]
    fn event_time_is_the_record_timestamp_even_far_behind_the_clock() {
        let clock = Timestamp(1_000_000);
        assert_eq!(
            record_time(&event(60_000), Some(Timestamp(5)), clock),
            (Timestamp(5), false)
        );
        assert_eq!(
            record_time(&event(60_000), Some(Timestamp(1_060_000)), clock),
            (Timestamp(1_060_000), false)
        );
    }

    #[test]
    fn event_time_ahead_of_the_clock_is_pulled_back_to_the_tolerance() {
        let clock = Timestamp(1_000_000);
        assert_eq!(
            record_time(&event(60_000), Some(Timestamp(1_060_001)), clock),
            (Timestamp(1_060_000), true)
        );
        assert_eq!(
            record_time(&event(0), Some(Timestamp(i64::MAX)), clock),
            (clock, true)
        );
        assert_eq!(
            record_time(&event(u64::MAX / 2), Some(Timestamp(i64::MAX)), clock),
            (Timestamp(i64::MAX), false),
            "the limit saturates instead of overflowing"
        );
    }

    #[test]
    fn a_record_without_timestamp_or_processing_time_uses_the_clock() {
        let clock = Timestamp(1_000_000);
        assert_eq!(record_time(&event(60_000), None, clock), (clock, false));
        let processing = TimeConfig {
            source: TimeSource::Processing,
            max_ahead_ms: 60_000,
        };
        assert_eq!(
            record_time(&processing, Some(Timestamp(5)), clock),
            (clock, false)
        );
    }
}
