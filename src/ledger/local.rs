//! This worker's view of the ledger: shared data off the hot path.
//!
//! Every Envoy worker runs its own VM; shared data is common to all of them and every access is a host
//! call that copies the record. A [`LocalLedger`] (one per VM) keeps, for each subject it has seen, a
//! copy of its shared record (the *view*) and the changes this worker made since it read it (the
//! *pending* changes: counter deltas stamped with their time, and the profile as the worker changed
//! it). A decision far from every limit runs on the view and changes only the view; the pending
//! changes are merged into the shared record by one compare-and-swap per subject:
//!
//! - on the root tick, once the oldest pending change is `ledger.merge_interval_ms` old;
//! - at once, when a decision needs the shared record (below), or when a subject collects
//!   [`MAX_PENDING`] distinct seconds of changes, or when it is evicted from the view;
//! - before a new policy is installed and when the VM stops (nothing is lost on a hot reload).
//!
//! A merge adds the deltas to the windows and budget slices of the time they were made (so a merge
//! after a window edge still counts in the right slice) and merges the profile
//! ([`crate::profile::Profile::merge`]); it then refreshes the view with the record it wrote. When the
//! worker has not written the record since it last read it, the merge is one write of the view (the
//! record as read plus this worker's changes) with that read's CAS token; a mismatch (another worker
//! wrote in between) reads the record afresh and merges into it.
//!
//! A view older than `merge_interval_ms`, or used for [`LocalSettings::decisions_per_read`]
//! decisions since it was read, is read again (one read, no write): the view becomes the record read
//! plus the pending changes, still pending, and the decision is made on it as on a fresh view.
//!
//! The shared record is used instead of the view (the *exact path*: a read-modify-write under
//! compare-and-swap, this worker's pending changes merged in the same write) when:
//! - the subject is not in the view, or this worker holds [`LocalSettings::decisions_per_read`]
//!   decisions on it not written yet;
//! - the decision answers [`Update::Exact`]: in [`crate::decision`], a budget within
//!   `ledger.exact_within` of its limit (or within `ledger.exact_within_requests` requests of it), a
//!   budget crossed, or detection at the throttle or block tier;
//! - a correction (settlement, refund) that would bring a token budget within the same margin, or of
//!   a subject whose last decision took the exact path.
//!
//! Accuracy bound: a decision on the view misses what other workers changed since the view was read
//! (at most `merge_interval_ms` ago, and at most `decisions_per_read` decisions of this worker ago)
//! and what they have not merged yet (at most `decisions_per_read` decisions each). A budget can
//! therefore be overshot only when the other workers together charge more than the exact margin
//! while this worker makes `decisions_per_read` decisions, and never by more than
//! `workers × credential rate per worker × (2 × merge_interval_ms + tick)`; plus the requests in
//! flight (charged at their estimate, settled at the response), as before. Detection profiles and
//! window counts of other workers reach a worker's view within the same delay.
//!
//! Under a simulation clock (`detection.clock_header`, the traffic simulators only) requests carry
//! their own time, which the host's clock cannot be compared with: the view then keeps its own clock,
//! the latest request time it was given, and runs the tick's merges itself at each update (what is due
//! by the request's time is merged before it is decided), so views, ages and merges follow simulated
//! time as they follow the host's clock in production. The root tick uses the same clock, and a worker
//! that had no request between two ticks merges everything it holds ([`LocalLedger::tick`]): simulated
//! time moves with the other workers' requests, far faster than the host's clock.
//!
//! Memory: at most `ledger.local_subjects` subjects a VM (the oldest one is merged and dropped to make
//! room), each about 1.6 KB of heap (measured).

use std::collections::{HashMap, VecDeque};

use super::{Delta, Ledger, LedgerError, Record, Subject, Update, Updated};
use crate::host::StoreError;
use crate::policy::Policy;
use crate::profile::Profile;

/// Distinct seconds of pending changes a subject may hold before they are merged at once.
pub const MAX_PENDING: usize = 16;

