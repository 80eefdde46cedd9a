//! The proxy-wasm adapter (wasip1 only): the root context (policy, metrics tick) and one
//! [`http::Http`] per exchange, which feeds the core's [`crate::exchange::Exchange`] and performs
//! its actions. No rule of the filter lives here.

mod host;
mod http;

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MetricType};

use crate::exchange::{configure, Configured, Exchange};
use crate::host::RecentReads;
use crate::metrics::{MetricKind, Metrics, Pending};
use crate::policy::Policy;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        let recent = Rc::new(RecentReads::new(RECENT_READ_KEYS));
        Box::new(Root { policy: None, metrics: Rc::new(Metrics::new()), metric_ids: define_metrics(), recent })
    });
}}

/// Campaign slots this VM keeps a recent copy of (a few hundred bytes each).
const RECENT_READ_KEYS: usize = 1024;

struct Root {
    policy: Option<Rc<Policy>>,
    metrics: Rc<Metrics>,
    metric_ids: Vec<u32>,
    /// Recent copies of campaign slots (see `SharedStore::get_recent`).
    recent: Rc<RecentReads>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size).ok().flatten().unwrap_or_default();
        let accepted = match configure(&bytes, &|name| std::env::var(name).ok(), &self.metrics) {
            Configured::Accepted(policy, line) => {
                log::info!("{line}");
                record_memory(&self.metrics);
                self.policy = Some(Rc::from(policy));
                true
            }
            Configured::Rejected(line) => {
                log::error!("{line}");
                false
            }
        };
        // Policy metrics are published at once; request metrics by the tick.
        publish(&self.metric_ids, &self.metrics);
        let _ = hostcalls::set_tick_period(Duration::from_millis(Metrics::FLUSH_PERIOD_MS));
        accepted
    }

    fn on_tick(&mut self) {
        publish(&self.metric_ids, &self.metrics);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Without an accepted policy Envoy does not create contexts; be safe anyway.
        let policy = self.policy.clone()?;
        if context_id % Metrics::MEMORY_REPORT_EVERY == 0 {
            record_memory(&self.metrics);
        }
        let exchange = Exchange::new(context_id, policy, self.metrics.clone());
        Some(Box::new(http::Http::new(exchange, self.recent.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Defines every metric of [`Metrics::TABLE`] with the host: its id, or 0 when the host refused
/// (publishing it is then a no-op).
fn define_metrics() -> Vec<u32> {
    let kind = |k: &MetricKind| if *k == MetricKind::Counter { MetricType::Counter } else { MetricType::Gauge };
    Metrics::TABLE.iter().map(|(k, name)| hostcalls::define_metric(kind(k), name).unwrap_or(0)).collect()
}

/// Publishes every pending update to the host: one call per changed metric.
fn publish(ids: &[u32], metrics: &Metrics) {
    for (index, update) in metrics.drain() {
        let Some(&id) = ids.get(index).filter(|id| **id != 0) else { continue };
        let _ = match update {
            Pending::None => continue,
            Pending::Add(n) => hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX)),
            Pending::Set(v) => hostcalls::record_metric(id, v),
        };
    }
}

/// Records the size of this VM's linear memory (the wasm heap: it only grows, so a flat value under
/// load means no leak).
fn record_memory(metrics: &Metrics) {
    metrics.set(Metrics::wasm_memory_bytes, (core::arch::wasm32::memory_size(0) as u64) * 65536);
}
