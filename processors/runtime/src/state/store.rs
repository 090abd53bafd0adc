//! The local state store: one sled database per instance, one tree per partition.
//!
//! A partition's tree holds its state entries, its durable timer index (`due | timer key`,
//! big-endian, so a range scan yields due timers in order), each timer's due time, and its
//! progress (the changelog offset reached, the input offsets of the last applied seal, when it
//! was written). A batch is applied as one `sled::Batch`, atomically, so the store always
//! holds whole batches. sled is a cache of the changelog:
//! a store that is corrupt is deleted and rebuilt from the changelog.
//!
//! One process owns a state directory: it holds an exclusive lock on `parley.lock` there
//! (with its pid inside) for as long as the store is open. A second process given the same
//! directory is refused, naming the directory and the holder, and deletes nothing.

use crate::state::changelog::{decode_offsets, encode_offsets, ChangelogOp};
use crate::timers::{due_bytes, due_from_bytes, index_key};
use parley_core::Timestamp;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The instance's sled database.
#[derive(Clone, Debug)]
pub struct StateStore {
    db: sled::Db,
    path: PathBuf,
    /// The directory's lock, held while any clone of the store lives.
    _lock: Arc<File>,
}

/// The lock file in a state directory.
const LOCK_FILE: &str = "parley.lock";

/// Takes the exclusive lock on `dir`'s lock file and writes this process's pid into it, or
/// says who holds it.
fn lock(dir: &Path) -> Result<File, sled::Error> {
    std::fs::create_dir_all(dir).map_err(sled::Error::Io)?;
    let path = dir.join(LOCK_FILE);
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(sled::Error::Io)?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = match holder.trim() {
            "" => "another process".to_owned(),
            pid => format!("process {pid}"),
        };
        return Err(sled::Error::Io(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!(
                "state directory {} is in use by {holder} (it holds {}); \
                 give every instance a --state-dir of its own",
                dir.display(),
                path.display()
            ),
        )));
    }
    file.set_len(0).map_err(sled::Error::Io)?;
    file.rewind().map_err(sled::Error::Io)?;
    writeln!(file, "{}", std::process::id()).map_err(sled::Error::Io)?;
    Ok(file)
}

/// Deletes everything in `dir` but the lock file.
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Whether `error` says the database is damaged (and so may be deleted), rather than that it
/// could not be reached (a lock, a permission, a full disk).
fn is_corrupt(error: &sled::Error) -> bool {
    match error {
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) => true,
        sled::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// What the store knows about a partition's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionMeta {
    /// The changelog offset after the last applied seal; restore resumes here.
    pub changelog_next: Option<i64>,
    /// The next input offset per topic, from the last applied seal.
    pub inputs: BTreeMap<String, i64>,
    /// When the last batch was applied (processing time).
    pub written_at: Option<Timestamp>,
}

impl StateStore {
    /// Opens the database in `dir`, locking the directory for this process; if the
    /// database is corrupt, deletes it and starts empty. Returns the store and whether it
    /// was rebuilt. A directory locked by another process is refused, as is a database that
    /// cannot be opened for another reason (nothing is deleted then).
    pub fn open(dir: &Path) -> Result<(StateStore, bool), sled::Error> {
        let lock = Arc::new(lock(dir)?);
        let config = || {
            sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
        };
        let store = |db| StateStore {
            db,
            path: dir.to_owned(),
            _lock: lock.clone(),
        };
        match config().open() {
            Ok(db) => Ok((store(db), false)),
            Err(error) if is_corrupt(&error) => {
                tracing::warn!(%error, dir = %dir.display(), "state store corrupt, rebuilding from the changelog");
                clear_dir(dir).map_err(sled::Error::Io)?;
                Ok((store(config().open()?), true))
            }
            Err(error) => Err(error),
        }
    }

    /// The trees of `partition`.
    pub fn partition(&self, partition: i32) -> Result<PartitionStore, sled::Error> {
        Ok(PartitionStore {
            partition,
            tree: self.db.open_tree(format!("partition-{partition}"))?,
        })
    }

