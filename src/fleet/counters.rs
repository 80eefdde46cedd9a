//! Fleet-wide detection counters kept in a rate limit service (domain `distill_guard_fleet`, configured by
//! envoy/fleet/ratelimit_config.py), so a key farm spread over replicas is seen whole.
//!
//! Three kinds of descriptor, all in one `ShouldRateLimit` call per flush:
//!
//! - **volume**: `(volume, <credential>)`, charged with the requests a replica saw since its last flush;
//!   counted in the service's clock hour under a limit no one reaches ([`COUNTER_LIMIT`]), so the answer's
//!   `limit_remaining` tells the fleet-wide count: `COUNTER_LIMIT - limit_remaining`.
//! - **mark**: `(template, <fingerprint>@<window>), (credential | prompt, <id>)` with a limit of 1: the
//!   first hit in the fleet is answered `OK`, every later one `OVER_LIMIT`. A replica that gets `OK` was
//!   first to see that credential (or prompt) use that template in this window, so it owes one increment
//!   to the template's counter. Each member is counted once fleet-wide: exact, where per-replica sketches
//!   would each see a slice.
//! - **count**: `(template_credentials | template_prompts, <fingerprint>@<window>)`, charged with the
//!   increments owed (0 = read only); its answer is the fleet-wide number of distinct credentials (prompts)
//!   that used the template in the window.
//!
//! The campaign window is the policy's (`detection.campaign.window_minutes`), numbered from the Unix epoch
//! and carried in the descriptor values, so every replica agrees on it; the service's own unit (a day)
//! only bounds how long Redis keeps the keys, which is why the window must divide a day.
//!
//! Everything here is pure: the adapter records [`Deltas`] per request, flushes a [`Batch`] from the root
//! context on a tick, and feeds the answer (or the failure) back into [`FleetCounters`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::wire::{
    decode_request, decode_response, encode_request, Code, Descriptor, Entry, RateLimitRequest, RateLimitResponse,
    WireError,
};

/// The rate limit domain of the detection counters.
pub const DOMAIN: &str = "distill_guard_fleet";
/// The limit of counting descriptors: high enough never to be reached in a window.
pub const COUNTER_LIMIT: u32 = 1_000_000_000;
const MINUTES_PER_DAY: u64 = 1440;
const MS_PER_MINUTE: u64 = 60_000;
const MS_PER_HOUR: u64 = 3_600_000;

/// What a template counts: distinct credentials or distinct prompts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Member {
    Credential,
    Prompt,
}

impl Member {
    /// The second entry's key of a mark descriptor.
    pub fn mark_key(self) -> &'static str {
        match self {
            Member::Credential => "credential",
            Member::Prompt => "prompt",
        }
    }

    /// The key of the template's counting descriptor.
    pub fn count_key(self) -> &'static str {
        match self {
            Member::Credential => "template_credentials",
            Member::Prompt => "template_prompts",
        }
    }
}

/// Why fleet counters could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetError {
    /// The campaign window cannot be shared through the service.
    Window { minutes: u64 },
    /// The answer could not be decoded.
    Wire(WireError),
    /// The answer has another number of statuses than the batch had descriptors.
    StatusCount { sent: usize, got: usize },
    /// The service answered `UNKNOWN` (or an unknown code) for a descriptor.
    Status { index: usize },
    /// The service has no limit (or not the scheme's) for a descriptor: its config lacks the domain.
    NotConfigured { index: usize },
    /// Deltas handed over between VMs could not be read.
    Deltas { reason: &'static str },
}

impl fmt::Display for FleetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetError::Window { minutes } => {
                write!(f, "campaign window of {minutes} minutes: fleet counters need a window that divides a day")
            }
            FleetError::Wire(e) => write!(f, "rate limit answer: {e}"),
            FleetError::StatusCount { sent, got } => {
                write!(f, "rate limit answer has {got} statuses for {sent} descriptors")
            }
            FleetError::Status { index } => write!(f, "rate limit answer: descriptor {index} has no usable code"),
            FleetError::NotConfigured { index } => write!(
                f,
                "rate limit answer: descriptor {index} has no limit of the fleet scheme (is the {DOMAIN} config loaded?)"
            ),
            FleetError::Deltas { reason } => write!(f, "fleet deltas: {reason}"),
        }
    }
}

