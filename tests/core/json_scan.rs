//! The hand-written parser behind `Json::parse` against serde_json, differentially: on every input
//! both must accept or both reject, and an accepted document must give the very tree serde_json builds
//! through `Json`'s `Deserialize` implementation (same variants, field order, float bits, borrowed or
//! owned strings) and the same `serde_json::Value`. The request path reads only that tree (and the
//! body's bytes), so `inspect` is also run on serde_json's tree (`inspect_parsed`) and must give the
//! same facts, shape and rewrite. Inputs: the request bodies of the fuzz corpus, the test data and the
//! core tests' own literals; generated bodies of every API written with random formatting and escapes;
//! systematic mutations of seed bodies (truncation at every offset, byte replacements and bit flips
//! everywhere, deletions, inserted control characters, escapes, surrogates, nesting, BOMs).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::ApiKind;
use distill_guard::json::Json;
use distill_guard::policy::{Policy, ShapeConfig};
use distill_guard::request::{inspect, inspect_parsed};
use serde_json::Value;

use crate::support::{no_env, Rng, DEFAULT_POLICY};

/// Under wasm (slower, debug build in node) the mutation sweeps take every `STRIDE`th offset.
#[cfg(target_arch = "wasm32")]
const STRIDE: usize = 5;
#[cfg(not(target_arch = "wasm32"))]
const STRIDE: usize = 1;

/// Compares the parser with serde_json on one input; true when accepted.
fn same(doc: &[u8]) -> bool {
    let got = Json::parse(doc);
    let want = serde_json::from_slice::<Json<'_>>(doc).ok();
    match (&got, &want) {
        (Some(g), Some(w)) => {
            assert!(g.identical(w), "different trees for {:?}:\n{g:?}\n{w:?}", String::from_utf8_lossy(doc))
        }
        (None, None) => {}
        _ => panic!(
            "parser {} but serde_json {} {:?} ({:02x?})",
            if got.is_some() { "accepts" } else { "rejects" },
            if want.is_some() { "accepts" } else { "rejects" },
            String::from_utf8_lossy(doc),
            doc.get(..doc.len().min(64)).unwrap()
        ),
    }
    assert_eq!(got.as_ref().map(Json::to_value), serde_json::from_slice::<Value>(doc).ok());
    for key in ["usage", "model", ""] {
        same_member(doc, key, want.as_ref());
    }
    got.is_some()
}

/// `Json::parse_member` against serde_json's tree reduced the same way: the last `key` of a top-level
/// object kept, an empty object without it, `Null` for any other document.
fn same_member(doc: &[u8], key: &'static str, serde_tree: Option<&Json<'_>>) {
    let want = serde_tree.map(|t| match t {
        Json::Object(fields) => Json::Object(
            fields
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| (std::borrow::Cow::Borrowed(key), v.clone()))
                .collect(),
        ),
        _ => Json::Null,
    });
    match (Json::parse_member(doc, key), want) {
        (Some(g), Some(w)) => {
            assert!(g.identical(&w), "member {key} of {:?}: {g:?} {w:?}", String::from_utf8_lossy(doc))
        }
        (None, None) => {}
        (g, w) => panic!("member {key}: {g:?} / serde {w:?} on {:?}", String::from_utf8_lossy(doc)),
    }
}

fn shape_config() -> ShapeConfig {
    Policy::parse(DEFAULT_POLICY.as_bytes(), &no_env).unwrap().detection.shape
}

/// `inspect` (the new parser) equals `inspect` on serde_json's tree, for every API, injecting or not.
fn same_inspection(doc: &[u8], cfg: &ShapeConfig) {
    if doc.is_empty() {
        return;
    }
    for api in ApiKind::ALL {
        for inject in [false, true] {
            let tree = serde_json::from_slice::<Json<'_>>(doc).ok();
            let expected = inspect_parsed(api, doc, tree, inject, Some(cfg));
            assert_eq!(inspect(api, doc, inject, Some(cfg)), expected, "{api:?} {:?}", String::from_utf8_lossy(doc));
            let tree = serde_json::from_slice::<Json<'_>>(doc).ok();
            assert_eq!(inspect(api, doc, inject, None), inspect_parsed(api, doc, tree, inject, None));
        }
    }
}

