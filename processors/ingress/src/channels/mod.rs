//! One adapter per channel, each reading the body shape its channel documents.
//!
//! An adapter parses the body into a borrowed view of only the fields it needs (unknown
//! fields are skipped), walks the body's items in order, and for each one either pushes a
//! ConversationEvent or records a [`SkipKind`](crate::SkipKind). The first unreadable
//! message fails the whole record.

mod context;
pub(crate) mod instagram;
pub(crate) mod line;
pub(crate) mod messenger;
pub(crate) mod sunshine;
pub(crate) mod telegram;
pub(crate) mod viber;
pub(crate) mod wechat;
pub(crate) mod whatsapp;
pub(crate) mod x;

use crate::config::AccountRef;
use crate::json::Str;
pub(crate) use context::Context;
use parley_core::{Attachment, AttachmentKind, ConversationEvent, ReplyHandle, Timestamp};

/// An event with the required fields set and the optional ones empty.
pub(crate) fn new_event(
    context: &Context<'_>,
    account: AccountRef,
    event_id: String,
    conversation: String,
    sent_at: Timestamp,
) -> ConversationEvent {
    ConversationEvent {
        event_id,
        account: account.account,
        brand: account.brand,
        conversation,
        channel: context.channel,
        sent_at,
        received_at: context.received_at,
        text: None,
        attachments: Vec::new(),
        author_name: None,
        reply_handles: Vec::new(),
    }
}

/// A reply handle.
pub(crate) fn handle(name: &str, value: String) -> ReplyHandle {
    ReplyHandle {
        name: name.to_owned(),
        value,
    }
}

/// An attachment, with its reference if the channel gave a non-empty one.
pub(crate) fn attachment(kind: AttachmentKind, reference: Option<&Str<'_>>) -> Attachment {
    Attachment {
        kind,
        reference: text(reference),
    }
}

/// A string field as an owned string, `None` if absent or empty.
pub(crate) fn text(value: Option<&Str<'_>>) -> Option<String> {
    value
        .filter(|v| !v.as_str().is_empty())
        .map(Str::to_owned_string)
}

/// A Meta body's `object` for an error message: quoted, or `absent`.
pub(crate) fn describe_object(object: Option<&str>) -> String {
    object.map_or_else(
        || "absent".to_owned(),
        |o| format!("{:?}", crate::json::shorten(o)),
    )
}