/// How the local ledger is run (from the policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSettings {
    /// Longest a view is used, and a pending change waits, before the shared record (ms); 0 turns
    /// the local ledger off (every update is a compare-and-swap of the shared record).
    pub merge_interval_ms: u64,
    /// Most subjects in the view.
    pub capacity: usize,
    /// The detection profile's half-life (ms), to merge decayed counts.
    pub half_life_ms: u64,
    /// Most decisions on one subject's view between two reads of its shared record.
    pub decisions_per_read: u32,
    /// Requests carry their own time (`detection.clock_header`): merges are due by the latest request
    /// time, checked at each update, and the tick uses that clock too.
    pub simulated: bool,
}

/// Decisions a worker makes on its view of a subject between two reads of the shared record: a quarter
/// of `ledger.exact_within_requests` (8 by default), at least 1. What the other workers decide on
/// their views and have not merged is then at most this much each, well inside the exact margin.
pub fn decisions_per_read(exact_within_requests: u64) -> u32 {
    u32::try_from(exact_within_requests / 4).unwrap_or(u32::MAX).max(1)
}

impl LocalSettings {
    /// The settings a policy asks for (`ledger.merge_interval_ms`, `ledger.local_subjects`, the
    /// detection half-life); driven by the request clock under a simulation clock
    /// (`detection.clock_header`).
    pub fn for_policy(policy: &Policy) -> Self {
        Self {
            merge_interval_ms: policy.ledger.merge_interval_ms,
            capacity: usize::try_from(policy.ledger.local_subjects).unwrap_or(usize::MAX),
            half_life_ms: policy.detection.half_life_ms,
            decisions_per_read: decisions_per_read(policy.ledger.exact_within_requests),
            simulated: policy.detection.clock_header.is_some(),
        }
    }
}

impl Default for LocalSettings {
    fn default() -> Self {
        Self { merge_interval_ms: 0, capacity: 1, half_life_ms: 0, decisions_per_read: 1, simulated: false }
    }
}

/// What the local ledger did, for metrics (taken with [`LocalLedger::take_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalStats {
    /// Updates decided on the view (no shared-data call).
    pub local: u64,
    /// Updates that took the exact path.
    pub exact: u64,
    /// Merges of pending changes into shared data (on their own or with an exact update).
    pub merges: u64,
    /// Merges that failed (kept pending for the next tick).
    pub merge_failures: u64,
    /// Subjects dropped from the view to make room.
    pub evictions: u64,
    /// CAS retries of merges.
    pub cas_retries: u64,
}

/// Which kind of update: a decision (its closure may answer [`Update::Exact`]) or a correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Decision,
    Correction,
}

#[derive(Debug, Clone)]
struct Entry {
    subject: Subject,
    /// The shared record as read, plus this worker's changes since.
    view: Record,
    /// The profile as read (what the worker's profile changes are measured against).
    base: Profile,
    /// Counter changes not merged yet: (time in ms, change), one per second at most.
    pending: Vec<(u64, Delta)>,
    /// The profile changed since it was read.
    profile_changed: bool,
    slot: u64,
    refreshed_ms: u64,
    /// When the oldest pending change was made.
    dirty_since: Option<u64>,
    /// The last decision took the exact path: corrections do too.
    exact: bool,
    /// Decisions made on the view since it was read.
    decisions: u32,
    /// Decisions of this worker not written to shared data yet.
    unmerged: u32,
    /// The CAS token of the shared record the view was last read from, while this worker has not
    /// written it since: the view is then that record plus the pending changes, and a merge writes
    /// it with this token, without reading first (a mismatch reads afresh).
    cas: Option<u32>,
}

impl Entry {
    fn dirty(&self) -> bool {
        self.dirty_since.is_some()
    }

    /// Applies the pending changes to a shared record.
    fn merge_into(&self, record: &mut Record, half_life_ms: u64) {
        for (at, d) in &self.pending {
            record.apply_at(d, *at);
        }
        if self.profile_changed {
            record.profile.merge(&self.base, &self.view.profile, half_life_ms);
        }
        record.last_seen_ms = record.last_seen_ms.max(self.view.last_seen_ms);
    }

