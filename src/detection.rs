//! Distillation detection: the scoring that turns a credential's profile, its ledger windows and the
//! campaign sketches into a score in [0, 1] and a graded tier (the `detection` policy section is
//! compiled in `policy/detection.rs`).
//!
//! Signals fall in three groups. *Intent* says the traffic is after the model's knowledge: logprobs,
//! logit bias, several samples, echo, and what the prompt asks for (chain of thought, rubrics,
//! synthetic data, probes: a listed phrase or the intent model). *Weak intent* is value being
//! extracted, but common in honest use: output much longer than input, near-maximum `max_tokens`, a
//! pivot to a newly launched model. *Automation* says a script (or a farm of keys) is sending it: one
//! template, single turns, a regular cadence, round-the-clock activity, volume, one template or system
//! prompt shared across many credentials (the last two are also *cross-credential evidence*, C). Each
//! signal has a strength in [0, 1] and a weight; each group combines as a noisy-OR (S, W, A), and
//!
//! ```text
//! I     = min(1, (1 - (1 - S) * (1 - W)) / INTENT_CLEAR)
//! full  = 1 - (1 - S) * (1 - W * (0.4 + 0.6 * A)) * (1 - A * (0.3 + 0.7 * I))
//! g     = ramp(max(S, C), EVIDENCE_FROM, EVIDENCE_FULL)
//! score = g * full + (1 - g) * min(full, BEHAVIOUR_ONLY_CAP)
//! ```
//!
//! so without intent or cross-credential evidence nothing reaches the tag tier (a product key with
//! many end users is output-heavy and automated, but not extracting), and automation multiplies
//! intent. Every behavioural signal accounts for how much it has seen: shares are their lower 95%
//! confidence bound ([`share_lower_bound`]), the output ratio and the cadence ramp in with the number
//! of observations.

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
    /// The template's cohort intent share (this replica's campaign sketch): of the distinct prompts
    /// filled into it by every credential, the share with text intent.
    pub template_intent: f32,
    /// The same for the system prompt.
    pub system_prompt_intent: f32,
    /// The template's distinct credentials tagged while it dominated their traffic (this replica's
    /// campaign sketch, [`crate::campaign::CampaignSlot::tagged`]).
    pub template_tagged: f32,
    /// The same for the system prompt.
    pub system_prompt_tagged: f32,
    /// The user prompt's closing words ([`crate::shape::closing`]), if tracked and this credential's
    /// traffic is dominated by them: a template whose fixed text follows the filled-in part. Its
    /// campaign counts only credentials whose traffic it dominated, and their prompts.
    pub closing: Option<CampaignView>,
    /// The closing's cohort intent share, as `template_intent`.
    pub closing_intent: f32,
    /// The closing's tagged credentials, as `template_tagged`.
    pub closing_tagged: f32,
}

impl CampaignEvidence {
    /// The user prompt's template as a campaign: its strength ([`campaign_strength`]), view, intent
    /// share and tagged credentials, from the opening skeleton or from the closing words, whichever
    /// is the stronger (the one that dominates the credential's traffic; at most one does). A
    /// closing's campaign counts only the credentials whose traffic it dominated.
    pub fn user_template(&self, min_credentials: f32) -> (f32, Option<CampaignView>, f32, f32) {
        let opening = campaign_strength(self.template, min_credentials);
        let closing = campaign_strength(self.closing, min_credentials);
        if closing > opening {
            (closing, self.closing, self.closing_intent, self.closing_tagged)
        } else {
            (opening, self.template, self.template_intent, self.template_tagged)
        }
    }
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

/// One-sided z of the confidence bounds (95%).
const Z: f32 = 1.645;
/// Requests (decayed) before `output_heavy` is at full strength: the day's output/input ratio of a few
/// long answers says little.
pub const OUTPUT_FULL_REQUESTS: f32 = 24.0;
/// Gaps before `cadence_regular` can matter at all, and at which it is at full strength: the spread of
/// a dozen human gaps is noise, not evidence of a metronome.
pub const CADENCE_MIN_GAPS: f32 = 30.0;
/// See [`CADENCE_MIN_GAPS`].
pub const CADENCE_FULL_GAPS: f32 = 60.0;

/// The lower end of the one-sided 95% Wilson score interval of a share of `hits` in `n` (decayed)
/// observations: what the share is at least, given how much was seen. 0 with nothing seen; with one
/// observation it is at most 0.27, with 8 at most 0.75, with 30 at most 0.92.
pub fn share_lower_bound(hits: f32, n: f32) -> f32 {
    if n <= 0.0 || hits <= 0.0 {
        return 0.0;
    }
    wilson(hits, n, -1.0)
}

/// The end of the one-sided 95% Wilson score interval of `hits` in `n > 0` on the side of `sign`
/// (-1 lower, +1 upper).
fn wilson(hits: f32, n: f32, sign: f32) -> f32 {
    let p = (hits / n).clamp(0.0, 1.0);
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let margin = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + sign * margin) / (1.0 + z2 / n)).clamp(0.0, 1.0)
}

