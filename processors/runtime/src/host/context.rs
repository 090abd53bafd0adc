//! The consumer's rdkafka context: each rebalance callback becomes a [`RebalanceEvent`] on a
//! channel, handled by the loop once `poll` returns.
//!
//! The callback takes no lock and calls nothing of the coordinator: librdkafka lets the
//! application apply an assignment after its callback has returned, so the loop applies it
//! itself, after committing what a revocation needs committed (see
//! `Coordinator::on_rebalance`). Once the host is closing, nothing reads the channel any
//! more, and the callback applies each change itself.

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};

/// A rebalance callback, as a message to the coordinator.
#[derive(Debug)]
pub(crate) enum RebalanceEvent {
    /// Partitions newly assigned, not yet applied to the consumer.
    Assigned(TopicPartitionList),
    /// Partitions revoked, still assigned until the coordinator has committed.
    Revoked(TopicPartitionList),
    /// Partitions lost (the group moved on without this instance): nothing can be committed.
    Lost(TopicPartitionList),
}

/// The consumer's context; see the module doc.
pub(crate) struct HostContext {
    events: Sender<RebalanceEvent>,
    closing: AtomicBool,
}

impl HostContext {
    /// A context and the receiving end of its events.
    pub(crate) fn new() -> (HostContext, Receiver<RebalanceEvent>) {
        let (events, received) = std::sync::mpsc::channel();
        let context = HostContext {
            events,
            closing: AtomicBool::new(false),
        };
        (context, received)
    }

    /// From now on each callback applies its change itself (the coordinator has committed
    /// and released everything; the consumer is about to leave its group).
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }
}

impl ClientContext for HostContext {}

impl ConsumerContext for HostContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let event = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                RebalanceEvent::Assigned(tpl.clone())
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if consumer.assignment_lost() => {
                RebalanceEvent::Lost(tpl.clone())
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                RebalanceEvent::Revoked(tpl.clone())
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                return;
            }
        };
        if self.closing.load(Ordering::SeqCst) {
            if let Err(error) = apply(consumer, &event) {
                tracing::error!(%error, "applying the assignment failed");
            }
            return;
        }
        if let Err(unsent) = self.events.send(event) {
            // The loop is gone: apply the change so that the consumer can leave its group.
            let _ = apply(consumer, &unsent.0);
        }
    }
}

/// Applies `event` to the consumer's assignment.
fn apply<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    event: &RebalanceEvent,
) -> KafkaResult<()> {
    match event {
        RebalanceEvent::Assigned(tpl) => assign(consumer, tpl),
        RebalanceEvent::Revoked(tpl) | RebalanceEvent::Lost(tpl) => unassign(consumer, tpl),
    }
}

fn cooperative<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> bool {
    matches!(
        consumer.rebalance_protocol(),
        RebalanceProtocol::Cooperative
    )
}

/// Adds `tpl` to the assignment under the cooperative protocol; makes it the assignment
/// under the eager one.
pub(crate) fn assign<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &TopicPartitionList,
) -> KafkaResult<()> {
    if cooperative(consumer) {
        consumer.incremental_assign(tpl)
    } else {
        consumer.assign(tpl)
    }
}

/// Takes `tpl` out of the assignment under the cooperative protocol; empties it under the
/// eager one.
pub(crate) fn unassign<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    tpl: &TopicPartitionList,
) -> KafkaResult<()> {
    if cooperative(consumer) {
        consumer.incremental_unassign(tpl)
    } else {
        consumer.unassign()
    }
}

/// Applies every event the loop left unhandled, once the host is closing.
pub(crate) fn settle<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    events: &Receiver<RebalanceEvent>,
) {
    for event in events.try_iter() {
        if let Err(error) = apply(consumer, &event) {
            tracing::error!(%error, "applying the assignment failed");
        }
    }
}
