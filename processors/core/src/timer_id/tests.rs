//! Round trips of every timer encoding, the bytes they are pinned to, the earlier forms
//! still decoded, and what does not decode.

use super::*;
use crate::routing::RoutingTimer;
use crate::sla::SlaTimer;
use crate::{TicketTimer, Timestamp};
use proptest::prelude::*;

fn encoded(timer: &impl TimerId) -> Vec<u8> {
    let mut out = Vec::new();
    timer.encode(&mut out);
    out
}

fn lifecycle(ticket_id: &str, due: i64) -> ConversationTimer {
    ConversationTimer::Lifecycle(TicketTimer {
        ticket_id: ticket_id.into(),
        due: Timestamp(due),
    })
}

fn sla(ticket_id: &str, clock: u32, due: i64) -> ConversationTimer {
    ConversationTimer::Sla(SlaTimer {
        ticket_id: ticket_id.into(),
        clock,
        due: Timestamp(due),
    })
}

fn conversation_timer() -> impl Strategy<Value = ConversationTimer> {
    prop_oneof![
        (".*", any::<i64>()).prop_map(|(ticket, due)| lifecycle(&ticket, due)),
        (".*", any::<u32>(), any::<i64>())
            .prop_map(|(ticket, clock, due)| sla(&ticket, clock, due)),
    ]
}

fn routing_timer() -> impl Strategy<Value = RoutingTimer> {
    (0..4u8, ".*", ".*", any::<i64>()).prop_map(|(kind, ticket_id, agent_id, due)| {
        let due = Timestamp(due);
        match kind {
            0 => RoutingTimer::OfferTimeout {
                ticket_id,
                agent_id,
                due,
            },
            1 => RoutingTimer::SkillsTimeout { ticket_id, due },
            2 => RoutingTimer::SecondaryGroups { ticket_id, due },
            _ => RoutingTimer::ReturningGrace {
                ticket_id,
                agent_id,
                due,
            },
        }
    })
}

proptest! {
    #[test]
    fn conversation_timers_round_trip(timer in conversation_timer()) {
        prop_assert_eq!(ConversationTimer::decode(&encoded(&timer)), Ok(timer));
    }

    #[test]
    fn routing_timers_round_trip(timer in routing_timer()) {
        prop_assert_eq!(RoutingTimer::decode(&encoded(&timer)), Ok(timer));
    }

    #[test]
    fn equal_encodings_are_equal_timers(a in conversation_timer(), b in conversation_timer()) {
        prop_assert_eq!(encoded(&a) == encoded(&b), a == b);
    }

    #[test]
    fn a_cut_or_extended_encoding_does_not_decode(
        timer in routing_timer(),
        cut in any::<prop::sample::Index>(),
        extra in 1..4usize,
    ) {
        let bytes = encoded(&timer);
        let cut = cut.index(bytes.len());
        prop_assert!(RoutingTimer::decode(&bytes[..cut]).is_err());
        let mut longer = bytes.clone();
        longer.extend(std::iter::repeat_n(0, extra));
        prop_assert_eq!(
            RoutingTimer::decode(&longer),
            Err(TimerDecodeError::TrailingBytes { count: extra })
        );
    }
}

#[test]
fn the_encodings_are_tag_due_then_fields() {
    let mut lifecycle_bytes = vec![0x01];
    lifecycle_bytes.extend_from_slice(&1_000i64.to_be_bytes());
    lifecycle_bytes.extend_from_slice(&[0, 0, 0, 3]);
    lifecycle_bytes.extend_from_slice(b"t/1");
    assert_eq!(encoded(&lifecycle("t/1", 1_000)), lifecycle_bytes);

    let mut sla_bytes = vec![0x02];
    sla_bytes.extend_from_slice(&(-5i64).to_be_bytes());
    sla_bytes.extend_from_slice(&7u32.to_be_bytes());
    sla_bytes.extend_from_slice(&[0, 0, 0, 2]);
    sla_bytes.extend_from_slice(b"t1");
    assert_eq!(encoded(&sla("t1", 7, -5)), sla_bytes);

    let offer = RoutingTimer::OfferTimeout {
        ticket_id: "t1".into(),
        agent_id: "a".into(),
        due: Timestamp(42),
    };
    let mut offer_bytes = vec![0x01];
    offer_bytes.extend_from_slice(&42i64.to_be_bytes());
    offer_bytes.extend_from_slice(&[0, 0, 0, 2, b't', b'1', 0, 0, 0, 1, b'a']);
    assert_eq!(encoded(&offer), offer_bytes);
}

