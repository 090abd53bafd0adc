//! Property tests: arbitrary bytes, mutated fixture bodies and random JSON built from the
//! adapters' own field names go through every adapter. Ingress never panics, every failure
//! carries one of the known DLQ reason codes, and every event it does emit is well formed.
//!
//! Longer runs: `PROPTEST_CASES=100000 cargo test -p parley-ingress --release --test fuzz`,
//! or the cargo-fuzz targets in `fuzz/`.

use parley_core::{Channel, Timestamp};
use parley_ingress::{IngressConfig, IngressError, Normaliser, RawRecord};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::OnceLock;

const RECEIVED: Timestamp = Timestamp(1_732_147_200_000);
const EARLIEST: i64 = 946_684_800_000;

fn normaliser() -> &'static Normaliser {
    static NORMALISER: OnceLock<Normaliser> = OnceLock::new();
    NORMALISER.get_or_init(|| {
        let mut config = IngressConfig {
            max_body_bytes: 16 * 1024,
            ..IngressConfig::default()
        };
        for id in [
            "106540352242922",
            "110385718390017",
            "17841405309211844",
            "1",
            "id",
            "U1",
            "app",
        ] {
            config
                .integrations
                .insert(id.into(), "acme/fuzz".parse().unwrap());
        }
        Normaliser::new(config)
    })
}

/// Every fixture body, with its channel.
fn fixtures() -> &'static [(Channel, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(Channel, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut all = Vec::new();
        for channel in Channel::ALL {
            let Ok(entries) = std::fs::read_dir(root.join(channel.as_str())) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .map(|e| e.unwrap().path())
                .filter(|p| !p.to_str().unwrap().ends_with(".expected.json"))
                .collect();
            files.sort();
            all.extend(
                files
                    .into_iter()
                    .map(|p| (channel, std::fs::read(p).unwrap())),
            );
        }
        assert!(all.len() > 50, "fixtures found: {}", all.len());
        all
    })
}

/// Runs one record through and checks the invariants.
fn check(channel: Channel, payload: &[u8], header: Option<&str>) -> Result<(), TestCaseError> {
    let record = RawRecord {
        channel,
        payload,
        account_header: header,
        timestamp: RECEIVED,
    };
    let result = normaliser().normalise(&record);
    prop_assert_eq!(
        &result,
        &normaliser().normalise(&record),
        "not deterministic"
    );
    match result {
        Err(error) => {
            prop_assert!(
                IngressError::CODES.contains(&error.code()),
                "unknown code {}",
                error.code()
            );
            prop_assert!(!error.to_string().is_empty());
        }
        Ok(outcome) => {
            for event in &outcome.events {
                prop_assert!(!event.event_id.is_empty());
                prop_assert!(!event.conversation.is_empty());
                prop_assert!(!event.account.is_empty());
                prop_assert!(event.brand.as_deref() != Some(""));
                prop_assert!(
                    event.sent_at.0 >= EARLIEST && event.sent_at.0 <= RECEIVED.0 + 86_400_000
                );
                prop_assert_eq!(event.received_at, RECEIVED);
                if !matches!(channel, Channel::Web | Channel::Ios | Channel::Android) {
                    prop_assert_eq!(event.channel, channel);
                }
            }
        }
    }
    Ok(())
}

fn channel() -> impl Strategy<Value = Channel> {
    proptest::sample::select(Channel::ALL.to_vec())
}

fn header() -> impl Strategy<Value = Option<&'static str>> {
    proptest::sample::select(vec![
        None,
        Some("acme"),
        Some("acme/eu"),
        Some("bad/header/x"),
        Some(""),
    ])
}

