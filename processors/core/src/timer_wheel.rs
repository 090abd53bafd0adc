//! A hierarchical timing wheel: second resolution, O(1) amortised insert, cancel and expiry.
//!
//! The wheel holds one timer per key. Time is an argument: [`TimerWheel::advance`] moves it
//! forward and hands back what became due; [`TimerWheel::poll_at`] says when to call it next.
//!
//! # Resolution
//!
//! A timer due at `t` (milliseconds) fires on the first `advance(now)` with
//! `now >= ceil_to_whole_second(t)`: never early, at most one second late. A timer whose due
//! is not later than the latest `now` the wheel has seen when it is inserted fires on the next
//! `advance`, whatever its `now`.
//!
//! # Layout
//!
//! Ten levels of 64 slots; a slot of level `L` spans `64^L` seconds, so the levels cover
//! `2^60` seconds, more than the whole `i64` millisecond range: there is no overflow list.
//! A timer sits at the level of the highest base-64 digit in which its second differs from
//! the wheel's current second; when time reaches a slot of a higher level, that slot's
//! timers move down (cascade). A timer moves at most once per level, and `advance` jumps
//! from occupied slot to occupied slot (found with one bitmap per level), so a jump of any
//! length costs the timers it touches, not the seconds it crosses.
//!
//! Timers live in a slab of fixed-size chunks (no doubling reallocation) of entries
//! `{key, due, pos}`. Each slot is a vector of `u32` slab indices, and `pos` is an entry's
//! place in its slot's vector, so cancelling is a swap-remove. Vectors rather than
//! intrusive linked lists because cascading and firing a slot then read indices known in
//! advance: the processor overlaps the cache misses on the entries instead of chasing one
//! `next` link after another (expiry at 10 million pending timers ran about twice as fast).
//! A key's entry is found through an open-addressing index of 8-byte buckets (slab index
//! and 32 bits of hash), which keeps a lookup to about one cache miss and never stores the
//! key twice. With `K = u64` a pending timer costs its entry (24 bytes), its index bucket
//! (10.7 to 21.3 bytes, as the table fills from 3/8 to 3/4) and its place in a slot's vector
//! (4 to 8 bytes): 39 to 54 bytes.
//!
//! # Cost
//!
//! Insert, cancel and expiry are O(1) amortised. `poll_at` is O(1): the earliest second is
//! kept up to date by the mutating calls. Finding it again after the earliest timer fires or
//! is cancelled is cheap while the next timer is within the current 64 seconds; when the
//! next timer is further away it costs a scan of the one slot that holds it.

use crate::time::Timestamp;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

/// Bits of a slot index: 64 slots per level.
const SLOT_BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << SLOT_BITS;
/// Levels: `10 * 6 = 60` bits of seconds, more than any two `i64` millisecond instants apart.
const LEVELS: usize = 10;
/// No entry: an empty bucket, the end of the free list, a position not yet set.
const NIL: u32 = u32::MAX;
/// Milliseconds per tick.
const TICK_MS: i64 = 1_000;

/// A timing wheel of one timer per key, at one-second resolution.
///
/// Calling contract: time only moves forward. Every `now` passed to [`advance`] that is
/// earlier than the latest one seen is taken as the latest one. After any call, the host
/// sleeps until [`poll_at`] (if any) and then calls [`advance`] with the time it woke at;
/// that call returns at least one timer.
///
/// The order of everything the wheel returns depends only on the calls made to it, never
/// on hashing, so a replay of the same calls returns the same timers in the same order.
///
/// [`advance`]: TimerWheel::advance
/// [`poll_at`]: TimerWheel::poll_at
pub struct TimerWheel<K> {
    /// Key to slab index.
    index: KeyIndex,
    /// The timers.
    slab: Slab<K>,
    /// The slab indices of the timers in each slot, at `level * SLOTS + slot`.
    slots: Vec<Vec<u32>>,
    /// One bit per non-empty slot, by level.
    occupied: [u64; LEVELS],
    /// The slab indices of the timers that were already due when inserted.
    overdue: Vec<u32>,
    /// The absolute second that tick 0 stands for.
    origin: i64,
    /// The next tick (second since `origin`) not yet expired: every timer left in the wheel
    /// has a tick of at least this, and all of them with a tick before it have fired.
    elapsed: u64,
    /// The latest `now` seen.
    now: Timestamp,
    /// The absolute second at which the earliest pending timer fires, if any.
    earliest: Option<i64>,
}

/// One pending timer.
struct Entry<K> {
    key: K,
    due: Timestamp,
    /// Where it is in the list of its slot (or of the overdue timers); on the slab's free
    /// list, the next free entry.
    pos: u32,
}