/// The upper end of the same one-sided 95% Wilson interval as [`share_lower_bound`]: what the share
/// of `hits` in `n` observations can be at most. 1 with nothing seen; with no hit in 5 observations
/// it is about 0.35, in 10 about 0.21.
pub fn share_upper_bound(hits: f32, n: f32) -> f32 {
    if n <= 0.0 {
        return 1.0;
    }
    wilson(hits, n, 1.0)
}

/// The strength in [0, 1] of every detector for a credential right now. Every behavioural signal
/// accounts for how much it has seen: shares are the lower confidence bound of the share, ratios and
/// the cadence ramp in with the number of observations (DETECTION.md lists what each needs).
pub fn strengths(
    cfg: &DetectionConfig,
    profile: &Profile,
    record: &Record,
    campaign: &CampaignEvidence,
    now_ms: u64,
) -> [f32; Detector::COUNT] {
    let evidence = (profile.requests / cfg.min_requests).clamp(0.0, 1.0);
    let n = profile.requests;
    let mut s = [0f32; Detector::COUNT];
    let mut set = |d: Detector, v: f32| {
        if let Some(x) = s.get_mut(d as usize) {
            *x = v.clamp(0.0, 1.0);
        }
    };
    for &(d, sig) in Detector::SHARES {
        set(d, share_lower_bound(profile.signals.get(sig.index()).copied().unwrap_or(0.0), n));
    }
    let day = record.window(Window::Day);
    let (input, output) =
        ((day.current.input + day.previous.input) as f32, (day.current.output + day.previous.output) as f32);
    if input > 0.0 {
        let seen = (n / OUTPUT_FULL_REQUESTS).clamp(0.0, 1.0);
        set(Detector::OutputHeavy, ramp(output / input, 1.5, cfg.output_ratio_high) * seen);
    }
    let top = profile.templates.first().map_or(0.0, |t| t.1);
    let distinct = 1.0 - profile.repeat_share();
    set(Detector::TemplateConcentration, ramp(share_lower_bound(top, n), 0.3, 0.8) * distinct);
    if let Some(cv) = profile.cadence_cv() {
        let seen = ramp(profile.gaps, CADENCE_MIN_GAPS, CADENCE_FULL_GAPS);
        set(Detector::CadenceRegular, ramp(1.0 - cv, 0.2, 0.8) * seen);
    }
    set(Detector::RoundTheClock, ramp(profile.hours_active(now_ms) as f32, 12.0, 20.0));
    let hour = record.estimate(Window::Hour, now_ms).requests as f32;
    let hour = hour.max(campaign.fleet_requests_hour.unwrap_or(0) as f32);
    set(Detector::Volume, hour / cfg.volume_high_per_hour);
    if profile.history_at_pivot > 0.0 {
        let history = ramp(profile.history_at_pivot, cfg.min_requests / 2.0, cfg.min_requests);
        set(Detector::ModelPivot, profile.share(ShapeSignal::WatchedModel) * history * evidence);
    }
    let (template, _, _, _) = campaign.user_template(cfg.campaign.min_credentials);
    set(Detector::CampaignTemplate, template * form_fill(profile) * evidence);
    set(
        Detector::CampaignSystemPrompt,
        campaign_strength(campaign.system_prompt, cfg.campaign.min_credentials) * evidence,
    );
    set(Detector::CampaignConfirmed, confirmed_campaign(cfg, profile, campaign));
    s
}

