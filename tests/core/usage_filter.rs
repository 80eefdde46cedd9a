//! The usage-chunk filter framed by the meter's scan (`ResponseMeter::feed_filtered`) and by its own
//! scanner (`UsageChunkFilter::filter`) against the filter as it was before it shared the meter's scan
//! (kept here verbatim as the reference: its own line-by-line framing, and every event checked with
//! the dialect's usage-only test): the same bytes for every chunk, the same events removed, the same
//! bytes held, over generated streams of the three dialects cut at every byte and in random pieces, and
//! the same metering as the meter alone.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::borrow::Cow;

use distill_guard::api::{ApiKind, Dialect};
use distill_guard::response::{Metered, ResponseMeter, UsageChunkFilter, MAX_HELD_EVENT_BYTES};
use serde_json::json;

use crate::support::Rng;

/// The filter before this change, line by line (the reference).
struct Reference {
    dialect: &'static dyn Dialect,
    held: Vec<u8>,
    line_start: bool,
    after_cr: bool,
    pending_lf: Option<bool>,
    passing: bool,
    removed: u64,
}

fn line_end(b: &[u8], from: usize) -> Option<usize> {
    b[from..].iter().position(|&c| c == b'\n' || c == b'\r').map(|p| from + p)
}

impl Reference {
    fn new(api: ApiKind) -> Self {
        Reference {
            dialect: api.dialect(),
            held: Vec::new(),
            line_start: true,
            after_cr: false,
            pending_lf: None,
            passing: false,
            removed: 0,
        }
    }

