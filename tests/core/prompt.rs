//! The request path's one pass over a prompt text (`prompt::PromptText::read`) against the separate
//! functions it replaced and their per-character definitions: the masked text, the phrase hits, the
//! content hash and the token estimate (both tokenizer families) must be identical, on generated text
//! (every piece of `fastpaths.rs`, shifted across the eight-byte blocks), on long plain prose with
//! edits at every offset, and on real prompts (tests/data/prompts and tests/data/human). Whole bodies
//! of every API built from the real prompts (JSON escapes included) must inspect as the definitions
//! in `onepass.rs` give.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::ApiKind;
use distill_guard::hash::words64;
use distill_guard::json::Json;
use distill_guard::policy::Policy;
use distill_guard::prompt::PromptText;
use distill_guard::request::{inspect, BodyStatus};
use distill_guard::shape::{mask, PhraseIndex};
use distill_guard::tokens::{estimate_tokens_for, Tokenizer};
use serde_json::{json, Value};

use crate::fastpaths::{random_text, reference_mask, reference_tokens};
use crate::onepass::{reference_estimate, reference_shape};
use crate::support::{no_env, Rng, DEFAULT_POLICY};

/// Real prompts: code, exam questions, Chinese chat, multi-turn dialogue, summaries.
const SOURCES: &[&str] = &[
    include_str!("../data/prompts/humaneval.jsonl"),
    include_str!("../data/prompts/mmlu_dev_cot.jsonl"),
    include_str!("../data/prompts/chatterbot_zh.jsonl"),
    include_str!("../data/prompts/game24.jsonl"),
    include_str!("../data/human/mtsdialog.jsonl"),
];

fn real_prompts() -> Vec<String> {
    let mut out = Vec::new();
    for source in SOURCES {
        for line in source.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v.get("text").and_then(Value::as_str) {
                out.push(t.to_string());
            }
        }
    }
    out
}

fn index() -> PhraseIndex {
    Policy::parse(DEFAULT_POLICY.as_bytes(), &no_env).unwrap().detection.shape.index
}

/// The pass over `text` equals the separate functions; returns the phrase bits (to show hits were
/// exercised).
fn check(text: &str, index: &PhraseIndex, what: &str) -> u8 {
    let pass = PromptText::read(text, Some(index));
    let masked = mask(text);
    assert_eq!(pass.masked, masked, "{what}: mask of {text:?}");
    assert_eq!(pass.phrases, index.scan(masked.as_bytes()), "{what}: phrases of {text:?}");
    assert_eq!(pass.content, words64(text.as_bytes()), "{what}: content hash of {text:?}");
    for t in [Tokenizer::Cl100k, Tokenizer::O200k] {
        assert_eq!(pass.estimate.tokens(t), estimate_tokens_for(text, t), "{what}: tokens ({t:?}) of {text:?}");
    }
    let bare = PromptText::read(text, None);
    assert_eq!((bare.masked, bare.phrases, bare.content), (masked, 0, pass.content), "{what}: without phrases");
    pass.phrases
}

#[test]
fn one_pass_equals_the_separate_functions_on_generated_text() {
    let index = index();
    let mut rng = Rng(0x16_7001);
    let mut hits = 0u8;
    for round in 0..4000 {
        let body = random_text(&mut rng, 60);
        // Shifted by 0-7 bytes so that every piece meets every position of an eight-byte block.
        let shift = ["", "a", "ab", "abc", "ab d", "  x", "\"q\" x", "z 9 z "][round % 8];
        let text = format!("{shift}{body}");
        hits |= check(&text, &index, &format!("round {round}"));
        if round % 8 == 0 {
            assert_eq!(PromptText::read(&text, Some(&index)).masked, reference_mask(&text), "round {round}");
            assert_eq!(
                PromptText::read(&text, None).estimate.tokens(Tokenizer::Cl100k),
                reference_tokens(&text, Tokenizer::Cl100k),
                "round {round}: {text:?}"
            );
        }
    }
    assert_eq!(hits, 0b1111, "every phrase list must be hit at least once");
}