// ---- (a) the bodies the other tests and the fuzzer use ----------------------------------------------

/// Every string literal of the core tests that looks like a JSON body (raw strings starting with `{` or
/// `[`), read from their sources.
#[cfg(not(target_arch = "wasm32"))]
fn literal_bodies() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/core");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find("r#\"") {
            rest = &rest[at + 3..];
            let Some(end) = rest.find("\"#") else { break };
            let lit = &rest[..end];
            if lit.trim_start().starts_with(['{', '[']) {
                out.push(lit.as_bytes().to_vec());
            }
            rest = &rest[end + 2..];
        }
    }
    out
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_fuzz_corpus_and_the_tests_bodies_parse_and_inspect_as_with_serde_json() {
    let cfg = shape_config();
    let mut docs: Vec<Vec<u8>> = Vec::new();
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/request_body");
    for entry in std::fs::read_dir(corpus).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        // The fuzz target's first byte picks the API; the rest is the body.
        docs.push(bytes.get(1..).unwrap_or(&[]).to_vec());
        docs.push(bytes);
    }
    let corpus_docs = docs.len();
    let literals = literal_bodies();
    assert!(literals.len() > 40, "the tests' literal bodies found ({})", literals.len());
    docs.extend(literals);
    for name in ["request1.bin", "request2.bin", "response1.bin", "response2.bin"] {
        let path = format!("{}/tests/data/fleet/{name}", env!("CARGO_MANIFEST_DIR"));
        docs.push(std::fs::read(path).unwrap());
    }
    let accepted = docs.iter().filter(|d| same(d)).count();
    assert!(corpus_docs > 200 && accepted > 300 && accepted < docs.len(), "{accepted} of {} accepted", docs.len());
    for d in &docs {
        same_inspection(d, &cfg);
    }
}

/// The test data's JSON lines (real prompts and human text in many languages), each a document, and
/// each wrapped as a chat request.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_test_datas_json_lines_parse_as_with_serde_json() {
    let cfg = shape_config();
    let mut lines = 0;
    for dir in ["tests/data/human", "tests/data/prompts"] {
        let dir = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            for (i, line) in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).enumerate() {
                assert!(same(line), "{path:?} line {i} is JSON");
                lines += 1;
                if i % 50 == 0 {
                    let body = format!(
                        r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":{}}}]}}"#,
                        String::from_utf8_lossy(line)
                    );
                    same(body.as_bytes());
                    same_inspection(body.as_bytes(), &cfg);
                }
            }
        }
    }
    assert!(lines > 5000, "{lines} lines");
}

// ---- (b) generated bodies of every API, written with random formatting ----------------------------------

const WS: &[&str] = &["", "", "", " ", "\n", "\t", "\r\n", "  \n\t "];

/// `v` written as JSON with random whitespace, escapes (`\uXXXX` for any character, surrogate pairs for
/// astral ones, `\/`), number spellings and repeated keys.
fn write(rng: &mut Rng, v: &Value, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| out.push_str(WS[rng.below(WS.len())]);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) if rng.below(6) == 0 => out.push_str(&format!("{u}.0e0")),
            (Some(u), _) if rng.below(6) == 0 => out.push_str(&format!("{u}E+00")),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_string(rng, s, out),
        Value::Array(items) => {
            out.push('[');
            ws(rng, out);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    ws(rng, out);
                }
                write(rng, item, out);
                ws(rng, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            ws(rng, out);
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    ws(rng, out);
                }
                if rng.below(12) == 0 {
                    // A repeated key: an earlier value the later one replaces.
                    write_string(rng, k, out);
                    out.push(':');
                    let earlier = Value::from(rng.below(100));
                    write(rng, &earlier, out);
                    out.push(',');
                }
                write_string(rng, k, out);
                ws(rng, out);
                out.push(':');
                ws(rng, out);
                write(rng, item, out);
                ws(rng, out);
            }
            out.push('}');
        }
    }
}

