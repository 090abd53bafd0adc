//! The published sample bodies in `shared/reference/webhooks` (see its SOURCES.md) come out
//! with exactly the facts SOURCES.md lists: ids, UTC timestamps, texts, message counts.
//!
//! The directory sits beside the repository clone (`../../../shared/reference/webhooks`
//! from this crate), as it does in CI.

use parley_core::{AttachmentKind, Channel, ConversationEvent, Timestamp};
use parley_ingress::{IngressConfig, Normaliser, Outcome, RawRecord, SkipKind};
use std::path::PathBuf;

/// 2021-01-01T00:00:00Z: after every sample, so no sample is in the future.
const RECEIVED: Timestamp = Timestamp(1_609_459_200_000);

fn normaliser() -> Normaliser {
    let config: IngressConfig = serde_json::from_str(
        r#"{"integrations": {
            "Uab012345678901234567890123456789": "acme/line",
            "U00000000000000000000000000000000": "acme",
            "4337869213": "acme/x",
            "5698edbf2a43bd081be982f1": "acme/web",
            "5ebee0975ac5304b664a12fa": "globex"
        }}"#,
    )
    .unwrap();
    Normaliser::new(config)
}

fn run(file: &str, channel: Channel, header: Option<&str>) -> Outcome {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/webhooks")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let record = RawRecord {
        channel,
        payload: &bytes,
        account_header: header,
        timestamp: RECEIVED,
    };
    normaliser()
        .normalise(&record)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn only(outcome: &Outcome) -> &ConversationEvent {
    assert_eq!(outcome.events.len(), 1, "{outcome:#?}");
    &outcome.events[0]
}

fn handle<'e>(event: &'e ConversationEvent, name: &str) -> Option<&'e str> {
    event
        .reply_handles
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_str())
}

#[test]
fn line_text() {
    let outcome = run("line-text.json", Channel::Line, None);
    let event = only(&outcome);
    assert_eq!(event.conversation, "u206d25c2ea6bd87c17655609a1c37cb8");
    assert_eq!(event.event_id, "325708");
    assert_eq!(event.sent_at, Timestamp(1_462_629_479_859)); // 2016-05-07T13:57:59.859Z
    assert_eq!(event.received_at, RECEIVED);
    assert_eq!(event.text.as_deref(), Some("Hello, world"));
    assert_eq!(
        (event.account.as_str(), event.brand.as_deref()),
        ("acme", Some("line"))
    );
    assert_eq!(
        handle(event, "reply_token"),
        Some("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA")
    );
    assert!(outcome.skipped.is_empty());
}

#[test]
fn line_image() {
    let outcome = run("line-image.json", Channel::Line, None);
    let event = only(&outcome);
    assert_eq!(event.conversation, "u206d25c2ea6bd87c17655609a1c37cb8");
    assert_eq!(event.event_id, "325708");
    assert_eq!(event.sent_at, Timestamp(1_462_629_479_859));
    assert_eq!(event.text, None);
    assert_eq!(event.attachments.len(), 1);
    assert_eq!(event.attachments[0].kind, AttachmentKind::Image);
    // contentProvider `external`: the media lives at its URL, not with LINE.
    assert_eq!(
        event.attachments[0].reference.as_deref(),
        Some("https://example.com/original.jpg")
    );
}

#[test]
fn line_batch_has_one_message_and_one_follow() {
    let outcome = run("line-batch.json", Channel::Line, None);
    let event = only(&outcome);
    assert_eq!(event.event_id, "325708");
    assert_eq!(event.text.as_deref(), Some("Hello, world"));
    assert_eq!(event.sent_at, Timestamp(1_462_629_479_859));
    assert_eq!(
        (event.account.as_str(), event.brand.as_deref()),
        ("acme", None)
    );
    assert_eq!(outcome.skipped, [SkipKind::Follow]);
}

#[test]
fn line_unsend_is_skipped() {
    let outcome = run("line-unsend.json", Channel::Line, None);
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.skipped, [SkipKind::Unsend]);
}

#[test]
fn viber_message_keeps_the_token_above_2_pow_53() {
    let outcome = run(
        "viber-message-text.json",
        Channel::Viber,
        Some("acme/viber"),
    );
    let event = only(&outcome);
    assert_eq!(event.conversation, "01234567890A=");
    assert_eq!(event.event_id, "4912661846655238145");
    // Read through f64, the token would have lost its last digits.
    let through_f64 = event.event_id.parse::<f64>().unwrap() as u64;
    assert_ne!(through_f64.to_string(), event.event_id);
    assert_eq!(event.sent_at, Timestamp(1_457_764_197_627)); // 2016-03-12T06:29:57.627Z
    let text = event.text.as_deref().unwrap();
    assert!(text.starts_with("批封廟根縄華勢田郎報株聞。"), "{text}");
    assert!(
        text.ends_with("町要静子呉遊推写間確長無読死覧件一盛治融。"),
        "{text}"
    );
    assert_eq!(
        event.author_name.as_deref(),
        Some("ふで都急ぼちラり面関ごル期販ずラ否裁ぞるめ数努むや正記味てょ")
    );
    assert!(event.attachments.is_empty());
    assert_eq!(
        (event.account.as_str(), event.brand.as_deref()),
        ("acme", Some("viber"))
    );
}

