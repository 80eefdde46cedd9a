//! Token counting: a fast estimate from text (no vocabulary, a few rules fitted to BPE tokenizers of
//! the cl100k/o200k family) and the exact `Usage` an API reports.

use crate::bytes::{byte_table, letter_run, letters, word_at, ByteTable, HIGH};
use crate::json::Json;

/// What an inline image is counted as (the low-detail image price).
const TOKENS_PER_IMAGE: u64 = 85;

/// Token usage of one exchange. Cached input is part of `input`; reasoning is part of `output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input (prompt) tokens, cached ones included.
    pub input: u64,
    /// Output (completion) tokens, reasoning included.
    pub output: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input: u64,
    /// Output tokens spent on hidden reasoning.
    pub reasoning: u64,
}

// Character classes of the estimator (a run of one class is priced by `run_tokens`).
pub(crate) const LETTER: u8 = 0;
pub(crate) const DIGIT: u8 = 1;
pub(crate) const SPACE: u8 = 2;
pub(crate) const NEWLINE: u8 = 3;
pub(crate) const PUNCT: u8 = 4;
pub(crate) const CJK: u8 = 5;
pub(crate) const OTHER_LETTER: u8 = 6;
pub(crate) const NO_RUN: u8 = 7;

/// Marks a byte that starts (or continues) a multi-byte character: decoded, not looked up.
const NON_ASCII: u8 = 8;

/// Classes of the bytes, looked up instead of decoded: most prompt text is ASCII.
const BYTE_CLASS: ByteTable = byte_table!(|b| match b {
    b'a'..=b'z' | b'A'..=b'Z' => LETTER,
    b'0'..=b'9' => DIGIT,
    b'\n' | b'\r' => NEWLINE,
    b' ' | b'\t' => SPACE,
    0x80..=0xff => NON_ASCII,
    _ => PUNCT,
});

pub(crate) fn classify(c: char) -> u8 {
    match c {
        c if c.is_ascii() => BYTE_CLASS.get(c as u8),
        '\u{3040}'..='\u{30ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{ac00}'..='\u{d7af}'
        | '\u{f900}'..='\u{faff}'
        | '\u{20000}'..='\u{2fa1f}' => CJK,
        c if c.is_alphabetic() => OTHER_LETTER,
        c if c.is_whitespace() => SPACE,
        _ => PUNCT,
    }
}

/// The tokenizer family a model uses; they differ most on CJK text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tokenizer {
    /// cl100k_base (GPT-4, GPT-3.5) and a fair proxy for other vendors' tokenizers.
    #[default]
    Cl100k,
    /// o200k_base (GPT-4o, GPT-4.1, GPT-5, o-series): about 30% fewer tokens on Chinese.
    O200k,
}

impl Tokenizer {
    /// The family of a model name (unknown models use cl100k, the more conservative for CJK).
    pub fn for_model(model: &str) -> Tokenizer {
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "gpt-oss"];
        // A case-insensitive prefix test, with no lower-cased copy of the name.
        let starts = |p: &str| model.as_bytes().get(..p.len()).is_some_and(|m| m.eq_ignore_ascii_case(p.as_bytes()));
        if o200k.iter().any(|p| starts(p)) {
            Tokenizer::O200k
        } else {
            Tokenizer::Cl100k
        }
    }
}

/// Tokens of a run of `len` characters of one class.
#[inline(always)]
pub(crate) fn run_tokens(class: u8, len: u64) -> u64 {
    match class {
        // Common words of up to 7 letters are one token; longer ones split about every 4 letters.
        LETTER => {
            if len <= 7 {
                1
            } else {
                1 + (len - 7).div_ceil(4)
            }
        }
        // Digits are grouped in threes.
        DIGIT => len.div_ceil(3),
        // A space is merged into the word after it; longer indentation runs cost one token.
        SPACE => u64::from(len > 1),
        NEWLINE => 1,
        // Symbols pair up often (`);`, `->`, `",`).
        PUNCT => len.div_ceil(2),
        // Accented Latin, Cyrillic, Greek, ...: a token per two to three letters.
        OTHER_LETTER => len.div_ceil(2),
        // Han, kana and hangul are counted per character, scaled per tokenizer in `estimate_tokens_for`.
        _ => 0,
    }
}

/// Estimated cl100k tokens of a text. Linear in its length, no allocation.
pub fn estimate_tokens(text: &str) -> u64 {
    estimate_tokens_for(text, Tokenizer::Cl100k)
}

