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

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use crate::campaign::CampaignView;
use crate::ledger::Record;
use crate::policy::{PolicyError, Window};
use crate::profile::Profile;
use crate::shape::{Phrases, ShapeConfig, ShapeSignal};

/// Every scored signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detector {
    /// Share of requests asking for logprobs.
    Logprobs,
    /// Share with logit_bias.
    LogitBias,
    /// Share with n > 1.
    MultipleSamples,
    /// Share with echo.
    Echo,
    /// Share coercing chain-of-thought.
    ChainOfThought,
    /// Share of grading / judge prompts.
    Rubric,
    /// Share framed as synthetic-data generation.
    SyntheticData,
    /// Share probing identity or the system prompt.
    Probe,
    /// Share asking for near-maximum output.
    MaxTokensHigh,
    /// Output tokens far above input tokens.
    OutputHeavy,
    /// The credential's template is sent by many credentials.
    CampaignTemplate,
    /// The credential's (long) system prompt is sent by many credentials.
    CampaignSystemPrompt,
    /// One template dominates, with distinct fillings.
    TemplateConcentration,
    /// Share of single-turn requests.
    SingleTurn,
    /// Regular inter-arrival times.
    CadenceRegular,
    /// Active most hours of the day.
    RoundTheClock,
    /// Requests per hour.
    Volume,
    /// An established credential moving its traffic to a newly launched (watched) model.
    ModelPivot,
}

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 18] = [
        Detector::Logprobs,
        Detector::LogitBias,
        Detector::MultipleSamples,
        Detector::Echo,
        Detector::ChainOfThought,
        Detector::Rubric,
        Detector::SyntheticData,
        Detector::Probe,
        Detector::MaxTokensHigh,
        Detector::OutputHeavy,
        Detector::CampaignTemplate,
        Detector::CampaignSystemPrompt,
        Detector::TemplateConcentration,
        Detector::SingleTurn,
        Detector::CadenceRegular,
        Detector::RoundTheClock,
        Detector::Volume,
        Detector::ModelPivot,
    ];

    /// Name in the policy and in `x-distill-signals`.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Logprobs => "logprobs",
            Detector::LogitBias => "logit_bias",
            Detector::MultipleSamples => "multiple_samples",
            Detector::Echo => "echo",
            Detector::ChainOfThought => "chain_of_thought",
            Detector::Rubric => "rubric",
            Detector::SyntheticData => "synthetic_data",
            Detector::Probe => "probe",
            Detector::MaxTokensHigh => "max_tokens_high",
            Detector::OutputHeavy => "output_heavy",
            Detector::CampaignTemplate => "campaign_template",
            Detector::CampaignSystemPrompt => "campaign_system_prompt",
            Detector::TemplateConcentration => "template_concentration",
            Detector::SingleTurn => "single_turn",
            Detector::CadenceRegular => "cadence_regular",
            Detector::RoundTheClock => "round_the_clock",
            Detector::Volume => "volume",
            Detector::ModelPivot => "model_pivot",
        }
    }

    /// The scoring group of the signal.
    pub fn group(self) -> Group {
        match self {
            Detector::Logprobs
            | Detector::LogitBias
            | Detector::MultipleSamples
            | Detector::Echo
            | Detector::ChainOfThought
            | Detector::Rubric
            | Detector::SyntheticData => Group::StrongIntent,
            Detector::OutputHeavy | Detector::MaxTokensHigh | Detector::Probe | Detector::ModelPivot => {
                Group::WeakIntent
            }
            Detector::TemplateConcentration
            | Detector::SingleTurn
            | Detector::CadenceRegular
            | Detector::RoundTheClock
            | Detector::Volume
            | Detector::CampaignTemplate
            | Detector::CampaignSystemPrompt => Group::Automation,
        }
    }

    /// Default weight.
    pub fn default_weight(self) -> f32 {
        match self {
            Detector::Logprobs => 0.6,
            Detector::LogitBias => 0.9,
            Detector::MultipleSamples => 0.3,
            Detector::Echo => 0.5,
            Detector::ChainOfThought => 0.55,
            Detector::Rubric => 0.55,
            Detector::SyntheticData => 0.6,
            Detector::Probe => 0.4,
            Detector::MaxTokensHigh => 0.15,
            Detector::OutputHeavy => 0.5,
            Detector::CampaignTemplate => 0.5,
            Detector::CampaignSystemPrompt => 0.5,
            Detector::TemplateConcentration => 0.5,
            Detector::SingleTurn => 0.1,
            Detector::CadenceRegular => 0.35,
            Detector::RoundTheClock => 0.25,
            Detector::Volume => 0.3,
            Detector::ModelPivot => 0.3,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// How a signal enters the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// After the model's knowledge, unambiguously.
    StrongIntent,
    /// Suspicious, but common in honest use.
    WeakIntent,
    /// A script or a farm of keys is sending it.
    Automation,
}

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

/// Score thresholds of each tier (`None` disables the tier).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiers {
    /// Tag at or above.
    pub tag: Option<f32>,
    /// Degrade at or above.
    pub degrade: Option<f32>,
    /// Throttle at or above.
    pub throttle: Option<f32>,
    /// Block at or above.
    pub block: Option<f32>,
}

