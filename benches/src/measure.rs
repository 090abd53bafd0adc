//! Measuring helpers for benchmarks that print their own tables: an allocator that
//! counts live bytes, a seeded generator, and number formatting.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// An allocator that forwards to `A` and counts the bytes currently allocated.
///
/// Install it in a bench binary with `#[global_allocator]`, then read [`live_bytes`]
/// before and after building a structure to learn what the structure holds.
///
/// [`live_bytes`]: CountingAllocator::live_bytes
#[derive(Debug)]
pub struct CountingAllocator<A> {
    inner: A,
    live: AtomicIsize,
}

impl<A> CountingAllocator<A> {
    /// A counter at zero over `inner`.
    pub const fn new(inner: A) -> Self {
        CountingAllocator {
            inner,
            live: AtomicIsize::new(0),
        }
    }

    /// The bytes allocated and not yet freed, as requested (not counting the allocator's
    /// own rounding and headers).
    pub fn live_bytes(&self) -> isize {
        self.live.load(Ordering::Relaxed)
    }
}

// SAFETY: every call is forwarded to `inner` unchanged; the counter only observes sizes.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            self.live
                .fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.live
                .fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.live
            .fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            self.live.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

/// SplitMix64: a small, seeded, reproducible generator (quality is ample for spreading
/// benchmark inputs).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`), with negligible bias for bounds far below 2^64.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `count` operations in `elapsed`, as millions per second.
pub fn millions_per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64() / 1e6
}

/// `elapsed` spread over `count` operations, in nanoseconds each.
pub fn nanos_each(count: usize, elapsed: Duration) -> f64 {
    elapsed.as_nanos() as f64 / count.max(1) as f64
}

/// `count` with thousands separators: `10_000_000` as `10,000,000`.
pub fn grouped(count: usize) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_puts_a_comma_every_three_digits() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(10_000), "10,000");
        assert_eq!(grouped(10_000_000), "10,000,000");
    }

    #[test]
    fn below_stays_below_and_shuffle_keeps_every_item() {
        let mut rng = SplitMix64::new(1);
        assert!((0..1_000).all(|_| rng.below(7) < 7));
        let mut items: Vec<u32> = (0..100).collect();
        rng.shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
