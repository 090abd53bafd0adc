//! WeChat Official Account messages: one flat XML document per call.
//!
//! Shape (WeChat's "receiving ordinary messages" and "receiving event pushes" guides):
//! `<xml><ToUserName>` (the official account), `<FromUserName>` (the user's OpenID),
//! `<CreateTime>` (seconds), `<MsgType>` (`text`, `image`, `voice`, `video`, `shortvideo`,
//! `location`, `link`, or `event` with `<Event>`), `<Content>`, `<MsgId>` (64-bit),
//! `<PicUrl>`, `<MediaId>`, `<Recognition>`, `<Label>`, `<Title>`, `<Url>` then `</xml>`, values as
//! text or CDATA.
//!
//! Conversation: `FromUserName`. Integration id and reply handle: `ToUserName`. Encrypted
//! bodies (`<Encrypt>` only) must be decrypted before they reach the raw topic.

use super::new_event;
use super::Context;
use crate::error::IngressError;
use crate::json::{parse_decimal_i64, Scalar};
use crate::outcome::SkipKind;
use crate::timestamp::Unit;
use parley_core::{Attachment, AttachmentKind, ReplyHandle};
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use std::borrow::Cow;

/// The child elements of `<xml>` that the adapter reads.
#[derive(Default)]
struct Fields<'a> {
    to_user_name: Option<Cow<'a, str>>,
    from_user_name: Option<Cow<'a, str>>,
    create_time: Option<Cow<'a, str>>,
    msg_type: Option<Cow<'a, str>>,
    content: Option<Cow<'a, str>>,
    msg_id: Option<Cow<'a, str>>,
    pic_url: Option<Cow<'a, str>>,
    media_id: Option<Cow<'a, str>>,
    recognition: Option<Cow<'a, str>>,
    label: Option<Cow<'a, str>>,
    title: Option<Cow<'a, str>>,
    url: Option<Cow<'a, str>>,
    event: Option<Cow<'a, str>>,
    encrypt: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> {
    fn slot(&mut self, name: &[u8]) -> Option<&mut Option<Cow<'a, str>>> {
        Some(match name {
            b"ToUserName" => &mut self.to_user_name,
            b"FromUserName" => &mut self.from_user_name,
            b"CreateTime" => &mut self.create_time,
            b"MsgType" => &mut self.msg_type,
            b"Content" => &mut self.content,
            // The voice-message reference spells it `MsgID`; the others `MsgId`.
            b"MsgId" | b"MsgID" => &mut self.msg_id,
            b"PicUrl" => &mut self.pic_url,
            b"MediaId" => &mut self.media_id,
            b"Recognition" => &mut self.recognition,
            b"Label" => &mut self.label,
            b"Title" => &mut self.title,
            b"Url" => &mut self.url,
            b"Event" => &mut self.event,
            b"Encrypt" => &mut self.encrypt,
            _ => return None,
        })
    }
}

/// A field's trimmed text, `None` if absent or blank.
fn present<'v>(value: &'v Option<Cow<'_, str>>) -> Option<&'v str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn malformed(detail: impl std::fmt::Display, position: u64) -> IngressError {
    IngressError::MalformedXml {
        detail: format!("{detail} (at byte {position})"),
    }
}

