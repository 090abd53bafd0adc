//! The producer's side of the host: records sent under an acknowledgement that moves
//! their source partition's progress when the broker confirms them.

use super::shared::{Shared, Slot};
use crate::error::RuntimeError;
use prometheus::IntCounter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The DLQ reason of an input record one of whose outputs is larger than the producer's
/// `message.max.bytes`.
pub const OUTPUT_TOO_LARGE: &str = "output_too_large";

/// The identity of a produced record, handed back with its acknowledgement.
#[derive(Debug)]
pub(super) struct Ack {
    pub(super) slot: Slot,
    /// The source offset.
    pub(super) offset: i64,
    /// `parley_records_out_total` of the record's topic.
    pub(super) records_out: IntCounter,
}

/// The producer's context: acknowledgements update partition progress and the counters.
#[derive(Debug)]
pub(super) struct DeliveryContext {
    pub(super) shared: Arc<Shared>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Ack>;

    fn delivery(&self, result: &DeliveryResult<'_>, ack: Box<Ack>) {
        let shared = &self.shared;
        match result {
            Ok(_) => {
                ack.records_out.inc();
                ack.slot
                    .lock()
                    .expect("not poisoned")
                    .acknowledge(ack.offset);
            }
            Err((error, message)) => {
                tracing::error!(%error, topic = message.topic(), source_offset = ack.offset, "produce failed");
                shared.fail(produce_failed(message.topic(), error));
            }
        }
        if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == shared.low_water + 1 {
            shared.room.notify_one();
        }
    }
}

/// The failure of a record to `topic` that was not produced.
pub(super) fn produce_failed(topic: &str, error: &dyn std::fmt::Display) -> RuntimeError {
    RuntimeError::Produce(format!(
        "to {topic}: {error}; its source offset was not committed"
    ))
}

/// A record librdkafka refused for itself (too large), not for the state of the producer.
#[derive(Debug)]
pub(super) struct Refused(KafkaError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Sends `record`, waiting while librdkafka's queue is full (the in-flight limit keeps that
/// rare). A record refused for its size comes back as `Ok(Err(Refused))`; any other
/// refusal is a produce failure that stops the host.
pub(super) fn send(
    producer: &ThreadedProducer<DeliveryContext>,
    shared: &Shared,
    mut record: BaseRecord<'_, [u8], [u8], Box<Ack>>,
) -> Result<Result<(), Refused>, RuntimeError> {
    shared.in_flight.fetch_add(1, Ordering::AcqRel);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(Ok(())),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, back)) => {
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                if let KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge) = error
                {
                    return Ok(Err(Refused(error)));
                }
                return Err(produce_failed(back.topic, &error));
            }
        }
    }
}
