//! The request's *shape*: sampling parameters, logprob and logit-bias requests, message structure,
//! phrase matches (chain-of-thought coercion, grading rubrics, synthetic-data framing, identity
//! probes) and the prompt template fingerprint. Computed once from the parsed body.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::ApiKind;
use crate::hash::fnv1a64;

/// Longest prompt text analysed (characters beyond are ignored).
pub const MAX_SCANNED_CHARS: usize = 8 * 1024;
/// Phrases are looked for in this many bytes at the start and at the end of the masked prompt (where
/// instructions sit), so the cost per request is bounded whatever the prompt's length.
pub const PHRASE_WINDOW: usize = 4 * 1024;
/// Words of the masked prompt that form its template skeleton.
pub const SKELETON_WORDS: usize = 10;

/// Per-request boolean signals, in a fixed order (their index is their slot in the profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ShapeSignal {
    /// `logprobs` / `top_logprobs` requested.
    Logprobs,
    /// A non-empty `logit_bias`.
    LogitBias,
    /// `n` > 1 (several samples per prompt).
    MultipleSamples,
    /// `echo` (completions): the prompt's own logprobs.
    Echo,
    /// Chain-of-thought / reasoning-trace coercion in the prompt.
    ChainOfThought,
    /// Grading, rubric or judge prompts.
    Rubric,
    /// Synthetic-data framing.
    SyntheticData,
    /// Identity or system-prompt probes.
    Probe,
    /// `max_tokens` at or above `detection.max_tokens_high`.
    MaxTokensHigh,
    /// One user turn, no conversation history.
    SingleTurn,
    /// The model is one of `detection.watched_models` (newly launched models distillers race to).
    WatchedModel,
}

impl ShapeSignal {
    /// Every signal, in slot order.
    pub const ALL: [ShapeSignal; 11] = [
        ShapeSignal::Logprobs,
        ShapeSignal::LogitBias,
        ShapeSignal::MultipleSamples,
        ShapeSignal::Echo,
        ShapeSignal::ChainOfThought,
        ShapeSignal::Rubric,
        ShapeSignal::SyntheticData,
        ShapeSignal::Probe,
        ShapeSignal::MaxTokensHigh,
        ShapeSignal::SingleTurn,
        ShapeSignal::WatchedModel,
    ];

    /// Slot index.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Name used in signals and the policy.
    pub fn name(self) -> &'static str {
        match self {
            ShapeSignal::Logprobs => "logprobs",
            ShapeSignal::LogitBias => "logit_bias",
            ShapeSignal::MultipleSamples => "multiple_samples",
            ShapeSignal::Echo => "echo",
            ShapeSignal::ChainOfThought => "chain_of_thought",
            ShapeSignal::Rubric => "rubric",
            ShapeSignal::SyntheticData => "synthetic_data",
            ShapeSignal::Probe => "probe",
            ShapeSignal::MaxTokensHigh => "max_tokens_high",
            ShapeSignal::SingleTurn => "single_turn",
            ShapeSignal::WatchedModel => "watched_model",
        }
    }
}

/// A set of [`ShapeSignal`]s as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalSet(pub u32);

impl SignalSet {
    /// Adds a signal.
    pub fn insert(&mut self, s: ShapeSignal) {
        self.0 |= 1 << s.index();
    }

    /// True when present.
    pub fn contains(&self, s: ShapeSignal) -> bool {
        self.0 & (1 << s.index()) != 0
    }

    /// The signals present, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = ShapeSignal> + '_ {
        ShapeSignal::ALL.into_iter().filter(|s| self.contains(*s))
    }
}

/// Phrase lists (lower case; `#` stands for any number), from the policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phrases {
    /// Chain-of-thought coercion.
    pub chain_of_thought: Vec<String>,
    /// Grading / rubric / judge.
    pub rubric: Vec<String>,
    /// Synthetic-data framing.
    pub synthetic_data: Vec<String>,
    /// Identity and system-prompt probes.
    pub probe: Vec<String>,
}

