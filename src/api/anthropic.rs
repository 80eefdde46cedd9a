//! Anthropic messages (`/v1/messages`): `system` and `messages`, usage split over `message_start` and
//! `message_delta` (cumulative), cache reads and writes outside `input_tokens`, the error shape and the
//! `anthropic-ratelimit-*` headers (resets as RFC 3339 times).

use serde_json::json;

use super::{num, ApiKind, Dialect, ErrorStyle, Rejection, Tally};
use crate::json::{Json, Members};
use crate::tokens::{estimate_tokens_for, Tokenizer, Usage};

/// Keys of a stream event whose string values are streamed text.
pub(super) const TEXT_KEYS: &[&str] = &["text", "partial_json", "thinking"];
/// The event types that carry usage (input in the first, output counts in the deltas).
pub(super) const USAGE_EVENTS: &[&str] = &["message_start", "message_delta"];

/// Input-side usage from an Anthropic `usage` object: Anthropic's `input_tokens` excludes cache reads
/// and writes, so they are added back to give the whole prompt.
fn anthropic_input(u: &Json<'_>) -> Option<(u64, u64)> {
    let plain = num(u, &["input_tokens"])?;
    let read = num(u, &["cache_read_input_tokens"]).unwrap_or(0);
    let written = num(u, &["cache_creation_input_tokens"]).unwrap_or(0);
    Some((plain + read + written, read))
}

/// Usage from an Anthropic `usage` object.
pub fn anthropic_usage(u: &Json<'_>) -> Option<Usage> {
    let (input, cached_input) = anthropic_input(u)?;
    Some(Usage { input, output: num(u, &["output_tokens"]).unwrap_or(0), cached_input, reasoning: 0 })
}

/// `POST /v1/messages`.
pub struct Messages;

impl Dialect for Messages {
    fn kind(&self) -> ApiKind {
        ApiKind::AnthropicMessages
    }
    fn input_fields(&self) -> &'static [&'static str] {
        &["system", "messages", "tools"]
    }
    fn stream_reports_usage(&self, _root: &Json<'_>) -> bool {
        true
    }
    fn usage(&self, u: &Json<'_>) -> Option<Usage> {
        anthropic_usage(u)
    }
    fn max_tokens_field(&self, _root: &Members<'_>) -> &'static str {
        "max_tokens"
    }
    fn stream_event(&self, name: &str, v: &Json<'_>, tally: &mut Tally, tokenizer: Tokenizer) {
        let kind = v.get("type").and_then(Json::as_str).unwrap_or(name);
        match kind {
            "message_start" => {
                if let Some(u) = v.get("message").and_then(|m| m.get("usage")) {
                    tally.input = anthropic_input(u).or(tally.input);
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    // Cumulative counts: the latest replaces what came before.
                    if let Some(out) = num(u, &["output_tokens"]) {
                        tally.output = Some(out);
                    }
                    if let Some(input) = anthropic_input(u) {
                        tally.input = Some(input);
                    }
                }
            }
            "content_block_delta" => {
                if let Some(d) = v.get("delta") {
                    for key in TEXT_KEYS {
                        if let Some(t) = d.get(key).and_then(Json::as_str) {
                            tally.streamed_output += estimate_tokens_for(t, tokenizer);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    fn error_style(&self) -> ErrorStyle {
        ErrorStyle::Anthropic
    }
}

/// `{"type":"error","error":{"type","message"}}`.
pub(super) fn error_body(rejection: Rejection, message: &str) -> serde_json::Value {
    let kind = match rejection {
        Rejection::MissingCredential => "authentication_error",
        Rejection::Blocked => "permission_error",
        Rejection::Throttled => "rate_limit_error",
        Rejection::BodyTooLarge => "request_too_large",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// `anthropic-ratelimit-{kind}-{limit,remaining,reset}`, the reset as an RFC 3339 time.
pub(super) fn rate_limit_headers(
    kind: &str,
    (max, remaining, reset): (u64, u64, u64),
    now_s: u64,
) -> [(String, String); 3] {
    [
        (format!("anthropic-ratelimit-{kind}-limit"), max.to_string()),
        (format!("anthropic-ratelimit-{kind}-remaining"), remaining.to_string()),
        (format!("anthropic-ratelimit-{kind}-reset"), rfc3339(now_s + reset)),
    ]
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp.
pub fn rfc3339(epoch_s: u64) -> String {
    let days = (epoch_s / 86_400) as i64;
    let secs = epoch_s % 86_400;
    // Civil-from-days (proleptic Gregorian), after H. Hinnant's public-domain algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}
