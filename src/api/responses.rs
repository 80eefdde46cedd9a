//! The OpenAI Responses API (`/v1/responses`): `instructions` and `input` items, `max_output_tokens`,
//! usage always reported in its stream (`response.completed` and its siblings), text in `*.delta`
//! events.

use super::{num, ApiKind, Dialect, Tally};
use crate::json::{Json, Members};
use crate::tokens::{estimate_tokens_for, Tokenizer, Usage};

/// Keys of a stream event whose string values are streamed text.
pub(super) const TEXT_KEYS: &[&str] = &["delta"];
/// The event types that carry the response's usage.
pub(super) const USAGE_EVENTS: &[&str] = &["response.completed", "response.incomplete", "response.failed"];

/// Usage from a Responses API `usage` object.
pub fn responses_usage(u: &Json<'_>) -> Option<Usage> {
    Some(Usage {
        input: num(u, &["input_tokens"])?,
        output: num(u, &["output_tokens"]).unwrap_or(0),
        cached_input: num(u, &["input_tokens_details", "cached_tokens"]).unwrap_or(0),
        reasoning: num(u, &["output_tokens_details", "reasoning_tokens"]).unwrap_or(0),
    })
}

/// `POST /v1/responses`.
pub struct Responses;

impl Dialect for Responses {
    fn kind(&self) -> ApiKind {
        ApiKind::OpenAiResponses
    }
    fn input_fields(&self) -> &'static [&'static str] {
        &["instructions", "input", "tools"]
    }
    fn stream_reports_usage(&self, _root: &Json<'_>) -> bool {
        true
    }
    fn usage(&self, u: &Json<'_>) -> Option<Usage> {
        responses_usage(u)
    }
    fn max_tokens_field(&self, _root: &Members<'_>) -> &'static str {
        "max_output_tokens"
    }
    fn stream_event(&self, name: &str, v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer) {
        let kind = v.get("type").and_then(Json::as_str).unwrap_or(name);
        if kind.ends_with(".delta") {
            if let Some(d) = v.get("delta").and_then(Json::as_str) {
                tally.streamed_output += estimate_tokens_for(d, tokenizer);
            }
        } else if USAGE_EVENTS.contains(&kind) {
            if let Some(u) = v.get("response").and_then(|r| r.get("usage")).and_then(responses_usage) {
                tally.set(u);
            }
        }
    }
}
