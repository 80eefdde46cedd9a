//! The whole exchange, phase by phase, against the recording fake host: what is read, what reaches the
//! upstream, what is answered locally, billed, refunded and logged.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::rc::Rc;

use distill_guard::credential::identify;
use distill_guard::exchange::{CallOutcome, Exchange, FakeHost, Flow, HostAction};
use distill_guard::ledger::{Ledger, Subject};
use distill_guard::metrics::{Metrics, Pending};
use distill_guard::policy::{Policy, Window};
use serde_json::{json, Value};

use crate::support::{headers, policy_with};

const T0: u64 = 1_800_000_000_000;

fn chat_body(extra: Value) -> Vec<u8> {
    let mut body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Tell me about tides."}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&body).unwrap()
}

fn request<'a>(key: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![(":method", "POST"), (":path", path), ("authorization", key), ("content-type", "application/json")]
}

/// One exchange's parts: the policy, the VM's metrics, the fake proxy.
struct Rig {
    policy: Rc<Policy>,
    metrics: Rc<Metrics>,
    host: FakeHost,
}

impl Rig {
    fn new(extra: Value) -> Self {
        Rig { policy: Rc::new(policy_with(extra)), metrics: Rc::new(Metrics::new()), host: FakeHost::new(T0) }
    }

    fn exchange(&self) -> Exchange {
        Exchange::new(7, self.policy.clone(), self.metrics.clone())
    }

    fn added(&self, m: distill_guard::metrics::Metric) -> u64 {
        match self.metrics.pending(m) {
            Pending::Add(n) | Pending::Set(n) => n,
            Pending::None => 0,
        }
    }

    /// The credential's current minute: (requests, input, output) tokens.
    fn minute(&self, key: &str) -> (u64, u64, u64) {
        let id = identify(&self.policy.credential, &headers(&[("authorization", key)]), None).unwrap().id;
        let ledger = Ledger::new(&self.policy.ledger, &self.host.store);
        let w = ledger.read(&Subject::credential(&id), self.host.now_ms.get()).window(Window::Minute).current;
        (w.requests, w.input, w.output)
    }
}

#[test]
fn an_allowed_request_goes_upstream_with_the_verdict_headers_once_its_body_is_read() {
    let rig = Rig::new(json!({}));
    let h = request("Bearer sk-a", "/v1/chat/completions");
    *rig.host.request_headers.borrow_mut() = h.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect();
    let answer = rig.exchange().on_request_headers(&rig.host, false);
    assert_eq!(answer.flow, Flow::Pause, "headers wait for the body");
    assert!(answer.actions.is_empty(), "{:?}", answer.actions);
    rig.host.reset();
    let mut ex = rig.exchange();
    let flow =
        rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(json!({})), 16);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(rig.host.upstream_header("x-distill-verdict").as_deref(), Some("allow"));
    // One single-turn request: a faint automation share (its lower bound), far under any tier.
    assert_eq!(rig.host.upstream_header("x-distill-score").as_deref(), Some("0.01"));
    assert_eq!(rig.host.upstream_header("x-distill-credential").unwrap().len(), 16);
    assert_eq!(rig.host.upstream_body.borrow().as_deref(), Some(chat_body(json!({})).as_slice()));
    assert_eq!(rig.host.read_count("request_body"), 1, "the body is read once, at the end of the stream");
    assert!(rig.host.logs.borrow().is_empty(), "an allow is not logged");
    assert!(rig.host.violations.borrow().is_empty(), "{:?}", rig.host.violations.borrow());
    assert_eq!(rig.added(Metrics::requests_allow), 1);
}

#[test]
fn client_sent_distill_headers_are_removed_before_anything_else() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    let mut h = request("Bearer sk-a", "/v1/chat/completions");
    h.extend([("x-distill-verdict", "allow"), ("X-Distill-Shadow", "true"), ("x-distill-verdict", "allow")]);
    *rig.host.request_headers.borrow_mut() =
        h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
    let answer = ex.on_request_headers(&rig.host, false);
    let removed: Vec<&HostAction> =
        answer.actions.iter().filter(|a| matches!(a, HostAction::RemoveRequestHeader(_))).collect();
    assert_eq!(
        removed,
        [
            &HostAction::RemoveRequestHeader("x-distill-verdict".into()),
            &HostAction::RemoveRequestHeader("x-distill-shadow".into())
        ],
        "each owned name once"
    );
    rig.host.reset();
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &h, &chat_body(json!({})), 4096);
    assert_eq!(rig.host.upstream_header("x-distill-shadow"), None, "a forged shadow flag does not reach the upstream");
}

