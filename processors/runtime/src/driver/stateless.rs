//! [`StatelessStage`]: a [`StatelessProcessor`] as a stage of the driver.

use crate::driver::topology::{Message, Record, Stage};
use crate::error::RuntimeError;
use crate::processor::{InputRecord, Output};
use crate::stateless::{Headers, StatelessProcessor};
use parley_core::Timestamp;

/// A [`StatelessProcessor`] on a [`Driver`](crate::driver::Driver): each record's outputs
/// appended as [`StatelessHost`](crate::stateless::StatelessHost) produces them, stamped
/// with the record's timestamp, an empty key as none.
#[derive(Debug)]
pub struct StatelessStage<P> {
    processor: P,
    outputs: Vec<Output>,
}

impl<P: StatelessProcessor> StatelessStage<P> {
    /// The stage of `processor`.
    pub fn new(processor: P) -> StatelessStage<P> {
        StatelessStage {
            processor,
            outputs: Vec::new(),
        }
    }
}

impl<P: StatelessProcessor> Stage for StatelessStage<P> {
    fn open(&mut self, _partitions: i32, _clock: Timestamp) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn handle(
        &mut self,
        record: &Record,
        _clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        let message = &record.message;
        let input = InputRecord {
            topic: &message.topic,
            partition: record.partition,
            offset: record.offset,
            key: message.key.as_deref().unwrap_or_default(),
            value: &message.value,
            timestamp: Some(message.timestamp),
        };
        (self.processor).process(&input, Headers::Owned(&message.headers), &mut self.outputs);
        out.extend(self.outputs.drain(..).map(|output| Message {
            topic: output.topic,
            key: Some(output.key).filter(|key| !key.is_empty()),
            value: output.value,
            headers: output.headers,
            timestamp: message.timestamp,
        }));
        Ok(())
    }
}
