//! Fleet-wide state shared through a rate limit service (envoyproxy/ratelimit on Redis, or anything that
//! serves `envoy.service.ratelimit.v3.RateLimitService`), so several Envoy replicas see one budget and
//! one campaign instead of each a slice. Pure Rust, host-independent:
//!
//! - [`wire`]: the protocol's messages encoded and decoded by hand (no protobuf dependency);
//! - [`export`]: the filter state the filter exports for Envoy's rate limit filter (fleet-wide budgets);
//! - [`counters`]: the detection counters (per-credential volume, distinct credentials and prompts per
//!   template) as batches built from per-VM deltas and answers read back into a fleet view, with the
//!   overshoot bound of enforcing from that view;
//! - [`settings`]: the policy's `fleet` section and the outage tracker behind its log lines;
//! - [`replica`]: one VM's deltas, call in flight and health, between its requests and its ticks.
//!
//! Budgets go the Envoy-native way by default (Envoy's rate limit filter reading the filter state the
//! filter exports: see envoy/fleet/ and the README's "More than one replica"), or with
//! `fleet.budgets: "filter"` through the filter's own batches and near-limit synchronous checks
//! ([`budgets`]).

pub mod budgets;
pub mod counters;
pub mod export;
pub mod replica;
pub mod settings;
pub mod wire;
