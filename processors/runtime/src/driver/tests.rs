//! The driver's tests: routing by topic, timers at the clock, DLQ, sled, determinism.

use super::*;
use crate::dlq::headers;
use crate::partitions::partition_of;
use crate::processor::{
    DecodeError, Effects, InputRecord, KeyedProcessor, Rejection, RestoreError,
};
use crate::state::changelog::ChangelogOp;
use crate::state::{PartitionMeta, StateStore};
use crate::timers::timer_key;
use parley_core::timer_id::{TimerDecodeError, TimerId};
use parley_core::{Millis, Timestamp};
use std::collections::HashMap;
use std::path::PathBuf;

/// Adds each input (a decimal integer) to its key's total, emits `key=total` to `output`
/// and (re)sets the key's `flush` timer; when it fires, emits `key=total!` to `output`.
struct Totals {
    output: String,
    flush_after: Millis,
    totals: HashMap<Vec<u8>, i64>,
}

/// The one timer of a key of [`Totals`], stored as `flush`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Flush;

impl TimerId for Flush {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"flush");
    }

    fn decode(bytes: &[u8]) -> Result<Flush, TimerDecodeError> {
        match bytes {
            b"flush" => Ok(Flush),
            [] => Err(TimerDecodeError::Empty),
            [tag, ..] => Err(TimerDecodeError::UnknownTag { tag: *tag }),
        }
    }
}

impl KeyedProcessor for Totals {
    type Input = i64;
    type Timer = Flush;

    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError> {
        let total = std::str::from_utf8(value).map_err(|e| RestoreError::value(state_key, e))?;
        let total = total
            .parse()
            .map_err(|_| RestoreError::value(state_key, "not a total"))?;
        self.totals.insert(state_key.to_vec(), total);
        Ok(())
    }

    fn decode(&self, record: &InputRecord<'_>) -> Result<i64, DecodeError> {
        let text =
            std::str::from_utf8(record.value).map_err(|e| DecodeError::Invalid(e.to_string()))?;
        text.parse()
            .map_err(|_| DecodeError::Invalid(format!("{text:?} is not an integer")))
    }

    fn handle(
        &mut self,
        key: &[u8],
        amount: i64,
        now: Timestamp,
        effects: &mut Effects<Flush>,
    ) -> Result<(), Rejection> {
        if amount < 0 {
            return Err(Rejection {
                reason: "negative",
                detail: format!("{amount} is negative"),
            });
        }
        let total = self.totals.entry(key.to_vec()).or_insert(0);
        *total += amount;
        let text = format!("{}={total}", String::from_utf8_lossy(key));
        effects.put(key, total.to_string().into_bytes());
        effects.emit(self.output.clone(), key, text.into_bytes());
        effects.set_timer(key, Flush, now + self.flush_after);
        Ok(())
    }

    fn on_timer(&mut self, key: &[u8], _: Flush, _now: Timestamp, effects: &mut Effects<Flush>) {
        let total = self.totals.get(key).copied().unwrap_or(0);
        let text = format!("{}={total}!", String::from_utf8_lossy(key));
        effects.emit(self.output.clone(), key, text.into_bytes());
    }
}

/// A temporary state directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "parley-driver-{name}-{}-{nanos}",
            std::process::id()
        ));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn totals(dir: PathBuf, output: &str) -> KeyedStage<Totals> {
    let output = output.to_owned();
    KeyedStage::new(dir, "dlq", move |_| Totals {
        output: output.clone(),
        flush_after: Millis(1_500),
        totals: HashMap::new(),
    })
}

const START: Timestamp = Timestamp(1_000_000);

/// `in` -> first stage -> `mid` -> second stage -> `out`.
fn two_stages(dir: &TempDir) -> Driver {
    let mut driver = Driver::new(3, START);
    let first = totals(dir.0.join("first"), "mid");
    driver.add_stage(&["in".into()], Box::new(first)).unwrap();
    // The second stage reads only `mid`, whose `k=n` values it cannot decode.
    let second = totals(dir.0.join("second"), "out");
    driver.add_stage(&["mid".into()], Box::new(second)).unwrap();
    driver
}

fn message(topic: &str, key: &str, value: &str, at: Timestamp) -> Message {
    Message {
        topic: topic.into(),
        key: Some(key.as_bytes().to_vec()),
        value: value.as_bytes().to_vec(),
        headers: Vec::new(),
        timestamp: at,
    }
}

