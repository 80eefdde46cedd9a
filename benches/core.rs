//! Micro-benchmarks of the core, natively (no Envoy, no wasm): the per-request costs by body size, the
//! estimator, masking and phrase scan throughput, the template fingerprint, the decision with its
//! shared-data traffic (in-memory store), and SSE metering at several stream lengths.
//!
//!   cargo bench --bench core                 # every measurement, median of 5 runs, ns/op and MB/s
//!   cargo bench --bench core -- decide       # only the measurements whose name contains `decide`
//!   cargo bench --bench core -- --iters N NAME  # exactly N untimed operations of NAME (for callgrind:
//!                                               # benches/instructions.py, `make bench-instructions`)
//!
//! A dependency-free harness on purpose (the dependency set is fixed): each measurement warms up, then
//! times enough iterations for ~50 ms, five times, and reports the median. Wall-clock figures on a shared
//! machine are noisy; `make bench-instructions` counts instructions of the same code with callgrind.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Instant;

use distill_guard::api::ApiKind;
use distill_guard::credential::identify;
use distill_guard::decision::{decide, settle};
use distill_guard::host::{CachingStore, MemoryStore, RecentReads};
use distill_guard::ledger::{Ledger, LocalLedger, LocalSettings};
use distill_guard::policy::Policy;
use distill_guard::request::inspect;
use distill_guard::response::ResponseMeter;
use distill_guard::shape::{mask, skeleton};
use distill_guard::tokens::estimate_tokens;

const PROSE: &str = "The quick brown fox jumps over the lazy dog while the model explains photosynthesis. ";

