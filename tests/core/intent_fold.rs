//! The intent model's feature extraction (`intent::evidence`, read eight bytes at a time with fast
//! paths for prose) against its per-character definition (`tools/intent/features.py`, written out
//! here one character at a time): the integer evidence must be identical and the probabilities
//! bit-identical, on generated text shifted across the eight-byte blocks, on every cut of texts
//! around the shape's 256/512-byte intent windows and the model's 4096-byte limit, and on real
//! prompts (tests/data/prompts and tests/data/human), raw and masked, whole and as the windows the
//! request shape reads.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::intent::{classify, evidence, Evidence, HALF_BYTES, MAX_BYTES};
use distill_guard::shape::{mask, INTENT_WINDOW};
use serde_json::Value;

use crate::fastpaths::random_text;
use crate::support::Rng;

// ---- the definition, one character at a time ---------------------------------------------------

const WEIGHTS: &[u8] = include_bytes!("../../src/intent/weights.bin");
/// `DGIN`, bits, four biases, the scale.
const HEADER: usize = 4 + 4 + 16 + 4;
const BITS: u32 = 15;
const K: u64 = 0x9e37_79b9_7f4a_7c15;
const GOLDEN: u32 = 0x9e37_79b1;
const AFFIX: usize = 6;
const AFFIX_MIN: usize = 7;

fn token_hash(data: &[u8]) -> u32 {
    let (mut h, mut reg) = (0u64, 0u64);
    for (n, &b) in data.iter().enumerate() {
        reg = (reg << 8) | u64::from(b);
        if (n + 1) % 8 == 0 {
            h = (h ^ reg).wrapping_mul(K).rotate_left(31);
            reg = 0;
        }
    }
    ((h ^ reg ^ ((data.len() as u64) << 56)).wrapping_mul(K) >> 32) as u32
}

fn fold(x: u64) -> u32 {
    (x.wrapping_mul(K) >> 32) as u32
}

fn big_endian(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x9fff | 0xac00..=0xd7af)
}

fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || "#'_<>/".contains(c);
    }
    !(is_cjk(c)
        || matches!(c as u32, 0x80..=0xbf | 0x2000..=0x2bff | 0x3000..=0x303f | 0xfe30..=0xfe4f | 0xff00..=0xff65))
}

struct Sums(Evidence);

impl Sums {
    fn add(&mut self, h: u32) {
        let bucket = (h.wrapping_mul(GOLDEN) >> (32 - BITS)) as usize;
        for (k, s) in self.0.sums.iter_mut().enumerate() {
            *s += i32::from(WEIGHTS[HEADER + bucket * 4 + k] as i8);
        }
        self.0.features += 1;
    }
}

/// The whole text when it has at most `limit` bytes, else its first and last `n` bytes cut at
/// character boundaries (the model's segments: `MAX_BYTES`, `HALF_BYTES`; the shape's intent windows:
/// twice `INTENT_WINDOW`, `INTENT_WINDOW`).
fn ends(text: &str, limit: usize, n: usize) -> Vec<&str> {
    if text.len() <= limit {
        return vec![text];
    }
    let mut head = n;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - n;
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    vec![&text[..head], &text[tail..]]
}

/// The evidence by the definition.
fn reference_evidence(text: &str) -> Evidence {
    let mut acc = Sums(Evidence::default());
    for seg in ends(text, MAX_BYTES, HALF_BYTES) {
        let chars: Vec<(usize, char)> = seg.char_indices().collect();
        let mut prev: Option<u32> = None;
        let mut i = 0;
        while let Some(&(at, c)) = chars.get(i) {
            let h = if is_cjk(c) {
                i += 1;
                token_hash(c.to_string().as_bytes())
            } else if is_word(c) {
                let mut j = i;
                while chars.get(j).is_some_and(|&(_, c)| is_word(c)) {
                    j += 1;
                }
                let end = chars.get(j).map_or(seg.len(), |&(e, _)| e);
                let word = &seg.as_bytes()[at..end];
                if word.len() >= AFFIX_MIN {
                    acc.add(fold(big_endian(&word[..AFFIX]) ^ (1 << 48)));
                    acc.add(fold(big_endian(&word[word.len() - AFFIX..]) ^ (1 << 49)));
                }
                i = j;
                token_hash(word)
            } else {
                i += 1;
                continue;
            };
            acc.add(h);
            if let Some(p) = prev {
                acc.add(p.wrapping_mul(GOLDEN) ^ h);
            }
            prev = Some(h);
        }
    }
    acc.0
}

/// `evidence` and `classify` of `text` equal the definition's, to the bit.
fn check(text: &str, what: &str) -> Evidence {
    let want = reference_evidence(text);
    assert_eq!(evidence(text), want, "{what}: evidence of {text:?}");
    let (got, want) = (classify(text).probs, want.scores().probs);
    assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "{what}: probabilities of {text:?}");
    evidence(text)
}

/// The shape's intent windows of a masked text (src/shape.rs `intent_scores`).
fn windows(masked: &str) -> Vec<&str> {
    ends(masked, 2 * INTENT_WINDOW, INTENT_WINDOW)
}

// ---- generated text ----------------------------------------------------------------------------

