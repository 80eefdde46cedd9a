#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::ApiKind;
use distill_guard::request::{inspect, BodyStatus};
use serde_json::{json, Value};

#[test]
fn api_is_classified_from_the_path() {
    assert_eq!(ApiKind::from_path("/v1/chat/completions"), ApiKind::OpenAiChat);
    assert_eq!(ApiKind::from_path("/openai/v1/chat/completions?x=1"), ApiKind::OpenAiChat);
    assert_eq!(ApiKind::from_path("/v1/completions"), ApiKind::OpenAiCompletions);
    assert_eq!(ApiKind::from_path("/v1/responses"), ApiKind::OpenAiResponses);
    assert_eq!(ApiKind::from_path("/v1/messages"), ApiKind::AnthropicMessages);
    assert_eq!(ApiKind::from_path("/v1/models"), ApiKind::Other);
}

#[test]
fn chat_request_facts_are_read() {
    let body = json!({"model": "gpt-4o", "max_tokens": 512, "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the capital of France?"}]});
    let r = inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), true, None);
    assert_eq!(r.facts.body, BodyStatus::Parsed);
    assert_eq!(r.facts.model.as_deref(), Some("gpt-4o"));
    assert_eq!(r.facts.max_output_tokens, Some(512));
    assert_eq!(r.facts.messages, 2);
    assert!(!r.facts.stream);
    assert!(r.rewritten.is_none());
    // About 4 per message + 3 + content (~12) + roles.
    assert!((15..=30).contains(&r.facts.estimated_input_tokens), "{}", r.facts.estimated_input_tokens);
}

#[test]
fn streaming_chat_without_include_usage_gets_it_injected() {
    let body = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let r = inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), true, None);
    assert!(r.facts.usage_injected && r.facts.include_usage);
    let rewritten: Value = serde_json::from_slice(&r.rewritten.unwrap()).unwrap();
    assert_eq!(rewritten["stream_options"]["include_usage"], json!(true));
    assert_eq!(rewritten["messages"], body["messages"]);
}

#[test]
fn injection_keeps_the_client_bytes_and_adds_one_field() {
    let body = b" {\"stream\": true,  \"model\":\"m\", \"messages\": [{\"role\":\"user\",\"content\":\"a\\u0041\"}]}\n";
    let r = inspect(ApiKind::OpenAiChat, body, true, None);
    let rewritten = r.rewritten.unwrap();
    let field = br#""stream_options":{"include_usage":true},"#;
    assert_eq!(rewritten.len(), body.len() + field.len());
    assert_eq!(&rewritten[..2], &body[..2]);
    assert_eq!(&rewritten[2..2 + field.len()], field);
    assert_eq!(&rewritten[2 + field.len()..], &body[2..]);
    let v: Value = serde_json::from_slice(&rewritten).unwrap();
    assert_eq!(v["stream_options"], json!({"include_usage": true}));
    assert_eq!(v["messages"][0]["content"], json!("aA"));
}

#[test]
fn include_usage_false_is_overridden_and_other_options_kept() {
    let body = json!({"model": "m", "stream": true, "prompt": "x",
        "stream_options": {"include_usage": false, "other": 1}});
    let r = inspect(ApiKind::OpenAiCompletions, body.to_string().as_bytes(), true, None);
    let rewritten: Value = serde_json::from_slice(&r.rewritten.unwrap()).unwrap();
    assert_eq!(rewritten["stream_options"], json!({"include_usage": true, "other": 1}));
}

#[test]
fn include_usage_already_set_or_injection_off_leaves_body_alone() {
    let body = json!({"model": "m", "stream": true, "messages": [], "stream_options": {"include_usage": true}});
    assert!(inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), true, None).rewritten.is_none());
    let body = json!({"model": "m", "stream": true, "messages": []});
    let r = inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), false, None);
    assert!(r.rewritten.is_none());
    assert!(!r.facts.include_usage);
}

#[test]
fn anthropic_and_responses_streams_are_never_rewritten() {
    let body =
        json!({"model": "claude", "stream": true, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert!(inspect(ApiKind::AnthropicMessages, body.to_string().as_bytes(), true, None).rewritten.is_none());
    let body = json!({"model": "gpt", "stream": true, "input": "hi"});
    assert!(inspect(ApiKind::OpenAiResponses, body.to_string().as_bytes(), true, None).rewritten.is_none());
}

#[test]
fn anthropic_system_and_blocks_are_counted() {
    let small = json!({"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let big = json!({"model": "c", "max_tokens": 5, "system": "You are a careful assistant who explains things.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi there, how are you today?"}]}]});
    let a = inspect(ApiKind::AnthropicMessages, small.to_string().as_bytes(), true, None).facts.estimated_input_tokens;
    let b = inspect(ApiKind::AnthropicMessages, big.to_string().as_bytes(), true, None).facts.estimated_input_tokens;
    assert!(b > a + 10, "{a} {b}");
}

#[test]
fn inline_images_are_priced_flat_not_by_base64_length() {
    let img = format!("data:image/png;base64,{}", "A".repeat(100_000));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": img}}]}]});
    let n = inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), true, None).facts.estimated_input_tokens;
    assert!(n < 200, "{n}");
}

#[test]
fn malformed_bodies_are_estimated_from_bytes() {
    for body in [&b"{not json"[..], b"[1,2,3]", b"\"string\"", &[0xff, 0xfe, 0x7b, 0x7d][..]] {
        let r = inspect(ApiKind::OpenAiChat, body, true, None);
        assert_eq!(r.facts.body, BodyStatus::Unparsed);
        assert!(r.facts.estimated_input_tokens >= 1);
        assert!(r.rewritten.is_none());
    }
}

#[test]
fn invalid_utf8_inside_a_string_is_unparsed_not_a_crash() {
    let mut body = br#"{"model":"m","messages":[{"role":"user","content":""#.to_vec();
    body.extend_from_slice(&[0xc3, 0x28]);
    body.extend_from_slice(br#""}]}"#);
    assert_eq!(inspect(ApiKind::OpenAiChat, &body, true, None).facts.body, BodyStatus::Unparsed);
}

#[test]
fn deeply_nested_json_is_rejected_by_the_depth_limit() {
    let depth = 100_000;
    let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(inspect(ApiKind::OpenAiChat, body.as_bytes(), true, None).facts.body, BodyStatus::Unparsed);
    let body = format!("{{\"messages\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    assert_eq!(inspect(ApiKind::OpenAiChat, body.as_bytes(), true, None).facts.body, BodyStatus::Unparsed);
}

#[test]
fn empty_body_is_empty() {
    let r = inspect(ApiKind::OpenAiChat, b"", true, None);
    assert_eq!(r.facts.body, BodyStatus::Empty);
    assert_eq!(r.facts.estimated_input_tokens, 0);
}

#[test]
fn huge_arrays_are_handled() {
    let msgs: Vec<Value> = (0..10_000).map(|i| json!({"role": "user", "content": format!("m{i}")})).collect();
    let body = json!({"model": "m", "messages": msgs});
    let r = inspect(ApiKind::OpenAiChat, body.to_string().as_bytes(), true, None);
    assert_eq!(r.facts.messages, 10_000);
    assert!(r.facts.estimated_input_tokens > 40_000);
}
