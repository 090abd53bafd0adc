//! A hierarchical timing wheel: second resolution, O(1) amortised insert, cancel and expiry.
