//! Apache Kafka 4.4.0 in KRaft mode, started from the jars Maven fetches.
//!
//! The first start in a checkout fetches the broker with Maven (`deploy/kafka/pom.xml`) into
//! `target/kafka-4.4.0/libs` (or `$PARLEY_KAFKA_HOME/libs`); later starts reuse it. Each
//! [`Kafka`] lives in a temp dir of its own: every node formats its storage with
//! `kafka.tools.StorageTool` and runs `kafka.Kafka` as broker and controller at once
//! (combined mode) on free loopback ports. Dropping it stops every node and removes the dir,
//! unless the thread is panicking: then the dir, with each node's `server.log`, is kept and
//! its path printed.
//!
//! Two shapes: [`Kafka::single`], one node (tests and benches), and [`Kafka::cluster`], three
//! nodes with replication factor 3, `min.insync.replicas=2` and the transaction state log
//! replicated three ways (fault tests), whose nodes can be killed, stopped and restarted.
//!
//! A test that cannot get a broker (no Java, no Maven, no network for the first fetch) is
//! skipped with the reason printed, except under `CI=true`, where it fails with that reason.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Apache Kafka version the launcher fetches.
pub const VERSION: &str = "4.4.0";

/// How long a node may take to start before the launcher gives up.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running Apache Kafka: one node or a cluster of three. See the module doc.
#[derive(Debug)]
pub struct Kafka {
    root: PathBuf,
    libs: PathBuf,
    nodes: Vec<Node>,
}

#[derive(Debug)]
struct Node {
    id: u32,
    port: u16,
    dir: PathBuf,
    heap: &'static str,
    child: Option<Child>,
}

impl Kafka {
    /// One node with replication factor 1, or `None` (printed) when Kafka cannot be had
    /// outside CI. Panics under `CI=true` instead of returning `None`.
    pub fn single(test: &str) -> Option<Kafka> {
        Self::start_or_skip(test, 1)
    }

    /// Three nodes, every one a broker and a controller, with replication factor 3 and
    /// `min.insync.replicas=2` for topics, offsets and the transaction state log; `None` as
    /// for [`Kafka::single`].
    pub fn cluster(test: &str) -> Option<Kafka> {
        Self::start_or_skip(test, 3)
    }

    /// One node, or the reason it cannot start, whatever `CI` says: for benchmarks.
    pub fn try_single(name: &str) -> Result<Kafka, String> {
        Self::start(name, 1)
    }

    fn start_or_skip(test: &str, nodes: usize) -> Option<Kafka> {
        match Self::start(test, nodes) {
            Ok(kafka) => Some(kafka),
            Err(reason) if in_ci() => {
                panic!("{test}: needs Apache Kafka {VERSION}, which could not start: {reason}")
            }
            Err(reason) => {
                eprintln!("SKIPPED {test}: Apache Kafka {VERSION} could not start: {reason}");
                None
            }
        }
    }

    fn start(name: &str, count: usize) -> Result<Kafka, String> {
        let began = Instant::now();
        let libs = fetch()?;
        let fetched = began.elapsed();
        let root = crate::temp_dir(&format!("kafka-{name}"));
        let heap = if count == 1 { "768m" } else { "512m" };
        let ports: Vec<(u16, u16)> = (0..count).map(|_| (free_port(), free_port())).collect();
        let voters = ports
            .iter()
            .enumerate()
            .map(|(i, (_, controller))| format!("{}@127.0.0.1:{controller}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let mut kafka = Kafka {
            root: root.clone(),
            libs,
            nodes: Vec::new(),
        };
        for (i, (port, controller)) in ports.iter().enumerate() {
            let dir = root.join(format!("node-{}", i + 1));
            std::fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
            let properties =
                server_properties(i as u32 + 1, &dir, (*port, *controller), &voters, count);
            std::fs::write(dir.join("server.properties"), properties).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("log4j2.properties"), LOG4J2).map_err(|e| e.to_string())?;
            kafka.nodes.push(Node {
                id: i as u32 + 1,
                port: *port,
                dir,
                heap,
                child: None,
            });
        }
        kafka.format()?;
        let formatted = began.elapsed();
        for node in 0..count {
            kafka.launch(node)?;
        }
        kafka.wait_for_brokers(count)?;
        eprintln!(
            "kafka {VERSION}: {count} node(s) on {} ready in {:.1} s \
             (fetch check {:.1} s, format {:.1} s, start {:.1} s); logs in {}",
            kafka.bootstrap_servers(),
            began.elapsed().as_secs_f64(),
            fetched.as_secs_f64(),
            (formatted - fetched).as_secs_f64(),
            (began.elapsed() - formatted).as_secs_f64(),
            kafka.root.display(),
        );
        Ok(kafka)
    }

