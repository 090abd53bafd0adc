//! Runs the counter processor on the runtime: the child process of the crash tests.
//!
//! Usage: `parley-runtime-counter CONFIG.json OUTPUT_TOPIC EXPIRED_TOPIC`. With
//! `PARLEY_EXPIRE_AFTER_MS=N` every input (re)sets its key's expiry timer N ms out. With
//! `PARLEY_PAUSE_AT=after-produce:N` (or `before-seal:N`, `before-commit:N`, `after-apply:N`) the process freezes at that point
//! of its N-th batch commit and prints `PAUSED` to stderr, for the test to kill it.

use parley_runtime::host::PausePoint;
use parley_runtime::{Host, Metrics, RuntimeConfig, SystemClock};
use parley_testkit::counter::Counter;
use std::sync::Arc;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    let [_, config, output, expired] = args.as_slice() else {
        eprintln!("usage: parley-runtime-counter CONFIG.json OUTPUT_TOPIC EXPIRED_TOPIC");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(config).expect("config file is readable");
    let config = RuntimeConfig::from_json(&text).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let (output, expired) = (output.clone(), expired.clone());
    let expire_after = std::env::var("PARLEY_EXPIRE_AFTER_MS")
        .ok()
        .map(|ms| parley_core::Millis(ms.parse().expect("PARLEY_EXPIRE_AFTER_MS is a number")));
    let mut host = Host::new(
        config,
        move |_| Counter::new(&output, &expired, expire_after),
        Arc::new(SystemClock),
        Arc::new(Metrics::new()),
    )
    .expect("config is valid");
    if let Ok(pause) = std::env::var("PARLEY_PAUSE_AT") {
        let (point, nth) = pause.split_once(':').expect("PARLEY_PAUSE_AT is point:n");
        host = host.pause_at(
            PausePoint::parse(point).expect("a pause point such as after-produce"),
            nth.parse().expect("n"),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    if let Err(error) = runtime.block_on(host.serve()) {
        eprintln!("{error}");
        std::process::exit(1);
    }
}