#[test]
fn viber_receipts_and_conversation_started_are_skipped() {
    for (file, kind) in [
        ("viber-delivered.json", SkipKind::Delivery),
        ("viber-seen.json", SkipKind::Read),
        ("viber-conversation-started.json", SkipKind::Follow),
    ] {
        let outcome = run(file, Channel::Viber, Some("acme"));
        assert!(outcome.events.is_empty(), "{file}");
        assert_eq!(outcome.skipped, [kind], "{file}");
    }
}

#[test]
fn viber_needs_the_account_header() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/webhooks/viber-message-text.json");
    let bytes = std::fs::read(path).unwrap();
    let record = RawRecord {
        channel: Channel::Viber,
        payload: &bytes,
        account_header: None,
        timestamp: RECEIVED,
    };
    assert_eq!(
        normaliser().normalise(&record).unwrap_err().code(),
        "unknown_account"
    );
}

#[test]
fn x_message_create() {
    let outcome = run("x-dm-message-create.json", Channel::X, None);
    let event = only(&outcome);
    assert_eq!(event.conversation, "3001969357-4337869213");
    assert_eq!(event.event_id, "954491830116155396");
    assert_eq!(event.sent_at, Timestamp(1_516_403_560_557)); // 2018-01-19T23:12:40.557Z
    assert_eq!(event.text.as_deref(), Some("Hello World!"));
    assert_eq!(event.author_name.as_deref(), Some("Jordan Brinks"));
    assert_eq!(handle(event, "recipient_id"), Some("3001969357"));
    assert_eq!(
        (event.account.as_str(), event.brand.as_deref()),
        ("acme", Some("x"))
    );
}

#[test]
fn x_typing_and_mark_read_are_skipped() {
    let outcome = run("x-dm-typing.json", Channel::X, None);
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.skipped, [SkipKind::Typing]);
    let outcome = run("x-dm-mark-read.json", Channel::X, None);
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.skipped, [SkipKind::Read]);
}

#[test]
fn messaging_platform_web_message() {
    let outcome = run("sunshine-message-text-web.json", Channel::Web, None);
    let event = only(&outcome);
    assert_eq!(event.conversation, "13f32c6cf7d0d38e6e0eba93");
    assert_eq!(event.event_id, "5e55622dac66fb73a3c01877");
    assert_eq!(event.sent_at, Timestamp(1_582_653_997_547)); // 2020-02-25T18:06:37.547Z
    assert_eq!(event.text.as_deref(), Some("Hello world"));
    assert_eq!(event.channel, Channel::Web);
    assert_eq!(
        event.author_name.as_deref(),
        Some("Web User cbec0073faeda4dfcd21d0f1")
    );
    assert_eq!(handle(event, "app_id"), Some("5698edbf2a43bd081be982f1"));
    assert_eq!(
        (event.account.as_str(), event.brand.as_deref()),
        ("acme", Some("web"))
    );
}

#[test]
fn messaging_platform_telegram_message_uses_received_not_created_at() {
    let outcome = run("sunshine-message-text-telegram.json", Channel::Web, None);
    let event = only(&outcome);
    assert_eq!(event.conversation, "f52b01137aa6c250bc7251fa");
    assert_eq!(event.event_id, "5f74c7d84a146f3abd72af1d");
    // message.received, not the event's earlier createdAt (15:14:29.834Z).
    assert_eq!(event.sent_at, Timestamp(1_601_488_856_820)); // 2020-09-30T18:00:56.820Z
    assert_eq!(event.text.as_deref(), Some("hello"));
    assert_eq!(event.channel, Channel::Telegram);
    assert_eq!(event.author_name.as_deref(), Some("Steve Rogers"));
    assert_eq!(event.account, "globex");
}

#[test]
fn messaging_platform_read_and_delivery_are_skipped() {
    let outcome = run("sunshine-read-web.json", Channel::Web, None);
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.skipped, [SkipKind::Read]);
    let outcome = run("sunshine-delivery-user.json", Channel::Android, None);
    assert!(outcome.events.is_empty());
    assert_eq!(outcome.skipped, [SkipKind::Delivery]);
}

#[test]
fn every_reference_file_is_covered() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/webhooks");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json") || name.ends_with(".xml"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "line-batch.json",
            "line-image.json",
            "line-text.json",
            "line-unsend.json",
            "sunshine-delivery-user.json",
            "sunshine-message-text-telegram.json",
            "sunshine-message-text-web.json",
            "sunshine-read-web.json",
            "viber-conversation-started.json",
            "viber-delivered.json",
            "viber-message-text.json",
            "viber-seen.json",
            "x-dm-mark-read.json",
            "x-dm-message-create.json",
            "x-dm-typing.json",
        ],
        "a new reference file needs its facts asserted here"
    );
}
