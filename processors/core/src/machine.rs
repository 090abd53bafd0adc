//! [`StateMachine`]: the one shape of parley's sans-IO state machines, and its three
//! implementors ([`TicketLifecycle`], [`RoutingEngine`], [`SlaClocks`]).

use crate::lifecycle::{TicketEffects, TicketInput, TicketLifecycle};
use crate::routing::{RoutingEffects, RoutingEngine, RoutingInput};
use crate::sla::{SlaClocks, SlaConfig, SlaEffects, SlaInput};
use crate::style::StyleSettings;
use crate::time::Timestamp;

/// A sans-IO state machine: stepped one input at a time, it returns what the step caused
/// as one batch of effects for its host to apply.
///
/// # Contract
///
/// - **Deterministic.** The same state, input, settings and `now` give the same effects,
///   byte for byte, and the same next state: ids are derived from the inputs, never from a
///   random source, a clock or hash order.
/// - **No clock, no I/O.** Time is the `now` argument; nothing is read or written outside
///   the machine but through the effects it returns.
/// - **Time moves forward.** The host passes each step a `now` no earlier than the last.
/// - **Effects before the next step.** The host applies a step's effects (records to
///   produce, timers to set or cancel, rejections for the DLQ) before it steps the machine
///   again, and feeds every timer back as an input once due; a timer that was cancelled or
///   replaced in the meantime is ignored.
/// - **A refused input changes nothing.** An input the effects report as rejected leaves
///   the machine as it was, so the host may drop that step's effects but the rejection.
pub trait StateMachine {
    /// What the machine is stepped with: a record from a topic, or a timer it set.
    type Input<'a>;
    /// What the host keeps for the machine and hands it at every step: the settings in
    /// force. `()` for a machine that keeps its own.
    type Settings<'a>;
    /// What one step caused, for the host to apply before the next step.
    type Effects;

    /// Applies one input at `now` under `settings` and returns what it caused.
    #[must_use = "effects must be applied by the host"]
    fn step(
        &mut self,
        input: Self::Input<'_>,
        settings: Self::Settings<'_>,
        now: Timestamp,
    ) -> Self::Effects;
}

/// One conversation's tickets, stepped under the style settings in force for it.
impl StateMachine for TicketLifecycle {
    type Input<'a> = TicketInput;
    type Settings<'a> = &'a StyleSettings;
    type Effects = TicketEffects;

    fn step(&mut self, input: TicketInput, style: &StyleSettings, now: Timestamp) -> TicketEffects {
        TicketLifecycle::step(self, input, style, now)
    }
}

/// One account's router; it keeps its own [`RoutingConfig`](crate::routing::RoutingConfig).
impl StateMachine for RoutingEngine {
    type Input<'a> = &'a RoutingInput;
    type Settings<'a> = ();
    type Effects = RoutingEffects;

    fn step(&mut self, input: &RoutingInput, (): (), now: Timestamp) -> RoutingEffects {
        RoutingEngine::step(self, input, now)
    }
}

/// A conversation's SLA clocks, stepped under the SLA policies and schedules in force.
impl StateMachine for SlaClocks {
    type Input<'a> = SlaInput<'a>;
    type Settings<'a> = SlaConfig<'a>;
    type Effects = SlaEffects;

    fn step(&mut self, input: SlaInput<'_>, config: SlaConfig<'_>, now: Timestamp) -> SlaEffects {
        SlaClocks::step(self, input, config, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::routing::RoutingConfig;
    use crate::sla::{Schedules, SlaConditions, SlaMetric, SlaPolicies, SlaPolicy, SlaPriority};
    use crate::sla::{SlaEventKind, SlaTarget, SlaTimerCommand};
    use crate::time::Millis;
    use std::fmt::Debug;

    /// Steps fresh machines from `new` through `inputs`, each at its time, twice, checks
    /// that both runs gave the same effects (the contract's determinism), and returns them.
    fn run<'a, M>(
        new: impl Fn() -> M,
        settings: M::Settings<'a>,
        inputs: Vec<(M::Input<'a>, Timestamp)>,
    ) -> Vec<M::Effects>
    where
        M: StateMachine,
        M::Input<'a>: Clone,
        M::Settings<'a>: Copy,
        M::Effects: PartialEq + Debug,
    {
        let mut runs = [new(), new()].map(|mut machine| {
            inputs
                .iter()
                .map(|(input, now)| machine.step(input.clone(), settings, *now))
                .collect::<Vec<_>>()
        });
        let [first, second] = &mut runs;
        assert_eq!(first, second, "the same inputs gave other effects");
        std::mem::take(first)
    }

    /// An end user's first message steps the lifecycle, whose routing request and status
    /// change step the router and the SLA clocks, each through the one shape.
    #[test]
    fn a_first_message_steps_the_lifecycle_the_router_and_the_clocks() {
        let message = TicketInput::Message(ConversationEvent {
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
        });
        let style = StyleSettings::default();
        let lifecycle = run(
            || TicketLifecycle::new("acme", "c1"),
            &style,
            vec![(message, Timestamp(10))],
        )
        .remove(0);
        let created = &lifecycle.status_changes[0];
        assert_eq!(created.from, None);
        let enqueue = &lifecycle.routing_requests[0];
        assert_eq!(enqueue.kind, RoutingRequestKind::Enqueue);

        let presence = RoutingInput::Presence(AgentPresence {
            presence_id: "p1".into(),
            account: "acme".into(),
            agent_id: "ana".into(),
            channels: vec![ChannelPresence {
                channel: Channel::Web,
                status: AgentStatus::Online,
                capacity: 1,
            }],
            skills: vec![],
            groups: vec![],
            at: Timestamp(0),
        });
        let request = RoutingInput::Request(enqueue.clone());
        let routing = run(
            || RoutingEngine::new("acme", RoutingConfig::default()),
            (),
            vec![(&presence, Timestamp(0)), (&request, Timestamp(10))],
        );
        let offer = &routing[1].decisions[0];
        assert_eq!(
            (
                offer.kind,
                offer.agent_id.as_deref(),
                offer.ticket_id.as_str()
            ),
            (
                RoutingDecisionKind::Offered,
                Some("ana"),
                &*enqueue.ticket_id
            )
        );

        let mut policies = SlaPolicies::new();
        policies
            .upsert(SlaPolicy {
                account: "acme".into(),
                policy_id: "standard".into(),
                position: 0,
                conditions: SlaConditions::default(),
                schedule_id: None,
                targets: vec![SlaTarget {
                    metric: SlaMetric::FirstReplyTime,
                    priority: SlaPriority::Normal,
                    target_ms: Millis::minutes(10),
                    business_hours: false,
                }],
                updated_at: Timestamp(0),
            })
            .unwrap();
        let config = SlaConfig {
            policies: &policies,
            schedules: &Schedules::new(),
        };
        let status = SlaInput::Status {
            change: created,
            priority: enqueue.priority,
        };
        let sla = run(
            || SlaClocks::new("acme", "c1"),
            config,
            vec![(status, Timestamp(10))],
        )
        .remove(0);
        let started = &sla.events[0];
        assert_eq!(
            (started.metric, started.kind),
            (SlaMetric::FirstReplyTime, SlaEventKind::Activated)
        );
        let due = Timestamp(10) + Millis::minutes(10);
        assert!(
            matches!(&sla.timers[..], [SlaTimerCommand::Set(timer)] if timer.due == due),
            "{:?}",
            sla.timers
        );
    }
}