/// The single-turn share of a credential's requests from which a user-prompt template shared across
/// credentials starts to count against it as a campaign, and the share at which it counts fully
/// ([`form_fill`]).
pub const FORM_FILL_FROM: f32 = 0.5;
/// See [`FORM_FILL_FROM`].
pub const FORM_FILL_FULL: f32 = 0.9;

/// How far a credential's traffic is *form filling* (sixth round): the share of its requests that are
/// single turns, `ramp(share, FORM_FILL_FROM, FORM_FILL_FULL)`. A user-prompt template shared by many
/// keys (`campaign_template`, and the cohort intent and confirmed campaign of the template) counts
/// against a key in this proportion. A farm fills its template in fresh requests, one after another;
/// students pasting puzzles of one public set into a conversation, following up with "why?" and "where
/// did the 3 come from", hold conversations: the puzzle's wording is a template they share, and what
/// they send is a dialogue, not a form. The system prompt's campaign (with a few-shot first exchange
/// folded in) is not scaled: its framing is fixed whatever the history.
pub fn form_fill(profile: &Profile) -> f32 {
    ramp(profile.share(ShapeSignal::SingleTurn), FORM_FILL_FROM, FORM_FILL_FULL)
}

/// The share of a campaign's credentials that must have been tagged before it counts as confirmed,
/// and the share at which it counts fully (with at least `campaign.min_credentials` tagged).
pub const CONFIRMED_SHARE_FROM: f32 = 0.4;
/// See [`CONFIRMED_SHARE_FROM`].
pub const CONFIRMED_SHARE_FULL: f32 = 0.7;
/// A credential's requests (decayed) on a confirmed campaign before it counts fully: the first
/// request counts half.
pub const CONFIRMED_FULL_REQUESTS: f32 = 2.0;

/// **A confirmed campaign.** When many credentials of one campaign (a template or system prompt
/// filled by many keys with many distinct prompts, [`campaign_strength`]) have each been tagged while
/// it dominated their traffic — at least half of `campaign.min_credentials` (4) to start, all of it
/// (8) in full — and they are most of the campaign's credentials (share from
/// [`CONFIRMED_SHARE_FROM`] to [`CONFIRMED_SHARE_FULL`]), the campaign itself is evidence of intent,
/// and a key sending it carries that evidence after its first requests, however fresh it is: a farm
/// spreads itself over keys so that none sends enough to show its intent alone. Strength
/// `ramp(tagged, m/2, m) × ramp(tagged / credentials, 0.4, 0.7) × campaign strength ×
/// min(1, n / 2)`, the larger of template and system prompt. A product's shared template or system
/// prompt, whose users are not tagged (or a few of many), gives nothing.
pub fn confirmed_campaign(cfg: &DetectionConfig, profile: &Profile, campaign: &CampaignEvidence) -> f32 {
    let m = cfg.campaign.min_credentials;
    let one = |strength: f32, view: Option<CampaignView>, tagged: f32| match view {
        Some(v) if v.credentials > 0.0 => {
            ramp(tagged, m / 2.0, m)
                * ramp(tagged / v.credentials, CONFIRMED_SHARE_FROM, CONFIRMED_SHARE_FULL)
                * strength
        }
        _ => 0.0,
    };
    let seen = (profile.requests / CONFIRMED_FULL_REQUESTS).clamp(0.0, 1.0);
    let (strength, template, _, tagged) = campaign.user_template(m);
    let strength = strength * form_fill(profile);
    let system = campaign_strength(campaign.system_prompt, m);
    one(strength, template, tagged).max(one(system, campaign.system_prompt, campaign.system_prompt_tagged)) * seen
}

