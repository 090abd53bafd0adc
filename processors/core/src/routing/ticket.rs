//! A ticket as the router holds it: where it is (queued, offered, assigned), its routing
//! class and its place in the queue.

use super::config::QueueOrder;
use super::ledger::AgentSlot;
use super::queue::{ClassId, ClassKey, QueueKey, SlaRank};
use super::queues::{QueuePlacement, STANDARD_QUEUE_PRIORITY};
use crate::model::Channel;
use crate::time::Timestamp;
use std::cmp::Reverse;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub(super) enum TicketState {
    Queued,
    Offered {
        agent: AgentSlot,
        due: Timestamp,
    },
    Assigned {
        agent: AgentSlot,
        grace_due: Option<Timestamp>,
        /// The conversation went quiet: it holds no capacity until the end user writes.
        inactive: bool,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Ticket {
    pub(super) id: Arc<str>,
    pub(super) account: String,
    pub(super) conversation: String,
    pub(super) channel: Channel,
    pub(super) priority: i32,
    pub(super) skills: Vec<String>,
    pub(super) group: Option<String>,
    pub(super) created_at: Timestamp,
    /// When its next SLA target runs out, as its latest request said.
    pub(super) sla_breach_at: Option<Timestamp>,
    pub(super) queued_since: Option<Timestamp>,
    pub(super) skills_relaxed: bool,
    pub(super) skills_due: Option<Timestamp>,
    /// The custom queue it matched; `None` for the standard queue.
    pub(super) queue: Option<Arc<QueuePlacement>>,
    /// Whether its queue's secondary groups may take it (after the queue's wait).
    pub(super) secondary_open: bool,
    /// When its queue's secondary groups become eligible, if pending.
    pub(super) secondary_due: Option<Timestamp>,
    /// The routing class for its current skills (relaxed or not).
    pub(super) class: ClassId,
    pub(super) state: TicketState,
    /// Agents who declined the ticket or let its offer time out, oldest first.
    pub(super) declined_by: Vec<Arc<str>>,
}

impl Ticket {
    /// Its place in the queue, in the account's queue order.
    pub(super) fn queue_key(&self, order: QueueOrder) -> QueueKey {
        QueueKey {
            queue_priority: self
                .queue
                .as_ref()
                .map_or(STANDARD_QUEUE_PRIORITY, |q| q.priority),
            sla: match (order, self.sla_breach_at) {
                (QueueOrder::Sla, Some(at)) => SlaRank::Due(at),
                _ => SlaRank::Unranked,
            },
            priority: Reverse(self.priority),
            created_at: self.created_at,
            ticket: self.id.clone(),
        }
    }

    pub(super) fn note_decline(&mut self, agent: Arc<str>) {
        self.declined_by.retain(|id| *id != agent);
        self.declined_by.push(agent);
    }

    pub(super) fn class_key(&self) -> ClassKey {
        ClassKey {
            channel: self.channel,
            skills: if self.skills_relaxed {
                Vec::new()
            } else {
                self.skills.clone()
            },
            groups: self.groups(),
        }
    }

    /// The groups whose agents may take it (any agent if none): its queue's primary group,
    /// with the secondary groups once open; in the standard queue, its own group.
    fn groups(&self) -> Vec<String> {
        match &self.queue {
            Some(queue) if self.secondary_open => {
                let mut groups = queue.secondary_groups.clone();
                groups.push(queue.primary_group.clone());
                groups.sort();
                groups.dedup();
                groups
            }
            Some(queue) => vec![queue.primary_group.clone()],
            None => self.group.iter().cloned().collect(),
        }
    }
}
