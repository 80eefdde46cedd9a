//! The dialect seam: each API's differences behind one trait.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::{ApiKind, ErrorStyle, Tally, STREAM_TEXT_KEYS, USAGE_EVENTS};
use distill_guard::json::Json;
use distill_guard::tokens::Tokenizer;

#[test]
fn every_api_has_a_dialect_of_its_own_kind_found_by_its_path() {
    for (path, kind) in [
        ("/v1/chat/completions", ApiKind::OpenAiChat),
        ("/v1/completions?x=1", ApiKind::OpenAiCompletions),
        ("/v1/responses/", ApiKind::OpenAiResponses),
        ("/v1/messages", ApiKind::AnthropicMessages),
        ("/v1/embeddings", ApiKind::Other),
    ] {
        assert_eq!(ApiKind::from_path(path), kind, "{path}");
        assert_eq!(kind.dialect().kind(), kind);
    }
}

#[test]
fn only_openai_chat_and_completions_stream_usage_only_when_asked() {
    let plain = Json::parse(br#"{"stream":true}"#).unwrap();
    let asked = Json::parse(br#"{"stream":true,"stream_options":{"include_usage":true}}"#).unwrap();
    for kind in ApiKind::ALL {
        let d = kind.dialect();
        let asks = matches!(kind, ApiKind::OpenAiChat | ApiKind::OpenAiCompletions);
        assert_eq!(d.stream_reports_usage(&plain), !asks, "{kind:?}");
        assert!(d.stream_reports_usage(&asked), "{kind:?}");
        assert_eq!(d.injects_include_usage(), asks, "{kind:?}");
        // Asking means a rewritten body, and a usage-only chunk in the answer to take out again.
        let body = br#"{"stream":true}"#;
        let rewritten = d.with_stream_usage(body, &plain);
        assert_eq!(rewritten.is_some(), asks, "{kind:?}");
        if let Some(b) = rewritten {
            assert!(Json::parse(&b).unwrap().get("stream_options").unwrap().get("include_usage").is_some());
        }
        let usage_only = b"data: {\"choices\": [], \"usage\": {\"prompt_tokens\": 1}}\n\n";
        assert_eq!(d.is_injected_usage_event(usage_only), asks, "{kind:?}");
    }
}

#[test]
fn a_stream_is_scanned_with_every_dialects_text_keys_and_usage_events() {
    let mut keys: Vec<&[u8]> = STREAM_TEXT_KEYS.to_vec();
    keys.sort();
    let want: [&[u8]; 7] =
        [b"arguments", b"content", b"delta", b"partial_json", b"reasoning_content", b"text", b"thinking"];
    assert_eq!(keys, want);
    let mut events: Vec<&[u8]> = USAGE_EVENTS.to_vec();
    events.sort();
    let want: [&[u8]; 5] =
        [b"message_delta", b"message_start", b"response.completed", b"response.failed", b"response.incomplete"];
    assert_eq!(events, want);
}

#[test]
fn every_dialect_reads_the_conversation_and_sampling_the_openai_way_unless_it_has_a_bare_prompt() {
    let body = Json::parse(
        br#"{"system":"be terse","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},
            {"role":"user","content":[{"type":"text","text":"c"}]}],"prompt":"p","logprobs":true,"n":2,
            "temperature":0,"max_completion_tokens":50}"#,
    )
    .unwrap();
    for kind in ApiKind::ALL {
        let d = kind.dialect();
        let c = d.conversation(&body);
        assert_eq!(c.system, ["be terse"], "{kind:?}");
        if kind == ApiKind::OpenAiCompletions {
            assert_eq!((c.last_user.as_slice(), c.user_turns, c.assistant_turns), (&["p"][..], 1, 0));
        } else {
            assert_eq!((c.last_user.as_slice(), c.user_turns, c.assistant_turns), (&["c"][..], 2, 1), "{kind:?}");
        }
        assert_eq!(d.message_count(&body), 3, "{kind:?}");
        let s = d.sampling(&body);
        assert!(s.logprobs && s.multiple_samples && s.temperature_zero && !s.logit_bias && !s.echo, "{kind:?}");
        assert_eq!(d.max_output_tokens(&body), Some(50), "{kind:?}");
    }
}

#[test]
fn each_dialect_reads_its_own_usage_shape() {
    let openai = Json::parse(br#"{"prompt_tokens":5,"completion_tokens":7}"#).unwrap();
    let responses = Json::parse(br#"{"input_tokens":5,"output_tokens":7}"#).unwrap();
    let anthropic = Json::parse(br#"{"input_tokens":5,"cache_read_input_tokens":2,"output_tokens":7}"#).unwrap();
    let usage = |kind: ApiKind, u: &Json<'_>| kind.dialect().usage(u).map(|u| (u.input, u.output, u.cached_input));
    assert_eq!(usage(ApiKind::OpenAiChat, &openai), Some((5, 7, 0)));
    assert_eq!(usage(ApiKind::OpenAiChat, &responses), Some((5, 7, 0)), "a Responses shape behind another path");
    assert_eq!(usage(ApiKind::OpenAiResponses, &openai), None);
    assert_eq!(usage(ApiKind::AnthropicMessages, &anthropic), Some((7, 7, 2)), "cache reads are input too");
    let mut tally = Tally::default();
    let start = Json::parse(br#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#).unwrap();
    let delta = Json::parse(br#"{"type":"message_delta","usage":{"output_tokens":9}}"#).unwrap();
    let d = ApiKind::AnthropicMessages.dialect();
    d.stream_event("message_start", &start, &mut tally, Tokenizer::default());
    d.stream_event("message_delta", &delta, &mut tally, Tokenizer::default());
    assert_eq!((tally.input, tally.output), (Some((3, 0)), Some(9)));
}

#[test]
fn errors_take_the_anthropic_style_on_its_path_or_with_its_version_header() {
    assert_eq!(ErrorStyle::for_request(ApiKind::AnthropicMessages, false), ErrorStyle::Anthropic);
    assert_eq!(ErrorStyle::for_request(ApiKind::OpenAiChat, true), ErrorStyle::Anthropic);
    assert_eq!(ErrorStyle::for_request(ApiKind::OpenAiResponses, false), ErrorStyle::OpenAi);
    let [limit, _, reset] = ErrorStyle::OpenAi.rate_limit_headers("tokens", (100, 4, 30), 0);
    assert_eq!(limit, ("x-ratelimit-limit-tokens".to_string(), "100".to_string()));
    assert_eq!(reset.1, "30s");
    let [_, _, reset] = ErrorStyle::Anthropic.rate_limit_headers("requests", (10, 0, 30), 1_800_000_000);
    assert_eq!(reset, ("anthropic-ratelimit-requests-reset".to_string(), "2027-01-15T08:00:30Z".to_string()));
}
