//! Avro codecs for the records of `parley_core::model`, in two wire formats.
//!
//! - [`WireFormat::SingleObject`] (no registry): the Avro spec's single-object encoding,
//!   `C3 01`, the schema's 8-byte CRC-64-AVRO fingerprint (of its Parsing Canonical Form,
//!   [`canonical`]), then the Avro body.
//! - [`WireFormat::Confluent`] (with a registry): `00`, the 4-byte big-endian schema id, then
//!   the Avro body. The framing is written by hand (five bytes) and ids are registered once
//!   through [`RegistryClient`]; `schema_registry_converter` 6 needs `apache-avro` 0.22 while
//!   the workspace is on 0.21, and the hot path only needs the five-byte header anyway.
//!
//! The body is written and read by each record's hand-written [`AvroRecord`] codec
//! ([`binary`] has its primitives), several times faster than apache-avro's serde path,
//! which builds a generic `Value` tree per record. A body whose writer schema is not this
//! codec's own (another registry id, e.g. an older version of the schema) is read with
//! apache-avro, resolved against this schema.

pub mod binary;
pub mod canonical;
mod records;
mod registry;
pub mod schemas;

pub use records::write_conversation_event;
pub use registry::RegistryClient;
pub use schemas::AvroRecord;

use crate::error::CodecError;
use apache_avro::{from_avro_datum, from_value, Schema};
use binary::BodyReader;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// How a value is framed on a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireFormat {
    /// Avro single-object encoding.
    SingleObject,
    /// The Confluent wire format with this schema id (the id of the writer schema).
    Confluent {
        /// The registry's id of the schema this codec writes.
        schema_id: u32,
    },
}

/// Encodes and decodes one record type `T`.
pub struct AvroCodec<T> {
    schema: Schema,
    fingerprint: [u8; 8],
    /// The fingerprint parley 0.1 wrote (apache-avro's, which keeps logical types in the
    /// canonical form): still read, so that records written before an upgrade are not lost.
    legacy_fingerprint: [u8; 8],
    format: WireFormat,
    /// Writer schemas by registry id, learned from the registry.
    writers: Arc<Mutex<HashMap<u32, Writer>>>,
    registry: Option<(RegistryClient, tokio::runtime::Handle)>,
    _record: PhantomData<fn() -> T>,
}

/// A writer schema the registry named.
#[derive(Clone, Debug)]
enum Writer {
    /// This codec's own schema (its parsing canonical form): the body is read by hand.
    Own,
    /// Another schema: the body is read with apache-avro and resolved to this codec's.
    Other(Arc<Schema>),
}

/// A clone shares the registry client and the cache of writer schemas.
impl<T> Clone for AvroCodec<T> {
    fn clone(&self) -> AvroCodec<T> {
        AvroCodec {
            schema: self.schema.clone(),
            fingerprint: self.fingerprint,
            legacy_fingerprint: self.legacy_fingerprint,
            format: self.format,
            writers: self.writers.clone(),
            registry: self.registry.clone(),
            _record: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for AvroCodec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvroCodec")
            .field("schema", &self.schema.name())
            .field("format", &self.format)
            .finish()
    }
}

impl<T: AvroRecord> AvroCodec<T> {
    /// A codec in single-object encoding.
    pub fn single_object() -> AvroCodec<T> {
        let schema =
            Schema::parse_str(T::SCHEMA).expect("schemas/ are valid Avro, tested in parley-core");
        let fingerprint = canonical::single_object_fingerprint(T::SCHEMA)
            .expect("schemas/ are valid Avro, tested in parley-core");
        let mut legacy_fingerprint = [0u8; 8];
        legacy_fingerprint
            .copy_from_slice(&schema.fingerprint::<apache_avro::rabin::Rabin>().bytes[..8]);
        AvroCodec {
            schema,
            fingerprint,
            legacy_fingerprint,
            format: WireFormat::SingleObject,
            writers: Arc::default(),
            registry: None,
            _record: PhantomData,
        }
    }

    /// A codec in the Confluent wire format: registers the schema under `subject`
    /// (`<topic>-value`) and fetches unknown writer schemas from the registry when decoding
    /// outside an async context.
    pub async fn confluent(
        registry: RegistryClient,
        subject: &str,
    ) -> Result<AvroCodec<T>, crate::RuntimeError> {
        let mut codec = AvroCodec::single_object();
        let schema_id = registry.register(subject, T::SCHEMA).await?;
        codec.format = WireFormat::Confluent { schema_id };
        codec
            .writers
            .lock()
            .expect("not poisoned")
            .insert(schema_id, Writer::Own);
        codec.registry = Some((registry, tokio::runtime::Handle::current()));
        Ok(codec)
    }

