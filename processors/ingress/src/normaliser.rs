//! The entry point: a raw record in, the ConversationEvents and skipped items out.

use crate::channels;
use crate::config::{AccountRef, IngressConfig};
use crate::error::IngressError;
use crate::json::Scalar;
use crate::timestamp::{Unit, EARLIEST_MS};
use parley_core::{Channel, ConversationEvent, Timestamp};
use serde::{Deserialize, Serialize};

/// One record from a `raw.<channel>` topic, borrowed from the consumer's message.
#[derive(Clone, Copy, Debug)]
pub struct RawRecord<'a> {
    /// The channel, from the topic the record came from (`raw.whatsapp` is WhatsApp).
    pub channel: Channel,
    /// The webhook body exactly as the channel posted it.
    pub payload: &'a [u8],
    /// The record's `parley-account` header, `account` or `account/brand`, if it has one.
    pub account_header: Option<&'a str>,
    /// The record's Kafka timestamp: when parley received the webhook.
    pub timestamp: Timestamp,
}

/// Why an item of a webhook body produced no event. Counted by kind, never sent to the DLQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// A delivery receipt (or a "sent" status) for a message the business sent.
    Delivery,
    /// A read receipt.
    Read,
    /// A typing indicator.
    Typing,
    /// An echo of a message the business itself sent.
    Echo,
    /// A button press that carries only a machine payload, no text for an agent.
    PostbackWithoutText,
    /// A reaction (emoji) to an earlier message.
    Reaction,
    /// The end user withdrew or deleted an earlier message.
    Unsend,
    /// The end user followed, subscribed, joined or opened the conversation.
    Follow,
    /// Anything else that is not an end-user message (unfollow, edits, service messages,
    /// event kinds this version does not know).
    Other,
}

impl SkipKind {
    /// Every kind, for registering metric labels up front.
    pub const ALL: [SkipKind; 9] = [
        SkipKind::Delivery,
        SkipKind::Read,
        SkipKind::Typing,
        SkipKind::Echo,
        SkipKind::PostbackWithoutText,
        SkipKind::Reaction,
        SkipKind::Unsend,
        SkipKind::Follow,
        SkipKind::Other,
    ];

    /// The stable label for the skipped-items counter.
    pub const fn label(self) -> &'static str {
        match self {
            SkipKind::Delivery => "delivery",
            SkipKind::Read => "read",
            SkipKind::Typing => "typing",
            SkipKind::Echo => "echo",
            SkipKind::PostbackWithoutText => "postback_without_text",
            SkipKind::Reaction => "reaction",
            SkipKind::Unsend => "unsend",
            SkipKind::Follow => "follow",
            SkipKind::Other => "other",
        }
    }
}

/// What one raw record became: its messages as events, in body order, and the kinds of
/// the items that were skipped, in body order.
#[must_use = "the events must be produced and the skipped items counted"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// One event per end-user message in the body.
    pub events: Vec<ConversationEvent>,
    /// One entry per item of the body that is not an end-user message.
    pub skipped: Vec<SkipKind>,
}

/// Turns raw webhook records into ConversationEvents. Stateless and pure: the same record
/// always gives the same outcome, so a replay re-emits identical events.
///
/// Calling contract: call [`normalise`](Normaliser::normalise) once per record, in any
/// order, from any thread. On `Ok`, produce the events (key: [`event_key`]) and count
/// the skipped kinds; on `Err`, send the original bytes to the DLQ with
/// [`IngressError::code`] as the reason. A body is all or nothing: if one message of a
/// batch is unreadable, the whole record goes to the DLQ, so no message is lost silently
/// and a replay of the DLQ record cannot duplicate the others.
///
/// Timestamps: a message's `sent_at` must lie between 2000-01-01T00:00:00Z and the
/// record's timestamp plus `max_future_skew_ms` (no upper bound if the record has no
/// timestamp, i.e. a negative one); otherwise the record is `timestamp_out_of_range`.
#[derive(Clone, Debug)]
pub struct Normaliser {
    config: IngressConfig,
}