#[test]
fn one_pass_equals_the_separate_functions_on_prose_edited_at_every_offset() {
    let index = index();
    let prose = "The quick brown fox jumps over the lazy dog. Then, show your work step by step; rate it. ".repeat(6);
    let edits = ["  ", "7", "\"", "`", "\n", "\t", "é", "中", "“", "\u{3000}", "\u{1}", "A", "-", "#"];
    for at in 0..80 {
        for edit in edits {
            let mut text = prose.clone();
            text.insert_str(at, edit);
            // An opened quote left open to the end, and one closed further on.
            check(&text, &index, &format!("{edit:?} at {at}"));
            text.insert_str(at + 40, edit);
            check(&text, &index, &format!("{edit:?} at {at} and {}", at + 40));
        }
    }
    for n in 0..40 {
        check(&prose[..n], &index, "prefix");
    }
}

#[test]
fn one_pass_equals_the_separate_functions_on_real_prompts() {
    let index = index();
    let prompts = real_prompts();
    assert!(prompts.len() > 1000, "{} prompts", prompts.len());
    let mut cjk = 0;
    for (i, p) in prompts.iter().enumerate() {
        check(p, &index, &format!("prompt {i}"));
        cjk += usize::from(p.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
    }
    assert!(cjk > 100, "Chinese prompts must be read: {cjk}");
}

/// A body of `api` asking `prompt` (with a system prompt and an earlier turn when the API has them).
fn body(api: ApiKind, system: &str, prompt: &str, earlier: &str) -> Value {
    let messages = json!([
        {"role": "user", "content": earlier},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": prompt},
    ]);
    let mut with_system = vec![json!({"role": "system", "content": system})];
    with_system.extend(messages.as_array().unwrap().iter().cloned());
    match api {
        ApiKind::OpenAiChat | ApiKind::Other => json!({"model": "gpt-4o", "stream": true, "messages": with_system}),
        ApiKind::OpenAiCompletions => json!({"model": "gpt-3.5-turbo-instruct", "prompt": prompt, "max_tokens": 64}),
        ApiKind::OpenAiResponses => json!({"model": "o3", "instructions": system, "input": messages}),
        ApiKind::AnthropicMessages => json!({
            "model": "claude-sonnet-4", "max_tokens": 1024, "system": system,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        }),
    }
}

#[test]
fn bodies_of_real_prompts_inspect_as_the_definitions_give() {
    let mut policy = Policy::parse(DEFAULT_POLICY.as_bytes(), &no_env).unwrap();
    let prompts = real_prompts();
    let apis = ApiKind::ALL;
    let mut rng = Rng(0x16_7002);
    for round in 0..400 {
        let api = apis[round % apis.len()];
        policy.detection.shape.intent_threshold = if round % 3 == 0 { None } else { Some(0.4) };
        let cfg = &policy.detection.shape;
        let prompt = &prompts[rng.below(prompts.len())];
        let system = &prompts[rng.below(prompts.len())];
        let earlier = &prompts[rng.below(prompts.len())];
        let bytes = serde_json::to_vec(&body(api, system, prompt, earlier)).unwrap();
        // serde_json escapes only quotes, backslashes and controls: escape some non-ASCII too, as
        // other clients do, so that strings come out of the parse as copies.
        let bytes = if round % 4 == 1 { escape_non_ascii(&bytes) } else { bytes };
        let r = inspect(api, &bytes, true, Some(cfg));
        assert_eq!(r.facts.body, BodyStatus::Parsed, "round {round}");
        let root = Json::parse(&bytes).unwrap();
        assert_eq!(r.facts.shape.as_ref(), Some(&reference_shape(api, &root, cfg)), "round {round}: {prompt:?}");
        assert_eq!(Some(r.facts.estimated_input_tokens), reference_estimate(api, &bytes), "round {round}");
    }
}

/// Every non-ASCII character of a JSON text written as `\uXXXX` escapes (surrogate pairs above the
/// basic plane).
fn escape_non_ascii(bytes: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for c in std::str::from_utf8(bytes).unwrap().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.into_bytes()
}
