//! Messenger Platform webhooks (`object: "page"`), and the shared reader for Meta's
//! `entry[].messaging[]` shape that Instagram messaging also uses.
//!
//! Shape (Meta's webhook events reference): `{"object": "page", "entry": [{"id": page id,
//! "time", "messaging": [{"sender": {"id": PSID}, "recipient": {"id": page id},
//! "timestamp" (ms), "message": {"mid", "text", "quick_reply": {"payload"}, "attachments":
//! [{"type", "payload": {"url"}}], "is_echo"}}]}]}`; other items carry `delivery`, `read`,
//! `postback: {"mid", "title", "payload"}`, `reaction`, `optin`, `referral` instead of
//! `message`.
//!
//! Conversation: `sender.id` (the PSID / IGSID). Integration id and reply handle: the
//! `recipient.id` (the page or Instagram account), else `entry.id`. Quick replies carry
//! their text in `message.text`; a postback's `title` is the button's text, so a postback
//! with a title is a message (id `postback.mid`), one without is skipped.

use super::Context;
use super::{attachment, describe_object, handle, new_event, text};
use crate::error::IngressError;
use crate::json::{self, Scalar, Str};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::AttachmentKind;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Which Meta product a body is for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Product {
    /// The `object` value its bodies carry.
    pub(crate) object: &'static str,
    /// The reply handle's name for the business-side id.
    pub(crate) business_id_handle: &'static str,
}

const MESSENGER: Product = Product {
    object: "page",
    business_id_handle: "page_id",
};

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    object: Option<Str<'a>>,
    #[serde(borrow)]
    entry: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
    #[serde(borrow, default)]
    messaging: Vec<Messaging<'a>>,
    #[serde(default)]
    standby: Vec<IgnoredAny>,
    #[serde(default)]
    changes: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct Messaging<'a> {
    #[serde(borrow)]
    sender: Option<Party<'a>>,
    #[serde(borrow)]
    recipient: Option<Party<'a>>,
    #[serde(borrow)]
    timestamp: Option<Scalar<'a>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(borrow)]
    postback: Option<Postback<'a>>,
    delivery: Option<IgnoredAny>,
    read: Option<IgnoredAny>,
    reaction: Option<IgnoredAny>,
    optin: Option<IgnoredAny>,
    referral: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Party<'a> {
    #[serde(borrow)]
    id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    mid: Option<Scalar<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
    #[serde(borrow, default)]
    attachments: Vec<MediaAttachment<'a>>,
}

#[derive(Deserialize)]
struct MediaAttachment<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    payload: Option<MediaPayload<'a>>,
}

#[derive(Deserialize)]
struct MediaPayload<'a> {
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    sticker_id: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Postback<'a> {
    #[serde(borrow)]
    mid: Option<Scalar<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    normalise_meta(body, context, MESSENGER)
}

/// Reads a Meta `entry[].messaging[]` body for `product`.
pub(crate) fn normalise_meta(
    body: &str,
    context: &mut Context<'_>,
    product: Product,
) -> Result<(), IngressError> {
    let body: Body<'_> = json::parse(context.channel, body)?;
    let object = body.object.as_ref().map(Str::as_str);
    if object != Some(product.object) {
        return Err(context.wrong_channel(format!(
            "`object` is {}, expected {:?}",
            describe_object(object),
            product.object
        )));
    }
    let entries = body
        .entry
        .ok_or_else(|| context.wrong_channel("no `entry` array"))?;
    for (e, entry) in entries.iter().enumerate() {
        // Standby (handover protocol) and `changes` (feed, comments) items are not messages
        // for this app.
        context.skip_many(SkipKind::Other, entry.standby.len() + entry.changes.len());
        for (i, item) in entry.messaging.iter().enumerate() {
            let path = || format!("entry[{e}].messaging[{i}]");
            messaging_item(context, product, entry, item, path)?;
        }
    }
    Ok(())
}

fn messaging_item(
    context: &mut Context<'_>,
    product: Product,
    entry: &Entry<'_>,
    item: &Messaging<'_>,
    path: impl Fn() -> String,
) -> Result<(), IngressError> {
    let (event_id, body_text, attachments) = if let Some(message) = &item.message {
        if message.is_echo {
            context.skip(SkipKind::Echo);
            return Ok(());
        }
        if message.is_deleted {
            context.skip(SkipKind::Unsend);
            return Ok(());
        }
        let id = context.id(message.mid.as_ref(), || format!("{}.message.mid", path()))?;
        let attachments = message
            .attachments
            .iter()
            .map(|a| {
                let payload = a.payload.as_ref();
                let kind = match a.kind.as_ref().map(Str::as_str) {
                    Some("image") if payload.is_some_and(|p| p.sticker_id.is_some()) => {
                        AttachmentKind::Sticker
                    }
                    Some("image") => AttachmentKind::Image,
                    Some("video") => AttachmentKind::Video,
                    Some("audio") => AttachmentKind::Audio,
                    Some("file") => AttachmentKind::File,
                    Some("location") => AttachmentKind::Location,
                    Some("sticker") => AttachmentKind::Sticker,
                    _ => AttachmentKind::Other,
                };
                attachment(kind, payload.and_then(|p| p.url.as_ref()))
            })
            .collect::<Vec<_>>();
        (id, text(message.text.as_ref()), attachments)
    } else if let Some(postback) = &item.postback {
        let Some(title) = text(postback.title.as_ref()) else {
            context.skip(SkipKind::PostbackWithoutText);
            return Ok(());
        };
        let id = context.id(postback.mid.as_ref(), || format!("{}.postback.mid", path()))?;
        (id, Some(title), Vec::new())
    } else {
        context.skip(if item.delivery.is_some() {
            SkipKind::Delivery
        } else if item.read.is_some() {
            SkipKind::Read
        } else if item.reaction.is_some() {
            SkipKind::Reaction
        } else if item.optin.is_some() || item.referral.is_some() {
            SkipKind::Follow
        } else {
            SkipKind::Other
        });
        return Ok(());
    };
    let sender = item.sender.as_ref().and_then(|s| s.id.as_ref());
    let sender = context.id(sender, || format!("{}.sender.id", path()))?;
    let sent_at = context.sent_at(item.timestamp.as_ref(), Unit::Millis, || {
        format!("{}.timestamp", path())
    })?;
    let business = item
        .recipient
        .as_ref()
        .and_then(|r| r.id.as_ref())
        .or(entry.id.as_ref());
    let business = context.id(business, || format!("{}.recipient.id", path()))?;
    let account = context.account(Some(&business))?;
    let mut event = new_event(context, account, event_id, sender, sent_at);
    event.text = body_text;
    event.attachments = attachments;
    event
        .reply_handles
        .push(handle(product.business_id_handle, business));
    context.push(event);
    Ok(())
}
