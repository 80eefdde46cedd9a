//! The per-credential ledger: requests and tokens over rolling minute, hour and day windows, shared by
//! every Envoy worker through proxy-wasm shared data.
//!
//! Layout: a fixed table of `ledger.max_credentials` slots (`<prefix>.v1.slot.<n>`), created lazily,
//! so memory is bounded whatever number of credentials arrives. A subject (a credential or a tenant)
//! has two candidate slots picked by its hash. It uses the one that already holds it; otherwise it
//! takes an empty one; otherwise it evicts the candidate with fewer requests in the last hour (ties:
//! the one seen least recently). A flood of one-shot keys therefore mostly evicts other one-shot keys,
//! while steady heavy users keep their history.
//!
//! Budgets count in slices: a window of length L is kept as its last K+1 slices of L/K (minute: 12 of
//! 5 s, hour: 12 of 5 min, day: 24 of 1 h), and a budget counts every slice that overlaps the window
//! ending now. That count includes every request of the last L (and some up to one slice older), so
//! no window of length L ever holds more than a budget allows, and the time until the oldest slices
//! leave is an exact `Retry-After`. Detection and eviction read the coarser fixed buckets: each
//! window's current bucket plus the previous one weighted by how much of it still overlaps.

use std::cell::{Cell, RefCell};

use crate::hash::fnv1a64;
use crate::host::{SharedStore, StoreError};
use crate::policy::{LedgerConfig, Window};
use crate::profile::{Profile, PROFILE_BYTES};

pub mod local;

pub use local::{LocalLedger, LocalSettings, LocalStats};

/// Attempts of a read-modify-write before giving up (each is one or two reads and one write).
pub const MAX_CAS_ATTEMPTS: u32 = 8;
/// The CAS token of a write that creates a key that was read absent: a create-if-absent.
///
/// Envoy's shared data (proxy-wasm-cpp-host `SharedData::set`) creates an absent key whatever the
/// token, and refuses a write whose token (other than 0) differs from an existing key's. Tokens come
/// from one counter for every key of the process (every VM and plugin): 1, 2, ..., `u32::MAX`, then 1
/// again, never 0. So a write with a token the key does not hold cannot overwrite it, and `u32::MAX`
/// is the token the host issues last: never in the process's first 2^32 - 2 shared-data writes, then
/// once every 2^32 - 1. The residual risk: the write overwrites an existing key only when that key's
/// last write took exactly `u32::MAX`; a key this filter reads absent was never created (it never
/// removes one), so that is another worker creating (or at once rewriting) the same slot in the
/// microseconds between this worker's read and its write, with the one write of the counter's cycle
/// that takes `u32::MAX`. The loss would be the other worker's counts in that record (a few requests),
/// as with a blind write, at odds of that coincidence.
pub const CREATE_CAS: u32 = u32::MAX;
const RECORD_VERSION: u8 = 3;
const FIELDS: usize = 5;
const WINDOW_BYTES: usize = 8 + 2 * FIELDS * 8;
/// Slices of each window, in ledger order (minute, hour, day).
const SLICES: [u64; 3] = [12, 12, 24];
/// Slices kept for the budgets of all windows: K+1 a window.
const SLICE_CELLS: usize = 13 + 13 + 25;
const SLICE_BYTES: usize = 8 + SLICE_CELLS * 8;
/// Encoded size of one slot value.
pub const RECORD_BYTES: usize = 1 + 8 + 8 + Window::ALL.len() * WINDOW_BYTES + SLICE_BYTES + PROFILE_BYTES;

/// Slices a window's budget counts are kept in (the window is K slices long).
pub fn slices(w: Window) -> u64 {
    SLICES.get(w.index()).copied().unwrap_or(1)
}

/// Length of one slice of a window, in seconds.
pub fn slice_seconds(w: Window) -> u64 {
    w.seconds() / slices(w)
}

/// One slice's budget counts (saturating: 4 billion requests or tokens in one slice is out of reach).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    /// Requests charged.
    pub requests: u32,
    /// Input + output tokens.
    pub tokens: u32,
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Requests.
    Requests,
    /// Input + output tokens.
    Tokens,
}

impl Slice {
    fn get(&self, q: Quantity) -> u64 {
        u64::from(match q {
            Quantity::Requests => self.requests,
            Quantity::Tokens => self.tokens,
        })
    }
}

