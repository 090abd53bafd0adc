//! The consumer's rdkafka context: rebalance callbacks routed to the coordinator.

use crate::host::coordinator::{Coordinator, RebalanceEvent};
use crate::processor::KeyedProcessor;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList};
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
