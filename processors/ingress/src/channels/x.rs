//! X (Twitter) Account Activity API webhooks: direct message events for a subscribed user.
//!
//! Shape (X's Account Activity "Payload examples"): `{"for_user_id", "direct_message_events":
//! [{"type": "message_create", "id", "created_timestamp" (ms, a string), "message_create":
//! {"target": {"recipient_id"}, "sender_id", "message_data": {"text", "attachment":
//! {"type": "media", "media": {"id_str", "media_url_https", "type"}}}}}], "users": {id:
//! {"name", "screen_name"}}}`; typing and read receipts come in
//! `direct_message_indicate_typing_events` and `direct_message_mark_read_events`, and
//! other activity (tweets, likes, follows, ...) in arrays of their own.
//!
//! Conversation: X's own one-to-one conversation id, the two user ids joined by `-`, the
//! smaller first (`3001969357-4337869213`). Integration id: `for_user_id`; a message whose
//! sender is `for_user_id` is the business's own (an echo). Reply handle: `recipient_id`,
//! the end user to send the reply to.

use super::Context;
use super::{attachment, handle, new_event, text};
use crate::error::IngressError;
use crate::json::{self, Scalar, Str};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::AttachmentKind;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    for_user_id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    direct_message_events: Vec<DirectMessage<'a>>,
    #[serde(default)]
    direct_message_indicate_typing_events: Vec<IgnoredAny>,
    #[serde(default)]
    direct_message_mark_read_events: Vec<IgnoredAny>,
    #[serde(default)]
    follow_events: Vec<IgnoredAny>,
    #[serde(default)]
    tweet_create_events: Vec<IgnoredAny>,
    #[serde(default)]
    favorite_events: Vec<IgnoredAny>,
    #[serde(default)]
    block_events: Vec<IgnoredAny>,
    #[serde(default)]
    mute_events: Vec<IgnoredAny>,
    #[serde(default)]
    tweet_delete_events: Vec<IgnoredAny>,
    #[serde(borrow, default)]
    users: HashMap<Str<'a>, User<'a>>,
}

#[derive(Deserialize)]
struct DirectMessage<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow)]
    created_timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    message_create: Option<MessageCreate<'a>>,
}

#[derive(Deserialize)]
struct MessageCreate<'a> {
    #[serde(borrow)]
    target: Option<Target<'a>>,
    #[serde(borrow)]
    sender_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    message_data: Option<MessageData<'a>>,
}

#[derive(Deserialize)]
struct Target<'a> {
    #[serde(borrow)]
    recipient_id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct MessageData<'a> {
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    attachment: Option<MediaAttachment<'a>>,
}

#[derive(Deserialize)]
struct MediaAttachment<'a> {
    #[serde(borrow)]
    media: Option<Media<'a>>,
}

#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    media_url_https: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    let Some(for_user_id) = body.for_user_id.as_ref().filter(|id| !id.is_empty()) else {
        return Err(context.wrong_channel("an Account Activity body has a `for_user_id`"));
    };
    let for_user_id = for_user_id.to_id();
    for (i, dm) in body.direct_message_events.iter().enumerate() {
        let path = || format!("direct_message_events[{i}]");
        if dm.kind.as_ref().map(Str::as_str) != Some("message_create") {
            context.skip(SkipKind::Other);
            continue;
        }
        let create = dm
            .message_create
            .as_ref()
            .ok_or_else(|| context.missing(format!("{}.message_create", path())))?;
        let sender = context.id(create.sender_id.as_ref(), || {
            format!("{}.message_create.sender_id", path())
        })?;
        if sender == for_user_id {
            context.skip(SkipKind::Echo);
            continue;
        }
        let recipient = create.target.as_ref().and_then(|t| t.recipient_id.as_ref());
        let recipient = context.id(recipient, || {
            format!("{}.message_create.target.recipient_id", path())
        })?;
        let id = context.id(dm.id.as_ref(), || format!("{}.id", path()))?;
        let sent_at = context.sent_at(dm.created_timestamp.as_ref(), Unit::Millis, || {
            format!("{}.created_timestamp", path())
        })?;
        let account = context.account(Some(&for_user_id))?;
        let conversation = conversation_id(&sender, &recipient);
        let mut event = new_event(context, account, id, conversation, sent_at);
        let data = create.message_data.as_ref();
        event.text = text(data.and_then(|d| d.text.as_ref()));
        if let Some(media) = data
            .and_then(|d| d.attachment.as_ref())
            .and_then(|a| a.media.as_ref())
        {
            let kind = match media.kind.as_ref().map(Str::as_str) {
                Some("photo") => AttachmentKind::Image,
                Some("video" | "animated_gif") => AttachmentKind::Video,
                _ => AttachmentKind::Other,
            };
            event
                .attachments
                .push(attachment(kind, media.media_url_https.as_ref()));
        }
        event.author_name = body
            .users
            .get(sender.as_str())
            .and_then(|u| text(u.name.as_ref()));
        event.reply_handles.push(handle("recipient_id", sender));
        context.push(event);
    }
    context.skip_many(
        SkipKind::Typing,
        body.direct_message_indicate_typing_events.len(),
    );
    context.skip_many(SkipKind::Read, body.direct_message_mark_read_events.len());
    context.skip_many(SkipKind::Follow, body.follow_events.len());
    let other = body.tweet_create_events.len()
        + body.favorite_events.len()
        + body.block_events.len()
        + body.mute_events.len()
        + body.tweet_delete_events.len();
    context.skip_many(SkipKind::Other, other);
    Ok(())
}

/// X's one-to-one conversation id: both user ids, numerically smaller first, joined by `-`.
fn conversation_id(a: &str, b: &str) -> String {
    let (low, high) = if (a.len(), a) <= (b.len(), b) {
        (a, b)
    } else {
        (b, a)
    };
    format!("{low}-{high}")
}

#[cfg(test)]
mod tests {
    use super::conversation_id;

    #[test]
    fn conversation_ids_order_the_pair_numerically() {
        assert_eq!(
            conversation_id("4337869213", "3001969357"),
            "3001969357-4337869213"
        );
        assert_eq!(
            conversation_id("3001969357", "4337869213"),
            "3001969357-4337869213"
        );
        // Numeric, not lexicographic: 99 < 100.
        assert_eq!(conversation_id("100", "99"), "99-100");
    }
}
