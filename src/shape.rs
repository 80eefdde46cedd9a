//! The request's *shape*: sampling parameters, logprob and logit-bias requests, message structure,
//! phrase matches (chain-of-thought coercion, grading rubrics, synthetic-data framing, identity
//! probes) and the prompt template fingerprint. Computed once from the parsed body.

use std::borrow::Cow;

use crate::api::ApiKind;
use crate::hash::{fnv1a64, words64};
use crate::json::Json;
pub use crate::mask::mask;
use crate::prompt::PromptText;

/// Prompt texts up to this many bytes are analysed whole; longer ones by their first and last
/// [`PHRASE_WINDOW`] bytes.
pub const MAX_SCANNED_BYTES: usize = 8 * 1024;
/// Phrases are looked for in this many bytes at the start and at the end of the masked prompt (where
/// instructions sit), so the cost per request is bounded whatever the prompt's length.
pub const PHRASE_WINDOW: usize = 4 * 1024;
/// Words of the masked prompt that form its template skeleton.
pub const SKELETON_WORDS: usize = 10;

use crate::intent::{self, Intent, IntentScores};
pub use crate::signals::ShapeSignal;

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

pub use crate::phrases::{PhraseIndex, Phrases};
pub use crate::policy::ShapeConfig;

/// The shape of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestShape {
    /// Boolean signals present.
    pub signals: SignalSet,
    /// Fingerprint of the prompt skeleton (first words, numbers and quotes masked); 0 when no prompt.
    pub template: u64,
    /// Fixed words in the skeleton (short prompts are not templates).
    pub template_words: u32,
    /// Fingerprint of the prompt's *closing* words (its last [`CLOSING_WORDS`], masked, [`closing`]):
    /// a template whose fixed instruction comes after the filled-in text. 0 when the prompt has no
    /// more words than the opening skeleton covers.
    pub closing: u64,
    /// Words in the closing fingerprint.
    pub closing_words: u32,
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

impl RequestShape {
    /// The template fingerprints a credential's profile notes for this request, with their weights
    /// (a fingerprint of 0 is none): the opening skeleton (`template`) or the closing fingerprint,
    /// whichever the profile's top templates (`tracked`: low 32 bits, decayed counts) already hold
    /// with the larger count, at weight 1; when they hold neither, the opening at weight 1 and the
    /// closing at [`CLOSING_SEED_WEIGHT`], just enough to be held from then on. So a fixed opening
    /// counts as it did with the opening alone, a key whose openings vary around one fixed closing has
    /// that closing as its top template from its second request, and a person whose every prompt is
    /// new is no more concentrated than before (space-saving keeps the sum of the counts equal to the
    /// weight noted, about 1 a request). Fingerprints of fewer than `min_words` words are not
    /// templates.
    pub fn noted_templates(&self, tracked: &[(u32, f32)], min_words: u32) -> [(u64, f32); 2] {
        let opening = if self.template != 0 && self.template_words >= min_words { self.template } else { 0 };
        let closing = if self.closing != 0 && self.closing_words >= min_words { self.closing } else { 0 };
        if closing == 0 || opening == 0 {
            return [(opening.max(closing), 1.0), (0, 0.0)];
        }
        let count = |fp: u64| tracked.iter().find(|t| t.0 == fp as u32 && t.1 > 0.0).map(|t| t.1);
        match (count(opening), count(closing)) {
            (Some(a), Some(b)) if b > a => [(closing, 1.0), (0, 0.0)],
            (Some(_), _) => [(opening, 1.0), (0, 0.0)],
            (None, Some(_)) => [(closing, 1.0), (0, 0.0)],
            (None, None) => [(opening, 1.0), (closing, CLOSING_SEED_WEIGHT)],
        }
    }
}

