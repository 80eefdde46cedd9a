/work/main/benches/noop-filter/target/wasm32-wasip1/release/deps/noop_filter.d: src/lib.rs

/work/main/benches/noop-filter/target/wasm32-wasip1/release/deps/noop_filter.wasm: src/lib.rs

src/lib.rs:
