//! Cross-credential campaigns: for each prompt template (and long system prompt) seen recently, how
//! many distinct credentials sent it and how many distinct prompts filled it. A fixed table of small
//! HyperLogLog sketches in shared data, so memory is bounded whatever the traffic.
//!
//! A key farm spreading one template over many keys shows up as one fingerprint with many credentials
//! *and* many distinct prompts. A common prompt typed by unrelated users ("hello", or a default system
//! prompt) does not: identical prompts have one content, short prompts and short system prompts are
//! not eligible, and known templates can be allow-listed in the policy.
//!
//! Each slot also sketches the distinct prompts of the fingerprint that carried text intent (a listed
//! phrase or the intent model): the *cohort's* intent share. One key of a farm sends a handful of
//! requests, too few for its own share to say much; the farm's template over all its keys is seen
//! hundreds of times.
//!
//! And each slot sketches the distinct credentials of the fingerprint that were *tagged* while it
//! dominated their traffic (noted after the request is scored, [`CampaignTable::note_tagged`]): when
//! many of a campaign's keys have each been tagged, and they are most of its keys, the campaign is
//! confirmed, and a key sending it is throttled after its first requests however fresh it is
//! (`campaign_confirmed`, `detection.rs`).

use crate::hash::{fnv1a64, fnv1a64_extend};
use crate::host::{SharedStore, StoreError};
use crate::ledger::numbered_key;

/// Registers per sketch (standard error about 18%: enough to tell 3 from 30).
pub const REGISTERS: usize = 32;
const VERSION: u8 = 3;
/// Encoded size of a campaign slot.
pub const SLOT_BYTES: usize = 1 + 8 + 8 + 8 * REGISTERS;
const MAX_ATTEMPTS: u32 = 4;
/// How old a VM's copy of a campaign slot may be when nothing needs writing.
pub const RECENT_READ_MS: u64 = 1000;

/// A HyperLogLog sketch with [`REGISTERS`] registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sketch(pub [u8; REGISTERS]);

impl Default for Sketch {
    fn default() -> Self {
        Sketch([0; REGISTERS])
    }
}

impl Sketch {
    /// Adds a 64-bit hash; returns true if a register changed.
    pub fn insert(&mut self, hash: u64) -> bool {
        let mixed = mix(hash);
        let idx = (mixed & (REGISTERS as u64 - 1)) as usize;
        let rank = ((mixed >> 5).leading_zeros().saturating_sub(5) + 1).min(59) as u8;
        match self.0.get_mut(idx) {
            Some(r) if *r < rank => {
                *r = rank;
                true
            }
            _ => false,
        }
    }

    /// Register-wise maximum (the union of two sets).
    pub fn union(&self, other: &Sketch) -> Sketch {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0.iter()) {
            *a = (*a).max(*b);
        }
        out
    }

    /// Estimated number of distinct items.
    pub fn estimate(&self) -> f32 {
        // An empty sketch estimates exactly 0 (m ln(m / m)); most intent and tagged sketches are.
        if self.0.iter().all(|r| *r == 0) {
            return 0.0;
        }
        let m = REGISTERS as f32;
        let zeros = self.0.iter().filter(|r| **r == 0).count() as f32;
        let sum: f32 = self.0.iter().map(|r| inverse_power_of_two(*r)).sum();
        let raw = 0.697 * m * m / sum;
        if raw <= 2.5 * m && zeros > 0.0 {
            m * (m / zeros).ln()
        } else {
            raw
        }
    }
}

