//! Black-box tests of the host-independent core. They run natively (`cargo test`) and compiled to
//! wasm32-unknown-unknown under wasm-bindgen-test in node (`make test-wasm`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "core/support.rs"]
mod support;

#[path = "core/policy.rs"]
mod policy;

#[path = "core/credential.rs"]
mod credential;

#[path = "core/tokens.rs"]
mod tokens;

#[path = "core/json.rs"]
mod json;

#[path = "core/request.rs"]
mod request;

#[path = "core/sse.rs"]
mod sse;

#[path = "core/response.rs"]
mod response;

#[path = "core/usage_filter.rs"]
mod usage_filter;

#[path = "core/ledger.rs"]
mod ledger;

#[path = "core/ledger_local.rs"]
mod ledger_local;

#[path = "core/decision.rs"]
mod decision;

#[path = "core/detection.rs"]
mod detection;

#[path = "core/robustness.rs"]
mod robustness;

#[path = "core/contract.rs"]
mod contract;

#[path = "core/fastpaths.rs"]
mod fastpaths;

#[path = "core/exchange.rs"]
mod exchange;

#[path = "core/fleet.rs"]
mod fleet;

#[path = "core/fleet_wiring.rs"]
mod fleet_wiring;

#[path = "core/root.rs"]
mod root;

#[path = "core/intent.rs"]
mod intent;

#[path = "core/intent_fold.rs"]
mod intent_fold;

#[path = "core/api.rs"]
mod api;

#[path = "core/onepass.rs"]
mod onepass;

#[path = "core/prompt.rs"]
mod prompt;

#[cfg(not(target_arch = "wasm32"))]
#[path = "core/prompt_corpus.rs"]
mod prompt_corpus;

#[path = "core/json_scan.rs"]
mod json_scan;
