//! Response metering: exact `usage` from JSON bodies and SSE streams of each API, and an estimate
//! from the streamed text when a stream ends without usage.

use std::borrow::Cow;

use crate::api::{ApiKind, Dialect, Tally};
use crate::json::Json;
use crate::sse::MAX_EVENT_BYTES;
use crate::tokens::{estimate_tokens_for, Tokenizer};
use scan::{scan_data, DataScan, Frames};

mod scan;

pub use crate::api::{anthropic_usage, is_usage_only_event, openai_usage, responses_usage};
pub use scan::StreamScanner;

/// What a quick pass over an SSE event's JSON finds without building it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventScan {
    /// The event may carry usage (a `"usage"` object, or an event type that reports it): parse it.
    pub carries_usage: bool,
    /// Estimated tokens of its text fields (the string values of every dialect's stream text keys,
    /// [`crate::api::STREAM_TEXT_KEYS`]).
    pub text_tokens: u64,
}

/// The scan the stream meter makes of one event's data (see [`StreamScanner`]): where the keys are,
/// found from the colons, without decoding the JSON.
pub fn scan_event(data: &[u8], tokenizer: Tokenizer) -> EventScan {
    let mut found = DataScan::default();
    scan_data(data, 0, 0, None, true, &mut found);
    let text_tokens = found.text.iter().map(|&(a, b)| estimate_bytes(data.get(a..b).unwrap_or(&[]), tokenizer)).sum();
    EventScan { carries_usage: found.usage, text_tokens }
}

/// Estimated tokens of text bytes (invalid UTF-8 read lossily).
fn estimate_bytes(text: &[u8], tokenizer: Tokenizer) -> u64 {
    match std::str::from_utf8(text) {
        Ok(t) => estimate_tokens_for(t, tokenizer),
        Err(_) => estimate_tokens_for(&String::from_utf8_lossy(text), tokenizer),
    }
}

/// Streamed text kept before it is estimated: most streams report usage, and their text is never
/// estimated; a longer text is estimated as it reaches this size (about 8,000 tokens of English; the
/// buffer grows only as the text does).
const TEXT_BATCH_BYTES: usize = 32 * 1024;

/// An SSE event that may carry usage: parsed, and read by the API's dialect into the tally.
fn usage_event(api: ApiKind, tokenizer: Tokenizer, tally: &mut Tally, name: &[u8], data: &[u8]) {
    let Some(v) = Json::parse(data) else { return };
    let name = if name.is_empty() { Cow::Borrowed("message") } else { String::from_utf8_lossy(name) };
    api.dialect().stream_event(&name, &v, tally, tokenizer);
}

