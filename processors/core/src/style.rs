//! Conversational styles: their settings, the validation a person's configuration gets, and
//! the table that picks the most specific configuration for a ticket.

use crate::model::{Channel, InactivityReminderStep, Status, Style, StyleConfig};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

/// The longest a ticket may stay Solved before it is Closed, whatever the configuration.
pub const MAX_SOLVED_TO_CLOSED: Millis = Millis::days(28);

/// `live_chat_returning`'s gap when none is configured.
pub const DEFAULT_RETURNING_GAP: Millis = Millis::hours(1);

/// `social_messaging`'s gap when none is configured.
pub const DEFAULT_SOCIAL_GAP: Millis = Millis::days(4);

/// How long an assigned conversation may go without an end-user message before it is
/// inactive, when none is configured: Zendesk's 10 minutes.
pub const DEFAULT_INACTIVITY: Millis = Millis::minutes(10);

/// What a ticket takes from the configuration at its creation and keeps for its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StyleSettings {
    /// The conversational style.
    pub style: Style,
    /// Solved to Closed; zero for live chat. Never above [`MAX_SOLVED_TO_CLOSED`].
    pub solved_to_closed: Millis,
    /// Routing priority; higher goes first.
    pub priority: i32,
    /// Skills the assignee needs.
    pub required_skills: Vec<String>,
    /// The group that may take the ticket.
    pub group: Option<String>,
    /// An assigned, Open conversation without an end-user message for this long is
    /// inactive: it stops taking its assignee's capacity until the end user writes again.
    /// Zero: never. Tickets stored before the setting existed take the default.
    #[serde(default = "default_inactivity")]
    pub inactivity: Millis,
    /// Reminders to an inactive conversation's end user, in order.
    #[serde(default)]
    pub reminders: Vec<InactivityReminderStep>,
}

/// The most inactivity reminder steps a style may have.
pub const MAX_REMINDER_STEPS: usize = 3;

/// [`DEFAULT_INACTIVITY`], for tickets stored before the setting existed.
fn default_inactivity() -> Millis {
    DEFAULT_INACTIVITY
}

impl StyleSettings {
    /// A style with its default gap and no routing attributes.
    pub fn of(style: Style) -> StyleSettings {
        StyleSettings {
            style,
            solved_to_closed: default_gap(style),
            priority: 0,
            required_skills: Vec::new(),
            group: None,
            inactivity: DEFAULT_INACTIVITY,
            reminders: Vec::new(),
        }
    }

    /// The settings a validated configuration record gives.
    pub fn from_config(config: &StyleConfig) -> Result<StyleSettings, StyleConfigError> {
        let solved_to_closed = validate_gap(config.style, config.solved_to_closed_ms)?;
        let inactivity = validate_inactivity(config.inactivity_ms)?;
        validate_reminders(&config.inactivity_reminders)?;
        Ok(StyleSettings {
            style: config.style,
            solved_to_closed,
            priority: config.priority,
            required_skills: config.required_skills.clone(),
            group: config.group.clone(),
            inactivity,
            reminders: config.inactivity_reminders.clone(),
        })
    }
}

impl Default for StyleSettings {
    /// `social_messaging`, the default style, with its 4-day gap.
    fn default() -> StyleSettings {
        StyleSettings::of(Style::SocialMessaging)
    }
}

/// The solve-to-close gap of `style` when none is configured.
pub const fn default_gap(style: Style) -> Millis {
    match style {
        Style::LiveChat => Millis::ZERO,
        Style::LiveChatReturning => DEFAULT_RETURNING_GAP,
        Style::SocialMessaging => DEFAULT_SOCIAL_GAP,
    }
}

/// Checks a configured gap against the rules and returns the gap in force.
pub fn validate_gap(style: Style, configured: Option<Millis>) -> Result<Millis, StyleConfigError> {
    let Some(gap) = configured else {
        return Ok(default_gap(style));
    };
    if style == Style::LiveChat {
        return Err(StyleConfigError::GapForLiveChat { value: gap });
    }
    if gap < Millis::ZERO {
        return Err(StyleConfigError::NegativeGap { value: gap });
    }
    if gap > MAX_SOLVED_TO_CLOSED {
        return Err(StyleConfigError::GapTooLong { value: gap });
    }
    Ok(gap)
}

/// Checks a configured inactivity time and returns the one in force (zero: never).
pub fn validate_inactivity(configured: Option<Millis>) -> Result<Millis, StyleConfigError> {
    match configured {
        None => Ok(DEFAULT_INACTIVITY),
        Some(value) if value < Millis::ZERO => Err(StyleConfigError::NegativeInactivity { value }),
        Some(value) => Ok(value),
    }
}

