//! One VM's side of the fleet counters, between its requests and its ticks: requests record
//! [`Deltas`]; the root context's tick takes a [`Batch`] to send when one is due and none is in flight;
//! the call's outcome refreshes the view (or requeues the batch) and tracks the service's health.
//!
//! Pure and host-independent: the adapter holds one `Replica` per VM (shared by the root context and
//! the VM's exchanges), performs the gRPC call and hands the answer back.

use super::budgets::{self, BudgetCounts, Need, SyncCheck, SyncOutcome};
use super::counters::{Batch, Deltas, FleetCounters, Member, Slot};
use super::settings::{FailMode, FleetHealth, FleetSettings, HealthChange};
use crate::metrics::Metrics;

/// Fleet-wide counts of one template, as this replica last heard them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateCounts {
    /// Distinct credentials that used the template in the campaign window.
    pub credentials: u64,
    /// Distinct prompts that filled it.
    pub prompts: u64,
}

/// This VM's deltas, counters, call in flight and view of the service's health.
#[derive(Debug)]
pub struct Replica {
    settings: FleetSettings,
    deltas: Deltas,
    counters: FleetCounters,
    budgets: BudgetCounts,
    health: FleetHealth,
    in_flight: Option<(Batch, u64)>,
    last_flush_ms: u64,
}

/// The hex form of a fingerprint, as descriptor values carry it (and `x-distill-template` shows it).
pub fn fingerprint_hex(fp: u64) -> String {
    format!("{fp:016x}")
}

/// A system prompt's key: its own namespace next to the templates'.
fn system_key(fp: u64) -> String {
    format!("s{fp:016x}")
}

impl Replica {
    /// A replica with nothing recorded.
    pub fn new(settings: FleetSettings) -> Self {
        let counters = FleetCounters::new(settings.window, settings.max_descriptors, settings.max_pending);
        Replica {
            settings,
            deltas: Deltas::default(),
            counters,
            budgets: BudgetCounts::default(),
            health: FleetHealth::default(),
            in_flight: None,
            last_flush_ms: 0,
        }
    }

    pub fn settings(&self) -> &FleetSettings {
        &self.settings
    }

    /// A new policy: the counters start over when the window or the caps changed; deltas not yet sent
    /// and the health are kept.
    pub fn reconfigure(&mut self, settings: FleetSettings) {
        let s = &self.settings;
        if s.window != settings.window
            || s.max_descriptors != settings.max_descriptors
            || s.max_pending != settings.max_pending
        {
            self.counters = FleetCounters::new(settings.window, settings.max_descriptors, settings.max_pending);
        }
        self.settings = settings;
    }

    /// Records one request of `credential` (its id), with the template it used and the prompt that
    /// filled it when the template is one the campaign detector tracks. Returns false when something
    /// was dropped because the VM holds `max_pending` entries already.
    pub fn record(&mut self, credential: &str, template: Option<u64>, prompt: Option<u64>) -> bool {
        let template = template.map(fingerprint_hex);
        let prompt = prompt.map(fingerprint_hex);
        self.deltas.record(credential, template.as_deref(), prompt.as_deref(), self.settings.max_pending)
    }

    /// Records that the request of `credential` (already recorded) had the system prompt `system`,
    /// tracked by the campaign detector, filled with `prompt`. Counted under its own key (`s` + hex).
    pub fn record_system_prompt(&mut self, credential: &str, system: u64, prompt: Option<u64>) -> bool {
        let key = system_key(system);
        let prompt = prompt.map(fingerprint_hex);
        self.deltas.record_members(credential, Some(&key), prompt.as_deref(), self.settings.max_pending)
    }

    /// The fleet-wide counts of the system prompt `system`, as [`Replica::template_counts`].
    pub fn system_prompt_counts(&self, system: u64, now_ms: u64) -> Option<TemplateCounts> {
        self.counts(&system_key(system), now_ms)
    }

    /// The fleet-wide counts of `template` in the current campaign window, if this replica has heard them.
    pub fn template_counts(&self, template: u64, now_ms: u64) -> Option<TemplateCounts> {
        self.counts(&fingerprint_hex(template), now_ms)
    }

    fn counts(&self, hex: &str, now_ms: u64) -> Option<TemplateCounts> {
        let view = self.counters.view();
        let window = self.settings.window;
        let credentials = view.template_members(Member::Credential, hex, window, now_ms);
        let prompts = view.template_members(Member::Prompt, hex, window, now_ms);
        (credentials.is_some() || prompts.is_some())
            .then(|| TemplateCounts { credentials: credentials.unwrap_or(0), prompts: prompts.unwrap_or(0) })
    }

    /// Fleet-wide requests of `credential` in the service's current clock hour, if known.
    pub fn credential_requests(&self, credential: &str, now_ms: u64) -> Option<u64> {
        self.counters.view().credential_requests(credential, now_ms)
    }

    /// The view of a request's fleet-wide budget limits: `Some(check)` when one of them is at or above
    /// `sync_check_percent` with this request and the request must wait on the check's answer; `None`
    /// when the view decides (the request is admitted as far as the fleet goes, and charged with
    /// [`Replica::charge_budgets`] once forwarded). Nothing waits while the service is known to be down.
    pub fn budget_check(&mut self, needs: &[Need], now_ms: u64, metrics: &Metrics) -> Option<SyncCheck> {
        if needs.is_empty() || self.health.is_down() {
            return None;
        }
        let s = &self.settings;
        let check = budgets::sync_check(&mut self.budgets, needs, s.sync_check_percent, now_ms, s.max_pending)?;
        metrics.add(Metrics::fleet_sync_checks, 1);
        Some(check)
    }