/// The budget slices of every window: for each, a ring of its K+1 latest slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSlices {
    /// The latest time the ring was moved to, seconds since the epoch.
    pub clock_s: u64,
    cells: [Slice; SLICE_CELLS],
}

impl Default for BudgetSlices {
    fn default() -> Self {
        Self { clock_s: 0, cells: [Slice::default(); SLICE_CELLS] }
    }
}

impl BudgetSlices {
    /// Where a window's ring starts in `cells`, and its length (K+1).
    fn ring(w: Window) -> (usize, u64) {
        const STARTS: [usize; 3] = [0, SLICES[0] as usize + 1, (SLICES[0] + SLICES[1]) as usize + 2];
        let i = w.index();
        (STARTS.get(i).copied().unwrap_or(0), SLICES.get(i).map(|k| k + 1).unwrap_or(1))
    }

    fn cell(&mut self, w: Window, slice: u64) -> Option<&mut Slice> {
        let (start, len) = Self::ring(w);
        self.cells.get_mut(start + (slice % len) as usize)
    }

    /// Moves every ring forward to `now_s`, emptying the slices that left it. Never backwards.
    pub fn roll(&mut self, now_s: u64) {
        if now_s <= self.clock_s {
            return;
        }
        for w in Window::ALL {
            let g = slice_seconds(w);
            let (old, new) = (self.clock_s / g, now_s / g);
            let (_, len) = Self::ring(w);
            for k in 0..(new - old).min(len) {
                if let Some(c) = self.cell(w, new - k) {
                    *c = Slice::default();
                }
            }
        }
        self.clock_s = now_s;
    }

    /// Adds a change made at `at_s` to the slice of that time, in every window where that slice is
    /// still kept (an older one is out of every window, so there is nothing left to correct).
    pub fn add(&mut self, delta: &Delta, at_s: u64) {
        self.roll(at_s);
        let tokens = delta.input.saturating_add(delta.output);
        for w in Window::ALL {
            let g = slice_seconds(w);
            let (slice, newest) = (at_s / g, self.clock_s / g);
            if slice + slices(w) < newest {
                continue;
            }
            if let Some(c) = self.cell(w, slice) {
                c.requests = add_u32(c.requests, delta.requests);
                c.tokens = add_u32(c.tokens, tokens);
            }
        }
    }

    /// The slices of a window from the oldest kept to the newest.
    fn oldest_first(&self, w: Window) -> impl Iterator<Item = (u64, Slice)> + '_ {
        let (start, len) = Self::ring(w);
        let newest = self.clock_s / slice_seconds(w);
        (0..len).rev().filter_map(move |back| {
            let slice = newest.checked_sub(back)?;
            let cell = self.cells.get(start + (slice % len) as usize)?;
            Some((slice, *cell))
        })
    }

    /// What a budget on this window counts now (after [`BudgetSlices::roll`]): every slice that
    /// overlaps the window, so at least everything of the last window length.
    pub fn count(&self, w: Window, q: Quantity) -> u64 {
        // Every cell of the ring holds a kept slice or nothing: `roll` empties the cells of slices
        // that left, and `add` never writes a slice older than the ring. So the count is the sum of
        // the ring's cells, in any order (the slice-by-slice walk, `oldest_first`, is the reference:
        // tests/core/ledger.rs compares the two on random sequences).
        let (start, len) = Self::ring(w);
        let cells = self.cells.get(start..start + len as usize).unwrap_or(&[]);
        match q {
            Quantity::Requests => cells.iter().map(|c| u64::from(c.requests)).sum(),
            Quantity::Tokens => cells.iter().map(|c| u64::from(c.tokens)).sum(),
        }
    }

    /// [`BudgetSlices::count`] slice by slice, oldest first (the reference it is tested against).
    pub fn count_by_slice(&self, w: Window, q: Quantity) -> u64 {
        self.oldest_first(w).map(|(_, c)| c.get(q)).sum()
    }

    /// Seconds from `now_ms` until `need` more fits under `limit` if nothing else is charged: when
    /// enough of the oldest slices have left the window. At least 1; a whole window when `need`
    /// exceeds `limit`.
    pub fn seconds_until_room(&self, w: Window, q: Quantity, now_ms: u64, need: u64, limit: u64) -> u64 {
        if need > limit {
            return w.seconds();
        }
        let g = slice_seconds(w);
        let mut counted = self.count(w, q);
        let mut free_at_s = 0;
        for (slice, c) in self.oldest_first(w) {
            if counted.saturating_add(need) <= limit {
                break;
            }
            counted = counted.saturating_sub(c.get(q));
            // Slice `i` overlaps the windows ending before (i + 1) g + L.
            free_at_s = (slice + 1) * g + w.seconds();
        }
        let wait_ms = (free_at_s * 1000).saturating_sub(now_ms);
        wait_ms.div_ceil(1000).max(1)
    }
}

