//! The counter: the runtime's test processor, its topics, its config and its host.
//!
//! Input values are decimal integers (ASCII); each adds to its key's count. A value that is
//! not an integer is undecodable (DLQ, stage `decode`); a negative one is rejected (DLQ,
//! stage `process`, reason `negative`). Each input emits `key=count` to the output topic
//! with the id header `count-id = <topic>/<partition>/<offset>`, so a replay re-emits the
//! same records. With `expire_after`, each input (re)sets the key's `expire` timer; when it
//! fires, the counter emits `key=count` to the expired topic and forgets the key.

use crate::host::RunningHost;
use crate::records::Read;
use parley_core::{Millis, Timestamp};
use parley_runtime::{
    Clock, DecodeError, Effects, Guarantee, Host, InputRecord, KeyedProcessor, Metrics, Rejection,
    RestoreError, RuntimeConfig, TimerDecodeError, TimerId,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// The counter; see the module doc.
#[derive(Clone, Debug)]
pub struct Counter {
    /// Where counts go.
    pub output_topic: String,
    /// Where expired counts go.
    pub expired_topic: String,
    /// The idle time after which a key expires, if any.
    pub expire_after: Option<Millis>,
    /// How long restoring each entry takes: a slow restore, for tests of what the host does
    /// meanwhile.
    pub restore_delay: std::time::Duration,
    counts: HashMap<Vec<u8>, i64>,
}

/// The counter's one timer per key, stored as `expire`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expire;

impl TimerId for Expire {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"expire");
    }

    fn decode(bytes: &[u8]) -> Result<Expire, TimerDecodeError> {
        match bytes {
            b"expire" => Ok(Expire),
            [] => Err(TimerDecodeError::Empty),
            [tag, ..] => Err(TimerDecodeError::UnknownTag { tag: *tag }),
        }
    }
}

/// A decoded counter input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    amount: i64,
    id: String,
}

impl Counter {
    /// A counter writing to `output_topic` and `expired_topic`.
    pub fn new(output_topic: &str, expired_topic: &str, expire_after: Option<Millis>) -> Counter {
        Counter {
            output_topic: output_topic.to_owned(),
            expired_topic: expired_topic.to_owned(),
            expire_after,
            restore_delay: std::time::Duration::ZERO,
            counts: HashMap::new(),
        }
    }

    /// This counter, taking `delay` to restore each entry.
    pub fn with_restore_delay(mut self, delay: std::time::Duration) -> Counter {
        self.restore_delay = delay;
        self
    }

    /// The count of `key`.
    pub fn count(&self, key: &[u8]) -> i64 {
        self.counts.get(key).copied().unwrap_or(0)
    }
}

impl KeyedProcessor for Counter {
    type Input = Increment;
    type Timer = Expire;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        let count = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| RestoreError::value(state_key, "the count is not an integer"))?;
        std::thread::sleep(self.restore_delay);
        self.counts.insert(state_key.to_vec(), count);
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<Increment, DecodeError> {
        let text =
            std::str::from_utf8(record.value).map_err(|e| DecodeError::Invalid(e.to_string()))?;
        let amount = text
            .trim()
            .parse::<i64>()
            .map_err(|e| DecodeError::Invalid(format!("{text:?}: {e}")))?;
        Ok(Increment {
            amount,
            id: format!("{}/{}/{}", record.topic, record.partition, record.offset),
        })
    }

    fn handle(
        &mut self,
        key: &[u8],
        input: Increment,
        now: Timestamp,
        effects: &mut Effects<Expire>,
    ) -> Result<(), Rejection> {
        if input.amount < 0 {
            return Err(Rejection {
                reason: "negative",
                detail: format!("{} is negative", input.amount),
            });
        }
        let count = self.counts.entry(key.to_vec()).or_insert(0);
        *count += input.amount;
        let count = *count;
        effects.put(key, count.to_string().into_bytes());
        let mut value = key.to_vec();
        value.extend_from_slice(format!("={count}").as_bytes());
        effects.emit(self.output_topic.clone(), key, value);
        effects
            .outputs
            .last_mut()
            .expect("just pushed")
            .headers
            .push(("count-id".into(), input.id.into_bytes()));
        if let Some(after) = self.expire_after {
            effects.set_timer(key, Expire, now + after);
        }
        Ok(())
    }

    fn on_timer(&mut self, key: &[u8], _: Expire, _now: Timestamp, effects: &mut Effects<Expire>) {
        let count = self.counts.remove(key).unwrap_or(0);
        effects.delete(key);
        let mut value = key.to_vec();
        value.extend_from_slice(format!("={count}").as_bytes());
        effects.emit(self.expired_topic.clone(), key, value);
    }
}

/// The topics of a counter test, named with a unique prefix.
#[derive(Clone, Debug)]
pub struct Topics {
    /// Increments in.
    pub input: String,
    /// `key=count` out.
    pub output: String,
    /// `key=count` of expired keys out.
    pub expired: String,
    /// The state's changelog (compacted).
    pub changelog: String,
    /// Refused inputs.
    pub dlq: String,
}