/// Checks a style's inactivity reminders: at most [`MAX_REMINDER_STEPS`], each after a
/// delay above zero, a status (pending or solved) on the last step only.
pub fn validate_reminders(steps: &[InactivityReminderStep]) -> Result<(), StyleConfigError> {
    let refuse = |rule: &'static str| Err(StyleConfigError::Reminders { rule });
    if steps.len() > MAX_REMINDER_STEPS {
        return refuse("at most 3 steps");
    }
    for (i, step) in steps.iter().enumerate() {
        if step.after_ms <= Millis::ZERO {
            return refuse("each step's after_ms must be above zero");
        }
        match step.set_status {
            None | Some(Status::Pending | Status::Solved) if i + 1 == steps.len() => {}
            None => {}
            Some(Status::Pending | Status::Solved) => {
                return refuse("only the last step may set a status");
            }
            Some(_) => return refuse("a step may set pending or solved only"),
        }
    }
    Ok(())
}

/// A style configuration that breaks a rule. Each message names the field, the value and
/// the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StyleConfigError {
    /// `solved_to_closed` is above 28 days.
    GapTooLong {
        /// The configured gap.
        value: Millis,
    },
    /// `solved_to_closed` is negative.
    NegativeGap {
        /// The configured gap.
        value: Millis,
    },
    /// `solved_to_closed` was given for `live_chat`, which closes at once.
    GapForLiveChat {
        /// The configured gap.
        value: Millis,
    },
    /// `inactivity_reminders` breaks `rule`.
    Reminders {
        /// The rule broken.
        rule: &'static str,
    },
    /// `inactivity` is negative.
    NegativeInactivity {
        /// The configured time.
        value: Millis,
    },
}

impl fmt::Display for StyleConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StyleConfigError::GapTooLong { value } => write!(
                f,
                "solved_to_closed = {value} ({} ms): must be at most 28d; every ticket closes at most 28 days after it was last solved",
                value.0
            ),
            StyleConfigError::NegativeGap { value } => write!(
                f,
                "solved_to_closed = {} ms: must not be negative",
                value.0
            ),
            StyleConfigError::NegativeInactivity { value } => write!(
                f,
                "inactivity = {} ms: must not be negative (0 turns messaging inactivity off)",
                value.0
            ),
            StyleConfigError::Reminders { rule } => {
                write!(f, "inactivity_reminders: {rule}")
            }
            StyleConfigError::GapForLiveChat { value } => write!(
                f,
                "solved_to_closed = {value}: not allowed for style live_chat, which closes a ticket the moment it is solved; use live_chat_returning for a gap"
            ),
        }
    }
}

impl std::error::Error for StyleConfigError {}

/// The style configurations of every account, read from the compacted `style-config`
/// topic. Lookup picks the most specific record: account + brand + channel, then account +
/// brand, then account + channel, then account; the default style when there is none.
#[derive(Clone, Debug, Default)]
pub struct StyleTable {
    entries: HashMap<StyleKey, StyleSettings>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StyleKey {
    account: String,
    brand: Option<String>,
    channel: Option<Channel>,
}

impl StyleTable {
    /// An empty table: every ticket gets the default style.
    pub fn new() -> StyleTable {
        StyleTable::default()
    }

    /// Inserts or replaces a record (the latest record per key wins). Refused if the
    /// record breaks a rule; the table is then unchanged.
    pub fn upsert(&mut self, config: &StyleConfig) -> Result<(), StyleConfigError> {
        let settings = StyleSettings::from_config(config)?;
        self.entries.insert(
            StyleKey {
                account: config.account.clone(),
                brand: config.brand.clone(),
                channel: config.channel,
            },
            settings,
        );
        Ok(())
    }

    /// Removes the record at a key (a tombstone on the topic).
    pub fn remove(&mut self, account: &str, brand: Option<&str>, channel: Option<Channel>) {
        self.entries.remove(&StyleKey {
            account: account.to_owned(),
            brand: brand.map(str::to_owned),
            channel,
        });
    }

    /// The settings in force for a new ticket.
    pub fn resolve(&self, account: &str, brand: Option<&str>, channel: Channel) -> StyleSettings {
        let brands: &[Option<&str>] = match brand {
            Some(_) => &[brand, None],
            None => &[None],
        };
        for b in brands {
            for c in [Some(channel), None] {
                let key = StyleKey {
                    account: account.to_owned(),
                    brand: b.map(str::to_owned),
                    channel: c,
                };
                if let Some(settings) = self.entries.get(&key) {
                    return settings.clone();
                }
            }
        }
        StyleSettings::default()
    }