impl<K: Clone + Eq + Hash> TimerWheel<K> {
    /// An empty wheel whose time is `now`.
    pub fn new(now: Timestamp) -> Self {
        TimerWheel {
            index: KeyIndex::new(),
            slab: Slab::new(),
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            overdue: Vec::new(),
            origin: floor_second(now),
            elapsed: 1,
            now,
            earliest: None,
        }
    }

    /// Sets the timer for `key` to `due`, replacing any timer `key` already has. Returns the
    /// replaced due, if any.
    pub fn insert(&mut self, key: K, due: Timestamp) -> Option<Timestamp> {
        let new_second = ceil_second(due);
        let hash = self.index.hash(&key);
        self.index.reserve_one();
        let slab = &self.slab;
        match self.index.probe(hash, |idx| slab[idx].key == key) {
            Ok(pos) => {
                let idx = self.index.buckets[pos].idx;
                let old = self.slab[idx].due;
                self.unlink(idx);
                self.slab[idx].due = due;
                self.link(idx, due <= self.now);
                if self.earliest == Some(ceil_second(old)) && new_second > ceil_second(old) {
                    self.find_earliest();
                } else {
                    self.lower_earliest(new_second);
                }
                Some(old)
            }
            Err(pos) => {
                let idx = self.slab.alloc(Entry { key, due, pos: NIL });
                self.index.fill(pos, hash, idx);
                self.link(idx, due <= self.now);
                self.lower_earliest(new_second);
                None
            }
        }
    }

    /// Cancels `key`'s timer; returns its due if it had one.
    pub fn cancel(&mut self, key: &K) -> Option<Timestamp> {
        let hash = self.index.hash(key);
        let slab = &self.slab;
        let pos = self.index.probe(hash, |idx| slab[idx].key == *key).ok()?;
        let idx = self.index.buckets[pos].idx;
        self.index.remove_at(pos);
        let due = self.slab[idx].due;
        self.unlink(idx);
        self.slab.free(idx);
        if self.earliest == Some(ceil_second(due)) {
            self.find_earliest();
        }
        Some(due)
    }

    /// The instant at which the next timer becomes due: the earliest due rounded up to the
    /// whole second, or `None` if the wheel is empty. It can be earlier than the latest
    /// `now` (for a timer that was already due when inserted): then it is due at once.
    pub fn poll_at(&self) -> Option<Timestamp> {
        self.earliest
            .map(|second| Timestamp(second.saturating_mul(TICK_MS)))
    }

    /// Moves time forward to `now` and returns every timer that became due, as `(key, due)`,
    /// in due order. A `now` earlier than the latest one seen is taken as the latest one.
    #[must_use = "the timers returned have fired and are no longer in the wheel"]
    pub fn advance(&mut self, now: Timestamp) -> Vec<(K, Timestamp)> {
        let mut out = Vec::new();
        self.advance_into(now, &mut out);
        out
    }

    /// Like [`advance`](TimerWheel::advance), but appends the fired timers to `out`, so a hot
    /// path can reuse one buffer.
    pub fn advance_into(&mut self, now: Timestamp, out: &mut Vec<(K, Timestamp)>) {
        let now = now.max(self.now);
        self.now = now;
        let first = out.len();

        // Timers that were already due when inserted, whatever `now` is.
        let overdue = std::mem::take(&mut self.overdue);
        self.fire_list(&overdue, out);
        self.overdue = recycle(overdue);
        out[first..].sort_by_key(|fired| fired.1);
        let overdue_end = out.len();

        // The last tick to expire. `now` is not earlier than the one `elapsed` came from,
        // so this is at least `elapsed - 1`.
        let target = (floor_second(now) - self.origin) as u64;
        let next_elapsed = target + 1;
        while let Some(level) = self.occupied.iter().position(|bits| *bits != 0) {
            let slot = self.occupied[level].trailing_zeros() as usize;
            let start = self.slot_start(level, slot);
            if level == 0 {
                if start > target {
                    break;
                }
                self.elapsed = start;
                let list = self.take_slot(0, slot);
                let run = out.len();
                self.fire_list(&list, out);
                self.slots[slot] = recycle(list);
                // A slot of level 0 is one second: its timers are already in order across
                // seconds, and only need ordering within it.
                out[run..].sort_by_key(|fired| fired.1);
            } else {
                if start > next_elapsed {
                    break;
                }
                // Time reaches this slot: its timers move to lower levels.
                self.elapsed = start;
                let list = self.take_slot(level, slot);
                for &idx in &list {
                    self.link(idx, false);
                }
                debug_assert!(self.slots[level * SLOTS + slot].is_empty());
                self.slots[level * SLOTS + slot] = recycle(list);
            }
        }
        // Every slot still occupied starts after `next_elapsed` (or, at level 0, at it), so
        // every timer keeps its level and slot when `elapsed` moves there.
        self.elapsed = next_elapsed;

        if overdue_end > first && out.len() > overdue_end {
            // Two sorted runs: the overdue timers and the wheel's.
            out[first..].sort_by_key(|fired| fired.1);
        }
        if out.len() > first {
            self.find_earliest();
        }
    }

