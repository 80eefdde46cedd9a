//! The filter's metrics (shown at Envoy's admin `/stats` and `/stats/prometheus` as `distill_guard_*`):
//! one table of names and kinds, and the updates an exchange makes, batched in the VM.
//!
//! A request adds to these local counters (no host call); the adapter defines the metrics with the host
//! and publishes what changed on its tick — one host call per changed metric per period instead of
//! ~4 per request.

use std::cell::Cell;

use crate::policy::Action;

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows (published as increments).
    Counter,
    /// The latest value wins.
    Gauge,
}

macro_rules! metrics {
    ($( $field:ident : $kind:ident = $name:literal ),* $(,)?) => {
        /// Metric handles: `Metrics::x` is an index into [`Metrics::TABLE`].
        #[allow(non_upper_case_globals)]
        impl Metrics {
            metrics!(@index 0usize; $( $field ),*);

            /// Every metric's kind and name, in handle order.
            pub const TABLE: &'static [(MetricKind, &'static str)] = &[ $( (MetricKind::$kind, $name), )* ];
        }
    };
    (@index $n:expr; $first:ident $(, $rest:ident)*) => {
        #[doc = concat!("`", stringify!($first), "`")]
        pub const $first: Metric = Metric($n);
        metrics!(@index $n + 1usize; $( $rest ),*);
    };
    (@index $n:expr;) => {};
}

/// One metric of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric(usize);

impl Metric {
    /// Position in [`Metrics::TABLE`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// What a metric is waiting to publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pending {
    /// Nothing changed.
    #[default]
    None,
    /// Counter increment.
    Add(u64),
    /// Latest gauge value.
    Set(u64),
}

/// The updates not yet published, one per metric of the table.
#[derive(Debug)]
pub struct Metrics {
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
    ledger_local_updates: Counter = "distill_guard.ledger.local_updates",
    ledger_merges: Counter = "distill_guard.ledger.merges",
    policy_reloads: Counter = "distill_guard.policy.reloads",
    policy_rejections: Counter = "distill_guard.policy.rejections",
    tracked_credentials: Gauge = "distill_guard.tracked_credentials",
    policy_revision: Gauge = "distill_guard.policy.revision",
    wasm_memory_bytes: Gauge = "distill_guard.wasm_memory_bytes",
    fleet_calls: Counter = "distill_guard.fleet.calls",
    fleet_call_failures: Counter = "distill_guard.fleet.call_failures",
    fleet_unavailable: Gauge = "distill_guard.fleet.unavailable",
    fleet_dropped: Counter = "distill_guard.fleet.dropped",
    fleet_refused: Counter = "distill_guard.fleet.refused",
    fleet_sync_checks: Counter = "distill_guard.fleet.sync_checks",
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// How often the adapter publishes batched updates (the root context's tick period).
    pub const FLUSH_PERIOD_MS: u64 = 100;
    /// The wasm memory gauge is refreshed every this many exchanges (context ids count up per VM).
    pub const MEMORY_REPORT_EVERY: u32 = 256;

    /// Nothing pending.
    pub fn new() -> Self {
        Self { pending: Metrics::TABLE.iter().map(|_| Cell::new(Pending::None)).collect() }
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

    /// What `m` is waiting to publish, without taking it.
    pub fn pending(&self, m: Metric) -> Pending {
        self.pending.get(m.0).map(Cell::get).unwrap_or_default()
    }

    /// Takes every pending update: `(index in the table, update)` for each changed metric.
    pub fn drain(&self) -> impl Iterator<Item = (usize, Pending)> + '_ {
        self.pending.iter().enumerate().filter_map(|(i, cell)| match cell.replace(Pending::None) {
            Pending::None => None,
            update => Some((i, update)),
        })
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
