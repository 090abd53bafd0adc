//! [`StatelessStage`]: a [`StatelessProcessor`] as a stage of the driver.

use crate::driver::topology::{Message, Record, Stage};
use crate::error::RuntimeError;
use crate::processor::Output;
use crate::stateless::{Headers, StatelessProcessor};
use parley_core::Timestamp;

/// A [`StatelessProcessor`] on a [`Driver`](crate::driver::Driver): each record's outputs
/// appended as [`StatelessHost`](crate::stateless::StatelessHost) produces them, stamped
/// with the record's timestamp, an empty key as none.
#[derive(Debug)]
pub struct StatelessStage<P> {
    processor: P,
    outputs: Vec<Output>,
}

impl<P: StatelessProcessor> StatelessStage<P> {
    /// The stage of `processor`.
    pub fn new(processor: P) -> StatelessStage<P> {
        StatelessStage {
            processor,
            outputs: Vec::new(),
        }
    }
}

impl<P: StatelessProcessor> Stage for StatelessStage<P> {
    fn open(&mut self, _partitions: i32, _clock: Timestamp) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn handle(
        &mut self,
        record: &Record,
        _clock: Timestamp,
        out: &mut Vec<Message>,
    ) -> Result<(), RuntimeError> {
        let message = &record.message;
        let input = record.input();
        (self.processor).process(&input, Headers::Owned(&message.headers), &mut self.outputs);
        out.extend(self.outputs.drain(..).map(|output| Message {
            topic: output.topic,
            key: Some(output.key).filter(|key| !key.is_empty()),
            value: output.value,
            headers: output.headers,
            timestamp: message.timestamp,
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlq::{dead_letter, headers};
    use crate::driver::Driver;
    use crate::processor::InputRecord;

    /// Shouts each value (to `shouted`, key kept) when its `lang` header is `en`;
    /// dead-letters an empty value.
    struct Shout;

    impl StatelessProcessor for Shout {
        fn process(
            &mut self,
            record: &InputRecord<'_>,
            headers: Headers<'_>,
            out: &mut Vec<Output>,
        ) {
            if record.value.is_empty() {
                out.push(dead_letter(
                    "dlq",
                    record,
                    "shout",
                    "empty",
                    "nothing to shout",
                ));
            } else if headers.get("lang") == Some(b"en") {
                out.push(Output {
                    topic: "shouted".into(),
                    key: record.key.to_vec(),
                    value: record.value.to_ascii_uppercase(),
                    headers: Vec::new(),
                });
            }
        }
    }

    fn message(key: Option<&str>, value: &str, lang: &str, at: i64) -> Message {
        Message {
            topic: "said".into(),
            key: key.map(|k| k.as_bytes().to_vec()),
            value: value.as_bytes().to_vec(),
            headers: vec![("lang".into(), lang.as_bytes().to_vec())],
            timestamp: Timestamp(at),
        }
    }

    #[test]
    fn outputs_are_stamped_with_their_input_and_an_empty_key_is_none() {
        let mut driver = Driver::new(4, Timestamp(0));
        driver
            .add_stage(&["said".to_owned()], Box::new(StatelessStage::new(Shout)))
            .unwrap();
        driver.pipe(message(Some("k1"), "hi", "en", 5));
        driver.pipe(message(Some("k2"), "hallo", "de", 6));
        driver.pipe(message(None, "", "en", 7));
        let records = driver.step(Timestamp(10)).unwrap();
        let produced: Vec<&Message> = (records.iter())
            .map(|r| &r.message)
            .filter(|m| m.topic != "said")
            .collect();
        assert_eq!(produced.len(), 2, "{produced:?}");
        assert_eq!(produced[0].topic, "shouted");
        assert_eq!(produced[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(produced[0].value, b"HI");
        assert_eq!(produced[0].timestamp, Timestamp(5));
        assert_eq!(produced[1].topic, "dlq");
        assert_eq!(produced[1].key, None, "the input had no key");
        assert_eq!(produced[1].timestamp, Timestamp(7));
        let reason = (produced[1].headers.iter()).find(|(name, _)| name == headers::REASON);
        assert_eq!(reason.map(|(_, v)| v.as_slice()), Some(&b"empty"[..]));
    }
}
