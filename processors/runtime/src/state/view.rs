//! A read-only view of a running host's committed state, for the `/state` endpoint.
//!
//! The host publishes, as partitions are assigned, restored and released, which partitions
//! it owns and a read handle on each one's sled tree. A reader (the HTTP task) looks a state
//! key up in every owned partition without going through the processing loop: sled is safe to
//! read from any thread, and the loop touches the view only on a rebalance. What a reader sees
//! is what sled holds: every batch applied whole, so a value is as of the last committed batch
//! that reached sled (up to a commit interval behind the loop's memory).

use crate::state::store::PartitionStore;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Where an owned partition stands.
#[derive(Clone, Debug)]
enum Slot {
    /// Replaying its changelog: its tree is not complete yet.
    Restoring,
    /// Restored; its tree holds every committed batch the host applied.
    Ready(PartitionStore),
}

/// A shareable, read-only view of the partitions a host owns; see the module doc.
///
/// Get one with [`Host::state_view`](crate::Host::state_view) before running the host; clones
/// share the same view. It is empty until the host owns a partition, and again after it stops.
#[derive(Clone, Debug, Default)]
pub struct StateView {
    partitions: Arc<RwLock<BTreeMap<i32, Slot>>>,
}

/// A state entry: `(state key, value)`.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Read access to one restored partition's state entries.
#[derive(Clone, Debug)]
pub struct PartitionView {
    store: PartitionStore,
}

/// What a [`StateView::lookup`] found.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The key's value, in the partition that holds it.
    Found {
        /// Read access to that partition, for renderers that read related entries.
        partition: PartitionView,
        /// The stored value.
        value: Vec<u8>,
    },
    /// No restored partition holds the key, but some owned partitions are still restoring:
    /// the key may be in one of them.
    Restoring {
        /// The partitions still restoring.
        restoring: Vec<i32>,
        /// Every owned partition, restoring or not.
        owned: Vec<i32>,
    },
    /// No owned partition holds the key.
    NotFound {
        /// Every owned partition (empty when the host owns none).
        owned: Vec<i32>,
    },
}

impl StateView {
    /// An empty view (no partition owned).
    pub fn new() -> StateView {
        StateView::default()
    }

    /// The partitions owned now, restoring or not, in order.
    pub fn owned(&self) -> Vec<i32> {
        self.read().keys().copied().collect()
    }

