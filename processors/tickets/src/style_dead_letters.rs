//! Refused style-config records to the DLQ, each written once.
//!
//! Every instance reads the whole `style-config` topic into its table ([`StyleReader`]), so
//! every instance refuses a bad record. Writing the DLQ from the reader would write it once
//! per instance and again at every start. [`StyleDeadLetters`] is a consumer group of its
//! own over the topic (`<group>-style-dlq`): Kafka gives each partition to one instance,
//! which checks each record as the reader does, sends a refused one to the DLQ with the
//! reason, and commits past it once the DLQ has it (at least once).
//!
//! [`StyleReader`]: crate::StyleReader

use crate::error::TicketsError;
use crate::style_reader::refusal;
use parley_core::StyleConfig;
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::{dead_letter, DlqStage};
use parley_runtime::InputRecord;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a DLQ write may take before the record is tried again.
const DLQ_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer group that writes refused style-config records to the DLQ; stops on drop.
#[derive(Debug)]
pub struct StyleDeadLetters {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StyleDeadLetters {
    /// Joins the group `group` on `topic` and starts checking records on a thread of its
    /// own; refused ones go to `dlq_topic`.
    pub fn start(
        client: &ClientConfig,
        group: &str,
        topic: &str,
        dlq_topic: &str,
        codec: AvroCodec<StyleConfig>,
    ) -> Result<StyleDeadLetters, TicketsError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        consumer.subscribe(&[topic])?;
        let producer: BaseProducer = client.clone().set("enable.idempotence", "true").create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut checker = Checker {
            consumer,
            producer,
            codec,
            dlq_topic: dlq_topic.to_owned(),
        };
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("style-dlq".into())
                .spawn(move || checker.run(&stop))?
        };
        Ok(StyleDeadLetters {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for StyleDeadLetters {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Checker {
    consumer: BaseConsumer,
    producer: BaseProducer,
    codec: AvroCodec<StyleConfig>,
    dlq_topic: String,
}

impl Checker {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            let Some(polled) = self.consumer.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = match polled {
                Ok(message) => message.detach(),
                Err(error) => {
                    tracing::warn!(%error, "style-config DLQ group");
                    continue;
                }
            };
            let Some(value) = message.payload() else {
                // A tombstone is never refused.
                self.commit(&message);
                continue;
            };
            if let Some((reason, error)) = refusal(&self.codec, value) {
                let record = InputRecord {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().unwrap_or_default(),
                    value,
                    timestamp: None,
                };
                let stage = match reason {
                    crate::style_reader::REFUSED_UNDECODABLE => DlqStage::Decode,
                    _ => DlqStage::Process,
                };
                let output = dead_letter(&self.dlq_topic, &record, stage, reason, &error);
                if !self.send(&output) {
                    // Not committed: read the record again after a pause.
                    let offset = Offset::Offset(message.offset());
                    let seek = (self.consumer).seek(
                        message.topic(),
                        message.partition(),
                        offset,
                        DLQ_TIMEOUT,
                    );
                    if let Err(error) = seek {
                        tracing::warn!(%error, "style-config DLQ group seek");
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
            self.commit(&message);
        }
    }

    /// Sends `output` and waits for the DLQ to have it.
    fn send(&self, output: &parley_runtime::Output) -> bool {
        let mut headers = OwnedHeaders::new_with_capacity(output.headers.len());
        for (name, value) in &output.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let record = BaseRecord::to(&output.topic)
            .key(&output.key)
            .payload(&output.value)
            .headers(headers);
        if let Err((error, _)) = self.producer.send(record) {
            tracing::error!(%error, topic = %output.topic, "style-config DLQ record refused");
            return false;
        }
        match self.producer.flush(DLQ_TIMEOUT) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, topic = %output.topic, "style-config DLQ record not acknowledged");
                false
            }
        }
    }

    fn commit(&self, message: &rdkafka::message::OwnedMessage) {
        let mut next = TopicPartitionList::new();
        let offset = Offset::Offset(message.offset() + 1);
        let added = next.add_partition_offset(message.topic(), message.partition(), offset);
        if let Err(error) = added.and_then(|()| self.consumer.commit(&next, CommitMode::Async)) {
            tracing::warn!(%error, "style-config DLQ group commit");
        }
    }
}
