//! Request bodies: the borrowing JSON reader against serde_json, inspection (parse, token estimate,
//! shape, include_usage injection) for every API, and the degrade rewrite. The first byte picks the API.
#![no_main]
use distill_guard::api::ApiKind;
use distill_guard::detection::{default_phrases, DegradeConfig};
use distill_guard::request::{degrade, inspect};
use distill_guard::shape::ShapeConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    // The borrowing JSON reader accepts exactly what serde_json accepts and reads the same values.
    let borrowed = distill_guard::json::Json::parse(body).map(|j| j.to_value());
    assert_eq!(borrowed, serde_json::from_slice::<serde_json::Value>(body).ok());
    let api = ApiKind::ALL[usize::from(pick) % ApiKind::ALL.len()];
    let cfg = ShapeConfig::new(default_phrases(), 8192, vec!["gpt-5".into()]);
    let out = inspect(api, body, pick & 0x80 != 0, Some(&cfg));
    if let Some(rewritten) = out.rewritten {
        assert!(parses_again(&rewritten));
    }
    let cfg = DegradeConfig {
        strip_logprobs: true,
        strip_logit_bias: true,
        max_n: Some(1),
        max_tokens: Some(1024),
        route_header: None,
    };
    let _ = degrade(api, body, &cfg);
});

fn parses_again(bytes: &[u8]) -> bool {
    // A rewritten body is always an object the filter itself produced: it must parse again.
    inspect(ApiKind::OpenAiChat, bytes, false, None).facts.body == distill_guard::request::BodyStatus::Parsed
}
