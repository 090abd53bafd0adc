//! What the demo reads back: the pipeline's output records, turned into what the simulated
//! people see (their tickets, offers and assignments).

use super::people::{Event, Seen};
use super::world::{Offer, World};
use anyhow::anyhow;
use parley_core::topics::conversation_key;
use parley_core::*;
use parley_runtime::codec::{AvroCodec, AvroRecord};
use rdkafka::consumer::Consumer;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::time::{Duration, Instant};

impl World {
    pub(super) fn read_outputs(&mut self) -> anyhow::Result<()> {
        for _ in 0..10_000 {
            let Some(message) = self.reader.poll(Duration::ZERO) else {
                break;
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "demo reader");
                    continue;
                }
            };
            self.read.records += 1;
            let payload = message.payload().unwrap_or_default();
            match message.topic() {
                "ticket-status-changes" => {
                    let change = decode::<StatusChange>(payload)?;
                    self.observe_change(&change);
                    self.read.status_changes.push(change);
                }
                "routing-decisions" => {
                    let decision = decode::<RoutingDecision>(payload)?;
                    self.observe_decision(&decision, message.partition(), message.offset());
                }
                "ticket-metrics" => self.read.ticket_metrics.push(decode(payload)?),
                "agent-metrics" => {
                    let metrics: AgentMetrics = decode(payload)?;
                    self.latest_agents
                        .insert((metrics.agent_id.clone(), metrics.channel), metrics.clone());
                    self.read.agent_metrics.push(metrics);
                }
                _ => {
                    let reason = message
                        .headers()
                        .and_then(|headers| {
                            headers
                                .iter()
                                .find(|h| h.key == parley_runtime::dlq::headers::REASON)
                                .and_then(|h| h.value)
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                        })
                        .unwrap_or_else(|| "unknown".to_owned());
                    *self.read.dlq_reasons.entry(reason).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn observe_change(&mut self, change: &StatusChange) {
        self.tickets
            .insert(String::from(&*change.ticket_id), (change.style, change.to));
        let key = conversation_key(&change.account, &change.conversation);
        let Some(&index) = self.by_key.get(&key) else {
            return;
        };
        let customer = &mut self.customers[index];
        if change.to == Status::Closed {
            if customer
                .ticket
                .as_ref()
                .is_some_and(|t| *t.id == *change.ticket_id)
            {
                customer.ticket = None;
            }
        } else {
            customer.ticket = Some(Seen {
                id: String::from(&*change.ticket_id),
                style: change.style,
                status: change.to,
                assignee: change.assignee.clone(),
            });
        }
        if customer.in_flight == Some(change.to)
            || (change.to == Status::Closed && customer.in_flight.is_some())
        {
            customer.in_flight = None;
        }
        self.maybe_schedule_work(index);
    }

    fn observe_decision(&mut self, decision: &RoutingDecision, partition: i32, offset: i64) {
        let now = self.now();
        let agent = decision
            .agent_id
            .as_deref()
            .and_then(|id| self.agent_index.get(id).copied());
        match decision.kind {
            RoutingDecisionKind::Offered => {
                let key = conversation_key(&decision.account, &decision.conversation);
                let (Some(agent), Some(&customer)) = (agent, self.by_key.get(&key)) else {
                    return;
                };
                self.offers.insert(
                    decision.ticket_id.clone(),
                    Offer {
                        agent: self.agents[agent].id.clone(),
                        customer,
                        partition,
                        offset,
                        seen: now,
                    },
                );
                let a = &mut self.agents[agent];
                // An agent on a break does not see offers: the router withdraws them.
                if !a.online || a.rng.chance(0.03) {
                    return;
                }
                let accept = !a.rng.chance(0.06);
                let delay = a.rng.between(3_000, 15_000);
                a.answering += 1;
                self.after(
                    delay,
                    Event::Answer {
                        agent,
                        ticket: decision.ticket_id.clone(),
                        accept,
                    },
                );
            }
            RoutingDecisionKind::OfferWithdrawn | RoutingDecisionKind::Assigned => {
                if self
                    .offers
                    .get(&decision.ticket_id)
                    .is_some_and(|o| Some(o.agent.as_str()) == decision.agent_id.as_deref())
                {
                    self.offers.remove(&decision.ticket_id);
                }
                if let Some(agent) = agent {
                    self.agents[agent].accepting.remove(&decision.ticket_id);
                }
            }
            RoutingDecisionKind::Unassigned => {
                let key = conversation_key(&decision.account, &decision.conversation);
                if let Some(&index) = self.by_key.get(&key) {
                    if let Some(ticket) = self.customers[index].ticket.as_mut() {
                        if ticket.id == decision.ticket_id {
                            ticket.assignee = None;
                        }
                    }
                }
            }
        }
    }

    /// Whether the tickets processor has committed past `offset` of routing-decisions'
    /// `partition`: then it has applied the decision there.
    pub(super) fn committed_past(&mut self, partition: i32, offset: i64) -> bool {
        if self.committed[partition as usize] > offset {
            return true;
        }
        if self.committed_at.elapsed() >= Duration::from_millis(50) {
            self.committed_at = Instant::now();
            let mut list = TopicPartitionList::new();
            for p in 0..self.partitions {
                let _ = list.add_partition("routing-decisions", p);
            }
            if let Ok(list) = self
                .committed_reader
                .committed_offsets(list, Duration::from_secs(2))
            {
                for element in list.elements() {
                    if let Offset::Offset(at) = element.offset() {
                        self.committed[element.partition() as usize] = at;
                    }
                }
            }
        }
        self.committed[partition as usize] > offset
    }
}

fn decode<T: AvroRecord>(bytes: &[u8]) -> anyhow::Result<T> {
    AvroCodec::<T>::single_object()
        .decode(bytes)
        .map_err(|e| anyhow!("an output record the demo cannot decode: {e}"))
}
