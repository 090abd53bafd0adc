//! The stage's metrics: the runtime's [`Metrics`] plus `parley_ingress_skipped_total`.

use crate::outcome::SkipKind;
use parley_core::Channel;
use parley_runtime::Metrics;
use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};
use std::sync::Arc;

/// The label value of the `stage` label and DLQ header for records refused by ingress.
pub const STAGE: &str = "ingress";

/// Every metric ingress exports: the runtime's registry (records in and out, DLQ records
/// by stage and reason, ...) and a registry of its own for the skipped-items counter, which
/// the runtime's [`Metrics`] has no way to take in. [`render`](IngressMetrics::render)
/// exposes both.
#[derive(Clone, Debug)]
pub struct IngressMetrics {
    runtime: Arc<Metrics>,
    registry: Registry,
    /// `parley_ingress_skipped_total{channel,kind}`: items of webhook bodies that are not
    /// end-user messages (receipts, typing, echoes, ...).
    pub skipped: IntCounterVec,
}

impl Default for IngressMetrics {
    fn default() -> IngressMetrics {
        IngressMetrics::new()
    }
}

impl IngressMetrics {
    /// Creates and registers every metric.
    pub fn new() -> IngressMetrics {
        let registry = Registry::new();
        let skipped = IntCounterVec::new(
            Opts::new(
                "parley_ingress_skipped_total",
                "Webhook items that are not end-user messages, by channel and kind",
            ),
            &["channel", "kind"],
        )
        .expect("the metric definition is valid");
        registry
            .register(Box::new(skipped.clone()))
            .expect("the metric name is unique in its registry");
        IngressMetrics {
            runtime: Arc::new(Metrics::new()),
            registry,
            skipped,
        }
    }

    /// The runtime's metrics: `records_in`, `records_out`, `dlq_records`, ...
    pub fn runtime(&self) -> &Metrics {
        &self.runtime
    }

    /// The runtime's metrics, shared (for the host that counts into them).
    pub fn runtime_shared(&self) -> Arc<Metrics> {
        self.runtime.clone()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = self.runtime.render();
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        text.push_str(&String::from_utf8_lossy(&buffer));
        text
    }

    /// The count of records read from `topic`.
    pub fn records_in(&self, topic: &str) -> u64 {
        self.runtime.records_in.with_label_values(&[topic]).get()
    }

    /// The count of records acknowledged on `topic`.
    pub fn records_out(&self, topic: &str) -> u64 {
        self.runtime.records_out.with_label_values(&[topic]).get()
    }

    /// The count of records ingress sent to the DLQ for `reason`.
    pub fn dlq_records(&self, reason: &str) -> u64 {
        self.runtime
            .dlq_records
            .with_label_values(&[STAGE, reason])
            .get()
    }

    /// The count of rebalance events of `kind` (`assigned`, `revoked`) this instance saw.
    pub fn rebalances(&self, kind: &str) -> u64 {
        self.runtime.rebalances.with_label_values(&[kind]).get()
    }

    /// The count of skipped items of `kind` on `channel`.
    pub fn skipped(&self, channel: Channel, kind: SkipKind) -> u64 {
        self.skipped
            .with_label_values(&[channel.as_str(), kind.label()])
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_holds_the_runtime_metrics_and_the_skipped_counter() {
        let metrics = IngressMetrics::new();
        metrics
            .skipped
            .with_label_values(&["line", "read"])
            .inc_by(2);
        metrics
            .runtime()
            .dlq_records
            .with_label_values(&[STAGE, "oversized"])
            .inc();
        let text = metrics.render();
        assert!(
            text.contains("parley_ingress_skipped_total{channel=\"line\",kind=\"read\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("parley_dlq_records_total{reason=\"oversized\",stage=\"ingress\"} 1"),
            "{text}"
        );
        assert_eq!(metrics.skipped(Channel::Line, SkipKind::Read), 2);
        assert_eq!(metrics.dlq_records("oversized"), 1);
    }
}
