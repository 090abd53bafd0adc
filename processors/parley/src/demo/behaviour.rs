//! How the simulated customers and agents act when their events come due: messages,
//! replies, status changes, offer answers and presence, each sent to the pipeline.

use super::people::{Event, Phase};
use super::script::{webhook, ACCOUNTS, CAPACITY, OPENERS, REPLIES};
use super::world::{send_with_retry, World};
use parley_core::topics::conversation_key;
use parley_core::*;
use parley_runtime::codec::AvroCodec;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;

impl World {
    /// Schedules the assignee's next step if the customer's episode waits on them and the
    /// ticket shows who they are.
    pub(super) fn maybe_schedule_work(&mut self, index: usize) {
        let customer = &self.customers[index];
        if customer.work_scheduled || customer.in_flight.is_some() {
            return;
        }
        let Some(ticket) = &customer.ticket else {
            return;
        };
        if ticket.assignee.is_none() {
            return;
        }
        let waits = match customer.phase {
            Phase::AgentTurn => matches!(
                ticket.status,
                Status::Open | Status::Pending | Status::OnHold
            ),
            Phase::Wrapping => ticket.status == Status::Open,
            Phase::Held => ticket.status == Status::OnHold,
            Phase::Idle | Phase::CustomerTurn => false,
        };
        if !waits {
            return;
        }
        let ticket = ticket.id.clone();
        let delay = self.customers[index].rng.between(15_000, 75_000);
        self.customers[index].work_scheduled = true;
        self.after(
            delay,
            Event::Work {
                customer: index,
                ticket,
            },
        );
    }

    pub(super) fn handle(&mut self, event: Event, now: Timestamp) -> anyhow::Result<()> {
        match event {
            Event::Write { customer } => self.write(customer, now),
            Event::Work { customer, ticket } => self.work(customer, &ticket, now),
            Event::Answer {
                agent,
                ticket,
                accept,
            } => self.answer(agent, &ticket, accept, now),
            Event::Break { agent } => self.take_break(agent, now),
            Event::Online { agent } => self.go_online(agent),
        }
    }

    fn write(&mut self, index: usize, now: Timestamp) -> anyhow::Result<()> {
        let customer = &mut self.customers[index];
        let text = match customer.phase {
            Phase::Idle => {
                customer.rounds_left = match customer.rng.below(10) {
                    0..=3 => 0,
                    4..=7 => 1,
                    _ => 2,
                };
                customer.held = false;
                customer.rng.pick(&OPENERS)
            }
            Phase::CustomerTurn => customer.rng.pick(&REPLIES),
            // Already waiting on the agent: nothing new to say.
            Phase::AgentTurn | Phase::Wrapping | Phase::Held => return Ok(()),
        };
        customer.phase = Phase::AgentTurn;
        let redeliver = customer.rng.chance(0.03);
        self.messages += 1;
        let plan = ACCOUNTS[customer.account];
        let body = webhook(
            customer.channel,
            &customer.conversation,
            customer.name,
            self.messages,
            text,
            now,
        );
        let topic = format!("raw.{}", customer.channel.as_str());
        let headers = OwnedHeaders::new().insert(Header {
            key: parley_ingress::stage::ACCOUNT_HEADER,
            value: Some(plan.account),
        });
        for _ in 0..if redeliver { 2 } else { 1 } {
            send_with_retry(
                &self.producer,
                BaseRecord::to(&topic)
                    .key(customer.conversation.as_str())
                    .payload(body.as_bytes())
                    .headers(headers.clone())
                    .timestamp(now.0),
            )?;
        }
        self.produced.webhooks += 1;
        if redeliver {
            self.produced.redeliveries += 1;
        }
        self.maybe_schedule_work(index);
        Ok(())
    }

