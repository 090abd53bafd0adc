//! The per-record work of the stage: normalise a raw record, encode and produce its
//! events or dead-letter it, and commit what is done.

use super::delivery::{send, Ack, DeliveryContext};
use super::error::IngressStageError;
use super::metrics::STAGE;
use super::rebalance::RebalanceContext;
use super::shared::{Shared, Slot};
use crate::encode::{encode_datum, encode_single_object};
use crate::error::IngressError;
use crate::normaliser::{event_key, Normaliser, RawRecord};
use parley_core::{Channel, Timestamp};
use parley_runtime::codec::WireFormat;
use parley_runtime::dlq::headers as dlq_headers;
use prometheus::IntCounter;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use std::collections::HashMap;
use std::sync::Arc;

/// The header that names a raw record's account: `account` or `account/brand`.
pub const ACCOUNT_HEADER: &str = "parley-account";

/// One raw topic: its channel and pre-resolved counters.
#[derive(Debug)]
pub(super) struct Source {
    pub(super) topic: String,
    pub(super) channel: Channel,
    pub(super) records_in: IntCounter,
    /// Indexed like [`SkipKind::ALL`].
    pub(super) skipped: Vec<IntCounter>,
}

/// The per-record work: normalise, encode, produce, count.
pub(super) struct Worker {
    pub(super) normaliser: Normaliser,
    pub(super) framing: WireFormat,
    pub(super) producer: ThreadedProducer<DeliveryContext>,
    pub(super) shared: Arc<Shared>,
    pub(super) sources: Vec<Source>,
    pub(super) dlq_counters: HashMap<&'static str, IntCounter>,
    pub(super) output_topic: String,
    pub(super) dlq_topic: String,
    /// The value buffer, reused across events.
    pub(super) value: Vec<u8>,
    /// The offsets last committed, to commit only what moved.
    pub(super) committed: HashMap<(usize, i32), i64>,
}

impl Worker {
    /// Handles one raw record. An error means a produce was refused outright: the stage stops.
    pub(super) fn handle(
        &mut self,
        message: &BorrowedMessage<'_>,
    ) -> Result<(), IngressStageError> {
        let Some(index) = self.sources.iter().position(|s| s.topic == message.topic()) else {
            tracing::warn!(
                topic = message.topic(),
                "record from a topic not subscribed to"
            );
            return Ok(());
        };
        let source = &self.sources[index];
        source.records_in.inc();
        let slot = self.shared.slot(index, message.partition());
        let offset = message.offset();
        let timestamp = message.timestamp().to_millis();
        let payload = message.payload().unwrap_or_default();
        let outcome = account_header(message).and_then(|account_header| {
            self.normaliser.normalise(&RawRecord {
                channel: source.channel,
                payload,
                account_header,
                timestamp: Timestamp(timestamp.unwrap_or(-1)),
            })
        });
        match outcome {
            Ok(outcome) => {
                for kind in &outcome.skipped {
                    source.skipped[*kind as usize].inc();
                }
                slot.lock()
                    .expect("not poisoned")
                    .read(offset, outcome.events.len() as u32);
                for event in &outcome.events {
                    self.value.clear();
                    match self.framing {
                        WireFormat::SingleObject => encode_single_object(event, &mut self.value),
                        WireFormat::Confluent { schema_id } => {
                            self.value.push(0);
                            self.value.extend_from_slice(&schema_id.to_be_bytes());
                            encode_datum(event, &mut self.value);
                        }
                    }
                    let key = event_key(event);
                    let mut record = BaseRecord::with_opaque_to(
                        &self.output_topic,
                        Box::new(Ack {
                            slot: slot.clone(),
                            offset,
                            dlq: false,
                        }),
                    )
                    .key(key.as_str())
                    .payload(self.value.as_slice());
                    if let Some(ms) = timestamp {
                        record = record.timestamp(ms);
                    }
                    if let Err(refused) = send(&self.producer, &self.shared, record)? {
                        // The event itself is refused (larger than `message.max.bytes`):
                        // its raw record goes to the DLQ in its place, under the same ack.
                        let reason = refused.reason();
                        let text = format!("the normalised event was refused: {refused}");
                        self.dead_letter(message, index, reason, &text, slot.clone())?;
                    }
                }
            }
            Err(error) => {
                let reason = error.code();
                tracing::debug!(topic = %source.topic, partition = message.partition(), offset, reason, %error, "to the DLQ");
                slot.lock().expect("not poisoned").read(offset, 1);
                self.dead_letter(message, index, reason, &error.to_string(), slot)?;
            }
        }
        Ok(())
    }

