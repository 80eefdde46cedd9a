//! OpenAI chat completions (`/v1/chat/completions`) and legacy completions (`/v1/completions`), and any
//! other path, read the OpenAI way: input fields, the conversation (`system`/`instructions`,
//! `messages`/`input` items with roles), sampling and logprob fields, the `degrade` rewrite,
//! `stream_options.include_usage` and the usage-only chunk it adds, `usage` in JSON and in the last
//! SSE chunk, the error shape and the `x-ratelimit-*` headers. The request-side functions here are the
//! [`Dialect`] defaults: the other dialects' requests read the same way.

use serde_json::{json, Map, Value};

use super::{num, ApiKind, Conversation, Dialect, Rejection, Sampling, Tally};
use crate::bytes::{bytes_equal, word_at};
use crate::json::{Json, Members, NULL};
use crate::policy::DegradeConfig;
use crate::sse::SseParser;
use crate::tokens::{estimate_tokens_for, text_tokens, Tokenizer, Usage};

/// Keys of a stream chunk whose string values are streamed text.
pub(super) const TEXT_KEYS: &[&str] = &["content", "text", "reasoning_content", "arguments"];
/// Usage comes in a chunk's `usage` object, not in an event of its own.
pub(super) const USAGE_EVENTS: &[&str] = &[];
/// The fields that limit output length, in the order they are read.
const MAX_TOKENS_KEYS: [&str; 3] = ["max_tokens", "max_completion_tokens", "max_output_tokens"];

/// Collects the text parts of a message content (a string, an array of strings or text parts, or one
/// text part), borrowed from the parsed body.
fn text_of<'a>(content: &'a Json<'_>, out: &mut Vec<&'a str>) {
    match content {
        Json::String(s) => out.push(s),
        Json::Array(parts) => {
            for p in parts {
                match p {
                    Json::String(s) => out.push(s),
                    Json::Object(_) => {
                        if let Some(t) = p.get("text").and_then(Json::as_str) {
                            out.push(t);
                        } else if let Some(c) = p.get("content") {
                            text_of(c, out);
                        }
                    }
                    _ => {}
                }
            }
        }
        Json::Object(_) => {
            if let Some(t) = content.get("text").and_then(Json::as_str) {
                out.push(t);
            }
        }
        _ => {}
    }
}

/// The conversation of an OpenAI- or Anthropic-style body: `system` (or `instructions`), then the bare
/// prompt in `prompt_field` when the API has one, else `messages` (or `input`) items with roles.
pub(super) fn conversation<'a>(root: &'a Json<'_>, prompt_field: Option<&str>) -> Conversation<'a> {
    let mut c = Conversation::default();
    if let Some(s) = root.get("system").or_else(|| root.get("instructions")) {
        text_of(s, &mut c.system);
    }
    if let Some(field) = prompt_field {
        if let Some(p) = root.get(field) {
            text_of(p, &mut c.last_user);
            c.user_turns = 1;
        }
        return c;
    }
    let items = root.get("messages").or_else(|| root.get("input"));
    match items {
        Some(Json::String(s)) => {
            c.last_user.push(s);
            c.user_turns = 1;
        }
        Some(Json::Array(messages)) => {
            let mut last_user: Option<&Json<'_>> = None;
            // The last message's content when it is the assistant's (a prefill).
            let mut trailing: Option<&Json<'_>> = None;
            // The first exchange: the first user message and the first assistant message after it.
            let (mut first_user, mut first_answer): (Option<&Json<'_>>, Option<&Json<'_>>) = (None, None);
            for m in messages {
                let role = m.get("role").and_then(Json::as_str).unwrap_or("user");
                let content = m.get("content").unwrap_or(&NULL);
                trailing = None;
                match role {
                    "system" | "developer" => text_of(content, &mut c.system),
                    "assistant" | "model" => {
                        c.assistant_turns += 1;
                        trailing = Some(content);
                        if first_user.is_some() && first_answer.is_none() {
                            first_answer = Some(content);
                        }
                    }
                    "user" => {
                        c.user_turns += 1;
                        last_user = Some(content);
                        first_user = first_user.or(Some(content));
                    }
                    _ => {}
                }
            }
            if let Some(content) = last_user {
                text_of(content, &mut c.last_user);
            }
            // A conversation that ends with the assistant's words (after a user turn) asks the model
            // to continue them: a prefill, not history.
            if let (Some(content), true) = (trailing, c.user_turns > 0) {
                c.assistant_turns -= 1;
                text_of(content, &mut c.prefill);
            }
            // History of exactly one exchange before the last user message (a few-shot example; not a
            // prefill): that exchange. A conversation further on is not framed by its first exchange.
            if let (Some(question), Some(answer), true) =
                (first_user, first_answer, c.user_turns == 2 && c.assistant_turns == 1)
            {
                text_of(question, &mut c.opening);
                text_of(answer, &mut c.opening);
            }
        }
        _ => {}
    }
    c
}