    /// Every node's listener, comma-separated: the `bootstrap.servers` of a client.
    pub fn bootstrap_servers(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there is no node (never, for a started Kafka).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Formats every node's storage with one cluster id, all nodes at once.
    fn format(&self) -> Result<(), String> {
        let cluster_id = cluster_id();
        let children: Vec<(PathBuf, Child)> = self
            .nodes
            .iter()
            .map(|node| {
                let out = node.dir.join("logs/format.log");
                let child = self
                    .java(node, "kafka.tools.StorageTool")
                    .args(["format", "-t", &cluster_id, "-c"])
                    .arg(node.dir.join("server.properties"))
                    .stdout(File::create(&out).map_err(|e| e.to_string())?)
                    .stderr(Stdio::from(
                        File::options()
                            .append(true)
                            .open(&out)
                            .map_err(|e| e.to_string())?,
                    ))
                    .spawn()
                    .map_err(|e| format!("java: {e} (Apache Kafka needs Java 17 or later)"))?;
                Ok((out, child))
            })
            .collect::<Result<_, String>>()?;
        for (out, mut child) in children {
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                let log = std::fs::read_to_string(&out).unwrap_or_default();
                return Err(format!("storage format failed ({status}): {log}"));
            }
        }
        Ok(())
    }

    fn java(&self, node: &Node, main: &str) -> Command {
        let mut command = Command::new("java");
        command
            .arg(format!("-Xmx{}", node.heap))
            .args(["-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"])
            .args(["-Djava.awt.headless=true", "-Dlog4j2.disableJmx=true"])
            .arg(format!(
                "-Dkafka.logs.dir={}",
                node.dir.join("logs").display()
            ))
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                node.dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(format!("{}/*", self.libs.display()))
            .arg(main);
        // The node dies with the thread that started it, even when the test process is
        // killed: no broker outlives its test.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        command
    }