    fn push(&mut self, at_ms: u64, d: Delta) {
        match self.pending.last_mut() {
            Some((t, last)) if *t / 1000 == at_ms / 1000 => {
                last.add(&d);
                *t = (*t).max(at_ms);
            }
            _ => self.pending.push((at_ms, d)),
        }
    }
}

/// Subjects are keyed by their hash already: the table mixes it once with a seed random to the VM
/// (so nobody can aim names at one bucket) instead of hashing it again with SipHash.
#[derive(Debug, Clone, Copy)]
struct SubjectHasher(u64);

impl Default for SubjectHasher {
    fn default() -> Self {
        use std::hash::BuildHasher;
        SubjectHasher(std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64) | 1)
    }
}

impl std::hash::Hasher for SubjectHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // The seeded splitmix64 finaliser: every bit of the hash reaches the bucket and the tag bits.
        let mut x = v ^ self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = x ^ (x >> 31);
    }
}

impl std::hash::BuildHasher for SubjectHasher {
    type Hasher = SubjectHasher;
    fn build_hasher(&self) -> SubjectHasher {
        *self
    }
}

/// One VM's view of the ledger (see the module docs).
#[derive(Debug, Default)]
pub struct LocalLedger {
    settings: LocalSettings,
    /// Boxed: the table stays small when it grows (an entry is about 1.6 KB of heap).
    entries: HashMap<u64, Box<Entry>, SubjectHasher>,
    /// Subjects in the order they entered the view (eviction order; stale hashes are skipped).
    order: VecDeque<u64>,
    /// (dirty since, subject hash) in time order (stale items are skipped).
    due: VecDeque<(u64, u64)>,
    stats: LocalStats,
    /// Under a simulation clock: the latest request time seen (ms).
    clock_ms: u64,
    /// Under a simulation clock: `clock_ms` at the last tick.
    ticked_ms: u64,
}

impl LocalLedger {
    /// An empty view with these settings.
    pub fn new(settings: LocalSettings) -> Self {
        Self { settings, ..Self::default() }
    }

    /// The settings in force.
    pub fn settings(&self) -> LocalSettings {
        self.settings
    }

    /// Subjects in the view.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the view holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Subjects with changes not merged yet.
    pub fn pending(&self) -> usize {
        self.entries.values().filter(|e| e.dirty()).count()
    }

    /// The clock merges are due by: the host's (`host_now_ms`), or under a simulation clock the latest
    /// request time seen (0 before the first request: nothing is due).
    pub fn clock(&self, host_now_ms: u64) -> u64 {
        if self.settings.simulated {
            self.clock_ms
        } else {
            host_now_ms
        }
    }

    /// What was done since the last call.
    pub fn take_stats(&mut self) -> LocalStats {
        std::mem::take(&mut self.stats)
    }

    /// New settings (a new policy). Call [`LocalLedger::flush_all`] with the old ledger first; a
    /// view is dropped when `keep_views` is false (the shared table changed).
    pub fn reconfigure(&mut self, settings: LocalSettings, keep_views: bool) {
        self.settings = settings;
        if !keep_views || settings.merge_interval_ms == 0 || !settings.simulated {
            self.clock_ms = 0;
            self.ticked_ms = 0;
        }
        if !keep_views || settings.merge_interval_ms == 0 {
            self.entries.clear();
            self.order.clear();
            self.due.clear();
        }
        while self.entries.len() > settings.capacity.max(1) {
            match self.order.pop_front() {
                Some(h) => {
                    self.entries.remove(&h);
                }
                None => break,
            }
        }
    }

    /// A fresh view of a subject (`None` when missing or older than the merge interval).
    pub fn view(&self, subject: &Subject, now_ms: u64) -> Option<Record> {
        let e = self.entries.get(&subject.hash)?;
        self.fresh(e, now_ms).then_some(e.view)
    }

    fn fresh(&self, e: &Entry, now_ms: u64) -> bool {
        now_ms.saturating_sub(e.refreshed_ms) < self.settings.merge_interval_ms
    }