#[test]
fn a_request_without_a_credential_gets_401_in_its_api_format_and_one_log_line() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    let h = [(":path", "/v1/messages"), ("anthropic-version", "2023-06-01")];
    let flow = rig.host.send_request(&mut ex, &h, &chat_body(json!({})), 4096);
    assert_eq!(flow, Flow::Pause);
    let reply = rig.host.reply().unwrap();
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("authentication_error"), "{}", reply.body);
    assert_eq!(
        rig.host.logs.borrow().as_slice(),
        ["#7 distill-guard {\"verdict\":\"block\",\"reason\":\"missing_credential\",\"api\":\"anthropic_messages\"}"]
    );
    assert_eq!(rig.host.read_count("request_body"), 0, "the body of a refused request is never read");
    assert!(rig.host.upstream_headers.borrow().is_none());
    assert_eq!((rig.added(Metrics::missing_credential), rig.added(Metrics::requests_block)), (1, 1));
    rig.host.send_response(&mut ex, &[], &[]);
    rig.host.finish(&mut ex);
    assert_eq!(rig.host.read_count("response_headers"), 0, "nothing charged, nothing metered");
}

#[test]
fn a_blocked_credential_is_answered_403_and_logged_with_its_verdict() {
    let probe = Rig::new(json!({}));
    let id = identify(&probe.policy.credential, &headers(&[("authorization", "Bearer sk-bad")]), None).unwrap().id;
    let rig = Rig::new(json!({"lists": {"block_credentials": [id.clone()]}}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &request("Bearer sk-bad", "/v1/chat/completions"), &chat_body(json!({})), 4096);
    let reply = rig.host.reply().unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body,
        "{\"error\":{\"code\":\"permission_denied\",\"message\":\"This request is not permitted.\",\"param\":null,\"type\":\"permission_error\"}}"
    );
    assert_eq!(
        rig.host.logs.borrow().as_slice(),
        [format!(
            "#7 distill-guard {{\"verdict\":\"block\",\"enforced\":\"block\",\"credential\":\"{id}\",\"tenant\":null,\"api\":\"openai_chat\",\"score\":0.00,\"signals\":\"blocklist:credential\",\"retry_after\":null,\"phase\":\"body\"}}"
        )]
    );
    assert!(rig.host.upstream_headers.borrow().is_none(), "nothing went upstream");
}

