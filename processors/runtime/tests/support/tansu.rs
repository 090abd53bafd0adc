//! A real broker for tests: `PARLEY_TEST_BROKERS` if set, else a Tansu child process
//! (in-memory storage) on a free port, killed on drop; `None` (with the reason printed) if
//! neither is available.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A broker the tests can use.
pub struct TestBroker {
    pub brokers: String,
    /// Whether it is a real Kafka (transactions work), given in `PARLEY_TEST_BROKERS`.
    pub is_kafka: bool,
    child: Option<Child>,
}

impl TestBroker {
    /// `PARLEY_TEST_BROKERS`, else Tansu; `None` with a printed reason if neither exists.
    pub fn start(test: &str) -> Option<TestBroker> {
        if let Ok(brokers) = std::env::var("PARLEY_TEST_BROKERS") {
            return Some(TestBroker {
                brokers,
                is_kafka: true,
                child: None,
            });
        }
        Self::tansu(test)
    }

    /// A Tansu broker, or `None` with a printed reason.
    pub fn tansu(test: &str) -> Option<TestBroker> {
        let found = Command::new("tansu")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if found.is_err() {
            eprintln!(
                "SKIPPED {test}: neither PARLEY_TEST_BROKERS nor `tansu` on PATH \
                 (cargo install tansu --version 0.6.0 --features dynostore,libsql --locked)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new("tansu")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = TestBroker {
            brokers: format!("127.0.0.1:{port}"),
            is_kafka: false,
            child: Some(child),
        };
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &broker.brokers)
            .create()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while consumer
            .fetch_metadata(None, Duration::from_millis(500))
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not answer metadata within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(broker)
    }

    /// Adapts a runtime config to the broker: on Tansu, one record per produced batch (Tansu
    /// 0.6.0 returns nothing for a fetch that starts inside a batch, and its high watermark
    /// counts batches rather than records).
    pub fn adapt(&self, config: &mut parley_runtime::RuntimeConfig) {
        if !self.is_kafka {
            config
                .librdkafka
                .insert("batch.num.messages".into(), "1".into());
            config.librdkafka.insert("linger.ms".into(), "0".into());
        }
    }

    /// Creates topics with `partitions` partitions; `compacted` ones with `cleanup.policy=compact`.
    pub fn create_topics(&self, topics: &[&str], compacted: &[&str], partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .unwrap();
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                let topic = NewTopic::new(t, partitions, TopicReplication::Fixed(1));
                if compacted.contains(t) {
                    topic
                        .set("cleanup.policy", "compact")
                        .set("min.compaction.lag.ms", "86400000")
                } else {
                    topic
                }
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let results = runtime
            .block_on(admin.create_topics(&new, &AdminOptions::new()))
            .unwrap();
        for result in results {
            if let Err((topic, code)) = result {
                panic!("create topic {topic}: {code}");
            }
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
