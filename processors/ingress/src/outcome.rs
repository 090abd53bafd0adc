//! What a raw record became: its events, and the kinds of the items skipped.

use parley_core::ConversationEvent;
use serde::{Deserialize, Serialize};

/// Why an item of a webhook body produced no event. Counted by kind, never sent to the DLQ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// A delivery receipt (or a "sent" status) for a message the business sent.
    Delivery,
    /// A read receipt.
    Read,
    /// A typing indicator.
    Typing,
    /// An echo of a message the business itself sent.
    Echo,
    /// A button press that carries only a machine payload, no text for an agent.
    PostbackWithoutText,
    /// A reaction (emoji) to an earlier message.
    Reaction,
    /// The end user withdrew or deleted an earlier message.
    Unsend,
    /// The end user followed, subscribed, joined or opened the conversation.
    Follow,
    /// Anything else that is not an end-user message (unfollow, edits, service messages,
    /// event kinds this version does not know).
    Other,
}

impl SkipKind {
    /// Every kind, for registering metric labels up front.
    pub const ALL: [SkipKind; 9] = [
        SkipKind::Delivery,
        SkipKind::Read,
        SkipKind::Typing,
        SkipKind::Echo,
        SkipKind::PostbackWithoutText,
        SkipKind::Reaction,
        SkipKind::Unsend,
        SkipKind::Follow,
        SkipKind::Other,
    ];

    /// The stable label for the skipped-items counter.
    pub const fn label(self) -> &'static str {
        match self {
            SkipKind::Delivery => "delivery",
            SkipKind::Read => "read",
            SkipKind::Typing => "typing",
            SkipKind::Echo => "echo",
            SkipKind::PostbackWithoutText => "postback_without_text",
            SkipKind::Reaction => "reaction",
            SkipKind::Unsend => "unsend",
            SkipKind::Follow => "follow",
            SkipKind::Other => "other",
        }
    }
}

/// What one raw record became: its messages as events, in body order, and the kinds of
/// the items that were skipped, in body order.
#[must_use = "the events must be produced and the skipped items counted"]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// One event per end-user message in the body.
    pub events: Vec<ConversationEvent>,
    /// One entry per item of the body that is not an end-user message.
    pub skipped: Vec<SkipKind>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_labels_are_the_serde_names_and_distinct() {
        let mut labels = Vec::new();
        for kind in SkipKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                kind.label(),
                "{kind:?}"
            );
            labels.push(kind.label());
        }
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), SkipKind::ALL.len());
    }
}
