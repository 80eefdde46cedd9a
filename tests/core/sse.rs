#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::sse::SseParser;

fn parse_in_chunks(input: &[u8], chunk: usize) -> Vec<(String, String)> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for c in input.chunks(chunk.max(1)) {
        p.feed(c, &mut |name, data| out.push((name.to_string(), String::from_utf8_lossy(data).into_owned())));
    }
    p.finish(&mut |name, data| out.push((name.to_string(), String::from_utf8_lossy(data).into_owned())));
    out
}

const STREAM: &[u8] = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive comment\n\ndata: line one\ndata: line two\n\nevent: x\r\ndata:no-space\r\n\r\ndata: [DONE]\n\n";

#[test]
fn events_are_parsed_with_names_and_multiline_data() {
    let events = parse_in_chunks(STREAM, STREAM.len());
    assert_eq!(
        events,
        vec![
            ("message_start".into(), "{\"a\":1}".into()),
            ("message".into(), "line one\nline two".into()),
            ("x".into(), "no-space".into()),
            ("message".into(), "[DONE]".into()),
        ]
    );
}

#[test]
fn every_chunk_split_gives_the_same_events() {
    let whole = parse_in_chunks(STREAM, STREAM.len());
    for size in 1..STREAM.len() {
        assert_eq!(parse_in_chunks(STREAM, size), whole, "chunk size {size}");
    }
}

#[test]
fn split_at_every_byte_boundary_gives_the_same_events() {
    let whole = parse_in_chunks(STREAM, STREAM.len());
    for cut in 0..STREAM.len() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let mut push =
            |name: &str, data: &[u8]| out.push((name.to_string(), String::from_utf8_lossy(data).into_owned()));
        p.feed(&STREAM[..cut], &mut push);
        p.feed(&STREAM[cut..], &mut push);
        p.finish(&mut push);
        assert_eq!(out, whole, "cut at {cut}");
    }
}

#[test]
fn lone_cr_line_endings_work() {
    let events = parse_in_chunks(b"data: a\r\rdata: b\r\r", 1);
    assert_eq!(events, vec![("message".into(), "a".into()), ("message".into(), "b".into())]);
}

#[test]
fn a_pending_event_is_delivered_at_finish() {
    let events = parse_in_chunks(b"data: {\"usage\":1}", 3);
    assert_eq!(events, vec![("message".into(), "{\"usage\":1}".into())]);
}

#[test]
fn oversized_events_are_dropped_and_counted_not_buffered() {
    let mut p = SseParser::with_cap(64);
    let mut out = Vec::new();
    let big = format!("data: {}\n\ndata: ok\n\n", "x".repeat(10_000));
    p.feed(big.as_bytes(), &mut |_, d| out.push(d.to_vec()));
    assert_eq!(out, vec![b"ok".to_vec()]);
    assert_eq!(p.dropped(), 1);
}

#[test]
fn invalid_utf8_in_data_does_not_break_the_stream() {
    let mut input = b"data: ".to_vec();
    input.extend_from_slice(&[0xff, 0xfe]);
    input.extend_from_slice(b"\n\ndata: fine\n\n");
    let events = parse_in_chunks(&input, 2);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].1, "fine");
}

// ---- The metering scanner against the parser ------------------------------------------------------
//
// `StreamScanner` frames events in place, finds keys from the colons and resumes common events after
// a remembered prefix. What it reports must be what parsing every event and walking its JSON gives:
// the reference below is the plain method (every event from `SseParser`, every JSON string read in
// order, a string followed by `:` is a key), fed the same generated streams.

use distill_guard::response::StreamScanner;
use distill_guard::sse::MAX_EVENT_BYTES;
use serde_json::{json, Value};

use crate::support::Rng;

const TEXT_KEYS: &[&[u8]] =
    &[b"content", b"text", b"reasoning_content", b"arguments", b"partial_json", b"thinking", b"delta"];
const USAGE_TYPES: &[&[u8]] =
    &[b"message_start", b"message_delta", b"response.completed", b"response.incomplete", b"response.failed"];

/// The text (concatenated) and the events that may carry usage (name, data) of a stream.
type View = (Vec<u8>, Vec<(String, Vec<u8>)>);

