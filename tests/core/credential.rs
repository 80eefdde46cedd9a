#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::credential::{bearer_token, identify, strip_port, CredentialError, CredentialKind};
use serde_json::json;

use crate::support::{b64url, headers, jwt, policy_with};

#[test]
fn bearer_prefix_is_stripped_case_insensitively() {
    assert_eq!(bearer_token("Bearer sk-abc"), Some("sk-abc"));
    assert_eq!(bearer_token("bearer   sk-abc  "), Some("sk-abc"));
    assert_eq!(bearer_token("Basic dXNlcg=="), None);
    assert_eq!(bearer_token("Bearer "), None);
    assert_eq!(bearer_token("Bearer"), None);
}

#[test]
fn bearer_key_is_hashed_to_a_short_stable_id() {
    let p = policy_with(json!({}));
    let a = identify(&p.credential, &headers(&[("authorization", "Bearer sk-live-1234567890")]), None).unwrap();
    let b = identify(&p.credential, &headers(&[("authorization", "Bearer sk-live-1234567890")]), None).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(a.id.len(), 16);
    assert!(a.id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(!a.id.contains("sk-live"));
    assert_eq!(a.kind, CredentialKind::Key);
    assert_eq!(a.source, "bearer");
    assert!(!format!("{a:?}").contains("1234567890"));
}

#[test]
fn same_key_in_x_api_key_maps_to_the_same_id_as_bearer() {
    let p = policy_with(json!({}));
    let a = identify(&p.credential, &headers(&[("authorization", "Bearer k-1")]), None).unwrap();
    let b = identify(&p.credential, &headers(&[("x-api-key", "k-1")]), None).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(b.source, "header:x-api-key");
}

#[test]
fn different_secrets_give_different_ids() {
    let p1 = policy_with(json!({}));
    let mut v = json!({"sources": [{"kind": "bearer"}], "hash_secret": "another-secret-entirely"});
    v["missing"] = json!("block");
    let p2 = policy_with(json!({ "credential": v }));
    let h = headers(&[("authorization", "Bearer same-key")]);
    assert_ne!(identify(&p1.credential, &h, None).unwrap().id, identify(&p2.credential, &h, None).unwrap().id);
}

#[test]
fn sources_are_tried_in_policy_order() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "header", "name": "api-key"}, {"kind": "bearer"}],
        "hash_secret": "0123456789abcdef-test-secret"}}));
    let both = headers(&[("authorization", "Bearer b"), ("api-key", "a")]);
    assert_eq!(identify(&p.credential, &both, None).unwrap().source, "header:api-key");
    let only_bearer = headers(&[("authorization", "Bearer b")]);
    assert_eq!(identify(&p.credential, &only_bearer, None).unwrap().source, "bearer");
}

#[test]
fn jwt_claim_identifies_the_subject_not_the_token() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "jwt_claim", "claim": "sub"}],
        "hash_secret": "0123456789abcdef-test-secret"}}));
    let t1 = jwt(&json!({"sub": "user-7", "iat": 1}));
    let t2 = jwt(&json!({"sub": "user-7", "iat": 2}));
    let a = identify(&p.credential, &headers(&[("authorization", &format!("Bearer {t1}"))]), None).unwrap();
    let b = identify(&p.credential, &headers(&[("authorization", &format!("Bearer {t2}"))]), None).unwrap();
    assert_eq!(a.id, b.id, "rotated tokens of one subject share an id");
    assert_eq!(a.kind, CredentialKind::Claim);
}

#[test]
fn jwt_with_garbage_payload_is_no_credential() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "jwt_claim", "claim": "sub"}],
        "hash_secret": "0123456789abcdef-test-secret"}}));
    for token in ["a.b.c", "not-a-jwt", "x.%%%.y", "a..b", &format!("h.{}.s", b64url(b"[1,2]")), "a.b.c.d"] {
        let r = identify(&p.credential, &headers(&[("authorization", &format!("Bearer {token}"))]), None);
        assert_eq!(r.unwrap_err(), CredentialError::Missing, "{token}");
    }
}

#[test]
fn jwt_payload_header_from_jwt_authn_is_read() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "jwt_payload_header", "header": "x-jwt-payload", "claim": "client.id"}],
        "hash_secret": "0123456789abcdef-test-secret"}}));
    let payload = b64url(json!({"client": {"id": 991}}).to_string().as_bytes());
    let c = identify(&p.credential, &headers(&[("x-jwt-payload", &payload)]), None).unwrap();
    assert_eq!(c.source, "jwt_payload_header:x-jwt-payload");
}

