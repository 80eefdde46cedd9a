//! Response metering: exact `usage` from JSON bodies and SSE streams of each API, and an estimate
//! from the streamed text when a stream ends without usage.

use crate::api::{ApiKind, Dialect, Tally, STREAM_TEXT_KEYS, USAGE_EVENTS};
use crate::bytes::find_either;
use crate::json::Json;
use crate::sse::SseParser;
use crate::tokens::{estimate_tokens_for, Tokenizer};

pub use crate::api::{anthropic_usage, is_usage_only_event, openai_usage, responses_usage};

/// What a quick pass over an SSE event's JSON finds without building it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventScan {
    /// The event may carry usage (a `"usage"` object, or an event type that reports it): parse it.
    pub carries_usage: bool,
    /// Estimated tokens of its text fields (the string values of every dialect's stream text keys,
    /// [`STREAM_TEXT_KEYS`]).
    pub text_tokens: u64,
}

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
                    if STREAM_TEXT_KEYS.contains(&k) {
                        out.text_tokens += match std::str::from_utf8(text) {
                            Ok(t) => estimate_tokens_for(t, tokenizer),
                            Err(_) => estimate_tokens_for(&String::from_utf8_lossy(text), tokenizer),
                        };
                    } else if k == b"type" && USAGE_EVENTS.contains(&text) {
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
        if !scan.carries_usage && !USAGE_EVENTS.iter().any(|t| t == &name.as_bytes()) {
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
                if let Some(u) = self.api.dialect().response_usage(&v) {
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

/// The longest event [`UsageChunkFilter`] holds back to read whole; a longer one cannot be the
/// usage-only chunk (a few hundred bytes) and is passed on as it comes.
pub const MAX_HELD_EVENT_BYTES: usize = 64 * 1024;

/// Removes the events the filter's own usage request added to an SSE response (OpenAI's usage-only
/// chunk, `"choices": []` with a `usage` object, is the one there is: which events they are is the
/// API's [`Dialect::is_injected_usage_event`]), for clients that did not ask for them: the filter
/// injected `stream_options.include_usage` to meter the stream, so the chunk was not part of what the
/// client requested, and code reading `chunk.choices[0]` breaks on it. The meter reads the chunk
/// before it is removed.
///
/// The stream is rewritten chunk by chunk as it passes: every complete event goes on (or is
/// removed), and only an incomplete event at the end of a chunk is held back until its end arrives
/// (at most [`MAX_HELD_EVENT_BYTES`]; longer events pass on unread). Events end at a blank line,
/// with LF, CRLF or CR line ends, split anywhere across chunks.
pub struct UsageChunkFilter {
    /// Which events are the injected ones.
    dialect: &'static dyn Dialect,
    /// Bytes of the incomplete event at the end of the stream so far, held back.
    held: Vec<u8>,
    /// The next byte starts a line (so a line end there ends the event).
    line_start: bool,
    /// The last byte was a CR ending a non-blank line (a LF next completes that line end).
    after_cr: bool,
    /// The last event ended with a CR: a LF next is the rest of its line end, and goes (or is
    /// removed) with it. `Some(removed)`.
    pending_lf: Option<bool>,
    /// The current event outgrew the hold: passed on as it comes, until it ends.
    passing: bool,
    removed: u64,
}

impl std::fmt::Debug for UsageChunkFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageChunkFilter")
            .field("api", &self.dialect.kind())
            .field("held", &self.held.len())
            .field("removed", &self.removed)
            .finish()
    }
}

impl UsageChunkFilter {
    /// A filter at the start of a stream of `api`.
    pub fn new(api: ApiKind) -> Self {
        Self {
            dialect: api.dialect(),
            held: Vec::new(),
            line_start: true,
            after_cr: false,
            pending_lf: None,
            passing: false,
            removed: 0,
        }
    }

    /// Usage-only events removed so far.
    pub fn removed(&self) -> u64 {
        self.removed
    }

    /// Bytes held back now (an incomplete event).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Ends filtering: the bytes held back, to pass on as they are.
    pub fn release(self) -> Vec<u8> {
        self.held
    }

    /// The bytes to pass on in place of `chunk`, or `None` when they are `chunk` itself (nothing
    /// removed, nothing held now or before). At `end_of_stream` nothing stays held.
    pub fn filter(&mut self, chunk: &[u8], end_of_stream: bool) -> Option<Vec<u8>> {
        let held_before = !self.held.is_empty();
        let mut work = std::mem::take(&mut self.held);
        let scanned = work.len();
        work.extend_from_slice(chunk);
        // Ranges of `work` to pass on, in order.
        let mut keep: Vec<(usize, usize)> = Vec::new();
        let mut changed = held_before;
        let mut event_start = 0;
        let mut i = scanned;
        while let Some(&b) = work.get(i) {
            if let Some(removed) = self.pending_lf.take() {
                if b == b'\n' {
                    if removed {
                        changed = true;
                    } else {
                        keep.push((i, i + 1));
                    }
                    i += 1;
                    event_start = i;
                    continue;
                }
            }
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                i += 1;
                continue;
            }
            self.after_cr = false;
            if b == b'\n' || b == b'\r' {
                if self.line_start {
                    // A blank line: the event ends here.
                    let event = work.get(event_start..=i).unwrap_or(&[]);
                    let remove = !self.passing && self.dialect.is_injected_usage_event(event);
                    if remove {
                        self.removed += 1;
                        changed = true;
                    } else {
                        keep.push((event_start, i + 1));
                    }
                    self.passing = false;
                    if b == b'\r' {
                        self.pending_lf = Some(remove);
                    }
                    event_start = i + 1;
                } else {
                    self.line_start = true;
                    self.after_cr = b == b'\r';
                }
            } else {
                self.line_start = false;
            }
            i += 1;
        }
        let tail = work.len() - event_start;
        if tail > 0 {
            let tail_bytes = work.get(event_start..).unwrap_or(&[]);
            if end_of_stream {
                // An unterminated last event: clients ignore it, but pass it on unless it is the chunk.
                if !self.passing && self.dialect.is_injected_usage_event(tail_bytes) {
                    self.removed += 1;
                    changed = true;
                } else {
                    keep.push((event_start, work.len()));
                }
            } else if self.passing || tail > MAX_HELD_EVENT_BYTES {
                self.passing = true;
                keep.push((event_start, work.len()));
            } else {
                self.held = tail_bytes.to_vec();
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        let mut out = Vec::with_capacity(work.len());
        for (a, b) in keep {
            out.extend_from_slice(work.get(a..b).unwrap_or(&[]));
        }
        Some(out)
    }
}
