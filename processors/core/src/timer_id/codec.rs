//! [`TimerId`], the contract between a timer type and the runtime's timer store, its
//! [`TimerDecodeError`], and the writer and reader of the shape every encoding here has.

use crate::Timestamp;
use std::fmt;

/// A processor's timer as the id of a durable timer.
///
/// The runtime encodes a timer once, when the processor sets or cancels it, into the bytes
/// it stores beside the record key (in the partition's sled tree and its changelog), and
/// decodes them when the timer fires. Two timers are the same durable timer when their
/// encodings are equal, so an encoding must be a function of the timer's value alone, and
/// `decode(encode(t)) == t`.
pub trait TimerId: Sized {
    /// Appends the timer's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The timer `bytes` encode. A timer stored in an earlier encoding the type still
    /// accepts decodes too; anything else is an error, and the runtime drops that timer.
    fn decode(bytes: &[u8]) -> Result<Self, TimerDecodeError>;
}

/// Why stored timer bytes are not a timer of the type asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerDecodeError {
    /// There are no bytes.
    Empty,
    /// The first byte is neither a tag of the type nor the start of an earlier encoding.
    UnknownTag {
        /// The byte.
        tag: u8,
    },
    /// The bytes end inside a field.
    Truncated {
        /// The field cut short.
        field: &'static str,
    },
    /// A text field is not UTF-8.
    NotUtf8 {
        /// The field.
        field: &'static str,
    },
    /// Bytes are left after the last field.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A timer in an earlier text encoding (`close/...`, `sla/...`) with a part that does
    /// not parse.
    LegacyText {
        /// The encoding, as its pattern.
        format: &'static str,
        /// The part that does not parse.
        field: &'static str,
    },
    /// A timer in the router's earlier JSON encoding that does not parse as one.
    LegacyJson {
        /// What the JSON parser said.
        reason: String,
    },
}

impl fmt::Display for TimerDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerDecodeError::Empty => write!(f, "empty timer id"),
            TimerDecodeError::UnknownTag { tag } => write!(
                f,
                "timer id starts with byte {tag:#04x}: not a tag of this processor's timers"
            ),
            TimerDecodeError::Truncated { field } => {
                write!(f, "timer id ends inside its field {field}")
            }
            TimerDecodeError::NotUtf8 { field } => {
                write!(f, "timer id field {field} is not UTF-8")
            }
            TimerDecodeError::TrailingBytes { count } => {
                write!(f, "timer id has {count} byte(s) after its last field")
            }
            TimerDecodeError::LegacyText { format, field } => {
                write!(
                    f,
                    "timer id in the form {format}: its {field} does not parse"
                )
            }
            TimerDecodeError::LegacyJson { reason } => {
                write!(
                    f,
                    "timer id in the router's JSON form does not parse: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for TimerDecodeError {}

/// Writes one encoding: the tag, the due time, then fields in the order they are written.
#[derive(Debug)]
pub(crate) struct TimerWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> TimerWriter<'a> {
    /// Starts the encoding of the variant `tag`, due at `due`, at the end of `out`.
    pub(crate) fn start(out: &'a mut Vec<u8>, tag: u8, due: Timestamp) -> TimerWriter<'a> {
        out.push(tag);
        out.extend_from_slice(&due.0.to_be_bytes());
        TimerWriter { out }
    }

    /// A number field: 4 bytes big-endian.
    pub(crate) fn u32(self, value: u32) -> TimerWriter<'a> {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A text field: its length in bytes (4 bytes big-endian), then its UTF-8.
    pub(crate) fn str(self, value: &str) -> TimerWriter<'a> {
        self.out
            .extend_from_slice(&(value.len() as u32).to_be_bytes());
        self.out.extend_from_slice(value.as_bytes());
        self
    }
}

/// Reads one encoding written by [`TimerWriter`], field by field after the tag.
#[derive(Debug)]
pub(crate) struct TimerReader<'a> {
    rest: &'a [u8],
}

impl<'a> TimerReader<'a> {
    /// The tag of `bytes` and a reader over what follows it.
    pub(crate) fn start(bytes: &'a [u8]) -> Result<(u8, TimerReader<'a>), TimerDecodeError> {
        match bytes.split_first() {
            Some((tag, rest)) => Ok((*tag, TimerReader { rest })),
            None => Err(TimerDecodeError::Empty),
        }
    }

    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], TimerDecodeError> {
        let (bytes, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(TimerDecodeError::Truncated { field })?;
        self.rest = rest;
        Ok(*bytes)
    }

    /// The due time.
    pub(crate) fn due(&mut self) -> Result<Timestamp, TimerDecodeError> {
        Ok(Timestamp(i64::from_be_bytes(self.take("due")?)))
    }

    /// A number field.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, TimerDecodeError> {
        Ok(u32::from_be_bytes(self.take(field)?))
    }

    /// A text field.
    pub(crate) fn str(&mut self, field: &'static str) -> Result<&'a str, TimerDecodeError> {
        let len = u32::from_be_bytes(self.take(field)?) as usize;
        if self.rest.len() < len {
            return Err(TimerDecodeError::Truncated { field });
        }
        let (text, rest) = self.rest.split_at(len);
        self.rest = rest;
        std::str::from_utf8(text).map_err(|_| TimerDecodeError::NotUtf8 { field })
    }

    /// Ends the reading: no byte may be left.
    pub(crate) fn finish(self) -> Result<(), TimerDecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(TimerDecodeError::TrailingBytes { count }),
        }
    }
}
