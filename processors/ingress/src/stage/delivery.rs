//! The producer's side of the stage: records sent under an acknowledgement that moves
//! their source partition's progress when the broker confirms them.

use super::error::IngressStageError;
use super::shared::{Shared, Slot};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The identity of a produced record, handed back with its acknowledgement.
#[derive(Debug)]
pub(super) struct Ack {
    pub(super) slot: Slot,
    pub(super) offset: i64,
    pub(super) dlq: bool,
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
                if ack.dlq {
                    shared.dlq_out.inc();
                } else {
                    shared.output_out.inc();
                }
                ack.slot
                    .lock()
                    .expect("not poisoned")
                    .acknowledge(ack.offset);
            }
            Err((error, message)) => {
                tracing::error!(%error, topic = message.topic(), source_offset = ack.offset, "produce failed");
                let mut failure = shared.failure.lock().expect("not poisoned");
                if failure.is_none() {
                    *failure = Some(IngressStageError::Produce {
                        topic: message.topic().to_owned(),
                        reason: error.to_string(),
                    });
                }
                drop(failure);
                shared.room.notify_one();
            }
        }
        if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == shared.low_water + 1 {
            shared.room.notify_one();
        }
    }
}

/// A record librdkafka refused for itself (too large), not for the state of the producer.
#[derive(Debug)]
pub(super) struct Refused(KafkaError);

impl Refused {
    /// The DLQ reason.
    pub(super) fn reason(&self) -> &'static str {
        OUTPUT_TOO_LARGE
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The DLQ reason of a raw record whose normalised event is larger than the producer's
/// `message.max.bytes`.
pub const OUTPUT_TOO_LARGE: &str = "output_too_large";

/// Sends `record`, waiting while librdkafka's queue is full (the in-flight limit keeps that
/// rare). A record refused for its size comes back as `Ok(Err(Refused))`; any other
/// refusal is a produce failure that stops the stage.
pub(super) fn send<K: rdkafka::message::ToBytes + ?Sized>(
    producer: &ThreadedProducer<DeliveryContext>,
    shared: &Shared,
    mut record: BaseRecord<'_, K, [u8], Box<Ack>>,
) -> Result<Result<(), Refused>, IngressStageError> {
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
                return Err(IngressStageError::Produce {
                    topic: back.topic.to_owned(),
                    reason: error.to_string(),
                });
            }
        }
    }
}