    pub(super) fn update(
        &mut self,
        ledger: &Ledger<'_>,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
        kind: Kind,
    ) -> Result<Updated, LedgerError> {
        if self.settings.merge_interval_ms == 0 {
            return ledger.update_shared(subject, now_ms, hint, decide);
        }
        if self.settings.simulated {
            // The tick of simulated time: what is due by this request's time merges first.
            self.clock_ms = self.clock_ms.max(now_ms);
            self.flush_due(ledger, self.clock_ms);
        }
        let per_read = self.settings.decisions_per_read;
        let usable = |e: &Entry| match kind {
            Kind::Decision => e.decisions < per_read,
            Kind::Correction => !e.exact,
        };
        // A view that is stale or used up is read again (one read, no write) and decided on like a
        // fresh one, unless this worker holds `decisions_per_read` decisions on it not written yet
        // (then the exact path writes them with this one).
        let mut read = None;
        let stale = self.entries.get(&subject.hash).filter(|e| !(self.fresh(e, now_ms) && usable(e)));
        let rereadable = |e: &Entry| match kind {
            Kind::Decision => e.unmerged < per_read,
            Kind::Correction => !e.exact,
        };
        if stale.is_some_and(|e| rereadable(e)) {
            read = self.reread(ledger, subject, now_ms);
        }
        let fresh = self.entries.get(&subject.hash).is_some_and(|e| self.fresh(e, now_ms));
        if let Some(e) = self.entries.get_mut(&subject.hash).filter(|e| fresh && usable(e)) {
            let mut record = e.view;
            record.roll(now_ms);
            // What the change is measured against: the minute window as rolled (rolling moves no
            // profile or last-seen time, so those are compared with the view itself).
            let minute_before = record.windows.first().copied().unwrap_or_default();
            ledger.probing.set(true);
            let answer = decide(&mut record);
            ledger.probing.set(false);
            let applied = match answer {
                Update::Exact => None,
                Update::Skip => Some(false),
                Update::Apply(d) => {
                    record.apply(&d, now_ms);
                    Some(true)
                }
                Update::Write => {
                    record.last_seen_ms = record.last_seen_ms.max(now_ms);
                    Some(true)
                }
            };
            if let Some(applied) = applied {
                if kind == Kind::Decision {
                    e.exact = false;
                    e.decisions += 1;
                    e.unmerged += 1;
                }
                let change = record.change_since_minute(&minute_before);
                let profile_changed = record.profile != e.view.profile;
                if applied && (!change.is_zero() || profile_changed || record.last_seen_ms != e.view.last_seen_ms) {
                    if !change.is_zero() {
                        e.push(now_ms, change);
                    }
                    e.profile_changed |= profile_changed;
                    e.view = record;
                    if e.dirty_since.is_none() {
                        e.dirty_since = Some(now_ms);
                        self.due.push_back((now_ms, subject.hash));
                    }
                }
                let after = if applied {
                    record
                } else {
                    // The view as the decision saw it (the closure may have changed its copy).
                    let mut before = e.view;
                    before.roll(now_ms);
                    before
                };
                let slot = e.slot;
                let full = e.pending.len() >= MAX_PENDING;
                self.stats.local += 1;
                if full {
                    self.merge(ledger, subject.hash, now_ms);
                }
                return Ok(Updated {
                    after,
                    applied,
                    slot,
                    filled_empty_slot: false,
                    tracked: None,
                    evicted: false,
                    retries: 0,
                });
            }
            e.exact = true;
        }
        self.exact(ledger, subject, now_ms, hint, read, decide)
    }

    /// Reads a subject's shared record again for a view that is stale or used up (one read, no
    /// write): the view becomes the record read plus this worker's pending changes (still pending),
    /// and the record's CAS token is kept so that the next merge writes without reading. Returns the
    /// record as read with its token (`None` when the subject's slot now holds another subject or
    /// nothing: the exact path places it again).
    fn reread(&mut self, ledger: &Ledger<'_>, subject: &Subject, now_ms: u64) -> Option<(Record, u32)> {
        let half_life = self.settings.half_life_ms;
        let e = self.entries.get_mut(&subject.hash)?;
        let (record, cas) = ledger.read_slot(subject, e.slot)?;
        let mut view = record;
        view.roll(now_ms);
        if e.dirty() {
            e.merge_into(&mut view, half_life);
        }
        e.view = view;
        e.base = record.profile;
        e.cas = Some(cas);
        e.refreshed_ms = now_ms;
        e.decisions = 0;
        Some((record, cas))
    }

