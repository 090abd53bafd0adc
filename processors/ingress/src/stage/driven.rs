//! [`NormaliserStage`]: the normaliser as a stage of the runtime's synchronous driver.

use super::config::IngressStageConfig;
use super::worker::{dead_letter_headers, parse_account_header, ACCOUNT_HEADER};
use crate::encode::encode_single_object;
use crate::normaliser::{event_key, Normaliser, RawRecord};
use parley_core::{Channel, Timestamp};
use parley_runtime::driver::{Message, Record, Stage};
use parley_runtime::RuntimeError;
use std::collections::HashMap;

/// The normaliser on a [`Driver`](parley_runtime::driver::Driver): for each raw record, what
/// the Kafka stage produces for it, on the same topics. Each event goes to the events topic
/// (key `account/conversation`, Avro single-object encoding, the raw record's timestamp);
/// a record that cannot be read goes to the DLQ with its key, bytes and timestamp and the
/// stage's DLQ headers. Without a producer, no record is refused for its size.
#[derive(Debug)]
pub struct NormaliserStage {
    normaliser: Normaliser,
    /// Each raw topic with its channel.
    channels: HashMap<String, Channel>,
    output_topic: String,
    dlq_topic: String,
}

impl NormaliserStage {
    /// A stage over `config`'s raw topics, normalising with `config.ingress`, writing where
    /// `config` says (its Kafka settings and registry are not used).
    pub fn new(config: &IngressStageConfig) -> NormaliserStage {
        NormaliserStage {
            normaliser: Normaliser::new(config.ingress.clone()),
            channels: (config.channels.iter())
                .map(|channel| (config.raw_topic(*channel), *channel))
                .collect(),
            output_topic: config.output_topic(),
            dlq_topic: config.dlq_topic(),
        }
    }

    /// The raw topics the stage reads, in name order.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.channels.keys().cloned().collect();
        topics.sort();
        topics
    }
}

impl Stage for NormaliserStage {
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
        let Some(channel) = self.channels.get(&message.topic) else {
            return Ok(());
        };
        let header = (message.headers.iter())
            .find(|(name, _)| name == ACCOUNT_HEADER)
            .map(|(_, value)| value.as_slice());
        let outcome = parse_account_header(header).and_then(|account_header| {
            self.normaliser.normalise(&RawRecord {
                channel: *channel,
                payload: &message.value,
                account_header,
                timestamp: message.timestamp,
            })
        });
        match outcome {
            Ok(outcome) => {
                for event in &outcome.events {
                    let mut value = Vec::new();
                    encode_single_object(event, &mut value);
                    out.push(Message {
                        topic: self.output_topic.clone(),
                        key: Some(event_key(event).into_bytes()),
                        value,
                        headers: Vec::new(),
                        timestamp: message.timestamp,
                    });
                }
            }
            Err(error) => {
                let headers = dead_letter_headers(
                    error.code(),
                    &error.to_string(),
                    &message.topic,
                    record.partition,
                    record.offset,
                );
                out.push(Message {
                    topic: self.dlq_topic.clone(),
                    key: message.key.clone(),
                    value: message.value.clone(),
                    headers: (headers.into_iter())
                        .map(|(name, value)| (name.to_owned(), value))
                        .collect(),
                    timestamp: message.timestamp,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_runtime::codec::AvroCodec;
    use parley_runtime::dlq::headers;

    fn raw(topic: &str, body: &str, account: Option<&str>) -> Record {
        Record {
            partition: 0,
            offset: 4,
            message: Message {
                topic: topic.into(),
                key: None,
                value: body.as_bytes().to_vec(),
                headers: account
                    .map(|a| vec![(ACCOUNT_HEADER.to_owned(), a.as_bytes().to_vec())])
                    .unwrap_or_default(),
                timestamp: Timestamp(1_767_603_600_000),
            },
        }
    }

    fn stage() -> NormaliserStage {
        let mut config = IngressStageConfig::new("");
        config.topic_prefix = String::new();
        NormaliserStage::new(&config)
    }

    #[test]
    fn reads_every_raw_topic_and_nothing_else() {
        let topics = stage().topics();
        assert!(topics.contains(&"raw.whatsapp".to_owned()), "{topics:?}");
        assert!(topics.iter().all(|t| t.starts_with("raw.")), "{topics:?}");
        let mut out = Vec::new();
        (stage().handle(
            &raw("conversation-events", "{}", None),
            Timestamp(0),
            &mut out,
        ))
        .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn a_message_becomes_an_event_and_a_bad_body_a_dead_letter() {
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"p1"},"contacts":[{"wa_id":"491701234567"}],"messages":[{"from":"491701234567","id":"wamid.1","timestamp":"1767603600","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let mut out = Vec::new();
        let mut stage = stage();
        let record = raw("raw.whatsapp", body, Some("acme"));
        stage.handle(&record, Timestamp(0), &mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].topic, "conversation-events");
        assert_eq!(out[0].timestamp, record.message.timestamp);
        let event = AvroCodec::<parley_core::ConversationEvent>::single_object()
            .decode(&out[0].value)
            .unwrap();
        assert_eq!(out[0].key.as_deref(), Some(event_key(&event).as_bytes()));
        assert_eq!(event.account, "acme");

        out.clear();
        let bad = raw("raw.whatsapp", "not json", Some("acme"));
        stage.handle(&bad, Timestamp(0), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].topic, "dlq");
        assert_eq!(out[0].value, b"not json");
        let header = |name: &str| {
            let (_, value) = out[0].headers.iter().find(|(n, _)| n == name).unwrap();
            String::from_utf8_lossy(value).into_owned()
        };
        assert_eq!(header(headers::STAGE), "ingress");
        assert_eq!(header(headers::TOPIC), "raw.whatsapp");
        assert_eq!(header(headers::OFFSET), "4");
    }
}
