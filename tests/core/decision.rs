#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use distill_guard::api::{ApiKind, Rejection};
use distill_guard::credential::{identify, Credential};
use distill_guard::decision::{decide, settle};
use distill_guard::host::MemoryStore;
use distill_guard::ledger::{Ledger, Subject};
use distill_guard::policy::{Action, Policy, Window};
use distill_guard::request::{BodyStatus, RequestFacts};
use distill_guard::response::{Metered, UsageSource};
use serde_json::json;

use crate::support::{headers, policy_with};

const T0: u64 = 1_800_000_000_000;

fn facts(tokens: u64) -> RequestFacts {
    let mut f = RequestFacts::uninspected(ApiKind::OpenAiChat, BodyStatus::Parsed, 0);
    f.estimated_input_tokens = tokens;
    f
}

fn cred(p: &Policy, key: &str) -> Credential {
    identify(&p.credential, &headers(&[("x-api-key", key)]), None).unwrap()
}

fn requests_budget(max: u64, extra: serde_json::Value) -> serde_json::Value {
    let mut b = json!({"name": "rpm", "scope": "credential", "window": "minute", "max_requests": max});
    if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    b
}

#[test]
fn no_rules_means_allow_with_zero_score() {
    let p = policy_with(json!({}));
    let store = MemoryStore::new();
    let d = decide(&p, &Ledger::new(&p.ledger, &store), &cred(&p, "k"), &facts(10), T0);
    assert_eq!(d.verdict.action, Action::Allow);
    assert_eq!(d.verdict.enforced, Action::Allow);
    assert_eq!(d.verdict.score, 0.0);
    assert!(d.verdict.signals.is_empty());
    assert_eq!(d.charge.unwrap().estimated_input, 10);
}