/// Estimated tokens of a text for a tokenizer family. One pass over the bytes; only non-ASCII
/// characters are decoded.
pub fn estimate_tokens_for(text: &str, tokenizer: Tokenizer) -> u64 {
    let mut total = 0u64;
    let mut cjk = 0u64;
    let mut class = NO_RUN;
    let mut run = 0u64;
    let mut rest = text.as_bytes();
    while let Some(&b) = rest.first() {
        let k = byte_class(b);
        if k == LETTER {
            // Prose: words separated by single spaces. A letter run is complete (letters are ASCII
            // only), and a single space between two words is a run of its own that costs nothing, so
            // word after word is priced here without going round the general loop.
            flush(class, run, &mut total, &mut cjk);
            class = NO_RUN;
            run = 0;
            loop {
                // A word of up to seven letters (most) from one eight-byte load: one token, and a
                // single space with a letter after it in the same load goes with it.
                let short = word_at(rest, 0).map(|w| (w, !letters(w) & HIGH)).filter(|(_, others)| *others != 0);
                if let Some((w, others)) = short {
                    let bit = others.trailing_zeros();
                    let n = (bit / 8) as usize;
                    total += 1;
                    if (w >> (bit - 7)) & 0xff == u64::from(b' ')
                        && others.checked_shr(bit + 8).is_some_and(|o| o & 1 == 0)
                    {
                        rest = rest.get(n + 1..).unwrap_or(&[]);
                        continue;
                    }
                    rest = rest.get(n..).unwrap_or(&[]);
                } else {
                    let n = letter_run(rest);
                    total += run_tokens(LETTER, n as u64);
                    rest = rest.get(n..).unwrap_or(&[]);
                }
                match rest {
                    [b' ', next, ..] if byte_class(*next) == LETTER => rest = rest.get(1..).unwrap_or(&[]),
                    _ => break,
                }
            }
            continue;
        }
        let (k, width, advance) = if k != NON_ASCII {
            // A run of ASCII bytes of one class, in a tight loop (most prompt text).
            let n = rest.iter().position(|&n| byte_class(n) != k).unwrap_or(rest.len());
            (k, n as u64, n)
        } else {
            // A multi-byte character: its length from the leading byte, decoded from valid UTF-8.
            let len = utf8_len(b);
            let c = rest.get(..len).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.chars().next());
            (c.map_or(PUNCT, classify), 1, len)
        };
        rest = rest.get(advance.max(1)..).unwrap_or(&[]);
        if k == class {
            run += width;
        } else {
            flush(class, run, &mut total, &mut cjk);
            class = k;
            run = width;
        }
    }
    flush(class, run, &mut total, &mut cjk);
    total + tokenizer.cjk_tokens(cjk)
}

impl Tokenizer {
    /// Tokens of `chars` Han, kana or hangul characters. Measured on real Chinese text: ~1.2 cl100k
    /// tokens and ~0.85 o200k tokens per character.
    pub(crate) fn cjk_tokens(self, chars: u64) -> u64 {
        match self {
            Tokenizer::Cl100k => chars + chars / 4,
            Tokenizer::O200k => chars - chars / 8 - chars / 32,
        }
    }
}

/// The length of the UTF-8 sequence a leading byte starts (1 for a stray continuation byte).
fn utf8_len(b: u8) -> usize {
    match b {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// The class of a byte (`NON_ASCII` for the bytes of multi-byte characters).
#[inline(always)]
pub(crate) fn byte_class(b: u8) -> u8 {
    BYTE_CLASS.get(b)
}

#[inline(always)]
fn flush(class: u8, run: u64, total: &mut u64, cjk: &mut u64) {
    if class == CJK {
        *cjk += run;
    }
    *total += run_tokens(class, run);
}

/// Estimate for bytes that could not be inspected: about four bytes a token.
pub fn estimate_from_bytes(len: u64) -> u64 {
    len.div_ceil(4)
}

/// A text's token estimate before the tokenizer is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCount {
    /// Estimated tokens other than Han, kana and hangul characters.
    pub(crate) tokens: u64,
    /// Han, kana and hangul characters (priced per tokenizer).
    pub(crate) cjk: u64,
}

impl TokenCount {
    /// The estimate for a tokenizer family (`tokens::estimate_tokens_for`).
    pub fn tokens(&self, tokenizer: Tokenizer) -> u64 {
        self.tokens + tokenizer.cjk_tokens(self.cjk)
    }
}

/// A string's token estimate already made (by the shape's one pass over it), found again by address
/// in [`text_tokens_known`].
pub type Estimated<'a> = Option<(&'a str, TokenCount)>;

/// Sum of estimated tokens of every string inside `value` (keys excluded; inline images priced flat).
pub fn text_tokens(value: &Json<'_>, tokenizer: Tokenizer) -> u64 {
    text_tokens_known(value, tokenizer, &[])
}

/// [`text_tokens`], taking the estimates of strings already read (by the shape's one pass over them)
/// from `known`: a string of `value` at the same address and of the same length is not read again.
pub fn text_tokens_known(value: &Json<'_>, tokenizer: Tokenizer, known: &[Estimated<'_>]) -> u64 {
    match value {
        Json::String(s) => {
            if s.starts_with("data:") {
                TOKENS_PER_IMAGE
            } else if let Some((_, count)) =
                known.iter().flatten().find(|(k, _)| std::ptr::eq(k.as_ptr(), s.as_ptr()) && k.len() == s.len())
            {
                count.tokens(tokenizer)
            } else {
                estimate_tokens_for(s, tokenizer)
            }
        }
        Json::Array(items) => items.iter().map(|v| text_tokens_known(v, tokenizer, known)).sum(),
        Json::Object(fields) => {
            if value.get("type").and_then(Json::as_str) == Some("base64") {
                return TOKENS_PER_IMAGE;
            }
            fields.iter().map(|(_, v)| text_tokens_known(v, tokenizer, known)).sum()
        }
        Json::Number(_) | Json::Bool(_) | Json::Null => 0,
    }
}
