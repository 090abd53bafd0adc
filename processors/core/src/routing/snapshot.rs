//! Persistence of the routing engine: the entities a run of steps changed, their durable
//! records, and an engine rebuilt from them.

use super::agents::ChannelSlot;
use super::config::RoutingConfig;
use super::engine::RoutingEngine;
use super::fast_map::FastSet;
use super::ledger::AgentSlot;
use super::records::{AgentChannelRecord, AgentRecord, TicketRecord, TicketRecordState};
use super::ticket::{Ticket, TicketState};
use super::types::Dirty;
use std::sync::Arc;

impl RoutingEngine {
    /// The agents and tickets changed since the last call, sorted. A ticket id whose
    /// [`RoutingEngine::ticket_record`] is `None` was forgotten: delete it.
    pub fn take_dirty(&mut self) -> Dirty {
        fn sorted_ids(set: &mut FastSet<Arc<str>>) -> Vec<String> {
            let mut ids: Vec<String> = set.drain().map(|id| id.to_string()).collect();
            ids.sort_unstable();
            ids
        }
        Dirty {
            agents: sorted_ids(&mut self.dirty_agents),
            tickets: sorted_ids(&mut self.dirty_tickets),
        }
    }

    /// The durable facts of an agent.
    pub fn agent_record(&self, agent_id: &str) -> Option<AgentRecord> {
        let agent = self.agents.get(self.agents.slot(agent_id)?);
        Some(AgentRecord {
            agent_id: agent.id.to_string(),
            channels: agent
                .channels
                .iter()
                .map(|(channel, slot)| AgentChannelRecord {
                    channel: *channel,
                    status: slot.status,
                    capacity: slot.capacity,
                    status_since: slot.status_since,
                    counters: slot.counters.clone(),
                    offer_timeouts_in_row: slot.offer_timeouts_in_row,
                    away_for_missed_offers: slot.away_for_missed_offers,
                })
                .collect(),
            skills: agent.skills.iter().cloned().collect(),
            groups: agent.groups.iter().cloned().collect(),
            last_assigned_seq: agent.last_assigned_seq,
        })
    }

    /// The durable facts of a ticket.
    pub fn ticket_record(&self, ticket_id: &str) -> Option<TicketRecord> {
        let ticket = self.tickets.get(ticket_id)?;
        let agent_id = |a: AgentSlot| self.agents.get(a).id.to_string();
        Some(TicketRecord {
            ticket_id: ticket.id.to_string(),
            account: ticket.account.clone(),
            conversation: ticket.conversation.clone(),
            channel: ticket.channel,
            priority: ticket.priority,
            required_skills: ticket.skills.clone(),
            group: ticket.group.clone(),
            created_at: ticket.created_at,
            sla_breach_at: ticket.sla_breach_at,
            queued_since: ticket.queued_since,
            skills_relaxed: ticket.skills_relaxed,
            skills_due: ticket.skills_due,
            queue: ticket.queue.as_deref().cloned(),
            secondary_open: ticket.secondary_open,
            secondary_due: ticket.secondary_due,
            state: match ticket.state {
                TicketState::Queued => TicketRecordState::Queued,
                TicketState::Offered { agent, due } => TicketRecordState::Offered {
                    agent_id: agent_id(agent),
                    due,
                },
                TicketState::Assigned {
                    agent,
                    grace_due,
                    inactive,
                } => TicketRecordState::Assigned {
                    agent_id: agent_id(agent),
                    consuming: self.ledger.holder(ticket_id).is_some(),
                    grace_due,
                    inactive,
                },
            },
            declined_by: ticket.declined_by.iter().map(|id| id.to_string()).collect(),
        })
    }

    /// Rebuilds an engine from its records: agents, tickets, the ledger, the queue and
    /// every index. Nothing is marked dirty. O((agents + tickets) log n).
    pub fn restore(
        account: impl Into<String>,
        config: RoutingConfig,
        agents: impl IntoIterator<Item = AgentRecord>,
        tickets: impl IntoIterator<Item = TicketRecord>,
    ) -> RoutingEngine {
        let mut engine = RoutingEngine::new(account, config);
        for record in agents {
            let a = engine.agents.ensure(&record.agent_id);
            let agent = engine.agents.get_mut(a);
            for ch in record.channels {
                agent.channels.insert(
                    ch.channel,
                    ChannelSlot {
                        status: ch.status,
                        capacity: ch.capacity,
                        offered: 0,
                        inactive: 0,
                        status_since: ch.status_since,
                        counters: ch.counters,
                        offer_timeouts_in_row: ch.offer_timeouts_in_row,
                        away_for_missed_offers: ch.away_for_missed_offers,
                    },
                );
            }
            agent.skills = record.skills.into_iter().collect();
            agent.groups = record.groups.into_iter().collect();
            agent.last_assigned_seq = record.last_assigned_seq;
            engine.assign_seq = engine.assign_seq.max(record.last_assigned_seq);
        }
        for record in tickets {
            let id: Arc<str> = Arc::from(record.ticket_id.as_str());
            let mut ticket = Ticket {
                id: id.clone(),
                account: record.account,
                conversation: record.conversation,
                channel: record.channel,
                priority: record.priority,
                skills: record.required_skills,
                group: record.group,
                created_at: record.created_at,
                sla_breach_at: record.sla_breach_at,
                queued_since: record.queued_since,
                skills_relaxed: record.skills_relaxed,
                skills_due: record.skills_due,
                queue: record.queue.map(Arc::new),
                secondary_open: record.secondary_open,
                secondary_due: record.secondary_due,
                class: 0,
                state: TicketState::Queued,
                declined_by: record
                    .declined_by
                    .iter()
                    .map(|s| Arc::from(s.as_str()))
                    .collect(),
            };
            let key = ticket.class_key();
            if let Some(class) = engine.queue.class_id(&key) {
                ticket.class = class;
            } else {
                ticket.class = engine.queue.add_class(key);
                engine.agents.add_class(
                    ticket.class,
                    &engine.ledger,
                    &engine.queue,
                    engine.config.mode,
                );
            }
            match record.state {
                TicketRecordState::Queued => engine
                    .queue
                    .push(ticket.class, ticket.queue_key(engine.config.queue_order)),
                TicketRecordState::Offered { agent_id, due } => {
                    let a = engine.agents.ensure(&agent_id);
                    let agent = engine.agents.get_mut(a);
                    agent.offers.insert(id.clone());
                    agent
                        .channels
                        .entry(ticket.channel)
                        .or_insert_with(|| ChannelSlot::offline(due))
                        .offered += 1;
                    ticket.state = TicketState::Offered { agent: a, due };
                }
                TicketRecordState::Assigned {
                    agent_id,
                    consuming,
                    grace_due,
                    inactive,
                } => {
                    let a = engine.agents.ensure(&agent_id);
                    if consuming {
                        engine.ledger.consume(&id, a, ticket.channel);
                    }
                    if grace_due.is_some() {
                        engine.agents.get_mut(a).in_grace.insert(id.clone());
                    }
                    if inactive {
                        if let Some(slot) =
                            engine.agents.get_mut(a).channels.get_mut(&ticket.channel)
                        {
                            slot.inactive += 1;
                        }
                    }
                    ticket.state = TicketState::Assigned {
                        agent: a,
                        grace_due,
                        inactive,
                    };
                }
            }
            engine.tickets.insert(id, ticket);
        }
        for a in engine.agents.slots().collect::<Vec<_>>() {
            engine.agents.recompute_classes(a, &engine.queue);
            engine
                .agents
                .attach(a, &engine.ledger, &engine.queue, engine.config.mode);
        }
        engine
    }
}
