//! Randomised robustness: every parser and decoder is fed thousands of mutated and random inputs and
//! must never panic (a panic traps the wasm VM). Deterministic (seeded) so failures reproduce; more
//! iterations with `DG_FUZZ_ITERS` (natively) via `make fuzz`.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::ApiKind;
use distill_guard::credential::identify;
use distill_guard::detection::{default_phrases, DetectionConfig};
use distill_guard::host::{MemoryStore, SharedStore};
use distill_guard::json::Json;
use distill_guard::ledger::{Delta, Ledger, Subject, Update};
use distill_guard::policy::{LedgerConfig, Policy};
use distill_guard::request::{degrade, inspect};
use distill_guard::response::ResponseMeter;
use distill_guard::shape::{analyse, mask, skeleton, ShapeConfig};
use distill_guard::sse::SseParser;

use crate::support::{headers, no_env, policy_with, Rng, DEFAULT_POLICY};

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\xc3\x28",
    b"1e999",
    b"-1",
    b"18446744073709551616",
    b"null",
    b"true",
    b"\n",
    b"\r\n",
    b"data: ",
    b"event: ",
    b"\n\n",
    b"\"usage\"",
    b"\"messages\"",
    b"\"logprobs\":true",
    b"\"logit_bias\":{\"1\":100}",
    b"step by step",
    "逐步".as_bytes(),
];

fn mutate(rng: &mut Rng, seed: &[u8], max: usize) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(i..i, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(32)).min(v.len());
                v.drain(a..b);
            }
            3 if !v.is_empty() => {
                let a = rng.below(v.len());
                let b = (a + rng.below(64)).min(v.len());
                let piece = v[a..b].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, piece);
            }
            4 => v.truncate(rng.below(v.len() + 1)),
            _ => {
                let at = rng.below(v.len() + 1);
                let n = rng.below(16);
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, junk);
            }
        }
        v.truncate(max);
    }
    v
}

fn iterations() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(n) = std::env::var("DG_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    2_000
}

#[test]
fn policy_parser_never_panics_on_mutated_policies() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..iterations() {
        let input = mutate(&mut rng, DEFAULT_POLICY.as_bytes(), 64 * 1024);
        let _ = Policy::parse(&input, &no_env);
    }
}

const BODIES: &[&str] = &[
    r#"{"model":"gpt-4o","stream":true,"logprobs":true,"top_logprobs":5,"n":3,"max_tokens":9000,"messages":[{"role":"system","content":"Think step by step."},{"role":"user","content":[{"type":"text","text":"Solve 12+7 and show your reasoning"}]}]}"#,
    r#"{"model":"claude","max_tokens":10,"system":[{"type":"text","text":"You are a judge"}],"messages":[{"role":"user","content":"Grade this on a scale of 1 to 10"}]}"#,
    r#"{"model":"gpt-4.1","input":[{"role":"user","content":"Generate 20 diverse examples as JSONL"}],"include":["message.output_text.logprobs"]}"#,
    r#"{"model":"gpt-3.5-turbo-instruct","prompt":["a","b"],"echo":true,"logprobs":5,"logit_bias":{"50256":-100}}"#,
];

#[test]
fn request_inspection_and_degrade_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let det = DetectionConfig::parse(None).unwrap();
    let apis = [
        ApiKind::OpenAiChat,
        ApiKind::OpenAiCompletions,
        ApiKind::OpenAiResponses,
        ApiKind::AnthropicMessages,
        ApiKind::Other,
    ];
    for i in 0..iterations() {
        let seed = BODIES[i % BODIES.len()].as_bytes();
        let body = mutate(&mut rng, seed, 16 * 1024);
        let api = apis[rng.below(apis.len())];
        let r = inspect(api, &body, true, Some(&det.shape));
        if let Some(rewritten) = &r.rewritten {
            assert!(serde_json::from_slice::<serde_json::Value>(rewritten).is_ok());
        }
        let _ = degrade(api, &body, &det.degrade);
    }
}

