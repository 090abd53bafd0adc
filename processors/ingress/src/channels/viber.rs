//! Viber REST bot API callbacks: one event per call, `{"event", "timestamp", ...}`.
//!
//! Shape (Viber's bot API, "Callbacks"): `event` is `message`, `delivered`, `seen`,
//! `failed`, `subscribed`, `unsubscribed`, `conversation_started` or `webhook`;
//! `timestamp` is in ms; `message_token` is a 64-bit integer (above 2^53: kept as its
//! exact decimal digits); a `message` event has `sender: {"id", "name"}` and `message:
//! {"type", "text", "media", "file_name", "sticker_id", "location", "contact"}` with
//! `type` one of `text`, `picture`, `video`, `file`, `sticker`, `contact`, `url`,
//! `location`.
//!
//! Conversation: `sender.id`, which is also the reply address. The body carries no bot
//! id: records need a `parley-account` header.

use super::Context;
use super::{attachment, new_event, text};
use crate::error::IngressError;
use crate::json::{self, Scalar, Str};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::{Attachment, AttachmentKind};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    event: Option<Str<'a>>,
    #[serde(borrow)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    message_token: Option<Scalar<'a>>,
    #[serde(borrow)]
    sender: Option<Sender<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Sender<'a> {
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    media: Option<Str<'a>>,
    #[serde(borrow)]
    sticker_id: Option<Scalar<'a>>,
    contact: Option<IgnoredAny>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    let Some(event) = &body.event else {
        return Err(context.wrong_channel("a Viber callback has an `event` field"));
    };
    let skip = match event.as_str() {
        "message" => None,
        "delivered" => Some(SkipKind::Delivery),
        "seen" => Some(SkipKind::Read),
        "subscribed" | "conversation_started" => Some(SkipKind::Follow),
        _ => Some(SkipKind::Other),
    };
    if let Some(kind) = skip {
        context.skip(kind);
        return Ok(());
    }
    let message = body
        .message
        .as_ref()
        .ok_or_else(|| context.missing("message".into()))?;
    let id = context.id(body.message_token.as_ref(), || "message_token".into())?;
    let sender = body.sender.as_ref();
    let conversation = context.id(sender.and_then(|s| s.id.as_ref()), || "sender.id".into())?;
    let sent_at = context.sent_at(body.timestamp.as_ref(), Unit::Millis, || "timestamp".into())?;
    let account = context.account(None)?;
    let mut event = new_event(context, account, id, conversation, sent_at);
    event.author_name = text(sender.and_then(|s| s.name.as_ref()));
    event.text = text(message.text.as_ref());
    let media = message.media.as_ref();
    match message.kind.as_ref().map(Str::as_str) {
        Some("text") => {}
        Some("picture") => event
            .attachments
            .push(attachment(AttachmentKind::Image, media)),
        Some("video") => event
            .attachments
            .push(attachment(AttachmentKind::Video, media)),
        Some("file") => event
            .attachments
            .push(attachment(AttachmentKind::File, media)),
        Some("sticker") => event.attachments.push(Attachment {
            kind: AttachmentKind::Sticker,
            reference: message.sticker_id.as_ref().map(Scalar::to_id),
        }),
        Some("location") => event.attachments.push(Attachment {
            kind: AttachmentKind::Location,
            reference: None,
        }),
        Some("contact") if message.contact.is_some() => event.attachments.push(Attachment {
            kind: AttachmentKind::Contact,
            reference: None,
        }),
        // A `url` message is a link the user sent: its text is the URL.
        Some("url") => event.text = event.text.or_else(|| text(media)),
        _ => event
            .attachments
            .push(attachment(AttachmentKind::Other, media)),
    }
    if event.text.is_none() && event.attachments.is_empty() {
        return Err(context.missing("message.text".into()));
    }
    context.push(event);
    Ok(())
}
