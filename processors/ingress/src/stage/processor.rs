//! [`NormaliserStage`]: the normaliser as a [`StatelessProcessor`], on Kafka (hosted by
//! the runtime's [`StatelessHost`](parley_runtime::stateless::StatelessHost)) and on the
//! synchronous driver alike.

use super::config::IngressStageConfig;
use super::metrics::{IngressMetrics, STAGE};
use crate::error::IngressError;
use crate::normaliser::{event_key, Normaliser, RawRecord};
use crate::outcome::SkipKind;
use parley_core::{Channel, ConversationEvent, Timestamp};
use parley_runtime::codec::{AvroCodec, WireFormat};
use parley_runtime::dlq::dead_letter;
use parley_runtime::stateless::{Headers, StatelessProcessor};
use parley_runtime::{InputRecord, Output};
use prometheus::IntCounter;

/// The header that names a raw record's account: `account` or `account/brand`.
pub const ACCOUNT_HEADER: &str = "parley-account";

/// One raw topic: its channel and its skip counters.
#[derive(Debug)]
struct Source {
    topic: String,
    channel: Channel,
    /// `parley_ingress_skipped_total` of the channel, indexed like [`SkipKind::ALL`].
    skipped: Vec<IntCounter>,
}

/// The normaliser as a stateless processor: for each raw record, its events on the events
/// topic (key `account/conversation`, Avro in the codec's framing: single-object, or the
/// Confluent wire format with the registry's id), or, when it cannot be read, one DLQ record
/// with the raw key and bytes and the DLQ headers, stage `ingress` and the
/// [`IngressError::code`] as the reason. Skipped items (receipts, typing, ...) are counted
/// by channel and kind, never produced.
#[derive(Debug)]
pub struct NormaliserStage {
    normaliser: Normaliser,
    sources: Vec<Source>,
    codec: AvroCodec<ConversationEvent>,
    output_topic: String,
    dlq_topic: String,
    metrics: IngressMetrics,
}

impl NormaliserStage {
    /// A stage over `config`'s raw topics, normalising with `config.ingress`, writing
    /// single-object Avro where `config` says (its Kafka settings and registry are not used).
    pub fn new(config: &IngressStageConfig) -> NormaliserStage {
        NormaliserStage::with_codec(config, AvroCodec::single_object(), IngressMetrics::new())
    }

    /// A stage that encodes events with `codec` and counts into `metrics`.
    pub fn with_codec(
        config: &IngressStageConfig,
        codec: AvroCodec<ConversationEvent>,
        metrics: IngressMetrics,
    ) -> NormaliserStage {
        let sources = (config.channels.iter())
            .map(|&channel| Source {
                topic: config.raw_topic(channel),
                channel,
                skipped: (SkipKind::ALL.iter())
                    .map(|kind| {
                        (metrics.skipped).with_label_values(&[channel.as_str(), kind.label()])
                    })
                    .collect(),
            })
            .collect();
        NormaliserStage {
            normaliser: Normaliser::new(config.ingress.clone()),
            sources,
            codec,
            output_topic: config.output_topic(),
            dlq_topic: config.dlq_topic(),
            metrics,
        }
    }

    /// The raw topics the stage reads, in name order.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.sources.iter().map(|s| s.topic.clone()).collect();
        topics.sort();
        topics
    }

    /// How event values are framed: single-object, or Confluent with the registry's id.
    pub fn framing(&self) -> WireFormat {
        self.codec.format()
    }

    /// The stage's metrics.
    pub fn metrics(&self) -> &IngressMetrics {
        &self.metrics
    }

    fn events(&self, outcome: &[ConversationEvent], out: &mut Vec<Output>) -> Result<(), String> {
        for event in outcome {
            let mut value = Vec::with_capacity(256);
            (self.codec.encode_into(event, &mut value)).map_err(|error| error.to_string())?;
            out.push(Output {
                topic: self.output_topic.clone(),
                key: event_key(event).into_bytes(),
                value,
                headers: Vec::new(),
            });
        }
        Ok(())
    }
}

impl StatelessProcessor for NormaliserStage {
    fn process(&mut self, record: &InputRecord<'_>, headers: Headers<'_>, out: &mut Vec<Output>) {
        let Some(source) = self.sources.iter().find(|s| s.topic == record.topic) else {
            return;
        };
        let outcome = parse_account_header(headers.get(ACCOUNT_HEADER)).and_then(|account| {
            self.normaliser.normalise(&RawRecord {
                channel: source.channel,
                payload: record.value,
                account_header: account,
                timestamp: record.timestamp.unwrap_or(Timestamp(-1)),
            })
        });
        let refusal = match outcome {
            Ok(outcome) => {
                for kind in &outcome.skipped {
                    source.skipped[*kind as usize].inc();
                }
                let start = out.len();
                match self.events(&outcome.events, out) {
                    Ok(()) => return,
                    Err(error) => {
                        out.truncate(start);
                        (
                            UNENCODABLE,
                            format!("an event could not be encoded: {error}"),
                        )
                    }
                }
            }
            Err(error) => (error.code(), error.to_string()),
        };
        let (reason, error) = refusal;
        tracing::debug!(topic = record.topic, partition = record.partition, offset = record.offset, reason, %error, "to the DLQ");
        out.push(dead_letter(&self.dlq_topic, record, STAGE, reason, &error));
    }
}

/// The DLQ reason of a raw record one of whose events the codec could not encode.
pub const UNENCODABLE: &str = "unencodable";

/// A `parley-account` header's value: absent is `None`; not UTF-8 is an
/// `invalid_account_header` error.
pub(crate) fn parse_account_header(value: Option<&[u8]>) -> Result<Option<&str>, IngressError> {
    let Some(value) = value else {
        return Ok(None);
    };
    std::str::from_utf8(value)
        .map(Some)
        .map_err(|_| IngressError::InvalidAccountHeader {
            value: crate::json::shorten(&String::from_utf8_lossy(value)),
            rule: "must be UTF-8",
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_runtime::dlq::headers;
    use parley_runtime::driver::{Message, Record, Stage, StatelessStage};

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

    fn normaliser() -> NormaliserStage {
        let mut config = IngressStageConfig::new("");
        config.topic_prefix = String::new();
        NormaliserStage::new(&config)
    }

    fn stage() -> StatelessStage<NormaliserStage> {
        StatelessStage::new(normaliser())
    }

    #[test]
    fn reads_every_raw_topic_and_nothing_else() {
        let topics = normaliser().topics();
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
        assert_eq!(out[0].key, None, "a raw record without a key keeps none");
        let header = |name: &str| {
            let (_, value) = out[0].headers.iter().find(|(n, _)| n == name).unwrap();
            String::from_utf8_lossy(value).into_owned()
        };
        assert_eq!(header(headers::STAGE), "ingress");
        assert_eq!(header(headers::TOPIC), "raw.whatsapp");
        assert_eq!(header(headers::OFFSET), "4");
    }
}