/// The plain method: every JSON string of the event's data read in turn.
fn reference_event(data: &[u8], text: &mut Vec<u8>) -> bool {
    let mut usage = false;
    let mut ranges = Vec::new();
    let mut key: Option<&[u8]> = None;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                while end < data.len() && data[end] != b'"' {
                    end += if data[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(data.len());
                let s = &data[start..end];
                let mut next = end + 1;
                while next < data.len() && data[next].is_ascii_whitespace() {
                    next += 1;
                }
                if data.get(next) == Some(&b':') {
                    key = Some(s);
                    let mut v = next + 1;
                    while v < data.len() && data[v].is_ascii_whitespace() {
                        v += 1;
                    }
                    usage |= s == b"usage" && data.get(v) == Some(&b'{');
                    i = next + 1;
                    continue;
                }
                match key.take() {
                    Some(k) if TEXT_KEYS.contains(&k) => ranges.push((start, end)),
                    Some(b"type") => usage |= USAGE_TYPES.contains(&s),
                    _ => {}
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
    if !usage {
        for (a, b) in ranges {
            text.extend_from_slice(&data[a..b]);
        }
    }
    usage
}

fn reference(stream: &[u8]) -> View {
    let (mut text, mut events) = (Vec::new(), Vec::new());
    let mut p = SseParser::new();
    let mut on = |name: &str, data: &[u8]| {
        let usage = reference_event(data, &mut text) | USAGE_TYPES.contains(&name.as_bytes());
        if usage {
            events.push((name.to_string(), data.to_vec()));
        }
    };
    p.feed(stream, &mut on);
    p.finish(&mut on);
    (text, events)
}

fn scanned(chunks: &[&[u8]], cap: usize) -> (View, u64) {
    let mut s = StreamScanner::with_cap(cap);
    let mut events = Vec::new();
    let mut on = |name: &[u8], data: &[u8]| {
        let name = if name.is_empty() { "message".to_string() } else { String::from_utf8_lossy(name).into_owned() };
        events.push((name, data.to_vec()));
    };
    for c in chunks {
        s.feed(c, &mut on);
        assert!(s.held() <= cap + c.len(), "holds at most one event");
    }
    s.finish(&mut on);
    assert_eq!(s.held(), 0);
    ((s.take_text(), events), s.dropped())
}

/// JSON with a space after colons and commas, as Python's `json.dumps` writes it.
fn spaced(v: &Value) -> String {
    struct Spaced;
    impl serde_json::ser::Formatter for Spaced {
        fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            w.write_all(if first { b"" } else { b", " })
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }
        fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
            w.write_all(if first { b"" } else { b", " })
        }
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
    serde::Serialize::serialize(v, &mut ser).unwrap();
    String::from_utf8(out).unwrap()
}

const PIECES: &[&str] = &[
    "Hello",
    " world",
    " a \"quoted\" word",
    " key: value",
    "\"usage\": {",
    "\\",
    " naïve",
    " 中文",
    "\n",
    " 🙂",
    "data: x",
    "\"content\":\"x\"",
    ":",
    "\"",
    "",
    " usage",
    "\t",
    "{\"a\":1}",
];

fn piece_text(rng: &mut Rng) -> String {
    (0..1 + rng.below(3)).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

/// A stream of a dialect's events with random text, spacing and line ends (one line end per stream,
/// or mixed), comments and other fields.
pub(crate) fn random_stream(rng: &mut Rng) -> Vec<u8> {
    let eols = ["\n", "\r\n", "\r"];
    let fixed = eols[rng.below(3)];
    let mixed = rng.below(4) == 0;
    let compact = rng.below(2) == 0;
    let mut out = String::new();
    for _ in 0..1 + rng.below(12) {
        let eol = if mixed { eols[rng.below(3)] } else { fixed };
        let t = piece_text(rng);
        let (name, v) = match rng.below(12) {
            0..=3 => (
                None,
                json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": 0, "delta": {"content": t}}], "usage": null}),
            ),
            4 => (None, json!({"id": "c", "choices": [{"index": 0, "delta": {"reasoning_content": t}}]})),
            5 => (
                None,
                json!({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                "function": {"arguments": t}}]}, "finish_reason": null}]}),
            ),
            6 => (None, json!({"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}})),
            7 => (
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": t}}),
            ),
            8 => (
                Some("message_delta"),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 7}}),
            ),
            9 => (Some("response.output_text.delta"), json!({"type": "response.output_text.delta", "delta": t})),
            10 => (
                Some("response.completed"),
                json!({"type": "response.completed",
                "response": {"usage": {"input_tokens": 2, "output_tokens": 1}}}),
            ),
            _ => (Some("message_start"), json!({"type": "message_start", "message": {"usage": {"input_tokens": 9}}})),
        };
        match rng.below(10) {
            0 => out += &format!(": keep-alive{eol}"),
            1 => out += &format!("id: 7{eol}retry: 100{eol}"),
            _ => {}
        }
        if let Some(name) = name.filter(|_| rng.below(4) != 0) {
            out += &format!("event: {name}{eol}");
        }
        let body = if compact { v.to_string() } else { spaced(&v) };
        if rng.below(8) == 0 {
            // The JSON over two data lines, split after a comma.
            let cut = body.find(',').map_or(body.len(), |c| c + 1);
            out += &format!("data: {}{eol}data: {}{eol}", &body[..cut], &body[cut..]);
        } else {
            out += &format!("data:{}{}{eol}", if rng.below(6) == 0 { "" } else { " " }, body);
        }
        out += eol;
        if rng.below(10) == 0 {
            out += &format!("data: [DONE]{eol}{eol}");
        }
    }
    out.into_bytes()
}

