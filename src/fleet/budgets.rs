//! Fleet-wide budgets enforced by the filter itself (`fleet.budgets: "filter"`), the fast path of the
//! rate limit protocol: no request waits on the network until its subject nears a limit.
//!
//! Each VM keeps, per budget limit and subject, a **view**: the count the service last answered plus
//! what this VM charged since (sent in the tick's batch, or not sent yet). A request below
//! `sync_check_percent` of a limit by that view is decided at once and its charge joins the next batch;
//! at or above it, the request **waits on a synchronous `ShouldRateLimit` call** that charges it (1 for a
//! request limit, the token estimate for a token limit, plus this VM's charges not sent yet) and is
//! refused when the count the service answers passes the limit. Charging (not reading with
//! `hits_addend: 0`) makes the check exact under concurrency: the service's `INCRBY` orders the
//! replicas' checks, so of requests racing for the last unit only those within the limit are admitted.
//! Like Envoy's rate limit filter, a refused request stays counted.
//!
//! Descriptors, in the detection counters' domain (`distill_guard_fleet`, counters that never refuse:
//! count = limit − `limit_remaining`), the service's fixed clock window per budget window:
//!
//! ```text
//! ("budget_minute" | "budget_hour" | "budget_day", "<name>.requests" | "<name>.tokens"), ("credential" | "tenant", <id>)
//! ```
//!
//! Only enforced throttling budgets take part (not `action: tag`, `shadow`, or a policy in `shadow`
//! mode: those stay per replica); the filter's per-replica budgets keep applying too.

use std::collections::BTreeMap;

use super::counters::{needs_sync_check, status_count, FleetError, COUNTER_LIMIT, DOMAIN};
pub use super::counters::{BudgetKey, Sent};
use super::wire::{decode_response, encode_request, RateLimitRequest};
use crate::budget::LimitInfo;
use crate::credential::Credential;
use crate::decision::{Reason, Signal, Verdict};
use crate::ledger::Quantity;
use crate::policy::{Action, Mode, Policy, Scope};

fn scope_key(s: Scope) -> &'static str {
    match s {
        Scope::Credential => "credential",
        Scope::Tenant => "tenant",
    }
}

/// What a request asks of one fleet-wide limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub key: BudgetKey,
    /// The budget's name (for the `budget:<name>` signal).
    pub budget: String,
    pub quantity: Quantity,
    /// 1 for requests, the token estimate for tokens.
    pub hits: u64,
    /// The budget's limit.
    pub max: u64,
}

/// The fleet-wide limits a request touches under `fleet.budgets: "filter"`: every enforced throttling
/// budget, per quantity, for the credential or its tenant. Empty when the path is Envoy's, the policy
/// is in shadow mode, or the credential (or its tenant) is on a list (lists decide without budgets).
pub fn request_needs(policy: &Policy, credential: &Credential, estimate: u64) -> Vec<Need> {
    let fleet = &policy.fleet;
    if !fleet.enabled || fleet.budgets != super::settings::BudgetPath::Filter || policy.mode == Mode::Shadow {
        return Vec::new();
    }
    let lists = &policy.lists;
    let tenant = credential.tenant.as_deref();
    let listed = lists.allow_credentials.contains(&credential.id)
        || lists.block_credentials.contains(&credential.id)
        || tenant.is_some_and(|t| lists.allow_tenants.contains(t) || lists.block_tenants.contains(t));
    if listed {
        return Vec::new();
    }
    let mut needs = Vec::new();
    for b in policy.budgets.iter().filter(|b| b.action == Action::Throttle && !b.shadow) {
        let id = match b.scope {
            Scope::Credential => credential.id.as_str(),
            Scope::Tenant => match tenant {
                Some(t) => t,
                None => continue,
            },
        };
        for (quantity, max, hits, suffix) in
            [(Quantity::Requests, b.max_requests, 1, "requests"), (Quantity::Tokens, b.max_tokens, estimate, "tokens")]
        {
            let Some(max) = max else { continue };
            let name = format!("{}.{suffix}", b.name);
            let key = BudgetKey { window_s: b.window.seconds(), name, scope: scope_key(b.scope), id: id.into() };
            needs.push(Need { key, budget: b.name.clone(), quantity, hits, max });
        }
    }
    needs
}

