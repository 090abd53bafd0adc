//! WhatsApp Cloud API webhooks: `entry[].changes[].value.messages[]`, `statuses[]` skipped.
//!
//! Shape (Meta's "messages" webhook reference): `{"object": "whatsapp_business_account",
//! "entry": [{"id": WABA id, "changes": [{"field": "messages", "value": {"metadata":
//! {"phone_number_id"}, "contacts": [{"wa_id", "profile": {"name"}}], "messages": [{"from",
//! "id", "timestamp" (seconds, a string), "type", "text": {"body"}, "image": {"id",
//! "caption"}, ...}], "statuses": [{"status"}]}}]}]}`.
//!
//! Conversation: the sender's `from` (wa_id). Integration id and reply handle: the
//! business number's `phone_number_id`. Reactions, `system`, `unsupported` and unknown
//! message types are skipped.

use super::Context;
use super::{attachment, describe_object, handle, new_event, text};
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
    object: Option<Str<'a>>,
    #[serde(borrow)]
    entry: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    changes: Vec<Change<'a>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow)]
    value: Option<Value<'a>>,
}

#[derive(Deserialize)]
struct Value<'a> {
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(borrow, default)]
    contacts: Vec<Contact<'a>>,
    #[serde(borrow, default)]
    messages: Vec<Message<'a>>,
    #[serde(borrow, default)]
    statuses: Vec<Status<'a>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    phone_number_id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Contact<'a> {
    #[serde(borrow)]
    wa_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    profile: Option<Profile<'a>>,
}

#[derive(Deserialize)]
struct Profile<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow)]
    status: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    from: Option<Scalar<'a>>,
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<TextBody<'a>>,
    #[serde(borrow)]
    image: Option<Media<'a>>,
    #[serde(borrow)]
    video: Option<Media<'a>>,
    #[serde(borrow)]
    audio: Option<Media<'a>>,
    #[serde(borrow)]
    document: Option<Media<'a>>,
    #[serde(borrow)]
    sticker: Option<Media<'a>>,
    #[serde(borrow)]
    location: Option<Location<'a>>,
    contacts: Option<Vec<IgnoredAny>>,
    #[serde(borrow)]
    interactive: Option<Interactive<'a>>,
    #[serde(borrow)]
    button: Option<Button<'a>>,
}

#[derive(Deserialize)]
struct TextBody<'a> {
    #[serde(borrow)]
    body: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    caption: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Location<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    address: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Interactive<'a> {
    #[serde(borrow)]
    button_reply: Option<Reply<'a>>,
    #[serde(borrow)]
    list_reply: Option<Reply<'a>>,
}

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    title: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Button<'a> {
    #[serde(borrow)]
    text: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    match body.object.as_ref().map(Str::as_str) {
        Some("whatsapp_business_account") => {}
        other => {
            return Err(context.wrong_channel(format!(
                "`object` is {}, expected \"whatsapp_business_account\"",
                describe_object(other)
            )))
        }
    }
    let entries = body
        .entry
        .ok_or_else(|| context.wrong_channel("no `entry` array"))?;
    for (e, entry) in entries.iter().enumerate() {
        for (c, change) in entry.changes.iter().enumerate() {
            let Some(value) = &change.value else {
                context.skip(SkipKind::Other);
                continue;
            };
            for status in &value.statuses {
                context.skip(match status.status.as_ref().map(Str::as_str) {
                    Some("sent" | "delivered") => SkipKind::Delivery,
                    Some("read") => SkipKind::Read,
                    _ => SkipKind::Other,
                });
            }
            if value.messages.is_empty() {
                continue;
            }
            let phone_number_id = value
                .metadata
                .as_ref()
                .and_then(|m| m.phone_number_id.as_ref());
            let phone_number_id = context.id(phone_number_id, || {
                format!("entry[{e}].changes[{c}].value.metadata.phone_number_id")
            })?;
            for (m, message) in value.messages.iter().enumerate() {
                let path = || format!("entry[{e}].changes[{c}].value.messages[{m}]");
                message_event(context, value, message, &phone_number_id, path)?;
            }
        }
    }
    Ok(())
}

fn media<'m, 'a>(
    kind: AttachmentKind,
    media: &'m Option<Media<'a>>,
) -> Option<(AttachmentKind, &'m Media<'a>)> {
    media.as_ref().map(|m| (kind, m))
}

fn message_event(
    context: &mut Context<'_>,
    value: &Value<'_>,
    message: &Message<'_>,
    phone_number_id: &str,
    path: impl Fn() -> String,
) -> Result<(), IngressError> {
    let mut body_text = None;
    let mut attachments = Vec::new();
    let kind = message.kind.as_ref().map(Str::as_str).unwrap_or("");
    match kind {
        "text" => body_text = text(message.text.as_ref().and_then(|t| t.body.as_ref())),
        "image" | "video" | "audio" | "document" | "sticker" => {
            let found = match kind {
                "image" => media(AttachmentKind::Image, &message.image),
                "video" => media(AttachmentKind::Video, &message.video),
                "audio" => media(AttachmentKind::Audio, &message.audio),
                "document" => media(AttachmentKind::File, &message.document),
                _ => media(AttachmentKind::Sticker, &message.sticker),
            };
            let (kind, media) =
                found.ok_or_else(|| context.missing(format!("{}.{kind}", path())))?;
            attachments.push(attachment(kind, media.id.as_ref()));
            body_text = text(media.caption.as_ref());
        }
        "location" => {
            let location = message.location.as_ref();
            body_text = text(location.and_then(|l| l.name.as_ref().or(l.address.as_ref())));
            attachments.push(Attachment {
                kind: AttachmentKind::Location,
                reference: None,
            });
        }
        "contacts" => {
            let count = message.contacts.as_ref().map_or(1, |c| c.len().max(1));
            attachments.extend((0..count).map(|_| Attachment {
                kind: AttachmentKind::Contact,
                reference: None,
            }));
        }
        "interactive" => {
            let reply = message
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()));
            body_text = text(reply.and_then(|r| r.title.as_ref()));
            if body_text.is_none() {
                context.skip(SkipKind::PostbackWithoutText);
                return Ok(());
            }
        }
        "button" => {
            body_text = text(message.button.as_ref().and_then(|b| b.text.as_ref()));
            if body_text.is_none() {
                context.skip(SkipKind::PostbackWithoutText);
                return Ok(());
            }
        }
        "reaction" => {
            context.skip(SkipKind::Reaction);
            return Ok(());
        }
        _ => {
            context.skip(SkipKind::Other);
            return Ok(());
        }
    }
    let from = context.id(message.from.as_ref(), || format!("{}.from", path()))?;
    let id = context.id(message.id.as_ref(), || format!("{}.id", path()))?;
    let sent_at = context.sent_at(message.timestamp.as_ref(), Unit::Seconds, || {
        format!("{}.timestamp", path())
    })?;
    let account = context.account(Some(phone_number_id))?;
    let author_name = value
        .contacts
        .iter()
        .find(|c| c.wa_id.as_ref().is_some_and(|w| w.to_id() == from))
        .or(value.contacts.first().filter(|_| value.contacts.len() == 1))
        .and_then(|c| text(c.profile.as_ref().and_then(|p| p.name.as_ref())));
    let mut event = new_event(context, account, id, from, sent_at);
    event.text = body_text;
    event.attachments = attachments;
    event.author_name = author_name;
    event
        .reply_handles
        .push(handle("phone_number_id", phone_number_id.to_owned()));
    context.push(event);
    Ok(())
}