    /// Bytes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Flushes to disk.
    pub fn flush(&self) -> Result<(), sled::Error> {
        self.db.flush().map(|_| ())
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The tree of one partition. Keys start with a tag byte: `0x00` progress (meta), `0x01` +
/// state key, `0x02` + timer index key (`due | timer key`), `0x03` + timer key (its due time).
/// A batch is one `sled::Batch`, applied atomically to the one tree.
#[derive(Clone, Debug)]
pub struct PartitionStore {
    /// The partition.
    pub partition: i32,
    tree: sled::Tree,
}

const STATE: u8 = 0x01;
const INDEX: u8 = 0x02;
const TIMERS: u8 = 0x03;
const CHANGELOG_NEXT: &[u8] = b"\x00changelog_next";
const INPUTS: &[u8] = b"\x00inputs";
const WRITTEN_AT: &[u8] = b"\x00written_at";

fn tagged(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(tag);
    out.extend_from_slice(key);
    out
}

impl PartitionStore {
    /// The partition's progress.
    pub fn meta(&self) -> Result<PartitionMeta, sled::Error> {
        let i64_of = |v: Option<sled::IVec>| {
            v.and_then(|v| v.as_ref().try_into().ok())
                .map(i64::from_be_bytes)
        };
        Ok(PartitionMeta {
            changelog_next: i64_of(self.tree.get(CHANGELOG_NEXT)?),
            inputs: self
                .tree
                .get(INPUTS)?
                .and_then(|v| decode_offsets(&v))
                .unwrap_or_default(),
            written_at: i64_of(self.tree.get(WRITTEN_AT)?).map(Timestamp),
        })
    }

    /// Applies a sealed batch atomically: its writes, then `meta`. Returns the change in the
    /// number of timers set.
    pub fn apply(&self, ops: &[ChangelogOp], meta: &PartitionMeta) -> Result<i64, sled::Error> {
        let mut batch = sled::Batch::default();
        let mut timer_delta = 0i64;
        // Due times of timers written earlier in this batch (the tree does not have them yet).
        let mut written: HashMap<&[u8], Option<Timestamp>> = HashMap::new();
        for op in ops {
            match op {
                ChangelogOp::State {
                    key,
                    value: Some(value),
                } => batch.insert(tagged(STATE, key), value.as_slice()),
                ChangelogOp::State { key, value: None } => batch.remove(tagged(STATE, key)),
                ChangelogOp::Timer { timer_key, due } => {
                    let old = match written.get(timer_key.as_slice()) {
                        Some(old) => *old,
                        None => self.timer(timer_key)?,
                    };
                    if let Some(old) = old {
                        batch.remove(tagged(INDEX, &index_key(old, timer_key)));
                        timer_delta -= 1;
                    }
                    match due {
                        Some(due) => {
                            batch.insert(tagged(INDEX, &index_key(*due, timer_key)), &[]);
                            batch.insert(tagged(TIMERS, timer_key), &due_bytes(*due));
                            timer_delta += 1;
                        }
                        None => batch.remove(tagged(TIMERS, timer_key)),
                    }
                    written.insert(timer_key, *due);
                }
            }
        }
        if let Some(next) = meta.changelog_next {
            batch.insert(CHANGELOG_NEXT, &next.to_be_bytes());
        }
        batch.insert(INPUTS, encode_offsets(&meta.inputs));
        if let Some(at) = meta.written_at {
            batch.insert(WRITTEN_AT, &at.0.to_be_bytes());
        }
        self.tree.apply_batch(batch)?;
        Ok(timer_delta)
    }

    /// Deletes everything of the partition.
    pub fn clear(&self) -> Result<(), sled::Error> {
        self.tree.clear()
    }

    /// Every state entry, in key order.
    pub fn entries(&self) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> {
        self.tree
            .scan_prefix([STATE])
            .map(|entry| entry.map(|(key, value)| (sled::IVec::from(&key[1..]), value)))
    }

    /// The state entries whose keys start with `prefix`, in key order.
    pub fn entries_with_prefix(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), sled::Error>> {
        self.tree
            .scan_prefix(tagged(STATE, prefix))
            .map(|entry| entry.map(|(key, value)| (sled::IVec::from(&key[1..]), value)))
    }

    /// The value of a state entry.
    pub fn get(&self, state_key: &[u8]) -> Result<Option<sled::IVec>, sled::Error> {
        self.tree.get(tagged(STATE, state_key))
    }

    /// The due time of a timer, if set.
    pub fn timer(&self, timer_key: &[u8]) -> Result<Option<Timestamp>, sled::Error> {
        Ok(self
            .tree
            .get(tagged(TIMERS, timer_key))?
            .as_deref()
            .and_then(due_from_bytes))
    }

    /// Timers with `after < due <= until`, in due order, as `(timer key, due)`.
    pub fn timers_due(
        &self,
        after: Option<Timestamp>,
        until: Timestamp,
    ) -> Result<Vec<(Vec<u8>, Timestamp)>, sled::Error> {
        let end = tagged(INDEX, &due_bytes(Timestamp(until.0.saturating_add(1))));
        let start = match after {
            Some(after) => tagged(INDEX, &due_bytes(Timestamp(after.0.saturating_add(1)))),
            None => vec![INDEX],
        };
        self.tree
            .range(start..end)
            .map(|entry| {
                let (key, _) = entry?;
                let due = due_from_bytes(&key[1..]).expect("index keys start with a due time");
                Ok((key[9..].to_vec(), due))
            })
            .collect()
    }

    /// How many timers are set (a scan).
    pub fn timer_count(&self) -> usize {
        self.tree.scan_prefix([TIMERS]).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timers::timer_key;

    fn temp_store() -> (StateStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "parley-store-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        (StateStore::open(&dir).unwrap().0, dir)
    }

    fn rand_suffix() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    #[test]
    fn batch_applies_state_timers_and_meta_together() {
        let (store, dir) = temp_store();
        let p = store.partition(3).unwrap();
        let t = timer_key(b"acme/1", b"close");
        let meta = PartitionMeta {
            changelog_next: Some(10),
            inputs: BTreeMap::from([("in".to_owned(), 5)]),
            written_at: Some(Timestamp(1)),
        };
        let ops = vec![
            ChangelogOp::State {
                key: b"acme/1".to_vec(),
                value: Some(b"1".to_vec()),
            },
            ChangelogOp::Timer {
                timer_key: t.clone(),
                due: Some(Timestamp(5_000)),
            },
        ];
        assert_eq!(p.apply(&ops, &meta).unwrap(), 1);
        // Moving the timer replaces its index entry instead of adding one.
        let moved = vec![ChangelogOp::Timer {
            timer_key: t.clone(),
            due: Some(Timestamp(9_000)),
        }];
        assert_eq!(p.apply(&moved, &meta).unwrap(), 0);
        assert_eq!(p.timers_due(None, Timestamp(8_999)).unwrap(), vec![]);
        assert_eq!(
            p.timers_due(Some(Timestamp(8_999)), Timestamp(9_000))
                .unwrap(),
            vec![(t.clone(), Timestamp(9_000))]
        );
        assert_eq!(p.get(b"acme/1").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(p.meta().unwrap(), meta);
        let removed = vec![ChangelogOp::Timer {
            timer_key: t.clone(),
            due: None,
        }];
        assert_eq!(p.apply(&removed, &meta).unwrap(), -1);
        assert_eq!(p.timer_count(), 0);
        assert!(p
            .timers_due(None, Timestamp(i64::MAX - 1))
            .unwrap()
            .is_empty());
        // Another partition's trees are separate.
        assert_eq!(
            store.partition(4).unwrap().meta().unwrap(),
            PartitionMeta::default()
        );
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_directory_in_use_is_refused_and_left_alone() {
        let (store, dir) = temp_store();
        let p = store.partition(0).unwrap();
        let meta = PartitionMeta {
            changelog_next: Some(9),
            ..PartitionMeta::default()
        };
        p.apply(&[], &meta).unwrap();
        let error = StateStore::open(&dir).unwrap_err().to_string();
        assert!(
            error.contains(&dir.display().to_string())
                && error.contains(&format!("process {}", std::process::id()))
                && error.contains("--state-dir"),
            "{error}"
        );
        assert_eq!(p.meta().unwrap(), meta, "the live store is untouched");
        drop((p, store));
        let (again, rebuilt) = StateStore::open(&dir).unwrap();
        assert!(!rebuilt);
        assert_eq!(again.partition(0).unwrap().meta().unwrap(), meta);
        drop(again);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn corrupt_database_is_rebuilt_empty() {
        let dir = std::env::temp_dir().join(format!(
            "parley-corrupt-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("conf"), b"\xff\xfe garbage").unwrap();
        std::fs::write(dir.join("db"), b"garbage").unwrap();
        let (store, rebuilt) = StateStore::open(&dir).unwrap();
        assert!(rebuilt);
        assert_eq!(
            store.partition(0).unwrap().meta().unwrap(),
            PartitionMeta::default()
        );
        drop(store);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
