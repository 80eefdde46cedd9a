//! A credential's behaviour over time, kept in its ledger slot (fixed size, no allocation): decayed
//! counts of each request-shape signal, its most used prompt templates, recent prompt hashes, the
//! regularity of its request cadence, the hours of the day it is active, and the sticky verdict.
//!
//! Counts decay exponentially with `detection.half_life_minutes`, so shares describe recent behaviour
//! and pausing does not reset them (a pause shrinks every count alike).

use crate::shape::{RequestShape, ShapeSignal};

/// Templates tracked per credential.
pub const TOP_TEMPLATES: usize = 3;
/// Recent prompt hashes kept to notice repeats.
pub const RECENT_PROMPTS: usize = 4;
const SIGNALS: usize = ShapeSignal::ALL.len();
/// Encoded size of a profile.
pub const PROFILE_BYTES: usize =
    4 + 4 * SIGNALS + 4 + TOP_TEMPLATES * 12 + RECENT_PROMPTS * 4 + 4 + 4 * 3 + 4 * 3 + 1 + 8 + 4 + 8 + 4;

/// Per-credential behaviour state.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Profile {
    /// Decayed request count.
    pub requests: f32,
    /// Decayed count of requests with each shape signal (by [`ShapeSignal::index`]).
    pub signals: [f32; SIGNALS],
    /// Decayed count of requests whose prompt is long enough to be a template.
    pub templated: f32,
    /// Most used template fingerprints (low 32 bits) with decayed counts.
    pub templates: [(u32, f32); TOP_TEMPLATES],
    /// Ring of recent prompt hashes (low 32 bits).
    pub recent: [u32; RECENT_PROMPTS],
    /// Decayed count of prompts repeated from the ring.
    pub repeats: f32,
    /// EWMA of seconds between requests, of its square, and the number of gaps seen (capped).
    pub gap_mean: f32,
    /// EWMA of the squared gap.
    pub gap_sq: f32,
    /// Gaps seen (saturating).
    pub gaps: f32,
    /// UTC hours active in the current day (bit per hour), the previous day, and the day number.
    pub hours_today: u32,
    /// Hours active the previous day.
    pub hours_yesterday: u32,
    /// Day number of `hours_today`.
    pub day: u32,
    /// Sticky verdict tier (0 none, 1 tag, 2 degrade, 3 throttle, 4 block).
    pub sticky_tier: u8,
    /// Until when the sticky tier holds, ms since the epoch.
    pub sticky_until_ms: u64,
    /// Last score (for reporting).
    pub last_score: f32,
    /// When counts were last decayed, ms since the epoch.
    pub decayed_at_ms: u64,
    /// Decayed requests to other models before the first request to a watched model (0: none yet).
    pub history_at_pivot: f32,
}

/// Weight of the cadence EWMA for a new gap.
const GAP_ALPHA: f32 = 0.1;
/// Gaps longer than this are pauses, not cadence (seconds).
const MAX_GAP_S: f32 = 3_600.0;

impl Profile {
    /// Decays every count to `now_ms`.
    pub fn decay(&mut self, now_ms: u64, half_life_ms: u64) {
        if self.decayed_at_ms == 0 || half_life_ms == 0 {
            self.decayed_at_ms = now_ms;
            return;
        }
        let elapsed = now_ms.saturating_sub(self.decayed_at_ms);
        if elapsed == 0 {
            return;
        }
        let factor = 0.5f32.powf(elapsed as f32 / half_life_ms as f32);
        self.requests *= factor;
        for s in self.signals.iter_mut() {
            *s *= factor;
        }
        self.templated *= factor;
        for t in self.templates.iter_mut() {
            t.1 *= factor;
        }
        self.repeats *= factor;
        self.decayed_at_ms = now_ms;
    }