/// Pieces that meet the fast paths' edges: lower-case words of one to twenty letters (around the
/// seven-byte affix limit and the eight-byte loads), every separator class, word bytes that are not
/// letters, non-ASCII word characters, CJK, punctuation, upper case (never in masked text, but
/// `evidence` takes any text).
const PIECES: &[&str] = &[
    "a",
    "to",
    "the",
    "fox",
    "over",
    "quick",
    "jumps",
    "explain",
    "explains",
    "reasoning",
    "derivation",
    "photosynthesis",
    "abcdefghijklm",
    "abcdefghijklmno",
    "abcdefghijklmnop",
    "abcdefghijklmnopq",
    "internationalization",
    "abcdefghijklmnopqrst",
    " ",
    "  ",
    ". ",
    ", ",
    "\n",
    "-",
    "\"…\"",
    "#",
    "'",
    "_",
    "<",
    ">",
    "/",
    "don't",
    "x#",
    "step#",
    "<think>",
    "a/b",
    "é",
    "ß",
    "жизнь",
    "naïve",
    "café",
    "\u{301}",
    "😀",
    "字",
    "一步一步",
    "推理过程",
    "。",
    "，",
    "“",
    "—",
    "\u{3000}",
    "한국어",
    "かな",
    "Ａ",
    "«",
    "\u{a0}",
    "\u{7f}",
    "\u{1}",
    "@",
    "[",
    "`",
    "{",
    ":",
    "Z",
    "Upper",
    "MiXeD",
    "0",
    "42",
];

fn piece_text(rng: &mut Rng, pieces: usize) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(pieces + 1) {
        s.push_str(PIECES[rng.below(PIECES.len())]);
        if rng.below(2) == 0 {
            s.push(' ');
        }
    }
    s
}

#[test]
fn evidence_equals_the_definition_on_generated_text_at_every_alignment() {
    let mut rng = Rng(0x16_1f01);
    let mut features = 0u64;
    for round in 0..3000 {
        let body = if round % 2 == 0 { piece_text(&mut rng, 40) } else { random_text(&mut rng, 40) };
        // Shifted by 0-7 bytes so that every piece meets every position of an eight-byte block.
        let shift = ["", "a", "ab", "abc", "ab d", "  x", "é x", "z 9 z "][round % 8];
        for text in [format!("{shift}{body}"), mask(&format!("{shift}{body}"))] {
            features += u64::from(check(&text, &format!("round {round}")).features);
        }
    }
    assert!(features > 100_000, "{features}");
}

#[test]
fn evidence_equals_the_definition_on_every_cut_around_the_windows() {
    let mut rng = Rng(0x16_1f02);
    for round in 0..6 {
        // Texts a little longer than the shape's two windows (512 bytes), cut at every character
        // boundary from both ends, as the head and tail windows cut words.
        let mut text = mask(&piece_text(&mut rng, 200));
        while text.len() < 2 * INTENT_WINDOW + 40 {
            text.push_str(&mask(&piece_text(&mut rng, 20)));
        }
        for at in (0..=text.len()).filter(|&at| text.is_char_boundary(at)) {
            check(&text[..at], &format!("round {round}, head {at}"));
            check(&text[at..], &format!("round {round}, tail from {at}"));
        }
        for w in windows(&text) {
            check(w, &format!("round {round}, window"));
        }
    }
}

#[test]
fn evidence_equals_the_definition_around_the_model_limit() {
    let mut rng = Rng(0x16_1f03);
    // Texts of MAX_BYTES - 8 to MAX_BYTES + 8 bytes (read whole, or as their first and last
    // HALF_BYTES), with multi-byte characters near the cuts in some of them.
    for round in 0..48 {
        let mut text = String::new();
        while text.len() < MAX_BYTES - 24 {
            text.push_str(&piece_text(&mut rng, 30));
        }
        let mut cut = MAX_BYTES - 24;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        let filler = ["x", "é", "字", "😀", " ", "ab "][round % 6];
        let target = MAX_BYTES - 8 + round % 17;
        while text.len() < target {
            text.push_str(filler);
        }
        let e = check(&text, &format!("round {round}, {} bytes", text.len()));
        assert!(e.features > 0);
        let masked = mask(&text);
        check(&masked, &format!("round {round}, masked"));
    }
}

// ---- real prompts ------------------------------------------------------------------------------

const SOURCES: &[&str] = &[
    include_str!("../data/prompts/humaneval.jsonl"),
    include_str!("../data/prompts/mmlu_dev_cot.jsonl"),
    include_str!("../data/prompts/chatterbot_zh.jsonl"),
    include_str!("../data/prompts/evals_zh.jsonl"),
    include_str!("../data/prompts/game24.jsonl"),
    include_str!("../data/human/mtsdialog.jsonl"),
    include_str!("../data/human/translation.jsonl"),
];

#[test]
fn evidence_equals_the_definition_on_real_prompts() {
    let (mut texts, mut long, mut nonzero) = (0usize, 0usize, 0usize);
    for source in SOURCES {
        for line in source.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let Some(raw) = v.get("text").and_then(Value::as_str) else { continue };
            let masked = mask(raw);
            check(raw, "raw prompt");
            if check(&masked, "masked prompt").sums != [0; 4] {
                nonzero += 1;
            }
            let w = windows(&masked);
            if w.len() == 2 {
                long += 1;
            }
            for window in w {
                check(window, "window of a masked prompt");
            }
            texts += 1;
        }
    }
    assert!(texts >= 500 && long >= 50 && nonzero * 2 >= texts, "{texts} texts, {long} long, {nonzero} with evidence");
}
