//! The SLA configuration tables: [`ScheduleRecords`] and [`SlaPolicyRecords`], the
//! `schedules` and `sla-policies` topics' records as runtime [`TableRecords`], each read in
//! full by every instance.
//!
//! As for style-config, the runtime's [`GlobalTable`] reads each topic and its table DLQ
//! group writes each refused record to the DLQ once; this module says what a record means:
//! a Schedule compiled into the [`Schedules`] table, an SlaPolicy upserted into the
//! [`SlaPolicies`] table, a tombstone removing what its key held, and a record refused
//! when it does not decode ([`REFUSED_UNDECODABLE`]) or breaks a rule
//! ([`REFUSED_SCHEDULE_RULE`], [`REFUSED_SLA_RULE`]).

use crate::config::TicketTopics;
use parley_core::sla::{Schedule, Schedules, SlaConfig, SlaPolicies, SlaPolicy};
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::DlqStage;
use parley_runtime::table::{GlobalTable, Refusal, TableRecords};
use parley_runtime::RuntimeError;
use rdkafka::config::ClientConfig;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use crate::styles::REFUSED_UNDECODABLE;

/// The `reason` of a refused Schedule that breaks a rule (e.g. an unknown time zone).
pub const REFUSED_SCHEDULE_RULE: &str = "schedule_rule";
/// The `reason` of a refused SlaPolicy that breaks a rule (e.g. a target under 15 s).
pub const REFUSED_SLA_RULE: &str = "sla_rule";

/// The reader of the `schedules` topic: every instance reads all of it.
pub type ScheduleReader = GlobalTable<ScheduleRecords>;
/// The reader of the `sla-policies` topic: every instance reads all of it.
pub type SlaPolicyReader = GlobalTable<SlaPolicyRecords>;

/// The schedules and SLA policies shared between their readers and every partition's
/// processor.
#[derive(Clone, Debug)]
pub struct SlaTables {
    schedules: Arc<RwLock<ScheduleRecords>>,
    policies: Arc<RwLock<SlaPolicyRecords>>,
}

impl SlaTables {
    /// Tables kept up to date by whoever else holds them (the readers).
    pub fn new(
        schedules: Arc<RwLock<ScheduleRecords>>,
        policies: Arc<RwLock<SlaPolicyRecords>>,
    ) -> SlaTables {
        SlaTables {
            schedules,
            policies,
        }
    }

    /// Runs `f` under the configuration in force, holding both tables' read locks.
    pub fn with<R>(&self, f: impl FnOnce(SlaConfig<'_>) -> R) -> R {
        let schedules = self.schedules.read().expect("not poisoned");
        let policies = self.policies.read().expect("not poisoned");
        f(SlaConfig {
            policies: policies.table(),
            schedules: schedules.table(),
        })
    }
}

/// The readers of the `schedules` and `sla-policies` topics; they stop when dropped.
#[derive(Debug)]
pub struct SlaReaders {
    /// The `schedules` reader.
    pub schedules: ScheduleReader,
    /// The `sla-policies` reader.
    pub policies: SlaPolicyReader,
}

impl SlaReaders {
    /// Starts reading both topics of `topics` from the beginning with the client settings
    /// `client`; `timeout` bounds the metadata and watermark reads.
    pub fn start(
        client: &ClientConfig,
        topics: &TicketTopics,
        schedule_codec: AvroCodec<Schedule>,
        policy_codec: AvroCodec<SlaPolicy>,
        timeout: Duration,
    ) -> Result<SlaReaders, RuntimeError> {
        Ok(SlaReaders {
            schedules: GlobalTable::start(
                client,
                &topics.schedules,
                ScheduleRecords::new(schedule_codec),
                timeout,
            )?,
            policies: GlobalTable::start(
                client,
                &topics.sla_policies,
                SlaPolicyRecords::new(policy_codec),
                timeout,
            )?,
        })
    }