/// A mutation of a byte string.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0..64usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 0..128usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    let len = body.len().max(1);
    match mutation {
        Mutation::Flip(i, b) if !body.is_empty() => body[i % len] ^= b | 1,
        Mutation::Flip(..) => {}
        Mutation::Delete(i, n) => {
            let start = i % len;
            let end = (start + n).min(body.len());
            if start < end {
                body.drain(start..end);
            }
        }
        Mutation::Insert(i, bytes) => {
            let at = i % (body.len() + 1);
            body.splice(at..at, bytes.iter().copied());
        }
        Mutation::Duplicate(i, n) => {
            let start = i % len;
            let end = (start + n).min(body.len());
            if start < end {
                let copy = body[start..end].to_vec();
                body.splice(end..end, copy);
            }
        }
        Mutation::Truncate(i) => body.truncate(i % len),
    }
}

/// Field names the adapters read, so random JSON reaches past the first check.
const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "changes",
    "value",
    "metadata",
    "phone_number_id",
    "contacts",
    "wa_id",
    "profile",
    "name",
    "messages",
    "statuses",
    "status",
    "from",
    "timestamp",
    "type",
    "text",
    "body",
    "image",
    "caption",
    "interactive",
    "button_reply",
    "title",
    "messaging",
    "sender",
    "recipient",
    "message",
    "mid",
    "is_echo",
    "is_deleted",
    "attachments",
    "payload",
    "url",
    "postback",
    "delivery",
    "read",
    "destination",
    "events",
    "source",
    "userId",
    "groupId",
    "replyToken",
    "contentProvider",
    "update_id",
    "message_id",
    "chat",
    "date",
    "photo",
    "file_id",
    "callback_query",
    "event",
    "message_token",
    "media",
    "for_user_id",
    "direct_message_events",
    "message_create",
    "sender_id",
    "target",
    "recipient_id",
    "message_data",
    "created_timestamp",
    "users",
    "app",
    "conversation",
    "received",
    "author",
    "content",
    "displayName",
];

const STRINGS: &[&str] = &[
    "whatsapp_business_account",
    "page",
    "instagram",
    "message",
    "text",
    "image",
    "user",
    "business",
    "conversation:message",
    "conversation:read",
    "message_create",
    "follow",
    "delivered",
    "seen",
    "external",
    "2020-02-25T18:06:37.547Z",
    "2024-11-20T10:53:20Z",
    "1732100000",
    "1732100000000",
    "1",
    "id",
    "U1",
    "app",
    "",
    "\u{0}",
    "é",
    "18446744073709551616",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (1_000_000_000i64..2_000_000_000_000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |fields| {
                    Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(channel in channel(), header in header(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(channel, &bytes, header)?;
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<usize>(),
        header in header(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        other_channel in channel(),
        wrong in any::<bool>(),
    ) {
        let (own_channel, body) = &fixtures()[index % fixtures().len()];
        let mut body = body.clone();
        for mutation in &mutations {
            apply(&mut body, mutation);
        }
        // Sometimes feed the body to another channel's adapter as well.
        let channel = if wrong { other_channel } else { *own_channel };
        check(channel, &body, header)?;
    }

    #[test]
    fn random_json_with_known_field_names_never_panics(channel in channel(), header in header(), value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        check(channel, &body, header)?;
    }
}

/// Every fixture fed to every other channel's adapter fails cleanly or yields valid events.
#[test]
fn every_fixture_through_every_adapter() {
    for (_, body) in fixtures() {
        for channel in Channel::ALL {
            for header in [None, Some("acme")] {
                check(channel, body, header).unwrap();
            }
        }
    }
}

/// Bodies at the size limit are read; one byte over is `oversized`.
#[test]
fn the_size_limit_is_inclusive() {
    let limit = normaliser().config().max_body_bytes;
    let mut body = br#"{"event":"seen","timestamp":1732100000000,"pad":""#.to_vec();
    body.resize(limit - 2, b'x');
    body.extend_from_slice(b"\"}");
    let record = RawRecord {
        channel: Channel::Viber,
        payload: &body,
        account_header: Some("acme"),
        timestamp: RECEIVED,
    };
    assert!(normaliser().normalise(&record).is_ok());
    let mut longer = body.clone();
    longer.insert(body.len() - 2, b'x');
    let record = RawRecord {
        payload: &longer,
        ..record
    };
    assert_eq!(
        normaliser().normalise(&record).unwrap_err().code(),
        "oversized"
    );
}