/// The cohort's intent share below which it is no evidence (an intent model reading one ordinary
/// prompt in a hundred as an attack leaves a shared product template at about 0.01), and the share at
/// which it counts fully.
pub const COHORT_INTENT_FROM: f32 = 0.15;
/// See [`COHORT_INTENT_FROM`].
pub const COHORT_INTENT_FULL: f32 = 0.6;
/// The reason name of cohort intent in `x-distill-signals` and the log.
pub const COHORT_INTENT: &str = "campaign_intent";

/// Text intent a credential inherits from its cohort: when a template (or system prompt) is filled
/// by many credentials with many distinct prompts (a campaign, [`campaign_strength`]), and a clear
/// share of those prompts carried text intent (the share's lower confidence bound), each credential
/// of the campaign carries that intent however few requests it sent itself (a farm of fresh keys
/// sends a handful each). It stands in for the credential's own text intent where that is weaker; it
/// does not add to it. Strength in
/// [0, 1]: `ramp(share, FROM, FULL) × campaign strength × min(1, n / min_requests)`, the larger of
/// template and system prompt. A campaign without intent (a product's template) gives nothing.
pub fn cohort_intent(cfg: &DetectionConfig, profile: &Profile, campaign: &CampaignEvidence) -> f32 {
    let evidence = (profile.requests / cfg.min_requests).clamp(0.0, 1.0);
    let m = cfg.campaign.min_credentials;
    // The cohort's share stands in for the credential's own at most up to what the credential's own
    // requests still allow (sixth round): a key whose own prompts asked for nothing in 5 requests has
    // a text-intent share of at most 0.35, in 10 at most 0.21, however much the others sending the
    // same template ask. Students pasting one puzzle format, a few of whom add "explain step by step",
    // are not the ones who asked; a farm key's own prompts carry its farm's intent.
    let own = [ShapeSignal::ChainOfThought, ShapeSignal::Rubric, ShapeSignal::SyntheticData, ShapeSignal::Probe]
        .into_iter()
        .map(|sig| profile.signals.get(sig.index()).copied().unwrap_or(0.0))
        .fold(0.0f32, f32::max);
    let allowed = share_upper_bound(own, profile.requests);
    let one = |strength: f32, share: f32| ramp(share.min(allowed), COHORT_INTENT_FROM, COHORT_INTENT_FULL) * strength;
    let (strength, _, intent, _) = campaign.user_template(m);
    let strength = strength * form_fill(profile);
    let system = campaign_strength(campaign.system_prompt, m);
    one(strength, intent).max(one(system, campaign.system_prompt_intent)) * evidence
}

/// The cohort intent share (the lower bound of a campaign's distinct prompts with text intent) below
/// which a campaign is no evidence at all ([`cross_credential`]): the intent model's noise on a
/// product's or an app's ordinary prompts. From it, the campaign's evidence grows until the share
/// reaches [`COHORT_INTENT_FROM`].
pub const CROSS_COHORT_FROM: f32 = 0.02;

/// **Cross-credential evidence** of one campaign signal of weighted strength `c` whose campaign's
/// prompts carry text intent at share `cohort_share` ([`cohort_intent`]'s share): coordination across
/// keys says how traffic is sent, and only with some intent in what is sent is it evidence that lifts
/// the behaviour-only cap. Ten installations of one code-review app (one system prompt, one "review
/// this diff" template, long reviews), many students of one homework app, the users of a chat front
/// end: many keys, one template, nothing asked beyond the task, and so nothing to tag on. A farm's
/// template asks for what it harvests on a clear share of its prompts, even reworded (the intent
/// model reads a share of them). `c × ramp(share, CROSS_COHORT_FROM, COHORT_INTENT_FROM)`.
pub fn cross_credential(c: f32, cohort_share: f32) -> f32 {
    c * ramp(cohort_share, CROSS_COHORT_FROM, COHORT_INTENT_FROM)
}

