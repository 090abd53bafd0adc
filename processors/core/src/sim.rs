//! A deterministic simulation harness.