/// `2f32.powi(-r)`, bit for bit, from the float's bits (a register's weight in [`Sketch::estimate`];
/// `powi` costs ~30 instructions a register): `2^-r` is exact down to `2^-127`, and `powi` gives 0
/// from `2^-128` on (it takes the reciprocal of `2^r`, which is infinite there).
pub fn inverse_power_of_two(r: u8) -> f32 {
    match r {
        0..=126 => f32::from_bits((127 - u32::from(r)) << 23),
        127 => f32::from_bits(1 << 22),
        _ => 0.0,
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: spreads FNV hashes over all bits.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One fingerprint's sketches over the current and previous window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignSlot {
    /// The fingerprint (0: empty).
    pub fingerprint: u64,
    /// Start of the current window, seconds.
    pub bucket: u64,
    /// Credentials in the current window.
    pub credentials: Sketch,
    /// Credentials in the previous window.
    pub credentials_prev: Sketch,
    /// Distinct prompts in the current window.
    pub contents: Sketch,
    /// Distinct prompts in the previous window.
    pub contents_prev: Sketch,
    /// Distinct prompts with text intent in the current window.
    pub flagged: Sketch,
    /// Distinct prompts with text intent in the previous window.
    pub flagged_prev: Sketch,
    /// Credentials tagged while the fingerprint dominated their traffic, current window.
    pub tagged: Sketch,
    /// The same, previous window.
    pub tagged_prev: Sketch,
}

impl CampaignSlot {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SLOT_BYTES);
        out.push(VERSION);
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        out.extend_from_slice(&self.bucket.to_le_bytes());
        for s in [
            &self.credentials,
            &self.credentials_prev,
            &self.contents,
            &self.contents_prev,
            &self.flagged,
            &self.flagged_prev,
            &self.tagged,
            &self.tagged_prev,
        ] {
            out.extend_from_slice(&s.0);
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<CampaignSlot> {
        if bytes.len() != SLOT_BYTES || bytes.first() != Some(&VERSION) {
            return None;
        }
        let word = |at: usize| -> Option<u64> { bytes.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes) };
        let sketch = |at: usize| -> Option<Sketch> { bytes.get(at..at + REGISTERS)?.try_into().ok().map(Sketch) };
        Some(CampaignSlot {
            fingerprint: word(1)?,
            bucket: word(9)?,
            credentials: sketch(17)?,
            credentials_prev: sketch(17 + REGISTERS)?,
            contents: sketch(17 + 2 * REGISTERS)?,
            contents_prev: sketch(17 + 3 * REGISTERS)?,
            flagged: sketch(17 + 4 * REGISTERS)?,
            flagged_prev: sketch(17 + 5 * REGISTERS)?,
            tagged: sketch(17 + 6 * REGISTERS)?,
            tagged_prev: sketch(17 + 7 * REGISTERS)?,
        })
    }

    fn roll(&mut self, bucket: u64, window_s: u64) {
        if self.bucket == bucket {
            return;
        }
        if self.bucket + window_s == bucket {
            self.credentials_prev = self.credentials;
            self.contents_prev = self.contents;
            self.flagged_prev = self.flagged;
            self.tagged_prev = self.tagged;
        } else {
            self.credentials_prev = Sketch::default();
            self.contents_prev = Sketch::default();
            self.flagged_prev = Sketch::default();
            self.tagged_prev = Sketch::default();
        }
        self.credentials = Sketch::default();
        self.contents = Sketch::default();
        self.flagged = Sketch::default();
        self.tagged = Sketch::default();
        self.bucket = bucket;
    }

    /// What the slot says over the current and previous window.
    pub fn view(&self) -> CampaignView {
        CampaignView {
            credentials: self.credentials.union(&self.credentials_prev).estimate(),
            contents: self.contents.union(&self.contents_prev).estimate(),
        }
    }

    /// Distinct prompts with text intent over the current and previous window (estimated, like
    /// `contents`; never more than it).
    pub fn flagged(&self) -> f32 {
        let contents = self.contents.union(&self.contents_prev).estimate();
        self.flagged.union(&self.flagged_prev).estimate().min(contents)
    }

    /// Distinct credentials tagged while the fingerprint dominated their traffic, over the current
    /// and previous window (estimated; never more than the credentials).
    pub fn tagged(&self) -> f32 {
        self.tagged_within(self.credentials.union(&self.credentials_prev).estimate())
    }

    fn tagged_within(&self, credentials: f32) -> f32 {
        if self.tagged == Sketch::default() && self.tagged_prev == Sketch::default() {
            return 0.0;
        }
        self.tagged.union(&self.tagged_prev).estimate().min(credentials)
    }

    /// What the slot says about its cohort (each sketch estimated once).
    pub fn cohort(&self) -> Cohort {
        let view = self.view();
        let flagged = self.flagged.union(&self.flagged_prev).estimate().min(view.contents);
        Cohort { view, flagged, tagged: self.tagged_within(view.credentials) }
    }
}

/// A fingerprint's campaign view with its cohort's intent and tagged credentials.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cohort {
    /// Distinct credentials and prompts.
    pub view: CampaignView,
    /// Distinct prompts with text intent ([`CampaignSlot::flagged`]).
    pub flagged: f32,
    /// Distinct credentials tagged while it dominated their traffic ([`CampaignSlot::tagged`]).
    pub tagged: f32,
}

/// How widely a fingerprint is shared.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CampaignView {
    /// Estimated distinct credentials.
    pub credentials: f32,
    /// Estimated distinct prompts.
    pub contents: f32,
}

/// Kind of fingerprint (they live in one table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintKind {
    /// The user prompt's template skeleton.
    Template,
    /// The user prompt's closing words ([`crate::shape::closing`]).
    Closing,
    /// The system prompt.
    SystemPrompt,
}

/// The campaign table in shared data.
pub struct CampaignTable<'a> {
    store: &'a dyn SharedStore,
    prefix: &'a str,
    slots: u64,
    window_s: u64,
}

impl<'a> CampaignTable<'a> {
    /// A table of `slots` slots counting over windows of `window_s` seconds.
    pub fn new(store: &'a dyn SharedStore, prefix: &'a str, slots: u64, window_s: u64) -> Self {
        Self { store, prefix, slots: slots.max(1), window_s: window_s.max(60) }
    }