    fn action(
        &mut self,
        index: usize,
        agent_id: &str,
        kind: AgentActionKind,
        status: Option<Status>,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.actions += 1;
        let customer = &self.customers[index];
        let account = ACCOUNTS[customer.account].account;
        let action = AgentAction {
            action_id: format!("demo-action-{}", self.actions),
            account: account.to_owned(),
            conversation: customer.conversation.clone(),
            agent_id: agent_id.to_owned(),
            kind,
            status,
            priority: None,
            at: now,
        };
        let value = AvroCodec::<AgentAction>::single_object().encode(&action)?;
        let key = conversation_key(account, &customer.conversation);
        send_with_retry(
            &self.producer,
            BaseRecord::to("agent-actions")
                .key(key.as_str())
                .payload(value.as_slice())
                .timestamp(now.0),
        )?;
        self.produced.actions += 1;
        if kind == AgentActionKind::SetStatus {
            self.customers[index].in_flight = status;
        }
        Ok(())
    }

    /// The assignee's next step on a customer's ticket.
    fn work(&mut self, index: usize, ticket_id: &str, now: Timestamp) -> anyhow::Result<()> {
        self.customers[index].work_scheduled = false;
        let Some(ticket) = self.customers[index]
            .ticket
            .clone()
            .filter(|t| t.id == ticket_id)
        else {
            return Ok(());
        };
        let Some(agent) = ticket
            .assignee
            .as_deref()
            .and_then(|id| self.agent_index.get(id).copied())
        else {
            return Ok(());
        };
        let retry = |world: &mut World, delay: i64| {
            world.customers[index].work_scheduled = true;
            world.after(
                delay,
                Event::Work {
                    customer: index,
                    ticket: ticket_id.to_owned(),
                },
            );
        };
        if !self.agents[agent].online || self.customers[index].in_flight.is_some() {
            retry(self, 20_000);
            return Ok(());
        }
        let agent_id = self.agents[agent].id.clone();
        let phase = self.customers[index].phase;
        match (ticket.status, phase) {
            (Status::Pending | Status::OnHold, Phase::AgentTurn) => {
                // The customer wrote while the ticket was parked: take it back first.
                self.action(
                    index,
                    &agent_id,
                    AgentActionKind::SetStatus,
                    Some(Status::Open),
                    now,
                )?;
                let delay = self.customers[index].rng.between(5_000, 20_000);
                retry(self, delay);
            }
            (Status::Open, Phase::AgentTurn) => {
                self.action(index, &agent_id, AgentActionKind::Reply, None, now)?;
                let customer = &mut self.customers[index];
                if customer.rounds_left > 0 {
                    customer.rounds_left -= 1;
                    customer.phase = Phase::CustomerTurn;
                    let delay = customer.rng.between(20_000, 150_000);
                    let park = ticket.style == Style::SocialMessaging && customer.rng.chance(0.5);
                    self.after(delay, Event::Write { customer: index });
                    if park {
                        self.action(
                            index,
                            &agent_id,
                            AgentActionKind::SetStatus,
                            Some(Status::Pending),
                            now,
                        )?;
                    }
                } else {
                    customer.phase = Phase::Wrapping;
                    let delay = customer.rng.between(20_000, 90_000);
                    retry(self, delay);
                }
            }
            (Status::Open, Phase::Wrapping) => {
                let customer = &mut self.customers[index];
                if ticket.style != Style::LiveChat && !customer.held && customer.rng.chance(0.2) {
                    customer.held = true;
                    customer.phase = Phase::Held;
                    let delay = customer.rng.between(90_000, 300_000);
                    self.action(
                        index,
                        &agent_id,
                        AgentActionKind::SetStatus,
                        Some(Status::OnHold),
                        now,
                    )?;
                    retry(self, delay);
                } else {
                    self.solve(index, &agent_id, ticket.style, now)?;
                }
            }
            (Status::OnHold, Phase::Held) => {
                self.action(index, &agent_id, AgentActionKind::Reply, None, now)?;
                self.solve(index, &agent_id, ticket.style, now)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn solve(
        &mut self,
        index: usize,
        agent_id: &str,
        style: Style,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        self.action(
            index,
            agent_id,
            AgentActionKind::SetStatus,
            Some(Status::Solved),
            now,
        )?;
        let timeline = self.timeline;
        let customer = &mut self.customers[index];
        customer.phase = Phase::Idle;
        // Some customers come back: within the solved-to-closed gap the ticket reopens,
        // after it a follow-up ticket starts.
        if customer.rng.chance(0.35) {
            let delay = match timeline.gap(style) {
                None => customer.rng.between(60_000, 600_000),
                Some(gap) => customer.rng.between(gap.0 / 4, gap.0 * 5 / 2),
            };
            if now.0 + delay < self.t0.0 + timeline.traffic_end {
                self.after(delay, Event::Write { customer: index });
            }
        }
        Ok(())
    }

    fn answer(
        &mut self,
        agent: usize,
        ticket: &str,
        accept: bool,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        let current = self
            .offers
            .get(ticket)
            .filter(|o| o.agent == self.agents[agent].id)
            .map(|o| (o.customer, o.partition, o.offset, o.seen));
        let Some((customer, partition, offset, seen)) = current else {
            self.agents[agent].answering -= 1;
            return Ok(());
        };
        if !self.committed_past(partition, offset) {
            if now.since(seen).0 < self.timeline.offer_timeout.0 / 2 {
                // The tickets processor has not applied the offer yet: answer a moment later.
                let delay = i64::from(self.clock.speed()) * 100;
                self.after(
                    delay,
                    Event::Answer {
                        agent,
                        ticket: ticket.to_owned(),
                        accept,
                    },
                );
            } else {
                self.agents[agent].answering -= 1;
            }
            return Ok(());
        }
        self.agents[agent].answering -= 1;
        let agent_id = self.agents[agent].id.clone();
        if accept {
            self.agents[agent].accepting.insert(ticket.to_owned(), now);
            self.action(customer, &agent_id, AgentActionKind::Accept, None, now)
        } else {
            self.offers.remove(ticket);
            self.action(customer, &agent_id, AgentActionKind::Decline, None, now)
        }
    }

    fn presence(&mut self, agent: usize, status: AgentStatus) -> anyhow::Result<()> {
        let now = self.now();
        self.presences += 1;
        let a = &self.agents[agent];
        let plan = ACCOUNTS[a.account];
        let presence = AgentPresence {
            presence_id: format!("demo-presence-{}", self.presences),
            account: plan.account.to_owned(),
            agent_id: a.id.clone(),
            channels: plan
                .channels
                .iter()
                .map(|&channel| ChannelPresence {
                    channel,
                    status,
                    capacity: CAPACITY,
                })
                .collect(),
            skills: Vec::new(),
            groups: Vec::new(),
            at: now,
        };
        let value = AvroCodec::<AgentPresence>::single_object().encode(&presence)?;
        send_with_retry(
            &self.producer,
            BaseRecord::to("agent-presence")
                .key(plan.account)
                .payload(value.as_slice())
                .timestamp(now.0),
        )?;
        self.produced.presences += 1;
        Ok(())
    }

    pub(super) fn go_online(&mut self, agent: usize) -> anyhow::Result<()> {
        self.presence(agent, AgentStatus::Online)?;
        self.agents[agent].online = true;
        let delay = self.agents[agent].rng.between(360_000, 1_080_000);
        self.after(delay, Event::Break { agent });
        Ok(())
    }

    fn take_break(&mut self, agent: usize, now: Timestamp) -> anyhow::Result<()> {
        if now.0 >= self.t0.0 + self.timeline.traffic_end {
            return Ok(());
        }
        let recent = Millis(self.timeline.offer_timeout.0);
        let a = &self.agents[agent];
        let busy = a.answering > 0 || a.accepting.values().any(|at| now.since(*at) < recent);
        if busy {
            self.after(30_000, Event::Break { agent });
            return Ok(());
        }
        self.presence(agent, AgentStatus::Offline)?;
        let a = &mut self.agents[agent];
        a.online = false;
        a.accepting.clear();
        let back = a.rng.between(60_000, 240_000);
        self.after(back, Event::Online { agent });
        Ok(())
    }
}
