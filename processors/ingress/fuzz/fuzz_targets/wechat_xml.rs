//! Any bytes as a WeChat XML body: the only adapter with its own parser loop.
//!
//! `cargo +nightly fuzz run wechat_xml -- -max_total_time=600` from `processors/ingress`;
//! seed with `cp tests/fixtures/wechat/*.xml fuzz/corpus/wechat_xml/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_core::{Channel, Timestamp};
use parley_ingress::{IngressConfig, IngressError, Normaliser, RawRecord};

fuzz_target!(|payload: &[u8]| {
    let normaliser = Normaliser::new(IngressConfig::default());
    let record = RawRecord {
        channel: Channel::Wechat,
        payload,
        account_header: Some("acme"),
        timestamp: Timestamp(1_732_147_200_000),
    };
    if let Err(error) = normaliser.normalise(&record) {
        assert!(IngressError::CODES.contains(&error.code()));
    }
});