/// The text the shape looks at, bounded: the whole text (parts joined by newlines) when it is at most
/// [`MAX_SCANNED_BYTES`], else its first and last [`PHRASE_WINDOW`] bytes (cut at character
/// boundaries), where instructions sit. The cost per request is then bounded whatever the body size.
#[derive(Debug, Default)]
struct Windows<'a> {
    head: Cow<'a, str>,
    tail: Option<String>,
    len: usize,
}

impl<'a> Windows<'a> {
    fn of(parts: &[&'a str]) -> Windows<'a> {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + parts.len().saturating_sub(1);
        if let [one] = parts {
            if len <= MAX_SCANNED_BYTES {
                // One part (the common case): read in place.
                return Windows { head: Cow::Borrowed(one), tail: None, len };
            }
        }
        let limit = if len <= MAX_SCANNED_BYTES { MAX_SCANNED_BYTES } else { PHRASE_WINDOW };
        let mut head = String::with_capacity(len.min(limit));
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                head.push('\n');
            }
            let room = limit.saturating_sub(head.len());
            if p.len() > room {
                head.push_str(p.get(..floor_boundary(p, room)).unwrap_or(""));
                break;
            }
            head.push_str(p);
        }
        if len <= MAX_SCANNED_BYTES {
            return Windows { head: Cow::Owned(head), tail: None, len };
        }
        // The last PHRASE_WINDOW bytes, gathered from the end.
        let mut pieces: Vec<&str> = Vec::new();
        let mut taken = 0usize;
        for p in parts.iter().rev() {
            let room = PHRASE_WINDOW.saturating_sub(taken);
            if p.len() >= room {
                pieces.push(p.get(ceil_boundary(p, p.len() - room)..).unwrap_or(""));
                break;
            }
            pieces.push(p);
            taken += p.len() + 1;
        }
        let tail = pieces.iter().rev().copied().collect::<Vec<_>>().join("\n");
        Windows { head: Cow::Owned(head), tail: Some(tail), len }
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A hash of the windows and the full length (equal texts hash equal; texts differing only in
    /// their unread middle and not in length collide, which is acceptable for a content signal).
    fn content_hash(&self) -> u64 {
        let tail = self.tail.as_deref().map(|t| words64(t.as_bytes())).unwrap_or(0);
        (words64(self.head.as_bytes()) ^ tail.rotate_left(17) ^ (self.len as u64)).max(1)
    }
}

/// The smallest character boundary at or after `at`.
fn ceil_boundary(s: &str, at: usize) -> usize {
    let mut cut = at.min(s.len());
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    cut
}

/// The largest character boundary at or before `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut cut = at.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The template fingerprint of a masked prompt and the number of words it covers.
pub fn skeleton(masked: &str) -> (u64, u32) {
    // Masked text separates its words by single spaces (none leading or trailing): when its first
    // words are ASCII, their joined form is the text's own prefix, hashed in place. Anything else
    // (non-ASCII, other whitespace, doubled or edge spaces) goes by the definition.
    let bytes = masked.as_bytes();
    let mut words = 0usize;
    let mut end = bytes.len();
    let mut prev_space = true;
    for (at, &b) in bytes.iter().enumerate() {
        let space = b == b' ';
        if b >= 0x80 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) || (space && prev_space) {
            return skeleton_words(masked);
        }
        if space {
            words += 1;
            if words == SKELETON_WORDS {
                end = at;
                break;
            }
        }
        prev_space = space;
    }
    if end == bytes.len() {
        if prev_space && !bytes.is_empty() {
            return skeleton_words(masked);
        }
        words += usize::from(!bytes.is_empty());
    }
    match bytes.get(..end) {
        Some(prefix) if words > 0 => (fnv1a64(prefix).max(1), words as u32),
        _ => skeleton_words(masked),
    }
}

/// [`skeleton`] by its definition: the first words (a CJK character is a word of its own) joined by
/// single spaces.
fn skeleton_words(masked: &str) -> (u64, u32) {
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

/// The weight a profile notes a new closing with when neither of a request's fingerprints is held yet
/// ([`RequestShape::noted_templates`]).
pub const CLOSING_SEED_WEIGHT: f32 = 1.0 / 16.0;

/// Words of the masked prompt's end that form its closing fingerprint ([`closing`]).
pub const CLOSING_WORDS: usize = SKELETON_WORDS;

/// The closing fingerprint of a masked prompt (or of its masked last window) and the number of words
/// it covers: its last [`CLOSING_WORDS`] words (a CJK character is a word of its own) joined by single
/// spaces, hashed. A template that puts its fixed instruction *after* the filled-in text (a question,
/// then "show each step and box the result") has a different opening on every prompt but one closing.
/// `(0, 0)` when the text has no more than [`CLOSING_WORDS`] words: the opening skeleton then covers
/// it all, and a short prompt is not a template. No allocation; it reads the text once from the end
/// (up to the word before its last ten) and the last ten words once more forwards.
pub fn closing(masked: &str) -> (u64, u32) {
    closing_ascii(masked.as_bytes()).unwrap_or_else(|| closing_words(masked))
}

/// The FNV-1a basis of the closing fingerprint: another domain than the opening skeleton's (the same
/// ten words at the start and at the end are different facts).
const CLOSING_BASIS: u64 = 0xcbf2_9ce4_8422_2325 ^ 0x636c_6f73_696e_6721;

fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// [`closing`] of the common masked text: ASCII words separated by single spaces, none leading or
/// trailing, whose last words are then the text's own suffix, hashed in place. `None` for anything
/// else (non-ASCII, other whitespace, doubled or edge spaces), which goes by the definition.
fn closing_ascii(bytes: &[u8]) -> Option<(u64, u32)> {
    if bytes.first() == Some(&b' ') || bytes.last() == Some(&b' ') {
        return None;
    }
    let mut spaces = 0usize;
    let mut prev_space = false;
    for (back, &b) in bytes.iter().rev().enumerate() {
        if b >= 0x80 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            return None;
        }
        let space = b == b' ';
        if space && prev_space {
            return None;
        }
        if space {
            spaces += 1;
            if spaces == CLOSING_WORDS {
                // A word precedes this space (no leading space, no doubled one next to it).
                if bytes.get(bytes.len() - back - 2) == Some(&b' ') {
                    return None;
                }
                let tail = bytes.get(bytes.len() - back..)?;
                return Some((tail.iter().fold(CLOSING_BASIS, |h, &b| fnv_step(h, b)).max(1), CLOSING_WORDS as u32));
            }
        }
        prev_space = space;
    }
    Some((0, 0))
}

/// [`closing`] by its definition, for any text.
fn closing_words(masked: &str) -> (u64, u32) {
    // From the end: find where the last CLOSING_WORDS words start, and whether a word precedes them.
    let mut words = 0usize;
    let mut start = masked.len();
    let mut in_word = false;
    let mut more = false;
    for (at, c) in masked.char_indices().rev() {
        if c.is_whitespace() {
            in_word = false;
            continue;
        }
        let cjk = is_cjk(c);
        if cjk || !in_word {
            if words == CLOSING_WORDS {
                more = true;
                break;
            }
            words += 1;
        }
        start = at;
        in_word = !cjk;
    }
    if !more {
        return (0, 0);
    }
    // Forwards over those words: FNV-1a of the words joined by single spaces.
    let mut h = CLOSING_BASIS;
    let step = fnv_step;
    let mut first = true;
    let mut in_word = false;
    let mut utf8 = [0u8; 4];
    for c in masked.get(start..).unwrap_or("").chars() {
        if c.is_whitespace() {
            in_word = false;
            continue;
        }
        let cjk = is_cjk(c);
        if (cjk || !in_word) && !std::mem::take(&mut first) {
            h = step(h, b' ');
        }
        if c.is_ascii() {
            h = step(h, c as u8);
        } else {
            for b in c.encode_utf8(&mut utf8).bytes() {
                h = step(h, b);
            }
        }
        in_word = !cjk;
    }
    (h.max(1), CLOSING_WORDS as u32)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7af}')
}