/// One counter as this VM sees it, in one service window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    window: u64,
    /// The largest count the service answered in this window.
    fleet: u64,
    /// Charged here, not sent yet.
    unsent: u64,
    /// Charged here, in the batch in flight.
    in_flight: u64,
    /// The budget's limit (to keep the entries nearest their limits when room is needed).
    limit: u64,
}

impl Count {
    /// Share of the limit the service counted, in millionths.
    fn share(&self) -> u128 {
        u128::from(self.fleet) * 1_000_000 / u128::from(self.limit.max(1))
    }
}

/// This VM's fleet-wide budget counters, bounded by `max_entries`. When full, entries of past windows
/// go first, then settled entries (nothing unsent or in flight) farthest from their limits: such a
/// subject's view restarts from this VM's own charges and is refreshed by the next answer about it.
/// Only when every entry has charges waiting is a new subject not tracked: it is checked by the service
/// on every request meanwhile.
#[derive(Clone, Debug, Default)]
pub struct BudgetCounts {
    counts: BTreeMap<BudgetKey, Count>,
    /// Where the next batch starts taking unsent charges (so every subject's turn comes).
    cursor: Option<BudgetKey>,
}

impl BudgetCounts {
    /// Makes room for `key` if the counters are full (see [`BudgetCounts`]).
    fn make_room(&mut self, key: &BudgetKey, now_ms: u64, max_entries: usize) {
        if self.counts.contains_key(key) || self.counts.len() < max_entries {
            return;
        }
        self.counts.retain(|k, c| c.window == k.window_index(now_ms) || c.in_flight > 0);
        if self.counts.len() < max_entries {
            return;
        }
        let mut settled: Vec<(u128, BudgetKey)> = self
            .counts
            .iter()
            .filter(|(_, c)| c.unsent == 0 && c.in_flight == 0)
            .map(|(k, c)| (c.share(), k.clone()))
            .collect();
        settled.sort_unstable_by_key(|(share, _)| *share);
        // An eighth at a time, so the sort is paid once per many new subjects.
        for (_, k) in settled.into_iter().take((max_entries / 8).max(1)) {
            self.counts.remove(&k);
        }
    }

    fn current(&mut self, key: &BudgetKey, limit: u64, now_ms: u64, max_entries: usize) -> Option<&mut Count> {
        let window = key.window_index(now_ms);
        if !self.counts.contains_key(key) {
            self.make_room(key, now_ms, max_entries);
            if self.counts.len() >= max_entries {
                return None;
            }
            self.counts.insert(key.clone(), Count { window, limit, ..Count::default() });
        }
        let count = self.counts.get_mut(key)?;
        if count.window != window {
            // The service's window turned: what was counted (or not sent) belongs to the last one.
            *count = Count { window, limit, ..Count::default() };
        }
        count.limit = limit;
        Some(count)
    }

    /// The view of `key` now: the service's count plus this VM's charges since; `None` when unknown and
    /// there is no room to track it.
    pub fn view(&self, key: &BudgetKey, now_ms: u64) -> u64 {
        match self.counts.get(key) {
            Some(c) if c.window == key.window_index(now_ms) => c.fleet + c.unsent + c.in_flight,
            _ => 0,
        }
    }

    /// True when `key` is tracked (or can be, after making room).
    fn has_room(&mut self, key: &BudgetKey, now_ms: u64, max_entries: usize) -> bool {
        self.make_room(key, now_ms, max_entries);
        self.counts.contains_key(key) || self.counts.len() < max_entries
    }

    /// Entries tracked.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Charges `hits` to `key` (a limit of `limit`) here, to be sent with the next batch. False when
    /// there was no room.
    pub fn charge(&mut self, key: &BudgetKey, hits: u64, limit: u64, now_ms: u64, max_entries: usize) -> bool {
        match self.current(key, limit, now_ms, max_entries) {
            Some(c) => {
                c.unsent += hits;
                true
            }
            None => false,
        }
    }

