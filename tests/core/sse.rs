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
