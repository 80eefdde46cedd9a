//! Distillation detection: the `detection` policy section, and the scoring that turns a credential's
//! profile, its ledger windows and the campaign sketches into a score in [0, 1] and a graded tier.
//!
//! Signals fall in three groups. *Strong intent* says the traffic is after the model's knowledge:
//! logprobs, logit bias, several samples, echo, chain-of-thought coercion, rubrics, synthetic-data
//! framing. *Weak intent* is suspicious but common in honest use: output much longer than input,
//! near-maximum `max_tokens`, identity probes, a pivot to a newly launched model. *Automation* says a
//! script (or a farm of keys) is sending it: one template, single turns, a regular cadence,
//! round-the-clock activity, volume, one template or system prompt shared across many credentials.
//! Each signal has a strength in [0, 1] and a weight; each group combines as a noisy-OR (S, W, A), and
//!
//! ```text
//! I     = 1 - (1 - S) * (1 - W)
//! score = 1 - (1 - S) * (1 - W * (0.4 + 0.6 * A)) * (1 - A * (0.3 + 0.7 * I))
//! ```
//!
//! so automation alone never scores above 0.3 (a legitimate batch job or a product using many keys is
//! automated but not extracting), weak intent alone stays low (a person asking for long answers), and
//! automation multiplies intent. Behaviour signals need evidence: their strengths are scaled by
//! `min(1, recent requests / min_requests)`.

use crate::campaign::CampaignView;
use crate::ledger::Record;
use crate::policy::Window;
use crate::profile::Profile;
use crate::shape::ShapeSignal;

pub use crate::policy::{
    default_phrases, CampaignConfig, DegradeConfig, DetectionConfig, DetectionScope, ShapeConfig, Tiers,
};
pub use crate::signals::{Detector, Group};

/// Graded tiers, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Tier {
    /// Nothing.
    #[default]
    None = 0,
    /// Headers say so.
    Tag = 1,
    /// The request is rewritten (logprobs stripped, n and max_tokens capped, optional reroute).
    Degrade = 2,
    /// Degraded, and limited to `throttle_requests_per_minute`.
    Throttle = 3,
    /// 403.
    Block = 4,
}

impl Tier {
    /// The tier stored in a profile's sticky byte (unknown values: none).
    pub fn from_u8(v: u8) -> Tier {
        match v {
            1 => Tier::Tag,
            2 => Tier::Degrade,
            3 => Tier::Throttle,
            4 => Tier::Block,
            _ => Tier::None,
        }
    }
}

/// What the campaign table said about this request's fingerprints.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CampaignEvidence {
    /// The user-prompt template, if tracked and this credential's traffic is dominated by it.
    pub template: Option<CampaignView>,
    /// The system prompt, if tracked and long enough.
    pub system_prompt: Option<CampaignView>,
    /// The credential's requests fleet-wide in the current clock hour (the policy's `fleet` section),
    /// when known: the volume detector takes the larger of it and this replica's own count.
    pub fleet_requests_hour: Option<u64>,
}

/// The detection outcome for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Score in [0, 1].
    pub score: f32,
    /// Tier from the score alone.
    pub tier: Tier,
    /// Tier after stickiness (what applies).
    pub effective: Tier,
    /// Contributing signals (name, weight × strength), strongest first, those above 0.05.
    pub reasons: Vec<(&'static str, f32)>,
}

fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    if hi <= lo {
        return if x >= hi { 1.0 } else { 0.0 };
    }
    ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
}

fn campaign_strength(view: Option<CampaignView>, min_credentials: f32) -> f32 {
    match view {
        // Many credentials *and* many distinct fillings: one shared template used as a form.
        Some(v) if v.contents >= 2.0 => {
            ramp(v.credentials, min_credentials / 2.0, min_credentials) * ramp(v.contents, 1.0, min_credentials / 2.0)
        }
        _ => 0.0,
    }
}

