//! Response metering: the bytes are a response body (SSE or JSON by the first byte), fed in chunks whose
//! sizes come from the second byte, so every split of an event is tried.
#![no_main]
use distill_guard::api::ApiKind;
use distill_guard::response::ResponseMeter;
use libfuzzer_sys::fuzz_target;

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
});