fn write_string(rng: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    let escape_some = rng.below(3) == 0;
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str(["\\n", "\\u000a", "\\u000A"][rng.below(3)]),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if escape_some && rng.below(2) == 0 => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if escape_some && rng.below(8) == 0 => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&if rng.below(2) == 0 { format!("\\u{u:04x}") } else { format!("\\u{u:04X}") });
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

const TEXTS: &[&str] = &[
    "The quick brown fox jumps over the lazy dog while the model explains photosynthesis. ",
    "请一步一步地思考并写出完整的推理过程。",
    "Объясни подробно ход рассуждений. Erkläre Schritt für Schritt.",
    "emoji 😀🎉 and math 𝔸𝔹 and \u{7f} and \u{fffd} and \u{10ffff}",
    "code: fn main() {\n\tprintln!(\"{}\", x); // C:\\path /slash\n}\r\n",
    "control \u{1} \u{1f} \u{0} in text",
    "",
];

fn gen_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..1 + rng.below(4) {
        s.push_str(TEXTS[rng.below(TEXTS.len())]);
    }
    if rng.below(10) == 0 {
        s = s.repeat(1 + 2000 / s.len().max(1));
    }
    s
}

fn gen_number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => Value::from(rng.next()),
        1 => Value::from(-((rng.next() >> 1) as i64)),
        2 => Value::from(rng.below(1000) as f64 / 8.0),
        3 => Value::from(f64::from_bits(rng.next() >> 2)),
        4 => Value::from(0),
        5 => Value::from(-1.5e-7),
        _ => Value::from(rng.below(100_000)),
    }
}

fn gen_content(rng: &mut Rng) -> Value {
    match rng.below(5) {
        0 => {
            serde_json::json!([{"type": "text", "text": gen_text(rng)}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}])
        }
        1 => {
            serde_json::json!([gen_text(rng), {"type": "text", "text": gen_text(rng), "cache_control": {"type": "ephemeral"}}])
        }
        2 => serde_json::json!({"text": gen_text(rng)}),
        _ => Value::String(gen_text(rng)),
    }
}

/// A request body of `api`'s dialect with random optional fields.
fn gen_body(rng: &mut Rng, api: ApiKind) -> Value {
    let mut messages = Vec::new();
    if rng.below(2) == 0 {
        messages.push(serde_json::json!({"role": "system", "content": gen_content(rng)}));
    }
    for _ in 0..1 + rng.below(3) {
        messages.push(serde_json::json!({"role": "user", "content": gen_content(rng)}));
        if rng.below(2) == 0 {
            messages.push(serde_json::json!({"role": "assistant", "content": gen_content(rng)}));
        }
    }
    let model = ["gpt-4o", "claude-3-5-sonnet", "o3-mini", "模型", ""][rng.below(5)];
    let mut b = serde_json::json!({ "model": model });
    let o = b.as_object_mut().unwrap();
    match api {
        ApiKind::OpenAiCompletions => {
            o.insert(
                "prompt".into(),
                if rng.below(2) == 0 {
                    Value::from(gen_text(rng))
                } else {
                    serde_json::json!([gen_text(rng), gen_text(rng)])
                },
            );
        }
        ApiKind::OpenAiResponses => {
            o.insert(
                "input".into(),
                if rng.below(2) == 0 { Value::from(gen_text(rng)) } else { Value::from(messages) },
            );
            o.insert("instructions".into(), Value::from(gen_text(rng)));
            o.insert("max_output_tokens".into(), gen_number(rng));
        }
        ApiKind::AnthropicMessages => {
            o.insert("messages".into(), Value::from(messages));
            o.insert("system".into(), gen_content(rng));
        }
        _ => {
            o.insert("messages".into(), Value::from(messages));
        }
    }
    for (k, v) in [
        ("stream", Value::from(rng.below(2) == 0)),
        ("stream_options", serde_json::json!({"include_usage": rng.below(2) == 0})),
        ("max_tokens", gen_number(rng)),
        ("max_completion_tokens", gen_number(rng)),
        ("temperature", gen_number(rng)),
        ("top_p", gen_number(rng)),
        ("n", gen_number(rng)),
        ("logprobs", Value::from(true)),
        ("top_logprobs", gen_number(rng)),
        ("logit_bias", serde_json::json!({"50256": -100, "15": gen_number(rng)})),
        (
            "tools",
            serde_json::json!([{"type": "function", "function": {"name": "f", "description": gen_text(rng), "parameters": {"type": "object", "properties": {"x": {"type": "number", "minimum": gen_number(rng)}}}}}]),
        ),
        ("metadata", serde_json::json!({"user": gen_text(rng), "nested": [[[{"a": null}]]]})),
        ("seed", gen_number(rng)),
        ("user", Value::Null),
    ] {
        if rng.below(3) == 0 {
            o.insert(k.into(), v);
        }
    }
    b
}