    /// Records that `credential` sent a prompt (`content`) with this fingerprint; returns how widely the
    /// fingerprint is shared, or `None` when its slot is held by another live fingerprint or the store
    /// refused (then the request is simply not counted for campaigns).
    pub fn observe(
        &self,
        kind: FingerprintKind,
        fingerprint: u64,
        credential: u64,
        content: u64,
        now_ms: u64,
    ) -> Option<CampaignView> {
        self.observe_cohort(kind, fingerprint, credential, content, false, now_ms).map(|(view, _)| view)
    }

    /// [`observe`](Self::observe), also counting the prompt among the fingerprint's prompts with
    /// text intent when `flagged`; returns the view and the estimated distinct prompts with text
    /// intent ([`CampaignSlot::flagged`]).
    pub fn observe_cohort(
        &self,
        kind: FingerprintKind,
        fingerprint: u64,
        credential: u64,
        content: u64,
        flagged: bool,
        now_ms: u64,
    ) -> Option<(CampaignView, f32)> {
        self.observe_full(kind, fingerprint, credential, content, flagged, now_ms).map(|c| (c.view, c.flagged))
    }

    /// [`observe_cohort`](Self::observe_cohort), returning the whole [`Cohort`] (with the tagged
    /// credentials).
    pub fn observe_full(
        &self,
        kind: FingerprintKind,
        fingerprint: u64,
        credential: u64,
        content: u64,
        flagged: bool,
        now_ms: u64,
    ) -> Option<Cohort> {
        self.update(kind, fingerprint, now_ms, true, &mut |slot| {
            let mut changed = slot.credentials.insert(credential) | slot.contents.insert(content);
            if flagged {
                changed |= slot.flagged.insert(content);
            }
            changed
        })
    }

    /// Notes that `credential` was tagged while this fingerprint dominated its traffic (called after
    /// the request is scored, only for tagged credentials): it joins the slot's tagged credentials.
    /// Nothing is written when it is already counted or the slot is held by another fingerprint.
    pub fn note_tagged(&self, kind: FingerprintKind, fingerprint: u64, credential: u64, now_ms: u64) -> Option<Cohort> {
        self.update(kind, fingerprint, now_ms, false, &mut |slot| slot.tagged.insert(credential))
    }

    /// Reads the fingerprint's slot, rolls it to the current window, applies `change` (true when it
    /// changed a register) and writes it back when changed (compare-and-swap, a few attempts). A slot
    /// held by another live fingerprint is taken over only when `claim`.
    fn update(
        &self,
        kind: FingerprintKind,
        fingerprint: u64,
        now_ms: u64,
        claim: bool,
        change: &mut dyn FnMut(&mut CampaignSlot) -> bool,
    ) -> Option<Cohort> {
        let tag: &[u8] = match kind {
            FingerprintKind::Template => b"t",
            FingerprintKind::Closing => b"c",
            FingerprintKind::SystemPrompt => b"s",
        };
        // fnv1a64 of the tag followed by the fingerprint's bytes, without building them.
        let fp = fnv1a64_extend(fnv1a64(tag), &fingerprint.to_le_bytes()).max(1);
        let key = numbered_key(self.prefix, ".v1.campaign.", fp % self.slots);
        let now_s = now_ms / 1000;
        let bucket = now_s - now_s % self.window_s;
        for attempt in 0..MAX_ATTEMPTS {
            // The first read may come from this VM's recent copy (a view up to a second old is
            // fine for counting credentials over minutes); a write it makes stale fails its CAS and
            // the next attempt reads through.
            let read =
                if attempt == 0 { self.store.get_recent(&key, RECENT_READ_MS, now_ms) } else { self.store.get(&key) };
            let (mut slot, cas) = match read {
                Some((bytes, cas)) => (CampaignSlot::decode(&bytes).unwrap_or_default(), Some(cas)),
                None => (CampaignSlot::default(), None),
            };
            slot.roll(bucket, self.window_s);
            if slot.fingerprint != fp {
                let live = slot.fingerprint != 0 && slot.view().credentials >= 2.0;
                if live || !claim {
                    return None;
                }
                slot = CampaignSlot { fingerprint: fp, bucket, ..CampaignSlot::default() };
            }
            let changed = change(&mut slot);
            if !changed && cas.is_some() {
                return Some(slot.cohort());
            }
            // An absent slot is created only if still absent (`CREATE_CAS`): a blind write here could
            // overwrite another worker's insert made since the read.
            match self.store.set(&key, &slot.encode(), Some(cas.unwrap_or(crate::ledger::CREATE_CAS))) {
                Ok(()) => return Some(slot.cohort()),
                Err(StoreError::CasMismatch) => continue,
                Err(StoreError::Unavailable) => return None,
            }
        }
        None
    }
}
