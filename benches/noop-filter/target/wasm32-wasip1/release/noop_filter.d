/work/main/benches/noop-filter/target/wasm32-wasip1/release/noop_filter.wasm: /work/main/benches/noop-filter/src/lib.rs