    /// Waits until both topics were read to their end as of the readers' start; `false`
    /// if that took longer than `timeout` (each).
    pub fn wait_caught_up(&self, timeout: Duration) -> bool {
        self.schedules.wait_caught_up(timeout) && self.policies.wait_caught_up(timeout)
    }

    /// The tables the readers keep up to date.
    pub fn tables(&self) -> SlaTables {
        SlaTables::new(self.schedules.table(), self.policies.table())
    }

    /// Registers both readers' `parley_table_refused_total` on `registry`.
    pub fn register(&self, registry: &prometheus::Registry) -> Result<(), prometheus::Error> {
        self.schedules.stats().register(registry)?;
        self.policies.stats().register(registry)
    }
}

fn undecodable(error: impl ToString) -> Refusal {
    Refusal {
        reason: REFUSED_UNDECODABLE,
        stage: DlqStage::Decode,
        message: error.to_string(),
    }
}

fn broken(reason: &'static str, error: impl ToString) -> Refusal {
    Refusal {
        reason,
        stage: DlqStage::Process,
        message: error.to_string(),
    }
}

/// The schedules applied so far, compiled.
#[derive(Debug)]
pub struct ScheduleRecords {
    table: Schedules,
    codec: AvroCodec<Schedule>,
    /// What each topic key last held (account, schedule id), so a tombstone removes it.
    keys: HashMap<Vec<u8>, (String, String)>,
}

impl ScheduleRecords {
    /// An empty table decoding values with `codec`.
    pub fn new(codec: AvroCodec<Schedule>) -> ScheduleRecords {
        ScheduleRecords {
            table: Schedules::new(),
            codec,
            keys: HashMap::new(),
        }
    }

    /// The schedules in force.
    pub fn table(&self) -> &Schedules {
        &self.table
    }
}

impl TableRecords for ScheduleRecords {
    const NAME: &'static str = "schedules";
    const REASONS: &'static [&'static str] = &[REFUSED_UNDECODABLE, REFUSED_SCHEDULE_RULE];

    fn check(&self, value: &[u8]) -> Option<Refusal> {
        match self.codec.decode(value) {
            Ok(schedule) => schedule
                .calendar()
                .err()
                .map(|e| broken(REFUSED_SCHEDULE_RULE, e)),
            Err(error) => Some(undecodable(error)),
        }
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(value) = value else {
            if let Some((account, id)) = self.keys.remove(key) {
                self.table.remove(&account, &id);
            }
            return Ok(());
        };
        let schedule = self.codec.decode(value).map_err(undecodable)?;
        self.table
            .upsert(&schedule)
            .map_err(|e| broken(REFUSED_SCHEDULE_RULE, e))?;
        let new = (schedule.account, schedule.schedule_id);
        if let Some(old) = self.keys.insert(key.to_vec(), new.clone()) {
            if old != new {
                self.table.remove(&old.0, &old.1);
            }
        }
        Ok(())
    }
}

/// The SLA policies applied so far.
#[derive(Debug)]
pub struct SlaPolicyRecords {
    table: SlaPolicies,
    codec: AvroCodec<SlaPolicy>,
    /// What each topic key last held (account, policy id), so a tombstone removes it.
    keys: HashMap<Vec<u8>, (String, String)>,
}

impl SlaPolicyRecords {
    /// An empty table decoding values with `codec`.
    pub fn new(codec: AvroCodec<SlaPolicy>) -> SlaPolicyRecords {
        SlaPolicyRecords {
            table: SlaPolicies::new(),
            codec,
            keys: HashMap::new(),
        }
    }

    /// The policies in force.
    pub fn table(&self) -> &SlaPolicies {
        &self.table
    }
}