/// The phrase lists compiled for a single pass over the text: phrases indexed by their first two
/// bytes, with a 64 Ki-bit filter in front of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhraseIndex {
    filter: Vec<u64>,
    by_prefix: BTreeMap<u16, Vec<(u8, Vec<u8>)>>,
    short: Vec<(u8, Vec<u8>)>,
}

/// Phrases start at a word boundary (any position inside non-ASCII text, which has no spaces).
fn word_start(text: &[u8], i: usize, first: u8) -> bool {
    first >= 0x80 || i == 0 || text.get(i - 1).is_some_and(|p| !p.is_ascii_alphanumeric())
}

impl PhraseIndex {
    /// Compiles the four lists (category bits: 1 chain-of-thought, 2 rubric, 4 synthetic data, 8 probe).
    pub fn new(p: &Phrases) -> Self {
        let mut index = PhraseIndex { filter: vec![0; 1024], by_prefix: BTreeMap::new(), short: Vec::new() };
        for (bit, list) in [(1u8, &p.chain_of_thought), (2, &p.rubric), (4, &p.synthetic_data), (8, &p.probe)] {
            for phrase in list.iter().filter(|p| !p.is_empty()) {
                let bytes = phrase.as_bytes().to_vec();
                match bytes.as_slice() {
                    [a, b, ..] => {
                        let key = u16::from_be_bytes([*a, *b]);
                        if let Some(word) = index.filter.get_mut(usize::from(key) / 64) {
                            *word |= 1 << (key % 64);
                        }
                        index.by_prefix.entry(key).or_default().push((bit, bytes));
                    }
                    _ => index.short.push((bit, bytes)),
                }
            }
        }
        index
    }

    /// The category bits found in `text`.
    pub fn scan(&self, text: &[u8]) -> u8 {
        let mut found = 0u8;
        for (bit, phrase) in &self.short {
            if found & bit == 0 && text.windows(phrase.len().max(1)).any(|w| w == phrase.as_slice()) {
                found |= bit;
            }
        }
        for (i, pair) in text.windows(2).enumerate() {
            let &[a, b] = pair else { continue };
            let key = u16::from_be_bytes([a, b]);
            let hit = self.filter.get(usize::from(key) / 64).is_some_and(|w| w & (1 << (key % 64)) != 0)
                && word_start(text, i, a);
            if !hit {
                continue;
            }
            let rest = text.get(i..).unwrap_or(&[]);
            for (bit, phrase) in self.by_prefix.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
                if found & bit == 0 && rest.starts_with(phrase) {
                    found |= bit;
                }
            }
            if found == 0b1111 {
                break;
            }
        }
        found
    }
}

/// What the shape analysis needs from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeConfig {
    /// Phrase lists.
    pub phrases: Phrases,
    /// The same, compiled.
    pub index: PhraseIndex,
    /// `max_tokens` at or above this is `max_tokens_high`.
    pub max_tokens_high: u64,
    /// Model name prefixes whose use counts as `watched_model`.
    pub watched_models: Vec<String>,
}

impl ShapeConfig {
    /// A configuration with the phrase index compiled.
    pub fn new(phrases: Phrases, max_tokens_high: u64, watched_models: Vec<String>) -> Self {
        let index = PhraseIndex::new(&phrases);
        ShapeConfig { phrases, index, max_tokens_high, watched_models }
    }
}

/// The shape of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestShape {
    /// Boolean signals present.
    pub signals: SignalSet,
    /// Fingerprint of the prompt skeleton (first words, numbers and quotes masked); 0 when no prompt.
    pub template: u64,
    /// Fixed words in the skeleton (short prompts are not templates).
    pub template_words: u32,
    /// Hash of the full prompt text (distinct prompts with one skeleton = a filled template).
    pub content: u64,
    /// Fingerprint of the system prompt (0 when none); `system_words` its length in words.
    pub system: u64,
    /// Words in the system prompt.
    pub system_words: u32,
    /// Fingerprint of the model name (0 when none).
    pub model: u64,
    /// `temperature` is 0.
    pub temperature_zero: bool,
}

