//! parley's benchmarks live beside this file, one `[[bench]]` target each; run them with
//! `cargo bench -p parley-benches`. The library itself is empty.
