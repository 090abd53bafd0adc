//! The rdkafka contexts: rebalance callbacks routed to the coordinator, delivery reports tracked.

use crate::host::coordinator::{Coordinator, RebalanceEvent};
use crate::processor::KeyedProcessor;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The consumer's context: turns each rebalance callback into a [`RebalanceEvent`] for the
/// coordinator, then applies the (incremental) assignment.
///
/// librdkafka gives a revoked partition up as soon as the callback returns, so the
/// coordinator handles the event synchronously: it commits the open batch before the
/// partition goes. On assignment it restores the partitions and sets their start offsets to
/// the last seal's before they are assigned, so no input of a new partition is processed
/// before its state is complete.
pub(crate) struct HostContext<P: KeyedProcessor> {
    pub(crate) coordinator: Arc<Mutex<Coordinator<P>>>,
}

impl<P: KeyedProcessor> ClientContext for HostContext<P> {}

impl<P: KeyedProcessor> ConsumerContext for HostContext<P> {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let mut coordinator = self
            .coordinator
            .lock()
            .expect("coordinator lock not poisoned");
        let result: KafkaResult<()> = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                coordinator.on_rebalance(consumer, RebalanceEvent::Assigned(tpl));
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let event = if consumer.assignment_lost() {
                    RebalanceEvent::Lost(tpl)
                } else {
                    RebalanceEvent::Revoked(tpl)
                };
                coordinator.on_rebalance(consumer, event);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                Ok(())
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "applying the assignment failed");
        }
    }
}

/// The producer's context: counts failed deliveries and records where each seal landed.
#[derive(Debug, Default)]
pub(crate) struct DeliveryTracker {
    pub(crate) changelog_topic: String,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    seals: Mutex<HashMap<i32, i64>>,
}

impl DeliveryTracker {
    pub(crate) fn new(changelog_topic: &str) -> DeliveryTracker {
        DeliveryTracker {
            changelog_topic: changelog_topic.to_owned(),
            ..DeliveryTracker::default()
        }
    }

    /// Takes the failure count and first error since the last call, and the seal offsets.
    pub(crate) fn take(&self) -> (u64, Option<String>, HashMap<i32, i64>) {
        let failed = self.failed.swap(0, Ordering::SeqCst);
        let error = self.first_error.lock().expect("not poisoned").take();
        let seals = std::mem::take(&mut *self.seals.lock().expect("not poisoned"));
        (failed, error, seals)
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                if message.topic() == self.changelog_topic && message.key() == Some(&[0u8][..]) {
                    self.seals
                        .lock()
                        .expect("not poisoned")
                        .insert(message.partition(), message.offset());
                }
            }
            Err((error, message)) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                let mut first = self.first_error.lock().expect("not poisoned");
                if first.is_none() {
                    *first = Some(format!(
                        "{} partition {}: {error}",
                        message.topic(),
                        message.partition()
                    ));
                }
            }
        }
    }
}
