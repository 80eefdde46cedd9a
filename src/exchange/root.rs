//! The VM's root context in the core: the policy (accepted or refused), the fleet counters' lifetime,
//! the tick period, the fleet flush and its answer, and when memory is recorded. Each method answers
//! with the [`RootAction`]s the adapter performs, in order; the adapter reports back what the host
//! did with a call ([`RootExchange::on_call_sent`], [`RootExchange::on_call_not_sent`]).

use std::cell::RefCell;
use std::rc::Rc;

use super::{configure, CallOut, CallOutcome, Configured, Exchange};
use crate::fleet::replica::Replica;
use crate::fleet::wire;
use crate::host::SharedStore;
use crate::ledger::{Ledger, LocalLedger, LocalSettings};
use crate::metrics::Metrics;
use crate::policy::Policy;

/// The level of a root log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// One thing the host does for the root context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootAction {
    /// A log line at the given level.
    Log(Level, String),
    /// The host's tick period, in milliseconds.
    SetTickPeriod(u64),
    /// Starts a gRPC call (its `tag` unused: the root has one call at a time); the adapter reports the
    /// host's token or its refusal back.
    GrpcCall(CallOut),
    /// Publishes every pending metric update.
    PublishMetrics,
    /// Records the size of the VM's memory (`wasm_memory_bytes`).
    RecordMemory,
}

/// The root context's state: the policy, the metrics and this VM's fleet counters.
#[derive(Debug)]
pub struct RootExchange {
    policy: Option<Rc<Policy>>,
    metrics: Rc<Metrics>,
    /// This VM's fleet counters (the policy's `fleet` section on), shared with its exchanges.
    fleet: Option<Rc<RefCell<Replica>>>,
    /// The host's token of the fleet call in flight.
    fleet_call: Option<u32>,
    /// This VM's view of the ledger, shared with its exchanges.
    local_ledger: Rc<RefCell<LocalLedger>>,
}

impl RootExchange {
    /// A root context with no policy yet.
    pub fn new(metrics: Rc<Metrics>) -> Self {
        Self { policy: None, metrics, fleet: None, fleet_call: None, local_ledger: Rc::default() }
    }

    /// The metrics every exchange of this VM counts into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The running policy, once one was accepted.
    pub fn policy(&self) -> Option<&Rc<Policy>> {
        self.policy.as_ref()
    }

    /// This VM's fleet counters, when the running policy's `fleet` section is on.
    pub fn fleet(&self) -> Option<&Rc<RefCell<Replica>>> {
        self.fleet.as_ref()
    }

    /// A plugin configuration (the policy JSON); `env` resolves `credential.hash_secret_env`. Returns
    /// whether it was accepted (a refused one leaves the running policy serving).
    pub fn on_configure(&mut self, bytes: &[u8], env: &dyn Fn(&str) -> Option<String>) -> (bool, Vec<RootAction>) {
        let mut actions = Vec::new();
        let accepted = match configure(bytes, env, &self.metrics) {
            Configured::Accepted(policy, line) => {
                actions.push(RootAction::Log(Level::Info, line));
                actions.push(RootAction::RecordMemory);
                self.configure_fleet(&policy);
                self.configure_local_ledger(&policy);
                self.policy = Some(Rc::from(policy));
                true
            }
            Configured::Rejected(line) => {
                actions.push(RootAction::Log(Level::Error, line));
                false
            }
        };
        // Policy metrics are published at once; request metrics by the tick.
        actions.push(RootAction::PublishMetrics);
        let fleet_tick = self.policy.as_ref().filter(|p| p.fleet.enabled).map(|p| p.fleet.tick_ms);
        let period = fleet_tick.map_or(Metrics::FLUSH_PERIOD_MS, |t| t.min(Metrics::FLUSH_PERIOD_MS));
        actions.push(RootAction::SetTickPeriod(period));
        (accepted, actions)
    }

    /// [`RootExchange::on_configure`] after merging this VM's pending ledger changes into `store`
    /// under the running policy (a hot reload loses no counts; what cannot be merged is logged).
    pub fn on_configure_with_store(
        &mut self,
        bytes: &[u8],
        env: &dyn Fn(&str) -> Option<String>,
        store: &dyn SharedStore,
        now_ms: u64,
    ) -> (bool, Vec<RootAction>) {
        let mut actions = self.flush_ledger(store, now_ms, true);
        let (accepted, more) = self.on_configure(bytes, env);
        actions.extend(more);
        (accepted, actions)
    }

    /// New settings for the ledger view; views are kept unless the shared table changed.
    fn configure_local_ledger(&mut self, policy: &Policy) {
        let settings = LocalSettings::for_policy(policy);
        let same_table = self.policy.as_ref().is_some_and(|p| {
            p.ledger.key_prefix == policy.ledger.key_prefix && p.ledger.max_credentials == policy.ledger.max_credentials
        });
        if let Ok(mut local) = self.local_ledger.try_borrow_mut() {
            local.reconfigure(settings, same_table);
        }
    }

