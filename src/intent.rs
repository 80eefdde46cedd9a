//! Request intent from a small learned text model: chain-of-thought elicitation, grading/judging,
//! synthetic-data generation, identity/system-prompt probing, or ordinary use.
//!
//! The model is a multinomial logistic regression over hashed features of the *masked* prompt (the
//! text [`crate::mask::mask`] produces: lower case, digit runs `#`, quoted spans `"…"`, whitespace
//! collapsed), trained offline by `tools/intent/train.py` and shipped as data (`src/intent/weights.bin`,
//! 128 KiB). Features, in one pass and without allocation:
//! - every token — a word (a run of word characters) or a single CJK character — hashed;
//! - every pair of consecutive tokens (so CJK text gets character uni- and bigrams);
//! - for words of at least seven bytes, their first and last six bytes (inflected forms in Spanish,
//!   German, Russian, … share evidence).
//!
//! Prose words (lower-case ASCII letters ended by an ASCII separator) and three-byte CJK characters
//! are found and hashed in line from eight-byte loads; anything else goes through the general
//! tokenizer out of line. `tests/core/intent_fold.rs` checks the evidence against the per-character
//! definition (`tools/intent/features.py`) on generated and real text.
//!
//! Each feature picks one of 2^15 buckets; a bucket holds one signed byte per attack class (ordinary
//! is the reference class with logit 0). The integer sums ([`Evidence`]) are exact and identical to
//! the Python trainer's; the probabilities ([`IntentScores`]) follow from them by `bias + scale × sum`
//! and a softmax. Texts longer than [`MAX_BYTES`] are read as their first and last [`HALF_BYTES`],
//! where instructions sit, so the cost is bounded whatever the prompt's length.
//!
//! The scores are evidence about one request; whether a credential is harvesting is decided by the
//! share of its requests that carry the evidence, elsewhere.

/// Texts up to this many bytes are read whole.
pub const MAX_BYTES: usize = 4096;
/// Longer texts: this many bytes at the start and at the end (cut at character boundaries).
pub const HALF_BYTES: usize = 2048;
/// log2 of the number of buckets.
pub const BITS: u32 = 15;
const BUCKETS: usize = 1 << BITS;
/// Attack classes with weights (ordinary is the reference).
const ATTACKS: usize = 4;

/// The weights file: `DGIN`, `BITS` (u32), the biases (4 × f32), the scale (f32), then 2^BITS
/// buckets of four `i8` (chain of thought, rubric, synthetic data, probe), all little-endian.
const WEIGHTS: &[u8] = include_bytes!("intent/weights.bin");
const HEADER: usize = 4 + 4 + 4 * ATTACKS + 4;
const TABLE_LEN: usize = BUCKETS * ATTACKS;

/// The weight table, when the file has the expected size (a fixed-size array: lookups need no bounds
/// check).
const TABLE: Option<&[u8; TABLE_LEN]> = match WEIGHTS.split_at_checked(HEADER) {
    Some((_, rest)) if rest.len() == TABLE_LEN => rest.first_chunk::<TABLE_LEN>(),
    _ => None,
};

/// A request intent class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intent {
    /// Ordinary use.
    Ordinary,
    /// Chain-of-thought / reasoning-trace elicitation.
    ChainOfThought,
    /// Grading, rubric or judge prompts.
    Rubric,
    /// Synthetic-data generation.
    SyntheticData,
    /// Identity or system-prompt probing.
    Probe,
}

impl Intent {
    /// Every class, in score order.
    pub const ALL: [Intent; 5] =
        [Intent::Ordinary, Intent::ChainOfThought, Intent::Rubric, Intent::SyntheticData, Intent::Probe];

    /// The class's slot in [`IntentScores::probs`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class's name (the attack classes share the names of the shape signals).
    pub fn name(self) -> &'static str {
        match self {
            Intent::Ordinary => "ordinary",
            Intent::ChainOfThought => "chain_of_thought",
            Intent::Rubric => "rubric",
            Intent::SyntheticData => "synthetic_data",
            Intent::Probe => "probe",
        }
    }
}

/// The model's integer evidence for one text: per attack class (chain of thought, rubric, synthetic
/// data, probe) the sum of its quantised weights over every feature, and the number of features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Sums of quantised weights, one per attack class.
    pub sums: [i32; ATTACKS],
    /// Features read.
    pub features: u32,
}