/// How degraded requests are rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DegradeConfig {
    /// Remove `logprobs`, `top_logprobs` (and logprob `include`s).
    pub strip_logprobs: bool,
    /// Remove `logit_bias`.
    pub strip_logit_bias: bool,
    /// Clamp `n` / `best_of` to this.
    pub max_n: Option<u64>,
    /// Cap `max_tokens` (and its aliases) to this.
    pub max_tokens: Option<u64>,
    /// Header (name, value) set on degraded requests so an Envoy route can send them elsewhere.
    pub route_header: Option<(String, String)>,
}

/// Cross-credential detection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignConfig {
    /// On or off.
    pub enabled: bool,
    /// Table slots in shared data.
    pub slots: u64,
    /// Window in seconds.
    pub window_s: u64,
    /// Distinct credentials at which the signal is full strength (half strength at half of it).
    pub min_credentials: f32,
    /// Words a prompt skeleton needs to be a template.
    pub min_template_words: u32,
    /// Words a system prompt needs to count.
    pub min_system_prompt_words: u32,
    /// Fingerprints (16 hex digits, as in `x-distill-template`) never treated as campaigns.
    pub allow_fingerprints: BTreeSet<u64>,
}

/// Where detection applies (empty lists: everywhere).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectionScope {
    /// Path prefixes.
    pub path_prefixes: Vec<String>,
    /// Model name prefixes.
    pub models: Vec<String>,
    /// Tenants.
    pub tenants: Vec<String>,
}

impl DetectionScope {
    /// True when a request is in scope.
    pub fn covers(&self, path: &str, model: Option<&str>, tenant: Option<&str>) -> bool {
        (self.path_prefixes.is_empty() || self.path_prefixes.iter().any(|p| path.starts_with(p.as_str())))
            && (self.models.is_empty() || model.is_some_and(|m| self.models.iter().any(|p| m.starts_with(p.as_str()))))
            && (self.tenants.is_empty() || tenant.is_some_and(|t| self.tenants.iter().any(|x| x == t)))
    }
}

/// The validated `detection` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionConfig {
    /// On or off.
    pub enabled: bool,
    /// Report but do not enforce detection verdicts.
    pub shadow: bool,
    /// Name the verdict's reasons in refusal bodies (debugging only; off: a generic message).
    pub reveal_reasons: bool,
    /// Half-life of behaviour counts.
    pub half_life_ms: u64,
    /// Recent requests before behaviour signals reach full strength.
    pub min_requests: f32,
    /// Shape analysis settings.
    pub shape: ShapeConfig,
    /// Weight per detector (by index).
    pub weights: [f32; 18],
    /// Tier thresholds.
    pub tiers: Tiers,
    /// How long a reached tier holds after the score drops.
    pub cooldown_ms: u64,
    /// Output/input ratio at which `output_heavy` is full strength (it starts at 1.5).
    pub output_ratio_high: f32,
    /// Requests per hour at which `volume` is full strength.
    pub volume_high_per_hour: f32,
    /// Requests per minute a throttled credential keeps.
    pub throttle_requests_per_minute: u64,
    /// Campaign settings.
    pub campaign: CampaignConfig,
    /// Degrade settings.
    pub degrade: DegradeConfig,
    /// Scope.
    pub scope: DetectionScope,
    /// Header carrying the request time in ms (traffic simulation only; never set it in production).
    pub clock_header: Option<String>,
}

impl DetectionConfig {
    /// Weight of a detector.
    pub fn weight(&self, d: Detector) -> f32 {
        self.weights.get(d.index()).copied().unwrap_or(0.0)
    }
}