    /// Records one request. `last_seen_ms` is the previous request's time (0 if none).
    pub fn observe(
        &mut self,
        shape: &RequestShape,
        now_ms: u64,
        last_seen_ms: u64,
        half_life_ms: u64,
        min_template_words: u32,
    ) {
        self.decay(now_ms, half_life_ms);
        if shape.signals.contains(ShapeSignal::WatchedModel)
            && self.share(ShapeSignal::WatchedModel) == 0.0
            && self.history_at_pivot == 0.0
        {
            self.history_at_pivot = self.requests.max(f32::MIN_POSITIVE);
        }
        self.requests += 1.0;
        for s in shape.signals.iter() {
            if let Some(c) = self.signals.get_mut(s.index()) {
                *c += 1.0;
            }
        }
        // The opening skeleton or the closing words, a weight of 1 a request (`noted_templates`).
        let noted = shape.noted_templates(&self.templates, min_template_words);
        if noted[0].0 != 0 {
            self.templated += 1.0;
        }
        for (fp, weight) in noted.into_iter().filter(|n| n.0 != 0) {
            self.note_template_weighted(fp as u32, weight);
        }
        if shape.content != 0 {
            let h = shape.content as u32;
            if self.recent.contains(&h) {
                self.repeats += 1.0;
            }
            self.recent.rotate_right(1);
            if let Some(first) = self.recent.first_mut() {
                *first = h;
            }
        }
        if last_seen_ms > 0 && now_ms >= last_seen_ms {
            let gap = ((now_ms - last_seen_ms) as f32 / 1000.0).min(MAX_GAP_S);
            if self.gaps < 1.0 {
                self.gap_mean = gap;
                self.gap_sq = gap * gap;
            } else {
                self.gap_mean += GAP_ALPHA * (gap - self.gap_mean);
                self.gap_sq += GAP_ALPHA * (gap * gap - self.gap_sq);
            }
            self.gaps = (self.gaps + 1.0).min(1_000.0);
        }
        let day = (now_ms / 86_400_000) as u32;
        let hour = ((now_ms / 3_600_000) % 24) as u32;
        if day != self.day {
            self.hours_yesterday = if day == self.day + 1 { self.hours_today } else { 0 };
            self.hours_today = 0;
            self.day = day;
        }
        self.hours_today |= 1 << hour;
    }

    /// Merges what one worker observed into this (shared) profile: `local` is the worker's copy, which
    /// was `base` when it last read the shared one. Decayed counts are linear, so after decaying all
    /// three to one time, `local - base` is exactly what the worker added, and it is added here;
    /// templates add by fingerprint, new prompt hashes join the ring, the hours are joined, and the
    /// cadence, the sticky verdict and the last score come from the worker when it changed them.
    pub fn merge(&mut self, base: &Profile, local: &Profile, half_life_ms: u64) {
        let at = self.decayed_at_ms.max(base.decayed_at_ms).max(local.decayed_at_ms);
        let (mut base, mut local) = (*base, *local);
        for p in [&mut *self, &mut base, &mut local] {
            if p.decayed_at_ms != 0 {
                p.decay(at, half_life_ms);
            }
        }
        let gain = |l: f32, b: f32| (l - b).max(0.0);
        self.requests += gain(local.requests, base.requests);
        for ((s, l), b) in self.signals.iter_mut().zip(local.signals.iter()).zip(base.signals.iter()) {
            *s += gain(*l, *b);
        }
        let templated = gain(local.templated, base.templated);
        self.templated += templated;
        self.repeats += gain(local.repeats, base.repeats);
        // A template new to the worker's copy inherited the count of the entry it replaced
        // (space-saving), which is not an observation: what is added is capped by the templated
        // requests the worker observed, templates already in `base` first (their gain is exact).
        let mut budget = templated;
        for known in [true, false] {
            for (fp, count) in local.templates {
                let before = base.templates.iter().find(|t| t.0 == fp && t.1 > 0.0).map(|t| t.1);
                if before.is_some() != known {
                    continue;
                }
                let added = gain(count, before.unwrap_or(0.0)).min(budget);
                if added > 0.0 {
                    budget -= added;
                    self.note_template_weighted(fp, added);
                }
            }
        }
        for h in local.recent.iter().rev().filter(|h| **h != 0 && !base.recent.contains(h)) {
            self.recent.rotate_right(1);
            if let Some(first) = self.recent.first_mut() {
                *first = *h;
            }
        }
        if local.gaps > base.gaps {
            self.gap_mean = local.gap_mean;
            self.gap_sq = local.gap_sq;
            self.gaps = self.gaps.max(local.gaps);
        }
        self.join_hours(&local);
        let escalated = (local.sticky_tier, local.sticky_until_ms) != (base.sticky_tier, base.sticky_until_ms);
        if escalated && (local.sticky_until_ms > self.sticky_until_ms || local.sticky_tier > self.sticky_tier) {
            self.sticky_tier = local.sticky_tier;
            self.sticky_until_ms = local.sticky_until_ms;
        }
        if local.last_score.to_bits() != base.last_score.to_bits() {
            self.last_score = local.last_score;
        }
        if self.history_at_pivot == 0.0 {
            self.history_at_pivot = local.history_at_pivot;
        }
        if self.decayed_at_ms == 0 {
            self.decayed_at_ms = at;
        }
    }

    /// Joins another copy's active hours into this one's (aligned on the later day).
    fn join_hours(&mut self, other: &Profile) {
        if other.day == self.day {
            self.hours_today |= other.hours_today;
            self.hours_yesterday |= other.hours_yesterday;
        } else if other.day == self.day + 1 {
            self.hours_yesterday = self.hours_today | other.hours_yesterday;
            self.hours_today = other.hours_today;
            self.day = other.day;
        } else if other.day > self.day {
            self.hours_today = other.hours_today;
            self.hours_yesterday = other.hours_yesterday;
            self.day = other.day;
        } else if other.day + 1 == self.day {
            self.hours_yesterday |= other.hours_today;
        }
    }