    /// Charges a forwarded request that did not wait (below the threshold, or the service down): its
    /// hits go with the next batch.
    pub fn charge_budgets(&mut self, needs: &[Need], now_ms: u64, metrics: &Metrics) {
        if !budgets::charge_request(&mut self.budgets, needs, now_ms, self.settings.max_pending) {
            metrics.add(Metrics::fleet_dropped, 1);
        }
    }

    /// The view of one fleet-wide budget counter now (the service's count plus this VM's charges since).
    pub fn budget_view(&self, key: &budgets::BudgetKey, now_ms: u64) -> u64 {
        self.budgets.view(key, now_ms)
    }

    /// The answer to a synchronous check (or why there is none), read into the counters.
    pub fn budget_answered(
        &mut self,
        check: SyncCheck,
        outcome: Result<&[u8], String>,
        now_ms: u64,
        metrics: &Metrics,
    ) -> SyncOutcome {
        let decided = budgets::sync_answered(&mut self.budgets, check, outcome, now_ms);
        if matches!(decided, SyncOutcome::Unavailable(_)) {
            metrics.add(Metrics::fleet_call_failures, 1);
        }
        decided
    }

    /// The service could not be reached on the last call.
    pub fn is_down(&self) -> bool {
        self.health.is_down()
    }

    /// Requests must be refused: the service is down and the policy says `fail: closed`.
    pub fn refuses(&self) -> bool {
        self.settings.fail == FailMode::Closed && self.health.is_down()
    }

    /// Deltas waiting for a flush (distinct entries).
    pub fn pending(&self) -> usize {
        self.deltas.len()
    }

    /// On a tick: the `ShouldRateLimit` message to send now, if a flush is due, there is something to
    /// send and no call is in flight. A call that got no answer for well past its timeout (the host
    /// should have reported it) is given up as failed first, so one lost answer never stops the flushes.
    pub fn flush(&mut self, now_ms: u64, metrics: &Metrics) -> Option<(Vec<u8>, Option<String>)> {
        let mut line = None;
        if let Some((_, sent)) = &self.in_flight {
            let give_up = sent.saturating_add(self.settings.timeout_ms.saturating_mul(2)).saturating_add(1000);
            if now_ms < give_up {
                return None;
            }
            line = self.answered(Err("no answer from the host".into()), now_ms, metrics);
        }
        if now_ms.saturating_sub(self.last_flush_ms) < self.settings.tick_ms {
            return None;
        }
        // Budget charges get at least half of a call when they have some waiting, so detection
        // counters never starve them (nor they the counters); either takes what the other leaves.
        let max = self.settings.max_descriptors;
        let mut budget_slots = self.budgets.take_for_batch(max.div_ceil(2), now_ms);
        let room = max.saturating_sub(budget_slots.len());
        let window = self.settings.window.index(now_ms);
        let mut batch = self
            .counters
            .build_batch_within(&mut self.deltas, now_ms, room)
            .unwrap_or_else(|| Batch { window, slots: Vec::new() });
        let room = max.saturating_sub(batch.slots.len() + budget_slots.len());
        budget_slots.extend(self.budgets.take_for_batch(room, now_ms));
        batch.slots.extend(budget_slots.into_iter().map(Slot::Budget));
        if batch.slots.is_empty() {
            return None;
        }
        self.last_flush_ms = now_ms;
        let message = batch.encode();
        self.in_flight = Some((batch, now_ms));
        metrics.add(Metrics::fleet_calls, 1);
        Some((message, line))
    }

    /// The call could not even be started (no such cluster, ...): as a failed call.
    pub fn not_sent(&mut self, why: String, now_ms: u64, metrics: &Metrics) -> Option<String> {
        self.answered(Err(why), now_ms, metrics)
    }

    /// The outcome of the call in flight: the answer's bytes, or why it failed. Returns the line to log
    /// when the service's health changed (one line per outage start and end).
    pub fn answered(&mut self, outcome: Result<&[u8], String>, now_ms: u64, metrics: &Metrics) -> Option<String> {
        let (batch, _) = self.in_flight.take()?;
        let result = match outcome {
            Ok(bytes) => self.counters.apply_answer(&batch, bytes, now_ms).map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        let change = match &result {
            Ok(reading) => {
                for (sent, count) in &reading.budgets {
                    self.budgets.answered(sent, *count, true);
                }
                self.health.record(true)
            }
            Err(_) => {
                metrics.add(Metrics::fleet_call_failures, 1);
                for slot in &batch.slots {
                    if let Slot::Budget(sent) = slot {
                        self.budgets.failed(sent, true);
                    }
                }
                self.counters.requeue(batch, &mut self.deltas, now_ms);
                self.health.record(false)
            }
        };
        let result = result.map(|_| ());
        let change = change?;
        let fail = match self.settings.fail {
            FailMode::Open => "deciding on this replica's counts",
            FailMode::Closed => "refusing requests (fail: closed)",
        };
        Some(match (change, result) {
            (HealthChange::WentDown, Err(why)) => {
                metrics.set(Metrics::fleet_unavailable, 1);
                format!("distill-guard: fleet counters unavailable ({why}), {fail} until the service answers")
            }
            (HealthChange::WentDown, Ok(())) => {
                metrics.set(Metrics::fleet_unavailable, 1);
                format!("distill-guard: fleet counters unavailable, {fail} until the service answers")
            }
            (HealthChange::CameBack { failed_calls }, _) => {
                metrics.set(Metrics::fleet_unavailable, 0);
                format!("distill-guard: fleet counters back after {failed_calls} failed calls; counts converge")
            }
        })
    }
}