impl From<WireError> for FleetError {
    fn from(e: WireError) -> Self {
        FleetError::Wire(e)
    }
}

/// The campaign counting window, numbered from the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignWindow {
    minutes: u64,
}

impl CampaignWindow {
    /// A window of `minutes` (1..=1440, dividing 1440 so windows never straddle the service's day).
    pub fn new(minutes: u64) -> Result<Self, FleetError> {
        if minutes == 0 || minutes > MINUTES_PER_DAY || MINUTES_PER_DAY % minutes != 0 {
            return Err(FleetError::Window { minutes });
        }
        Ok(CampaignWindow { minutes })
    }

    pub fn minutes(self) -> u64 {
        self.minutes
    }

    /// The number of the window holding `now_ms` (Unix milliseconds).
    pub fn index(self, now_ms: u64) -> u64 {
        now_ms / (self.minutes * MS_PER_MINUTE)
    }
}

fn hour_index(now_ms: u64) -> u64 {
    now_ms / MS_PER_HOUR
}

fn template_value(template: &str, window: u64) -> String {
    format!("{template}@{window}")
}

/// What one replica saw since its last flush. Bounded: past `max_entries` distinct entries, new ones are
/// refused (and counted by the caller), so memory holds whatever the traffic between two ticks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deltas {
    /// Requests per credential id.
    pub requests: BTreeMap<String, u64>,
    /// `(member kind, template fingerprint, member id)` seen.
    pub members: BTreeSet<(Member, String, String)>,
}

impl Deltas {
    /// Records one request; returns false if something was dropped because `max_entries` was reached.
    /// Ids and fingerprints go into descriptor values and the service's Redis keys as they are: pass
    /// hashes (hex), never a raw key or prompt text.
    pub fn record(
        &mut self,
        credential: &str,
        template: Option<&str>,
        prompt: Option<&str>,
        max_entries: usize,
    ) -> bool {
        let mut kept = true;
        if let Some(n) = self.requests.get_mut(credential) {
            *n += 1;
        } else if self.len() < max_entries {
            self.requests.insert(credential.to_string(), 1);
        } else {
            kept = false;
        }
        self.record_members(credential, template, prompt, max_entries) && kept
    }

    /// Records only that `credential` (and `prompt`) used `template`, not a request: for a second
    /// fingerprint of the same request (its system prompt). Returns false if something was dropped.
    pub fn record_members(
        &mut self,
        credential: &str,
        template: Option<&str>,
        prompt: Option<&str>,
        max_entries: usize,
    ) -> bool {
        let mut kept = true;
        if let Some(t) = template {
            for (member, id) in [(Member::Credential, Some(credential)), (Member::Prompt, prompt)] {
                let Some(id) = id else { continue };
                let key = (member, t.to_string(), id.to_string());
                if self.members.contains(&key) {
                    continue;
                }
                if self.len() < max_entries {
                    self.members.insert(key);
                } else {
                    kept = false;
                }
            }
        }
        kept
    }

    /// Adds another replica's (or worker's) deltas.
    pub fn merge(&mut self, other: Deltas) {
        for (c, n) in other.requests {
            *self.requests.entry(c).or_insert(0) += n;
        }
        self.members.extend(other.members);
    }

    /// Distinct entries held.
    pub fn len(&self) -> usize {
        self.requests.len() + self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.members.is_empty()
    }