    fn filter(&mut self, chunk: &[u8], end_of_stream: bool) -> Option<Vec<u8>> {
        let held_before = !self.held.is_empty();
        let work: Cow<'_, [u8]> = if held_before {
            let mut w = std::mem::take(&mut self.held);
            w.extend_from_slice(chunk);
            Cow::Owned(w)
        } else {
            Cow::Borrowed(chunk)
        };
        let scanned = work.len() - chunk.len();
        let mut keep: Vec<(usize, usize)> = Vec::new();
        let mut changed = held_before;
        let mut dropped = false;
        let mut event_start = 0;
        let mut i = scanned;
        while let Some(&b) = work.get(i) {
            if let Some(removed) = self.pending_lf.take() {
                if b == b'\n' {
                    if removed {
                        changed = true;
                        dropped = true;
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
            if b != b'\n' && b != b'\r' {
                self.line_start = false;
                i = line_end(&work, i).unwrap_or(work.len());
                continue;
            }
            if self.line_start {
                let event = &work[event_start..=i];
                let remove = !self.passing && self.dialect.is_injected_usage_event(event);
                if remove {
                    self.removed += 1;
                    changed = true;
                    dropped = true;
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
            i += 1;
        }
        let tail = work.len() - event_start;
        if tail > 0 {
            let tail_bytes = &work[event_start..];
            if end_of_stream {
                if !self.passing && self.dialect.is_injected_usage_event(tail_bytes) {
                    self.removed += 1;
                    changed = true;
                    dropped = true;
                } else {
                    keep.push((event_start, work.len()));
                }
            } else if self.passing || tail > MAX_HELD_EVENT_BYTES {
                self.passing = true;
                keep.push((event_start, work.len()));
            } else {
                self.held.extend_from_slice(tail_bytes);
                changed = true;
            }
        }
        if !changed {
            None
        } else if !dropped {
            let end = keep.last().map_or(0, |r| r.1);
            Some(work[..end].to_vec())
        } else {
            Some(keep.iter().flat_map(|&(a, b)| work[a..b].iter().copied()).collect())
        }
    }
}

/// What one way of filtering did with a stream: each chunk's answer, the removed count, what stayed
/// held, the metered usage (when metered).
type Run = (Vec<Option<Vec<u8>>>, u64, usize, Option<Metered>);

fn reference(api: ApiKind, chunks: &[&[u8]], eos_apart: bool) -> Run {
    let mut f = Reference::new(api);
    let mut out: Vec<_> =
        chunks.iter().enumerate().map(|(i, c)| f.filter(c, !eos_apart && i + 1 == chunks.len())).collect();
    if eos_apart {
        out.push(f.filter(b"", true));
    }
    (out, f.removed, f.held.len(), None)
}

fn alone(api: ApiKind, chunks: &[&[u8]], eos_apart: bool) -> Run {
    let mut f = UsageChunkFilter::new(api);
    let mut out: Vec<_> =
        chunks.iter().enumerate().map(|(i, c)| f.filter(c, !eos_apart && i + 1 == chunks.len())).collect();
    if eos_apart {
        out.push(f.filter(b"", true));
    }
    (out, f.removed(), f.held(), None)
}

fn metered(api: ApiKind, chunks: &[&[u8]], eos_apart: bool) -> Run {
    let mut m = ResponseMeter::new(api, true, 1 << 20);
    let mut f = UsageChunkFilter::new(api);
    let mut out: Vec<_> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| m.feed_filtered(c, !eos_apart && i + 1 == chunks.len(), &mut f))
        .collect();
    if eos_apart {
        out.push(m.feed_filtered(b"", true, &mut f));
    }
    (out, f.removed(), f.held(), Some(m.finish()))
}

fn meter_alone(api: ApiKind, chunks: &[&[u8]]) -> Metered {
    let mut m = ResponseMeter::new(api, true, 1 << 20);
    for c in chunks {
        m.feed(c);
    }
    m.finish()
}

/// All three ways agree on `chunks` (the last with the end of the stream, or an empty chunk after
/// it); the metered one meters as the meter alone does. Returns the events removed.
fn agree(api: ApiKind, chunks: &[&[u8]], what: &str) -> u64 {
    let mut removed = 0;
    for eos_apart in [false, true] {
        let want = reference(api, chunks, eos_apart);
        let got = alone(api, chunks, eos_apart);
        assert_eq!(got, want, "alone, {what} (end apart: {eos_apart})");
        let (out, r, h, m) = metered(api, chunks, eos_apart);
        assert_eq!((out, r, h), (want.0, want.1, want.2), "with the meter, {what} (end apart: {eos_apart})");
        assert_eq!(m, Some(meter_alone(api, chunks)), "metering unchanged, {what}");
        removed = want.1;
    }
    removed
}

/// Every two-way cut, random pieces, one byte a chunk.
fn agree_cut_everywhere(api: ApiKind, stream: &[u8], rng: &mut Rng, what: &str) -> u64 {
    let removed = agree(api, &[stream], what);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(agree(api, &[a, b], &format!("{what}, cut at {cut}")), removed);
    }
    for _ in 0..3 {
        let mut rest = stream;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let (c, r) = rest.split_at(1 + rng.below(rest.len().min(48)));
            chunks.push(c);
            rest = r;
        }
        agree(api, &chunks, &format!("{what}, random pieces"));
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    agree(api, &bytes, &format!("{what}, one byte a chunk"));
    removed
}

const EOLS: [&str; 3] = ["\n", "\r\n", "\r"];

/// An OpenAI chat stream: text deltas sharing their start (the common event), the usage-only chunk
/// in varied spellings, and around them the other shapes a stream carries.
fn chat_stream(rng: &mut Rng) -> Vec<u8> {
    let fixed = EOLS[rng.below(3)];
    let mixed = rng.below(4) == 0;
    let words = ["Hello", " world", " a \\\"quoted\\\" word", " naïve", " [] {}", " \\\\", " 中文", " data: x", ""];
    let mut out = String::new();
    for _ in 0..1 + rng.below(7) {
        let eol = if mixed { EOLS[rng.below(3)] } else { fixed };
        let w = words[rng.below(words.len())];
        let data: Vec<String> = match rng.below(16) {
            0..=5 => vec![format!(
                r#"{{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{{"index":0,"delta":{{"content":"{w}"}}}}],"usage":null}}"#
            )],
            6 => vec![format!(
                r#"{{"id":"c","choices":[{{"index":0,"delta":{{"role":"assistant","content":"{w}"}}}}]}}"#
            )],
            7 => vec![r#"{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4}}"#.to_string()],
            8 => {
                vec![r#"{"id": "c", "choices" : [ ], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}"#
                    .to_string()]
            }
            // The usage-only chunk behind the common start: duplicate keys, an escaped usage key.
            9 => vec![format!(
                r#"{{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{{"index":0,"delta":{{"content":"{w}"}}}}],"choices":[],"\u0075sage":{{"prompt_tokens":9}}}}"#
            )],
            10 => vec![format!(
                r#"{{"id":"c","object":"chat.completion.chunk","model":"m","choices":[{{"index":0,"delta":{{"content":"{w}"}}}}],"choices":[],"usage":{{"prompt_tokens":9}}}}"#
            )],
            // Over two data lines.
            11 => vec![r#"{"id":"c","choices":[],"#.to_string(), r#""usage":{"prompt_tokens":9}}"#.to_string()],
            12 => vec![r#"{"id":"c","choices":[],"usage""#.to_string(), r#":{"prompt_tokens":9}}"#.to_string()],
            13 => vec!["[DONE]".to_string()],
            14 => vec![r#"{"id":"c","choices":[],"usage":null}"#.to_string()],
            _ => vec![r#"{"\u0075sage":{"prompt_tokens":1},"choices":[],"delta":{"content":"x"}}"#.to_string()],
        };
        match rng.below(10) {
            0 => out += &format!(": keep-alive{eol}"),
            1 => out += &format!("id: 7{eol}retry: 100{eol}"),
            2 => out += eol,
            _ => {}
        }
        for d in &data {
            out += &format!("data:{}{d}{eol}", if rng.below(8) == 0 { "" } else { " " });
        }
        out += eol;
    }
    if rng.below(3) == 0 {
        // An unterminated last event.
        out += r#"data: {"choices":[],"usage":{"prompt_tokens":1}}"#;
    }
    out.into_bytes()
}

#[test]
fn the_filter_on_the_meters_scan_passes_what_it_passed_before_however_a_chat_stream_is_split() {
    let mut rng = Rng(0x0dd_ba11_5eed_cafe);
    let mut removed = 0;
    for round in 0..50 {
        let stream = chat_stream(&mut rng);
        removed += agree_cut_everywhere(ApiKind::OpenAiChat, &stream, &mut rng, &format!("round {round}"));
    }
    assert!(removed > 40, "the streams carry usage-only chunks to remove ({removed})");
}

#[test]
fn the_filter_on_the_meters_scan_agrees_on_the_generated_streams_of_every_dialect() {
    let mut rng = Rng(0x5ca1_ab1e_0dd5_eed5);
    for round in 0..12 {
        let stream = crate::sse::random_stream(&mut rng);
        for api in [ApiKind::OpenAiChat, ApiKind::OpenAiCompletions] {
            agree_cut_everywhere(api, &stream, &mut rng, &format!("round {round}, {api:?}"));
        }
    }
}

#[test]
fn the_filter_on_the_meters_scan_leaves_anthropic_and_responses_streams_as_they_are() {
    let anthropic = format!(
        "event: message_start\ndata: {}\n\nevent: content_block_delta\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 7, "output_tokens": 1}}}),
        json!({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}),
        json!({"type": "message_delta", "choices": [], "usage": {"output_tokens": 3}}),
    );
    let responses = format!(
        "event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {}\n\n",
        json!({"type": "response.output_text.delta", "delta": "Hi"}),
        json!({"type": "response.completed", "choices": [], "usage": {}, "response": {"usage": {"input_tokens": 7}}}),
    );
    let mut rng = Rng(7);
    for (api, stream) in [(ApiKind::AnthropicMessages, anthropic), (ApiKind::OpenAiResponses, responses)] {
        for eol in EOLS {
            let s = stream.replace('\n', eol);
            assert_eq!(agree_cut_everywhere(api, s.as_bytes(), &mut rng, &format!("{api:?} {eol:?}")), 0);
        }
    }
}

#[test]
fn long_events_pass_through_the_hold_as_before() {
    // Events around the hold's size and past it, the usage-only chunk padded past it (passed on, as
    // before), split at a few places around their ends.
    let pad = |n: usize| "x".repeat(n);
    let delta = |t: &str| format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{t}\"}}}}]}}\n\n");
    let mut s = delta("a");
    s += &delta(&pad(MAX_HELD_EVENT_BYTES - 40));
    s += &delta(&pad(MAX_HELD_EVENT_BYTES + 10));
    s += &format!(
        "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":1}},\"pad\":\"{}\"}}\n\n",
        pad(MAX_HELD_EVENT_BYTES)
    );
    s += &delta("b");
    s += "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n";
    let stream = s.as_bytes();
    let ends: Vec<usize> = stream.windows(2).enumerate().filter(|(_, w)| w == b"\n\n").map(|(i, _)| i + 2).collect();
    let mut removed = None;
    for &e in &ends {
        for at in [e.saturating_sub(70), e - 3, e - 1, e, e + 5, e + 40_000] {
            let at = at.min(stream.len());
            let (a, b) = stream.split_at(at);
            let r = agree(ApiKind::OpenAiChat, &[a, b], &format!("cut at {at}"));
            let (b1, b2) = b.split_at(b.len() / 2);
            agree(ApiKind::OpenAiChat, &[a, b1, b2], &format!("cut at {at} and after"));
            removed.get_or_insert(r);
        }
    }
    for size in [1000, 4096, 70_000] {
        let chunks: Vec<&[u8]> = stream.chunks(size).collect();
        agree(ApiKind::OpenAiChat, &chunks, &format!("chunks of {size}"));
    }
    // An event past the meter's own cap (1 MiB), the usage chunk after it.
    let big = format!(
        "{}{}{}",
        delta("a"),
        delta(&pad(1_100_000)),
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2}}\n\n"
    );
    let big = big.as_bytes();
    for at in [3, 50, 600_000, big.len() - 60, big.len() - 1] {
        let (a, b) = big.split_at(at);
        assert_eq!(agree(ApiKind::OpenAiChat, &[a, b], &format!("big, cut at {at}")), 1);
    }
    let chunks: Vec<&[u8]> = big.chunks(16 * 1024).collect();
    assert_eq!(agree(ApiKind::OpenAiChat, &chunks, "big, 16 KB chunks"), 1);
}

#[test]
fn usage_only_chunks_that_begin_as_the_common_event_are_still_removed() {
    // Text deltas whose common start holds no `choices`; then usage-only chunks with that same start
    // and an escaped `usage` key after the text, and usage-only chunks starting with an escaped key
    // (twice, so that the second begins as the remembered first); and one over two data lines after
    // a start like the deltas'; and the usage key split from its value over two data lines.
    let delta =
        |w: &str| format!("data: {{\"id\":\"c\",\"delta\":{{\"content\":\"{w}\"}},\"choices\":[{{\"index\":0}}]}}\n\n");
    let escaped_after = |w: &str| {
        format!("data: {{\"id\":\"c\",\"delta\":{{\"content\":\"{w}\"}},\"choices\":[],\"\\u0075sage\":{{\"prompt_tokens\":9}}}}\n\n")
    };
    let escaped_before = |w: &str| {
        format!(
            "data: {{\"\\u0075sage\":{{\"prompt_tokens\":1}},\"choices\":[],\"delta\":{{\"content\":\"{w}\"}}}}\n\n"
        )
    };
    let two_lines =
        "data: {\"id\":\"c\",\"delta\":{\"content\":\"z\"},\ndata: \"choices\":[],\"usage\":{\"prompt_tokens\":3}}\n\n";
    let mut s = String::new();
    for w in ["one", " two", " three"] {
        s += &delta(w);
    }
    s += &escaped_after(" four");
    s += &delta(" five");
    s += &escaped_after("");
    s += &escaped_before("a");
    s += &escaped_before("b");
    s += &delta(" six");
    s += two_lines;
    // The `usage` key and its value on two data lines, the text after: twice.
    for _ in 0..2 {
        s += "data: {\"choices\":[],\"usage\"\ndata: :{\"prompt_tokens\":4},\"delta\":{\"content\":\"q\"}}\n\n";
    }
    s += "data: [DONE]\n\n";
    let mut rng = Rng(3);
    for eol in EOLS {
        let stream = s.replace('\n', eol);
        let removed = agree_cut_everywhere(ApiKind::OpenAiChat, stream.as_bytes(), &mut rng, &format!("{eol:?}"));
        assert_eq!(removed, 7, "{eol:?}");
    }
}
