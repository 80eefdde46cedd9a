//! # distill-guard
//!
//! A proxy-wasm HTTP filter for Envoy that sits in front of OpenAI-style and Anthropic-style LLM
//! APIs and protects them from distillation: harvesting a model's answers at scale through its paid
//! API. Per request it identifies the credential (keyed hash only), estimates input tokens, checks
//! and charges the per-credential ledger, decides a verdict by policy, and meters the exact usage
//! from the response (JSON or SSE) afterwards.
//!
//! ## Phase model
//! - request headers: strip client-sent `x-distill-*` headers, identify the credential, return
//!   `Pause` so the headers wait for the body;
//! - request body (buffered to end of stream, capped): inspect, decide, then add the verdict headers
//!   (or answer 401/403/413/429 locally) and continue;
//! - response headers/body: meter `usage` chunk by chunk (SSE is never buffered whole);
//! - log: settle the ledger with the metered usage.
//!
//! ## The header-after-body constraint
//! Upstream headers derived from the body can only be added while the headers are still held. The
//! filter pauses in the headers phase and Envoy must set `allow_on_headers_stop_iteration: true`
//! (Envoy >= 1.35); without it the body callbacks see headers already sent.
//!
//! ## Layout
//! The core modules are pure Rust and host-independent (tested natively and under
//! `wasm-bindgen-test`). [`exchange`] is the per-request state machine: the adapter feeds it each
//! phase, it reads the host facts it needs through [`exchange::ExchangeHost`] and answers with
//! [`exchange::HostAction`]s; [`exchange::FakeHost`] plays the proxy in tests. [`host`] holds the
//! shared-data seam, [`metrics`] the metric table and its batched updates. `filter` (wasip1 only) is
//! the proxy-wasm adapter: it translates callbacks into phases and actions into host calls, with no
//! rule of its own.
//!
//! Below the exchange, in the order data flows: [`api`] (what differs between LLM APIs, one
//! [`api::Dialect`] per file), [`credential`], [`request`] and [`shape`] (facts and signals of a
//! request), [`decision`] with [`budget`], [`detection`], [`ledger`], [`profile`] and [`campaign`]
//! (the verdict and its accounting), [`response`] and [`sse`] (usage), [`contract`] (headers and
//! replies). Every setting is read once in [`policy`], which imports only leaves ([`hash`], [`mask`],
//! [`phrases`], [`signals`]); [`signals`] declares every signal once.

pub mod api;
pub mod budget;
mod bytes;
pub mod campaign;
pub mod contract;
pub mod credential;
pub mod decision;
pub mod detection;
pub mod exchange;
pub mod fleet;
pub mod hash;
pub mod host;
pub mod intent;
pub mod json;
pub mod ledger;
pub mod mask;
pub mod metrics;
pub mod phrases;
pub mod policy;
pub mod profile;
pub mod prompt;
pub mod request;
pub mod response;
pub mod shape;
pub mod signals;
pub mod sse;
pub mod tokens;

#[cfg(target_os = "wasi")]
mod filter;