    /// Takes up to `room` unsent charges for the tick's batch (they are in flight until answered),
    /// starting after where the last batch stopped.
    pub fn take_for_batch(&mut self, room: usize, now_ms: u64) -> Vec<Sent> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let mut out = Vec::new();
        let (after, upto) = match self.cursor.take() {
            Some(k) => ((Excluded(k.clone()), Unbounded), Some((Unbounded, Included(k)))),
            None => ((Unbounded, Unbounded), None),
        };
        let mut take = |range: (std::ops::Bound<BudgetKey>, std::ops::Bound<BudgetKey>), out: &mut Vec<Sent>| {
            for (key, c) in self.counts.range_mut(range) {
                if out.len() >= room {
                    return Some(key.clone());
                }
                if c.unsent == 0 || c.window != key.window_index(now_ms) {
                    continue;
                }
                out.push(Sent { key: key.clone(), window: c.window, hits: c.unsent });
                c.in_flight += c.unsent;
                c.unsent = 0;
            }
            None
        };
        let mut stop = take(after, &mut out);
        if stop.is_none() {
            if let Some(range) = upto {
                stop = take(range, &mut out);
            }
        }
        // Resume after the last key taken when the batch was full.
        self.cursor = stop.and(out.last().map(|s| s.key.clone()));
        out
    }

    /// Takes this VM's unsent charges of `key` for a synchronous check.
    fn take_unsent(&mut self, key: &BudgetKey, limit: u64, now_ms: u64, max_entries: usize) -> u64 {
        self.current(key, limit, now_ms, max_entries).map_or(0, |c| std::mem::take(&mut c.unsent))
    }

    /// The service answered `count` for `sent` (its charge included).
    pub fn answered(&mut self, sent: &Sent, count: u64, from_batch: bool) {
        if let Some(c) = self.counts.get_mut(&sent.key).filter(|c| c.window == sent.window) {
            if from_batch {
                c.in_flight = c.in_flight.saturating_sub(sent.hits);
            }
            c.fleet = c.fleet.max(count);
        }
    }

    /// The call carrying `sent` failed: its charge goes back to be sent again (same window only).
    pub fn failed(&mut self, sent: &Sent, from_batch: bool) {
        if let Some(c) = self.counts.get_mut(&sent.key).filter(|c| c.window == sent.window) {
            if from_batch {
                c.in_flight = c.in_flight.saturating_sub(sent.hits);
            }
            c.unsent += sent.hits;
        }
    }
}

/// A synchronous check in flight for one request: the message to send and what it charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncCheck {
    /// The `ShouldRateLimit` message (domain [`DOMAIN`]).
    pub message: Vec<u8>,
    /// Per need, in order: the charge sent (this request's hits plus this VM's unsent ones).
    sent: Vec<Sent>,
    /// The request's needs, in the same order.
    needs: Vec<Need>,
}

/// What a synchronous check decided.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncOutcome {
    /// Every limit holds with this request: forward it (it is charged already).
    Admit,
    /// The service's counts pass a limit: refuse with this verdict (a budget throttle).
    Refuse(Verdict),
    /// No usable answer (the reason): fail open or closed as the policy says. The request's charge
    /// was not counted by anyone yet.
    Unavailable(String),
}

/// Starts a synchronous check if one of `needs` is at or above `threshold_percent` of its limit by the
/// view, with this request; `None` when the view decides (below the threshold everywhere). The check
/// charges every need of the request (so its counters stay exact) and carries this VM's unsent charges.
pub fn sync_check(
    counts: &mut BudgetCounts,
    needs: &[Need],
    threshold_percent: u8,
    now_ms: u64,
    max_entries: usize,
) -> Option<SyncCheck> {
    let mut near = false;
    for n in needs {
        near |= !counts.has_room(&n.key, now_ms, max_entries)
            || needs_sync_check(counts.view(&n.key, now_ms).saturating_add(n.hits), n.max, threshold_percent);
    }
    if !near {
        return None;
    }
    let mut sent = Vec::with_capacity(needs.len());
    for n in needs {
        let unsent = counts.take_unsent(&n.key, n.max, now_ms, max_entries);
        sent.push(Sent { key: n.key.clone(), window: n.key.window_index(now_ms), hits: unsent + n.hits });
    }
    let descriptors = sent.iter().map(|s| s.key.descriptor(s.hits)).collect();
    let message = encode_request(&RateLimitRequest { domain: DOMAIN.to_string(), descriptors });
    Some(SyncCheck { message, sent, needs: needs.to_vec() })
}

