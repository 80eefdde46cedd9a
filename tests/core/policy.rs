#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::policy::{Action, MissingCredential, Mode, Policy, Scope, Window};
use serde_json::json;

use crate::support::{no_env, DEFAULT_POLICY};

fn parse(v: serde_json::Value) -> Result<Policy, distill_guard::policy::PolicyError> {
    Policy::parse(v.to_string().as_bytes(), &no_env)
}

fn minimal() -> serde_json::Value {
    json!({"version": 1, "credential": {"sources": [{"kind": "bearer"}], "hash_secret": "a-secret-of-16-bytes+"}})
}

#[test]
fn shipped_default_policy_is_valid() {
    let p = Policy::parse(DEFAULT_POLICY.as_bytes(), &no_env).unwrap();
    assert_eq!(p.version, 1);
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.credential.missing, MissingCredential::Block);
    assert!(p.budgets.iter().any(|b| b.window == Window::Minute && b.max_requests.is_some()));
}

#[test]
fn minimal_policy_gets_documented_defaults() {
    let p = parse(minimal()).unwrap();
    assert_eq!(p.ledger.max_credentials, 10_000);
    assert_eq!(p.ledger.key_prefix, "distill_guard");
    assert_eq!(p.inspection.max_body_bytes, 1024 * 1024);
    assert!(p.inspection.inject_include_usage);
    assert!(p.budgets.is_empty());
}

#[test]
fn unknown_top_level_field_is_named() {
    let mut v = minimal();
    v["budget"] = json!([]);
    let e = parse(v).unwrap_err();
    assert_eq!(e.path, "budget");
    assert!(e.to_string().contains("`budget`"), "{e}");
}

#[test]
fn unknown_nested_field_is_named_with_its_path() {
    let mut v = minimal();
    v["budgets"] = json!([
        {"name": "ok", "scope": "credential", "window": "minute", "max_requests": 5},
        {"name": "bad", "scope": "credential", "window": "minute", "max_request": 5}
    ]);
    let e = parse(v).unwrap_err();
    assert_eq!(e.path, "budgets[1]");
    assert!(e.reason.contains("max_request"), "{e}");
}

#[test]
fn unknown_window_is_rejected_with_the_field() {
    let mut v = minimal();
    v["budgets"] = json!([{"name": "w", "scope": "credential", "window": "week", "max_requests": 5}]);
    let e = parse(v).unwrap_err();
    assert_eq!(e.path, "budgets[0]");
    assert!(e.reason.contains("week"), "{e}");
}

#[test]
fn wrong_version_is_rejected() {
    let mut v = minimal();
    v["version"] = json!(2);
    assert_eq!(parse(v).unwrap_err().path, "version");
    let mut v = minimal();
    v.as_object_mut().unwrap().remove("version");
    assert_eq!(parse(v).unwrap_err().path, "version");
}

#[test]
fn not_json_is_rejected_without_panicking() {
    let e = Policy::parse(b"{not json", &no_env).unwrap_err();
    assert!(e.reason.contains("not valid JSON"));
    assert!(Policy::parse(b"[1,2]", &no_env).is_err());
    assert!(Policy::parse(&[0xff, 0xfe], &no_env).is_err());
}

#[test]
fn short_or_missing_secret_is_rejected() {
    let mut v = minimal();
    v["credential"]["hash_secret"] = json!("short");
    assert_eq!(parse(v).unwrap_err().path, "credential.hash_secret");
    let mut v = minimal();
    v["credential"].as_object_mut().unwrap().remove("hash_secret");
    assert_eq!(parse(v).unwrap_err().path, "credential.hash_secret");
}

#[test]
fn secret_can_come_from_the_vm_environment() {
    let mut v = minimal();
    v["credential"].as_object_mut().unwrap().remove("hash_secret");
    v["credential"]["hash_secret_env"] = json!("DG_SECRET");
    let env = |name: &str| (name == "DG_SECRET").then(|| "from-the-environment-123".to_string());
    assert!(Policy::parse(v.to_string().as_bytes(), &env).is_ok());
    let e = Policy::parse(v.to_string().as_bytes(), &no_env).unwrap_err();
    assert_eq!(e.path, "credential.hash_secret_env");
    assert!(e.reason.contains("DG_SECRET"));
}

#[test]
fn errors_never_echo_the_secret() {
    let mut v = minimal();
    v["credential"]["hash_secret"] = json!("tiny-secret");
    let e = parse(v).unwrap_err();
    assert!(!e.to_string().contains("tiny-secret"));
}

#[test]
fn header_names_must_be_lower_case() {
    let mut v = minimal();
    v["credential"]["sources"] = json!([{"kind": "header", "name": "X-Api-Key"}]);
    assert_eq!(parse(v).unwrap_err().path, "credential.sources[0].name");
}

