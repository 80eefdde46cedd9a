//! The token estimator measured against exact tokenizers (cl100k_base and o200k_base via tiktoken-rs)
//! on real prompt text: English prose, code, and Chinese. Native only.
//!
//! `make bench-estimator` prints the table reported in BENCHMARKS.md; the test fails if the estimate
//! drifts too far from either tokenizer for any kind of text.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use distill_guard::tokens::{estimate_tokens_for, Tokenizer};

fn texts(files: &[&str]) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/prompts/");
    let mut out = Vec::new();
    for f in files {
        let body = std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push(v["text"].as_str().unwrap().to_string());
        }
    }
    out
}

struct Report {
    kind: &'static str,
    tokenizer: &'static str,
    texts: usize,
    exact: u64,
    estimated: u64,
    mean_abs_pct: f64,
    p90_abs_pct: f64,
}

fn measure(
    kind: &'static str,
    tokenizer: &'static str,
    family: Tokenizer,
    bpe: &tiktoken_rs::CoreBPE,
    corpus: &[String],
) -> Report {
    let mut errors = Vec::with_capacity(corpus.len());
    let (mut exact_total, mut est_total) = (0u64, 0u64);
    for t in corpus {
        let exact = bpe.encode_ordinary(t).len() as u64;
        let est = estimate_tokens_for(t, family);
        exact_total += exact;
        est_total += est;
        if exact > 0 {
            errors.push((est as f64 - exact as f64).abs() / exact as f64 * 100.0);
        }
    }
    errors.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let p90 = errors[(errors.len() * 9 / 10).min(errors.len() - 1)];
    Report {
        kind,
        tokenizer,
        texts: corpus.len(),
        exact: exact_total,
        estimated: est_total,
        mean_abs_pct: mean,
        p90_abs_pct: p90,
    }
}

#[test]
fn estimator_error_per_kind_of_text_is_bounded() {
    let kinds: [(&str, Vec<String>); 3] = [
        (
            "English prose",
            texts(&["truthfulqa.jsonl", "health_questions.jsonl", "bigbench_strategyqa.jsonl", "mmlu_dev_cot.jsonl"]),
        ),
        ("code", texts(&["humaneval.jsonl"])),
        ("Chinese", texts(&["evals_zh.jsonl", "chatterbot_zh.jsonl"])),
    ];
    let cl100k = tiktoken_rs::cl100k_base().unwrap();
    let o200k = tiktoken_rs::o200k_base().unwrap();
    println!("| text | tokenizer | texts | exact tokens | estimated | total error | mean abs error per text | p90 abs error |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for (kind, corpus) in &kinds {
        for (name, family, bpe) in
            [("cl100k_base", Tokenizer::Cl100k, &cl100k), ("o200k_base", Tokenizer::O200k, &o200k)]
        {
            let r = measure(kind, name, family, bpe, corpus);
            let total = (r.estimated as f64 / r.exact as f64 - 1.0) * 100.0;
            println!(
                "| {} | {} | {} | {} | {} | {:+.1}% | {:.1}% | {:.1}% |",
                r.kind, r.tokenizer, r.texts, r.exact, r.estimated, total, r.mean_abs_pct, r.p90_abs_pct
            );
            // Bounds: the pre-charge only has to be in the right range (usage replaces it), but a
            // regression that doubles or halves it would make token budgets misfire.
            if total.abs() > 25.0 || r.mean_abs_pct > 30.0 {
                failures.push(format!("{kind} vs {name}: total {total:+.1}%, mean {:.1}%", r.mean_abs_pct));
            }
        }
    }
    assert!(failures.is_empty(), "estimator out of bounds: {failures:?}");
}
