//! Telegram Bot API webhooks: one `Update` per call.
//!
//! Shape (Bot API reference, "Update" and "Message"): `{"update_id", "message": {
//! "message_id", "from": {"id", "first_name", "last_name", "username"}, "chat": {"id",
//! "type"}, "date" (seconds), "text" | "caption", "photo": [PhotoSize], "document",
//! "video", "voice", "audio", "video_note", "animation", "sticker": {"file_id"},
//! "location", "venue", "contact"}}`. Other updates (`edited_message`, `channel_post`,
//! `callback_query`, `message_reaction`, `my_chat_member`, ...) carry no new end-user
//! message and are skipped.
//!
//! Conversation: `chat.id`. `message_id` is unique only within a chat, so the event id is
//! `<chat.id>:<message_id>`. The body carries no bot id: records need a `parley-account`
//! header. `chat.id` is the reply address, and it is the conversation key already.

use super::new_event;
use super::Context;
use crate::error::IngressError;
use crate::json::{self, Scalar, Str};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::{Attachment, AttachmentKind};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
struct Update<'a> {
    #[serde(borrow)]
    update_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(borrow)]
    business_message: Option<Message<'a>>,
    callback_query: Option<IgnoredAny>,
    message_reaction: Option<IgnoredAny>,
    message_reaction_count: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    message_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    from: Option<User<'a>>,
    #[serde(borrow)]
    chat: Option<Chat<'a>>,
    #[serde(borrow)]
    date: Option<Scalar<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    caption: Option<Str<'a>>,
    #[serde(borrow, default)]
    photo: Vec<File<'a>>,
    #[serde(borrow)]
    animation: Option<File<'a>>,
    #[serde(borrow)]
    document: Option<File<'a>>,
    #[serde(borrow)]
    video: Option<File<'a>>,
    #[serde(borrow)]
    video_note: Option<File<'a>>,
    #[serde(borrow)]
    voice: Option<File<'a>>,
    #[serde(borrow)]
    audio: Option<File<'a>>,
    #[serde(borrow)]
    sticker: Option<File<'a>>,
    location: Option<IgnoredAny>,
    #[serde(borrow)]
    venue: Option<Venue<'a>>,
    contact: Option<IgnoredAny>,
    new_chat_members: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    first_name: Option<Str<'a>>,
    #[serde(borrow)]
    last_name: Option<Str<'a>>,
    #[serde(borrow)]
    username: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Chat<'a> {
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct File<'a> {
    #[serde(borrow)]
    file_id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Venue<'a> {
    #[serde(borrow)]
    title: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let update: Update<'_> = json::parse(context.channel, body)?;
    if update.update_id.is_none() {
        return Err(context.wrong_channel("a Telegram Update has an `update_id`"));
    }
    let (message, field) = match (&update.message, &update.business_message) {
        (Some(message), _) => (message, "message"),
        (None, Some(message)) => (message, "business_message"),
        (None, None) => {
            context.skip(if update.callback_query.is_some() {
                SkipKind::PostbackWithoutText
            } else if update.message_reaction.is_some() || update.message_reaction_count.is_some() {
                SkipKind::Reaction
            } else {
                SkipKind::Other
            });
            return Ok(());
        }
    };
    let file = |kind, file: Option<&File<'_>>| {
        file.map(|f| Attachment {
            kind,
            reference: f.file_id.as_ref().map(Str::to_owned_string),
        })
    };
    // A GIF arrives as both `animation` and `document`: one attachment, the animation.
    let attachment = file(AttachmentKind::Image, message.photo.last())
        .or_else(|| file(AttachmentKind::Video, message.animation.as_ref()))
        .or_else(|| file(AttachmentKind::File, message.document.as_ref()))
        .or_else(|| file(AttachmentKind::Video, message.video.as_ref()))
        .or_else(|| file(AttachmentKind::Video, message.video_note.as_ref()))
        .or_else(|| file(AttachmentKind::Audio, message.voice.as_ref()))
        .or_else(|| file(AttachmentKind::Audio, message.audio.as_ref()))
        .or_else(|| file(AttachmentKind::Sticker, message.sticker.as_ref()))
        .or_else(|| {
            (message.location.is_some() || message.venue.is_some()).then_some(Attachment {
                kind: AttachmentKind::Location,
                reference: None,
            })
        })
        .or_else(|| {
            message.contact.is_some().then_some(Attachment {
                kind: AttachmentKind::Contact,
                reference: None,
            })
        });
    let body_text = super::text(message.text.as_ref().or(message.caption.as_ref()))
        .or_else(|| super::text(message.venue.as_ref().and_then(|v| v.title.as_ref())));
    if body_text.is_none() && attachment.is_none() {
        context.skip(if message.new_chat_members.is_some() {
            SkipKind::Follow
        } else {
            SkipKind::Other
        });
        return Ok(());
    }
    let chat_id = context.id(message.chat.as_ref().and_then(|c| c.id.as_ref()), || {
        format!("{field}.chat.id")
    })?;
    let message_id = context.id(message.message_id.as_ref(), || {
        format!("{field}.message_id")
    })?;
    let sent_at = context.sent_at(message.date.as_ref(), Unit::Seconds, || {
        format!("{field}.date")
    })?;
    let account = context.account(None)?;
    let event_id = format!("{chat_id}:{message_id}");
    let mut event = new_event(context, account, event_id, chat_id, sent_at);
    event.text = body_text;
    event.attachments.extend(attachment);
    event.author_name = message.from.as_ref().and_then(|user| {
        let first = user
            .first_name
            .as_ref()
            .map(Str::as_str)
            .filter(|s| !s.is_empty());
        let last = user
            .last_name
            .as_ref()
            .map(Str::as_str)
            .filter(|s| !s.is_empty());
        match (first, last) {
            (Some(first), Some(last)) => Some(format!("{first} {last}")),
            (Some(name), None) | (None, Some(name)) => Some(name.to_owned()),
            (None, None) => super::text(user.username.as_ref()),
        }
    });
    context.push(event);
    Ok(())
}