#[test]
fn a_throttled_request_gets_429_with_retry_after_and_the_api_rate_limit_headers() {
    let rig =
        Rig::new(json!({"budgets": [{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": 1}]}));
    for expected in [None, Some(429)] {
        rig.host.reset();
        let mut ex = rig.exchange();
        rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(json!({})), 4096);
        assert_eq!(rig.host.reply().map(|r| r.status), expected);
    }
    let reply = rig.host.reply().unwrap();
    let header = |n: &str| reply.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert!(header("retry-after").is_some());
    assert_eq!(header("x-ratelimit-limit-requests").as_deref(), Some("1"));
    assert!(rig.host.logs.borrow()[0].contains("\"signals\":\"budget:rpm\""), "{:?}", rig.host.logs.borrow());
    assert_eq!(rig.minute("Bearer sk-a").0, 1, "the refused request is not charged");
}

#[test]
fn an_upstream_error_without_usage_is_not_billed() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(json!({})), 4096);
    let (_, charged, _) = rig.minute("Bearer sk-a");
    assert!(charged > 0, "the input estimate is pre-charged");
    rig.host.send_response(
        &mut ex,
        &[(":status", "503"), ("content-type", "application/json")],
        &[br#"{"error":{"message":"overloaded"}}"#],
    );
    rig.host.finish(&mut ex);
    assert_eq!(rig.minute("Bearer sk-a"), (1, 0, 0), "the estimate is taken back, the request still counts");
    assert_eq!(rig.added(Metrics::tokens_input), 0);
}

#[test]
fn an_upstream_error_that_reports_usage_is_billed_what_it_reports() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(json!({})), 4096);
    rig.host.send_response(
        &mut ex,
        &[(":status", "500"), ("content-type", "application/json")],
        &[br#"{"usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}"#],
    );
    rig.host.finish(&mut ex);
    assert_eq!(rig.minute("Bearer sk-a"), (1, 11, 3));
}

#[test]
fn a_successful_response_replaces_the_estimate_with_reported_usage() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(json!({})), 4096);
    let usage = br#"{"id":"x","usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}"#;
    let (first, rest) = usage.split_at(17);
    rig.host.send_response(&mut ex, &[(":status", "200"), ("content-type", "application/json")], &[first, rest]);
    rig.host.finish(&mut ex);
    assert_eq!(rig.minute("Bearer sk-a"), (1, 20, 30));
    assert_eq!((rig.added(Metrics::tokens_input), rig.added(Metrics::tokens_output)), (20, 30));
    assert_eq!(rig.added(Metrics::usage_estimated), 0);
    assert_eq!(rig.host.read_count("now"), 1, "one clock read per exchange");
}

#[test]
fn a_response_is_read_as_sse_only_when_its_content_type_says_event_stream() {
    let events: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4,\"total_tokens\":13}}\n\n\
        data: [DONE]\n\n";
    for (content_type, expected) in [("text/event-stream; charset=utf-8", Some((9, 4))), ("application/json", None)] {
        let rig = Rig::new(json!({}));
        let mut ex = rig.exchange();
        let body = chat_body(json!({"stream": true, "stream_options": {"include_usage": true}}));
        rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &body, 4096);
        let (first, rest) = events.split_at(40);
        rig.host.send_response(&mut ex, &[(":status", "200"), ("content-type", content_type)], &[first, rest]);
        rig.host.finish(&mut ex);
        let (_, input, output) = rig.minute("Bearer sk-a");
        match expected {
            Some(figures) => assert_eq!((input, output), figures, "{content_type}"),
            None => {
                assert_ne!((input, output), (9, 4), "not parsed as SSE under {content_type}");
                assert_eq!(rig.added(Metrics::usage_estimated), 1);
            }
        }
    }
}

#[test]
fn a_streaming_request_gets_include_usage_added_and_its_length_header_dropped() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    let body = chat_body(json!({"stream": true}));
    let length = body.len().to_string();
    let mut h = request("Bearer sk-a", "/v1/chat/completions");
    h.push(("content-length", &length));
    rig.host.send_request(&mut ex, &h, &body, 7);
    let sent: Value = serde_json::from_slice(rig.host.upstream_body.borrow().as_ref().unwrap()).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], json!(true));
    assert_eq!(rig.host.upstream_header("content-length"), None);
    assert!(rig.host.violations.borrow().is_empty(), "{:?}", rig.host.violations.borrow());
    assert_eq!(rig.added(Metrics::usage_injected), 1);
}

#[test]
fn an_oversize_body_is_forwarded_unread_with_its_estimate_by_default() {
    let rig = Rig::new(json!({"inspection": {"max_body_bytes": 64}}));
    let mut ex = rig.exchange();
    let body = chat_body(json!({"padding": "x".repeat(400)}));
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &body, 32);
    assert_eq!(rig.host.read_count("request_body"), 0, "a body over the cap is never read");
    assert_eq!(rig.host.upstream_header("x-distill-signals").as_deref(), Some("body_not_inspected"));
    assert!(rig.minute("Bearer sk-a").1 > 0, "charged an estimate from the byte count");
    assert_eq!(rig.added(Metrics::body_not_inspected), 1);
}