    /// The owned partitions still restoring, in order.
    pub fn restoring(&self) -> Vec<i32> {
        self.read()
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Restoring))
            .map(|(partition, _)| *partition)
            .collect()
    }

    /// Looks `state_key` up in every restored partition the host owns (one sled read each).
    pub fn lookup(&self, state_key: &[u8]) -> Result<Lookup, sled::Error> {
        // Clone the handles out so the lock is not held across sled reads.
        let slots: Vec<(i32, Slot)> = self.read().iter().map(|(p, s)| (*p, s.clone())).collect();
        let mut restoring = Vec::new();
        for (partition, slot) in &slots {
            match slot {
                Slot::Restoring => restoring.push(*partition),
                Slot::Ready(store) => {
                    if let Some(value) = store.get(state_key)? {
                        return Ok(Lookup::Found {
                            partition: PartitionView {
                                store: store.clone(),
                            },
                            value: value.to_vec(),
                        });
                    }
                }
            }
        }
        let owned = slots.iter().map(|(partition, _)| *partition).collect();
        if restoring.is_empty() {
            Ok(Lookup::NotFound { owned })
        } else {
            Ok(Lookup::Restoring { restoring, owned })
        }
    }

    /// Marks `partition` owned and restoring.
    pub(crate) fn set_restoring(&self, partition: i32) {
        self.write().insert(partition, Slot::Restoring);
    }

    /// Marks `partition` owned and restored, readable through `store`.
    pub(crate) fn set_ready(&self, store: PartitionStore) {
        self.write().insert(store.partition, Slot::Ready(store));
    }

    /// Forgets `partition` (revoked, lost, or its restore failed).
    pub(crate) fn release(&self, partition: i32) {
        self.write().remove(&partition);
    }

    /// Forgets every partition (the host stopped), dropping the view's handles on the
    /// database so that it closes with the host.
    pub(crate) fn release_all(&self) {
        self.write().clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<i32, Slot>> {
        // The map is replaced whole under the lock, so a poisoned one is still consistent.
        self.partitions
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<i32, Slot>> {
        self.partitions
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PartitionView {
    /// A read-only view of `store` (for renderers' tests).
    pub fn new(store: PartitionStore) -> PartitionView {
        PartitionView { store }
    }

    /// The partition.
    pub fn partition(&self) -> i32 {
        self.store.partition
    }

    /// The value of a state entry.
    pub fn get(&self, state_key: &[u8]) -> Result<Option<Vec<u8>>, sled::Error> {
        Ok(self.store.get(state_key)?.map(|value| value.to_vec()))
    }

    /// The state entries whose keys start with `prefix`, in key order, as `(key, value)`.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, sled::Error> {
        self.store
            .entries_with_prefix(prefix)
            .map(|entry| entry.map(|(key, value)| (key.to_vec(), value.to_vec())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ChangelogOp, PartitionMeta, StateStore};

    fn temp_store(name: &str) -> (StateStore, std::path::PathBuf) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("parley-view-{name}-{}-{nanos}", std::process::id()));
        (StateStore::open(&dir).unwrap().0, dir)
    }

    fn put(store: &PartitionStore, key: &str, value: &str) {
        let ops = [ChangelogOp::State {
            key: key.as_bytes().to_vec(),
            value: Some(value.as_bytes().to_vec()),
        }];
        let _ = store.apply(&ops, &PartitionMeta::default()).unwrap();
    }

    #[test]
    fn lookups_see_only_restored_owned_partitions() {
        let (store, dir) = temp_store("lookup");
        let (p0, p1) = (store.partition(0).unwrap(), store.partition(1).unwrap());
        put(&p0, "acme/c1", "{\"a\":1}");
        put(&p1, "acme/c2", "{\"b\":2}");
        let view = StateView::new();
        assert!(matches!(
            view.lookup(b"acme/c1").unwrap(),
            Lookup::NotFound { owned } if owned.is_empty()
        ));

        view.set_ready(p0.clone());
        view.set_restoring(1);
        match view.lookup(b"acme/c1").unwrap() {
            Lookup::Found { partition, value } => {
                assert_eq!(partition.partition(), 0);
                assert_eq!(value, b"{\"a\":1}");
            }
            other => panic!("{other:?}"),
        }
        // Partition 1 holds acme/c2 in sled, but it is not restored yet.
        assert!(matches!(
            view.lookup(b"acme/c2").unwrap(),
            Lookup::Restoring { restoring, owned } if restoring == [1] && owned == [0, 1]
        ));

        view.set_ready(p1.clone());
        assert!(matches!(
            view.lookup(b"acme/c2").unwrap(),
            Lookup::Found { partition, .. } if partition.partition() == 1
        ));
        assert!(matches!(
            view.lookup(b"acme/c9").unwrap(),
            Lookup::NotFound { owned } if owned == [0, 1]
        ));

        // A released partition's tree is still in sled, but no longer read.
        view.release(0);
        assert!(matches!(
            view.lookup(b"acme/c1").unwrap(),
            Lookup::NotFound { owned } if owned == [1]
        ));
        view.release_all();
        assert!(view.owned().is_empty());
        drop((store, p0, p1));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_partition_view_scans_a_prefix_in_key_order() {
        let (store, dir) = temp_store("scan");
        let p = store.partition(2).unwrap();
        put(&p, "acme/ticket/t2", "2");
        put(&p, "acme/ticket/t1", "1");
        put(&p, "acme/agent/a1", "a");
        put(&p, "acmeco/ticket/t3", "3");
        let view = PartitionView::new(p);
        let keys: Vec<Vec<u8>> = view
            .scan_prefix(b"acme/ticket/")
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(
            keys,
            [b"acme/ticket/t1".to_vec(), b"acme/ticket/t2".to_vec()]
        );
        assert_eq!(view.get(b"acme/agent/a1").unwrap(), Some(b"a".to_vec()));
        assert_eq!(view.get(b"acme/agent/a2").unwrap(), None);
        drop((store, view));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