/// Bytes of each part of a conversation's first exchange that its fingerprint reads.
pub const OPENING_BYTES: usize = 512;

/// The fingerprint of a conversation's first exchange ([`crate::api::Conversation::opening`]) and its
/// words, folded into the system prompt's fingerprint (sixth round): a few-shot prompt, one fixed worked
/// example (a question and its answer as an earlier exchange) before each new question, is part of the
/// prompt's fixed framing as the system prompt is, and many keys sending one such framing with many
/// questions are one campaign. A person's conversation has its own first exchange, so a shared system
/// prompt with history is no longer shared. `(0, 0)` without history. It reads the first
/// [`OPENING_BYTES`] of each part as sent (no masking), words counted by their spaces.
pub fn opening_fingerprint(parts: &[&str]) -> (u64, usize) {
    let (mut h, mut words) = (0u64, 0usize);
    for (i, part) in parts.iter().enumerate() {
        let bytes = part.as_bytes();
        let head = bytes.get(..bytes.len().min(OPENING_BYTES)).unwrap_or(bytes);
        h ^= words64(head).rotate_left(29 + 7 * (i as u32 % 4));
        words += head.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).count();
    }
    (h, words)
}

/// The number of words of a masked text (`split_whitespace().count()`): masked text separates its
/// words by single spaces, none leading or trailing, so counting spaces is enough.
fn masked_words(masked: &str) -> usize {
    if masked.is_empty() {
        return 0;
    }
    masked.bytes().filter(|&b| b == b' ').count() + 1
}