#[test]
fn generated_bodies_of_every_api_parse_and_inspect_as_with_serde_json() {
    let cfg = shape_config();
    let mut rng = Rng(0x5ca1_ab1e);
    let rounds = if cfg!(target_arch = "wasm32") { 60 } else { 400 };
    for round in 0..rounds {
        for api in ApiKind::ALL {
            let v = gen_body(&mut rng, api);
            let mut text = String::new();
            write(&mut rng, &v, &mut text);
            let doc = text.as_bytes();
            assert!(same(doc), "a generated body is JSON: {text}");
            if round % 4 == 0 {
                same_inspection(doc, &cfg);
            }
            // The same body cut short and with one byte changed.
            let cut = rng.below(doc.len());
            same(&doc[..cut]);
            let mut changed = doc.to_vec();
            let at = rng.below(changed.len());
            changed[at] = [b'"', b'\\', 0, 0x1f, 0xc3, 0xff, b'}', b',', b'0', b'e'][rng.below(10)];
            same(&changed);
            if round % 4 == 0 {
                same_inspection(&changed, &cfg);
            }
        }
    }
}

/// Random documents of any shape (not only request bodies): deep, wide, scalars at the top.
#[test]
fn generated_documents_of_any_shape_parse_as_with_serde_json() {
    fn any(rng: &mut Rng, depth: usize) -> Value {
        match if depth > 6 { rng.below(4) } else { rng.below(7) } {
            0 => Value::Null,
            1 => Value::from(rng.below(2) == 0),
            2 => gen_number(rng),
            3 => Value::from(gen_text(rng)),
            4 | 5 => Value::from((0..rng.below(5)).map(|_| any(rng, depth + 1)).collect::<Vec<_>>()),
            _ => Value::Object(
                (0..rng.below(6))
                    .map(|_| (["usage", "model", "k", "", "usage "][rng.below(5)].to_string(), any(rng, depth + 1)))
                    .collect(),
            ),
        }
    }
    let mut rng = Rng(0xd0c5);
    let n = if cfg!(target_arch = "wasm32") { 300 } else { 3000 };
    for _ in 0..n {
        let v = any(&mut rng, 0);
        let mut text = String::new();
        write(&mut rng, &v, &mut text);
        assert!(same(text.as_bytes()), "{text}");
        let ws = WS[rng.below(WS.len())];
        assert!(same(format!("{ws}{text}{ws}").as_bytes()));
    }
}

// ---- (c) systematic mutations ---------------------------------------------------------------------------

