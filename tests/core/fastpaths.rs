//! The fast text paths (byte-run token estimator, run-based masking, word-start phrase scan) must give
//! exactly what the plain character-by-character definitions give. The references below are those
//! definitions, kept simple on purpose; both are fed the same seeded random texts mixing ASCII
//! words, digits, whitespace, quotes, punctuation, accented Latin, CJK and emoji.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::detection::default_phrases;
use distill_guard::shape::{mask, PhraseIndex, Phrases};
use distill_guard::tokens::{estimate_tokens_for, Tokenizer};

use crate::support::Rng;

const PIECES: &[&str] = &[
    "the",
    "Quick",
    "BROWN",
    "photosynthesis",
    "a",
    "x",
    "12",
    "2024",
    "3.14",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u{a0}",
    "\u{3000}",
    ",",
    ".",
    ");",
    "->",
    "\"",
    "\"quoted words\"",
    "`code`",
    "“curly”",
    "「引用」",
    "«fr»",
    "é",
    "Ünïcödé",
    "Привет",
    "中文",
    "一步一步",
    "推理过程",
    "かな",
    "한국어",
    "😀",
    "İ",
    "ß",
    "step by step",
    "Step  By\nStep",
    "show your work",
    "on a scale of 1 to 10",
    "score from 1 to 5",
    "rubric",
    "<think>",
    "generate 50 examples",
    "jsonl",
    "system prompt",
    "生成100条",
    "你是谁",
    "fine-tuning",
    "derivation",
    // Bytes at the edges of the eight-bytes-at-a-time class tests (just outside and inside the
    // letter and digit ranges), controls, DEL, and long unbroken runs.
    "@[`{/:",
    "AZaz09",
    "\u{7f}",
    "\u{1}",
    "\u{b}\u{c}",
    "internationalization",
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "a b c d e f g h i j",
];

pub(crate) fn random_text(rng: &mut Rng, max_pieces: usize) -> String {
    let n = rng.below(max_pieces + 1);
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(PIECES[rng.below(PIECES.len())]);
        if rng.below(3) == 0 {
            s.push(' ');
        }
    }
    s
}

// ---- reference definitions -------------------------------------------------------------------

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

fn run_tokens(class: Class, len: u64) -> u64 {
    match class {
        Class::Letter => {
            if len <= 7 {
                1
            } else {
                1 + (len - 7).div_ceil(4)
            }
        }
        Class::Digit => len.div_ceil(3),
        Class::Space => u64::from(len > 1),
        Class::Newline => 1,
        Class::Punct | Class::OtherLetter => len.div_ceil(2),
        Class::Cjk => 0,
    }
}

pub(crate) fn reference_tokens(text: &str, tokenizer: Tokenizer) -> u64 {
    let mut total = 0;
    let mut cjk = 0;
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
    total
        + match tokenizer {
            Tokenizer::Cl100k => cjk + cjk / 4,
            Tokenizer::O200k => cjk - cjk / 8 - cjk / 32,
        }
}

pub(crate) fn reference_mask(text: &str) -> String {
    let mut out = String::new();
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
        out.extend(c.to_lowercase());
    }
    out.trim_end().to_string()
}

/// Category bits of the phrases that occur in `text` at a word start (the start, after a byte that is
/// not an ASCII letter or digit, or at a non-ASCII byte).
pub(crate) fn reference_scan(phrases: &Phrases, text: &[u8]) -> u8 {
    let mut found = 0;
    for (bit, list) in
        [(1u8, &phrases.chain_of_thought), (2, &phrases.rubric), (4, &phrases.synthetic_data), (8, &phrases.probe)]
    {
        for phrase in list.iter().filter(|p| !p.is_empty()) {
            let p = phrase.as_bytes();
            let hit = (0..text.len()).any(|i| {
                let start = text[i] >= 0x80 || i == 0 || !text[i - 1].is_ascii_alphanumeric();
                let long_enough = p.len() >= 4;
                // Phrases under four bytes match anywhere (they are looked for directly).
                (start || !long_enough) && text[i..].starts_with(p)
            });
            if hit {
                found |= bit;
            }
        }
    }
    found
}

// ---- the comparisons ---------------------------------------------------------------------------

#[test]
fn token_estimate_equals_the_per_character_definition() {
    let mut rng = Rng(0x5eed_0001);
    for round in 0..3000 {
        let text = random_text(&mut rng, 40);
        for tokenizer in [Tokenizer::Cl100k, Tokenizer::O200k] {
            assert_eq!(
                estimate_tokens_for(&text, tokenizer),
                reference_tokens(&text, tokenizer),
                "round {round}: {text:?}"
            );
        }
    }
    // Long runs cross every rule's period.
    for n in 0..40 {
        for unit in ["a", "7", " ", "\n", "!", "é", "中"] {
            let text = unit.repeat(n);
            assert_eq!(
                estimate_tokens_for(&text, Tokenizer::Cl100k),
                reference_tokens(&text, Tokenizer::Cl100k),
                "{text:?}"
            );
        }
    }
}

#[test]
fn masking_equals_the_per_character_definition() {
    let mut rng = Rng(0x5eed_0002);
    for round in 0..3000 {
        let text = random_text(&mut rng, 40);
        assert_eq!(mask(&text), reference_mask(&text), "round {round}: {text:?}");
    }
}

#[test]
fn phrase_scan_equals_a_search_at_every_word_start() {
    let mut phrases = default_phrases();
    // Short phrases (under four bytes) take the direct-search path.
    phrases.probe.push("ai?".into());
    let masked = |p: &Vec<String>| p.iter().map(|s| mask(s)).collect::<Vec<_>>();
    let phrases = Phrases {
        chain_of_thought: masked(&phrases.chain_of_thought),
        rubric: masked(&phrases.rubric),
        synthetic_data: masked(&phrases.synthetic_data),
        probe: masked(&phrases.probe),
    };
    let index = PhraseIndex::new(&phrases);
    let mut rng = Rng(0x5eed_0003);
    let mut hits = 0;
    for round in 0..2000 {
        let text = mask(&random_text(&mut rng, 30));
        let expected = reference_scan(&phrases, text.as_bytes());
        assert_eq!(index.scan(text.as_bytes()), expected, "round {round}: {text:?}");
        hits += u32::from(expected != 0);
    }
    assert!(hits > 200, "the random texts must contain phrases often enough to test matching ({hits})");
    // Not at a word start: no match.
    assert_eq!(index.scan(b"misstep by step"), 0);
    assert_eq!(index.scan(b"a step by step"), 1);
}
