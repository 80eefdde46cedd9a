/work/main/benches/noop-filter/target/wasm32-wasip1/release/deps/equivalent-f2d7e98dca9b5b1e.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/equivalent-1.0.3/src/lib.rs

/work/main/benches/noop-filter/target/wasm32-wasip1/release/deps/libequivalent-f2d7e98dca9b5b1e.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/equivalent-1.0.3/src/lib.rs

/work/main/benches/noop-filter/target/wasm32-wasip1/release/deps/libequivalent-f2d7e98dca9b5b1e.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/equivalent-1.0.3/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/equivalent-1.0.3/src/lib.rs:
