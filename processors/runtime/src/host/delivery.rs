//! The producer's rdkafka context: delivery reports tracked, failures counted and each
//! seal's offset recorded.

use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::ClientContext;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The producer's context: counts failed deliveries and records where each seal landed.
#[derive(Debug, Default)]
pub(crate) struct DeliveryTracker {
    pub(crate) changelog_topic: String,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    seals: Mutex<HashMap<i32, i64>>,
}

impl DeliveryTracker {
    pub(crate) fn new(changelog_topic: &str) -> DeliveryTracker {
        DeliveryTracker {
            changelog_topic: changelog_topic.to_owned(),
            ..DeliveryTracker::default()
        }
    }

    /// Takes the failure count and first error since the last call, and the seal offsets.
    pub(crate) fn take(&self) -> (u64, Option<String>, HashMap<i32, i64>) {
        let failed = self.failed.swap(0, Ordering::SeqCst);
        let error = self.first_error.lock().expect("not poisoned").take();
        let seals = std::mem::take(&mut *self.seals.lock().expect("not poisoned"));
        (failed, error, seals)
    }
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                if message.topic() == self.changelog_topic && message.key() == Some(&[0u8][..]) {
                    self.seals
                        .lock()
                        .expect("not poisoned")
                        .insert(message.partition(), message.offset());
                }
            }
            Err((error, message)) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                let mut first = self.first_error.lock().expect("not poisoned");
                if first.is_none() {
                    *first = Some(format!(
                        "{} partition {}: {error}",
                        message.topic(),
                        message.partition()
                    ));
                }
            }
        }
    }
}