    fn note_template_weighted(&mut self, fp: u32, weight: f32) {
        if let Some(t) = self.templates.iter_mut().find(|t| t.0 == fp && t.1 > 0.0) {
            t.1 += weight;
        } else if let Some(t) = self.templates.iter_mut().min_by(|a, b| a.1.total_cmp(&b.1)) {
            // Space-saving: the newcomer takes the weakest entry and inherits its count.
            *t = (fp, t.1 + weight);
        }
        self.templates.sort_by(|a, b| b.1.total_cmp(&a.1));
    }

    /// Share of recent requests with a signal.
    pub fn share(&self, s: ShapeSignal) -> f32 {
        if self.requests <= 0.0 {
            return 0.0;
        }
        (self.signals.get(s.index()).copied().unwrap_or(0.0) / self.requests).clamp(0.0, 1.0)
    }

    /// The dominant template and its share of all recent requests.
    pub fn top_template(&self) -> (u32, f32) {
        match self.templates.first() {
            Some((fp, c)) if self.requests > 0.0 => (*fp, (c / self.requests).clamp(0.0, 1.0)),
            _ => (0, 0.0),
        }
    }

    /// Share of recent prompts that repeated one of the last few.
    pub fn repeat_share(&self) -> f32 {
        if self.requests <= 0.0 {
            0.0
        } else {
            (self.repeats / self.requests).clamp(0.0, 1.0)
        }
    }

    /// Coefficient of variation of the gaps between requests (`None` until 10 gaps were seen).
    pub fn cadence_cv(&self) -> Option<f32> {
        if self.gaps < 10.0 || self.gap_mean <= 0.0 {
            return None;
        }
        let var = (self.gap_sq - self.gap_mean * self.gap_mean).max(0.0);
        Some(var.sqrt() / self.gap_mean)
    }

    /// Distinct UTC hours with traffic in the 24 hours up to `now_ms`.
    pub fn hours_active(&self, now_ms: u64) -> u32 {
        let day = (now_ms / 86_400_000) as u32;
        let hour = ((now_ms / 3_600_000) % 24) as u32;
        if day == self.day {
            let later_yesterday =
                if hour >= 23 { 0 } else { self.hours_yesterday & (u32::MAX << (hour + 1)) & 0x00ff_ffff };
            self.hours_today.count_ones() + later_yesterday.count_ones()
        } else if day == self.day + 1 {
            let later = if hour >= 23 { 0 } else { self.hours_today & (u32::MAX << (hour + 1)) & 0x00ff_ffff };
            later.count_ones()
        } else {
            0
        }
    }

    /// Encodes to the fixed layout.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.requests.to_le_bytes());
        for s in &self.signals {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&self.templated.to_le_bytes());
        for (fp, c) in &self.templates {
            out.extend_from_slice(&fp.to_le_bytes());
            out.extend_from_slice(&c.to_le_bytes());
            out.extend_from_slice(&[0u8; 4]);
        }
        for r in &self.recent {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&self.repeats.to_le_bytes());
        for v in [self.gap_mean, self.gap_sq, self.gaps] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.hours_today, self.hours_yesterday, self.day] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.push(self.sticky_tier);
        out.extend_from_slice(&self.sticky_until_ms.to_le_bytes());
        out.extend_from_slice(&self.last_score.to_le_bytes());
        out.extend_from_slice(&self.decayed_at_ms.to_le_bytes());
        out.extend_from_slice(&self.history_at_pivot.to_le_bytes());
    }

    /// Decodes from the fixed layout.
    pub fn decode(bytes: &[u8]) -> Option<Profile> {
        if bytes.len() != PROFILE_BYTES {
            return None;
        }
        let mut r = Reader { bytes, at: 0 };
        let mut p = Profile { requests: r.f32()?, ..Profile::default() };
        for s in p.signals.iter_mut() {
            *s = r.f32()?;
        }
        p.templated = r.f32()?;
        for t in p.templates.iter_mut() {
            *t = (r.u32()?, r.f32()?);
            r.u32()?;
        }
        for x in p.recent.iter_mut() {
            *x = r.u32()?;
        }
        p.repeats = r.f32()?;
        p.gap_mean = r.f32()?;
        p.gap_sq = r.f32()?;
        p.gaps = r.f32()?;
        p.hours_today = r.u32()?;
        p.hours_yesterday = r.u32()?;
        p.day = r.u32()?;
        p.sticky_tier = r.u8()?;
        p.sticky_until_ms = r.u64()?;
        p.last_score = r.f32()?;
        p.decayed_at_ms = r.u64()?;
        p.history_at_pivot = r.f32()?;
        Some(p)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let slice = self.bytes.get(self.at..self.at + N)?;
        self.at += N;
        slice.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take::<4>().map(f32::from_le_bytes)
    }
}
