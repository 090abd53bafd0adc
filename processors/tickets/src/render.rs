//! How the ticket processor's state reads on the `/state/<key>` endpoint of a running
//! instance (`parley inspect ticket ACCOUNT/CONVERSATION`).

use crate::processor::Conversation;
use parley_runtime::state::PartitionView;
use serde_json::Value;

/// Renders the stored lifecycle of a conversation (state key `account/conversation`) as
/// JSON: `account`, `conversation`, `tickets_created`, `current` (the ticket that is not
/// Closed, with its status, assignee, timings and `close_due`, or `null`), `last_closed` (the
/// latest Closed ticket's id), `clock` (the latest time the lifecycle saw, ms since the
/// epoch), and `recent_inputs`: how many input ids the duplicate filter remembers (their
/// hashes are left out), and `sla`: the SLA clocks of the current ticket.
///
/// The value is parsed as the processor's [`Conversation`] first (or a lone lifecycle, as
/// stored before SLA clocks), so an entry the processor could not restore is an error here
/// too.
pub fn render_state(
    state_key: &[u8],
    value: &[u8],
    _partition: &PartitionView,
) -> Result<Value, String> {
    let conversation = Conversation::from_stored(value).map_err(|e| {
        format!(
            "state entry {:?} is not a ticket lifecycle: {e}",
            String::from_utf8_lossy(state_key)
        )
    })?;
    let mut json = serde_json::to_value(&conversation.lifecycle).map_err(|e| e.to_string())?;
    if let Some(object) = json.as_object_mut() {
        if let Some(recent) = object.remove("recent") {
            let count = recent.as_array().map_or(0, Vec::len);
            object.insert("recent_inputs".to_owned(), Value::from(count));
        }
        let sla = serde_json::to_value(&conversation.sla).map_err(|e| e.to_string())?;
        object.insert("sla".to_owned(), sla);
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{
        Channel, ConversationEvent, Status, StyleSettings, TicketInput, TicketLifecycle, Timestamp,
    };
    use parley_runtime::state::StateStore;

    fn message(id: &str, at: i64) -> TicketInput {
        TicketInput::Message(ConversationEvent {
            event_id: id.into(),
            account: "acme".into(),
            brand: None,
            conversation: "c1".into(),
            channel: Channel::Whatsapp,
            sent_at: Timestamp(at),
            received_at: Timestamp(at),
            text: Some("hi".into()),
            attachments: Vec::new(),
            author_name: None,
            reply_handles: Vec::new(),
        })
    }

    fn with_partition(test: impl FnOnce(&PartitionView)) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "parley-tickets-render-{}-{nanos}",
            std::process::id()
        ));
        let store = StateStore::open(&dir).unwrap().0;
        test(&PartitionView::new(store.partition(0).unwrap()));
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_stored_lifecycle_renders_its_current_ticket_and_counts_recent_inputs() {
        let mut lifecycle = TicketLifecycle::new("acme", "c1");
        let _ = lifecycle.step(
            message("m1", 1_000),
            &StyleSettings::default(),
            Timestamp(1_000),
        );
        let _ = lifecycle.step(
            message("m2", 2_000),
            &StyleSettings::default(),
            Timestamp(2_000),
        );
        let stored = serde_json::to_vec(&lifecycle).unwrap();
        with_partition(|partition| {
            let json = render_state(b"acme/c1", &stored, partition).unwrap();
            assert_eq!(json["account"], "acme");
            assert_eq!(json["conversation"], "c1");
            assert_eq!(json["tickets_created"], 1);
            assert_eq!(json["recent_inputs"], 2);
            assert!(json.get("recent").is_none(), "{json}");
            assert_eq!(
                json["sla"]["ticket"],
                serde_json::Value::Null,
                "stored before SLAs"
            );
            let current = lifecycle.current().unwrap();
            assert_eq!(json["current"]["id"], current.id);
            assert_eq!(
                json["current"]["status"],
                serde_json::to_value(Status::New).unwrap()
            );
        });
    }

    #[test]
    fn an_entry_that_is_not_a_lifecycle_is_an_error_naming_the_key() {
        with_partition(|partition| {
            let error = render_state(b"acme/c1", b"{\"x\":1}", partition).unwrap_err();
            assert!(
                error.starts_with("state entry \"acme/c1\" is not a ticket lifecycle"),
                "{error}"
            );
        });
    }
}
