//! The `/state/<key>` endpoint of a running host on librdkafka's mock cluster: it serves
//! what the host committed, names the owned partitions for a missing key, and lets go of the
//! database when the host stops (a restart in the same process opens it again).

use parley_runtime::http::{self, StateEndpoint, StatusCode};
use parley_runtime::{Guarantee, Host, Metrics, RuntimeConfig, Shutdown, SystemClock};
use parley_testkit::counter::*;
use parley_testkit::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;
const WAIT: Duration = Duration::from_secs(60);

/// A counter host on its own thread with its state endpoint served on a free port.
struct Served {
    address: String,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
    thread: Option<std::thread::JoinHandle<Result<(), parley_runtime::RuntimeError>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    fn start(runtime: &tokio::runtime::Runtime, config: RuntimeConfig, topics: &Topics) -> Served {
        let (output, expired) = (topics.output.clone(), topics.expired.clone());
        let metrics = Arc::new(Metrics::new());
        let host = Host::new(
            config,
            move |_| Counter::new(&output, &expired, None),
            Arc::new(SystemClock),
            metrics.clone(),
        )
        .unwrap();
        let endpoint = StateEndpoint::new(host.state_view(), Arc::new(http::render_raw));
        let (address, server) = runtime
            .block_on(http::serve_metrics_and_state(
                "127.0.0.1:0".parse().unwrap(),
                metrics.clone(),
                endpoint,
            ))
            .unwrap();
        let shutdown = Shutdown::new();
        let flag = shutdown.clone();
        let thread = std::thread::spawn(move || host.run(flag));
        Served {
            address: address.to_string(),
            metrics,
            shutdown,
            thread: Some(thread),
            server,
        }
    }

    fn get(&self, runtime: &tokio::runtime::Runtime, key: &str) -> (StatusCode, Value) {
        let path = http::state_path(key.as_bytes());
        let (status, body) = runtime
            .block_on(http::get(&self.address, &path, Duration::from_secs(10)))
            .unwrap();
        (status, serde_json::from_str(&body).unwrap())
    }

    /// Polls `key` until it answers `done`, or the wait runs out; returns the last answer.
    fn get_until(
        &self,
        runtime: &tokio::runtime::Runtime,
        key: &str,
        done: impl Fn(StatusCode, &Value) -> bool,
    ) -> (StatusCode, Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, body) = self.get(runtime, key);
            if done(status, &body) || Instant::now() >= deadline {
                return (status, body);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the host (the endpoint stays up) and checks that it stopped cleanly.
    fn stop_host(&mut self) {
        self.shutdown.trigger();
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.server.abort();
    }
}

#[test]
fn the_endpoint_serves_committed_state_and_names_the_owned_partitions() {
    let topics = Topics::new("state-endpoint");
    let cluster = parley_testkit::mock::cluster(&topics.all(), PARTITIONS);
    let brokers = cluster.bootstrap_servers();
    let config = counter_config(
        &brokers,
        "state-endpoint",
        &topics,
        temp_dir("state-endpoint"),
        Guarantee::AtLeastOnce,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let served = Served::start(&runtime, config.clone(), &topics);
    produce_text(
        &brokers,
        &topics.input,
        &[("acme/c 1", "2"), ("b", "5"), ("acme/c 1", "1")],
    );
    let (status, body) = served.get_until(&runtime, "acme/c 1", |status, body| {
        status == StatusCode::OK && body["state"] == json!(3)
    });
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], "acme/c 1");
    assert!((0..PARTITIONS).contains(&(body["partition"].as_i64().unwrap() as i32)));

    let (status, body) = served.get(&runtime, "nobody");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["owned_partitions"], json!([0, 1, 2, 3]));
    assert!(
        body["message"].as_str().unwrap().contains("\"nobody\""),
        "{body}"
    );

    // Once stopped, the host owns nothing and the view no longer holds the database.
    let mut served = served;
    served.stop_host();
    let (status, body) = served.get(&runtime, "acme/c 1");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["owned_partitions"], json!([]), "{body}");
    drop(served);

    // The same state directory opens again in this process: no reader kept it locked.
    let served = Served::start(&runtime, config, &topics);
    let (status, body) = served.get_until(&runtime, "b", |status, _| status == StatusCode::OK);
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::OK, &json!(5)),
        "{body}"
    );
    assert_eq!(
        served.metrics.restore_records.get(),
        0,
        "the store was reopened as it was, not rebuilt from the changelog"
    );
    let mut served = served;
    served.stop_host();
}
