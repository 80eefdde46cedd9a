//! Shared helpers for the core tests.
#![allow(dead_code)]

use distill_guard::policy::Policy;

/// The shipped default policy.
pub const DEFAULT_POLICY: &str = include_str!("../../envoy/policy.json");

/// A minimal valid policy with the given extra top-level fields merged in.
pub fn policy_with(extra: serde_json::Value) -> Policy {
    let mut base = serde_json::json!({
        "version": 1,
        "credential": {
            "sources": [{"kind": "bearer"}, {"kind": "header", "name": "x-api-key"}],
            "hash_secret": "0123456789abcdef-test-secret"
        }
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    Policy::parse(base.to_string().as_bytes(), &no_env).expect("test policy is valid")
}

/// An environment with nothing set.
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// A header lookup over fixed pairs.
pub fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name: &str| owned.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
}

/// An unsigned JWT with the given payload.
pub fn jwt(payload: &serde_json::Value) -> String {
    format!("{}.{}.sig", b64url(br#"{"alg":"none"}"#), b64url(payload.to_string().as_bytes()))
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A seeded xorshift generator: random tests that reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