impl TableRecords for SlaPolicyRecords {
    const NAME: &'static str = "sla-policies";
    const REASONS: &'static [&'static str] = &[REFUSED_UNDECODABLE, REFUSED_SLA_RULE];

    fn check(&self, value: &[u8]) -> Option<Refusal> {
        match self.codec.decode(value) {
            Ok(policy) => policy.validate().err().map(|e| broken(REFUSED_SLA_RULE, e)),
            Err(error) => Some(undecodable(error)),
        }
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(value) = value else {
            if let Some((account, id)) = self.keys.remove(key) {
                self.table.remove(&account, &id);
            }
            return Ok(());
        };
        let policy = self.codec.decode(value).map_err(undecodable)?;
        let new = (policy.account.clone(), policy.policy_id.clone());
        self.table
            .upsert(policy)
            .map_err(|e| broken(REFUSED_SLA_RULE, e))?;
        if let Some(old) = self.keys.insert(key.to_vec(), new.clone()) {
            if old != new {
                self.table.remove(&old.0, &old.1);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::sla::{
        BusinessInterval, SlaConditions, SlaMetric, SlaPriority, SlaTarget, SlaTicket, Weekday,
    };
    use parley_core::{Channel, Millis, Timestamp};

    fn schedule(zone: &str) -> Schedule {
        Schedule {
            account: "acme".into(),
            schedule_id: "support".into(),
            time_zone: zone.into(),
            intervals: vec![BusinessInterval {
                day: Weekday::Monday,
                start_minute: 540,
                end_minute: 1_020,
            }],
            holidays: Vec::new(),
            updated_at: Timestamp(0),
        }
    }

    fn policy(target_ms: Millis) -> SlaPolicy {
        SlaPolicy {
            account: "acme".into(),
            policy_id: "standard".into(),
            position: 0,
            conditions: SlaConditions::default(),
            schedule_id: None,
            targets: vec![SlaTarget {
                metric: SlaMetric::FirstReplyTime,
                priority: SlaPriority::Normal,
                target_ms,
                business_hours: false,
            }],
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn schedules_apply_refuse_and_tombstone() {
        let codec = AvroCodec::<Schedule>::single_object();
        let mut records = ScheduleRecords::new(codec.clone());
        let berlin = codec.encode(&schedule("Europe/Berlin")).unwrap();
        records.apply(b"acme/support", Some(&berlin)).unwrap();
        assert!(records.table().calendar("acme", "support").is_some());

        let typo = codec.encode(&schedule("Europe/Berln")).unwrap();
        let refused = records.apply(b"acme/support", Some(&typo)).unwrap_err();
        assert_eq!(
            (refused.reason, refused.stage),
            (REFUSED_SCHEDULE_RULE, DlqStage::Process)
        );
        assert!(refused.message.starts_with("time_zone = \"Europe/Berln\""));
        assert_eq!(records.check(&typo), Some(refused));
        assert_eq!(
            records.check(b"not avro").unwrap().reason,
            REFUSED_UNDECODABLE
        );
        assert!(
            records.table().calendar("acme", "support").is_some(),
            "still in force"
        );

        records.apply(b"acme/support", None).unwrap();
        assert!(records.table().calendar("acme", "support").is_none());
    }

    #[test]
    fn policies_apply_refuse_and_tombstone() {
        let codec = AvroCodec::<SlaPolicy>::single_object();
        let mut records = SlaPolicyRecords::new(codec.clone());
        let ticket = SlaTicket {
            priority: SlaPriority::Normal,
            channel: Channel::Web,
            brand: None,
        };
        let standard = codec.encode(&policy(Millis::minutes(10))).unwrap();
        records.apply(b"acme/standard", Some(&standard)).unwrap();
        assert!(records.table().matching("acme", &ticket).is_some());

        let too_short = codec.encode(&policy(Millis::seconds(1))).unwrap();
        let refused = records
            .apply(b"acme/standard", Some(&too_short))
            .unwrap_err();
        assert_eq!(refused.reason, REFUSED_SLA_RULE);
        assert_eq!(
            refused.message,
            "targets[0].target_ms = 1000: must be at least 15000 (15s)"
        );
        let kept = records.table().matching("acme", &ticket).unwrap();
        assert_eq!(kept.targets[0].target_ms, Millis::minutes(10));

        records.apply(b"acme/standard", None).unwrap();
        assert!(records.table().matching("acme", &ticket).is_none());
    }
}