    /// The exact path: `decide` on the shared record, this worker's pending changes merged in the same
    /// write; the view is refreshed with what was written.
    fn exact(
        &mut self,
        ledger: &Ledger<'_>,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        read: Option<(Record, u32)>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        self.stats.exact += 1;
        let half_life = self.settings.half_life_ms;
        let entry = self.entries.get(&subject.hash).filter(|e| e.dirty());
        let hint = self.entries.get(&subject.hash).map(|e| e.slot).or(hint);
        let mut intended = Update::Skip;
        // The record just read (when the view was read again for this update) is not read twice.
        let result = ledger.update_shared_from(subject, now_ms, hint, read, &mut |record| {
            if let Some(e) = entry {
                e.merge_into(record, half_life);
            }
            intended = decide(record);
            match intended {
                // The merged changes are written even when the decision changes nothing.
                Update::Skip if entry.is_some() => Update::Write,
                other => other,
            }
        });
        let merged = entry.is_some();
        match result {
            Ok(mut u) => {
                if merged {
                    self.stats.merges += 1;
                }
                u.applied = u.applied && intended != Update::Skip;
                let exact = self.entries.get(&subject.hash).is_some_and(|e| e.exact);
                self.refresh(ledger, subject, &u, now_ms, exact);
                Ok(u)
            }
            Err(e) => {
                if merged {
                    self.stats.merge_failures += 1;
                }
                Err(e)
            }
        }
    }

    /// Puts what was written (or read) as the subject's view, with nothing pending.
    fn refresh(&mut self, ledger: &Ledger<'_>, subject: &Subject, u: &Updated, now_ms: u64, exact: bool) {
        let entry = Entry {
            subject: subject.clone(),
            view: u.after,
            base: u.after.profile,
            pending: Vec::new(),
            profile_changed: false,
            slot: u.slot,
            refreshed_ms: now_ms,
            dirty_since: None,
            exact,
            decisions: 0,
            unmerged: 0,
            cas: None,
        };
        if let Some(e) = self.entries.get_mut(&subject.hash) {
            **e = entry;
            return;
        }
        while self.entries.len() >= self.settings.capacity.max(1) {
            let Some(oldest) = self.order.pop_front() else { break };
            if self.entries.get(&oldest).is_some_and(|e| e.dirty()) {
                self.merge(ledger, oldest, now_ms);
            }
            if self.entries.remove(&oldest).is_some() {
                self.stats.evictions += 1;
            }
        }
        self.entries.insert(subject.hash, Box::new(entry));
        self.order.push_back(subject.hash);
        // Hashes of subjects that left the view stay in `order` until they reach its front; keep it
        // from growing past a few times the view.
        if self.order.len() > 4 * self.settings.capacity.max(1) {
            let entries = &self.entries;
            self.order.retain(|h| entries.contains_key(h));
        }
    }

