//! The changelog's record format: state entries, timer entries and batch seals.
//!
//! Keys start with a tag byte: `0x00` the partition's seal (one reserved key, so compaction
//! keeps the last), `0x01` + state key, `0x02` + timer key (value: due time, 8 bytes). A
//! `None` value is a tombstone. A seal carries the input offsets its batch reached; restore
//! applies every write that precedes a seal and none after the last one. Every record
//! carries the header [`BATCH_HEADER`] with the id of the batch that wrote it, for a person
//! reading the topic; restore does not need it (compaction keeps only the last seal, so a
//! write cannot find its own batch's seal after compaction).

use crate::timers::{due_bytes, due_from_bytes};
use parley_core::Timestamp;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

/// The header holding the 16-byte batch id (writer epoch, sequence; both u64 BE).
pub const BATCH_HEADER: &str = "parley.batch";

const SEAL: u8 = 0x00;
const STATE: u8 = 0x01;
const TIMER: u8 = 0x02;

/// A batch's identity: the writer's epoch (unique per partition opening) and a sequence.
pub type BatchId = [u8; 16];

/// One state or timer write, as applied to sled and written to the changelog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangelogOp {
    /// A state entry set (`Some`) or deleted (`None`).
    State {
        /// The processor's state key.
        key: Vec<u8>,
        /// The value.
        value: Option<Vec<u8>>,
    },
    /// A timer set to a due time (`Some`) or removed (`None`).
    Timer {
        /// The timer key (see [`crate::timers::timer_key`]).
        timer_key: Vec<u8>,
        /// The due time.
        due: Option<Timestamp>,
    },
}

/// A decoded changelog record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangelogRecord {
    /// A write.
    Op(ChangelogOp),
    /// The end of a batch, with the next input offset per topic.
    Seal(BTreeMap<String, i64>),
}

impl ChangelogOp {
    /// The changelog key and value of this write.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let value = match self {
            ChangelogOp::State { value, .. } => value.clone(),
            ChangelogOp::Timer { due, .. } => due.map(|d| due_bytes(d).to_vec()),
        };
        (self.changelog_key(), value)
    }

    /// The changelog key of this write: writes with equal keys replace each other.
    pub fn changelog_key(&self) -> Vec<u8> {
        match self {
            ChangelogOp::State { key, .. } => tagged(STATE, key),
            ChangelogOp::Timer { timer_key, .. } => tagged(TIMER, timer_key),
        }
    }
}

/// Writes in first-write order, the last per changelog key: what a run of writes leaves,
/// with one write per key. The host keeps one per partition for the open batch (Kafka
/// Streams' record cache); restore keeps one over the sealed batches it has read.
#[derive(Debug, Default)]
pub struct LastWrites {
    /// The writes, in first-write order.
    ops: Vec<ChangelogOp>,
    /// Where in `ops` each changelog key's write is.
    index: HashMap<Vec<u8>, usize>,
}

impl LastWrites {
    /// Records `op`, replacing an earlier write of its key.
    pub fn write(&mut self, op: ChangelogOp) {
        match self.index.entry(op.changelog_key()) {
            Entry::Occupied(at) => self.ops[*at.get()] = op,
            Entry::Vacant(slot) => {
                slot.insert(self.ops.len());
                self.ops.push(op);
            }
        }
    }

    /// The writes, one per key.
    pub fn ops(&self) -> &[ChangelogOp] {
        &self.ops
    }

    /// How many keys were written.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The writes, emptying this.
    pub fn take(&mut self) -> Vec<ChangelogOp> {
        self.index.clear();
        std::mem::take(&mut self.ops)
    }
}

fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(tag);
    out.extend_from_slice(key);
    out
}

/// The seal's key.
pub fn seal_key() -> Vec<u8> {
    vec![SEAL]
}