/// Seed bodies with every construct: escapes of each kind, surrogate pairs, non-ASCII text, numbers of
/// each form, nesting, empty containers, whitespace of each kind, a repeated key.
const SEEDS: &[&str] = &[
    r#"{"model":"gpt-4o","stream":true,"max_tokens":512,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi \"you\" \\ \/ \b\f\n\r\t \u00e9\u4e2D \ud83d\ude00 é中😀"}]}"#,
    "{ \"model\" : \"claude\" ,\n\t\"system\" : [ { \"type\" : \"text\" , \"text\" : \"x\" } ] ,\r\n \"messages\" : [ ] , \"n\" : 2 , \"n\" : 1 }",
    r#"{"a":[0,-0,1.5,-2.25e-3,1E+2,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809,123456789012345678901234567890.5,1e308],"b":{},"c":[],"d":null,"e":true,"f":false}"#,
    r#"{"input":[{"role":"user","content":[{"type":"input_text","text":"deep"}]}],"x":[[[[{"y":[[{}]]}]]]],"temperature":0.7,"top_p":1}"#,
    r#"[1,"two",{"three":[3.0]},null]"#,
    r#"{"id":"c","choices":[{"message":{"content":"hi\n\u00e9 é"}}],"usage":{"prompt_tokens":5,"completion_tokens":7},"model":"m","usage":{"total_tokens":1e2,"x":[-0,0.5]}}"#,
];

const REPLACEMENTS: &[u8] = &[
    0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1f, 0x20, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe4, 0xed, 0xf0, 0xf4,
    0xf8, 0xff, b'"', b'\\', b'/', b'{', b'}', b'[', b']', b',', b':', b'0', b'1', b'9', b'-', b'+', b'.', b'e', b'E',
    b'u', b'n', b't', b'f', b'a', b'D',
];

const INSERTIONS: &[&str] = &[
    "\\u",
    "\\u0",
    "\\ud800",
    "\\udc00",
    "\\udbff\\udfff",
    "\\ud83d\\ude00",
    "\\ud83d\\u0041",
    "\\ud83d\\ud83d\\ude00",
    "\\ud83d\\n",
    "\\ud83d",
    "\\uD83D\\uDE00",
    "\\u00zz",
    "\\x41",
    "\\",
    "\\\"",
    "\\/",
    "\u{0}",
    "\u{1}",
    "\u{1f}",
    "\u{7f}",
    "\t",
    "\u{b}",
    "\u{c}",
    "\u{a0}",
    "\u{feff}",
    "é",
    "😀",
    "\u{2028}",
    "[",
    "]",
    "{",
    "}",
    "{\"a\":",
    "[[[[",
    "]]]]",
    ",",
    ":",
    "\"",
    "0",
    "-0",
    "01",
    "1e400",
    "-1e400",
    "1e-400",
    "1.",
    ".5",
    "1e",
    "nul",
    "true",
    "Infinity",
    "NaN",
    " ",
    "\r\n",
];

fn mutate_all(seed: &[u8], check: &mut impl FnMut(&[u8])) {
    let n = seed.len();
    for cut in (0..=n).step_by(STRIDE) {
        check(&seed[..cut]);
        check(&seed[cut..]);
    }
    for at in (0..n).step_by(STRIDE) {
        let mut d = seed.to_vec();
        d.remove(at);
        check(&d);
        for &r in REPLACEMENTS {
            let mut d = seed.to_vec();
            d[at] = r;
            check(&d);
        }
        for bit in 0..8 {
            let mut d = seed.to_vec();
            d[at] ^= 1 << bit;
            check(&d);
        }
    }
    for at in (0..=n).step_by(STRIDE) {
        for ins in INSERTIONS {
            let mut d = seed[..at].to_vec();
            d.extend_from_slice(ins.as_bytes());
            d.extend_from_slice(&seed[at..]);
            check(&d);
        }
    }
}