    /// Merges one subject's pending changes into shared data (kept pending when that fails).
    fn merge(&mut self, ledger: &Ledger<'_>, hash: u64, now_ms: u64) -> bool {
        let half_life = self.settings.half_life_ms;
        let Some(e) = self.entries.get(&hash).filter(|e| e.dirty()) else { return true };
        let at = e.view.last_seen_ms.max(e.pending.iter().map(|p| p.0).max().unwrap_or(0)).max(1);
        let mut lost_race = 0;
        if let Some(cas) = e.cas {
            // Nobody has written the record since this worker read it, unless the token says so: the
            // view (the record as read plus this worker's changes) is written as it is, unread.
            let mut record = e.view;
            record.roll(at);
            record.last_seen_ms = record.last_seen_ms.max(at);
            match ledger.write_slot(e.slot, &record, cas) {
                Ok(()) => {
                    self.stats.merges += 1;
                    let subject = e.subject.clone();
                    let exact = e.exact;
                    let u = Updated {
                        after: record,
                        applied: true,
                        slot: e.slot,
                        filled_empty_slot: false,
                        tracked: None,
                        evicted: false,
                        retries: 0,
                    };
                    self.refresh(ledger, &subject, &u, now_ms.max(at), exact);
                    return true;
                }
                // Another worker wrote it in between: read it afresh and merge into that.
                Err(StoreError::CasMismatch) => lost_race = 1,
                Err(StoreError::Unavailable) => {}
            }
        }
        let result = match (e.cas, lost_race) {
            (Some(_), 0) => Err(LedgerError::Unavailable),
            _ => ledger.update_shared(&e.subject, at, Some(e.slot), &mut |record| {
                e.merge_into(record, half_life);
                Update::Write
            }),
        };
        match result {
            Ok(u) => {
                self.stats.merges += 1;
                self.stats.cas_retries += u64::from(u.retries) + lost_race;
                let subject = e.subject.clone();
                let exact = e.exact;
                self.refresh(ledger, &subject, &u, now_ms.max(at), exact);
                true
            }
            Err(_) => {
                self.stats.merge_failures += 1;
                if let Some(e) = self.entries.get_mut(&hash) {
                    // Kept for the next tick; folded into one change so it cannot grow.
                    if e.pending.len() > MAX_PENDING {
                        let last = e.pending.iter().map(|p| p.0).max().unwrap_or(now_ms);
                        let mut sum = Delta::default();
                        e.pending.iter().for_each(|(_, d)| sum.add(d));
                        e.pending = vec![(last, sum)];
                    }
                    e.dirty_since = Some(now_ms);
                    // The token is spent (or the write could not be made): the next merge reads.
                    e.cas = None;
                }
                self.due.push_back((now_ms, hash));
                false
            }
        }
    }

    /// The root tick at the host's time: [`LocalLedger::flush_due`]. Under a simulation clock a worker
    /// that had no request since the last tick cannot see simulated time pass (other workers' requests
    /// move it, far faster than the host's clock): it merges everything it holds, as its tick would
    /// once the interval passed. Returns the number of merges attempted.
    pub fn tick(&mut self, ledger: &Ledger<'_>, host_now_ms: u64) -> u64 {
        if !self.settings.simulated {
            return self.flush_due(ledger, host_now_ms);
        }
        let now_ms = self.clock_ms;
        let idle = now_ms == self.ticked_ms;
        self.ticked_ms = now_ms;
        if !idle {
            return self.flush_due(ledger, now_ms);
        }
        let attempted = self.entries.values().filter(|e| e.dirty()).count() as u64;
        if attempted > 0 {
            self.flush_all(ledger, now_ms);
        }
        attempted
    }

    /// The root tick: merges every subject whose oldest pending change is at least the merge interval
    /// old. Returns the number of merges attempted.
    pub fn flush_due(&mut self, ledger: &Ledger<'_>, now_ms: u64) -> u64 {
        let interval = self.settings.merge_interval_ms;
        let mut attempted = 0;
        let mut retry = Vec::new();
        while let Some(&(since, hash)) = self.due.front() {
            if now_ms.saturating_sub(since) < interval {
                break;
            }
            self.due.pop_front();
            let current = self.entries.get(&hash).and_then(|e| e.dirty_since);
            if current != Some(since) {
                continue;
            }
            attempted += 1;
            if !self.merge(ledger, hash, now_ms) {
                // Retried on the next tick, not in this loop.
                if let Some(item) = self.due.pop_back() {
                    retry.push(item);
                }
            }
        }
        self.due.extend(retry);
        attempted
    }

    /// Merges every pending change (before a new policy is installed, when the VM stops). Returns
    /// the number of subjects whose changes could not be merged.
    pub fn flush_all(&mut self, ledger: &Ledger<'_>, now_ms: u64) -> u64 {
        let dirty: Vec<u64> = self.entries.iter().filter(|(_, e)| e.dirty()).map(|(h, _)| *h).collect();
        let mut failed = 0;
        for hash in dirty {
            if !self.merge(ledger, hash, now_ms) {
                failed += 1;
            }
        }
        self.due.retain(|(_, h)| self.entries.get(h).is_some_and(|e| e.dirty()));
        failed
    }
}
