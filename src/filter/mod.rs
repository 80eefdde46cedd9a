//! The proxy-wasm adapter (wasip1 only): the root context feeds the core's
//! [`crate::exchange::root::RootExchange`] and performs its actions; one [`http::Http`] per exchange
//! does the same for [`crate::exchange::Exchange`]. No rule of the filter lives here.

mod host;
mod http;

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MetricType};

use crate::exchange::root::{Level, RootAction, RootExchange};
use crate::host::RecentReads;
use crate::metrics::{MetricKind, Metrics, Pending};
use host::{dispatch, grpc_answer, now_ms, EnvoySharedData};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root {
            core: RootExchange::new(Rc::new(Metrics::new())),
            metric_ids: define_metrics(),
            recent: Rc::new(RecentReads::new(RECENT_READ_KEYS)),
        })
    });
}}

/// Campaign slots this VM keeps a recent copy of (a few hundred bytes each).
const RECENT_READ_KEYS: usize = 1024;

struct Root {
    core: RootExchange,
    metric_ids: Vec<u32>,
    /// Recent copies of campaign slots (see `SharedStore::get_recent`).
    recent: Rc<RecentReads>,
}

impl Root {
    /// Performs the core's actions; `now` is the clock the core was given.
    fn perform(&mut self, actions: Vec<RootAction>, now: u64) {
        for action in actions {
            match action {
                RootAction::GrpcCall(c) => match dispatch(&c) {
                    Ok(token) => self.core.on_call_sent(token),
                    Err(status) => {
                        let more = self.core.on_call_not_sent(&format!("{status:?}"), now);
                        self.perform(more, now);
                    }
                },
                other => perform(other, &self.metric_ids, self.core.metrics()),
            }
        }
    }
}

/// Performs an action that needs nothing back from the core.
fn perform(action: RootAction, ids: &[u32], metrics: &Metrics) {
    match action {
        RootAction::Log(Level::Info, line) => log::info!("{line}"),
        RootAction::Log(Level::Warn, line) => log::warn!("{line}"),
        RootAction::Log(Level::Error, line) => log::error!("{line}"),
        RootAction::SetTickPeriod(ms) => {
            let _ = hostcalls::set_tick_period(Duration::from_millis(ms));
        }
        RootAction::PublishMetrics => publish(ids, metrics),
        // The wasm heap only grows: a flat value under load means no leak.
        RootAction::RecordMemory => {
            metrics.set(Metrics::wasm_memory_bytes, (core::arch::wasm32::memory_size(0) as u64) * 65536);
        }
        RootAction::GrpcCall(_) => {}
    }
}

impl Context for Root {
    fn on_grpc_call_response(&mut self, token_id: u32, status_code: u32, response_size: usize) {
        let now = now_ms();
        let actions = self.core.on_call_answer(token_id, status_code, || grpc_answer(response_size), now);
        self.perform(actions, now);
    }

    // The VM is stopping: this VM's pending ledger changes go to shared data first.
    fn on_done(&mut self) -> bool {
        let now = now_ms();
        let actions = self.core.on_done(&EnvoySharedData, now);
        self.perform(actions, now);
        true
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size).ok().flatten().unwrap_or_default();
        let now = now_ms();
        let env = |name: &str| std::env::var(name).ok();
        let (accepted, actions) = self.core.on_configure_with_store(&bytes, &env, &EnvoySharedData, now);
        self.perform(actions, now);
        accepted
    }

    fn on_tick(&mut self) {
        let now = now_ms();
        let mut actions = self.core.flush_ledger(&EnvoySharedData, now, false);
        actions.extend(self.core.on_tick(now));
        self.perform(actions, now);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let (exchange, actions) = self.core.on_new_exchange(context_id);
        actions.into_iter().for_each(|a| perform(a, &self.metric_ids, self.core.metrics()));
        Some(Box::new(http::Http::new(exchange?, self.recent.clone())))
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
