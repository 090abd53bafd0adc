//! The demo's script: its accounts, the names and lines of its cast, the run's timeline,
//! and the webhook bodies the customers' messages arrive as.

use parley_core::*;

/// One demo account: its style and the channels its customers write on.
#[derive(Clone, Copy, Debug)]
pub(super) struct AccountPlan {
    pub(super) account: &'static str,
    pub(super) style: Style,
    pub(super) channels: &'static [Channel],
    /// Share of the customers, in percent.
    pub(super) share: u32,
}

pub(super) const ACCOUNTS: [AccountPlan; 3] = [
    AccountPlan {
        account: "bikeshop",
        style: Style::LiveChat,
        channels: &[Channel::Web, Channel::Messenger],
        share: 30,
    },
    AccountPlan {
        account: "travelco",
        style: Style::LiveChatReturning,
        channels: &[Channel::Web, Channel::Whatsapp, Channel::Line],
        share: 30,
    },
    AccountPlan {
        account: "telco",
        style: Style::SocialMessaging,
        channels: &[
            Channel::Whatsapp,
            Channel::Messenger,
            Channel::Telegram,
            Channel::Line,
        ],
        share: 40,
    },
];

/// Every agent's capacity on each of its account's channels.
pub(super) const CAPACITY: u32 = 2;

pub(super) const FIRST_NAMES: [&str; 26] = [
    "ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kai", "lea", "max",
    "nia", "omar", "pia", "quinn", "rui", "sam", "tara", "uma", "vic", "wen", "xia", "yuri", "zoe",
];

pub(super) const CUSTOMER_NAMES: [&str; 12] = [
    "Ana Souza",
    "Lena Fischer",
    "Mila Novak",
    "Kenji Sato",
    "Priya Nair",
    "Tom Baker",
    "Ines Garcia",
    "Omar Haddad",
    "Sofia Rossi",
    "Jonas Berg",
    "Aiko Tanaka",
    "Lucas Martin",
];

pub(super) const OPENERS: [&str; 8] = [
    "Hi, my order 4417 has not arrived yet",
    "Hello, can I change my booking to Friday?",
    "My invoice shows the wrong amount",
    "The app keeps logging me out",
    "Do you ship to Portugal?",
    "I was charged twice this month",
    "How do I reset my password?",
    "Is the store open on Sunday?",
];

pub(super) const REPLIES: [&str; 6] = [
    "Thanks, here is the number you asked for: 88213",
    "Yes, that is right",
    "I tried that and it still does not work",
    "OK, I will wait",
    "It was yesterday around 5pm",
    "Great, that fixed it, thank you!",
];

/// The simulated time scale of a run, all in simulated milliseconds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeline {
    /// The whole run.
    pub(super) span: i64,
    /// New customers and returns start only before this.
    pub(super) traffic_end: i64,
    /// live_chat_returning's solved-to-closed gap.
    pub(super) returning_gap: Millis,
    /// social_messaging's solved-to-closed gap.
    pub(super) social_gap: Millis,
    /// The router's offer timeout: long enough that the pipeline's latency never makes an
    /// answer late.
    pub(super) offer_timeout: Millis,
    /// The router's returning-customer grace: longer than any break plus the latency.
    pub(super) returning_grace: Millis,
}

impl Timeline {
    pub(super) fn new(duration: Millis, speed: u32) -> Timeline {
        let speed = i64::from(speed);
        let span = duration.0 * speed;
        let whole_seconds = |ms: i64| Millis(ms / 1_000 * 1_000);
        Timeline {
            span,
            traffic_end: span * 7 / 10,
            returning_gap: whole_seconds((span / 24).max(30_000)),
            social_gap: whole_seconds((span / 8).max(60_000)),
            offer_timeout: Millis((4_000 * speed).max(120_000)),
            returning_grace: Millis(600_000 + 2_000 * speed),
        }
    }