#[test]
fn an_oversize_body_is_refused_with_413_when_the_policy_says_block() {
    let rig = Rig::new(json!({"inspection": {"max_body_bytes": 64, "oversize_body": "block"}}));
    let mut ex = rig.exchange();
    let body = chat_body(json!({"padding": "x".repeat(400)}));
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &body, 32);
    assert_eq!(rig.host.reply().unwrap().status, 413);
    assert_eq!(rig.host.read_count("request_body"), 0);
    assert_eq!(rig.minute("Bearer sk-a").0, 0, "nothing charged");
}

#[test]
fn a_degraded_request_is_rewritten_and_routed_by_the_route_header() {
    let rig = Rig::new(json!({"detection": {
        "min_requests": 1,
        "tiers": {"tag": null, "degrade": 0.1, "throttle": null, "block": null},
        "degrade": {"max_n": 1, "max_tokens": 256, "route_header": "x-model-tier", "route_value": "small"}}}));
    let mut ex = rig.exchange();
    let body = chat_body(json!({"logprobs": true, "top_logprobs": 5, "n": 3, "stream": true}));
    rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &body, 4096);
    assert_eq!(rig.host.upstream_header("x-distill-verdict").as_deref(), Some("degrade"));
    assert_eq!(rig.host.upstream_header("x-model-tier").as_deref(), Some("small"));
    assert_eq!(rig.host.route_clears.get(), 1, "the route is chosen again");
    let sent: Value = serde_json::from_slice(rig.host.upstream_body.borrow().as_ref().unwrap()).unwrap();
    assert_eq!((sent.get("logprobs"), sent.get("top_logprobs")), (None, None));
    assert_eq!((sent["n"].clone(), sent["max_tokens"].clone()), (json!(1), json!(256)));
    assert_eq!(sent["stream_options"]["include_usage"], json!(true), "both rewrites reach the upstream");
    assert!(rig.host.violations.borrow().is_empty(), "{:?}", rig.host.violations.borrow());
    let line = rig.host.logs.borrow()[0].clone();
    assert!(line.starts_with("#7 distill-guard {\"verdict\":\"degrade\",\"enforced\":\"degrade\""), "{line}");
    assert!(line.ends_with(",\"retry_after\":null,\"phase\":\"body\"}"), "{line}");
    assert_eq!(rig.added(Metrics::requests_degraded), 1);
}

#[test]
fn headers_first_mode_sends_the_headers_early_and_never_touches_them_again() {
    let rig = Rig::new(json!({"inspection": {"hold_headers": false}}));
    let mut ex = rig.exchange();
    let body = chat_body(json!({"stream": true}));
    let flow = rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/chat/completions"), &body, 4096);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(rig.host.upstream_header("x-distill-verdict").as_deref(), Some("allow"));
    assert_eq!(rig.host.upstream_header("content-length"), None, "chunked, so the body can still change");
    let sent: Value = serde_json::from_slice(rig.host.upstream_body.borrow().as_ref().unwrap()).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], json!(true));
    assert!(rig.host.violations.borrow().is_empty(), "{:?}", rig.host.violations.borrow());
}

#[test]
fn headers_first_mode_refuses_a_blocked_credential_before_its_body() {
    let probe = Rig::new(json!({}));
    let id = identify(&probe.policy.credential, &headers(&[("authorization", "Bearer sk-bad")]), None).unwrap().id;
    let rig = Rig::new(json!({"inspection": {"hold_headers": false}, "lists": {"block_credentials": [id]}}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &request("Bearer sk-bad", "/v1/chat/completions"), &chat_body(json!({})), 4096);
    assert_eq!(rig.host.reply().unwrap().status, 403);
    assert!(rig.host.logs.borrow()[0].ends_with("\"phase\":\"headers\"}"), "{:?}", rig.host.logs.borrow());
    assert_eq!(rig.host.read_count("request_body"), 0);
}

#[test]
fn a_request_without_a_body_is_decided_in_the_headers_phase() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    let flow = rig.host.send_request(&mut ex, &request("Bearer sk-a", "/v1/models"), b"", 4096);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(rig.host.upstream_header("x-distill-verdict").as_deref(), Some("allow"));
    assert_eq!(rig.minute("Bearer sk-a"), (1, 0, 0));
}