    /// The number of pending timers.
    pub fn len(&self) -> usize {
        self.index.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.index.len == 0
    }

    /// Whether `key` has a pending timer.
    pub fn contains(&self, key: &K) -> bool {
        let hash = self.index.hash(key);
        self.index
            .probe(hash, |idx| self.slab[idx].key == *key)
            .is_ok()
    }

    /// Removes every timer of `list` (already taken from its slot) and appends them to
    /// `out`.
    fn fire_list(&mut self, list: &[u32], out: &mut Vec<(K, Timestamp)>) {
        for &idx in list {
            let entry = &self.slab[idx];
            let hash = self.index.hash(&entry.key);
            let pos = self.index.probe(hash, |found| found == idx);
            self.index
                .remove_at(pos.expect("every pending timer is indexed"));
            out.push((entry.key.clone(), entry.due));
            self.slab.free(idx);
        }
    }

    /// Takes the list of a slot.
    fn take_slot(&mut self, level: usize, slot: usize) -> Vec<u32> {
        self.occupied[level] &= !(1 << slot);
        std::mem::take(&mut self.slots[level * SLOTS + slot])
    }

    /// The tick at which a slot of the current rotation of `level` starts.
    fn slot_start(&self, level: usize, slot: usize) -> u64 {
        let shift = SLOT_BITS * level as u32;
        let above = self.elapsed >> (shift + SLOT_BITS) << (shift + SLOT_BITS);
        above | ((slot as u64) << shift)
    }

    /// The slot of the timer at `idx`, from its due and the current tick. Also right for a
    /// timer already in the wheel: cascades keep every timer where this puts it.
    fn slot_of(&self, idx: u32) -> (usize, usize) {
        let tick = (ceil_second(self.slab[idx].due) - self.origin) as u64;
        debug_assert!(tick >= self.elapsed, "a timer behind the wheel");
        let differing = (tick ^ self.elapsed) | (SLOTS as u64 - 1);
        let level = ((63 - differing.leading_zeros()) / SLOT_BITS) as usize;
        let slot = (tick >> (SLOT_BITS * level as u32)) as usize & (SLOTS - 1);
        (level, slot)
    }

    /// Appends the timer at `idx` to the list where it belongs: the overdue list if
    /// `overdue`, else the slot of its due.
    fn link(&mut self, idx: u32, overdue: bool) {
        let list = if overdue {
            &mut self.overdue
        } else {
            let (level, slot) = self.slot_of(idx);
            self.occupied[level] |= 1 << slot;
            &mut self.slots[level * SLOTS + slot]
        };
        self.slab[idx].pos = list.len() as u32;
        list.push(idx);
    }

    /// Takes the timer at `idx` out of its list, moving the list's last timer into its place.
    fn unlink(&mut self, idx: u32) {
        let pos = self.slab[idx].pos as usize;
        // In the overdue list, or in the slot its due maps to (an overdue timer's due can map
        // to a slot too, so look at the overdue list first).
        let (list, slot) = if self.overdue.get(pos) == Some(&idx) {
            (&mut self.overdue, None)
        } else {
            let (level, slot) = self.slot_of(idx);
            (&mut self.slots[level * SLOTS + slot], Some((level, slot)))
        };
        debug_assert_eq!(list.get(pos), Some(&idx), "a timer in no list");
        list.swap_remove(pos);
        if let Some(&moved) = list.get(pos) {
            self.slab[moved].pos = pos as u32;
        }
        if let (true, Some((level, slot))) = (list.is_empty(), slot) {
            self.occupied[level] &= !(1 << slot);
        }
    }

    /// Takes `second` as the earliest if it is earlier than the one known.
    fn lower_earliest(&mut self, second: i64) {
        if self.earliest.is_none_or(|earliest| second < earliest) {
            self.earliest = Some(second);
        }
    }

