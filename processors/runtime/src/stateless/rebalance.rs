//! The consumer's side of the host: before partitions are revoked, their outstanding
//! records are flushed and their offsets committed.

use super::delivery::DeliveryContext;
use super::shared::Shared;
use prometheus::{IntCounter, IntGauge};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::Arc;
use std::time::Duration;

/// How long a flush (on revoke and on shutdown) waits for outstanding acknowledgements.
pub(super) const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer's context: before partitions are revoked, wait for their outstanding
/// records and commit them.
pub(super) struct RebalanceContext {
    pub(super) shared: Arc<Shared>,
    pub(super) producer: ThreadedProducer<DeliveryContext>,
    pub(super) assigned: IntCounter,
    pub(super) revoked: IntCounter,
    /// Revocations whose offsets could not be committed: the next owner reads those
    /// records again (at least once).
    pub(super) revoked_uncommitted: IntCounter,
    /// `parley_assigned_partitions`.
    pub(super) owned: IntGauge,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else {
            return;
        };
        self.revoked.inc();
        tracing::info!(
            partitions = revoked.count(),
            "partitions revoked: flushing and committing"
        );
        if let Err(error) = self.producer.flush(FLUSH_TIMEOUT) {
            tracing::warn!(%error, "flush before revocation");
        }
        let offsets = self.shared.committable(Some(revoked), true);
        if offsets.is_empty() {
            return;
        }
        if let Err(error) = consumer.commit(&self.shared.offset_list(&offsets), CommitMode::Sync) {
            tracing::warn!(%error, "commit before revocation; the next owner reads the uncommitted records again");
            self.revoked_uncommitted.inc();
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            if assigned.count() > 0 {
                self.assigned.inc();
                tracing::info!(partitions = assigned.count(), "partitions assigned");
            }
        }
        // Called after every rebalance, an empty assignment included: from the first call
        // on, the instance has joined its group.
        if let Ok(owned) = consumer.assignment() {
            self.owned.set(owned.count() as i64);
        }
    }
}
