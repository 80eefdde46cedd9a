//! Envoy metrics defined by the filter (shown at the admin `/stats` and `/stats/prometheus` as
//! `distill_guard_*`). Metric ids are per VM; Envoy merges same-named stats process-wide.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

use crate::policy::Action;

macro_rules! metrics {
    ($( $field:ident : $kind:ident = $name:literal ),* $(,)?) => {
        /// Metric ids of this VM (0 when the host refused to define one: recording is then a no-op).
        #[derive(Debug, Default, Clone, Copy)]
        pub struct Metrics { $( pub $field: u32, )* }

        impl Metrics {
            /// Defines every metric.
            pub fn define() -> Self {
                Self { $( $field: hostcalls::define_metric(MetricType::$kind, $name).unwrap_or(0), )* }
            }
        }
    };
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
    /// Adds to a counter.
    pub fn add(&self, id: u32, n: u64) {
        if id != 0 && n > 0 {
            let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Sets a gauge.
    pub fn set(&self, id: u32, value: u64) {
        if id != 0 {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    /// Records the size of this VM's linear memory (the wasm heap: it only grows, so a flat value
    /// under load means no leak).
    pub fn record_memory(&self) {
        self.set(self.wasm_memory_bytes, (core::arch::wasm32::memory_size(0) as u64) * 65536);
    }

    /// The counter of a verdict.
    pub fn verdict(&self, action: Action) -> u32 {
        match action {
            Action::Allow => self.requests_allow,
            Action::Tag => self.requests_tag,
            Action::Degrade => self.requests_degrade,
            Action::Throttle => self.requests_throttle,
            Action::Block => self.requests_block,
        }
    }
}