    /// Finds the earliest second again, after the earliest timer went away.
    fn find_earliest(&mut self) {
        let mut earliest = None::<i64>;
        let mut consider = |second: i64| {
            if earliest.is_none_or(|known| second < known) {
                earliest = Some(second);
            }
        };
        for &idx in &self.overdue {
            consider(ceil_second(self.slab[idx].due));
        }
        if let Some(level) = self.occupied.iter().position(|bits| *bits != 0) {
            let slot = self.occupied[level].trailing_zeros() as usize;
            if level == 0 {
                consider(self.slot_start(0, slot) as i64 + self.origin);
            } else {
                // A slot of a higher level spans many seconds: look at each of its timers.
                for &idx in &self.slots[level * SLOTS + slot] {
                    consider(ceil_second(self.slab[idx].due));
                }
            }
        }
        self.earliest = earliest;
    }
}

impl<K> fmt::Debug for TimerWheel<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("len", &self.index.len)
            .field("now", &self.now)
            .field("earliest_second", &self.earliest)
            .finish_non_exhaustive()
    }
}

/// An emptied list, kept for reuse if small and freed if not (a slot of a high level can
/// have held millions of timers).
fn recycle(mut list: Vec<u32>) -> Vec<u32> {
    list.clear();
    if list.capacity() > 256 {
        list = Vec::new();
    }
    list
}

/// The whole second at or before `t`.
fn floor_second(t: Timestamp) -> i64 {
    t.0.div_euclid(TICK_MS)
}

/// The whole second at or after `t`.
fn ceil_second(t: Timestamp) -> i64 {
    let floor = t.0.div_euclid(TICK_MS);
    if t.0.rem_euclid(TICK_MS) == 0 {
        floor
    } else {
        floor + 1
    }
}

/// Key to slab index: open addressing with linear probing over buckets of 8 bytes.
///
/// A bucket holds a slab index and the top 32 bits of its key's hash, so a probe reads the
/// slab only when 32 bits of hash match, growing never hashes a key again (a bucket's home
/// is the top bits of its tag), and the index costs 10.7 to 21.3 bytes per timer (the
/// table is between 3/8 and 3/4 full). Removal shifts the following buckets back, so no
/// tombstones pile up. Keys are hashed with [`FoldHasher`], keyed at random per wheel.
struct KeyIndex {
    /// A power of two long (or empty), never more than 3/4 full.
    buckets: Vec<Bucket>,
    /// Full buckets.
    len: usize,
    /// The random key of the hash.
    seed: u64,
}

/// One bucket of the index. `idx == NIL` when empty.
#[derive(Clone, Copy)]
struct Bucket {
    tag: u32,
    idx: u32,
}

const EMPTY: Bucket = Bucket { tag: 0, idx: NIL };

/// Buckets a probe looks at together (half a cache line).
const GROUP: usize = 4;

impl KeyIndex {
    fn new() -> Self {
        KeyIndex {
            buckets: Vec::new(),
            len: 0,
            seed: RandomState::new().hash_one(0x7061_726c_6579_u64) | 1,
        }
    }

    fn hash<K: Hash>(&self, key: &K) -> u64 {
        let mut hasher = FoldHasher { state: self.seed };
        key.hash(&mut hasher);
        hasher.finish()
    }

    /// The bucket where a probe for `tag` starts: its top bits.
    fn home(&self, tag: u32) -> usize {
        let bits = self.buckets.len().trailing_zeros();
        (u64::from(tag) >> (32 - bits)) as usize
    }

