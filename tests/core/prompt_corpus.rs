//! The prompt pass (`prompt::PromptText::read`) and the request inspection built on it against a
//! recorded reference: the phrase bits, the masked text, the content hash, the token estimates and
//! the whole request shape (fingerprints included) of every text of a corpus, as the code gave them
//! before its cuts (recorded at main d022cd3). The corpus: the fuzz corpus, the human and prompt
//! data in many languages, and generated edge cases (every default phrase at the text's start and
//! end, shifted across eight-byte blocks, in upper and title case, with punctuation, digits, quotes,
//! double spaces and multibyte characters around and inside it). Digests go by groups of 64 texts;
//! a mismatch names the group and its first text. `DG_RECORD_PROMPT_CORPUS=1` re-records (only ever
//! with the code the evaluations ran on).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use distill_guard::api::ApiKind;
use distill_guard::hash::words64;
use distill_guard::policy::{default_phrases, Policy};
use distill_guard::prompt::PromptText;
use distill_guard::request::inspect;
use distill_guard::tokens::Tokenizer;
use serde_json::{json, Value};

use crate::support::{no_env, Rng, DEFAULT_POLICY};

const REFERENCE: &str = "tests/data/prompt-pass-reference.txt";
const GROUP: usize = 64;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn texts_of_jsonl(path: &Path, out: &mut Vec<String>) {
    let data = std::fs::read_to_string(path).unwrap();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        for key in ["text", "prompt", "question", "input", "answer"] {
            if let Some(t) = v.get(key).and_then(Value::as_str) {
                out.push(t.to_string());
            }
        }
    }
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

/// Every default phrase in many surroundings.
fn generated() -> Vec<String> {
    let p = default_phrases();
    let phrases: Vec<&String> =
        p.chain_of_thought.iter().chain(&p.rubric).chain(&p.synthetic_data).chain(&p.probe).collect();
    let before =
        ["", " ", "a ", "ab ", "abc ", "abcd ", "The ", "x, ", "1 ", "\"", "é ", "中", "  ", "\n", "(", "-", "A.B "];
    let after = ["", " ", ".", " now", "s", "ing", "  ", "\"", "9", "中", " é", ",x", "\t"];
    let mut out = Vec::new();
    let mut rng = Rng(0x16_b001);
    for phrase in phrases {
        let title: String = phrase.split(' ').map(title_case).collect::<Vec<_>>().join(" ");
        let forms = [
            phrase.clone(),
            phrase.to_uppercase(),
            title,
            phrase.replace(' ', "  "),
            phrase.replace(' ', ", "),
            phrase.replace(' ', "\n"),
            phrase.replace('#', "7"),
            phrase.replace('#', "12 34"),
            phrase.chars().take(phrase.chars().count().saturating_sub(1)).collect(),
        ];
        for form in &forms {
            for b in before {
                for a in after {
                    out.push(format!("{b}{form}{a}"));
                }
            }
            // In prose, at every shift of an eight-byte block and far into the text (after words,
            // punctuation and numbers), and at the end of a long text.
            for shift in 0..9 {
                let mut pad = String::new();
                for _ in 0..rng.below(80) {
                    pad.push_str(["word ", "is ", "a ", "text, ", "(it) ", "12 ", "x  ", "Über "][rng.below(8)]);
                }
                pad.push_str(&"q".repeat(shift));
                out.push(format!("{pad} {form} and then more words follow here"));
                out.push(format!("{pad} {form}"));
            }
        }
    }
    out
}

fn title_case(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn corpus() -> Vec<String> {
    let mut out = generated();
    for dir in ["tests/data/human", "tests/data/prompts"] {
        for f in sorted_files(&root().join(dir)) {
            if f.extension().is_some_and(|e| e == "jsonl") {
                texts_of_jsonl(&f, &mut out);
            }
        }
    }
    for dir in sorted_files(&root().join("fuzz/corpus")) {
        for f in sorted_files(&dir) {
            out.push(String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned());
        }
    }
    out
}

/// One text's line: the pass with and without phrases, and the shape of a chat body asking it.
fn line(text: &str, policy: &Policy) -> String {
    let cfg = &policy.detection.shape;
    let pass = PromptText::read(text, Some(&cfg.index));
    let bare = PromptText::read(text, None);
    let body = serde_json::to_vec(&json!({"model": "m", "messages": [
        {"role": "system", "content": text},
        {"role": "user", "content": text},
    ]}))
    .unwrap();
    let shape = inspect(ApiKind::OpenAiChat, &body, true, Some(cfg)).facts.shape;
    format!(
        "{:x} {:016x} {:016x} {} {} {} | {:x} {:016x} {:016x} {} | {:016x}",
        pass.phrases,
        words64(pass.masked.as_bytes()),
        pass.content,
        pass.estimate.tokens(Tokenizer::Cl100k),
        pass.estimate.tokens(Tokenizer::O200k),
        pass.masked.len(),
        bare.phrases,
        words64(bare.masked.as_bytes()),
        bare.content,
        bare.estimate.tokens(Tokenizer::Cl100k),
        words64(format!("{shape:?}").as_bytes()),
    )
}

#[test]
fn the_prompt_pass_gives_what_it_gave_before_its_cuts() {
    let policy = Policy::parse(DEFAULT_POLICY.as_bytes(), &no_env).unwrap();
    let texts = corpus();
    assert!(texts.len() > 20_000, "{} texts", texts.len());
    let mut digests = String::new();
    let mut hits = [0usize; 16];
    for (g, group) in texts.chunks(GROUP).enumerate() {
        let mut all = String::new();
        for text in group {
            let l = line(text, &policy);
            hits[usize::from_str_radix(&l[..1], 16).unwrap()] += 1;
            all.push_str(&l);
            all.push('\n');
        }
        writeln!(digests, "{g} {:016x}", words64(all.as_bytes())).unwrap();
    }
    writeln!(digests, "phrase bits {hits:?}").unwrap();
    let path = root().join(REFERENCE);
    if std::env::var_os("DG_RECORD_PROMPT_CORPUS").is_some() {
        std::fs::write(&path, &digests).unwrap();
        return;
    }
    // Phrases must be exercised: every list alone and together.
    assert!(hits.iter().filter(|&&n| n > 0).count() >= 5, "{hits:?}");
    let want = std::fs::read_to_string(&path).unwrap();
    for (g, (got, want)) in digests.lines().zip(want.lines()).enumerate() {
        let first = texts.get(g * GROUP).map(String::as_str).unwrap_or("");
        assert_eq!(got, want, "group {g} (first text {:?})", first.chars().take(80).collect::<String>());
    }
    assert_eq!(digests.lines().count(), want.lines().count());
}
