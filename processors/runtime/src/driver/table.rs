//! [`TableStage`]: a global table on the driver, its records applied and refused as the
//! table's reader and DLQ group do.

use crate::dlq::dead_letter;
use crate::driver::topology::{Message, Record, Stage};
use crate::error::RuntimeError;
use crate::processor::InputRecord;
use crate::table::TableRecords;
use parley_core::Timestamp;
use std::sync::{Arc, RwLock};

/// A config topic's records applied to a table that processors share: each record as
/// [`GlobalTable`](crate::table::GlobalTable) applies it (an empty value is a tombstone), and
/// each refused one written to the DLQ once, as
/// [`TableDeadLetters`](crate::table::TableDeadLetters) writes it (stamped with the clock:
/// the DLQ group produces without a timestamp).
#[derive(Debug)]
pub struct TableStage<T: TableRecords> {
    records: Arc<RwLock<T>>,
    dlq_topic: String,
}

impl<T: TableRecords> TableStage<T> {
    /// A stage applying records to `records`, writing refused ones to `dlq_topic`.
    pub fn new(records: T, dlq_topic: impl Into<String>) -> TableStage<T> {
        TableStage {
            records: Arc::new(RwLock::new(records)),
            dlq_topic: dlq_topic.into(),
        }
    }

    /// The table, to share with the processors that read it.
    pub fn table(&self) -> Arc<RwLock<T>> {
        self.records.clone()
    }
}

impl<T: TableRecords> Stage for TableStage<T> {
    fn open(&mut self, _partitions: i32, _clock: Timestamp) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn handle(
        &mut self,
        record: &Record,
        clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        let message = &record.message;
        let key = message.key.as_deref().unwrap_or_default();
        let value = (!message.value.is_empty()).then_some(message.value.as_slice());
        let mut records = self.records.write().expect("not poisoned");
        if let Some(refusal) = value.and_then(|value| records.check(value)) {
            let input = InputRecord {
                topic: &message.topic,
                partition: record.partition,
                offset: record.offset,
                key,
                value: &message.value,
                timestamp: None,
            };
            let dead = dead_letter(
                &self.dlq_topic,
                &input,
                refusal.stage.as_str(),
                refusal.reason,
                &refusal.message,
            );
            out.push(Message::from_output(dead, clock));
        }
        if let Err(refusal) = records.apply(key, value) {
            tracing::warn!(table = T::NAME, key = %String::from_utf8_lossy(key), reason = refusal.reason, message = %refusal.message, "record refused, not applied");
        }
        Ok(())
    }
}