impl Topics {
    /// The topics `<prefix>.in`, `.out`, `.expired`, `.changelog` and `.dlq`.
    pub fn new(prefix: &str) -> Topics {
        Topics {
            input: format!("{prefix}.in"),
            output: format!("{prefix}.out"),
            expired: format!("{prefix}.expired"),
            changelog: format!("{prefix}.changelog"),
            dlq: format!("{prefix}.dlq"),
        }
    }

    /// Every topic.
    pub fn all(&self) -> [&str; 5] {
        [
            &self.input,
            &self.output,
            &self.expired,
            &self.changelog,
            &self.dlq,
        ]
    }
}

/// A counter's runtime config: small batches, quick commits, and a session timeout of 6 s
/// so that a killed member leaves its group quickly.
pub fn counter_config(
    brokers: &str,
    group: &str,
    topics: &Topics,
    state_dir: PathBuf,
    guarantee: Guarantee,
) -> RuntimeConfig {
    RuntimeConfig {
        brokers: brokers.to_owned(),
        group_id: group.to_owned(),
        instance_id: format!("{}", state_dir.file_name().unwrap().to_string_lossy()),
        input_topics: vec![topics.input.clone()],
        changelog_topic: topics.changelog.clone(),
        dlq_topic: topics.dlq.clone(),
        state_dir,
        guarantee,
        registry_url: None,
        batch_size: 50,
        commit_interval_ms: 50,
        timer_horizon_ms: 3_600_000,
        metrics_address: None,
        advertised_state_address: None,
        time: Default::default(),
        librdkafka: crate::fast_failover(),
    }
}

/// A counter host on a thread, with its metrics.
pub fn start_counter(
    config: RuntimeConfig,
    topics: &Topics,
    expire_after: Option<Millis>,
    clock: Arc<dyn Clock>,
) -> RunningHost {
    crate::init_tracing();
    let (output, expired) = (topics.output.clone(), topics.expired.clone());
    let metrics = Arc::new(Metrics::new());
    let host = Host::new(
        config,
        move |_| Counter::new(&output, &expired, expire_after),
        clock,
        metrics.clone(),
    )
    .unwrap();
    RunningHost::start_with_metrics(host, metrics)
}

/// The `parley-runtime-counter` binary beside the running test's executable, built first
/// (`cargo test --workspace` builds it; a test of one package may not, and a binary left
/// from an earlier build would run older code).
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("the test's executable");
            // target/<profile>/deps/<test> -> target/<profile>/parley-runtime-counter
            let profile_dir = exe
                .parent()
                .and_then(|deps| deps.parent())
                .expect("a test executable under target/<profile>/deps");
            let binary = profile_dir.join("parley-runtime-counter");
            // Built every time (a no-op when fresh): a binary left from older sources would
            // test them instead.
            {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let mut build = std::process::Command::new(cargo);
                build.args([
                    "build",
                    "-p",
                    "parley-testkit",
                    "--bin",
                    "parley-runtime-counter",
                ]);
                if profile_dir.file_name().is_some_and(|n| n == "release") {
                    build.arg("--release");
                }
                let status = build
                    .current_dir(crate::kafka::workspace_root())
                    .status()
                    .expect("cargo runs");
                assert!(
                    status.success(),
                    "cargo build of parley-runtime-counter failed"
                );
            }
            binary
        })
        .clone()
}

/// The last count seen per key in counter outputs (`key=count`).
pub fn last_counts(records: &[Read]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for r in records {
        let text = r.text();
        let (key, count) = text.split_once('=').unwrap();
        let count: i64 = count.parse().unwrap();
        let entry = counts.entry(key.to_owned()).or_insert(count);
        *entry = (*entry).max(count);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(value: &'a [u8]) -> InputRecord<'a> {
        InputRecord {
            topic: "in",
            partition: 0,
            offset: 7,
            key: b"k",
            value,
            timestamp: None,
        }
    }

    #[test]
    fn counts_emit_and_set_timers_and_rejections_leave_state_alone() {
        let mut counter = Counter::new("out", "expired", Some(Millis::seconds(10)));
        let mut effects = Effects::default();
        let input = counter.decode(&record(b"3")).unwrap();
        counter
            .handle(b"k", input, Timestamp(0), &mut effects)
            .unwrap();
        assert_eq!(counter.count(b"k"), 3);
        assert_eq!(effects.outputs[0].value, b"k=3");
        assert_eq!(effects.outputs[0].headers[0].1, b"in/0/7");
        assert_eq!(effects.timers.len(), 1);
        assert!(counter.decode(&record(b"x")).is_err());
        let negative = counter.decode(&record(b"-1")).unwrap();
        assert!(counter
            .handle(b"k", negative, Timestamp(0), &mut Effects::default())
            .is_err());
        assert_eq!(counter.count(b"k"), 3);
        let mut fired = Effects::default();
        counter.on_timer(b"k", Expire, Timestamp(10_000), &mut fired);
        assert_eq!(fired.outputs[0].value, b"k=3");
        assert_eq!(counter.count(b"k"), 0);
    }
}