fn add_u32(v: u32, d: i64) -> u32 {
    let d32 = u32::try_from(d.unsigned_abs()).unwrap_or(u32::MAX);
    if d >= 0 {
        v.saturating_add(d32)
    } else {
        v.saturating_sub(d32)
    }
}

/// Counts in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests.
    pub requests: u64,
    /// Input tokens (cached included).
    pub input: u64,
    /// Output tokens (reasoning included).
    pub output: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
    /// Cached input tokens.
    pub cached: u64,
}

impl Counters {
    /// Input plus output: what token budgets count.
    pub fn tokens(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    fn fields(&self) -> [u64; FIELDS] {
        [self.requests, self.input, self.output, self.reasoning, self.cached]
    }

    fn from_fields(f: [u64; FIELDS]) -> Self {
        let [requests, input, output, reasoning, cached] = f;
        Self { requests, input, output, reasoning, cached }
    }

    /// The signed change from `earlier` to `self`.
    fn minus(&self, earlier: &Counters) -> Delta {
        let d = |a: u64, b: u64| (a as i64).wrapping_sub(b as i64);
        Delta {
            requests: d(self.requests, earlier.requests),
            input: d(self.input, earlier.input),
            output: d(self.output, earlier.output),
            reasoning: d(self.reasoning, earlier.reasoning),
            cached: d(self.cached, earlier.cached),
        }
    }

    fn apply(&mut self, d: &Delta) {
        let add = |v: u64, d: i64| {
            if d >= 0 {
                v.saturating_add(d.unsigned_abs())
            } else {
                v.saturating_sub(d.unsigned_abs())
            }
        };
        self.requests = add(self.requests, d.requests);
        self.input = add(self.input, d.input);
        self.output = add(self.output, d.output);
        self.reasoning = add(self.reasoning, d.reasoning);
        self.cached = add(self.cached, d.cached);
    }
}

/// A signed change to a subject's counters (settlement replaces an estimate with the real figure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    /// Requests.
    pub requests: i64,
    /// Input tokens.
    pub input: i64,
    /// Output tokens.
    pub output: i64,
    /// Reasoning tokens.
    pub reasoning: i64,
    /// Cached input tokens.
    pub cached: i64,
}

impl Delta {
    /// True when it changes nothing.
    pub fn is_zero(&self) -> bool {
        *self == Delta::default()
    }

    /// Adds another change to this one.
    pub fn add(&mut self, o: &Delta) {
        self.requests = self.requests.saturating_add(o.requests);
        self.input = self.input.saturating_add(o.input);
        self.output = self.output.saturating_add(o.output);
        self.reasoning = self.reasoning.saturating_add(o.reasoning);
        self.cached = self.cached.saturating_add(o.cached);
    }
}

/// One window: the current bucket and the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Start of the current bucket, seconds since the epoch.
    pub bucket_start: u64,
    /// Current bucket.
    pub current: Counters,
    /// Previous bucket.
    pub previous: Counters,
}

/// Sliding-window estimate of a window's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WindowEstimate {
    /// Requests.
    pub requests: f64,
    /// Input + output tokens.
    pub tokens: f64,
}

/// What is stored for one subject.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Record {
    /// Hash of the subject key (identifies the occupant of a slot).
    pub subject: u64,
    /// Last update, milliseconds since the epoch.
    pub last_seen_ms: u64,
    /// Minute, hour, day.
    pub windows: [WindowCounts; 3],
    /// The budgets' slices of each window.
    pub budget: BudgetSlices,
    /// Behaviour for the detectors.
    pub profile: Profile,
}

