#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::ApiKind;
use distill_guard::response::{Metered, ResponseMeter, UsageSource};
use serde_json::json;

fn meter(api: ApiKind, streaming: bool, body: &str, chunk: usize) -> Metered {
    let mut m = ResponseMeter::new(api, streaming, 1 << 20);
    for c in body.as_bytes().chunks(chunk.max(1)) {
        m.feed(c);
    }
    m.finish()
}

fn openai_chat_stream(with_usage: bool) -> String {
    let mut s = String::new();
    for w in ["Hello", " there", " friend"] {
        s += &format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": w}}]}));
    }
    if with_usage {
        s += &format!(
            "data: {}\n\n",
            json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 30,
                "prompt_tokens_details": {"cached_tokens": 20}, "completion_tokens_details": {"reasoning_tokens": 10}}})
        );
    }
    s + "data: [DONE]\n\n"
}

#[test]
fn openai_chat_json_usage_is_exact_with_cached_and_reasoning_apart() {
    let body = json!({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 2}}});
    let m = meter(ApiKind::OpenAiChat, false, &body.to_string(), 5);
    assert_eq!(m, Metered { input: Some(11), output: 7, cached_input: 3, reasoning: 2, source: UsageSource::Reported });
}

#[test]
fn openai_chat_stream_usage_is_read_whatever_the_chunking() {
    let s = openai_chat_stream(true);
    for chunk in [1, 2, 7, 64, s.len()] {
        let m = meter(ApiKind::OpenAiChat, true, &s, chunk);
        assert_eq!(m.input, Some(50));
        assert_eq!((m.output, m.cached_input, m.reasoning), (30, 20, 10));
        assert_eq!(m.source, UsageSource::Reported);
    }
}

#[test]
fn openai_stream_without_usage_is_estimated_from_text() {
    let m = meter(ApiKind::OpenAiChat, true, &openai_chat_stream(false), 3);
    assert_eq!(m.input, None);
    assert_eq!(m.source, UsageSource::Estimated);
    assert!((3..=6).contains(&m.output), "{}", m.output);
}

#[test]
fn completions_stream_text_is_estimated() {
    let s = format!("data: {}\n\ndata: [DONE]\n\n", json!({"choices": [{"text": "one two three four"}]}));
    let m = meter(ApiKind::OpenAiCompletions, true, &s, 4);
    assert_eq!(m.output, 4);
}

#[test]
fn responses_api_completed_event_carries_usage() {
    let mut s = String::new();
    s += &format!(
        "event: response.output_text.delta\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "delta": "Hi"})
    );
    s += &format!(
        "event: response.completed\ndata: {}\n\n",
        json!({"type": "response.completed", "response": {"usage": {"input_tokens": 9, "output_tokens": 4,
            "input_tokens_details": {"cached_tokens": 1}, "output_tokens_details": {"reasoning_tokens": 2}}}})
    );
    let m = meter(ApiKind::OpenAiResponses, true, &s, 9);
    assert_eq!(m, Metered { input: Some(9), output: 4, cached_input: 1, reasoning: 2, source: UsageSource::Reported });
}

#[test]
fn responses_api_json_usage_is_read() {
    let body = json!({"object": "response", "usage": {"input_tokens": 5, "output_tokens": 6}});
    let m = meter(ApiKind::OpenAiResponses, false, &body.to_string(), 100);
    assert_eq!((m.input, m.output), (Some(5), 6));
}

fn anthropic_stream(finish: bool) -> String {
    let mut s = String::new();
    s += &format!(
        "event: message_start\ndata: {}\n\n",
        json!({"type": "message_start", "message": {"usage":
        {"input_tokens": 100, "cache_read_input_tokens": 40, "cache_creation_input_tokens": 10, "output_tokens": 1}}})
    );
    for w in ["The", " answer", " is", " four"] {
        s += &format!(
            "event: content_block_delta\ndata: {}\n\n",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}})
        );
    }
    if finish {
        s += &format!(
            "event: message_delta\ndata: {}\n\n",
            json!({"type": "message_delta", "usage": {"output_tokens": 15}})
        );
        s += &format!(
            "event: message_delta\ndata: {}\n\n",
            json!({"type": "message_delta", "usage": {"output_tokens": 25}})
        );
        s += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    }
    s
}

