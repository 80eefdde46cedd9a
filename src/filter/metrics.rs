//! Envoy metrics defined by the filter (shown at the admin `/stats` and `/stats/prometheus` as
//! `distill_guard_*`). Metric ids are per VM; Envoy merges same-named stats process-wide.
//!
//! Updates are batched in the VM: a request adds to local counters (no host call) and the root
//! context's tick publishes what changed every [`FLUSH_PERIOD_MS`] — one host call per changed metric
//! per period instead of ~4 per request.

use std::cell::Cell;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

use crate::policy::Action;

/// How often batched metric updates are published (the root context's tick period).
pub const FLUSH_PERIOD_MS: u64 = 100;

macro_rules! metrics {
    ($( $field:ident : $kind:ident = $name:literal ),* $(,)?) => {
        /// Metric handles of this VM: `Metrics::x` is an index into the VM's metric table.
        #[allow(non_upper_case_globals)]
        impl Metrics {
            metrics!(@index 0usize; $( $field ),*);
        }

        const NAMES: &[(MetricType, &str)] = &[ $( (MetricType::$kind, $name), )* ];
    };
    (@index $n:expr; $first:ident $(, $rest:ident)*) => {
        pub const $first: Metric = Metric($n);
        metrics!(@index $n + 1usize; $( $rest ),*);
    };
    (@index $n:expr;) => {};
}

/// One metric of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric(usize);

/// What a metric is waiting to publish.
#[derive(Debug, Clone, Copy, Default)]
enum Pending {
    #[default]
    None,
    /// Counter increment.
    Add(u64),
    /// Latest gauge value.
    Set(u64),
}

/// The VM's metrics: host ids (0 when the host refused to define one: publishing is then a no-op)
/// and the updates not yet published.
#[derive(Debug)]
pub struct Metrics {
    ids: Vec<u32>,
    pending: Vec<Cell<Pending>>,
}

metrics! {
    requests_allow: Counter = "distill_guard.requests.allow",
    requests_tag: Counter = "distill_guard.requests.tag",
    requests_degrade: Counter = "distill_guard.requests.degrade",
    requests_degraded: Counter = "distill_guard.requests.degraded",
    requests_throttle: Counter = "distill_guard.requests.throttle",
    requests_block: Counter = "distill_guard.requests.block",
    requests_shadowed: Counter = "distill_guard.requests.shadowed",
    missing_credential: Counter = "distill_guard.missing_credential",
    body_not_inspected: Counter = "distill_guard.body_not_inspected",
    body_unparsed: Counter = "distill_guard.body_unparsed",
    usage_injected: Counter = "distill_guard.usage_injected",
    tokens_input: Counter = "distill_guard.tokens.input",
    tokens_output: Counter = "distill_guard.tokens.output",
    tokens_reasoning: Counter = "distill_guard.tokens.reasoning",
    tokens_cached: Counter = "distill_guard.tokens.cached",
    usage_estimated: Counter = "distill_guard.usage_estimated",
    ledger_evictions: Counter = "distill_guard.ledger.evictions",
    ledger_cas_retries: Counter = "distill_guard.ledger.cas_retries",
    ledger_failures: Counter = "distill_guard.ledger.failures",
    policy_reloads: Counter = "distill_guard.policy.reloads",
    policy_rejections: Counter = "distill_guard.policy.rejections",
    tracked_credentials: Gauge = "distill_guard.tracked_credentials",
    policy_revision: Gauge = "distill_guard.policy.revision",
    wasm_memory_bytes: Gauge = "distill_guard.wasm_memory_bytes",
}

impl Metrics {
    /// Defines every metric with the host.
    pub fn define() -> Self {
        let ids = NAMES.iter().map(|(kind, name)| hostcalls::define_metric(*kind, name).unwrap_or(0)).collect();
        Self { ids, pending: NAMES.iter().map(|_| Cell::new(Pending::None)).collect() }
    }

    /// Adds to a counter (published at the next flush).
    pub fn add(&self, m: Metric, n: u64) {
        if n == 0 {
            return;
        }
        if let Some(cell) = self.pending.get(m.0) {
            let total = match cell.get() {
                Pending::Add(v) => v.saturating_add(n),
                _ => n,
            };
            cell.set(Pending::Add(total));
        }
    }

    /// Sets a gauge (published at the next flush; the latest value wins).
    pub fn set(&self, m: Metric, value: u64) {
        if let Some(cell) = self.pending.get(m.0) {
            cell.set(Pending::Set(value));
        }
    }

    /// Publishes every pending update to the host: one call per changed metric.
    pub fn flush(&self) {
        for (cell, id) in self.pending.iter().zip(&self.ids) {
            let update = cell.replace(Pending::None);
            if *id == 0 {
                continue;
            }
            let _ = match update {
                Pending::None => continue,
                Pending::Add(n) => hostcalls::increment_metric(*id, i64::try_from(n).unwrap_or(i64::MAX)),
                Pending::Set(v) => hostcalls::record_metric(*id, v),
            };
        }
    }

    /// Records the size of this VM's linear memory (the wasm heap: it only grows, so a flat value
    /// under load means no leak).
    pub fn record_memory(&self) {
        self.set(Metrics::wasm_memory_bytes, (core::arch::wasm32::memory_size(0) as u64) * 65536);
    }

    /// The counter of a verdict.
    pub fn verdict(action: Action) -> Metric {
        match action {
            Action::Allow => Metrics::requests_allow,
            Action::Tag => Metrics::requests_tag,
            Action::Degrade => Metrics::requests_degrade,
            Action::Throttle => Metrics::requests_throttle,
            Action::Block => Metrics::requests_block,
        }
    }
}
