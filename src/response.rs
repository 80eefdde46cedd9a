//! Response metering: exact `usage` from JSON bodies and SSE streams of each API, and an estimate
//! from the streamed text when a stream ends without usage.

use crate::api::{ApiKind, Tally};
use crate::bytes::find_either;
use crate::json::Json;
use crate::sse::SseParser;
use crate::tokens::{estimate_tokens_for, Tokenizer};

pub use crate::api::{anthropic_usage, openai_usage, responses_usage};

/// What a quick pass over an SSE event's JSON finds without building it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventScan {
    /// The event may carry usage (a `"usage"` object, or an event type that reports it): parse it.
    pub carries_usage: bool,
    /// Estimated tokens of its text fields (`content`, `text`, `delta`, `partial_json`, `thinking`,
    /// `reasoning_content`, `arguments` string values).
    pub text_tokens: u64,
}

const TEXT_KEYS: [&[u8]; 7] =
    [b"content", b"text", b"delta", b"partial_json", b"thinking", b"reasoning_content", b"arguments"];
const USAGE_TYPES: [&[u8]; 5] =
    [b"message_start", b"message_delta", b"response.completed", b"response.incomplete", b"response.failed"];

/// One pass over the event's bytes: every JSON string is read once; a string followed by `:` is a
/// key, the next value is its value.
pub fn scan_event(data: &[u8], tokenizer: Tokenizer) -> EventScan {
    let mut out = EventScan::default();
    let mut key: Option<(usize, usize)> = None;
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        match b {
            b'"' => {
                let start = i + 1;
                // To the closing quote, jumping from one quote or backslash to the next.
                let mut end = start;
                loop {
                    let rest = data.get(end..).unwrap_or(&[]);
                    match find_either(rest, b'"', b'\\') {
                        Some(p) if rest.get(p) == Some(&b'\\') => end += p + 2,
                        Some(p) => {
                            end += p;
                            break;
                        }
                        None => {
                            end = data.len();
                            break;
                        }
                    }
                }
                let mut next = end + 1;
                while data.get(next).is_some_and(|c| c.is_ascii_whitespace()) {
                    next += 1;
                }
                let text = data.get(start..end).unwrap_or(&[]);
                if data.get(next) == Some(&b':') {
                    key = Some((start, end));
                    // A "usage" key whose value is an object.
                    if text == b"usage" {
                        let mut v = next + 1;
                        while data.get(v).is_some_and(|c| c.is_ascii_whitespace()) {
                            v += 1;
                        }
                        if data.get(v) == Some(&b'{') {
                            out.carries_usage = true;
                        }
                    }
                    i = next + 1;
                    continue;
                }
                if let Some((ks, ke)) = key.take() {
                    let k = data.get(ks..ke).unwrap_or(&[]);
                    if TEXT_KEYS.contains(&k) {
                        out.text_tokens += match std::str::from_utf8(text) {
                            Ok(t) => estimate_tokens_for(t, tokenizer),
                            Err(_) => estimate_tokens_for(&String::from_utf8_lossy(text), tokenizer),
                        };
                    } else if k == b"type" && USAGE_TYPES.contains(&text) {
                        out.carries_usage = true;
                    }
                }
                i = end + 1;
            }
            b'{' | b'[' | b',' => {
                key = None;
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Where the settled numbers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageSource {
    /// The API reported usage.
    Reported,
    /// Input reported, output estimated from streamed text (stream ended early).
    PartlyEstimated,
    /// Nothing reported: input is the request estimate, output estimated from the text seen.
    Estimated,
}

/// The metered outcome of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metered {
    /// Input is `None` when the response did not report it (keep the request's estimate).
    pub input: Option<u64>,
    /// Output tokens.
    pub output: u64,
    /// Cached input tokens.
    pub cached_input: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
    /// Provenance.
    pub source: UsageSource,
}

/// Follows one response body, chunk by chunk.
#[derive(Debug)]
pub struct ResponseMeter {
    api: ApiKind,
    streaming: bool,
    sse: SseParser,
    body: Vec<u8>,
    body_cap: usize,
    body_overflow: bool,
    /// What the API reported so far, and the output estimated from streamed text.
    tally: Tally,
    tokenizer: Tokenizer,
}

impl ResponseMeter {
    /// `streaming` when the response is `text/event-stream`; `body_cap` bounds a JSON body kept.
    pub fn new(api: ApiKind, streaming: bool, body_cap: usize) -> Self {
        Self::with_tokenizer(api, streaming, body_cap, Tokenizer::default())
    }

    /// As [`ResponseMeter::new`], estimating streamed text for a tokenizer family.
    pub fn with_tokenizer(api: ApiKind, streaming: bool, body_cap: usize, tokenizer: Tokenizer) -> Self {
        Self {
            tokenizer,
            api,
            streaming,
            sse: SseParser::new(),
            body: Vec::new(),
            body_cap,
            body_overflow: false,
            tally: Tally::default(),
        }
    }

    /// True for an SSE response.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Feeds the next chunk of the response body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.streaming {
            let mut sse = std::mem::take(&mut self.sse);
            sse.feed(chunk, &mut |name, data| self.on_event(name, data));
            self.sse = sse;
        } else if !self.body_overflow {
            if self.body.len() + chunk.len() <= self.body_cap {
                self.body.extend_from_slice(chunk);
            } else {
                self.body_overflow = true;
                self.body = Vec::new();
            }
        }
    }

    fn on_event(&mut self, name: &str, data: &[u8]) {
        if data == b"[DONE]" {
            return;
        }
        // Most events are text deltas: estimate their text without a full JSON parse, and parse only
        // the few that carry usage.
        let scan = scan_event(data, self.tokenizer);
        if !scan.carries_usage && !USAGE_TYPES.iter().any(|t| t == &name.as_bytes()) {
            self.tally.streamed_output += scan.text_tokens;
            return;
        }
        let Some(v) = Json::parse(data) else { return };
        self.api.dialect().stream_event(name, &v, &mut self.tally, self.tokenizer);
    }

    /// Ends the response and returns what it used.
    pub fn finish(&mut self) -> Metered {
        if self.streaming {
            let mut sse = std::mem::take(&mut self.sse);
            sse.finish(&mut |name, data| self.on_event(name, data));
            self.sse = sse;
        } else if !self.body_overflow && !self.body.is_empty() {
            if let Some(v) = Json::parse(&self.body) {
                if let Some(u) = v.get("usage").and_then(|u| self.api.dialect().usage(u)) {
                    self.tally.set(u);
                }
            }
            self.body = Vec::new();
        }
        let t = self.tally;
        let (input, cached_input) = match t.input {
            Some((i, c)) => (Some(i), c),
            None => (None, 0),
        };
        let (output, source) = match (input, t.output) {
            (Some(_), Some(out)) => (out, UsageSource::Reported),
            (Some(_), None) => (t.streamed_output, UsageSource::PartlyEstimated),
            (None, Some(out)) => (out, UsageSource::PartlyEstimated),
            (None, None) => (t.streamed_output, UsageSource::Estimated),
        };
        Metered { input, output, cached_input, reasoning: t.reasoning, source }
    }
}