fn text_of(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => push_bounded(out, s),
        Value::Array(parts) => {
            for p in parts {
                match p {
                    Value::String(s) => push_bounded(out, s),
                    Value::Object(o) => {
                        if let Some(t) = o.get("text").and_then(Value::as_str) {
                            push_bounded(out, t);
                        } else if let Some(c) = o.get("content") {
                            text_of(c, out);
                        }
                    }
                    _ => {}
                }
            }
        }
        Value::Object(o) => {
            if let Some(t) = o.get("text").and_then(Value::as_str) {
                push_bounded(out, t);
            }
        }
        _ => {}
    }
}

fn push_bounded(out: &mut String, s: &str) {
    if out.len() >= MAX_SCANNED_CHARS {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let room = MAX_SCANNED_CHARS.saturating_sub(out.len());
    match s.char_indices().nth(room) {
        Some((cut, _)) => out.push_str(s.get(..cut).unwrap_or("")),
        None => out.push_str(s),
    }
}

/// The parts of a request's conversation the shape looks at.
#[derive(Debug, Default)]
struct Conversation {
    system: String,
    last_user: String,
    user_turns: u32,
    assistant_turns: u32,
}

fn conversation(api: ApiKind, root: &Map<String, Value>) -> Conversation {
    let mut c = Conversation::default();
    if let Some(s) = root.get("system").or_else(|| root.get("instructions")) {
        text_of(s, &mut c.system);
    }
    let items = match api {
        ApiKind::OpenAiCompletions => {
            if let Some(p) = root.get("prompt") {
                text_of(p, &mut c.last_user);
                c.user_turns = 1;
            }
            return c;
        }
        _ => root.get("messages").or_else(|| root.get("input")),
    };
    match items {
        Some(Value::String(s)) => {
            push_bounded(&mut c.last_user, s);
            c.user_turns = 1;
        }
        Some(Value::Array(messages)) => {
            for m in messages {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
                let content = m.get("content").unwrap_or(&Value::Null);
                match role {
                    "system" | "developer" => text_of(content, &mut c.system),
                    "assistant" | "model" => c.assistant_turns += 1,
                    "user" => {
                        c.user_turns += 1;
                        c.last_user.clear();
                        text_of(content, &mut c.last_user);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    c
}

/// Lower-cases and masks the variable parts of a prompt: digit runs become `#`, quoted spans `"…"`,
/// whitespace collapses. The result is what templates are compared on and phrases matched against.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SCANNED_CHARS));
    let mut quote: Option<char> = None;
    let mut last_space = true;
    let mut last_digit = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        let closing = match c {
            '"' => Some('"'),
            '“' => Some('”'),
            '「' => Some('」'),
            '«' => Some('»'),
            '`' => Some('`'),
            _ => None,
        };
        if let Some(q) = closing {
            out.push_str("\"…\"");
            quote = Some(q);
            last_space = false;
            last_digit = false;
            continue;
        }
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
            last_space = false;
            continue;
        }
        last_digit = false;
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.trim_end().to_string()
}

/// The template fingerprint of a masked prompt and the number of words it covers.
pub fn skeleton(masked: &str) -> (u64, u32) {
    // CJK text has no spaces: count each character as a word.
    let mut words: Vec<&str> = Vec::with_capacity(SKELETON_WORDS);
    let mut rest = masked;
    while words.len() < SKELETON_WORDS {
        rest = rest.trim_start();
        let Some(first) = rest.chars().next() else { break };
        let end = if is_cjk(first) {
            first.len_utf8()
        } else {
            rest.find(|c: char| c.is_whitespace() || is_cjk(c)).unwrap_or(rest.len())
        };
        let (w, r) = rest.split_at(end);
        words.push(w);
        rest = r;
    }
    if words.is_empty() {
        return (0, 0);
    }
    let joined = words.join(" ");
    (fnv1a64(joined.as_bytes()).max(1), words.len() as u32)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}')
}

/// The category bits of the phrases in the first and last [`PHRASE_WINDOW`] bytes of `text`.
fn scan_phrases(index: &PhraseIndex, text: &[u8]) -> u8 {
    if text.len() <= 2 * PHRASE_WINDOW {
        return index.scan(text);
    }
    let head = text.get(..PHRASE_WINDOW).unwrap_or(text);
    let tail = text.get(text.len() - PHRASE_WINDOW..).unwrap_or(&[]);
    index.scan(head) | index.scan(tail)
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x > 0.0),
        _ => false,
    }
}

/// Analyses a parsed request body.
pub fn analyse(api: ApiKind, root: &Map<String, Value>, cfg: &ShapeConfig) -> RequestShape {
    let mut shape = RequestShape::default();
    let mut s = SignalSet::default();

    let responses_logprobs = root
        .get("include")
        .and_then(Value::as_array)
        .is_some_and(|inc| inc.iter().any(|i| i.as_str().is_some_and(|t| t.contains("logprobs"))));
    if truthy(root.get("logprobs")) || truthy(root.get("top_logprobs")) || responses_logprobs {
        s.insert(ShapeSignal::Logprobs);
    }
    if root.get("logit_bias").and_then(Value::as_object).is_some_and(|m| !m.is_empty()) {
        s.insert(ShapeSignal::LogitBias);
    }
    if root.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1)
        || root.get("best_of").and_then(Value::as_u64).is_some_and(|n| n > 1)
    {
        s.insert(ShapeSignal::MultipleSamples);
    }
    if truthy(root.get("echo")) {
        s.insert(ShapeSignal::Echo);
    }
    let max_tokens = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .find_map(|k| root.get(*k).and_then(Value::as_u64));
    if max_tokens.is_some_and(|m| m >= cfg.max_tokens_high) {
        s.insert(ShapeSignal::MaxTokensHigh);
    }
    shape.temperature_zero = root.get("temperature").and_then(Value::as_f64) == Some(0.0);
    let model = root.get("model").and_then(Value::as_str);
    shape.model = model.map(|m| fnv1a64(m.as_bytes()).max(1)).unwrap_or(0);
    if model.is_some_and(|m| cfg.watched_models.iter().any(|w| m.starts_with(w.as_str()))) {
        s.insert(ShapeSignal::WatchedModel);
    }

    let conv = conversation(api, root);
    if conv.user_turns == 1 && conv.assistant_turns == 0 {
        s.insert(ShapeSignal::SingleTurn);
    }
    let masked_user = mask(&conv.last_user);
    let masked_system = mask(&conv.system);
    let found = scan_phrases(&cfg.index, masked_system.as_bytes()) | scan_phrases(&cfg.index, masked_user.as_bytes());
    for (bit, signal) in [
        (1, ShapeSignal::ChainOfThought),
        (2, ShapeSignal::Rubric),
        (4, ShapeSignal::SyntheticData),
        (8, ShapeSignal::Probe),
    ] {
        if found & bit != 0 {
            s.insert(signal);
        }
    }
    let (template, template_words) = skeleton(&masked_user);
    shape.template = template;
    shape.template_words = template_words;
    shape.content = if conv.last_user.is_empty() { 0 } else { fnv1a64(conv.last_user.as_bytes()).max(1) };
    if !masked_system.is_empty() {
        shape.system = fnv1a64(masked_system.as_bytes()).max(1);
        shape.system_words = masked_system.split_whitespace().count() as u32;
    }
    shape.signals = s;
    shape
}