/// A chat-completion body of about `size` bytes (system prompt + one user message of prose).
pub fn body(size: usize) -> Vec<u8> {
    let text = PROSE.repeat(size / PROSE.len() + 1);
    let base = r#"{"model":"gpt-4o","max_tokens":512,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":""}]}"#;
    let fill = size.saturating_sub(base.len());
    base.replace(r#""content":""}"#, &format!(r#""content":"{}"}}"#, &text[..fill])).into_bytes()
}

/// An OpenAI chat SSE stream of `chunks` content deltas and a final usage chunk.
pub fn sse(chunks: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..chunks {
        s += &format!("data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}}}}]}}\n\n");
    }
    s += "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":500,\"completion_tokens\":300}}\n\ndata: [DONE]\n\n";
    s.into_bytes()
}

struct Bench {
    filter: Option<String>,
    /// Exactly this many untimed operations (instruction counting).
    iters: Option<u64>,
}

impl Bench {
    /// Runs `f` (one operation over `bytes` input bytes; 0 = no throughput figure).
    fn run<F: FnMut(u64)>(&self, name: &str, bytes: usize, mut f: F) {
        if self.filter.as_deref().is_some_and(|w| !name.contains(w)) {
            return;
        }
        if let Some(n) = self.iters {
            for i in 0..n {
                f(i);
            }
            return;
        }
        let mut i = 0u64;
        let warm = Instant::now();
        while warm.elapsed().as_millis() < 20 {
            f(i);
            i += 1;
        }
        let per_run = (i * 50 / 20).max(10);
        let mut samples = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..per_run {
                f(i);
                i += 1;
            }
            samples.push(start.elapsed().as_secs_f64() * 1e9 / per_run as f64);
        }
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let ns = samples[2];
        let mbs = if bytes > 0 { format!("{:>9.1} MB/s", bytes as f64 / ns * 1e3) } else { String::new() };
        println!("{name:<44} {:>10.2} µs/op {mbs}", ns / 1e3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let iters = args.iter().position(|a| a == "--iters").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok());
    let filter = args.iter().enumerate().find(|(i, a)| !a.starts_with("--") && args[i.saturating_sub(1)] != "--iters");
    let b = Bench { filter: filter.map(|(_, a)| a.clone()), iters };

    let policy_text = include_str!("../envoy/policy.json");
    let policy = Policy::parse(policy_text.as_bytes(), &|_| None).expect("the shipped policy parses");
    let shape = Some(&policy.detection.shape);

    let prose2k = PROSE.repeat(24);
    let prose16k = PROSE.repeat(191);
    b.run("estimate tokens 2 KB", prose2k.len(), |_| {
        black_box(estimate_tokens(black_box(&prose2k)));
    });
    b.run("estimate tokens 16 KB", prose16k.len(), |_| {
        black_box(estimate_tokens(black_box(&prose16k)));
    });
    b.run("mask 2 KB", prose2k.len(), |_| {
        black_box(mask(black_box(&prose2k)));
    });
    let masked = mask(&prose2k);
    b.run("phrase scan 2 KB", masked.len(), |_| {
        black_box(policy.detection.shape.index.scan(black_box(masked.as_bytes())));
    });
    b.run("intent classify 2 KB (masked English)", masked.len(), |_| {
        black_box(distill_guard::intent::classify(black_box(&masked)));
    });
    let cjk2k = mask(&"请一步一步地思考并写出完整的推理过程，然后给出答案。".repeat(27));
    b.run("intent classify 2 KB (masked Chinese)", cjk2k.len(), |_| {
        black_box(distill_guard::intent::classify(black_box(&cjk2k)));
    });
    let masked16k = mask(&prose16k);
    b.run("intent classify 16 KB (reads 4 KB)", masked16k.len(), |_| {
        black_box(distill_guard::intent::classify(black_box(&masked16k)));
    });
    b.run("template fingerprint (mask + skeleton) 2 KB", prose2k.len(), |_| {
        black_box(skeleton(&mask(black_box(&prose2k))));
    });

    for size in [2048usize, 16384] {
        let body = body(size);
        b.run(&format!("inspect {size} B, shape on"), body.len(), |_| {
            black_box(inspect(ApiKind::OpenAiChat, black_box(&body), true, shape));
        });
        b.run(&format!("inspect {size} B, shape off"), body.len(), |_| {
            black_box(inspect(ApiKind::OpenAiChat, black_box(&body), true, None));
        });
        // Steady state of one worker over 10,000 credentials at 5,000 requests a second (each key
        // every 2 s on average, in random order): decisions on the worker's view, a tick every 5 ms
        // merging each key's changes once a merge interval (5 s). A warm-up of 12 s reaches it; the
        // measured operations continue it.
        // As the adapter runs it: shared data through the VM's recent copies (campaign slots).
        let memory = MemoryStore::new();
        let recent = RecentReads::new(1024);
        let store = CachingStore::new(&memory, &recent);
        let local = RefCell::new(LocalLedger::new(LocalSettings::for_policy(&policy)));
        let facts = inspect(ApiKind::OpenAiChat, &body, true, shape).facts;
        let t0 = 1_800_000_000_000u64;
        let warm = 60_000u64;
        let exchange = |i: u64| {
            let ledger = Ledger::new(&policy.ledger, &store).with_local(Some(&local));
            let now = t0 + i / 5;
            let key = format!("sk-bench-{}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) % 10_000);
            let h = |n: &str| (n == "authorization").then(|| format!("Bearer {key}"));
            let c = identify(&policy.credential, &h, None).unwrap();
            let d = decide(&policy, &ledger, &c, &facts, now);
            if let Some(charge) = d.charge {
                let mut m = ResponseMeter::new(ApiKind::OpenAiChat, false, 1 << 20);
                m.feed(br#"{"usage":{"prompt_tokens":500,"completion_tokens":100}}"#);
                settle(&ledger, &charge, &m.finish(), now);
            }
            if i % 25 == 0 {
                local.borrow_mut().flush_due(&Ledger::new(&policy.ledger, &store), now);
            }
        };
        (0..warm).for_each(exchange);
        let name = format!("identify + decide + settle {size} B, 10k keys");
        let mut start = warm;
        if b.iters.is_none() && b.filter.as_deref().is_none_or(|w| name.contains(w)) {
            // Shared-data calls (gets and sets, the tick's merges included) per exchange, over 30,000.
            let calls = memory.calls();
            (warm..warm + 30_000).for_each(exchange);
            start += 30_000;
            println!("{:<44} {:>10.3} shared-data calls/op", name, (memory.calls() - calls) as f64 / 30_000.0);
        }
        b.run(&name, 0, |i| exchange(start + i));
    }

    for chunks in [100usize, 300, 1000, 3000] {
        let stream = sse(chunks);
        b.run(&format!("meter SSE {chunks} chunks"), stream.len(), |_| {
            let mut m = ResponseMeter::new(ApiKind::OpenAiChat, true, 1 << 24);
            for chunk in stream.chunks(1024) {
                m.feed(chunk);
            }
            black_box(m.finish());
        });
    }
}
