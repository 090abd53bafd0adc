//! State: the sled store, the changelog format with its seals, and restore from the changelog.

pub mod applier;
pub mod changelog;
pub mod restore;
pub mod store;

pub use changelog::{BatchId, ChangelogOp, ChangelogRecord};
pub use store::{PartitionMeta, PartitionStore, StateStore};