#[test]
fn the_simulation_clock_header_replaces_the_host_clock_when_the_policy_names_it() {
    let rig = Rig::new(json!({"detection": {"clock_header": "x-sim-clock"}}));
    let mut ex = rig.exchange();
    rig.host.now_ms.set(T0 + 86_400_000);
    let earlier = T0.to_string();
    let mut h = request("Bearer sk-a", "/v1/chat/completions");
    h.push(("x-sim-clock", &earlier));
    rig.host.send_request(&mut ex, &h, &chat_body(json!({})), 4096);
    rig.host.send_response(&mut ex, &[(":status", "200")], &[b"{}"]);
    rig.host.finish(&mut ex);
    assert_eq!(rig.host.read_count("now"), 0, "the host clock is never read");
    assert_eq!(rig.minute("Bearer sk-a").0, 0, "not charged at the host's time");
    rig.host.now_ms.set(T0);
    assert_eq!(rig.minute("Bearer sk-a").0, 1, "charged at the header's time");
}

#[test]
fn anonymous_requests_are_tracked_by_client_address_only_when_the_policy_says_so() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &[(":path", "/v1/chat/completions")], &chat_body(json!({})), 4096);
    assert_eq!(rig.host.read_count("client_address"), 0, "not read when anonymous requests are refused");
    let rig = Rig::new(json!({"credential": {"sources": [{"kind": "bearer"}], "missing": "track_client_address",
        "hash_secret": "0123456789abcdef-test-secret"}}));
    *rig.host.client_address.borrow_mut() = Some("10.0.0.9:5555".into());
    let mut ex = rig.exchange();
    rig.host.send_request(&mut ex, &[(":path", "/v1/chat/completions")], &chat_body(json!({})), 4096);
    assert_eq!(rig.host.read_count("client_address"), 1);
    assert_eq!(rig.host.upstream_header("x-distill-verdict").as_deref(), Some("allow"));
}

#[test]
fn a_call_out_answer_with_nothing_waiting_changes_nothing() {
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    let answer = ex.on_call_out_answer(&rig.host, 1, CallOutcome::Failed(14));
    assert_eq!((answer.flow, answer.actions.len()), (Flow::Continue, 0));
}

/// An OpenAI chat stream as the upstream sends it once `include_usage` is on (`usage: null` in each
/// chunk, then the usage-only chunk), with `eol` line ends; and the same stream without that chunk.
fn usage_stream(eol: &str) -> (Vec<u8>, Vec<u8>) {
    let events = [
        r#"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":null}"#,
        r#"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Tides follow the moon."}}],"usage":null}"#,
        r#"data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
        r#"data: {"id":"c","object":"chat.completion.chunk","choices": [ ],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13}}"#,
        "data: [DONE]",
    ];
    let whole: String = events.iter().map(|e| format!("{e}{eol}{eol}")).collect();
    let without: String =
        events.iter().filter(|e| !e.contains("\"usage\":{")).map(|e| format!("{e}{eol}{eol}")).collect();
    (whole.into_bytes(), without.into_bytes())
}

const SSE: [(&str, &str); 2] = [(":status", "200"), ("content-type", "text/event-stream")];

fn send_stream_request(rig: &Rig, ex: &mut Exchange, extra: Value) {
    rig.host.send_request(ex, &request("Bearer sk-a", "/v1/chat/completions"), &chat_body(extra), 4096);
}

/// Runs one streamed chat exchange (the client asking for usage or not) with the response cut into
/// `chunks`; returns what the client received.
fn stream_through(rig: &Rig, client_asks: bool, chunks: &[&[u8]]) -> Vec<u8> {
    rig.host.reset();
    let mut ex = rig.exchange();
    let extra = if client_asks {
        json!({"stream": true, "stream_options": {"include_usage": true}})
    } else {
        json!({"stream": true})
    };
    send_stream_request(rig, &mut ex, extra);
    rig.host.send_response(&mut ex, &SSE, chunks);
    rig.host.finish(&mut ex);
    assert!(rig.host.violations.borrow().is_empty(), "{:?}", rig.host.violations.borrow());
    rig.host.downstream_body.borrow().clone()
}