/// Per-class probabilities of one text, indexed by [`Intent::index`]; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntentScores {
    /// Probabilities of ordinary, chain of thought, rubric, synthetic data, probe.
    pub probs: [f32; 5],
}

impl IntentScores {
    /// The probability of one class.
    pub fn get(&self, intent: Intent) -> f32 {
        self.probs.get(intent.index()).copied().unwrap_or(0.0)
    }

    /// The most probable class (ordinary on ties).
    pub fn top(&self) -> Intent {
        let mut best = Intent::Ordinary;
        for c in Intent::ALL {
            if self.get(c) > self.get(best) {
                best = c;
            }
        }
        best
    }

    /// The most probable attack class and its probability.
    pub fn top_attack(&self) -> (Intent, f32) {
        let mut best = (Intent::ChainOfThought, self.get(Intent::ChainOfThought));
        for c in [Intent::Rubric, Intent::SyntheticData, Intent::Probe] {
            if self.get(c) > best.1 {
                best = (c, self.get(c));
            }
        }
        best
    }
}

const fn f32_at(at: usize) -> f32 {
    match WEIGHTS.split_at_checked(at) {
        Some((_, [a, b, c, d, ..])) => f32::from_bits(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => 0.0,
    }
}

/// The biases of the attack classes (against ordinary).
const BIAS: [f32; ATTACKS] = [f32_at(8), f32_at(12), f32_at(16), f32_at(20)];
/// The value of one quantisation step.
const SCALE: f32 = f32_at(24);

/// True when the weights file has the expected header and size (a build with a malformed file
/// classifies everything as ordinary instead of failing).
pub fn weights_ok() -> bool {
    TABLE.is_some()
        && WEIGHTS.get(..4) == Some(b"DGIN".as_slice())
        && WEIGHTS.get(4..8) == Some(BITS.to_le_bytes().as_slice())
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;
const GOLDEN: u32 = 0x9e37_79b1;
/// Words of at least `AFFIX_MIN` bytes also give their first and last `AFFIX` bytes as features.
const AFFIX: usize = 6;
const AFFIX_MIN: usize = 7;
const PREFIX_TAG: u64 = 1 << 48;
const SUFFIX_TAG: u64 = 1 << 49;
/// The low `AFFIX` bytes of a number.
const AFFIX_MASK: u64 = (1 << (8 * AFFIX)) - 1;

/// The bytes (at most eight) as a big-endian number.
#[inline(always)]
fn be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The eight bytes of `s` at `at` as a big-endian number, when there are eight.
#[inline(always)]
fn load8(s: &[u8], at: usize) -> Option<u64> {
    s.get(at..at.wrapping_add(8)).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes)
}

/// The `n` (at most eight) bytes of `s` ending at `end` as a big-endian number: one load when the text
/// has eight bytes up to `end`.
#[inline(always)]
fn tail_be(s: &[u8], end: usize, n: usize) -> u64 {
    let low = if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
    match end.checked_sub(8).and_then(|at| load8(s, at)) {
        Some(v) => v & low,
        None => be(s.get(end.saturating_sub(n)..end).unwrap_or(&[])),
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// How many of the eight bytes of `v` (big-endian: the first byte is the most significant) are
/// lower-case ASCII letters before the first that is not.
#[inline(always)]
fn lower_run(v: u64) -> usize {
    let x = v & LOW7;
    let at_least_a = x.wrapping_add((0x80 - u64::from(b'a')) * ONES);
    let past_z = x.wrapping_add((0x80 - u64::from(b'z') - 1) * ONES);
    let lower = at_least_a & !past_z & !v & HIGH;
    ((!lower & HIGH).leading_zeros() / 8) as usize
}

/// The end of a word of eight or more lower-case ASCII letters starting at `start` (the first eight
/// are known to be letters), when an ASCII separator follows it within the text: the word is then
/// a token of those letters alone.
#[inline(always)]
fn long_lower_word(s: &[u8], start: usize) -> Option<usize> {
    let mut end = start + 8;
    loop {
        let v = load8(s, end)?;
        let n = lower_run(v);
        end += n;
        if n < 8 {
            return (class((v >> (56 - 8 * n)) as u8) == SEPARATOR).then_some(end);
        }
    }
}

/// A token's hash: eight bytes at a time (big-endian) mixed by multiply-rotate, the rest and the length
/// folded in at the end (tools/intent/features.py `token_hash`). The token is `s[start..end]`.
#[inline(always)]
fn token_hash(s: &[u8], start: usize, end: usize) -> u32 {
    let mut h = 0u64;
    let mut at = start;
    while at + 8 <= end {
        h = (h ^ load8(s, at).unwrap_or(0)).wrapping_mul(K).rotate_left(31);
        at += 8;
    }
    let rest = tail_be(s, end, end - at);
    ((h ^ rest ^ (((end - start) as u64) << 56)).wrapping_mul(K) >> 32) as u32
}

/// [`token_hash`] of a token of `n` (< 8) bytes whose big-endian value is `v`.
#[inline(always)]
fn short_hash(v: u64, n: u64) -> u32 {
    ((v ^ (n << 56)).wrapping_mul(K) >> 32) as u32
}

#[inline(always)]
fn fold(x: u64) -> u32 {
    (x.wrapping_mul(K) >> 32) as u32
}

#[inline(always)]
fn bucket(h: u32) -> usize {
    (h.wrapping_mul(GOLDEN) >> (32 - BITS)) as usize
}

const SEPARATOR: u8 = 0;
const WORD: u8 = 1;
const NON_ASCII: u8 = 2;
/// A lower-case ASCII letter (a word byte where the prose fast path may start).
const LOWER: u8 = 3;

/// Byte classes: ASCII letters, digits and `#'_<>/` are word bytes (lower-case letters their own
/// class), other ASCII separates, the rest starts or continues a multi-byte character (classified
/// once decoded).
#[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
const CLASS: [u8; 256] = {
    let mut t = [SEPARATOR; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b >= 0x80 {
            NON_ASCII
        } else if b.is_ascii_lowercase() {
            LOWER
        } else if b.is_ascii_alphanumeric() || matches!(b, b'#' | b'\'' | b'_' | b'<' | b'>' | b'/') {
            WORD
        } else {
            SEPARATOR
        };
        i += 1;
    }
    t
};

#[inline(always)]
fn class(b: u8) -> u8 {
    CLASS.get(usize::from(b)).copied().unwrap_or(SEPARATOR)
}

#[inline(always)]
fn is_cjk(cp: u32) -> bool {
    (0x3040..=0x9fff).contains(&cp) || (0xac00..=0xd7af).contains(&cp)
}

/// A non-ASCII character that belongs to words: not CJK, not punctuation (Latin-1 punctuation,
/// general punctuation and symbols, CJK punctuation, full-width forms).
#[inline(always)]
fn is_word_char(cp: u32) -> bool {
    !(is_cjk(cp)
        || (0x80..=0xbf).contains(&cp)
        || (0x2000..=0x2bff).contains(&cp)
        || (0x3000..=0x303f).contains(&cp)
        || (0xfe30..=0xfe4f).contains(&cp)
        || (0xff00..=0xff65).contains(&cp))
}

/// The code point and length of the (valid UTF-8) character starting at `i`; (0, 1) past the end.
#[inline(always)]
fn decode(s: &[u8], i: usize) -> (u32, usize) {
    let cont = |k: usize| u32::from(s.get(i + k).copied().unwrap_or(0x80) & 0x3f);
    match s.get(i).copied().unwrap_or(0) {
        b @ 0..=0x7f => (u32::from(b), 1),
        b @ 0xc0..=0xdf => ((u32::from(b & 0x1f) << 6) | cont(1), 2),
        b @ 0xe0..=0xef => ((u32::from(b & 0x0f) << 12) | (cont(1) << 6) | cont(2), 3),
        b @ 0xf0..=0xff => ((u32::from(b & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4),
        _ => (0xfffd, 1),
    }
}

struct Acc<'w> {
    table: &'w [u8; TABLE_LEN],
    sums: [i32; ATTACKS],
    features: u32,
}

impl Acc<'_> {
    #[inline(always)]
    fn add(&mut self, h: u32) {
        let at = bucket(h) * ATTACKS;
        if let Some(&[a, b, c, d]) = self.table.get(at..at + ATTACKS) {
            let [s0, s1, s2, s3] = &mut self.sums;
            *s0 += i32::from(a as i8);
            *s1 += i32::from(b as i8);
            *s2 += i32::from(c as i8);
            *s3 += i32::from(d as i8);
        }
        self.features += 1;
    }

    /// One segment of text: tokens, token pairs, word prefixes and suffixes. The sums are gathered in
    /// a local copy (kept in registers) and stored once at the end.
    fn scan(&mut self, s: &[u8]) {
        let mut acc = Acc { table: self.table, sums: self.sums, features: self.features };
        acc.scan_local(s);
        self.sums = acc.sums;
        self.features = acc.features;
    }

    /// The tokens of `s`: each with its prefix and suffix features, and each with the one before it.
    #[inline(always)]
    fn scan_local(&mut self, s: &[u8]) {
        let mut i = 0;
        let Some(first) = first_token(s, &mut i) else { return };
        self.token(&first);
        let mut prev = first.hash;
        while let Some(t) = next_token(s, &mut i) {
            self.token(&t);
            self.add(prev.wrapping_mul(GOLDEN) ^ t.hash);
            prev = t.hash;
        }
    }

    /// A token's own features.
    #[inline(always)]
    fn token(&mut self, t: &Token) {
        if let Some([p, q]) = t.affix {
            self.add(p);
            self.add(q);
        }
        self.add(t.hash);
    }
}

/// [`next_token`] for the first token (out of line: it runs once a text).
#[inline(never)]
fn first_token(s: &[u8], i: &mut usize) -> Option<Token> {
    next_token(s, i)
}

/// The next token at or after `*i` (moving `*i` past it). Prose words and CJK characters (most of a
/// masked prompt) are read in line; anything else by [`general`], out of line, from the same
/// position: the tokens are the same either way.
#[inline(always)]
fn next_token(s: &[u8], i: &mut usize) -> Option<Token> {
    loop {
        let c = class(*s.get(*i)?);
        if c == SEPARATOR {
            *i += 1;
            continue;
        }
        let fast = match c {
            LOWER => lower_word(s, *i),
            NON_ASCII => cjk(s, *i),
            _ => None,
        };
        match fast.map_or_else(|| general(s, *i), Ok) {
            Ok(t) => {
                *i = t.next;
                return Some(t);
            }
            Err(next) => *i = next,
        }
    }
}

/// A token read from the text: its hash, its prefix and suffix features (words of at least
/// [`AFFIX_MIN`] bytes) and where reading goes on.
#[derive(Clone, Copy)]
struct Token {
    hash: u32,
    affix: Option<[u32; 2]>,
    next: usize,
}

/// The prefix and suffix features of a word given as its first and last [`AFFIX`] bytes.
#[inline(always)]
fn affix(prefix: u64, suffix: u64) -> Option<[u32; 2]> {
    Some([fold(prefix ^ PREFIX_TAG), fold(suffix ^ SUFFIX_TAG)])
}

/// Prose: the word of lower-case ASCII letters starting at `i`, when an ASCII separator ends it,
/// found and hashed from one or a few eight-byte loads (`next` is past the separator); `None` for
/// anything else and at the last bytes of the text.
#[inline(always)]
fn lower_word(s: &[u8], i: usize) -> Option<Token> {
    let v = load8(s, i)?;
    let n = lower_run(v);
    if n < 8 {
        // The byte after the word is in the same load.
        if class((v >> (56 - 8 * n)) as u8) != SEPARATOR {
            return None;
        }
        let token = v >> (64 - 8 * n);
        let affix = if n >= AFFIX_MIN { affix(v >> (64 - 8 * AFFIX), token & AFFIX_MASK) } else { None };
        return Some(Token { hash: short_hash(token, n as u64), affix, next: i + n + 1 });
    }
    // Eight to fifteen letters: the first eight bytes are the hash's one whole block, the rest are in
    // the next load.
    let w = load8(s, i + 8)?;
    let m = lower_run(w);
    if m < 8 {
        if class((w >> (56 - 8 * m)) as u8) != SEPARATOR {
            return None;
        }
        let (rest, word) = if m == 0 { (0, v) } else { (w >> (64 - 8 * m), (v << (8 * m)) | (w >> (64 - 8 * m))) };
        let h = v.wrapping_mul(K).rotate_left(31);
        let hash = ((h ^ rest ^ (((8 + m) as u64) << 56)).wrapping_mul(K) >> 32) as u32;
        let affix = affix(v >> (64 - 8 * AFFIX), word & AFFIX_MASK);
        return Some(Token { hash, affix, next: i + 8 + m + 1 });
    }
    let end = long_lower_word(s, i)?;
    let affix = affix(v >> (64 - 8 * AFFIX), tail_be(s, end, AFFIX));
    Some(Token { hash: token_hash(s, i, end), affix, next: end + 1 })
}

/// A three-byte CJK character at `i` (a token of its own).
#[inline(always)]
fn cjk(s: &[u8], i: usize) -> Option<Token> {
    match s.get(i..i + 3) {
        Some(&[x, y, z]) if x & 0xf0 == 0xe0 => {
            let cp = (u32::from(x & 0x0f) << 12) | (u32::from(y & 0x3f) << 6) | u32::from(z & 0x3f);
            let three = (u64::from(x) << 16) | (u64::from(y) << 8) | u64::from(z);
            is_cjk(cp).then(|| Token { hash: short_hash(three, 3), affix: None, next: i + 3 })
        }
        _ => None,
    }
}

/// The token starting at `i`, whatever it is, or where reading goes on when the character there is
/// no token (a separator or punctuation).
#[inline(never)]
fn general(s: &[u8], i: usize) -> Result<Token, usize> {
    let Some(&b) = s.get(i) else { return Err(i + 1) };
    match class(b) {
        SEPARATOR => Err(i + 1),
        WORD | LOWER => Ok(word(s, i)),
        _ => {
            let (cp, len) = decode(s, i);
            if is_cjk(cp) {
                Ok(Token { hash: token_hash(s, i, (i + len).min(s.len())), affix: None, next: i + len })
            } else if is_word_char(cp) {
                Ok(word(s, i))
            } else {
                Err(i + len)
            }
        }
    }
}

/// The word starting at `start`.
fn word(s: &[u8], start: usize) -> Token {
    let mut i = start;
    while let Some(&b) = s.get(i) {
        match class(b) {
            WORD | LOWER => {
                i += 1;
                // Runs of lower-case letters eight bytes at a time.
                while let Some(v) = load8(s, i) {
                    let n = lower_run(v);
                    i += n;
                    if n < 8 {
                        break;
                    }
                }
            }
            SEPARATOR => break,
            _ => {
                let (cp, len) = decode(s, i);
                if !is_word_char(cp) {
                    break;
                }
                i += len;
            }
        }
    }
    let affix = if i - start >= AFFIX_MIN {
        let prefix = match load8(s, start) {
            Some(v) => v >> (64 - 8 * AFFIX),
            None => be(s.get(start..start + AFFIX).unwrap_or(&[])),
        };
        affix(prefix, tail_be(s, i, AFFIX))
    } else {
        None
    };
    Token { hash: token_hash(s, start, i), affix, next: i }
}

/// The largest character boundary at or before `at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut cut = at.min(s.len());
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// The integer evidence for a masked prompt (see the module documentation).
pub fn evidence(masked: &str) -> Evidence {
    let Some(table) = TABLE.filter(|_| weights_ok()) else { return Evidence::default() };
    let mut acc = Acc { table, sums: [0; ATTACKS], features: 0 };
    if masked.len() <= MAX_BYTES {
        acc.scan(masked.as_bytes());
    } else {
        let head = floor_boundary(masked, HALF_BYTES);
        let mut tail = masked.len() - HALF_BYTES;
        while !masked.is_char_boundary(tail) {
            tail += 1;
        }
        acc.scan(masked.as_bytes().get(..head).unwrap_or(&[]));
        acc.scan(masked.as_bytes().get(tail..).unwrap_or(&[]));
    }
    Evidence { sums: acc.sums, features: acc.features }
}

impl Evidence {
    /// The evidence of two texts read as one (e.g. the head and tail windows of a long prompt).
    pub fn merge(self, other: Evidence) -> Evidence {
        let mut sums = self.sums;
        for (s, o) in sums.iter_mut().zip(other.sums) {
            *s = s.saturating_add(o);
        }
        Evidence { sums, features: self.features.saturating_add(other.features) }
    }

    /// The class probabilities this evidence gives.
    pub fn scores(&self) -> IntentScores {
        let mut logits = [0f32; 5];
        for ((l, s), b) in logits.iter_mut().skip(1).zip(self.sums).zip(BIAS) {
            *l = b + SCALE * s as f32;
        }
        if !weights_ok() {
            logits = [0.0, -1e9, -1e9, -1e9, -1e9];
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs = logits.map(|l| (l - max).exp());
        let total: f32 = probs.iter().sum();
        for p in &mut probs {
            *p /= total;
        }
        IntentScores { probs }
    }
}

/// Classifies a masked prompt (the output of [`crate::mask::mask`]).
pub fn classify(masked: &str) -> IntentScores {
    evidence(masked).scores()
}