    /// Bytes to hand the deltas to another VM (a shared queue or shared data): the descriptors of a
    /// `RateLimitRequest` in the domain `distill_guard.deltas.v1`, so one codec serves both.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut descriptors: Vec<Descriptor> =
            self.requests.iter().map(|(c, n)| Descriptor::new(&[("volume", c)], *n)).collect();
        descriptors
            .extend(self.members.iter().map(|(m, t, id)| Descriptor::new(&[("template", t), (m.mark_key(), id)], 1)));
        encode_request(&RateLimitRequest { domain: DELTAS_FORMAT.to_string(), descriptors })
    }

    /// Reads deltas written by [`Deltas::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Deltas, FleetError> {
        let req = decode_request(bytes)?;
        if req.domain != DELTAS_FORMAT {
            return Err(FleetError::Deltas { reason: "not a deltas record of this version" });
        }
        let mut out = Deltas::default();
        for d in req.descriptors {
            match d.entries.as_slice() {
                [Entry { key, value }] if key == "volume" => {
                    *out.requests.entry(value.clone()).or_insert(0) += d.hits_addend.unwrap_or(0);
                }
                [Entry { key: tk, value: template }, Entry { key: mk, value: id }] if tk == "template" => {
                    let member = match mk.as_str() {
                        "credential" => Member::Credential,
                        "prompt" => Member::Prompt,
                        _ => return Err(FleetError::Deltas { reason: "unknown member kind" }),
                    };
                    out.members.insert((member, template.clone(), id.clone()));
                }
                _ => return Err(FleetError::Deltas { reason: "unknown descriptor shape" }),
            }
        }
        Ok(out)
    }
}

const DELTAS_FORMAT: &str = "distill_guard.deltas.v1";

/// Who flushes: a lease in shared data (`holder` = a token unique to a VM, `expires_ms`), so one VM of
/// the replica calls out per tick when that is wanted. Written with compare-and-swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub holder: u64,
    pub expires_ms: u64,
}

/// What a VM does with the flusher lease on its tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// This VM holds a lease with time left: flush.
    Flush,
    /// Write this lease (CAS against what was read); flush only if the write succeeds.
    Write(Lease),
    /// Another VM holds the lease: hand deltas over instead of flushing.
    Wait,
}

impl Lease {
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        let (a, b) = out.split_at_mut(8);
        a.copy_from_slice(&self.holder.to_le_bytes());
        b.copy_from_slice(&self.expires_ms.to_le_bytes());
        out
    }

    /// `None` for anything but a 16-byte record (treated as no lease).
    pub fn from_bytes(bytes: &[u8]) -> Option<Lease> {
        let holder: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
        let expires: [u8; 8] = bytes.get(8..16)?.try_into().ok()?;
        (bytes.len() == 16)
            .then(|| Lease { holder: u64::from_le_bytes(holder), expires_ms: u64::from_le_bytes(expires) })
    }

    /// The step for VM `me` at `now_ms`, given the lease read from shared data. A lease is renewed when
    /// less than half its `ttl_ms` is left, and taken over once expired (a holder that died).
    pub fn step(current: Option<Lease>, me: u64, now_ms: u64, ttl_ms: u64) -> LeaseStep {
        let fresh = Lease { holder: me, expires_ms: now_ms.saturating_add(ttl_ms) };
        match current {
            Some(l) if l.holder == me && l.expires_ms > now_ms => {
                if l.expires_ms - now_ms < ttl_ms / 2 {
                    LeaseStep::Write(fresh)
                } else {
                    LeaseStep::Flush
                }
            }
            Some(l) if l.expires_ms > now_ms => LeaseStep::Wait,
            _ => LeaseStep::Write(fresh),
        }
    }
}

/// What one descriptor of a batch stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// `(volume, credential)` charged with `hits` requests.
    Volume { credential: String, hits: u64 },
    /// `(template, t@w), (credential|prompt, id)`: limit 1, first hit wins.
    Mark { member: Member, template: String, id: String },
    /// `(template_credentials|template_prompts, t@w)` charged with `hits` (0 = read).
    Count { member: Member, template: String, hits: u64 },
    /// A fleet-wide budget counter charged with a VM's charges since its last flush
    /// ([`super::budgets`]).
    Budget(Sent),
}

/// One flush: the descriptors to send and what each stands for, in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The campaign window the marks and counts belong to.
    pub window: u64,
    pub slots: Vec<Slot>,
}

