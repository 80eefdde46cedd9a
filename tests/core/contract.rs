#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::{error_body, ErrorStyle, Rejection};
use distill_guard::contract::{is_owned_header, local_reply, rfc3339, upstream_headers};
use distill_guard::credential::{Credential, CredentialKind};
use distill_guard::decision::{LimitInfo, Reason, Signal, Verdict};
use distill_guard::detection::Detector;
use distill_guard::policy::Action;
use serde_json::Value;

fn verdict(action: Action, enforced: Action) -> Verdict {
    Verdict {
        action,
        enforced,
        score: 0.0,
        signals: vec![Signal { reason: Reason::Budget("rpm".into()), action, shadow: false }],
        retry_after: Some(7),
        limit: Some(LimitInfo { window_seconds: 60, requests: Some((10, 0, 7)), tokens: Some((1000, 12, 30)) }),
        shadow: action != enforced,
    }
}

fn credential() -> Credential {
    Credential {
        id: "0123456789abcdef".into(),
        kind: CredentialKind::Key,
        source: "bearer".into(),
        tenant: Some("acme".into()),
    }
}

#[test]
fn owned_headers_are_recognised_case_insensitively() {
    assert!(is_owned_header("x-distill-verdict"));
    assert!(is_owned_header("X-Distill-Anything"));
    assert!(!is_owned_header("x-distil"));
    assert!(!is_owned_header("x-request-id"));
}

#[test]
fn upstream_headers_carry_id_verdict_score_signals_tenant() {
    let h = upstream_headers(&credential(), &verdict(Action::Tag, Action::Tag), None);
    let get = |n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
    assert_eq!(get("x-distill-credential").as_deref(), Some("0123456789abcdef"));
    assert_eq!(get("x-distill-verdict").as_deref(), Some("tag"));
    assert_eq!(get("x-distill-score").as_deref(), Some("0.00"));
    assert_eq!(get("x-distill-signals").as_deref(), Some("budget:rpm"));
    assert_eq!(get("x-distill-tenant").as_deref(), Some("acme"));
    assert_eq!(get("x-distill-shadow"), None);
    let shadow = upstream_headers(&credential(), &verdict(Action::Throttle, Action::Allow), None);
    assert!(shadow.iter().any(|(k, v)| *k == "x-distill-shadow" && v == "true"));
}

#[test]
fn openai_errors_have_the_openai_shape() {
    let v: Value = serde_json::from_str(&error_body(ErrorStyle::OpenAi, Rejection::Blocked, "no")).unwrap();
    assert_eq!(v["error"]["message"], "no");
    assert_eq!(v["error"]["code"], "permission_denied");
    assert!(v["error"]["param"].is_null());
    let v: Value = serde_json::from_str(&error_body(ErrorStyle::OpenAi, Rejection::Throttled, "slow")).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn anthropic_errors_have_the_anthropic_shape() {
    let v: Value = serde_json::from_str(&error_body(ErrorStyle::Anthropic, Rejection::Throttled, "slow")).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let v: Value = serde_json::from_str(&error_body(ErrorStyle::Anthropic, Rejection::Blocked, "no")).unwrap();
    assert_eq!(v["error"]["type"], "permission_error");
    let v: Value = serde_json::from_str(&error_body(ErrorStyle::Anthropic, Rejection::MissingCredential, "k")).unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
}

#[test]
fn throttle_reply_has_retry_after_and_openai_limit_headers() {
    let r = local_reply(
        ErrorStyle::OpenAi,
        Rejection::Throttled,
        Some(&verdict(Action::Throttle, Action::Throttle)),
        false,
        0,
    );
    assert_eq!(r.status, 429);
    let get = |n: &str| r.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("retry-after").as_deref(), Some("7"));
    assert_eq!(get("x-ratelimit-limit-requests").as_deref(), Some("10"));
    assert_eq!(get("x-ratelimit-remaining-requests").as_deref(), Some("0"));
    assert_eq!(get("x-ratelimit-reset-requests").as_deref(), Some("7s"));
    assert_eq!(get("x-ratelimit-remaining-tokens").as_deref(), Some("12"));
    assert_eq!(get("content-type").as_deref(), Some("application/json"));
}

#[test]
fn throttle_reply_has_anthropic_limit_headers_in_rfc3339() {
    let r = local_reply(
        ErrorStyle::Anthropic,
        Rejection::Throttled,
        Some(&verdict(Action::Throttle, Action::Throttle)),
        false,
        1_700_000_000_000,
    );
    let get = |n: &str| r.headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(get("anthropic-ratelimit-requests-limit").as_deref(), Some("10"));
    assert_eq!(get("anthropic-ratelimit-requests-reset").as_deref(), Some("2023-11-14T22:13:27Z"));
    assert_eq!(get("retry-after").as_deref(), Some("7"));
}

#[test]
fn rfc3339_formats_known_instants() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
}