/// Reads the flat `<xml>` document: the text of each direct child of the root.
fn read_fields<'a>(body: &'a str, context: &Context<'_>) -> Result<Fields<'a>, IngressError> {
    let mut reader = Reader::from_str(body);
    let mut fields = Fields::default();
    let mut depth = 0usize;
    let mut saw_root = false;
    // The child element being read, and the text gathered for it so far.
    let mut current: Option<Vec<u8>> = None;
    let mut value: Option<Cow<'a, str>> = None;
    let append = |value: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>| match value {
        None => *value = Some(piece),
        Some(existing) => existing.to_mut().push_str(&piece),
    };
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|error| malformed(error, position))?;
        match event {
            XmlEvent::Start(start) => {
                depth += 1;
                if depth == 1 {
                    if saw_root {
                        return Err(malformed("a second root element", position));
                    }
                    saw_root = true;
                    if start.name().as_ref() != b"xml" {
                        let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                        return Err(context.wrong_channel(format!(
                            "the root element is <{name}>, expected <xml>"
                        )));
                    }
                } else if depth == 2 {
                    current = Some(start.name().as_ref().to_vec());
                    value = None;
                }
            }
            XmlEvent::End(_) => {
                if depth == 2 {
                    if let Some(name) = current.take() {
                        if let Some(slot) = fields.slot(&name) {
                            *slot = Some(value.take().unwrap_or(Cow::Borrowed("")));
                        }
                    }
                }
                depth = depth.saturating_sub(1);
            }
            XmlEvent::Empty(start) => {
                if depth == 0 {
                    return Err(context
                        .wrong_channel("the root element is empty, expected <xml> with children"));
                }
                if depth == 1 {
                    if let Some(slot) = fields.slot(start.name().as_ref()) {
                        *slot = Some(Cow::Borrowed(""));
                    }
                }
            }
            XmlEvent::Text(text) => {
                if depth == 0 {
                    if !text.iter().all(u8::is_ascii_whitespace) {
                        return Err(malformed("text outside the root element", position));
                    }
                } else if depth == 2 {
                    let piece = text.decode().map_err(|error| malformed(error, position))?;
                    append(&mut value, piece);
                }
            }
            XmlEvent::CData(data) => {
                if depth == 2 {
                    let piece = data.decode().map_err(|error| malformed(error, position))?;
                    append(&mut value, piece);
                } else if depth == 0 {
                    return Err(malformed("CDATA outside the root element", position));
                }
            }
            XmlEvent::GeneralRef(reference) => {
                let piece = match reference
                    .resolve_char_ref()
                    .map_err(|error| malformed(error, position))?
                {
                    Some(ch) => ch.to_string(),
                    None => match reference.as_ref() {
                        b"lt" => "<".into(),
                        b"gt" => ">".into(),
                        b"amp" => "&".into(),
                        b"apos" => "'".into(),
                        b"quot" => "\"".into(),
                        other => {
                            let name = String::from_utf8_lossy(other);
                            return Err(malformed(format!("unknown entity &{name};"), position));
                        }
                    },
                };
                if depth == 2 {
                    append(&mut value, Cow::Owned(piece));
                } else if depth == 0 {
                    return Err(malformed("an entity outside the root element", position));
                }
            }
            XmlEvent::Eof => {
                if depth != 0 {
                    return Err(malformed("the document ends inside an element", position));
                }
                if !saw_root {
                    return Err(malformed("no root element", position));
                }
                return Ok(fields);
            }
            XmlEvent::Decl(_) | XmlEvent::Comment(_) | XmlEvent::PI(_) | XmlEvent::DocType(_) => {}
        }
    }
}

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    let fields = read_fields(body, context)?;
    let Some(msg_type) = fields.msg_type.as_deref() else {
        if fields.encrypt.is_some() {
            return Err(context
                .missing("MsgType (the body is encrypted: decrypt it before ingress)".into()));
        }
        return Err(context.wrong_channel("a WeChat message has <MsgType>"));
    };
    let (kind, reference) = match msg_type {
        "text" => (None, None),
        "image" => (
            Some(AttachmentKind::Image),
            fields.media_id.as_deref().or(fields.pic_url.as_deref()),
        ),
        "voice" => (Some(AttachmentKind::Audio), fields.media_id.as_deref()),
        "video" | "shortvideo" => (Some(AttachmentKind::Video), fields.media_id.as_deref()),
        "location" => (Some(AttachmentKind::Location), None),
        "link" => (Some(AttachmentKind::Other), fields.url.as_deref()),
        "event" => {
            context.skip(match fields.event.as_deref() {
                Some("subscribe") => SkipKind::Follow,
                Some("CLICK") => SkipKind::PostbackWithoutText,
                Some("TEMPLATESENDJOBFINISH" | "MASSSENDJOBFINISH") => SkipKind::Delivery,
                _ => SkipKind::Other,
            });
            return Ok(());
        }
        _ => {
            context.skip(SkipKind::Other);
            return Ok(());
        }
    };
    let from = present(&fields.from_user_name)
        .ok_or_else(|| context.missing("FromUserName".into()))?
        .to_owned();
    let to = present(&fields.to_user_name)
        .ok_or_else(|| context.missing("ToUserName".into()))?
        .to_owned();
    let msg_id = present(&fields.msg_id).ok_or_else(|| context.missing("MsgId".into()))?;
    let create_time = present(&fields.create_time).map(|t| Scalar::Text(Cow::Borrowed(t)));
    let sent_at = context.sent_at(create_time.as_ref(), Unit::Seconds, || "CreateTime".into())?;
    if parse_decimal_i64(msg_id).is_none() && msg_id.parse::<u64>().is_err() {
        return Err(IngressError::InvalidField {
            channel: context.channel,
            field: "MsgId".into(),
            value: Some(crate::json::shorten(msg_id)),
            rule: "must be a 64-bit decimal integer".into(),
        });
    }
    let msg_id = msg_id.to_owned();
    let account = context.account(Some(&to))?;
    let mut event = new_event(context, account, msg_id, from, sent_at);
    let owned = |value: &Option<Cow<'_, str>>| present(value).map(str::to_owned);
    event.text = match msg_type {
        "text" => fields
            .content
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        "voice" => owned(&fields.recognition),
        "location" => owned(&fields.label),
        "link" => owned(&fields.title),
        _ => None,
    };
    if let Some(kind) = kind {
        let reference = reference
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        event.attachments.push(Attachment { kind, reference });
    }
    event.reply_handles.push(ReplyHandle {
        name: "ToUserName".into(),
        value: to,
    });
    context.push(event);
    Ok(())
}
