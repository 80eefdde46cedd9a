//! The proxy-wasm adapter (wasip1 only): reads host state, calls the core, turns its answers into
//! host actions. No detection or accounting logic lives here.

mod http;
mod metrics;
mod store;

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};

use crate::host::RecentReads;
use crate::policy::Policy;
use metrics::Metrics;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { policy: None, metrics: Rc::new(Metrics::define()), recent: Rc::new(RecentReads::new(RECENT_READ_KEYS)) }) });
}}

/// Milliseconds since the epoch from the host clock (0 if the host refuses).
pub(crate) fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Campaign slots this VM keeps a recent copy of (a few hundred bytes each).
const RECENT_READ_KEYS: usize = 1024;

struct Root {
    policy: Option<Rc<Policy>>,
    metrics: Rc<Metrics>,
    /// Recent copies of campaign slots (see `SharedStore::get_recent`).
    recent: Rc<RecentReads>,
}

impl Context for Root {}

impl Root {
    /// Parses and installs a new policy; a rejected one leaves the current policy serving.
    fn configure(&mut self, size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size).ok().flatten().unwrap_or_default();
        let env = |name: &str| std::env::var(name).ok();
        match Policy::parse(&bytes, &env) {
            Ok(policy) => {
                log::info!("distill-guard: policy accepted {}", policy.summary());
                self.metrics.add(Metrics::policy_reloads, 1);
                self.metrics.set(Metrics::policy_revision, policy.revision_number);
                self.metrics.record_memory();
                self.policy = Some(Rc::new(policy));
                true
            }
            Err(e) => {
                log::error!("distill-guard: policy rejected, previous policy keeps serving: {e}");
                self.metrics.add(Metrics::policy_rejections, 1);
                false
            }
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let accepted = self.configure(size);
        // Policy metrics are published at once; request metrics by the tick.
        self.metrics.flush();
        let _ = hostcalls::set_tick_period(Duration::from_millis(metrics::FLUSH_PERIOD_MS));
        accepted
    }

    fn on_tick(&mut self) {
        self.metrics.flush();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Without an accepted policy Envoy does not create contexts; be safe anyway.
        let policy = self.policy.clone()?;
        Some(Box::new(http::Exchange::new(context_id, policy, self.metrics.clone(), self.recent.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
