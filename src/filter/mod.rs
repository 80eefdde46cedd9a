//! The proxy-wasm adapter (wasip1 only): the root context (policy, metrics tick) and one
//! [`http::Http`] per exchange, which feeds the core's [`crate::exchange::Exchange`] and performs
//! its actions. No rule of the filter lives here.

mod host;
mod http;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MetricType};

use crate::exchange::{configure, Configured, Exchange};
use crate::fleet::replica::Replica;
use crate::fleet::wire;
use crate::host::RecentReads;
use crate::metrics::{MetricKind, Metrics, Pending};
use crate::policy::Policy;
use host::now_ms;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        let recent = Rc::new(RecentReads::new(RECENT_READ_KEYS));
        Box::new(Root {
            policy: None,
            metrics: Rc::new(Metrics::new()),
            metric_ids: define_metrics(),
            recent,
            fleet: None,
            fleet_call: None,
        })
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
    /// This VM's fleet counters (the policy's `fleet` section on), shared with its exchanges.
    fleet: Option<Rc<RefCell<Replica>>>,
    /// The host's token of the fleet call in flight.
    fleet_call: Option<u32>,
}

impl Root {
    /// Starts, keeps or stops the fleet counters for a new policy.
    fn configure_fleet(&mut self, policy: &Policy) {
        let settings = &policy.fleet;
        if !settings.enabled {
            self.fleet = None;
            self.fleet_call = None;
            return;
        }
        if let Some(mut replica) = self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()) {
            replica.reconfigure(settings.clone());
            return;
        }
        self.fleet = Some(Rc::new(RefCell::new(Replica::new(settings.clone()))));
    }

    /// The fleet counters' share of a tick: send the deltas when a flush is due.
    fn flush_fleet(&mut self) {
        let Some(cell) = self.fleet.clone() else { return };
        let Ok(mut replica) = cell.try_borrow_mut() else { return };
        let now = now_ms();
        let Some((message, line)) = replica.flush(now, &self.metrics) else { return };
        if let Some(line) = line {
            log::warn!("{line}");
        }
        let settings = replica.settings();
        let timeout = Duration::from_millis(settings.timeout_ms);
        let sent = hostcalls::dispatch_grpc_call(
            &settings.cluster,
            wire::SERVICE,
            wire::METHOD,
            vec![],
            Some(&message),
            timeout,
        );
        match sent {
            Ok(token) => self.fleet_call = Some(token),
            Err(status) => {
                let why = format!("cannot call cluster `{}`: {status:?}", settings.cluster);
                if let Some(line) = replica.not_sent(why, now, &self.metrics) {
                    log::warn!("{line}");
                }
            }
        }
    }
}

impl Context for Root {
    fn on_grpc_call_response(&mut self, token_id: u32, status_code: u32, response_size: usize) {
        if self.fleet_call != Some(token_id) {
            return;
        }
        self.fleet_call = None;
        let Some(cell) = self.fleet.clone() else { return };
        let Ok(mut replica) = cell.try_borrow_mut() else { return };
        let body;
        let outcome = if status_code == 0 {
            body = hostcalls::get_buffer(BufferType::GrpcReceiveBuffer, 0, response_size).ok().flatten();
            Ok(body.as_deref().unwrap_or_default())
        } else {
            Err(format!("gRPC status {status_code}"))
        };
        if let Some(line) = replica.answered(outcome, now_ms(), &self.metrics) {
            log::warn!("{line}");
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size).ok().flatten().unwrap_or_default();
        let accepted = match configure(&bytes, &|name| std::env::var(name).ok(), &self.metrics) {
            Configured::Accepted(policy, line) => {
                log::info!("{line}");
                record_memory(&self.metrics);
                self.configure_fleet(&policy);
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
        let fleet_tick = self.policy.as_ref().filter(|p| p.fleet.enabled).map(|p| p.fleet.tick_ms);
        let period = fleet_tick.map_or(Metrics::FLUSH_PERIOD_MS, |t| t.min(Metrics::FLUSH_PERIOD_MS));
        let _ = hostcalls::set_tick_period(Duration::from_millis(period));
        accepted
    }

    fn on_tick(&mut self) {
        self.flush_fleet();
        publish(&self.metric_ids, &self.metrics);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Without an accepted policy Envoy does not create contexts; be safe anyway.
        let policy = self.policy.clone()?;
        if context_id % Metrics::MEMORY_REPORT_EVERY == 0 {
            record_memory(&self.metrics);
        }
        let mut exchange = Exchange::new(context_id, policy, self.metrics.clone());
        if let Some(replica) = &self.fleet {
            exchange = exchange.with_fleet(replica.clone());
        }
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