impl Batch {
    /// The `RateLimitRequest` of this batch.
    pub fn request(&self) -> RateLimitRequest {
        let descriptors = self
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Volume { credential, hits } => Descriptor::new(&[("volume", credential)], *hits),
                Slot::Mark { member, template, id } => {
                    Descriptor::new(&[("template", &template_value(template, self.window)), (member.mark_key(), id)], 1)
                }
                Slot::Count { member, template, hits } => {
                    Descriptor::new(&[(member.count_key(), &template_value(template, self.window))], *hits)
                }
                Slot::Budget(sent) => sent.key.descriptor(sent.hits),
            })
            .collect();
        RateLimitRequest { domain: DOMAIN.to_string(), descriptors }
    }

    /// The protobuf bytes for `dispatch_grpc_call`.
    pub fn encode(&self) -> Vec<u8> {
        encode_request(&self.request())
    }
}

/// What an answer says, slot by slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Fleet-wide requests of a credential in the service's current clock hour.
    pub volumes: Vec<(String, u64)>,
    /// Fleet-wide distinct members of a template in the batch's window.
    pub counts: Vec<(Member, String, u64)>,
    /// Members this replica was first in the fleet to report: one increment owed to each template.
    pub first: Vec<(Member, String)>,
    /// Fleet-wide budget counts, with the charge each carried.
    pub budgets: Vec<(Sent, u64)>,
}

/// What one status of the scheme says: the count (`limit - limit_remaining`; over a limit no one
/// reaches, the limit, the most it can tell). The status must carry the scheme's limit `want`: a
/// service without the fleet domain's config answers `OK` with no limit.
pub fn status_count(index: usize, status: &super::wire::DescriptorStatus, want: u32) -> Result<u64, FleetError> {
    if !matches!(status.code, Code::Ok | Code::OverLimit) {
        return Err(FleetError::Status { index });
    }
    if status.current_limit.as_ref().map(|l| l.requests_per_unit) != Some(want) {
        return Err(FleetError::NotConfigured { index });
    }
    Ok(match status.code {
        Code::OverLimit => u64::from(want),
        _ => u64::from(want.saturating_sub(status.limit_remaining)),
    })
}

/// Reads the service's answer to `batch` (statuses come in the order the descriptors were sent). Every
/// descriptor must have come back with the scheme's limit (1 for marks, [`COUNTER_LIMIT`] for counters):
/// a service without the fleet domain's config answers `OK` with no limit, which would make every
/// replica "first".
pub fn read_answer(batch: &Batch, response: &RateLimitResponse) -> Result<Reading, FleetError> {
    if response.statuses.len() != batch.slots.len() {
        return Err(FleetError::StatusCount { sent: batch.slots.len(), got: response.statuses.len() });
    }
    let mut reading = Reading::default();
    for (index, (slot, status)) in batch.slots.iter().zip(&response.statuses).enumerate() {
        let want = if matches!(slot, Slot::Mark { .. }) { 1 } else { COUNTER_LIMIT };
        let count = status_count(index, status, want)?;
        match slot {
            Slot::Volume { credential, .. } => reading.volumes.push((credential.clone(), count)),
            Slot::Mark { member, template, .. } => {
                if status.code == Code::Ok {
                    reading.first.push((*member, template.clone()));
                }
            }
            Slot::Count { member, template, .. } => reading.counts.push((*member, template.clone(), count)),
            Slot::Budget(sent) => reading.budgets.push((sent.clone(), count)),
        }
    }
    Ok(reading)
}

/// The latest fleet-wide counts this replica knows, for its detectors. Bounded by `max_entries`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetView {
    hour: u64,
    window: u64,
    volumes: BTreeMap<String, u64>,
    members: BTreeMap<(Member, String), u64>,
}

impl FleetView {
    /// Fleet-wide requests of `credential` in the current clock hour, if known.
    pub fn credential_requests(&self, credential: &str, now_ms: u64) -> Option<u64> {
        (self.hour == hour_index(now_ms)).then(|| self.volumes.get(credential).copied()).flatten()
    }

    /// Fleet-wide distinct members of `template` in the campaign window holding `now_ms`, if known.
    pub fn template_members(&self, member: Member, template: &str, window: CampaignWindow, now_ms: u64) -> Option<u64> {
        (self.window == window.index(now_ms))
            .then(|| self.members.get(&(member, template.to_string())).copied())
            .flatten()
    }