#[test]
fn lifecycle_and_sla_timers_of_one_ticket_and_due_are_different_timers() {
    assert_ne!(encoded(&lifecycle("t1", 10)), encoded(&sla("t1", 0, 10)));
}

#[test]
fn earlier_text_forms_of_conversation_timers_still_decode() {
    assert_eq!(
        ConversationTimer::decode(b"close/1700000000000/acme/t/1"),
        Ok(lifecycle("acme/t/1", 1_700_000_000_000))
    );
    assert_eq!(
        ConversationTimer::decode(b"close/-3/t1"),
        Ok(lifecycle("t1", -3))
    );
    assert_eq!(
        ConversationTimer::decode(b"sla/1700000000000/2/acme/t/1"),
        Ok(sla("acme/t/1", 2, 1_700_000_000_000))
    );
    // A legacy timer decodes to the same timer as its new encoding: it fires the same way.
    let stored = ConversationTimer::decode(b"sla/900000/0/t1").unwrap();
    assert_eq!(
        ConversationTimer::decode(&encoded(&stored)),
        Ok(sla("t1", 0, 900_000))
    );
}

#[test]
fn the_routers_earlier_json_still_decodes() {
    let stored = br#"{"offer_timeout":{"ticket_id":"acme/c/1","agent_id":"a/1","due":42}}"#;
    assert_eq!(
        RoutingTimer::decode(stored),
        Ok(RoutingTimer::OfferTimeout {
            ticket_id: "acme/c/1".into(),
            agent_id: "a/1".into(),
            due: Timestamp(42),
        })
    );
    for timer in [
        RoutingTimer::SkillsTimeout {
            ticket_id: "t1".into(),
            due: Timestamp(1),
        },
        RoutingTimer::SecondaryGroups {
            ticket_id: "t1".into(),
            due: Timestamp(2),
        },
        RoutingTimer::ReturningGrace {
            ticket_id: "t1".into(),
            agent_id: "a1".into(),
            due: Timestamp(3),
        },
    ] {
        let json = serde_json::to_vec(&timer).unwrap();
        assert_eq!(RoutingTimer::decode(&json), Ok(timer));
    }
}

#[test]
fn what_does_not_decode_says_why() {
    assert_eq!(ConversationTimer::decode(b""), Err(TimerDecodeError::Empty));
    assert_eq!(
        ConversationTimer::decode(b"other/1/t"),
        Err(TimerDecodeError::UnknownTag { tag: b'o' })
    );
    assert_eq!(
        ConversationTimer::decode(b"close/x/t"),
        Err(TimerDecodeError::LegacyText {
            format: "close/<due>/<ticket id>",
            field: "due"
        })
    );
    assert_eq!(
        ConversationTimer::decode(b"sla/1/x/t"),
        Err(TimerDecodeError::LegacyText {
            format: "sla/<due>/<clock>/<ticket id>",
            field: "clock"
        })
    );
    assert_eq!(
        ConversationTimer::decode(b"colour"),
        Err(TimerDecodeError::LegacyText {
            format: "close/<due>/<ticket id>",
            field: "prefix"
        })
    );
    assert_eq!(
        ConversationTimer::decode(&[0x01, 0, 0]),
        Err(TimerDecodeError::Truncated { field: "due" })
    );
    let mut bad_text = vec![0x01];
    bad_text.extend_from_slice(&0i64.to_be_bytes());
    bad_text.extend_from_slice(&[0, 0, 0, 1, 0xff]);
    assert_eq!(
        ConversationTimer::decode(&bad_text),
        Err(TimerDecodeError::NotUtf8 { field: "ticket_id" })
    );
    // A router timer is not a conversation timer's text form, nor the reverse.
    assert!(RoutingTimer::decode(b"close/1/t").is_err());
    assert!(matches!(
        RoutingTimer::decode(b"{\"nonsense\":1}"),
        Err(TimerDecodeError::LegacyJson { .. })
    ));
    assert_eq!(
        ConversationTimer::decode(b"{}"),
        Err(TimerDecodeError::UnknownTag { tag: b'{' })
    );
    assert!(RoutingTimer::decode(&[0x05]).is_err());
}

#[test]
fn conversation_timers_read_well() {
    assert_eq!(
        lifecycle("t1", 1_000).to_string(),
        "lifecycle ticket t1 due 1000"
    );
    assert_eq!(
        sla("t1", 2, 1_000).to_string(),
        "sla ticket t1 clock 2 due 1000"
    );
}
