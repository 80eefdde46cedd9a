//! Native timing of the per-request core path (no Envoy): request inspection, the decision with its
//! shared-data traffic (in-memory store), and response metering, for 2 KB and 16 KB chat bodies and a
//! 300-chunk SSE stream. `cargo run --release --example hot_path`. Used to find where time goes; the
//! side-by-side figures that count come from `make bench`.

use std::time::Instant;

use distill_guard::api::ApiKind;
use distill_guard::credential::identify;
use distill_guard::decision::{decide, settle};
use distill_guard::host::MemoryStore;
use distill_guard::ledger::Ledger;
use distill_guard::policy::Policy;
use distill_guard::request::inspect;
use distill_guard::response::ResponseMeter;

fn body(size: usize) -> Vec<u8> {
    let text = "The quick brown fox jumps over the lazy dog while the model explains photosynthesis. ".repeat(400);
    let base = r#"{"model":"gpt-4o","max_tokens":512,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":""}]}"#;
    let fill = size.saturating_sub(base.len());
    base.replace(r#""content":""}"#, &format!(r#""content":"{}"}}"#, &text[..fill])).into_bytes()
}

fn sse() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..300 {
        s += &format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}}}}]}}\n\n");
    }
    s += "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":500,\"completion_tokens\":300}}\n\ndata: [DONE]\n\n";
    s.into_bytes()
}

fn time<F: FnMut(u64)>(label: &str, n: u64, mut f: F) {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    println!("{label:<40} {:>8.1} µs/op", start.elapsed().as_secs_f64() * 1e6 / n as f64);
}

fn main() {
    let policy_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/envoy/policy.json")).unwrap_or_default();
    let Ok(policy) = Policy::parse(policy_text.as_bytes(), &|_| None) else { return };
    let store = MemoryStore::new();
    let ledger = Ledger::new(&policy.ledger, &store);
    let stream = sse();
    for size in [2048usize, 16384] {
        let b = body(size);
        let shape = Some(&policy.detection.shape);
        time(&format!("inspect {size} B (shape on)"), 2000, |_| {
            let _ = inspect(ApiKind::OpenAiChat, &b, true, shape);
        });
        time(&format!("inspect {size} B (shape off)"), 2000, |_| {
            let _ = inspect(ApiKind::OpenAiChat, &b, true, None);
        });
        let facts = inspect(ApiKind::OpenAiChat, &b, true, shape).facts;
        time(&format!("identify + decide {size} B"), 2000, |i| {
            let key = format!("sk-bench-{}", i % 10_000);
            let h = |n: &str| (n == "authorization").then(|| format!("Bearer {key}"));
            if let Ok(c) = identify(&policy.credential, &h, None) {
                let d = decide(&policy, &ledger, &c, &facts, 1_800_000_000_000 + i);
                if let Some(charge) = d.charge {
                    let mut m = ResponseMeter::new(ApiKind::OpenAiChat, false, 1 << 20);
                    m.feed(br#"{"usage":{"prompt_tokens":500,"completion_tokens":100}}"#);
                    settle(&ledger, &charge, &m.finish(), 1_800_000_000_001 + i);
                }
            }
        });
    }
    time("meter 300-chunk SSE stream", 500, |_| {
        let mut m = ResponseMeter::new(ApiKind::OpenAiChat, true, 1 << 20);
        for chunk in stream.chunks(1024) {
            m.feed(chunk);
        }
        let _ = m.finish();
    });
}