    pub(super) fn gap(&self, style: Style) -> Option<Millis> {
        match style {
            Style::LiveChat => None,
            Style::LiveChatReturning => Some(self.returning_gap),
            Style::SocialMessaging => Some(self.social_gap),
        }
    }
}

/// The demo's SLA policy and its schedule, the same on every account.
pub(super) const SLA_POLICY: &str = "standard";
pub(super) const SLA_SCHEDULE: &str = "round-the-clock";

/// The desk's business hours: every day round the clock in Berlin. A demo may run at any
/// hour, and office hours would pause its reply clocks for the whole run.
pub(super) fn sla_schedule(account: &str, now: Timestamp) -> sla::Schedule {
    sla::Schedule {
        account: account.to_owned(),
        schedule_id: SLA_SCHEDULE.to_owned(),
        time_zone: "Europe/Berlin".to_owned(),
        intervals: sla::Weekday::ALL
            .iter()
            .map(|&day| sla::BusinessInterval {
                day,
                start_minute: 0,
                end_minute: 1_440,
            })
            .collect(),
        holidays: Vec::new(),
        updated_at: now,
    }
}

/// A target for every metric at normal priority (every demo ticket's): replies and updates
/// in the schedule's business hours, resolutions in calendar hours, tight enough that a
/// busy desk breaches some.
pub(super) fn sla_policy(account: &str, now: Timestamp) -> sla::SlaPolicy {
    let target = |metric, minutes, business_hours| sla::SlaTarget {
        metric,
        priority: sla::SlaPriority::Normal,
        target_ms: Millis::minutes(minutes),
        business_hours,
    };
    sla::SlaPolicy {
        account: account.to_owned(),
        policy_id: SLA_POLICY.to_owned(),
        position: 0,
        conditions: sla::SlaConditions::default(),
        schedule_id: Some(SLA_SCHEDULE.to_owned()),
        targets: vec![
            target(sla::SlaMetric::FirstReplyTime, 2, true),
            target(sla::SlaMetric::NextReplyTime, 2, true),
            target(sla::SlaMetric::PeriodicUpdate, 3, true),
            target(sla::SlaMetric::RequesterWaitTime, 10, false),
            target(sla::SlaMetric::AgentWorkTime, 8, false),
            target(sla::SlaMetric::TotalResolutionTime, 15, false),
        ],
        updated_at: now,
    }
}

/// A customer's id on the channel: the form each channel uses.
pub(super) fn conversation_id(channel: Channel, index: u64) -> String {
    match channel {
        Channel::Whatsapp => format!("{}", 5_511_900_000_000u64 + index),
        Channel::Messenger => format!("{}", 6_783_920_100_000_000u64 + index),
        Channel::Telegram => format!("{}", 5_000_000_000u64 + index),
        Channel::Line => format!(
            "U{:032x}",
            0xb7c5_a2f4_d3e1_c0b9_a8f7_e6d5_c4b3_0000u128 + u128::from(index)
        ),
        _ => format!("64b7{:020x}", index),
    }
}

