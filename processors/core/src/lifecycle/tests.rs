//! Unit tests of the lifecycle's own rules; the styles' behaviour is tested in
//! `tests/conversational_styles.rs`.

use super::*;
use crate::model::*;
use crate::style::StyleSettings;
use crate::time::Timestamp;

fn solve_by(agent: &str, id: &str) -> TicketInput {
    TicketInput::Action(AgentAction {
        action_id: id.into(),
        account: "acme".into(),
        conversation: "c1".into(),
        agent_id: agent.into(),
        kind: AgentActionKind::SetStatus,
        status: Some(Status::Solved),
        priority: None,
        at: Timestamp(0),
    })
}

#[test]
fn a_refused_input_leaves_the_state_as_it_was() {
    let style = StyleSettings::default();
    let mut lifecycle = TicketLifecycle::new("acme", "c1");
    let message = ConversationEvent {
        event_id: "m1".into(),
        account: "acme".into(),
        brand: None,
        conversation: "c1".into(),
        channel: Channel::Web,
        sent_at: Timestamp(0),
        received_at: Timestamp(0),
        text: None,
        attachments: vec![],
        author_name: None,
        reply_handles: vec![],
    };
    let _ = lifecycle.step(TicketInput::Message(message), &style, Timestamp(10));
    let before = lifecycle.clone();
    let fx = lifecycle.step(solve_by("ana", "a1"), &style, Timestamp(20));
    assert_eq!(fx.rejections.len(), 1);
    assert_eq!(
        lifecycle, before,
        "the runtime may drop a rejected step's effects"
    );
    let again = lifecycle.step(solve_by("ana", "a1"), &style, Timestamp(10));
    assert_eq!(
        again.rejections, fx.rejections,
        "a redelivery is refused again, not dropped"
    );
}

#[test]
fn input_for_another_conversation_is_refused() {
    let mut lifecycle = TicketLifecycle::new("acme", "c2");
    let fx = lifecycle.step(
        solve_by("ana", "a1"),
        &StyleSettings::default(),
        Timestamp(0),
    );
    assert_eq!(fx.rejections[0].kind, RejectionKind::WrongConversation);
}
