//! The contract of a stateless processor, and the headers of the record it reads.

use crate::processor::{InputRecord, Output};
use rdkafka::message::{BorrowedHeaders, Headers as _};

/// A processor without state or timers: each record becomes zero or more outputs.
///
/// Calling contract: [`process`](StatelessProcessor::process) once per record, in each
/// partition's order, possibly again after a restart (at least once): the same record must
/// give the same outputs. A record the processor cannot read is its to dead-letter, with a
/// reason: nothing it is handed stops the host.
pub trait StatelessProcessor: Send {
    /// Handles `record`, whose headers are `headers`, pushing what it produces onto `out`.
    /// An output with an empty key is produced without a key, one with an empty value with
    /// a null value.
    fn process(&mut self, record: &InputRecord<'_>, headers: Headers<'_>, out: &mut Vec<Output>);
}

/// The headers of an input record, as the consumer or the driver holds them.
#[derive(Clone, Copy)]
pub enum Headers<'a> {
    /// A record read from Kafka; `None` without headers.
    Kafka(Option<&'a BorrowedHeaders>),
    /// A record held in memory, its headers in order.
    Owned(&'a [(String, Vec<u8>)]),
}

impl<'a> Headers<'a> {
    /// The value of the first header named `name`; `None` when there is none or its value
    /// is null.
    pub fn get(self, name: &str) -> Option<&'a [u8]> {
        match self {
            Headers::Kafka(headers) => headers?
                .iter()
                .find(|header| header.key == name)
                .and_then(|header| header.value),
            Headers::Owned(headers) => headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_slice()),
        }
    }
}

impl std::fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Headers::Kafka(headers) => f
                .debug_tuple("Kafka")
                .field(&headers.map_or(0, |h| h.count()))
                .finish(),
            Headers::Owned(headers) => f.debug_tuple("Owned").field(headers).finish(),
        }
    }
}