#[test]
fn the_injected_usage_chunk_is_metered_then_removed_wherever_the_stream_is_split() {
    for eol in ["\n", "\r\n", "\r"] {
        let (whole, without) = usage_stream(eol);
        let rig = Rig::new(json!({}));
        for at in 0..=whole.len() {
            let (a, b) = whole.split_at(at);
            let got = stream_through(&rig, false, &[a, b]);
            assert_eq!(got, without, "split at {at} ({eol:?}): {}", String::from_utf8_lossy(&got));
        }
        // One byte a chunk, and a bare end of stream after the last byte.
        let bytes: Vec<&[u8]> = whole.chunks(1).chain([&[][..]]).collect();
        assert_eq!(stream_through(&rig, false, &bytes), without, "one byte a chunk ({eol:?})");
        let exchanges = (whole.len() + 2) as u64;
        assert_eq!(rig.added(Metrics::usage_estimated), 0, "every exchange metered the reported usage");
        assert_eq!(rig.added(Metrics::tokens_input), 9 * exchanges);
        assert_eq!(rig.added(Metrics::tokens_output), 4 * exchanges);
        assert_eq!(rig.added(Metrics::usage_injected), exchanges);
    }
}

#[test]
fn the_usage_chunk_reaches_a_client_that_asked_for_it_untouched() {
    let (whole, _) = usage_stream("\n");
    let rig = Rig::new(json!({}));
    for at in 0..=whole.len() {
        let (a, b) = whole.split_at(at);
        assert_eq!(stream_through(&rig, true, &[a, b]), whole, "split at {at}");
    }
    assert_eq!(rig.added(Metrics::usage_injected), 0);
    assert_eq!(rig.added(Metrics::tokens_output), 4 * (whole.len() as u64 + 1));
}