/// The strength in [0, 1] of every detector for a credential right now.
pub fn strengths(
    cfg: &DetectionConfig,
    profile: &Profile,
    record: &Record,
    campaign: &CampaignEvidence,
    now_ms: u64,
) -> [f32; Detector::COUNT] {
    let evidence = (profile.requests / cfg.min_requests).clamp(0.0, 1.0);
    let mut s = [0f32; Detector::COUNT];
    let mut set = |d: Detector, v: f32| {
        if let Some(x) = s.get_mut(d as usize) {
            *x = v.clamp(0.0, 1.0);
        }
    };
    for &(d, sig) in Detector::SHARES {
        set(d, profile.share(sig) * evidence);
    }
    let day = record.window(Window::Day);
    let (input, output) =
        ((day.current.input + day.previous.input) as f32, (day.current.output + day.previous.output) as f32);
    if input > 0.0 {
        set(Detector::OutputHeavy, ramp(output / input, 1.5, cfg.output_ratio_high) * evidence);
    }
    let (_, top_share) = profile.top_template();
    let distinct = 1.0 - profile.repeat_share();
    set(Detector::TemplateConcentration, ramp(top_share, 0.3, 0.8) * distinct * evidence);
    if let Some(cv) = profile.cadence_cv() {
        set(Detector::CadenceRegular, ramp(1.0 - cv, 0.2, 0.8));
    }
    set(Detector::RoundTheClock, ramp(profile.hours_active(now_ms) as f32, 12.0, 20.0));
    let hour = record.estimate(Window::Hour, now_ms).requests as f32;
    let hour = hour.max(campaign.fleet_requests_hour.unwrap_or(0) as f32);
    set(Detector::Volume, hour / cfg.volume_high_per_hour);
    if profile.history_at_pivot > 0.0 {
        let history = ramp(profile.history_at_pivot, cfg.min_requests / 2.0, cfg.min_requests);
        set(Detector::ModelPivot, profile.share(ShapeSignal::WatchedModel) * history * evidence);
    }
    set(Detector::CampaignTemplate, campaign_strength(campaign.template, cfg.campaign.min_credentials) * evidence);
    set(
        Detector::CampaignSystemPrompt,
        campaign_strength(campaign.system_prompt, cfg.campaign.min_credentials) * evidence,
    );
    s
}

/// The score from the three group strengths (see the module docs).
pub fn combine(strong: f32, weak: f32, automation: f32) -> f32 {
    let intent = 1.0 - (1.0 - strong) * (1.0 - weak);
    let score =
        1.0 - (1.0 - strong) * (1.0 - weak * (0.4 + 0.6 * automation)) * (1.0 - automation * (0.3 + 0.7 * intent));
    score.clamp(0.0, 1.0)
}

/// Scores a credential and applies stickiness (updating the profile's sticky tier).
pub fn assess(
    cfg: &DetectionConfig,
    profile: &mut Profile,
    record: &Record,
    campaign: &CampaignEvidence,
    now_ms: u64,
) -> Assessment {
    let s = strengths(cfg, profile, record, campaign, now_ms);
    let (mut keep_strong, mut keep_weak, mut keep_auto) = (1.0f32, 1.0f32, 1.0f32);
    let mut reasons = Vec::new();
    for d in Detector::ALL {
        let c = cfg.weight(d) * s.get(d as usize).copied().unwrap_or(0.0);
        match d.group() {
            Group::StrongIntent => keep_strong *= 1.0 - c,
            Group::WeakIntent => keep_weak *= 1.0 - c,
            Group::Automation => keep_auto *= 1.0 - c,
        }
        if c >= 0.05 {
            reasons.push((d.name(), c));
        }
    }
    let score = combine(1.0 - keep_strong, 1.0 - keep_weak, 1.0 - keep_auto);
    reasons.sort_by(|a, b| b.1.total_cmp(&a.1));
    let t = &cfg.tiers;
    let tier = if t.block.is_some_and(|x| score >= x) {
        Tier::Block
    } else if t.throttle.is_some_and(|x| score >= x) {
        Tier::Throttle
    } else if t.degrade.is_some_and(|x| score >= x) {
        Tier::Degrade
    } else if t.tag.is_some_and(|x| score >= x) {
        Tier::Tag
    } else {
        Tier::None
    };
    let sticky = if profile.sticky_until_ms > now_ms { Tier::from_u8(profile.sticky_tier) } else { Tier::None };
    let effective = tier.max(sticky);
    if tier != Tier::None && tier >= sticky {
        profile.sticky_tier = tier as u8;
        profile.sticky_until_ms = now_ms + cfg.cooldown_ms;
    }
    profile.last_score = score;
    Assessment { score, tier, effective, reasons }
}