/// Charges a request decided without a check (below the threshold): its hits join the next batch.
/// False when a counter had no room (nothing is lost but that subject's fleet view).
pub fn charge_request(counts: &mut BudgetCounts, needs: &[Need], now_ms: u64, max_entries: usize) -> bool {
    let mut kept = true;
    for n in needs {
        kept &= counts.charge(&n.key, n.hits, n.max, now_ms, max_entries);
    }
    kept
}

/// Reads the answer to a synchronous check (or its failure) into the counters and decides.
pub fn sync_answered(
    counts: &mut BudgetCounts,
    check: SyncCheck,
    outcome: Result<&[u8], String>,
    now_ms: u64,
) -> SyncOutcome {
    let read = outcome.and_then(|bytes| read_counts(&check, bytes).map_err(|e| e.to_string()));
    let statuses = match read {
        Ok(s) => s,
        Err(why) => {
            // Give back what this VM had not sent; the request's own hits are the caller's to charge.
            for (s, n) in check.sent.iter().zip(&check.needs) {
                let back = Sent { hits: s.hits.saturating_sub(n.hits), ..s.clone() };
                counts.failed(&back, false);
            }
            return SyncOutcome::Unavailable(why);
        }
    };
    let mut verdict: Option<Verdict> = None;
    for ((sent, need), count) in check.sent.iter().zip(&check.needs).zip(statuses) {
        counts.answered(sent, count, false);
        if count > need.max {
            let v = verdict.get_or_insert_with(throttle);
            add_budget(v, need, count, sent.key.seconds_to_reset(now_ms));
        }
    }
    match verdict {
        Some(v) => SyncOutcome::Refuse(v),
        None => SyncOutcome::Admit,
    }
}

/// The fleet-wide counts a synchronous check's answer carries, in order.
fn read_counts(check: &SyncCheck, bytes: &[u8]) -> Result<Vec<u64>, FleetError> {
    let response = decode_response(bytes)?;
    if response.statuses.len() != check.sent.len() {
        return Err(FleetError::StatusCount { sent: check.sent.len(), got: response.statuses.len() });
    }
    response.statuses.iter().enumerate().map(|(index, status)| status_count(index, status, COUNTER_LIMIT)).collect()
}

fn throttle() -> Verdict {
    Verdict {
        action: Action::Throttle,
        enforced: Action::Throttle,
        score: 0.0,
        signals: Vec::new(),
        retry_after: None,
        limit: None,
        shadow: false,
    }
}

/// Adds a budget the fleet count passed: its signal, and the figures for the rate-limit headers (the
/// wait is until the service's window turns).
fn add_budget(v: &mut Verdict, need: &Need, count: u64, reset: u64) {
    if !v.signals.iter().any(|s| s.reason == Reason::Budget(need.budget.clone())) {
        v.signals.push(Signal { reason: Reason::Budget(need.budget.clone()), action: Action::Throttle, shadow: false });
    }
    v.retry_after = Some(v.retry_after.unwrap_or(0).max(reset.max(1)));
    let figures = Some((need.max, need.max.saturating_sub(count), reset));
    let mut limit = v.limit.unwrap_or(LimitInfo { window_seconds: need.key.window_s, requests: None, tokens: None });
    limit.window_seconds = need.key.window_s;
    match need.quantity {
        Quantity::Requests => limit.requests = figures,
        Quantity::Tokens => limit.tokens = figures,
    }
    v.limit = Some(limit);
}
