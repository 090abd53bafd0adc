//! The style-config table: [`StyleRecords`], the `style-config` topic's records as a
//! runtime [`TableRecords`], read in full by every instance into a [`SharedStyles`] table.
//!
//! The runtime's [`GlobalTable`](parley_runtime::table::GlobalTable) reads the topic and
//! [`TableDeadLetters`](parley_runtime::table::TableDeadLetters) writes each refused record to
//! the DLQ once; this module says what a record means: a StyleConfig upserted into the
//! [`StyleTable`] under its account, brand and channel, a tombstone removing what its key
//! held, and a record refused when it does not decode ([`REFUSED_UNDECODABLE`]) or breaks a
//! style rule ([`REFUSED_STYLE_RULE`]).

use parley_core::{Channel, StyleConfig, StyleTable};
use parley_runtime::codec::AvroCodec;
use parley_runtime::dlq::DlqStage;
use parley_runtime::table::{GlobalTable, Refusal, TableRecords};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The style table shared between the reader and every partition's processor.
pub type SharedStyles = Arc<RwLock<StyleRecords>>;

/// The reader of the `style-config` topic: every instance reads all of it.
pub type StyleReader = GlobalTable<StyleRecords>;

/// The `reason` of a refused record that does not decode as a StyleConfig.
pub const REFUSED_UNDECODABLE: &str = "undecodable";
/// The `reason` of a refused record that breaks a style rule (e.g. a gap for `live_chat`).
pub const REFUSED_STYLE_RULE: &str = "style_rule";

/// The style-config records applied so far, as a [`StyleTable`].
#[derive(Debug)]
pub struct StyleRecords {
    table: StyleTable,
    codec: AvroCodec<StyleConfig>,
    /// What each topic key last held, so a tombstone removes exactly that.
    keys: HashMap<Vec<u8>, (String, Option<String>, Option<Channel>)>,
}

impl StyleRecords {
    /// An empty table decoding values with `codec`.
    pub fn new(codec: AvroCodec<StyleConfig>) -> StyleRecords {
        StyleRecords {
            table: StyleTable::new(),
            codec,
            keys: HashMap::new(),
        }
    }

    /// The styles in force.
    pub fn table(&self) -> &StyleTable {
        &self.table
    }

    fn decode(&self, value: &[u8]) -> Result<StyleConfig, Refusal> {
        self.codec.decode(value).map_err(|error| Refusal {
            reason: REFUSED_UNDECODABLE,
            stage: DlqStage::Decode,
            message: error.to_string(),
        })
    }
}

fn style_rule(error: impl ToString) -> Refusal {
    Refusal {
        reason: REFUSED_STYLE_RULE,
        stage: DlqStage::Process,
        message: error.to_string(),
    }
}

impl TableRecords for StyleRecords {
    const NAME: &'static str = "style-config";
    const REASONS: &'static [&'static str] = &[REFUSED_UNDECODABLE, REFUSED_STYLE_RULE];

    fn check(&self, value: &[u8]) -> Option<Refusal> {
        let config = match self.decode(value) {
            Ok(config) => config,
            Err(refusal) => return Some(refusal),
        };
        parley_core::StyleSettings::from_config(&config)
            .err()
            .map(style_rule)
    }

    fn apply(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(value) = value else {
            if let Some((account, brand, channel)) = self.keys.remove(key) {
                self.table.remove(&account, brand.as_deref(), channel);
            }
            return Ok(());
        };
        let config = self.decode(value)?;
        // `upsert` checks the rules that `check` checks.
        self.table.upsert(&config).map_err(style_rule)?;
        let new = (config.account, config.brand, config.channel);
        if let Some(old) = self.keys.insert(key.to_vec(), new.clone()) {
            if old != new {
                self.table.remove(&old.0, old.1.as_deref(), old.2);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_core::{Millis, Style, Timestamp};

    fn config(account: &str, style: Style, gap: Option<Millis>) -> StyleConfig {
        StyleConfig {
            account: account.into(),
            brand: None,
            channel: None,
            style,
            solved_to_closed_ms: gap,
            priority: 0,
            required_skills: Vec::new(),
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn refused_records_leave_the_table_as_it_was() {
        let codec = AvroCodec::<StyleConfig>::single_object();
        let mut records = StyleRecords::new(codec.clone());
        let returning = codec
            .encode(&config("acme", Style::LiveChatReturning, None))
            .unwrap();
        records.apply(b"acme", Some(&returning)).unwrap();

        let refused = records.apply(b"acme", Some(b"not avro")).unwrap_err();
        assert_eq!(
            (refused.reason, refused.stage),
            (REFUSED_UNDECODABLE, DlqStage::Decode)
        );
        // live_chat closes at once: a gap breaks the rule.
        let live_chat_with_gap = codec
            .encode(&config("acme", Style::LiveChat, Some(Millis::hours(1))))
            .unwrap();
        let refused = records
            .apply(b"acme", Some(&live_chat_with_gap))
            .unwrap_err();
        assert_eq!(
            (refused.reason, refused.stage),
            (REFUSED_STYLE_RULE, DlqStage::Process)
        );
        assert_eq!(records.check(&live_chat_with_gap), Some(refused));
        assert_eq!(records.check(&returning), None);

        let resolved = records.table().resolve("acme", None, Channel::Whatsapp);
        assert_eq!(resolved.style, Style::LiveChatReturning, "still in force");
    }

    #[test]
    fn a_tombstone_removes_what_its_key_held() {
        let codec = AvroCodec::<StyleConfig>::single_object();
        let mut records = StyleRecords::new(codec.clone());
        let live_chat = codec
            .encode(&config("acme", Style::LiveChat, None))
            .unwrap();
        records.apply(b"acme/whatsapp", Some(&live_chat)).unwrap();
        assert_eq!(
            records
                .table()
                .resolve("acme", None, Channel::Whatsapp)
                .style,
            Style::LiveChat
        );
        records.apply(b"acme/whatsapp", None).unwrap();
        assert_eq!(
            records
                .table()
                .resolve("acme", None, Channel::Whatsapp)
                .style,
            Style::SocialMessaging,
            "back to the default"
        );
    }
}