#[test]
fn the_scanner_finds_what_parsing_every_event_finds_however_the_stream_is_split() {
    let mut rng = Rng(0x5ca1_ab1e_0dd5_eed5);
    for round in 0..200 {
        let stream = random_stream(&mut rng);
        let want = reference(&stream);
        let (whole, dropped) = scanned(&[&stream], MAX_EVENT_BYTES);
        assert_eq!(dropped, 0);
        assert_eq!(whole, want, "round {round}: {}", String::from_utf8_lossy(&stream));
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(scanned(&[a, b], MAX_EVENT_BYTES).0, want, "round {round}, cut at {cut}");
        }
        let mut rest: &[u8] = &stream;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let (c, r) = rest.split_at(1 + rng.below(rest.len().min(40)));
            chunks.push(c);
            rest = r;
        }
        assert_eq!(scanned(&chunks, MAX_EVENT_BYTES).0, want, "round {round}, random chunks");
    }
}

#[test]
fn the_usage_key_is_found_whatever_bytes_around_it_a_chunk_ends_at() {
    // Text deltas share a prefix (the common path), then the usage chunk; every two- and three-way
    // split within the bytes around `"usage"` gives the same result.
    let delta = |w: &str| {
        format!("data: {}\n\n", json!({"id": "c", "choices": [{"index": 0, "delta": {"content": w}}], "usage": null}))
    };
    let mut s = String::new();
    for w in ["one", " two", " three", " four"] {
        s += &delta(w);
    }
    s += "data: {\"id\":\"c\",\"choices\":[],\"usage\" :\t{\"prompt_tokens\":5,\"completion_tokens\":4}}\n\ndata: [DONE]\n\n";
    let stream = s.as_bytes();
    let want = reference(stream);
    assert_eq!(want.0, b"one two three four");
    assert_eq!(want.1.len(), 1, "the usage chunk is handed over");
    let at = s.find("\"usage\" :").unwrap();
    for a in at - 12..at + 16 {
        for b in a..at + 24 {
            let chunks = [&stream[..a], &stream[a..b], &stream[b..]];
            assert_eq!(scanned(&chunks, MAX_EVENT_BYTES).0, want, "cut at {a} and {b}");
        }
    }
    // One byte a chunk.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(scanned(&bytes, MAX_EVENT_BYTES).0, want);
}

#[test]
fn keys_inside_strings_and_escaped_keys_are_not_keys() {
    let events: &[&[u8]] = &[
        br#"data: {"note":"\"usage\": {\"x\":1}","choices":[{"delta":{"content":"a:\"b\": c"}}]}"#,
        br#"data: {"x \"usage":{"a":1},"say \"content":"no"}"#,
        br#"data: {"usage":null,"content":"ok"}"#,
    ];
    for e in events {
        let stream = [*e, b"\n\n"].concat();
        let (view, _) = scanned(&[&stream], MAX_EVENT_BYTES);
        assert_eq!(view, reference(&stream), "{}", String::from_utf8_lossy(e));
        assert!(view.1.is_empty(), "no usage in {}", String::from_utf8_lossy(e));
    }
}

#[test]
fn the_scanner_drops_events_over_its_cap_in_any_split_and_keeps_the_rest() {
    let big = format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n", "x".repeat(300));
    let usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n";
    let stream = format!("data: {{\"content\":\"a\"}}\n\n{big}{usage}data: {{\"content\":\"b\"}}\n\n");
    let bytes = stream.as_bytes();
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        let ((text, events), dropped) = scanned(&[a, b], 128);
        assert_eq!((text.as_slice(), events.len(), dropped), (&b"ab"[..], 1, 1), "cut at {cut}");
    }
    let ones: Vec<&[u8]> = bytes.chunks(1).collect();
    let ((text, events), dropped) = scanned(&ones, 128);
    assert_eq!((text.as_slice(), events.len(), dropped), (&b"ab"[..], 1, 1));
}

#[test]
fn malformed_events_never_break_the_scanner() {
    let mut rng = Rng(0xfeed_beef_1234_5678);
    let alphabet = b"data: {}[]\":,\\\n\r usage content text type message_delta x\t";
    for _ in 0..2000 {
        let stream: Vec<u8> = (0..rng.below(200)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        let whole = scanned(&[&stream], 64);
        for cut in [0, stream.len() / 3, stream.len() / 2, stream.len()] {
            let (a, b) = stream.split_at(cut);
            assert_eq!(scanned(&[a, b], 64), whole);
        }
    }
}