    /// The bucket holding the slab index with `hash` for which `is_match` holds, or else
    /// the empty bucket where it would go.
    fn probe(&self, hash: u64, mut is_match: impl FnMut(u32) -> bool) -> Result<usize, usize> {
        if self.buckets.is_empty() {
            return Err(0);
        }
        let tag = (hash >> 32) as u32;
        let mask = self.buckets.len() - 1;
        let mut pos = self.home(tag);
        // The common cases, decided without a branch on each bucket (so that a cache miss
        // here does not stall the next call): the first 8 buckets hold an empty one before
        // any bucket with the same tag, or the first bucket with the same tag matches.
        let (mut empty, mut same) = (0u32, 0u32);
        for offset in 0..GROUP {
            let bucket = self.buckets[(pos + offset) & mask];
            empty |= u32::from(bucket.idx == NIL) << offset;
            same |= u32::from(bucket.tag == tag && bucket.idx != NIL) << offset;
        }
        let before_empty = (1u32 << empty.trailing_zeros().min(GROUP as u32)) - 1;
        let same = same & before_empty;
        if same == 0 && empty != 0 {
            return Err((pos + empty.trailing_zeros() as usize) & mask);
        }
        if same != 0 {
            let first = (pos + same.trailing_zeros() as usize) & mask;
            if is_match(self.buckets[first].idx) {
                return Ok(first);
            }
        }
        loop {
            let bucket = self.buckets[pos];
            if bucket.idx == NIL {
                return Err(pos);
            }
            if bucket.tag == tag && is_match(bucket.idx) {
                return Ok(pos);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Makes room for one more, so that the empty bucket a probe finds stays valid.
    fn reserve_one(&mut self) {
        if (self.len + 1) * 4 <= self.buckets.len() * 3 {
            return;
        }
        let size = (self.buckets.len() * 2).max(16);
        assert!(size <= 1 << 32, "more timers than the index can hold");
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        let mask = size - 1;
        for bucket in old.into_iter().filter(|bucket| bucket.idx != NIL) {
            let mut pos = self.home(bucket.tag);
            while self.buckets[pos].idx != NIL {
                pos = (pos + 1) & mask;
            }
            self.buckets[pos] = bucket;
        }
    }

    /// Puts `idx` in the empty bucket `pos` a probe for `hash` returned.
    fn fill(&mut self, pos: usize, hash: u64, idx: u32) {
        self.buckets[pos] = Bucket {
            tag: (hash >> 32) as u32,
            idx,
        };
        self.len += 1;
    }

    /// Empties bucket `pos`, moving back each following bucket whose probe passes it.
    fn remove_at(&mut self, pos: usize) {
        let mask = self.buckets.len() - 1;
        let mut hole = pos;
        let mut next = (pos + 1) & mask;
        loop {
            let bucket = self.buckets[next];
            if bucket.idx == NIL {
                break;
            }
            // The bucket may fill the hole if the hole is on its probe path, from its home.
            let from_home = next.wrapping_sub(self.home(bucket.tag)) & mask;
            let from_hole = next.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                self.buckets[hole] = bucket;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
    }
}

/// A small keyed hash: each word is mixed in with a folded multiply (the 128-bit product's
/// halves xor-ed), as in foldhash. A few instructions per word instead of SipHash's rounds:
/// the index's lookups are bound by cache misses, and a short hash lets the processor work on
/// the next call while one waits. Keyed at random per wheel, so keys cannot be chosen ahead
/// to collide, though it makes no cryptographic claim.
struct FoldHasher {
    state: u64,
}

/// An odd constant with well-mixed bits (the fractional part of pi).
const FOLD_MULTIPLIER: u64 = 0x243f_6a88_85a3_08d3;

fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.write_u64(word);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, FOLD_MULTIPLIER);
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        // One more round so the top bits (the tag and the home bucket) depend on every bit.
        folded_multiply(
            self.state ^ (self.state >> 29),
            FOLD_MULTIPLIER ^ 0x9e37_79b9_7f4a_7c15,
        )
    }
}

/// Bits of an index within a chunk.
const CHUNK_BITS: u32 = 12;
/// Entries per chunk.
const CHUNK: usize = 1 << CHUNK_BITS;

/// Entries in fixed-size chunks, addressed by `u32`, with a free list threaded through
/// `pos`. Growing never moves an entry nor doubles the memory held.
struct Slab<K> {
    chunks: Vec<Vec<Entry<K>>>,
    /// The head of the free list.
    free: u32,
}

impl<K> Slab<K> {
    fn new() -> Self {
        Slab {
            chunks: Vec::new(),
            free: NIL,
        }
    }

    fn alloc(&mut self, entry: Entry<K>) -> u32 {
        if self.free != NIL {
            let idx = self.free;
            self.free = self[idx].pos;
            self[idx] = entry;
            return idx;
        }
        if self.chunks.last().is_none_or(|chunk| chunk.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let chunk_no = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_no];
        let idx = (chunk_no << CHUNK_BITS) | chunk.len();
        assert!(idx < NIL as usize, "more than {} timers", NIL - 1);
        chunk.push(entry);
        idx as u32
    }

