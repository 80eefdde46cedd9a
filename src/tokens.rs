//! Token counting: a fast estimate from text (no vocabulary, a few rules fitted to BPE tokenizers of
//! the cl100k/o200k family) and the exact `Usage` an API reports.

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    Space,
    Newline,
    Punct,
    Cjk,
    OtherLetter,
}

fn classify(c: char) -> Class {
    match c {
        'a'..='z' | 'A'..='Z' => Class::Letter,
        '0'..='9' => Class::Digit,
        '\n' | '\r' => Class::Newline,
        ' ' | '\t' => Class::Space,
        c if c.is_ascii() => Class::Punct,
        '\u{3040}'..='\u{30ff}'
        | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}'
        | '\u{ac00}'..='\u{d7af}'
        | '\u{f900}'..='\u{faff}'
        | '\u{20000}'..='\u{2fa1f}' => Class::Cjk,
        c if c.is_alphabetic() => Class::OtherLetter,
        c if c.is_whitespace() => Class::Space,
        _ => Class::Punct,
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
        let m = model.to_ascii_lowercase();
        let o200k = ["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "gpt-oss"];
        if o200k.iter().any(|p| m.starts_with(p)) {
            Tokenizer::O200k
        } else {
            Tokenizer::Cl100k
        }
    }
}

fn run_tokens(class: Class, len: u64) -> u64 {
    match class {
        // Common words of up to 7 letters are one token; longer ones split about every 4 letters.
        Class::Letter => {
            if len <= 7 {
                1
            } else {
                1 + (len - 7).div_ceil(4)
            }
        }
        // Digits are grouped in threes.
        Class::Digit => len.div_ceil(3),
        // A space is merged into the word after it; longer indentation runs cost one token.
        Class::Space => u64::from(len > 1),
        Class::Newline => 1,
        // Symbols pair up often (`);`, `->`, `",`).
        Class::Punct => len.div_ceil(2),
        // Han, kana and hangul: counted per character, scaled per tokenizer in `estimate_tokens_for`.
        Class::Cjk => 0,
        // Accented Latin, Cyrillic, Greek, ...: a token per two to three letters.
        Class::OtherLetter => len.div_ceil(2),
    }
}

/// Estimated cl100k tokens of a text. Linear in its length, no allocation.
pub fn estimate_tokens(text: &str) -> u64 {
    estimate_tokens_for(text, Tokenizer::Cl100k)
}

/// Estimated tokens of a text for a tokenizer family.
pub fn estimate_tokens_for(text: &str, tokenizer: Tokenizer) -> u64 {
    let mut total = 0u64;
    let mut cjk = 0u64;
    let mut current: Option<(Class, u64)> = None;
    for c in text.chars() {
        let class = classify(c);
        if class == Class::Cjk {
            cjk += 1;
        }
        current = match current {
            Some((k, n)) if k == class => Some((k, n + 1)),
            Some((k, n)) => {
                total += run_tokens(k, n);
                Some((class, 1))
            }
            None => Some((class, 1)),
        };
    }
    if let Some((k, n)) = current {
        total += run_tokens(k, n);
    }
    // Measured on real Chinese text: ~1.2 cl100k tokens and ~0.85 o200k tokens per character.
    total
        + match tokenizer {
            Tokenizer::Cl100k => cjk + cjk / 4,
            Tokenizer::O200k => cjk - cjk / 8 - cjk / 32,
        }
}

/// Estimate for bytes that could not be inspected: about four bytes a token.
pub fn estimate_from_bytes(len: u64) -> u64 {
    len.div_ceil(4)
}
