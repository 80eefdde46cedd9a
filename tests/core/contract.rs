#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::{error_body, ErrorStyle, Rejection};
use distill_guard::contract::{is_owned_header, local_reply, rfc3339, upstream_headers};
use distill_guard::credential::{Credential, CredentialKind};
use distill_guard::decision::{LimitInfo, Reason, Signal, Verdict};
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
    assert_eq!(v["error"]["code"], "distill_guard_blocked");
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
    let r =
        local_reply(ErrorStyle::OpenAi, Rejection::Throttled, Some(&verdict(Action::Throttle, Action::Throttle)), 0);
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
    assert_eq!(local_reply(ErrorStyle::OpenAi, Rejection::Blocked, None, 0).status, 403);
    assert_eq!(local_reply(ErrorStyle::OpenAi, Rejection::MissingCredential, None, 0).status, 401);
    assert_eq!(local_reply(ErrorStyle::Anthropic, Rejection::BodyTooLarge, None, 0).status, 413);
}