#[test]
fn request_budget_throttles_the_request_over_the_limit() {
    let p = policy_with(json!({"budgets": [requests_budget(3, json!({}))]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    for i in 0..3 {
        assert_eq!(decide(&p, &ledger, &c, &facts(1), T0 + i).verdict.enforced, Action::Allow);
    }
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 10);
    assert_eq!(d.verdict.enforced, Action::Throttle);
    assert_eq!(d.verdict.rejection(), Some(Rejection::Throttled));
    assert_eq!(d.verdict.signal_list(), "budget:rpm");
    assert!(d.charge.is_none(), "a throttled request is not charged");
    let retry = d.verdict.retry_after.unwrap();
    // The three are in the 5 s slice starting at T0, which leaves the minute window at T0 + 65 s.
    assert_eq!(retry, 65);
    let (max, remaining, _) = d.verdict.limit.unwrap().requests.unwrap();
    assert_eq!((max, remaining), (3, 0));
    // Other credentials are unaffected.
    assert_eq!(decide(&p, &ledger, &cred(&p, "other"), &facts(1), T0 + 11).verdict.enforced, Action::Allow);
    // One second early it is still throttled; at Retry-After there is room again.
    assert_eq!(decide(&p, &ledger, &c, &facts(1), T0 + 10 + (retry - 1) * 1000).verdict.enforced, Action::Throttle);
    assert_eq!(decide(&p, &ledger, &c, &facts(1), T0 + 10 + retry * 1000).verdict.enforced, Action::Allow);
}

#[test]
fn token_budget_uses_the_estimate_before_the_request() {
    let p = policy_with(
        json!({"budgets": [{"name": "tpm", "scope": "credential", "window": "minute", "max_tokens": 100}]}),
    );
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    assert_eq!(decide(&p, &ledger, &c, &facts(60), T0).verdict.enforced, Action::Allow);
    let d = decide(&p, &ledger, &c, &facts(60), T0 + 1);
    assert_eq!(d.verdict.enforced, Action::Throttle);
    assert!(d.verdict.limit.unwrap().tokens.is_some());
    assert_eq!(decide(&p, &ledger, &c, &facts(30), T0 + 2).verdict.enforced, Action::Allow);
}

#[test]
fn settlement_replaces_the_estimate_with_reported_usage() {
    let p = policy_with(
        json!({"budgets": [{"name": "tpm", "scope": "credential", "window": "minute", "max_tokens": 1000}]}),
    );
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    let d = decide(&p, &ledger, &c, &facts(10), T0);
    let metered =
        Metered { input: Some(400), output: 500, cached_input: 100, reasoning: 50, source: UsageSource::Reported };
    settle(&ledger, &d.charge.unwrap(), &metered, T0 + 5);
    let r = ledger.read(&Subject::credential(&c.id), T0 + 6);
    let w = r.window(Window::Minute).current;
    assert_eq!((w.requests, w.input, w.output, w.cached, w.reasoning), (1, 400, 500, 100, 50));
    // 900 used: a request estimated at 150 no longer fits.
    assert_eq!(decide(&p, &ledger, &c, &facts(150), T0 + 7).verdict.enforced, Action::Throttle);
}

#[test]
fn settlement_without_reported_input_keeps_the_estimate() {
    let p = policy_with(json!({}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    let d = decide(&p, &ledger, &c, &facts(42), T0);
    let metered = Metered { input: None, output: 7, cached_input: 0, reasoning: 0, source: UsageSource::Estimated };
    settle(&ledger, &d.charge.unwrap(), &metered, T0 + 1);
    let w = ledger.read(&Subject::credential(&c.id), T0 + 2).window(Window::Hour).current;
    assert_eq!((w.input, w.output), (42, 7));
}

#[test]
fn global_shadow_reports_but_never_enforces() {
    let p = policy_with(json!({"mode": "shadow", "budgets": [requests_budget(1, json!({}))],
        "lists": {"block_credentials": []}}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    decide(&p, &ledger, &c, &facts(1), T0);
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 1);
    assert_eq!(d.verdict.action, Action::Throttle);
    assert_eq!(d.verdict.enforced, Action::Allow);
    assert!(d.verdict.shadowed());
    assert_eq!(d.verdict.rejection(), None);
    assert!(d.charge.is_some(), "shadowed requests are forwarded, so they are charged");
}

#[test]
fn per_rule_shadow_only_mutes_that_rule() {
    let p = policy_with(json!({"budgets": [
        requests_budget(1, json!({"name": "quiet", "shadow": true})),
        requests_budget(3, json!({"name": "loud"}))]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    decide(&p, &ledger, &c, &facts(1), T0);
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 1);
    assert_eq!((d.verdict.action, d.verdict.enforced), (Action::Throttle, Action::Allow));
    assert_eq!(d.verdict.signal_list(), "budget:quiet");
    decide(&p, &ledger, &c, &facts(1), T0 + 2);
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 3);
    assert_eq!(d.verdict.enforced, Action::Throttle);
    assert!(d.verdict.signal_list().contains("budget:loud"));
}

#[test]
fn tag_budget_tags_without_rejecting() {
    let p = policy_with(json!({"budgets": [requests_budget(1, json!({"action": "tag"}))]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    decide(&p, &ledger, &c, &facts(1), T0);
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 1);
    assert_eq!(d.verdict.enforced, Action::Tag);
    assert_eq!(d.verdict.rejection(), None);
    assert_eq!(d.verdict.retry_after, None);
}

#[test]
fn block_list_blocks_and_allow_list_exempts() {
    let p0 = policy_with(json!({}));
    let blocked = cred(&p0, "bad-key").id;
    let vip = cred(&p0, "vip-key").id;
    let p = policy_with(json!({"budgets": [requests_budget(1, json!({}))],
        "lists": {"block_credentials": [blocked], "allow_credentials": [vip]}}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let d = decide(&p, &ledger, &cred(&p, "bad-key"), &facts(1), T0);
    assert_eq!(d.verdict.enforced, Action::Block);
    assert_eq!(d.verdict.rejection(), Some(Rejection::Blocked));
    assert_eq!(d.verdict.signal_list(), "blocklist:credential");
    for i in 0..5 {
        assert_eq!(decide(&p, &ledger, &cred(&p, "vip-key"), &facts(1), T0 + i).verdict.enforced, Action::Allow);
    }
}

#[test]
fn tenant_budget_aggregates_rotated_keys() {
    let p = policy_with(json!({
        "tenant": [{"kind": "key_prefix", "prefixes": {"sk-farm-": "farm"}}],
        "budgets": [{"name": "tenant_rpm", "scope": "tenant", "window": "minute", "max_requests": 5}]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    for i in 0..5 {
        let d = decide(&p, &ledger, &cred(&p, &format!("sk-farm-{i}")), &facts(1), T0 + i);
        assert_eq!(d.verdict.enforced, Action::Allow);
    }
    let c = cred(&p, "sk-farm-new");
    let d = decide(&p, &ledger, &c, &facts(1), T0 + 10);
    assert_eq!(d.verdict.enforced, Action::Throttle);
    assert_eq!(d.verdict.signal_list(), "budget:tenant_rpm");
    // The credential's pre-charge was taken back.
    let r = ledger.read(&Subject::credential(&c.id), T0 + 11);
    assert_eq!(r.window(Window::Minute).current.requests, 0);
    // Keys of another tenant are unaffected.
    assert_eq!(decide(&p, &ledger, &cred(&p, "other"), &facts(1), T0 + 12).verdict.enforced, Action::Allow);
}

#[test]
fn body_status_is_reported_as_a_signal() {
    let p = policy_with(json!({}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let f = RequestFacts::uninspected(ApiKind::OpenAiChat, BodyStatus::Oversize, 4_000_000);
    let d = decide(&p, &ledger, &cred(&p, "k"), &f, T0);
    assert_eq!(d.verdict.signal_list(), "body_not_inspected");
    assert_eq!(d.verdict.enforced, Action::Allow);
    assert_eq!(d.charge.unwrap().estimated_input, 1_000_000);
}

#[test]
fn ledger_contention_fails_open_for_accounting() {
    let p = policy_with(json!({"budgets": [requests_budget(1, json!({}))]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    store.fail_next_writes(100);
    let d = decide(&p, &ledger, &cred(&p, "k"), &facts(1), T0);
    assert_eq!(d.verdict.enforced, Action::Allow);
    assert_eq!(d.stats.failures, 1);
    assert!(d.charge.is_none());
}

#[test]
fn every_reason_keeps_its_signal_name() {
    use distill_guard::decision::Reason;
    let names: Vec<String> = [
        Reason::BlockedCredential,
        Reason::BlockedTenant,
        Reason::Budget("key_requests_per_minute".into()),
        Reason::BodyNotInspected,
        Reason::BodyUnparsed,
        Reason::Detector("logprobs"),
        Reason::Sticky,
        Reason::Score,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(
        names,
        [
            "blocklist:credential",
            "blocklist:tenant",
            "budget:key_requests_per_minute",
            "body_not_inspected",
            "body_unparsed",
            "logprobs",
            "sticky",
            "score"
        ]
    );
}

#[test]
fn decide_and_precheck_read_the_lists_the_same_way() {
    use distill_guard::decision::precheck;
    let tenants = json!([{"kind": "key_prefix", "prefixes": {"farm-": "farm", "vip-": "vip"}}]);
    let p0 = policy_with(json!({"tenant": tenants}));
    let bad = cred(&p0, "bad-key").id;
    let p = policy_with(json!({"tenant": tenants, "budgets": [requests_budget(1, json!({}))],
        "lists": {"block_credentials": [bad], "block_tenants": ["farm"], "allow_tenants": ["vip"]}}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    for (key, signals, enforced) in [
        ("bad-key", "blocklist:credential", Action::Block),
        ("farm-1", "blocklist:tenant", Action::Block),
        ("vip-1", "", Action::Allow),
    ] {
        let c = cred(&p, key);
        for t in 0..3 {
            let early = precheck(&p, &ledger, &c, T0 + t);
            let d = decide(&p, &ledger, &c, &facts(1), T0 + t);
            for v in [&early, &d.verdict] {
                assert_eq!((v.signal_list().as_str(), v.enforced), (signals, enforced), "{key} at {t}");
            }
        }
    }
}

/// Budgets at their window edges, against a fake clock: `max` requests per `window`, and a client
/// that sends at the given offsets (ms from `start`) but, when refused, waits exactly `Retry-After`
/// and retries (sending nothing else meanwhile). Checks that every such retry succeeds, that no
/// window of the budget's length ever holds more than `max` admitted requests, and that a refusal
/// only comes when at least `max` were admitted within the window plus one slice. Returns the admitted times.
fn budget_run(window: &str, max: u64, start: u64, attempts: &[u64]) -> Vec<u64> {
    let w = match window {
        "minute" => Window::Minute,
        "hour" => Window::Hour,
        _ => Window::Day,
    };
    let len_ms = w.seconds() * 1000;
    let slice_ms = distill_guard::ledger::slice_seconds(w) * 1000;
    let budget = json!({"name": "b", "scope": "credential", "window": window, "max_requests": max});
    let p = policy_with(json!({ "budgets": [budget] }));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    let mut admitted: Vec<u64> = Vec::new();
    let in_window = |admitted: &[u64], t: u64, len: u64| admitted.iter().filter(|a| **a + len > t).count() as u64;
    let mut busy_until = 0;
    for t in attempts.iter().map(|a| start + a) {
        if t < busy_until {
            continue; // waiting out a Retry-After
        }
        let mut t = t;
        let mut is_retry = false;
        loop {
            let d = decide(&p, &ledger, &c, &facts(1), t);
            if d.verdict.enforced == Action::Allow {
                admitted.push(t);
                let n = in_window(&admitted, t, len_ms);
                assert!(n <= max, "{max}/{window}: {n} admitted in the {window} up to {t}: {admitted:?}");
                break;
            }
            assert!(!is_retry, "{max}/{window}: a retry after exactly Retry-After was refused at {t}");
            let n = in_window(&admitted, t, len_ms + slice_ms);
            assert!(n >= max, "{max}/{window}: refused at {t} with {n} admitted within a window and a slice");
            let retry = d.verdict.retry_after.unwrap();
            assert!(retry >= 1 && retry * 1000 <= len_ms + slice_ms, "{retry}");
            t += retry * 1000;
            is_retry = true;
        }
        busy_until = t + 1;
    }
    admitted
}

#[test]
fn small_request_budgets_hold_in_every_window_and_retry_after_is_honest() {
    // The case: 3 a minute used at the end of a minute; the next minute's request is refused,
    // and one made after Retry-After is admitted — but not within 60 s of the three.
    let admitted = budget_run("minute", 3, T0, &[57_000, 58_000, 59_000, 60_500]);
    assert_eq!(admitted.len(), 4, "the refused request got through on its retry: {admitted:?}");
    assert_eq!(admitted[3], T0 + 120_500, "the fourth waited until the three left the minute: {admitted:?}");
    for max in [1, 3, 10] {
        // At and around every slice and window edge, and a second either side of them.
        let mut edges: Vec<u64> = (0..=300_000).step_by(5_000).flat_map(|e: u64| [e, e + 1, e + 4_999]).collect();
        edges.extend((0..300).map(|k| k * 997 % 300_000));
        edges.sort_unstable();
        let admitted = budget_run("minute", max, T0 - 2_500, &edges);
        // Over five minutes the budget is used: at least `max` in every full minute.
        assert!(admitted.len() as u64 >= 4 * max, "{max}: {}", admitted.len());
        // A burst at once, then steady tries every 250 ms.
        let mut burst: Vec<u64> = vec![0; 2 * max as usize];
        burst.extend((1..1_200).map(|k| k * 250));
        budget_run("minute", max, T0 + 59_999, &burst);
    }
}

#[test]
fn hour_and_day_budgets_hold_at_their_edges() {
    let hour: Vec<u64> = (0..400).map(|k| k * 31_000).collect();
    let admitted = budget_run("hour", 3, T0 + 3_599_000, &hour);
    assert!(admitted.len() >= 3);
    let day: Vec<u64> = (0..300).map(|k| k * 900_000).collect();
    budget_run("day", 10, T0 + 86_399_000, &day);
}

#[test]
fn token_budgets_hold_in_every_minute_with_usage_as_estimated() {
    let p =
        policy_with(json!({"budgets": [{"name": "t", "scope": "credential", "window": "minute", "max_tokens": 100}]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let c = cred(&p, "k");
    let mut admitted: Vec<(u64, u64)> = Vec::new();
    let mut t = T0 - 1_000;
    for k in 0..600u64 {
        let need = 10 + k * 7 % 31;
        let d = decide(&p, &ledger, &c, &facts(need), t);
        if d.verdict.enforced == Action::Allow {
            // The answer reports exactly what was estimated (input) and no output.
            let metered =
                Metered { input: Some(need), output: 0, cached_input: 0, reasoning: 0, source: UsageSource::Reported };
            settle(&ledger, &d.charge.unwrap(), &metered, t);
            admitted.push((t, need));
            let used: u64 = admitted.iter().filter(|(a, _)| a + 60_000 > t).map(|(_, n)| n).sum();
            assert!(used <= 100, "{used} tokens within a minute up to {t}");
            t += 700;
        } else {
            let retry = d.verdict.retry_after.unwrap();
            let after = decide(&p, &ledger, &c, &facts(need), t + retry * 1000);
            assert_eq!(after.verdict.enforced, Action::Allow, "the same request after Retry-After ({retry} s)");
            settle(
                &ledger,
                &after.charge.unwrap(),
                &Metered { input: Some(need), output: 0, cached_input: 0, reasoning: 0, source: UsageSource::Reported },
                t + retry * 1000,
            );
            admitted.push((t + retry * 1000, need));
            t += retry * 1000 + 300;
        }
    }
    assert!(admitted.len() > 100);
}

#[test]
fn a_budget_counts_only_in_its_own_scope() {
    let p = policy_with(json!({
        "tenant": [{"kind": "key_prefix", "prefixes": {"sk-farm-": "farm"}}],
        "budgets": [
            {"name": "key_rpm", "scope": "credential", "window": "minute", "max_requests": 2},
            {"name": "tenant_rpm", "scope": "tenant", "window": "minute", "max_requests": 3}]}));
    let store = MemoryStore::new();
    let ledger = Ledger::new(&p.ledger, &store);
    let (a, b) = (cred(&p, "sk-farm-a"), cred(&p, "sk-farm-b"));
    let verdict = |c: &Credential, t: u64| decide(&p, &ledger, c, &facts(1), T0 + t).verdict;
    // The key's own budget: two of its requests go on, the third is its budget's.
    assert_eq!(verdict(&a, 0).enforced, Action::Allow);
    assert_eq!(verdict(&a, 1).enforced, Action::Allow);
    let third = verdict(&a, 2);
    assert_eq!((third.enforced, third.signal_list().as_str()), (Action::Throttle, "budget:key_rpm"));
    // The tenant's: the key budget (two) does not count the tenant's requests, the tenant's own
    // (three) does, and it does not count a single key's.
    assert_eq!(verdict(&b, 3).enforced, Action::Allow);
    let fourth = verdict(&b, 4);
    assert_eq!((fourth.enforced, fourth.signal_list().as_str()), (Action::Throttle, "budget:tenant_rpm"));
}
