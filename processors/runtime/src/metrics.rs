//! The runtime's Prometheus metrics, named `parley_<name>_<unit>` and `_total` for counters.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the runtime exports, registered in its own [`Registry`].
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `parley_records_in_total{topic}`: input records read.
    pub records_in: IntCounterVec,
    /// `parley_records_out_total{topic}`: records produced (outputs, changelog, DLQ).
    pub records_out: IntCounterVec,
    /// `parley_dlq_records_total{stage,reason}`: records sent to the DLQ.
    pub dlq_records: IntCounterVec,
    /// `parley_processing_latency_seconds`: time from a batch's first poll to its commit.
    pub processing_latency: Histogram,
    /// `parley_consumer_lag{topic,partition}`: high watermark minus next offset.
    pub consumer_lag: IntGaugeVec,
    /// `parley_commit_latency_seconds{guarantee}`: time to commit a batch.
    pub commit_latency: HistogramVec,
    /// `parley_timers_pending`: durable timers set, over assigned partitions.
    pub timers_pending: IntGauge,
    /// `parley_timers_fired_total`: timers that came due and were handled (or dropped).
    pub timers_fired: IntCounter,
    /// `parley_timers_dropped_total`: timers that came due with a stored id that no longer
    /// decodes as the processor's timer, removed without being handled.
    pub timers_dropped: IntCounter,
    /// `parley_timers_overdue_seconds`: how late the most overdue timer was when the loop
    /// last looked (0 when none was due).
    pub timers_overdue: Gauge,
    /// `parley_records_ahead_total`: records whose timestamp lay more than `time.max_ahead_ms`
    /// past the clock, handled at the clock plus that tolerance instead.
    pub records_ahead: IntCounter,
    /// `parley_state_bytes`: size of the sled database on disk.
    pub state_bytes: IntGauge,
    /// `parley_restore_records_total`: changelog records replayed into sled.
    pub restore_records: IntCounter,
    /// `parley_restore_remaining{partition}`: changelog records left to replay.
    pub restore_remaining: IntGaugeVec,
    /// `parley_partitions_restoring`: partitions assigned and not yet restored (paused
    /// while a thread of their own replays their changelog).
    pub partitions_restoring: IntGauge,
    /// `parley_rebalances_total{kind}`: assignments and revocations.
    pub rebalances: IntCounterVec,
    /// `parley_batches_total`: committed batches.
    pub batches: IntCounter,
    /// `parley_brokers_reachable`: 1 while the brokers answer the host's metadata probe, 0
    /// once one went unanswered (1 until a host probes).
    pub brokers_reachable: IntGauge,
    /// `parley_host_restarts_total`: times the host dropped its clients and in-memory state
    /// after a failure a restart repairs, and started again in the process.
    pub host_restarts: IntCounter,
    /// `parley_assigned_partitions`: input partitions this instance owns; -1 until it has
    /// joined its consumer group (again, after a restart in the process).
    pub assigned_partitions: IntGauge,
    /// `parley_group_members`: members of the instance's consumer group as the broker last
    /// described it; -1 until read.
    pub group_members: IntGauge,
    /// `parley_group_partitions`: the partitions the group shares among its members (a
    /// partition number of co-partitioned inputs counts once); -1 until read.
    pub group_partitions: IntGauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Whether a partition is still replaying its changelog (the process is not ready).
    pub fn restoring(&self) -> bool {
        use prometheus::core::Collector;
        self.restore_remaining
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .any(|metric| metric.get_gauge().get_value() > 0.0)
    }

    /// Whether the brokers answered the host's last metadata probe (the process is not
    /// ready otherwise).
    pub fn brokers_reachable(&self) -> bool {
        self.brokers_reachable.get() > 0
    }

    /// Whether the instance can serve, with the reason either way (the body of `/readyz`).
    ///
    /// Ready once the brokers answer, the instance has joined its group, and every partition
    /// it was assigned is restored. An instance assigned nothing is ready only when the group
    /// has more members than partitions (an idle standby); otherwise a rebalance is due and
    /// it is not ready until it gets its share.
    pub fn readiness(&self) -> Result<String, String> {
        if self.restoring() || self.partitions_restoring.get() > 0 {
            return Err("restoring from the changelog".into());
        }
        if !self.brokers_reachable() {
            return Err("brokers unreachable".into());
        }
        let assigned = self.assigned_partitions.get();
        if assigned < 0 {
            return Err("joining the consumer group".into());
        }
        if assigned > 0 {
            return Ok(format!("ready: {assigned} partition(s) assigned"));
        }
        let (members, partitions) = (self.group_members.get(), self.group_partitions.get());
        if members < 0 || partitions < 0 {
            return Err("no partition assigned; the group's size is not read yet".into());
        }
        let group = format!("the group has {members} member(s) for {partitions} partition(s)");
        if members > partitions {
            Ok(format!("ready: no partition assigned: {group} (standby)"))
        } else {
            Err(format!(
                "no partition assigned though {group}: waiting for a rebalance"
            ))
        }
    }

    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let latency_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        macro_rules! register {
            ($metric:expr) => {{
                let metric = $metric.expect("metric definitions are valid");
                registry
                    .register(Box::new(metric.clone()))
                    .expect("metric names are unique");
                metric
            }};
        }
        let records_in = register!(IntCounterVec::new(
            Opts::new("parley_records_in_total", "Input records read"),
            &["topic"]
        ));
        Metrics {
            records_in,
            records_out: register!(IntCounterVec::new(
                Opts::new("parley_records_out_total", "Records produced"),
                &["topic"]
            )),
            dlq_records: register!(IntCounterVec::new(
                Opts::new("parley_dlq_records_total", "Records sent to the DLQ"),
                &["stage", "reason"]
            )),
            processing_latency: register!(Histogram::with_opts(
                HistogramOpts::new(
                    "parley_processing_latency_seconds",
                    "From a batch's first record to its commit"
                )
                .buckets(latency_buckets.clone())
            )),
            consumer_lag: register!(IntGaugeVec::new(
                Opts::new(
                    "parley_consumer_lag",
                    "High watermark minus the next offset to process"
                ),
                &["topic", "partition"]
            )),
            commit_latency: register!(HistogramVec::new(
                HistogramOpts::new("parley_commit_latency_seconds", "Time to commit a batch")
                    .buckets(latency_buckets),
                &["guarantee"]
            )),
            timers_pending: register!(IntGauge::new("parley_timers_pending", "Durable timers set")),
            timers_fired: register!(IntCounter::new(
                "parley_timers_fired_total",
                "Timers handled"
            )),
            timers_dropped: register!(IntCounter::new(
                "parley_timers_dropped_total",
                "Timers removed unhandled because their stored id no longer decodes"
            )),
            timers_overdue: register!(Gauge::new(
                "parley_timers_overdue_seconds",
                "How late the most overdue timer was when the loop last fired timers"
            )),
            records_ahead: register!(IntCounter::new(
                "parley_records_ahead_total",
                "Records whose timestamp lay too far ahead of the clock and were handled earlier"
            )),
            state_bytes: register!(IntGauge::new(
                "parley_state_bytes",
                "Size of the sled database on disk"
            )),
            restore_records: register!(IntCounter::new(
                "parley_restore_records_total",
                "Changelog records replayed into sled"
            )),
            restore_remaining: register!(IntGaugeVec::new(
                Opts::new(
                    "parley_restore_remaining",
                    "Changelog records left to replay"
                ),
                &["partition"]
            )),
            partitions_restoring: register!(IntGauge::new(
                "parley_partitions_restoring",
                "Partitions assigned and not yet restored"
            )),
            rebalances: register!(IntCounterVec::new(
                Opts::new(
                    "parley_rebalances_total",
                    "Partition assignments and revocations"
                ),
                &["kind"]
            )),
            batches: register!(IntCounter::new("parley_batches_total", "Committed batches")),
            brokers_reachable: {
                let gauge = register!(IntGauge::new(
                    "parley_brokers_reachable",
                    "1 while the brokers answer the host's metadata probe, 0 otherwise"
                ));
                gauge.set(1);
                gauge
            },
            host_restarts: register!(IntCounter::new(
                "parley_host_restarts_total",
                "Restarts of the host in the process after a failure a restart repairs"
            )),
            assigned_partitions: unknown(register!(IntGauge::new(
                "parley_assigned_partitions",
                "Input partitions this instance owns; -1 until it joined its group"
            ))),
            group_members: unknown(register!(IntGauge::new(
                "parley_group_members",
                "Members of the instance's consumer group; -1 until read"
            ))),
            group_partitions: unknown(register!(IntGauge::new(
                "parley_group_partitions",
                "Partitions the group shares among its members; -1 until read"
            ))),
            registry,
        }
    }

    /// The registry every metric is in, for a processor to register its own metrics on:
    /// `/metrics` serves them with the runtime's.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// `gauge`, set to -1: not known yet.