#[test]
fn only_the_event_split_at_a_chunk_end_is_held_back() {
    let (whole, without) = usage_stream("\n");
    let rig = Rig::new(json!({}));
    rig.host.reset();
    let mut ex = rig.exchange();
    send_stream_request(&rig, &mut ex, json!({"stream": true}));
    rig.host.send_response(&mut ex, &SSE, &[]);
    // Complete events go on at once, untouched (no replacement).
    let first_end = whole.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let answer = {
        *rig.host.response_chunk.borrow_mut() = whole[..first_end].to_vec();
        ex.on_response_body(&rig.host, first_end, false)
    };
    assert!(answer.actions.is_empty(), "{:?}", answer.actions);
    // A chunk ending inside an event passes on what is complete and holds only the rest.
    let cut = first_end + 10;
    *rig.host.response_chunk.borrow_mut() = whole[first_end..cut].to_vec();
    let answer = ex.on_response_body(&rig.host, cut - first_end, false);
    assert_eq!(answer.actions, [HostAction::ReplaceResponseBody { current_len: 10, body: Vec::new() }]);
    *rig.host.response_chunk.borrow_mut() = whole[cut..].to_vec();
    let answer = ex.on_response_body(&rig.host, whole.len() - cut, true);
    match answer.actions.as_slice() {
        [HostAction::ReplaceResponseBody { current_len, body }] => {
            assert_eq!(*current_len, whole.len() - cut);
            assert_eq!(body.as_slice(), &without[first_end..], "the held bytes go on first, the usage chunk does not");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_length_header_on_an_injected_stream_is_dropped_as_its_length_changes() {
    let (whole, without) = usage_stream("\n");
    let rig = Rig::new(json!({}));
    let mut ex = rig.exchange();
    send_stream_request(&rig, &mut ex, json!({"stream": true}));
    let length = whole.len().to_string();
    rig.host.send_response(&mut ex, &[SSE[0], SSE[1], ("content-length", &length)], &[&whole]);
    assert!(rig.host.response_headers.borrow().iter().all(|(k, _)| k != "content-length"));
    assert_eq!(*rig.host.downstream_body.borrow(), without);
}

#[test]
fn anthropic_and_responses_streams_pass_untouched() {
    let anthropic: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n\
        event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n\
        event: message_delta\ndata: {\"type\":\"message_delta\",\"choices\":[],\"usage\":{\"output_tokens\":3}}\n\n\
        event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let responses: &[u8] = b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n\
        event: response.completed\ndata: {\"type\":\"response.completed\",\"choices\":[],\"usage\":{},\"response\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}}\n\n";
    for (path, stream, body) in [
        ("/v1/messages", anthropic, json!({"model": "claude-sonnet-4", "max_tokens": 50, "stream": true})),
        ("/v1/responses", responses, json!({"model": "gpt-4.1", "input": "hi", "stream": true})),
    ] {
        let rig = Rig::new(json!({}));
        for at in 0..=stream.len() {
            rig.host.reset();
            let mut ex = rig.exchange();
            let mut b = body.clone();
            if path == "/v1/messages" {
                b["messages"] = json!([{"role": "user", "content": "Hi"}]);
            }
            rig.host.send_request(&mut ex, &request("Bearer sk-a", path), &serde_json::to_vec(&b).unwrap(), 4096);
            let (x, y) = stream.split_at(at);
            rig.host.send_response(&mut ex, &SSE, &[x, y]);
            rig.host.finish(&mut ex);
            assert_eq!(*rig.host.downstream_body.borrow(), stream, "{path} split at {at}");
        }
        assert_eq!(rig.added(Metrics::usage_injected), 0, "{path}");
        assert_eq!(rig.added(Metrics::tokens_output), 3 * (stream.len() as u64 + 1), "{path}");
    }
}

#[test]
fn a_flagged_exchange_logs_its_settled_usage_and_an_allowed_one_logs_nothing() {
    let rig = Rig::new(json!({
        "tenant": [{"kind": "key_prefix", "prefixes": {"sk-acme-": "acme"}}],
        "budgets": [{"name": "rpm", "scope": "credential", "window": "minute", "max_requests": 1, "action": "tag"}],
    }));
    let key = "Bearer sk-acme-1";
    let id = identify(&rig.policy.credential, &headers(&[("authorization", key)]), None).unwrap().id;
    let json_response = [(":status", "200"), ("content-type", "application/json")];
    let exchange = |usage: &[u8]| {
        let mut ex = rig.exchange();
        rig.host.send_request(&mut ex, &request(key, "/v1/chat/completions"), &chat_body(json!({})), 4096);
        rig.host.send_response(&mut ex, &json_response, &[usage]);
        rig.host.finish(&mut ex);
    };
    // Within the budget: allowed, and nothing is logged (not even the settled usage).
    exchange(br#"{"usage":{"prompt_tokens":11,"completion_tokens":22,"total_tokens":33}}"#);
    assert_eq!(rig.host.logs.borrow().len(), 0, "{:?}", rig.host.logs.borrow());
    // Over it: tagged; the verdict line, then at the log phase the usage the response reported.
    exchange(br#"{"usage":{"prompt_tokens":20,"completion_tokens":30,"total_tokens":50}}"#);
    let logs = rig.host.logs.borrow().clone();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].starts_with("#7 distill-guard {\"verdict\":\"tag\""), "{logs:?}");
    assert_eq!(
        logs[1],
        format!(
            "#7 distill-guard {{\"settled\":\"reported\",\"credential\":\"{id}\",\"tenant\":\"acme\",\"api\":\"openai_chat\",\"input_tokens\":20,\"output_tokens\":30,\"exact\":true}}"
        )
    );
    let settled: Value = serde_json::from_str(logs[1].split_once("distill-guard ").unwrap().1).unwrap();
    assert_eq!(settled["input_tokens"], 20);
    // A flagged response without usage: the estimate, said to be one.
    exchange(br#"{"id":"x","choices":[{"message":{"content":"High tide twice a day."}}]}"#);
    let logs = rig.host.logs.borrow().clone();
    assert_eq!(logs.len(), 4, "{logs:?}");
    let settled: Value = serde_json::from_str(logs[3].split_once("distill-guard ").unwrap().1).unwrap();
    assert_eq!((settled["settled"].as_str(), settled["exact"].as_bool()), (Some("estimated"), Some(false)));
    assert!(settled["input_tokens"].as_u64().unwrap() > 0, "the request estimate");
    assert!(!logs[3].contains("sk-acme") && !logs[3].contains("tides"), "no key, no prompt text");
}
