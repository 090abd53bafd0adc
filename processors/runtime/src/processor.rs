//! The contract between the runtime and a sans-IO core state machine: [`KeyedProcessor`].

use crate::error::CodecError;
use parley_core::timer_id::TimerId;
use parley_core::Timestamp;

/// One input record as the runtime hands it to [`KeyedProcessor::decode`].
#[derive(Clone, Copy, Debug)]
pub struct InputRecord<'a> {
    /// The topic it was read from.
    pub topic: &'a str,
    /// Its partition (the same for every co-partitioned input).
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its key, empty when it has none.
    pub key: &'a [u8],
    /// Its value, empty when it has none.
    pub value: &'a [u8],
    /// The record's timestamp, when the broker gave one; under event time, the `now` it is
    /// handled at.
    pub timestamp: Option<Timestamp>,
}

/// A record to produce. Its partition is chosen by the producer's partitioner from the key
/// (`murmur2_random`, the Java client's), so co-partitioned topics stay aligned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The topic.
    pub topic: String,
    /// The key.
    pub key: Vec<u8>,
    /// The encoded value.
    pub value: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// A write to the partition's state: `value = None` deletes `state_key`.
///
/// State keys are the processor's own and are global within a partition: include the record
/// key in them (`acme/491701234567`, `acme/agent/42`) so that one record key can own many
/// entries. The runtime stores them in the partition's sled tree and writes them to the
/// changelog with the state key as the record key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateWrite {
    /// The key in the partition's state.
    pub state_key: Vec<u8>,
    /// The new value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// A durable timer to set or cancel, identified by `(key, timer)`.
///
/// A processor's effects hold its own timer type `T` ([`KeyedProcessor::Timer`]); the
/// runtime encodes each timer once, after the step, into the bytes it stores
/// ([`TimerCommand<Vec<u8>>`](TimerCommand), the default), which become the id half of the
/// timer's sled and changelog key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerCommand<T = Vec<u8>> {
    /// Sets the timer to fire at `due`, replacing an earlier setting.
    Set {
        /// The record key the timer belongs to.
        key: Vec<u8>,
        /// The timer (e.g. a ticket's solve-to-close timer).
        timer: T,
        /// When it fires.
        due: Timestamp,
    },
    /// Cancels the timer if it is set.
    Cancel {
        /// The record key the timer belongs to.
        key: Vec<u8>,
        /// The timer.
        timer: T,
    },
}

impl<T: TimerId> TimerCommand<T> {
    /// The command with its timer encoded as the runtime stores it.
    pub fn into_encoded(self) -> TimerCommand {
        let encode = |timer: T| {
            let mut id = Vec::new();
            timer.encode(&mut id);
            id
        };
        match self {
            TimerCommand::Set { key, timer, due } => TimerCommand::Set {
                key,
                timer: encode(timer),
                due,
            },
            TimerCommand::Cancel { key, timer } => TimerCommand::Cancel {
                key,
                timer: encode(timer),
            },
        }
    }
}

/// Everything one input or timer produced; the runtime applies it in the batch's commit.
///
/// A processor fills an `Effects<Self::Timer>`, its timers typed. `Effects` with the default
/// parameter holds them encoded: the form the host applies, into which the runtime moves a
/// step's typed effects (see [`TimerCommand`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Effects<T = Vec<u8>> {
    /// Records to produce.
    pub outputs: Vec<Output>,
    /// State writes, in order.
    pub state: Vec<StateWrite>,
    /// Timer commands, in order.
    pub timers: Vec<TimerCommand<T>>,
    /// The time the processor handled the input or timer at, when later than the `now` it
    /// was given: a processor that keeps a key's time from moving back (the ticket
    /// lifecycle) handles a record stamped before the key's latest time at that latest
    /// time. The outputs are stamped with it, so that their record timestamps are the times
    /// they carry. `None`: the `now` given.
    pub at: Option<Timestamp>,
}

impl<T> Default for Effects<T> {
    fn default() -> Effects<T> {
        Effects {
            outputs: Vec::new(),
            state: Vec::new(),
            timers: Vec::new(),
            at: None,
        }
    }
}

impl<T> Effects<T> {
    /// Adds a record to produce.
    pub fn emit(&mut self, topic: impl Into<String>, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.outputs.push(Output {
            topic: topic.into(),
            key: key.into(),
            value,
            headers: Vec::new(),
        });
    }

    /// Sets a state entry.
    pub fn put(&mut self, state_key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.state.push(StateWrite {
            state_key: state_key.into(),
            value: Some(value),
        });
    }

    /// Deletes a state entry.
    pub fn delete(&mut self, state_key: impl Into<Vec<u8>>) {
        self.state.push(StateWrite {
            state_key: state_key.into(),
            value: None,
        });
    }

    /// Sets `timer` of `key` to fire at `due`.
    pub fn set_timer(&mut self, key: impl Into<Vec<u8>>, timer: T, due: Timestamp) {
        self.timers.push(TimerCommand::Set {
            key: key.into(),
            timer,
            due,
        });
    }

    /// Cancels `timer` of `key`.
    pub fn cancel_timer(&mut self, key: impl Into<Vec<u8>>, timer: T) {
        self.timers.push(TimerCommand::Cancel {
            key: key.into(),
            timer,
        });
    }

    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty() && self.state.is_empty() && self.timers.is_empty()
    }

    /// Clears all effects, keeping the allocations.
    pub fn clear(&mut self) {
        self.outputs.clear();
        self.state.clear();
        self.timers.clear();
        self.at = None;
    }
}