    fn apply(&mut self, reading: &Reading, window: u64, now_ms: u64, max_entries: usize) {
        let hour = hour_index(now_ms);
        if hour != self.hour {
            self.hour = hour;
            self.volumes.clear();
        }
        if window != self.window {
            self.window = window;
            self.members.clear();
        }
        for (credential, n) in &reading.volumes {
            if self.volumes.len() < max_entries || self.volumes.contains_key(credential) {
                self.volumes.insert(credential.clone(), *n);
            }
        }
        for (member, template, n) in &reading.counts {
            let key = (*member, template.clone());
            if self.members.len() < max_entries || self.members.contains_key(&key) {
                self.members.insert(key, *n);
            }
        }
    }
}

/// A replica's side of the fleet counters: increments owed to template counters and the fleet view.
#[derive(Clone, Debug)]
pub struct FleetCounters {
    window: CampaignWindow,
    max_descriptors: usize,
    max_entries: usize,
    owed_window: u64,
    owed: BTreeMap<(Member, String), u64>,
    view: FleetView,
}

impl FleetCounters {
    /// `max_descriptors` per call (what does not fit waits for the next tick); `max_entries` bounds the
    /// owed increments and the view.
    pub fn new(window: CampaignWindow, max_descriptors: usize, max_entries: usize) -> Self {
        FleetCounters {
            window,
            max_descriptors: max_descriptors.max(1),
            max_entries,
            owed_window: 0,
            owed: BTreeMap::new(),
            view: FleetView::default(),
        }
    }

    pub fn view(&self) -> &FleetView {
        &self.view
    }

    /// Increments owed to template counters, not yet sent.
    pub fn owed(&self) -> u64 {
        self.owed.values().sum()
    }

    fn roll(&mut self, window: u64) {
        if window != self.owed_window {
            // increments owed to a past window no longer count anything anyone reads
            self.owed.clear();
            self.owed_window = window;
        }
    }

    /// Takes what fits into one call out of `deltas` (plus the owed increments) and returns the batch, or
    /// `None` if there is nothing to send. Each template with marks or owed increments also gets its
    /// counts read, so the view stays fresh for the templates this replica sees.
    pub fn build_batch(&mut self, deltas: &mut Deltas, now_ms: u64) -> Option<Batch> {
        self.build_batch_within(deltas, now_ms, self.max_descriptors)
    }

    /// [`FleetCounters::build_batch`] with at most `room` descriptors (the rest of a call carries
    /// budget charges).
    pub fn build_batch_within(&mut self, deltas: &mut Deltas, now_ms: u64, room: usize) -> Option<Batch> {
        let max = room.min(self.max_descriptors);
        let window = self.window.index(now_ms);
        self.roll(window);
        let mut slots = Vec::new();
        let mut counted: BTreeSet<(Member, String)> = BTreeSet::new();
        // Owed increments first: they are what makes the counts exact.
        let owed = std::mem::take(&mut self.owed);
        for ((member, template), hits) in owed {
            if slots.len() < max {
                counted.insert((member, template.clone()));
                slots.push(Slot::Count { member, template, hits });
            } else {
                self.owed.insert((member, template), hits);
            }
        }
        // Marks, each with a read of its template's count (two descriptors for a new template).
        let members = std::mem::take(&mut deltas.members);
        for (member, template, id) in members {
            let key = (member, template.clone());
            let need = if counted.contains(&key) { 1 } else { 2 };
            if slots.len() + need > max {
                deltas.members.insert((member, template, id));
                continue;
            }
            if need == 2 {
                counted.insert(key);
                slots.push(Slot::Count { member, template: template.clone(), hits: 0 });
            }
            slots.push(Slot::Mark { member, template, id });
        }
        let requests = std::mem::take(&mut deltas.requests);
        for (credential, hits) in requests {
            if slots.len() < max {
                slots.push(Slot::Volume { credential, hits });
            } else {
                deltas.requests.insert(credential, hits);
            }
        }
        (!slots.is_empty()).then_some(Batch { window, slots })
    }