impl Normaliser {
    /// A normaliser with this configuration.
    pub fn new(config: IngressConfig) -> Self {
        Normaliser { config }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &IngressConfig {
        &self.config
    }

    /// Turns one raw record into events. Never panics, whatever the bytes.
    pub fn normalise(&self, raw: &RawRecord<'_>) -> Result<Outcome, IngressError> {
        if raw.payload.len() > self.config.max_body_bytes {
            return Err(IngressError::Oversized {
                size: raw.payload.len(),
                limit: self.config.max_body_bytes,
            });
        }
        let body = std::str::from_utf8(raw.payload).map_err(|error| IngressError::InvalidUtf8 {
            offset: error.valid_up_to(),
        })?;
        let header = match raw.account_header {
            None => None,
            Some(value) => Some(value.parse::<AccountRef>().map_err(|error| {
                IngressError::InvalidAccountHeader {
                    value: crate::json::shorten(value),
                    rule: error.0,
                }
            })?),
        };
        let mut context = Context {
            channel: raw.channel,
            received_at: raw.timestamp,
            header,
            config: &self.config,
            outcome: Outcome::default(),
        };
        match raw.channel {
            Channel::Web | Channel::Ios | Channel::Android => {
                channels::sunshine::normalise(body, &mut context)?
            }
            Channel::Whatsapp => channels::whatsapp::normalise(body, &mut context)?,
            Channel::Messenger => channels::messenger::normalise(body, &mut context)?,
            Channel::Instagram => channels::instagram::normalise(body, &mut context)?,
            Channel::Line => channels::line::normalise(body, &mut context)?,
            Channel::Telegram => channels::telegram::normalise(body, &mut context)?,
            Channel::Viber => channels::viber::normalise(body, &mut context)?,
            Channel::X => channels::x::normalise(body, &mut context)?,
            Channel::Wechat => channels::wechat::normalise(body, &mut context)?,
        }
        Ok(context.outcome)
    }
}

/// The Kafka key of an event on `conversation-events`: `account/conversation`.
pub fn event_key(event: &ConversationEvent) -> String {
    let mut key = String::with_capacity(event.account.len() + 1 + event.conversation.len());
    key.push_str(&event.account);
    key.push('/');
    key.push_str(&event.conversation);
    key
}

/// What an adapter works with: the record's facts, the rules, and the outcome it fills.
#[derive(Debug)]
pub(crate) struct Context<'c> {
    /// The channel of the raw topic.
    pub(crate) channel: Channel,
    /// The record's timestamp.
    pub(crate) received_at: Timestamp,
    header: Option<AccountRef>,
    config: &'c IngressConfig,
    outcome: Outcome,
}

