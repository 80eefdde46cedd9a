//! OpenAI chat completions (`/v1/chat/completions`) and legacy completions (`/v1/completions`), and any
//! other path, read the OpenAI way: input fields, `stream_options.include_usage`, `usage` in JSON and
//! in the last SSE chunk, the error shape and the `x-ratelimit-*` headers.

use serde_json::json;

use super::{num, ApiKind, Dialect, Rejection, Tally};
use crate::json::{Json, NULL};
use crate::tokens::{estimate_tokens_for, text_tokens, Tokenizer, Usage};

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
}

/// `POST /v1/chat/completions`.
pub const CHAT: OpenAi = OpenAi {
    kind: ApiKind::OpenAiChat,
    input_fields: &["messages", "tools", "functions"],
    prompt_field: None,
    usage_on_request: true,
};

/// `POST /v1/completions`.
pub const COMPLETIONS: OpenAi = OpenAi {
    kind: ApiKind::OpenAiCompletions,
    input_fields: &["prompt", "suffix"],
    prompt_field: Some("prompt"),
    usage_on_request: true,
};

/// Any other path: counted as a request, read the OpenAI way where it can be.
pub const UNKNOWN: OpenAi = OpenAi {
    kind: ApiKind::Other,
    input_fields: &["messages", "prompt", "input"],
    prompt_field: None,
    usage_on_request: false,
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