/// The intent strength (`1 - (1 - S)(1 - W)`) from which automation multiplies it fully.
pub const INTENT_CLEAR: f32 = 0.35;

/// The group strength of intent (`S`) or cross-credential evidence (`C`) at which the score is no
/// longer capped below the tag threshold.
pub const EVIDENCE_FULL: f32 = 0.2;
/// The group strength of intent or cross-credential evidence below which it does not lift the cap at
/// all: a few percent of a product's queries read as intent by the model (a lower bound of 0.02-0.04
/// times the weight) is the model's noise, not evidence.
pub const EVIDENCE_FROM: f32 = 0.05;
/// The highest score without any intent or cross-credential evidence (under the default tag, 0.35).
pub const BEHAVIOUR_ONLY_CAP: f32 = 0.3;

/// The score from the group strengths and the cross-credential strength `cross` (part of
/// `automation` too): [`combine`], capped at [`BEHAVIOUR_ONLY_CAP`] while neither intent nor
/// cross-credential evidence is present, the cap lifting linearly until one of them reaches
/// [`EVIDENCE_FULL`]. Volume, long answers, single turns and a regular cadence alone never tag.
pub fn gated(strong: f32, weak: f32, automation: f32, cross: f32) -> f32 {
    gated_text(strong, 0.0, weak, automation, cross)
}

/// [`gated`] with text intent (a listed phrase or the intent model) apart from parameter intent.
pub fn gated_text(strong: f32, text: f32, weak: f32, automation: f32, cross: f32) -> f32 {
    let full = combine_text(strong, text, weak, automation);
    let g = ramp(strong.max(text).max(cross), EVIDENCE_FROM, EVIDENCE_FULL);
    g * full + (1.0 - g) * full.min(BEHAVIOUR_ONLY_CAP)
}

/// The score from the group strengths (see the module docs).
pub fn combine(strong: f32, weak: f32, automation: f32) -> f32 {
    combine_text(strong, 0.0, weak, automation)
}

/// [`combine`] with text intent `text`: intent evidence like `strong`, but what a person can ask too,
/// so alone it counts [`TEXT_ALONE`] of its strength and automation brings the rest.
pub fn combine_text(strong: f32, text: f32, weak: f32, automation: f32) -> f32 {
    // Intent is clear at INTENT_CLEAR: from there automation multiplies it fully.
    let intent = ((1.0 - (1.0 - strong) * (1.0 - text) * (1.0 - weak)) / INTENT_CLEAR).min(1.0);
    let score = 1.0
        - (1.0 - strong)
            * (1.0 - text * (TEXT_ALONE + (1.0 - TEXT_ALONE) * automation))
            * (1.0 - weak * (0.4 + 0.6 * automation))
            * (1.0 - automation * (0.3 + 0.7 * intent));
    score.clamp(0.0, 1.0)
}

/// The share of text intent's strength that counts without automation.
pub const TEXT_ALONE: f32 = 0.6;

/// The default of `detection.sustained_intent_requests`: requests carrying the credential's own
/// intent (its intent shares' lower confidence bounds, summed, times its requests: the larger of the
/// decayed count and the last two days' requests) before its verdict can go beyond `degrade`: more
/// than a bounded benchmark or evaluation run of a few hundred items sends, well under the thousand
/// requests an attack gets. 0 turns the requirement off (the score alone decides every tier).
pub const SUSTAINED_INTENT_REQUESTS: f32 = 350.0;
/// The share of extraction parameters (`logit_bias`, `echo`) from which they alone are sustained
/// evidence: no honest bounded job needs them on most of its requests.
pub const EXTRACTION_SHARE: f32 = 0.5;
/// The cohort intent ([`cohort_intent`]) from which a campaign of many keys is sustained evidence for
/// a key of it, and the requests (decayed) below which a key counts as one of the campaign's fresh
/// keys: a key that has sent more than this without intent of its own has shown its own behaviour.
pub const FARM_COHORT: f32 = 0.5;
/// See [`FARM_COHORT`].
pub const FARM_KEY_REQUESTS: f32 = 100.0;
/// The key's own intent (the summed shares' lower bounds) a campaign key needs besides its cohort's
/// before it can be throttled: a key that shares a public dataset's item format with a farm but asks
/// for nothing itself (a benchmark run) is not one of the farm's keys.
pub const FARM_OWN_INTENT: f32 = 0.2;