fn list(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The shipped phrase lists (lower case, matched against masked text where digits are `#`).
pub fn default_phrases() -> Phrases {
    Phrases {
        chain_of_thought: list(&[
            "step by step",
            "step-by-step",
            "show your reasoning",
            "show your work",
            "show all your work",
            "explain your reasoning",
            "explain each step",
            "full reasoning",
            "reasoning process",
            "chain of thought",
            "chain-of-thought",
            "<think>",
            "think aloud",
            "walk me through",
            "walk through your",
            "detailed reasoning",
            "reason through",
            "reason it out",
            "thought process",
            "intermediate steps",
            "every step",
            "show the steps",
            "detailed solution",
            "derivation",
            "一步一步",
            "逐步",
            "推理过程",
            "解题过程",
            "思考过程",
            "详细推理",
            "分步",
            "详细解释",
        ]),
        rubric: list(&[
            "rubric",
            "grade the",
            "grade this",
            "score the",
            "rate the following",
            "rate this response",
            "on a scale of #",
            "on a scale from #",
            "as a judge",
            "as an impartial judge",
            "evaluate the response",
            "evaluate the following response",
            "which response is better",
            "compare the two responses",
            "assign a score",
            "score from # to #",
            "评分",
            "打分",
            "评判",
            "评估以下",
        ]),
        synthetic_data: list(&[
            "training data",
            "training examples",
            "synthetic data",
            "synthetic examples",
            "diverse examples",
            "generate # examples",
            "generate # diverse",
            "generate # questions",
            "generate # pairs",
            "jsonl",
            "fine-tuning",
            "fine tuning",
            "finetuning",
            "instruction-response pairs",
            "question-answer pairs",
            "dataset of",
            "训练数据",
            "数据集",
            "合成数据",
            "生成#条",
        ]),
        probe: list(&[
            "system prompt",
            "your instructions",
            "ignore previous instructions",
            "ignore all previous",
            "what model are you",
            "which model are you",
            "who created you",
            "who trained you",
            "what is your training",
            "your training data",
            "repeat the text above",
            "repeat everything above",
            "your knowledge cutoff",
            "你是谁",
            "你是什么模型",
            "系统提示",
        ]),
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPhrases {
    #[serde(default)]
    chain_of_thought: Option<Vec<String>>,
    #[serde(default)]
    rubric: Option<Vec<String>>,
    #[serde(default)]
    synthetic_data: Option<Vec<String>>,
    #[serde(default)]
    probe: Option<Vec<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTiers {
    #[serde(default, deserialize_with = "double_option")]
    tag: Option<Option<f32>>,
    #[serde(default, deserialize_with = "double_option")]
    degrade: Option<Option<f32>>,
    #[serde(default, deserialize_with = "double_option")]
    throttle: Option<Option<f32>>,
    #[serde(default, deserialize_with = "double_option")]
    block: Option<Option<f32>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    slots: Option<u64>,
    #[serde(default)]
    window_minutes: Option<u64>,
    #[serde(default)]
    min_credentials: Option<f32>,
    #[serde(default)]
    min_template_words: Option<u32>,
    #[serde(default)]
    min_system_prompt_words: Option<u32>,
    #[serde(default)]
    allow_fingerprints: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDegrade {
    #[serde(default)]
    strip_logprobs: Option<bool>,
    #[serde(default)]
    strip_logit_bias: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    max_n: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    max_tokens: Option<Option<u64>>,
    #[serde(default)]
    route_header: Option<String>,
    #[serde(default)]
    route_value: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default)]
    path_prefixes: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    tenants: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDetection {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    shadow: bool,
    #[serde(default)]
    reveal_reasons: bool,
    #[serde(default)]
    half_life_minutes: Option<u64>,
    #[serde(default)]
    min_requests: Option<f32>,
    #[serde(default)]
    max_tokens_high: Option<u64>,
    #[serde(default)]
    watched_models: Vec<String>,
    #[serde(default)]
    phrases: RawPhrases,
    #[serde(default)]
    weights: serde_json::Map<String, Value>,
    #[serde(default)]
    tiers: RawTiers,
    #[serde(default)]
    cooldown_minutes: Option<u64>,
    #[serde(default)]
    output_ratio_high: Option<f32>,
    #[serde(default)]
    volume_high_per_hour: Option<f32>,
    #[serde(default)]
    throttle_requests_per_minute: Option<u64>,
    #[serde(default)]
    campaign: RawCampaign,
    #[serde(default)]
    degrade: RawDegrade,
    #[serde(default)]
    scope: RawScope,
    #[serde(default)]
    clock_header: Option<String>,
}

fn err(path: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError { path: path.to_string(), reason: reason.into() }
}

fn unit(v: f32, path: &str) -> Result<f32, PolicyError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(err(path, "must be between 0 and 1"))
    }
}

fn phrases(raw: Option<Vec<String>>, default: Vec<String>, path: &str) -> Result<Vec<String>, PolicyError> {
    let Some(list) = raw else { return Ok(default) };
    for (i, p) in list.iter().enumerate() {
        if p.trim().is_empty() {
            return Err(err(&format!("{path}[{i}]"), "must not be empty"));
        }
    }
    Ok(list.into_iter().map(|p| crate::shape::mask(&p)).collect())
}

impl DetectionConfig {
    /// Parses the `detection` section (`None`: defaults).
    pub fn parse(value: Option<&Value>) -> Result<DetectionConfig, PolicyError> {
        let raw: RawDetection = match value {
            Some(v) => RawDetection::deserialize(v).map_err(|e| err("detection", e.to_string()))?,
            None => RawDetection::default(),
        };
        let defaults = default_phrases();
        let shape = ShapeConfig::new(
            Phrases {
                chain_of_thought: phrases(
                    raw.phrases.chain_of_thought,
                    defaults.chain_of_thought,
                    "detection.phrases.chain_of_thought",
                )?,
                rubric: phrases(raw.phrases.rubric, defaults.rubric, "detection.phrases.rubric")?,
                synthetic_data: phrases(
                    raw.phrases.synthetic_data,
                    defaults.synthetic_data,
                    "detection.phrases.synthetic_data",
                )?,
                probe: phrases(raw.phrases.probe, defaults.probe, "detection.phrases.probe")?,
            },
            raw.max_tokens_high.unwrap_or(8192),
            raw.watched_models,
        );
        for (i, m) in shape.watched_models.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(err(&format!("detection.watched_models[{i}]"), "must not be empty"));
            }
        }
        let mut weights = [0f32; 18];
        for d in Detector::ALL {
            if let Some(w) = weights.get_mut(d.index()) {
                *w = d.default_weight();
            }
        }
        for (name, v) in &raw.weights {
            let path = format!("detection.weights.{name}");
            let d = Detector::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Detector::ALL.iter().map(|d| d.name()).collect();
                err(&path, format!("unknown signal, expected one of {}", names.join(", ")))
            })?;
            let w = v.as_f64().ok_or_else(|| err(&path, "expected a number"))? as f32;
            if let Some(slot) = weights.get_mut(d.index()) {
                *slot = unit(w, &path)?;
            }
        }
        let tier = |v: Option<Option<f32>>, default: f32, path: &str| -> Result<Option<f32>, PolicyError> {
            match v {
                None => Ok(Some(default)),
                Some(None) => Ok(None),
                Some(Some(x)) => unit(x, path).map(Some),
            }
        };
        let tiers = Tiers {
            tag: tier(raw.tiers.tag, 0.35, "detection.tiers.tag")?,
            degrade: tier(raw.tiers.degrade, 0.55, "detection.tiers.degrade")?,
            throttle: tier(raw.tiers.throttle, 0.7, "detection.tiers.throttle")?,
            block: tier(raw.tiers.block, 0.9, "detection.tiers.block")?,
        };
        let ordered: Vec<f32> = [tiers.tag, tiers.degrade, tiers.throttle, tiers.block].into_iter().flatten().collect();
        if ordered.windows(2).any(|w| matches!(w, [a, b] if a > b)) {
            return Err(err("detection.tiers", "thresholds must not decrease from tag to block"));
        }
        let half_life = raw.half_life_minutes.unwrap_or(360);
        if half_life == 0 || half_life > 7 * 24 * 60 {
            return Err(err("detection.half_life_minutes", "must be between 1 and 10080"));
        }
        let min_requests = raw.min_requests.unwrap_or(8.0);
        if !(1.0..=10_000.0).contains(&min_requests) {
            return Err(err("detection.min_requests", "must be between 1 and 10000"));
        }
        let slots = raw.campaign.slots.unwrap_or(4096);
        if slots == 0 || slots > 1_000_000 {
            return Err(err("detection.campaign.slots", "must be between 1 and 1000000"));
        }
        let window = raw.campaign.window_minutes.unwrap_or(360);
        if window == 0 || window > 7 * 24 * 60 {
            return Err(err("detection.campaign.window_minutes", "must be between 1 and 10080"));
        }
        let mut allow = BTreeSet::new();
        for (i, fp) in raw.campaign.allow_fingerprints.iter().enumerate() {
            let v = u64::from_str_radix(fp, 16)
                .ok()
                .filter(|_| fp.len() == 16)
                .ok_or_else(|| err(&format!("detection.campaign.allow_fingerprints[{i}]"), "expected 16 hex digits"))?;
            allow.insert(v);
        }
        let route_header = match (raw.degrade.route_header, raw.degrade.route_value) {
            (Some(h), v) => {
                if h.is_empty() || !h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                    return Err(err("detection.degrade.route_header", "must be a lower-case header name"));
                }
                Some((h, v.unwrap_or_else(|| "degraded".to_string())))
            }
            (None, Some(_)) => return Err(err("detection.degrade.route_value", "needs route_header")),
            (None, None) => None,
        };
        if let Some(h) = &raw.clock_header {
            if h.is_empty() || !h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(err("detection.clock_header", "must be a lower-case header name"));
            }
        }
        let ratio = raw.output_ratio_high.unwrap_or(4.0);
        if !(1.6..=1000.0).contains(&ratio) {
            return Err(err("detection.output_ratio_high", "must be between 1.6 and 1000"));
        }
        Ok(DetectionConfig {
            enabled: raw.enabled.unwrap_or(true),
            shadow: raw.shadow,
            reveal_reasons: raw.reveal_reasons,
            half_life_ms: half_life * 60_000,
            min_requests,
            shape,
            weights,
            tiers,
            cooldown_ms: raw.cooldown_minutes.unwrap_or(60) * 60_000,
            output_ratio_high: ratio,
            volume_high_per_hour: raw.volume_high_per_hour.unwrap_or(600.0).max(1.0),
            throttle_requests_per_minute: raw.throttle_requests_per_minute.unwrap_or(6),
            campaign: CampaignConfig {
                enabled: raw.campaign.enabled.unwrap_or(true),
                slots,
                window_s: window * 60,
                min_credentials: raw.campaign.min_credentials.unwrap_or(8.0).max(2.0),
                min_template_words: raw.campaign.min_template_words.unwrap_or(6),
                min_system_prompt_words: raw.campaign.min_system_prompt_words.unwrap_or(20),
                allow_fingerprints: allow,
            },
            degrade: DegradeConfig {
                strip_logprobs: raw.degrade.strip_logprobs.unwrap_or(true),
                strip_logit_bias: raw.degrade.strip_logit_bias.unwrap_or(true),
                max_n: raw.degrade.max_n.unwrap_or(Some(1)),
                max_tokens: raw.degrade.max_tokens.unwrap_or(Some(1024)),
                route_header,
            },
            scope: DetectionScope {
                path_prefixes: raw.scope.path_prefixes,
                models: raw.scope.models,
                tenants: raw.scope.tenants,
            },
            clock_header: raw.clock_header,
        })
    }
}