impl Context<'_> {
    /// The account of a message: the header's if the record has one, else the integration
    /// map's entry for `integration`.
    pub(crate) fn account(&self, integration: Option<&str>) -> Result<AccountRef, IngressError> {
        if let Some(header) = &self.header {
            return Ok(header.clone());
        }
        integration
            .and_then(|id| self.config.integrations.get(id))
            .cloned()
            .ok_or_else(|| IngressError::UnknownAccount {
                channel: self.channel,
                integration: integration.map(crate::json::shorten),
            })
    }

    /// A message's timestamp in `unit`, checked against the range rule.
    pub(crate) fn sent_at(
        &self,
        value: Option<&Scalar<'_>>,
        unit: Unit,
        field: impl Fn() -> String,
    ) -> Result<Timestamp, IngressError> {
        let value = value.ok_or_else(|| self.missing(field()))?;
        let number = value.to_i64().ok_or_else(|| IngressError::InvalidField {
            channel: self.channel,
            field: field(),
            value: Some(value.describe()),
            rule: "must be an integer (or a string of decimal digits) that fits in 64 bits".into(),
        })?;
        let millis = unit
            .to_millis(number)
            .unwrap_or(if number < 0 { i64::MIN } else { i64::MAX });
        self.check_range(millis, field)
    }

    /// Checks a timestamp already in ms against the range rule.
    pub(crate) fn check_range(
        &self,
        millis: i64,
        field: impl Fn() -> String,
    ) -> Result<Timestamp, IngressError> {
        let max = if self.received_at.0 < 0 {
            i64::MAX
        } else {
            self.received_at
                .0
                .saturating_add(self.config.max_future_skew_ms)
        };
        if millis < EARLIEST_MS || millis > max {
            return Err(IngressError::TimestampOutOfRange {
                channel: self.channel,
                field: field(),
                value: millis,
                min: EARLIEST_MS,
                max,
            });
        }
        Ok(Timestamp(millis))
    }

    /// The error for an absent field.
    pub(crate) fn missing(&self, field: String) -> IngressError {
        IngressError::MissingField {
            channel: self.channel,
            field,
        }
    }

    /// An id that must be present and non-empty.
    pub(crate) fn id(
        &self,
        value: Option<&Scalar<'_>>,
        field: impl Fn() -> String,
    ) -> Result<String, IngressError> {
        match value {
            Some(value) if !value.is_empty() => Ok(value.to_id()),
            _ => Err(self.missing(field())),
        }
    }

    /// The error for a body that is not this channel's.
    pub(crate) fn wrong_channel(&self, detail: impl Into<String>) -> IngressError {
        IngressError::WrongChannel {
            channel: self.channel,
            detail: detail.into(),
        }
    }

    /// Records a skipped item.
    pub(crate) fn skip(&mut self, kind: SkipKind) {
        self.outcome.skipped.push(kind);
    }

    /// Records `count` skipped items of one kind.
    pub(crate) fn skip_many(&mut self, kind: SkipKind, count: usize) {
        self.outcome
            .skipped
            .extend(std::iter::repeat_n(kind, count));
    }

    /// Adds an event.
    pub(crate) fn push(&mut self, event: ConversationEvent) {
        self.outcome.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8], header: Option<&'static str>) -> RawRecord<'static> {
        RawRecord {
            channel: Channel::Viber,
            payload: Box::leak(payload.to_vec().into_boxed_slice()),
            account_header: header,
            timestamp: Timestamp(1_700_000_000_000),
        }
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let normaliser = Normaliser::new(IngressConfig {
            max_body_bytes: 4,
            ..IngressConfig::default()
        });
        let error = normaliser
            .normalise(&record(b"{\"x\":1}", Some("acme")))
            .unwrap_err();
        assert_eq!(error, IngressError::Oversized { size: 7, limit: 4 });
        assert_eq!(error.code(), "oversized");
    }

    #[test]
    fn invalid_utf8_names_the_offset() {
        let normaliser = Normaliser::new(IngressConfig::default());
        let error = normaliser
            .normalise(&record(b"{\"a\":\"\xff\"}", Some("acme")))
            .unwrap_err();
        assert_eq!(error, IngressError::InvalidUtf8 { offset: 6 });
    }

    #[test]
    fn a_bad_account_header_is_its_own_reason() {
        let normaliser = Normaliser::new(IngressConfig::default());
        let error = normaliser
            .normalise(&record(b"{}", Some("a/b/c")))
            .unwrap_err();
        assert_eq!(error.code(), "invalid_account_header");
    }

    #[test]
    fn the_header_wins_over_the_integration_map() {
        let mut config = IngressConfig::default();
        config
            .integrations
            .insert("page-1".into(), "mapped/brand".parse().unwrap());
        let context = Context {
            channel: Channel::Messenger,
            received_at: Timestamp(0),
            header: Some("header".parse().unwrap()),
            config: &config,
            outcome: Outcome::default(),
        };
        assert_eq!(context.account(Some("page-1")).unwrap().account, "header");
        let context = Context {
            header: None,
            ..context
        };
        assert_eq!(
            context.account(Some("page-1")).unwrap().to_string(),
            "mapped/brand"
        );
        assert_eq!(
            context.account(Some("page-2")).unwrap_err().code(),
            "unknown_account"
        );
        assert_eq!(context.account(None).unwrap_err().code(), "unknown_account");
    }

    #[test]
    fn the_range_rule_is_2000_to_received_plus_skew() {
        let config = IngressConfig {
            max_future_skew_ms: 1_000,
            ..IngressConfig::default()
        };
        let context = Context {
            channel: Channel::Line,
            received_at: Timestamp(1_700_000_000_000),
            header: None,
            config: &config,
            outcome: Outcome::default(),
        };
        let field = || "events[0].timestamp".to_string();
        assert_eq!(
            context.check_range(EARLIEST_MS, field).unwrap(),
            Timestamp(EARLIEST_MS)
        );
        assert_eq!(
            context
                .check_range(EARLIEST_MS - 1, field)
                .unwrap_err()
                .code(),
            "timestamp_out_of_range"
        );
        assert!(context.check_range(1_700_000_001_000, field).is_ok());
        assert!(context.check_range(1_700_000_001_001, field).is_err());
        let seconds = Scalar::Unsigned(1_700_000_000);
        assert_eq!(
            context
                .sent_at(Some(&seconds), Unit::Seconds, field)
                .unwrap(),
            Timestamp(1_700_000_000_000)
        );
        // Milliseconds read as seconds land far in the future: refused, not wrapped.
        let millis = Scalar::Unsigned(1_700_000_000_000);
        assert!(context
            .sent_at(Some(&millis), Unit::Seconds, field)
            .is_err());
        let huge = Scalar::Unsigned(u64::MAX);
        assert_eq!(
            context
                .sent_at(Some(&huge), Unit::Seconds, field)
                .unwrap_err()
                .code(),
            "invalid_field"
        );
        let overflow = Scalar::Signed(i64::MIN);
        assert_eq!(
            context
                .sent_at(Some(&overflow), Unit::Seconds, field)
                .unwrap_err()
                .code(),
            "timestamp_out_of_range"
        );
    }

    #[test]
    fn skip_labels_are_the_serde_names_and_distinct() {
        let mut labels = Vec::new();
        for kind in SkipKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                kind.label(),
                "{kind:?}"
            );
            labels.push(kind.label());
        }
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), SkipKind::ALL.len());
    }

    #[test]
    fn keys_are_account_slash_conversation() {
        let event = ConversationEvent {
            event_id: "m1".into(),
            account: "acme".into(),
            brand: None,
            conversation: "u1".into(),
            channel: Channel::Line,
            sent_at: Timestamp(0),
            received_at: Timestamp(0),
            text: None,
            attachments: vec![],
            author_name: None,
            reply_handles: vec![],
        };
        assert_eq!(event_key(&event), "acme/u1");
    }
}
