//! Request bodies: the hand-written JSON parser against serde_json (same accepted documents, same
//! trees, same inspection), inspection (parse, token estimate, shape, include_usage injection) for
//! every API, and the degrade rewrite. The first byte picks the API.
#![no_main]
use distill_guard::api::ApiKind;
use distill_guard::detection::{default_phrases, DegradeConfig};
use distill_guard::json::Json;
use distill_guard::request::{degrade, inspect, inspect_parsed};
use distill_guard::shape::ShapeConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    // The hand-written parser accepts exactly what serde_json accepts and builds the very tree
    // serde_json builds through `Json`'s `Deserialize` (field order, float bits, borrowed strings),
    // with the same values as `serde_json::Value`.
    let parsed = Json::parse(body);
    let serde_tree = serde_json::from_slice::<Json<'_>>(body).ok();
    match (&parsed, &serde_tree) {
        (Some(a), Some(b)) => assert!(a.identical(b)),
        (None, None) => {}
        _ => panic!("accept/reject differs from serde_json"),
    }
    assert_eq!(parsed.as_ref().map(Json::to_value), serde_json::from_slice::<serde_json::Value>(body).ok());
    let api = ApiKind::ALL[usize::from(pick) % ApiKind::ALL.len()];
    let cfg = ShapeConfig::new(default_phrases(), 8192, vec!["gpt-5".into()]);
    let out = inspect(api, body, pick & 0x80 != 0, Some(&cfg));
    // The request path reads only the tree: inspecting serde_json's tree gives the same result.
    if !body.is_empty() {
        assert_eq!(out, inspect_parsed(api, body, serde_tree, pick & 0x80 != 0, Some(&cfg)));
    }
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
