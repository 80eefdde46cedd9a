#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::tokens::{estimate_from_bytes, estimate_tokens};

#[test]
fn empty_text_has_no_tokens() {
    assert_eq!(estimate_tokens(""), 0);
}

#[test]
fn short_english_words_are_about_one_token_each() {
    // "The quick brown fox jumps over the lazy dog." is 10 tokens in cl100k.
    let n = estimate_tokens("The quick brown fox jumps over the lazy dog.");
    assert!((9..=11).contains(&n), "{n}");
}

#[test]
fn long_words_and_numbers_split() {
    assert!(estimate_tokens("internationalization") >= 3);
    assert_eq!(estimate_tokens("123456789"), 3);
}

#[test]
fn chinese_is_about_a_token_per_character() {
    let text = "请一步一步地思考这个问题";
    let chars = text.chars().count() as u64;
    let n = estimate_tokens(text);
    assert!(n >= chars && n <= chars * 2, "{n} for {chars} chars");
}

#[test]
fn estimate_grows_linearly_with_repetition() {
    let one = estimate_tokens("fn main() { println!(\"hi\"); }\n");
    let ten = estimate_tokens(&"fn main() { println!(\"hi\"); }\n".repeat(10));
    assert_eq!(ten, one * 10);
}

#[test]
fn byte_estimate_is_a_quarter() {
    assert_eq!(estimate_from_bytes(0), 0);
    assert_eq!(estimate_from_bytes(4), 1);
    assert_eq!(estimate_from_bytes(5), 2);
}

#[test]
fn model_names_pick_the_tokenizer_family() {
    use distill_guard::tokens::Tokenizer;
    assert_eq!(Tokenizer::for_model("gpt-4o-mini"), Tokenizer::O200k);
    assert_eq!(Tokenizer::for_model("o3-pro"), Tokenizer::O200k);
    assert_eq!(Tokenizer::for_model("GPT-5"), Tokenizer::O200k);
    assert_eq!(Tokenizer::for_model("gpt-4-turbo"), Tokenizer::Cl100k);
    assert_eq!(Tokenizer::for_model("claude-sonnet-4"), Tokenizer::Cl100k);
}

#[test]
fn o200k_counts_fewer_tokens_for_chinese_but_the_same_for_english() {
    use distill_guard::tokens::{estimate_tokens_for, Tokenizer};
    let zh = "这是一个关于模型蒸馏的很长的中文句子，用来测试估计器。".repeat(10);
    assert!(estimate_tokens_for(&zh, Tokenizer::O200k) < estimate_tokens_for(&zh, Tokenizer::Cl100k) * 8 / 10);
    let en = "A plain English sentence about distillation.";
    assert_eq!(estimate_tokens_for(en, Tokenizer::O200k), estimate_tokens_for(en, Tokenizer::Cl100k));
}