fn text(record: &Record) -> (String, String) {
    (
        record.message.topic.clone(),
        String::from_utf8_lossy(&record.message.value).into_owned(),
    )
}

#[test]
fn records_go_to_the_stages_that_read_their_topic_on_the_key_partition() {
    let dir = TempDir::new("routing");
    let mut driver = Driver::new(3, START);
    driver
        .add_stage(&["in".into()], Box::new(totals(dir.0.join("a"), "mid")))
        .unwrap();
    let piped = driver.pipe(message("in", "k1", "2", START));
    assert_eq!(piped, (partition_of(b"k1", 3), 0));
    driver.pipe(message("elsewhere", "k1", "5", START));
    let out = driver.step(START).unwrap();
    assert_eq!(
        out.iter().map(text).collect::<Vec<_>>(),
        [("mid".into(), "k1=2".into())]
    );
    assert_eq!(out[0].partition, partition_of(b"k1", 3));
    assert_eq!(out[0].message.timestamp, START);
    let again = driver.pipe(message("in", "k1", "3", START));
    assert_eq!(again, (piped.0, 1));
}

#[test]
fn a_stages_outputs_feed_the_stage_that_reads_them_within_the_step() {
    let dir = TempDir::new("chain");
    let mut driver = two_stages(&dir);
    // `mid` values are `k=n`, which the second stage cannot decode: a DLQ record.
    driver.pipe(message("in", "k", "4", START));
    let out = driver.step(START).unwrap();
    assert_eq!(
        out.iter().map(text).collect::<Vec<_>>(),
        [("mid".into(), "k=4".into()), ("dlq".into(), "k=4".into())]
    );
    let header = |name: &str| {
        let (_, value) = out[1]
            .message
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap();
        String::from_utf8_lossy(value).into_owned()
    };
    assert_eq!(header(headers::TOPIC), "mid");
    assert_eq!(header(headers::STAGE), "decode");
    assert_eq!(header(headers::OFFSET), "0");
    assert_eq!(header(headers::PARTITION), out[0].partition.to_string());
}

#[test]
fn a_refused_record_leaves_only_its_dead_letter() {
    let dir = TempDir::new("refused");
    let mut driver = two_stages(&dir);
    driver.pipe(message("in", "k", "-1", START));
    let out = driver.step(START).unwrap();
    assert_eq!(
        out.iter().map(text).collect::<Vec<_>>(),
        [("dlq".into(), "-1".into())]
    );
    assert_eq!(driver.next_due(), None, "no timer was set");
}

#[test]
fn timers_fire_when_the_clock_reaches_them_with_their_due_time() {
    let dir = TempDir::new("timers");
    let mut driver = Driver::new(1, START);
    driver
        .add_stage(&["in".into()], Box::new(totals(dir.0.join("a"), "out")))
        .unwrap();
    driver.pipe(message("in", "k", "1", START));
    driver.step(START).unwrap();
    // Due at START + 1.5 s; the wheel's resolution is a second.
    assert_eq!(driver.next_due(), Some(START + Millis(2_000)));
    assert!(driver.step(START + Millis(1_999)).unwrap().is_empty());
    let fired = driver.step(START + Millis(2_000)).unwrap();
    assert_eq!(
        fired.iter().map(text).collect::<Vec<_>>(),
        [("out".into(), "k=1!".into())]
    );
    assert_eq!(fired[0].message.timestamp, START + Millis(1_500));
    assert_eq!(driver.next_due(), None);
    // A clock set back stays where it was.
    assert!(driver.step(START).unwrap().is_empty());
    assert_eq!(driver.now(), START + Millis(2_000));
}

#[test]
fn a_timer_due_by_the_steps_clock_fires_in_the_same_step() {
    let dir = TempDir::new("same-step");
    let mut driver = Driver::new(1, START);
    driver
        .add_stage(&["in".into()], Box::new(totals(dir.0.join("a"), "out")))
        .unwrap();
    // Stamped 10 s before the clock: its timer is already due.
    driver.pipe(message("in", "k", "1", START + Millis(-10_000)));
    let out = driver.step(START).unwrap();
    assert_eq!(
        out.iter().map(text).collect::<Vec<_>>(),
        [("out".into(), "k=1".into()), ("out".into(), "k=1!".into())]
    );
}