#[test]
fn tenant_comes_from_key_prefix_longest_match() {
    let p = policy_with(json!({"tenant": [{"kind": "key_prefix", "prefixes": {"sk-a": "alpha", "sk-acme-": "acme"}}]}));
    let c = identify(&p.credential, &headers(&[("x-api-key", "sk-acme-123")]), None).unwrap();
    assert_eq!(c.tenant.as_deref(), Some("acme"));
    let c = identify(&p.credential, &headers(&[("x-api-key", "sk-abc")]), None).unwrap();
    assert_eq!(c.tenant.as_deref(), Some("alpha"));
    let c = identify(&p.credential, &headers(&[("x-api-key", "zz")]), None).unwrap();
    assert_eq!(c.tenant, None);
}

#[test]
fn tenant_comes_from_jwt_claim_and_header() {
    let p = policy_with(json!({
        "credential": {"sources": [{"kind": "bearer"}], "hash_secret": "0123456789abcdef-test-secret"},
        "tenant": [{"kind": "jwt_claim", "claim": "org"}, {"kind": "header", "name": "x-tenant"}]}));
    let token = jwt(&json!({"sub": "u", "org": "org-5"}));
    let c = identify(&p.credential, &headers(&[("authorization", &format!("Bearer {token}"))]), None).unwrap();
    assert_eq!(c.tenant.as_deref(), Some("org-5"));
    let c = identify(&p.credential, &headers(&[("authorization", "Bearer k"), ("x-tenant", "beta")]), None).unwrap();
    assert_eq!(c.tenant.as_deref(), Some("beta"));
}

#[test]
fn odd_tenant_values_are_hashed_not_echoed() {
    let p = policy_with(json!({"tenant": [{"kind": "header", "name": "x-tenant"}]}));
    let c = identify(&p.credential, &headers(&[("x-api-key", "k"), ("x-tenant", "evil\"}\n,injected")]), None).unwrap();
    let t = c.tenant.unwrap();
    assert!(t.starts_with("t-") && t.len() == 18, "{t}");
}

#[test]
fn missing_credential_is_an_error_when_policy_blocks() {
    let p = policy_with(json!({}));
    assert_eq!(identify(&p.credential, &headers(&[]), Some("10.0.0.1:5555")), Err(CredentialError::Missing));
    assert_eq!(
        identify(&p.credential, &headers(&[("authorization", "Basic abc")]), None),
        Err(CredentialError::Missing)
    );
}

#[test]
fn missing_credential_is_tracked_by_client_address_when_configured() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "bearer"}], "missing": "track_client_address",
        "hash_secret": "0123456789abcdef-test-secret"}}));
    let a = identify(&p.credential, &headers(&[]), Some("10.1.2.3:40000")).unwrap();
    let b = identify(&p.credential, &headers(&[]), Some("10.1.2.3:40001")).unwrap();
    assert_eq!(a.id, b.id, "the port does not matter");
    assert_eq!(a.kind, CredentialKind::Address);
    let key = identify(&p.credential, &headers(&[("authorization", "Bearer 10.1.2.3")]), None).unwrap();
    assert_ne!(key.id, a.id, "a key and an address never share an id");
}

#[test]
fn client_address_header_first_hop_is_used() {
    let p = policy_with(json!({"credential": {
        "sources": [{"kind": "bearer"}], "missing": "track_client_address",
        "client_address_header": "x-forwarded-for",
        "hash_secret": "0123456789abcdef-test-secret"}}));
    let a = identify(&p.credential, &headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.1")]), Some("127.0.0.1:1"))
        .unwrap();
    let b = identify(&p.credential, &headers(&[]), Some("203.0.113.9:2")).unwrap();
    assert_eq!(a.id, b.id);
}

#[test]
fn ports_are_stripped_from_v4_and_v6_addresses() {
    assert_eq!(strip_port("1.2.3.4:80"), "1.2.3.4");
    assert_eq!(strip_port("[::1]:8080"), "::1");
    assert_eq!(strip_port("::1"), "::1");
    assert_eq!(strip_port("host"), "host");
}

#[test]
fn oversized_credential_headers_are_ignored() {
    let p = policy_with(json!({}));
    let huge = format!("Bearer {}", "k".repeat(20_000));
    assert_eq!(identify(&p.credential, &headers(&[("authorization", &huge)]), None), Err(CredentialError::Missing));
}