/// Items in `messages` (or `input`): an array's length, 1 for anything else but null.
pub(super) fn message_count(root: &Json<'_>) -> u64 {
    ["messages", "input"]
        .iter()
        .find_map(|k| root.get(k))
        .map(|v| match v {
            Json::Array(items) => items.len() as u64,
            Json::Null => 0,
            _ => 1,
        })
        .unwrap_or(0)
}

fn truthy(v: Option<&Json<'_>>) -> bool {
    match v {
        Some(Json::Bool(b)) => *b,
        Some(n @ Json::Number(_)) => n.as_f64().is_some_and(|x| x > 0.0),
        _ => false,
    }
}

/// `logprobs`/`top_logprobs` (or a Responses `include` entry naming logprobs), `logit_bias`, `n` or
/// `best_of` above 1, `echo`, `temperature` 0.
pub(super) fn sampling(root: &Json<'_>) -> Sampling {
    let responses_logprobs = root
        .get("include")
        .and_then(Json::as_array)
        .is_some_and(|inc| inc.iter().any(|i| i.as_str().is_some_and(|t| t.contains("logprobs"))));
    Sampling {
        logprobs: truthy(root.get("logprobs")) || truthy(root.get("top_logprobs")) || responses_logprobs,
        logit_bias: root.get("logit_bias").and_then(Json::as_object).is_some_and(|m| !m.is_empty()),
        multiple_samples: root.get("n").and_then(Json::as_u64).is_some_and(|n| n > 1)
            || root.get("best_of").and_then(Json::as_u64).is_some_and(|n| n > 1),
        echo: truthy(root.get("echo")),
        temperature_zero: root.get("temperature").and_then(Json::as_f64) == Some(0.0),
    }
}

/// The first of `max_tokens`, `max_completion_tokens`, `max_output_tokens` that is a number.
pub(super) fn max_output_tokens(root: &Json<'_>) -> Option<u64> {
    MAX_TOKENS_KEYS.iter().find_map(|k| root.get(k).and_then(Json::as_u64))
}

/// For a path whose API is not known: `max_output_tokens` when the body has `input` and no
/// `messages` (Responses-shaped), else `max_tokens`.
pub(super) fn max_tokens_field_by_keys(root: &Members<'_>) -> &'static str {
    if root.contains_key("input") && !root.contains_key("messages") {
        "max_output_tokens"
    } else {
        "max_tokens"
    }
}

/// Strips logprob and logit-bias requests, clamps the number of samples and caps the output length
/// (imposing `max_tokens_field` when the request named no limit). True when something changed. Only
/// the members it changes are rewritten; the rest of the body stays as the client wrote it.
pub(super) fn degrade(root: &mut Members<'_>, cfg: &DegradeConfig, max_tokens_field: &str) -> bool {
    let mut changed = false;
    let number = |n: u64| n.to_string().into_bytes();
    if cfg.strip_logprobs {
        for k in ["logprobs", "top_logprobs"] {
            changed |= root.remove(k);
        }
        let kept = root.get("include").and_then(|v| {
            let items = v.as_array()?;
            let kept: Vec<Value> = items
                .iter()
                .filter(|i| !i.as_str().is_some_and(|s| s.contains("logprobs")))
                .map(Json::to_value)
                .collect();
            (kept.len() != items.len()).then_some(kept)
        });
        if let Some(kept) = kept {
            root.insert("include", serde_json::to_vec(&kept).unwrap_or_else(|_| b"[]".to_vec()));
            changed = true;
        }
        if root.get("echo").and_then(|v| v.as_bool()) == Some(true) {
            root.insert("echo", b"false".to_vec());
            changed = true;
        }
    }
    if cfg.strip_logit_bias {
        changed |= root.remove("logit_bias");
    }
    if let Some(max_n) = cfg.max_n {
        for k in ["n", "best_of"] {
            if root.get(k).and_then(|v| v.as_u64()).is_some_and(|n| n > max_n) {
                root.insert(k, number(max_n));
                changed = true;
            }
        }
    }
    if let Some(cap) = cfg.max_tokens {
        let mut present = false;
        for k in MAX_TOKENS_KEYS {
            if let Some(v) = root.get(k).and_then(|v| v.as_u64()) {
                present = true;
                if v > cap {
                    root.insert(k, number(cap));
                    changed = true;
                }
            }
        }
        if !present {
            // No limit asked for: impose the cap with the field the API reads.
            root.insert(max_tokens_field, number(cap));
            changed = true;
        }
    }
    changed
}

/// The body with `stream_options.include_usage: true` added (`None` if it cannot be rewritten).
fn add_include_usage(body: &[u8], root: &Json<'_>) -> Option<Vec<u8>> {
    if root.get("stream_options").is_none() {
        // The common case: no `stream_options` at all. Insert the field after the opening brace and
        // leave the client's bytes as they were (the object has at least `stream`, so a comma follows).
        let open = body.iter().position(|&b| b == b'{')?;
        let field = br#""stream_options":{"include_usage":true},"#;
        let mut out = Vec::with_capacity(body.len() + field.len());
        out.extend_from_slice(body.get(..=open)?);
        out.extend_from_slice(field);
        out.extend_from_slice(body.get(open + 1..)?);
        return Some(out);
    }
    // `stream_options` is there without `include_usage: true`: rewrite the document.
    let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body) else { return None };
    let options = root.entry("stream_options").or_insert_with(|| Value::Object(Map::new()));
    if !options.is_object() {
        *options = Value::Object(Map::new());
    }
    options.as_object_mut()?.insert("include_usage".to_string(), Value::Bool(true));
    serde_json::to_vec(&root).ok()
}