#[test]
fn a_full_batch_is_committed_to_the_sled_store() {
    let dir = TempDir::new("batches");
    let mut driver = Driver::new(1, START).with_batch_size(2);
    let stage = totals(dir.0.join("a"), "out");
    driver.add_stage(&["in".into()], Box::new(stage)).unwrap();
    driver.pipe(message("in", "k", "1", START));
    driver.step(START).unwrap();
    driver.pipe(message("in", "k", "2", START));
    driver.step(START).unwrap();
    driver.pipe(message("in", "k", "4", START));
    driver.step(START).unwrap();
    drop(driver);
    // Two records filled the first batch; the third was never committed.
    let (store, _) = crate::state::StateStore::open(&dir.0.join("a")).unwrap();
    let partition = store.partition(0).unwrap();
    assert_eq!(partition.get(b"k").unwrap().as_deref(), Some(&b"3"[..]));
    assert_eq!(partition.meta().unwrap().inputs["in"], 2);
}

#[test]
fn a_stage_commits_its_writes_to_the_sled_store() {
    let dir = TempDir::new("sled");
    let mut stage = totals(dir.0.join("a"), "out");
    stage.open(1, START).unwrap();
    let record = Record {
        partition: 0,
        offset: 7,
        message: message("in", "k", "5", START),
    };
    let mut out = Vec::new();
    stage.handle(&record, START, &mut out).unwrap();
    let store = stage.store(0).unwrap().clone();
    assert_eq!(store.get(b"k").unwrap(), None, "not before the commit");
    stage.commit(START).unwrap();
    assert_eq!(store.get(b"k").unwrap().as_deref(), Some(&b"5"[..]));
    assert_eq!(store.timer_count(), 1);
    assert_eq!(store.meta().unwrap().inputs["in"], 8);
    assert_eq!(stage.processor(0).unwrap().totals[&b"k"[..]], 5);
}

#[test]
fn the_same_inputs_give_the_same_records() {
    let run = |name: &str| {
        let dir = TempDir::new(name);
        let mut driver = two_stages(&dir);
        let mut all = Vec::new();
        for i in 0..200i64 {
            let at = START + Millis(i * 700);
            while let Some(due) = driver.next_due().filter(|due| *due <= at) {
                all.extend(driver.step(due).unwrap());
            }
            let key = format!("k{}", i % 17);
            driver.pipe(message("in", &key, &(i % 5).to_string(), at));
            all.extend(driver.step(at).unwrap());
        }
        while let Some(due) = driver.next_due() {
            all.extend(driver.step(due).unwrap());
        }
        all
    };
    let first = run("determinism-1");
    assert!(first.len() > 400, "{}", first.len());
    assert_eq!(first, run("determinism-2"));
}

#[test]
fn a_stored_timer_that_no_longer_decodes_is_dropped_and_the_stage_goes_on() {
    let dir = TempDir::new("undecodable");
    let state = dir.0.join("a");
    {
        let (store, _) = StateStore::open(&state).unwrap();
        let timer = |key: &[u8], id: &[u8]| ChangelogOp::Timer {
            timer_key: timer_key(key, id),
            due: Some(START),
        };
        let stored = [timer(b"old", b"flush-v0"), timer(b"k", b"flush")];
        let partition = store.partition(0).unwrap();
        partition.apply(&stored, &PartitionMeta::default()).unwrap();
        store.flush().unwrap();
    }
    let mut stage = totals(state, "out");
    stage.open(1, START).unwrap();
    let mut out = Vec::new();
    stage.fire_timers(START + Millis(1_000), &mut out).unwrap();
    assert_eq!(
        out.iter()
            .map(|m| String::from_utf8_lossy(&m.value).into_owned())
            .collect::<Vec<_>>(),
        ["k=0!"],
        "the timer that decodes still fires"
    );
    assert_eq!(stage.timers_dropped(), 1);
    let record = Record {
        partition: 0,
        offset: 0,
        message: message("in", "old", "2", START + Millis(1_000)),
    };
    out.clear();
    stage
        .handle(&record, START + Millis(1_000), &mut out)
        .unwrap();
    assert_eq!(out[0].value, b"old=2", "the stage still handles records");
    stage.commit(START + Millis(1_000)).unwrap();
    let store = stage.store(0).unwrap();
    assert_eq!(
        store.timer(&timer_key(b"old", b"flush-v0")).unwrap(),
        None,
        "removed"
    );
    assert_eq!(store.timer_count(), 1, "only the new flush timer of `old`");
}
