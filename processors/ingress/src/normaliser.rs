//! The entry point: a raw record in, the ConversationEvents and skipped items out.

use crate::channels::{self, Context};
use crate::config::{AccountRef, IngressConfig};
use crate::error::IngressError;
use crate::outcome::Outcome;
use parley_core::{Channel, ConversationEvent, Timestamp};

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
