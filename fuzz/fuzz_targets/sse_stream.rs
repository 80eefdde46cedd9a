//! Response metering: the bytes are a response body (SSE or JSON by the first byte), fed in chunks whose
//! sizes come from the second byte, so every split of an event is tried. The same chunks go through the
//! usage-chunk filter, whose output must not depend on where the stream was split (for streams shorter
//! than its hold), never grow the stream, and equal the input when it removed nothing.
#![no_main]
use distill_guard::api::ApiKind;
use distill_guard::response::{ResponseMeter, UsageChunkFilter, MAX_HELD_EVENT_BYTES};
use libfuzzer_sys::fuzz_target;

fn filtered(body: &[u8], step: usize) -> (Vec<u8>, u64) {
    let mut filter = UsageChunkFilter::new(ApiKind::OpenAiChat);
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = body.chunks(step).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        match filter.filter(chunk, i + 1 == chunks.len()) {
            Some(replaced) => out.extend_from_slice(&replaced),
            None => out.extend_from_slice(chunk),
        }
        assert!(filter.held() <= MAX_HELD_EVENT_BYTES);
    }
    if chunks.is_empty() {
        if let Some(replaced) = filter.filter(&[], true) {
            out.extend_from_slice(&replaced);
        }
    }
    assert_eq!(filter.held(), 0, "nothing stays held at the end of the stream");
    (out, filter.removed())
}

fuzz_target!(|data: &[u8]| {
    let [pick, split, body @ ..] = data else { return };
    let api = ApiKind::ALL[usize::from(*pick) % ApiKind::ALL.len()];
    let streaming = pick & 0x80 != 0;
    let cap = if pick & 0x40 != 0 { 64 } else { 1 << 20 };
    let mut meter = ResponseMeter::new(api, streaming, cap);
    let step = usize::from(*split).max(1);
    for chunk in body.chunks(step) {
        meter.feed(chunk);
    }
    let _ = meter.finish();

    let (split_out, removed) = filtered(body, step);
    assert!(split_out.len() <= body.len());
    if removed == 0 {
        assert_eq!(split_out, body);
    }
    if body.len() <= MAX_HELD_EVENT_BYTES {
        let (whole_out, whole_removed) = filtered(body, body.len().max(1));
        assert_eq!((split_out, removed), (whole_out, whole_removed), "the split changed the output");
    }
});