/// The phrase-index bit of each intent signal.
const INTENT_SIGNALS: [(u8, ShapeSignal); 4] = [
    (1, ShapeSignal::ChainOfThought),
    (2, ShapeSignal::Rubric),
    (4, ShapeSignal::SyntheticData),
    (8, ShapeSignal::Probe),
];
/// The intent model's class of each intent signal, in the same order.
const INTENT_CLASSES: [Intent; 4] = [Intent::ChainOfThought, Intent::Rubric, Intent::SyntheticData, Intent::Probe];
/// The intent model reads this many bytes at the start and at the end of a masked text (instructions
/// sit there; the cost per request stays bounded whatever the prompt's length).
pub const INTENT_WINDOW: usize = 256;

/// The intent model's scores for a masked text given as its head and (for long texts) its tail
/// window: the whole text when it is short, else its first and last [`INTENT_WINDOW`] bytes scored
/// apart (an instruction at one end is not diluted by the other), each class taking the higher.
/// `None` for an empty text.
fn intent_scores(head: &str, tail: &str) -> Option<IntentScores> {
    if head.is_empty() {
        return None;
    }
    if tail.is_empty() && head.len() <= 2 * INTENT_WINDOW {
        return Some(intent::classify(head));
    }
    let last = if tail.is_empty() { head } else { tail };
    let first = head.get(..floor_boundary(head, INTENT_WINDOW)).unwrap_or("");
    let mut from = last.len().saturating_sub(INTENT_WINDOW);
    while from < last.len() && !last.is_char_boundary(from) {
        from += 1;
    }
    let (a, b) = (intent::classify(first), intent::classify(last.get(from..).unwrap_or("")));
    let mut probs = a.probs;
    for (p, q) in probs.iter_mut().zip(b.probs) {
        *p = p.max(q);
    }
    Some(IntentScores { probs })
}

/// The fewest log-probabilities a request can return (alternatives a position, `top_logprobs` or a
/// completions `logprobs` count, at least 1, times the positions, `max_tokens`) for its `logprobs` to
/// count as harvesting: below it the request reads the probability of a short label (a classifier
/// calibrating a threshold: 3 alternatives of a 3-token label), not the model's distribution.
pub const LOGPROBS_MIN_VALUES: u64 = 16;