/// True for OpenAI's usage-only stream chunk: an event whose data is a JSON object with an empty
/// `choices` array and a `usage` object.
pub fn is_usage_only_event(raw: &[u8]) -> bool {
    // Cheap test first: every chunk of an injected stream has `"usage"`, few have `"choices": []`.
    if !has_empty_choices(raw) {
        return false;
    }
    let mut found = false;
    let mut parser = SseParser::new();
    let mut check = |_: &str, data: &[u8]| {
        found = found
            || Json::parse(data).is_some_and(|v| {
                v.get("choices").and_then(Json::as_array).is_some_and(|c| c.is_empty())
                    && matches!(v.get("usage"), Some(Json::Object(_)))
            });
    };
    parser.feed(raw, &mut check);
    parser.finish(&mut check);
    found
}

/// `"choices"` followed by `:` and an empty array, whitespace allowed between. Found from the `[`s
/// (one or two an event), eight bytes at a time.
fn has_empty_choices(raw: &[u8]) -> bool {
    let mut from = 0;
    while let Some(open) = find_byte(raw, from, b'[') {
        from = open + 1;
        let after = raw.get(from..).unwrap_or(&[]);
        if after.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b']') {
            continue;
        }
        let before = trim_end(raw.get(..open).unwrap_or(&[]));
        if let Some(key) = before.strip_suffix(b":") {
            if trim_end(key).ends_with(b"\"choices\"") {
                return true;
            }
        }
    }
    false
}

/// The first `b` in `raw` from `at` on, eight bytes at a time.
fn find_byte(raw: &[u8], mut at: usize, b: u8) -> Option<usize> {
    while let Some(w) = word_at(raw, at) {
        let hits = bytes_equal(w, b);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    raw.get(at..)?.iter().position(|&c| c == b).map(|p| at + p)
}

/// `r` without its trailing whitespace.
fn trim_end(mut r: &[u8]) -> &[u8] {
    while let [rest @ .., last] = r {
        if !last.is_ascii_whitespace() {
            break;
        }
        r = rest;
    }
    r
}

/// Usage from an OpenAI chat/completions `usage` object.
pub fn openai_usage(u: &Json<'_>) -> Option<Usage> {
    Some(Usage {
        input: num(u, &["prompt_tokens"])?,
        output: num(u, &["completion_tokens"]).unwrap_or(0),
        cached_input: num(u, &["prompt_tokens_details", "cached_tokens"]).unwrap_or(0),
        reasoning: num(u, &["completion_tokens_details", "reasoning_tokens"]).unwrap_or(0),
    })
}

/// Streams report usage only when the request asked (`stream_options.include_usage: true`).
fn include_usage_asked(root: &Json<'_>) -> bool {
    root.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Json::as_bool).unwrap_or(false)
}