#[test]
fn every_mutation_of_the_seed_bodies_parses_as_with_serde_json() {
    let cfg = shape_config();
    let (mut accepted, mut rejected, mut k) = (0usize, 0usize, 0usize);
    for seed in SEEDS {
        assert!(same(seed.as_bytes()), "seed is JSON: {seed}");
        mutate_all(seed.as_bytes(), &mut |d: &[u8]| {
            if same(d) {
                accepted += 1;
            } else {
                rejected += 1;
            }
            k += 1;
            if k % (97 * STRIDE) == 0 {
                same_inspection(d, &cfg);
            }
        });
    }
    // Both outcomes are exercised in bulk.
    assert!(accepted > 1000 / STRIDE && rejected > 10_000 / STRIDE, "{accepted} accepted, {rejected} rejected");
}

// ---- the edges, one by one ------------------------------------------------------------------------------

#[test]
fn numbers_at_the_edges_of_the_grammar_and_range_parse_as_with_serde_json() {
    let numbers = [
        "0",
        "-0",
        "-0.0",
        "0.0",
        "00",
        "-00",
        "01",
        "-01",
        "0e0",
        "0E-0",
        "0e+1",
        "1e",
        "1e+",
        "1e-",
        "1.",
        "-",
        "--1",
        "+1",
        ".5",
        "-.5",
        "1.5e3",
        "1.5E+3",
        "1.5e-3",
        "9007199254740993",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "-9223372036854775807",
        "-9223372036854775808",
        "-9223372036854775809",
        "-18446744073709551615",
        "-18446744073709551616",
        "1e308",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "1e309",
        "-1e309",
        "1e-324",
        "4.9e-324",
        "1e-400",
        "1e99999999999999999999",
        "0e99999999999999999999",
        "1e-99999999999999999999",
        "0.000000000000000000000000000001",
        "123456789012345678901234567890e-10",
        "2.2250738585072011e-308",
        "0.1",
        "0.30000000000000004",
        "1x",
        "1 2",
        "0x10",
        "Infinity",
        "-Infinity",
        "NaN",
        "1_000",
        "١",
    ];
    let mut accepted = 0;
    for n in numbers {
        accepted += usize::from(same(n.as_bytes()));
        same(format!("[{n}]").as_bytes());
        same(format!("{{\"max_tokens\":{n}}}").as_bytes());
        same(format!("{{\"temperature\": {n} , \"n\":{n}}}").as_bytes());
    }
    assert!(accepted > 25 && accepted < numbers.len(), "{accepted}");
    let j = Json::parse(b"-0").unwrap();
    assert!(matches!(j, Json::Number(distill_guard::json::Number::Float(f)) if f.to_bits() == (-0.0f64).to_bits()));
}