    /// The format this codec writes.
    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// Encodes `value`: the framing, then the body written by [`AvroRecord::write_body`].
    pub fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(value, &mut out)?;
        Ok(out)
    }

    /// Appends `value`, framed, to `out` (e.g. a buffer reused from record to record). On
    /// an error `out` is left as it was.
    pub fn encode_into(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        match self.format {
            WireFormat::SingleObject => {
                out.extend_from_slice(&[0xC3, 0x01]);
                out.extend_from_slice(&self.fingerprint);
            }
            WireFormat::Confluent { schema_id } => {
                out.push(0);
                out.extend_from_slice(&schema_id.to_be_bytes());
            }
        }
        value.write_body(out).inspect_err(|_| out.truncate(start))
    }

    /// Decodes bytes in either format: single-object (this schema's fingerprint, or the one
    /// parley 0.1 wrote) or Confluent (any writer schema id the registry knows, resolved to
    /// this schema).
    pub fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (writer, body) = match bytes {
            [0xC3, 0x01, rest @ ..] if rest.len() >= 8 => {
                if rest[..8] != self.fingerprint && rest[..8] != self.legacy_fingerprint {
                    return Err(CodecError::UnknownSchema(format!(
                        "fingerprint {:02x?}",
                        &rest[..8]
                    )));
                }
                (Writer::Own, &rest[8..])
            }
            [0x00, a, b, c, d, rest @ ..] => {
                let id = u32::from_be_bytes([*a, *b, *c, *d]);
                match self.format {
                    WireFormat::Confluent { schema_id } if schema_id == id => (Writer::Own, rest),
                    _ => (self.writer_schema(id)?, rest),
                }
            }
            _ => {
                let head: Vec<u8> = bytes.iter().take(5).copied().collect();
                return Err(CodecError::Header(format!(
                    "{head:02x?} is neither single-object nor Confluent framing"
                )));
            }
        };
        match writer {
            Writer::Own => T::read_body(&mut BodyReader::new(body)),
            Writer::Other(writer) => {
                let value = from_avro_datum(&writer, &mut &body[..], Some(&self.schema))
                    .map_err(|e| CodecError::Avro(e.to_string()))?;
                from_value(&value).map_err(|e| CodecError::Avro(e.to_string()))
            }
        }
    }

    fn writer_schema(&self, id: u32) -> Result<Writer, CodecError> {
        if let Some(writer) = self.writers.lock().expect("not poisoned").get(&id) {
            return Ok(writer.clone());
        }
        let unknown = || CodecError::UnknownSchema(format!("registry id {id}"));
        let Some((registry, handle)) = &self.registry else {
            return Err(unknown());
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking inside an async task would stall it; the runtime decodes on its own thread.
            return Err(unknown());
        }
        let text = handle
            .block_on(registry.schema_by_id(id))
            .map_err(|e| CodecError::UnknownSchema(e.to_string()))?;
        let schema = Schema::parse_str(&text).map_err(|e| CodecError::Avro(e.to_string()))?;
        // Equal schemas have the same parsing canonical form: compared once per id.
        let writer = if schema == self.schema {
            Writer::Own
        } else {
            Writer::Other(Arc::new(schema))
        };
        self.writers
            .lock()
            .expect("not poisoned")
            .insert(id, writer.clone());
        Ok(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{AgentMetrics, AgentStatus, Channel, Millis, StatusChange, Timestamp};

    fn sample() -> AgentMetrics {
        AgentMetrics {
            metrics_id: "m-1".into(),
            account: "acme".into(),
            agent_id: "a1".into(),
            channel: Channel::Whatsapp,
            status: AgentStatus::Online,
            capacity: 3,
            load: 1,
            offers_made: 4,
            offers_accepted: 3,
            offers_declined: 1,
            offers_timed_out: 0,
            assignments: 3,
            online_ms: Millis(60_000),
            away_ms: Millis(0),
            transfers_only_ms: Millis(0),
            offline_ms: Millis(5),
            at: Timestamp(1_700_000_000_000),
            inactive: 1,
            status_reason: Some("missed_offers".into()),
        }
    }

    #[test]
    fn single_object_starts_with_marker_and_fingerprint_and_round_trips() {
        let codec = AvroCodec::<AgentMetrics>::single_object();
        let value = sample();
        let bytes = codec.encode(&value).unwrap();
        assert_eq!(&bytes[..2], &[0xC3, 0x01]);
        assert_eq!(&bytes[2..10], &codec.fingerprint);
        assert_eq!(codec.decode(&bytes).unwrap(), value);
    }

    #[test]
    fn another_records_fingerprint_is_refused() {
        let metrics = AvroCodec::<AgentMetrics>::single_object();
        let other = AvroCodec::<StatusChange>::single_object();
        let bytes = metrics.encode(&sample()).unwrap();
        assert!(matches!(
            other.decode(&bytes),
            Err(CodecError::UnknownSchema(_))
        ));
    }

    #[test]
    fn records_framed_with_the_legacy_fingerprint_are_still_read() {
        let codec = AvroCodec::<AgentMetrics>::single_object();
        let mut bytes = codec.encode(&sample()).unwrap();
        assert_ne!(codec.fingerprint, codec.legacy_fingerprint);
        bytes[2..10].copy_from_slice(&codec.legacy_fingerprint);
        assert_eq!(codec.decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn garbage_is_a_header_error() {
        let codec = AvroCodec::<AgentMetrics>::single_object();
        assert!(matches!(
            codec.decode(b"{\"json\": true}"),
            Err(CodecError::Header(_))
        ));
        assert!(matches!(codec.decode(&[]), Err(CodecError::Header(_))));
    }

    #[test]
    fn confluent_framing_with_known_id_decodes() {
        let mut codec = AvroCodec::<AgentMetrics>::single_object();
        codec.format = WireFormat::Confluent { schema_id: 7 };
        codec.writers.lock().unwrap().insert(7, Writer::Own);
        let bytes = codec.encode(&sample()).unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 7]);
        assert_eq!(codec.decode(&bytes).unwrap(), sample());
        let mut unknown = bytes.clone();
        unknown[4] = 8;
        assert!(matches!(
            codec.decode(&unknown),
            Err(CodecError::UnknownSchema(_))
        ));
    }

    #[test]
    fn a_body_written_with_another_schema_version_is_resolved_by_apache_avro() {
        // An older StatusChange without `predecessor_ticket_id`, which the reader defaults
        // to null.
        let mut json: serde_json::Value = serde_json::from_str(StatusChange::SCHEMA).unwrap();
        json["fields"]
            .as_array_mut()
            .unwrap()
            .retain(|field| field["name"] != "predecessor_ticket_id");
        let older = Schema::parse(&json).unwrap();
        let mut codec = AvroCodec::<StatusChange>::single_object();
        codec.format = WireFormat::Confluent { schema_id: 1 };
        codec
            .writers
            .lock()
            .unwrap()
            .insert(3, Writer::Other(Arc::new(older.clone())));
        let change = StatusChange {
            change_id: "t-1/0".into(),
            ticket_id: "t-1".into(),
            account: "acme".into(),
            brand: None,
            conversation: "c-1".into(),
            channel: Channel::Line,
            style: parley_core::Style::LiveChat,
            from: None,
            to: parley_core::Status::New,
            actor_kind: parley_core::ActorKind::EndUser,
            actor_id: None,
            reason: "end_user_message".into(),
            assignee: None,
            predecessor_ticket_id: Some("t-0".into()),
            at: Timestamp(1_700_000_000_000),
        };
        let value = apache_avro::to_value(&change)
            .unwrap()
            .resolve(&older)
            .unwrap();
        let mut framed = vec![0, 0, 0, 0, 3];
        framed.extend(apache_avro::to_avro_datum(&older, value).unwrap());
        let decoded = codec.decode(&framed).unwrap();
        assert_eq!(decoded.predecessor_ticket_id, None, "the reader's default");
        assert_eq!(
            decoded,
            StatusChange {
                predecessor_ticket_id: None,
                ..change
            }
        );
    }

    #[test]
    fn a_refused_value_leaves_the_buffer_as_it_was() {
        let codec = AvroCodec::<AgentMetrics>::single_object();
        let mut out = b"kept".to_vec();
        let too_big = AgentMetrics {
            offers_made: u64::MAX,
            ..sample()
        };
        let error = codec.encode_into(&too_big, &mut out).unwrap_err();
        assert!(error.to_string().contains("offers_made"), "{error}");
        assert_eq!(out, b"kept");
        codec.encode_into(&sample(), &mut out).unwrap();
        assert_eq!(codec.decode(&out[4..]).unwrap(), sample());
    }

    #[test]
    fn truncated_body_is_an_avro_error() {
        let codec = AvroCodec::<AgentMetrics>::single_object();
        let bytes = codec.encode(&sample()).unwrap();
        assert!(matches!(
            codec.decode(&bytes[..bytes.len() - 3]),
            Err(CodecError::Avro(_))
        ));
    }
}