    /// Puts the entry at `idx` on the free list. Its key stays until the slot is reused.
    fn free(&mut self, idx: u32) {
        let free = self.free;
        self[idx].pos = free;
        self.free = idx;
    }
}

impl<K> std::ops::Index<u32> for Slab<K> {
    type Output = Entry<K>;
    fn index(&self, idx: u32) -> &Entry<K> {
        &self.chunks[(idx >> CHUNK_BITS) as usize][idx as usize & (CHUNK - 1)]
    }
}

impl<K> std::ops::IndexMut<u32> for Slab<K> {
    fn index_mut(&mut self, idx: u32) -> &mut Entry<K> {
        &mut self.chunks[(idx >> CHUNK_BITS) as usize][idx as usize & (CHUNK - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const DAY: i64 = 86_400_000;

    fn t(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    fn keys(fired: &[(u64, Timestamp)]) -> Vec<u64> {
        fired.iter().map(|(key, _)| *key).collect()
    }

    #[test]
    fn an_entry_is_24_bytes_for_u64_keys() {
        assert_eq!(std::mem::size_of::<Entry<u64>>(), 24);
    }

    #[test]
    fn never_fires_before_the_whole_second_after_its_due() {
        let mut wheel = TimerWheel::new(t(10_000));
        wheel.insert(1u64, t(10_500));
        assert!(wheel.advance(t(10_500)).is_empty());
        assert!(wheel.advance(t(10_999)).is_empty());
        assert_eq!(wheel.advance(t(11_000)), vec![(1, t(10_500))]);
        assert!(wheel.is_empty());
    }

    #[test]
    fn fires_at_most_one_second_late() {
        let mut wheel = TimerWheel::new(t(0));
        wheel.insert(1u64, t(12_000));
        wheel.insert(2, t(12_001));
        assert!(wheel.advance(t(11_999)).is_empty());
        assert_eq!(wheel.advance(t(12_000)), vec![(1, t(12_000))]);
        assert!(wheel.advance(t(12_999)).is_empty());
        assert_eq!(wheel.advance(t(13_000)), vec![(2, t(12_001))]);
    }

    #[test]
    fn poll_at_is_the_earliest_due_rounded_up_to_the_second() {
        let mut wheel = TimerWheel::new(t(0));
        assert_eq!(wheel.poll_at(), None);
        wheel.insert(1u64, t(DAY + 1));
        assert_eq!(wheel.poll_at(), Some(t(DAY + 1_000)));
        wheel.insert(2, t(5_000));
        assert_eq!(wheel.poll_at(), Some(t(5_000)));
        wheel.insert(3, t(4_200));
        assert_eq!(wheel.poll_at(), Some(t(5_000)));
        wheel.cancel(&2);
        wheel.cancel(&3);
        assert_eq!(wheel.poll_at(), Some(t(DAY + 1_000)));
        wheel.cancel(&1);
        assert_eq!(wheel.poll_at(), None);
    }

    #[test]
    fn sleeping_until_poll_at_always_fires_something() {
        let mut wheel = TimerWheel::new(t(0));
        let mut seed = 7u64;
        for key in 0..2_000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            wheel.insert(key, t((seed >> 20) as i64 % (40 * DAY)));
        }
        let mut fired = 0;
        let mut last_due = t(i64::MIN);
        while let Some(at) = wheel.poll_at() {
            let batch = wheel.advance(at);
            assert!(!batch.is_empty(), "woke at {at} for nothing");
            for (_, due) in &batch {
                assert!(*due <= at && at.0 - due.0 < 1_000, "{due} fired at {at}");
                assert!(*due >= last_due);
                last_due = *due;
            }
            fired += batch.len();
        }
        assert_eq!(fired, 2_000);
    }

    #[test]
    fn insert_replaces_the_timer_of_the_same_key() {
        let mut wheel = TimerWheel::new(t(0));
        assert_eq!(wheel.insert(1u64, t(5_000)), None);
        assert_eq!(wheel.insert(1, t(90_000)), Some(t(5_000)));
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.poll_at(), Some(t(90_000)));
        assert!(wheel.advance(t(60_000)).is_empty());
        assert_eq!(wheel.insert(1, t(61_000)), Some(t(90_000)));
        assert_eq!(wheel.advance(t(61_000)), vec![(1, t(61_000))]);
        assert!(wheel.advance(t(100_000)).is_empty());
    }

    #[test]
    fn cancel_returns_the_due_and_the_timer_never_fires() {
        let mut wheel = TimerWheel::new(t(0));
        wheel.insert(1u64, t(3_000));
        wheel.insert(2, t(3_000));
        assert!(wheel.contains(&1));
        assert_eq!(wheel.cancel(&1), Some(t(3_000)));
        assert!(!wheel.contains(&1));
        assert_eq!(wheel.cancel(&1), None);
        assert_eq!(wheel.advance(t(10_000)), vec![(2, t(3_000))]);
    }

    #[test]
    fn cancel_after_fire_returns_none() {
        let mut wheel = TimerWheel::new(t(0));
        wheel.insert(1u64, t(1_000));
        assert_eq!(wheel.advance(t(1_000)).len(), 1);
        assert_eq!(wheel.cancel(&1), None);
        assert!(!wheel.contains(&1));
    }

    #[test]
    fn a_timer_already_due_fires_on_the_next_advance() {
        let mut wheel = TimerWheel::new(t(1_500));
        wheel.insert(1u64, t(1_200));
        wheel.insert(2, t(-50_000));
        wheel.insert(3, t(1_500));
        wheel.insert(4, t(1_501));
        assert_eq!(wheel.poll_at(), Some(t(-50_000)));
        // Same `now`, even earlier: the overdue ones fire, the one due later waits.
        assert_eq!(
            wheel.advance(t(900)),
            vec![(2, t(-50_000)), (1, t(1_200)), (3, t(1_500))]
        );
        assert_eq!(wheel.poll_at(), Some(t(2_000)));
        assert!(wheel.advance(t(1_999)).is_empty());
        assert_eq!(wheel.advance(t(2_000)), vec![(4, t(1_501))]);
    }

    #[test]
    fn time_never_goes_backwards() {
        let mut wheel = TimerWheel::new(t(0));
        assert!(wheel.advance(t(50_000)).is_empty());
        wheel.insert(1u64, t(40_000));
        wheel.insert(2, t(50_500));
        // 40s is behind the wheel's time: overdue. 10s is taken as 50s.
        assert_eq!(wheel.advance(t(10_000)), vec![(1, t(40_000))]);
        assert!(wheel.advance(t(50_999)).is_empty());
        assert_eq!(wheel.advance(t(51_000)), vec![(2, t(50_500))]);
    }

    #[test]
    fn fires_in_due_order_across_slots_and_levels() {
        let mut wheel = TimerWheel::new(t(0));
        let dues = [
            7 * DAY + 3,
            999,
            65_000,
            64_999,
            1_000,
            4_096_000,
            3 * DAY,
            500,
            4_095_001,
            262_144_000,
        ];
        for (key, due) in dues.iter().enumerate() {
            wheel.insert(key as u64, t(*due));
        }
        let fired = wheel.advance(t(8 * DAY));
        let mut expected: Vec<(u64, Timestamp)> = dues
            .iter()
            .enumerate()
            .map(|(key, due)| (key as u64, t(*due)))
            .collect();
        expected.sort_by_key(|(_, due)| *due);
        assert_eq!(fired, expected);
    }

    #[test]
    fn a_large_jump_fires_everything_due_across_all_levels() {
        let year = 365 * DAY;
        let start = 1_700_000_000_000;
        let mut wheel = TimerWheel::new(t(start));
        let offsets = [
            1,
            63_000,
            64_000,
            4_100_000,
            30 * DAY - 1,
            2 * year,
            1_000 * year,
        ];
        for (key, offset) in offsets.iter().enumerate() {
            wheel.insert(key as u64, t(start + offset));
        }
        wheel.insert(99, Timestamp(i64::MAX));
        let fired = wheel.advance(t(start + 30 * DAY));
        assert_eq!(keys(&fired), vec![0, 1, 2, 3, 4]);
        assert_eq!(wheel.poll_at(), Some(t(start + 2 * year)));
        // 1000 years in one call: bounded by the timers, not by the seconds crossed.
        let fired = wheel.advance(t(start + 1_001 * year));
        assert_eq!(keys(&fired), vec![5, 6]);
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.poll_at(), Some(Timestamp(i64::MAX)));
    }

    #[test]
    fn second_by_second_cascades_lose_and_reorder_nothing() {
        let mut wheel = TimerWheel::new(t(0));
        let mut seed = 11u64;
        let mut expected = Vec::new();
        for key in 0..3_000u64 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let due = t((seed >> 24) as i64 % 20_000_000);
            wheel.insert(key, due);
            expected.push((key, due));
        }
        expected.sort_by_key(|(key, due)| (*due, *key));
        let mut fired = Vec::new();
        for second in 0..=20_000 {
            let before = fired.len();
            wheel.advance_into(t(second * 1_000), &mut fired);
            for (_, due) in &fired[before..] {
                assert_eq!(ceil_second(*due), second);
            }
        }
        fired.sort_by_key(|(key, due)| (*due, *key));
        assert_eq!(fired, expected);
    }