impl Record {
    fn fresh(subject: u64) -> Self {
        Self { subject, ..Self::default() }
    }

    /// Moves each window's buckets forward to `now_ms`.
    pub fn roll(&mut self, now_ms: u64) {
        let now_s = now_ms / 1000;
        for (w, counts) in Window::ALL.iter().zip(self.windows.iter_mut()) {
            let len = w.seconds();
            let bucket = now_s - now_s % len;
            if counts.bucket_start >= bucket {
                continue;
            }
            counts.previous = if counts.bucket_start + len == bucket { counts.current } else { Counters::default() };
            counts.current = Counters::default();
            counts.bucket_start = bucket;
        }
        self.budget.roll(now_s);
    }

    /// Adds a delta to every window's current bucket, and to the budget slice of `now_ms`.
    pub fn apply(&mut self, delta: &Delta, now_ms: u64) {
        for counts in self.windows.iter_mut() {
            counts.current.apply(delta);
        }
        self.budget.add(delta, now_ms / 1000);
        self.last_seen_ms = self.last_seen_ms.max(now_ms);
    }

    /// Adds a change made at `at_ms` to the bucket of every window that held that time (the current
    /// or the previous one; an older change is out of every window), and to the budget slice of that
    /// time. Merging a worker's aggregated changes later than they were made uses this.
    pub fn apply_at(&mut self, delta: &Delta, at_ms: u64) {
        let at_s = at_ms / 1000;
        for (w, counts) in Window::ALL.iter().zip(self.windows.iter_mut()) {
            let len = w.seconds();
            let bucket = at_s - at_s % len;
            if bucket == counts.bucket_start {
                counts.current.apply(delta);
            } else if bucket + len == counts.bucket_start {
                counts.previous.apply(delta);
            } else if bucket > counts.bucket_start {
                // The record was never rolled to this time: it is its current bucket now.
                counts.previous =
                    if counts.bucket_start + len == bucket { counts.current } else { Counters::default() };
                counts.current = Counters::default();
                counts.bucket_start = bucket;
                counts.current.apply(delta);
            }
        }
        self.budget.add(delta, at_s);
        self.last_seen_ms = self.last_seen_ms.max(at_ms);
    }

    /// The counters' change from `earlier` to this record, both rolled to the same time (what a
    /// decision charged: every window's current bucket moves alike).
    pub fn change_since(&self, earlier: &Record) -> Delta {
        match earlier.windows.first() {
            Some(then) => self.change_since_minute(then),
            None => Delta::default(),
        }
    }

    /// [`Record::change_since`] from the earlier record's minute window only (all it reads).
    pub fn change_since_minute(&self, then: &WindowCounts) -> Delta {
        match self.windows.first() {
            Some(now) if now.bucket_start == then.bucket_start => now.current.minus(&then.current),
            _ => Delta::default(),
        }
    }

    /// What a budget on window `w` counts now (after [`Record::roll`]).
    pub fn budget_count(&self, w: Window, q: Quantity) -> u64 {
        self.budget.count(w, q)
    }

    /// The window's counts at `now_ms` (call [`Record::roll`] first).
    pub fn window(&self, w: Window) -> WindowCounts {
        self.windows.get(w.index()).copied().unwrap_or_default()
    }

    /// Sliding estimate over the window ending at `now_ms` (after [`Record::roll`]).
    pub fn estimate(&self, w: Window, now_ms: u64) -> WindowEstimate {
        let c = self.window(w);
        let weight = previous_weight(w, c.bucket_start, now_ms);
        WindowEstimate {
            requests: c.current.requests as f64 + c.previous.requests as f64 * weight,
            tokens: c.current.tokens() as f64 + c.previous.tokens() as f64 * weight,
        }
    }

    /// Encodes to the fixed binary layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECORD_BYTES);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.subject.to_le_bytes());
        out.extend_from_slice(&self.last_seen_ms.to_le_bytes());
        for w in &self.windows {
            out.extend_from_slice(&w.bucket_start.to_le_bytes());
            for v in w.current.fields().iter().chain(w.previous.fields().iter()) {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.budget.clock_s.to_le_bytes());
        for c in &self.budget.cells {
            out.extend_from_slice(&c.requests.to_le_bytes());
            out.extend_from_slice(&c.tokens.to_le_bytes());
        }
        self.profile.encode(&mut out);
        out
    }

