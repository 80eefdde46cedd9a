//! Policy documents: accepted or rejected with an error, never a panic. The hashing secret may come
//! from the environment.
#![no_main]
use distill_guard::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let env = |name: &str| (name == "DG_SECRET").then(|| "fuzz-secret".to_string());
    if let Ok(p) = Policy::parse(data, &env) {
        let _ = p.summary();
    }
});