/// What the campaign table said about this request's fingerprints.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CampaignEvidence {
    /// The user-prompt template, if tracked and this credential's traffic is dominated by it.
    pub template: Option<CampaignView>,
    /// The system prompt, if tracked and long enough.
    pub system_prompt: Option<CampaignView>,
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
) -> [f32; 18] {
    let evidence = (profile.requests / cfg.min_requests).clamp(0.0, 1.0);
    let mut s = [0f32; 18];
    let mut set = |d: Detector, v: f32| {
        if let Some(x) = s.get_mut(d as usize) {
            *x = v.clamp(0.0, 1.0);
        }
    };
    for (d, sig) in [
        (Detector::Logprobs, ShapeSignal::Logprobs),
        (Detector::LogitBias, ShapeSignal::LogitBias),
        (Detector::MultipleSamples, ShapeSignal::MultipleSamples),
        (Detector::Echo, ShapeSignal::Echo),
        (Detector::ChainOfThought, ShapeSignal::ChainOfThought),
        (Detector::Rubric, ShapeSignal::Rubric),
        (Detector::SyntheticData, ShapeSignal::SyntheticData),
        (Detector::Probe, ShapeSignal::Probe),
        (Detector::MaxTokensHigh, ShapeSignal::MaxTokensHigh),
        (Detector::SingleTurn, ShapeSignal::SingleTurn),
    ] {
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
    set(Detector::Volume, record.estimate(Window::Hour, now_ms).requests as f32 / cfg.volume_high_per_hour);
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