    /// Decodes; `None` for anything that is not a record of this version.
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() != RECORD_BYTES || bytes.first() != Some(&RECORD_VERSION) {
            return None;
        }
        let split = RECORD_BYTES - PROFILE_BYTES;
        let profile = Profile::decode(bytes.get(split..)?)?;
        let slices_at = split - SLICE_BYTES;
        let mut budget = BudgetSlices::default();
        let mut halves = bytes.get(slices_at..split)?.chunks_exact(4).map(|c| {
            let mut b = [0u8; 4];
            b.copy_from_slice(c);
            u32::from_le_bytes(b)
        });
        budget.clock_s = u64::from(halves.next()?) | (u64::from(halves.next()?) << 32);
        for c in budget.cells.iter_mut() {
            c.requests = halves.next()?;
            c.tokens = halves.next()?;
        }
        let mut words = bytes.get(1..slices_at)?.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        });
        let subject = words.next()?;
        let last_seen_ms = words.next()?;
        let mut windows = [WindowCounts::default(); 3];
        for w in windows.iter_mut() {
            w.bucket_start = words.next()?;
            let mut cur = [0u64; FIELDS];
            for v in cur.iter_mut() {
                *v = words.next()?;
            }
            let mut prev = [0u64; FIELDS];
            for v in prev.iter_mut() {
                *v = words.next()?;
            }
            w.current = Counters::from_fields(cur);
            w.previous = Counters::from_fields(prev);
        }
        Some(Record { subject, last_seen_ms, windows, budget, profile })
    }
}

/// Weight of the previous bucket at `now_ms`: 1 at the bucket boundary, 0 a whole window later.
pub fn previous_weight(w: Window, bucket_start: u64, now_ms: u64) -> f64 {
    let len_ms = w.seconds() * 1000;
    let elapsed = now_ms.saturating_sub(bucket_start * 1000).min(len_ms);
    1.0 - elapsed as f64 / len_ms as f64
}

/// A ledger subject: a credential (`c:<id>`) or a tenant (`t:<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Stable text key.
    pub key: String,
    hash: u64,
}

impl Subject {
    /// A credential by its hashed id.
    pub fn credential(id: &str) -> Self {
        Self::from_key(["c:", id].concat())
    }

    /// A tenant by name.
    pub fn tenant(name: &str) -> Self {
        Self::from_key(["t:", name].concat())
    }

    fn from_key(key: String) -> Self {
        // Never 0: 0 marks an empty record.
        let hash = fnv1a64(key.as_bytes()).max(1);
        Self { key, hash }
    }

    /// The two candidate slots in a table of `slots`.
    pub fn candidates(&self, slots: u64) -> [u64; 2] {
        let a = self.hash % slots;
        let mut b = (self.hash.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15) % slots;
        if b == a && slots > 1 {
            b = (a + 1) % slots;
        }
        [a, b]
    }
}

/// Why a ledger update did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerError {
    /// Every attempt lost a CAS race.
    Contention,
    /// The store refused a write.
    Unavailable,
}

/// What an update decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Apply this change to the counters.
    Apply(Delta),
    /// Write the record as the closure modified it.
    Write,
    /// Change nothing.
    Skip,
    /// Only while [`Ledger::is_probing`]: the record is too close to a limit to decide on this
    /// worker's view; decide again on the shared record, under compare-and-swap. (Otherwise the same
    /// as `Write`.)
    Exact,
}

/// The outcome of an update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Updated {
    /// The record as written (as the decision saw it, rolled to now, when nothing was).
    pub after: Record,
    /// Whether the delta was written.
    pub applied: bool,
    /// The slot the subject lives in (a hint for the next update).
    pub slot: u64,
    /// True when this update put the subject in a slot that was empty.
    pub filled_empty_slot: bool,
    /// The count of filled slots after this update filled one (saves reading it back).
    pub tracked: Option<u64>,
    /// True when this update evicted another subject.
    pub evicted: bool,
    /// CAS retries that were needed.
    pub retries: u32,
}

/// The ledger over a shared store, optionally through this worker's [`LocalLedger`].
pub struct Ledger<'a> {
    cfg: &'a LedgerConfig,
    store: &'a dyn SharedStore,
    local: Option<&'a RefCell<LocalLedger>>,
    probing: Cell<bool>,
}