/// True when a request asks for logprobs but can get fewer than [`LOGPROBS_MIN_VALUES`] of them
/// (its output is capped, `max_output`, and `top_logprobs`, or a numeric `logprobs`, times the cap is
/// below it), or reads a label's confidence: at most [`LABEL_ALTERNATIVES`] alternatives of at most
/// [`LABEL_TOKENS`] tokens. Without a cap the request is never shallow.
pub fn shallow_logprobs(root: &Json<'_>, max_output: Option<u64>) -> bool {
    let Some(positions) = max_output else {
        return false;
    };
    let alternatives = [root.get("top_logprobs"), root.get("logprobs")]
        .into_iter()
        .flatten()
        .filter_map(Json::as_u64)
        .max()
        .unwrap_or(1)
        .max(1);
    alternatives.saturating_mul(positions) < LOGPROBS_MIN_VALUES
        || (alternatives <= LABEL_ALTERNATIVES && positions <= LABEL_TOKENS)
}

/// The most alternatives a position a *label read* asks for, and the longest answer it allows
/// ([`shallow_logprobs`]): a classifier thresholding its confidence reads the top few candidates of a
/// label of a few tokens (a category as JSON, 3 alternatives, `max_tokens` 8); a harvester wants the
/// distribution (`top_logprobs` 20, the API's most) or whole answers' logprobs.
pub const LABEL_ALTERNATIVES: u64 = 5;
/// See [`LABEL_ALTERNATIVES`].
pub const LABEL_TOKENS: u64 = 16;

/// Analyses a parsed request body.
pub fn analyse(api: ApiKind, root: &Json<'_>, cfg: &ShapeConfig) -> RequestShape {
    analyse_estimating(api, root, cfg).0
}