    fn launch(&mut self, index: usize) -> Result<(), String> {
        let node = &self.nodes[index];
        let out = File::options()
            .create(true)
            .append(true)
            .open(node.dir.join("logs/stdout.log"))
            .map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .java(node, "kafka.Kafka")
            .arg(node.dir.join("server.properties"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("java: {e} (Apache Kafka needs Java 17 or later)"))?;
        self.nodes[index].child = Some(child);
        Ok(())
    }

    /// Waits until `count` brokers are registered and unfenced, as metadata shows them.
    fn wait_for_brokers(&mut self, count: usize) -> Result<(), String> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("log_level", "0")
            .create()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_millis(500)) {
                if metadata.brokers().len() >= count {
                    return Ok(());
                }
            }
            for node in &mut self.nodes {
                if let Some(child) = &mut node.child {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!(
                            "node {} exited ({status}); see {}",
                            node.id,
                            node.dir.join("logs/server.log").display()
                        ));
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{count} broker(s) not ready within {} s; logs in {}",
                    START_TIMEOUT.as_secs(),
                    self.root.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills node `index` (0-based) with SIGKILL, as a crash would.
    pub fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops node `index` with SIGTERM (a controlled shutdown) and waits for it to exit.
    pub fn stop(&mut self, index: usize) {
        if let Some(mut child) = self.nodes[index].child.take() {
            signal(&child, libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `index` again on its ports and storage, and waits until every running
    /// node is a registered broker. Call it on the thread that started the Kafka: a node
    /// dies with the thread that launched it.
    pub fn restart(&mut self, index: usize) {
        assert!(
            self.nodes[index].child.is_none(),
            "node {} is running",
            index + 1
        );
        self.launch(index).expect("the node starts again");
        let running = self.nodes.iter().filter(|n| n.child.is_some()).count();
        self.wait_for_brokers(running)
            .expect("the restarted node is back");
    }

    /// Stops every running node at once with SIGTERM and waits for them to exit, killing
    /// those still running 60 s later: the whole cluster down.
    pub fn stop_all(&mut self) {
        let children: Vec<Child> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.child.take())
            .collect();
        for child in &children {
            signal(child, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        for mut child in children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts every stopped node again, all at once (a controller quorum needs two), and
    /// waits until every node is a registered broker. Call it on the thread that started the
    /// Kafka, as [`Kafka::restart`].
    pub fn restart_all(&mut self) {
        for index in 0..self.nodes.len() {
            if self.nodes[index].child.is_none() {
                self.launch(index).expect("the node starts again");
            }
        }
        self.wait_for_brokers(self.nodes.len())
            .expect("every node is back");
    }

    /// Waits until every partition of every topic, internal ones included, has a leader and
    /// every replica in sync, as metadata shows them; panics with the partitions still behind
    /// after `timeout`. Before stopping the next node of a rolling restart.
    pub fn wait_in_sync(&self, timeout: Duration) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .set("log_level", "0")
            .create()
            .unwrap();
        let deadline = Instant::now() + timeout;
        let mut behind = vec!["no metadata yet".to_owned()];
        while Instant::now() < deadline {
            if let Ok(metadata) = consumer.fetch_metadata(None, Duration::from_secs(5)) {
                behind = metadata
                    .topics()
                    .iter()
                    .flat_map(|topic| {
                        topic
                            .partitions()
                            .iter()
                            .filter(|p| p.leader() < 0 || p.isr().len() < p.replicas().len())
                            .map(|p| {
                                format!(
                                    "{}/{} (leader {}, in sync {:?} of {:?})",
                                    topic.name(),
                                    p.id(),
                                    p.leader(),
                                    p.isr(),
                                    p.replicas()
                                )
                            })
                    })
                    .collect();
                if behind.is_empty() {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "partitions not in sync within {} s: {behind:?}",
            timeout.as_secs()
        );
    }

    /// The 0-based index of the node leading `topic`'s `partition`.
    pub fn leader_of(&self, topic: &str, partition: i32) -> usize {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()
            .unwrap();
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let leader = metadata.topics()[0]
            .partitions()
            .iter()
            .find(|p| p.id() == partition)
            .expect("the partition exists")
            .leader();
        self.nodes
            .iter()
            .position(|n| n.id as i32 == leader)
            .expect("a leader among the nodes")
    }

    /// Creates `topics` with `partitions` partitions and one replica per node (at most 3);
    /// the `compacted` ones with `cleanup.policy=compact`.
    pub fn create_topics(&self, topics: &[&str], compacted: &[&str], partitions: i32) {
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                let topic = self.new_topic(t, partitions);
                if compacted.contains(t) {
                    topic.set("cleanup.policy", "compact")
                } else {
                    topic
                }
            })
            .collect();
        self.create(&new);
    }

    /// Creates `topic` with `partitions` partitions, one replica per node (at most 3), and
    /// the topic `configs` (e.g. `("max.message.bytes", "64")`).
    pub fn create_topic_with(&self, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
        let mut new = self.new_topic(topic, partitions);
        for (key, value) in configs {
            new = new.set(key, value);
        }
        self.create(&[new]);
    }

    /// A topic of `partitions` partitions with one replica per node, at most 3.
    fn new_topic<'a>(&self, topic: &'a str, partitions: i32) -> NewTopic<'a> {
        let replicas = self.nodes.len().min(3) as i32;
        NewTopic::new(topic, partitions, TopicReplication::Fixed(replicas))
    }

    /// Creates `topics`, panicking with the broker's reason if one is refused.
    fn create(&self, topics: &[NewTopic<'_>]) {
        let results = self
            .admin_runtime()
            .block_on(self.admin().create_topics(topics, &AdminOptions::new()))
            .unwrap();
        for result in results {
            if let Err((topic, code)) = result {
                panic!("create topic {topic}: {code}");
            }
        }
    }

    /// Sets the topic configs of `topic` to `configs` (AlterConfigs: a config not named
    /// goes back to the broker's default).
    pub fn alter_topic(&self, topic: &str, configs: &[(&str, &str)]) {
        let mut alter =
            rdkafka::admin::AlterConfig::new(rdkafka::admin::ResourceSpecifier::Topic(topic));
        for (key, value) in configs {
            alter = alter.set(key, value);
        }
        let results = self
            .admin_runtime()
            .block_on(self.admin().alter_configs(&[alter], &AdminOptions::new()))
            .unwrap();
        for result in results {
            if let Err((resource, code)) = result {
                panic!("alter {resource:?}: {code}");
            }
        }
    }

    fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap_servers())
            .create()
            .unwrap()
    }

    fn admin_runtime(&self) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Node `index`'s `server.log`, for a test that explains a failure.
    pub fn log_of(&self, index: usize) -> PathBuf {
        self.nodes[index].dir.join("logs/server.log")
    }
}

impl Drop for Kafka {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!("kafka: logs kept in {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Whether this is a CI run, where a broker test may not skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn signal(child: &Child, signal: i32) {
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    free_ports(1)
}

/// The first of `count` consecutive free loopback ports (`parley run` serves its roles on a
/// port each from the one it is given).
///
/// They are taken below Linux's ephemeral range (32768–60999): a port the kernel hands out
/// for `bind(0)` is also handed to outgoing connections, and a client's connection could take
/// it between this check and the server's bind. Each process starts at its own place in the
/// range and walks on, so tests in parallel processes do not pick the same ports.
pub fn free_ports(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7_919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let offset = NEXT.fetch_add(u32::from(count), Ordering::Relaxed) % SPAN;
        let base = (LOW + offset) as u16;
        let all_free = (0..count)
            .map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)))
            .collect::<Result<Vec<_>, _>>()
            .is_ok();
        if all_free && base + count <= (LOW + SPAN) as u16 {
            return base;
        }
    }
    panic!(
        "no {count} consecutive free loopback ports in {LOW}..{}",
        LOW + SPAN
    )
}

