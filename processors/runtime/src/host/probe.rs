//! The broker probe: whether the brokers answer, for `/readyz` and `parley_brokers_reachable`.
//!
//! A loop cannot tell on its own: with every broker gone, librdkafka retries in the
//! background, a poll returns nothing, and a commit waits out its timeout. So a thread asks
//! for the metadata of one input topic every second and publishes whether an answer came
//! within [`PROBE_TIMEOUT`]. The host runs one; so does the ingress stage.

use prometheus::IntGauge;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the probe asks.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How long an answer may take before the brokers count as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A running probe; stops when dropped.
#[derive(Debug)]
pub struct BrokerProbe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BrokerProbe {
    /// Probes the brokers of `client` with the metadata of `topic` and sets `reachable`
    /// (`parley_brokers_reachable`) to 1 or 0 after every answer or timeout.
    pub fn start(
        client: &ClientConfig,
        topic: &str,
        reachable: IntGauge,
    ) -> KafkaResult<BrokerProbe> {
        let consumer: BaseConsumer = client.create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, topic) = (stop.clone(), topic.to_owned());
        let thread = std::thread::Builder::new()
            .name("parley-broker-probe".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let asked = Instant::now();
                    let answered = consumer.fetch_metadata(Some(&topic), PROBE_TIMEOUT);
                    if let Err(error) = &answered {
                        if reachable.get() > 0 {
                            tracing::warn!(%error, "the brokers do not answer: not ready");
                        }
                    } else if reachable.get() == 0 {
                        tracing::info!("the brokers answer again");
                    }
                    reachable.set(i64::from(answered.is_ok()));
                    let next = asked + PROBE_INTERVAL;
                    while Instant::now() < next && !flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
            .expect("a thread for the broker probe");
        Ok(BrokerProbe {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BrokerProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