/// A chunk of an OpenAI stream: usage in the last one, text in `choices[].delta` (or `choices[].text`).
fn stream_event(v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer) {
    if let Some(u) = v.get("usage").and_then(openai_usage) {
        tally.set(u);
    }
    if let Some(choices) = v.get("choices").and_then(Json::as_array) {
        for c in choices {
            if let Some(d) = c.get("delta") {
                tally.streamed_output += text_tokens(d.get("content").unwrap_or(&NULL), tokenizer)
                    + text_tokens(d.get("reasoning_content").unwrap_or(&NULL), tokenizer)
                    + text_tokens(d.get("tool_calls").unwrap_or(&NULL), tokenizer);
            }
            if let Some(t) = c.get("text").and_then(Json::as_str) {
                tally.streamed_output += estimate_tokens_for(t, tokenizer);
            }
        }
    }
}

/// Usage of a JSON response: the chat/completions shape, or a Responses-shaped one behind another path.
fn json_usage(u: &Json<'_>) -> Option<Usage> {
    openai_usage(u).or_else(|| super::responses::responses_usage(u))
}

/// An OpenAI-style API: the three differ only in their input fields, in where a bare prompt is, and in
/// whether streams report usage unasked.
pub struct OpenAi {
    kind: ApiKind,
    input_fields: &'static [&'static str],
    prompt_field: Option<&'static str>,
    /// Streams report usage only when `stream_options.include_usage` asks (and it can be added).
    usage_on_request: bool,
    /// The field to impose an output cap with (`None`: chosen by the body's keys).
    max_tokens_field: Option<&'static str>,
}

/// `POST /v1/chat/completions`.
pub const CHAT: OpenAi = OpenAi {
    kind: ApiKind::OpenAiChat,
    input_fields: &["messages", "tools", "functions"],
    prompt_field: None,
    usage_on_request: true,
    max_tokens_field: Some("max_tokens"),
};

/// `POST /v1/completions`.
pub const COMPLETIONS: OpenAi = OpenAi {
    kind: ApiKind::OpenAiCompletions,
    input_fields: &["prompt", "suffix"],
    prompt_field: Some("prompt"),
    usage_on_request: true,
    max_tokens_field: Some("max_tokens"),
};

/// Any other path: counted as a request, read the OpenAI way where it can be.
pub const UNKNOWN: OpenAi = OpenAi {
    kind: ApiKind::Other,
    input_fields: &["messages", "prompt", "input"],
    prompt_field: None,
    usage_on_request: false,
    max_tokens_field: None,
};

impl Dialect for OpenAi {
    fn kind(&self) -> ApiKind {
        self.kind
    }
    fn input_fields(&self) -> &'static [&'static str] {
        self.input_fields
    }
    fn prompt_field(&self) -> Option<&'static str> {
        self.prompt_field
    }
    fn stream_reports_usage(&self, root: &Json<'_>) -> bool {
        !self.usage_on_request || include_usage_asked(root)
    }
    fn injects_include_usage(&self) -> bool {
        self.usage_on_request
    }
    fn with_stream_usage(&self, body: &[u8], root: &Json<'_>) -> Option<Vec<u8>> {
        self.usage_on_request.then(|| add_include_usage(body, root)).flatten()
    }
    fn is_injected_usage_event(&self, raw: &[u8]) -> bool {
        self.usage_on_request && is_usage_only_event(raw)
    }
    fn max_tokens_field(&self, root: &Members<'_>) -> &'static str {
        self.max_tokens_field.unwrap_or_else(|| max_tokens_field_by_keys(root))
    }
    fn usage(&self, u: &Json<'_>) -> Option<Usage> {
        json_usage(u)
    }
    fn stream_event(&self, _name: &str, v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer) {
        stream_event(v, tally, tokenizer)
    }
}

/// `{"error":{"message","type","param","code"}}`.
pub(super) fn error_body(rejection: Rejection, message: &str) -> serde_json::Value {
    let (kind, code) = match rejection {
        Rejection::MissingCredential => ("invalid_request_error", "missing_api_key"),
        Rejection::Blocked => ("permission_error", "permission_denied"),
        Rejection::Throttled => ("requests", "rate_limit_exceeded"),
        Rejection::BodyTooLarge => ("invalid_request_error", "request_too_large"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

/// `x-ratelimit-{limit,remaining,reset}-{kind}`, the reset in seconds (`12s`).
pub(super) fn rate_limit_headers(kind: &str, (max, remaining, reset): (u64, u64, u64)) -> [(String, String); 3] {
    [
        (format!("x-ratelimit-limit-{kind}"), max.to_string()),
        (format!("x-ratelimit-remaining-{kind}"), remaining.to_string()),
        (format!("x-ratelimit-reset-{kind}"), format!("{reset}s")),
    ]
}