/// The credential's own intent (`logprobs`, `logit_bias`, `echo`, several samples, chain of thought,
/// rubric, synthetic data, probe: the sum of their shares' lower bounds, at most 1) and its requests
/// (the larger of the decayed count and the last two days' requests): their product is the requests
/// that carried its intent, what [`sustained`] and [`escalated`] measure.
pub fn own_intent(profile: &Profile, record: &Record, s: &[f32; Detector::COUNT]) -> (f32, f32) {
    let at = |d: Detector| s.get(d as usize).copied().unwrap_or(0.0);
    let day = record.window(Window::Day);
    let requests = profile.requests.max((day.current.requests + day.previous.requests) as f32);
    let intent = [
        Detector::LogitBias,
        Detector::Echo,
        Detector::Logprobs,
        Detector::MultipleSamples,
        Detector::ChainOfThought,
        Detector::Rubric,
        Detector::SyntheticData,
        Detector::Probe,
    ]
    .into_iter()
    .map(at)
    .sum::<f32>()
    .min(1.0);
    (intent, requests)
}

/// How many times `detection.sustained_intent_requests` a credential's own intent must have been
/// sustained before a `degrade` verdict is raised to `throttle` whatever its score ([`escalated`]).
pub const ESCALATE_SUSTAINED: f32 = 1.5;

/// **Escalation on sustained evidence** (sixth round): a credential whose score holds it at
/// `degrade` (clear intent, human-like pacing: little automation to multiply it) but whose own
/// intent has been sustained over [`ESCALATE_SUSTAINED`] times `detection.sustained_intent_requests`
/// requests (525 by default: every request of a 525-request run, or two in three of a
/// 790-request one) is throttled. A harvester that paces itself like a person still sends its
/// instruction on every request, for as long as it harvests; a person, a bounded evaluation run of a
/// few hundred items or a product whose users now and then ask for steps does not get there (a
/// tutoring product whose persona asks for the working on every answer does, after 525 of them: see
/// Known limits). Off when `sustained_intent_requests` is 0.
pub fn escalated(cfg: &DetectionConfig, profile: &Profile, record: &Record, s: &[f32; Detector::COUNT]) -> bool {
    if cfg.sustained_intent_requests <= 0.0 {
        return false;
    }
    let (intent, requests) = own_intent(profile, record, s);
    intent * requests >= ESCALATE_SUSTAINED * cfg.sustained_intent_requests
}