/// A text message as `channel` posts it to its webhook, `n` making its ids unique.
pub(super) fn webhook(
    channel: Channel,
    conversation: &str,
    name: &str,
    n: u64,
    text: &str,
    now: Timestamp,
) -> String {
    let ms = now.0;
    let secs = ms / 1_000;
    match channel {
        Channel::Whatsapp => format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}},"contacts":[{{"profile":{{"name":"{name}"}},"wa_id":"{conversation}"}}],"messages":[{{"from":"{conversation}","id":"wamid.demo{n}","timestamp":"{secs}","text":{{"body":"{text}"}},"type":"text"}}]}}}}]}}]}}"#
        ),
        Channel::Messenger => format!(
            r#"{{"object":"page","entry":[{{"id":"110385718390017","time":{ms},"messaging":[{{"sender":{{"id":"{conversation}"}},"recipient":{{"id":"110385718390017"}},"timestamp":{ms},"message":{{"mid":"m_demo{n}","text":"{text}"}}}}]}}]}}"#
        ),
        Channel::Telegram => format!(
            r#"{{"update_id":{n},"message":{{"message_id":{n},"from":{{"id":{conversation},"is_bot":false,"first_name":"{name}"}},"chat":{{"id":{conversation},"first_name":"{name}","type":"private"}},"date":{secs},"text":"{text}"}}}}"#
        ),
        Channel::Line => format!(
            r#"{{"destination":"U4af4980629e0a1b2c3d4e5f6a7b8c9d0","events":[{{"type":"message","mode":"active","timestamp":{ms},"source":{{"type":"user","userId":"{conversation}"}},"webhookEventId":"demo{n}","deliveryContext":{{"isRedelivery":false}},"replyToken":"token{n}","message":{{"id":"{n}","type":"text","text":"{text}"}}}}]}}"#
        ),
        _ => {
            let at = Timestamp(ms).to_rfc3339();
            format!(
                r#"{{"app":{{"id":"64b7f0c2e4b0a1d2c3e4f5a6"}},"webhook":{{"id":"64b7f0d9e4b0a1d2c3e4f5b7","version":"v2"}},"events":[{{"id":"ev{n}","createdAt":"{at}","type":"conversation:message","payload":{{"conversation":{{"id":"{conversation}","type":"personal"}},"message":{{"id":"demo{n}","received":"{at}","author":{{"type":"user","userId":"u{conversation}","displayName":"{name}","user":{{"id":"u{conversation}"}}}},"content":{{"type":"text","text":"{text}"}},"source":{{"type":"{}","integrationId":"64b7f0c5e4b0a1d2c3e4f5a9"}}}}}}}}]}}"#,
                channel.as_str()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_webhook_normalises_to_one_event_of_its_customer() {
        let normaliser = parley_ingress::Normaliser::new(parley_ingress::IngressConfig::default());
        let now = Timestamp(1_732_100_000_125);
        for (index, channel) in [
            Channel::Web,
            Channel::Whatsapp,
            Channel::Messenger,
            Channel::Telegram,
            Channel::Line,
        ]
        .into_iter()
        .enumerate()
        {
            let conversation = conversation_id(channel, index as u64);
            let body = webhook(channel, &conversation, "Ana Souza", 7, "Hello there", now);
            let outcome = normaliser
                .normalise(&parley_ingress::RawRecord {
                    channel,
                    payload: body.as_bytes(),
                    account_header: Some("telco"),
                    timestamp: now,
                })
                .unwrap_or_else(|e| panic!("{channel}: {e}\n{body}"));
            assert_eq!(outcome.events.len(), 1, "{channel}");
            let event = &outcome.events[0];
            assert_eq!(
                (
                    event.account.as_str(),
                    event.conversation.as_str(),
                    event.channel
                ),
                ("telco", conversation.as_str(), channel)
            );
            assert_eq!(event.text.as_deref(), Some("Hello there"));
        }
    }

    #[test]
    fn the_sla_schedule_and_policy_are_valid() {
        let now = Timestamp(1_732_100_000_000);
        for plan in &ACCOUNTS {
            sla_schedule(plan.account, now).calendar().unwrap();
            sla_policy(plan.account, now).validate().unwrap();
        }
    }

    #[test]
    fn the_timeline_fits_closes_into_the_run_and_keeps_gaps_legal() {
        let timeline = Timeline::new(Millis::seconds(10), 180);
        assert_eq!(timeline.span, 1_800_000);
        assert!(timeline.social_gap.0 < timeline.span - timeline.traffic_end);
        assert!(timeline.returning_gap < timeline.social_gap);
        for plan in &ACCOUNTS {
            parley_core::style::validate_gap(plan.style, timeline.gap(plan.style)).unwrap();
        }
        // A break (at most 4 minutes) always ends before the returning-customer grace.
        assert!(timeline.returning_grace > Millis::minutes(4));
    }
}
