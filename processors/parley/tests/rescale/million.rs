//! The benchmark: a million keys taken from 6 to 12 partitions.

use super::*;

/// The benchmark: a tickets changelog of one million conversations (100-byte values, one
/// close timer per ten) on 6 partitions, taken to 12 by `parley rescale`. Run it with
/// `cargo test --release -p parley --test rescale -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: a million keys, about a minute"]
fn rescale_a_million_keys() {
    use parley_runtime::state::changelog::{encode_offsets, seal_key};
    use rdkafka::producer::{BaseRecord, Producer};
    let keys: usize = std::env::var("PARLEY_BENCH_KEYS").map_or(1_000_000, |v| v.parse().unwrap());
    let Some(broker) = Kafka::single("rescale_bench") else {
        return;
    };
    let brokers = broker.bootstrap_servers();
    let brokers = brokers.as_str();
    assert!(
        parley(brokers, &["topics", "create", "--partitions", "6"], &[])
            .status
            .success()
    );
    let producer: rdkafka::producer::BaseProducer = client(brokers)
        .set("linger.ms", "50")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let topic = "parley.tickets-changelog";
    let value = vec![b'v'; 100];
    let started = std::time::Instant::now();
    let send = |partition: i32, key: &[u8], value: &[u8]| {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic)
            .partition(partition)
            .key(key)
            .payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    };
    for n in 0..keys {
        let key = format!("acme/c{n}");
        let partition = partition_of(key.as_bytes(), 6);
        let op = ChangelogOp::State {
            key: key.clone().into_bytes(),
            value: Some(value.clone()),
        };
        let (k, v) = op.encode();
        send(partition, &k, v.as_deref().unwrap());
        if n % 10 == 0 {
            let timer = ChangelogOp::Timer {
                timer_key: parley_runtime::timers::timer_key(key.as_bytes(), b"close/t/1"),
                due: Some(Timestamp(1_700_000_000_000)),
            };
            let (k, v) = timer.encode();
            send(partition, &k, v.as_deref().unwrap());
        }
    }
    for partition in 0..6 {
        send(partition, &seal_key(), &encode_offsets(&Default::default()));
    }
    producer.flush(Duration::from_secs(300)).unwrap();
    eprintln!(
        "{keys} keys written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = std::time::Instant::now();
    let output = parley(brokers, &["rescale", "--partitions", "12"], &[]);
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{stdout}rescale of {keys} keys (6 -> 12 partitions): {seconds:.1} s");
    assert!(
        seconds < 60.0,
        "a million keys in under a minute: {seconds:.1} s"
    );
}
