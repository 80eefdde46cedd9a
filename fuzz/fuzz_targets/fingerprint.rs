//! The template fingerprint and phrase matching on arbitrary prompt text (any Unicode, any length).
#![no_main]
use distill_guard::detection::default_phrases;
use distill_guard::shape::{mask, skeleton, ShapeConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let masked = mask(&text);
    let (_, words) = skeleton(&masked);
    assert!(words <= 10);
    let cfg = ShapeConfig::new(default_phrases(), 8192, Vec::new());
    let _ = cfg.index.scan(masked.as_bytes());
    let _ = distill_guard::tokens::estimate_tokens(&text);
});