/// A JSON response body reduced to what metering reads: an object holding its top-level `usage`
/// (the last one, as [`Json::parse`] keeps it), `Json::Null` for any other document, `None` when it is
/// not JSON. The whole body is checked exactly as [`Json::parse`] checks it (the same parser; strings,
/// numbers and nesting depth alike), but nothing outside `usage` is built.
pub fn body_usage(body: &[u8]) -> Option<Json<'_>> {
    Json::parse_member(body, "usage")
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
    sse: StreamScanner,
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
            sse: StreamScanner::with_cap(MAX_EVENT_BYTES),
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

    /// Feeds the next chunk of the response body, `last` when it ends the body: a JSON body that
    /// comes whole in its last chunk is read from the chunk itself (what [`ResponseMeter::finish`]
    /// would read from its copy), without keeping a copy.
    pub fn feed_chunk(&mut self, chunk: &[u8], last: bool) {
        if last && !self.streaming && !self.body_overflow && self.body.is_empty() {
            if chunk.len() > self.body_cap {
                self.body_overflow = true;
            } else if let Some(u) = body_usage(chunk).and_then(|v| self.api.dialect().response_usage(&v)) {
                self.tally.set(u);
            }
            return;
        }
        self.feed(chunk);
    }

    /// Feeds the next chunk of the response body.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.streaming {
            let (api, tokenizer, tally) = (self.api, self.tokenizer, &mut self.tally);
            self.sse.feed(chunk, &mut |name, data| usage_event(api, tokenizer, tally, name, data));
            if self.sse.text_len() > TEXT_BATCH_BYTES {
                self.tally.streamed_output += estimate_bytes(&self.sse.take_text(), self.tokenizer);
            }
        } else if !self.body_overflow {
            if self.body.len() + chunk.len() <= self.body_cap {
                self.body.extend_from_slice(chunk);
            } else {
                self.body_overflow = true;
                self.body = Vec::new();
            }
        }
    }

    /// Feeds the next chunk of an SSE response and filters it with `filter` in the same pass (the scan
    /// that meters the chunk frames its events for the filter): the bytes to pass on in place of
    /// `chunk`, as [`UsageChunkFilter::filter`] gives them. A JSON response is fed as it is and the
    /// filter frames it alone.
    pub fn feed_filtered(
        &mut self,
        chunk: &[u8],
        end_of_stream: bool,
        filter: &mut UsageChunkFilter,
    ) -> Option<Vec<u8>> {
        if !self.streaming {
            self.feed(chunk);
            return filter.filter(chunk, end_of_stream);
        }
        let (api, tokenizer, tally) = (self.api, self.tokenizer, &mut self.tally);
        filter.frames.clear();
        self.sse.feed_framed(
            chunk,
            &mut |name, data| usage_event(api, tokenizer, tally, name, data),
            &mut filter.frames,
        );
        if self.sse.text_len() > TEXT_BATCH_BYTES {
            self.tally.streamed_output += estimate_bytes(&self.sse.take_text(), self.tokenizer);
        }
        filter.pass(chunk, end_of_stream)
    }

    /// Ends the response and returns what it used.
    pub fn finish(&mut self) -> Metered {
        if self.streaming {
            let (api, tokenizer, tally) = (self.api, self.tokenizer, &mut self.tally);
            self.sse.finish(&mut |name, data| usage_event(api, tokenizer, tally, name, data));
            // The text is estimated only when the output was not reported.
            let text = self.sse.take_text();
            if self.tally.output.is_none() {
                self.tally.streamed_output += estimate_bytes(&text, self.tokenizer);
            }
        } else if !self.body_overflow && !self.body.is_empty() {
            if let Some(u) = body_usage(&self.body).and_then(|v| self.api.dialect().response_usage(&v)) {
                self.tally.set(u);
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
///
/// Fed through [`ResponseMeter::feed_filtered`], the events are framed by the meter's own scan of the
/// chunk (one pass over its bytes for both): the scan says where each event ends and which events
/// are plain text deltas that cannot be the usage-only chunk; only the others are checked. Used
/// alone ([`UsageChunkFilter::filter`]), it frames the events with a scanner of its own.
pub struct UsageChunkFilter {
    /// Which events are the injected ones.
    dialect: &'static dyn Dialect,
    /// Bytes of the incomplete event at the end of the stream so far, held back.
    held: Vec<u8>,
    /// The last event ended with a CR: a LF next is the rest of its line end, and goes (or is
    /// removed) with it. `Some(removed)`.
    pending_lf: Option<bool>,
    /// The current event outgrew the hold: passed on as it comes, until it ends.
    passing: bool,
    removed: u64,
    /// The ranges removed from the last chunk (kept for its buffer).
    cut: Vec<(usize, usize)>,
    /// Where the events of the chunk being filtered end (the scan's framing, kept for its buffers).
    frames: Frames,
    /// The scanner that frames the events when the filter is used alone (no meter).
    own: Option<Box<StreamScanner>>,
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
            pending_lf: None,
            passing: false,
            removed: 0,
            cut: Vec::new(),
            frames: Frames::default(),
            own: None,
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
    /// removed, nothing held now or before). At `end_of_stream` nothing stays held. (Alone: the
    /// events are framed by a scanner of the filter's own; with a meter, use
    /// [`ResponseMeter::feed_filtered`], which frames them in the meter's scan. A filter is used one
    /// way or the other for a whole stream.)
    pub fn filter(&mut self, chunk: &[u8], end_of_stream: bool) -> Option<Vec<u8>> {
        let own = self.own.get_or_insert_with(|| Box::new(StreamScanner::with_cap(MAX_EVENT_BYTES)));
        self.frames.clear();
        own.feed_framed(chunk, &mut |_, _| {}, &mut self.frames);
        if own.text_len() > TEXT_BATCH_BYTES {
            // Its text is not needed.
            drop(own.take_text());
        }
        self.pass(chunk, end_of_stream)
    }

    /// The bytes to pass on in place of `chunk`, from where its events end (`self.frames`, the
    /// scan's): the events the scan showed plain go on untouched; the others are checked. Positions
    /// count through the bytes held back and then the chunk (`work`), which are not joined: what goes
    /// on is copied once, into a buffer of its exact size.
    fn pass(&mut self, chunk: &[u8], end_of_stream: bool) -> Option<Vec<u8>> {
        let held = std::mem::take(&mut self.held);
        let scanned = held.len();
        let len = scanned + chunk.len();
        // Ranges of `work` removed, in order.
        let mut cut = std::mem::take(&mut self.cut);
        cut.clear();
        let mut changed = scanned > 0;
        // Where the first event ending in this chunk starts.
        let mut first_start = 0;
        // The LF that completes the CR the last chunk's last event ended with goes (or is removed)
        // with that event.
        if let Some(&b) = chunk.first() {
            if let Some(removed) = self.pending_lf.take() {
                if b == b'\n' {
                    if removed {
                        changed = true;
                        cut.push((scanned, scanned + 1));
                    }
                    first_start = scanned + 1;
                }
            }
        }
        let work = Work { held: &held, chunk };
        let frames = std::mem::take(&mut self.frames);
        for &(start, end) in &frames.checked {
            // The first event ending here may have outgrown the hold (passed on, not checked).
            let (start, passing) = match start {
                None => (first_start, self.passing),
                Some(s) => (work.after(scanned + s), false),
            };
            let end = scanned + end;
            let remove = !passing && self.dialect.is_injected_usage_event(&work.slice(start, end));
            if remove {
                self.removed += 1;
                changed = true;
                cut.push((start, work.after(end)));
            }
            if end == len && work.byte(len.wrapping_sub(1)) == Some(b'\r') {
                self.pending_lf = Some(remove);
            }
        }
        let tail_start = match frames.last {
            Some(end) => {
                self.passing = false;
                work.after(scanned + end)
            }
            None => first_start,
        };
        self.frames = frames;
        // What goes on ends here (the rest is held).
        let mut out_end = tail_start;
        let mut hold = false;
        let tail = len - tail_start;
        if tail > 0 {
            if end_of_stream {
                // An unterminated last event: clients ignore it, but pass it on unless it is the chunk.
                if !self.passing && self.dialect.is_injected_usage_event(&work.slice(tail_start, len)) {
                    self.removed += 1;
                    changed = true;
                    cut.push((tail_start, len));
                }
                out_end = len;
            } else if self.passing || tail > MAX_HELD_EVENT_BYTES {
                self.passing = true;
                out_end = len;
            } else {
                hold = true;
                changed = true;
            }
        }
        let out = changed.then(|| {
            let removed: usize = cut.iter().map(|&(a, b)| b.min(out_end).saturating_sub(a)).sum();
            let mut out = Vec::with_capacity(out_end.saturating_sub(removed));
            let mut from = 0;
            for &(a, b) in &cut {
                work.copy(&mut out, from, a.min(out_end));
                from = b;
            }
            work.copy(&mut out, from, out_end);
            out
        });
        self.cut = cut;
        // The held tail, in the same buffer.
        let mut held = held;
        if !hold {
            held.clear();
        } else if tail_start >= scanned {
            held.clear();
            held.extend_from_slice(chunk.get(tail_start - scanned..).unwrap_or(&[]));
        } else {
            held.drain(..tail_start);
            held.extend_from_slice(chunk);
        }
        self.held = held;
        out
    }
}

/// The bytes held back followed by a chunk, read as one without joining them.
struct Work<'a> {
    held: &'a [u8],
    chunk: &'a [u8],
}

impl Work<'_> {
    fn byte(&self, i: usize) -> Option<u8> {
        match i.checked_sub(self.held.len()) {
            None => self.held.get(i).copied(),
            Some(c) => self.chunk.get(c).copied(),
        }
    }

    /// Past an event that ends at `end`, and the LF that completes its CR if there is one.
    fn after(&self, end: usize) -> usize {
        match (self.byte(end.wrapping_sub(1)), self.byte(end)) {
            (Some(b'\r'), Some(b'\n')) => end + 1,
            _ => end,
        }
    }

    /// `work[a..b]`, joined only when it spans both parts.
    fn slice(&self, a: usize, b: usize) -> Cow<'_, [u8]> {
        let h = self.held.len();
        if a >= h {
            Cow::Borrowed(self.chunk.get(a - h..b.saturating_sub(h)).unwrap_or(&[]))
        } else if b <= h {
            Cow::Borrowed(self.held.get(a..b).unwrap_or(&[]))
        } else {
            let mut v = Vec::with_capacity(b - a);
            self.copy(&mut v, a, b);
            Cow::Owned(v)
        }
    }

    /// Appends `work[a..b]` to `out`.
    fn copy(&self, out: &mut Vec<u8>, a: usize, b: usize) {
        if a >= b {
            return;
        }
        let h = self.held.len();
        if a < h {
            out.extend_from_slice(self.held.get(a..b.min(h)).unwrap_or(&[]));
        }
        if b > h {
            out.extend_from_slice(self.chunk.get(a.max(h) - h..b - h).unwrap_or(&[]));
        }
    }
}
