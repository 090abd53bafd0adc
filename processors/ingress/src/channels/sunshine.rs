//! The messaging platform behind the Web Widget and the iOS and Android SDKs (Sunshine
//! Conversations webhooks, v2): `{"app": {"id"}, "webhook", "events": [...]}`.
//!
//! Shape (the platform's OpenAPI spec, `conversationMessageEvent` and friends): each event
//! has `id`, `type`, `createdAt` and a `payload`; a `conversation:message` payload holds
//! `conversation: {"id"}` and `message: {"id", "received" (RFC 3339), "author": {"type":
//! "user" | "business", "userId", "displayName"}, "content": {"type", "text", "mediaUrl",
//! "textFallback"}, "source": {"type", "integrationId"}}`. Events may be for different
//! conversations.
//!
//! Conversation: `payload.conversation.id`. Integration id and reply handle: `app.id`.
//! `sent_at` is `message.received` (the spec's own example has a `createdAt` earlier than
//! the message, so the event time is not used). The event's channel is the message's
//! `source.type` when it names a parley channel (`web`, `ios`, `android`, and third-party
//! channels the platform bridges, e.g. `telegram`), else the raw topic's channel.
//! Messages authored by `business` are echoes.

use super::Context;
use super::{attachment, handle, new_event, text};
use crate::error::IngressError;
use crate::json::{self, Str};
use crate::outcome::SkipKind;
use crate::timestamp::parse_rfc3339_millis;
use parley_core::{Attachment, AttachmentKind, Channel};
use serde::Deserialize;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    app: Option<App<'a>>,
    #[serde(borrow)]
    events: Option<Vec<Event<'a>>>,
}

#[derive(Deserialize)]
struct App<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    conversation: Option<Conversation<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
}

#[derive(Deserialize)]
struct Conversation<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    received: Option<Str<'a>>,
    #[serde(borrow)]
    author: Option<Author<'a>>,
    #[serde(borrow)]
    content: Option<Content<'a>>,
    #[serde(borrow)]
    source: Option<Source<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Author<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    display_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Content<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    media_url: Option<Str<'a>>,
    #[serde(borrow)]
    text_fallback: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    let (Some(app), Some(events)) = (&body.app, &body.events) else {
        return Err(
            context.wrong_channel("a messaging-platform webhook has `app` and an `events` array")
        );
    };
    for (i, item) in events.iter().enumerate() {
        let path = || format!("events[{i}].payload");
        let skip = match item.kind.as_ref().map(Str::as_str) {
            Some("conversation:message") => None,
            Some("conversation:read") => Some(SkipKind::Read),
            Some("conversation:typing") => Some(SkipKind::Typing),
            Some(kind) if kind.starts_with("conversation:message:delivery:") => {
                Some(SkipKind::Delivery)
            }
            Some("conversation:postback") => Some(SkipKind::PostbackWithoutText),
            Some("conversation:create" | "conversation:join" | "conversation:referral") => {
                Some(SkipKind::Follow)
            }
            _ => Some(SkipKind::Other),
        };
        if let Some(kind) = skip {
            context.skip(kind);
            continue;
        }
        let payload = item
            .payload
            .as_ref()
            .ok_or_else(|| context.missing(path()))?;
        let message = payload
            .message
            .as_ref()
            .ok_or_else(|| context.missing(format!("{}.message", path())))?;
        let author = message.author.as_ref();
        match author.and_then(|a| a.kind.as_ref()).map(Str::as_str) {
            Some("user") => {}
            Some("business") => {
                context.skip(SkipKind::Echo);
                continue;
            }
            _ => return Err(context.missing(format!("{}.message.author.type", path()))),
        }
        let id = text(message.id.as_ref())
            .ok_or_else(|| context.missing(format!("{}.message.id", path())))?;
        let conversation = payload
            .conversation
            .as_ref()
            .and_then(|c| text(c.id.as_ref()));
        let conversation =
            conversation.ok_or_else(|| context.missing(format!("{}.conversation.id", path())))?;
        let received = message
            .received
            .as_ref()
            .ok_or_else(|| context.missing(format!("{}.message.received", path())))?;
        let millis =
            parse_rfc3339_millis(received.as_str()).ok_or_else(|| IngressError::InvalidField {
                channel: context.channel,
                field: format!("{}.message.received", path()),
                value: Some(json::shorten(received.as_str())),
                rule: "must be an RFC 3339 date-time such as 2020-02-25T18:06:37.547Z".into(),
            })?;
        let sent_at = context.check_range(millis, || format!("{}.message.received", path()))?;
        let app_id = text(app.id.as_ref()).ok_or_else(|| context.missing("app.id".into()))?;
        let account = context.account(Some(&app_id))?;
        let mut event = new_event(context, account, id, conversation, sent_at);
        if let Some(channel) = message
            .source
            .as_ref()
            .and_then(|s| s.kind.as_ref())
            .and_then(source_channel)
        {
            event.channel = channel;
        }
        let content = message.content.as_ref();
        let media = content.and_then(|c| c.media_url.as_ref());
        event.text = text(content.and_then(|c| c.text.as_ref().or(c.text_fallback.as_ref())));
        match content.and_then(|c| c.kind.as_ref()).map(Str::as_str) {
            Some("text") | Some("formResponse") => {}
            Some("image") => event
                .attachments
                .push(attachment(AttachmentKind::Image, media)),
            Some("file") => event
                .attachments
                .push(attachment(AttachmentKind::File, media)),
            Some("location") => event.attachments.push(Attachment {
                kind: AttachmentKind::Location,
                reference: None,
            }),
            _ => event
                .attachments
                .push(attachment(AttachmentKind::Other, media)),
        }
        event.author_name = text(author.and_then(|a| a.display_name.as_ref()));
        event.reply_handles.push(handle("app_id", app_id));
        context.push(event);
    }
    Ok(())
}

/// The parley channel a `source.type` names, if any.
fn source_channel(source: &Str<'_>) -> Option<Channel> {
    Some(match source.as_str() {
        "web" => Channel::Web,
        "ios" => Channel::Ios,
        "android" => Channel::Android,
        "whatsapp" => Channel::Whatsapp,
        "messenger" => Channel::Messenger,
        "instagram" => Channel::Instagram,
        "line" => Channel::Line,
        "telegram" => Channel::Telegram,
        "viber" => Channel::Viber,
        "twitter" => Channel::X,
        "wechat" => Channel::Wechat,
        _ => return None,
    })
}
