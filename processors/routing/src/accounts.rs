//! The routing-config table: [`AccountConfigs`], the `routing-config` topic's records as a
//! runtime [`TableRecords`], read in full by every router instance into a table shared by
//! every partition's processor.
//!
//! Each record is one account's [`AccountRoutingConfig`]; the account is routed with the
//! process's [`RoutingConfig`] (its flags) with the record laid over it
//! ([`RoutingConfig::overlay`]), and with the process's alone when it has none. The
//! runtime's [`GlobalTable`] reads the topic, and its
//! [`TableDeadLetters`](parley_runtime::table::TableDeadLetters) group writes each refused
//! record to the DLQ once: one that does not decode ([`REFUSED_UNDECODABLE`]) or breaks a
//! routing rule ([`REFUSED_ROUTING_RULE`]).

use parley_core::routing::RoutingConfig;
use parley_core::AccountRoutingConfig;
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::DlqStage;
use parley_runtime::table::{GlobalTable, Refusal, TableRecords};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The routing-config table shared between the reader and every partition's processor.
pub type SharedAccountConfigs = Arc<RwLock<AccountConfigs>>;

/// The reader of the `routing-config` topic: every instance reads all of it.
pub type AccountConfigReader = GlobalTable<AccountConfigs>;

/// The `reason` of a refused record that does not decode as an AccountRoutingConfig.
pub const REFUSED_UNDECODABLE: &str = "undecodable";
/// The `reason` of a refused record that breaks a routing rule (e.g. a zero offer timeout).
pub const REFUSED_ROUTING_RULE: &str = "routing_rule";

/// The routing settings of every account: the process's, and each configured account's.
#[derive(Debug)]
pub struct AccountConfigs {
    process: RoutingConfig,
    codec: AvroCodec<AccountRoutingConfig>,
    accounts: HashMap<String, RoutingConfig>,
    /// The account each topic key last configured, so a tombstone removes exactly that.
    keys: HashMap<Vec<u8>, String>,
    /// Bumped by every applied record: a processor re-reads the settings when it changes.
    version: u64,
}

impl AccountConfigs {
    /// A table with no account record: every account is routed with `process` (the
    /// router's flags). Values decode with `codec`.
    pub fn new(process: RoutingConfig, codec: AvroCodec<AccountRoutingConfig>) -> AccountConfigs {
        AccountConfigs {
            process,
            codec,
            accounts: HashMap::new(),
            keys: HashMap::new(),
            version: 0,
        }
    }

    /// The settings `account` is routed with.
    pub fn config_for(&self, account: &str) -> &RoutingConfig {
        self.accounts.get(account).unwrap_or(&self.process)
    }

    /// A number that changes whenever a record is applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn decode(&self, value: &[u8]) -> Result<AccountRoutingConfig, Refusal> {
        self.codec.decode(value).map_err(|error| Refusal {
            reason: REFUSED_UNDECODABLE,
            stage: DlqStage::Decode,
            message: error.to_string(),
        })
    }

    fn settings(&self, record: &AccountRoutingConfig) -> Result<RoutingConfig, Refusal> {
        self.process.overlay(record).map_err(|error| Refusal {
            reason: REFUSED_ROUTING_RULE,
            stage: DlqStage::Process,
            message: error.to_string(),
        })
    }
}

impl TableRecords for AccountConfigs {
    const NAME: &'static str = "routing-config";
    const REASONS: &'static [&'static str] = &[REFUSED_UNDECODABLE, REFUSED_ROUTING_RULE];

    fn check(&self, value: &[u8]) -> Option<Refusal> {
        self.decode(value)
            .and_then(|record| self.settings(&record))
            .err()
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(value) = value else {
            if let Some(account) = self.keys.remove(key) {
                self.accounts.remove(&account);
                self.version += 1;
            }
            return Ok(());
        };
        let record = self.decode(value)?;
        let settings = self.settings(&record)?;
        if let Some(old) = self.keys.insert(key.to_vec(), record.account.clone()) {
            if old != record.account {
                self.accounts.remove(&old);
            }
        }
        self.accounts.insert(record.account, settings);
        self.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{Channel, Millis, Timestamp};

    fn record(account: &str, offer_timeout: Option<Millis>) -> AccountRoutingConfig {
        AccountRoutingConfig {
            account: account.into(),
            auto_accept: Some(vec![Channel::Whatsapp]),
            offer_timeout_ms: offer_timeout,
            skills_timeout_ms: None,
            returning_grace_ms: None,
            mode: None,
            away_after_offer_timeouts: None,
            queue_order: None,
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn an_account_record_overrides_the_process_settings_until_its_tombstone() {
        let codec = AvroCodec::<AccountRoutingConfig>::single_object();
        let mut configs = AccountConfigs::new(RoutingConfig::default(), codec.clone());
        let acme = codec
            .encode(&record("acme", Some(Millis::seconds(45))))
            .unwrap();
        configs.apply(b"acme", Some(&acme)).unwrap();
        assert_eq!(
            configs.config_for("acme").offer_timeout_ms,
            Millis::seconds(45)
        );
        assert_eq!(configs.config_for("acme").auto_accept, [Channel::Whatsapp]);
        assert_eq!(configs.config_for("globex"), &RoutingConfig::default());
        let version = configs.version();
        configs.apply(b"acme", None).unwrap();
        assert_eq!(configs.config_for("acme"), &RoutingConfig::default());
        assert!(configs.version() > version);
    }

    #[test]
    fn refused_records_leave_the_account_as_it_was() {
        let codec = AvroCodec::<AccountRoutingConfig>::single_object();
        let mut configs = AccountConfigs::new(RoutingConfig::default(), codec.clone());
        let good = codec.encode(&record("acme", None)).unwrap();
        configs.apply(b"acme", Some(&good)).unwrap();
        let refused = configs.apply(b"acme", Some(b"not avro")).unwrap_err();
        assert_eq!(
            (refused.reason, refused.stage),
            (REFUSED_UNDECODABLE, DlqStage::Decode)
        );
        let zero = codec.encode(&record("acme", Some(Millis::ZERO))).unwrap();
        let refused = configs.apply(b"acme", Some(&zero)).unwrap_err();
        assert_eq!(
            (refused.reason, refused.stage),
            (REFUSED_ROUTING_RULE, DlqStage::Process)
        );
        assert!(
            refused.message.contains("offer_timeout_ms = 0 ms"),
            "{}",
            refused.message
        );
        assert_eq!(configs.check(&zero), Some(refused));
        assert_eq!(configs.check(&good), None);
        assert_eq!(
            configs.config_for("acme").auto_accept,
            [Channel::Whatsapp],
            "still in force"
        );
    }
}