    #[test]
    fn advance_into_appends_after_what_is_in_the_buffer() {
        let mut wheel = TimerWheel::new(t(0));
        wheel.insert(2u64, t(2_000));
        wheel.insert(1, t(1_000));
        let mut out = vec![(9, t(9))];
        wheel.advance_into(t(5_000), &mut out);
        assert_eq!(out, vec![(9, t(9)), (1, t(1_000)), (2, t(2_000))]);
    }

    #[test]
    fn works_with_string_keys_and_reuses_freed_entries() {
        let mut wheel: TimerWheel<String> = TimerWheel::new(t(0));
        for round in 0..3 {
            for n in 0..100 {
                wheel.insert(format!("ticket-{n}"), t(round * 10_000 + n));
            }
            assert_eq!(wheel.advance(t((round + 1) * 10_000)).len(), 100);
        }
        assert_eq!(wheel.slab.chunks.len(), 1);
        assert_eq!(wheel.slab.chunks[0].len(), 100);
    }

    #[test]
    fn the_index_finds_every_key_through_growth_and_removals() {
        let mut wheel = TimerWheel::new(t(0));
        for key in 0..50_000u64 {
            wheel.insert(key, t(1_000 + (key as i64 * 7_919) % 1_000_000));
        }
        for key in (0..50_000u64).filter(|key| key % 3 == 0) {
            assert!(wheel.cancel(&key).is_some());
        }
        for key in 0..50_000u64 {
            assert_eq!(wheel.contains(&key), key % 3 != 0, "key {key}");
        }
        assert_eq!(wheel.len(), 33_333);
        assert_eq!(
            wheel.index.buckets.iter().filter(|b| b.idx != NIL).count(),
            33_333
        );
        let fired = wheel.advance(t(500_000));
        assert!(fired
            .iter()
            .all(|(key, due)| key % 3 != 0 && due.0 <= 500_000));
        for (key, _) in &fired {
            assert!(!wheel.contains(key));
        }
        assert_eq!(wheel.len() + fired.len(), 33_333);
        let left = wheel.len();
        assert_eq!(wheel.advance(t(2_000_000)).len(), left);
        assert!(wheel.is_empty());
    }

