//! State: the sled store, the changelog format with its seals, restore from the changelog, the
//! offline rescale of a changelog to more partitions, and the read-only view the `/state`
//! endpoint reads.

pub mod applier;
pub mod changelog;
pub mod rescale;
pub mod restore;
pub mod store;
pub mod view;

pub use changelog::{BatchId, ChangelogOp, ChangelogRecord};
pub use store::{PartitionMeta, PartitionStore, StateStore};
pub use view::{Lookup, PartitionView, StateView};
