//! The integration map that the ingress fixtures (`processors/ingress/tests/fixtures`)
//! resolve their accounts with, as an ingress config's JSON.

use parley_core::Channel;

/// The ingress config (JSON) whose integration map knows every fixture's integration id.
pub const INTEGRATIONS: &str = r#"{"integrations": {
    "106540352242922": "acme/br",
    "110385718390017": "acme",
    "17841405309211844": "acme/instagram",
    "U4af4980629e0a1b2c3d4e5f6a7b8c9d0": "acme/jp",
    "1455987000132501505": "acme",
    "64b7f0c2e4b0a1d2c3e4f5a6": "acme/de",
    "gh_3a9c1e7b5d24": "acme/cn"
}}"#;

/// The `parley-account` header a fixture's record carries: Telegram and Viber bodies name no
/// integration, so their records name the account.
pub fn account_header(channel: Channel) -> Option<&'static str> {
    matches!(channel, Channel::Telegram | Channel::Viber).then_some("acme/support")
}
