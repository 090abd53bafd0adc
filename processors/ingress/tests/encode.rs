//! The hand-rolled encoder's bytes decode with apache-avro, against the schema file, to the
//! same ConversationEvent; its header is the schema's single-object header.

use apache_avro::{from_avro_datum, from_value, to_avro_datum, to_value, Schema};
use parley_core::{Attachment, AttachmentKind, Channel, ConversationEvent, ReplyHandle, Timestamp};
use parley_ingress::encode::{
    encode_datum, encode_single_object, CONVERSATION_EVENT_FINGERPRINT, SINGLE_OBJECT_MAGIC,
};
use proptest::prelude::*;
use std::path::PathBuf;

fn schema() -> Schema {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/conversation_event.avsc");
    Schema::parse_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn decode(bytes: &[u8]) -> ConversationEvent {
    let value = from_avro_datum(&schema(), &mut &bytes[..], None).unwrap();
    from_value(&value).unwrap()
}

fn sample() -> ConversationEvent {
    ConversationEvent {
        event_id: "wamid.HBgL".into(),
        account: "acme".into(),
        brand: Some("eu".into()),
        conversation: "491701234567".into(),
        channel: Channel::Wechat,
        sent_at: Timestamp(1_700_000_000_000),
        received_at: Timestamp(1_700_000_000_250),
        text: Some("Grüße, 你好 👋".into()),
        attachments: vec![
            Attachment {
                kind: AttachmentKind::Other,
                reference: Some("m-1".into()),
            },
            Attachment {
                kind: AttachmentKind::Contact,
                reference: None,
            },
        ],
        author_name: None,
        reply_handles: vec![ReplyHandle {
            name: "phone_number_id".into(),
            value: "106540352242922".into(),
        }],
    }
}

#[test]
fn the_fingerprint_is_the_schema_files() {
    let fingerprint = parley_runtime::codec::canonical::single_object_fingerprint(
        parley_runtime::codec::schemas::CONVERSATION_EVENT,
    )
    .unwrap();
    assert_eq!(
        CONVERSATION_EVENT_FINGERPRINT, fingerprint,
        "{fingerprint:02x?}"
    );
}

/// The header is the specification's; the body a datum apache-avro reads. (apache-avro's
/// own single-object reader expects its fingerprint, which keeps logical types in the
/// canonical form, unlike the specification, the Java library and fastavro.)
#[test]
fn single_object_bytes_are_the_header_and_a_datum_apache_avro_reads() {
    let event = sample();
    let mut bytes = Vec::new();
    encode_single_object(&event, &mut bytes);
    assert_eq!(bytes[..2], SINGLE_OBJECT_MAGIC);
    assert_eq!(bytes[2..10], CONVERSATION_EVENT_FINGERPRINT);
    let value = from_avro_datum(&schema(), &mut &bytes[10..], None).unwrap();
    assert_eq!(from_value::<ConversationEvent>(&value).unwrap(), event);
}

#[test]
fn the_datum_is_byte_identical_to_apache_avros() {
    let event = sample();
    let mut ours = Vec::new();
    encode_datum(&event, &mut ours);
    let theirs = to_avro_datum(
        &schema(),
        to_value(&event).unwrap().resolve(&schema()).unwrap(),
    )
    .unwrap();
    assert_eq!(ours, theirs);
}

#[test]
fn the_bytes_are_the_runtime_codecs_and_read_back_with_it() {
    let codec = parley_runtime::codec::AvroCodec::<ConversationEvent>::single_object();
    let event = sample();
    let mut bytes = Vec::new();
    encode_single_object(&event, &mut bytes);
    assert_eq!(bytes, codec.encode(&event).unwrap());
    assert_eq!(codec.decode(&bytes).unwrap(), event);
}

#[test]
fn every_golden_fixture_event_round_trips() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut count = 0;
    for dir in std::fs::read_dir(root).unwrap() {
        for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if !path.to_str().unwrap().ends_with(".expected.json") {
                continue;
            }
            let golden: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let Some(events) = golden.get("events") else {
                continue;
            };
            for event in serde_json::from_value::<Vec<ConversationEvent>>(events.clone()).unwrap() {
                let mut bytes = Vec::new();
                encode_datum(&event, &mut bytes);
                assert_eq!(decode(&bytes), event, "{}", path.display());
                count += 1;
            }
        }
    }
    assert!(count > 30, "{count}");
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,40}"
}

fn event() -> impl Strategy<Value = ConversationEvent> {
    let kinds = proptest::sample::select(vec![
        AttachmentKind::Image,
        AttachmentKind::Video,
        AttachmentKind::Audio,
        AttachmentKind::File,
        AttachmentKind::Location,
        AttachmentKind::Sticker,
        AttachmentKind::Contact,
        AttachmentKind::Other,
    ]);
    (
        (
            text(),
            text(),
            proptest::option::of(text()),
            text(),
            proptest::sample::select(Channel::ALL.to_vec()),
        ),
        (
            any::<i64>(),
            any::<i64>(),
            proptest::option::of(text()),
            proptest::option::of(text()),
        ),
        proptest::collection::vec((kinds, proptest::option::of(text())), 0..4),
        proptest::collection::vec((text(), text()), 0..3),
    )
        .prop_map(
            |(
                (event_id, account, brand, conversation, channel),
                (sent, received, body, author),
                attachments,
                handles,
            )| {
                ConversationEvent {
                    event_id,
                    account,
                    brand,
                    conversation,
                    channel,
                    sent_at: Timestamp(sent),
                    received_at: Timestamp(received),
                    text: body,
                    attachments: attachments
                        .into_iter()
                        .map(|(kind, reference)| Attachment { kind, reference })
                        .collect(),
                    author_name: author,
                    reply_handles: handles
                        .into_iter()
                        .map(|(name, value)| ReplyHandle { name, value })
                        .collect(),
                }
            },
        )
}

proptest! {
    #[test]
    fn any_event_round_trips_through_apache_avro(event in event()) {
        let mut bytes = Vec::new();
        encode_datum(&event, &mut bytes);
        prop_assert_eq!(decode(&bytes), event);
    }
}
