//! The routing-queues table: [`QueueTable`], the `routing-queues` topic's records as a
//! runtime [`TableRecords`], read in full by every router instance into a table shared by
//! every partition's processor.
//!
//! Each record is one custom queue of an account ([`QueueDefinition`], key
//! `account/queue_id`); a tombstone removes it. An account's queues are handed to its
//! engine as [`QueueRules`], in matching order. The runtime's [`GlobalTable`] reads the
//! topic, and its [`TableDeadLetters`](parley_runtime::table::TableDeadLetters) group writes
//! each refused record to the DLQ once: one that does not decode
//! ([`REFUSED_UNDECODABLE`]) or breaks a queue rule ([`REFUSED_QUEUE_RULE`]).

use parley_core::routing::{QueueDefinition, QueueRules};
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::DlqStage;
use parley_runtime::table::{GlobalTable, Refusal, TableRecords};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// The routing-queues table shared between the reader and every partition's processor.
pub type SharedQueueTable = Arc<RwLock<QueueTable>>;

/// The reader of the `routing-queues` topic: every instance reads all of it.
pub type QueueTableReader = GlobalTable<QueueTable>;

/// The `reason` of a refused record that does not decode as a QueueDefinition.
pub const REFUSED_UNDECODABLE: &str = "undecodable";
/// The `reason` of a refused record that breaks a queue rule (e.g. a priority of 0).
pub const REFUSED_QUEUE_RULE: &str = "queue_rule";

/// Every account's custom queues.
#[derive(Debug)]
pub struct QueueTable {
    codec: AvroCodec<QueueDefinition>,
    /// Each account's queues by name, and its rules built from them.
    accounts: HashMap<String, (BTreeMap<String, QueueDefinition>, QueueRules)>,
    /// The account and queue each topic key last defined, so a tombstone removes exactly
    /// that.
    keys: HashMap<Vec<u8>, (String, String)>,
    /// Bumped by every applied record: a processor re-reads the queues when it changes.
    version: u64,
}

impl QueueTable {
    /// A table with no queue: every ticket goes to the standard queue. Values decode with
    /// `codec`.
    pub fn new(codec: AvroCodec<QueueDefinition>) -> QueueTable {
        QueueTable {
            codec,
            accounts: HashMap::new(),
            keys: HashMap::new(),
            version: 0,
        }
    }

    /// The custom queues of `account`, in matching order (none if it has none).
    pub fn rules_for(&self, account: &str) -> QueueRules {
        self.accounts
            .get(account)
            .map(|(_, rules)| rules.clone())
            .unwrap_or_default()
    }

    /// A number that changes whenever a record is applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn decode(&self, value: &[u8]) -> Result<QueueDefinition, Refusal> {
        let queue = self.codec.decode(value).map_err(|error| Refusal {
            reason: REFUSED_UNDECODABLE,
            stage: DlqStage::Decode,
            message: error.to_string(),
        })?;
        queue.validate().map_err(|error| Refusal {
            reason: REFUSED_QUEUE_RULE,
            stage: DlqStage::Process,
            message: error.to_string(),
        })?;
        Ok(queue)
    }

    fn remove(&mut self, account: &str, queue_id: &str) {
        if let Some((queues, rules)) = self.accounts.get_mut(account) {
            queues.remove(queue_id);
            *rules = QueueRules::new(queues.values().cloned().collect());
            if queues.is_empty() {
                self.accounts.remove(account);
            }
        }
    }
}

impl TableRecords for QueueTable {
    const NAME: &'static str = "routing-queues";
    const REASONS: &'static [&'static str] = &[REFUSED_UNDECODABLE, REFUSED_QUEUE_RULE];

    fn check(&self, value: &[u8]) -> Option<Refusal> {
        self.decode(value).err()
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(value) = value else {
            if let Some((account, queue_id)) = self.keys.remove(key) {
                self.remove(&account, &queue_id);
                self.version += 1;
            }
            return Ok(());
        };
        let queue = self.decode(value)?;
        let named = (queue.account.clone(), queue.queue_id.clone());
        if let Some(old) = self.keys.insert(key.to_vec(), named.clone()) {
            if old != named {
                self.remove(&old.0, &old.1);
            }
        }
        let (queues, rules) = self.accounts.entry(named.0).or_default();
        queues.insert(named.1, queue);
        *rules = QueueRules::new(queues.values().cloned().collect());
        self.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::routing::QueueConditions;
    use parley_core::{Millis, Timestamp};

    fn queue(account: &str, id: &str, position: i32, priority: i32) -> QueueDefinition {
        QueueDefinition {
            account: account.into(),
            queue_id: id.into(),
            position,
            priority,
            conditions: QueueConditions::default(),
            primary_group: "tier1".into(),
            secondary_groups: vec![],
            secondary_after_ms: Millis::ZERO,
            updated_at: Timestamp(0),
        }
    }

    fn ids(table: &QueueTable, account: &str) -> Vec<String> {
        table
            .rules_for(account)
            .queues()
            .iter()
            .map(|q| q.queue_id.clone())
            .collect()
    }

    #[test]
    fn records_and_tombstones_shape_each_accounts_queues() {
        let codec = AvroCodec::<QueueDefinition>::single_object();
        let mut table = QueueTable::new(codec.clone());
        let put = |table: &mut QueueTable, q: &QueueDefinition| {
            table.apply(q.key().as_bytes(), Some(&codec.encode(q).unwrap()))
        };
        put(&mut table, &queue("acme", "late", 5, 1)).unwrap();
        put(&mut table, &queue("acme", "early", 1, 1)).unwrap();
        put(&mut table, &queue("other", "only", 0, 1)).unwrap();
        assert_eq!(ids(&table, "acme"), ["early", "late"]);
        assert_eq!(ids(&table, "other"), ["only"]);
        let version = table.version();
        table.apply(b"acme/early", None).unwrap();
        assert_eq!(ids(&table, "acme"), ["late"]);
        assert!(table.version() > version);
        assert!(ids(&table, "nobody").is_empty());
    }

    #[test]
    fn a_record_breaking_a_rule_is_refused_and_changes_nothing() {
        let codec = AvroCodec::<QueueDefinition>::single_object();
        let mut table = QueueTable::new(codec.clone());
        let bad = queue("acme", "q", 0, 0);
        let value = codec.encode(&bad).unwrap();
        let refusal = table.check(&value).unwrap();
        assert_eq!(refusal.reason, REFUSED_QUEUE_RULE);
        assert!(
            refusal.message.contains("priority = 0"),
            "{}",
            refusal.message
        );
        assert!(table.apply(b"acme/q", Some(&value)).is_err());
        assert!(ids(&table, "acme").is_empty());
        assert_eq!(
            table.check(b"not avro").map(|r| r.reason),
            Some(REFUSED_UNDECODABLE)
        );
    }
}
