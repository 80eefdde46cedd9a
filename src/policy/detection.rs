//! The `detection` section: raw serde structs, validation and defaults (tiers, phrase lists, weights
//! from the signal table), compiled once into [`DetectionConfig`] (phrase index included).

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use super::fields::{check_header, double_option, err, unit};
use super::PolicyError;
use crate::phrases::{PhraseIndex, Phrases};
use crate::signals::Detector;
/// The default of `detection.campaign.slots` (sixth round: 16,384, was 4,096). A fingerprint whose
/// slot is held by another live fingerprint (one sent by two or more credentials) is not counted at
/// all, and an evaluation population of about 3,000 benign credentials a day over three tune splits
/// keeps enough shared templates live (public dataset items, puzzle formats) that a farm's template
/// found its slot taken in some seeds and not in others. Four times the slots make that four times
/// less likely, at 273 bytes a slot (4.5 MB of shared data in all), and cost nothing per request.
pub const DEFAULT_CAMPAIGN_SLOTS: u64 = 16_384;

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

/// The intent model's probability at which it sets an intent signal, by default.
pub const DEFAULT_INTENT_THRESHOLD: f32 = 0.6;

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
    pub weights: [f32; Detector::COUNT],
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
    /// Requests with the credential's own intent before its verdict can go beyond degrade
    /// (`detection::sustained`); 0 lets the score alone reach throttle and block.
    pub sustained_intent_requests: f32,
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
    #[serde(default, deserialize_with = "double_option")]
    intent_threshold: Option<Option<f32>>,
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
    sustained_intent_requests: Option<f32>,
    #[serde(default)]
    campaign: RawCampaign,
    #[serde(default)]
    degrade: RawDegrade,
    #[serde(default)]
    scope: RawScope,
    #[serde(default)]
    clock_header: Option<String>,
}

fn phrases(raw: Option<Vec<String>>, default: Vec<String>, path: &str) -> Result<Vec<String>, PolicyError> {
    let Some(list) = raw else { return Ok(default) };
    for (i, p) in list.iter().enumerate() {
        if p.trim().is_empty() {
            return Err(err(&format!("{path}[{i}]"), "must not be empty"));
        }
    }
    Ok(list.into_iter().map(|p| crate::mask::mask(&p)).collect())
}

impl DetectionConfig {
    /// Parses the `detection` section (`None`: defaults).
    pub fn parse(value: Option<&Value>) -> Result<DetectionConfig, PolicyError> {
        let raw: RawDetection = match value {
            Some(v) => RawDetection::deserialize(v).map_err(|e| err("detection", e.to_string()))?,
            None => RawDetection::default(),
        };
        let defaults = default_phrases();
        let mut shape = ShapeConfig::new(
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
        shape.intent_threshold = match raw.intent_threshold {
            None => Some(DEFAULT_INTENT_THRESHOLD),
            Some(None) => None,
            Some(Some(t)) => Some(unit(t, "detection.intent_threshold")?).filter(|t| *t > 0.0),
        };
        for (i, m) in shape.watched_models.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(err(&format!("detection.watched_models[{i}]"), "must not be empty"));
            }
        }
        let mut weights = [0f32; Detector::COUNT];
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
        let slots = raw.campaign.slots.unwrap_or(DEFAULT_CAMPAIGN_SLOTS);
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
                check_header(&h, "detection.degrade.route_header")?;
                Some((h, v.unwrap_or_else(|| "degraded".to_string())))
            }
            (None, Some(_)) => return Err(err("detection.degrade.route_value", "needs route_header")),
            (None, None) => None,
        };
        if let Some(h) = &raw.clock_header {
            check_header(h, "detection.clock_header")?;
        }
        let sustained_intent_requests = raw.sustained_intent_requests.unwrap_or(350.0);
        if !(0.0..=100_000.0).contains(&sustained_intent_requests) {
            return Err(err("detection.sustained_intent_requests", "must be between 0 and 100000"));
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
            sustained_intent_requests,
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

/// What the shape analysis needs from the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeConfig {
    /// Phrase lists.
    pub phrases: Phrases,
    /// The same, compiled.
    pub index: PhraseIndex,
    /// `max_tokens` at or above this is `max_tokens_high`.
    pub max_tokens_high: u64,
    /// Model name prefixes whose use counts as `watched_model`.
    pub watched_models: Vec<String>,
    /// The intent classifier sets an intent signal when its probability reaches this (`None`: the
    /// classifier is off and only the phrase lists set them).
    pub intent_threshold: Option<f32>,
}

impl ShapeConfig {
    /// A configuration with the phrase index compiled.
    pub fn new(phrases: Phrases, max_tokens_high: u64, watched_models: Vec<String>) -> Self {
        let index = PhraseIndex::new(&phrases);
        ShapeConfig { phrases, index, max_tokens_high, watched_models, intent_threshold: None }
    }
}