#[test]
fn sse_and_usage_metering_never_panic_on_any_split() {
    let mut rng = Rng(0x1234_5678_9abc_def0);
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":1}}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\ndata: [DONE]\n\n"
    );
    let apis = [ApiKind::OpenAiChat, ApiKind::OpenAiCompletions, ApiKind::OpenAiResponses, ApiKind::AnthropicMessages];
    for _ in 0..iterations() {
        let input = mutate(&mut rng, stream.as_bytes(), 32 * 1024);
        let streaming = rng.below(4) != 0;
        let mut meter = ResponseMeter::new(apis[rng.below(apis.len())], streaming, 1 + rng.below(4096));
        let mut parser = SseParser::with_cap(1 + rng.below(512));
        let mut rest: &[u8] = &input;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(97));
            let (chunk, tail) = rest.split_at(n);
            meter.feed(chunk);
            parser.feed(chunk, &mut |_, _| {});
            rest = tail;
        }
        parser.finish(&mut |_, _| {});
        let m = meter.finish();
        assert!(m.output < 1 << 40);
    }
}

#[test]
fn credential_and_jwt_parsing_never_panic() {
    let mut rng = Rng(0x0bad_5eed_0bad_5eed);
    let p = policy_with(serde_json::json!({
        "credential": {"sources": [{"kind": "jwt_claim", "claim": "sub"}, {"kind": "jwt_payload_header", "header": "x-jwt", "claim": "a.b"},
            {"kind": "bearer"}, {"kind": "header", "name": "x-api-key"}], "missing": "track_client_address",
            "client_address_header": "x-forwarded-for", "hash_secret": "0123456789abcdef-x"},
        "tenant": [{"kind": "jwt_claim", "claim": "org"}, {"kind": "key_prefix", "prefixes": {"sk-": "t"}}]}));
    let seed = b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIiwib3JnIjoibyJ9.c2ln";
    for _ in 0..iterations() {
        let auth = String::from_utf8_lossy(&mutate(&mut rng, seed, 4096)).into_owned();
        let payload = String::from_utf8_lossy(&mutate(&mut rng, b"eyJhIjp7ImIiOjF9fQ", 1024)).into_owned();
        let xff = String::from_utf8_lossy(&mutate(&mut rng, b"1.2.3.4, 5.6.7.8", 256)).into_owned();
        let h = headers(&[("authorization", &auth), ("x-jwt", &payload), ("x-forwarded-for", &xff)]);
        let _ = identify(&p.credential, &h, Some("[::1]:80"));
    }
}

#[test]
fn fingerprints_and_shapes_never_panic_on_odd_text() {
    let mut rng = Rng(0xfeed_face_dead_beef);
    let cfg = ShapeConfig::new(default_phrases(), 8192, vec!["gpt-5".into()]);
    let seed = "Solve: 「12」 + “7” = ? Think step by step. 一步一步 `code` \"q\" «x»".as_bytes();
    for _ in 0..iterations() {
        let text = String::from_utf8_lossy(&mutate(&mut rng, seed, 8192)).into_owned();
        let (_fp, n) = skeleton(&mask(&text));
        assert!(n <= 10);
        let body = serde_json::json!({"model": text.clone(), "messages": [{"role": "user", "content": text}]});
        let bytes = serde_json::to_vec(&body).unwrap();
        let _ = analyse(ApiKind::OpenAiChat, &Json::parse(&bytes).unwrap(), &cfg);
    }
}

#[test]
fn garbage_in_shared_data_is_never_trusted_or_fatal() {
    let mut rng = Rng(0x5555_aaaa_5555_aaaa);
    let cfg = LedgerConfig::with_slots(8, "fz");
    let store = MemoryStore::new();
    let ledger = Ledger::new(&cfg, &store);
    for i in 0..iterations() {
        // Another plugin (or version) scribbles over our keys.
        let slot = rng.below(8);
        let len = rng.below(900);
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        store.set(&ledger.slot_key(slot as u64), &junk, None).unwrap();
        let who = Subject::credential(&format!("c{}", i % 13));
        let r = ledger.update(&who, 1_800_000_000_000 + i as u64, None, &mut |_| {
            Update::Apply(Delta { requests: 1, ..Delta::default() })
        });
        assert!(r.is_ok());
    }
}