#[test]
fn strings_escapes_and_surrogates_parse_as_with_serde_json() {
    let strings = [
        r#""""#,
        r#""a""#,
        r#""\""#,
        r#""\\""#,
        r#""\/""#,
        r#""\b\f\n\r\t""#,
        r#""\a""#,
        r#""\'""#,
        r#""\u""#,
        r#""\u12""#,
        r#""\u123g""#,
        r#""\u0000""#,
        r#""\u001f""#,
        r#""\u00E9\u00e9""#,
        r#""\ud800""#,
        r#""\udbff""#,
        r#""\udc00""#,
        r#""\udfff""#,
        r#""\ud800\udc00""#,
        r#""\udbff\udfff""#,
        r#""\ud800\ud800""#,
        r#""\ud800\u0041""#,
        r#""\ud800\n""#,
        r#""\ud800x""#,
        r#""\ud800\""#,
        r#""\udc00\ud800""#,
        r#""\uffff""#,
        r#""\ufeff""#,
        "\"\u{7f}\"",
        "\"\u{80}\"",
        "\"\u{10ffff}\"",
        "\"\t\"",
        "\"\n\"",
        "\"\u{0}\"",
        "\"\u{1f}\"",
        "\"unterminated",
        "\"a\"b\"",
        "\"\\",
        "\"\\u00",
    ];
    let mut accepted = 0;
    for s in strings {
        accepted += usize::from(same(s.as_bytes()));
        same(format!("{{{s}:{s}}}").as_bytes());
        same(format!("{{\"model\":{s},\"messages\":[{{\"role\":\"user\",\"content\":{s}}}]}}").as_bytes());
    }
    assert!(accepted > 10 && accepted < strings.len() - 10, "{accepted}");
    // Invalid UTF-8 in strings, keys and outside them; overlong forms, surrogates encoded in UTF-8,
    // code points above U+10FFFF, truncated sequences.
    for bad in [
        &b"\xff"[..],
        b"\xc3",
        b"\xc3\x28",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xe4\xb8",
        b"\x80",
        b"\xc3\xa9",
        b"\xe4\xb8\xad",
        b"\xf0\x9f\x98\x80",
    ] {
        let mut s = b"\"a".to_vec();
        s.extend_from_slice(bad);
        s.push(b'"');
        same(&s);
        let mut k = b"{\"".to_vec();
        k.extend_from_slice(bad);
        k.extend_from_slice(b"\":1}");
        same(&k);
        let mut esc = b"\"\\n".to_vec();
        esc.extend_from_slice(bad);
        esc.extend_from_slice(b"\\t\"");
        same(&esc);
        let mut outside = b"[1,".to_vec();
        outside.extend_from_slice(bad);
        outside.push(b']');
        same(&outside);
    }
}

#[test]
fn nesting_depth_whitespace_bom_and_trailing_bytes_parse_as_with_serde_json() {
    for depth in [1usize, 2, 126, 127, 128, 129, 200, 5000] {
        same(format!("{}{}", "[".repeat(depth), "]".repeat(depth)).as_bytes());
        same(format!("{}1{}", "[".repeat(depth), "]".repeat(depth)).as_bytes());
        same(format!("{}{{}}{}", "[".repeat(depth.saturating_sub(1)), "]".repeat(depth.saturating_sub(1))).as_bytes());
        same(format!("{}null{}", "{\"a\":".repeat(depth), "}".repeat(depth)).as_bytes());
        same(format!("{}{}", "[{\"a\":".repeat(depth / 2), "}]".repeat(depth / 2)).as_bytes());
        // Inside a request body.
        same(format!("{{\"model\":\"m\",\"metadata\":{}0{}}}", "[".repeat(depth), "]".repeat(depth)).as_bytes());
    }
    // Exactly 127 open containers are allowed.
    assert!(Json::parse(format!("{}{}", "[".repeat(127), "]".repeat(127)).as_bytes()).is_some());
    assert!(Json::parse(format!("{}{}", "[".repeat(128), "]".repeat(128)).as_bytes()).is_none());
    for doc in [
        "",
        " ",
        "\n",
        "{}",
        " {} ",
        "\t{}\r\n",
        "\u{b}{}",
        "\u{c}{}",
        "{}\u{c}",
        "\u{a0}{}",
        "\u{feff}{}",
        "{}\u{feff}",
        "\u{feff}",
        "{}x",
        "{} {}",
        "{},",
        "[]]",
        "{}}",
        "{\"a\":1}\u{0}",
        "{\"a\":1,}",
        "[1,]",
        "[,1]",
        "{,}",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2,\"b\":3,\"a\":4}",
        "{\"\":0,\"\":1}",
        "{\"a\\u0062\":1,\"ab\":2}",
        "true",
        "false",
        "null",
        "tru",
        "nulll",
        "True",
        "[true false]",
        "[null,]",
        "\"x\"",
        "1",
        "-",
        "[",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":[",
        "[\"",
        "[1,",
    ] {
        same(doc.as_bytes());
    }
    // A repeated key keeps its last value in the first key's place.
    let j = Json::parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
    let keys: Vec<&str> = j.as_object().unwrap().iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, ["a", "b"]);
    assert_eq!(j.get("a").and_then(Json::as_u64), Some(3));
}