#[test]
fn anthropic_usage_is_cumulative_and_includes_cache() {
    let m = meter(ApiKind::AnthropicMessages, true, &anthropic_stream(true), 11);
    assert_eq!(m.input, Some(150), "input + cache read + cache creation");
    assert_eq!(m.cached_input, 40);
    assert_eq!(m.output, 25, "the last cumulative count, not the sum");
    assert_eq!(m.source, UsageSource::Reported);
}

#[test]
fn anthropic_stream_cut_short_keeps_input_and_estimates_output() {
    let m = meter(ApiKind::AnthropicMessages, true, &anthropic_stream(false), 11);
    assert_eq!(m.input, Some(150));
    assert_eq!(m.source, UsageSource::PartlyEstimated);
    assert_eq!(m.output, 4);
}

#[test]
fn anthropic_json_usage_is_read() {
    let body = json!({"type": "message", "usage": {"input_tokens": 8, "output_tokens": 3}});
    let m = meter(ApiKind::AnthropicMessages, false, &body.to_string(), 2);
    assert_eq!((m.input, m.output), (Some(8), 3));
}

#[test]
fn json_over_the_cap_is_not_kept() {
    let mut m = ResponseMeter::new(ApiKind::OpenAiChat, false, 16);
    m.feed(br#"{"usage":{"prompt_tokens":1,"completion_tokens":2}}"#);
    let out = m.finish();
    assert_eq!(out.input, None);
    assert_eq!(out.source, UsageSource::Estimated);
}

#[test]
fn garbage_responses_meter_to_nothing() {
    for body in ["", "not json", "{\"usage\": \"nope\"}", "[]"] {
        let m = meter(ApiKind::OpenAiChat, false, body, 3);
        assert_eq!((m.input, m.output), (None, 0));
        let m = meter(ApiKind::OpenAiChat, true, body, 3);
        assert_eq!((m.input, m.output), (None, 0));
    }
}

#[test]
fn quick_event_scan_finds_usage_and_text_without_parsing() {
    use distill_guard::response::scan_event;
    use distill_guard::tokens::{estimate_tokens, Tokenizer};
    let t = Tokenizer::Cl100k;
    let chunk = br#"{"choices":[{"index":0,"delta":{"content":"Hello \"there\" friend"}}],"usage":null}"#;
    let s = scan_event(chunk, t);
    assert!(!s.carries_usage, "usage: null is not usage");
    assert_eq!(s.text_tokens, estimate_tokens(r#"Hello \"there\" friend"#));
    assert!(scan_event(br#"{"choices":[],"usage" : {"prompt_tokens":1}}"#, t).carries_usage);
    assert!(scan_event(br#"{"type":"message_delta","usage":{"output_tokens":3}}"#, t).carries_usage);
    assert!(scan_event(br#"{"type": "response.completed", "response": {}}"#, t).carries_usage);
    let anthropic =
        br#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"four words of text"}}"#;
    let s = scan_event(anthropic, t);
    assert!(!s.carries_usage);
    assert_eq!(s.text_tokens, estimate_tokens("four words of text"));
    let responses = br#"{"type":"response.output_text.delta","delta":"two words"}"#;
    assert_eq!(scan_event(responses, t).text_tokens, estimate_tokens("two words"));
    // A key named like a text field inside another string is not a field.
    assert_eq!(scan_event(br#"{"note":"\"content\": \"x\""}"#, t).text_tokens, 0);
}

#[test]
fn the_usage_chunk_filter_holds_at_most_one_incomplete_event_and_passes_long_ones_on() {
    use distill_guard::response::{UsageChunkFilter, MAX_HELD_EVENT_BYTES};
    let mut f = UsageChunkFilter::new(ApiKind::OpenAiChat);
    assert_eq!(f.filter(b"data: {\"choices\":[{}]}\n\n", false), None, "a whole ordinary event goes on as is");
    assert_eq!(f.filter(b"data: {\"cho", false), Some(Vec::new()), "an incomplete event is held");
    assert_eq!(f.held(), 11);
    assert_eq!(f.filter(b"ices\":[]", false), Some(Vec::new()));
    assert_eq!(f.filter(b",\"usage\":{\"prompt_tokens\":1}}\n", false), Some(Vec::new()), "no blank line yet");
    assert_eq!(f.filter(b"\ndata: [DONE]\n\n", false), Some(b"data: [DONE]\n\n".to_vec()));
    assert_eq!((f.removed(), f.held()), (1, 0));
    // An event longer than the hold is passed on as it comes, and never removed.
    let long = format!("data: {{\"choices\":[],\"usage\":{{}},\"pad\":\"{}\"}}", "x".repeat(MAX_HELD_EVENT_BYTES));
    let (head, tail) = long.as_bytes().split_at(MAX_HELD_EVENT_BYTES + 8);
    assert_eq!(f.filter(head, false), None);
    assert_eq!(f.held(), 0);
    assert_eq!(f.filter(tail, false), None);
    assert_eq!(f.filter(b"\n\n", false), None);
    assert_eq!(f.removed(), 1);
    // The end of the stream lets nothing stay held; an unterminated usage chunk is removed too.
    assert_eq!(f.filter(b"data: {\"choices\":[],\"usage\":{\"total_tokens\":2}}", false), Some(Vec::new()));
    assert_eq!(f.filter(b"", true), Some(Vec::new()));
    assert_eq!((f.removed(), f.held()), (2, 0));
    assert_eq!(f.filter(b"data: x", true), None);
}

#[test]
fn the_usage_only_chunk_is_recognised_in_any_spacing_and_nothing_else_is() {
    use distill_guard::response::is_usage_only_event;
    let yes: &[&[u8]] = &[
        b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
        b"data: {\"id\": \"c\", \"choices\" : [ ], \"usage\": {\"prompt_tokens\": 1}}\r\n\r\n",
        b"data: {\"usage\":{\"prompt_tokens\":1},\"choices\":\t[\t]}",
        b"event: x\ndata: {\"a\":[1],\"choices\":[],\"usage\":{}}\n\n",
    ];
    let no: &[&[u8]] = &[
        b"data: {\"choices\":[{\"delta\":{\"content\":\"[]\"}}],\"usage\":null}\n\n",
        b"data: {\"choices\":[],\"usage\":null}\n\n",
        b"data: {\"other\":[],\"usage\":{}}\n\n",
        b"data: {\"note\":\"\\\"choices\\\": []\",\"usage\":{}}\n\n",
        b"data: {\"choices\":[]\n\n",
        b"data: [DONE]\n\n",
        b"",
    ];
    for e in yes {
        assert!(is_usage_only_event(e), "{}", String::from_utf8_lossy(e));
    }
    for e in no {
        assert!(!is_usage_only_event(e), "{}", String::from_utf8_lossy(e));
    }
}

#[test]
fn a_long_cut_stream_is_estimated_from_all_its_text_and_a_reported_one_is_not_estimated() {
    use distill_guard::tokens::estimate_tokens;
    // 48 KB of text: more than the meter keeps before estimating a batch.
    let words: Vec<String> = (0..8000).map(|i| format!(" word{}", i % 7)).collect();
    let mut s = String::new();
    for w in &words {
        s += &format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": w}}]}));
    }
    let text: String = words.concat();
    let cut = meter(ApiKind::OpenAiChat, true, &s, 1000);
    assert_eq!(cut.source, UsageSource::Estimated);
    assert_eq!(cut.output, estimate_tokens(&text));
    s += &format!("data: {}\n\n", json!({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 16000}}));
    let whole = meter(ApiKind::OpenAiChat, true, &s, 1000);
    assert_eq!((whole.input, whole.output, whole.source), (Some(3), 16000, UsageSource::Reported));
}

#[test]
fn a_json_body_is_checked_whole_and_only_its_top_level_usage_is_kept() {
    use distill_guard::json::Json;
    use distill_guard::response::body_usage;
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"id":"x","choices":[{"message":{"content":"a \"usage\": {} b"}}],"usage":{"prompt_tokens":5,"completion_tokens":7}}"#.to_vec(),
        br#"{"usage":{"prompt_tokens":1},"x":{"usage":{"prompt_tokens":9}},"usage":{"prompt_tokens":2,"completion_tokens":3}}"#.to_vec(),
        br#"{"nested":{"usage":{"prompt_tokens":9}}}"#.to_vec(),
        br#"{"us\u0061ge":{"prompt_tokens":4,"completion_tokens":1}}"#.to_vec(),
        br#"[{"usage":{"prompt_tokens":1}}]"#.to_vec(),
        br#""usage""#.to_vec(),
        br#"{"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1.5e3}}"#.to_vec(),
        br#"{"usage":{"prompt_tokens":1},"big":1e400}"#.to_vec(),
        br#"{"usage":{"prompt_tokens":1}} trailing"#.to_vec(),
        br#"{"usage":{"prompt_tokens":1}}   "#.to_vec(),
        b"{\"usage\":{\"prompt_tokens\":1},\"t\":\"\xff\xfe\"}".to_vec(),
        br#"{"usage":{"prompt_tokens":1},"t":"\ud800"}"#.to_vec(),
        br#"{"usage":{"prompt_tokens":1}"#.to_vec(),
        format!("{}{{\"usage\":{{\"prompt_tokens\":1}}}}{}", "[".repeat(130), "]".repeat(130)).into_bytes(),
        format!("{{\"usage\":{{\"prompt_tokens\":1}},\"d\":{}1{}}}", "[".repeat(126), "]".repeat(126)).into_bytes(),
        format!("{{\"usage\":{{\"prompt_tokens\":1}},\"d\":{}1{}}}", "[".repeat(127), "]".repeat(127)).into_bytes(),
        b"".to_vec(),
        b"null".to_vec(),
    ];
    for body in &bodies {
        let whole = Json::parse(body).map(|v| v.get("usage").map(Json::to_value));
        let kept = body_usage(body).map(|v| v.get("usage").map(Json::to_value));
        assert_eq!(kept, whole, "{}", String::from_utf8_lossy(body));
    }
    // Read through the meter as before: the last top-level usage.
    let m = meter(ApiKind::OpenAiChat, false, std::str::from_utf8(&bodies[1]).unwrap(), 7);
    assert_eq!((m.input, m.output, m.source), (Some(2), 3, UsageSource::Reported));
}

/// `feed_chunk` (a JSON body that comes whole in its last chunk is read from the chunk, not copied)
/// against `feed` and `finish` (the body copied, then read): the same usage for every API, body
/// (reported usage, none, malformed, empty, usage in every place), cap around the body's length and
/// split of the body into one, two or three chunks (the last flagged, an empty last chunk included).
#[test]
fn a_json_body_read_from_its_last_chunk_meters_as_the_copied_body() {
    let bodies = [
        json!({"id": "x", "choices": [{"message": {"content": "ok ok"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}).to_string(),
        json!({"usage": {"input_tokens": 9, "output_tokens": 4, "cache_read_input_tokens": 2}, "content": []}).to_string(),
        json!({"usage": {"prompt_tokens": 5}, "usage": {"prompt_tokens": 6, "completion_tokens": 1}}).to_string(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":3},"x":[1,2,}"#.to_string(),
        r#"{"usage":{"prompt_tokens":5,"completion_tokens":3}} trailing"#.to_string(),
        r#"[{"usage":{"prompt_tokens":5,"completion_tokens":3}}]"#.to_string(),
        json!({"choices": []}).to_string(),
        json!({"response": {"usage": {"input_tokens": 3, "output_tokens": 2}}, "usage": {"input_tokens": 7, "output_tokens": 1}}).to_string(),
        String::new(),
        " ".to_string(),
    ];
    for api in [
        ApiKind::OpenAiChat,
        ApiKind::OpenAiCompletions,
        ApiKind::OpenAiResponses,
        ApiKind::AnthropicMessages,
        ApiKind::Other,
    ] {
        for body in &bodies {
            let b = body.as_bytes();
            let n = b.len();
            let mut splits: Vec<Vec<usize>> = vec![vec![n], vec![n, n]];
            splits.extend((0..=n).step_by(7).map(|i| vec![i, n]));
            splits.extend((0..=n).step_by(11).map(|i| vec![i / 2, i, n]));
            for cap in [0, n.saturating_sub(1), n, n + 1, 1 << 20] {
                for ends in &splits {
                    let (mut copied, mut direct) =
                        (ResponseMeter::new(api, false, cap), ResponseMeter::new(api, false, cap));
                    let mut from = 0;
                    for (k, &end) in ends.iter().enumerate() {
                        let chunk = &b[from..end];
                        copied.feed(chunk);
                        direct.feed_chunk(chunk, k + 1 == ends.len());
                        from = end;
                    }
                    assert_eq!(direct.finish(), copied.finish(), "{api:?} cap {cap} ends {ends:?} body {body}");
                }
            }
        }
    }
}
