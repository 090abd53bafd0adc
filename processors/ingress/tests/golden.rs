//! Golden tests: every body in `tests/fixtures/<channel>/` normalises to exactly what its
//! `<name>.expected.json` says: `{"events": [...], "skipped": [...]}` (events as serde JSON
//! of ConversationEvent), or `{"error": "<reason code>", "message": "..."}` for a body that goes to the DLQ.
//!
//! Regenerate after an intended change with `UPDATE_GOLDEN=1 cargo test -p parley-ingress
//! --test golden`, then review the diff.

use parley_core::{Channel, Timestamp};
use parley_ingress::{IngressConfig, Normaliser, RawRecord};
use parley_testkit::fixtures::{account_header, INTEGRATIONS};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// 2024-11-21T00:00:00Z: every fixture message is a little earlier.
const RECEIVED: Timestamp = Timestamp(1_732_147_200_000);

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn bodies(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            !name.ends_with(".expected.json") && (name.ends_with(".json") || name.ends_with(".xml"))
        })
        .collect();
    files.sort();
    files
}

fn actual(normaliser: &Normaliser, channel: Channel, path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap();
    let record = RawRecord {
        channel,
        payload: &bytes,
        account_header: account_header(channel),
        timestamp: RECEIVED,
    };
    match normaliser.normalise(&record) {
        Ok(outcome) => serde_json::to_value(&outcome).unwrap(),
        Err(error) => json!({ "error": error.code(), "message": error.to_string() }),
    }
}

#[test]
fn every_fixture_matches_its_golden_file() {
    let normaliser = Normaliser::new(serde_json::from_str::<IngressConfig>(INTEGRATIONS).unwrap());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut channels_seen = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let channel: Channel = serde_json::from_value(json!(name))
            .unwrap_or_else(|_| panic!("{name} is not a channel"));
        channels_seen.push(channel);
        for body in bodies(&dir) {
            let got = actual(&normaliser, channel, &body);
            let golden = body.with_extension("expected.json");
            if update {
                std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap() + "\n")
                    .unwrap();
            }
            let want: Value = std::fs::read_to_string(&golden)
                .map(|text| serde_json::from_str(&text).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", golden.display()));
            if got != want {
                failures.push(format!(
                    "{}:\n  want {}\n  got  {}",
                    body.display(),
                    serde_json::to_string(&want).unwrap(),
                    serde_json::to_string(&got).unwrap()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    channels_seen.sort();
    assert_eq!(channels_seen, Channel::ALL, "every channel has fixtures");
}

/// The minimum per channel: a text message, a batch, an attachment, a skipped
/// receipt and a malformed body.
#[test]
fn every_channel_has_the_required_fixtures() {
    for channel in Channel::ALL {
        let dir = fixtures_dir().join(channel.as_str());
        let required: &[&str] = match channel {
            Channel::Ios => &["text", "attachment"],
            Channel::Android => &["text", "receipt"],
            _ => &["text", "batch", "attachment", "receipt", "malformed"],
        };
        for stem in required {
            let found = ["json", "xml"]
                .iter()
                .any(|ext| dir.join(format!("{stem}.{ext}")).exists());
            assert!(found, "{}: no {stem} fixture", dir.display());
        }
    }
}

/// A body on the wrong channel's topic goes to the DLQ as `wrong_channel` (or, between the
/// JSON channels and WeChat's XML, as the other format's `malformed_*`), never as events.
#[test]
fn text_bodies_on_another_channels_topic_go_to_the_dlq() {
    let normaliser = Normaliser::new(serde_json::from_str::<IngressConfig>(INTEGRATIONS).unwrap());
    let adapter = |channel: Channel| match channel {
        Channel::Ios | Channel::Android => Channel::Web,
        other => other,
    };
    for from in Channel::ALL {
        let dir = fixtures_dir().join(from.as_str());
        let Some(body) = ["json", "xml"]
            .iter()
            .find_map(|ext| std::fs::read(dir.join(format!("text.{ext}"))).ok())
        else {
            panic!("{from}: no text fixture")
        };
        for to in Channel::ALL {
            if adapter(from) == adapter(to) {
                continue;
            }
            let record = RawRecord {
                channel: to,
                payload: &body,
                account_header: Some("acme"),
                timestamp: RECEIVED,
            };
            let code = normaliser
                .normalise(&record)
                .map(|o| format!("{} events", o.events.len()));
            let expected = match (from, to) {
                (Channel::Wechat, _) => "malformed_json",
                (_, Channel::Wechat) => "malformed_xml",
                _ => "wrong_channel",
            };
            assert_eq!(
                code.map_err(|e| e.code()),
                Err(expected),
                "{from} body on the {to} topic"
            );
        }
    }
}