/// The workspace's root: this crate is `processors/testkit`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the broker's jars go: `$PARLEY_KAFKA_HOME`, else `target/kafka-4.4.0`.
pub fn kafka_home() -> PathBuf {
    match std::env::var_os("PARLEY_KAFKA_HOME") {
        Some(home) => PathBuf::from(home),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"));
            target.join(format!("kafka-{VERSION}"))
        }
    }
}

/// The broker's jars, fetched with Maven on first use; one fetch at a time across processes.
pub fn fetch() -> Result<PathBuf, String> {
    let home = kafka_home();
    let libs = home.join("libs");
    let done = home.join("libs.complete");
    if done.exists() {
        return Ok(libs);
    }
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let lock = File::create(home.join("fetch.lock")).map_err(|e| e.to_string())?;
    use std::os::fd::AsRawFd;
    unsafe {
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX);
    }
    if done.exists() {
        return Ok(libs);
    }
    let pom = workspace_root().join("deploy/kafka/pom.xml");
    let partial = home.join("libs.partial");
    let _ = std::fs::remove_dir_all(&partial);
    let began = Instant::now();
    let output = Command::new("mvn")
        .args(["-B", "-q", "-f"])
        .arg(&pom)
        .arg("dependency:copy-dependencies")
        .arg(format!("-DoutputDirectory={}", partial.display()))
        .output()
        .map_err(|e| format!("mvn: {e} (Maven fetches the broker from Maven Central)"))?;
    if !output.status.success() {
        return Err(format!(
            "mvn dependency:copy-dependencies -f {} failed: {}{}",
            pom.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let _ = std::fs::remove_dir_all(&libs);
    std::fs::rename(&partial, &libs).map_err(|e| e.to_string())?;
    File::create(&done).map_err(|e| e.to_string())?;
    eprintln!(
        "kafka {VERSION}: fetched with Maven into {} in {:.1} s",
        libs.display(),
        began.elapsed().as_secs_f64()
    );
    Ok(libs)
}

/// A random cluster id: 16 bytes, URL-safe base64 without padding, as Kafka's own, and like
/// Kafka's never starting with `-`, which the storage tool would take for an option.
fn cluster_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        ^ (u64::from(std::process::id()) << 32);
    (0..22)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // The first one a letter or digit.
            let choices = if i == 0 { 62 } else { 64 };
            ALPHABET[(seed % choices) as usize] as char
        })
        .collect()
}

/// A node's `server.properties`: broker and controller in one process, on loopback.
fn server_properties(id: u32, dir: &Path, ports: (u16, u16), voters: &str, nodes: usize) -> String {
    let (port, controller) = ports;
    let data = dir.join("data");
    let data = data.display();
    let replicas = nodes.min(3);
    let min_isr = if replicas >= 3 { 2 } else { 1 };
    format!(
        "process.roles=broker,controller
node.id={id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
"
    )
}

/// Logs to `logs/server.log` in the node's dir, INFO and up: the file local-kafka.sh uses.
const LOG4J2: &str = include_str!("../../../deploy/kafka/log4j2.properties");
