//! Shared inputs for parley's criterion benchmarks (the benchmarks are in `benches/`).
//! [`measure`] has the helpers of the benchmarks that print their own tables;
//! [`lifecycle`] the lifecycle bench's recorded workload and its replay loops.
//!
//! The ingress inputs are the ingress crate's own golden fixtures: one realistic
//! single-message text body per channel, in the channel's documented shape.

pub mod lifecycle;
pub mod measure;

use parley_core::{Channel, Timestamp};
use parley_ingress::{IngressConfig, Normaliser};
use std::path::PathBuf;

/// The record timestamp the benchmarks use: 2024-11-21T00:00:00Z, after every fixture.
pub const RECEIVED: Timestamp = Timestamp(1_732_147_200_000);

/// One webhook body of a channel, with the `parley-account` header its record carries.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The channel of the raw topic.
    pub channel: Channel,
    /// The fixture's name, e.g. `text`.
    pub name: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// The header, for channels whose bodies carry no integration id.
    pub header: Option<&'static str>,
}

/// A normaliser whose integration map knows the fixtures' integration ids.
pub fn normaliser() -> Normaliser {
    let config: IngressConfig = serde_json::from_str(parley_testkit::fixtures::INTEGRATIONS)
        .expect("the benchmark config parses");
    Normaliser::new(config)
}

/// The fixture `name` (`text`, `batch`, ...) of every channel that has one.
pub fn samples(name: &'static str) -> Vec<Sample> {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../processors/ingress/tests/fixtures");
    Channel::ALL
        .into_iter()
        .filter_map(|channel| {
            let dir = root.join(channel.as_str());
            let body = ["json", "xml"]
                .iter()
                .find_map(|ext| std::fs::read(dir.join(format!("{name}.{ext}"))).ok())?;
            let header = parley_testkit::fixtures::account_header(channel);
            Some(Sample {
                channel,
                name,
                body,
                header,
            })
        })
        .collect()
}
