//! The borrowed JSON reader (`distill_guard::json::Json`) must read every document exactly as
//! `serde_json::Value` does: same accepted documents, same values (a repeated key keeps its last
//! value), same number conversions, same nesting limit.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::borrow::Cow;

use distill_guard::json::Json;
use serde_json::Value;

use crate::support::Rng;

/// Each object keeps every key once (a repeated key replaced the earlier value).
fn keys_once(j: &Json<'_>) {
    match j {
        Json::Array(items) => items.iter().for_each(keys_once),
        Json::Object(fields) => {
            let mut keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_ref()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), fields.len(), "each key once");
            fields.iter().for_each(|(_, v)| keys_once(v));
        }
        _ => {}
    }
}

fn same_as_value(doc: &[u8]) {
    let expected = serde_json::from_slice::<Value>(doc).ok();
    let got = Json::parse(doc);
    if let Some(j) = &got {
        keys_once(j);
    }
    assert_eq!(got.as_ref().map(Json::to_value), expected, "{:?}", String::from_utf8_lossy(doc));
}

const STRINGS: &[&str] = &[
    "\"plain\"",
    "\"with \\\"escapes\\\" and \\\\ \\n\"",
    "\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
    "\"é中😀\"",
    "\"\"",
    "\"\\ud800\"",
];
const SCALARS: &[&str] = &[
    "0",
    "7",
    "-1",
    "-0",
    "1.5",
    "-2.25",
    "1e3",
    "1E-2",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "true",
    "false",
    "null",
    "01",
    "1.",
    "+1",
    "nul",
];
const KEYS: &[&str] = &["\"model\"", "\"messages\"", "\"content\"", "\"n\"", "\"k\\u0065y\"", "\"\""];

fn random_doc(rng: &mut Rng, depth: usize, out: &mut String) {
    let pick = if depth > 4 { rng.below(2) } else { rng.below(4) };
    match pick {
        0 => out.push_str(SCALARS[rng.below(SCALARS.len())]),
        1 => out.push_str(STRINGS[rng.below(STRINGS.len())]),
        2 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                random_doc(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            // Few keys, so repeats are common.
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push_str(if rng.below(8) == 0 { " , " } else { "," });
                }
                out.push_str(KEYS[rng.below(KEYS.len())]);
                out.push(':');
                random_doc(rng, depth + 1, out);
            }
            out.push('}');
        }
    }
}

#[test]
fn random_documents_read_the_same_as_serde_json() {
    let mut rng = Rng(0x15_0a_5e_ed);
    let mut parsed = 0;
    for _ in 0..3000 {
        let mut doc = String::new();
        random_doc(&mut rng, 0, &mut doc);
        same_as_value(doc.as_bytes());
        parsed += usize::from(serde_json::from_str::<Value>(&doc).is_ok());
    }
    assert!(parsed > 1000, "enough valid documents to compare ({parsed})");
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let j = Json::parse(br#"{"model":"a","stream":true,"model":"b"}"#).unwrap();
    assert_eq!(j.get("model").and_then(Json::as_str), Some("b"));
    assert_eq!(j.as_object().unwrap().len(), 2);
}

#[test]
fn numbers_convert_like_value() {
    for text in ["0", "5", "-5", "1.0", "2.5", "1e2", "18446744073709551615", "-9223372036854775808"] {
        let v: Value = serde_json::from_str(text).unwrap();
        let j = Json::parse(text.as_bytes()).unwrap();
        assert_eq!(j.as_u64(), v.as_u64(), "{text}");
        assert_eq!(j.as_f64(), v.as_f64(), "{text}");
    }
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let doc = br#"{"plain":"no escapes here","escaped":"a\"b"}"#;
    let j = Json::parse(doc).unwrap();
    let fields = j.as_object().unwrap();
    assert!(fields.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_))));
    assert!(matches!(j.get("plain"), Some(Json::String(Cow::Borrowed("no escapes here")))));
    assert_eq!(j.get("escaped").and_then(Json::as_str), Some("a\"b"));
}

#[test]
fn nesting_is_limited_like_value() {
    for depth in [127usize, 128, 129, 5000] {
        let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        same_as_value(doc.as_bytes());
    }
    assert!(Json::parse(format!("{}{}", "[".repeat(5000), "]".repeat(5000)).as_bytes()).is_none());
}

/// The stored fuzzing inputs for request bodies: valid and invalid JSON of every shape.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_request_body_corpus_reads_the_same_as_serde_json() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/request_body");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        // The fuzz target's first byte picks the API; the rest is the body.
        same_as_value(bytes.get(1..).unwrap_or(&[]));
        same_as_value(&bytes);
        n += 1;
    }
    assert!(n > 100, "corpus present ({n} files)");
}