/// [`analyse`], also giving the token estimates of the texts it read in one pass (for
/// [`crate::request`]'s input estimate).
pub fn analyse_estimating<'a>(
    api: ApiKind,
    root: &'a Json<'_>,
    cfg: &ShapeConfig,
) -> (RequestShape, [Estimated<'a>; 2]) {
    let mut shape = RequestShape::default();
    let mut s = SignalSet::default();

    let dialect = api.dialect();
    let sampling = dialect.sampling(root);
    let max_output = dialect.max_output_tokens(root);
    if sampling.logprobs && (sampling.echo || !shallow_logprobs(root, max_output)) {
        s.insert(ShapeSignal::Logprobs);
    }
    if sampling.logit_bias {
        s.insert(ShapeSignal::LogitBias);
    }
    if sampling.multiple_samples {
        s.insert(ShapeSignal::MultipleSamples);
    }
    if sampling.echo {
        s.insert(ShapeSignal::Echo);
    }
    if max_output.is_some_and(|m| m >= cfg.max_tokens_high) {
        s.insert(ShapeSignal::MaxTokensHigh);
    }
    shape.temperature_zero = sampling.temperature_zero;
    let model = dialect.model(root);
    shape.model = model.map(|m| fnv1a64(m.as_bytes()).max(1)).unwrap_or(0);
    if model.is_some_and(|m| cfg.watched_models.iter().any(|w| m.starts_with(w.as_str()))) {
        s.insert(ShapeSignal::WatchedModel);
    }

    let conv = dialect.conversation(root);
    if conv.user_turns == 1 && conv.assistant_turns == 0 {
        s.insert(ShapeSignal::SingleTurn);
    }
    let user = Read::of(&conv.last_user, cfg);
    let system = Read::of(&conv.system, cfg);
    let (masked_user, masked_user_tail) = (&user.masked, &user.masked_tail);
    let (masked_system, masked_system_tail) = (&system.masked, &system.masked_tail);
    // An assistant prefill (the client's beginning of the answer) is read as instruction text too: a
    // harvester can move its instruction there and leave the user text a bare question.
    let prefill = if conv.prefill.is_empty() { None } else { Some(Read::of(&conv.prefill, cfg)) };
    let found = user.found | system.found | prefill.as_ref().map_or(0, |p| p.found);
    for (bit, signal) in INTENT_SIGNALS {
        if found & bit != 0 {
            s.insert(signal);
        }
    }
    // The learned intent model gives the evidence where no listed phrase occurs (phrases stay as the
    // operator's overrides): the last user message and the system prompt are classified apart, each
    // from its first and last `INTENT_WINDOW` bytes.
    if let Some(threshold) = cfg.intent_threshold {
        if INTENT_SIGNALS.iter().any(|(bit, _)| found & bit == 0) {
            let user = intent_scores(masked_user, masked_user_tail);
            let system = intent_scores(masked_system, masked_system_tail);
            let prefill = prefill.as_ref().and_then(|p| intent_scores(&p.masked, &p.masked_tail));
            for ((_, signal), intent) in INTENT_SIGNALS.iter().zip(INTENT_CLASSES) {
                // A persona ("You are a helpful assistant.") reads like a judge's setup to the model:
                // the system prompt is not asked for the rubric class (its phrases still count).
                let from_system = if intent == Intent::Rubric { None } else { system };
                let p = user
                    .map_or(0.0, |u| u.get(intent))
                    .max(from_system.map_or(0.0, |x| x.get(intent)))
                    .max(prefill.map_or(0.0, |x| x.get(intent)));
                if p >= threshold {
                    s.insert(*signal);
                }
            }
        }
    }
    let (template, template_words) = skeleton(masked_user);
    shape.template = template;
    shape.template_words = template_words;
    let last = if masked_user_tail.is_empty() { masked_user.as_str() } else { masked_user_tail.as_str() };
    (shape.closing, shape.closing_words) = closing(last);
    shape.content = user.content;
    if !masked_system.is_empty() {
        let tail = if masked_system_tail.is_empty() { 0 } else { words64(masked_system_tail.as_bytes()) };
        let (opening, opening_words) = opening_fingerprint(&conv.opening);
        shape.system = (words64(masked_system.as_bytes()) ^ tail.rotate_left(17) ^ opening).max(1);
        shape.system_words = (masked_words(masked_system) + masked_words(masked_system_tail) + opening_words)
            .try_into()
            .unwrap_or(u32::MAX);
    }
    shape.signals = s;
    (shape, [user.estimate, system.estimate])
}

pub use crate::tokens::Estimated;

/// What the shape reads from one text (the system prompt or the last user message, given as parts).
struct Read<'a> {
    /// The masked head window and, for a long text, the masked tail window.
    masked: String,
    masked_tail: String,
    /// Phrase-list bits found in them.
    found: u8,
    /// The content hash (0 for an empty text).
    content: u64,
    /// The text and its pass, when it was read in one pass (one part within `MAX_SCANNED_BYTES`,
    /// the common case): the token estimate comes from there too.
    estimate: Estimated<'a>,
}

impl<'a> Read<'a> {
    fn of(parts: &[&'a str], cfg: &ShapeConfig) -> Read<'a> {
        if let [text] = parts {
            if text.len() <= MAX_SCANNED_BYTES {
                let pass = PromptText::read(text, Some(&cfg.index));
                let content = if text.is_empty() { 0 } else { (pass.content ^ text.len() as u64).max(1) };
                return Read {
                    masked: pass.masked,
                    masked_tail: String::new(),
                    found: pass.phrases,
                    content,
                    estimate: Some((text, pass.estimate)),
                };
            }
        }
        let w = Windows::of(parts);
        let masked = mask(&w.head);
        let masked_tail = w.tail.as_deref().map(mask).unwrap_or_default();
        let found = cfg.index.scan(masked.as_bytes()) | cfg.index.scan(masked_tail.as_bytes());
        let content = if w.is_empty() { 0 } else { w.content_hash() };
        Read { masked, masked_tail, found, content, estimate: None }
    }
}