    /// Merges this VM's pending ledger changes into shared data: those due (on the tick), or all of
    /// them (`all`: before a new policy, when the VM stops). Counts what it did in the metrics.
    pub fn flush_ledger(&mut self, store: &dyn SharedStore, now_ms: u64, all: bool) -> Vec<RootAction> {
        let Some(policy) = self.policy.clone() else { return Vec::new() };
        let Ok(mut local) = self.local_ledger.try_borrow_mut() else { return Vec::new() };
        let ledger = Ledger::new(&policy.ledger, store);
        // A merge that fails on the tick stays pending for the next one; only a final flush reports.
        let failed = if all {
            // Under a simulation clock, at the latest request time, not the host's.
            let now_ms = local.clock(now_ms);
            local.flush_all(&ledger, now_ms)
        } else {
            local.tick(&ledger, now_ms);
            0
        };
        let stats = local.take_stats();
        let m = &self.metrics;
        m.add(Metrics::ledger_local_updates, stats.local);
        m.add(Metrics::ledger_merges, stats.merges);
        m.add(Metrics::ledger_cas_retries, stats.cas_retries);
        m.add(Metrics::ledger_failures, stats.merge_failures);
        if failed > 0 {
            let line =
                format!("distill-guard: {failed} credentials' ledger changes could not be merged into shared data");
            return vec![RootAction::Log(Level::Warn, line)];
        }
        Vec::new()
    }

    /// The VM is stopping: merges every pending ledger change.
    pub fn on_done(&mut self, store: &dyn SharedStore, now_ms: u64) -> Vec<RootAction> {
        let mut actions = self.flush_ledger(store, now_ms, true);
        actions.push(RootAction::PublishMetrics);
        actions
    }

    /// This VM's view of the ledger.
    pub fn local_ledger(&self) -> &Rc<RefCell<LocalLedger>> {
        &self.local_ledger
    }

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

    /// A tick: the fleet flush when one is due, then the metrics.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<RootAction> {
        let mut actions = Vec::new();
        if let Some(mut replica) = self.fleet.as_ref().and_then(|f| f.try_borrow_mut().ok()) {
            if let Some((message, line)) = replica.flush(now_ms, &self.metrics) {
                if let Some(line) = line {
                    actions.push(RootAction::Log(Level::Warn, line));
                }
                let settings = replica.settings();
                actions.push(RootAction::GrpcCall(CallOut {
                    tag: 0,
                    cluster: settings.cluster.clone(),
                    service: wire::SERVICE.to_string(),
                    method: wire::METHOD.to_string(),
                    message,
                    timeout_ms: settings.timeout_ms,
                }));
            }
        }
        actions.push(RootAction::PublishMetrics);
        actions
    }

    /// The host took the call: `token` names its answer.
    pub fn on_call_sent(&mut self, token: u32) {
        self.fleet_call = Some(token);
    }

    /// The host refused to start the call (`status` as it names the refusal): a failed call.
    pub fn on_call_not_sent(&mut self, status: &str, now_ms: u64) -> Vec<RootAction> {
        let Some(cell) = self.fleet.clone() else { return Vec::new() };
        let Ok(mut replica) = cell.try_borrow_mut() else { return Vec::new() };
        let why = format!("cannot call cluster `{}`: {status}", replica.settings().cluster);
        replica
            .not_sent(why, now_ms, &self.metrics)
            .map(|line| RootAction::Log(Level::Warn, line))
            .into_iter()
            .collect()
    }

    /// A call's answer: gRPC `status` (0 is an answer, anything else a failure) and `body`, which reads
    /// the answer's bytes (only called for an answer to the call in flight).
    pub fn on_call_answer(
        &mut self,
        token: u32,
        status: u32,
        body: impl FnOnce() -> Option<Vec<u8>>,
        now_ms: u64,
    ) -> Vec<RootAction> {
        if self.fleet_call != Some(token) {
            return Vec::new();
        }
        self.fleet_call = None;
        let Some(cell) = self.fleet.clone() else { return Vec::new() };
        let Ok(mut replica) = cell.try_borrow_mut() else { return Vec::new() };
        let answer = CallOutcome::from_grpc(status, body);
        let outcome = match &answer {
            CallOutcome::Answered(bytes) => Ok(bytes.as_slice()),
            CallOutcome::Failed(status) => Err(format!("gRPC status {status}")),
        };
        replica
            .answered(outcome, now_ms, &self.metrics)
            .map(|line| RootAction::Log(Level::Warn, line))
            .into_iter()
            .collect()
    }

    /// A new HTTP context: its exchange (none without an accepted policy), and the actions to
    /// perform first (memory is recorded every [`Metrics::MEMORY_REPORT_EVERY`] contexts).
    pub fn on_new_exchange(&self, context_id: u32) -> (Option<Exchange>, Vec<RootAction>) {
        let Some(policy) = self.policy.clone() else { return (None, Vec::new()) };
        let mut actions = Vec::new();
        if context_id % Metrics::MEMORY_REPORT_EVERY == 0 {
            actions.push(RootAction::RecordMemory);
        }
        let mut exchange =
            Exchange::new(context_id, policy, self.metrics.clone()).with_local_ledger(self.local_ledger.clone());
        if let Some(replica) = &self.fleet {
            exchange = exchange.with_fleet(replica.clone());
        }
        (Some(exchange), actions)
    }
}

impl CallOutcome {
    /// A gRPC call's end as the host reports it: status 0 is an answer (`body` reads its bytes, none
    /// read as empty), any other status a failure.
    pub fn from_grpc(status: u32, body: impl FnOnce() -> Option<Vec<u8>>) -> Self {
        match status {
            0 => CallOutcome::Answered(body().unwrap_or_default()),
            failed => CallOutcome::Failed(failed),
        }
    }
}
