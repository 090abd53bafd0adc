//! Any bytes, on any channel's adapter, with or without an account header: no panic, and
//! every failure has a known DLQ reason.
//!
//! `cargo +nightly fuzz run normalise -- -max_total_time=600` from `processors/ingress`;
//! seed the corpus with the golden fixtures: `mkdir -p fuzz/corpus/normalise && cp
//! tests/fixtures/*/*.json fuzz/corpus/normalise/` (the first byte of an input picks the
//! channel and the header, so prefix a byte to a copied fixture to aim it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_core::{Channel, Timestamp};
use parley_ingress::{IngressConfig, IngressError, Normaliser, RawRecord};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let channel = Channel::ALL[usize::from(selector) % Channel::ALL.len()];
    let header = (selector & 0x80 != 0).then_some("acme/fuzz");
    let normaliser = Normaliser::new(IngressConfig::default());
    let record = RawRecord { channel, payload, account_header: header, timestamp: Timestamp(1_732_147_200_000) };
    match normaliser.normalise(&record) {
        Ok(outcome) => {
            for event in outcome.events {
                assert!(!event.event_id.is_empty() && !event.conversation.is_empty() && !event.account.is_empty());
            }
        }
        Err(error) => assert!(IngressError::CODES.contains(&error.code())),
    }
});