/// **Sustained evidence**, what a verdict beyond `degrade` (throttle, block) needs besides the
/// score: security products tag fast on evidence and enforce only on evidence that accumulated. One
/// of: extraction parameters on most requests (`logit_bias`, `echo`, share at least
/// [`EXTRACTION_SHARE`]); the credential's own intent (`logprobs`, several samples, chain of thought,
/// rubric, synthetic data, probe, `logit_bias`, `echo`: the sum of their shares' lower bounds, at
/// most 1) over at least `detection.sustained_intent_requests` ([`SUSTAINED_INTENT_REQUESTS`])
/// requests; or, for a key that has sent fewer
/// than [`FARM_KEY_REQUESTS`] with some intent of its own ([`FARM_OWN_INTENT`]), a campaign of many
/// keys whose prompts carry intent (cohort intent at least [`FARM_COHORT`]); or a confirmed campaign
/// when that signal is on. A labelling job, a judge
/// harness whose judging is a quarter of its calls, or a benchmark run that stops after a few hundred
/// items stays at `degrade` at most.
pub fn sustained(
    cfg: &DetectionConfig,
    profile: &Profile,
    record: &Record,
    campaign: &CampaignEvidence,
    s: &[f32; Detector::COUNT],
) -> bool {
    let at = |d: Detector| s.get(d as usize).copied().unwrap_or(0.0);
    if cfg.sustained_intent_requests <= 0.0 {
        return true;
    }
    if at(Detector::LogitBias).max(at(Detector::Echo)) >= EXTRACTION_SHARE {
        return true;
    }
    // A confirmed campaign (opt-in) is itself accumulated evidence: most of its many keys were tagged.
    if cfg.weight(Detector::CampaignConfirmed) > 0.0 && at(Detector::CampaignConfirmed) >= FARM_COHORT {
        return true;
    }
    let (intent, requests) = own_intent(profile, record, s);
    if intent * requests >= cfg.sustained_intent_requests {
        return true;
    }
    profile.requests < FARM_KEY_REQUESTS
        && intent >= FARM_OWN_INTENT
        && cohort_intent(cfg, profile, campaign) >= FARM_COHORT
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
    let (mut keep_strong, mut keep_text, mut keep_weak) = (1.0f32, 1.0f32, 1.0f32);
    let (mut keep_auto, mut keep_cross) = (1.0f32, 1.0f32);
    let mut reasons = Vec::new();
    for d in Detector::ALL {
        let c = cfg.weight(d) * s.get(d as usize).copied().unwrap_or(0.0);
        match d.group() {
            Group::StrongIntent => keep_strong *= 1.0 - c,
            Group::TextIntent => keep_text *= 1.0 - c,
            Group::WeakIntent => keep_weak *= 1.0 - c,
            Group::Automation => keep_auto *= 1.0 - c,
        }
        // Cross-credential evidence, as far as the campaign's own prompts carry intent
        // ([`cross_credential`]).
        let cohort = match d {
            Detector::CampaignTemplate => Some(campaign.user_template(cfg.campaign.min_credentials).2),
            Detector::CampaignSystemPrompt => Some(campaign.system_prompt_intent),
            _ => None,
        };
        if let Some(share) = cohort {
            keep_cross *= 1.0 - cross_credential(c, share);
        }
        if c >= 0.05 {
            reasons.push((d.name(), c));
        }
    }
    // Cohort intent stands in for the credential's own text intent when that is weaker (a fresh key
    // has sent too little to show it): text intent is the larger of the two, not their sum.
    let text_weight = [Detector::ChainOfThought, Detector::Rubric, Detector::SyntheticData, Detector::Probe]
        .into_iter()
        .map(|d| cfg.weight(d))
        .fold(0.0f32, f32::max);
    let cohort = text_weight * cohort_intent(cfg, profile, campaign);
    if cohort > 1.0 - keep_text {
        keep_text = 1.0 - cohort;
        if cohort >= 0.05 {
            reasons.push((COHORT_INTENT, cohort));
        }
    }
    let score = gated_text(1.0 - keep_strong, 1.0 - keep_text, 1.0 - keep_weak, 1.0 - keep_auto, 1.0 - keep_cross);
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
    // Degrade becomes throttle when the credential's own intent was sustained one and a half times over.
    let tier = if tier == Tier::Degrade && t.throttle.is_some() && escalated(cfg, profile, record, &s) {
        Tier::Throttle
    } else {
        tier
    };
    // Beyond degrade only on sustained evidence; otherwise the highest enabled tier up to degrade.
    let tier = if tier > Tier::Degrade && !sustained(cfg, profile, record, campaign, &s) {
        if t.degrade.is_some() {
            Tier::Degrade
        } else if t.tag.is_some() {
            Tier::Tag
        } else {
            Tier::None
        }
    } else {
        tier
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