    /// Sends `message` to the DLQ with `reason` and `error` in its headers, acknowledged on
    /// `slot` like the record it stands for. A DLQ record too large for the producer goes
    /// without its value: the headers still name the source topic, partition and offset.
    fn dead_letter(
        &mut self,
        message: &BorrowedMessage<'_>,
        index: usize,
        reason: &str,
        error: &str,
        slot: Slot,
    ) -> Result<(), IngressStageError> {
        if let Some(counter) = self.dlq_counters.get(reason) {
            counter.inc();
        }
        let offset = message.offset();
        let fields = dead_letter_headers(
            reason,
            error,
            &self.sources[index].topic,
            message.partition(),
            offset,
        );
        let mut payload = message.payload();
        loop {
            let mut headers = OwnedHeaders::new_with_capacity(fields.len());
            for (name, value) in &fields {
                headers = headers.insert(header(name, value));
            }
            let mut record = BaseRecord::<[u8], [u8], _>::with_opaque_to(
                &self.dlq_topic,
                Box::new(Ack {
                    slot: slot.clone(),
                    offset,
                    dlq: true,
                }),
            )
            .headers(headers);
            if let Some(payload) = payload {
                record = record.payload(payload);
            }
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(ms) = message.timestamp().to_millis() {
                record = record.timestamp(ms);
            }
            match send(&self.producer, &self.shared, record)? {
                Ok(()) => return Ok(()),
                Err(refused) if payload.is_some() => {
                    tracing::warn!(%refused, offset, "DLQ record refused; sending it without the raw body");
                    payload = None;
                }
                Err(refused) => {
                    return Err(IngressStageError::Produce {
                        topic: self.dlq_topic.clone(),
                        reason: refused.to_string(),
                    })
                }
            }
        }
    }

    /// Commits every partition whose committable offset moved since the last commit.
    /// A failed commit is logged and tried again at the next one.
    pub(super) fn commit(&mut self, consumer: &StreamConsumer<RebalanceContext>, mode: CommitMode) {
        if let Err(error) = self.try_commit(consumer, mode) {
            tracing::warn!(%error, "commit");
        }
    }

    pub(super) fn try_commit(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        mode: CommitMode,
    ) -> Result<(), KafkaError> {
        let offsets: Vec<_> = self
            .shared
            .committable(None, false)
            .into_iter()
            .filter(|(key, offset)| self.committed.get(key) != Some(offset))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        consumer.commit(&self.shared.offset_list(&offsets), mode)?;
        self.committed.extend(offsets);
        Ok(())
    }
}

fn header<'a>(key: &'a str, value: &'a [u8]) -> Header<'a, &'a [u8]> {
    Header {
        key,
        value: Some(value),
    }
}

/// The record's `parley-account` header: absent (or null) is `None`; not UTF-8 is an
/// `invalid_account_header` error.
fn account_header<'m>(message: &'m BorrowedMessage<'_>) -> Result<Option<&'m str>, IngressError> {
    let value = message.headers().and_then(|headers| {
        headers
            .iter()
            .find(|header| header.key == ACCOUNT_HEADER)
            .and_then(|header| header.value)
    });
    parse_account_header(value)
}

/// The headers of the DLQ record of a raw record read from `topic` at `partition` and
/// `offset`: stage `ingress`, `reason`, `error` and the source, in the runtime's header names.
pub(crate) fn dead_letter_headers(
    reason: &str,
    error: &str,
    topic: &str,
    partition: i32,
    offset: i64,
) -> [(&'static str, Vec<u8>); 6] {
    [
        (dlq_headers::STAGE, STAGE.as_bytes().to_vec()),
        (dlq_headers::REASON, reason.as_bytes().to_vec()),
        (dlq_headers::ERROR, error.as_bytes().to_vec()),
        (dlq_headers::TOPIC, topic.as_bytes().to_vec()),
        (dlq_headers::PARTITION, partition.to_string().into_bytes()),
        (dlq_headers::OFFSET, offset.to_string().into_bytes()),
    ]
}

/// A `parley-account` header's value: absent is `None`; not UTF-8 is an
/// `invalid_account_header` error.
pub(crate) fn parse_account_header(value: Option<&[u8]>) -> Result<Option<&str>, IngressError> {
    let Some(value) = value else {
        return Ok(None);
    };
    std::str::from_utf8(value)
        .map(Some)
        .map_err(|_| IngressError::InvalidAccountHeader {
            value: crate::json::shorten(&String::from_utf8_lossy(value)),
            rule: "must be UTF-8",
        })
}