#[test]
fn every_header_name_setting_follows_one_rule() {
    let set = |field: &str, name: &str| {
        let mut v = minimal();
        match field {
            "credential.sources[0].name" => v["credential"]["sources"] = json!([{"kind": "header", "name": name}]),
            "credential.client_address_header" => {
                v["credential"]["missing"] = json!("track_client_address");
                v["credential"]["client_address_header"] = json!(name);
            }
            "detection.degrade.route_header" => v["detection"] = json!({"degrade": {"route_header": name}}),
            _ => v["detection"] = json!({"clock_header": name}),
        }
        parse(v)
    };
    for field in [
        "credential.sources[0].name",
        "credential.client_address_header",
        "detection.degrade.route_header",
        "detection.clock_header",
    ] {
        for good in ["x-api-key", "x_tier_2"] {
            assert!(set(field, good).is_ok(), "{field} = {good}");
        }
        for bad in ["X-Tier", "", "x tier", "x:tier"] {
            let e = set(field, bad).unwrap_err();
            assert_eq!(e.path, field);
            assert_eq!(e.reason, format!("`{bad}` is not a lower-case header name"));
        }
    }
    assert!(distill_guard::policy::valid_header_name("x-distill-route"));
}

#[test]
fn unknown_credential_source_kind_is_named() {
    let mut v = minimal();
    v["credential"]["sources"] = json!([{"kind": "bearer"}, {"kind": "cookie"}]);
    let e = parse(v).unwrap_err();
    assert_eq!(e.path, "credential.sources[1]");
    assert!(e.reason.contains("cookie"));
}

#[test]
fn tenant_budget_needs_a_tenant_source() {
    let mut v = minimal();
    v["budgets"] = json!([{"name": "t", "scope": "tenant", "window": "hour", "max_tokens": 10}]);
    assert_eq!(parse(v.clone()).unwrap_err().path, "budgets[0].scope");
    v["tenant"] = json!([{"kind": "header", "name": "x-tenant"}]);
    let p = parse(v).unwrap();
    assert_eq!(p.budgets[0].scope, Scope::Tenant);
    assert_eq!(p.budgets[0].action, Action::Throttle);
}

#[test]
fn budgets_need_a_limit_and_unique_names() {
    let mut v = minimal();
    v["budgets"] = json!([{"name": "a", "scope": "credential", "window": "day"}]);
    assert_eq!(parse(v).unwrap_err().path, "budgets[0]");
    let mut v = minimal();
    v["budgets"] = json!([
        {"name": "a", "scope": "credential", "window": "day", "max_requests": 1},
        {"name": "a", "scope": "credential", "window": "hour", "max_requests": 1}
    ]);
    assert_eq!(parse(v).unwrap_err().path, "budgets[1].name");
    let mut v = minimal();
    v["budgets"] = json!([{"name": "a", "scope": "credential", "window": "day", "max_requests": 0}]);
    assert_eq!(parse(v).unwrap_err().path, "budgets[0].max_requests");
    let mut v = minimal();
    v["budgets"] = json!([{"name": "a", "scope": "credential", "window": "day", "max_requests": 1, "action": "block"}]);
    assert_eq!(parse(v).unwrap_err().path, "budgets[0].action");
}

#[test]
fn ledger_and_inspection_bounds_are_enforced() {
    let mut v = minimal();
    v["ledger"] = json!({"max_credentials": 0});
    assert_eq!(parse(v).unwrap_err().path, "ledger.max_credentials");
    let mut v = minimal();
    v["ledger"] = json!({"max_credentials": 5_000_000});
    assert_eq!(parse(v).unwrap_err().path, "ledger.max_credentials");
    let mut v = minimal();
    v["ledger"] = json!({"key_prefix": "has space"});
    assert_eq!(parse(v).unwrap_err().path, "ledger.key_prefix");
    let mut v = minimal();
    v["inspection"] = json!({"max_body_bytes": 0});
    assert_eq!(parse(v).unwrap_err().path, "inspection.max_body_bytes");
    let mut v = minimal();
    v["inspection"] = json!({"oversize_body": "drop"});
    assert_eq!(parse(v).unwrap_err().path, "inspection");
}

#[test]
fn list_entries_must_be_credential_ids() {
    let mut v = minimal();
    v["lists"] = json!({"block_credentials": ["sk-live-raw-key"]});
    assert_eq!(parse(v).unwrap_err().path, "lists.block_credentials[0]");
    let mut v = minimal();
    v["lists"] = json!({"block_credentials": ["0123456789abcdef"], "allow_tenants": ["acme"]});
    let p = parse(v).unwrap();
    assert!(p.lists.block_credentials.contains("0123456789abcdef"));
    assert!(p.lists.allow_tenants.contains("acme"));
}

#[test]
fn shadow_mode_and_revision_are_read() {
    let mut v = minimal();
    v["mode"] = json!("shadow");
    v["revision"] = json!(42);
    let p = parse(v).unwrap();
    assert_eq!(p.mode, Mode::Shadow);
    assert_eq!(p.revision, "42");
    assert_eq!(p.revision_number, 42);
    let mut v = minimal();
    v["mode"] = json!("loud");
    assert_eq!(parse(v).unwrap_err().path, "mode");
}