    /// Applies the service's answer (its protobuf bytes) to `batch`: the view is refreshed and every
    /// first sighting becomes an increment owed to its template counter (sent with the next batch).
    pub fn apply_answer(&mut self, batch: &Batch, bytes: &[u8], now_ms: u64) -> Result<Reading, FleetError> {
        let reading = read_answer(batch, &decode_response(bytes)?)?;
        self.roll(self.window.index(now_ms));
        if batch.window == self.owed_window {
            for (member, template) in &reading.first {
                let key = (*member, template.clone());
                if self.owed.len() < self.max_entries || self.owed.contains_key(&key) {
                    *self.owed.entry(key).or_insert(0) += 1;
                }
            }
        }
        self.view.apply(&reading, batch.window, now_ms, self.max_entries);
        Ok(reading)
    }

    /// The call failed (service down, timeout, bad answer): request counts and owed increments go back to
    /// be sent again, so counts converge once the service is back. A mark that may have reached the service
    /// is sent again too; if it had, its answer is now `OVER_LIMIT` and that member is never counted (the
    /// count can be low by the members first seen in a failed call, never high).
    pub fn requeue(&mut self, batch: Batch, deltas: &mut Deltas, now_ms: u64) {
        self.roll(self.window.index(now_ms));
        for slot in batch.slots {
            match slot {
                Slot::Volume { credential, hits } => *deltas.requests.entry(credential).or_insert(0) += hits,
                Slot::Mark { member, template, id } => {
                    if batch.window == self.owed_window {
                        deltas.members.insert((member, template, id));
                    }
                }
                Slot::Count { member, template, hits } => {
                    if batch.window == self.owed_window && hits > 0 {
                        *self.owed.entry((member, template)).or_insert(0) += hits;
                    }
                }
                // Budget charges go back through their own counters (`Replica::answered`).
                Slot::Budget(_) => {}
            }
        }
    }
}

/// The most a fleet-wide limit enforced from a replica's view can be exceeded: every replica may admit
/// `rate × tick` before the others' counts reach it, plus the requests already in flight.
/// `rate_per_minute` is the traffic of the counted subject at one replica.
pub fn overshoot_bound(replicas: u64, tick_ms: u64, rate_per_minute: u64, in_flight: u64) -> u64 {
    let per_replica = (tick_ms.saturating_mul(rate_per_minute)).div_ceil(MS_PER_MINUTE);
    replicas.saturating_mul(per_replica).saturating_add(in_flight)
}

/// One fleet-wide budget counter (see [`super::budgets`]): a quantity of one budget for one subject, in
/// the service's fixed clock window of the budget's length.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BudgetKey {
    /// The budget window's length in seconds (60, 3,600 or 86,400).
    pub window_s: u64,
    /// `<name>.requests` or `<name>.tokens`.
    pub name: String,
    /// `credential` or `tenant`.
    pub scope: &'static str,
    /// The credential id or the tenant name.
    pub id: String,
}

impl BudgetKey {
    /// The descriptor charging `hits` to this counter:
    /// `(budget_minute | budget_hour | budget_day, <name>), (credential | tenant, <id>)`.
    pub fn descriptor(&self, hits: u64) -> Descriptor {
        let window = match self.window_s {
            60 => "budget_minute",
            3_600 => "budget_hour",
            _ => "budget_day",
        };
        Descriptor::new(&[(window, &self.name), (self.scope, &self.id)], hits)
    }

    fn window_ms(&self) -> u64 {
        self.window_s.max(1) * 1000
    }

    /// The number of the service's window holding `now_ms` (fixed windows from the epoch).
    pub fn window_index(&self, now_ms: u64) -> u64 {
        now_ms / self.window_ms()
    }

    /// Seconds until the service's window holding `now_ms` ends.
    pub fn seconds_to_reset(&self, now_ms: u64) -> u64 {
        (self.window_ms() - now_ms % self.window_ms()).div_ceil(1000)
    }
}

/// A budget charge taken out of a VM's counters for a call: its counter, window and hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub key: BudgetKey,
    pub window: u64,
    pub hits: u64,
}

/// Whether a request must wait for a synchronous fleet check: its subject has used at least
/// `threshold_percent` of `limit` by the local view (below that, the local view decides).
pub fn needs_sync_check(used: u64, limit: u64, threshold_percent: u8) -> bool {
    u128::from(used) * 100 >= u128::from(limit) * u128::from(threshold_percent.min(100))
}