#[test]
fn block_and_missing_credential_replies_have_their_statuses() {
    assert_eq!(local_reply(ErrorStyle::OpenAi, Rejection::Blocked, None, false, 0).status, 403);
    assert_eq!(local_reply(ErrorStyle::OpenAi, Rejection::MissingCredential, None, false, 0).status, 401);
    assert_eq!(local_reply(ErrorStyle::Anthropic, Rejection::BodyTooLarge, None, false, 0).status, 413);
}

/// Every reason a verdict can carry: each detection signal, the stickiness and score markers, list and
/// budget reasons (with names operators give budgets), and the body markers.
fn every_reason() -> Vec<Reason> {
    let mut reasons: Vec<Reason> = Detector::ALL.iter().map(|d| Reason::Detector(d.name())).collect();
    reasons.extend([
        Reason::Sticky,
        Reason::Score,
        Reason::BlockedCredential,
        Reason::BlockedTenant,
        Reason::Budget("rpm".into()),
        Reason::Budget("key_tokens_per_day".into()),
        Reason::BodyNotInspected,
        Reason::BodyUnparsed,
    ]);
    reasons
}

fn refusal_verdict(action: Action, reasons: &[Reason], score: f64) -> Verdict {
    Verdict {
        action,
        enforced: action,
        score,
        signals: reasons.iter().map(|r| Signal { reason: r.clone(), action, shadow: false }).collect(),
        retry_after: Some(13),
        limit: Some(LimitInfo { window_seconds: 60, requests: Some((10, 0, 13)), tokens: None }),
        shadow: false,
    }
}

#[test]
fn no_refusal_body_names_a_signal_a_score_or_a_threshold_in_either_api_format() {
    let reasons = every_reason();
    let names: Vec<String> = reasons.iter().map(|r| r.to_string()).collect();
    let mut checked = 0;
    for style in [ErrorStyle::OpenAi, ErrorStyle::Anthropic] {
        for (rejection, action) in [(Rejection::Blocked, Action::Block), (Rejection::Throttled, Action::Throttle)] {
            // Each reason alone, all of them together, and none.
            let mut sets: Vec<Vec<Reason>> = reasons.iter().map(|r| vec![r.clone()]).collect();
            sets.push(reasons.clone());
            sets.push(Vec::new());
            for set in &sets {
                for score in [0.0, 0.37, 0.91, 1.0] {
                    let v = refusal_verdict(action, set, score);
                    let r = local_reply(style, rejection, Some(&v), false, 0);
                    assert_eq!(r.status, rejection.status());
                    let body: Value = serde_json::from_str(&r.body).unwrap();
                    let message = match style {
                        ErrorStyle::OpenAi => body["error"]["message"].as_str().unwrap().to_string(),
                        ErrorStyle::Anthropic => {
                            assert_eq!(body["type"], "error");
                            body["error"]["message"].as_str().unwrap().to_string()
                        }
                    };
                    assert!(!message.is_empty());
                    for name in &names {
                        assert!(!r.body.contains(name.as_str()), "{name} in {}", r.body);
                    }
                    for leak in ["distill", "score", "signal", "0.", "detect", "threshold"] {
                        assert!(!r.body.to_lowercase().contains(leak), "{leak} in {}", r.body);
                    }
                    for (k, v) in &r.headers {
                        assert!(!k.contains("distill") && names.iter().all(|n| !v.contains(n.as_str())), "{k}: {v}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 2 * 2 * (reasons.len() + 2) * 4);
}

#[test]
fn reveal_reasons_names_the_signals_in_the_refusal_for_debugging() {
    let v = refusal_verdict(Action::Block, &[Reason::Detector("logit_bias"), Reason::Detector("volume")], 0.95);
    let r = local_reply(ErrorStyle::Anthropic, Rejection::Blocked, Some(&v), true, 0);
    assert!(r.body.contains("logit_bias,volume"), "{}", r.body);
    let v = refusal_verdict(Action::Throttle, &[Reason::Budget("rpm".into())], 0.0);
    let r = local_reply(ErrorStyle::OpenAi, Rejection::Throttled, Some(&v), true, 0);
    assert!(r.body.contains("(budget:rpm)") && r.body.contains("13s"), "{}", r.body);
    let hidden = local_reply(ErrorStyle::OpenAi, Rejection::Throttled, Some(&v), false, 0);
    assert!(!hidden.body.contains("budget") && hidden.body.contains("13s"), "{}", hidden.body);
}

#[test]
fn the_score_header_is_formatted_as_format_would() {
    use distill_guard::contract::two_decimals;
    // Every hundredth and its rounding boundaries (and the floats around them), and a dense sweep.
    let mut scores: Vec<f64> = vec![0.0, 1.0, 0.125, 0.375, 0.625, 0.875, 0.005, 0.015, 0.995, 1e-300, 0.999_999];
    for n in 0..=200u32 {
        let b = f64::from(n) / 200.0;
        scores.extend([b, b.next_up(), b.next_down(), b + 1e-7, b - 1e-7]);
    }
    scores.extend((0..=100_000u32).map(|i| f64::from(i) / 100_000.0));
    for s in scores.into_iter().filter(|s| (0.0..=1.0).contains(s)) {
        assert_eq!(two_decimals(s), format!("{s:.2}"), "{s:e}");
    }
}