    /// One step of a random sequence.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, i64),
        Cancel(u8),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let offset = prop_oneof![
            4 => -3_000i64..5_000,
            3 => -70_000i64..300_000,
            2 => 0i64..40 * DAY,
            1 => 0i64..5 * 365 * DAY,
        ];
        let step = prop_oneof![
            5 => 0i64..3_000,
            2 => -2_000i64..70_000,
            1 => 0i64..10 * DAY,
            1 => 0i64..400 * DAY,
        ];
        prop_oneof![
            4 => (0u8..24, offset).prop_map(|(key, offset)| Op::Insert(key, offset)),
            1 => (0u8..24).prop_map(Op::Cancel),
            3 => step.prop_map(Op::Advance),
        ]
    }

    /// The reference: every pending timer, and whether it was already due when inserted.
    struct Model {
        now: i64,
        pending: BTreeMap<u8, (i64, bool)>,
    }

    impl Model {
        fn advance(&mut self, now: i64) -> Vec<(u8, Timestamp)> {
            self.now = self.now.max(now);
            let now = self.now;
            let mut fired: Vec<(u8, Timestamp)> = self
                .pending
                .iter()
                .filter(|(_, (due, overdue))| *overdue || ceil_second(t(*due)) * 1_000 <= now)
                .map(|(key, (due, _))| (*key, t(*due)))
                .collect();
            for (key, _) in &fired {
                self.pending.remove(key);
            }
            fired.sort_by_key(|(key, due)| (*due, *key));
            fired
        }

        fn poll_at(&self) -> Option<Timestamp> {
            let earliest = self.pending.values().map(|(due, _)| *due).min()?;
            Some(t(ceil_second(t(earliest)) * 1_000))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn agrees_with_a_sorted_map(start in -5_000_000i64..5_000_000, ops in prop::collection::vec(op(), 1..200)) {
            let mut wheel = TimerWheel::new(t(start));
            let mut model = Model { now: start, pending: BTreeMap::new() };
            for op in ops {
                match op {
                    Op::Insert(key, offset) => {
                        let due = model.now + offset;
                        let replaced = model.pending.insert(key, (due, due <= model.now)).map(|(due, _)| t(due));
                        prop_assert_eq!(wheel.insert(key, t(due)), replaced);
                    }
                    Op::Cancel(key) => {
                        let cancelled = model.pending.remove(&key).map(|(due, _)| t(due));
                        prop_assert_eq!(wheel.cancel(&key), cancelled);
                    }
                    Op::Advance(step) => {
                        let now = model.now + step;
                        let expected = model.advance(now);
                        let fired = wheel.advance(t(now));
                        prop_assert!(fired.windows(2).all(|pair| pair[0].1 <= pair[1].1), "out of order: {:?}", fired);
                        let mut sorted = fired.clone();
                        sorted.sort_by_key(|(key, due)| (*due, *key));
                        prop_assert_eq!(sorted, expected);
                    }
                }
                prop_assert_eq!(wheel.poll_at(), model.poll_at());
                prop_assert_eq!(wheel.len(), model.pending.len());
                for key in 0..24u8 {
                    prop_assert_eq!(wheel.contains(&key), model.pending.contains_key(&key));
                }
            }
        }
    }
}