    /// How many records the table holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_take_three_steps_at_most_and_a_status_on_the_last_only() {
        let step = |minutes, set_status| InactivityReminderStep {
            after_ms: Millis::minutes(minutes),
            set_status,
        };
        let solved = Some(Status::Solved);
        assert_eq!(validate_reminders(&[]), Ok(()));
        assert_eq!(
            validate_reminders(&[step(5, None), step(10, solved)]),
            Ok(())
        );
        let rule = |steps: &[InactivityReminderStep]| match validate_reminders(steps) {
            Err(StyleConfigError::Reminders { rule }) => rule,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rule(&[step(5, solved), step(10, None)]),
            "only the last step may set a status"
        );
        assert_eq!(
            rule(&[step(0, None)]),
            "each step's after_ms must be above zero"
        );
        assert_eq!(
            rule(&[step(5, Some(Status::Closed))]),
            "a step may set pending or solved only"
        );
        assert_eq!(rule(&vec![step(1, None); 4]), "at most 3 steps");
        assert_eq!(
            StyleConfigError::Reminders {
                rule: "at most 3 steps"
            }
            .to_string(),
            "inactivity_reminders: at most 3 steps"
        );
    }
    use crate::time::Timestamp;

    fn config(brand: Option<&str>, channel: Option<Channel>, style: Style) -> StyleConfig {
        StyleConfig {
            account: "acme".into(),
            brand: brand.map(Into::into),
            channel,
            style,
            solved_to_closed_ms: None,
            priority: 0,
            required_skills: vec![],
            group: None,
            inactivity_ms: None,
            inactivity_reminders: Vec::new(),
            updated_at: Timestamp(0),
        }
    }

    #[test]
    fn defaults_per_style() {
        assert_eq!(validate_gap(Style::LiveChat, None), Ok(Millis::ZERO));
        assert_eq!(
            validate_gap(Style::LiveChatReturning, None),
            Ok(Millis::hours(1))
        );
        assert_eq!(
            validate_gap(Style::SocialMessaging, None),
            Ok(Millis::days(4))
        );
    }

    #[test]
    fn twenty_eight_days_is_allowed_and_one_more_millisecond_is_not() {
        assert_eq!(
            validate_gap(Style::SocialMessaging, Some(Millis::days(28))),
            Ok(Millis::days(28))
        );
        let err =
            validate_gap(Style::SocialMessaging, Some(Millis(Millis::days(28).0 + 1))).unwrap_err();
        assert!(matches!(err, StyleConfigError::GapTooLong { .. }));
        let text = validate_gap(Style::SocialMessaging, Some(Millis::days(30)))
            .unwrap_err()
            .to_string();
        assert!(text.contains("solved_to_closed"), "{text}");
        assert!(text.contains("30d"), "{text}");
        assert!(text.contains("at most 28d"), "{text}");
    }

    #[test]
    fn negative_gap_is_refused() {
        let err = validate_gap(Style::LiveChatReturning, Some(Millis(-5))).unwrap_err();
        assert_eq!(err, StyleConfigError::NegativeGap { value: Millis(-5) });
        assert!(err.to_string().contains("-5 ms"));
    }

    #[test]
    fn inactivity_defaults_to_ten_minutes_zero_is_off_and_negative_is_refused() {
        assert_eq!(validate_inactivity(None), Ok(Millis::minutes(10)));
        assert_eq!(validate_inactivity(Some(Millis::ZERO)), Ok(Millis::ZERO));
        let err = validate_inactivity(Some(Millis(-1))).unwrap_err();
        assert!(err.to_string().starts_with("inactivity = -1 ms"), "{err}");
    }

    #[test]
    fn gap_for_live_chat_is_refused() {
        let err = validate_gap(Style::LiveChat, Some(Millis::hours(1))).unwrap_err();
        assert!(err.to_string().contains("live_chat"));
        assert!(err.to_string().contains("1h"));
    }

    #[test]
    fn most_specific_configuration_wins() {
        let mut table = StyleTable::new();
        table.upsert(&config(None, None, Style::LiveChat)).unwrap();
        table
            .upsert(&config(
                None,
                Some(Channel::Whatsapp),
                Style::SocialMessaging,
            ))
            .unwrap();
        table
            .upsert(&config(Some("b1"), None, Style::LiveChatReturning))
            .unwrap();
        let style = |brand, channel| table.resolve("acme", brand, channel).style;
        assert_eq!(style(None, Channel::Web), Style::LiveChat);
        assert_eq!(style(None, Channel::Whatsapp), Style::SocialMessaging);
        assert_eq!(
            style(Some("b1"), Channel::Whatsapp),
            Style::LiveChatReturning
        );
        assert_eq!(style(Some("other"), Channel::Web), Style::LiveChat);
        assert_eq!(
            table.resolve("unknown", None, Channel::Web),
            StyleSettings::default()
        );
    }

    #[test]
    fn refused_record_leaves_the_table_unchanged() {
        let mut table = StyleTable::new();
        let mut bad = config(None, None, Style::SocialMessaging);
        bad.solved_to_closed_ms = Some(Millis::days(29));
        assert!(table.upsert(&bad).is_err());
        assert!(table.is_empty());
    }
}
