//! Measuring helpers for benchmarks that print their own tables: an allocator that
//! counts live bytes, and number formatting.

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
}