/// Encodes input offsets: per topic a u16 BE length, the name, an i64 BE offset.
pub fn encode_offsets(offsets: &BTreeMap<String, i64>) -> Vec<u8> {
    let mut out = Vec::new();
    for (topic, offset) in offsets {
        out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        out.extend_from_slice(topic.as_bytes());
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out
}

/// Decodes [`encode_offsets`].
pub fn decode_offsets(mut bytes: &[u8]) -> Option<BTreeMap<String, i64>> {
    let mut offsets = BTreeMap::new();
    while !bytes.is_empty() {
        let len = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
        let topic = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?.to_owned();
        let offset = i64::from_be_bytes(bytes.get(2 + len..10 + len)?.try_into().ok()?);
        offsets.insert(topic, offset);
        bytes = &bytes[10 + len..];
    }
    Some(offsets)
}

/// Decodes a changelog record from its key and value.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<ChangelogRecord, String> {
    match key.split_first() {
        Some((&SEAL, [])) => {
            let offsets = decode_offsets(value.unwrap_or_default()).ok_or("malformed seal")?;
            Ok(ChangelogRecord::Seal(offsets))
        }
        Some((&STATE, state_key)) => Ok(ChangelogRecord::Op(ChangelogOp::State {
            key: state_key.to_vec(),
            value: value.map(<[u8]>::to_vec),
        })),
        Some((&TIMER, timer_key)) => {
            let due = match value {
                Some(bytes) => Some(due_from_bytes(bytes).ok_or("malformed timer due time")?),
                None => None,
            };
            Ok(ChangelogRecord::Op(ChangelogOp::Timer {
                timer_key: timer_key.to_vec(),
                due,
            }))
        }
        _ => Err(format!(
            "unknown changelog key {:02x?}",
            &key[..key.len().min(8)]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_the_last_write_per_key_in_first_write_order() {
        let state = |key: &str, value: Option<&str>| ChangelogOp::State {
            key: key.into(),
            value: value.map(Into::into),
        };
        let timer = |key: &str, due: Option<i64>| ChangelogOp::Timer {
            timer_key: key.into(),
            due: due.map(Timestamp),
        };
        let mut writes = LastWrites::default();
        writes.write(state("a", Some("1")));
        writes.write(timer("a", Some(10)));
        writes.write(state("b", Some("1")));
        writes.write(state("a", Some("2")));
        writes.write(timer("a", None));
        writes.write(state("b", None));
        assert_eq!(
            writes.ops(),
            [state("a", Some("2")), timer("a", None), state("b", None)],
            "a state and a timer of one key are different writes"
        );
        assert_eq!(writes.take().len(), 3);
        assert!(writes.is_empty());
        writes.write(state("a", Some("3")));
        assert_eq!(
            writes.ops(),
            [state("a", Some("3"))],
            "it starts again empty"
        );
    }

    #[test]
    fn every_record_kind_round_trips() {
        let ops = [
            ChangelogOp::State {
                key: b"acme/1".to_vec(),
                value: Some(b"v".to_vec()),
            },
            ChangelogOp::State {
                key: b"acme/1".to_vec(),
                value: None,
            },
            ChangelogOp::Timer {
                timer_key: b"\0\0\0\x01kt".to_vec(),
                due: Some(Timestamp(42)),
            },
            ChangelogOp::Timer {
                timer_key: b"\0\0\0\x01kt".to_vec(),
                due: None,
            },
        ];
        for op in ops {
            let (key, value) = op.encode();
            assert_eq!(decode(&key, value.as_deref()), Ok(ChangelogRecord::Op(op)));
        }
        let offsets = BTreeMap::from([("parley.a".to_owned(), 7), ("parley.b".to_owned(), 0)]);
        assert_eq!(
            decode(&seal_key(), Some(&encode_offsets(&offsets))),
            Ok(ChangelogRecord::Seal(offsets))
        );
    }

    #[test]
    fn foreign_records_are_refused() {
        assert!(decode(b"\x09x", None).is_err());
        assert!(decode(&seal_key(), Some(b"\0\x09ab")).is_err());
        assert!(decode(b"\x02k", Some(b"123")).is_err());
    }
}
