//! LINE Messaging API webhooks: `{"destination", "events": [...]}`.
//!
//! Shape (LINE's Messaging API reference, "Webhook Event Objects"): each event has `type`,
//! `timestamp` (ms), `source` (`{"type": "user", "userId"}`, or `group`/`room` with
//! `groupId`/`roomId` and maybe `userId`), `replyToken`, and for `type: "message"` a
//! `message` with `id`, `type` (`text`, `image`, `video`, `audio`, `file`, `location`,
//! `sticker`), `text`, `contentProvider: {"type", "originalContentUrl"}`, `fileName`,
//! `title`, `address`, `stickerId`.
//!
//! Conversation: the group or room id when the message was in one, else the `userId`.
//! Integration id: `destination` (the bot's user id). Reply handle: `reply_token`.
//! Media with `contentProvider.type: "line"` is fetched by message id, so the reference is
//! the message id; external media's reference is its `originalContentUrl`.

use super::Context;
use super::{attachment, handle, new_event, text};
use crate::error::IngressError;
use crate::json::{self, Scalar, Str};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::{Attachment, AttachmentKind};
use serde::Deserialize;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    destination: Option<Str<'a>>,
    #[serde(borrow)]
    events: Option<Vec<Event<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    source: Option<Source<'a>>,
    #[serde(borrow)]
    reply_token: Option<Str<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Source<'a> {
    #[serde(borrow)]
    user_id: Option<Str<'a>>,
    #[serde(borrow)]
    group_id: Option<Str<'a>>,
    #[serde(borrow)]
    room_id: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    content_provider: Option<ContentProvider<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    address: Option<Str<'a>>,
    #[serde(borrow)]
    sticker_id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentProvider<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    original_content_url: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    let (Some(destination), Some(events)) = (&body.destination, &body.events) else {
        return Err(context.wrong_channel("a LINE body has `destination` and an `events` array"));
    };
    for (i, item) in events.iter().enumerate() {
        let kind = item.kind.as_ref().map(Str::as_str);
        let skip = match kind {
            Some("message") => None,
            Some("follow" | "join" | "memberJoined") => Some(SkipKind::Follow),
            Some("unsend") => Some(SkipKind::Unsend),
            Some("postback") => Some(SkipKind::PostbackWithoutText),
            _ => Some(SkipKind::Other),
        };
        if let Some(skip) = skip {
            context.skip(skip);
            continue;
        }
        let path = || format!("events[{i}]");
        let message = item
            .message
            .as_ref()
            .ok_or_else(|| context.missing(format!("{}.message", path())))?;
        let id = context.id(message.id.as_ref(), || format!("{}.message.id", path()))?;
        let source = item.source.as_ref();
        let conversation = source
            .and_then(|s| {
                s.group_id
                    .as_ref()
                    .or(s.room_id.as_ref())
                    .or(s.user_id.as_ref())
            })
            .filter(|id| !id.as_str().is_empty())
            .ok_or_else(|| context.missing(format!("{}.source.userId", path())))?
            .to_owned_string();
        let sent_at = context.sent_at(item.timestamp.as_ref(), Unit::Millis, || {
            format!("{}.timestamp", path())
        })?;
        let account = context.account(Some(destination.as_str()))?;
        let mut event = new_event(context, account, id, conversation, sent_at);
        let media_kind = match message.kind.as_ref().map(Str::as_str) {
            Some("text") => None,
            Some("image") => Some(AttachmentKind::Image),
            Some("video") => Some(AttachmentKind::Video),
            Some("audio") => Some(AttachmentKind::Audio),
            Some("file") => Some(AttachmentKind::File),
            Some("location") => Some(AttachmentKind::Location),
            Some("sticker") => Some(AttachmentKind::Sticker),
            _ => Some(AttachmentKind::Other),
        };
        event.text = text(message.text.as_ref());
        match media_kind {
            None => {}
            Some(AttachmentKind::Location) => {
                event.text = event
                    .text
                    .or_else(|| text(message.title.as_ref().or(message.address.as_ref())));
                event.attachments.push(Attachment {
                    kind: AttachmentKind::Location,
                    reference: None,
                });
            }
            Some(AttachmentKind::Sticker) => event.attachments.push(Attachment {
                kind: AttachmentKind::Sticker,
                reference: message.sticker_id.as_ref().map(Scalar::to_id),
            }),
            Some(kind) => {
                let provider = message.content_provider.as_ref();
                let external = provider
                    .is_some_and(|p| p.kind.as_ref().is_some_and(|k| k.as_str() == "external"));
                if external {
                    event.attachments.push(attachment(
                        kind,
                        provider.and_then(|p| p.original_content_url.as_ref()),
                    ));
                } else {
                    event.attachments.push(Attachment {
                        kind,
                        reference: Some(event.event_id.clone()),
                    });
                }
            }
        }
        if let Some(token) = text(item.reply_token.as_ref()) {
            event.reply_handles.push(handle("reply_token", token));
        }
        context.push(event);
    }
    Ok(())
}
