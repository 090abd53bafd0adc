//! Instagram messaging webhooks: Meta's `entry[].messaging[]` shape with
//! `object: "instagram"`, read by the Messenger adapter.
//!
//! Differences from Messenger that the shared reader handles: a deleted message arrives as
//! `message.is_deleted` (skipped as unsend); attachment types include `share`,
//! `story_mention` and `ig_reel` (kept as `other`, with their URL); the business-side id is
//! the Instagram professional account id.

use super::messenger::{normalise_meta, Product};
use super::Context;
use crate::error::IngressError;

const INSTAGRAM: Product = Product {
    object: "instagram",
    business_id_handle: "instagram_account_id",
};

pub(crate) fn normalise(body: &str, context: &mut Context<'_>) -> Result<(), IngressError> {
    normalise_meta(body, context, INSTAGRAM)
}