fn unknown(gauge: IntGauge) -> IntGauge {
    gauge.set(-1);
    gauge
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_joined_and_assigned_or_a_standby() {
        let metrics = Metrics::new();
        assert_eq!(
            metrics.readiness(),
            Err("joining the consumer group".into())
        );
        metrics.assigned_partitions.set(0);
        assert_eq!(
            metrics.readiness(),
            Err("no partition assigned; the group's size is not read yet".into())
        );
        metrics.group_members.set(2);
        metrics.group_partitions.set(4);
        assert_eq!(
            metrics.readiness(),
            Err(
                "no partition assigned though the group has 2 member(s) for 4 partition(s): \
                 waiting for a rebalance"
                    .into()
            )
        );
        metrics.group_members.set(5);
        assert_eq!(
            metrics.readiness(),
            Ok(
                "ready: no partition assigned: the group has 5 member(s) for 4 partition(s) \
                (standby)"
                    .into()
            )
        );
        metrics.group_members.set(2);
        metrics.assigned_partitions.set(2);
        assert_eq!(
            metrics.readiness(),
            Ok("ready: 2 partition(s) assigned".into())
        );
    }

    #[tokio::test]
    async fn metrics_are_served_over_http() {
        let metrics = std::sync::Arc::new(Metrics::new());
        metrics
            .records_in
            .with_label_values(&["parley.conversation-events"])
            .inc_by(3);
        metrics
            .dlq_records
            .with_label_values(&["decode", "bad-header"])
            .inc();
        let (address, server) = crate::http::serve_metrics("127.0.0.1:0".parse().unwrap(), metrics)
            .await
            .unwrap();
        let body = get(address, "/metrics").await;
        assert!(
            body.contains("parley_records_in_total{topic=\"parley.conversation-events\"} 3"),
            "{body}"
        );
        assert!(
            body.contains("parley_dlq_records_total{reason=\"bad-header\",stage=\"decode\"} 1"),
            "{body}"
        );
        assert!(get(address, "/nothing").await.starts_with("HTTP/1.1 404"));
        server.abort();
    }

    #[tokio::test]
    async fn ready_only_once_every_partition_is_restored() {
        let metrics = std::sync::Arc::new(Metrics::new());
        metrics.assigned_partitions.set(1);
        let (address, server) =
            crate::http::serve_metrics("127.0.0.1:0".parse().unwrap(), metrics.clone())
                .await
                .unwrap();
        assert!(get(address, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(address, "/readyz").await.starts_with("HTTP/1.1 200"));
        metrics.restore_remaining.with_label_values(&["3"]).set(120);
        assert!(get(address, "/readyz").await.starts_with("HTTP/1.1 503"));
        assert!(
            get(address, "/healthz").await.starts_with("HTTP/1.1 200"),
            "alive while restoring"
        );
        metrics.restore_remaining.with_label_values(&["3"]).set(0);
        assert!(get(address, "/readyz").await.starts_with("HTTP/1.1 200"));
        server.abort();
    }

    #[tokio::test]
    async fn not_ready_while_the_brokers_are_unreachable() {
        let metrics = std::sync::Arc::new(Metrics::new());
        metrics.assigned_partitions.set(1);
        let (address, server) =
            crate::http::serve_metrics("127.0.0.1:0".parse().unwrap(), metrics.clone())
                .await
                .unwrap();
        metrics.brokers_reachable.set(0);
        let answer = get(address, "/readyz").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.ends_with("brokers unreachable\n"), "{answer}");
        assert!(
            get(address, "/healthz").await.starts_with("HTTP/1.1 200"),
            "alive without brokers"
        );
        metrics.brokers_reachable.set(1);
        assert!(get(address, "/readyz").await.starts_with("HTTP/1.1 200"));
        server.abort();
    }

    async fn get(address: std::net::SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text
    }
}