impl<'a> Ledger<'a> {
    /// A ledger with the policy's settings over a store: every update is a compare-and-swap of the
    /// shared record.
    pub fn new(cfg: &'a LedgerConfig, store: &'a dyn SharedStore) -> Self {
        Self { cfg, store, local: None, probing: Cell::new(false) }
    }

    /// The same ledger deciding on this worker's view of each subject while it is far from every
    /// limit, its changes merged into shared data later (see [`local`]).
    pub fn with_local(mut self, local: Option<&'a RefCell<LocalLedger>>) -> Self {
        self.local = local;
        self
    }

    /// The policy's ledger settings.
    pub fn config(&self) -> &'a LedgerConfig {
        self.cfg
    }

    /// True while an [`Ledger::update`] closure runs on this worker's view of the record (not the
    /// shared one): it answers [`Update::Exact`] when the decision needs the shared record.
    pub fn is_probing(&self) -> bool {
        self.probing.get()
    }

    /// The store under the ledger (other shared tables live beside it).
    pub fn store(&self) -> &'a dyn SharedStore {
        self.store
    }

    /// Shared-data key of a slot.
    pub fn slot_key(&self, slot: u64) -> String {
        numbered_key(&self.cfg.key_prefix, ".v1.slot.", slot)
    }

    /// Shared-data key of the count of filled slots.
    pub fn tracked_key(&self) -> String {
        format!("{}.v1.tracked", self.cfg.key_prefix)
    }

    /// Number of slots ever filled (bounded by `max_credentials`).
    pub fn tracked(&self) -> u64 {
        self.store
            .get(&self.tracked_key())
            .and_then(|(v, _)| v.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes))
            .unwrap_or(0)
    }

    /// Counts one more filled slot; returns the new count (`None` when every attempt lost its race).
    fn bump_tracked(&self) -> Option<u64> {
        let key = self.tracked_key();
        for _ in 0..MAX_CAS_ATTEMPTS {
            let (current, cas) = match self.store.get(&key) {
                Some((v, cas)) => {
                    (v.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes).unwrap_or(0), Some(cas))
                }
                // Absent: created only if still absent, like a slot (see `CREATE_CAS`).
                None => (0, Some(CREATE_CAS)),
            };
            let next = (current + 1).min(self.cfg.max_credentials);
            if self.store.set(&key, &next.to_le_bytes(), cas).is_ok() {
                return Some(next);
            }
        }
        None
    }

    /// Reads a subject's record (rolled to `now_ms`) without changing anything: this worker's view
    /// when it holds a fresh one, else the shared record.
    pub fn read(&self, subject: &Subject, now_ms: u64) -> Record {
        if let Some(mut view) = self.local.and_then(|l| l.try_borrow().ok()).and_then(|l| l.view(subject, now_ms)) {
            view.roll(now_ms);
            return view;
        }
        self.read_shared(subject, now_ms)
    }

    /// Reads a subject's shared record (rolled to `now_ms`).
    pub fn read_shared(&self, subject: &Subject, now_ms: u64) -> Record {
        let mut record = subject
            .candidates(self.cfg.max_credentials)
            .iter()
            .filter_map(|slot| self.store.get(&self.slot_key(*slot)))
            .filter_map(|(v, _)| Record::decode(&v))
            .find(|r| r.subject == subject.hash)
            .unwrap_or_else(|| Record::fresh(subject.hash));
        record.roll(now_ms);
        record
    }

    /// A decision's update of a subject's record. With a [`LocalLedger`], `decide` first runs on this
    /// worker's view ([`Ledger::is_probing`] true); its change is kept there and merged later, unless
    /// it answers [`Update::Exact`] (near a limit), the view is stale or missing: then, as without
    /// one, a read-modify-write of the shared record under compare-and-swap (this worker's pending
    /// changes merged in the same write). `hint` is the slot the subject was in last time.
    pub fn update(
        &self,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        self.update_as(local::Kind::Decision, subject, now_ms, hint, decide)
    }

    /// A correction of a subject's counters (settlement, refund): on this worker's view while the
    /// subject's last decision was far from every limit, else on the shared record like
    /// [`Ledger::update`].
    pub fn change(
        &self,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        self.update_as(local::Kind::Correction, subject, now_ms, hint, decide)
    }

    /// [`Ledger::update`] and [`Ledger::change`]: through this worker's view when it has one.
    fn update_as(
        &self,
        kind: local::Kind,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        match self.local.and_then(|l| l.try_borrow_mut().ok()) {
            Some(mut local) => local.update(self, subject, now_ms, hint, decide, kind),
            None => self.update_shared(subject, now_ms, hint, decide),
        }
    }

    /// Read-modify-write of a subject's shared record with bounded CAS retries. `decide` sees the
    /// current record (rolled to now) and may be called again after a lost race. `hint` is the slot
    /// the subject was in last time (saves a read).
    pub fn update_shared(
        &self,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        self.update_shared_from(subject, now_ms, hint, None, decide)
    }

    /// [`Ledger::update_shared`] whose first attempt uses a record just read from `hint`'s slot
    /// (`(record as stored, its CAS token)`, from [`Ledger::read_slot`]) instead of reading it again;
    /// a lost race reads afresh.
    pub(crate) fn update_shared_from(
        &self,
        subject: &Subject,
        now_ms: u64,
        hint: Option<u64>,
        read: Option<(Record, u32)>,
        decide: &mut dyn FnMut(&mut Record) -> Update,
    ) -> Result<Updated, LedgerError> {
        let mut hint = hint.filter(|h| *h < self.cfg.max_credentials);
        let mut read = read.zip(hint).map(|((record, cas), slot)| Placement {
            slot,
            record,
            cas: Some(cas),
            empty: false,
            evicting: false,
        });
        // `attempt` counts lost races (CAS mismatches).
        let mut attempt = 0;
        while attempt < MAX_CAS_ATTEMPTS {
            let placement = match read.take() {
                Some(p) => p,
                None => match hint.take() {
                    // The hinted slot, read once: when it holds someone else now, that read serves
                    // the placement too (the slot is one of the subject's two candidates).
                    Some(slot) => {
                        let got = self.store.get(&self.slot_key(slot));
                        match Self::holding(subject, slot, &got) {
                            Some(p) => p,
                            None => self.placement_read(subject, now_ms, Some((slot, got))),
                        }
                    }
                    None => self.placement(subject, now_ms),
                },
            };
            let mut record = placement.record;
            record.roll(now_ms);
            match decide(&mut record) {
                Update::Skip => {
                    // The record as read (the closure may have changed its copy).
                    let mut after = placement.record;
                    after.roll(now_ms);
                    return Ok(Updated {
                        after,
                        applied: false,
                        slot: placement.slot,
                        filled_empty_slot: false,
                        tracked: None,
                        evicted: false,
                        retries: attempt,
                    });
                }
                Update::Apply(d) => record.apply(&d, now_ms),
                Update::Write | Update::Exact => record.last_seen_ms = record.last_seen_ms.max(now_ms),
            }
            // A slot read absent is created with [`CREATE_CAS`]: when another worker created it since
            // (a blind write would erase that worker's counts), the write fails like any lost race
            // and the next attempt reads what that worker wrote.
            let cas = placement.cas.unwrap_or(CREATE_CAS);
            match self.store.set(&self.slot_key(placement.slot), &record.encode(), Some(cas)) {
                Ok(()) => {
                    let tracked = if placement.empty { self.bump_tracked() } else { None };
                    return Ok(Updated {
                        after: record,
                        applied: true,
                        slot: placement.slot,
                        filled_empty_slot: placement.empty,
                        tracked,
                        evicted: placement.evicting,
                        retries: attempt,
                    });
                }
                Err(StoreError::CasMismatch) => attempt += 1,
                Err(StoreError::Unavailable) => return Err(LedgerError::Unavailable),
            }
        }
        Err(LedgerError::Contention)
    }

    /// One read of the slot a subject was in: its record as stored and the CAS token, or `None`
    /// when the slot now holds another subject or nothing.
    pub(crate) fn read_slot(&self, subject: &Subject, slot: u64) -> Option<(Record, u32)> {
        if slot >= self.cfg.max_credentials {
            return None;
        }
        let p = self.placement_from_hint(subject, slot)?;
        Some((p.record, p.cas?))
    }

    /// Writes a subject's record to its slot if the slot's CAS token is still `cas` (one write).
    pub(crate) fn write_slot(&self, slot: u64, record: &Record, cas: u32) -> Result<(), StoreError> {
        self.store.set(&self.slot_key(slot), &record.encode(), Some(cas))
    }

    /// The placement when a slot's value (as read) holds the subject.
    fn holding(subject: &Subject, slot: u64, got: &SlotValue) -> Option<Placement> {
        let (bytes, cas) = got.as_ref()?;
        let record = Record::decode(bytes).filter(|r| r.subject == subject.hash)?;
        Some(Placement { slot, record, cas: Some(*cas), empty: false, evicting: false })
    }

    fn placement_from_hint(&self, subject: &Subject, slot: u64) -> Option<Placement> {
        let (bytes, cas) = self.store.get(&self.slot_key(slot))?;
        let record = Record::decode(&bytes).filter(|r| r.subject == subject.hash)?;
        Some(Placement { slot, record, cas: Some(cas), empty: false, evicting: false })
    }

    fn placement(&self, subject: &Subject, now_ms: u64) -> Placement {
        self.placement_read(subject, now_ms, None)
    }

    /// [`Ledger::placement`] with one slot's value already read (`known`): not read again.
    fn placement_read(&self, subject: &Subject, now_ms: u64, known: Option<(u64, SlotValue)>) -> Placement {
        let [a, b] = subject.candidates(self.cfg.max_credentials);
        let mut known = known;
        let mut get = |slot: u64| match known.take_if(|(k, _)| *k == slot) {
            Some((_, got)) => got,
            None => self.store.get(&self.slot_key(slot)),
        };
        let mut read = |slot: u64| -> Placement {
            match get(slot) {
                Some((bytes, cas)) => match Record::decode(&bytes) {
                    // An empty record (earlier modules claimed an absent slot with one first).
                    Some(r) if r.subject == 0 => {
                        Placement { slot, record: Record::default(), cas: Some(cas), empty: true, evicting: false }
                    }
                    Some(r) => Placement { slot, record: r, cas: Some(cas), empty: false, evicting: true },
                    // Unreadable (another version): treat as free, but guarded by its CAS.
                    None => Placement { slot, record: Record::default(), cas: Some(cas), empty: false, evicting: true },
                },
                None => Placement { slot, record: Record::default(), cas: None, empty: true, evicting: false },
            }
        };
        let first = read(a);
        if first.record.subject == subject.hash && !first.empty {
            return Placement { evicting: false, ..first };
        }
        let second = if b == a { None } else { Some(read(b)) };
        if let Some(s) = second {
            if s.record.subject == subject.hash && !s.empty {
                return Placement { evicting: false, ..s };
            }
        }
        let victim = match second {
            None => first,
            Some(s) => {
                if first.empty {
                    first
                } else if s.empty {
                    s
                } else if eviction_rank(&first.record, now_ms) <= eviction_rank(&s.record, now_ms) {
                    first
                } else {
                    s
                }
            }
        };
        Placement { record: Record::fresh(subject.hash), ..victim }
    }
}

/// `<prefix><middle><n>`: a shared-data key, built without the formatting machinery (it is made
/// several times per request).
pub fn numbered_key(prefix: &str, middle: &str, n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    let digits = std::str::from_utf8(digits.get(at..).unwrap_or(&[])).unwrap_or("0");
    let mut key = String::with_capacity(prefix.len() + middle.len() + digits.len());
    key.push_str(prefix);
    key.push_str(middle);
    key.push_str(digits);
    key
}

/// Lower ranks are evicted first: (requests in the last hour, last seen).
fn eviction_rank(r: &Record, now_ms: u64) -> (u64, u64) {
    let mut rolled = *r;
    rolled.roll(now_ms);
    (rolled.estimate(Window::Hour, now_ms).requests as u64, r.last_seen_ms)
}

/// A slot's value as one read returns it (bytes and CAS token, or nothing).
type SlotValue = Option<(Vec<u8>, u32)>;

#[derive(Debug, Clone, Copy)]
struct Placement {
    slot: u64,
    record: Record,
    /// The slot's token as read; `None` when the slot was absent (written with [`CREATE_CAS`]).
    cas: Option<u32>,
    empty: bool,
    evicting: bool,
}