impl Effects {
    /// Runs `step` on typed effects that take over this batch's buffers, then moves what it
    /// pushed back here, its timer commands encoded after any already here: the one place
    /// a processor's timers become the bytes the runtime stores.
    pub(crate) fn with_typed<T: TimerId, R>(
        &mut self,
        step: impl FnOnce(&mut Effects<T>) -> R,
    ) -> R {
        let mut typed = Effects {
            outputs: std::mem::take(&mut self.outputs),
            state: std::mem::take(&mut self.state),
            timers: Vec::new(),
            at: self.at,
        };
        let result = step(&mut typed);
        self.outputs = typed.outputs;
        self.state = typed.state;
        self.at = typed.at;
        self.timers
            .extend(typed.timers.into_iter().map(TimerCommand::into_encoded));
        result
    }
}

/// Why the processor refused an input; the record goes to the DLQ and processing continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The `code()` of the processor's reason enum (the core's `RejectionKind::code`, for
    /// example): the DLQ reason header and metric label (`no_ticket`).
    pub reason: &'static str,
    /// The message for people.
    pub detail: String,
}

/// Why a record could not be decoded: it goes to the DLQ with stage `decode` and reason
/// [`DecodeError::code`], and processing continues.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The value is not a record of the topic's schema in its wire format.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The record was read from a topic the processor does not consume.
    #[error("topic {0} is not an input of this processor")]
    NotAnInput(String),
    /// The value breaks a rule of the processor's (the message names it).
    #[error("{0}")]
    Invalid(String),
}

impl DecodeError {
    /// The DLQ reason: `undecodable`, or `not_an_input`.
    pub const fn code(&self) -> &'static str {
        match self {
            DecodeError::Codec(_) | DecodeError::Invalid(_) => "undecodable",
            DecodeError::NotAnInput(_) => "not_an_input",
        }
    }
}

/// Why a stored state entry could not be restored into the processor; the partition is not
/// served ([`RuntimeError::Restore`](crate::RuntimeError::Restore)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// The state key is not one the processor writes.
    #[error("state key {key:?}: {rule}")]
    Key {
        /// The key, lossily as text.
        key: String,
        /// What the processor's keys look like.
        rule: String,
    },
    /// The value does not parse as what the key holds.
    #[error("state key {key:?}: {reason}")]
    Value {
        /// The key, lossily as text.
        key: String,
        /// Why the value does not parse.
        reason: String,
    },
}

impl RestoreError {
    /// A value under `state_key` that does not parse, for `reason`.
    pub fn value(state_key: &[u8], reason: impl std::fmt::Display) -> RestoreError {
        RestoreError::Value {
            key: String::from_utf8_lossy(state_key).into_owned(),
            reason: reason.to_string(),
        }
    }
}

/// A core state machine for the keyed records of one partition.
///
/// The runtime creates one processor per assigned partition (through the factory given to
/// [`crate::host::Host`]) and calls it from one thread:
///
/// 1. [`restore`](KeyedProcessor::restore) once per state entry of the partition, rebuilt from
///    the changelog, before anything else;
/// 2. then, in offset order per topic, [`decode`](KeyedProcessor::decode) and
///    [`handle`](KeyedProcessor::handle) for each input record, and
///    [`on_timer`](KeyedProcessor::on_timer) for each timer that came due.
///
/// `now` is the input's time: its record timestamp under the default
/// [`TimeSource::Event`](crate::config::TimeSource) (the clock for a record without one, or
/// under `processing`), and a timer's due time for `on_timer`. It is *not* monotonic: records
/// of different keys, or of different input topics, carry their producers' times, and a timer
/// fires with its due time after records that may be later. A processor that needs time to
/// move forward per key keeps the latest `now` in that key's state and takes the maximum (the
/// ticket lifecycle does); durations measured with [`Timestamp::since`] are never negative.
/// Outputs are produced with `now` as their record timestamp, so downstream processors see
/// the same times.
///
/// `handle` must be atomic: if it returns a [`Rejection`] it must leave its state as it was;
/// the runtime drops the effects it pushed and sends the record to the DLQ. Outputs must be
/// deterministic functions of the state and the input (ids derived from the input), so that
/// reprocessing after a crash re-emits identical records.
pub trait KeyedProcessor: Send + 'static {
    /// The decoded input.
    type Input;

    /// The processor's timers: plain data, set and cancelled through [`Effects`] and handed
    /// back decoded to [`on_timer`](KeyedProcessor::on_timer). The runtime stores each as its
    /// [`TimerId`] encoding; a stored timer that no longer decodes is logged, counted in
    /// `parley_timers_dropped_total` and removed, and `on_timer` does not see it.
    type Timer: TimerId;

    /// The record key that owns `state_key`, whose partition under murmur2 is the state key's
    /// partition: `parley rescale` moves each state entry to its record key's partition under
    /// the new count. `None` for a key the processor does not write. The default is for
    /// processors whose state key is the record key.
    fn record_key(state_key: &[u8]) -> Option<&[u8]>
    where
        Self: Sized,
    {
        Some(state_key)
    }

    /// Rebuilds in-memory state from one stored entry.
    fn restore(&mut self, state_key: &[u8], value: &[u8]) -> Result<(), RestoreError>;

    /// Decodes a raw record; an error sends it to the DLQ with stage `decode`.
    fn decode(&self, record: &InputRecord<'_>) -> Result<Self::Input, DecodeError>;

    /// Handles one decoded input at `now`, pushing its effects.
    fn handle(
        &mut self,
        key: &[u8],
        input: Self::Input,
        now: Timestamp,
        effects: &mut Effects<Self::Timer>,
    ) -> Result<(), Rejection>;

    /// Handles `timer` of `key`; `now` is the due time it was set for, whenever the clock got
    /// there. The timer is already removed.
    fn on_timer(
        &mut self,
        key: &[u8],
        timer: Self::Timer,
        now: Timestamp,
        effects: &mut Effects<Self::Timer>,
    );
}
